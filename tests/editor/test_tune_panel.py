"""The Tune panel (issue 15): `audiochain tune`'s ranking on a real tune run (a tone -> gain ->
export graph with a prompt template, a stub scorer that prefers a level), driven with real X
events: rows as the manifest ranks them, play, level-matched A/B heard on the null sink, use the
settings (undoable), rerun a candidate to the same samples."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Audio, Graph, node, save
from nodeflow.registry import default_registry
from nodeflow.tune import tune

from ._graphs import tone_file
from .conftest import sound_skip_reason


@node("test.panel_level_score", category="test")
def panel_level_score(audio: Audio, *, text: str = "") -> float:
    """Prefers a sample peak of -18 dBFS.

    Parameters
    ----------
    audio : Audio
        Clip to score.
    text : str
        Ignored.
    """
    peak_db = 20 * math.log10(max(float(np.max(np.abs(audio.samples))), 1e-9))
    return -abs(peak_db + 18.0)


@pytest.fixture
def tuned(tmp_path):
    reg = default_registry()
    reg.add(panel_level_score)
    try:
        tone_file(tmp_path, seconds=3.0)
        g = Graph()
        g.path = tmp_path / "g.msgpack"
        g.add("io.load", id="load", path="tone.wav")
        g.add("dsp.gain", id="gain")
        g.add("io.export", id="export", path="take.wav", bit_depth="float32")
        g.add("text.prompt_template", id="prompt", template="{genre} with {instrument}, {bpm} bpm")
        g.connect("load", "gain")
        g.connect("gain", "export")
        g.editor["positions"] = {"load": [20.0, 40.0], "gain": [300.0, 40.0], "export": [580.0, 40.0],
                                 "prompt": [20.0, 320.0]}
        g.path = save(g, tmp_path / "g.msgpack")
        report = tune(g, scorer="test.panel_level_score", vary=["gain.gain_db=-24,-18,-12,-6,0"], budget=6,
                      population=3, seed=2, out_dir=tmp_path / "tune")
    finally:
        reg._specs.pop(panel_level_score.id, None)
    return g.path, report


def test_tune_panel_ranks_plays_ab_level_matched_uses_and_reruns(editor, tuned):
    reason = sound_skip_reason()
    if reason:
        pytest.skip(reason)
    path, report = tuned
    rows = json.loads((editor.tmp / "tune" / "manifest.json").read_text())["variants"]
    assert len(rows) == 6 and [r["rank"] for r in rows] == list(range(1, 7))
    st = editor.run("tune_panel", path, timeout=150)
    # the rows as the manifest ranks them: rank, score, final prompt text, seed, parameters
    assert [c[0] for c in st["rows_drawn"]] == [str(r["rank"]) for r in rows]
    assert [c[1] for c in st["rows_drawn"]] == [f"{r['score']:.4g}" for r in rows]
    assert [c[2] for c in st["rows_drawn"]] == [r["prompt"] for r in rows] and " bpm" in rows[0]["prompt"]
    assert all(c[3] == "-" for c in st["rows_drawn"])       # no seed parameter in this graph
    assert [c[4] for c in st["rows_drawn"]] == [", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                                          for k, v in r["params"].items()) for r in rows]
    assert st["rows_drawn"][0][4].startswith("gain.gain_db=") and "prompt.genre=" in st["rows_drawn"][0][4]
    assert "6 candidate(s) of 6, scored by test.panel_level_score" in st["about"]
    assert st["ab_default"] == "A = #1   B = #2"
    assert st["playing"] == ["tune", rows[0]["name"]]
    # A/B: A = the best, B = the one whose gain differs most; both at the quieter one's loudness
    j = st["b_index"]
    diff = rows[j]["params"]["gain.gain_db"] - rows[0]["params"]["gain.gain_db"]
    assert abs(diff) >= 6 and st["ab_picked"] == f"A = #1   B = #{j + 1}"
    assert st["ab_after_toggle"].endswith("now: B") and 0.3 < st["offset_s"] < 2.5
    assert st["playing_after_toggle"] == ["tune", rows[j]["name"]]
    want = {"A": min(-diff, 0.0) if diff < 0 else 0.0, "B": -diff if diff > 0 else 0.0}
    assert st["ab_match"].endswith(f"(A {want['A']:+.1f} dB, B {want['B']:+.1f} dB)"), st["ab_match"]
    from nodes.io._loudness import integrated_lufs
    x = np.fromfile(editor.tmp / "ab.f32", dtype="<f4").reshape(-1, 2)[:, 0].astype(np.float64)
    on = np.flatnonzero(np.abs(x) > 1e-3)
    x = x[on[0]:on[-1] + 1]
    # B went on from where A was (not from the start), in the same stream: no gap, nothing skipped
    assert len(x) / 48000 == pytest.approx(3.0, abs=0.12), len(x) / 48000
    from ._sound import dropouts
    assert dropouts(x)["count"] == 0, dropouts(x)
    head, tail = integrated_lufs(x[None, :19200], 48000), integrated_lufs(x[None, -19200:], 48000)
    assert abs(head - tail) < 0.5, (head, tail)             # A's first 0.4 s and B's last 0.4 s: one loudness
    # use: the best row's settings in the graph, one undoable edit; rerun: the same samples as the tune's file
    assert st["gain_after_use"] == rows[0]["params"]["gain.gain_db"] and st["undo"] == "use tune candidate #1"
    assert st["genre_after_use"] == rows[0]["params"]["prompt.genre"]
    assert st["status_after_rerun"].startswith("run finished")
    again = np.load(editor.tmp / "rerun.npy")
    written, _ = sf.read(editor.tmp / "tune" / rows[j]["outputs"][0], dtype="float32", always_2d=True)
    np.testing.assert_allclose(again, written.T, atol=1e-6)


def test_editing_a_tune_folder_opens_the_tuned_graph_with_the_panel_on_it(editor, tuned):
    path, report = tuned
    st = editor.run("tune_open", editor.tmp / "tune")
    assert st["doc_path"] == str(path) and st["panel_shown"] and st["rows"] == 6
    assert st["folder"] == str(editor.tmp / "tune")
    assert st["status"].startswith("tune results: 6 candidate(s)")


def test_a_folder_that_is_not_a_tunes_is_one_line_naming_it(tmp_path):
    from nodeflow.editor.tune_panel import read_tune_manifest
    from nodeflow.errors import NodeflowError
    from nodeflow.sweep import SweepReport, write_manifest
    with pytest.raises(NodeflowError, match=r"no manifest.json in .*nowhere; open the folder `audiochain tune -o"):
        read_tune_manifest(tmp_path / "nowhere")
    write_manifest(SweepReport("", "grid", [], []), tmp_path / "sweep")
    with pytest.raises(NodeflowError, match=r"sweep.manifest.json is a sweep's manifest; open a folder `audiochain "
                                            r"tune` wrote \(View > Sweep\.\.\. shows sweeps\)"):
        read_tune_manifest(tmp_path / "sweep")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "manifest.json").write_text('{"format": "audiochain.tune", "varia')
    with pytest.raises(NodeflowError, match=r"cannot read .*half.manifest.json \(JSONDecodeError") as e:
        read_tune_manifest(tmp_path / "half" / "manifest.json")
    assert "\n" not in str(e.value)
