"""A missing checkpoint with no network: Download (real click), Cancel, Download again; the failure's line."""
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
    out["after_click"] = dict(row(app), running=app.models.jobs[NAME].running,
                              overlay=dpg.get_item_configuration("model::progress::gen")["overlay"],
                              tip=dpg.get_value("model::progresstip::gen"))
    out["status_after_click"] = app.status_text
    drv.screenshot(tmp / "models_connecting.png")
    drv.click_item("model::button::gen")                       # Cancel
    out["after_cancel"] = dict(row(app), status=app.status_text)
    drv.click_item("model::button::gen")                       # Download again
    f0 = app.frame_count
    drv.key("F5")                                              # and a run, which would download it too
    drv.until(lambda: app.status_text.startswith("cannot download"), 120, "the download to fail")
    out["frames_while_downloading"] = app.frame_count - f0
    out["failed"] = dict(row(app), status=app.status_text, status_error=app.status_error,
                         tip=dpg.get_value("model::texttip::gen"))
    drv.until(lambda: getattr(app.runner.states.get("gen"), "kind", None) == "failed", 120, "the run to fail")
    drv.frames(4)
    out["run_failed"] = {"line": dpg.get_value("status::gen"), "tip": dpg.get_value("statustip::gen")}
    drv.screenshot(tmp / "models_offline.png")
    drv.dump(out)
