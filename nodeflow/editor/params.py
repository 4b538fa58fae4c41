"""A parameter widget's changes, as undoable edits (the app's side of :mod:`.widgets`).

Every change of a widget calls :meth:`ParamEdits.on_param`: a value becomes one edit of the
document (one undo step per gesture: :data:`.widgets.LEFT` ends it); a value the parameter refuses
is one line in the status bar and the widget shows the graph's value again; a number typed past a
slider's end is held there and the status says so (:class:`.widgets.Clamped`).  A double-click on
a slider types a value (:data:`.widgets.TYPE_IN`): its first click, which moved the slider where
it landed, is taken back, and what is typed is set when the box is left with Enter, not at each
key (ImGui hands over the value at every key: typing "18" set 1, then 18, and the first key
stopped the preview playing), and Escape leaves the value as it was.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .document import EditRefused
from . import items
from .widgets import LEFT, TYPE_IN, TYPING, Clamped, Invalid, widget_tag

if TYPE_CHECKING:
    from .app import App

__all__ = ["ParamEdits"]

DOUBLE_CLICK_S = 1.0     # a slider change this recent, then a double-click on it: the double-click's first click


class ParamEdits:
    """The parameter edits of one editor window (``app``)."""

    def __init__(self, app: App):
        self.app = app
        self.last_set: tuple[str, str, float] | None = None     # the last parameter set: node, name, when
        self.typing_in: tuple[str, str, bool] | None = None     # a slider opened by a double-click; its release due
        self.typed: Any = None                                  # the value typed into it so far (set on Enter)

    def on_param(self, nid: str, param: str, value: Any) -> None:
        """A parameter widget's change (see :mod:`.widgets`): an undoable edit, or the widget left
        (the gesture ends), or text the parameter cannot take (the widget shows the graph's value)."""
        app = self.app
        if value is LEFT:
            self._left_type_in(nid, param)
            app.doc.end_gesture()
            return
        if value is TYPE_IN or value is TYPING:     # a double-click: type a value
            last = self.last_set               # a slider's first click did not mean to set it
            if value is TYPE_IN and last is not None and last[:2] == (nid, param) \
                    and time.perf_counter() - last[2] < DOUBLE_CLICK_S:
                app.doc.retract_param(nid, param)
            self.typing_in, self.typed = (nid, param, value is TYPE_IN), None
            app.say(f"type a value for {nid}.{param}; Enter sets it, Escape keeps it")
            return
        if self.typing_in is not None and self.typing_in[:2] == (nid, param):
            self.typed = value                   # set when the box is left with Enter
            return
        self._set(nid, param, value)

    def _set(self, nid: str, param: str, value: Any) -> None:
        app = self.app
        held = value.reason if isinstance(value, Clamped) else None     # typed past the slider's end
        value = value.value if isinstance(value, Clamped) else value
        try:
            if isinstance(value, Invalid):
                raise EditRefused(f"{nid}.{param}: {value.reason}")
            app.doc.set_param(nid, param, value)
            self.last_set = (nid, param, time.perf_counter())
        except EditRefused as e:
            app.say(str(e), True)
            return self._show_graph_value(nid)
        if held is not None:
            self._show_graph_value(nid)
        app.say(f"{nid}.{param} = {value}" + (f" ({held})" if held else ""))

    def _show_graph_value(self, nid: str) -> None:
        """A widget shows what was typed, not what the graph holds (refused, or held at the slider's
        end): the next sync puts the graph's value back."""
        if nid in self.app.view.nodes:
            self.app.view.params[nid] = {}
        self.app.resync()

    def _left_type_in(self, nid: str, param: str) -> None:
        """A slider opened for typing was left: its double-click's own release comes first (the box
        opens on the next frame, when it comes at all); once keys were typed, leaving the box (Enter,
        Escape, a click elsewhere) ends the typing: what the box holds is set, unless Escape put the
        old value back; left with no new value the status says so."""
        typing_in = self.typing_in
        if typing_in is None or typing_in[:2] != (nid, param):
            return
        if typing_in[2] and self.typed is None:
            self.typing_in = (nid, param, False)
            return
        typed, self.typing_in, self.typed = self.typed, None, None
        box = items.value(widget_tag(nid, param))          # Escape put the value it had back in the box
        now = self.app.doc.graph.nodes[nid].params.get(param) if nid in self.app.doc.graph.nodes else None
        if typed is not None and not _same(box, now):
            self._set(nid, param, typed)
        elif self.app.status_text.startswith(f"type a value for {nid}.{param};"):
            self.app.say(f"{nid}.{param} unchanged")


def _same(shown: Any, value: Any) -> bool:
    """Whether a slider shows ``value`` (a float32 slider shows 0.1 as 0.10000000149...).

    >>> _same(0.10000000149011612, 0.1), _same(24.0, -6.0), _same(None, 1.0)
    (True, False, False)
    """
    if isinstance(shown, (int, float)) and isinstance(value, (int, float)):
        return abs(float(shown) - float(value)) <= 1e-6 * max(1.0, abs(float(value)))
    return bool(shown == value)
