"""Click an output's play button (a real click), record the PulseAudio null sink's monitor meanwhile."""
import os
import threading
import time
from pathlib import Path

import numpy as np


def main(app, drv):
    import sounddevice as sd
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(5)
    chunks, started = [], threading.Event()

    def cb(indata, frames, time_info, status):
        chunks.append(indata.copy())
        started.set()

    out = {"heads": []}
    with sd.InputStream(samplerate=48000, channels=2, dtype="float32", callback=cb):
        assert started.wait(10), "no data from the null sink's monitor"
        drv.click_item("play::gain::out")
        out["status_pressed"] = app.status_text
        drv.until(lambda: app.audition.now == ("gain", "out"), 20, "playback to start")
        out["status_playing"] = app.status_text
        out["preview_shown"] = bool(app.dpg.is_item_shown("preview::gain::out"))
        while app.audition.now is not None:
            drv.frames(1)
            if ("gain", "out") in app.view.head_at:
                out["heads"].append(app.view.head_at[("gain", "out")])
        end = time.monotonic() + 30         # the tail of the sound reaches the monitor: wait for 0.3 s of silence
        while time.monotonic() < end:
            x = np.concatenate(chunks)[:, 0]
            loud = np.flatnonzero(np.abs(x) > 1e-3)
            if len(loud) and len(x) - loud[-1] > 0.3 * 48000:
                break
            drv.frames(1)
    out["states"] = app.state()["kinds"]
    np.save(tmp / "recorded.npy", np.concatenate(chunks))
    np.save(tmp / "expected.npy", app.runner.output(app.doc.graph, "gain", "out").samples)
    # the other output's play stops this one: only one preview at a time
    drv.click_item("play::load::out")
    drv.until(lambda: app.audition.now == ("load", "out"), 10, "the second preview")
    drv.click_item("play::gain::out")
    drv.until(lambda: app.audition.now == ("gain", "out"), 10, "the third preview")
    out["one_at_a_time"] = app.audition.player() is not None and app.audition.now == ("gain", "out")
    drv.click_item("stop::gain::out")
    out["after_stop"] = app.audition.now
    out["player_playing_after_stop"] = app.audition.player().playing
    drv.dump(out)
