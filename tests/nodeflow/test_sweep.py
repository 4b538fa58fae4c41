import json

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Graph, ParameterError, load, save
from nodeflow.cli import main
from nodeflow.sweep import batch, expand, parse_axis, run_sweep
from tests.nodeflow.stubs import CALLS, registry


@pytest.fixture
def stub_graph():
    CALLS.clear()
    g = Graph(registry())
    g.add("test.tone", id="tone", duration_s=0.5)
    g.add("test.gain", id="gain")
    g.add("test.stats", id="stats")
    g.connect("tone", "gain")
    g.connect("gain", "stats")
    return g


def test_parse_axis_values_ranges_json(stub_graph):
    assert parse_axis("gain.gain_db=-6,0,3.5", stub_graph).values == (-6.0, 0.0, 3.5)
    assert parse_axis("tone.sample_rate=8000..8002", stub_graph).values == (8000, 8001, 8002)
    assert parse_axis("tone.sample_rate=8000..8010:5", stub_graph).values == (8000, 8005, 8010)
    assert [v.value for v in parse_axis('tone.shape=["sine", "square"]', stub_graph).values] == ["sine", "square"]
    for bad, msg in [("gain.gain_db=99", "out of range"), ("nope.x=1", "no node 'nope'"),
                     ("gain.gain=1", "no parameter 'gain'"), ("gain.gain_db", "expected NODE.PARAM"),
                     ("tone.sample_rate=9..1", "A <= B")]:
        with pytest.raises(ParameterError, match=msg):
            parse_axis(bad, stub_graph)


def test_expand_grid_and_zip(stub_graph):
    a = parse_axis("gain.gain_db=-6,0", stub_graph)
    b = parse_axis("tone.freq_hz=100,200,300", stub_graph)
    grid = expand([a, b])
    assert len(grid) == 6 and grid[5].as_dict() == {"gain.gain_db": 0.0, "tone.freq_hz": 300.0}
    with pytest.raises(ParameterError, match="equal length"):
        expand([a, b], "zip")
    z = expand([a, parse_axis("tone.freq_hz=100,200", stub_graph)], "zip")
    assert [v.as_dict() for v in z] == [{"gain.gain_db": -6.0, "tone.freq_hz": 100.0},
                                        {"gain.gain_db": 0.0, "tone.freq_hz": 200.0}]
    assert z[1].name == "v001_gain_db=0.0_freq_hz=200.0"


def test_sweep_shares_upstream_work(stub_graph, tmp_path):
    variants = expand([parse_axis("gain.gain_db=-12,-6,0,6", stub_graph)])
    results = run_sweep(stub_graph, variants, tmp_path)
    assert [r.status for r in results] == ["ok"] * 4
    assert CALLS["tone"] == 1 and CALLS["gain"] == 4
    assert results[0].ran == ["gain", "stats", "tone"] and results[1].ran == ["gain", "stats"]


def test_batch_returns_results_in_order(stub_graph):
    res = batch(stub_graph, [{"gain.gain_db": -6.0}, {"gain.gain_db": 0.0}, {"gain.gain_db": -6.0}])
    peaks = [r.values["stats"]["peak"] for r in res]
    assert peaks[0] == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-3) and peaks[1] == pytest.approx(0.5, rel=1e-3)
    assert peaks[2] == peaks[0]


@pytest.fixture
def audio_graph(tmp_path):
    sr = 16000
    t = np.arange(sr) / sr
    sf.write(tmp_path / "in.wav", 0.3 * np.sin(2 * np.pi * 330 * t), sr, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("dsp.gain", id="gain")
    g.add("io.export", id="export", path="take.wav", bit_depth="float32")
    g.connect("load", "gain")
    g.connect("gain", "export")
    return save(g, tmp_path / "g.msgpack")


def test_cli_sweep_manifest_and_rerun_reproduces(audio_graph, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,0,6"]) == 0
    doc = json.loads((out / "manifest.json").read_text())
    assert [r["status"] for r in doc["variants"]] == ["ok"] * 3
    row = doc["variants"][2]
    assert row["params"] == {"gain.gain_db": 6.0} and row["durations_s"]["gain.out"] == 1.0
    assert doc["versions"]["numpy"] and doc["axes"] == [{"param": "gain.gain_db", "values": [-6.0, 0.0, 6.0]}]
    files = [r["outputs"][0] for r in doc["variants"]]
    assert len(set(files)) == 3 and all(f.endswith("take.wav") for f in files)
    levels = [np.abs(sf.read(f)[0]).max() for f in files]
    assert levels[1] == pytest.approx(0.3, rel=1e-3) and levels[2] == pytest.approx(0.3 * 10 ** 0.3, rel=1e-3)
    assert (out / "manifest.csv").read_text().count("\n") == 4
    assert main(["rerun", str(out / "manifest.json"), "2", "-o", str(tmp_path / "again")]) == 0
    again = tmp_path / "again" / doc["variants"][2]["name"] / "take.wav"
    assert np.array_equal(sf.read(again)[0], sf.read(files[2])[0])


def test_cli_sweep_failure_keeps_others_and_exits_nonzero(audio_graph, tmp_path, capsys):
    g = load(audio_graph)
    g.add("io.load", id="other", path=str(audio_graph.parent / "in.wav"))
    g.add("dsp.mix", id="mix")
    g.add("io.export", id="export2", path="mix.wav")
    g.connect("gain", "mix.a")
    g.connect("other", "mix.b")
    g.connect("mix", "export2")
    save(g, audio_graph)
    out = tmp_path / "out"
    code = main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep",
                 f"other.path={audio_graph.parent / 'in.wav'},{audio_graph.parent / 'missing.wav'}"])
    assert code == 1
    rows = json.loads((out / "manifest.json").read_text())["variants"]
    assert [r["status"] for r in rows] == ["ok", "failed"] and "missing.wav" in rows[1]["error"]
    assert "1/2 variant(s) ok" in capsys.readouterr().out


def test_sweep_saved_in_graph_file(audio_graph, tmp_path):
    g = load(audio_graph)
    g.sweep = {"mode": "grid", "axes": [{"param": "gain.gain_db", "values": [-3.0, 3.0]}]}
    save(g, audio_graph)
    assert load(audio_graph).sweep == g.sweep
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q"]) == 0
    assert len(json.loads((out / "manifest.json").read_text())["variants"]) == 2
