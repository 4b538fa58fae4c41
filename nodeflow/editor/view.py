"""The graph as dearpygui node-editor items, kept in step with the :class:`~nodeflow.Graph`.

:meth:`GraphView.sync` compares the graph with what is on screen and changes only the difference
(nodes added or removed, parameter values, positions, links), so the same call serves opening a
file, undo/redo, paste and a single slider move.  The view owns no document state: it maps dpg
items back to ``(node, port)`` names for the app's callbacks and shows run states, problems and
waveform previews handed to it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Container

import dearpygui.dearpygui as dpg

from ..graph import Graph, Link
from ..types import ParamSpec, type_name
from . import items, widgets
from .document import positions
from .audition import plays_file
from .nodetext import file_names, fit_line, one_line, problem_line, serious, wrap
from .paramtext import readable, replaced_by
from .outputs import Outputs, is_audio_type
from .themes import PIN_COLOURS, PIN_OTHER, STATE_COLOURS, Themes, pin_colour
from .zoom import Zoom

if TYPE_CHECKING:
    from ..node import NodeSpec
    from .runstate import NodeState

__all__ = ["GraphView", "is_audio_type", "pin_colour", "PIN_COLOURS", "STATE_COLOURS"]

NODE_PAD = 8   # imnodes' default node padding: pins sit this far outside the node's content rect
STATE_LINE_H = 16   # a line of 14 px text: the progress bar takes the status line's place at its height

class GraphView(Outputs):
    """Node-editor items for one graph.

    Parameters
    ----------
    editor
        The ``dpg.node_editor`` item to fill.
    on_param, on_browse
        Passed to the parameter widgets (see :mod:`.widgets`).
    on_play, on_stop
        Called with ``(node_id, port)`` by an audio output's play/stop buttons (and an export's,
        which plays the written file); play pauses and resumes while its output plays.
    on_seek
        Called with ``(node_id, port, seconds, shift)`` by a click on an output's waveform (``shift``:
        the click marks a loop's start or end).
    """

    def __init__(self, editor: int | str, on_param: Callable[[str, str, Any], Any],
                 on_browse: Callable[[str, str, ParamSpec], None], on_play: Callable[[str, str], None],
                 on_stop: Callable[[str, str], None], on_seek: Callable[[str, str, float, bool], None] | None = None):
        self.editor = editor
        self.on_param, self.on_browse, self.on_play, self.on_stop = on_param, on_browse, on_play, on_stop
        self.on_seek = on_seek
        self.nodes: dict[str, str] = {}            # node id -> node type shown
        self.params: dict[str, dict[str, Any]] = {}   # node id -> params shown
        self.pos: dict[str, list[float]] = {}      # node id -> position last set or seen
        self.input_s: dict[str, float] = {}        # node id -> seconds of its input, where known (bound_times)
        self.links: dict[Link, int] = {}           # link -> dpg link item
        self.marks: dict[str, tuple[object, ...]] = {}   # node id -> (state text, problems, unknown) shown
        self.replaced: dict[tuple[str, str], str] = {}    # (node, param) -> the linked input replacing it, or ""
        self.themes = Themes()                     # title bars by run state, pins by type (made once each)
        self.pin_types: dict[tuple[str, str, str], Any] = {}   # (direction, node, port) -> its type
        self.dimmed: set[tuple[str, str, str]] = set()        # pins marked as not fitting the link being dragged
        self.compact = False                                  # node bodies collapsed (see set_compact)
        self.compact_font: int | None = None                  # the smaller font compact nodes are drawn in
        self.font: int | None = None                          # the font nodes are drawn in (None: the app's)
        self.culled: Container[str] = ()                      # nodes not drawn (far outside the view)
        self.zoom = Zoom()                                    # graph positions and sizes to the canvas' (see .zoom)
        self._specs: dict[str, Any] = {}
        self._state: dict[str, str] = {}                      # node id -> the run state its title shows
        self._base: dict[str, dict[int | str, dict[str, float] | None]] = {}   # node -> item -> sizes at 100%
        self.ui_font: int | None = None                       # the app's font (tooltips at any zoom)
        self.last_sync_revision = -1
        self._init_outputs()

    def node_theme(self, state: str = "") -> int:
        """The theme of a node in run ``state`` ("" for none) at the zoom drawn (see :meth:`.themes.Themes.node`)."""
        return self.themes.node(state, self.zoom.scale)

    def _pin(self, direction: str, nid: str, port: str, t: Any) -> dict[str, Any]:
        """Remember a pin's type; the node_attribute keywords that draw it (a list's pin is a square)."""
        self.pin_types[(direction, nid, port)] = t
        name = type_name(t) if t is not None else ""
        return {"shape": dpg.mvNode_PinShape_QuadFilled if name.startswith("list[") else dpg.mvNode_PinShape_CircleFilled}

    def _colour_pin(self, direction: str, nid: str, port: str) -> None:
        t = self.pin_types.get((direction, nid, port))
        items.bind_theme(self.attr_tag(direction, nid, port), self.themes.pin(
            pin_colour(t) if t is not None else PIN_OTHER, dim=(direction, nid, port) in self.dimmed))

    def dim_pins(self, pins: set[tuple[str, str, str]]) -> None:
        """Mark ``pins`` as not fitting the link being dragged (grey pin and label); the others get
        their type's colour back."""
        changed = (pins - self.dimmed) | (self.dimmed - pins)
        self.dimmed = set(pins)
        for d, nid, port in changed:
            if nid in self.nodes:
                self._colour_pin(d, nid, port)

    # ------------------------------------------------------------------ names
    @staticmethod
    def node_tag(nid: str) -> str:
        return f"node::{nid}"

    @staticmethod
    def attr_tag(direction: str, nid: str, port: str) -> str:
        return f"attr::{direction}::{nid}::{port}"

    @staticmethod
    def pin_label_tag(direction: str, nid: str, port: str) -> str:
        return f"pinlabel::{direction}::{nid}::{port}"

    def port_of(self, item: int | str) -> tuple[str, str, str] | None:
        """``(direction, node, port)`` of an attribute item (id or tag)."""
        alias = item if isinstance(item, str) else items.alias(item)
        if not alias or not alias.startswith("attr::"):
            return None
        _, direction, nid, port = alias.split("::", 3)
        return direction, nid, port

    def node_of(self, item: int | str) -> str | None:
        alias = item if isinstance(item, str) else items.alias(item)
        return alias[6:] if alias and alias.startswith("node::") else None

    def link_of(self, item: int) -> Link | None:
        return next((l for l, i in self.links.items() if i == item), None)

    def selected_nodes(self) -> list[str]:
        """Selected nodes that are still in the view (the selection may name deleted items)."""
        return [n for n in (self.node_of(i) for i in dpg.get_selected_nodes(self.editor)) if n in self.nodes]

    def selected_links(self) -> list[Link]:
        return [l for l in (self.link_of(i) for i in dpg.get_selected_links(self.editor)) if l]

    # ------------------------------------------------------------------ sync
    def sync(self, graph: Graph) -> None:
        """Make the items match ``graph`` (only what differs is touched)."""
        self.last_sync_revision = graph.revision
        pos = positions(graph)
        for nid in [n for n in self.nodes if n not in graph.nodes or graph.nodes[n].type != self.nodes[n]]:
            self._delete_node(nid)
        for i, (nid, inst) in enumerate(graph.nodes.items()):
            if nid not in self.nodes:
                self._create_node(graph, nid, self.zoom.to_canvas(
                    pos.get(nid) or [40.0 + 240.0 * (i % 5), 40.0 + 220.0 * (i // 5)]))
            elif self.params.get(nid) != inst.params:
                spec = graph.registry.get(inst.type)
                for name, value in inst.params.items():
                    if spec and name in spec.params and self.params[nid].get(name, object()) != value:
                        widgets.set_widget_value(nid, spec.params[name], value)
                self.params[nid] = dict(inst.params)
                if spec is not None and not self.compact:
                    self._show_applicable(nid, spec.params, inst.params)
            want = self.zoom.to_canvas(pos[nid]) if nid in pos else None
            if want is not None and want != self.pos.get(nid):
                items.set_pos(self.node_tag(nid), want)
                self.pos[nid] = list(want)
        want_links = set(graph.links)
        for l in [l for l in self.links if l not in want_links]:
            items.delete(self.links[l])
            del self.links[l]
        for l in graph.links:
            if l not in self.links or not items.exists(self.links[l]):
                a, b = self.attr_tag("out", l.src, l.src_port), self.attr_tag("in", l.dst, l.dst_port)
                if items.exists(a) and items.exists(b):
                    self.links[l] = dpg.add_node_link(a, b, parent=self.editor)
        self._grey_replaced(graph)

    def _grey_replaced(self, graph: Graph) -> None:
        """Grey out a parameter an input replaces while that input is linked (a model's ``prompt`` while
        its ``text`` input is; QA: the box stayed editable and what was typed there was ignored)."""
        linked = {(l.dst, l.dst_port) for l in graph.links}
        for nid in self.nodes:
            spec = self._specs.get(nid)
            for param, port in (replaced_by(spec.inputs) if spec is not None else {}).items():
                off = (nid, port) in linked
                if bool(self.replaced.get((nid, param))) != off or (nid, param) not in self.replaced:
                    self.replaced[(nid, param)] = port if off else ""
                    # grey (enabled=False or readonly toggled on a box being typed into crashed dearpygui
                    # at the next frame); an edit of it is refused (params.ParamEdits)
                    items.bind_theme(widgets.widget_tag(nid, param), self.themes.greyed() if off else 0)

    def rescale(self, graph: Graph, old: float) -> None:
        """Draw every node at the zoom now set (it was ``old``), in place: each node's font and theme
        (imnodes' and ImGui's sizes), every width, height and wrap set on its widgets, and its
        position.  The items stay, so the selection, open groups, a text being typed and the
        waveforms stay too (dearpygui cannot select nodes from code: re-creating them lost it)."""
        pos = positions(graph)
        for nid in self.nodes:
            tag = self.node_tag(nid)
            self._bind_font(nid)
            items.bind_theme(tag, self.node_theme(self._state.get(nid, "")))
            for item, base in self._sizes(nid, old):
                items.configure(item, **{k: self.zoom.px(v) for k, v in base.items()})
            if nid in pos:
                self.pos[nid] = self.zoom.to_canvas(pos[nid])
                items.set_pos(tag, self.pos[nid])
        self._redraw_waves()

    def _sizes(self, nid: str, scale: float) -> list[tuple[int | str, dict[str, float]]]:
        """The items of a node with sizes set on them, and those sizes at 100% (read the first time
        an item is seen, at ``scale``, the zoom it was made at).  A tooltip is read at the UI's
        size at every zoom: it is given the UI's font and is not scaled."""
        base = self._base.setdefault(nid, {})
        out: list[tuple[int | str, dict[str, float]]] = []
        todo: list[int | str] = [self.node_tag(nid)]
        while todo:
            kids = items.call(dpg.get_item_children, todo.pop(), default=None) or {}
            for item in [i for slot in (kids.values() if isinstance(kids, dict) else [kids]) for i in slot]:
                if item not in base:
                    if items.item_type(item).endswith("mvTooltip"):
                        base[item] = None
                        items.call(dpg.bind_item_font, item, self.ui_font or 0)
                    else:
                        cfg = items.call(dpg.get_item_configuration, item, default=None) or {}
                        base[item] = {k: cfg[k] / scale for k in ("width", "height", "wrap")
                                      if isinstance(cfg.get(k), (int, float)) and cfg[k] > 0}
                sizes = base[item]
                if sizes is None:
                    continue                # a tooltip: not scaled, nothing under it either
                todo.append(item)
                if sizes:
                    out.append((item, sizes))
        return out

    def _delete_node(self, nid: str) -> None:
        for l in [l for l in self.links if nid in (l.src, l.dst)]:
            items.delete(self.links[l])
            del self.links[l]
        items.delete(self.node_tag(nid))
        widgets.forget(nid)
        for d in (self.nodes, self.params, self.pos, self.marks, self._specs, self._state, self._base):
            d.pop(nid, None)
        for pin in [pin for pin in self.pin_types if pin[1] == nid]:
            del self.pin_types[pin]
            self.dimmed.discard(pin)
        for key in [key for key in self.replaced if key[0] == nid]:
            del self.replaced[key]
        self._forget_outputs(nid)

    def _create_node(self, graph: Graph, nid: str, pos: list[float]) -> None:
        inst = graph.nodes[nid]
        spec = graph.registry.get(inst.type)
        with dpg.node(label=nid, tag=self.node_tag(nid), parent=self.editor, pos=list(pos)):
            with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
                dpg.add_text(inst.type, color=(150, 160, 190), tag=f"type::{nid}")
                # one line for the run state, always there: the text, or the progress bar in its place
                # (same height), so a run, a failure or a reset never resizes the node under the pointer
                dpg.add_text("", tag=f"status::{nid}")
                with dpg.tooltip(f"status::{nid}", tag=f"statustipwin::{nid}", show=False):
                    dpg.add_text("", tag=f"statustip::{nid}", wrap=420)
                dpg.add_progress_bar(tag=f"progress::{nid}", width=self.zoom.px(widgets.WIDTH + 80),
                                     height=self.zoom.px(STATE_LINE_H),
                                     show=False)
                dpg.add_text("", tag=f"problem::{nid}", color=(255, 170, 80), show=False)    # one line (problem_line)
                with dpg.tooltip(f"problem::{nid}", tag=f"problemtipwin::{nid}", show=False):
                    dpg.add_text("", tag=f"problemtip::{nid}", wrap=420)    # (shown and hidden with its text:
                    #   a hidden item's tooltip shows on the item before it)
            if spec is None:
                self._create_unknown(graph, nid)
            else:
                for name, port in spec.inputs.items():
                    with dpg.node_attribute(tag=self.attr_tag("in", nid, name), **self._pin("in", nid, name, port.type)):
                        dpg.add_text(f"{name}  ({port.type_name}{'' if port.required else ', optional'})",
                                     tag=self.pin_label_tag("in", nid, name))
                    self._colour_pin("in", nid, name)
                folded: dict[str, list[ParamSpec]] = {}
                for name, p in spec.params.items():
                    if p.group:
                        folded.setdefault(p.group, []).append(p)
                        continue
                    with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static, tag=f"pattr::{nid}::{name}") as attr:
                        widgets.add_param_widget(attr, nid, p, inst.params.get(name, p.default), self.on_param,
                                                 self.on_browse, scale=self.zoom.scale,
                                                 checkpoint=name in spec.checkpoint_params)
                for group, params in folded.items():     # rarely changed settings, folded until opened
                    with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static, tag=f"gattr::{nid}::{group}"):
                        with dpg.tree_node(label=group, default_open=False, tag=f"group::{nid}::{group}") as tree:
                            for p in params:
                                widgets.add_param_widget(tree, nid, p, inst.params.get(p.name, p.default),
                                                         self.on_param, self.on_browse, scale=self.zoom.scale,
                                                         checkpoint=p.name in spec.checkpoint_params)
                types = graph.output_types()
                for name, port in spec.outputs.items():
                    t = types.get((nid, name), port.type)
                    self._create_output(nid, name, t, plays_file=plays_file(spec, t))
        if tooltip := (readable(spec.tooltip) if spec else ""):
            with dpg.tooltip(f"type::{nid}"):
                dpg.add_text(tooltip, wrap=320)
        self.nodes[nid] = inst.type
        self._specs[nid] = spec
        self.params[nid] = dict(inst.params)
        self.pos[nid] = list(pos)
        self.marks[nid] = ("", ())
        if spec is not None:
            self._show_applicable(nid, spec.params, inst.params)
        if self.font is not None:
            self._bind_font(nid)
        if self.zoom.scale != 1.0:
            items.bind_theme(self.node_tag(nid), self.node_theme())
            self._sizes(nid, self.zoom.scale)       # made at this zoom: its sizes at 100%, tooltips in the UI font
        if self.compact:
            self._compact_node(nid, True)

    # ------------------------------------------------------------------ compact
    def _body(self, nid: str) -> list[str]:
        """A node's body: every row but its title, state line, input pins and output pins."""
        return [a for a in (items.alias(i) for i in items.call(dpg.get_item_children, self.node_tag(nid), 1,
                                                              default=[]) or [])
                if a and a.startswith(("pattr::", "gattr::", "preview::", "valueattr::"))] + [f"type::{nid}"] + \
            [f"{verb}::{nid}::{port}" for (d, n, port) in self.pin_types if n == nid and d == "out"
             for verb in ("play", "stop")]

    def _bind_font(self, nid: str) -> None:
        """A node's font: the compact one while nodes are compact, else the zoom's (0: the app's)."""
        items.call(dpg.bind_item_font, self.node_tag(nid), (self.compact_font if self.compact else self.font) or 0)

    def _compact_node(self, nid: str, on: bool) -> None:
        for tag in self._body(nid):
            items.configure(tag, show=not on)
        if self.compact_font is not None:
            self._bind_font(nid)
        if not on:
            graph_params = self.params.get(nid, {})
            spec = self._specs.get(nid)
            if spec is not None:
                self._show_applicable(nid, spec.params, graph_params)

    def set_compact(self, on: bool) -> None:
        """Collapse every node to its title, state and pins (``on``), or show their bodies again:
        with the canvas font made smaller by the app, a big graph fits the window."""
        if on == self.compact:
            return
        self.compact = on
        for nid in self.nodes:
            self._compact_node(nid, on)

    @staticmethod
    def _show_applicable(nid: str, specs: dict[str, ParamSpec], params: dict[str, Any]) -> None:
        """Hide the parameters that do not apply with these values (``custom rate`` unless
        ``profile=custom``; see :func:`.widgets.applies`), and grey the ones that do little with them
        (a window's tempo with ``unit=seconds``: see :func:`.widgets.matters`; QA59 D9)."""
        for name, p in specs.items():
            if widgets.applies_when(p) is not None:
                show = widgets.applies(p, params)
                items.configure(f"pattr::{nid}::{name}", show=show)     # its row (a folded one: the widget)
                items.configure(widgets.widget_tag(nid, name), show=show)
            if widgets.matters_when(p) is not None:
                items.bind_theme(widgets.widget_tag(nid, name), 0 if widgets.matters(p, params) else Themes.greyed())

    def bound_times(self, nid: str, spec: NodeSpec, seconds: float | None) -> None:
        """Bound a node's fades, starts and ends by its input's length (``None``: the input is not
        known yet, the declared range applies)."""
        if seconds is None:
            self.input_s.pop(nid, None)
        else:
            self.input_s[nid] = seconds
        for name, p in spec.params.items():
            if widgets.bound_by_input(p) and p.range is not None and p.range.max is not None:
                hi = p.range.max if seconds is None else max(min(p.range.max, seconds), (p.range.min or 0.0) + 1e-3)
                tag = widgets.widget_tag(nid, name)
                widgets.BOUNDS[tag] = hi
                if items.call(dpg.get_item_configuration, tag, default={}).get("max_value", hi) != hi:
                    items.configure(tag, max_value=hi)

    def _create_unknown(self, graph: Graph, nid: str) -> None:
        """A node whose type is not installed: its ports as the links name them, its params as text."""
        ins = sorted({l.dst_port for l in graph.links if l.dst == nid})
        outs = sorted({l.src_port for l in graph.links if l.src == nid})
        for p in ins:
            with dpg.node_attribute(tag=self.attr_tag("in", nid, p)):
                dpg.add_text(p, tag=self.pin_label_tag("in", nid, p))
        with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
            for k, v in graph.nodes[nid].params.items():
                dpg.add_text(f"{k} = {v!r}"[:60], color=(180, 180, 180))
        for p in outs:
            with dpg.node_attribute(tag=self.attr_tag("out", nid, p), attribute_type=dpg.mvNode_Attr_Output):
                dpg.add_text(p, tag=self.pin_label_tag("out", nid, p))

    # ------------------------------------------------------------------ marks
    def problems_shown(self, nid: str) -> list[str]:
        """The problems node ``nid`` shows now."""
        shown = self.marks.get(nid, ("", ()))[1]
        return [str(p) for p in shown] if isinstance(shown, tuple) else []

    def mark(self, nid: str, state: NodeState | None, problems: list[str], unknown: bool = False) -> None:
        """Show a node's run state (title colour, text, progress) and its validation problems."""
        if nid not in self.nodes:
            return
        text = state.describe() if state is not None else ""
        key = (text, tuple(problems), unknown)
        if self.marks.get(nid) == key:
            return
        self.marks[nid] = key
        kind = state.kind if state is not None else None
        running = kind == "running"
        # one line for the state or, in its place, the first problem: a node never grows nor moves its
        # rows when a problem comes or goes (QA40: a 5-line warning; rows 20 px up once a link was made)
        items.configure(f"status::{nid}", show=not running and not problems,
                        color=(255, 120, 120) if kind == "failed" else (240, 190, 110)
                        if kind == "blocked" or (state is not None and state.warnings) else (200, 230, 200))
        items.set_value(f"status::{nid}", one_line(file_names(text)))
        items.set_value(f"statustip::{nid}", wrap(text, 60) if one_line(file_names(text)) != text else "")
        items.configure(f"statustipwin::{nid}", show=one_line(file_names(text)) != text)
        items.configure(f"progress::{nid}", show=running and not problems)
        if running and state is not None:
            frac = (state.done or 0.0) / state.total if state.total else 0.0
            items.set_value(f"progress::{nid}", min(max(frac, 0.0), 1.0))
            # the bar centres its text and clips both ends: cut to fit inside it (QA69: "unning 85% ...")
            items.configure(f"progress::{nid}", overlay=self._fit_node_line(text, inset=self.zoom.px(16)))
        items.set_value(f"problem::{nid}", self._fit_node_line(problem_line(problems, nid)))
        items.set_value(f"problemtip::{nid}", "\n\n".join(problems))
        items.configure(f"problem::{nid}", show=bool(problems))
        items.configure(f"problemtipwin::{nid}", show=bool(problems))
        self._state[nid] = "broken" if unknown or serious(problems) else kind or ""
        items.bind_theme(self.node_tag(nid), self.node_theme(self._state[nid]))

    def _fit_node_line(self, line: str, inset: float = 0.0) -> str:
        """``line`` cut with '...' to a node's width (less ``inset``) in the font nodes are drawn in (when
        it can be measured: before the first frame it is left as :func:`.nodetext.problem_line` cut it)."""
        font = (self.compact_font if self.compact else self.font) or 0

        def width_of(text: str) -> float | None:
            try:
                size = dpg.get_text_size(text, font=font)
            except Exception:  # noqa: BLE001 - no frame yet, or the font is gone: leave the line as it is
                return None
            return float(size[0]) if size and size[0] > 0 else None
        return fit_line(line, self.zoom.px(widgets.WIDTH + 80) - inset, width_of)

    # ------------------------------------------------------------------ geometry
    def read_positions(self, dragged: bool = True) -> dict[str, list[float]]:
        """Positions (in graph coordinates) of nodes the user moved since the last sync; after a
        click that dragged nothing (``dragged`` False) a node found elsewhere is put back instead."""
        moved = {}
        for nid in self.nodes:
            p, was = items.pos(self.node_tag(nid)), self.pos.get(nid)
            # imnodes hands back a position set between pixels (at a zoom) up to a pixel off: not a move
            if p is not None and (was is None or abs(p[0] - was[0]) >= 1 or abs(p[1] - was[1]) >= 1):
                if not dragged and was is not None:
                    items.set_pos(self.node_tag(nid), was)
                    continue
                moved[nid] = self.zoom.to_graph(p)
                self.pos[nid] = p
        return moved

    @property
    def node_pad(self) -> float:
        """How far outside a node's content rectangle its pins are drawn, at the zoom drawn."""
        return NODE_PAD * self.zoom.scale

    def node_rect(self, nid: str) -> tuple[list[float], list[float]] | None:
        """The node's content rectangle in viewport pixels; None when it is gone, not drawn yet, or
        not drawn while far outside the view (see :mod:`.culling`)."""
        if nid in self.culled:
            return None
        return items.rect(self.node_tag(nid))

    def pin_pos(self, nid: str, port: str, direction: str) -> tuple[float, float] | None:
        """Where a port's pin is drawn, in viewport pixels (add the window origin for the screen)."""
        node, label = self.node_rect(nid), items.rect(self.pin_label_tag(direction, nid, port))
        if node is None or label is None:
            return None
        nmin, nmax = node
        y = (label[0][1] + label[1][1]) / 2
        return (nmax[0] + self.node_pad, y) if direction == "out" else (nmin[0] - self.node_pad, y)

    def pin_height(self, nid: str, port: str, direction: str) -> float | None:
        """A drawn pin's height below its node's top (the layout's :data:`.layout.Pins`)."""
        node, at = self.node_rect(nid), self.pin_pos(nid, port, direction)
        return None if node is None or at is None else at[1] - (node[0][1] - self.node_pad)
