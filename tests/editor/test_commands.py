"""The editor's command table: every key a menu shows is a real key, and no key does two things."""
import pytest

from nodeflow.editor.commands import COMMANDS, MENUS, _key_codes, parse_key


def test_every_key_is_a_dearpygui_key_and_no_combination_is_taken_twice():
    dpg = pytest.importorskip("dearpygui.dearpygui")
    seen: dict[tuple[bool, bool, int], str] = {}
    for c in COMMANDS:
        assert c.menu in MENUS
        for combo in c.keys:
            ctrl, shift, name = parse_key(combo)
            codes = _key_codes(dpg, name)
            assert codes, f"{c.label}: {combo!r} names no dearpygui key"
            for code in codes:
                other = seen.setdefault((ctrl, shift, code), c.label)
                assert other == c.label, f"{combo} is both {other!r} and {c.label!r}"


def test_the_commands_a_musician_reaches_for_have_their_usual_keys():
    keys = {c.label: c.keys for c in COMMANDS}
    assert keys["Undo"][0] == "Ctrl+Z" and "Ctrl+Shift+Z" in keys["Redo"] and "Ctrl+Y" in keys["Redo"]
    assert keys["Save"] == ("Ctrl+S",) and keys["Save as..."] == ("Ctrl+Shift+S",)
    assert keys["Zoom in"][0] == "Ctrl+=" and keys["Zoom out"][0] == "Ctrl+-" and keys["Actual size (100%)"][0] == "Ctrl+0"
    assert "F5" in keys["Run"] and keys["Fit all"] == ("Home",) and "Del" in keys["Delete"]
    # while a text box has the keyboard, its own editing keys win; saving and running still work
    typing = {c.label for c in COMMANDS if c.typing}
    assert {"Save", "Run", "Stop", "Quit"} <= typing and not {"Undo", "Copy", "Paste", "Delete"} & typing
