"""The sweep panel as QA drove it (real X events): axis errors in the panel's words, A/B between
takes of different lengths (1.0 s and 5.0 s), and a second sweep forgets the first's A/B match."""
import os
from pathlib import Path

from tests.editor._graphs import open_sweep_panel, run_sweep, type_sweep_axes


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    open_sweep_panel(app, drv, tmp / "sweep")
    out = {}
    for key, typed in (("unknown_param", "gain.nonexistent=1,2"), ("one_line", "gain.gain_db=0fade.fade_out_s=0.5")):
        type_sweep_axes(app, drv, typed)
        drv.click_item("sweep::run")
        drv.frames(2)
        out[key] = dpg.get_value("sweep::status")
    dpg.set_value("sweep::axes", "load.path=short.wav,long.wav")
    drv.frames(2)
    out.update(run_sweep(app, drv))                        # status, ab
    drv.click_item("sweep::ab")                            # A (1.0 s) from the start
    drv.until(lambda: app.audition.now is not None, 10, "A to play")
    drv.frames(3)
    drv.click_item("sweep::ab")                            # B (5.0 s) from where A was
    out["ab_match"] = dpg.get_value("sweep::abmatch")

    out["ab_after_b"] = dpg.get_value("sweep::abtext")

    def past(s):
        head = app.audition.playhead()
        return head is not None and head[2] > s
    drv.until(lambda: past(1.3), 10, "B past A's length")
    drv.click_item("sweep::ab")                            # A again: 1.0 s long, B was past that
    drv.frames(3)
    out["after_switch"] = {"abtext": dpg.get_value("sweep::abtext"), "offset_s": app.audition.offset_s,
                           "playing": list(app.audition.now or ()), "status": app.status_text}
    app.stop_audio()
    drv.frames(2)
    drv.click_item("sweep::run")                           # a second sweep: new variants
    drv.frames(2)
    out["second_run_ab_match"] = dpg.get_value("sweep::abmatch")
    drv.until(lambda: not app.sweep.running, 60, "the second sweep")
    drv.frames(3)
    drv.screenshot(tmp / "sweep_ab.png")
    type_sweep_axes(app, drv, "gain.gain_db=-6,0")          # another sweep into that folder (QA64 D7)
    drv.click_item("sweep::run")
    drv.until(lambda: not app.sweep.running, 60, "the third sweep")
    drv.frames(3)
    out["third_status"] = dpg.get_value("sweep::status")
    out["third_files"] = sorted(p.name for p in (tmp / "sweep").iterdir())
    drv.dump(out)
