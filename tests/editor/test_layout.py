"""Arrange keeps links clear of nodes (issue 14: "links route around nodes"): no window needed.

dearpygui's node editor draws a link as imnodes does, a cubic Bezier whose inner control points
lie a quarter of the pins' distance straight out of each pin; it cannot bend a link around a node,
so the layout places nodes where no link runs under them.  The curves are recomputed here from
imnodes' definition, independently of nodeflow.editor.layout.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from nodeflow import Graph
from nodeflow.editor.layout import arrange, bounds, crossings
from nodeflow.fileformat import load

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"


def _imnodes_link(start: tuple[float, float], end: tuple[float, float], n: int = 200) -> np.ndarray:
    """imnodes' GetCubicBezier: P0 = start, P1 = start + (L/4, 0), P2 = end - (L/4, 0), P3 = end."""
    length = float(np.hypot(end[0] - start[0], end[1] - start[1]))
    p = [np.array(start), np.array(start) + (length / 4, 0), np.array(end) - (length / 4, 0), np.array(end)]
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t ** 2 * p[2] + t ** 3 * p[3]


def _links_under_nodes(graph: Graph, pos: dict, sizes: dict, pins: dict) -> list[tuple[str, str, str]]:
    """Links drawn across a third node; a link that wraps back to the start of the next band
    (right to left) crosses its band whatever the layout, and is not counted."""
    found = []
    for link in graph.links:
        a, b = pos[link.src], pos[link.dst]
        if b[0] < a[0] + sizes[link.src][0]:
            continue
        curve = _imnodes_link((a[0] + sizes[link.src][0], a[1] + pins[(link.src, "out", link.src_port)]),
                              (b[0], b[1] + pins[(link.dst, "in", link.dst_port)]))
        for n, p in pos.items():
            if n in (link.src, link.dst):
                continue
            w, h = sizes[n]
            inside = (curve[:, 0] > p[0]) & (curve[:, 0] < p[0] + w) & (curve[:, 1] > p[1]) & (curve[:, 1] < p[1] + h)
            if inside.any():
                found.append((link.src, link.dst, n))
    return found


def _pins(graph: Graph, sizes: dict) -> dict:
    """Pins as the editor draws them: inputs under the title, outputs near the bottom."""
    pins = {}
    for n in graph.nodes:
        spec, h = graph.spec(n), sizes[n][1]
        for k, port in enumerate(spec.inputs):
            pins[(n, "in", port)] = 36.0 + 24.0 * k
        for k, port in enumerate(spec.outputs):
            pins[(n, "out", port)] = h - 24.0 * (len(spec.outputs) - k)
    return pins


def _no_overlaps(pos: dict, sizes: dict) -> None:
    boxes = [(p[0], p[1], p[0] + sizes[n][0], p[1] + sizes[n][1]) for n, p in pos.items()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def _send_graph() -> Graph:
    """A source feeding a four-effect chain and, past it, a mix directly (a send), plus a side chain."""
    g = Graph()
    src = prev = g.add("dsp.gain", id="src")
    for i in range(4):
        x = g.add("dsp.gain", id=f"fx{i}")
        g.connect(prev.out, x.audio)
        prev = x
    mix = g.add("dsp.mix", id="mix")
    g.connect(prev.out, mix.a)
    g.connect(src.out, mix.b)
    side = g.add("dsp.gain", id="side")
    g.connect(src.out, side.audio)
    end = g.add("dsp.mix", id="end")
    g.connect(mix.out, end.a)
    g.connect(side.out, end.b)
    return g


def test_a_send_past_a_chain_runs_straight_in_a_free_lane():
    g = _send_graph()
    sizes = {n: (180.0, 120.0) for n in g.nodes}
    pins = _pins(g, sizes)
    pos = arrange(g, sizes, pins=pins)
    assert _links_under_nodes(g, pos, sizes, pins) == [] and crossings(g, pos, sizes, pins) == []
    _no_overlaps(pos, sizes)
    # the send leaves src and enters mix at one height: a straight line over (or under) the chain
    assert pos["src"][1] + pins[("src", "out", "out")] == pytest.approx(pos["mix"][1] + pins[("mix", "in", "b")])
    assert len({pos[f"fx{i}"][1] for i in range(4)}) == 1                 # the chain stays on one row
    assert [pos[n][0] for n in ("src", "fx0", "fx1", "fx2", "fx3", "mix", "end")] == sorted(
        pos[n][0] for n in ("src", "fx0", "fx1", "fx2", "fx3", "mix", "end"))   # reads left to right


def test_the_previous_layout_put_nodes_under_that_send():
    """What the test above guards against: columns by depth alone stack fx0 on the send's path."""
    g = _send_graph()
    sizes = {n: (180.0, 120.0) for n in g.nodes}
    pins = _pins(g, sizes)
    pos = {n: [20.0 + 240.0 * d, 40.0] for d, n in enumerate(("src", "fx0", "fx1", "fx2", "fx3", "mix", "end"))}
    pos["side"] = [260.0, 190.0]
    assert ("src", "mix", "fx0") in _links_under_nodes(g, pos, sizes, pins)
    assert ("src", "mix", "fx0") in crossings(g, pos, sizes, pins)


@pytest.mark.parametrize("name", sorted(p.name for p in GRAPHS.glob("*.msgpack")))
def test_example_graphs_arrange_with_no_link_under_a_node(name):
    g = load(GRAPHS / name)
    rnd = random.Random(name)
    sizes = {n: (rnd.choice([200.0, 240.0, 280.0]), rnd.choice([110.0, 160.0, 230.0])) for n in g.nodes}
    pins = _pins(g, sizes)
    for width in (None, 1280.0):                   # one row of columns, and bands that fit a window
        pos = arrange(g, sizes, pins=pins, max_width=width)
        assert _links_under_nodes(g, pos, sizes, pins) == []
        _no_overlaps(pos, sizes)


def test_a_dense_tangle_is_still_placed_without_overlaps_and_stays_compact():
    """Links that cannot all be cleared (every mix takes two random earlier outputs) do not make the
    layout explode: every node placed, none overlapping, no taller than lanes allow."""
    rnd, g, outs = random.Random(4), Graph(), []
    for i in range(120):
        if len(outs) < 2 or rnd.random() < 0.3:
            x = g.add("dsp.gain", id=f"n{i}")
            if outs:
                g.connect(rnd.choice(outs), x.audio)
        else:
            x = g.add("dsp.mix", id=f"n{i}")
            a, b = rnd.sample(outs, 2)
            g.connect(a, x.a)
            g.connect(b, x.b)
        outs.append(x.out)
    sizes = {n: (220.0, 140.0) for n in g.nodes}
    pos = arrange(g, sizes, pins=_pins(g, sizes))
    assert set(pos) == set(g.nodes)
    _no_overlaps(pos, sizes)
    x0, y0, x1, y1 = bounds(pos, sizes)
    assert y1 - y0 < 170 * len(g.nodes)            # never taller than every node stacked in one column
