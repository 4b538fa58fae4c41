"""A missing checkpoint with no network: Download (real click) fails at once with one line (the hub's
name does not resolve: no retries), Retry the same, and a run's own attempt too."""
import os
from pathlib import Path

NAME = "facebook/musicgen-small"


def row(app, nid="gen"):
    dpg = app.dpg
    st = app.models.jobs.get(NAME)
    return {"state": st.state if st else None, "button": dpg.get_item_label(f"model::button::{nid}"),
            "text": dpg.get_value(f"model::text::{nid}"),
            "progress_shown": bool(dpg.is_item_shown(f"model::progress::{nid}"))}


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(8)
    (x0, y0), (x1, y1) = app.view.node_rect("gen")
    r = app.dpg.get_item_state("model::button::gen")["rect_min"]
    out = {"problems_at_open": app.problems.get("gen", []),
           "open": {"shown": bool(dpg.is_item_shown("model::row::gen")), "text": dpg.get_value("model::text::gen"),
                    "button": dpg.get_item_label("model::button::gen"),
                    "inside_node": bool(x0 <= r[0] <= x1 and y0 <= r[1] <= y1)},
           "open_tip": dpg.get_value("model::texttip::gen"),
           "gain_row": dpg.does_item_exist("model::row::gain")}
    drv.click_item("model::button::gen")                       # Download
    drv.until(lambda: not app.models.jobs[NAME].running, 60, "the download to fail")
    drv.frames(3)
    out["failed"] = dict(row(app), status=app.status_text, status_error=app.status_error,
                         tip=dpg.get_value("model::texttip::gen"))
    drv.click_item("model::button::gen")                       # Retry
    drv.until(lambda: not app.models.jobs[NAME].running, 60, "the second try to fail")
    drv.frames(3)
    out["retried"] = dict(row(app), status=app.status_text)
    drv.key("F5")                                              # a run, which would download it too
    drv.until(lambda: getattr(app.runner.states.get("gen"), "kind", None) == "failed" and not app.runner.jobs,
              120, "the run to fail")
    drv.frames(4)
    out["run_failed"] = {"line": dpg.get_value("status::gen"), "tip": dpg.get_value("statustip::gen"),
                         "status": app.status_text}
    drv.screenshot(tmp / "models_offline.png")
    drv.dump(out)
