"""An untitled graph (load -> gain -> export, built as the palette builds it), Ctrl+S into a new
folder, F5: the run's results show (waveforms, the export's file line, states), and A/B of two
nodes plays, without any edit after the save."""
import os
from pathlib import Path

from tests.editor._graphs import tone_file


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    tone_file(tmp)
    drv.frames(4)
    doc = app.doc
    doc.add_node("io.load", (20, 40), node_id="load")
    doc.set_param("load", "path", "tone.wav")
    doc.add_node("dsp.gain", (300, 40), node_id="gain")
    doc.add_node("io.export", (580, 40), node_id="export")
    doc.connect("load", "out", "gain", "audio")
    doc.connect("gain", "out", "export", "audio")
    drv.frames(4)
    out = {}
    (tmp / "songs").mkdir()
    drv.key("ctrl+s")                                   # untitled: the Save dialog
    out["dialog"] = bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))
    app.files.dialog.choose(str(tmp / "songs" / "song"))    # as its OK does
    drv.frames(3)
    out["saved"] = [str(doc.path), app.status_text]
    drv.key("F5")
    drv.until(lambda: not app.runner.running and app.status_text.startswith("run "), 60, "the run")
    drv.frames(4)
    g = doc.graph
    out["status"] = app.status_text
    out["states"] = {n: dpg.get_value(f"status::{n}") for n in g.nodes}
    file = app.runner.output(g, "export", "out")
    out["export_out"] = str(file) if file is not None else None
    out["file_line"] = dpg.get_value("value::export::out")
    out["gain_wave"] = bool(dpg.is_item_shown("plot::gain::out"))

    def title(nid):
        (x0, y0), _ = app.view.node_rect(nid)
        return x0 + 40, y0 + 8
    drv.click(title("gain"))
    drv.xdo("keydown", "ctrl")
    drv.click(title("export"))
    drv.xdo("keyup", "ctrl")
    out["selected"] = sorted(app.view.selected_nodes())
    drv.key("ctrl+b")
    drv.until(lambda: app.audition.now is not None or app.status_error, 30, "A/B to play or refuse")
    out["ab"] = [app.status_text, app.status_error, list(app.audition.now or ())]
    app.stop_audio()
    drv.frames(3)
    drv.dump(out)
