"""A sweep whose second variant's export fails after the listened output was made (QA): -1 LUFS is out
of reach under the ceiling, so 'export.loudness_lufs=-20,-1' writes v000 and fails v001's export.  The failed
row shows its error and, since gain.out was computed, play/A/B that work (real clicks)."""
import os
from pathlib import Path

from tests.editor._graphs import type_sweep


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    app.doc.connect("gain", "out", "export", "audio")
    app.doc.set_param("export", "path", "take.flac")
    type_sweep(app, drv, "export.loudness_lufs=-20,-1", tmp / "sweep")
    drv.click_item("sweep::run")
    drv.until(lambda: len(app.sweep.results) == 2 and not app.sweep.running, 60, "the sweep")
    drv.frames(3)
    out = {"status": dpg.get_value("sweep::status"), "rows": {}}
    for i, r in enumerate(app.sweep.results):
        err = f"sweep::error::{i}"
        out["rows"][r.variant.name] = {
            "index": i, "status": r.status, "error": r.error,
            "buttons": [b for b in ("play", "A", "B") if dpg.does_item_exist(f"sweep::{b}::{i}")],
            "error_text": dpg.get_value(err) if dpg.does_item_exist(err) else None,
            "length": dpg.get_value(dpg.get_item_children(f"sweep::row::{i}", 1)[2])}
    failed = next(i for i, r in enumerate(app.sweep.results) if r.status == "failed")
    ok = next(i for i, r in enumerate(app.sweep.results) if r.status == "ok")
    drv.screenshot(tmp / "sweep_failed_export.png")
    drv.click_item(f"sweep::play::{failed}")                 # the failed variant's own play
    drv.until(lambda: app.audition.now is not None, 10, "the failed variant to play")
    out["played"] = list(app.audition.now)
    out["play_status"] = app.status_text
    app.stop_audio()
    drv.frames(2)
    drv.click_item(f"sweep::A::{ok}")
    drv.click_item(f"sweep::B::{failed}")
    out["ab"] = dpg.get_value("sweep::abtext")
    drv.click_item("sweep::ab")                              # A, then B: the failed variant
    drv.until(lambda: app.audition.now is not None, 10, "A to play")
    drv.frames(3)
    drv.click_item("sweep::ab")
    drv.frames(3)
    out["ab_now"] = {"abtext": dpg.get_value("sweep::abtext"), "playing": list(app.audition.now or ())}
    app.stop_audio()
    drv.frames(2)
    drv.dump(out)
