"""What a run must do, worked out before anything runs.

The graph's structure for a run of some targets (order, links by node, consumers, parameters as
plain values) is remembered per content version (see ``Graph.derived``); from it come every node's
content key (:func:`~nodeflow.cache.node_key`: what the cache is indexed by), then the
:class:`Plan`: which nodes run, which values come from the cache; :func:`kept_nodes` says which
values the result returns.  The executor (:mod:`nodeflow.executor`) plans, then
:mod:`nodeflow.scheduler` runs the plan.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

from . import graphpaths
from .cache import content_key, node_key
from .graph import Graph
from .node import Context, NodeSpec

__all__ = ["Plan", "Structure", "structure", "content_keys", "value_key", "make_plan", "kept_nodes"]


@dataclasses.dataclass
class Plan:
    """One run's plan: the nodes in order, their content keys, those to run, the values the cache gave."""
    order: list[str]
    keys: dict[str, str]
    to_run: list[str]
    values: dict[str, dict[str, Any]]
    inputs: dict[str, list[tuple[str, str, str, str | None]]]   # node -> [(dst_port, src, src_port, mode)]
    protected: frozenset[Path]
    specs: dict[str, NodeSpec]                            # node -> its type, looked up once per run
    structure: "Structure"
    own: dict[str, str] = dataclasses.field(default_factory=dict)   # see by_value_nodes: node -> key, no inputs


@dataclasses.dataclass
class Structure:
    """The part of a run's plan that depends only on the graph's content (see ``Graph.derived``)."""
    order: list[str]
    wanted_set: set[str]
    specs: dict[str, NodeSpec]
    inputs: dict[str, list[tuple[str, str, str, str | None]]]
    consumers: dict[str, list[str]]
    ups: dict[str, list[tuple[str, str, str]]]             # node -> [(dst_port, src, src_port)]
    plain: dict[str, dict[str, Any]]                       # node -> parameters as plain values (for keys)
    ends: set[str]                                         # leaves and side-effect nodes
    leaves: set[str]
    exported: set[str]                                     # side-effect nodes and the nodes feeding them
    fingerprinted: list[str]
    keys_memo: dict[Any, tuple[dict[str, str], dict[str, str]]]
    by_value: set[str] = dataclasses.field(default_factory=set)     # see by_value_nodes

    @classmethod
    def of(cls, graph: Graph, targets: list[str] | None) -> "Structure":
        needed = graph.required_for(targets) if targets else set(graph.nodes)
        order = [n for n in graph.run_order() if n in needed]
        types = graph.output_types()
        specs = {n: graph.registry[graph.nodes[n].type] for n in order}
        inputs: dict[str, list[tuple[str, str, str, str | None]]] = {n: [] for n in order}
        consumers: dict[str, list[str]] = {n: [] for n in order}
        ups: dict[str, list[tuple[str, str, str]]] = {n: [] for n in order}
        for l in graph.links:
            if l.dst in inputs:
                mode = graph._mode(l, specs[l.dst], types)
                inputs[l.dst].append((l.dst_port, l.src, l.src_port, mode))
                ups[l.dst].append((l.dst_port, l.src, l.src_port))
                consumers[l.src].append(l.dst)
        plain = {}
        for n in order:
            sp = specs[n].params
            plain[n] = {k: sp[k].to_plain(v) for k, v in graph.nodes[n].params.items() if k in sp}
        feeds = {l.src for l in graph.links}
        leaves = {n for n in order if n not in feeds}
        sinks = {n for n in order if specs[n].side_effect}
        exported = sinks | {src for n in sinks for (_, src, _, _) in inputs[n]}
        return cls(order, set(order), specs, inputs, consumers, ups, plain, leaves | sinks, leaves, exported,
                   [n for n in order if specs[n].fingerprint], {}, by_value_nodes(specs, inputs))


def by_value_nodes(specs: dict[str, NodeSpec], inputs: dict[str, list[Any]]) -> set[str]:
    """The nodes that are looked up in the cache by the values of their inputs too, once those are made
    (an "early cutoff"): a model node (category ``models``) or one declared ``persist=True``, fed by
    links.  An edit upstream that leaves their inputs the same (a template variable the prompt does
    not use, whitespace the prompt node collapses) then costs no new generation.  Their inputs are
    digested for it, which only these costly nodes are worth."""
    return {n for n, spec in specs.items() if inputs[n] and not spec.side_effect
            and (spec.category == "models" or getattr(spec, "persist", None) is True)}


def structure(graph: Graph, targets: list[str] | None) -> Structure:
    """What a run of ``targets`` needs from the graph's content alone, remembered per content version."""
    key = None if not targets else tuple(targets)
    return graph.derived("executor.structure", key, lambda: Structure.of(graph, targets))


def content_keys(graph: Graph, st: Structure, base: Path, device: str = "auto",
                 skip: Collection[tuple[str, str]] = ()) -> dict[str, str]:
    """Content keys of the nodes in ``st.order``: computed once per content, input file state,
    device and model fingerprints (the parts that can change between runs are checked each time).
    The input files of ``skip`` (reads a run refuses) are not opened: their nodes are keyed by the
    path as written, a key no run makes."""
    return _keys(graph, st, base, device, skip)[0]


def _keys(graph: Graph, st: Structure, base: Path, device: str,
          skip: Collection[tuple[str, str]] = ()) -> tuple[dict[str, str], dict[str, str]]:
    """:func:`content_keys`, and the keys of the nodes in ``st.by_value`` made without their inputs
    (what their value keys are made of, see :func:`value_key`)."""
    files_of: dict[str, dict[str, str]] = {}
    for (n, name), digest in graphpaths.input_digests(graph, base, st.wanted_set, skip).items():
        files_of.setdefault(n, {})[name] = digest
    fps: dict[str, Any] = {}
    if st.fingerprinted:   # fingerprints see the run's device (--device); a probe is made only then
        probe = Context(base_dir=base, device=device, graph=graph)
        for nid in st.fingerprinted:
            fingerprint = st.specs[nid].fingerprint
            if fingerprint is not None:     # always: fingerprinted lists the nodes that have one
                fps[nid] = fingerprint(st.plain[nid], probe)
    memo_key = (device, repr(sorted(files_of.items())), repr(sorted(fps.items())))
    memo = st.keys_memo.get(memo_key)
    if memo is None:
        keys: dict[str, str] = {}
        own: dict[str, str] = {}
        no_files: dict[str, str] = {}
        for nid in st.order:
            spec = st.specs[nid]
            ups = sorted([(port, keys[src], src_port) for (port, src, src_port) in st.ups[nid]])
            files = files_of.get(nid, no_files)
            # an input file counts by what it is (its digest), not by how the graph spells its path:
            # a graph saved into another folder, or a bundle unpacked elsewhere, finds its results
            params = {**st.plain[nid], **dict.fromkeys(files, "<file>")} if files else st.plain[nid]
            if nid in fps and (folders := _local_by_content(spec, fps[nid])):   # likewise a checkpoint folder:
                params = {**params, **dict.fromkeys(folders, "<checkpoint>")}   # its fingerprint holds its digest
            keys[nid] = node_key(spec.id, spec.version, params, files, fps.get(nid), ups, spec.code)
            if nid in st.by_value:
                own[nid] = node_key(spec.id, spec.version, params, files, fps.get(nid), [BY_VALUE], spec.code)
        if len(st.keys_memo) >= 8:
            st.keys_memo.pop(next(iter(st.keys_memo)))
        memo = st.keys_memo[memo_key] = (keys, own)
    return memo


def _local_by_content(spec: NodeSpec, fp: Any) -> tuple[str, ...]:
    """The checkpoint parameters of a node whose fingerprint ``fp`` names a local folder by its content
    (``revision`` ``local-<digest>``, see :func:`nodeflow.checkpoints.fingerprint`): keyed by that, not by
    the path as written, which a graph saved into another folder spells otherwise (QA98 D1: a model ran
    again after ``chain.save()``, and in a copy of the graph one folder deeper, for the same weights)."""
    if not isinstance(fp, dict):
        return ()
    found = (fp if name == "checkpoint" else fp.get(f"{name}:checkpoint") for name in spec.checkpoint_params)
    return tuple(name for name, got in zip(spec.checkpoint_params, found)
                 if isinstance(got, dict) and str(got.get("revision", "")).startswith("local-"))


BY_VALUE = ("<inputs by value>", "", "")     # in the place of a node's upstream keys in its own key


def value_key(own: str, inputs: list[tuple[str, str, str, str | None]], values: dict[str, dict[str, Any]]) -> str | None:
    """A node's key by the values of its inputs: ``own`` (its key made without inputs) and the
    content digest of each input value (:func:`~nodeflow.values.value_digest`); None when one
    cannot be digested (a value of an unknown type, or audio handed on in pieces)."""
    from .values import value_digest
    parts = []
    for port, src, src_port, mode in inputs:
        digest = value_digest(values[src][src_port])
        if digest is None:
            return None
        parts.append((port, mode or "", digest))
    return content_key("by value", own, sorted(parts))


def make_plan(graph: Graph, targets: list[str] | None, base: Path,
              lookup: Callable[[str], dict[str, Any] | None], device: str = "auto",
              keep: Iterable[str] | str = "all") -> Plan:
    """What a run of ``targets`` does; ``lookup(key)``: the outputs the caches hold under a key, or None."""
    st = structure(graph, targets)
    order, specs, consumers = st.order, st.specs, st.consumers
    keys, own = _keys(graph, st, base, device)
    if targets:
        want = set(targets)
    elif keep == "all":
        want = st.wanted_set
    else:   # what the result returns: leaves, exports, kept nodes; upstream of a cached one need not run
        want = st.ends | (set(keep) & st.wanted_set)
    to_run: set[str] = set()
    values: dict[str, dict[str, Any]] = {}
    for nid in reversed(order):  # a node is needed if it is wanted or feeds a node that runs
        if nid not in want and to_run.isdisjoint(consumers[nid]):
            continue
        hit = None if specs[nid].side_effect else lookup(keys[nid])
        if hit is not None:
            values[nid] = hit   # pinned for this run even if evicted meanwhile
        else:
            to_run.add(nid)
    protected = {Path(os.path.realpath(p)) for p in graph.input_files(base).values()}   # a loop too
    return Plan(order, dict(keys), [n for n in order if n in to_run], values, st.inputs, frozenset(protected), specs,
                st, {n: own[n] for n in to_run if n in own})


def kept_nodes(plan: Plan, targets: list[str] | None, keep: Iterable[str] | str) -> set[str] | None:
    """Nodes whose outputs the result returns (None: all of them, nothing is released)."""
    if isinstance(keep, str):
        if keep != "all":
            raise ValueError(f"keep={keep!r}: pass node ids or 'all'")
        return None
    kept = set(keep)
    kept.update(targets if targets else plan.structure.leaves)
    kept.update(plan.structure.exported)
    return kept
