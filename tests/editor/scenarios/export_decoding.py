"""The export's line while the file it wrote is decoded for its waveform: 'decoding out.wav...'
(the waveform's place empty: it was blank without a word), then the path and the waveform; a file
that cannot be read says so on the line, the reason in its tooltip.  The decoder is held back so the
decoding can be seen."""
import threading
from pathlib import Path


def main(app, drv):
    dpg, files = app.dpg, app.audition.files
    go = threading.Event()
    decode = files._decode
    files._decode = lambda path: (go.wait(20), decode(path))[1]
    drv.frames(4)
    out = {}

    def line():
        return {"text": dpg.get_value("value::export::out"), "tip": dpg.get_value("valuetip::export::out"),
                "wave": bool(dpg.is_item_shown("plot::export::out")),
                "height": round(app.view.node_rect("export")[1][1] - app.view.node_rect("export")[0][1])}
    drv.click_item("run_button")
    drv.until(lambda: not app.runner.jobs, 30, "the run")
    drv.until(lambda: dpg.get_value("value::export::out").startswith("decoding"), 10, "the decoding line")
    out["decoding"] = line()
    go.set()
    drv.until(lambda: dpg.is_item_shown("plot::export::out"), 20, "the export's waveform")
    drv.frames(2)
    out["decoded"] = line()
    path = Path(app.runner.output(app.doc.graph, "export", "out"))
    out["path"] = str(path)
    path.write_bytes(b"RIFF\0\0\0\0WAVEjunk" * 8)          # the file spoilt by another program, then looked at again
    app.view.files_shown.clear()
    app.refresh()
    drv.until(lambda: dpg.get_value("value::export::out").startswith("cannot"), 20, "the unreadable line")
    drv.frames(2)
    out["broken"] = line()
    drv.dump(out)
