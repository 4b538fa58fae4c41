"""The sweep panel as QA met it: it fits a small window, its A/B line and errors, A/B switching
between takes of different lengths.  GUI tests drive the real editor with X events (scenarios/);
the rest needs no window."""
from __future__ import annotations

import pytest

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


def _sweep_ab(editor):
    from ._graphs import tone_file
    from .conftest import sound_skip_reason
    reason = sound_skip_reason()
    if reason:
        pytest.skip(reason)
    graph = chain_graph(editor.tmp)
    tone_file(editor.tmp, "short.wav", seconds=1.0)
    tone_file(editor.tmp, "long.wav", seconds=5.0)
    return editor.run("sweep_ab", graph)


def test_sweep_panel_errors_name_the_axis_line_in_the_panels_words(editor):
    """QA: the panel said "--sweep 'gain.nonexistent=1,2': ..." (the CLI's wording)."""
    st = _sweep_ab(editor)
    assert st["unknown_param"].startswith("axis line 1 (gain.nonexistent=1,2): node 'gain' has no parameter "
                                          "'nonexistent'"), st["unknown_param"]
    assert st["one_line"].startswith("axis line 1 (gain.gain_db=0fade.fade_out_s=0.5): ") and \
        st["one_line"].endswith("two axes on one line? write one axis per line"), st["one_line"]
    assert "--sweep" not in st["unknown_param"] + st["one_line"]


def test_switching_a_b_past_the_shorter_takes_end_starts_it_from_the_beginning(editor):
    """QA: B at 15 s switched to A (14 s long) 'from 14.00 s', its very end: silence."""
    st = _sweep_ab(editor)
    assert st["ab"] == "A = v000_path=short.wav   B = v001_path=long.wav", st["ab"]
    assert st["ab_after_b"].endswith("now: B")
    after = st["after_switch"]
    assert after["playing"] == ["sweep", "v000_path=short.wav"] and after["abtext"].endswith("now: A"), after
    assert after["offset_s"] == 0.0, after
    assert after["status"].startswith("A (v000_path=short.wav) is 1.0 s long, B was at ") and \
        after["status"].endswith(": playing A from the start"), after["status"]
    assert "-0.0 dB" not in st["ab_match"] and st["ab_match"].startswith("A/B level-matched at "), st["ab_match"]


def test_a_sweep_over_the_exports_loudness_is_heard_from_the_files_it_wrote_level_matched(editor):
    """QA108 D4: the listen list had every audio output but not export.out, so a sweep of the export's loudness
    target could only be heard before the export, the same audio in every variant."""
    import re
    import subprocess
    from .conftest import sound_skip_reason
    if reason := sound_skip_reason():
        pytest.skip(reason)
    st = editor.run("sweep_export_ab", chain_graph(editor.tmp))
    assert "export.out" in st["offered"] and "gain.out" in st["offered"], st["offered"]
    assert st["lengths"] == ["1.5 s", "1.5 s"], st["lengths"]           # QA111: the files' lengths, not blank
    assert st["playing_a"][0] == "sweep" and st["playing_b"][0] == "sweep" and st["playing_a"] != st["playing_b"], st
    m = re.fullmatch(r"A/B level-matched at ([-+]?[\d.]+) LUFS \(A ([-+]?[\d.]+) dB, B ([-+]?[\d.]+) dB\), as heard: "
                     r"mono on both channels, 3 LU over its file's meter", st["ab_match"])
    assert m, st["ab_match"]
    files = [editor.tmp / "sweep" / f for f in st["files"]]
    lufs = []
    for f in files:                                    # each file's loudness, by ffmpeg's meter
        r = subprocess.run(["ffmpeg", "-nostats", "-i", str(f), "-af", "ebur128", "-f", "null", "-"],
                           capture_output=True, text=True)
        lufs.append(float(re.findall(r"I:\s+(-?[\d.]+) LUFS", r.stderr)[-1]))
    assert len(files) == 2 and abs(lufs[0] - lufs[1]) > 3.0, (st["files"], lufs)
    target, a, b = (float(g) for g in m.groups())
    assert abs(abs(a - b) - abs(lufs[0] - lufs[1])) <= 0.2, (st["ab_match"], lufs)      # the files' difference
    assert abs(target - 3.0 - min(lufs)) <= 0.2, (st["ab_match"], lufs)     # the quieter file's, as heard: mono


def test_a_second_sweep_forgets_the_first_sweeps_a_b_match(editor):
    """QA: after a second sweep the A/B line still showed the previous sweep's match."""
    st = _sweep_ab(editor)
    assert st["ab_match"].startswith("A/B level-matched at "), st["ab_match"]
    assert st["second_run_ab_match"] == "A/B plays both at the same loudness (the quieter one's)", \
        st["second_run_ab_match"]
    assert st["third_status"].endswith("; the earlier sweep's manifest there is kept as manifest.earlier.json"), \
        st["third_status"]                           # QA64 D7: its takes stay described
    assert "manifest.earlier.json" in st["third_files"] and "manifest.json" in st["third_files"], st["third_files"]


def test_a_b_gains_never_read_minus_zero():
    """QA: the match line read 'B -0.0 dB'."""
    from nodeflow.editor.compare import db
    assert [db(g) for g in (-0.0, -0.04, -1e-9, 0.04, -12.04)] == ["+0.0", "+0.0", "+0.0", "+0.0", "-12.0"]


def test_panel_axis_errors_name_the_line_and_the_cli_keeps_its_wording(tmp_path):
    import nodeflow
    from nodeflow.editor.sweeps import parse_axes
    from nodeflow.errors import ParameterError
    from nodeflow.sweep import parse_axis
    g = nodeflow.load(chain_graph(tmp_path))
    assert [a.name for a in parse_axes("gain.gain_db=-6,0\n\nfade.fade_out_s=0.1,0.2\n", g)] == \
        ["gain.gain_db", "fade.fade_out_s"]
    with pytest.raises(ParameterError, match=r"^axis line 3 \(fade\.nope=1\): node 'fade' has no parameter 'nope'"):
        parse_axes("gain.gain_db=-6,0\n\nfade.nope=1", g)
    with pytest.raises(ParameterError, match=r"^--sweep 'fade.nope=1': node 'fade'"):
        parse_axis("fade.nope=1", g)


def test_a_variant_whose_export_failed_still_plays_what_was_made(editor):
    """QA: a variant whose export failed after gain.out (listened to) was made had no play/A/B buttons:
    its computed audio was thrown away with the error."""
    from .conftest import sound_skip_reason
    reason = sound_skip_reason()
    if reason:
        pytest.skip(reason)
    st = editor.run("sweep_failed_export", chain_graph(editor.tmp))
    rows = st["rows"]
    ok, failed = rows["v000_loudness_lufs=-20.0"], rows["v001_loudness_lufs=-1.0"]
    assert ok["status"] == "ok" and ok["buttons"] == ["play", "A", "B"] and ok["error_text"] is None, ok
    assert failed["status"] == "failed", failed
    assert failed["error"].startswith("node 'export': loudness_lufs=-1 cannot be reached"), failed
    shown = failed["error_text"]                       # the row shows the error (a long one cut short, marked)
    assert shown.startswith("export: loudness_lufs=-1 cannot be reached"), shown
    assert ("export: " + failed["error"].removeprefix("node 'export': ")).startswith(shown.removesuffix("...")), shown
    assert failed["buttons"] == ["play", "A", "B"] and failed["length"] == "1.5 s", failed
    assert st["status"].endswith("1 ok, 1 failed or stopped; manifest in " + str(editor.tmp / "sweep")), st["status"]
    assert st["played"] == ["sweep", "v001_loudness_lufs=-1.0"], st["played"]
    assert st["ab"] == "A = v000_loudness_lufs=-20.0   B = v001_loudness_lufs=-1.0", st["ab"]
    assert st["ab_now"]["abtext"].endswith("now: B") and \
        st["ab_now"]["playing"] == ["sweep", "v001_loudness_lufs=-1.0"], st["ab_now"]


def test_a_failed_variant_keeps_the_values_made_before_it_failed(tmp_path):
    """Without a window: the sweep's result for a variant whose export failed says 'failed' with the
    export's error and keeps gain's output; the manifest row is what it was (values are not in it)."""
    import json

    import nodeflow
    from nodeflow.sweep import SweepReport, expand, parse_axis, run_sweep, write_manifest
    path = chain_graph(tmp_path)
    g = nodeflow.load(path)
    g.connect("gain.out", "export.audio")
    g.set("export", "path", "take.flac")
    variants = expand([parse_axis("export.loudness_lufs=-20,-1", g)], "grid")
    ok, failed = run_sweep(g, variants, tmp_path / "sweep", keep_values=True, workers=1)
    assert (ok.status, failed.status) == ("ok", "failed")
    assert failed.error.startswith("node 'export': loudness_lufs=-1 cannot be reached")
    assert failed.values is not None and "export" not in failed.values
    made, expected = failed.values["gain"]["out"], ok.values["gain"]["out"]
    assert made.samples.shape == expected.samples.shape == (1, 72000) and made.sample_rate == 48000
    write_manifest(SweepReport(str(path), "grid", [], [ok, failed]), tmp_path / "sweep")
    row = json.loads((tmp_path / "sweep" / "manifest.json").read_text())["variants"][1]
    assert row["status"] == "failed" and row["error"] == failed.error
    assert row["outputs"] == [] and "export" not in row["nodes_ran"] and "values" not in row
    (plain,) = run_sweep(g, variants[1:], tmp_path / "plain")       # the CLI's way: no values kept
    assert plain.status == "failed" and plain.values is None


@pytest.mark.gui
def test_a_sweep_runs_around_an_unlinked_node_it_does_not_need(editor):
    st = editor.run("sweep_incomplete", chain_graph(editor.tmp))
    assert st["started"].endswith("; not run: mix ('a' not linked)"), st["started"]
    assert st["results"] == ["ok", "ok"] and st["status"].endswith("; not run: mix ('a' not linked)"), st
    assert len(st["written"]) == 2, st["written"]                  # each variant's export
    assert st["refused"].startswith("the sweep needs node 'mix', which cannot run: 'a' not linked"), st["refused"]
