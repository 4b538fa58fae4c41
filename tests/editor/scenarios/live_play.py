"""Play a node while it is still being generated: a node that streams a steady tone in 0.25 s pieces
(ctx.chunk), held at two gates the scenario opens.  Run, click the node's play button after 4 pieces
(1 s; the node is still running), check the sink sounds while the node is held, open the first gate, let
playback catch up with generation at the second (it must wait without a click), open it, and let
the node finish and the clip play to its end.  The null sink is recorded with ``parec``.

``AUDIOCHAIN_TEST_TMP`` gets ``live.f32`` (the recording), ``result.npy`` (the node's result) and
``live.png``; the dump says what the editor showed on the way.
"""
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from nodeflow import Audio, Context, node

RATE, PIECE = 48000, 12000
GATES = {8: threading.Event(), 14: threading.Event()}     # before piece 8 (2 s) and before piece 14 (3.5 s)


@node("test.live_tone", category="test")
def live_tone(*, pieces: int = 20, ctx: Context) -> Audio:
    """A tone gliding up from 300 Hz (no two places alike) handed on in 0.25 s pieces, waiting at the scenario's gates.

    Parameters
    ----------
    pieces : int
        How many 0.25 s pieces.
    """
    parts = []
    for i in range(pieces):
        if i in GATES:
            while not GATES[i].wait(0.05):
                ctx.check_cancelled()
        t = (np.arange(PIECE) + i * PIECE) / RATE
        part = (0.4 * np.sin(2 * np.pi * (300 * t + 21 * t * t))).astype(np.float32)   # 300 Hz gliding up; a crest at 3.5 s
        if i == 0:
            part[:480] *= np.linspace(0, 1, 480, dtype=np.float32)
        if i == pieces - 1:
            part[-480:] *= np.linspace(1, 0, 480, dtype=np.float32)
        parts.append(part)
        ctx.chunk(Audio(part, RATE, start_frame=i * PIECE))
        ctx.progress(i + 1, pieces)
        time.sleep(0.02)
    return Audio(np.concatenate(parts), RATE)


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    app.doc.graph.registry.add(live_tone)
    nid = app.add_node("test.live_tone", (400, 200))
    drv.frames(5)
    raw = tmp / "live.f32"
    rec = subprocess.Popen(["parec", "-d", "nullsink.monitor", "--format=float32le", f"--rate={RATE}",
                            "--channels=2", "--latency-msec=50", str(raw)])
    out = {"node": nid}

    def heard() -> bool:
        x = np.fromfile(raw, dtype="<f4") if raw.exists() else np.zeros(0)
        return bool(len(x) and np.max(np.abs(x)) > 0.05)

    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and not (raw.exists() and raw.stat().st_size > 19200):
            time.sleep(0.02)                                 # parec records
        app.run()
        key = app.runner.current_keys(app.doc.graph)[nid]
        drv.until(lambda: (c := app.runner.live.get(nid, "out", key)) and c.pieces >= 4, 30, "4 pieces")
        out["state_at_press"] = app.runner.states[nid].describe()
        drv.click_item(f"play::{nid}::out")
        drv.until(lambda: app.audition.now == (nid, "out"), 10, "the live clip to play")
        out["status_at_press"] = app.status_text
        drv.until(heard, 30, "sound from the sink while the node is held at its first gate")
        out["heard_while"] = app.runner.states[nid].kind
        out["preview_s_held"] = app.view.time_span.get((nid, "out"), (0, 0))[1]
        drv.screenshot(tmp / "live.png")
        GATES[8].set()
        reader = app.audition.player()._session.reader
        drv.until(lambda: reader.waiting and reader.pos > 13 * PIECE, 30, "playback to catch up at the second gate")
        out["waiting_state"] = app.runner.states[nid].kind
        out["preview_s_caught_up"] = app.view.time_span.get((nid, "out"), (0, 0))[1]
        out["position_caught_up"] = app.audition.playhead()[2]
        t = time.monotonic()
        while time.monotonic() - t < 0.6:                     # a wait the listener hears
            drv.frames(1)
        GATES[14].set()
        drv.until(lambda: app.runner.states[nid].kind == "done", 30, "the node to finish")
        drv.until(lambda: app.audition.now is None, 30, "the clip to play to its end")
        drv.frames(3)
        out["waits"] = reader.waits
        res = app.runner.output(app.doc.graph, nid, "out")
        np.save(tmp / "result.npy", res.samples)
        out["clip_is_result"] = bool(np.array_equal(app.audition.clip.samples, res.samples)) \
            if app.audition.clip is not None else None
        out["preview_is_result"] = app.view.previews.get((nid, "out")) is res
        out["preview_s_done"] = app.view.time_span.get((nid, "out"), (0, 0))[1]
        out["underflows"] = app.audition.player().underflows
        time.sleep(0.5)
    finally:
        for g in GATES.values():
            g.set()
        rec.terminate()
        rec.wait(10)
    # play pressed on a node that has not run: its audition streams, and the sound starts with the pieces
    GATES[8].clear()
    app.doc.set_param(nid, "pieces", 12)
    drv.frames(3)
    drv.click_item(f"play::{nid}::out")
    drv.until(lambda: app.audition.now == (nid, "out"), 30, "the audition to play as it streams")
    out["audition_status"] = app.status_text
    out["audition_state"] = app.runner.states[nid].kind
    GATES[8].set()
    drv.until(lambda: app.audition.now is None and not app.runner.jobs, 30, "the audition to end")
    out["audition_clip_s"] = app.audition.clip.duration_s if app.audition.clip is not None else None
    out["status"] = app.status_text
    drv.dump(out)
