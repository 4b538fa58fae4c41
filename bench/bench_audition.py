"""Audition benchmarks (issue 4), each a ratio against a baseline measured in the same run.

* ``audition_press_to_first_buffer_ms``: from pressing play on a cached output (``audition()`` with
  the executor's cache warm; a 10-minute stereo clip, so any per-clip copy would show) to the first
  buffer handed to the sound device, over a bare sounddevice ``OutputStream``'s open+start to its
  first callback, and over the device's buffer period (frames of one callback / rate);
* ``audition_seek_heard_after_play_ms``: how much later a seek is heard after its request than play's
  first sound after its own, recorded back from the null sink with ``parec``: on the default output
  (PulseAudio's own API: the queued audio is rewritten) and, as the baseline, on PortAudio's;
* ``audition_envelope_10min_vs_minmax``: the waveform envelope (2000 points) of 10 minutes of
  stereo 48 kHz, over a plain numpy ``x.min(); x.max()`` of the same samples.

The sound measure starts a private PulseAudio with a null sink (as ``scripts/run-tests.sh`` does)
and runs in a subprocess (PortAudio reads the server once per process); without PulseAudio it
prints a skip line.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

import numpy as np

from bench._util import best_of, report
from nodeflow import Audio, Executor, Graph, Range, Registry, node

ROOT = Path(__file__).resolve().parent.parent
RATE = 48000
REPEATS = 7


def bench_envelope() -> None:
    from nodeflow.editor.audition import envelope
    x = (np.random.default_rng(0).standard_normal((2, RATE * 600)) * 0.1).astype(np.float32)
    audio = Audio(x, RATE)
    base = best_of(lambda: (x.min(), x.max()))
    t = best_of(lambda: envelope(audio, 2000))
    report("audition_envelope_10min_vs_minmax", t / base,
           f"goal <= 1.5; {t * 1e3:.0f} ms vs {base * 1e3:.0f} ms for numpy min+max of 10 min stereo 48 kHz")


# ---------------------------------------------------------------------------------------- sound
@node("bench.long_tone")
def _long_tone(*, minutes: Annotated[float, Range(0.01, 60.0, unit="min")] = 10.0) -> Audio:
    """A quiet stereo tone."""
    t = np.arange(int(minutes * 60 * RATE), dtype=np.float32) / RATE
    x = 0.1 * np.sin(2 * np.pi * 440 * t)
    return Audio(np.stack([x, x]), RATE)


def _measure_play() -> dict:
    """Runs inside the subprocess whose environment points at the private PulseAudio."""
    import sounddevice as sd

    from nodeflow.editor.audition import audition
    from nodeflow.editor.player import Player
    reg = Registry()
    reg.add(_long_tone)
    g = Graph(reg)
    g.add("bench.long_tone", id="tone")
    ex = Executor()
    ex.run(g, targets=["tone"])          # the output is now cached
    player = Player()

    plays: list[float] = []

    def press() -> float:
        ready: list[float] = []
        t_press = time.perf_counter()
        th = audition(ex, g, "tone", player=player, on_ready=lambda a: ready.append(time.perf_counter()))
        th.join(30)
        if th.error is not None or not th.played:
            raise RuntimeError(f"audition failed: {th.error}")
        deadline = time.monotonic() + 10
        while player.first_buffer_s is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        if th.result.ran:
            raise RuntimeError(f"the output was not cached: ran {th.result.ran}")
        total = (ready[0] - t_press) + player.first_buffer_s
        plays.append(player.first_buffer_s)
        player.stop()
        return total

    def raw() -> tuple[float, int]:
        first = threading.Event()
        frames_seen: list[int] = []
        t0 = time.perf_counter()
        stamp: list[float] = []

        def cb(outdata, frames, time_info, status):
            outdata.fill(0)
            if not stamp:
                stamp.append(time.perf_counter())
                frames_seen.append(frames)
                first.set()

        s = sd.OutputStream(samplerate=RATE, channels=2, dtype="float32", latency="high", callback=cb)
        s.start()
        first.wait(10)
        s.abort()
        s.close()
        return stamp[0] - t0, frames_seen[0]

    press()
    raw()                                # warm both paths (first open of the device)
    presses, raws, periods = [], [], []
    for _ in range(REPEATS):
        presses.append(press())
        r, frames = raw()
        raws.append(r)
        periods.append(frames / RATE)
    return {"press": statistics.median(presses), "raw": statistics.median(raws),
            "period": statistics.median(periods), "latency": player.stream_info["latency_s"],
            "play": statistics.median(plays[1:]),
            "seek": {out: statistics.median(_seek_late(out) for _ in range(3)) for out in ("auto", "portaudio")}}


def _seek_late(output: str) -> float:
    """Seconds a seek is heard later after its request than play's first sound after its own: a
    400 Hz clip that turns to 1200 Hz at 2 s, played, sought to 2.5 s at 0.8 s, recorded back."""
    from nodeflow.editor.player import Player
    t = np.arange(4 * RATE) / RATE
    x = 0.25 * np.sin(2 * np.pi * np.where(t < 2.0, 400, 1200) * t)
    clip, player = Audio(np.stack([x, x]).astype(np.float32), RATE), Player(output=output)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rec.f32"
        rec = subprocess.Popen(["parec", "-d", "nullsink.monitor", "--format=float32le", f"--rate={RATE}",
                                "--channels=2", "--latency-msec=50", str(path)])
        try:
            while not path.exists() or path.stat().st_size < 0.2 * RATE * 8:
                time.sleep(0.01)
            t_play = time.perf_counter()
            player.play(clip)
            while player.position_s < 0.8:
                time.sleep(0.005)
            t_seek = time.perf_counter()
            player.switch(clip, at_s=2.5)
            player.wait(30)
            time.sleep(0.3)
        finally:
            rec.terminate()
            rec.wait(10)
        y = np.fromfile(path, dtype="<f4").reshape(-1, 2)[:, 0]
    blk = RATE // 200
    b = y[:len(y) // blk * blk].reshape(-1, blk) * np.hanning(blk)
    hit = (np.abs(np.fft.rfft(b, axis=1)).argmax(axis=1) == round(1200 * blk / RATE)) & (b.std(axis=1) > 0.01)
    first = int(np.flatnonzero(np.abs(y) > 1e-3)[0])
    return float((int(np.flatnonzero(hit)[0]) * blk - first) / RATE - (t_seek - t_play))


def _start_pulse(run: Path) -> dict | None:
    """A private PulseAudio with a null sink; returns the environment that reaches it."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        return None
    (run / "home").mkdir(parents=True)
    (run / "xdg").mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(run / "home"), XDG_RUNTIME_DIR=str(run / "xdg"),
               XDG_CONFIG_HOME=str(run / "home" / ".config"), PULSE_RUNTIME_PATH=str(run / "xdg"),
               PULSE_SERVER=f"unix:{run}/native")
    r = subprocess.run(["pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--use-pid-file=no",
                        f"--log-target=file:{run}/pulse.log",
                        "-L", f"module-native-protocol-unix socket={run}/native auth-anonymous=1",
                        "-L", "module-null-sink sink_name=nullsink rate=48000 channels=2",
                        "-L", "module-always-sink"], env=env, capture_output=True)
    if r.returncode != 0:
        return None
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            return {k: env[k] for k in ("PULSE_SERVER", "PULSE_RUNTIME_PATH")}
        time.sleep(0.1)
    subprocess.run(["pactl", "exit"], env=env, capture_output=True)
    return None


def bench_play() -> None:
    with tempfile.TemporaryDirectory(prefix="audiochain-bench-audition-") as d:
        pulse = _start_pulse(Path(d) / "pulse")
        if pulse is None:
            print("audition_press_to_first_buffer_ms: skipped (PulseAudio is not installed or did not start)")
            return
        env = dict(os.environ, PYTHONPATH=str(ROOT), **pulse)
        try:
            p = subprocess.run([sys.executable, "-m", "bench.bench_audition", "--measure-play"], env=env,
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
        finally:
            subprocess.run(["pactl", "exit"], env=env, capture_output=True)
        if p.returncode != 0:
            raise RuntimeError(f"audition play benchmark failed: {p.stderr[-2000:]}")
        r = json.loads(p.stdout.strip().splitlines()[-1])
    report("audition_press_to_first_buffer_ms", r["press"] * 1e3,
           f"goal <= 1 buffer period; {r['press'] / r['period']:.2f}x the device's "
           f"{r['period'] * 1e3:.1f} ms buffer period, {r['press'] / r['raw']:.2f}x a bare sounddevice "
           f"stream's open+start {r['raw'] * 1e3:.1f} ms (Player.play alone {r['play'] * 1e3:.1f} ms); 10-min cached clip; output latency "
           f"{r['latency'] * 1e3:.0f} ms")
    seek = r["seek"]
    report("audition_seek_heard_after_play_ms", seek["auto"] * 1e3,
           f"goal <= 33, two 60 fps frames; PortAudio's output: {seek['portaudio'] * 1e3:.0f} ms; median of 3, "
           "recorded back from the null sink", fmt="{:.0f}")


def main() -> None:
    bench_envelope()
    bench_play()


if __name__ == "__main__":
    if sys.argv[1:] == ["--measure-play"]:
        print(json.dumps(_measure_play()))
    else:
        main()
