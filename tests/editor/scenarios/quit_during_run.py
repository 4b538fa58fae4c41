"""Ctrl+Q while a run computes inside native code (QA70 D2): a node spends its time in scipy's
pocketfft (C++, the GIL released), a preview plays, and the quit comes while the node runs."""
import sys
from typing import Annotated

import numpy as np

from nodeflow import Audio, Context, Range, node


@node("test.fft_busy")
def fft_busy(audio: Audio, *, steps: Annotated[int, Range(1, 1000)] = 200, ctx: Context) -> Audio:
    """Long inverse FFTs (about 0.2 s each, in C++ without the GIL), a cancel check between them."""
    import scipy.fft
    spectrum = np.zeros(2 ** 21 + 1, dtype=complex)
    for i in range(steps):
        scipy.fft.irfft(spectrum, 2 ** 22)
        ctx.progress(i + 1, steps)
    return audio


def main(app, drv):
    app.doc.graph.registry.add(fft_busy)
    app.doc.add_node("test.fft_busy", (300, 330), node_id="busy")
    app.doc.connect("gain", "out", "busy", "audio")
    drv.frames(5)
    drv.key("ctrl+s")                 # saved: Ctrl+Q quits without asking
    drv.until(lambda: not app.doc.dirty, 10, "the save")
    drv.click_item("play::gain::out")
    drv.key("F5")
    drv.until(lambda: (st := app.runner.states.get("busy")) is not None and st.kind == "running"
              and (st.done or 0) >= 1, 30, "the busy node to run")
    was = {"busy": app.runner.states["busy"].kind, "jobs": [j.kind for j in app.runner.jobs]}
    drv.key("ctrl+q")
    drv.dump({"quitting": app.quitting, "before_quit": was})
    print("quit pressed", was, file=sys.stderr)
    return 0
