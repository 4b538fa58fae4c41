"""The canvas' zoom: the transform alone (no window), and View > Zoom through real X events."""
import pytest

from nodeflow.editor.zoom import LEVELS, Zoom


def test_graph_and_canvas_coordinates_round_trip_and_the_anchor_stays_put():
    z = Zoom()
    for scale, anchor in [(0.5, (300.0, 200.0)), (1.25, (-40.0, 900.0)), (0.33, (0.0, 0.0)), (1.0, (555.5, 12.0))]:
        g = z.to_graph(anchor)
        z.set(scale, anchor)
        assert z.scale == scale
        assert z.to_canvas(g) == pytest.approx(list(anchor))          # the point under the anchor did not move
        for p in ([0.0, 0.0], [1234.5, -77.0]):
            assert z.to_graph(z.to_canvas(p)) == pytest.approx(p)
    a, b = z.to_canvas([0.0, 0.0]), z.to_canvas([100.0, 50.0])
    assert [b[0] - a[0], b[1] - a[1]] == pytest.approx([100.0, 50.0])   # back at 100%: distances as saved


def test_steps_clamp_at_the_ends_and_sizes_never_vanish():
    z = Zoom()
    seen = []
    while z.set(z.step(-1)):
        seen.append(z.scale)
    assert seen == [0.8, 0.67, 0.5, 0.33] and z.step(-1) == LEVELS[0]
    assert not z.set(0.1) and z.scale == LEVELS[0]            # below the smallest: clamped, no change
    assert z.px(1) == 1 and z.px(104) == 34
    z.set(9.0)
    assert z.scale == LEVELS[-1] and z.label == "150%"


def test_fitting_picks_the_largest_level_that_fits_and_never_zooms_in():
    z = Zoom()
    assert z.fitting((1760, 1020), (1070, 690)) == 0.5
    assert z.fitting((800, 500), (1070, 690)) == 1.0
    assert z.fitting((50000, 300), (1070, 690)) == LEVELS[0]


def test_zoom_through_keys_wheel_drag_and_paste(editor):
    """24 nodes on a 260 px grid: at 100% a few show whole; Ctrl+- three times (50%) shows all of them,
    drawn smaller where the app says they are, without touching the graph or its undo history."""
    import nodeflow
    from ._graphs import tone_file
    tone_file(editor.tmp)
    g = nodeflow.Graph()
    g.add("io.load", id="load", path=str(editor.tmp / "tone.wav"))
    prev = "load"
    for i in range(1, 24):
        g.add("dsp.gain", id=f"gain_{i}", gain_db=-1.0 * i)
        g.connect(f"{prev}.out", f"gain_{i}.audio")
        prev = f"gain_{i}"
    g.editor["positions"] = {n: [20.0 + 260.0 * (k % 6), 40.0 + 260.0 * (k // 6)] for k, n in enumerate(g.nodes)}
    nodeflow.save(g, editor.tmp / "grid.msgpack")
    other = nodeflow.Graph()
    other.add("dsp.gain", id="a")
    other.add("dsp.fade", id="b")
    other.editor["positions"] = {"a": [40.0, 40.0], "b": [300.0, 40.0]}
    nodeflow.save(other, editor.tmp / "other.msgpack")
    st = editor.run("zoom", editor.tmp / "grid.msgpack", timeout=180)
    assert st["errors"] == []
    # Ctrl+- x3: 50%, about the view's centre, every node in view, the graph untouched, waveforms kept
    assert st["scale_50"] == 0.5 and st["status_50"].startswith("zoom 50%")
    assert st["in_view_100"] < 12 and st["in_view_50"] == 24
    assert st["size_50"][0] == pytest.approx(st["size_100"][0] / 2, abs=3)
    assert st["size_50"][1] == pytest.approx(st["size_100"][1] / 2, abs=3)     # heights too: nodes never overlap
    assert st["selected_after_zoom"] == ["gain_3"]
    assert st["centre_50"] == pytest.approx(st["centre_100"], abs=4)
    assert st["positions_kept"] and st["undo_kept"]
    assert st["plots_shown"] == 23
    # the window shows a title bar in the node's run-state colour where the app says each node is
    from nodeflow.editor.themes import STATE_COLOURS
    colours = [STATE_COLOURS[k] for k in st["states"]]
    assert len(st["title_px"]) == 24 and colours, st["states"]
    wrong = {n: px for n, px in st["title_px"].items() if min(max(abs(a - b) for a, b in zip(px, c)) for c in colours) > 3}
    assert not wrong, (wrong, colours)
    # a drag of (60, 40) screen pixels at 50% is (120, 80) in the graph, one undo step
    assert st["drag_moved"] == pytest.approx([120.0, 80.0], abs=4) and st["drag_undo"].startswith("move")
    # Ctrl+wheel up: 67%, the graph point under the mouse stays under it
    assert st["scale_wheel"] == 0.67
    assert st["spot_after"] == pytest.approx(st["spot_before"], abs=3)
    # Ctrl+V at 67% lands under the mouse
    assert st["pasted_pos"] == pytest.approx(st["paste_spot"], abs=3)
    from nodeflow.editor.canvas import PASTE_STEP
    assert st["pasted_again"] == pytest.approx([v + PASTE_STEP for v in st["pasted_pos"]], abs=0.01)
    assert st["positions_after_undo"]
    # Ctrl+= (from 67%), a fast spin of three notches (three steps), no zoom while a node is dragged
    assert st["scale_equal"] == 0.8 and st["scale_spin"] == 0.33
    assert st["scale_during_drag"][0] == st["scale_during_drag"][1] == 0.33
    assert st["drag2_moved"] == pytest.approx([40.0, 20.0], abs=3)
    # Ctrl+0: actual size, nodes as big as before
    assert st["scale_0"] == 1.0 and st["size_0"] == pytest.approx(st["size_100"], abs=1)
    # a node made at 50% is, at 100%, the size of one made at 100%; tooltips keep the UI's size and font
    assert st["size_made_50"] == pytest.approx(st["size_made_100"], abs=2), (st["size_made_50"], st["size_made_100"])
    assert all(t == [420, True] for t in st["tooltips"].values()), st["tooltips"]
    assert st["undo_adds"] == []
    # Home: zoomed out (not rearranged) to the largest level that shows the whole graph clear of the
    # minimap (about 1520 x 1010 at 100% in a 1104 x 732 canvas: 67% puts gain_23 under the minimap)
    assert st["fit_scale"] == 0.5 and st["fit_in_view"] == 24 and st["fit_positions_kept"], st["fit_status"]
    assert st["fit_status"].startswith("zoomed to 50% to show all 24 nodes") and st["fit_under_minimap"] == []
    # Home from 33%: the same zoom and view as from 100%
    assert st["scale_before_fit33"] == 0.33 and st["fit33"][:3] == [0.5, 24, True], st["fit33"]
    # opened while zoomed: at 100%, as saved
    assert st["open_scale"] == 1.0 and st["open_positions"] == {"a": [40.0, 40.0], "b": [300.0, 40.0]}
    assert not st["open_dirty"]
    # the view is kept in the file (read here with msgpack alone) and the graph opens as it was left
    assert st["saved_status"].startswith("saved ") and st["saved_view"] == {"zoom": 0.67, "compact": True}
    assert st["view_grid"] == [1.0, False, False]
    assert st["view_reopened"][:3] == [0.67, True, True], st["view_reopened"]
    assert st["view_reopened"][3] == pytest.approx(st["height_compact"], abs=2)
    assert st["view_reopened"][4:] == [False, {"a": [40.0, 40.0], "b": [300.0, 40.0]}]
    import msgpack
    doc = msgpack.unpackb((editor.tmp / "other.msgpack").read_bytes(), raw=False)
    assert "view" not in doc["editor"], doc["editor"]            # back at 100% with bodies: nothing kept


def test_a_saved_view_is_kept_only_when_not_the_default_and_read_safely_from_any_file():
    from nodeflow.editor.zoom import saved_view, view_record
    for scale in LEVELS:
        for compact in (False, True):
            record = view_record(scale, compact)
            assert saved_view({"view": record} if record else {}) == (scale, compact)
    for junk in (None, [], "x", {"zoom": float("nan")}, {"zoom": True}, {"zoom": [1]}, {"compact": "yes"}):
        assert saved_view({"view": junk}) == (1.0, False)


def test_selecting_nodes_by_clicks_moves_nothing_at_any_zoom(editor):
    import nodeflow
    g = nodeflow.Graph()
    for nid in ("a", "b", "c", "d"):
        g.add("dsp.gain", id=nid)
    g.editor["positions"] = {"a": [297.25, 65.0], "b": [20.0, 523.5], "c": [279.75, 523.5], "d": [799.225, 312.85]}
    g.editor["view"] = {"zoom": 0.8}
    nodeflow.save(g, editor.tmp / "between.msgpack")
    st = editor.run("select_clicks", editor.tmp / "between.msgpack", timeout=120)
    assert st["errors"] == [] and st["scale"] == 0.8
    assert st["selected"] == ["b", "c"]
    assert st["moved"] == {} and (st["undo"], st["dirty"]) == (st["undo0"], st["dirty0"]), st
    assert st["drag_undo"] == "move a"
