"""The real editor window under Xvfb, driven by real xdotool mouse and keyboard events."""
from __future__ import annotations

import numpy as np
import pytest

from ._graphs import chain_graph

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.gui


def test_demo_graph_opens_and_its_nodes_are_drawn(editor):
    st = editor.run("open_demo", ROOT / "graphs" / "demo.msgpack")
    assert set(st["nodes"]) == {"melody", "to_model_rate", "bars", "vary", "stitch", "into_variations", "export"}
    assert len(st["links"]) == 7 and not st["dirty"] and st["status"] == "opened demo.msgpack"
    assert st["title"] == "AudioChain - demo.msgpack"
    px = np.load(editor.tmp / "demo.npy").astype(float)
    canvas = px[30:760, 170:1270]
    bg = np.median(canvas.reshape(-1, 3), axis=0)
    visible = 0
    for nid, ((x0, y0), (x1, y1)) in st["rects"].items():
        if x1 > 1270 or y1 > 760:
            continue          # the canvas pans; nodes past its right edge are not on the screenshot
        visible += 1
        box = px[y0:y1, x0:x1]
        body = (np.abs(box - bg).max(-1) > 4).mean()
        text = (box.max(-1) > bg.max() + 60).mean()
        assert body > 0.6, f"node {nid}: its box is not drawn where the editor says ({body:.2f} differs)"
        assert text > 0.03, f"node {nid}: no readable text in its box ({text:.3f})"
    assert visible >= 6
    empty = px[610:710, 190:470]          # below 'melody', left of the minimap: bare canvas
    assert (np.abs(empty - bg).max(-1) > 4).mean() < 0.2 and (empty.max(-1) > bg.max() + 60).mean() < 0.002


def test_drags_make_replace_and_refuse_links_and_keys_undo_redo(editor):
    st = editor.run("links", chain_graph(editor.tmp))
    assert st["initial"] == ["load.out -> fade.audio", "load.out -> gain.audio"]
    # a real drag from gain's output pin to fade's occupied input replaces load's link
    assert st["after_replace"] == ["gain.out -> fade.audio", "load.out -> gain.audio"]
    # str -> Audio is refused, the graph is unchanged and the reason is in the status bar, in red
    assert st["after_mismatch"] == st["after_replace"] and st["drawn_links"] == 2
    assert st["status_error"] and "type mismatch" in st["status_shown"]
    assert "'export.out' gives str but 'gain.audio' takes Audio" in st["status_mismatch"]
    # ctrl+z / ctrl+shift+z through the keyboard
    assert st["after_undo"] == st["initial"] and st["dirty_after_undo"] is False
    assert st["after_redo"] == st["after_replace"] == st["drawn_after_redo"]
