"""Play a long steady tone from the editor (a real click on play) while the machine is busy, and record
the PulseAudio null sink with ``parec`` (a C program: the recording does not depend on Python's
scheduling).  The editor runs its own paced main loop meanwhile, as it does for a user.

Environment: ``AUDIOCHAIN_LOAD_PROCS`` busy-loop processes (default 4) started just before the click
and stopped after playback; ``AUDIOCHAIN_TEST_TMP`` gets ``played.f32`` (the recording, float32
stereo 48 kHz) and the JSON dump the counts.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

BUSY = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    n_load = int(os.environ.get("AUDIOCHAIN_LOAD_PROCS", "4"))
    drv.frames(5)
    app.run()
    drv.until(lambda: not app.runner.jobs and app.runner.output(app.doc.graph, "gain", "out") is not None, 60,
              "the run")
    drv.frames(5)
    raw = tmp / "played.f32"
    rec = subprocess.Popen(["parec", "-d", "nullsink.monitor", "--format=float32le", "--rate=48000",
                            "--channels=2", "--latency-msec=50", str(raw)])
    end = time.monotonic() + 30               # recording for real before the click (a busy machine starts
    while time.monotonic() < end and (raw.stat().st_size if raw.exists() else 0) < 0.2 * 48000 * 8:
        time.sleep(0.02)                      # parec late: a CI run heard 5.38 s of the 6 s, none missing)
    load = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n_load)]
    out = {"load_procs": n_load}
    at_click = 0
    try:
        time.sleep(0.5)
        f0 = app.frame_count
        at_click = raw.stat().st_size if raw.exists() else 0
        drv.click_item("play::gain::out")
        pump = getattr(app, "pump", None)
        t0 = time.monotonic()
        seen = {"started": False}

        def ended():
            seen["started"] = seen["started"] or app.audition.now is not None
            return seen["started"] and app.audition.now is None

        while time.monotonic() - t0 < 60:
            if pump is not None:
                pump(ended, timeout=60)
            else:                      # editors without a paced loop: their old loop, 60 frames a second
                t = time.perf_counter()
                app.frame()
                time.sleep(max(0.0, 1 / 60 - (time.perf_counter() - t)))
            if ended():
                break
        out["frames_while_playing"] = app.frame_count - f0
        out["seconds_playing"] = time.monotonic() - t0
        p = app.audition.player()
        out["underflows"] = getattr(p, "underflows", None)
        out["stream"] = {k: v for k, v in (p.stream_info or {}).items() if k != "device"}
        out["latency_history"] = getattr(p, "latency_history", None)
        out["status"] = app.status_text
        time.sleep(0.8)
    finally:
        for q in load:
            q.kill()
        clip = app.audition.clip                  # the recording holds the whole clip and its tail
        want = at_click + ((clip.duration_s if clip is not None else 0.0) + 0.6) * 48000 * 8
        end = time.monotonic() + 15
        while time.monotonic() < end and raw.exists() and raw.stat().st_size < want:
            time.sleep(0.05)
        rec.terminate()
        rec.wait(10)
    drv.dump(out)
