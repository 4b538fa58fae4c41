"""Save as, Save as bundle and Export DAW project onto a file that exists (real clicks and keys in
the file dialog): the editor asks before replacing it; Cancel and Escape keep the file, Replace
writes it; saving a graph as its own file asks nothing."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(4)
    app.doc.add_node("dsp.gain", (20, 40), node_id="gain")
    drv.frames(3)

    def choose(name):
        """Type ``name`` in the dialog's File Name box and press OK: what the editor did next."""
        before = app.status_text
        drv.type_in_file_dialog(name)
        drv.until(lambda: app.status_text != before or dpg.is_item_shown("replace"), 20, "the dialog's answer")
        drv.frames(3)
        return state(before)

    def state(before):
        return {"asks": dpg.get_value("replace::text") if dpg.is_item_shown("replace") else None,
                "status": app.status_text if app.status_text != before else None,
                "path": str(app.doc.path) if app.doc.path else None,
                "keep": (tmp / "keep.msgpack").read_bytes()[:4].hex()}

    out = {}
    drv.key("ctrl+s")                                      # untitled: the Save dialog
    out["asked"] = choose(str(tmp / "keep"))
    before = app.status_text
    drv.click_item("replace::no")
    drv.frames(3)
    out["cancel"] = state(before)
    app.files.ask_save_as()
    out["asked_again"] = choose(str(tmp / "keep"))
    drv.click_item("replace::yes")
    drv.until(lambda: app.status_text != before, 20, "the save")
    out["replace"] = state(before)
    app.say("-")                                           # (the save below says what it said before)
    app.files.ask_save_as()
    out["own"] = choose(str(tmp / "keep.msgpack"))        # its own file: saved, nothing asked
    app.files.ask_bundle()
    out["bundle_new"] = choose(str(tmp / "pack"))
    stamp = (tmp / "pack.acbundle").stat().st_mtime_ns
    app.files.ask_bundle()
    out["bundle_again"] = choose(str(tmp / "pack"))
    before = app.status_text
    drv.key("Escape")
    drv.frames(3)
    out["escape"] = state(before)
    out["bundle_kept"] = (tmp / "pack.acbundle").stat().st_mtime_ns == stamp
    drv.dump(out)
