"""A graph's content version and what is remembered per version: :func:`content_version` (a number
that changes whenever the content changes), :func:`pinned` (the content compared once for a block of
work), :func:`derived` (a value made once per version) and :func:`share_derived` (a run's frozen copy
keeps what was derived from unchanged content).  :class:`~nodeflow.graph.Graph` answers these through
its methods of the same names; the memo lives on the graph (``_snapshot``, ``_derived_memo``,
``_pinned``), and a pickle leaves it out.
"""
from __future__ import annotations

import contextlib
import copy
import operator
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

if TYPE_CHECKING:   # graph.py imports this module
    from .graph import Graph

__all__ = ["content_version", "pinned", "derived", "share_derived"]

_T = TypeVar("_T")


def content_version(graph: Graph) -> int:
    """A number that changes whenever the graph's content changes: nodes, their types and
    parameters, links, metadata or the registry, whether edited through the API or by changing
    ``nodes``/``links`` directly.  What is derived from the content (validation, run order,
    cache keys, cost estimates) is remembered per version (:func:`derived`), so a re-run of an
    unchanged graph costs a comparison per node instead of whole-graph work.

    The comparison is by identity for node instances and links (links are immutable) and by
    value for parameters (a shallow copy is kept: a list parameter changed in place is not
    seen; assign a new list)."""
    pinned: int | None = graph.__dict__.get("_pinned")
    if pinned is not None:
        return pinned
    nodes = list(graph.nodes.values())
    reg = (id(graph.registry), len(graph.registry._specs))
    snap = graph.__dict__.get("_snapshot")
    version: int
    if snap is not None:
        s_nodes, s_ids, s_types, s_params, s_links, s_reg, s_meta, version = snap
        if (len(nodes) == len(s_nodes) and all(map(operator.is_, nodes, s_nodes))
                and len(graph.links) == len(s_links) and all(map(operator.is_, graph.links, s_links))
                and s_reg == reg and list(graph.nodes) == s_ids
                and [i.id for i in nodes] == s_types[0] and [i.type for i in nodes] == s_types[1]
                and [i.version for i in nodes] == s_types[2]
                and [i.params for i in nodes] == s_params and graph.metadata == s_meta):
            return version
        version += 1
    else:
        version = 0
    graph._snapshot = (nodes, list(graph.nodes),   # no tuple per node: a pass must not wake the collector
                       ([i.id for i in nodes], [i.type for i in nodes], [i.version for i in nodes]),
                       [dict(i.params) for i in nodes], list(graph.links), reg, copy.deepcopy(graph.metadata),
                       version)
    graph._derived_memo = {}
    return version


@contextlib.contextmanager
def pinned(graph: Graph) -> Iterator[int]:
    """Compare the content once for a block of work (a run's validation and planning): inside,
    :func:`content_version` returns the version found on entry without comparing again.
    Do not edit the graph inside the block."""
    outer: int | None = graph.__dict__.get("_pinned")
    if outer is not None:
        yield outer
        return
    graph._pinned = version = content_version(graph)
    try:
        yield version
    finally:
        graph._pinned = None


def derived(graph: Graph, name: str, key: Any, make: Callable[[], _T], version: int | None = None) -> _T:
    """``make()``, remembered under ``(name, key)`` until the content changes.

    Pass ``version`` (from :func:`content_version`) when several values are looked up for one
    run, so the content is compared once."""
    if version is None:
        version = content_version(graph)
    elif graph.__dict__.get("_snapshot") is None or graph._snapshot[-1] != version:
        version = content_version(graph)
    memo = graph.__dict__.setdefault("_derived_memo", {})
    try:
        found: _T = memo[(name, key)]   # stored by make() below under this (name, key)
        return found
    except KeyError:
        value = memo[(name, key)] = make()
        return value


def share_derived(graph: Graph, frozen: Graph, version: int) -> None:
    """Let ``frozen`` (a fresh copy of ``graph``, whose content is at ``version``) share what was
    derived from ``graph``'s content, while that content is the one last compared."""
    snap, memo = graph.__dict__.get("_snapshot"), graph.__dict__.get("_derived_memo")
    nodes = list(frozen.nodes.values())
    if (snap is not None and memo is not None and snap[-1] == version and list(frozen.nodes) == snap[1]
            and [i.params for i in nodes] == snap[3] and frozen.links == snap[4] and frozen.metadata == snap[6]
            and [i.type for i in nodes] == snap[2][1] and [i.version for i in nodes] == snap[2][2]):
        frozen._snapshot = (nodes, snap[1], snap[2], snap[3], list(frozen.links), snap[5], snap[6], version)
        frozen._derived_memo = memo
