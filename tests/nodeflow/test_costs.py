"""Costs known before running: resource bombs are refused by validate and run from the estimate alone.

Each bomb is a small graph file whose run would need far more memory, files or time than the machine
has; validation estimates it from parameters and file headers (nothing is decoded or rendered) and
refuses it in one line naming the node, the estimate and the limit, exit 1, nothing written.
"""
from __future__ import annotations

import glob
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Audio, Graph, Registry, node
from nodeflow.cli import main
from nodeflow.costlimits import Limits, cost_problems
from nodeflow.costs import Shape, estimate
from nodeflow.fileformat import load, save

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """One second of a quiet 440 Hz tone, mono, 8 kHz."""
    path = tmp_path / "graph" / "tone.wav"
    path.parent.mkdir()
    sf.write(path, 0.1 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000), 8000)
    return path


@pytest.fixture(autouse=True)
def limits(monkeypatch):
    """The same limits on every machine (the defaults follow the RAM)."""
    monkeypatch.setenv("AUDIOCHAIN_MAX_MEMORY_GB", "8")
    for var in ("AUDIOCHAIN_MAX_FILES", "AUDIOCHAIN_MAX_FILE_GB", "AUDIOCHAIN_MAX_ITEMS", "AUDIOCHAIN_MAX_HOURS"):
        monkeypatch.delenv(var, raising=False)


def silences(clip: Path, n: int = 8) -> Graph:
    """The tone at 384 kHz, then ``n`` concatenations each adding 600 s of silence and the tone."""
    g = Graph()
    src = g.add("io.load", path=str(clip))
    prev = g.add("dsp.resample", rate_hz=384000)
    g.connect(src.out, prev.audio)
    for _ in range(n):
        c = g.add("dsp.concat", gap_s=600.0)
        g.connect(prev.out, c.a)
        g.connect(src.out, c.b)
        prev = c
    g.connect(prev.out, g.add("io.export", path="silences.wav").audio)
    return g


def doubling(clip: Path, depth: int = 40) -> Graph:
    """Each concat fed the previous one twice: 2**depth copies of the clip."""
    g = Graph()
    prev = g.add("io.load", path=str(clip))
    for _ in range(depth):
        c = g.add("dsp.concat")
        g.connect(prev.out, c.a)
        g.connect(prev.out, c.b)
        prev = c
    g.connect(prev.out, g.add("io.export", path="doubled.wav").audio)
    return g


def many_windows(clip: Path) -> Graph:
    """600 s cut into 6 ms windows (100,000 of them), each exported on its own."""
    g = Graph()
    src = g.add("io.load", path=str(clip))
    long = g.add("dsp.concat", gap_s=598.0)
    g.connect(src.out, long.a)
    g.connect(src.out, long.b)
    win = g.add("time.tokenize_window", profile="custom", custom_tokens_per_s=200.0, unit="seconds", size=0.006)
    g.connect(long.out, win.audio)
    g.connect(win.out, g.add("io.export", path="window.wav").audio)
    return g


BOMBS = {
    "silences": (silences, "concat_8", ["memory", "GiB", "the limit is 8.0 GiB"]),
    "doubling": (doubling, "concat_40", ["memory", "PiB", "the limit is 8.0 GiB"]),
    "windows": (many_windows, "export", ["100,000 files", "mapped over 100,000 items", "limit is 1,000 files"]),
}


def _kicks(path: Path, seconds: float, every_s: float, rate: int = 22050) -> None:
    """A 60 Hz kick every ``every_s`` seconds (a beat a tempo detector and a loudness meter both read)."""
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * 60 * t) * np.exp(-(t % every_s) * 9)).astype(np.float32), rate)


def _sizes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")}


def _run_capped(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``audiochain ARGS`` in a child limited to 4 GiB of address space and 120 s: a bomb that got
    through would fail there instead of taking the machine down."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (4 * 1024 ** 3, 4 * 1024 ** 3))
    return subprocess.run([sys.executable, "-m", "nodeflow.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, preexec_fn=cap, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_are_refused_by_validate_before_anything_runs(name, clip, capsys):
    build, node, expected = BOMBS[name]
    path = clip.parent / f"{name}.msgpack"
    save(build(clip), path)
    before = _sizes(clip.parent)
    t0 = time.perf_counter()
    assert main(["validate", str(path)]) == 1
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if f"node '{node}'" in line]
    print(f"{name}: refused in {elapsed:.3f} s: {lines}")
    assert len(lines) == 1, out
    for text in expected:
        assert text in lines[0], lines[0]
    assert _sizes(clip.parent) == before


@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_are_refused_by_run_and_nothing_is_written(name, clip, tmp_path):
    build, node, expected = BOMBS[name]
    path = clip.parent / f"{name}.msgpack"
    save(build(clip), path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    t0 = time.perf_counter()
    r = _run_capped(["run", str(path), "-o", str(out_dir), "-q"], cwd=tmp_path)
    elapsed = time.perf_counter() - t0
    print(f"{name}: run refused in {elapsed:.2f} s (a fresh interpreter included): {r.stderr.strip()}")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert f"node '{node}'" in r.stderr and expected[0] in r.stderr
    assert list(out_dir.iterdir()) == []


def test_a_bombs_numbered_file_names_are_not_checked_one_by_one(clip, capsys, monkeypatch):
    """An export refused for writing more files than a run may is refused by its count: validation does
    not build and check its 100,000 numbered names (take_000001.wav ...) one by one, which took 20 s
    here and over the 120 s of the run test above on a loaded machine."""
    import nodeflow.outputs
    names: list[str] = []
    real = nodeflow.outputs.numbered
    monkeypatch.setattr(nodeflow.outputs, "numbered", lambda *a, **k: names.append(real(*a, **k)) or names[-1])
    path = clip.parent / "windows.msgpack"
    save(many_windows(clip), path)
    assert main(["validate", str(path)]) == 1
    assert "would write 100,000 files" in capsys.readouterr().out
    assert len(names) <= Limits.from_env()[0].files, f"{len(names):,} numbered names checked"


def test_numbered_names_under_a_raised_file_limit_read_their_folder_once(clip, capsys, monkeypatch, tmp_path):
    """Under a raised file limit the 100,000 numbered names are checked, each against the files beside
    it with a label (take_1_drums.wav): the folder was globbed once per name (100,000 listings of it,
    20 s); it is now read once, and the labelled file the user has there is still found."""
    listings: list[str] = []
    for name in ("listdir", "scandir"):        # (glob reads a folder with scandir)
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda p=".", real=real: listings.append(str(p)) or real(p))
    out = tmp_path / "out"
    out.mkdir()
    for i in range(50):
        (out / f"other_{i}.wav").write_bytes(b"x")
    (out / "window_077777_left.wav").write_bytes(b"the user's own take")
    path = clip.parent / "windows.msgpack"
    save(many_windows(clip), path)
    assert main(["validate", str(path), "-o", str(out), "--max-files", "200000"]) == 1
    said = capsys.readouterr().out
    assert "item 77777: path='window_077777_left.wav' would replace" in said, said
    assert listings.count(str(out)) == 1, f"the output folder read {listings.count(str(out)):,} times"


def test_a_higher_limit_lets_the_same_graph_through(clip, capsys):
    path = clip.parent / "silences.msgpack"
    save(silences(clip, n=1), path)           # 600 s at 384 kHz: about 0.9 GiB per copy
    assert main(["validate", str(path), "--max-memory-gb", "0.5"]) == 1
    assert "the limit is 512.0 MiB" in capsys.readouterr().out
    assert main(["validate", str(path), "--max-memory-gb", "64"]) == 0
    assert os.environ["AUDIOCHAIN_MAX_MEMORY_GB"] == "8"       # the flag held for that command only


def test_the_estimate_follows_the_graph(clip):
    est = estimate(many_windows(clip), base_dir=clip.parent)
    win = est.nodes["tokenize_window"].shapes["out"]
    assert (win.items, win.frames, win.rate, win.span) == (100_000, 48, 8000, 600 * 8000)
    assert est.nodes["export"].files == 100_000
    est = estimate(doubling(clip, depth=10), base_dir=clip.parent)
    assert est.nodes["concat_10"].shapes["out"].frames == 8000 * 2 ** 10
    est = estimate(silences(clip, n=2), base_dir=clip.parent)
    assert est.nodes["concat_2"].shapes["out"] == Shape(384000 * 1203, 1, 384000)   # tone, 600 s, tone, 600 s, tone


def test_windows_through_a_mapped_node_stitch_back_to_the_piece(clip):
    g = Graph()
    src = g.add("io.load", path=str(clip))
    win = g.add("time.tokenize_window", size=0.25)
    var = g.add("dsp.variation", stretch_ratio=2.0)
    st = g.add("time.stitch")
    g.connect(src.out, win.audio)
    g.connect(win.out, var.audio)
    g.connect(var.out, st.windows)
    est = estimate(g, base_dir=clip.parent)
    assert est.nodes["variation"].shapes["out"].items == 4
    assert est.nodes["stitch"].shapes["out"].frames == 16000       # twice the second it came from


def test_limits_default_to_the_machine():
    limits, problems = Limits.from_env({})
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert (limits.memory_bytes, limits.files, limits.file_bytes, problems) == (ram // 2, 1000, 4 * 1024 ** 3, [])
    limits, problems = Limits.from_env({"AUDIOCHAIN_MAX_FILES": "lots"})
    assert limits.files == 1000 and problems == ["AUDIOCHAIN_MAX_FILES='lots' is not a positive number; unset it or "
                                                 "give e.g. AUDIOCHAIN_MAX_FILES=8"]


@pytest.mark.parametrize("path", sorted(glob.glob(str(ROOT / "graphs" / "*.msgpack"))), ids=os.path.basename)
def test_example_graphs_validate_with_sensible_estimates(path, capsys, monkeypatch):
    monkeypatch.delenv("AUDIOCHAIN_MAX_MEMORY_GB")
    g = load(path)
    est = estimate(g)
    assert 100_000 < est.peak_bytes < 200 * 1024 ** 2
    assert est.files == 1 and est.duration in ("seconds", "minutes")
    assert not [p for p in g.problems() if "would" in p]
    assert main(["show", path]) == 0
    assert "estimate (before running): peak memory about" in capsys.readouterr().out


def test_lengths_the_input_does_not_have_are_found_by_validate_before_anything_runs(clip, capsys):
    """A crossfade or fade longer than its input, or a trim past its end, through gains (exact sizes)
    and a resample: validate names each, as run would refuse it, and run refuses before it writes."""
    other = clip.parent / "short.wav"                       # 0.6 s at 48 kHz
    sf.write(other, 0.1 * np.sin(2 * np.pi * 220 * np.arange(28800) / 48000), 48000)
    g = Graph()
    a, b = g.add("io.load", id="a", path=str(clip)), g.add("io.load", id="b", path=str(other))
    ga = g.add("dsp.gain", id="ga", gain_db=-3.0)
    g.connect(a.out, ga.audio)
    x = g.add("dsp.crossfade", id="x", duration_s=0.7)
    g.connect(ga.out, x.a)
    g.connect(b.out, x.b)
    f = g.add("dsp.fade", id="f", fade_in_s=1.5)
    r = g.add("dsp.resample", id="r", rate_hz=22050)
    g.connect(a.out, r.audio)
    g.connect(r.out, f.audio)
    t = g.add("dsp.trim", id="t", start_s=0.2, end_s=0.1)
    g.connect(a.out, t.audio)
    for n in (x, f, t):
        g.connect(n.out, g.add("io.export", id=f"e{n.id}", path=f"{n.id}.wav").audio)
    path = clip.parent / "lengths.msgpack"
    save(g, path)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "node 'x' (dsp.crossfade): duration_s=0.7 exceeds the input lengths (a 1.000 s, b 0.600 s); " \
           "shorten the fade to at most 0.600 s" in out
    assert "node 'f' (dsp.fade): fade_in_s=1.5 exceeds input length 1.000 s; shorten the fade" in out
    assert "node 't' (dsp.trim): end_s=0.1 is not after start_s=0.2; the cut would be empty" in out
    assert main(["run", str(path), "-o", str(clip.parent / "out")]) == 1
    assert not (clip.parent / "out").exists() or not list((clip.parent / "out").rglob("*.wav"))
    g.nodes["x"].params["duration_s"] = 0.6                 # exactly the shorter input: allowed
    g.nodes["f"].params["fade_in_s"] = 1.0
    g.nodes["t"].params["end_s"] = 0.9
    assert not [p for p in g.problems(base_dir=clip.parent) if "exceeds" in p or "empty" in p]


def test_a_chain_that_streams_is_estimated_as_the_blocks_it_holds(tmp_path):
    """QA: an hour of load -> resample -> export was estimated at 7.2 GiB and refused under a 2 GiB
    limit, and ran in 127 MiB: its values are handed on in blocks.  An export with a loudness target
    takes its input whole, and so is estimated as before."""
    import soundfile as sf
    from nodeflow.costs import estimate
    path = tmp_path / "set.flac"
    with sf.SoundFile(path, "w", 48000, 2, subtype="PCM_16") as f:        # 16 min of near silence: 368 MB as float32
        block = np.zeros((48000 * 60, 2), np.float32)
        for _ in range(16):
            f.write(block)
    g = Graph()
    load = g.add("io.load", path=str(path))
    res = g.add("dsp.resample", rate_hz=44100)
    out = g.add("io.export", path="set.wav")
    g.connect(load.out, res.audio)
    g.connect(res.out, out.audio)
    streamed = estimate(g, base_dir=tmp_path).peak_bytes
    assert streamed < 128 * 1024 ** 2, streamed
    g.set(out.id, "loudness_lufs", -14.0)
    whole = estimate(g, base_dir=tmp_path).peak_bytes
    assert whole > 1024 ** 3, whole


def test_a_link_from_a_node_the_graph_lacks_is_no_crash_in_the_estimate():
    """CI's property test: a mutated graph file linked a node that is not in it, and the memory estimate
    (which node hands on its value in blocks) raised KeyError inside validate."""
    from nodeflow.costs import estimate
    from nodeflow.graph import Link
    g = Graph()
    g.add("dsp.gain", id="gain")
    g.links.append(Link("\x00ain", "out", "gain", "audio"))
    g._touch()
    assert estimate(g).peak_bytes >= 0


def test_an_export_mapped_over_windows_is_refused_before_running_for_its_short_last_window(tmp_path):
    """QA: 11 s of drums in 1-bar windows at 87.3 bpm (the fifth window is 0.003 s) exported with a
    loudness target wrote four files, then failed on the fifth; one short clip was refused before
    running.  The estimate knows the last window: the run is refused whole, with the fix."""
    from nodeflow import GraphError
    from nodeflow.executor import Executor
    _kicks(tmp_path / "drums.wav", 11.0, 0.6873)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "drums.wav"))
    g.add("time.tokenize_window", id="win", unit="bars", size=1, bpm=87.3)
    g.add("dsp.gain", id="gain", gain_db=-1)
    g.add("io.export", id="export", path="bar.wav", loudness_lufs=-18.0)
    for a, b in (("load", "win"), ("win", "gain"), ("gain", "export")):
        g.connect(a, b)
    problems = g.problems(output_dir=tmp_path / "o")
    assert any("node 'export' (io.export): its shortest of 5 item(s) is 0.00" in p and "(a last window cut short: "
               "last='drop' where the windows are cut leaves it out, last='pad' fills it out with silence): "
               "loudness_lufs needs at least 0.4 s" in p for p in problems), problems     # (QA51: both fixes named)
    with pytest.raises(GraphError):
        Executor(disk_cache=None).run(g, output_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
    g.set("win", "last", "drop")
    assert not [p for p in g.problems(output_dir=tmp_path / "o") if "item(s)" in p]
    assert len(Executor(disk_cache=None).run(g, output_dir=tmp_path / "o")["export"]["out"]) == 4


def test_parameter_values_a_node_would_refuse_are_found_by_validate(clip):
    """QA: validate said ok for pattern_semitones='0 x' and a template field without a value; the
    run then refused them (the pattern after load, resample and windowing had run)."""
    g = Graph()
    g.add("io.load", id="load", path=str(clip))
    g.add("dsp.variation", id="vary", pattern_semitones="0 x")
    g.connect("load", "vary")
    g.add("text.prompt_template", id="prompt", template="{genre} with {foo}")
    problems = g.problems()
    assert any(p.startswith("node 'vary' (dsp.variation): pattern_semitones='0 x': 'x' is not a number")
               for p in problems), problems
    assert any(p.startswith("node 'prompt' (text.prompt_template): template: no value for {foo}") for p in problems)
    g.set("vary", "pattern_semitones", "0 5 -2")
    g.set("prompt", "variables", "foo=tape echo")
    assert not [p for p in g.problems() if "vary" in p or "prompt" in p]


def test_windows_whose_lengths_only_the_run_knows_are_checked_on_the_shortest_before_any_is_written(tmp_path):
    """QA: windows cut at ``bpm=auto`` (their lengths unknown before the run) wrote eight files, then an
    export with a loudness target failed on the 0.003 s ninth.  A node mapped over clips of different
    lengths is checked on the shortest before any item runs, and the error names it."""
    from nodeflow.errors import ExportsFailed
    from nodeflow.executor import Executor
    import nodes

    reg = Registry()
    reg.load_pack("builtin", nodes)

    @node("test.uneven_windows")
    def uneven(*, seconds: str = "1.0,1.0,0.1") -> list[Audio]:
        """Clips of these lengths (a tempo found in the audio decides them: no estimate)."""
        rate = 16000
        return [Audio(0.3 * np.sin(2 * np.pi * 220 * np.arange(round(float(s) * rate)) / rate)[None].astype(np.float32),
                      rate) for s in seconds.split(",")]
    reg.add(uneven)
    g = Graph(reg)
    g.add("test.uneven_windows", id="win")
    g.add("io.export", id="export", path="w.wav", loudness_lufs=-18.0)
    g.connect("win", "export")
    assert g.problems(output_dir=tmp_path / "o") == []          # nothing to see before the run
    with pytest.raises(ExportsFailed, match=r"node 'export': item 3 of 3 is 0\.100 s \(a last window cut short: "
                                            r"last='drop' .* last='pad' fills it out with silence\): loudness_lufs needs at least 0\.4 s"):
        Executor(disk_cache=None).run(g, output_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())     # no file written
    g.set("win", "seconds", "1.0,1.0,0.5")
    assert len(Executor(disk_cache=None).run(g, output_dir=tmp_path / "o")["export"]["out"]) == 3


def test_a_value_a_node_refuses_to_make_adds_no_problem_downstream(tmp_path):
    """QA: an unreadable input file also gave "size=1 bars is less than one token (0.02 s for musicgen)"
    for the windows after it: the load's refused value (rate 0) was estimated on."""
    (tmp_path / "notes.wav").write_text("not audio\n" * 300)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "notes.wav"))
    g.add("time.tokenize_window", id="win", unit="bars", size=1, bpm=131, beats_per_bar=7, note_value=8)
    g.connect("load", "win")
    problems = g.problems()
    assert len(problems) == 1 and problems[0].startswith("node 'load' (io.load): "), problems


def test_windows_of_a_meter_the_audio_will_say_are_not_refused_on_a_guessed_size(tmp_path):
    """QA: windows with beats_per_bar=auto going into an export with a loudness target were refused by
    validate and run ("needs at least 0.4 s ... got 0.075 s"); the real windows were 1.6 s.  Sizes only
    bounded before the run refuse nothing; the run checks the real ones (the shortest first)."""
    _kicks(tmp_path / "drums.wav", 6.0, 0.4580)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "drums.wav"))
    g.add("time.tokenize_window", id="win", unit="bars", size=1, bpm=131.0, beats_per_bar="auto", note_value=8,
          last="drop")
    g.add("io.export", id="export", path="bar.wav", loudness_lufs=-16.0)
    g.connect("load", "win")
    g.connect("win", "export")
    assert not [p for p in g.problems(output_dir=tmp_path / "o") if "0.4 s" in p], g.problems()
    g.set("win", "bpm", "auto")
    assert not [p for p in g.problems(output_dir=tmp_path / "o") if "0.4 s" in p], g.problems()
    g.set("win", "bpm", 131.0)
    g.set("win", "beats_per_bar", 1)             # a known bar of one eighth (0.229 s): refused before the run
    assert [p for p in g.problems(output_dir=tmp_path / "o") if "needs at least 0.4 s" in p]


def test_what_no_size_changes_is_refused_after_windows_of_a_tempo_the_audio_will_say(tmp_path):
    """QA83 D4: an mp3 export at sample_rate=keep of a 96 kHz take, after windows with bpm=auto and a stitch,
    passed validate, and the run failed it after writing the other files.  A rate the format cannot store
    does not depend on the windows' sizes; a loudness target's shortest length does (above)."""
    _kicks(tmp_path / "drums.wav", 6.0, 0.4580, rate=96000)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "drums.wav"))
    g.add("time.tokenize_window", id="win", unit="bars", size=1, bpm="auto")
    g.add("time.stitch", id="stitch")
    g.add("io.export", id="flac", path="take.flac")
    g.add("io.export", id="mp3", path="take.mp3")
    for a, b in (("load", "win"), ("win", "stitch"), ("stitch", "flac"), ("stitch", "mp3")):
        g.connect(a, b)
    assert g.problems(output_dir=tmp_path / "o") == [
        "node 'mp3' (io.export): mp3 supports sample rates 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, "
        "48000 Hz (got 96000); set this export's sample_rate to 48000 (or export flac)"]
    g.set("mp3", "sample_rate", "48000")
    assert g.problems(output_dir=tmp_path / "o") == []


def test_a_project_rate_no_run_can_use_estimates_nothing(tmp_path):
    """QA: metadata sample_rate=1e9 added a 14.9 GiB file and 59.6 GiB of memory after its own problem."""
    sf.write(tmp_path / "a.wav", np.zeros((48000 * 5, 2), np.float32), 48000)
    g = Graph()
    g.add("io.load", id="a", path=str(tmp_path / "a.wav"))
    g.add("io.load", id="b", path=str(tmp_path / "a.wav"))
    g.add("dsp.mix", id="mix")
    g.connect("a", "mix.a")
    g.connect("b", "mix.b")
    g.metadata["sample_rate"] = 10 ** 9
    problems = g.problems()
    assert len(problems) == 1 and problems[0].startswith("graph metadata sample_rate=1000000000"), problems


def test_a_memory_refusal_names_every_node_that_holds_about_as_much(tmp_path, capsys):
    """QA48: only 'load' was named where the windows, each window's gain and the stitch held as much."""
    sf.write(tmp_path / "in.wav", np.zeros((48000 * 20, 2), np.float32), 48000, subtype="FLOAT")
    g = Graph()
    load = g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    win = g.add("time.tokenize_window", id="windows", size=2.0)
    gain = g.add("dsp.gain", id="gain", gain_db=-3.0)
    st = g.add("time.stitch", id="stitch")
    g.connect(load.out, win.audio)
    g.connect(win.out, gain.audio)
    g.connect(gain.out, st.windows)
    save(g, tmp_path / "g.msgpack")
    assert main(["validate", str(tmp_path / "g.msgpack"), "--max-memory-gb", "0.01"]) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if "of memory at its peak" in x)
    named = [n for n in ("load", "windows", "gain", "stitch") if f"'{n}'" in line]
    assert len(named) >= 3 and "about as much" in line, line


@pytest.mark.parametrize("type_id, params, said", [
    ("models.mms_tts", {"prompt": "  "}, "the text is empty; give something to say"),
    ("models.bark", {"prompt": ""}, "the text is empty; give something to say"),
    ("models.stable_audio", {"prompt": ""}, "the prompt is empty; describe the sound or music to generate"),
    ("models.clap_search", {"text": "", "folder": "."}, "nothing to search for; give text= (a description) or "
                                                       "connect a reference clip"),
])
def test_what_the_parameters_alone_refuse_validate_says_before_any_model_loads(type_id, params, said):
    """QA57, QA60: validate said ok for an empty prompt (mms_tts, bark, stable_audio) and a search for
    nothing; run refused them only after loading the model.  A linked text input is no problem."""
    pytest.importorskip("transformers")
    g = Graph()
    g.add(type_id, id="m", **params)
    assert f"node 'm' ({type_id}): {said}" in g.problems()
    if type_id != "models.clap_search":
        g.add("text.prompt_template", id="t")
        g.connect("t.out", "m.text")
        assert not [p for p in g.problems() if said in p]


def test_a_search_counts_its_top_k_files_against_the_files_limit(tmp_path):
    """QA60: clap_search had no estimate: an export of its matches counted 1 file of 0 bytes, so the files
    limit let any top_k through, and show said the built-in node lacked an estimate."""
    pytest.importorskip("transformers")
    g = Graph()
    g.add("models.clap_search", id="find", folder=str(tmp_path), text="vinyl drums", top_k=50)
    g.add("io.export", id="export", path="best.wav")
    g.connect("find.clips", "export.audio")
    problems = cost_problems(g, limits=Limits(memory_bytes=1 << 34, files=10))
    assert any("would write 50 files" in p for p in problems), problems


def test_values_kept_from_earlier_runs_make_room_for_a_run_under_the_memory_limit(tmp_path, monkeypatch):
    """QA71 D2: an executor kept up to 2 GiB of earlier runs' values whatever the memory limit, and the
    estimate before a run counted only the run's own: three runs under a 3 GiB limit peaked at 3.4 GiB.
    Before a run the executor now keeps at most what the run's estimated peak leaves of the limit."""
    from nodeflow import Executor
    from nodeflow.validation import memory_room
    rate = 48000
    t = np.arange(rate * 40) / rate                     # 40 s of 48 kHz stereo: 15 MiB a value in float32
    for name, f in (("a.wav", 110.0), ("b.wav", 165.0)):
        x = 0.2 * np.sin(2 * np.pi * f * t) * (1 + 0.5 * np.sin(2 * np.pi * 133 / 60 * t))
        sf.write(tmp_path / name, np.stack([x, x]).T.astype(np.float32), rate, subtype="FLOAT")

    def chain(name: str) -> Graph:
        g = Graph()
        g.add("io.load", id="load", path=str(tmp_path / name))
        g.add("dsp.gain", id="gain", gain_db=-3.0)
        g.add("dsp.fade", id="fade", fade_in_s=0.5)
        g.connect("load", "gain")
        g.connect("gain", "fade")
        return g

    ex = Executor(disk_cache=None, stream=False)
    ex.run(chain("a.wav"), base_dir=tmp_path)
    kept = ex.cache.bytes_used
    assert kept >= 2 * 15 * 2 ** 20                    # the earlier run's values, kept under the default limit
    b = chain("b.wav")
    peak = estimate(b, base_dir=tmp_path).peak_bytes
    monkeypatch.setenv("AUDIOCHAIN_MAX_MEMORY_GB", str((peak + 16 * 2 ** 20) / 2 ** 30))   # room for one value
    room, _, _ = memory_room(b, None, tmp_path)
    assert 15 * 2 ** 20 < room <= 16 * 2 ** 20 + 1
    r = ex.run(b, base_dir=tmp_path)
    assert ex.cache.bytes_used <= room < kept
    np.testing.assert_allclose(r["fade"]["out"].samples[:, rate:rate + 100],
                               sf.read(tmp_path / "b.wav", dtype="float32")[0].T[:, rate:rate + 100] * 10 ** (-3 / 20),
                               rtol=1e-5)


# ---------------------------------------------------------------------------------------- working buffers
_PEAK_CHILD = r'''
import json, os, resource, sys
if pid := os.fork():    # ru_maxrss is a process's high-water mark, and a child started from pytest inherits
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))     # pytest's: a forked one starts afresh
from nodeflow.cli import main
small, big, out = sys.argv[1:4]
assert main(["run", small, "-o", out, "-q"]) == 0       # what any run loads and makes once, before measuring
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert main(["run", big, "-o", out, "-q"]) == 0
unit = 1 if sys.platform == "darwin" else 1024          # bytes on macOS, KiB elsewhere
print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * unit))
'''


def _music(path: Path, seconds: float, rate: int = 48000) -> Path:
    """Music-like stereo: a bass line and chords with harmonics, a beat of decaying noise bursts, the
    channels apart (written 30 s at a time, as 24-bit PCM)."""
    rng = np.random.default_rng(74)
    with sf.SoundFile(path, "w", rate, 2, subtype="PCM_24") as f:
        for start in range(0, round(seconds * rate), 30 * rate):
            t = (start + np.arange(min(30 * rate, round(seconds * rate) - start))) / rate
            bar = (t // 2.0).astype(int) % 4
            root = np.array([55.0, 73.4, 61.7, 82.4])[bar]
            x = 0.25 * np.sin(2 * np.pi * root * t) + sum(0.06 / k * np.sin(2 * np.pi * root * m * k * t)
                                                           for m in (4, 5, 6) for k in (1, 2, 3))
            x += 0.3 * rng.standard_normal(len(t)) * np.exp(-(t % 0.5) * 30)       # a beat every 0.5 s
            side = 0.05 * np.sin(2 * np.pi * 0.3 * t) * np.sin(2 * np.pi * root * 8 * t)
            f.write((0.5 * np.stack([x + side, x - side], axis=1)).astype(np.float32))
    return path


def _master_chain(src: Path, out: str) -> Graph:
    g = Graph()
    g.add("io.load", id="load", path=str(src))
    g.add("dsp.gain", id="gain", gain_db=-3.0)
    g.add("dsp.highpass", id="hp", cutoff_hz=30.0)
    g.add("io.export", id="export", path=out)
    for a, b in (("load", "gain"), ("gain", "hp"), ("hp", "export")):
        g.connect(a, b)
    return g


@pytest.fixture(scope="module")
def five_minutes(tmp_path_factory) -> dict[str, Path]:
    """QA74's chain: 5 min of 48 kHz stereo through a gain, a high-pass and a FLAC export (and the same
    chain on 2 s, to run first), as graph files."""
    d = tmp_path_factory.mktemp("qa74")
    graphs = {}
    for name, seconds in (("small", 2.0), ("big", 300.0)):
        g = _master_chain(_music(d / f"{name}.wav", seconds), f"{name}.flac")
        g.path = d / f"{name}.msgpack"
        save(g, g.path)
        graphs[name] = g.path
    return graphs


@pytest.mark.slow
def test_the_memory_estimate_counts_each_nodes_working_buffers(five_minutes, tmp_path):
    """QA74: 5 min of 48 kHz stereo through a gain, a high-pass and a FLAC export peaked at 0.9-1.0 GB,
    estimated at 440 MiB: the estimate counted the values the run holds (110 MiB each), not the high-pass
    filtering a float64 copy into a float64 result (440 MiB).  The high-pass now filters in blocks (the
    same chain peaks at about 335 MiB), and the estimate, which counts each node's working buffers, is
    within 1.3 times the growth of the peak RSS of a fresh process running it (after a first run of the
    chain on 2 s): its peak is the three values held at the export, and the export's blocks."""
    est = estimate(load(five_minutes["big"]))
    r = subprocess.run([sys.executable, "-c", _PEAK_CHILD, str(five_minutes["small"]), str(five_minutes["big"]),
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    grew = int(r.stdout.strip().splitlines()[-1])
    print(f"peak RSS grew {grew / 2 ** 20:.0f} MiB; estimated {est.peak_bytes / 2 ** 20:.0f} MiB")
    assert (tmp_path / "out" / "big.flac").stat().st_size > 0
    assert grew / 1.3 <= est.peak_bytes <= grew * 1.3, (grew, est.peak_bytes)
    assert (est.peak_node, est.peak_work) == ("export", 64 << 20), est


def test_a_memory_limit_under_the_peak_with_working_buffers_is_refused_before_the_run(five_minutes, tmp_path,
                                                                                     capsys):
    """Under a limit of 350 MiB (over the values' 330 MiB, under their 394 MiB with the FLAC export's
    blocks) validate and run refuse the chain in one line naming the node, the estimate, the node whose
    working buffers make the peak, the limit and the fix; the run writes nothing."""
    said = ("node 'load' (io.load): the run would need about 393.6 MiB of memory at its peak (this node makes "
            "5 min of 2 ch at 48 kHz (109.9 MiB); 'gain', 'hp' make about as much; at the peak node 'export' "
            "(io.export) works with 64.0 MiB of buffers besides the 329.6 MiB of values the run holds then); the "
            "limit is 350.0 MiB (set by --max-memory-gb or AUDIOCHAIN_MAX_MEMORY_GB); shorten the audio, lower the "
            "rate or split the graph, or raise the limit with --max-memory-gb or AUDIOCHAIN_MAX_MEMORY_GB")
    graph = str(five_minutes["big"])
    assert main(["validate", graph, "--max-memory-gb", str(350 / 1024)]) == 1
    assert f"  - {said}\n" in capsys.readouterr().out
    r = _run_capped(["run", graph, "-o", str(tmp_path / "out"), "--max-memory-gb", str(350 / 1024)], cwd=tmp_path)
    assert (r.returncode, r.stderr, r.stdout) == (1, f"error: {said}\n", "")
    assert not (tmp_path / "out").exists()
    assert main(["validate", graph, "--max-memory-gb", "0.4"]) == 0


def test_a_memory_refusal_at_an_exports_step_names_the_values_it_holds_not_its_path(five_minutes, tmp_path, capsys):
    """QA78 D3: where the peak is an export's buffers (an mp3 mastered whole: 5 times the clip), the line
    named the export and said "this node makes 5 characters; 'load', 'highpass' make about as much"
    (its output is the path it wrote).  It now says the export works with its buffers besides the values
    held, and which node makes how much of those."""
    g = Graph()
    g.add("io.load", id="load", path=str(five_minutes["big"].parent / "big.wav"))
    g.add("dsp.highpass", id="hp")
    g.add("io.export", id="export", path="x.mp3", loudness_lufs=-14.0)
    g.connect("load", "hp")
    g.connect("hp", "export")
    graph = tmp_path / "mp3.msgpack"
    save(g, graph)
    assert main(["validate", str(graph), "--max-memory-gb", "0.5"]) == 1
    assert ("  - node 'export' (io.export): the run would need about 769.0 MiB of memory at its peak (it works "
            "with 549.3 MiB of buffers besides the 219.7 MiB of values the run holds then: 'load' makes 5 min of "
            "2 ch at 48 kHz (109.9 MiB), 'hp' about as much); the limit is 512.0 MiB (set by --max-memory-gb or "
            "AUDIOCHAIN_MAX_MEMORY_GB); shorten the audio, lower the rate or split the graph, or raise the limit "
            "with --max-memory-gb or AUDIOCHAIN_MAX_MEMORY_GB\n") in capsys.readouterr().out


def test_the_peak_is_taken_at_each_nodes_step_with_its_declared_working_buffers(clip):
    """A node's working buffers count at its step, with the values held then: a node that works on ten
    times its input early in a long chain is not added on top of every value after it.  A node pack
    declares its own with ``@node(working=...)`` (per byte of its inputs); a node without one counts one
    more copy of its output."""
    from nodeflow.errors import DefinitionError
    import nodes
    value = 8000 * 4                                         # the clip: 1 s mono at 8 kHz, float32
    reg = Registry()
    reg.load_pack("builtin", nodes)

    @node("test.fat", working=10.0)
    def fat(audio: Audio) -> Audio:
        """Works on ten bytes per byte of its input."""
        return audio

    @node("test.plain")
    def plain(audio: Audio) -> Audio:
        """Declares nothing."""
        return audio
    reg.add(fat)
    reg.add(plain)
    g = Graph(reg)
    prev = g.add("io.load", id="load", path=str(clip)).id
    for nid, kind in (("fat", "test.fat"), ("g1", "dsp.gain"), ("g2", "dsp.gain"), ("g3", "dsp.gain")):
        g.add(kind, id=nid)
        g.connect(prev, nid)
        prev = nid
    est = estimate(g, base_dir=clip.parent)
    assert (est.peak_bytes, est.peak_node, est.peak_work) == (2 * value + 10 * value, "fat", 10 * value)
    for kind, work in (("test.fat", 10 * value), ("test.plain", value)):
        g = Graph(reg)
        g.add("io.load", id="load", path=str(clip))
        g.add(kind, id="n")
        g.connect("load", "n")
        est = estimate(g, base_dir=clip.parent)
        assert (est.peak_bytes, est.peak_node, est.peak_work) == (2 * value + work, "n", work), kind
    with pytest.raises(DefinitionError, match=r"node test\.bad: working=-1\.0: expected the bytes of working buffers "
                                              r"per byte of its inputs, a number of 0 or more"):
        node("test.bad", working=-1.0)(fat.fn)


def test_a_graph_of_many_model_nodes_looks_for_each_local_checkpoint_once(monkeypatch, tmp_path):
    """The estimate found every model node's local checkpoint for each model node (a quadratic walk:
    0.76 s for 160 MusicGen nodes, each validation and each edit in the editor); once a graph now."""
    import nodeflow.checkpoints
    import nodes  # noqa: F401 - the model nodes
    looked: list[str] = []
    real = nodeflow.checkpoints._local_candidate
    monkeypatch.setattr(nodeflow.checkpoints, "_local_candidate", lambda text, base: looked.append(text) or
                        real(text, base))
    (tmp_path / "ck").mkdir()
    g = Graph()
    for _ in range(40):
        g.add("models.musicgen", checkpoint="./ck")
    estimate(g, base_dir=tmp_path)
    assert len(looked) == 40, len(looked)


def test_a_streamed_chain_over_its_memory_limit_names_the_peak_node_and_the_fix_that_helps(tmp_path, capsys):
    """QA125-2: 15 minutes through load -> gain -> high-pass -> fade -> export, streamed in blocks, under a
    10 MiB limit: the line named 'load' and said "shorten the audio ... or split the graph", where the 80 MiB
    peak is the export's buffers and the same for any length.  It names the node at the peak and says that
    only a higher limit helps; a chain short enough to hold its values whole is told to shorten, as before."""
    from nodeflow.cli import main
    with sf.SoundFile(tmp_path / "long.flac", "w", 48000, 2, subtype="PCM_16") as f:   # 13 min: streamed
        for _ in range(13):                                                             # (silence: 140 kB)
            f.write(np.zeros((48000 * 60, 2), np.float32))
    sf.write(tmp_path / "short.wav", np.zeros((48000 * 60, 2), np.float32), 48000, subtype="PCM_16")
    for name, said in (("long.flac", "'export' (io.export): the run would need about 80.0 MiB"),
                       ("short.wav", "'export' (io.export): the run would need about 151.9 MiB")):
        g = Graph()
        g.add("io.load", id="load", path=name)
        g.add("dsp.gain", id="gain", gain_db=-3.0)
        g.add("dsp.highpass", id="hp")
        g.add("dsp.fade", id="fade", fade_in_s=1.0)
        g.add("io.export", id="export", path="out.flac")
        for a, b in (("load", "gain"), ("gain", "hp"), ("hp", "fade"), ("fade", "export")):
            g.connect(a, b)
        saved = save(g, tmp_path / f"{name}.msgpack")
        assert main(["run", str(saved), "-o", str(tmp_path / "o"), "--max-memory-gb", "0.01"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0], err
        streamed = name == "long.flac"
        assert ("the audio streams through in blocks, so shorter audio needs no less; raise the limit" in err[0]) \
            == streamed and ("shorten the audio" in err[0]) != streamed, err
        assert not (tmp_path / "o").exists()
