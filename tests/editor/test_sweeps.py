"""The sweep panel as QA met it: it fits a small window, its A/B line and errors, A/B switching
between takes of different lengths.  GUI tests drive the real editor with X events (scenarios/);
the rest needs no window."""
from __future__ import annotations

from ._graphs import chain_graph


def _inside(r, viewport):
    (x0, y0), (x1, y1) = r
    return 0 <= x0 < x1 <= viewport[0] and 0 <= y0 < y1 <= viewport[1]


def test_the_sweep_panel_and_preferences_fit_a_small_window_opened_or_resized(editor):
    """QA: at 640x400 the Sweep panel stayed 720x460 at (300, 80), its close button and table off-screen."""
    st = editor.run("sweep_small", chain_graph(editor.tmp))
    big = st["large"]
    assert big["sweep"] == [[300, 80], [1020, 540]], "a large window: the panel as designed"
    vp = st["resized"]["viewport"]
    assert vp == [640, 400], vp
    for tag in ("sweep", "prefs"):      # (the table fills the panel: height -1)
        assert _inside(st["resized"][tag], vp), (tag, st["resized"])
    assert _inside(st["reopened"]["sweep"], vp), st["reopened"]
