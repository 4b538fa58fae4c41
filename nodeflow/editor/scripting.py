"""Drive the real editor from a script: frames, screenshots, real X mouse and keyboard events.

``audiochain edit FILE --script SCRIPT.py`` opens the window as usual, then calls ``main(app, drv)``
from the script instead of the interactive loop.  The script advances the editor frame by frame
(:meth:`Driver.frames`, :meth:`Driver.until`) and sends *real* input through ``xdotool`` to the X
server the window lives on (under Xvfb in tests), so the editor sees exactly what a user's mouse
would do.  Tests read the editor's state as JSON (:meth:`Driver.dump`).
"""
from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    from .app import App

__all__ = ["Driver", "run_script", "summary"]


def summary(app: App) -> dict[str, Any]:
    """A JSON-able summary of what the editor shows (used by scripted tests: :meth:`Driver.dump`)."""
    from .document import positions
    g, doc, states = app.doc.graph, app.doc, app.runner.states
    return {"path": str(doc.path) if doc.path else None, "dirty": doc.dirty,
            "nodes": {n: {"type": i.type, "params": {k: getattr(v, "value", v) for k, v in i.params.items()}}
                      for n, i in g.nodes.items()},
            "links": [str(link) for link in g.links], "positions": positions(g),
            "states": {n: s.describe() for n, s in states.items()}, "kinds": {n: s.kind for n, s in states.items()},
            "status": app.status_text, "status_error": app.status_error,
            "problems": app.problems, "previews": [f"{a}.{b}" for a, b in app.view.previews],
            "undo": doc.history.undo_label, "redo": doc.history.redo_label,
            "playing": ".".join(app.audition.now) if app.audition.now else None,
            "title": app.dpg.get_viewport_title(), "frames": app.frame_count, "time": time.time(),
            "errors": list(app.errors)}


class Driver:
    def __init__(self, app: App):
        self.app = app
        self.dpg = app.dpg
        self._origin: tuple[int, int] | None = None

    # ------------------------------------------------------------------ time
    def frames(self, n: int = 1) -> None:
        for _ in range(n):
            self.app.frame()

    def wait(self, seconds: float) -> None:
        """Render frames for ``seconds`` (e.g. past a double-click's time, whatever a frame takes)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.frame()

    def until(self, cond: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Render frames until ``cond()`` is truthy; raises TimeoutError naming ``what``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.app.frame()
            v = cond()
            if v:
                return v
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; status: {self.app.status_text!r}")

    # ------------------------------------------------------------------ screen
    def window_origin(self) -> tuple[int, int]:
        """The window's top-left corner on the X screen (from xdotool)."""
        if self._origin is None:
            out = subprocess.run(["xdotool", "search", "--name", "AudioChain"], capture_output=True, text=True).stdout
            wid = out.split()[0]
            geo = subprocess.run(["xdotool", "getwindowgeometry", wid], capture_output=True, text=True).stdout
            x = y = 0
            for line in geo.splitlines():
                if "Position:" in line:
                    x, y = (int(v) for v in line.split()[1].split(","))
            self._origin = (x, y)
            self.window_id = wid
        return self._origin

    def screen(self, p: tuple[float, float]) -> tuple[int, int]:
        ox, oy = self.window_origin()
        return int(round(ox + p[0])), int(round(oy + p[1]))

    def xdo(self, *args: Any, frames: int = 2) -> None:
        subprocess.run(["xdotool", *map(str, args)], check=True)
        self.frames(frames)

    def move(self, p: tuple[float, float]) -> None:
        self.xdo("mousemove", *self.screen(p))

    def click(self, p: tuple[float, float], button: int = 1) -> None:
        self.move(p)
        self.xdo("mousedown", button)
        self.xdo("mouseup", button, frames=3)

    def double_click(self, p: tuple[float, float]) -> None:
        """Two clicks 60 ms apart at ``p`` (within a double-click's time: a value box opens)."""
        self.move(p)
        self.xdo("click", "--repeat", "2", "--delay", "60", "1", frames=4)

    def across(self, tag: str, frac: float = 0.5) -> tuple[float, float]:
        """The point ``frac`` of the way across item ``tag``, at half its height."""
        (x0, y0), (x1, y1) = self.dpg.get_item_rect_min(tag), self.dpg.get_item_rect_max(tag)
        return x0 + (x1 - x0) * frac, (y0 + y1) / 2

    def click_item(self, tag: str) -> None:
        from . import items
        r = items.rect(tag)
        if r is None:
            raise LookupError(f"cannot click {tag!r}: it is not on screen (deleted, hidden or not drawn yet)")
        (x0, y0), (x1, y1) = r
        self.click(((x0 + x1) / 2, (y0 + y1) / 2))

    def drag(self, a: tuple[float, float], b: tuple[float, float], steps: int = 20, release: bool = True) -> None:
        """Press at ``a``, move in ``steps`` steps to ``b``, release (unless not ``release``): a real
        mouse drag."""
        self.move(a)
        self.xdo("mousedown", 1)
        for i in range(1, steps + 1):
            self.move((a[0] + (b[0] - a[0]) * i / steps, a[1] + (b[1] - a[1]) * i / steps))
        if release:
            self.xdo("mouseup", 1, frames=5)

    def drag_link(self, src: str, src_port: str, dst: str, dst_port: str) -> None:
        """Drag from an output pin to an input pin on the canvas."""
        a, b = self.app.view.pin_pos(src, src_port, "out"), self.app.view.pin_pos(dst, dst_port, "in")
        if a is None or b is None:
            raise LookupError(f"cannot drag a link {src}.{src_port} -> {dst}.{dst_port}: "
                              f"the {'output' if a is None else 'input'} pin is not on screen")
        self.drag(a, b)

    def key(self, combo: str) -> None:
        """Press a key combination (``ctrl+z``) on the editor's window."""
        self.window_origin()
        self.xdo("key", "--clearmodifiers", combo, frames=4)

    def type_text(self, text: str) -> None:
        """Type ``text`` on the keyboard, one key per frame (the UI reads typed characters per frame)."""
        for ch in text:
            subprocess.run(["xdotool", "type", "--delay", "0", ch], check=True)
            self.frames(1)
        self.frames(2)

    def type_in_file_dialog(self, name: str) -> None:
        """With the file dialog open: type ``name`` over what its Name box holds (the box has the
        keyboard as it opens) and press OK, as a user does."""
        self.until(lambda: self.dpg.is_item_shown("filedialog"), 20, "the file dialog")
        self.frames(3)                                       # laid out (a busy machine draws it late)
        self.key("ctrl+a")
        self.type_text(name)
        self.click_item("filedialog::ok")

    def screenshot(self, path: str | os.PathLike[str] | None = None) -> np.ndarray:
        """The window's pixels as an ``[h, w, 4]`` float array (and a PNG at ``path``)."""
        grab: dict[str, np.ndarray] = {}
        # copy inside the callback: keeping dearpygui's buffer object alive segfaults
        self.dpg.output_frame_buffer(callback=lambda s, a: grab.setdefault("buf", np.array(a, dtype=np.float32)))
        self.until(lambda: "buf" in grab, 10, "a screenshot")
        h, w = self.dpg.get_viewport_client_height(), self.dpg.get_viewport_client_width()
        px = grab["buf"].reshape(h, w, 4)
        if path is not None:
            self.dpg.output_frame_buffer(file=str(path))
            self.frames(3)
        return px

    # ------------------------------------------------------------------ results
    def dump(self, extra: dict[str, Any] | None = None, path: str | None = None) -> dict[str, Any]:
        """Write the editor's state (plus ``extra``) as JSON to ``path`` or ``$AUDIOCHAIN_EDITOR_DUMP``."""
        state: dict[str, Any] = self.app.state()
        state.update(extra or {})
        out = path or os.environ.get("AUDIOCHAIN_EDITOR_DUMP")
        if out:
            Path(out).write_text(json.dumps(state, indent=1, default=str))
        return state


def run_script(app: App, script: str | os.PathLike[str]) -> int:
    """Run ``main(app, driver)`` from a script file; the editor closes afterwards."""
    drv = Driver(app)
    try:        # a script that does not load closes the editor too (a live window at exit crashed Python)
        drv.frames(1)       # (closing a window that never drew a frame crashed dearpygui: QA50, rc 139, no word)
        ns = runpy.run_path(str(script), run_name="audiochain_editor_script")
        rc = ns["main"](app, drv)
    except BaseException:
        import traceback
        app.audition.settle()       # (PortAudio's start sends stderr to /dev/null meanwhile, process-wide)
        traceback.print_exc()
        sys.stderr.flush()
        rc = 1
    finally:
        app.close()
    return int(rc or 0)
