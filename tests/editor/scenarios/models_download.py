"""Download a missing checkpoint from a local hub (real clicks): progress, Cancel, Download again, done."""
import os
from pathlib import Path

NAME = "facebook/musicgen-small"


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(8)
    label = lambda: dpg.get_item_label("model::button::gen")            # noqa: E731
    overlay = lambda: dpg.get_item_configuration("model::progress::gen")["overlay"]   # noqa: E731
    tip = lambda: dpg.get_value("model::progresstip::gen")              # noqa: E731
    out = {"open": {"shown": bool(dpg.is_item_shown("model::row::gen")), "text": dpg.get_value("model::text::gen"),
                    "button": label()}}
    drv.click_item("model::button::gen")                       # Download
    drv.until(lambda: "% of " in overlay() and dpg.get_value("model::progress::gen") > 0, 60, "the first bytes")
    drv.frames(2)
    out["mid"] = {"button": label(), "progress_shown": bool(dpg.is_item_shown("model::progress::gen")),
                  "value": dpg.get_value("model::progress::gen"), "overlay": overlay(), "tip": tip()}
    drv.screenshot(tmp / "models_progress.png")
    drv.click_item("model::button::gen")                       # Cancel
    drv.frames(3)
    out["after_cancel"] = {"text": dpg.get_value("model::text::gen"), "button": label(),
                           "shown": bool(dpg.is_item_shown("model::row::gen"))}
    drv.click_item("model::button::gen")                       # Download again
    seen = []
    job = app.models.jobs[NAME]

    def watch():
        if dpg.is_item_shown("model::progress::gen") and (overlay(), tip()) not in seen:
            seen.append((overlay(), tip()))
        return not job.running
    drv.until(watch, 120, "the download to finish")
    drv.frames(6)
    out["overlays"] = seen
    out["done"] = {"shown": bool(dpg.is_item_shown("model::row::gen")), "problems": app.problems.get("gen", []),
                   "job": job.state, "status": app.status_text}
    drv.screenshot(tmp / "models_done.png")
    drv.dump(out)
