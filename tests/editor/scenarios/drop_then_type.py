"""A link dropped on empty canvas, or a fast double-click there, and a node's name typed at once (QA115: 0-30 ms
after the release the search got "ade" for "fade": the search opens a frame after the release; QA116: the
same after a double-click 20-40 ms apart); a fast double-click on a slider and a value typed at once (QA116:
"-12.5" set 12.5)."""
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
        app.pump(until=lambda: app.dpg.get_value("quicksearch::input") == "fade", timeout=2.0)    # ImGui takes a
        typed = app.dpg.get_value("quicksearch::input")      # burst of keys and characters over a few frames
        drv.key("Return")
        drv.frames(8)
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
    drv.dump(out)
