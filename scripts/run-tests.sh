#!/usr/bin/env bash
# Run the tests: scripts/run-tests.sh [python] [pytest arguments].
#
# Each run starts a private Xvfb display and a PulseAudio daemon with a null sink for the GUI and sound
# tests, and stops them afterwards, whatever happens.  Without pytest arguments the whole suite runs as
# two shards side by side (the editor's tests, then the model nodes'; the rest), each with its own display
# and sound server: the tests mostly wait on frames, sound and subprocesses, so two cores finish both in about
# half the time of one run (measured: 648 s against 1531 s; AUDIOCHAIN_TEST_SHARDS=1 runs the suite as one).
# The model nodes' tests (about 240 s alone) go after the editor's: the editor's shard took 802 s and the
# rest 1320 s, the editor's then idle for eight minutes.  Where
# PipeWire's PulseAudio server is installed, the sound tests that need no window then run again on a private
# PipeWire, after the shards (about a minute; AUDIOCHAIN_SOUND_SERVER=pipewire picks it for any run).
set -uo pipefail
PY=${1:-.venv/bin/python}
shift || true

if [ $# -eq 0 ] && [ "${AUDIOCHAIN_TEST_SHARDS:-2}" != 1 ]; then
  SHARDS=("tests/editor tests/nodes/models" "tests --ignore=tests/editor --ignore=tests/nodes/models")
  PIPEWIRE_TESTS=(tests/editor/test_playback.py tests/editor/test_audition.py -m "not gui" -p no:cacheprovider -q)
  LOGS=$(mktemp -d /tmp/audiochain-shards.XXXXXX)
  PIDS=()
  stop() {    # a shard's pytest and servers first: its shell then cleans up after itself
    for p in "${PIDS[@]}"; do pkill -TERM -P "$p" 2>/dev/null; done
    wait; rm -rf "$LOGS"
  }
  trap stop EXIT
  trap 'exit 130' INT TERM
  START=$SECONDS
  set -m    # each shard its own process group, SIGINT not ignored in it (as a script's background job would be)
  for i in "${!SHARDS[@]}"; do
    # shellcheck disable=SC2086  # a shard is its pytest arguments, split on spaces
    AUDIOCHAIN_TEST_SHARDS=1 bash "$0" "$PY" ${SHARDS[$i]} >"$LOGS/$i.log" 2>&1 &
    PIDS+=($!)
  done
  RC=0
  for i in "${!SHARDS[@]}"; do
    wait "${PIDS[$i]}"; rc=$?
    [ "$rc" -gt "$RC" ] && RC=$rc
    echo "=================== shard $((i + 1))/${#SHARDS[@]}: pytest ${SHARDS[$i]} (exit $rc) ==================="
    cat "$LOGS/$i.log"
  done
  PIDS=()
  if command -v pipewire-pulse >/dev/null; then   # alone: a PipeWire graph starved by a shard drops a quantum
    echo "=================== the sound tests again, on PipeWire's PulseAudio server (most desktops run it) ==================="
    AUDIOCHAIN_SOUND_SERVER=pipewire AUDIOCHAIN_TEST_SHARDS=1 bash "$0" "$PY" "${PIPEWIRE_TESTS[@]}"; rc=$?
    [ "$rc" -gt "$RC" ] && RC=$rc
  fi
  echo "=================== ${#SHARDS[@]} shards in $((SECONDS - START)) s: $([ "$RC" = 0 ] && echo passed || echo "FAILED (exit $RC)") ==================="
  exit "$RC"
fi

RUN=$(mktemp -d /tmp/audiochain-test.XXXXXX)
cleanup() {
  [ -n "${XVFB_PID:-}" ] && kill "$XVFB_PID" 2>/dev/null
  if [ -s "$RUN/pw/pids" ]; then
    kill $(cat "$RUN/pw/pids") 2>/dev/null; wait "${PW_PID:-}" 2>/dev/null    # its D-Bus session ends with them
  elif [ -n "${PULSE_SERVER:-}" ]; then pactl exit >/dev/null 2>&1 || true; fi
  rm -rf "$RUN"
}
trap cleanup EXIT

if command -v Xvfb >/dev/null; then
  # Xvfb picks a free display itself and writes its number to fd 3 (no race between shards)
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$RUN/display" >"$RUN/xvfb.log" 2>&1 &
  XVFB_PID=$!
  for _ in $(seq 100); do [ -s "$RUN/display" ] && break; sleep 0.1; done
  if [ -s "$RUN/display" ]; then
    export DISPLAY=":$(tr -dc 0-9 <"$RUN/display")"
  else
    echo "warning: Xvfb did not start; editor tests will be skipped" >&2
  fi
fi

if [ "${AUDIOCHAIN_SOUND_SERVER:-}" = pipewire ]; then
  # PipeWire, its session manager and its PulseAudio server in a D-Bus session of their own, every file
  # under $RUN; a null sink made the default, as below
  mkdir -p "$RUN/pw/home" && chmod 700 "$RUN/pw"
  export XDG_RUNTIME_DIR="$RUN/pw" PULSE_SERVER="unix:$RUN/pw/pulse/native"
  HOME="$RUN/pw/home" XDG_CONFIG_HOME="$RUN/pw/home/.config" XDG_STATE_HOME="$RUN/pw/home/.state" \
  dbus-run-session -- bash -c 'pipewire & echo $! >>"$0/pids"; sleep 0.5; wireplumber & echo $! >>"$0/pids"
                               pipewire-pulse & echo $! >>"$0/pids"; wait' "$RUN/pw" >"$RUN/pipewire.log" 2>&1 &
  PW_PID=$!
  for _ in $(seq 100); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
  # the server answers before WirePlumber is up: until then nothing links a stream to a sink and setting
  # the default fails ("Not supported", the official CI's PipeWire pass on a loaded machine), so the tests
  # wait for WirePlumber to name the null sink the default
  pw_ready() {
    pactl load-module module-null-sink sink_name=nullsink sink_properties=device.description=NullSink \
      rate=48000 channels=2 >/dev/null || return 1
    for _ in $(seq 150); do
      pactl set-default-sink nullsink 2>/dev/null && [ "$(pactl get-default-sink 2>/dev/null)" = nullsink ] && return 0
      sleep 0.1
    done
    return 1
  }
  pw_ready || echo "warning: PipeWire did not start; sound tests will be skipped" >&2
elif command -v pulseaudio >/dev/null; then
  export AUDIOCHAIN_PULSE_HOME="$RUN/pulse"
  mkdir -p "$RUN/pulse/home" "$RUN/pulse/xdg" && chmod 700 "$RUN/pulse/xdg"
  export PULSE_RUNTIME_PATH="$RUN/pulse/xdg" PULSE_SERVER="unix:$RUN/pulse/native"
  HOME="$RUN/pulse/home" XDG_RUNTIME_DIR="$RUN/pulse/xdg" XDG_CONFIG_HOME="$RUN/pulse/home/.config" \
  pulseaudio -D -n --exit-idle-time=-1 --use-pid-file=no --log-target=file:"$RUN/pulse.log" \
    -L "module-native-protocol-unix socket=$RUN/pulse/native auth-anonymous=1" \
    -L "module-null-sink sink_name=nullsink sink_properties=device.description=NullSink rate=48000 channels=2" \
    -L "module-always-sink" || echo "warning: PulseAudio did not start; sound tests will be skipped" >&2
  for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
fi

"$PY" -m pytest "$@"; RC=$?
XLOG=$(grep -v -e '^_XSERVTrans' -e 'xkbcomp' -e '^> ' "$RUN/xvfb.log" 2>/dev/null | tail -40)
if [ "$RC" != 0 ] && [ -n "$XLOG" ]; then
  # a GUI test whose editor the X server refused ("Failed to open display", ci145) leaves its reason here
  printf '=================== the X server said (the run failed) ===================\n%s\n' "$XLOG"
fi
exit "$RC"
