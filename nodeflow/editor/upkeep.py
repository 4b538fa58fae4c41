"""What the editor applies every frame once the frame is rendered, and how it re-syncs the view.

:meth:`.app.App.frame` renders a frame and runs the callbacks it queued, then :func:`apply` (through
``App._upkeep``, whose name an internal error reports) takes in everything else that happened: the
runner's events and finished runs and the preview's messages go to the status bar, a node dragged
and let go moves in the document, each part of the window takes its turn (links, canvas, files,
sweeps, tools, model downloads...), the status line is cut to the window's width, a graph just
opened is laid out or fitted to the window once its nodes are measured, and :func:`refresh`
(:meth:`.app.App.refresh`) re-syncs the view when the graph, the runner or the decoded files changed
since it last showed them.  Kept apart from :mod:`.app`, which makes the window, holds its parts and
answers the user's commands: this is the per-frame work over those parts.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from . import items, widgets
from .nodetext import fit_line, status_line
from .results import show_results, stop_if_stale

if TYPE_CHECKING:
    from .app import App

__all__ = ["apply", "refresh"]


def apply(app: App) -> None:
    """What happened since the last frame, applied in order (see the module's docstring)."""
    for msg in app.runner.poll(app.doc.graph):
        app.say(msg, msg.kind == "error", warn=msg.kind == "warn")
    for text, err in app.audition.messages:
        app.say(text, err)
    app.audition.messages.clear()
    app.audition.tick()
    _let_go(app)
    app.wiring.tick()
    app.canvas.tick()
    app.files.tick()
    app.sweep.tick()
    app.fitter.tick()
    app.tools.tick()
    app.models.tick()
    app.node_ab.tick()
    widgets.typing_tick()
    _fit_status(app)
    if _drawn(app) != app._seen or (app._held and time.perf_counter() >= app._held):
        app._held = 0.0
        app.refresh()
    _lay_out_opened(app)
    app.culler.tick()               # after the edits above: nodes far outside the view are not drawn
    stopped = app.view.follow(app.audition)
    if stopped is not None and app.status_text.startswith(("playing ", "looping ", "paused ", "now ")):   # none stale
        app.say(f"stopped {'.'.join(stopped)}")


def _let_go(app: App) -> None:
    """A node dragged and let go is moved in the document (one undo step); a click moves nothing."""
    dpg = app.dpg
    if dpg.is_mouse_button_clicked(dpg.mvMouseButton_Left):
        app._pressed_at = list(dpg.get_mouse_pos(local=False))
    if dpg.is_mouse_button_released(dpg.mvMouseButton_Left):
        at, was = dpg.get_mouse_pos(local=False), app._pressed_at
        # a click (Ctrl+click to select) moves nothing, whatever imnodes does to a position (QA50: at
        # 80 % a node came back a pixel off, an undo step "move stitch" and the file marked changed)
        dragged = was is None or max(abs(at[0] - was[0]), abs(at[1] - was[1])) >= 1
        moved = app.view.read_positions(dragged)
        if moved:
            app.doc.move(moved)


def _lay_out_opened(app: App) -> None:
    """A graph just opened (see :meth:`.app.App._on_edit`): laid out once its nodes are measured when it
    came without positions, then fitted to the window."""
    if app._layout_pending and app.frame_count >= max(2, app._layout_at):
        app._layout_pending = False
        app.canvas.framing.arrange(initial=True)
        app._fit_pending, app._laid_out = app.frame_count + 2, True
    elif app._fit_pending and app.frame_count >= app._fit_pending and not app._layout_pending:
        app._fit_pending = 0
        if app._laid_out:             # laid out here, no layout of the user's to keep: zoomed to show it
            app._laid_out = False
            app.canvas.framing.fit(opening=True)
        else:
            app.canvas.framing.fit_to_window()


def _fit_status(app: App) -> None:
    """Once a frame: the status line cut with '...' where the window ends (the tooltip has it
    whole), again when the window's width changes."""
    dpg, r = app.dpg, items.rect("status")
    room = dpg.get_viewport_client_width() - (r[0][0] if r is not None else 0) - 12
    if r is None or app._status_fit == (app.status_text, room):
        return

    def width_of(t: str) -> float | None:
        size = dpg.get_text_size(t)
        return float(size[0]) if size else None
    line = fit_line(status_line(app.status_text), room, width_of, keep_fix="\n" not in app.status_text.strip())
    if width_of(line) is not None:                    # measured: done until the text or the width changes
        app._status_fit = (app.status_text, room)
    dpg.set_value("status", line)


def _drawn(app: App) -> tuple[int | None, int, int, int]:
    """What the view shows: (id(graph), its revision, the runner's version, the decoded files')."""
    g = app.doc.graph
    return id(g), g.revision, app.runner.version, app.audition.files.version


def refresh(app: App) -> None:
    """Re-sync the view with the graph and the runner (after an edit or engine events): for an edit, the
    whole view, the nodes a run no longer does, the problems, the title and the Undo/Redo labels; always,
    what each node shows of the runner's results."""
    g = app.doc.graph
    changed_graph = (id(g), g.revision) != app._seen[:2]
    app._settle = max(app._settle, 2)
    drawn: set[str] = set()
    if changed_graph:
        drawn = set(app.view.nodes)            # before the sync: a node playing that is gone stops
        app.view.sync(g)
        app.runner.forget_stale(g)
        left, stopped = app.runner.drop_deleted(g)      # a deleted node never runs
        if stopped:
            app.say(f"deleted {', '.join(stopped)} while it ran: stopped the run; Run (F5) runs the rest")
        elif left:
            app.say(f"deleted {', '.join(left)} before it ran: the run goes on without it")
        app.problems, app.other_problems = app.doc.problems_by_node()
        app.models.sync()
        app.files.update_title()
        app.dpg.configure_item("menu_undo", label=f"Undo {app.doc.history.undo_label or ''}".strip())
        app.dpg.configure_item("menu_redo", label=f"Redo {app.doc.history.redo_label or ''}".strip())
    app._seen = _drawn(app)
    keys = app.runner.current_keys(g) or {}
    show_results(app, keys)
    if changed_graph:                          # an edit (a run's own progress never stops it)
        stop_if_stale(app, keys, drawn)
