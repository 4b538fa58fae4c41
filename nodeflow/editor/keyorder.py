"""Modifier keys count for the key they were held for, however fast the keys come.

A macro pad, a remote desktop or ``xdotool key ctrl+k`` sends Ctrl down, K down, Ctrl up and K
up within a millisecond.  GLFW hands them to Dear ImGui between two frames, and ImGui applies its
queue a frame at a time only for a key that changes twice: K's press and Ctrl's release land in
the same frame.  The shortcut handler, asking after that frame, saw K pressed with Ctrl up, and
Ctrl+K did nothing (QA108 D5: 0 times in 8 on an idle editor; a press held 60 ms worked).

:class:`KeyOrder` sits in front of ImGui's GLFW input callbacks (dearpygui exports GLFW's
functions).  A modifier's change (Shift, Ctrl, Alt, Super; pressed or released) that comes after
another key's press within one frame starts the next frame: it and every input event behind it
(keys, characters, mouse buttons, moves, the wheel) reach ImGui after the frame is rendered
(:meth:`KeyOrder.rendered`), in the order they came, where the rule applies again.  So does every
event behind a mouse button's press or release, as ImGui itself takes them (one change of a
button a frame): the editor sees the click first, and what it opens can hold what follows.  A name
typed within 30 ms of a link dropped on empty canvas gave the search "ade" for "fade" (QA115); a
double-click 20 ms apart and "-12.5" typed at once set a slider to 12.5 (QA116).  A button's release
behind a move made with it down starts the next frame too: a drag faster than a frame (a macro, a
remote desktop's packet) is seen moving before it is let go (QA117: the node stayed put, a slider kept
the value at the press).  A press away from the release before it comes two frames after it at the
soonest: what the release opened (a combo's list, a menu) is drawn, and so under the mouse, by then
(QA117 D3: a combo opened and an item picked in one burst missed 3 times in 8: ImGui draws a popup
from its second frame).  A double-click's second press, where the first was, is not held for it:
ImGui times a double-click between the frames that see its presses.  A press is never held behind a
move (play starts on the press: never late); a release that comes in the frame the mouse moved, button
down, takes effect a frame later.  Keys typed at a human pace, a frame or more apart, pass straight
through.

ImGui's GLFW callbacks read the modifiers from GLFW's key state as it is when they are called, not
from the event.  So a held key event is handed on through GLFW's own ``_glfwInputKey``, after GLFW's
key state is wound back to where it was at the first held event: each key then reaches ImGui with
the modifiers that were down when it was pressed (QA113 D2: Ctrl+A typed right after a digit came a
frame later with Ctrl already up, and selected nothing).  A box gets its characters, editing keys
and clicks in the order they came (QA112 D1: a Backspace held while its characters were not set
0:10 for "0:10", Backspace, "5"; QA113 D1: a click, which nothing held, overtook the characters).
A box just opened (the Ctrl+K search, a value's typed box) holds all input until it has the keyboard
(:func:`hold_until`), so a macro's "Ctrl+K, fade, Enter" types "fade" into the search (QA114).
Where GLFW's functions are not exported the editor reads the keys as before.
``tests/editor/test_keyorder.py`` tests the rule without a window, on a GLFW written in Python.
"""
from __future__ import annotations

import ctypes
from typing import Any, Callable

__all__ = ["KeyOrder", "MODIFIERS", "install", "installed", "hold_until"]

MODIFIERS = frozenset(range(340, 348))    # GLFW_KEY_LEFT_SHIFT .. GLFW_KEY_RIGHT_SUPER
_RELEASE, _PRESS, _REPEAT = 0, 1, 2
_NEAR = 6.0      # px: a press this near the release before it is a double-click's (ImGui's own distance)

# GLFW's callback types (glfw3.h): key, char, mouse button, cursor position, scroll
_KEYFUN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int)
_CHARFUN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint)
_BUTTONFUN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int)
_POSFUN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_double, ctypes.c_double)
_CALLBACKS = {"key": ("glfwSetKeyCallback", _KEYFUN), "char": ("glfwSetCharCallback", _CHARFUN),
              "button": ("glfwSetMouseButtonCallback", _BUTTONFUN), "pos": ("glfwSetCursorPosCallback", _POSFUN),
              "scroll": ("glfwSetScrollCallback", _POSFUN)}


class KeyOrder:
    """See the module's text.

    Parameters
    ----------
    forward
        ImGui's callback for each kind of event (``"key"``, ``"char"``, ``"button"``, ``"pos"``,
        ``"scroll"``), called with GLFW's arguments.
    glfw_key
        GLFW's ``_glfwInputKey(window, key, scancode, action, mods)``: sets GLFW's key state and calls
        the window's key callback (this object's :meth:`key`).
    """

    def __init__(self, forward: dict[str, Callable[..., None]], glfw_key: Callable[..., None]):
        self.forward, self.glfw_key = forward, glfw_key
        self.pressed = False                  # a key other than a modifier was pressed this frame
        self.clicked = False                  # a mouse button was pressed or released this frame
        self.dragged = False                  # the mouse moved with a button down this frame
        self.buttons: set[int] = set()        # the mouse buttons down
        self.since_release = 2                # frames rendered since a button's release was handed on
        self.pos = self.released_at = (0.0, 0.0)     # the mouse as handed on; where that release was
        self.held: list[tuple[str, tuple[Any, ...]]] = []     # (kind, GLFW's arguments), in order
        self.deferred = 0                     # frames started early by a modifier's change (the tests read it)
        self._winding = False                 # GLFW's key state is being wound back: callbacks ignored
        self._until: Callable[[], bool] | None = None     # all input held until this is true (see hold_until)
        self._frames = 0                      # ... or this many more frames are rendered
        self.callbacks: tuple[Any, ...] = ()  # the C callbacks GLFW calls (kept alive with the window)
        self.watch: Callable[[int, int], None] | None = None     # told (key, action) as each goes to ImGui

    @property
    def waiting(self) -> bool:
        """Whether input waits for the next frames (the window must render them, idle or not)."""
        return bool(self.held) or self._until is not None

    def hold_until(self, ready: Callable[[], bool], frames: int = 10) -> None:
        """Hold every input event from now on until ``ready()`` is true after a frame (a box just opened
        has the keyboard), ``frames`` frames at most.  A box ImGui gives the keyboard a frame or two
        after it opens lost what was typed meanwhile (QA114: Ctrl+K, "fade", Enter sent at once added
        dac_decode: the search got "de")."""
        self._until, self._frames = ready, frames

    def key(self, window: Any, key: int, scancode: int, action: int, mods: int) -> None:
        """A key event from GLFW (a press, a repeat or a release; GLFW's key state already has it)."""
        if self._winding:
            return
        args = (window, key, scancode, action, mods)
        if not self.held and key in MODIFIERS and self.pressed:
            self.deferred += 1                # a new frame starts here
        if self.waiting or self.clicked or (key in MODIFIERS and self.pressed):
            self.held.append(("key", args))
            return
        if action == _PRESS and key not in MODIFIERS:
            self.pressed = True
        if self.watch is not None:
            self.watch(key, action)
        self.forward["key"](*args)

    def other(self, kind: str, *args: Any) -> None:
        """A character, mouse button, cursor or wheel event: held behind held input, a click, (a release)
        a move made with the button down, or (a press away from it) a release less than two frames
        before, else handed on."""
        dragged = kind == "button" and args[2] == _RELEASE and self.dragged
        early = kind == "button" and args[2] == _PRESS and self.since_release < 2 and \
            max(abs(self.pos[0] - self.released_at[0]), abs(self.pos[1] - self.released_at[1])) > _NEAR
        if self.waiting or self.clicked or dragged or early:
            self.held.append((kind, args))
            return
        self.forward[kind](*args)
        if kind == "button":
            self.clicked = True
            (self.buttons.add if args[2] == _PRESS else self.buttons.discard)(args[1])
            if args[2] == _RELEASE:
                self.since_release, self.released_at = 0, self.pos
        elif kind == "pos":
            self.pos = (float(args[1]), float(args[2]))
            self.dragged = self.dragged or bool(self.buttons)

    def rendered(self) -> None:
        """A frame was rendered, and its callbacks and the app's upkeep run (ImGui took its events; a
        box just opened holds what follows): those held go on now, for the next frame (unless
        :meth:`hold_until` holds them)."""
        self.pressed = self.clicked = self.dragged = False
        self.since_release = min(self.since_release + 1, 2)
        if self._until is not None:
            self._frames -= 1
            if not (self._frames <= 0 or self._until()):
                return
            self._until = None
        held, self.held = self.held, []
        if not held:
            return
        self._winding = True                  # GLFW's key state back to where the first held key found it
        try:
            for kind, (window, key, scancode, action, mods) in reversed([h for h in held if h[0] == "key"]):
                if action != _REPEAT:
                    self.glfw_key(window, key, scancode, _RELEASE if action == _PRESS else _PRESS, mods)
        finally:
            self._winding = False
        for kind, args in held:
            if kind == "key":                 # through GLFW: its key state follows, then self.key() is called
                window, key, scancode, action, mods = args
                self.glfw_key(window, key, scancode, _PRESS if action == _REPEAT else action, mods)
            else:
                self.other(kind, *args)


_installed: KeyOrder | None = None       # the one on the editor's window


def installed() -> KeyOrder | None:
    """The :class:`KeyOrder` on the editor's window (``None`` where none could be installed)."""
    return _installed


def hold_until(ready: Callable[[], bool], frames: int = 10) -> None:
    """:meth:`KeyOrder.hold_until` on the editor's window (nothing where none is installed)."""
    if _installed is not None:
        _installed.hold_until(ready, frames)


def install(lib: Any) -> KeyOrder | None:
    """Put a :class:`KeyOrder` in front of ImGui's input callbacks on the window current on this
    thread (call it on the UI thread once the viewport is shown, and :meth:`KeyOrder.rendered` after
    each frame); ``None`` where GLFW (``lib``: dearpygui's extension module, see
    :func:`.pacing.glfw`), its window or ImGui's callbacks cannot be had."""
    global _installed
    _installed = None
    if lib is None:
        return None
    try:
        lib.glfwGetCurrentContext.argtypes, lib.glfwGetCurrentContext.restype = [], ctypes.c_void_p
        glfw_key = lib._glfwInputKey
        for setter, fun in _CALLBACKS.values():
            getattr(lib, setter).argtypes, getattr(lib, setter).restype = [ctypes.c_void_p, fun], ctypes.c_void_p
    except AttributeError:
        return None
    glfw_key.argtypes, glfw_key.restype = [ctypes.c_void_p] + [ctypes.c_int] * 4, None
    window = lib.glfwGetCurrentContext()
    if not window:
        return None
    keys = KeyOrder({}, glfw_key)
    ours = {"key": _KEYFUN(keys.key)}
    for kind in ("char", "button", "pos", "scroll"):
        ours[kind] = _CALLBACKS[kind][1](lambda *args, k=kind: keys.other(k, *args))
    before = {kind: getattr(lib, setter)(window, ours[kind]) for kind, (setter, _) in _CALLBACKS.items()}
    if not all(before.values()):              # not ImGui's callbacks to stand in front of: GLFW as it was
        for kind, (setter, fun) in _CALLBACKS.items():
            getattr(lib, setter)(window, fun(before[kind]) if before[kind] else fun())
        return None
    keys.forward = {kind: _CALLBACKS[kind][1](before[kind]) for kind in _CALLBACKS}
    keys.callbacks = tuple(ours.values())
    _installed = keys
    return keys
