"""QA108 D4: a sweep over the export's loudness target, listened to on the files the export wrote (the listen
list had no export.out: only the nodes before it, whose audio is the same in every variant)."""
import os
from pathlib import Path

from tests.editor._graphs import open_sweep_panel, run_sweep, type_sweep_axes


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    out = {"offered": open_sweep_panel(app, drv, tmp / "sweep", listen="export.out")}
    type_sweep_axes(app, drv, "export.loudness_lufs=-14,-20")
    out.update(run_sweep(app, drv))
    out["lengths"] = [dpg.get_value(dpg.get_item_children(f"sweep::row::{i}", 1)[2]) for i in range(2)]
    drv.click_item("sweep::ab")                            # A
    drv.until(lambda: app.audition.now is not None, 20, "A to play")
    out["playing_a"] = list(app.audition.now or ())
    drv.click_item("sweep::ab")                            # B, level-matched
    drv.until(lambda: dpg.get_value("sweep::abtext").endswith("now: B") and app.audition.now is not None, 20, "B")
    out["playing_b"] = list(app.audition.now or ())
    out["ab_match"] = dpg.get_value("sweep::abmatch")
    out["files"] = sorted(str(p.relative_to(tmp / "sweep")) for p in (tmp / "sweep").rglob("*.wav"))
    app.stop_audio()
    drv.frames(2)
    drv.dump(out)
