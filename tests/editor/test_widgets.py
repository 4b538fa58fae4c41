"""Each node's widgets come from its declaration (issue 4): sliders with ranges and units, combo
boxes for choices, text boxes for prompts (multi-line), a file picker for paths."""
from __future__ import annotations

import pytest

import nodeflow
from nodeflow import Graph

from ._graphs import tone_file

pytestmark = pytest.mark.gui


def test_widgets_follow_each_parameters_declaration(editor):
    tone_file(editor.tmp)
    g = Graph()
    g.path = editor.tmp / "widgets.msgpack"
    g.add("io.load", id="load", path="tone.wav")
    g.add("dsp.gain", id="gain", gain_db=-6.0)
    g.add("text.prompt_template", id="prompt")
    g.add("io.export", id="export", path="out.wav")
    g.connect("load.out", "gain.audio")
    g.connect("gain.out", "export.audio")
    g.editor["positions"] = {"load": [20.0, 40.0], "gain": [300.0, 40.0], "prompt": [20.0, 300.0],
                             "export": [600.0, 40.0]}
    nodeflow.save(g, g.path)
    st = editor.run("widgets", g.path)
    w = st["widgets"]
    specs = {(nid, name): g.spec(nid).params[name] for nid in g.nodes for name in g.spec(nid).params}
    assert all(w[f"{nid}.{name}"] is not None for nid, name in specs), "a declared parameter has no widget"
    gain = w["gain.gain_db"]                                       # Range(-60, 24, unit dB)
    assert gain["type"] == "mvSliderFloat" and (gain["min_value"], gain["max_value"]) == (-60.0, 24.0)
    assert gain["format"].endswith(" dB")
    bpm = w["prompt.bpm"]                                          # a tempo: 97.5 is a tempo too
    assert bpm["type"] == "mvSliderFloat" and (bpm["min_value"], bpm["max_value"]) == (20, 300)
    assert bpm["format"].endswith(" bpm")
    fmt = w["export.format"]                                       # an Enum: a combo of its values
    assert fmt["type"] == "mvCombo"
    assert fmt["items"] == [str(m.value) for m in specs[("export", "format")].choices] and len(fmt["items"]) >= 2
    assert w["prompt.template"]["type"] == "mvInputText" and w["prompt.template"]["multiline"] is True
    assert w["prompt.genre"]["type"] == "mvInputText" and w["prompt.genre"]["multiline"] is False
    assert w["export.dither"]["type"] == "mvCheckbox"
    for path_param in ("load.path", "export.path"):                # a text box and a "..." file picker
        assert w[path_param]["type"] == "mvInputText" and w[path_param]["browse"] is True
    assert not w["gain.gain_db"]["browse"]
    assert not st["dialog_before"] and st["dialog_after_click"], "the '...' button did not open the file dialog"


def test_parameters_read_well_drag_gently_stay_in_the_clip_and_hide_when_they_do_not_apply(editor):
    from ._graphs import RATE
    tone_file(editor.tmp, seconds=1.5)
    g = Graph()
    g.path = editor.tmp / "params.msgpack"
    g.add("io.load", id="load", path="tone.wav")
    g.add("dsp.gain", id="gain", gain_db=-6.0)
    g.add("dsp.fade", id="fade", fade_out_s=0.0)
    g.add("time.tokenize_window", id="window")
    g.add("dsp.trim", id="trim")
    g.add("dsp.crossfade", id="xfade", duration_s=0.5)
    g.add("time.stitch", id="stitch")
    g.connect("load.out", "gain.audio")
    g.connect("gain.out", "fade.audio")
    g.connect("gain.out", "window.audio")
    g.connect("gain.out", "trim.audio")
    g.connect("gain.out", "xfade.a")
    g.connect("trim.out", "xfade.b")
    g.connect("window.out", "stitch.windows")
    g.editor["positions"] = {"load": [20.0, 40.0], "gain": [300.0, 40.0], "fade": [580.0, 40.0],
                             "window": [300.0, 300.0], "trim": [580.0, 330.0], "xfade": [860.0, 40.0],
                             "stitch": [860.0, 330.0]}
    nodeflow.save(g, g.path)
    st = editor.run("params_readable", g.path)
    assert st["formats"]["gain::gain_db"] == "%.1f dB"            # not -6.000 dB
    assert st["formats"]["fade::fade_out_s"] == "%.2f s"
    assert st["formats"]["window::custom_tokens_per_s"] == "%.1f tokens/s"
    # 0..600 s is a drag box whose speed follows the value (no slider handle over the digits)
    assert st["types"] == {"gain::gain_db": "mvSliderFloat", "fade::fade_out_s": "mvDragFloat"}
    assert 0.0 < st["fade_after_50px"] < 1.0, "50 px moved a 600 s fade by less than a second"
    # the clip's length bounds it before a run (read from the file's header), after one, and after an
    # edit upstream (QA: a drag went to 15.5 s on an 8 s clip once the resample before it was edited)
    assert st["max_before_run"] == st["max_after_run"] == st["max_after_upstream_edit"] == 1.5 == 72000 / RATE
    assert 1.0 < st["fade_after_400px"] <= 1.5, "the fade stops at the clip's length"
    # a start typed past the clip's end is refused, with the length and the fix (QA: 1:30 on 8 s was
    # taken, and the run failed); one inside it is set
    assert st["trim_typed_5"]["value"] == 0.0 and st["trim_typed_5"]["error"], st["trim_typed_5"]
    assert st["trim_typed_5"]["status"] == ("trim.start_s: typed 5 s, at or past the end of its input (1.5 s long); "
                                            "type a start before 1.5 s (unchanged)"), st["trim_typed_5"]
    assert st["trim_typed_half"]["value"] == 0.5 and not st["trim_typed_half"]["error"], st["trim_typed_half"]
    assert st["load_typed_90"] == {"value": 0.0, "error": True, "status": (     # a load's start, by its file's length
        "load.start_s: typed 90 s, at or past the end of its input (1.5 s long); type a start before 1.5 s "
        "(unchanged)")}, st["load_typed_90"]
    assert st["trim_end_9"] == {"value": 9.0, "error": False,             # an end past it means 'to the end'
                                "status": "trim.end_s = 9.0 (past the end of its 1.5 s input: to the end)"}, st
    assert st["start_tip"].endswith("0 s or more"), st["start_tip"]          # not "range [0, inf] s"
    # QA101 D1: a crossfade's overlap typed past its inputs was held at 60 s, and the run failed; it is held at
    # the shorter input's length, as a fade is (trim's output: 1.5 s less its 0.5 s start)
    assert st["xfade_typed_9999"] == {"value": 1.0, "error": False, "status": (
        "xfade.duration_s = 1.0 (typed 9999: the input is 1 s long)")}, st["xfade_typed_9999"]
    # QA101 D2: a box with no slider is read the same way: held at its range's end, not refused
    assert st["stitch_typed_9999"] == {"value": 60.0, "error": False, "status": (
        "stitch.fade_s = 60.0 (typed 9999: the range is 0 to 60 s)")}, st["stitch_typed_9999"]
    assert st["shown_musicgen"] == {"custom_rate_hz": False, "custom_tokens_per_s": False,
                                    "custom_window_tokens": False, "size": True}
    assert st["shown_custom"] == {"custom_rate_hz": True, "custom_tokens_per_s": True,
                                  "custom_window_tokens": True, "size": True}
    assert st["profile_after_undo"] == "musicgen" and st["shown_after_undo"] == st["shown_musicgen"]
    # QA59 D9: the tempo fields of a window cut in seconds looked as active as its size
    assert st["greyed_seconds"] == {"bpm": True, "beats_per_bar": True, "note_value": True, "size": False}
    assert st["greyed_bars"] == {"bpm": False, "beats_per_bar": False, "note_value": False, "size": False}
    assert st["greyed_after_undo"] == st["greyed_seconds"]


def test_a_sliders_value_is_kept_as_the_slider_shows_it(editor):
    from ._graphs import chain_graph
    st = editor.run("param_precision", chain_graph(editor.tmp))
    gain = st["gain"]
    assert -60.0 < gain < -6.0 and gain == round(gain, 1), gain            # was: -33.599998474121094 (float32)
    assert st["status"] == f"gain.gain_db = {gain}"


def test_each_typed_value_is_an_undo_step_and_a_drag_is_one(editor):
    from ._graphs import chain_graph
    st = editor.run("param_typed_steps", chain_graph(editor.tmp, link_fade_to_load=False))   # the fade's own range
    assert st["typed"] == [5.0, 600.0, 0.0]
    assert st["while_typing"] == [0.0, 5.0, 600.0], "a key typed into the drag box set a value before Enter"
    assert st["statuses"] == ["fade.fade_out_s = 5.0", "fade.fade_out_s = 600.0 (typed 1e+09: the range is 0 to 600 s)",
                              "fade.fade_out_s = 0.0 (typed -3: the range is 0 to 600 s)"], st["statuses"]
    assert st["steps_typed"] == 3, "three typed values made other than three undo steps"
    assert st["dragged"] > 0.0 and st["steps_dragged"] == 4, "one drag made other than one undo step"
    assert st["undos"] == [0.0, 600.0, 5.0, 0.0], "Ctrl+Z did not step back through the typed values"


def test_a_path_typed_without_enter_counts_when_the_box_is_left(editor):
    from ._graphs import chain_graph
    st = editor.run("param_commit_on_leave", chain_graph(editor.tmp))
    assert st["no_enter"]["param"] == "tone_missing.wav", st["no_enter"]     # was: the old path, run with it
    assert st["no_enter"]["shown"] == "tone_missing.wav" and st["no_enter"]["undo"] == "set load.path"
    steps = st["no_enter"]["steps"]
    assert st["escape"] == {"param": "tone_missing.wav", "shown": "tone_missing.wav", "steps": steps}, \
        "Escape did not cancel the typed path"
    assert st["enter"]["param"] == "tone.wav" and st["enter"]["steps"] == steps + 1, \
        "a path committed with Enter (then the box left) made other than one undo step"
    assert st["undo_once"] == "tone_missing.wav"


def test_text_a_parameter_cannot_take_gives_way_to_the_graphs_value(editor):
    from ._graphs import chain_graph
    st = editor.run("param_invalid_text", chain_graph(editor.tmp))
    assert st["end20"]["param"] == 0.5 and st["end20"]["shown"] == "0.5 s"
    for case in ("abc_enter", "abc_leave", "inf", "nan"):
        assert st[case]["param"] == 0.5 and st[case]["shown"] == "0.5 s", (case, st[case])  # was: abc/inf/nan
        assert st[case]["error"] and "end_s" in st[case]["status"], (case, st[case])
    assert "typed 'abc': not a time in s; type e.g. 2.5, 1:30 or 250 ms" in st["abc_enter"]["status"]
    assert "typed 'inf': not a time in s" in st["inf"]["status"]
    assert st["lufs"]["param"] == -14.0
    assert st["plus5"]["param"] == -14.0 and st["plus5"]["shown"] == "-14.0 LUFS", st["plus5"]   # was: +5
    assert st["plus5"]["status"] == "export.loudness_lufs: typed +5: the range is -70 to 0 LUFS; type a value in it"
    assert st["seed_neg"]["param"] == 0, st["seed_neg"]
    assert st["seed_neg"]["status"] == "musicgen.seed = 0 (typed -4: the range is 0 to 2,147,483,647)", st["seed_neg"]
    assert st["seed_big"]["param"] == 2**31 - 1 and st["seed_big"]["status"].endswith(
        "(typed 98765432101: the range is 0 to 2,147,483,647)"), st["seed_big"]


@pytest.mark.gui
def test_a_parameters_tooltip_keeps_its_text_off_its_edges(editor):
    from ._graphs import chain_graph
    st = editor.run("tooltip_padding", chain_graph(editor.tmp))
    assert st["found"] and st["size"][0] > 200 and st["size"][1] > 40, st
    left, right, top, bottom = st["margins"]          # the text had 0 px left, right and below
    assert min(left, right, top, bottom) >= 4, st["margins"]
    assert st["group_open"] and st["blue_right_of_node"] == 0, "a group's highlight ran past its node"
    assert st["errors"] == []


def test_a_deleted_nodes_widgets_leave_nothing_behind():
    dpg = pytest.importorskip("dearpygui.dearpygui")
    from nodeflow.editor import widgets
    spec = Graph().registry["dsp.gain"].params["gain_db"]
    dpg.create_context()                 # items only: no viewport, no display needed
    try:
        with dpg.window():
            for nid in ("n", "n1"):
                widgets.add_param_widget(dpg.last_container(), nid, spec, 0.0, lambda *a: None)
        assert {"param::n::gain_db", "param::n1::gain_db"} <= set(widgets._LEAVE)
        widgets.forget("n")
        assert "param::n::gain_db" not in widgets._LEAVE and "param::n1::gain_db" in widgets._LEAVE
        widgets.forget("n1")
    finally:
        dpg.destroy_context()


def test_a_double_click_on_a_slider_types_a_value_and_its_first_click_is_taken_back(editor):
    """QA: a double-click on a slider only moved it (ImGui's sliders type on ctrl+click alone)."""
    from ._graphs import chain_graph
    st = editor.run("slider_type_in", chain_graph(editor.tmp))
    opened = st["opened"]
    assert opened["typing"], "the double-click did not open the slider for typing"
    assert opened["gain"] == -6.0 and opened["shown"] == -6.0 and opened["steps"] == 0, \
        f"the double-click's first click moved the value: {opened}"
    assert "type a value for gain.gain_db" in opened["status"]
    assert st["escaped"] == {"gain": -6.0, "steps": 0, "redo": None, "typing": False,
                             "status": "gain.gain_db unchanged"}       # not still 'type a value ...'"
    # nothing is set while the keys come (each key set a value, and the first stopped a preview: QA)
    assert st["while_typing"] == {"gain": -6.0, "steps": 0,
                                  "status": "type a value for gain.gain_db; Enter sets it, Escape keeps it"}
    assert st["typed"] == {"gain": -3.5, "steps": 1, "undo": "set gain.gain_db"}
    assert st["undone"] == {"gain": -6.0, "steps": 0}
    clicked = st["clicked"]               # a single click still sets the value where it lands
    assert clicked["steps"] == 1 and -48 < clicked["gain"] < -36, clicked
    assert st["typed_escaped"] == {"gain": clicked["gain"], "steps": 1, "status": "gain.gain_db unchanged"}
    too_big = st["too_big"]               # QA: 500 became 24 dB (the end) without a word
    assert too_big == {"gain": 24.0, "shown": 24.0, "steps": 2,
                       "status": "gain.gain_db = 24.0 (typed 500: the range is -60 to 24 dB)"}, too_big


def test_a_value_is_typed_as_a_musician_writes_it(editor):
    """QA: '1:30' typed into a time set 1 s, '250 ms' 250 s, and '1x' was ignored without a word."""
    from ._graphs import chain_graph
    st = editor.run("param_typed_forms", chain_graph(editor.tmp, link_fade_to_load=False))   # the fade's own range
    expected = {"1:30": 90.0, "250 ms": 0.25, "2,5": 2.5, "2 min": 120.0}
    for step, (text, value) in enumerate(expected.items(), start=1):
        assert st[text]["value"] == value and not st[text]["error"], (text, st[text])
        assert st[text]["status"] == f"fade.fade_out_s = {value}" and st[text]["steps"] == step, st[text]
    bad = st["1x"]
    assert bad["value"] == 120.0 and bad["steps"] == 4 and bad["error"], bad
    assert bad["status"] == "fade.fade_out_s: typed '1x': not a time in s; type e.g. 2.5, 1:30 or 250 ms"
    assert st["ctrl_z_in_box"] == {"value": 120.0, "steps": 0, "status": "fade.fade_out_s unchanged"}
    assert st["start"] == {"value": 0.5, "shown": "0.5 s", "status": "load.start_s = 0.5"}, st["start"]
    gain = st["-7.5 dB"]
    assert gain["value"] == -7.5 and gain["text"] == "-6.0 dB", gain      # the box opens on the value shown
    for case in (st[text] for text in (*expected, "1x", "-7.5 dB")):
        assert case["box"] and case["node_same_size"] and case["box_gone"] and case["widget_shown"], case
        (bx0, by0), (bx1, by1) = case["box_rect"]
        (wx0, wy0), (wx1, wy1) = case["widget_rect"]
        assert abs(bx0 - wx0) <= 1 and abs(by0 - wy0) <= 1 and abs((bx1 - bx0) - (wx1 - wx0)) <= 1, case


def test_typing_keeps_a_drag_reads_seeds_and_counts_for_run_and_save(editor):
    """QA: a drag then a double-click within a second took the drag back; a seed's '2.5' became 2 and
    '1e3' 1 without a word; F5 and Ctrl+S while typing ran and saved the old value; an emptied box
    gave a red 'typed '''; a node deleted with its box open left 'type a value for ...'."""
    from ._graphs import chain_graph
    st = editor.run("param_typed_more", chain_graph(editor.tmp))
    kept = st["drag_kept"]
    assert kept["now"] == kept["dragged"] != -6.0 and kept["steps"] == 0, kept
    assert st["box_text_after_drag"] == f"{kept['dragged']:.1f} dB"
    assert st["emptied"] == {"now": kept["dragged"], "status": "gain.gain_db unchanged", "error": False}
    assert st["seed_type"] == "mvInputText"
    assert st["seed 1e3"]["value"] == 1000 and st["seed 1e3"]["shown"] == "1000" and not st["seed 1e3"]["error"]
    bad = st["seed 2.5"]
    assert bad["value"] == 1000 and bad["error"] and bad["shown"] == "1000", bad
    assert bad["status"] == "voice.seed: typed '2.5': not a whole number; type e.g. 0", bad
    assert st["f5"]["value"] == -20.0 and not st["f5"]["box_open"], st["f5"]
    assert st["ctrl_s"]["saved"] == -15.0 and not st["ctrl_s"]["dirty"], st["ctrl_s"]
    assert st["tab"] == {"value": -12.0, "box": False, "typing": False, "status": "gain.gain_db = -12.0"}, st["tab"]
    assert st["start_box"] == {"value": 0.5, "status": "load.start_s = 0.5", "error": False,
                               "shown": "0.5 s"}, st["start_box"]
    assert st["deleted"] == {"status": "'gain' was deleted while a value was typed into it; nothing was set",
                             "box": False}, st["deleted"]


def test_a_double_click_to_type_keeps_the_node_still_when_its_first_click_makes_a_problem(editor):
    """QA: a double-click on the demo's crossfade duration set 26 s with its first click, a problem line
    grew the node, the second click missed the slider, and the typed '750 ms' was lost."""
    import shutil
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    folder = editor.tmp / "graphs"
    shutil.copytree(root / "graphs", folder)        # its clips with it (graphs/assets)
    st = editor.run("slider_type_in_problem", folder / "demo.msgpack")
    assert st["typing"] and st["opened_on"] == 2.0, st
    assert st["value_after_first"] == 2.0, st      # a click on a 0-60 s time sets nothing (QA40: 44.85 s)
    assert st["after_first"] == st["rect_typing"] == st["rect_before"], st    # no line came and went under the pointer
    assert st["typed"] == 0.75 and st["undo"] == "set into_variations.duration_s", st
    assert st["problem_after"] == "" and st["rect_after"] == st["rect_before"], st
    assert st["semitones"] == 3.25 and st["semitones_shown"] == "3.25 st", st     # (QA: it read 3.2 st)


def test_a_prompt_a_linked_input_replaces_is_greyed_while_linked(editor):
    """QA: with a model's text input linked, its prompt box stayed editable; what was typed was ignored."""
    from ._graphs import chain_graph
    st = editor.run("replaced_prompt", chain_graph(editor.tmp))
    assert st["before"] is False and st["linked"] is True and st["unlinked"] is False, st
    assert st["typed_while_linked"], st
    assert st["status"].startswith("gen.prompt does not apply: the linked 'text' input replaces it"), st
    assert st["rect_linked"] == st["rect_before"], st          # greyed, not hidden: the node keeps its size
