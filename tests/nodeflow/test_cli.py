"""The ``audiochain`` CLI, in-process (``main([...])``) and as a real process: run (progress per node,
summary, -o, --set, --target), validate, show, nodes, extract, and one clear line per user mistake."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgpack
import numpy as np
import pytest
import soundfile as sf

from nodeflow import Graph, load, save
from nodeflow.cli import main

ROOT = Path(__file__).resolve().parents[2]
RATE = 22050


@pytest.fixture
def graph_file(tmp_path) -> Path:
    """load (a 1 s, 0.5 peak sine) -> gain -> export, saved with a title; inputs relative to the file."""
    t = np.arange(RATE) / RATE
    sf.write(tmp_path / "in.wav", 0.5 * np.sin(2 * np.pi * 440 * t), RATE, subtype="FLOAT")
    g = Graph()
    g.path = tmp_path / "song.msgpack"
    g.metadata = {"title": "Test song", "description": "a sine, quieter"}
    g.add("io.load", id="load", path="in.wav")
    g.add("dsp.gain", id="gain", gain_db=-6.0)
    g.add("io.export", id="export", path="take.wav", bit_depth="float32")
    g.connect("load", "gain")
    g.connect("gain", "export")
    return save(g, g.path)


def peak_db(path: Path) -> float:
    return float(20 * np.log10(np.abs(sf.read(path)[0]).max()))


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def patch_doc(src: Path, dest: Path, edit) -> Path:
    doc = msgpack.unpackb(src.read_bytes())
    edit(doc)
    dest.write_bytes(msgpack.packb(doc))
    return dest


# ---------------------------------------------------------------------------------------- run
def test_run_reports_each_node_and_the_outputs(graph_file, tmp_path, capsys):
    out = tmp_path / "renders"
    assert main(["run", str(graph_file), "-o", str(out)]) == 0
    cap = capsys.readouterr()
    for nid in ("load", "gain", "export"):
        assert f"  run    {nid}" in cap.err and f"  done   {nid} (" in cap.err
    assert "ran 3 node(s), 0 from cache" in cap.err
    assert cap.out.strip().splitlines() == [f"wrote {out / 'take.wav'}"]
    assert sf.info(out / "take.wav").frames == RATE
    assert peak_db(out / "take.wav") == pytest.approx(-6 - 6.0206, abs=0.01)


def test_run_with_two_failing_nodes_says_each_and_writes_the_rest(tmp_path, capsys):
    """QA: an export refusing a silent clip and a variation with a bad pattern failed in one run; only
    the variation's error was printed, and the export written beside them was not listed.  (Here a
    take damaged in its middle fails as it is read: a bad pattern is now refused before the run.)"""
    sf.write(tmp_path / "silence.wav", np.zeros(RATE, np.float32), RATE)
    t = np.arange(20 * RATE) / RATE
    sf.write(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 220 * t[:RATE]), RATE)
    sf.write(tmp_path / "take.flac", 0.5 * np.sin(2 * np.pi * 220 * t), RATE, subtype="PCM_16")
    data = (tmp_path / "take.flac").read_bytes()         # damaged in its middle: it fails only as it is read
    (tmp_path / "take.flac").write_bytes(data[:len(data) // 2] + bytes(len(data) // 10) + data[len(data) * 6 // 10:])
    g = Graph()
    g.path = tmp_path / "multi.msgpack"
    g.add("io.load", id="quiet", path="silence.wav")
    g.add("io.load", id="tone", path="tone.wav")
    g.add("io.export", id="loud", path="bad.wav", loudness_lufs=-14.0)
    g.add("io.export", id="good", path="good.wav")
    g.add("io.load", id="take", path="take.flac")
    g.add("dsp.gain", id="vary", gain_db=-3.0)
    g.add("io.export", id="varied", path="varied.wav", loudness_lufs=-20.0)
    g.connect("quiet", "loud")
    g.connect("tone", "good")
    g.connect("take", "vary")
    g.connect("vary", "varied")
    save(g, g.path)
    out = tmp_path / "o"
    assert main(["run", str(g.path), "-o", str(out)]) == 1
    cap = capsys.readouterr()
    errors = [l for l in cap.err.splitlines() if l.startswith("error: ")]
    assert len(errors) == 2, cap.err
    assert any("node 'loud'" in e and "silent" in e for e in errors), errors
    assert any("node 'take'" in e and "truncated" in e for e in errors), errors
    assert "2 node(s) failed, 1 file(s) written" in cap.err
    assert cap.out.strip().splitlines() == [f"wrote {out / 'good.wav'}"]
    assert sorted(p.name for p in out.iterdir()) == ["good.wav"]


def test_run_prints_a_text_output_whole(tmp_path, capsys):
    """QA: `run --target prompt` cut the prompt at 100 characters ("..., 8..."): the way to read a
    template's result from the CLI."""
    g = Graph()
    g.path = tmp_path / "p.msgpack"
    long = "lo-fi hip hop track with dusty rhodes piano, soft drums and upright bass, warm, nostalgic mood, {bpm} bpm"
    g.add("text.prompt_template", id="prompt", template=long + ", in {key}", bpm=84, key="D minor")
    save(g, g.path)
    assert main(["run", str(g.path), "-q", "-o", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().out.strip() == "prompt.out: " + long.replace("{bpm}", "84") + ", in D minor"


def test_run_without_o_writes_to_the_current_folder(graph_file, tmp_path, capsys, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["run", str(graph_file), "-q"]) == 0
    assert (work / "take.wav").is_file()
    assert capsys.readouterr().err == ""     # -q: no progress


def test_set_overrides_parameters_for_this_run_only(graph_file, tmp_path, capsys):
    before = graph_file.read_bytes()
    assert main(["run", str(graph_file), "-o", str(tmp_path / "o"), "-q",
                 "--set", "gain.gain_db=-12", "--set", "export.path=louder/x.flac",
                 "--set", "export.bit_depth=pcm24"]) == 0
    out = tmp_path / "o" / "louder" / "x.flac"
    assert sf.info(out).subtype == "PCM_24"
    assert peak_db(out) == pytest.approx(-12 - 6.0206, abs=0.01)
    assert graph_file.read_bytes() == before          # the graph file is not changed


def test_an_input_path_typed_with_set_is_from_the_current_folder(graph_file, tmp_path, capsys, monkeypatch):
    """QA88 D4: `--set load.path=takes/a.wav`, a path the shell completed from the current folder, was
    looked for beside the graph file (and not found there); one beside the graph still means that one."""
    here = tmp_path / "session"
    (here / "takes").mkdir(parents=True)
    sf.write(here / "takes" / "a.wav", 0.25 * np.sin(2 * np.pi * 220 * np.arange(RATE // 2) / RATE), RATE,
             subtype="FLOAT")
    monkeypatch.chdir(here)
    assert main(["run", str(graph_file), "-o", str(tmp_path / "o"), "-q", "--set", "load.path=takes/a.wav"]) == 0
    assert sf.info(tmp_path / "o" / "take.wav").frames == RATE // 2
    assert peak_db(tmp_path / "o" / "take.wav") == pytest.approx(20 * np.log10(0.25) - 6.0, abs=0.01)
    assert main(["run", str(graph_file), "-o", str(tmp_path / "o2"), "-q", "--set", "load.path=in.wav"]) == 0
    assert sf.info(tmp_path / "o2" / "take.wav").frames == RATE      # beside the graph: the graph's own input
    capsys.readouterr()
    assert main(["run", str(graph_file), "-o", str(tmp_path / "o3"), "-q", "--set", "load.path=takes/none.wav"]) == 1
    assert "input file path='takes/none.wav' not found" in capsys.readouterr().err


def test_target_computes_only_what_the_node_needs(graph_file, tmp_path, capsys):
    assert main(["run", str(graph_file), "-o", str(tmp_path / "o"), "--target", "gain"]) == 0
    cap = capsys.readouterr()
    assert "ran 2 node(s)" in cap.err and "export" not in cap.err
    assert cap.out.strip() == f"gain.out: audio 1.000 s, {RATE} Hz, 1 ch"
    assert not (tmp_path / "o").exists()


def test_run_an_exported_file_renders_it_again(graph_file, tmp_path, capsys):
    assert main(["run", str(graph_file), "-o", str(tmp_path / "a"), "-q"]) == 0
    assert main(["run", str(tmp_path / "a" / "take.wav"), "-o", str(tmp_path / "b"), "-q"]) == 0
    assert np.array_equal(sf.read(tmp_path / "a" / "take.wav")[0], sf.read(tmp_path / "b" / "take.wav")[0])


# ---------------------------------------------------------------------------------------- validate / show
def test_validate_ok(graph_file, capsys):
    assert main(["validate", str(graph_file)]) == 0
    assert capsys.readouterr().out.strip() == f"{graph_file}: ok (3 nodes, 2 links)"


def test_validate_lists_every_problem_at_once(graph_file, tmp_path, capsys):
    def edit(doc):
        doc["nodes"][0]["params"]["path"] = "gone.wav"                   # missing input file
        doc["nodes"][1]["params"]["gain_db"] = 99.0                     # out of range
        doc["nodes"].append({"id": "verb", "type": "fx.reverbb", "version": 1, "params": {}})   # unknown type
        doc["nodes"].append({"id": "fade", "type": "dsp.fade", "version": 1, "params": {}})     # input not connected
        doc["links"].append({"from": ["export", "out"], "to": ["fade", "audio"]})             # str into Audio
    bad = patch_doc(graph_file, tmp_path / "bad.msgpack", edit)
    assert main(["validate", str(bad)]) == 1
    text = capsys.readouterr().out
    assert text.startswith(f"{bad}: 4 problem(s):")
    assert "gone.wav" in text and "not found" in text
    assert "gain_db=99 is out of range (from -60 to 24 dB)" in text
    assert "unknown node type 'fx.reverbb'" in text
    assert "type mismatch" in text and "'export.out' gives str" in text


def test_validate_takes_run_s_sweep_options_and_names_the_variant_run_refuses(graph_file, tmp_path, capsys):
    """QA73 D8: `validate --sweep` was an unrecognized argument, though run takes it; validate checks
    every variant and says the line run refuses the sweep with."""
    sweep = ["--sweep", "load.path=in.wav,gone.wav", "-o", str(tmp_path / "o")]
    assert main(["run", str(graph_file), *sweep, "-q"]) == 1
    refused = one_error_line(capsys.readouterr().err).removeprefix("error: ")
    assert refused.startswith("sweep v001_path=gone.wav: node 'load': input file path='gone.wav' not found")
    assert main(["validate", str(graph_file), *sweep]) == 1
    assert capsys.readouterr().out.splitlines() == [f"{graph_file}: 1 problem(s):", f"  - {refused}"]
    assert main(["validate", str(graph_file), "--sweep", "gain.gain_db=-3,-9", "--zip", "--sweep", "load.path=in.wav"]) == 1
    assert capsys.readouterr().out.splitlines()[1] == ("  - sweep: --zip needs sweeps of equal length; got gain.gain_db: 2, "
                                                       "load.path: 1")
    assert main(["validate", str(graph_file), "--sweep", "gain.gain_db=-3,-9"]) == 0
    assert not (tmp_path / "o").exists()


def test_show_is_readable_and_json_is_the_document(graph_file, capsys):
    assert main(["show", str(graph_file)]) == 0
    text = capsys.readouterr().out
    assert "title: Test song" in text and "nodes (3):" in text and "links (2):" in text
    assert "gain_db=-6.0 dB" in text and "load.out -> gain.audio" in text
    assert main(["show", str(graph_file), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "audiochain.graph" and doc["metadata"]["title"] == "Test song"
    assert [n["id"] for n in doc["nodes"]] == ["load", "gain", "export"]
    assert doc["nodes"][1]["params"] == {"gain_db": -6.0}
    assert {"from": ["gain", "out"], "to": ["export", "audio"]} in doc["links"]


def test_show_says_auto_for_a_parameter_worked_out_from_the_input(graph_file, tmp_path, capsys):
    """QA: ``show`` printed 'bpm=None bpm' for bpm=auto."""
    g = load(graph_file)
    g.add("time.tokenize_window", id="win", unit="bars", size=1, bpm="auto")
    g.connect("gain", "win")
    save(g, tmp_path / "auto.msgpack")
    assert main(["show", str(tmp_path / "auto.msgpack")]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if "time.tokenize_window" in l)
    assert "bpm=auto" in line and "None" not in line, line


# ---------------------------------------------------------------------------------------- nodes
def test_show_says_the_estimate_is_not_known_without_the_input(graph_file, tmp_path, capsys):
    """QA: with its input missing, show estimated "peak memory about 0 bytes ... about 0 s"."""
    (tmp_path / "in.wav").unlink()
    assert main(["show", str(graph_file)]) == 0
    out = capsys.readouterr().out
    assert "estimate (before running): not known, input file(s) not found: load.path" in out and "0 bytes" not in out


def test_nodes_lists_every_type_with_ports_and_parameters(capsys):
    assert main(["nodes"]) == 0
    text = capsys.readouterr().out
    for cat in ("[io]", "[dsp]"):
        assert cat in text
    for nid in ("io.load", "io.export", "dsp.resample", "dsp.gain", "dsp.crossfade", "time.tokenize_window"):
        assert f"  {nid} v" in text
    assert "      gain_db (float) = 0.0  [-60, 24] dB" in text and "--gain_db" not in text   # not a run flag
    assert text.rstrip().endswith("set a parameter for one run with: audiochain run GRAPH --set NODE_ID.PARAM=VALUE")


def test_nodes_for_one_type_a_category_and_json(capsys):
    assert main(["nodes", "io.export"]) == 0
    text = capsys.readouterr().out
    assert "io.export v2  (audio: Audio) -> out: str" in text and "io.load" not in text
    assert "      loudness_lufs (float)" in text and "      peak_db (float)" in text
    assert main(["nodes", "dsp", "--json"]) == 0
    specs = json.loads(capsys.readouterr().out)
    assert specs and all(s["category"] == "dsp" for s in specs)
    gain = next(s for s in specs if s["id"] == "dsp.gain")
    assert gain["inputs"] == {"audio": {"type": "Audio", "required": True, "doc": "The clip to make louder or quieter."}}
    assert gain["params"]["gain_db"]["unit"] == "dB"


# ---------------------------------------------------------------------------------------- extract
def test_extract_refuses_to_overwrite_without_force(graph_file, tmp_path, capsys):
    assert main(["run", str(graph_file), "-o", str(tmp_path / "o"), "-q"]) == 0
    dest = tmp_path / "back.msgpack"
    dest.write_bytes(b"mine")
    assert main(["extract", str(tmp_path / "o" / "take.wav"), "-o", str(dest)]) == 1
    assert one_error_line(capsys.readouterr().err) == f"error: {dest} exists; pass --force to overwrite it"
    assert dest.read_bytes() == b"mine"
    assert main(["extract", str(tmp_path / "o" / "take.wav"), "-o", str(dest), "--force"]) == 0
    assert load(dest).nodes["gain"].params["gain_db"] == -6.0


def test_extract_to_a_folder_or_a_read_only_one_names_the_path_given(graph_file, tmp_path, capsys, monkeypatch):
    """QA63 D3: -o a folder said "pass --force", and --force then named AudioChain's temp file
    (".adir.18686-dtddh93g.tmp: Is a directory; free some space ..."); a read-only folder was named by
    that temp file too.  Each is one line naming the path given, nothing left in the folder."""
    import errno
    import tempfile
    assert main(["run", str(graph_file), "-o", str(tmp_path / "o"), "-q"]) == 0
    take, folder = str(tmp_path / "o" / "take.wav"), tmp_path / "adir"
    folder.mkdir()
    for force in ([], ["--force"]):
        assert main(["extract", take, "-o", str(folder), *force]) == 1
        assert one_error_line(capsys.readouterr().err) == (f"error: {folder} is a folder; give the graph file's "
                                                           f"name, e.g. -o {folder}/take.msgpack")
    assert list(folder.iterdir()) == []
    with pytest.raises(IsADirectoryError) as e:           # the Python API's save: the same one write
        save(load(graph_file), folder)
    assert e.value.filename == str(folder) and list(folder.iterdir()) == [] and list(tmp_path.glob(".adir*")) == []

    def read_only(*_a, dir=None, prefix="", suffix="", **_k):
        raise OSError(errno.EROFS, "Read-only file system", f"{dir}/{prefix}abc{suffix}")
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    dest = folder / "x.msgpack"
    assert main(["extract", take, "-o", str(dest)]) == 1
    assert one_error_line(capsys.readouterr().err) == (f"error: {dest}: the folder is on a read-only file system; "
                                                       "choose another folder")


# ---------------------------------------------------------------------------------------- mistakes
MISTAKES = {
    "missing graph file": (lambda d, g: ["run", str(d / "nope.msgpack")], "nope.msgpack: no such file"),
    "graph is a folder": (lambda d, g: ["validate", str(d)], "is a folder"),
    "corrupt graph file": (lambda d, g: ["run", str(_write(d / "c.msgpack", g.read_bytes()[:-7]))],
                           "c.msgpack: file is truncated (cut short while saved or copied); save the graph "
                           "again, or ask its sender for it again"),
    "a wav named .msgpack": (lambda d, g: ["run", str(_wav(d / "w.msgpack"))],
                             "w.msgpack: this audio file holds no AudioChain graph (AudioChain embeds one in what it "
                             "exports, with embed_graph on); give a graph file (.msgpack) or audio AudioChain exported"),
    "an empty graph file": (lambda d, g: ["run", str(_write(d / "e.msgpack", b""))],       # QA88 D5: no fix said
                            "e.msgpack: file is empty (0 bytes); save the graph again, or ask its sender for it again"),
    "not a graph at all": (lambda d, g: ["show", str(_write(d / "t.msgpack", msgpack.packb([1, 2])))],
                           "t.msgpack: not an AudioChain graph (not a msgpack graph document"),
    "a text file": (lambda d, g: ["run", str(_write(d / "notes.txt", b"garbage\n"))],
                    "notes.txt: not an AudioChain graph (not a msgpack graph document; a corrupt or different file?)"),
    "unknown node type": (lambda d, g: ["run", str(patch_doc(g, d / "u.msgpack",
                                                             lambda doc: doc["nodes"][1].update(type="dsp.gainn")))],
                          "node 'gain': unknown node type 'dsp.gainn'; did you mean 'dsp.gain'?"),
    "out-of-range param in the file": (lambda d, g: ["run", str(patch_doc(
        g, d / "r.msgpack", lambda doc: doc["nodes"][1]["params"].update(gain_db=99.0)))],
        "node 'gain' (dsp.gain): gain_db=99 is out of range (from -60 to 24 dB)"),
    "bad --set value": (lambda d, g: ["run", str(g), "--set", "gain.gain_db=loud"],
                        "--set 'gain.gain_db=loud': gain_db='loud': expected a number"),
    "a decimal comma in --set": (lambda d, g: ["run", str(g), "--set", "gain.gain_db=-1,5"],   # QA76 D3
                                 "gain_db='-1,5': expected a number; write -1.5 (a point, not a comma)"),
    "out-of-range --set": (lambda d, g: ["run", str(g), "--set", "gain.gain_db=40"],
                           "gain_db=40 is out of range (from -60 to 24 dB)"),
    "--set on an unknown node": (lambda d, g: ["run", str(g), "--set", "gian.gain_db=1"],
                                 "--set 'gian.gain_db=1': no node named 'gian' in the graph; did you mean 'gain'?; "
                                 "nodes are: load, gain, export"),
    "--set on an unknown param": (lambda d, g: ["run", str(g), "--set", "gain.db=1"],
                                  "node 'gain' (dsp.gain) has no parameter 'db'; parameters are: gain_db"),
    "--set without =": (lambda d, g: ["run", str(g), "--set", "gain.gain_db"], "expected NODE.PARAM=VALUE"),
    # QA73 D11: a --target typo named only the typo; it says the nearest node and the nodes, as --set does
    "--target unknown": (lambda d, g: ["run", str(g), "--target", "exprt"],
                         "error: no node named 'exprt' in the graph; did you mean 'export'?; nodes are: load, gain, export"),
    "--target unknown, streamed": (lambda d, g: ["run", str(g), "--target", "exprt", "-o", "-"],
                                   "error: --target exprt: no node named 'exprt' in the graph; did you mean 'export'?; "
                                   "nodes are: load, gain, export"),
    "missing input file": (lambda d, g: ["run", str(patch_doc(
        g, d / "m.msgpack", lambda doc: doc["nodes"][0]["params"].update(path="gone.wav")))], "gone.wav"),
    "unknown node type to list": (lambda d, g: ["nodes", "io.lod"], "no node type or category 'io.lod'"),
    "extract a missing file": (lambda d, g: ["extract", str(d / "x.wav")], "x.wav: no such file"),
    "extract over the audio it reads": (lambda d, g: ["extract", str(_exported(d, g)), "-o", str(d / "o" / "take.wav"),
                                                      "--force"], "take.wav is an input of this command"),
    "extract over the graph's input": (lambda d, g: ["extract", str(_exported(d, g)), "-o", str(d / "in.wav"),
                                                     "--force"], "in.wav is an input of this command"),
    "pack over the graph": (lambda d, g: ["pack", str(g), "-o", str(g), "--force"], "song.msgpack is an input"),
    "pack over its input audio": (lambda d, g: ["pack", str(g), "-o", str(d / "in.wav"), "--force"],
                                  "in.wav is an input of this command"),
    "-o names a file": (lambda d, g: ["run", str(g), "-o", str(d / "in.wav")], "in.wav: is a file, not a folder"),
    "--target with a sweep": (lambda d, g: ["run", str(g), "--sweep", "gain.gain_db=-6,0", "--target", "gain"],
                              "--target gain applies to a single run, not to a sweep"),
    # rerun given something other than a manifest (each used to end in a traceback)
    "rerun a graph file": (lambda d, g: ["rerun", str(g), "1"], "song.msgpack: not a sweep manifest (it is not JSON text)"),
    "rerun a folder": (lambda d, g: ["rerun", str(d), "1"], ": is a folder"),
    # (QA: a FIFO hung, /dev/zero ran out of memory, deep nesting and a missing 'graph' ended in tracebacks)
    "rerun a FIFO": (lambda d, g: ["rerun", str(_fifo(d / "m.json")), "0"], "m.json: is a FIFO (named pipe), not a "
                                                                             "regular file; only regular files are read"),
    "rerun /dev/zero": (lambda d, g: ["rerun", "/dev/zero", "0"], "/dev/zero: is a character device"),
    "rerun a manifest nested too deeply": (lambda d, g: ["rerun", str(_write(d / "m.json", b"[" * 100_000)), "0"],
                                           "m.json: not a sweep manifest (nested too deeply)"),
    "rerun a manifest without its graph": (lambda d, g: ["rerun", str(_write(d / "m.json", json.dumps(
        {"variants": [{"index": 0, "name": "v000", "params": {}}]}).encode())), "0"],
        "m.json: not a sweep manifest (it has no 'graph' entry)"),
    "rerun a manifest with a bad row": (lambda d, g: ["rerun", str(_write(d / "m.json", json.dumps(
        {"variants": [{"index": 1, "name": "v001", "params": [1, 2]}]}).encode())), "1"], "m.json: not a sweep manifest"),
    "rerun a JSON file that is no manifest": (lambda d, g: ["rerun", str(_write(d / "m.json", b"{}")), "0"],
                                              "m.json: not a sweep manifest (it has no 'variants' entry)"),
    "rerun a row past the end": (lambda d, g: ["rerun", str(_write(d / "m.json", json.dumps(
        {"variants": [{"index": i, "name": f"v00{i}", "params": {}} for i in range(2)]}).encode())), "7"],
        "m.json: no row 7; it has rows 0 to 1 (a row's index or its name, e.g. v000)"),
    "--zip without a sweep": (lambda d, g: ["run", str(g), "--zip"], "--zip pairs the values of --sweep axes, and this "
                                                                       "run has none"),
}


def _exported(d: Path, g: Path) -> Path:
    """The graph rendered to ``d/o/take.wav`` (which embeds it)."""
    assert main(["run", str(g), "-o", str(d / "o"), "-q"]) == 0
    return d / "o" / "take.wav"


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def _wav(p: Path) -> Path:
    """A plain WAV (no embedded graph) at ``p``, whatever its name."""
    sf.write(p, np.zeros(RATE // 10), RATE, format="WAV")
    return p


def _fifo(p: Path) -> Path:
    os.mkfifo(p)
    return p


@pytest.mark.parametrize("case", list(MISTAKES))
def test_user_mistakes_print_one_error_line_and_exit_1(graph_file, tmp_path, capsys, case):
    argv, expected = MISTAKES[case]
    argv = argv(tmp_path, graph_file)
    assert main(argv + ["-o", str(tmp_path / "o")] if argv[0] == "run" and "-o" not in argv else argv) == 1
    cap = capsys.readouterr()
    line = one_error_line(cap.err)
    assert expected in line
    if " over " in case:      # the file that was read is untouched
        read = {"audio it reads": "o/take.wav", "input": "in.wav"}
        for key, name in read.items():
            if key in case:
                assert sf.info(tmp_path / name).frames == RATE
        assert load(graph_file).nodes["gain"].params["gain_db"] == -6.0
    else:
        assert not (tmp_path / "o").exists()    # nothing written


def test_debug_adds_the_traceback_before_or_after_the_command(graph_file, tmp_path, capsys):
    for argv in (["--debug", "run", str(graph_file), "--set", "gain.gain_db=40"],
                 ["run", str(graph_file), "--set", "gain.gain_db=40", "--debug"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and err.strip().splitlines()[-1].startswith("error: ")


def test_no_command_prints_usage_on_stderr(capsys):
    """A usage error (exit 2) says so on stderr, as argparse's own do; stdout stays for what a command
    makes (QA: `audiochain models` alone printed its help on stdout)."""
    assert main([]) == 2
    said = capsys.readouterr()
    assert "usage: audiochain" in said.err and said.out == ""
    assert main(["models"]) == 2
    said = capsys.readouterr()
    assert "usage: audiochain models" in said.err and said.out == ""


@pytest.mark.parametrize("argv, said", [
    (["run", "g.msgpack", "--jobs", "0"], "error: audiochain run: argument --jobs: --jobs '0': expected a whole number"),
    (["run", "g.msgpack", "--device", "bogus"], "error: audiochain run: argument --device: --device 'bogus': 'bogus' is "
                                                "not a device"),
    (["run"], "error: audiochain run: the following arguments are required: graph (see audiochain run --help)"),
    (["rnu", "g.msgpack"], "error: audiochain: argument COMMAND: invalid choice: 'rnu'"),
    # these named AUDIOCHAIN_MAX_MEMORY_GB='0.0', which the user never set, or overflowed into a traceback
    (["run", "g.msgpack", "--max-memory-gb", "0"], "error: audiochain run: argument --max-memory-gb: "
                                                   "--max-memory-gb '0': expected a number of GB, at least 0.001"),
    (["run", "g.msgpack", "--max-memory-gb", "1e-12"], "error: audiochain run: argument --max-memory-gb"),
    (["validate", "g.msgpack", "--max-memory-gb", "1e400"], "error: audiochain validate: argument --max-memory-gb"),
    (["run", "g.msgpack", "--max-files", "0"], "error: audiochain run: argument --max-files: --max-files '0'"),
])
def test_an_option_the_command_line_refuses_is_one_line(capsys, argv, said):
    """QA: argparse printed its 8-line usage block before the line that mattered."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith(said), err


def test_a_limit_past_any_machine_is_no_limit(graph_file, capsys, monkeypatch):
    """AUDIOCHAIN_MAX_FILE_GB=1e308 (and --max-memory-gb 1e308) overflowed into a traceback."""
    monkeypatch.setenv("AUDIOCHAIN_MAX_FILE_GB", "1e308")
    assert main(["validate", str(graph_file), "--max-memory-gb", "1e308"]) == 0
    assert "ok" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------- real process
def _cli() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "audiochain"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from nodeflow.cli import main; "
                                                               "sys.exit(main())"]


def test_the_installed_command_runs_a_graph_and_reports_a_mistake(graph_file, tmp_path):
    p = subprocess.run(_cli() + ["run", str(graph_file), "-o", str(tmp_path / "o"), "--set", "gain.gain_db=-3"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "done   export" in p.stderr and p.stdout.strip() == f"wrote {tmp_path / 'o' / 'take.wav'}"
    assert peak_db(tmp_path / "o" / "take.wav") == pytest.approx(-3 - 6.0206, abs=0.01)
    p = subprocess.run(_cli() + ["run", str(tmp_path / "missing.msgpack")], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert p.returncode == 1 and p.stdout == ""
    assert one_error_line(p.stderr) == f"error: {tmp_path / 'missing.msgpack'}: no such file"


def test_show_says_which_nodes_its_estimate_leaves_out(capsys):
    """QA49 D4: a plug-in node making audio from nothing without an estimate read "peak memory about 0
    bytes", as if it cost nothing; show names it as not counted."""
    from nodeflow import Registry
    from nodeflow.cli_inspect import describe_costs
    from tests.nodeflow.stubs import ALL
    reg = Registry()
    reg.load_pack("stubs", lambda r: r.add_all(ALL), "1.0")
    g = Graph(reg)
    g.add("test.tone", id="tone")
    lines = describe_costs(g)
    assert any(line.split()[0] == "tone" and "not counted: test.tone declares no estimate" in line
               for line in lines), lines


def test_show_says_what_this_machine_lacks_to_run_the_graph(tmp_path, capsys, monkeypatch):
    """QA49 D10: show said nothing of a checkpoint not downloaded; validate did."""
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    g = Graph()
    g.add("models.musicgen", id="music", checkpoint="acme/not-downloaded")
    save(g, tmp_path / "g.msgpack")
    assert main(["show", str(tmp_path / "g.msgpack")]) == 0
    out = capsys.readouterr().out
    assert "  missing on this machine:\n    music              checkpoint 'acme/not-downloaded' is not in the " \
           "Hugging Face cache" in out and "audiochain models pull acme/not-downloaded" in out, out


def test_validate_says_which_checkpoint_the_run_would_download(tmp_path, capsys, monkeypatch):
    """QA73 D3: online, validate said only 'ok' of a checkpoint not on this machine, and the run then
    failed at once where the hub could not be reached.  A note, not a problem: the run downloads it."""
    pytest.importorskip("transformers")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    g = Graph()
    g.add("models.musicgen", id="music", checkpoint="acme/not-downloaded")
    save(g, tmp_path / "g.msgpack")
    assert main(["validate", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"downloads when run: node 'music': checkpoint 'acme/not-downloaded' is not on this machine (Hugging Face "
        f"cache {tmp_path / 'hub'}); the run downloads it, or run `audiochain models pull acme/not-downloaded` first",
        f"{tmp_path / 'g.msgpack'}: ok (1 nodes, 0 links)"]


@pytest.mark.parametrize("argv, prog", [
    (["run", "g.msgpack", "--sett", "export.loudness_lufs=-16"], "audiochain run"),
    (["show", "g.msgpack", "--set", "a=b"], "audiochain show"),
    (["models", "list", "--bogus"], "audiochain models list"),
    (["--bogus"], "audiochain"),
])
def test_an_unknown_option_sends_to_its_commands_help(argv, prog, capsys):
    """QA54: a typo in ``run --sett`` said ``(see audiochain --help)``, which lists none of run's options."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    bad = " ".join(argv[2:] if argv[0] == "models" else argv[2:] if len(argv) > 2 else argv)
    assert capsys.readouterr().err == f"error: {prog}: unrecognized arguments: {bad} (see {prog} --help)\n"


def test_every_option_and_argument_says_what_it_is():
    """QA54: ``-q``, ``--force``, ``pack GRAPH`` and ``unpack BUNDLE`` had no help text."""
    import argparse
    from nodeflow.cli import build_parser

    def parsers(p, name):
        yield name, p
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub, q in a.choices.items():
                    yield from parsers(q, f"{name} {sub}")
    silent = [f"{name} {a.option_strings or a.dest}" for name, p in parsers(build_parser(), "audiochain")
              for a in p._actions if not isinstance(a, argparse._SubParsersAction) and not a.help]
    assert silent == []


def test_python_dash_m_nodeflow_is_the_audiochain_command(graph_file):
    """Where the ``audiochain`` script is not on PATH (a venv not activated), ``python -m nodeflow``
    is the same command: the same help, the same run."""
    p = subprocess.run([sys.executable, "-m", "nodeflow", "validate", str(graph_file)], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert ": ok (" in p.stdout, p.stdout
    h = subprocess.run([sys.executable, "-m", "nodeflow", "--help"], capture_output=True, text=True, timeout=60)
    assert h.returncode == 0 and h.stdout.startswith("usage: audiochain"), h.stdout[:200]


def test_a_target_that_fails_while_running_is_one_line(tmp_path, capsys):
    """QA86 D2: ``--target gain`` after a load that fails on a damaged file printed a traceback
    (``KeyError: 'gain'``) and not the load's error."""
    t = np.arange(3 * RATE) / RATE
    sf.write(tmp_path / "in.flac", 0.5 * np.sin(2 * np.pi * 440 * t), RATE)
    data = bytearray((tmp_path / "in.flac").read_bytes())
    third = len(data) // 3
    data[third:2 * third] = np.random.default_rng(0).integers(0, 256, third, dtype=np.uint8).tobytes()
    (tmp_path / "in.flac").write_bytes(bytes(data))
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.flac"))
    g.add("dsp.gain", id="gain")
    g.connect("load", "gain")
    save(g, tmp_path / "g.msgpack")
    assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "o"), "--target", "gain"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "KeyError" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        next(line for line in err.splitlines() if line.startswith("error: node 'load'"))]


def test_run_prints_the_masters_loudness_to_the_hundredth_as_its_tag_keeps_it(tmp_path, capsys):
    """QA99 D3: a master at -14.05 LUFS (within the 0.05 LU the export allows) read "-14.1 LUFS" in the
    run's summary, its tag's -14.05 rounded again: a missed target at a glance."""
    from nodeflow.audiometa import read_tags
    rate = 44100
    t = np.arange(8 * rate) / rate
    x = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    sf.write(tmp_path / "in.wav", np.stack([x, 0.8 * x], 1).astype(np.float32), rate, subtype="PCM_24")
    g = Graph()
    g.add("io.load", id="load", path="in.wav")
    g.add("io.export", id="export", path="master.flac", loudness_lufs=-14.0)
    g.connect("load", "export")
    save(g, tmp_path / "g.msgpack")
    assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out")]) == 0
    lines = [line.strip() for line in capsys.readouterr().err.splitlines() if "LUFS, LRA" in line]
    tag = read_tags(str(tmp_path / "out" / "master.flac"))["loudness_integrated_lufs"]
    assert lines and lines[0].startswith(f"{float(tag):.2f} LUFS, LRA "), (lines, tag)


def test_each_node_of_a_streamed_chain_is_said_with_its_own_time(tmp_path, capsys):
    """QA98 D3: the nodes of a streamed chain start and end together, and each was said with the chain's whole
    time ("done highpass (0.91 s)" where the trace gave it 0.014 s): the line gives the time the run measured
    for the node, as the trace does."""
    rate = 44100
    x = (0.1 * np.random.default_rng(1).standard_normal((30 * rate, 2))).astype(np.float32)
    sf.write(tmp_path / "in.wav", x, rate, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path="in.wav")
    g.add("dsp.highpass", id="hp", cutoff_hz=80.0)
    g.add("io.export", id="export", path="out.flac", loudness_lufs=-16.0)
    g.connect("load", "hp")
    g.connect("hp", "export")
    save(g, tmp_path / "g.msgpack")
    trace = tmp_path / "t.jsonl"
    assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "o"), "--trace", str(trace)]) == 0
    err = capsys.readouterr().err
    took = {e["node"]: e["elapsed_s"] for line in trace.read_text().splitlines()
            if (e := json.loads(line)).get("kind") == "finished"}
    assert set(took) == {"load", "hp", "export"}, took
    for nid, seconds in took.items():
        assert f"  done   {nid} ({seconds:.2f} s)" in err, (nid, seconds, err)
