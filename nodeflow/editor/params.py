"""A parameter widget's changes, as undoable edits (the app's side of :mod:`.widgets`).

Every change of a widget calls :meth:`ParamEdits.on_param`: a value becomes one edit of the
document (one undo step per gesture: :data:`.widgets.LEFT` ends it); a value the parameter refuses
is one line in the status bar and the widget shows the graph's value again; a number typed past a
slider's end is held there and the status says so (:class:`.widgets.Clamped`).  A double-click on
a slider or drag box types a value (:data:`.widgets.TYPE_IN`, :data:`.widgets.TYPING`; the box is
:mod:`.typein`'s): a slider's first click, which moved it where it landed, is taken back, and what
is typed arrives once, when the box is left (a :class:`.typein.Typed`; :data:`.typein.UNCHANGED`
when it was left as it was).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .document import EditRefused
from .paramtext import bound_by_input
from .typein import UNCHANGED, Typed
from .widgets import LEFT, TYPE_IN, TYPING, Clamped, Invalid, is_slider, widget_tag

if TYPE_CHECKING:
    from .app import App

__all__ = ["ParamEdits"]

# a slider's gesture that began this recently, then a double-click on it: the double-click's first click
# (ImGui's double-click time is 0.3 s; a frame or two on a busy machine on top).  A drag, which began
# earlier, is kept: a rough drag, then a double-click to type the exact value, kept the old value
DOUBLE_CLICK_S = 0.5


class ParamEdits:
    """The parameter edits of one editor window (``app``)."""

    def __init__(self, app: App):
        self.app = app
        # the last parameter set by a widget's own gesture: node, name, when the gesture began
        self.last_set: tuple[str, str, float] | None = None
        self._gesture: tuple[str, str, float] | None = None     # the gesture going on: node, name, its start
        self._set_at = -1                         # the graph's revision right after the last widget set

    def on_param(self, nid: str, param: str, value: Any) -> Any:
        """A parameter widget's change (see :mod:`.widgets`): an undoable edit, or the widget left
        (the gesture ends), or text the parameter cannot take (the widget shows the graph's value).
        A double-click to type a value is answered with the value the box opens on."""
        app = self.app
        if value is LEFT:
            self._gesture = None
            app.doc.end_gesture()
            return None
        if value is TYPE_IN or value is TYPING:     # a double-click: type a value
            last = self.last_set               # a slider's first click did not mean to set it
            if value is TYPE_IN and last is not None and last[:2] == (nid, param) \
                    and time.perf_counter() - last[2] < DOUBLE_CLICK_S:
                app.doc.retract_param(nid, param)
                self._show_graph_value(nid)
            app.say(f"type a value for {nid}.{param}; Enter sets it, Escape keeps it")
            node = app.doc.graph.nodes.get(nid)
            return None if node is None else node.params.get(param)
        if value is UNCHANGED:
            if nid not in app.doc.graph.nodes:
                app.say(f"'{nid}' was deleted while a value was typed into it; nothing was set")
                return None
            app.say(f"{nid}.{param} unchanged")
            self._show_graph_value(nid)          # an emptied box shows the value again
            return None
        if isinstance(value, Typed):            # from the box: never taken back as a double-click's first click
            self._gesture = None
            self._set(nid, param, value.value)
            self.last_set = None
            return None
        if self._gesture is None or self._gesture[:2] != (nid, param):
            self._gesture = (nid, param, time.perf_counter())
        self._set(nid, param, value)
        return None

    def settling(self) -> tuple[str, float] | None:
        """``(node, until)`` while a click on one of the node's sliders may be a double-click's first:
        the node's problem line waits until then (QA: the click set 26 s, a warning line grew the node,
        and the second click missed the slider, so no box opened and the typed value was lost)."""
        last = self.last_set
        if last is None or not is_slider(widget_tag(last[0], last[1])) \
                or self.app.doc.graph.revision != self._set_at:       # a box, a dialog, another edit since: at once
            return None
        until = last[2] + DOUBLE_CLICK_S
        return (last[0], until) if time.perf_counter() < until else None

    def _past_the_end(self, nid: str, param: str, value: Any) -> tuple[str | None, str | None]:
        """A time set at or past the end of the node's input (its length known): ``(refusal, note)``.
        A start there is refused (the run would fail on it); an end past it is set and said to mean
        'to the end' (a fade past it is held at the end by its box)."""
        app = self.app
        spec = app.doc.graph.spec(nid) if nid in app.doc.graph.nodes else None
        p = spec.params.get(param) if spec is not None else None
        seconds = app.view.input_s.get(nid)
        if p is None or seconds is None or not bound_by_input(p) or not isinstance(value, (int, float)):
            return None, None
        if param.startswith("start") and value >= seconds:
            return (f"{nid}.{param}: typed {value:g} s, at or past the end of its input ({seconds:.3g} s long); "
                    f"type a start before {seconds:.3g} s (unchanged)"), None
        if param.startswith("end") and value > seconds:
            return None, f"past the end of its {seconds:.3g} s input: to the end"
        return None, None

    def _set(self, nid: str, param: str, value: Any) -> None:
        app = self.app
        held = value.reason if isinstance(value, Clamped) else None     # typed past the slider's end
        value = value.value if isinstance(value, Clamped) else value
        try:
            if isinstance(value, Invalid):
                raise EditRefused(f"{nid}.{param}: {value.reason}")
            if port := app.view.replaced.get((nid, param)):       # greyed: a linked input replaces it
                raise EditRefused(f"{nid}.{param} does not apply: the linked '{port}' input replaces it; unlink "
                                  f"{nid}.{port} to set {param} here")
            refused, note = self._past_the_end(nid, param, value)
            if refused is not None:
                raise EditRefused(refused)
            app.doc.set_param(nid, param, value)
            self.last_set, self._set_at = self._gesture, app.doc.graph.revision
        except EditRefused as e:
            app.say(str(e), True)
            return self._show_graph_value(nid)
        if held is not None:
            self._show_graph_value(nid)
        app.say(f"{nid}.{param} = {value}" + (f" ({held or note})" if held or note else ""))

    def _show_graph_value(self, nid: str) -> None:
        """A widget shows what was typed, not what the graph holds (refused, or held at the slider's
        end): the next sync puts the graph's value back."""
        if nid in self.app.view.nodes:
            self.app.view.params[nid] = {}
        self.app.resync()
