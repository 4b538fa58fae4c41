"""Shortcuts and typing however fast the keys come (QA108 D5, QA112 D1, QA113 D1-D3):
:mod:`nodeflow.editor.keyorder`'s rule on a GLFW written in Python, then the real editor, idle, sent keys by
xdotool as fast as a macro pad sends them."""
from __future__ import annotations

from typing import Any

import pytest

from nodeflow.editor.keyorder import KeyOrder

from ._graphs import chain_graph

SHIFT, CTRL, K, Z, A, TAB, BS = 340, 341, 75, 90, 65, 258, 259     # GLFW's key numbers
UP, DOWN, REPEAT = 0, 1, 2


class FakeGLFW:
    """GLFW's key state and ``_glfwInputKey`` in Python, and an ImGui that records, per frame, each event
    with the modifiers GLFW's state shows when it arrives (ImGui's callbacks read them there, not from the
    event).  :meth:`send` is an event from the X server, :meth:`render` a frame."""

    def __init__(self) -> None:
        self.down: set[int] = set()
        self.frames: list[list[tuple[Any, ...]]] = [[]]
        seen = self.frames
        forward = {"key": lambda w, key, sc, action, mods: seen[-1].append((key, action, self.mods())),
                   "char": lambda w, c: seen[-1].append((chr(c),)),
                   "button": lambda w, b, action, mods: seen[-1].append((f"button{b}", action, self.mods())),
                   "pos": lambda w, x, y: seen[-1].append(("pos", x, y)),
                   "scroll": lambda w, x, y: seen[-1].append(("scroll", x, y))}
        self.order = KeyOrder(forward, self._input_key)

    def mods(self) -> str:
        return "+".join(n for n, k in (("ctrl", CTRL), ("shift", SHIFT)) if k in self.down)

    def _input_key(self, window: Any, key: int, scancode: int, action: int, mods: int) -> None:
        """GLFW's _glfwInputKey: the state first, then the window's key callback."""
        if action == UP and key not in self.down:
            return
        repeat = action == DOWN and key in self.down
        (self.down.add if action == DOWN else self.down.discard)(key)
        self.order.key(window, key, scancode, REPEAT if repeat else action, mods)

    def send(self, *events: Any) -> "FakeGLFW":
        """Events between two frames: ``(key, action)``, a character (a str), ``("button", b, action)``,
        ``("pos", x, y)``."""
        for ev in events:
            if isinstance(ev, str):
                self.order.other("char", None, ord(ev))
            elif ev[0] == "button":
                self.order.other("button", None, ev[1], ev[2], 0)
            elif ev[0] == "pos":
                self.order.other("pos", None, ev[1], ev[2])
            else:
                self._input_key(None, ev[0], 0, ev[1], 0)
        return self

    def render(self) -> "FakeGLFW":
        self.frames.append([])
        self.order.rendered()
        return self

    def settle(self) -> list[list[tuple[Any, ...]]]:
        """Frames until nothing is held; what ImGui got in each (empty ones dropped)."""
        self.render()
        while self.order.held:
            self.render()
        return [f for f in self.frames if f]


def typed(chars: str, *keys: tuple[int, int]) -> list[Any]:
    """A key's press, its character and its release for each of ``chars`` (GLFW's numbers for A-Z, 0-9)."""
    out: list[Any] = []
    for c in chars:
        code = ord(c.upper())
        out += [(code, DOWN), c, (code, UP)]
    return out + list(keys)


def test_keys_at_a_human_pace_pass_straight_through():
    g = FakeGLFW()
    for ev in ((CTRL, DOWN), (K, DOWN), (K, UP), (CTRL, UP)):
        g.send(ev).render()
    assert g.settle() == [[(CTRL, DOWN, "ctrl")], [(K, DOWN, "ctrl")], [(K, UP, "ctrl")], [(CTRL, UP, "")]]
    assert g.order.deferred == 0
    g = FakeGLFW()
    assert g.send(*typed("kz")).settle() == [[(K, DOWN, ""), ("k",), (K, UP, ""), (Z, DOWN, ""), ("z",), (Z, UP, "")]]


def test_a_modifier_let_go_in_the_frame_of_the_key_it_modified_waits_for_the_next_frame():
    got = FakeGLFW().send((CTRL, DOWN), (K, DOWN), (CTRL, UP), (K, UP)).settle()
    assert got == [[(CTRL, DOWN, "ctrl"), (K, DOWN, "ctrl")], [(CTRL, UP, ""), (K, UP, "")]]
    # the window woke on Ctrl's press: the rest came in the next frame
    got = FakeGLFW().send((CTRL, DOWN)).render().send((K, DOWN), (CTRL, UP), (K, UP)).settle()
    assert got == [[(CTRL, DOWN, "ctrl")], [(K, DOWN, "ctrl")], [(CTRL, UP, ""), (K, UP, "")]]


def test_a_modifier_pressed_after_a_plain_key_in_one_frame_does_not_modify_it():
    got = FakeGLFW().send((K, DOWN), (K, UP), (SHIFT, DOWN), (Z, DOWN)).settle()
    assert got == [[(K, DOWN, ""), (K, UP, "")], [(SHIFT, DOWN, "shift"), (Z, DOWN, "shift")]]


def test_a_held_chord_reaches_imgui_with_its_modifiers_though_they_were_let_go_since():
    """QA113 D2: "4", Ctrl+A, "2" typed within a frame: Ctrl+A came a frame later, when GLFW's state had
    Ctrl up, and ImGui (which reads the modifiers from GLFW's state) selected nothing: "42"."""
    g = FakeGLFW().send(*typed("4"), (CTRL, DOWN), (A, DOWN), (A, UP), (CTRL, UP), *typed("2"))
    got = g.settle()
    assert got[0] == [(52, DOWN, ""), ("4",), (52, UP, "")]
    assert got[1] == [(CTRL, DOWN, "ctrl"), (A, DOWN, "ctrl"), (A, UP, "ctrl")]       # Ctrl+A, as typed
    assert got[2] == [(CTRL, UP, ""), (50, DOWN, ""), ("2",), (50, UP, "")]
    assert g.down == set()                                                              # GLFW's state: as it is


def test_characters_editing_keys_and_clicks_reach_imgui_in_the_order_typed():
    """QA112 D1 ("0", Shift+":", "1", "0", Backspace, "5" set 0:10) and QA113 D1 (a click right after
    "0:09" reached ImGui before the held "09": the box got "0", the box clicked "09")."""
    semi, zero = 59, 48
    events = [*typed("0"), (SHIFT, DOWN), (semi, DOWN), ":", (semi, UP), (SHIFT, UP), *typed("10"), (BS, DOWN),
              (BS, UP), *typed("5"), ("button", 0, DOWN), ("button", 0, UP)]
    got = FakeGLFW().send(*events).settle()
    flat = [e for f in got for e in f]
    plain = [e if isinstance(e, str) else e[0] if e[0] != "button" else e[:3] for e in events]
    assert [e[0] if len(e) == 1 else e[:2] if not str(e[0]).startswith("button") else ("button", 0, e[1])
            for e in flat] == [e if isinstance(e, str) else e[:2] if e[0] != "button" else e for e in events]
    text = ""
    for e in flat:                                                          # as a box applies them
        if e[:2] == (BS, DOWN):
            text = text[:-1]
        elif len(e) == 1:
            text += e[0]
        elif str(e[0]).startswith("button"):
            break                                                           # the click leaves the box
    assert text == "0:15" and plain
    assert got[0] == [(zero, DOWN, ""), ("0",), (zero, UP, "")]             # Shift's press began a frame


def test_a_tab_after_a_shifted_character_comes_after_it():
    """QA113 D3: "0", Shift+":", "5", Tab typed within a frame: the box held '0:\t5'."""
    semi = 59
    flat = [e for f in FakeGLFW().send(*typed("0"), (SHIFT, DOWN), (semi, DOWN), ":", (semi, UP), (SHIFT, UP),
                                        *typed("5"), (TAB, DOWN), (TAB, UP)).settle() for e in f]
    assert [e[0] for e in flat if len(e) == 1 or e[0] == TAB] == ["0", ":", "5", TAB, TAB]


def test_bursts_of_chords_each_get_their_own_modifiers():
    burst = [(CTRL, DOWN), (K, DOWN), (CTRL, UP), (K, UP), (CTRL, DOWN), (Z, DOWN), (CTRL, UP), (Z, UP)]
    g = FakeGLFW().send(*burst)
    got = g.settle()
    assert [e[:2] for f in got for e in f] == burst
    assert got == [[(CTRL, DOWN, "ctrl"), (K, DOWN, "ctrl")], [(CTRL, UP, ""), (K, UP, ""), (CTRL, DOWN, "ctrl"),
                                                                 (Z, DOWN, "ctrl")], [(CTRL, UP, ""), (Z, UP, "")]]
    assert g.order.deferred == 2 and g.down == set()


def test_a_key_repeat_is_not_a_press_and_a_key_held_through_stays_held():
    got = FakeGLFW().send((K, DOWN)).render().send((K, DOWN), (CTRL, DOWN)).settle()
    assert got == [[(K, DOWN, "")], [(K, REPEAT, ""), (CTRL, DOWN, "ctrl")]]
    g = FakeGLFW().send((Z, DOWN), (SHIFT, DOWN), (K, DOWN))                 # Shift and K still down after it
    assert g.settle() == [[(Z, DOWN, "")], [(SHIFT, DOWN, "shift"), (K, DOWN, "shift")]]
    assert g.down == {Z, SHIFT, K}


def test_what_comes_while_a_box_opens_waits_until_it_has_the_keyboard():
    """QA114: Ctrl+K, "fade", Enter sent at once: the search box took the keyboard two frames after it opened
    and got "de"; Enter then added dac_decode."""
    g = FakeGLFW()
    ready = []
    g.send((CTRL, DOWN), (K, DOWN), (K, UP))
    g.order.hold_until(lambda: bool(ready))          # Ctrl+K's handler opened the box
    g.send((CTRL, UP), *typed("fa"))
    g.render().render()
    assert [e for f in g.frames[1:] for e in f] == []    # the box has not the keyboard yet: all held
    ready.append(True)
    got = g.settle()
    assert [e[0] for e in got[-1] if len(e) == 1] == ["f", "a"] and got[-1][0] == (CTRL, UP, "")
    g = FakeGLFW()
    g.order.hold_until(lambda: False, frames=3)      # a box that never takes the keyboard: 3 frames at most
    g.send(*typed("x")).render().render()
    assert g.order.held
    assert g.render().frames[-1] == [(88, DOWN, ""), ("x",), (88, UP, "")]


def test_what_comes_behind_a_mouse_release_waits_for_what_the_release_opens():
    """QA115: a link dropped on empty canvas and "fade" typed at once: the search opens a frame after the
    release, and the letters that came with or just after the release went nowhere ("ade")."""
    g = FakeGLFW().send(("button", 0, DOWN)).render()
    g.send(("button", 0, UP), *typed("f"))
    assert g.frames[-1] == [("button0", UP, "")]        # the release alone in its frame
    g.order.hold_until(lambda: bool(ready))             # the app saw the release (a drop: the search opens)
    ready: list[bool] = []
    g.render().send(*typed("a")).render()
    assert g.frames[-1] == g.frames[-2] == []          # the search has not the keyboard yet: all held
    ready.append(True)
    got = g.settle()
    assert [e[0] for e in got[-1] if len(e) == 1] == ["f", "a"]
    # nothing opened: one change of a button a frame, what follows in the next, as ImGui itself takes them
    g = FakeGLFW().send(("button", 0, DOWN), ("button", 0, UP), *typed("x"))
    assert g.settle() == [[("button0", DOWN, "")], [("button0", UP, "")], [(88, DOWN, ""), ("x",), (88, UP, "")]]


def test_a_drag_faster_than_a_frame_is_seen_moving_before_it_is_let_go():
    """QA117: a node dragged by press, move and release within a millisecond (a macro, a remote desktop
    sending them in one packet) stayed put; a slider dragged so kept the value at the press."""
    g = FakeGLFW().send(("button", 0, DOWN), ("pos", 10.0, 20.0), ("pos", 10.0, 80.0), ("button", 0, UP))
    assert g.settle() == [[("button0", DOWN, "")], [("pos", 10.0, 20.0), ("pos", 10.0, 80.0)], [("button0", UP, "")]]
    # moves with no button down never hold a click (a press right after a move is not late)
    g = FakeGLFW().send(("pos", 1.0, 2.0), ("button", 0, DOWN))
    assert g.settle() == [[("pos", 1.0, 2.0), ("button0", DOWN, "")]]


def test_a_fast_double_click_holds_what_is_typed_until_the_box_it_opens_has_the_keyboard():
    """QA116: a double-click 20 ms apart on a slider and "-12.5" typed at once set 12.5: the second press
    reached the app, which opened the box, after the characters had gone to ImGui."""
    g = FakeGLFW().send(("button", 0, DOWN), ("button", 0, UP), ("button", 0, DOWN), ("button", 0, UP),
                        *typed("9"))
    g.render().render()
    assert g.frames[-1] == [("button0", DOWN, "")]     # the second press alone: the app sees the double-click
    ready: list[bool] = []
    g.order.hold_until(lambda: bool(ready))             # ... and opens the box
    g.render().render()
    assert g.frames[-1] == g.frames[-2] == []
    ready.append(True)
    assert g.settle()[-2:] == [[("button0", UP, "")], [(57, DOWN, ""), ("9",), (57, UP, "")]]


def test_a_press_right_after_a_release_waits_until_what_the_release_opened_is_drawn():
    """QA117 D3: a combo opened and an item picked in one burst (a macro, a remote desktop) missed 3 times in 8:
    ImGui draws a popup from the frame after it opens, and a press before that is a click outside it."""
    g = FakeGLFW().send(("button", 0, DOWN), ("button", 0, UP), ("pos", 5.0, 60.0), ("button", 0, DOWN),
                        ("button", 0, UP))
    assert g.settle() == [[("button0", DOWN, "")], [("button0", UP, "")], [("pos", 5.0, 60.0)], [("button0", DOWN, "")],
                          [("button0", UP, "")]]
    # a press two frames or more after the release passes straight through, and one where it was (a
    # double-click's, timed by ImGui between the frames that see its presses) is not held for it
    g = FakeGLFW().send(("button", 0, DOWN)).render().send(("button", 0, UP)).render().render()
    g.send(("pos", 5.0, 60.0), ("button", 0, DOWN))
    assert g.frames[-1] == [("pos", 5.0, 60.0), ("button0", DOWN, "")]
    g = FakeGLFW().send(("button", 0, DOWN)).render().send(("button", 0, UP), ("pos", 3.0, 2.0)).render()
    g.send(("button", 0, DOWN))
    assert g.frames[-1] == [("pos", 3.0, 2.0), ("button0", DOWN, "")]


@pytest.mark.gui
def test_fast_chords_reach_an_idle_editor_every_time(editor):
    st = editor.run("fast_keys", chain_graph(editor.tmp), timeout=150)
    assert all(st["idle"]), st["idle"]                   # each chord came to a window waiting for input
    assert st["tries"] == [[True, True]] * len(st["tries"]) and len(st["tries"]) == 6, st["tries"]
    assert st["deleted"] and st["undone"] and st["redone"], st
    assert st["start_s"] == 1.0 and st["filter"] == "HelX", (st["start_s"], st["filter"], st["status"])
    assert (st["then_click"], st["ctrl_a"], st["then_tab"]) == (1.0, 0.5, 1.0), st["status"]
    assert st["filter_after_click"] == "HelX"
    assert st["macro_added"] == ["dsp.fade"] and st["typed_at_once"] == 0.4, st["status"]
    assert st["box_idle"]["typing"] and st["box_idle"]["frames_in_2s"] >= 4, st["box_idle"]   # QA113 D4: one in 2 s
    assert st["deferred"] > 0 and st["errors"] == [], st        # the rule did the work


@pytest.mark.gui
def test_a_name_typed_at_once_after_a_drop_or_double_click_goes_into_the_search(editor):
    """QA115: "fade" typed 0-30 ms after a link was dropped on empty canvas gave the search "ade" (demucs
    was added); 50 ms after, "fade".  QA116: the same after a double-click 20-40 ms apart, and "-12.5" typed
    at once after one on a slider set 12.5.  QA117: a node or a slider dragged faster than a frame."""
    from ._graphs import pair_graph
    graph = pair_graph(editor.tmp, "two.msgpack", ("dsp.gain", "gain", {}),
                       {"load": [100.0, 100.0], "gain": [500.0, 100.0]})
    st = editor.run("drop_then_type", graph, timeout=120)
    assert st["drops"] == [["fade", ["dsp.fade"]]] * 2, st["drops"]
    assert st["doubles"] == [["fade", ["dsp.fade"]]] * 2, st["doubles"]      # QA116: dac_decode ("ade")
    assert st["slider"] == -12.5, st["status"]                                # QA116: 12.5
    assert st["node_moved"] == [0.0, 150.0], st["node_moved"]                  # QA117: [0, 0]
    assert st["slid_to"] == st["slid_slowly_to"] != -12.5, st                 # QA117: the value at the press
    assert st["errors"] == [], st["errors"]
