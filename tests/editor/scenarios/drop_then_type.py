"""A link dropped on empty canvas, or a fast double-click there, and a node's name typed at once (QA115: 0-30 ms
after the release the search got "ade" for "fade": the search opens a frame after the release; QA116: the
same after a double-click 20-40 ms apart); a fast double-click on a slider and a value typed at once (QA116:
"-12.5" set 12.5); a node and a slider dragged faster than a frame (QA117: the node stayed put, the slider
kept the value at the press)."""
import subprocess
import threading


def main(app, drv):
    drv.frames(8)
    a = app.view.pin_pos("gain", "audio", "in")
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    out = {"drops": [], "doubles": []}

    def at_once(*xdo, search=True):
        """``xdotool XDO`` from another thread while the editor's own loop runs; then Enter: what the search
        held and the types of the nodes added."""
        before = set(app.doc.graph.nodes)
        th = threading.Thread(target=lambda: subprocess.run(["xdotool", *xdo], check=True))
        th.start()
        app.pump(until=lambda: not th.is_alive(), timeout=5)
        th.join()
        app.pump(until=lambda: not app.busy() and (not search or app.palette.searching and app.dpg.get_value(
            "quicksearch::input") == "fade"), timeout=3.0)      # held input handed on, and ImGui takes a
        typed = app.dpg.get_value("quicksearch::input")      # burst of keys and characters over a few frames
        drv.key("Return")
        app.pump(until=lambda: not app.busy() and (not search or set(app.doc.graph.nodes) - before), timeout=3.0)
        if not search:
            return app.doc.graph.nodes["gain"].params["gain_db"]
        added = sorted(app.doc.graph.nodes[n].type for n in set(app.doc.graph.nodes) - before)
        if added:
            app.undo()
        drv.key("Escape")
        drv.frames(5)
        return [typed, added]

    for delay in ("0", "0.02"):                         # the letters with the release, and 20 ms after it
        drv.drag(a, (a[0] - 150, cy1 - 70), steps=10, release=False)      # released by xdotool below
        out["drops"].append(at_once("mouseup", "1", "sleep", delay, "type", "--delay", "80", "fade"))
    x, y = drv.screen((cx0 + 300, cy1 - 120))
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)
    app.pump(timeout=0.8)
    for gap in ("60", "20"):                             # ms between the clicks (a macro, a remote desktop)
        out["doubles"].append(at_once("click", "--repeat", "2", "--delay", gap, "1", "type", "--delay", "0", "fade"))
    x, y = drv.screen(drv.across("param::gain::gain_db", 0.75))
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)
    app.pump(timeout=0.8)
    out["slider"] = at_once("click", "--repeat", "2", "--delay", "20", "1", "type", "--delay", "0", "--", "-12.5",
                            search=False)
    from nodeflow.editor.document import positions
    r = app.view.node_rect("load")
    x, y = drv.screen((r[0][0] + 60, r[0][1] + 8))                # load's title
    was = positions(app.doc.graph)["load"]
    app.pump(timeout=0.8)
    burst = threading.Thread(target=lambda: subprocess.run(
        ["xdotool", "mousemove", str(x), str(y), "mousedown", "1", "mousemove_relative", "0", "150", "mouseup", "1"],
        check=True))
    burst.start()
    app.pump(until=lambda: not burst.is_alive(), timeout=5)
    app.pump(until=lambda: not app.busy(), timeout=3.0)
    out["node_moved"] = [b - a for a, b in zip(was, positions(app.doc.graph)["load"])]
    (x0, y0), (x1, y1) = drv.screen(drv.across("param::gain::gain_db", 0.1)), drv.screen(
        drv.across("param::gain::gain_db", 0.6))
    burst = threading.Thread(target=lambda: subprocess.run(
        ["xdotool", "mousemove", str(x0), str(y0), "mousedown", "1", "mousemove", str((x0 + x1) // 2), str(y0),
         "mousemove", str(x1), str(y1), "mouseup", "1"], check=True))
    app.pump(timeout=0.8)
    burst.start()
    app.pump(until=lambda: not burst.is_alive(), timeout=5)
    app.pump(until=lambda: not app.busy(), timeout=3.0)
    out["slid_to"] = app.doc.graph.nodes["gain"].params["gain_db"]
    drv.drag(drv.across("param::gain::gain_db", 0.1), drv.across("param::gain::gain_db", 0.6), steps=4)
    out["slid_slowly_to"] = app.doc.graph.nodes["gain"].params["gain_db"]
    drv.dump(out)
