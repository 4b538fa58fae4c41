"""Shortcuts sent as fast as a macro pad sends them (press and release within a millisecond), each
to an idle window: the editor's own paced loop runs, as it does for a user.  QA108 D5: Ctrl+K
opened the search 0 times in 8 this way."""
import subprocess
import threading
import time

TRIES = 3


def fast(*steps):
    """xdotool's arguments for ``steps`` ("keydown ctrl", ...) with no delay between them (xdotool waits
    12 ms after each by default): within a millisecond, as a macro pad sends them."""
    return [arg for step in steps for arg in (*step.split()[:1], "--delay", "0", *step.split()[1:])]


def main(app, drv):
    drv.frames(10)
    drv.move((620, 420))                              # over the canvas: the window has the keyboard
    out = {"tries": [], "idle": []}

    def send(*args):
        """From another thread, while the window waits for input: ``xdotool ARGS`` once."""
        def go():
            time.sleep(0.25)
            subprocess.run(["xdotool", *args], check=True)
        th = threading.Thread(target=go)
        th.start()
        return th

    def idle_then(args, until, timeout=3.0):
        app.pump(timeout=1.2)                          # nothing happens: the window goes idle
        out["idle"].append(not app.pacer.active(app.busy()))
        th = send(*args)
        app.pump(until=lambda: not th.is_alive() and until(), timeout=timeout)
        th.join()
        app.pump(timeout=0.1)
        return bool(until())

    chords = (["key", "ctrl+k"],                                            # xdotool's own chord
              fast("keydown ctrl", "keydown k", "keyup ctrl", "keyup k"))       # Ctrl let go first
    for i in range(TRIES):
        for chord in chords:
            opened = idle_then(chord, lambda: app.palette.searching)
            closed = idle_then(["key", "Escape"], lambda: not app.palette.searching)
            out["tries"].append([opened, closed])
    # an edit undone and redone from an idle window, by fast chords
    app.doc.remove(["gain"], [], verb="delete")
    drv.frames(2)
    out["deleted"] = "gain" not in app.doc.graph.nodes
    out["undone"] = idle_then(["key", "ctrl+z"], lambda: "gain" in app.doc.graph.nodes)
    redo = fast("keydown ctrl", "keydown shift", "keydown z", "keyup ctrl", "keyup shift", "keyup z")
    out["redone"] = idle_then(redo, lambda: "gain" not in app.doc.graph.nodes)
    # typed fast into boxes: the characters and the editing keys in the order typed (QA112 D1: "0:10", then
    # Backspace and "5", set 0:10; "Hello", Backspace and "X" left "Hello").  (Never the same key twice: GLFW
    # drops a press of a key in the same millisecond as its last, as xdotool --delay 0 sends them.)
    start = "param::load::start_s"
    drv.double_click(drv.across(start, 0.75))            # the whole value selected: typing replaces it
    drv.frames(2)
    idle_then(["key", "--delay", "0", "0", "shift+colon", "0", "2", "BackSpace", "1"], lambda: False, 1.0)
    drv.key("Return")
    drv.frames(3)
    out["start_s"] = app.doc.graph.nodes["load"].params["start_s"]
    drv.click_item("palette::filter")
    idle_then(["key", "--delay", "0", "shift+h", "e", "l", "o", "BackSpace", "shift+x"],
              lambda: False, 1.0)
    out["filter"] = app.dpg.get_value("palette::filter")
    from nodeflow.editor.commands import typing
    app.pump(timeout=1.0)                                # idle, the search box still has the keyboard:
    out["box_idle"] = {"typing": typing(app), "frames_in_2s": app.pump(timeout=2.0)}   # its cursor blinks

    def start_typed(*keys):
        """Double-click the start box, then ``keys`` within a millisecond, all of them between two frames
        (xdotool runs while the driver renders none): load.start_s after."""
        drv.double_click(drv.across(start, 0.75))
        drv.frames(2)
        drv.xdo("key", "--delay", "0", *keys, frames=30)
        return app.doc.graph.nodes["load"].params["start_s"]
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    x, y = drv.screen((cx0 + 60, cy1 - 40))             # empty canvas, bottom left (the minimap is bottom right)
    # QA113 D1: a click right after a shifted character (the box gets "0:01"; nothing goes where it clicks)
    out["then_click"] = start_typed("0", "shift+colon", "0", "1", "mousemove", str(x), str(y), "click", "1")
    out["filter_after_click"] = app.dpg.get_value("palette::filter")
    out["ctrl_a"] = start_typed("1", "ctrl+a", "0", "period", "5", "Return")     # QA113 D2: "1", then all replaced
    out["then_tab"] = start_typed("0", "shift+colon", "1", "Tab")               # QA113 D3: Tab after "0:1"
    # QA114: Ctrl+K, a name and Enter sent at once (a macro): the search box got "de", Enter added dac_decode
    drv.move((cx0 + 200, cy1 - 60))
    before = set(app.doc.graph.nodes)
    drv.xdo("key", "--delay", "0", "ctrl+k", "shift+f", "a", "d", "e", "Return", frames=30)
    out["macro_added"] = sorted(app.doc.graph.nodes[n].type for n in set(app.doc.graph.nodes) - before)
    # a double-click on a value, then typing at once (30 ms later, before the box has the keyboard)
    x, y = drv.screen(drv.across(start, 0.75))
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)
    app.pump(timeout=1.2)
    th = send("click", "--repeat", "2", "--delay", "60", "1", "sleep", "0.03",
              "key", "--delay", "0", "0", "period", "4", "Return")
    app.pump(until=lambda: not th.is_alive() and app.doc.graph.nodes["load"].params["start_s"] == 0.4, timeout=3.0)
    th.join()
    out["typed_at_once"] = app.doc.graph.nodes["load"].params["start_s"]
    out["deferred"] = app.keys.deferred if app.keys is not None else None
    drv.dump(out)
