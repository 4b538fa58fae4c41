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


def _links_under_nodes(graph: Graph, pos: dict, sizes: dict, pins: dict,
                       wrapping: bool = False) -> list[tuple[str, str, str]]:
    """Links drawn across a third node; a link that wraps back to the start of the next band
    (right to left) is counted only with ``wrapping``."""
    found = []
    for link in graph.links:
        a, b = pos[link.src], pos[link.dst]
        if b[0] < a[0] + sizes[link.src][0] and not wrapping:
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


def test_parallel_chains_read_as_rows_their_sources_level_with_them():
    """QA62 D4: twelve chains (a compact 48 px load, then 58 px gains): the loads stacked at their own
    pitch, so load_11 sat beside another chain two rows above the one it feeds.  Each source now sits
    level with the first node it feeds, and no two nodes overlap."""
    g, sizes = Graph(), {}
    for k in range(12):
        g.add("io.load", id=f"load_{k}")
        sizes[f"load_{k}"] = (180.0, 48.0)
        prev = f"load_{k}"
        for j in range(9):
            nid = f"gain_{k * 9 + j}"
            g.add("dsp.gain", id=nid)
            sizes[nid] = (200.0, 58.0)
            g.connect(prev, nid)
            prev = nid
    pos = arrange(g, sizes)
    assert [pos[f"load_{k}"][1] for k in range(12)] == [pos[f"gain_{k * 9}"][1] for k in range(12)]
    boxes = [(pos[n][0], pos[n][1], pos[n][0] + sizes[n][0], pos[n][1] + sizes[n][1]) for n in pos]
    assert not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                   for i, a in enumerate(boxes) for b in boxes[i + 1:])


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


def _chain(n: int) -> Graph:
    g, prev = Graph(), None
    for i in range(n):
        x = g.add("dsp.gain", id=f"g{i}")
        if prev is not None:
            g.connect(prev.out, x.audio)
        prev = x
    return g


def _bands(pos: dict, origin_x: float = 20.0) -> list[list[str]]:
    """Nodes by band, each band's nodes left to right: a band starts where a node is at the left edge,
    and holds the nodes from its start's height down to the next band's (a band's later columns may
    sit lower than its first)."""
    starts = sorted({pos[n][1] for n in pos if pos[n][0] == origin_x})
    bands: list[list[str]] = [[] for _ in starts]
    for n in pos:
        bands[max(i for i, y in enumerate(starts) if y <= pos[n][1])].append(n)
    return [sorted(b, key=lambda n: pos[n][0]) for b in bands]


def _over(a: list[float], wa: float, b: list[float], wb: float) -> bool:
    """Whether two nodes at ``a`` and ``b`` (widths ``wa``, ``wb``) share some x: one lies over the other."""
    return a[0] < b[0] + wb and b[0] < a[0] + wa


@pytest.mark.parametrize("width", [800.0, 1100.0, 1280.0])
@pytest.mark.parametrize("length", [12, 16, 20])
def test_a_long_chain_wraps_into_bands_and_the_wrapping_links_run_clear_of_every_node(length, width):
    """A chain wider than the window reads left to right, then on the next band; the link from a
    band's last node back to the next band's first runs in a corridor between the bands, under
    no node (it used to cut diagonally through the next band's first nodes)."""
    g = _chain(length)
    sizes = {n: (200.0, 200.0) for n in g.nodes}
    pins = _pins(g, sizes)
    pos = arrange(g, sizes, pins=pins, max_width=width)
    assert _links_under_nodes(g, pos, sizes, pins, wrapping=True) == [] and crossings(g, pos, sizes, pins) == []
    _no_overlaps(pos, sizes)
    bands = _bands(pos)
    assert len(bands) > 1 and bounds(pos, sizes)[2] <= width
    assert [n for b in bands for n in b] == [f"g{i}" for i in range(length)]       # reads left to right
    for upper, lower in zip(bands, bands[1:]):
        apart = min(pos[b][1] - (pos[a][1] + 200) for a in upper for b in lower if _over(pos[a], 200, pos[b], 200))
        pitch = min(pos[n][1] for n in lower) - min(pos[n][1] for n in upper)
        assert apart >= 30 and pitch <= 200 + 30 + 120, "a corridor for the wrapping link, no taller than it needs"


@pytest.mark.parametrize("length", [8, 12, 20])
def test_a_long_chain_at_the_editors_own_sizes_wraps_clear_in_bands_as_wide_as_a_fit_at_half_size(length):
    """QA62 D1, at the geometry the real window measured (gain nodes 200 x 202 at 100%, inputs 86
    and outputs 126 below the top) and the width a fit at 50% arranges for (2,160 units for a
    1,070 px canvas): a band that long sends a nearly flat link back to the next band's start, which
    ran under the title bars of the next band's second and third nodes with the bands 30 units apart
    (a corridor alone would have to be several nodes tall).  The next band's later columns sit a
    step lower than its first, and the link runs above them."""
    g = _chain(length)
    sizes = {n: (200.0, 202.0) for n in g.nodes}
    pins = {(n, d, p): (86.0 if d == "in" else 126.0) for n in g.nodes
            for d, ports in (("in", g.spec(n).inputs), ("out", g.spec(n).outputs)) for p in ports}
    for width in (1100.0, 2160.0):
        pos = arrange(g, sizes, pins=pins, max_width=width)
        assert _links_under_nodes(g, pos, sizes, pins, wrapping=True) == [] and crossings(g, pos, sizes, pins) == []
        _no_overlaps(pos, sizes)
        bands = _bands(pos)
        assert [n for b in bands for n in b] == [f"g{i}" for i in range(length)]
        x0, y0, x1, y1 = bounds(pos, sizes)
        assert x1 <= width and y1 - y0 <= len(bands) * (202 + 30 + 120), "bands no taller than a step each"


def test_crossings_lists_a_wrapping_link_drawn_across_the_next_band():
    """What the test above guards against: bands 30 px apart, the wrap cuts through g5."""
    g = _chain(12)
    sizes = {n: (200.0, 200.0) for n in g.nodes}
    pins = _pins(g, sizes)
    pos = {f"g{i}": [20.0 + 260.0 * (i % 4), 40.0 + 230.0 * (i // 4)] for i in range(12)}
    assert ("g3", "g4", "g5") in _links_under_nodes(g, pos, sizes, pins, wrapping=True)
    assert ("g3", "g4", "g5") in crossings(g, pos, sizes, pins)


def test_a_wrap_leaving_beside_a_taller_node_leaves_from_below_it():
    """load -> resample (a tall node) -> gain -> fade -> export at measured-looking sizes: the link
    from gain, the band's last node, wraps to fade; gain moves down so that the link leaves it
    below the tall resample node instead of running under it."""
    g = Graph()
    for t, n in [("io.load", "load"), ("dsp.resample", "resample"), ("dsp.gain", "gain"), ("dsp.fade", "fade"),
                 ("io.export", "export")]:
        g.add(t, id=n, **({"path": f"{n}.wav"} if t.startswith("io.") else {}))
    for a, b in [("load", "resample"), ("resample", "gain"), ("gain", "fade"), ("fade", "export")]:
        g.connect(a, b)
    sizes = {"load": (220.0, 110.0), "resample": (240.0, 330.0), "gain": (200.0, 150.0), "fade": (200.0, 180.0),
             "export": (220.0, 130.0)}
    pins = _pins(g, sizes)
    for width in (900.0, 1100.0):
        pos = arrange(g, sizes, pins=pins, max_width=width)
        assert _links_under_nodes(g, pos, sizes, pins, wrapping=True) == []
        _no_overlaps(pos, sizes)
        assert len(_bands(pos)) == 2 and bounds(pos, sizes)[2] <= width
        x0, y0, x1, y1 = bounds(pos, sizes)
        assert y1 - y0 <= 330 + 30 + 180 + 100, "no taller than the two bands and a corridor"


def _tracks(count: int) -> Graph:
    """``count`` tracks (load -> trim -> gain -> fade), mixed two by two, then exported."""
    g, outs = Graph(), []
    for t in range(count):
        prev = g.add("io.load", id=f"load{t}", path=f"t{t}.wav")
        for j, kind in enumerate(["dsp.trim", "dsp.gain", "dsp.fade"]):
            x = g.add(kind, id=f"t{t}_{j}")
            g.connect(prev.out, x.audio)
            prev = x
        outs.append(prev.out)
    while len(outs) > 1:
        m = g.add("dsp.mix", id=f"mix{len(outs)}")
        g.connect(outs.pop(0), m.a)
        g.connect(outs.pop(0), m.b)
        outs.append(m.out)
    g.connect(outs[0], g.add("io.export", id="export", path="out.wav").audio)
    return g


def test_two_tracks_mixed_and_exported_wrap_clear_when_only_the_mix_wraps():
    """At 1280 px the two tracks and their mix fill the first band and only the mix's link to the
    export wraps: the mix goes to the bottom of the band, the link runs under both tracks."""
    g = _tracks(2)
    sizes = {n: (200.0, 200.0) for n in g.nodes}
    pins = _pins(g, sizes)
    pos = arrange(g, sizes, pins=pins, max_width=1280.0)
    assert _links_under_nodes(g, pos, sizes, pins, wrapping=True) == [] and crossings(g, pos, sizes, pins) == []
    _no_overlaps(pos, sizes)
    assert _bands(pos)[-1] == ["export"] and pos["mix2"][1] > pos["t1_2"][1]
    x0, y0, x1, y1 = bounds(pos, sizes)
    assert y1 - y0 <= 3 * 200 + 2 * 30 + 60


def test_of_two_tracks_wrapping_side_by_side_both_run_clear():
    """At 1100 px both tracks' last nodes wrap to the mix: the lower one's link used to cross the
    export, then the upper one's still passed under the lower track; with the mix's band a step
    lower than its first column, both run clear."""
    g = _tracks(2)
    sizes = {n: (200.0, 200.0) for n in g.nodes}
    pins = _pins(g, sizes)
    pos = arrange(g, sizes, pins=pins, max_width=1100.0)
    assert _links_under_nodes(g, pos, sizes, pins, wrapping=True) == []
    _no_overlaps(pos, sizes)


def test_of_two_nodes_in_the_last_column_the_one_whose_link_wraps_goes_below_the_other():
    """load feeds gain and fade; only gain's output goes on (to the export, on the next band):
    gain goes below fade, so its link leaves the band under it instead of through it."""
    g = Graph()
    g.add("io.load", id="load", path="t.wav")
    g.add("dsp.gain", id="gain")
    g.add("dsp.fade", id="fade")
    g.add("io.export", id="export", path="out.wav")
    g.connect("load.out", "gain.audio")
    g.connect("load.out", "fade.audio")
    g.connect("gain.out", "export.audio")
    sizes = {n: (300.0, 150.0) for n in g.nodes}
    pins = _pins(g, sizes)
    pos = arrange(g, sizes, pins=pins, max_width=700.0)
    assert pos["fade"][0] == pos["gain"][0] and pos["fade"][1] < pos["gain"][1] and pos["export"][0] == 20.0
    assert _links_under_nodes(g, pos, sizes, pins, wrapping=True) == [] and crossings(g, pos, sizes, pins) == []
    assert arrange(g, sizes, pins=pins) == {"load": [20.0, 40.0], "gain": [380.0, 40.0], "fade": [380.0, 220.0],
                                             "export": [740.0, 40.0]}, "without a window width, as before"


@pytest.mark.gui
def test_nodes_added_from_the_palette_land_in_view_and_clear_of_the_others(editor):
    """QA: an export added from the palette landed half below the window (y 596-940 of 800): the
    spot was 'right of the others, or below them', wherever that was."""
    from ._graphs import chain_graph
    st = editor.run("palette_place", chain_graph(editor.tmp))
    (cx0, cy0), (cx1, cy1) = st["canvas"]
    assert len(st["added"]) == 5, st
    boxes = {n: (r[0], r[1]) for n, r in st["rects"].items() if r is not None}     # title bar included

    order = ["load", "gain", "fade", "export", "export_2", "gain_2", "fade_2", "export_3", "crossfade"]
    assert sorted(order[4:]) == st["added"]

    def covered(nid):            # the part of it over the nodes there when it was added
        (x0, y0), (x1, y1) = boxes[nid]
        return sum(max(0, min(x1, a1) - max(x0, a0)) * max(0, min(y1, b1) - max(y0, b0))
                   for (a0, b0), (a1, b1) in (boxes[o] for o in order[:order.index(nid)])) / ((x1 - x0) * (y1 - y0))
    for nid in st["added"]:
        (x0, y0), (x1, y1) = boxes[nid]
        assert cx0 <= x0 and x1 <= cx1 and cy0 <= y0 and y1 <= cy1, (nid, boxes[nid], st["canvas"])
    # the first three find free places; then the view is full, and the next ones cover the least they can
    assert [covered(n) for n in ("export_2", "gain_2", "fade_2")] == [0, 0, 0], boxes
    assert max(covered(n) for n in st["added"]) < 0.5, {n: covered(n) for n in st["added"]}


def test_compact_nodes_wrap_into_stepped_bands_with_each_node_beside_its_own():
    """QA69 D2: compact nodes (54 x 59 px at 67%, pins 38 and 49 below the top) searched in steps of
    30 px found no stepped layout clear of its links, and the band's last node went 260 px down, below
    the next band, its link climbing back across the canvas."""
    g = _chain(20)
    sizes = {n: (54.0, 59.0) for n in g.nodes}
    pins = {(n, d, p): (38.0 if d == "in" else 49.0) for n in g.nodes
            for d, ports in (("in", g.spec(n).inputs), ("out", g.spec(n).outputs)) for p in ports}
    pos = arrange(g, sizes, pins=pins, max_width=1090.0, gap=(20.0, 9.4))
    assert _links_under_nodes(g, pos, sizes, pins, wrapping=True) == [] and crossings(g, pos, sizes, pins) == []
    _no_overlaps(pos, sizes)
    bands = _bands(pos)
    assert len(bands) == 2 and [n for b in bands for n in b] == [f"g{i}" for i in range(20)]
    first_top = min(pos[n][1] for n in bands[0])
    assert all(pos[n][1] - first_top <= 59.0 for n in bands[0]), {n: pos[n] for n in bands[0]}
    assert min(pos[n][1] for n in bands[1]) > first_top


@pytest.mark.gui
def test_arrange_wraps_a_long_chain_into_bands_whose_links_run_clear_and_stay_in_the_canvas(editor):
    """QA62 D1, in the real window: a 20-node chain, Ctrl+L at 67%, then the fit to 50%.  Each link
    that wrapped back to the next band ran under the next band's title bars (bands 15 px apart) and
    past the canvas' left edge.  Read from the window as drawn: every link, as imnodes draws it
    between its two pins, passes under no third node and stays inside the canvas."""
    from ._graphs import long_chain
    st = editor.run("arrange_wrap", long_chain(editor.tmp, "chain20.msgpack", lambda k: [20.0 + 37.0 * k, 40.0],
                                               gains=19), timeout=150)
    assert st["zoom_before"] == 0.67 and st["status"].startswith("arranged the nodes"), st
    (cx0, cy0), (cx1, cy1) = st["canvas"]
    rects = st["rects"]
    assert len(rects) == 20 and len(st["links"]) == 19, st
    wraps = 0
    for src, dst, a, b in st["links"]:
        assert a is not None and b is not None, (src, dst)
        wraps += b[0] < a[0]
        curve = _imnodes_link(tuple(a), tuple(b))
        assert curve[:, 0].min() >= cx0 and curve[:, 0].max() <= cx1, (src, dst, curve[:, 0].min(), st["canvas"])
        for n, ((x0, y0), (x1, y1)) in rects.items():
            if n not in (src, dst):
                inside = (curve[:, 0] > x0) & (curve[:, 0] < x1) & (curve[:, 1] > y0) & (curve[:, 1] < y1)
                assert not inside.any(), f"{src} -> {dst} runs under {n}"
    assert wraps >= 2, "the chain is in bands"
    assert all(cx0 <= q[0][0] and q[1][0] <= cx1 and cy0 <= q[0][1] and q[1][1] <= cy1 for q in rects.values()), st


@pytest.mark.gui
def test_the_wrap_links_of_a_chain_fitted_in_compact_bands_stay_in_the_canvas(editor):
    """QA69 D3: an 80-node chain after Ctrl+L and Home at 80%, in compact bands 16 columns wide: the hook
    of each link leaving a band's last node was clipped 14 px past the canvas' right edge."""
    from ._graphs import long_chain
    chain = long_chain(editor.tmp, "chain80.msgpack", lambda k: [20.0 + 37.0 * k, 40.0 + 11.0 * k], gains=79)
    st = editor.run("arrange_home", chain, timeout=180)
    (cx0, _), (cx1, _) = st["canvas"]
    assert st["compact"] and len(st["links"]) == 79, st
    for src, dst, a, b in st["links"]:
        curve = _imnodes_link(tuple(a), tuple(b))
        assert cx0 <= curve[:, 0].min() and curve[:, 0].max() <= cx1, (src, dst, curve[:, 0].max(), cx1)


def test_the_first_node_of_a_new_graph_lands_whole_in_the_canvas(editor):
    st = editor.run("palette_first")
    (cx0, cy0), (cx1, cy1) = st["canvas"]
    (x0, y0), (x1, y1) = st["rect"]
    assert cx0 <= x0 < cx0 + 60 and cy0 <= y0 < cy0 + 60 and x1 <= cx1 and y1 <= cy1, st
    assert min(st["position"]) >= 0, st["position"]


def _pairs_overlapping(pos, sizes, title=0.0):
    ids, out = list(pos), set()
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            (ax, ay), (bx, by) = pos[a], pos[b]
            (aw, ah), (bw, bh) = sizes[a], sizes[b]
            if ax < bx + bw and bx < ax + aw and ay - title < by + bh and by - title < ay + ah:
                out.add((a, b))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_spread_keeps_apart_every_two_nodes_that_were_apart_and_the_layout_s_order(seed):
    """Compact nodes shown whole again (QA: a layout made for compact nodes drew full ones over each
    other): random layouts of small boxes, grown by different factors."""
    from nodeflow.editor.layout import spread
    rnd = random.Random(seed)
    before, pos = {}, {}
    while len(pos) < 30:
        n = f"n{len(pos)}"
        w, h = rnd.uniform(60, 140), rnd.uniform(20, 40)
        p = [round(rnd.uniform(0, 1400)), round(rnd.uniform(0, 700))]
        if not _pairs_overlapping({**pos, n: p}, {**before, n: (w, h)}, title=8.0) - _pairs_overlapping(pos, before, 8.0):
            pos[n], before[n] = p, (w, h)
    after = {n: (w * rnd.uniform(1.2, 2.0), h * rnd.uniform(2.0, 6.0)) for n, (w, h) in before.items()}
    assert _pairs_overlapping(pos, after), "the grown nodes overlap where they stand"
    new = spread(pos, before, after)
    assert new is not None and set(new) == set(pos)
    assert not _pairs_overlapping(new, after, title=24.0)         # title bars included
    for a in pos:
        assert new[a][0] >= pos[a][0] and new[a][1] >= pos[a][1]     # only right and down
        for b in pos:                                                # left of stays left of
            if pos[a][0] + before[a][0] <= pos[b][0]:
                assert new[a][0] + after[a][0] <= new[b][0]


def test_spread_leaves_a_layout_with_room_to_grow_alone_and_keeps_columns_tight():
    from nodeflow.editor.layout import spread
    g = Graph()
    prev = g.add("io.load", id="load", path="a.wav")
    for i in range(6):
        nxt = g.add("dsp.gain", id=f"g{i}")
        g.connect(prev.out, nxt.audio)
        prev = nxt
    small = {n: (120.0, 30.0) for n in g.nodes}
    full = {n: (200.0, 150.0) for n in g.nodes}
    assert spread(arrange(g, full), small, full) is None             # already room: nothing moves
    compact = arrange(g, small, gap=(30.0, 14.0))
    new = spread(compact, small, full)
    assert new is not None and not _pairs_overlapping(new, full, title=24.0)
    x0, y0, x1, y1 = bounds(new, full)
    # a row stays a row: as wide as the grown nodes and their gaps, as high as one node
    assert y1 - y0 == pytest.approx(150.0) and x1 - x0 <= 7 * 200 + 6 * 40 + 1


def test_a_node_added_at_a_point_stays_near_it_and_off_the_pins_when_only_far_places_are_free():
    """QA40 (QA32 #2): a node added from a link dropped at the right of a full view went to the one
    free place, 770 px away, over a link; now it stays within 1.5 of its size of the drop, over the
    least of the nodes there and none of their edges (where pins are)."""
    from nodeflow.editor.layout import REACH, near_place
    view = (0.0, 0.0, 1100.0, 730.0)
    boxes = [(20, 20, 240, 260), (260, 20, 480, 380), (500, 20, 700, 340), (720, 20, 900, 330), (920, 20, 1090, 330),
             (720, 350, 1090, 720), (500, 360, 700, 720), (260, 400, 480, 720), (20, 280, 240, 480)]   # free: bottom left
    size = (200.0, 200.0)
    x, y = near_place((950.0, 250.0), view, boxes, size)
    assert (x - 950.0) ** 2 + (y - 250.0) ** 2 <= (REACH * 200.0) ** 2, (x, y)
    for bx0, by0, bx1, by1 in boxes:           # no node's left or right edge under it
        if y < by1 and by0 < y + 200.0:
            assert not (x - 12.0 < bx0 < x + 212.0) and not (x - 12.0 < bx1 < x + 212.0), ((x, y), (bx0, by0, bx1, by1))


def test_nodes_linked_to_nothing_are_arranged_in_rows_that_fit_the_window():
    """QA46: Ctrl+L stacked six unlinked nodes in one column 1600 px tall (the canvas was 734 px); Fit
    all then shrank them to compact boxes down the left edge."""
    g = Graph()
    for i in range(6):
        g.add("dsp.gain", id=f"n{i}")
    g.add("dsp.fade", id="fade")
    g.connect("n0.out", "fade.audio")                   # a chain of two, and five nodes alone
    sizes = {n: (206.0, 220.0) for n in g.nodes}
    pos = arrange(g, sizes, max_width=1100.0)
    assert pos["n0"][1] == pos["fade"][1] == 40.0 and pos["fade"][0] > pos["n0"][0]      # the chain reads left to right
    alone = [f"n{i}" for i in range(1, 6)]
    assert all(pos[n][1] >= 40.0 + 220.0 for n in alone)                                  # below it, in rows
    assert max(pos[n][0] + 206.0 for n in alone) <= 1100.0 and len({pos[n][1] for n in alone}) == 2
    x0, y0, x1, y1 = bounds(pos, sizes)
    assert y1 - y0 < 3 * 220.0 + 3 * 30.0 and not crossings(g, pos, sizes)
    boxes = [(pos[n][0], pos[n][1], pos[n][0] + 206.0, pos[n][1] + 220.0) for n in g.nodes]
    assert not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                   for i, a in enumerate(boxes) for b in boxes[i + 1:])                  # none over another
