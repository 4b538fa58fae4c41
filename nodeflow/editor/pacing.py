"""When the editor renders: at full rate while something happens, rarely while nothing does.

An editor that redraws 60 times a second while the user reads a graph burns a core, and on a busy
machine it takes that core from the engine and the sound.  :class:`FramePacer` decides, after each
frame, how long to wait before the next one:

* **active** (input in the last ``linger_s`` seconds, or the app says it is busy: a run, a preview
  playing, a layout pending): frames at up to ``max_fps``;
* **idle**: the window blocks in GLFW's ``glfwWaitEventsTimeout`` (exported by dearpygui) until
  an X event arrives (a mouse move, a click, a key, an expose), ``idle_s`` passes, or the time the
  app gives as the next thing it must show (a held problem line).  A click on an idle window is
  rendered at once, not after a sleep; a thread that finishes something to show (a decoded file, a
  measured loudness, a failed autosave) wakes the window with :func:`wake` (``glfwPostEmptyEvent``).
  A frame under a software rasterizer costs tens of ms of CPU: a frame every 2 s idle is near
  nothing (issue 14's idle CPU: 0.022 CPU s a second), where one every 0.5 s was 0.06-0.08.

Where GLFW's symbols are not available the pacer sleeps in short slices instead (``idle_s`` is
then at most 50 ms, so input is still seen within a few frames).  This module does not import
dearpygui's Python API; it finds GLFW in dearpygui's extension module.
"""
from __future__ import annotations

import ctypes
import time
from typing import Any, Callable

__all__ = ["FramePacer", "wake", "glfw", "gl_renderer", "smooth_edges", "CURSOR_BLINK_S"]

_glfw: Any = None
CURSOR_BLINK_S = 0.4     # idle, while a box has the keyboard: a frame this often (ImGui blinks its cursor)


def glfw() -> Any:
    """dearpygui's GLFW, as a :class:`ctypes.CDLL` (``None`` when its functions are not exported on
    this platform): the editor's one way to it (the idle wait here, :mod:`.keyorder`, the clipboard)."""
    global _glfw
    if _glfw is None:
        try:
            from dearpygui import _dearpygui
            lib = ctypes.CDLL(_dearpygui.__file__)
            lib.glfwWaitEventsTimeout.argtypes, lib.glfwWaitEventsTimeout.restype = [ctypes.c_double], None
            lib.glfwPostEmptyEvent.argtypes, lib.glfwPostEmptyEvent.restype = [], None
            _glfw = lib
        except (OSError, AttributeError, ImportError):
            _glfw = False
    return _glfw or None


def wake() -> None:
    """Wake an idle window from any thread (its next frame is rendered at once)."""
    lib = glfw()
    if lib is not None:
        lib.glfwPostEmptyEvent()


class FramePacer:
    """Paces the main loop; call :meth:`wait` once after each frame.

    Parameters
    ----------
    max_fps
        Frames per second at most while active.
    idle_s
        Longest wait between two frames while idle (the per-frame upkeep still runs that often:
        engine messages, autosave errors).
    linger_s
        How long after the last input the window stays active (hover effects and tooltips need
        frames while the mouse rests).
    """

    def __init__(self, max_fps: float = 60.0, idle_s: float = 2.0, linger_s: float = 0.75):
        self.budget = 1.0 / max_fps
        self.idle_s, self.linger_s = idle_s, linger_s
        self.lib = glfw()
        if self.lib is None:
            self.idle_s = min(idle_s, 0.05)
        self.last_input = time.monotonic()
        self.last_frame = time.monotonic()
        self.woken = 0            # waits ended early by an event (input or wake())
        self.timeouts = 0         # idle waits that ran their full length

    def active(self, busy: bool = False) -> bool:
        return busy or time.monotonic() - self.last_input < self.linger_s

    def wait(self, busy: bool = False, within: float | None = None,
             typing: Callable[[], bool] | None = None) -> None:
        """Wait until the next frame is due: the rest of the frame budget while active, else until
        an event arrives, ``idle_s`` passes or ``within`` seconds do (what the app must show next),
        :data:`CURSOR_BLINK_S` at most while ``typing()`` (a box has the keyboard: its cursor blinks;
        QA113 D4: it stayed hidden for 2 s; asked only when idle).  An event counts as input (the
        window becomes active)."""
        now = time.monotonic()
        spare = self.budget - (now - self.last_frame)
        longest = self.idle_s if within is None else max(0.0, min(self.idle_s, within))
        active = self.active(busy)
        if not active and typing is not None and typing():
            longest = min(longest, CURSOR_BLINK_S)
        if active:
            if spare > 0:
                time.sleep(min(spare, longest))
        elif self.lib is not None:
            t0 = time.monotonic()
            self.lib.glfwWaitEventsTimeout(longest)            # ctypes releases the GIL meanwhile
            waited = time.monotonic() - t0
            if waited < longest * 0.95:
                self.woken += 1
                self.last_input = time.monotonic()
            else:
                self.timeouts += 1
        else:
            time.sleep(longest)
        self.last_frame = time.monotonic()

    def input(self) -> None:
        """Note input seen another way (the app saw a key or a click in the frame)."""
        self.last_input = time.monotonic()


_SOFTWARE = ("llvmpipe", "softpipe", "swrast", "software rasterizer")


def gl_renderer() -> str:
    """The OpenGL renderer drawing the window (``"llvmpipe (LLVM 15.0.6, 256 bits)"`` for Mesa's
    software rasterizer), or ``""`` where it cannot be asked.  Call it on the UI thread once the
    viewport is shown (its GL context is current there)."""
    try:
        gl = ctypes.CDLL("libGL.so.1")
        gl.glGetString.restype, gl.glGetString.argtypes = ctypes.c_char_p, [ctypes.c_uint]
        raw = gl.glGetString(0x1F01)              # GL_RENDERER
    except (OSError, AttributeError):
        return ""
    return raw.decode("utf-8", "replace") if raw else ""


def smooth_edges(renderer: str, setting: str | None = None) -> bool:
    """Whether lines and shapes are drawn anti-aliased: yes on a GPU; no where every pixel is drawn on
    the CPU (a software rasterizer: a VM, a remote desktop, Xvfb), where the smoothed edges' extra
    triangles cost about a fifth of a frame full of nodes (bench/bench_editor.py: 200 nodes over the
    empty canvas, 2.00x smoothed, 1.63x not, median of 4 rounds).  ``setting`` (from
    ``$AUDIOCHAIN_EDITOR_SMOOTH``): ``on`` or ``off`` overrides.

    >>> smooth_edges("llvmpipe (LLVM 15.0.6, 256 bits)"), smooth_edges("NVIDIA H200/PCIe/SSE2")
    (False, True)
    >>> smooth_edges("llvmpipe (LLVM 15.0.6, 256 bits)", "on")
    True
    """
    if setting and setting.strip().lower() in ("on", "1", "yes", "true", "off", "0", "no", "false"):
        return setting.strip().lower() in ("on", "1", "yes", "true")
    return not any(word in renderer.lower() for word in _SOFTWARE)
