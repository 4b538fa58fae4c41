import json
import os
import re
from pathlib import Path

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
    for bad, msg in [("gain.gain_db=99", "out of range"), ("nope.x=1", "no node named 'nope' in the graph"),
                     ("gain.gain=1", "no parameter 'gain'"), ("gain.gain_db", "expected NODE.PARAM"),
                     ("tone.sample_rate=9..1", "A <= B"),
                     ("gain.gain_db=-6,,-3", "an empty value between two commas"),     # (QA: dropped without a word)
                     ("gain.gain_db=-6,-3,", "an empty value after the last comma"),
                     ('tone.shape="sine, x","square"', "quotes do not group values.*JSON list")]:
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
    # variants run concurrently: whichever started first computed the tone, the others took it
    assert sorted(r.ran for r in results) == [["gain", "stats"]] * 3 + [["gain", "stats", "tone"]]
    one_by_one = run_sweep(stub_graph, expand([parse_axis("gain.gain_db=-13,-7", stub_graph)]), tmp_path / "seq",
                           workers=1)
    assert [r.ran for r in one_by_one] == [["gain", "stats", "tone"], ["gain", "stats"]]


def test_batch_returns_results_in_order(stub_graph):
    res = batch(stub_graph, [{"gain.gain_db": -6.0}, {"gain.gain_db": 0.0}, {"gain.gain_db": -6.0}])
    peaks = [r.values["stats"]["peak"] for r in res]
    assert peaks[0] == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-3) and peaks[1] == pytest.approx(0.5, rel=1e-3)
    assert peaks[2] == peaks[0]


def test_batch_given_something_other_than_a_list_of_dicts_says_what_it_takes(stub_graph):
    """QA43: batch(g, "gain.gain_db=-6") raised AttributeError: 'str' object has no attribute 'items'."""
    from nodeflow.errors import ParameterError
    for bad, got in (("gain.gain_db=-6", "got a str"), ({"gain.gain_db": -6.0}, "got a dict"),
                     ([("gain.gain_db", -6.0)], "got a list holding a tuple")):
        with pytest.raises(ParameterError, match="overrides must be a list of dicts") as e:
            batch(stub_graph, bad)
        assert str(e.value).endswith(got)
    assert len(batch(stub_graph, ({"gain.gain_db": g} for g in (-6.0, 0.0)))) == 2      # any iterable of dicts


def test_each_sweep_error_names_its_option(stub_graph):
    """QA43: with several --sweep options, "sweep range '5..1': ..." did not say which one was wrong."""
    from nodeflow.errors import ParameterError
    for spec in ("gain.gain_db=5..1", 'gain.gain_db=["a", "b"', "gain.gain_db=0.5..2"):
        with pytest.raises(ParameterError) as e:
            parse_axis(spec, stub_graph)
        assert str(e.value).startswith(f"--sweep {spec!r}: ")


def test_a_batch_that_writes_nothing_leaves_no_folder(stub_graph, tmp_path, monkeypatch):
    """Each call left an empty /tmp/audiochain-batch-* folder behind (QA found 126)."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    batch(stub_graph, [{"gain.gain_db": -6.0}, {"gain.gain_db": 0.0}])
    assert not list(tmp_path.glob("audiochain-batch-*"))


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


def test_batch_takes_output_dir_as_invoke_and_run_do(audio_graph, tmp_path):
    """QA47: batch(g, ..., output_dir=...) was a bare TypeError (it said out_dir); both names work."""
    from nodeflow import ParameterError
    from nodeflow.fileformat import load as load_graph
    g = load_graph(audio_graph)
    res = batch(g, [{"gain.gain_db": -6.0}, {"gain.gain_db": 0.0}], output_dir=tmp_path / "o")
    assert all(Path(f).is_file() and Path(f).is_relative_to(tmp_path / "o") for r in res for f in r.outputs)
    assert len({f for r in res for f in r.outputs}) == 2
    old = batch(g, [{"gain.gain_db": -3.0}], out_dir=tmp_path / "old")
    assert Path(old[0].outputs[0]).is_relative_to(tmp_path / "old")
    with pytest.raises(ParameterError, match="give output_dir only"):
        batch(g, [{}], output_dir=tmp_path / "a", out_dir=tmp_path / "b")


def test_a_batch_names_its_variants_as_the_cli_and_a_failed_one_leaves_no_folder(audio_graph, tmp_path, capsys):
    """QA84 D2: batch named gain_db=-6 ``v000_gain_db=-6`` (the CLI: ``v000_gain_db=-6.0``), and a variant that
    failed while running (a loudness target the audio cannot reach) left an empty folder beside the takes."""
    from nodeflow.fileformat import load as load_graph
    g = load_graph(audio_graph)
    res = batch(g, [{"gain.gain_db": -6}, {"export.loudness_lufs": 0}, {"gain.gain_db": 100}],
                output_dir=tmp_path / "py")
    assert [r.status for r in res] == ["ok", "failed", "failed"]
    assert sorted(p.name for p in (tmp_path / "py").iterdir()) == ["v000_gain_db=-6.0"]
    assert main(["run", str(audio_graph), "-o", str(tmp_path / "cli"), "-q", "--sweep", "gain.gain_db=-6"]) == 0
    assert (tmp_path / "cli" / "v000_gain_db=-6.0" / "take.wav").is_file()


def test_cli_sweep_manifest_and_rerun_reproduces(audio_graph, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,0,6"]) == 0
    doc = json.loads((out / "manifest.json").read_text())
    assert [r["status"] for r in doc["variants"]] == ["ok"] * 3
    row = doc["variants"][2]
    assert row["params"] == {"gain.gain_db": 6.0} and row["durations_s"]["gain.out"] == 1.0
    assert doc["versions"]["numpy"] and doc["axes"] == [{"param": "gain.gain_db", "values": [-6.0, 0.0, 6.0]}]
    files = [str(out / r["outputs"][0]) for r in doc["variants"]]       # stored relative to the manifest
    assert len(set(files)) == 3 and all(f.endswith("take.wav") for f in files)
    assert str(tmp_path) not in (out / "manifest.json").read_text() + (out / "manifest.csv").read_text()
    levels = [np.abs(sf.read(f)[0]).max() for f in files]
    assert levels[1] == pytest.approx(0.3, rel=1e-3) and levels[2] == pytest.approx(0.3 * 10 ** 0.3, rel=1e-3)
    assert (out / "manifest.csv").read_text().count("\n") == 4
    umask = os.umask(0)
    os.umask(umask)
    for name in ("manifest.json", "manifest.csv"):        # readable like the audio beside it (was 0o600)
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask
    assert main(["rerun", str(out / "manifest.json"), "2", "-o", str(tmp_path / "again")]) == 0
    again = tmp_path / "again" / doc["variants"][2]["name"] / "take.wav"
    assert np.array_equal(sf.read(again)[0], sf.read(files[2])[0])
    name = doc["variants"][1]["name"]                  # a row by its name, as the manifest and its hint show it
    assert main(["rerun", str(out / "manifest.json"), name, "-o", str(tmp_path / "by_name")]) == 0
    assert np.array_equal(sf.read(tmp_path / "by_name" / name / "take.wav")[0], sf.read(files[1])[0])
    capsys.readouterr()          # -q as run takes it (QA72 L6: "unrecognized arguments: -q"): the files written
    assert main(["rerun", str(out / "manifest.json"), "0", "-o", str(tmp_path / "quiet"), "-q"]) == 0
    said = capsys.readouterr()
    assert said.out == f"wrote {tmp_path / 'quiet' / doc['variants'][0]['name'] / 'take.wav'}\n" and not said.err


def test_cli_sweep_failure_keeps_others_and_exits_nonzero(audio_graph, tmp_path, capsys):
    """What only running finds (a loudness target this audio cannot reach under its ceiling) fails its
    variant alone: the others are written, the manifest says which failed, the exit status is 1."""
    g = load(audio_graph)
    g.set("export", "bit_depth", "pcm24")
    save(g, audio_graph)
    out = tmp_path / "out"
    code = main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "export.loudness_lufs=-20,-1"])
    assert code == 1
    rows = json.loads((out / "manifest.json").read_text())["variants"]
    assert [r["status"] for r in rows] == ["ok", "failed"] and "cannot be reached" in rows[1]["error"]
    assert "1/2 variant(s) ok" in capsys.readouterr().out


def test_a_variant_that_would_be_refused_stops_the_sweep_before_anything_renders(audio_graph, tmp_path, capsys):
    """A value the checks before a run refuse (a missing input, a short last window under a loudness
    target) refuses the sweep before any variant renders, naming the variant, as validate does (QA: the
    other variants rendered first; validate said 'ok' of a saved sweep with ``last=keep``)."""
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
    err = capsys.readouterr().err
    assert code == 1 and "sweep v001_path=" in err and "missing.wav" in err, err
    assert not out.exists() or not any(out.rglob("*.wav"))
    # windows of 0.45 s of a 1 s clip: the last is 0.1 s, too short to measure; the drop variant is fine
    w = Graph()
    w.add("io.load", id="load", path=str(audio_graph.parent / "in.wav"))
    w.add("time.tokenize_window", id="win", size=0.45, last="keep")
    w.add("io.export", id="export", path="take.wav", loudness_lufs=-20.0)
    w.connect("load", "win")
    w.connect("win", "export")
    w.sweep = {"mode": "grid", "axes": [{"param": "win.last", "values": ["drop", "keep"]}]}
    path = save(w, tmp_path / "w.msgpack")
    assert main(["validate", str(path)]) == 1
    said = capsys.readouterr().out
    assert "sweep v001_last=keep: node 'export' (io.export): its shortest of 3 item(s)" in said, said
    assert "v000" not in said, said               # the saved keep is replaced by drop there: no problem
    assert main(["run", str(path), "-o", str(tmp_path / "wout"), "-q"]) == 1
    assert "sweep v001_last=keep" in capsys.readouterr().err
    assert not (tmp_path / "wout").exists() or not any((tmp_path / "wout").rglob("*.wav"))


def test_a_grid_pair_that_fails_together_stops_the_sweep_before_anything_renders(audio_graph, tmp_path, capsys,
                                                                              monkeypatch):
    """Every variant is checked, not only each value once: a trim's start after its end in one pair of
    a 2x2 grid (each value fine in another pair) rendered three variants and failed the fourth."""
    g = load(audio_graph)
    g.add("dsp.trim", id="trim")
    g.disconnect("export.audio")
    g.connect("gain", "trim")
    g.connect("trim", "export")
    save(g, audio_graph)
    out = tmp_path / "out"
    grid = ["--sweep", "trim.start_s=0.1,0.6", "--sweep", "trim.end_s=0.9,0.5"]
    assert main(["run", str(audio_graph), "-o", str(out), "-q", *grid]) == 1
    err = capsys.readouterr().err
    assert "sweep v003_start_s=0.6_end_s=0.5: node 'trim' (dsp.trim): end_s=0.5 is not after start_s=0.6" in err, err
    assert "each of its values passes in another variant, only not together" in err and "--zip" in err
    assert err.count("sweep v0") == 1 and not out.exists()
    # paired instead (0.1-0.9, 0.6-0.5 is still refused; 0.1-0.5 and 0.6-0.9 pass)
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--zip", "--sweep", "trim.start_s=0.1,0.6",
                 "--sweep", "trim.end_s=0.5,0.9"]) == 0
    # a sweep too large to check variant by variant checks each value once (in the first variant holding it)
    from nodeflow import sweepcheck
    monkeypatch.setattr(sweepcheck, "CHECK_EVERY_MAX", 3)
    assert main(["run", str(audio_graph), "-o", str(tmp_path / "big"), "-q", *grid]) == 1
    assert "v003" in capsys.readouterr().err        # rendered three, failed the fourth as it ran


def test_a_saved_sweep_export_path_leaving_the_folder_is_refused_before_anything_runs(audio_graph, tmp_path, capsys):
    """QA: ``validate`` refused a saved sweep's ``export.path=../evil.wav`` but ``run`` rendered the other
    variant first and failed that one late; the two resolved the path against different folders."""
    g = load(audio_graph)
    g.sweep = {"mode": "grid", "axes": [{"param": "export.path", "values": ["ok.wav", "../evil.wav"]}]}
    save(g, audio_graph)
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ")
    assert "sweep v001_path=evil.wav: " in line and f"{out / 'v001_path=evil.wav'} (to {out / 'evil.wav'})" in line
    assert not out.exists()                          # nothing rendered, no folder left
    assert main(["validate", str(audio_graph), "-o", str(out)]) == 1
    said = capsys.readouterr().out
    assert f"{out / 'v001_path=evil.wav'} (to {out / 'evil.wav'})" in said       # the same folder as run's


def test_a_sweep_is_checked_as_its_first_variant_not_as_the_saved_values(tmp_path, capsys):
    """QA: ``--sweep tokenize_window.last=drop`` was refused for the saved ``last=keep`` (its 0.1 s last
    window cannot be normalised), though no variant kept it."""
    sr = 16000
    t = np.arange(round(2.1 * sr)) / sr
    sf.write(tmp_path / "in.wav", 0.3 * np.sin(2 * np.pi * 330 * t), sr, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("time.tokenize_window", id="win", unit="seconds", size=1.0)
    g.add("io.export", id="export", path="w.wav", loudness_lufs=-20.0)
    g.connect("load", "win")
    g.connect("win", "export")
    save(g, tmp_path / "w.msgpack")
    assert main(["run", str(tmp_path / "w.msgpack"), "-o", str(tmp_path / "keep"), "-q"]) == 1
    assert "its shortest of 3 item(s) is 0.100 s" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "w.msgpack"), "-o", str(tmp_path / "o"), "-q", "--sweep", "win.last=drop"]) == 0
    assert sorted(p.name for p in (tmp_path / "o" / "v000_last=drop").iterdir()) == ["w_1.wav", "w_2.wav"]
    g.sweep = {"mode": "grid", "axes": [{"param": "win.last", "values": ["drop"]}]}
    save(g, tmp_path / "w.msgpack")
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "w.msgpack"), "-o", str(tmp_path / "o2")]) == 0, capsys.readouterr().out


def test_a_failed_variants_row_lists_the_files_its_other_exports_wrote(audio_graph, tmp_path, capsys):
    """A variant whose second export failed (a loudness it cannot reach) had written its first export's
    file, yet its manifest row listed no outputs and no nodes ran: the file was on disk, unlisted."""
    g = load(audio_graph)
    g.add("io.export", id="export2", path="take.flac")
    g.connect("gain", "export2")
    save(g, audio_graph)
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "export2.loudness_lufs=-20,-1"]) == 1
    ok, failed = json.loads((out / "manifest.json").read_text())["variants"]
    assert (ok["status"], failed["status"]) == ("ok", "failed") and "cannot be reached" in failed["error"]
    assert [Path(f).name for f in failed["outputs"]] == ["take.wav"]
    written = out / failed["outputs"][0]                   # stored relative to the manifest
    assert written.is_file() and sf.info(str(written)).frames == 16000
    assert failed["durations_s"]["gain.out"] == 1.0 and "export" in failed["nodes_ran"]
    assert "export2" not in failed["nodes_ran"]
    assert "take.wav" in (out / "manifest.csv").read_text().splitlines()[2]


def test_sweep_saved_in_graph_file(audio_graph, tmp_path):
    g = load(audio_graph)
    g.sweep = {"mode": "grid", "axes": [{"param": "gain.gain_db", "values": [-3.0, 3.0]}]}
    save(g, audio_graph)
    assert load(audio_graph).sweep == g.sweep
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q"]) == 0
    assert len(json.loads((out / "manifest.json").read_text())["variants"]) == 2


# ---------------------------------------------------------------------------------------- audit additions
def test_cli_grid_of_two_sweeps_and_zip(audio_graph, tmp_path, capsys):
    out = tmp_path / "grid"
    assert main(["run", str(audio_graph), "-o", str(out), "--sweep", "gain.gain_db=-6,0",
                 "--sweep", "export.bit_depth=pcm16,pcm24,float32"]) == 0
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["mode"] == "grid" and len(doc["variants"]) == 6
    assert {(r["params"]["gain.gain_db"], r["params"]["export.bit_depth"]) for r in doc["variants"]} == \
        {(g, b) for g in (-6.0, 0.0) for b in ("pcm16", "pcm24", "float32")}
    for r in doc["variants"]:   # each variant in its own, clearly named folder (relative to the manifest)
        assert Path(r["output_dir"]) == Path(r["name"]) and Path(r["outputs"][0]).parent == Path(r["name"])
        assert f"gain_db={r['params']['gain.gain_db']}" in r["name"]
        assert sf.info(str(out / r["outputs"][0])).subtype == {"pcm16": "PCM_16", "pcm24": "PCM_24", "float32": "FLOAT"}[
            r["params"]["export.bit_depth"]]
    err = capsys.readouterr().err   # progress: one line per finished variant
    assert "sweep: 6 variant(s) (grid)" in err and "[6/6] v00" in err     # variants finish in any order
    assert sorted(re.findall(r"\[\d/6\] (v00\d)_", err)) == [f"v00{i}" for i in range(6)]
    out = tmp_path / "zip"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--zip", "--sweep", "gain.gain_db=-6,0",
                 "--sweep", "export.bit_depth=pcm16,pcm24"]) == 0
    rows = json.loads((out / "manifest.json").read_text())["variants"]
    assert [r["params"] for r in rows] == [{"gain.gain_db": -6.0, "export.bit_depth": "pcm16"},
                                           {"gain.gain_db": 0.0, "export.bit_depth": "pcm24"}]
    assert main(["run", str(audio_graph), "-o", str(tmp_path / "bad"), "-q", "--zip", "--sweep", "gain.gain_db=-6,0",
                 "--sweep", "export.bit_depth=pcm16,pcm24,float32"]) == 1
    assert "equal length" in capsys.readouterr().err


def test_manifest_records_seed_checkpoints_versions_durations_in_json_and_csv(tmp_path):
    import csv
    from typing import Annotated

    from nodeflow import Audio, Range, Registry, node
    from nodeflow.sweep import SweepReport, write_manifest

    @node("gen.noise")
    def noise(*, seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
              seconds: Annotated[float, Range(0.1, 10.0, unit="s")] = 0.5) -> Audio:
        """Seeded noise that says which checkpoint made it (like a model node)."""
        x = np.random.default_rng(seed).standard_normal(round(seconds * 8000)) * 0.1
        return Audio(x, 8000).with_info(checkpoint="org/tiny-gen", revision=f"rev{seed % 2}")

    reg = Registry()
    reg.add(noise)
    g = Graph(reg)
    g.add("gen.noise", id="gen")
    variants = expand([parse_axis("gen.seed=1..3", g), parse_axis("gen.seconds=0.5,1", g)])
    results = run_sweep(g, variants, tmp_path)
    report = SweepReport("g.msgpack", "grid", [{"param": "gen.seed", "values": [1, 2, 3]}], results)
    js, cs = write_manifest(report, tmp_path)
    rows = json.loads(js.read_text())["variants"]
    assert len(rows) == 6 and rows[3]["seed"] == {"gen.seed": 2}
    assert rows[3]["checkpoints"] == {"gen.checkpoint": "org/tiny-gen", "gen.revision": "rev0"}
    assert rows[3]["durations_s"] == {"gen.out": 1.0} and rows[3]["status"] == "ok" and rows[3]["error"] == ""
    table = list(csv.DictReader(cs.open()))
    assert [r["name"] for r in table] == [r["name"] for r in rows]
    row = table[3]
    assert json.loads(row["params"]) == {"gen.seed": 2, "gen.seconds": 1.0} and json.loads(row["seed"]) == {"gen.seed": 2}
    assert json.loads(row["checkpoints"])["gen.revision"] == "rev0"
    assert json.loads(row["durations_s"]) == {"gen.out": 1.0} and row["status"] == "ok"
    versions = json.loads(row["versions"])
    assert versions["numpy"] == np.__version__ and versions["python"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".manifest")]   # written atomically


def test_rerun_applies_the_set_values_the_sweep_ran_with(audio_graph, tmp_path, capsys):
    """QA64 D1: `run --set ... --sweep ...` then `rerun` rendered without the --set values (another length,
    no adapter) and exited 0.  The manifest records them (a path relative to itself, no local folder) and
    rerun applies them; a --set given to rerun goes over them."""
    other = tmp_path / "takes" / "other.wav"
    other.parent.mkdir()
    sf.write(other, 0.1 * np.sin(2 * np.pi * 110 * np.arange(8000) / 16000), 16000, subtype="FLOAT")
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--set", "load.path=takes/other.wav",
                 "--set", "export.bit_depth=pcm16", "--sweep", "gain.gain_db=-6,6"]) == 0
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["set"] == ["load.path=../takes/other.wav", "export.bit_depth=pcm16"], doc["set"]
    assert str(tmp_path) not in (out / "manifest.json").read_text()
    made = out / doc["variants"][1]["name"] / "take.wav"
    assert main(["rerun", str(out / "manifest.json"), "1", "-o", str(tmp_path / "again")]) == 0
    again = tmp_path / "again" / doc["variants"][1]["name"] / "take.wav"
    assert sf.info(again).frames == sf.info(made).frames == 8000 and sf.info(again).subtype == "PCM_16"
    assert np.array_equal(sf.read(again)[0], sf.read(made)[0])
    assert main(["rerun", str(out / "manifest.json"), "1", "-o", str(tmp_path / "mine"), "--set",
                 "export.bit_depth=float32"]) == 0
    assert sf.info(tmp_path / "mine" / doc["variants"][1]["name"] / "take.wav").subtype == "FLOAT"


def test_rerun_keeps_a_manifests_export_path_in_the_output_folder(audio_graph, tmp_path, capsys):
    """QA66 H1: a stranger's manifest whose recorded --set sent the export to one of the receiver's own
    files (outside -o) made `rerun` replace it, exit 0.  Values read from a manifest are a saved
    sweep's: refused before anything runs, the file untouched; an export name recorded as typed is
    written in the variant's folder, not made whole against the manifest's."""
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--set", "export.path=mix.wav",
                 "--sweep", "gain.gain_db=-6,6"]) == 0
    (out / "mix.wav").write_bytes(b"the receiver's own file")       # beside the manifest: not the export's
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["set"] == ["export.path=mix.wav"], doc["set"]
    assert main(["rerun", str(out / "manifest.json"), "0", "-o", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / doc["variants"][0]["name"] / "mix.wav").is_file()
    mine = tmp_path / "mine" / "my_recording.wav"
    mine.parent.mkdir()
    mine.write_bytes(b"RIFF my own take")
    doc["set"] = [f"export.path={mine}"]
    (out / "manifest.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["rerun", str(out / "manifest.json"), "0", "-o", str(tmp_path / "third")]) == 1
    err = capsys.readouterr().err
    assert f"path='{mine}' writes outside the output folder" in err and len(err.strip().splitlines()) == 1, err
    assert mine.read_bytes() == b"RIFF my own take" and (out / "mix.wav").read_bytes() == b"the receiver's own file"
    assert not (tmp_path / "third").exists()


def test_a_sweep_over_a_template_variable_as_tune_varies_it(audio_graph, tmp_path, capsys):
    """QA64 D9: `run --sweep prompt.feel=swung,straight` was refused ("no parameter 'feel'") where `tune
    --vary prompt.feel=...` worked.  It sweeps the node's variables, the others kept; and a JSON list is
    not said to be split at commas (D8)."""
    g = load(audio_graph)
    g.add("text.prompt_template", id="prompt", template="{genre} in a {feel} groove with {fx}",
          variables="feel=straight; fx=tape echo")
    save(g, audio_graph)
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "--sweep", "prompt.feel=swung,half time"]) == 0
    rows = json.loads((out / "manifest.json").read_text())["variants"]
    assert [r["params"] for r in rows] == [{"prompt.variables": "feel=swung; fx=tape echo"},
                                          {"prompt.variables": "feel=half time; fx=tape echo"}]
    assert [r["prompt"].split(" in a ")[1] for r in rows] == ["swung groove with tape echo",
                                                              "half time groove with tape echo"]
    assert "split at commas" in capsys.readouterr().err            # "half time" has a space: said as split
    assert main(["run", str(audio_graph), "-o", str(tmp_path / "j"), "--sweep",
                 'prompt.genre=["folk, celtic", "dub"]']) == 0
    assert "split at commas" not in capsys.readouterr().err


def test_a_second_sweep_into_a_folder_keeps_the_first_ones_manifest(audio_graph, tmp_path, capsys):
    """QA64 D7: a second sweep into the same folder replaced the manifest without a word, and the first
    sweep's takes stayed described by nothing.  Its manifest is kept as manifest.earlier.json (rerun reads
    it), and that is said; the same sweep again replaces its own rows, with nothing said."""
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,6"]) == 0
    first = (out / "manifest.json").read_text()
    capsys.readouterr()
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,6"]) == 0
    assert "earlier" not in capsys.readouterr().err and not (out / "manifest.earlier.json").exists()
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "export.bit_depth=pcm16,pcm24"]) == 0
    err = capsys.readouterr().err
    assert f"note: {out} holds an earlier sweep's 2 variant folder(s) that this sweep does not make again " \
           "(v000_gain_db=-6.0, v001_gain_db=6.0); its manifest is kept as manifest.earlier.json" in err, err
    assert [(r["name"], r["params"]) for r in json.loads((out / "manifest.earlier.json").read_text())["variants"]] \
        == [(r["name"], r["params"]) for r in json.loads(first)["variants"]]
    assert [r["params"] for r in json.loads((out / "manifest.json").read_text())["variants"]] == [
        {"export.bit_depth": "pcm16"}, {"export.bit_depth": "pcm24"}]
    assert main(["rerun", str(out / "manifest.earlier.json"), "1", "-o", str(tmp_path / "again")]) == 0
    second = (out / "manifest.json").read_text()
    capsys.readouterr()       # QA122 D2: a third sweep replaced manifest.earlier.json, the first sweep's record
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-3"]) == 0
    assert "its manifest is kept as manifest.earlier-2.json" in capsys.readouterr().err
    rows = lambda text: [(r["name"], r["params"]) for r in json.loads(text)["variants"]]  # noqa: E731
    assert rows((out / "manifest.earlier.json").read_text()) == rows(first)
    assert rows((out / "manifest.earlier-2.json").read_text()) == rows(second)
    assert (out / "manifest.earlier-2.csv").exists() and (out / "manifest.earlier.csv").exists()
    assert main(["rerun", str(out / "manifest.earlier.json"), "0", "-o", str(tmp_path / "again0")]) == 0


def test_rerun_refuses_a_graph_changed_since_the_sweep(audio_graph, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,6"]) == 0
    g = load(audio_graph)
    g.set("gain", "gain_db", 3.0)      # not swept: a rerun would now sound different
    save(g, audio_graph)
    capsys.readouterr()
    assert main(["rerun", str(out / "manifest.json"), "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has changed since this sweep ran" in err[0]
    assert main(["rerun", str(out / "manifest.json"), "1", "--graph", str(audio_graph), "-o", str(tmp_path / "r")]) == 0


def test_rerun_of_a_manifest_far_from_its_graph_finds_it_here_and_says_to_pass_it_elsewhere(
        audio_graph, tmp_path, capsys, monkeypatch):
    """A sweep written three folders from its graph keeps the graph's file name alone.  On the machine that
    wrote it, rerun finds the graph where the sweep read it (QA97 D6: one's own sweep run with -o elsewhere
    needed --graph), and still refuses it once edited; elsewhere it says how to give the graph (QA88 D3: it
    said only "no such file", of a path that never existed)."""
    out = tmp_path / "a" / "b" / "c" / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,6"]) == 0
    assert json.loads((out / "manifest.json").read_text())["graph"] == "g.msgpack"
    capsys.readouterr()
    assert main(["rerun", str(out / "manifest.json"), "1", "-o", str(tmp_path / "here")]) == 0
    (made,) = (p for p in out.glob("v001_*/*.wav"))
    assert np.array_equal(sf.read(made)[0], sf.read(tmp_path / "here" / made.parent.name / made.name)[0])

    here = os.environ["AUDIOCHAIN_STATE_DIR"]
    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", str(tmp_path / "another-machine"))
    capsys.readouterr()
    assert main(["rerun", str(out / "manifest.json"), "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "row 1's graph 'g.msgpack' is not at" in err[0] and "by its file name alone" in err[0] \
        and f"audiochain rerun {out / 'manifest.json'} 1 --graph path/to/g.msgpack" in err[0], err
    assert main(["rerun", str(out / "manifest.json"), "1", "--graph", str(audio_graph), "-o", str(tmp_path / "r")]) == 0

    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", here)
    g = load(audio_graph)
    g.set("gain", "gain_db", 1.0)
    save(g, audio_graph)
    capsys.readouterr()
    assert main(["rerun", str(out / "manifest.json"), "1", "-o", str(tmp_path / "edited")]) == 1
    assert f"{audio_graph} has changed since this sweep ran" in capsys.readouterr().err


def test_a_rerun_refused_for_several_problems_says_each_on_its_own_line(audio_graph, tmp_path, capsys):
    """The variant's problems come from the refused graph itself, one per line as ``run`` says them."""
    g = load(audio_graph)
    g.add("io.load", id="other", path=str(audio_graph.parent / "in.wav"))
    g.add("io.export", id="export2", path="other.wav")
    g.connect("other", "export2")
    save(g, audio_graph)
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,6"]) == 0
    (audio_graph.parent / "in.wav").unlink()                  # both loads read it
    capsys.readouterr()
    assert main(["rerun", str(out / "manifest.json"), "1", "--allow-changed", "-o", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("  - ")]
    assert "2 problems:" in err and len(lines) == 2, err
    assert any("'load'" in line for line in lines) and any("'other'" in line for line in lines), err


def test_rerun_refuses_an_input_or_checkpoint_changed_since_the_sweep(audio_graph, tmp_path, capsys):
    """QA: an input edited, or a checkpoint folder re-exported in place, after the sweep: rerun rendered
    other audio without a word.  Each row records what it read, by content."""
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,6"]) == 0
    row = json.loads((out / "manifest.json").read_text())["variants"][1]
    assert set(row["reads"]) == {"load.path"}
    source = tmp_path / "in.wav"
    kept = source.read_bytes()
    x, sr = sf.read(source)
    sf.write(source, x[::-1], sr, subtype="FLOAT")       # the take reversed: same length, same name
    capsys.readouterr()
    assert main(["rerun", str(out / "manifest.json"), "1", "-o", str(tmp_path / "r1")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would not reproduce its audio: load.path is not what it was at the sweep" in err[0]
    assert "--allow-changed" in err[0] and not (tmp_path / "r1").exists()
    assert main(["rerun", str(out / "manifest.json"), "1", "-o", str(tmp_path / "r2"), "--allow-changed"]) == 0
    source.write_bytes(kept)                              # restored: the row renders as it did
    assert main(["rerun", str(out / "manifest.json"), "1", "-o", str(tmp_path / "r3"), "--no-cache"]) == 0
    take = row["outputs"][0]
    assert np.array_equal(sf.read(out / take)[0], sf.read(tmp_path / "r3" / take)[0])


def test_what_a_graph_reads_names_a_local_checkpoint_by_its_folder_state(tmp_path):
    from nodeflow.graphpaths import read_changes
    ck = tmp_path / "ckpt"
    ck.mkdir()
    (ck / "config.json").write_text('{"model_type": "musicgen"}')
    from safetensors.numpy import save_file
    save_file({"w": np.zeros(4, np.float32)}, str(ck / "model.safetensors"))
    g = Graph()
    g.add("models.musicgen", id="gen", checkpoint=str(ck))
    then = g.read_state()
    assert then["gen.checkpoint"].startswith("weights-")
    os.utime(ck / "model.safetensors", ns=(1, 1))          # touched, or copied back: the same model (QA)
    assert read_changes(then, g.read_state()) == []
    save_file({"w": np.ones(5, np.float32)}, str(ck / "model.safetensors"))      # re-exported in place
    assert read_changes(then, g.read_state()) == ["gen.checkpoint"]
    assert read_changes({"gen.checkpoint": "unresolved:NotDownloaded"}, g.read_state()) == []


def test_a_sweep_of_a_parameter_a_linked_input_replaces_is_refused(tmp_path, capsys):
    """QA: sweeping musicgen.prompt while a prompt template feeds its text input rendered three identical
    takes, and validate said ok."""
    g = Graph()
    g.add("text.prompt_template", id="words", template="{genre} groove", variables="genre=dub")
    g.add("models.musicgen", id="gen", duration_s=1.0)
    g.add("io.export", id="export", path="take.wav")
    g.connect("words", "gen.text")
    g.connect("gen", "export")
    g.sweep = {"mode": "grid", "axes": [{"param": "gen.prompt", "values": ["jazz", "metal"]}]}
    save(g, tmp_path / "g.msgpack")
    for cmd in ("validate", "run"):
        capsys.readouterr()
        assert main([cmd, str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "o")]) == 1
        said = capsys.readouterr()
        assert "sweep: gen.prompt does nothing while input 'text' of node 'gen' is linked (from 'words'" in \
            said.out + said.err
    assert not (tmp_path / "o").exists()


def test_a_sweep_of_a_bundle_reruns_from_the_bundle(audio_graph, tmp_path, capsys):
    """QA: a sweep run from a .acbundle named its private (removed) graph.msgpack: rerun said 'no such file'."""
    assert main(["pack", str(audio_graph), "-o", str(tmp_path / "song.acbundle")]) == 0
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "song.acbundle"), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,6"]) == 0
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["graph"] == "../song.acbundle"
    assert main(["rerun", str(out / "manifest.json"), "1", "-o", str(tmp_path / "again")]) == 0
    take = doc["variants"][1]["outputs"][0]
    assert np.array_equal(sf.read(out / take)[0], sf.read(tmp_path / "again" / take)[0])


def test_an_exported_variant_reopens_as_that_variant_not_the_sweep(audio_graph, tmp_path, capsys):
    g = load(audio_graph)
    g.sweep = {"mode": "grid", "axes": [{"param": "gain.gain_db", "values": [-9.0, 3.0]}]}
    save(g, audio_graph)
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q"]) == 0
    take = out / json.loads((out / "manifest.json").read_text())["variants"][1]["outputs"][0]
    again = load(take)
    assert again.sweep == {} and again.nodes["gain"].params["gain_db"] == 3.0
    assert main(["run", str(take), "-o", str(tmp_path / "again"), "-q"]) == 0
    assert not (tmp_path / "again" / "manifest.json").exists()
    assert np.array_equal(sf.read(tmp_path / "again" / "take.wav")[0], sf.read(take)[0])
    # --no-sweep runs the graph once; --sweep on the command line replaces the saved one
    assert main(["run", str(audio_graph), "-o", str(tmp_path / "once"), "-q", "--no-sweep"]) == 0
    assert (tmp_path / "once" / "take.wav").is_file() and not (tmp_path / "once" / "manifest.json").exists()
    assert main(["run", str(audio_graph), "-o", str(tmp_path / "cli"), "-q", "--sweep", "gain.gain_db=-1,-2,-3"]) == 0
    assert len(json.loads((tmp_path / "cli" / "manifest.json").read_text())["variants"]) == 3


def test_prompt_template_variables_sweep_like_any_parameter(tmp_path, capsys):
    g = Graph()
    g.add("text.prompt_template", id="prompt", template="{genre} at {bpm} bpm with {fx}", variables="fx=tape echo")
    res = batch(g, [{"prompt.genre": "dub", "prompt.bpm": 70}, {"prompt.genre": "jazz"},
                    {"prompt.variables": "fx=spring reverb"}])
    assert [r.values["prompt"]["out"] for r in res] == ["dub at 70 bpm with tape echo",
                                                        "jazz at 90 bpm with tape echo",
                                                        "lo-fi hip hop at 90 bpm with spring reverb"]
    path = save(g, tmp_path / "p.msgpack")
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out), "-q", "--sweep", "prompt.genre=dub,jazz",
                 "--sweep", 'prompt.variables=["fx=echo; era=1970s", "fx=tape"]']) == 0
    rows = json.loads((out / "manifest.json").read_text())["variants"]
    assert [r["params"] for r in rows] == [{"prompt.genre": g_, "prompt.variables": v}
                                           for g_ in ("dub", "jazz") for v in ("fx=echo; era=1970s", "fx=tape")]
    assert all(r["status"] == "ok" for r in rows)


def test_batch_keeps_going_past_a_failing_variant(stub_graph):
    """A failure in one variant (here: its input file is missing) is reported in order; others run."""
    g = Graph(stub_graph.registry)
    g.add("test.read", id="read", path=__file__)
    res = batch(g, [{}, {"read.path": "/nonexistent/file.txt"}, {}])
    assert [r.status for r in res] == ["ok", "failed", "ok"]
    assert "node 'read'" in res[1].error and "file.txt" in res[1].error and res[1].values is None
    assert res[2].values["read"]["out"] == res[0].values["read"]["out"] == Path(__file__).read_text()


def test_a_second_sweep_into_a_busy_folder_is_refused_and_no_rows_are_lost(audio_graph, tmp_path, capsys):
    from nodeflow.manifest import output_lock
    out = tmp_path / "out"
    with output_lock(out):                        # a sweep is writing there (another process, another window)
        assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another sweep is writing into this folder" in err[0]
    assert not out.exists() or not any(out.iterdir())                  # nothing written, lock gone
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,0"]) == 0
    assert len(json.loads((out / "manifest.json").read_text())["variants"]) == 2


def test_ranges_of_decimal_numbers_take_a_step(stub_graph):
    assert [v for v in parse_axis("gain.gain_db=-1.5..0:0.5", stub_graph).values] == [-1.5, -1.0, -0.5, 0.0]
    assert [v for v in parse_axis("gain.gain_db=-6..0:3", stub_graph).values] == [-6.0, -3.0, 0.0]
    with pytest.raises(ParameterError, match=r"non-whole numbers needs a step, e.g. -1.5..0:0.5"):
        parse_axis("gain.gain_db=-1.5..0", stub_graph)


def test_the_manifests_checkpoints_name_each_model_once_and_nothing_else():
    """QA: the column held the windows' tempo and meter tags (tokenize_window.bpm: "97.5"), and each
    node after a model named its checkpoint again."""
    from nodeflow.audio import Audio
    from nodeflow.manifest import OutputSummary
    g = Graph()
    g.add("dsp.gain", id="gen")
    g.add("dsp.gain", id="after")
    s = OutputSummary(g)
    made = Audio(np.zeros((1, 800), np.float32), 8000).with_info(checkpoint="org/m", revision="r1", adapter="mine",
                                                                 bpm="97.5", meter="4/4", title="take")
    s("gen", {"out": made})
    s("after", {"out": made.replace(made.samples * 0.5)})
    _, _, prov = s.merged(["gen", "after"])
    assert prov == {"gen.checkpoint": "org/m", "gen.revision": "r1", "gen.adapter": "mine"}


def test_the_prompt_is_in_the_manifest_when_what_it_fed_comes_from_the_cache(tmp_path):
    """QA: a sweep run again wrote "prompt": "" on every row: the model's output came from the cache,
    so the template that fed it was not needed and its text was never made."""
    import nodes
    from nodeflow import Executor, Registry, node
    from nodeflow.audio import Audio
    from nodeflow.sweep import run_sweep
    reg = Registry()
    reg.load_pack("builtin", nodes)

    @node("test.words")
    def words(text: str) -> Audio:
        """A clip as long as the text (a stand-in for a model)."""
        return Audio(np.zeros((1, 80 * len(text)), np.float32), 8000)
    reg.add(words)
    g = Graph(reg)
    g.add("text.prompt_template", id="prompt", template="{genre} groove")
    g.add("test.words", id="say")
    g.connect("prompt", "say")
    variants = expand([parse_axis("prompt.genre=dub,jazz", g)])
    ex = Executor(disk_cache=None)
    first = run_sweep(g, variants, tmp_path / "a", executor=ex)
    again = run_sweep(g, variants, tmp_path / "b", executor=ex)
    assert "say" not in again[0].ran                    # (from the cache: the template was not needed)
    assert [r.row()["prompt"] for r in again] == [r.row()["prompt"] for r in first] == ["dub groove", "jazz groove"]


def test_a_variants_name_never_cuts_a_number():
    """QA: names were cut at 80 characters, so a tune's seed 1210484339 showed as ``seed=1`` (the
    name of another variant's real seed) or ``seed=121``.  Text is shortened, marked ``...``; a
    number stays whole or is left out as ``_etc``."""
    from nodeflow.sweep import Variant
    long = "lo-fi jazzy piano in E minor with brushes, an upright bass and tape hiss, late at night"
    name = Variant(3, (("prompt.genre", long), ("prompt.mood", long[::-1]), ("prompt.instrument", long.upper()),
                       ("gen.seed", 1210484339))).name
    assert name.endswith("_seed=1210484339") and "…" in name and len(name) <= 85, name
    many = Variant(7, tuple((f"n{i}.gain_db", -12.25 - i) for i in range(9))).name
    assert many.endswith("_etc") and len(many) <= 85, many
    assert all(f"gain_db=-{12.25 + i:g}" in many for i in range(4)), many


def test_takes_of_one_name_in_different_folders_are_told_apart_in_folders_tracks_and_batches(tmp_path, capsys):
    """QA122 D3: a sweep over ``session1/vocal.wav`` and ``session2/vocal.wav`` named its variants (folders, DAW
    tracks) ``v000_path=vocal.wav`` and ``v001_path=vocal.wav``.  Paths of one file name are shown by as many
    of their last folders as tell them apart; every other value as before (a file name alone)."""
    import zipfile
    from nodeflow.sweepaxes import Axis
    values = ["session1/vocal.wav", "session2/vocal.wav", "/m/a/x/kick.wav", "/m/b/x/kick.wav", "snare.wav",
              "/long/folder/name/of/the/first/studio/day/take.wav",
              "/long/folder/name/of/the/second/studio/day/take.wav"]
    names = [v.name for v in expand([Axis("load", "path", tuple(values))])]
    assert names == ["v000_path=session1_vocal.wav", "v001_path=session2_vocal.wav", "v002_path=a_x_kick.wav",
                     "v003_path=b_x_kick.wav", "v004_path=snare.wav", "v005_path=first_…_take.wav",
                     "v006_path=second_…_take.wav"], names
    two = expand([Axis("load", "path", ("takes/a.wav", "b.wav")), Axis("gain", "gain_db", (1, 2))])
    assert [v.name for v in two][:2] == ["v000_path=a.wav_gain_db=1", "v001_path=a.wav_gain_db=2"]   # as before
    # QA123 D3: a path parameter's values with spaces are paths too, and a long folder shows where it differs
    days = ("evening session 2024-05-01/vocal.wav", "evening session 2024-05-02/vocal.wav", "solo take.wav")
    assert [v.name for v in expand([Axis("vox", "path", days, paths=True)])] == [
        "v000_path=…2024-05-01_…_vocal.wav", "v001_path=…2024-05-02_…_vocal.wav", "v002_path=solo_take.wav"]
    assert [v.name for v in expand([Axis("vox", "path", ("a very long folder name one/x.wav",
                                                         "a very long folder name two/x.wav"), paths=True)])] == [
        "v000_path=…er_name_one_…_x.wav", "v001_path=…er_name_two_…_x.wav"]
    for d in ("session1", "session2"):
        (tmp_path / d).mkdir()
        sf.write(tmp_path / d / "vocal.wav", np.zeros(1600, np.float32), 16000)
    g = Graph()
    g.add("io.load", id="vox", path="session1/vocal.wav")
    g.add("io.export", id="export", path="take.wav")
    g.connect("vox", "export")
    saved = save(g, tmp_path / "g.msgpack")
    out = tmp_path / "out"
    assert main(["run", str(saved), "-o", str(out), "-q", "--sweep", "vox.path=session1/vocal.wav,session2/vocal.wav",
                 "--daw", str(out / "takes.dawproject")]) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["v000_path=session1_vocal.wav",
                                                                   "v001_path=session2_vocal.wav"]
    xml = zipfile.ZipFile(out / "takes.dawproject").read("project.xml").decode()
    assert 'name="v000_path=session1_vocal.wav"' in xml and 'name="v001_path=session2_vocal.wav"' in xml
    rows = batch(load(saved), [{"vox.path": str(tmp_path / d / "vocal.wav")} for d in ("session1", "session2")],
                 output_dir=tmp_path / "b")
    assert [Path(r.output_dir).name for r in rows] == ["v000_path=session1_vocal.wav", "v001_path=session2_vocal.wav"]
    capsys.readouterr()        # QA123 D4: rerun wrote into rerun/v001_path=vocal.wav, not the row's name
    assert main(["rerun", str(out / "manifest.json"), "1"]) == 0
    assert f"wrote {out / 'rerun' / 'v001_path=session2_vocal.wav' / 'take.wav'}" in capsys.readouterr().out
    from nodeflow.sweepaxes import Variant
    for forged in ("../../x", "v001_path=a/../../x", "v002_x", "v001_\x00", "v001_a.", "w001", "v001_" + "x" * 300):
        assert Variant(1, (("vox.path", "a/b.wav"),), named=forged).name == "v001_path=b.wav", forged


def test_a_variants_name_keeps_the_words_of_its_text_in_any_script():
    """QA72 L1: a value with '/' was taken for a path (``AC/DC rock`` -> ``DC_rock``), non-ASCII letters
    were dropped (``Bjørk: ça va`` -> ``Bj_rk_a_va``), and names ended in dots, which Windows strips (the
    folder then is not the manifest's ``output_dir``).  Paths still show as their file name."""
    import unicodedata
    from nodeflow.sweep import Variant

    def name(value) -> str:
        return Variant(0, (("prompt.genre", value),)).name
    assert name("AC/DC rock") == "v000_genre=AC_DC_rock"
    assert name("lo-fi / boom bap") == "v000_genre=lo-fi_boom_bap"
    assert name("Bjørk: ça va — 日本 🎹") == "v000_genre=Bjørk_ça_va_日本"
    assert name(unicodedata.normalize("NFD", "Björk")) == "v000_genre=Björk"             # NFC, as typed
    assert name('a\\b?*<>|"q') == "v000_genre=a_b_q"
    assert name("..") == "v000_genre=_" and name("CON") == "v000_genre=CON"      # never a bare device name
    assert name("../../takes/up.wav") == "v000_genre=up.wav" and name("C:\\takes\\up.wav") == "v000_genre=up.wav"
    # a slash without a space is text too unless the value reads as a path (QA74: AC/DC -> DC, 東京/大阪 -> 大阪)
    assert [name(v) for v in ("AC/DC", "R&B/Soul", "東京/大阪")] == \
        ["v000_genre=AC_DC", "v000_genre=R_B_Soul", "v000_genre=東京_大阪"]
    assert name("takes/up.wav") == "v000_genre=up.wav" and name("/abs/up") == "v000_genre=up"
    for value in ("very " * 20, "slow.", "日本" * 60, "🎹a" * 90):
        got = Variant(12, (("prompt.genre", value), ("prompt.mood", value), ("gen.seed", 7))).name
        assert not got.endswith((".", " ")) and len(got.encode("utf-8")) <= 210 and got.endswith("_seed=7"), got
        assert not set(got) & set('/\\:*?"<>|'), got


def test_a_saved_sweep_is_checked_whole_by_validate_show_and_run(audio_graph, tmp_path, capsys, monkeypatch):
    """QA: a graph's saved sweep passed every check before the run: 10,000 values that would write 8.9
    million files were 'ok' in validate, unmentioned by show; --max-files counted one variant; paths of
    a sweep over load.path (~/.ssh/id_rsa) and export.path (/tmp/...) went unsaid until they ran."""
    g = load(audio_graph)
    g.sweep = {"mode": "grid", "axes": [{"param": "gain.gain_db", "values": [float(v) for v in range(-20, 5)]}]}
    save(g, audio_graph)
    capsys.readouterr()
    monkeypatch.setenv("AUDIOCHAIN_MAX_FILES", "10")
    assert main(["validate", str(audio_graph)]) == 1
    said = capsys.readouterr().out
    assert "sweep: its 25 variants would write 1 file(s) each, 25 in all; the limit is 10 files per run" in said
    assert main(["show", str(audio_graph)]) == 0
    assert "saved sweep: 25 variant(s) (grid) over gain.gain_db; all of them: 25 file(s) written" in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q"]) == 1
    assert "25 in all; the limit is 10 files per run" in capsys.readouterr().err and not out.exists()
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6..6", "--max-files", "3"]) == 1
    assert "13 in all; the limit is 3 files per run" in capsys.readouterr().err and not out.exists()
    monkeypatch.delenv("AUDIOCHAIN_MAX_FILES")
    secret = tmp_path / "private" / "key.wav"
    secret.parent.mkdir()
    secret.write_bytes(b"not audio at all")
    g.sweep = {"mode": "grid", "axes": [{"param": "load.path", "values": [str(secret)]},
                                        {"param": "export.path", "values": ["take.wav", "../../../up.wav"]}]}
    g.path = tmp_path / "shared" / "g.msgpack"
    g.path.parent.mkdir()
    from nodeflow.fileformat import dumps
    g.path.write_bytes(dumps(g, g.path.parent))         # as a stranger's graph file holds it
    capsys.readouterr()
    assert main(["validate", str(g.path), "-o", str(tmp_path / "o2")]) == 1
    said = capsys.readouterr().out
    assert f"reads outside its folder (a sweep value): load.path -> {secret}" in said
    assert "not a readable audio file" in said and "key.wav" in said     # every variant's: said once
    assert said.count("not a readable audio file") == 1, said
    assert "sweep v001_path=key.wav_path=up.wav: " in said and "writes outside the output folder" in said
    assert not (tmp_path / "o2").exists()


def test_a_bad_value_in_a_saved_sweep_names_the_axis_and_the_way_out(audio_graph, capsys):
    """QA: 'error: peak_db=5.9 is out of range (from -60 to 0 dB)TP' named neither the node nor the sweep."""
    g = load(audio_graph)
    g.sweep = {"mode": "grid", "axes": [{"param": "gain.gain_db", "values": [0.0, 99.0]}]}
    from nodeflow.fileformat import dumps
    audio_graph.write_bytes(dumps(g, audio_graph.parent))
    for argv in (["validate", str(audio_graph)], ["run", str(audio_graph), "-o", str(audio_graph.parent / "o"), "-q"]):
        assert main(argv) == 1
        cap = capsys.readouterr()
        said = cap.out + cap.err
        assert "saved sweep axis 'gain.gain_db' (node 'gain'): gain_db=99 is out of range" in said, said
        assert "--no-sweep" in said


@pytest.mark.parametrize("saved", [{"mode": "evil"}, {"mode": "grid", "axes": []},
                                   {"mode": "evil", "axes": [{"param": "gain.gain_db", "values": [-6.0]}]},
                                   {"mode": "grid", "axes": [{"param": "gain.gain_db", "values": []}]}])
def test_a_saved_sweep_of_no_known_mode_or_no_axes_is_refused(audio_graph, tmp_path, capsys, saved):
    """QA: a saved sweep with mode 'evil' and no axes passed validate, and run made a one-variant sweep;
    QA44: an axis with no values passed validate, and run said "0/0 variant(s) ok" (exit 0, no audio)."""
    g = load(audio_graph)
    g.sweep = saved
    save(g, audio_graph)
    assert main(["validate", str(audio_graph)]) == 1
    assert "--no-sweep" in capsys.readouterr().out
    assert main(["run", str(audio_graph), "-o", str(tmp_path / "o"), "-q"]) == 1
    assert "--no-sweep" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert main(["run", str(audio_graph), "-o", str(tmp_path / "o"), "-q", "--no-sweep"]) == 0


def test_an_auto_value_is_named_auto_in_folders_the_manifest_rerun_and_batch(tmp_path, capsys):
    """QA94 D6: ``--sweep win.note_value=auto,4`` named its first variant ``v000_note_value=None`` and the
    manifest said ``null``, though ``auto`` is what was typed and what every setter reads."""
    sr = 48000
    t = np.arange(2 * sr) / sr
    sf.write(tmp_path / "in.wav", 0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-(t % 0.5) * 6), sr)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("time.tokenize_window", id="win", bpm=120.0)
    g.add("io.export", id="export", path="take.wav")
    g.connect("load", "win")
    g.connect("win", "export")
    path = save(g, tmp_path / "g.msgpack")
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out), "-q", "--sweep", "win.note_value=auto,4"]) == 0
    doc = json.loads((out / "manifest.json").read_text())
    assert [r["name"] for r in doc["variants"]] == ["v000_note_value=auto", "v001_note_value=4"]
    assert doc["variants"][0]["params"] == {"win.note_value": "auto"}
    assert doc["axes"] == [{"param": "win.note_value", "values": ["auto", 4]}]
    assert "None" not in (out / "manifest.csv").read_text()
    assert main(["rerun", str(out / "manifest.json"), "v000_note_value=auto", "-o", str(tmp_path / "again")]) == 0
    again = sf.read(tmp_path / "again" / "v000_note_value=auto" / "take.wav")[0]
    assert np.array_equal(again, sf.read(out / "v000_note_value=auto" / "take.wav")[0])
    g.sweep = {"mode": "grid", "axes": [{"param": "win.note_value", "values": [None, 4]}]}     # saved in the file
    assert main(["run", str(save(g, tmp_path / "saved.msgpack")), "-o", str(tmp_path / "saved"), "-q"]) == 0
    assert (tmp_path / "saved" / "v000_note_value=auto" / "take.wav").is_file()
    res = batch(load(path), [{"win.note_value": None}, {"win.note_value": "auto"}], output_dir=tmp_path / "py")
    assert [r.variant.name for r in res] == ["v000_note_value=auto", "v001_note_value=auto"]


def test_a_variant_folder_or_reruns_folder_shipped_as_a_link_is_refused_and_nothing_is_written_there(
        audio_graph, tmp_path, capsys):
    """QA96 D1 (High): a stranger's song folder shipped ``out/v000_gain_db=-6.0 -> ~/Music/victim`` (or
    ``out/rerun -> ~/Music``); the documented sweep and ``rerun`` followed the link, wrote there and replaced
    an earlier export.  A folder AudioChain names itself is refused in one line when it is a link."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_bytes(b"mine")
    out = tmp_path / "out"
    out.mkdir()
    (out / "v000_gain_db=-6.0").symlink_to(victim)
    assert main(["run", str(audio_graph), "-o", str(out), "--sweep", "gain.gain_db=-6,0"]) == 1
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "v000_gain_db=-6.0: a sweep variant's folder is a symbolic link" in said, said
    assert [p.name for p in victim.iterdir()] == ["notes.txt"] and (victim / "notes.txt").read_bytes() == b"mine"
    assert not (out / "v001_gain_db=0.0").exists()                 # refused before anything ran
    from nodeflow.fileformat import load as load_graph
    res = batch(load_graph(audio_graph), [{"gain.gain_db": -6}], output_dir=out)     # (no check before: alone)
    assert res[0].status == "failed" and "symbolic link" in res[0].error
    assert [p.name for p in victim.iterdir()] == ["notes.txt"]
    (out / "v000_gain_db=-6.0").unlink()
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,0"]) == 0
    (out / "rerun").symlink_to(victim)
    capsys.readouterr()
    assert main(["rerun", str(out / "manifest.json"), "0"]) == 1
    said = capsys.readouterr().err
    assert "rerun's output folder is a symbolic link" in said and [p.name for p in victim.iterdir()] == ["notes.txt"]
    (out / "rerun").unlink()
    (out / "rerun").mkdir()
    (out / "rerun" / "v000_gain_db=-6.0").symlink_to(victim)
    assert main(["rerun", str(out / "manifest.json"), "0"]) == 1
    assert "a sweep variant's folder is a symbolic link" in capsys.readouterr().err
    assert [p.name for p in victim.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("field", ["absolute", "far up", "link beside", "no digest"])
def test_a_manifests_graph_that_a_sweep_never_writes_is_refused_unless_given_with_graph(
        audio_graph, tmp_path, capsys, field):
    """QA96 D2: a stranger's manifest named one's own graph by an absolute path, ``../../../`` or a link shipped
    beside it, with an empty digest, and ``rerun`` rendered it (its far inputs found again) into the stranger's
    folder.  A sweep writes its graph relative to the manifest (at most two folders up) with its digest."""
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,0"]) == 0
    inbox = tmp_path / "inbox" / "a" / "b" / "song"
    inbox.mkdir(parents=True)
    doc = json.loads((out / "manifest.json").read_text())
    doc["graph"] = {"absolute": str(audio_graph), "far up": os.path.relpath(audio_graph, inbox),
                    "link beside": "theirs.msgpack", "no digest": "theirs.msgpack"}[field]
    if field != "absolute" and field != "far up":
        (inbox / "theirs.msgpack").symlink_to(audio_graph)
    if field != "link beside":
        doc["graph_sha256"] = ""
    (inbox / "manifest.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["rerun", str(inbox / "manifest.json"), "0"]) == 1
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "--graph" in said and "came from elsewhere or was edited" in said, said
    assert not (inbox / "rerun").exists()
    assert main(["rerun", str(inbox / "manifest.json"), "0", "--graph", str(audio_graph), "-q"]) == 0   # one's own


def test_a_manifests_set_value_through_a_link_beside_the_graph_is_refused(audio_graph, tmp_path, capsys,
                                                                          monkeypatch):
    """QA97 D1: a stranger's manifest recorded ``--set load.path=priv/memo.wav`` where ``priv`` is a link shipped
    beside the graph into the user's private folder: judged from the manifest's folder (where nothing is), it
    was read from the graph's, through the link, into the render."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    private = tmp_path / "home" / "private"
    private.mkdir(parents=True)
    sf.write(private / "memo.wav", np.zeros(1600), 16000)
    (tmp_path / "priv").symlink_to(private)                      # beside the graph (tmp_path/g.msgpack)
    out = tmp_path / "out"
    assert main(["run", str(audio_graph), "-o", str(out), "-q", "--sweep", "gain.gain_db=-6,0"]) == 0
    doc = json.loads((out / "manifest.json").read_text())
    doc["set"] = ["load.path=priv/memo.wav"]
    for row in doc["variants"]:
        row.pop("reads", None)
    (out / "manifest.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["rerun", str(out / "manifest.json"), "0"]) == 1
    said = capsys.readouterr().err
    assert "never saves in a graph file" in said and "memo.wav" in said, said
    assert not (out / "rerun").exists() or not any((out / "rerun").rglob("*.wav"))
