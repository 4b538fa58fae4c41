"""Shortcuts however fast their keys come (QA108 D5): :mod:`nodeflow.editor.keyorder`'s rule without a
window, then the real editor, idle, sent chords by xdotool as fast as a macro pad sends them."""
from __future__ import annotations

import pytest

from nodeflow.editor.keyorder import KeyOrder

from ._graphs import chain_graph

CTRL, SHIFT, K, Z = 341, 340, 75, 90          # GLFW's key numbers
DOWN, UP, REPEAT = 1, 0, 2


def run(frames: list[list[tuple[int, int]]]) -> list[list[tuple[int, int]]]:
    """What ImGui receives in each frame, the events arriving as ``frames`` (between two renders)."""
    got: list[list[tuple[int, int]]] = [[]]
    keys = KeyOrder(lambda window, key, scancode, action, mods: got[-1].append((key, action)))
    for batch in frames:
        for key, action in batch:
            keys.event(None, key, 0, action, 0)
        got.append([])                         # rendered: what is handed on now goes to the next frame
        keys.rendered()
    while keys.held:
        got.append([])
        keys.rendered()
    while not got[-1]:
        got.pop()
    return got


def test_keys_at_a_human_pace_pass_straight_through():
    human = [[(CTRL, DOWN)], [(K, DOWN)], [(K, UP)], [(CTRL, UP)]]
    assert run(human) == human
    typing = [[(K, DOWN), (K, UP), (Z, DOWN)], [(Z, UP)]]        # other keys never wait
    assert run(typing) == typing


def test_a_modifier_let_go_in_the_frame_of_the_key_it_modified_waits_for_the_next_frame():
    assert run([[(CTRL, DOWN), (K, DOWN), (CTRL, UP), (K, UP)]]) == [[(CTRL, DOWN), (K, DOWN)], [(CTRL, UP), (K, UP)]]
    # the window woke on Ctrl's press: the rest came in the next frame
    assert run([[(CTRL, DOWN)], [(K, DOWN), (CTRL, UP), (K, UP)]]) == [[(CTRL, DOWN)], [(K, DOWN)],
                                                                        [(CTRL, UP), (K, UP)]]


def test_a_modifier_pressed_after_a_plain_key_in_one_frame_does_not_modify_it():
    # K typed, then Shift+Z begun, all between two frames: K must not read as Shift+K
    assert run([[(K, DOWN), (K, UP), (SHIFT, DOWN), (Z, DOWN)]]) == [[(K, DOWN), (K, UP)], [(SHIFT, DOWN), (Z, DOWN)]]


def test_held_events_keep_their_order_and_the_rule_applies_again_among_them():
    burst = [(CTRL, DOWN), (K, DOWN), (CTRL, UP), (K, UP), (CTRL, DOWN), (Z, DOWN), (CTRL, UP), (Z, UP)]
    got = run([burst])
    assert [e for f in got for e in f] == burst
    assert got == [[(CTRL, DOWN), (K, DOWN)], [(CTRL, UP), (K, UP), (CTRL, DOWN), (Z, DOWN)], [(CTRL, UP), (Z, UP)]]


def test_characters_and_editing_keys_reach_the_box_in_the_order_typed():
    """QA112 D1: "0", Shift+":", "1", "0", Backspace, "5" typed within a frame set 0:10, not 0:15: the
    keys behind Shift's change were held, the characters were not, so Backspace came after the 5."""
    BS, ZERO, ONE, FIVE, SEMI = 259, 48, 49, 53, 59
    got: list[list[object]] = [[]]
    keys = KeyOrder(lambda window, key, scancode, action, mods: got[-1].append((key, action)),
                    lambda window, codepoint: got[-1].append(chr(codepoint)))
    typed: list[tuple[object, ...]] = []
    for key, ch in ((ZERO, "0"), (SEMI, ":"), (ONE, "1"), (ZERO, "0"), (BS, None), (FIVE, "5")):
        if ch == ":":
            typed.append((SHIFT, DOWN))
        typed += [(key, DOWN)] + ([(ch,)] if ch else []) + [(key, UP)]
        if ch == ":":
            typed.append((SHIFT, UP))
    for ev in typed:
        if len(ev) == 1:
            keys.char(None, ord(ev[0]))
        else:
            keys.event(None, ev[0], 0, ev[1], 0)
    while keys.held or not got[-1]:
        got.append([])
        keys.rendered()
    sent = [e for f in got for e in f]
    assert sent == [e if len(e) == 2 else e[0] for e in typed]          # every event, in the order typed
    text = ""
    for e in sent:                                                       # as a box applies them
        text = text[:-1] if e == (BS, DOWN) else text + e if isinstance(e, str) else text
    assert text == "0:15"
    assert got[0] == [(ZERO, DOWN), "0", (ZERO, UP)]                     # Shift's press waited a frame


def test_a_key_repeat_is_not_a_press():
    assert run([[(K, DOWN)], [(K, REPEAT), (CTRL, DOWN)]]) == [[(K, DOWN)], [(K, REPEAT), (CTRL, DOWN)]]


@pytest.mark.gui
def test_fast_chords_reach_an_idle_editor_every_time(editor):
    st = editor.run("fast_keys", chain_graph(editor.tmp), timeout=150)
    assert all(st["idle"]), st["idle"]                   # each chord came to a window waiting for input
    assert st["tries"] == [[True, True]] * len(st["tries"]) and len(st["tries"]) == 6, st["tries"]
    assert st["deleted"] and st["undone"] and st["redone"], st
    assert st["start_s"] == 1.0 and st["filter"] == "HelX", (st["start_s"], st["filter"], st["status"])
    assert st["deferred"] > 0 and st["errors"] == [], st        # the rule did the work
