#!/usr/bin/env bash
# Run the whole suite. Starts a private Xvfb display and a PulseAudio daemon with a null sink for the
# GUI and sound tests, and stops them afterwards, whatever happens.
set -uo pipefail
PY=${1:-.venv/bin/python}
shift || true
RUN=$(mktemp -d /tmp/audiochain-test.XXXXXX)
cleanup() {
  [ -n "${XVFB_PID:-}" ] && kill "$XVFB_PID" 2>/dev/null
  if [ -n "${PULSE_SERVER:-}" ]; then pactl exit >/dev/null 2>&1 || true; fi
  rm -rf "$RUN"
}
trap cleanup EXIT

if command -v Xvfb >/dev/null; then
  for n in $(seq 90 120); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] && continue
    Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >"$RUN/xvfb.log" 2>&1 &
    XVFB_PID=$!
    for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
    export DISPLAY=":$n"
    break
  done
fi

if command -v pulseaudio >/dev/null; then
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

"$PY" -m pytest "$@"
