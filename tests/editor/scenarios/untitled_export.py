"""An untitled graph's export (the editor started in a folder with no file): F5 writes it into the
graph's own folder under the state folder, not the start folder, and says where; Save as moves
nothing and says where the earlier files stay, the next F5 writes beside the graph.  An untitled
graph that writes outside still asks (Allow once)."""
import os
from pathlib import Path

from tests.editor._graphs import tone_file


def build(app, export_path):
    doc = app.doc
    doc.add_node("io.load", (20, 40), node_id="load")
    doc.set_param("load", "path", "tone.wav")             # relative: the start folder, as before
    doc.add_node("dsp.gain", (300, 40), node_id="gain")
    doc.add_node("io.export", (580, 40), node_id="export")
    doc.set_param("export", "path", export_path)
    doc.connect("load", "out", "gain", "audio")
    doc.connect("gain", "out", "export", "audio")


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    tone_file(tmp)
    drv.frames(4)
    build(app, "out.wav")
    drv.frames(3)
    out = {}

    def run():
        drv.key("F5")
        drv.until(lambda: not app.runner.running and app.status_text.startswith("run "), 60, "the run")
        drv.frames(3)
        file = app.runner.output(app.doc.graph, "export", "out")
        return {"status": app.status_text, "file": str(file) if file else None,
                "line": dpg.get_value("value::export::out")}

    out["untitled"] = run()
    out["start_folder"] = sorted(p.name for p in tmp.iterdir())
    (tmp / "songs").mkdir()
    app.files.ask_save_as()
    app.files.dialog.choose(str(tmp / "songs" / "song"))    # as its OK does
    drv.frames(3)
    out["saved"] = app.status_text
    out["saved_run"] = run()
    out["songs"] = sorted(p.name for p in (tmp / "songs").iterdir())
    # a new untitled graph (as recovered: its export path is not one the user set) writing outside
    app.files.new()
    drv.frames(3)
    target = tmp.parent / f"{tmp.name}-victim" / "x.wav"          # outside the start folder too
    build(app, str(target))
    app.doc.graph.own_paths.clear()
    drv.frames(3)
    drv.key("F5")
    drv.frames(3)
    out["outside_shown"] = bool(dpg.is_item_shown("outside"))
    out["outside_text"] = dpg.get_value("outside::text")
    drv.click_item("outside::allow")
    drv.until(lambda: not app.runner.running and app.status_text.startswith("run "), 60, "the allowed run")
    out["allowed"] = {"status": app.status_text, "written": target.exists()}
    drv.dump(out)
