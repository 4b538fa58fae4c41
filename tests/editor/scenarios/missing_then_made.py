"""QA111: a load of a file that is not there yet (marked "not found", its run blocked); the file is made outside
the editor, then F5: the node runs, and its mark goes with the run, not at the next edit."""
import os
import shutil
import time
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(8)
    out = {"before": app.view.problems_shown("load2")}
    app.run()                                   # the first run: load2 and what follows are not run
    drv.until(lambda: not app.runner.jobs, 60, "the first run")
    drv.frames(3)
    out["first"] = {n: getattr(app.runner.states.get(n), "kind", None) for n in ("load", "load2", "gain2")}
    shutil.copy(tmp / "tone.wav", tmp / "later.wav")     # made outside the editor: no edit
    drv.frames(3)
    drv.key("F5")
    drv.frames(1)
    out["started"] = {n: getattr(app.runner.states.get(n), "kind", None) for n in ("load2", "gain2")}
    out["shown_at_start"] = app.view.problems_shown("load2")
    t0 = time.perf_counter()
    drv.until(lambda: not app.runner.jobs, 60, "the second run")
    drv.frames(3)
    out["second"] = {n: getattr(app.runner.states.get(n), "kind", None) for n in ("load", "load2", "gain2")}
    out["after"] = app.view.problems_shown("load2")
    out["run_s"] = time.perf_counter() - t0
    drv.dump(out)
