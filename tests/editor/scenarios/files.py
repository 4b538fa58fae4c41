"""Save with Ctrl+S, open an exported audio file, the unsaved-changes guard on quit (Cancel, Don't save)."""
import os
from pathlib import Path

from nodeflow.editor.files import recovery_path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(5)
    out = {}
    app.doc.set_param("gain", "gain_db", -12.0)
    drv.frames(2)
    app.autosaver.flush()
    out["title_dirty"] = app.dpg.get_viewport_title()
    out["recovery_while_dirty"] = recovery_path(app.doc.path).exists()
    drv.key("ctrl+s")
    app.autosaver.flush()
    out["title_saved"] = app.dpg.get_viewport_title()
    out["recovery_after_save"] = recovery_path(app.doc.path).exists()
    out["status_saved"] = app.status_text
    # an exported audio file carries its graph: opening it restores the graph, Save must ask for a name
    app.files.open(tmp / "render" / "out.wav")
    drv.frames(3)
    out["audio_title"] = app.dpg.get_viewport_title()
    out["audio_status"] = app.status_text
    out["audio_nodes"] = sorted(app.doc.graph.nodes)
    out["audio_save_path"] = app.doc.path
    app.files.open(tmp / "chain.msgpack")
    drv.frames(3)
    app.doc.set_param("gain", "gain_db", -3.0)
    drv.frames(2)
    drv.key("ctrl+q")
    out["guard_shown"] = bool(app.dpg.is_item_shown("guard"))
    out["guard_text"] = app.dpg.get_value("guard::text")
    drv.click_item("guard::cancel")
    out["after_cancel"] = {"quitting": app.quitting, "guard": bool(app.dpg.is_item_shown("guard"))}
    drv.key("ctrl+q")
    drv.click_item("guard::discard")
    app.autosaver.flush()
    out["after_discard"] = {"quitting": app.quitting, "recovery": recovery_path(app.doc.path).exists()}
    drv.dump(out)
