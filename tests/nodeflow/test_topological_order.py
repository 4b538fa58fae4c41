"""The graph's own topological sort (networkx is imported only to list cycles): same order as
networkx's ``topological_sort`` on the same multigraph, ``None`` on a cycle, and the errors that
name the cycle."""
from __future__ import annotations

import random

import networkx as nx
import pytest

from nodeflow import Graph, GraphError
from nodeflow.graph import Link, topological_order
from tests.nodeflow.stubs import registry


def _random_dag(rng: random.Random, n: int) -> tuple[list[str], list[tuple[str, str]]]:
    rank = [f"n{i}" for i in range(n)]                    # edges go from lower to higher rank
    nodes = rank[:]
    rng.shuffle(nodes)                                    # insertion order differs from rank order
    edges = [(rank[a], rank[b]) for a in range(n) for b in range(a + 1, n) if rng.random() < 0.2]
    edges += rng.sample(edges, k=min(len(edges), 3))      # repeated links (two ports between one pair)
    rng.shuffle(edges)
    return nodes, edges


@pytest.mark.parametrize("seed", range(40))
def test_order_is_networkx_order(seed):
    rng = random.Random(seed)
    nodes, edges = _random_dag(rng, rng.randint(1, 25))
    g = nx.MultiDiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    order = topological_order(nodes, edges)
    assert order == list(nx.topological_sort(g))
    pos = {n: i for i, n in enumerate(order)}
    assert all(pos[a] < pos[b] for a, b in edges)


def test_cycle_gives_none_and_isolated_nodes_are_kept():
    assert topological_order(["a", "b", "c"], [("a", "b"), ("b", "a")]) is None
    assert topological_order(["a", "b"], [("a", "a")]) is None
    assert topological_order(["x", "y"], []) == ["x", "y"]


def test_graph_orders_and_names_its_cycle():
    g = Graph(registry())
    g.add("test.tone", id="t")
    g.add("test.gain", id="a")
    g.add("test.mix", id="m")
    g.connect("t.out", "a.audio")
    g.connect("a.out", "m.a")
    assert g.run_order() == ["t", "a", "m"]
    assert g.required_for(["a"]) == {"t", "a"}
    with pytest.raises(GraphError, match="cycle"):
        g.connect("m.out", "a.audio")                     # refused while linking
    g.links.append(Link("m", "out", "a", "audio"))        # as a hand-edited file could hold it
    g.links = [l for l in g.links if not (l.src == "t" and l.dst == "a")]
    assert g.topological_order() is None
    with pytest.raises(GraphError, match=r"cycle: (a -> m -> a|m -> a -> m)"):
        g.run_order()
