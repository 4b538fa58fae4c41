"""Make an unsaved edit with a real drag, tell the test, then keep rendering until killed."""
import os
import time
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(5)
    drv.drag_link("gain", "out", "fade", "audio")
    app.doc.set_param("gain", "gain_db", -18.0)
    drv.frames(2)
    app.autosaver.flush()
    (tmp / "edited").write_text("\n".join(app.state()["links"]))
    end = time.monotonic() + 60
    while time.monotonic() < end:          # the test kills us with SIGKILL long before this
        drv.frames(1)
    return 1
