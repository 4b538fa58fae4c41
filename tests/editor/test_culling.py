"""Nodes far outside the view are not drawn while the minimap is hidden (:mod:`nodeflow.editor.culling`;
imnodes' minimap shows only drawn nodes, so with it shown every node is): through real X events,
a node that starts out of view appears where it belongs, with its link, when the view is panned to it."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _looks_like_node(px: np.ndarray, rect: list[list[int]], bg: np.ndarray) -> tuple[float, float]:
    """(share of the box that differs from the bare canvas, share of bright text pixels)."""
    (x0, y0), (x1, y1) = rect
    box = px[y0:y1, x0:x1].astype(float)
    return float((np.abs(box - bg).max(-1) > 4).mean()), float((box.max(-1) > bg.max() + 60).mean())


def test_nodes_out_of_view_are_hidden_and_appear_in_place_when_panned_into_view(editor):
    st = editor.run("canvas_cull", timeout=150)
    assert not st["errors"], st["errors"]
    # with the minimap shown (the default) every node is drawn: the minimap shows what is drawn
    assert st["minimap_first"] and st["hidden_with_minimap"] == []
    assert st["minimap_after_click"] is False and st["prefs_minimap"] is False      # View > Minimap, remembered
    # 2300 px to the right: neither is drawn, nor the link between them
    assert st["hidden_before"] == ["far", "far2"] and st["links_hidden_before"] == ["far.out -> far2.audio"]
    # a real middle-button drag pans 2300 px: both drawn, at their own positions, and the first one hidden
    assert st["offset_back"][0] - st["offset_panned"][0] == pytest.approx(2300, abs=2)
    assert st["hidden_panned"] == ["a"] and st["links_hidden_panned"] == []
    for nid, x in (("far", 2400), ("far2", 2700)):
        assert st["rects_panned"][nid][0][0] == pytest.approx(x + st["offset_panned"][0] + 8, abs=1), nid
    assert st["positions"] == {"a": [40.0, 60.0], "far": [2400.0, 80.0], "far2": [2700.0, 80.0]}
    px = np.load(editor.tmp / "panned.npy")
    bg = np.median(px[40:750, 180:1260].reshape(-1, 3).astype(float), axis=0)
    for nid, rect in st["rects_panned"].items():
        body, text = _looks_like_node(px, rect, bg)
        assert body > 0.6 and text > 0.03, f"{nid} is not drawn where the editor says ({body:.2f}, {text:.3f})"
    (ax, ay), (bx, by) = st["pins_panned"]           # the link's middle: a bright curve, not bare canvas
    mid = px[int((ay + by) / 2) - 4:int((ay + by) / 2) + 5, int((ax + bx) / 2) - 4:int((ax + bx) / 2) + 5]
    assert mid.astype(float).max() > bg.max() + 60, "the link between far and far2 is not drawn"
    # moved into view by an edit: drawn at once where it now is; Ctrl+Z takes it back, hidden again
    assert st["a_drawn_moved"] and st["a_rect_moved"][0][0] == pytest.approx(2450 + st["offset_panned"][0] + 8, abs=1)
    assert st["a_pos_undone"] == [40.0, 60.0] and st["a_hidden_undone"]
    # panned back: the first node is drawn in its place again, the far ones hidden
    assert st["hidden_back"] == ["far", "far2"] and st["rects_back"] == st["rects_before"]
    px = np.load(editor.tmp / "back.npy")
    body, text = _looks_like_node(px, st["rects_back"]["a"], bg)
    assert body > 0.6 and text > 0.03
    far = px[110:340, 470:800].astype(float)    # where far, far2 and their link were drawn before: bare canvas
    assert (far.max(-1) > bg.max() + 60).mean() < 0.002


def test_culling_stays_right_through_pans_deletes_undo_paste_fit_and_arrange(editor):
    st = editor.run("canvas_cull_edits", timeout=200)
    assert not st["errors"], st["errors"]
    steps = {name: (drawn, total, bad) for name, drawn, total, bad in st["steps"]}
    assert list(steps) == ["built", "panned", "deleted", "undone", "redone", "pasted", "paste undone", "fit all",
                           "ctrl+m", "fit undone", "panned back", "arranged"]
    for name, (drawn, total, bad) in steps.items():
        assert bad == [], f"after {name}: {bad[:5]}"
    assert steps["built"][1] == 200 and steps["built"][0] < 80          # most of the 200 are not drawn
    assert steps["deleted"][1] == 197 and steps["redone"][1] == 197 and steps["pasted"][1] == 203
    assert steps["undone"][1] == steps["paste undone"][1] == steps["arranged"][1] == 200
