"""The Edit menu's actions on the selection: cut, copy, paste (at the mouse), duplicate and delete.
The clipboard's contents are :mod:`.clipboard`'s (text any editor's clipboard carries)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import clipboard, items

if TYPE_CHECKING:
    from .app import App

__all__ = ["cut", "copy", "paste", "duplicate", "delete"]


def cut(app: App) -> None:
    """Copy the selected nodes, then delete them (one undo step puts them back)."""
    ids = app.view.selected_nodes()
    if copy(app, verb="cut"):
        delete(app, verb="cut")
        app.say(f"cut {len(ids)} node(s): Ctrl+V pastes them")


def copy(app: App, verb: str = "copy") -> bool:
    """Copy the selected nodes (their links among them, parameters and places) to the clipboard;
    False when nothing is selected."""
    ids = app.view.selected_nodes()
    if not ids:
        app.say(f"nothing selected to {verb}: click a node's title (Ctrl+click adds more)")
        return False
    app.copied = clipboard.copy_nodes(app.doc.graph, ids)
    app.dpg.set_clipboard_text(clipboard.to_text(app.copied))
    app.say(f"copied {len(ids)} node(s)")
    return True


def paste(app: App) -> None:
    """Paste the clip at the mouse when it is over the canvas (else next to the originals)."""
    text = items.clipboard_text()
    clip = clipboard.from_text(text) if text else app.copied    # (no clipboard here: this editor's last copy)
    if not clip:        # text copied elsewhere since is what the clipboard holds (QA: older nodes came instead)
        app.say("the clipboard holds no nodes: copy some first (Ctrl+C)")
        return
    ids = app.canvas.paste(clip)
    if ids:
        app.say(f"pasted {', '.join(ids)}")


def duplicate(app: App) -> None:
    """A copy of the selected nodes beside them, linked as they are among themselves."""
    ids = app.view.selected_nodes()
    if ids:
        new = app._try("duplicate", clipboard.duplicate, app.doc, ids, app.canvas.beside(ids))
        app.say(f"duplicated as {', '.join(new or [])}")


def delete(app: App, verb: str = "delete") -> None:
    """Delete the selected nodes (with their links) and links."""
    nodes, links = app.view.selected_nodes(), app.view.selected_links()
    if nodes or links:
        gone = {str(l) for l in app.doc.graph.links if l.src in nodes or l.dst in nodes} | {str(l) for l in links}
        app.doc.remove(nodes, links, verb=verb)
        app.dpg.clear_selected_nodes(app.view.editor)
        app.dpg.clear_selected_links(app.view.editor)
        app.say(f"deleted {len(nodes)} node(s), {len(gone)} link(s)")     # a node's links go with it
