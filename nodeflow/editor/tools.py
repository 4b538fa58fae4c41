"""The Tools menu: editor plug-ins from the ``audiochain.editor_tools`` entry-point group.

A package adds a tool to the editor by declaring an entry point whose value is a callable taking
one :class:`EditorAPI` (and returning nothing)::

    [project.entry-points."audiochain.editor_tools"]
    finetune = "nodes.models.finetune.editor_tool:add_tool"

    def add_tool(editor):                       # editor: nodeflow.editor.tools.EditorAPI
        with editor.dpg.window(label="My tool", tag="mytool", show=False):
            ...
        editor.add_menu_item("My tool...", lambda: editor.show("mytool", 500, 300))

What the callable returns is kept in ``app.tools.instances[name]`` (scripts and tests reach the
tool there).  Tools are loaded once the window is up, in the order of their names.  A tool that fails to
import or to install itself is reported in the status bar and listed, greyed out, in the Tools
menu with the reason; the editor itself keeps working.  The engine (``nodeflow``) never imports
a tool: the dependency goes from the tool's package to the editor, through this small API.
"""
from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..graph import Graph

if TYPE_CHECKING:
    from .app import App

__all__ = ["EditorAPI", "Tools", "ENTRY_POINT_GROUP", "MENU"]

ENTRY_POINT_GROUP = "audiochain.editor_tools"
MENU = "menu_tools"             # the Tools menu's dearpygui tag (made by the app)


class EditorAPI:
    """What an editor tool may use; everything else in the editor is private to it.

    Attributes
    ----------
    dpg : module
        ``dearpygui.dearpygui``, to build the tool's own windows.  Callbacks run on the editor's
        main thread; a tool doing work on another thread hands results back in :meth:`on_frame`.
    """

    def __init__(self, app: App):
        self._app = app
        self.dpg = app.dpg
        self._frame_hooks: list[Callable[[], None]] = []
        self._close_hooks: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ the document
    @property
    def graph(self) -> Graph:
        """The graph being edited (read it; change it only through :meth:`add_node`)."""
        return self._app.doc.graph

    @property
    def base_dir(self) -> Path:
        """The folder relative paths resolve against: the graph file's folder, else the cwd."""
        return self._app.doc.graph.base_dir()

    def add_node(self, type_id: str, **params: Any) -> str | None:
        """Add a node with ``params`` at a free spot on the canvas, as one undoable edit.

        Returns the new node's id, or None when the graph refuses it (the reason is in the
        status bar).
        """
        app = self._app
        nid = app._try("add node", lambda: app.doc.add_node(type_id, app.canvas.free_spot(), **params))
        if nid:
            app.say(f"added {nid} ({type_id}); Ctrl+Z removes it")
        return nid

    # ------------------------------------------------------------------ window
    def add_menu_item(self, label: str, callback: Callable[[], None], *, tag: str | None = None) -> Any:
        """An item in the Tools menu that calls ``callback()``."""
        kw = {"tag": tag} if tag else {}
        return self.dpg.add_menu_item(label=label, parent=MENU, callback=lambda: callback(), **kw)

    def say(self, text: str, error: bool = False) -> None:
        """Show ``text`` in the status bar (in red when ``error``)."""
        self._app.say(text, error)

    def show(self, tag: str, width: int, height: int) -> None:
        """Show the window ``tag`` in the middle of the editor, in front."""
        dpg = self.dpg
        vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        dpg.configure_item(tag, show=True, pos=[max(0, (vw - width) // 2), max(20, (vh - height) // 4)])
        dpg.focus_item(tag)

    def choose_path(self, label: str, callback: Callable[[str], None], *, folder: bool = False,
                    exts: tuple[str, ...] = (".*",), start: str | Path | None = None) -> None:
        """Open the file dialog titled ``label`` in ``start`` (else the graph's folder), listing
        ``exts``; ``callback(path)`` gets the chosen file (or folder with ``folder``)."""
        from .dirlist import filters
        self._app.files.dialog.open(label, Path(start) if start else self.base_dir, lambda p: callback(p),
                                    types=filters("Files", exts), folders=folder)

    # ------------------------------------------------------------------ time
    def on_frame(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` on the main thread after every frame (poll background work here).  An idle
        window renders a frame every 2 s or at the next input: a thread with something to show
        calls :meth:`wake` to have the next frame now."""
        self._frame_hooks.append(fn)

    @staticmethod
    def wake() -> None:
        """Render the next frame now (call it from any thread; see :meth:`on_frame`)."""
        from .pacing import wake
        wake()

    def on_close(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` when the editor closes (stop background work, save what must be saved)."""
        self._close_hooks.append(fn)


class Tools:
    """Loads the tools into the Tools menu and runs their per-frame and closing hooks."""

    def __init__(self, app: App):
        self.api = EditorAPI(app)
        self.loaded: list[str] = []
        self.instances: dict[str, Any] = {}  # tool name -> what its callable returned (scripts reach tools here)
        self.failed: dict[str, str] = {}      # tool name -> why it did not load

    def load(self, entry_points: list[Any] | None = None) -> "Tools":
        dpg = self.api.dpg
        eps = entry_points if entry_points is not None else \
            sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        for ep in eps:
            try:
                made = ep.load()(self.api)
            except Exception as e:  # noqa: BLE001 - a broken plug-in must not take the editor down
                why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
                self.failed[ep.name] = why
                dpg.add_menu_item(label=f"{ep.name}: failed to load ({why})"[:120], parent=MENU, enabled=False,
                                  tag=f"tools::failed::{ep.name}")
            else:
                self.loaded.append(ep.name)
                self.instances[ep.name] = made
        if not eps:
            dpg.add_menu_item(label="(no tools installed)", parent=MENU, enabled=False)
        if self.failed:
            names = ", ".join(f"'{n}' ({w})" for n, w in self.failed.items())
            self.api.say(f"editor tool(s) failed to load: {names}; the rest of the editor works. "
                         f"Reinstall the package that provides it, or see the Tools menu", True)
        return self

    def tick(self) -> None:
        for fn in list(self.api._frame_hooks):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - one failing tool must not stop the editor
                self.api._frame_hooks.remove(fn)
                self.api.say(f"an editor tool stopped working: {type(e).__name__}: {e}", True)

    def close(self) -> None:
        for fn in list(self.api._close_hooks):
            try:
                fn()
            except Exception:  # noqa: BLE001 - closing goes on whatever a tool does
                pass
