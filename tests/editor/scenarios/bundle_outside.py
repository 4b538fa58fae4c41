"""File > Save as bundle... of a graph reading a take from outside its folder: a box lists the file and
asks; Cancel writes nothing, Include them writes the bundle with the take (QA79 D1 left the editor with
no way to say --include-outside)."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(4)
    out = {}

    def bundle_to(path):
        app.files.ask_bundle()
        drv.frames(2)
        app.files.dialog.choose(str(path))    # as its OK does
        drv.frames(3)

    bundle_to(tmp / "gift")
    out["shown"] = bool(dpg.is_item_shown("packout"))
    out["text"] = dpg.get_value("packout::text")
    drv.click_item("packout::cancel")
    drv.frames(3)
    out["after_cancel"] = {"shown": bool(dpg.is_item_shown("packout")), "status": app.status_text,
                           "written": (tmp / "gift.acbundle").exists()}
    bundle_to(tmp / "gift")
    drv.click_item("packout::include")
    drv.frames(3)
    out["after_include"] = {"shown": bool(dpg.is_item_shown("packout")), "status": app.status_text,
                            "written": (tmp / "gift.acbundle").exists()}
    drv.dump(out)
