"""Type a whole path into the file dialog's File Name box (real clicks and keys) and press OK: an
absolute path or ~/... is used as is, a folder that does not exist is one line and nothing is made;
for Save as, Save as bundle and Open (a file that is not there: one line, the dialog stays)."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(4)
    app.doc.add_node("dsp.gain", (20, 40), node_id="gain")
    drv.frames(3)

    def type_name(name):
        before = app.status_text
        drv.type_in_file_dialog(name)
        drv.until(lambda: app.status_text != before, 20, "the dialog's answer")
        drv.frames(2)
        return {"status": app.status_text, "error": app.status_error,
                "path": str(app.doc.path) if app.doc.path else None}

    out = {}
    drv.key("ctrl+s")                                      # untitled: the Save dialog, in the start folder
    out["absolute"] = type_name(str(tmp / "g2" / "song"))
    app.files.ask_save_as()
    drv.type_in_file_dialog(str(tmp / "nope" / "deeper" / "song"))        # the dialog says so, and stays
    drv.frames(3)
    out["missing"] = {"said": app.dpg.get_value("filedialog::said"), "shown": app.files.dialog.shown,
                      "path": str(app.doc.path) if app.doc.path else None}
    drv.key("Escape")
    drv.frames(3)
    app.files.ask_open()
    drv.type_in_file_dialog(str(tmp / "g2" / "nosuch.msgpack"))
    drv.frames(3)
    out["open_missing"] = {"said": app.dpg.get_value("filedialog::said"), "shown": app.files.dialog.shown}
    drv.key("Escape")
    drv.frames(3)
    app.files.ask_save_as()
    out["home"] = type_name("~/songs/take")
    app.files.ask_bundle()
    out["bundle"] = type_name(str(tmp / "g2" / "pack"))
    app.files.ask_open()
    out["open"] = type_name(str(tmp / "g2" / "song.msgpack"))
    out["files"] = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*")
                          if "state" not in p.parts and not any(s.startswith(".") for s in p.parts))
    drv.dump(out)
