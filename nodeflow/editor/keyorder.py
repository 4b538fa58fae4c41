"""Modifier keys count for the key they were held for, however fast the keys come.

A macro pad, a remote desktop or ``xdotool key ctrl+k`` sends Ctrl down, K down, Ctrl up and K
up within a millisecond.  GLFW hands them to Dear ImGui between two frames, and ImGui applies its
queue a frame at a time only for a key that changes twice: K's press and Ctrl's release land in
the same frame.  The shortcut handler, asking after that frame, saw K pressed with Ctrl up, and
Ctrl+K did nothing (QA108 D5: 0 times in 8 on an idle editor; a press held 60 ms worked).

:class:`KeyOrder` sits in front of ImGui's GLFW key and character callbacks (dearpygui exports
GLFW's functions): a modifier's change (Shift, Ctrl, Alt, Super; pressed or released) that arrives
after another key's press within one frame, and every key and character behind it, reach ImGui in
the next frame (they are handed on when a frame has been rendered: :meth:`KeyOrder.rendered`), in
the order they came.  ImGui then sees each key with the modifiers that were down when it was
pressed, and a box gets its characters and editing keys in the order typed (QA112 D1: with only the
keys held, "0:10", Backspace, "5" typed fast set 0:10).  Keys typed at a human pace, a frame or more
apart, pass straight through.  Where GLFW is not exported the editor reads the keys as before.

The rule, without a window (GLFW's key numbers; ``1`` presses, ``0`` releases):

>>> seen = []
>>> keys = KeyOrder(lambda *ev: seen.append(ev[1:4:2]))
>>> for key, action in ((341, 1), (75, 1), (341, 0), (75, 0)):    # Ctrl down, K down, Ctrl up, K up
...     keys.event(None, key, 0, action, 0)
>>> seen                                  # this frame: Ctrl and K down; Ctrl's release waits
[(341, 1), (75, 1)]
>>> keys.rendered(); seen[2:]             # for the next frame: Ctrl up, then K up
[(341, 0), (75, 0)]
"""
from __future__ import annotations

import ctypes
from typing import Any, Callable

__all__ = ["KeyOrder", "MODIFIERS", "install"]

MODIFIERS = frozenset(range(340, 348))    # GLFW_KEY_LEFT_SHIFT .. GLFW_KEY_RIGHT_SUPER
_PRESS = 1

# void (*GLFWkeyfun)(GLFWwindow* window, int key, int scancode, int action, int mods)
_KEYFUN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int)
# void (*GLFWcharfun)(GLFWwindow* window, unsigned int codepoint)
_CHARFUN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint)


class KeyOrder:
    """Hands GLFW key events to ``forward`` and characters to ``forward_char`` (ImGui's callbacks),
    holding a modifier's change that follows another key's press in the same frame, and all that
    comes behind it, until :meth:`rendered`; see the module's text."""

    def __init__(self, forward: Callable[[Any, int, int, int, int], None],
                 forward_char: Callable[[Any, int], None] = lambda window, codepoint: None):
        self.forward, self.forward_char = forward, forward_char
        self.pressed = False                  # a key other than a modifier was pressed this frame
        self.held: list[tuple[Any, ...]] = []  # key events (5 fields) and characters (2), in order
        self.deferred = 0                     # modifier changes held to the next frame (for tests)
        self.callbacks: tuple[Any, ...] = ()  # the C callbacks GLFW calls (kept alive with the window)

    def event(self, window: Any, key: int, scancode: int, action: int, mods: int) -> None:
        """One key event from GLFW (a press, a repeat or a release)."""
        ev = (window, key, scancode, action, mods)
        if self.held:                         # behind a held event: keep the order
            self.held.append(ev)
            return
        if key in MODIFIERS:
            if self.pressed:
                self.held.append(ev)
                self.deferred += 1
                return
        elif action == _PRESS:
            self.pressed = True
        self.forward(*ev)

    def char(self, window: Any, codepoint: int) -> None:
        """One character typed (GLFW sends it after its key's press)."""
        if self.held:
            self.held.append((window, codepoint))
        else:
            self.forward_char(window, codepoint)

    def rendered(self) -> None:
        """A frame was rendered (ImGui took its events): those held reach ImGui now, for the next
        frame (the rule applies again among them)."""
        self.pressed = False
        held, self.held = self.held, []
        for ev in held:
            if len(ev) == 2:
                self.char(*ev)
            else:
                self.event(*ev)


def install(lib: Any) -> KeyOrder | None:
    """Put a :class:`KeyOrder` in front of the key and character callbacks of the window current on
    this thread (call it on the UI thread once the viewport is shown, and :meth:`KeyOrder.rendered`
    after each frame); ``None`` where GLFW (``lib``: dearpygui's extension module, see
    :func:`.pacing.glfw`), its window or ImGui's callbacks cannot be had."""
    if lib is None:
        return None
    try:
        lib.glfwGetCurrentContext.argtypes, lib.glfwGetCurrentContext.restype = [], ctypes.c_void_p
        lib.glfwSetKeyCallback.argtypes, lib.glfwSetKeyCallback.restype = [ctypes.c_void_p, _KEYFUN], ctypes.c_void_p
        lib.glfwSetCharCallback.argtypes = [ctypes.c_void_p, _CHARFUN]
        lib.glfwSetCharCallback.restype = ctypes.c_void_p
        window = lib.glfwGetCurrentContext()
    except AttributeError:
        return None
    if not window:
        return None
    keys = KeyOrder(lambda *ev: None)
    on_key, on_char = _KEYFUN(keys.event), _CHARFUN(keys.char)
    key_before = lib.glfwSetKeyCallback(window, on_key)
    char_before = lib.glfwSetCharCallback(window, on_char)
    if not key_before or not char_before:     # no ImGui callbacks to stand in front of: leave GLFW as it was
        lib.glfwSetKeyCallback(window, _KEYFUN(key_before) if key_before else _KEYFUN())
        lib.glfwSetCharCallback(window, _CHARFUN(char_before) if char_before else _CHARFUN())
        return None
    keys.forward, keys.forward_char = _KEYFUN(key_before), _CHARFUN(char_before)
    keys.callbacks = (on_key, on_char)
    return keys
