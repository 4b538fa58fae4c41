"""A/B between any two nodes on the canvas, through real events, with the null sink recorded (parec):
gain (the clip at its own level) and the export (the file it wrote, normalised to -30 LUFS).  Ctrl+B
with one node selected says what to do; a click on gain and a Ctrl+click on the export select both;
Ctrl+B computes them and plays A, Ctrl+B at about 0.8 s switches to B at the same place, a click on
empty canvas clears the selection and Ctrl+B in the second half still switches (back to A)."""
import os
import time
from pathlib import Path

from tests.editor._sound import Parec

HALF_S = 2.0


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    out = {"menu": app.dpg.get_item_configuration("menu_ab")["shortcut"]}
    drv.frames(5)

    def title(nid):
        (x0, y0), _ = app.view.node_rect(nid)
        return x0 + 40, y0 + 8

    def marks():             # the nodes' titles, and their widths (a mark never widens a node)
        return {n: [app.dpg.get_item_label(app.view.node_tag(n)), round(app.view.node_rect(n)[1][0]
                                                                          - app.view.node_rect(n)[0][0])]
                for n in ("gain", "export", "load")}

    def head():
        h = app.audition.playhead()
        return h[2] if h else 0.0

    out["marks_before"] = marks()
    drv.click(title("gain"))
    drv.key("ctrl+b")
    out["one_selected"] = [app.status_text, app.status_error, app.audition.now, app.audition.pending]
    drv.xdo("keydown", "ctrl")
    drv.click(title("export"))
    drv.xdo("keyup", "ctrl")
    out["selected"] = sorted(app.view.selected_nodes())
    said = []                              # every status line, as they come (a fast run ends within the key's frames)
    say = app.say
    app.say = lambda text, error=False, **kw: (said.append(text), say(text, error, **kw))[1]
    with Parec(tmp / "ab.f32") as rec:
        drv.key("ctrl+b")
        out["computing"] = next((t for t in said if t.startswith("computing ")), app.status_text)
        drv.until(lambda: app.audition.now == ("gain", "out"), 60, "A (gain) to play")
        drv.frames(3)
        out["a_status"] = [app.status_text, app.status_error]
        out["a_shown"] = app.dpg.get_value("status")
        out["marks_a"] = marks()
        drv.until(lambda: head() > 0.8, 20, "0.8 s of A")
        out["a_head_at_switch"], t_a = head(), time.monotonic()
        drv.key("ctrl+b")
        drv.until(lambda: app.audition.now == ("export", "out"), 20, "B (the export's file) to play")
        out["b_head"], out["b_after_s"] = head(), time.monotonic() - t_a
        drv.frames(3)
        out["b_status"] = [app.status_text, app.status_error]
        out["marks_b"] = marks()
        out["b_transport"] = list(app.view.transport.get(("export", "out"), (None, None)))
        (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
        drv.click(((cx0 + cx1) / 2, cy1 - 150))           # empty canvas: nothing selected
        out["selected_after_click"] = app.view.selected_nodes()
        drv.until(lambda: head() > HALF_S + 0.4, 20, "the second half of B")
        out["b_head_at_switch"], t_b = head(), time.monotonic()
        drv.key("ctrl+b")
        drv.until(lambda: app.audition.now == ("gain", "out"), 20, "A again")
        out["a2_head"], out["a2_after_s"] = head(), time.monotonic() - t_b
        drv.frames(3)
        out["a2_status"] = app.status_text
        drv.until(lambda: app.audition.now is None, 20, "the end of A")
        drv.frames(2)
        out["marks_stopped"] = marks()
    out["recording"] = str(rec.path)

    # an edit while A/B plays: the status says how to compare the new versions (it said 'press play')
    drv.key("ctrl+b")
    drv.until(lambda: app.audition.now is not None, 30, "A/B to play again")
    app.doc.set_param("gain", "gain_db", app.doc.graph.nodes["gain"].params.get("gain_db", 0.0) - 1.0)
    drv.frames(3)
    out["edit_status"] = app.status_text
    # one of the pair deleted: Ctrl+B says so and keeps the pair, so after Ctrl+Z it compares again
    drv.click(title("export"))
    drv.key("Delete")
    drv.frames(2)
    drv.click(((cx0 + cx1) / 2, cy1 - 150))
    drv.key("ctrl+b")
    out["deleted_status"] = [app.status_text, app.status_error, "export" in app.doc.graph.nodes]
    drv.key("ctrl+z")
    drv.frames(2)
    drv.key("ctrl+b")
    drv.until(lambda: app.audition.now is not None or app.status_error, 60, "A/B after the undo")
    out["after_undo"] = [app.status_text, list(app.audition.now or ())]
    app.stop_audio()
    drv.dump(out)
