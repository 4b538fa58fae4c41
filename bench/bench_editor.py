"""Editor benchmarks (issue 4), each a ratio against a baseline measured in the same run.

* ``editor_frame_200_nodes_vs_empty``: mean frame time with a 200-node graph on the canvas, over the
  empty canvas's;
* ``editor_frame_while_running_vs_idle``: mean (and worst) frame time while a long node runs on the
  engine's background thread, over idle frames (the UI must not freeze);
* ``editor_play_to_first_buffer_ms``: from pressing play on a cached output to the first buffer
  handed to the sound device, and its ratio over the bare player's own start-up.

The window opens under a private Xvfb (and PulseAudio with a null sink for the last measure) that
this module starts and stops; without them it prints a skip line.  Each measure runs the real editor
in a subprocess (``audiochain edit --script``), with this file as the script (see :func:`main`).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

from bench._util import report
from nodeflow import Audio, Context, Range, node

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------- servers
def _start_xvfb(run: Path) -> tuple[subprocess.Popen | None, str | None]:
    if shutil.which("Xvfb") is None:
        return None, None
    for n in range(130, 160):
        if Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
            continue
        p = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                return p, f":{n}"
            time.sleep(0.1)
        p.kill()
    return None, None


def _start_pulse(run: Path) -> dict | None:
    if shutil.which("pulseaudio") is None:
        return None
    (run / "home").mkdir()
    (run / "xdg").mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(run / "home"), XDG_RUNTIME_DIR=str(run / "xdg"), PULSE_RUNTIME_PATH=str(run / "xdg"),
               PULSE_SERVER=f"unix:{run}/native")
    r = subprocess.run(["pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--use-pid-file=no",
                        f"--log-target=file:{run}/pulse.log",
                        "-L", f"module-native-protocol-unix socket={run}/native auth-anonymous=1",
                        "-L", "module-null-sink sink_name=nullsink rate=48000 channels=2", "-L", "module-always-sink"],
                       env=env, capture_output=True)
    if r.returncode != 0:
        return None
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            return {"PULSE_SERVER": env["PULSE_SERVER"], "PULSE_RUNTIME_PATH": env["PULSE_RUNTIME_PATH"]}
        time.sleep(0.1)
    return None


def _editor(measure: str, env: dict, tmp: Path) -> dict:
    out = tmp / f"{measure}.json"
    e = dict(env, BENCH_EDITOR_MEASURE=measure, BENCH_EDITOR_OUT=str(out), AUDIOCHAIN_STATE_DIR=str(tmp / "state"),
             AUDIOCHAIN_EDITOR_UNDECORATED="1", PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "nodeflow.editor", "--script", __file__], env=e, cwd=tmp,
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0 or not out.exists():
        raise RuntimeError(f"editor benchmark {measure} failed: {p.stderr[-2000:]}")
    return json.loads(out.read_text())


# ---------------------------------------------------------------------------------------- in the editor
def _frame_times(drv, n: int) -> list[float]:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        drv.frames(1)
        ts.append(time.perf_counter() - t0)
    return ts


def _measure_frames(app, drv) -> dict:
    drv.frames(30)
    empty = _frame_times(drv, 150)
    doc = app.doc
    def build():
        for i in range(200):
            nid = doc.graph.add("dsp.gain", id=f"g{i}").id
            doc.graph.editor.setdefault("positions", {})[nid] = [20.0 + 230.0 * (i % 10), 40.0 + 130.0 * (i // 10)]
            if i % 10:
                doc.graph.connect(f"g{i - 1}.out", f"g{i}.audio")
    doc.edit("add 200 nodes", build)
    drv.frames(30)
    full = _frame_times(drv, 150)
    return {"empty": statistics.mean(empty), "full": statistics.mean(full)}


def _measure_running(app, drv) -> dict:
    import numpy as np
    import soxr

    @node("bench.long")
    def long(*, seconds: Annotated[float, Range(0.1, 600.0)] = 3.0, ctx: Context) -> Audio:
        """Resample a minute of noise again and again for a while (the engine's kind of work)."""
        x = np.random.default_rng(0).standard_normal((48000 * 60, 2)).astype(np.float32)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            soxr.resample(x, 48000, 44100, quality="HQ")
            ctx.progress(min(1.0, 1 - (end - time.perf_counter()) / seconds), 1.0)
        return Audio(x[:48000].T, 48000)

    app.doc.graph.registry.add(long)
    app.doc.add_node("bench.long", (60, 60), node_id="long", seconds=4.0)
    drv.frames(30)
    idle = _frame_times(drv, 150)
    app.run()
    drv.until(lambda: app.runner.states.get("long") and app.runner.states["long"].kind == "running", 30, "the run")
    busy = []
    while app.runner.jobs and len(busy) < 2000:
        busy += _frame_times(drv, 1)
    return {"idle": statistics.mean(idle), "busy": statistics.mean(busy), "busy_max": max(busy),
            "idle_max": max(idle), "frames": len(busy)}


def _measure_play(app, drv) -> dict:
    import numpy as np

    from nodeflow.editor.player import Player
    g = app.doc
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48000 * 2) / 48000)).astype(np.float32)
    import soundfile as sf
    tmp = Path(os.environ["BENCH_EDITOR_OUT"]).parent
    sf.write(tmp / "tone.wav", x, 48000)
    g.add_node("io.load", (40, 40), node_id="load", path=str(tmp / "tone.wav"))
    g.add_node("dsp.gain", (300, 40), node_id="gain")
    g.connect("load", "out", "gain", "audio")
    app.run()
    drv.until(lambda: not app.runner.jobs, 30, "the run")
    presses, bare = [], []
    for _ in range(5):
        app.play("gain", "out")
        drv.until(lambda: app.audition.press_to_first_buffer_s() is not None, 10, "the first buffer")
        presses.append(app.audition.press_to_first_buffer_s())
        app.stop_audio()
        drv.frames(5)
        p = Player()
        p.play(Audio(x[None, :], 48000))
        drv.until(lambda: p.first_buffer_s is not None, 10, "the bare player's first buffer")
        bare.append(p.first_buffer_s)
        p.stop()
        drv.frames(5)
    return {"press": statistics.median(presses), "bare": statistics.median(bare)}


def main(app=None, drv=None) -> int | None:
    """``make bench`` calls this with no arguments; the editor calls it with ``(app, driver)``."""
    if app is not None:
        measure = os.environ["BENCH_EDITOR_MEASURE"]
        fn = {"frames": _measure_frames, "running": _measure_running, "play": _measure_play}[measure]
        Path(os.environ["BENCH_EDITOR_OUT"]).write_text(json.dumps(fn(app, drv)))
        return 0
    try:
        import dearpygui  # noqa: F401
    except ImportError:
        print("editor benchmarks: skipped (dearpygui is not installed: pip install 'audiochain[editor]')")
        return None
    with tempfile.TemporaryDirectory(prefix="audiochain-bench-editor-") as d:
        tmp = Path(d)
        xvfb, display = _start_xvfb(tmp)
        if xvfb is None:
            print("editor benchmarks: skipped (Xvfb is not installed or did not start; scripts/system-deps.sh)")
            return None
        env = dict(os.environ, DISPLAY=display)
        try:
            r = _editor("frames", env, tmp)
            report("editor_frame_200_nodes_vs_empty", r["full"] / r["empty"],
                   f"goal <= 4; {r['full'] * 1e3:.1f} ms vs {r['empty'] * 1e3:.1f} ms per frame")
            r = _editor("running", env, tmp)
            report("editor_frame_while_running_vs_idle", r["busy"] / r["idle"],
                   f"goal <= 2 (UI never freezes); worst frame {r['busy_max'] * 1e3:.0f} ms over "
                   f"{r['frames']} frames, idle {r['idle'] * 1e3:.1f} ms")
            (tmp / "pulse").mkdir()
            pulse = _start_pulse(tmp / "pulse")
            if pulse is None:
                print("editor_play_to_first_buffer_ms: skipped (PulseAudio is not installed or did not start)")
            else:
                try:
                    r = _editor("play", dict(env, **pulse), tmp)
                    report("editor_play_to_first_buffer_ms", r["press"] * 1e3,
                           f"goal <= 100 ms; {r['press'] / r['bare']:.2f}x the bare player's "
                           f"{r['bare'] * 1e3:.1f} ms")
                finally:
                    subprocess.run(["pactl", "exit"], env=dict(env, **pulse), capture_output=True)
        finally:
            xvfb.kill()
            xvfb.wait()
    return None


if __name__ == "__main__":
    main()
