"""The editor's commands, each declared once: its menu, label, keys and action.

:data:`COMMANDS` builds the menu bar (with each item's shortcut shown) and the key handler, so a key
and the menu item it names cannot drift apart.  Keys are written as menus show them (``Ctrl+Shift+Z``,
``F5``, ``Home``, ``Del``); a key matches with exactly its modifiers (Ctrl+Z undoes, Ctrl+Shift+Z
redoes).  While a text box has the keyboard only the commands marked ``typing`` act (Save, Run,
Quit...), so the box keeps its own undo, copy, paste and delete.  Ctrl+mouse wheel over the canvas
zooms about the mouse.  Parsing keys does not need dearpygui:

>>> parse_key("Ctrl+Shift+Z"), parse_key("Del"), parse_key("Ctrl+=")
((True, True, 'Z'), (False, False, 'Del'), (True, False, '='))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from . import items, selection

if TYPE_CHECKING:
    from .app import App

__all__ = ["Command", "COMMANDS", "MENUS", "parse_key", "build_menus", "install_shortcuts"]

MENUS = ("File", "Edit", "Graph", "View")      # then Tools, filled by plug-ins (see .tools)


@dataclass(frozen=True)
class Command:
    """One menu item: ``run(app)`` on a click or any of ``keys`` (the first is shown in the menu);
    ``check`` items call ``run(app, value)``; ``separator`` puts a line above the item."""
    menu: str
    label: str
    run: Callable[..., Any]
    keys: tuple[str, ...] = ()
    tag: str | None = None
    check: bool = False
    typing: bool = False
    separator: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("File", "New", lambda a: a.files.new(), ("Ctrl+N",), typing=True),
    Command("File", "Open...", lambda a: a.files.ask_open(), ("Ctrl+O",), typing=True),
    Command("File", "Save", lambda a: a.files.save(), ("Ctrl+S",), typing=True),
    Command("File", "Save as...", lambda a: a.files.ask_save_as(), ("Ctrl+Shift+S",), typing=True),
    Command("File", "Save as bundle...", lambda a: a.files.ask_bundle()),
    Command("File", "Export DAW project...", lambda a: a.files.ask_daw()),
    Command("File", "Quit", lambda a: a.files.quit(), ("Ctrl+Q",), typing=True, separator=True),
    Command("Edit", "Undo", lambda a: a.undo(), ("Ctrl+Z",), tag="menu_undo"),
    Command("Edit", "Redo", lambda a: a.redo(), ("Ctrl+Shift+Z", "Ctrl+Y"), tag="menu_redo"),
    Command("Edit", "Cut", lambda a: selection.cut(a), ("Ctrl+X",), separator=True),
    Command("Edit", "Copy", lambda a: selection.copy(a), ("Ctrl+C",)),
    Command("Edit", "Paste", lambda a: selection.paste(a), ("Ctrl+V",)),
    Command("Edit", "Duplicate", lambda a: selection.duplicate(a), ("Ctrl+D",)),
    Command("Edit", "Delete", lambda a: selection.delete(a), ("Del", "Backspace")),
    Command("Edit", "Add node...", lambda a: a.open_search(), ("Ctrl+K", "Ctrl+Space"), typing=True, separator=True),
    Command("Edit", "Preferences...", lambda a: a.prefs_panel.open(), tag="menu_prefs", separator=True),
    Command("Graph", "Run", lambda a: a.run(), ("F5", "Ctrl+R"), typing=True),
    Command("Graph", "Stop", lambda a: a.stop(), ("Ctrl+.",), typing=True),
    Command("Graph", "Validate", lambda a: a.validate()),
    Command("Graph", "Arrange", lambda a: a.canvas.framing.arrange(), ("Ctrl+L",)),
    Command("View", "Fit all", lambda a: a.canvas.framing.fit(), ("Home",)),
    Command("View", "Compact nodes", lambda a, on=None: a.canvas.set_compact(not a.view.compact if on is None else on),
            ("Ctrl+M",), tag="menu_compact", check=True),
    Command("View", "Minimap", lambda a, on=None: a.canvas.set_minimap(not a.canvas.minimap if on is None else on),
            tag="menu_minimap", check=True),
    Command("View", "Zoom in", lambda a: a.canvas.zoom(+1), ("Ctrl+=", "Ctrl+Plus")),
    Command("View", "Zoom out", lambda a: a.canvas.zoom(-1), ("Ctrl+-", "Ctrl+Minus")),
    Command("View", "Actual size (100%)", lambda a: a.canvas.zoom(0), ("Ctrl+0", "Ctrl+Keypad0"), tag="menu_zoom"),
    Command("View", "Sweep...", lambda a: a.sweep.open(), tag="menu_sweep", separator=True),
    Command("View", "Tune results...", lambda a: a.tune.open(), tag="menu_tune"),
    Command("View", "A/B selected nodes", lambda a: a.node_ab.press(), ("Ctrl+B",), tag="menu_ab"),
)

#: Key names (as written in :data:`COMMANDS`) to dearpygui's key constants; a letter or F-key is
#: ``mvKey_<name>``.  Both '=' keys and both '-' keys (main and keypad) zoom.
_KEYS = {"Del": ("mvKey_Delete",), "Backspace": ("mvKey_Back",), "Home": ("mvKey_Home",),
         "Space": ("mvKey_Spacebar",), ".": ("mvKey_Period",), "=": ("mvKey_Plus", "mvKey_Add"),
         "Plus": ("mvKey_Add",), "-": ("mvKey_Minus", "mvKey_Subtract"), "Minus": ("mvKey_Subtract",),
         "0": ("mvKey_0",), "Keypad0": ("mvKey_NumPad0",)}


def parse_key(combo: str) -> tuple[bool, bool, str]:
    """``(ctrl, shift, key name)`` of a key as menus write it."""
    *mods, key = combo.split("+")
    return "Ctrl" in mods, "Shift" in mods, key


def _key_codes(dpg: Any, name: str) -> list[int]:
    codes = [getattr(dpg, c) for c in _KEYS.get(name, (f"mvKey_{name}",)) if hasattr(dpg, c)]
    if name == "=":         # dearpygui 2.3 has no mvKey_Equal (its mvKey_Plus, 61, is a code X never sends):
        codes.append(getattr(dpg, "mvKey_Equal", dpg.mvKey_Slash + 2))   # ImGui's '=' follows '/' and ';'
    return codes


def build_menus(app: App) -> None:
    """The menu bar, from :data:`COMMANDS` (and the File menu's *Open recent*, the plug-ins' Tools)."""
    dpg = app.dpg
    with dpg.menu_bar():
        for menu in MENUS:
            with dpg.menu(label=menu, tag=f"menu::{menu}"):
                for c in (c for c in COMMANDS if c.menu == menu):
                    if c.separator:
                        dpg.add_separator()
                    kw: dict[str, Any] = {"label": c.label, "shortcut": c.keys[0] if c.keys else ""}
                    if c.tag:
                        kw["tag"] = c.tag
                    if c.check:
                        dpg.add_menu_item(check=True, callback=lambda s, v, u: u.run(app, bool(v)), user_data=c, **kw)
                    else:
                        dpg.add_menu_item(callback=lambda s, v, u: u.run(app), user_data=c, **kw)
                    if c.label == "Open...":
                        dpg.add_menu(label="Open recent", tag="menu_recent")
        dpg.add_menu(label="Tools", tag="menu_tools")      # filled by plug-ins (see .tools)


def install_shortcuts(app: App) -> None:
    """Every command's keys, and Ctrl+mouse wheel over the canvas to zoom."""
    dpg = app.dpg
    table: dict[tuple[bool, bool, int], Command] = {}
    for c in COMMANDS:
        for combo in c.keys:
            ctrl, shift, name = parse_key(combo)
            for code in _key_codes(dpg, name):
                table.setdefault((ctrl, shift, code), c)

    def on_key(sender: Any, key: int) -> None:
        if app.files.dialog.shown:         # the file dialog's own keys: arrows and Enter
            app.files.dialog.key(key)
            return
        if app.palette.searching:          # the search box's own keys: pick, move, close
            if key in (dpg.mvKey_Return, getattr(dpg, "mvKey_NumPadEnter", -1)):
                app.palette.pick()
            elif key in (dpg.mvKey_Down, dpg.mvKey_Up):
                app.palette.move(1 if key == dpg.mvKey_Down else -1)
            elif key == dpg.mvKey_Escape:
                app.palette.close_search()
            return
        from .widgets import commit_typing, typing_box
        if key == dpg.mvKey_Tab and typing_box() is not None:
            return commit_typing()             # Tab in the box a value is typed into: as Enter
        ctrl = dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)
        shift = dpg.is_key_down(dpg.mvKey_LShift) or dpg.is_key_down(dpg.mvKey_RShift)
        c = table.get((ctrl, shift, key))
        if c is None:
            return
        if not c.typing and menu_open():       # an open menu's keys are its own (QA: Del deleted the node
            return                             # selected behind the Edit menu)
        if dialog_open():                      # and a dialog's, or a box that asks (QA104 D8: F5 ran the
            return                             # graph behind the file dialog)
        in_box = typing(app)
        if c.typing or not in_box:
            if in_box:                          # Run, Save...: on what the box holds, as if it were left first
                commit_typing()
            c.run(app)

    def on_wheel(sender: Any, delta: float) -> None:
        if not delta or not (dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)):
            return
        if app.wiring.mouse_on_canvas():      # a fast spin arrives as one call with several notches: a step each
            x, y = dpg.get_mouse_pos(local=False)
            app.canvas.zoom(1 if delta > 0 else -1, at=(x, y), steps=max(1, round(abs(delta))))

    with dpg.handler_registry():
        dpg.add_key_press_handler(callback=on_key)
        dpg.add_mouse_wheel_handler(callback=on_wheel)


def menu_open() -> bool:
    """Whether a menu of the menu bar is open (its window has the focus while it shows)."""
    return any(items.state(f"menu::{m}").get("focused") for m in MENUS) or bool(items.state("menu_tools").get("focused"))


def dialog_open() -> bool:
    """Whether a file dialog, or a box that asks a question, shows: the keyboard is its own."""
    from .filedialog import TAG as FILE_DIALOG
    from .filemenu import QUESTIONS
    return any(items.shown(tag) for tag in (FILE_DIALOG, *QUESTIONS))


# the editor's own text boxes outside nodes (a node's parameters are found from the graph)
TEXT_BOXES = ("palette::filter", "quicksearch::input", "sweep::axes", "sweep::out", "tune::folder")


def typing(app: App) -> bool:
    """Whether a box has the keyboard: a text or number box, or the box a value is typed into over
    a slider (a double-click); its own undo, copy, paste and delete apply then.

    dearpygui's focused item is no guide: a group that holds the focused box reports focus after
    it, so inside the canvas it names the group around palette and canvas.  The boxes that can
    have the keyboard are asked instead: ImGui keeps the box being typed in active (a slider is
    active while dragged too; keys then belong to it as well).  A deleted box is not asked.
    """
    from .widgets import param_tags
    culled = app.view.culled                  # hidden: never active
    tags = [*TEXT_BOXES, *(t for t in param_tags() if t.split("::")[1] not in culled)]
    return any(items.active(t) for t in tags)
