"""Where the canvas' minimap is: imnodes' placement rules (no window), and with real events the drawn
minimap matches it, a link dropped or a double-click just outside it opens the node search (QA: a band
70 px wide left of it and 12 px above it did nothing)."""
from __future__ import annotations

import pytest

from ._graphs import chain_graph

CANVAS = ((166.0, 28.0), (1271.0, 762.0))       # the editor's canvas in the 1280x800 window


def test_the_minimap_keeps_the_nodes_aspect_within_a_fifth_of_the_canvas_less_its_padding():
    from nodeflow.editor.canvas import minimap_box
    # room: floor(1105 * 0.2 - 16) x floor(734 * 0.2 - 16) = 205 x 130 (aspect 1.58)
    tall = minimap_box(CANVAS, (850.0, 720.0))           # taller than the room: full height, narrower
    assert tall == ((1098.0, 612.0), (1267.0, 758.0))     # content 153 x 130 at (1106, 620), padding 8, offset 4
    wide = minimap_box(CANVAS, (2000.0, 400.0))          # wider: full width, lower
    assert wide == ((1046.0, 701.0), (1267.0, 758.0))     # content 205 x 41
    assert minimap_box(CANVAS, None) == ((1056.0, 612.0), (1267.0, 758.0))   # no node: the canvas' own aspect
    (x0, y0), (x1, y1) = minimap_box(CANVAS, (1000.0, 1000.0))
    assert (x1, y1) == (1267.0, 758.0) and x1 - x0 == y1 - y0 == 146.0     # square: 130 + 2 * 8
    assert minimap_box(((0.0, 0.0), (60.0, 60.0)), (100.0, 100.0)) is None   # no room for one


@pytest.mark.gui
def test_a_drop_or_a_double_click_just_outside_the_drawn_minimap_opens_the_search(editor):
    st = editor.run("minimap_edge", chain_graph(editor.tmp))
    assert st["drawn"] is not None and st["minimap"] == st["drawn"], (st["minimap"], st["drawn"])
    assert st["empty"] == [True, True, False], st["empty"]      # left of it, above it: canvas; inside: the minimap's
    said = "link from fade.out dropped on the canvas: pick a node"
    assert st["drop_left"][0] and st["drop_left"][1].startswith(said), st["drop_left"]
    assert st["drop_above"][0] and st["drop_above"][1].startswith(said), st["drop_above"]
    assert st["dbl_left"][0] and st["dbl_left"][1].startswith("add a node here"), st["dbl_left"]
