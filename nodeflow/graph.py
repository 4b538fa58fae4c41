"""Graph: node instances, links by port *name*, parameters, and the structure they make (run
order, what depends on what, effective port types, content versions for what is derived).

The graph is plain data (what a file holds); node types are looked up in a
:class:`~nodeflow.registry.Registry`.  A graph may hold node types the registry does not know
(a file from a machine with another plug-in pack): they are kept and reported by
:meth:`Graph.problems`, never dropped.  Validation (:meth:`Graph.problems`, :meth:`Graph.check`)
lives in :mod:`nodeflow.validation` and the file-path queries (:meth:`Graph.input_files`,
:meth:`Graph.write_paths`...) in :mod:`nodeflow.graphpaths`, the content version and what is
remembered per version (:meth:`Graph.content_version`, :meth:`Graph.derived`...) in
:mod:`nodeflow.graphversion`; the methods here delegate to them.
"""
from __future__ import annotations

import builtins
import contextlib
import copy
import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, TypeVar

from . import graphpaths, graphversion, validation
from .errors import GraphError, NodeflowError
from .node import NodeSpec
from .registry import Registry, default_registry
from .types import link_mode

if TYPE_CHECKING:   # networkx costs ~0.2 s to import; only cycle listing and the editor's layout need it
    import networkx as nx

__all__ = ["Graph", "NodeInstance", "Link", "NodeRef", "PortRef", "topological_order"]

_T = TypeVar("_T")
_NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


@dataclasses.dataclass
class NodeInstance:
    id: str
    type: str
    params: dict[str, Any]
    version: int | None = None   # the type version the params were saved with


@dataclasses.dataclass(frozen=True, order=True)
class Link:
    src: str
    src_port: str
    dst: str
    dst_port: str

    def __str__(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


@dataclasses.dataclass(frozen=True)
class PortRef:
    node: str
    port: str

    def __str__(self) -> str:
        return f"{self.node}.{self.port}"


class NodeRef:
    """A handle on a node in a graph; ``ref.out`` / ``ref["audio"]`` name its ports."""

    def __init__(self, graph: "Graph", node_id: str):
        self.graph, self.id = graph, node_id

    def __getattr__(self, port: str) -> PortRef:
        if port.startswith("_"):
            raise AttributeError(port)
        return PortRef(self.id, port)

    def __getitem__(self, port: str) -> PortRef:
        return PortRef(self.id, port)

    def set(self, **params: Any) -> "NodeRef":
        for k, v in params.items():
            self.graph.set(self.id, k, v)
        return self

    def __repr__(self) -> str:
        return f"<node '{self.id}' ({self.graph.nodes[self.id].type})>"


class Graph:
    # the memo of nodeflow.graphversion, unset until first used (read via __dict__):
    _pinned: int | None     # the content version inside pinned()
    _snapshot: tuple[Any, ...]   # the content last compared, and its version (last)
    _derived_memo: dict[Any, Any]   # derived(): {(name, key): value} for that version
    _types_memo: tuple[tuple[Any, ...], dict[tuple[str, str], Any]]   # output_types(), per stamp

    def __init__(self, registry: Registry | None = None):
        self.registry = registry or default_registry()
        self.nodes: dict[str, NodeInstance] = {}
        self.links: list[Link] = []
        self.metadata: dict[str, Any] = {}
        self.editor: dict[str, Any] = {}
        self.revision = 0  # bumped on every edit (the editor's autosave and views watch it)
        self.sweep: dict[str, Any] = {}     # a saved sweep: {"mode": "grid"|"zip", "axes": [{"param", "values"}]}
        self.saved_by: dict[str, Any] = {}  # provenance read from a file: AudioChain and pack versions
        self.path: str | Path | None = None   # the file it was loaded from / saved to (inputs resolve against it)
        # write paths the user set this session (code, --set, the editor), not read from a file: a run
        # may write them anywhere (see nodeflow.outputs); {(node, param): value}, never saved
        self.own_paths: dict[tuple[str, str], Any] = {}
        # input paths a loaded graph file stores as AudioChain never saves them (graphpaths.stored_far_reads)
        self.foreign_reads: dict[tuple[str, str], frozenset[str]] = {}

    # ------------------------------------------------------------------ editing
    def _touch(self) -> None:
        self.revision += 1

    def spec(self, node_id: str) -> NodeSpec | None:
        return self.registry.get(self.nodes[node_id].type)

    def _new_id(self, base: str) -> str:
        if base not in self.nodes:
            return base
        i = 2
        while f"{base}_{i}" in self.nodes:
            i += 1
        return f"{base}_{i}"

    def add(self, node_type: str | NodeSpec, id: str | None = None, **params: Any) -> NodeRef:
        """Add a node of a registered type; parameters are validated now."""
        spec = node_type if isinstance(node_type, NodeSpec) else self.registry[node_type]
        if self.registry.get(spec.id) is not spec:       # new here, or declared again (a reloaded module)
            self.registry.add(spec)
        node_id = id or self._new_id(spec.name)
        if not _NODE_ID.match(node_id):
            raise GraphError(f"node id {node_id!r} must be 1-64 letters, digits, '_' or '-', not starting with a digit")
        if node_id in self.nodes:
            raise GraphError(f"a node named '{node_id}' already exists; pick another id")
        values = {name: p.default for name, p in spec.params.items()}
        inst = NodeInstance(node_id, spec.id, values, spec.version)
        self.nodes[node_id] = inst
        try:
            for k, v in params.items():
                self.set(node_id, k, v)
        except NodeflowError:
            del self.nodes[node_id]
            raise
        self._touch()
        return NodeRef(self, node_id)

    def no_node(self, node_id: str) -> str:
        """The words for a node id the graph lacks: the nearest id and the ids there are, so that a typo
        (``--target exprt``, ``--set gian.gain_db=-3``) is fixed from the one line (QA73 D11); every
        "no node" message says it this way."""
        import difflib
        ids = list(self.nodes)
        near = difflib.get_close_matches(node_id, ids, n=1)
        listed = ", ".join(ids[:20]) + (f", ... ({len(ids)} in all)" if len(ids) > 20 else "")
        return (f"no node named '{node_id}' in the graph" + (f"; did you mean '{near[0]}'?" if near else "") +
                f"; nodes are: {listed or 'none'}")

    def node(self, node_id: str) -> NodeRef:
        if node_id not in self.nodes:
            raise GraphError(self.no_node(node_id))
        return NodeRef(self, node_id)

    def remove(self, node_id: str) -> None:
        if node_id not in self.nodes:
            raise GraphError(self.no_node(node_id))
        del self.nodes[node_id]
        self.links = [l for l in self.links if node_id not in (l.src, l.dst)]
        positions = self.editor.get("positions")
        if isinstance(positions, dict):
            positions.pop(node_id, None)
        self._touch()

    def rename(self, old: str, new: str) -> None:
        if new in self.nodes or not _NODE_ID.match(new):
            raise GraphError(f"cannot rename '{old}' to {new!r}: the id is taken or invalid")
        inst = self.nodes.pop(old)
        inst.id = new
        self.nodes[new] = inst
        self.own_paths = {((new if n == old else n), p): v for (n, p), v in self.own_paths.items()}
        self.links = [Link(new if l.src == old else l.src, l.src_port, new if l.dst == old else l.dst, l.dst_port)
                      for l in self.links]
        self._touch()

    def set(self, node_id: str, param: str, value: Any, *, own: bool = True) -> None:
        """Set a parameter; the value is validated against the node's declaration.

        A write path set here is the user's own (``own``) and may point outside the output folder;
        pass ``own=False`` for values that come from a file (a saved sweep).
        """
        inst = self.nodes.get(node_id)
        if inst is None:
            raise GraphError(self.no_node(node_id))
        spec = self.registry.get(inst.type)
        if spec is None:
            inst.params[param] = value
        else:
            inst.params[param] = spec.coerce(param, value, f"{node_id} ({spec.id})")
            p = spec.params[param]
            if own:
                graphpaths.typed(self, node_id, param, inst.params[param])
            if own and p.kind == "path" and p.path and p.path.mode == "write":
                self.own_paths[(node_id, param)] = inst.params[param]
            else:
                self.own_paths.pop((node_id, param), None)
        self._touch()

    def _port(self, ref: Any, direction: str) -> PortRef:
        if isinstance(ref, PortRef):
            return ref
        if isinstance(ref, NodeRef):
            ref = ref.id
        if isinstance(ref, str):
            node_id, _, port = ref.partition(".")
            if node_id not in self.nodes:
                raise GraphError(self.no_node(node_id))
            if port:
                return PortRef(node_id, port)
            spec = self.spec(node_id)
            ports = list((spec.outputs if direction == "out" else spec.inputs) if spec else [])
            if direction == "in":  # first free input, else the first
                linked = {l.dst_port for l in self.links if l.dst == node_id}
                ports = [p for p in ports if p not in linked] or ports
            if not ports:
                raise GraphError(f"node '{node_id}' has no {'outputs' if direction == 'out' else 'inputs'}")
            return PortRef(node_id, ports[0])
        raise GraphError(f"cannot connect {ref!r}: give 'node.port', a node or a port")

    def connect(self, src: Any, dst: Any, *, check: bool = True) -> Link:
        """Link an output to an input (by name). An input holds one link: a new one replaces it.

        With ``check`` the port names and types are verified now, and a mismatch names both ends.
        """
        s, d = self._port(src, "out"), self._port(dst, "in")
        for ref in (s, d):
            if ref.node not in self.nodes:
                raise GraphError(self.no_node(ref.node))
        link = Link(s.node, s.port, d.node, d.port)
        if check:
            problem = validation.link_problem(self, link, self.output_types())
            if problem:
                raise GraphError(problem)
            if s.node == d.node or s.node in self._reach([d.node], downstream=True):
                raise GraphError(f"linking {link} would make a cycle")
        self.links = [l for l in self.links if not (l.dst == d.node and l.dst_port == d.port)]
        self.links.append(link)
        self._touch()
        return link

    def disconnect(self, dst: Any) -> bool:
        d = self._port(dst, "in")
        n = len(self.links)
        self.links = [l for l in self.links if not (l.dst == d.node and l.dst_port == d.port)]
        if len(self.links) != n:
            self._touch()
        return len(self.links) != n

    def link_into(self, node_id: str, port: str) -> Link | None:
        return next((l for l in self.links if l.dst == node_id and l.dst_port == port), None)

    # ------------------------------------------------------------------ structure
    def to_networkx(self) -> "nx.MultiDiGraph":
        import networkx as nx

        g = nx.MultiDiGraph()
        g.add_nodes_from(self.nodes)
        for l in self.links:
            if l.src in self.nodes and l.dst in self.nodes:
                g.add_edge(l.src, l.dst, key=(l.src_port, l.dst_port))
        return g

    def required_for(self, targets: Iterable[str]) -> builtins.set[str]:   # (Graph.set is a method)
        """The targets and every node they depend on."""
        targets = list(targets)
        for t in targets:
            if t not in self.nodes:
                raise GraphError(self.no_node(t))
        return self._reach(targets, downstream=False)

    def _reach(self, start: Iterable[str], *, downstream: bool) -> builtins.set[str]:
        """``start`` and every node reachable from it along links (``downstream``) or against them."""
        step: dict[str, list[str]] = {}
        for l in self.links:
            if l.src in self.nodes and l.dst in self.nodes:
                a, b = (l.src, l.dst) if downstream else (l.dst, l.src)
                step.setdefault(a, []).append(b)
        seen, todo = set(start), list(start)
        while todo:
            for nxt in step.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def topological_order(self) -> list[str] | None:
        """Node ids with every node after the nodes feeding it, or ``None`` when the links make a
        cycle (:meth:`problems` lists the cycles).  See :func:`topological_order`."""
        return topological_order(self.nodes, [(l.src, l.dst) for l in self.links
                                              if l.src in self.nodes and l.dst in self.nodes])

    def run_order(self) -> list[str]:
        """:meth:`topological_order`, raising :class:`GraphError` (naming the cycles) if there is none."""
        order = self.topological_order()
        if order is None:
            raise GraphError([p for p in self.problems() if p.startswith("cycle: ")] or ["the links make a cycle"])
        return order

    def links_by_dst(self) -> dict[str, list[Link]]:
        """Links grouped by the node they feed (one pass; use instead of scanning per node)."""
        out: dict[str, list[Link]] = {}
        for l in self.links:
            out.setdefault(l.dst, []).append(l)
        return out

    def content_version(self) -> int:
        """A number that changes whenever the graph's content changes (nodes, their types and
        parameters, links, metadata or the registry); what is derived from the content is remembered
        per version (:meth:`derived`).  See :func:`nodeflow.graphversion.content_version`."""
        return graphversion.content_version(self)

    def pinned(self) -> contextlib.AbstractContextManager[int]:
        """Compare the content once for a block of work (a run's validation and planning): inside,
        :meth:`content_version` returns the version found on entry without comparing again.
        Do not edit the graph inside the block."""
        return graphversion.pinned(self)

    def derived(self, name: str, key: Any, make: Callable[[], _T], version: int | None = None) -> _T:
        """``make()``, remembered under ``(name, key)`` until the content changes.

        Pass ``version`` (from :meth:`content_version`) when several values are looked up for one
        run, so the content is compared once."""
        return graphversion.derived(self, name, key, make, version)

    def output_types(self) -> dict[tuple[str, str], Any]:
        """Effective type of every output port: a node mapped over a list outputs a list."""
        stamp = (self.revision, len(self.nodes), tuple(self.links[-1:]), len(self.links), len(self.registry))
        memo: tuple[tuple[Any, ...], dict[tuple[str, str], Any]] | None = getattr(self, "_types_memo", None)
        if memo is not None and memo[0] == stamp:
            return memo[1]
        types: dict[tuple[str, str], Any] = {}
        order = self.topological_order() or list(self.nodes)
        into = self.links_by_dst()
        for nid in order:
            spec = self.spec(nid)
            if spec is None:
                continue
            mapped = any(self._mode(l, spec, types) == "map" for l in into.get(nid, ()))
            for name, port in spec.outputs.items():
                types[(nid, name)] = list[port.type] if mapped else port.type   # type: ignore[name-defined]
        self._types_memo = (stamp, types)
        return types

    def _mode(self, link: Link, dst_spec: NodeSpec, types: dict[tuple[str, str], Any]) -> str | None:
        src_t = types.get((link.src, link.src_port))
        dst_port = dst_spec.inputs.get(link.dst_port)
        if src_t is None or dst_port is None:
            return None
        return link_mode(src_t, dst_port.type)

    def mapped_inputs(self, node_id: str, types: dict[tuple[str, str], Any] | None = None) -> builtins.set[str]:
        types = types if types is not None else self.output_types()
        spec = self.spec(node_id)
        into = self.links_by_dst().get(node_id, ())
        return {l.dst_port for l in into if spec and self._mode(l, spec, types) == "map"}

    # ------------------------------------------------------------------ files (nodeflow.graphpaths)
    def base_dir(self) -> Path:
        """The folder relative input paths resolve against: the graph file's, else the cwd."""
        return graphpaths.base_dir(self)

    def input_files(self, base_dir: Path | None = None) -> dict[tuple[str, str], Path]:
        """Every input file the graph reads: ``(node, param) -> resolved path``."""
        return graphpaths.input_files(self, base_dir)

    def external_reads(self, base_dir: Path | None = None) -> list[tuple[str, str, Path]]:
        """Every file or folder the graph would read outside ``base_dir`` (default: the graph file's
        folder), as ``(node, param, real path)``; see :func:`nodeflow.graphpaths.external_reads`."""
        return graphpaths.external_reads(self, base_dir)

    def read_state(self, base_dir: Path | None = None,
                   allow_outside: Collection[str | os.PathLike[str]] | None = None) -> dict[str, str]:
        """What the graph reads, by content: ``"node.param"`` -> digest or checkpoint revision (with
        ``allow_outside``, but for what a run with it refuses); see :func:`nodeflow.graphpaths.read_state`."""
        return graphpaths.read_state(self, base_dir, allow_outside)

    def write_paths(self) -> dict[tuple[str, str], str]:
        """Every write path the graph holds (export targets): ``(node, param) -> value`` as stored."""
        return graphpaths.write_paths(self)

    def is_own_path(self, node_id: str, param: str) -> bool:
        """The write path ``node_id.param`` was set by the user this session (not read from a file)."""
        return graphpaths.is_own_path(self, node_id, param)

    # ------------------------------------------------------------------ validation (nodeflow.validation)
    def problems(self, targets: Iterable[str] | None = None, base_dir: Path | None = None, *,
                 output_dir: Path | None = None, allow_outside: Iterable[Any] = (),
                 device: str = "auto", version: int | None = None) -> list[str]:
        """Every problem in the graph at once (empty list: the graph can run): what a run into
        ``output_dir`` on ``device`` would refuse; see :func:`nodeflow.validation.problems`."""
        return validation.problems(self, targets, base_dir, output_dir=output_dir, allow_outside=allow_outside,
                                   device=device, version=version)

    def _static_problems(self, targets: Iterable[str] | None) -> dict[str, Any]:
        """What :meth:`problems` remembers per content version (:func:`nodeflow.validation.static_problems`)."""
        return validation.static_problems(self, targets)

    def check(self, targets: Iterable[str] | None = None, source: str | None = None,
              base_dir: Path | None = None, **kw: Any) -> None:
        """Raise :class:`GraphError` listing :meth:`problems` (same keywords), if there are any."""
        validation.check(self, targets, source, base_dir, **kw)

    # ------------------------------------------------------------------ values
    def __getstate__(self) -> dict[str, Any]:
        """What a pickle holds: the content, without what was derived from it, and of the process-wide
        registry only the node types this graph uses (each pickled by name); unpickled, they join
        that process's registry.  A private registry is kept whole."""
        from .registry import default_registry
        state = {k: v for k, v in self.__dict__.items()
                 if k not in ("_derived_memo", "_snapshot", "_types_memo", "_pinned")}
        if self.registry is default_registry():
            state["registry"] = None
            state["_used_specs"] = [spec for t in sorted({i.type for i in self.nodes.values()})
                                    if (spec := self.registry.get(t)) is not None]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        from .registry import default_registry
        used = state.pop("_used_specs", None)
        self.__dict__.update(state)
        if self.registry is None:
            self.registry = default_registry()
            for spec in used or ():
                if self.registry.get(spec.id) is not spec:
                    self.registry.add(spec)

    def copy(self) -> "Graph":
        g = Graph(self.registry)
        g.nodes = {k: NodeInstance(v.id, v.type, dict(v.params), v.version) for k, v in self.nodes.items()}
        g.links = list(self.links)
        g.metadata = copy.deepcopy(self.metadata)
        g.editor = copy.deepcopy(self.editor)
        g.sweep = copy.deepcopy(self.sweep)
        g.saved_by = copy.deepcopy(self.saved_by)   # provenance: sender paths and packs in problem messages
        g.path = self.path
        g.own_paths = dict(self.own_paths)
        g.foreign_reads = dict(self.foreign_reads)
        return g

    def frozen(self) -> "Graph":
        """A copy for one run: edits made to this graph while the run goes on do not reach it (a
        value made with an edited parameter stored under the key planned for the old one would
        poison the cache).  While the content is the one last compared, the copy shares what was
        derived from it (:meth:`derived`), so a re-run of an unchanged graph stays cheap."""
        version = self.content_version()
        g = self.copy()
        graphversion.share_derived(self, g, version)
        return g

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        mine = {k: (v.type, v.params) for k, v in self.nodes.items()}
        theirs = {k: (v.type, v.params) for k, v in other.nodes.items()}
        return (mine == theirs and sorted(self.links) == sorted(other.links)
                and self.metadata == other.metadata and self.editor == other.editor and self.sweep == other.sweep)

    def __repr__(self) -> str:
        return f"<Graph {len(self.nodes)} nodes, {len(self.links)} links>"


def topological_order(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """Kahn's algorithm over ``edges`` (``(src, dst)`` pairs, repeats allowed): ``nodes`` ordered so
    that every edge points forward, or ``None`` if the edges make a cycle.

    The order is networkx's ``topological_sort`` on the same multigraph (generation by generation,
    each in the order nodes and first edges were added), so runs schedule as they did with it.

    >>> topological_order(["c", "a", "b"], [("a", "b"), ("b", "c")])
    ['a', 'b', 'c']
    """
    nodes = list(dict.fromkeys(nodes))
    succ: dict[str, dict[str, int]] = {n: {} for n in nodes}
    indegree = dict.fromkeys(nodes, 0)
    for a, b in edges:
        succ[a][b] = succ[a].get(b, 0) + 1
        indegree[b] += 1
    generation = [n for n in nodes if indegree[n] == 0]
    order: list[str] = []
    while generation:
        order.extend(generation)
        following = []
        for n in generation:
            for child, count in succ[n].items():
                indegree[child] -= count
                if indegree[child] == 0:
                    following.append(child)
        generation = following
    return order if len(order) == len(nodes) else None
