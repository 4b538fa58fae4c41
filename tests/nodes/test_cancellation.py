"""Stop means stop: cancel during every built-in node kind that does real work, and Ctrl-C in the CLI.

Each case starts a run with ``Executor.submit``, waits for the node's ``started`` event (and a
little more, so the node is deep in its work), requests cancel and asserts the run raises
:class:`Cancelled` within 1 s of the request (issue 11's done-when; the one wall-clock bound in
the suite).  Workloads are sized to take seconds uncancelled on this machine.  A stop over the bound
is tried once more before it fails: on a shared machine one stop in a thousand waited for the CPU
(1.17 s once, where that node stops in 50-110 ms), while a node that does not look at its cancel
token misses the bound every time.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Executor, Graph
from nodeflow.audio import Audio
from nodeflow.errors import Cancelled
from nodeflow.node import node
from nodeflow.registry import Registry, default_registry

STOP_BOUND_S = 1.0      # from the request to the run's end
_CLIPS: dict[str, Audio] = {}


@node("test.clip", version=1)
def clip(*, name: str = "") -> Audio:
    """A clip made by the test (kept in memory, so no decoding is timed)."""
    return _CLIPS[name]


def _noise(name: str, seconds: float, rate: int, channels: int = 2) -> str:
    rng = np.random.default_rng(0)
    _CLIPS[name] = Audio((rng.standard_normal((channels, int(seconds * rate))) * 0.1).astype(np.float32), rate)
    return name


def _graph() -> Graph:
    reg = Registry()
    reg.add_all(list(default_registry()))
    reg.add(clip.spec if hasattr(clip, "spec") else clip)
    return Graph(reg)


def _source(g: Graph, name: str):
    return g.add("test.clip", name=name)


def cancel_during(g: Graph, node_id: str, tmp_path: Path, settle_s: float = 0.3) -> float:
    """Run ``g``, cancel once ``node_id`` has started (plus ``settle_s``); seconds from the request
    to the run's end, the run tried a second time when the first stop took longer than
    :data:`STOP_BOUND_S` (see the module's docstring).  Fails if a run ends before the cancel or does
    not raise Cancelled."""
    first = _cancel_once(g, node_id, tmp_path / "try1", settle_s)
    return first if first < STOP_BOUND_S else min(first, _cancel_once(g, node_id, tmp_path / "try2", settle_s))


def _cancel_once(g: Graph, node_id: str, tmp_path: Path, settle_s: float) -> float:
    started = threading.Event()
    ex = Executor()

    def on_event(ev):
        if ev.kind == "started" and ev.node_id == node_id:
            started.set()

    handle = ex.submit(g, output_dir=tmp_path, on_event=on_event)
    try:
        assert started.wait(120), f"{node_id} never started: {handle.exception(5) if handle.done() else ''}"
        time.sleep(settle_s)
        assert not handle.done(), f"the run ended before the cancel: {handle.exception(0)!r}"
        t0 = time.monotonic()
        handle.cancel()
        with pytest.raises(Cancelled):
            handle.result(timeout=120)
        return time.monotonic() - t0
    finally:
        ex.close()


def test_variation_of_a_long_clip(tmp_path):
    g = _graph()
    src = _source(g, _noise("long48", 150.0, 48000))
    v = g.add("dsp.variation", semitones=3.0, stretch_ratio=1.5)
    g.connect(src.out, v.audio)
    assert cancel_during(g, v.id, tmp_path) < STOP_BOUND_S


def test_variation_with_octave_blend_after_the_first_pass(tmp_path):
    g = _graph()
    src = _source(g, _noise("long48", 150.0, 48000))
    v = g.add("dsp.variation", semitones=3.0, octave_blend=0.5)
    g.connect(src.out, v.audio)
    assert cancel_during(g, v.id, tmp_path, settle_s=2.0) < STOP_BOUND_S


def test_resample(tmp_path):
    g = _graph()
    src = _source(g, _noise("half_hour", 1800.0, 48000))
    r = g.add("dsp.resample", rate_hz=44100, quality="very_high")
    g.connect(src.out, r.audio)
    assert cancel_during(g, r.id, tmp_path, settle_s=0.1) < STOP_BOUND_S


def test_load_of_a_long_file(tmp_path):
    path = tmp_path / "long.flac"
    rng = np.random.default_rng(1)
    sf.write(str(path), (rng.standard_normal((48000 * 1800, 2)) * 0.1).astype(np.float32), 48000, subtype="PCM_16")
    g = _graph()
    g.add("io.load", id="load", path=str(path))
    assert cancel_during(g, "load", tmp_path, settle_s=0.1) < STOP_BOUND_S


def test_export_of_a_long_clip_with_loudness(tmp_path):
    g = _graph()
    src = _source(g, _noise("five_min", 300.0, 48000))
    e = g.add("io.export", path="long.wav", loudness_lufs=-14.0)
    g.connect(src.out, e.audio)
    assert cancel_during(g, e.id, tmp_path, settle_s=1.0) < STOP_BOUND_S
    assert not (tmp_path / "long.wav").exists()


def test_stitch_of_many_windows(tmp_path):
    g = _graph()
    src = _source(g, _noise("hour16k", 3600.0, 16000, channels=1))
    w = g.add("time.tokenize_window", unit="seconds", size=0.05)
    s = g.add("time.stitch")
    g.connect(src.out, w.audio)
    g.connect(w.out, s.windows)
    assert cancel_during(g, s.id, tmp_path) < STOP_BOUND_S


def test_tokenize_window_of_many_windows(tmp_path):
    g = _graph()
    src = _source(g, _noise("hour16k", 3600.0, 16000, channels=1))
    w = g.add("time.tokenize_window", unit="seconds", size=0.05)
    g.connect(src.out, w.audio)
    assert cancel_during(g, w.id, tmp_path, settle_s=0.5) < STOP_BOUND_S


def test_detect_tempo(tmp_path):
    pytest.importorskip("librosa")
    from tests.nodes._signals import music
    _CLIPS["music"] = music(120, 4, 240, 44100)
    g = _graph()
    src = _source(g, "music")
    t = g.add("time.detect_tempo")
    g.connect(src.out, t.audio)
    assert cancel_during(g, t.id, tmp_path, settle_s=0.5) < STOP_BOUND_S


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_with_long_text(tmp_path):
    g = _graph()
    e = g.add("speech.espeak", text=" ".join(["The quick brown fox jumps over the lazy dog."] * 2000))
    assert cancel_during(g, e.id, tmp_path, settle_s=0.5) < STOP_BOUND_S


def test_musicgen_on_the_tiny_model(tmp_path_factory, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
    import tiny_models
    ck = tiny_models.build_all(tmp_path_factory.mktemp("tiny"))["musicgen_short"]
    g = _graph()
    m = g.add("models.musicgen", checkpoint=str(ck), duration_s=120.0, extend_stride_s=0.5)
    assert cancel_during(g, m.id, tmp_path, settle_s=1.0) < STOP_BOUND_S


# ---------------------------------------------------------------------------------------- the CLI
def _load_export_graph(tmp_path, seconds: float, rate: int, name: str, export_path: str, seed: int):
    """``tmp_path/g.msgpack``: a noise clip ``name`` of ``seconds`` loaded and exported to ``export_path``."""
    from nodeflow.fileformat import save
    noise_ = np.random.default_rng(seed).standard_normal((round(rate * seconds), 2)) * 0.1
    sf.write(str(tmp_path / name), noise_.astype(np.float32), rate)
    g = Graph()
    load = g.add("io.load", id="load", path=str(tmp_path / name))
    e = g.add("io.export", id="export", path=export_path)
    g.connect(load.out, e.audio)
    return save(g, tmp_path / "g.msgpack")


class _Cli:
    """``audiochain ARGV`` in a real process, its stderr read line by line as it comes (a signal is
    sent when what the test waits for has been said, or has happened on disk)."""

    def __init__(self, *argv: str, seen: Callable[[str], bool] = lambda line: False):
        self.proc = subprocess.Popen([sys.executable, "-m", "nodeflow.cli", *argv], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                                     # Ctrl-C as a terminal delivers it, even when the tests were started in
                                     # the background (which starts them with SIGINT ignored)
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.lines: list[str] = []
        self.seen = threading.Event()

        def read() -> None:
            for line in self.proc.stderr:
                self.lines.append(line)
                if seen(line):
                    self.seen.set()
        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def stop(self, sig: int) -> tuple[int, float]:
        """Send ``sig``; the exit code and the seconds it took to exit."""
        try:
            t0 = time.monotonic()
            self.proc.send_signal(sig)
            code = self.proc.wait(30)
            return code, time.monotonic() - t0
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.reader.join(5)


def test_ctrl_c_in_audiochain_run_stops_within_a_second_and_says_what_finished(tmp_path):
    from nodeflow.fileformat import save
    rng = np.random.default_rng(2)
    sf.write(str(tmp_path / "long.wav"), (rng.standard_normal((48000 * 150, 2)) * 0.1).astype(np.float32), 48000)
    g = Graph()
    load = g.add("io.load", id="load", path=str(tmp_path / "long.wav"))
    v = g.add("dsp.variation", id="vary", semitones=3.0, stretch_ratio=1.5)
    e = g.add("io.export", id="export", path="varied.wav")
    g.connect(load.out, v.audio)
    g.connect(v.out, e.audio)
    save(g, tmp_path / "g.msgpack")
    cli = _Cli("run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out"),
               seen=lambda line: "vary" in line and "run" in line)
    assert cli.seen.wait(60), cli.text
    time.sleep(0.5)
    assert cli.proc.poll() is None, cli.text
    code, elapsed = cli.stop(signal.SIGINT)
    text = cli.text
    assert code == 130, text
    assert elapsed < 1.5, text
    assert "stopped: 1 of 3 node(s) finished (load); no file written" in text, text
    assert not (tmp_path / "out" / "varied.wav").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_during_an_mp3_encode_leaves_no_partial_file(tmp_path, sig):
    """QA: Ctrl-C, SIGTERM or SIGHUP while libsndfile encoded an mp3 (one call, not cancellable) left a
    2.6 MB ``.long.mp3.<pid>-<random>.tmp.mp3`` in the output folder; TERM and HUP killed the process
    (then were said as Ctrl-C, "press Ctrl-C again", with its exit code 130)."""
    _load_export_graph(tmp_path, 240.0, 44100, "long.flac", "long.mp3", seed=3)
    out = tmp_path / "out"
    cli = _Cli("run", str(tmp_path / "g.msgpack"), "-o", str(out), "--no-cache")
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(p.name.endswith(".tmp.mp3") for p in out.iterdir())):   # encoding now
        assert cli.proc.poll() is None and time.monotonic() < deadline, cli.text
        time.sleep(0.05)
    code, _ = cli.stop(sig)
    text = cli.text
    assert code == 128 + sig, text              # 130, 143, 129: as a shell reports a process they ended
    said = "interrupted: stopping (Ctrl-C again" if sig == signal.SIGINT else f"{sig.name} received: stopping..."
    assert said in text and "Traceback" not in text and "stopped:" in text, text
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == [], text     # (a folder the run made: gone)


def test_ctrl_c_in_a_sweep_writes_the_manifest_of_what_finished(tmp_path):
    """QA: Ctrl-C during a 1,500-variant sweep exited silently, 235 variant folders and no manifest."""
    import json
    _load_export_graph(tmp_path, 3.0, 44100, "in.wav", "a.flac", seed=4)
    out = tmp_path / "out"
    cli = _Cli("run", str(tmp_path / "g.msgpack"), "-o", str(out), "--sweep", "export.peak_db=-60..0:0.1",
               "--max-files", "1000", "--jobs", "1", seen=lambda line: line.startswith("[5/"))
    assert cli.seen.wait(120), cli.text
    code, _ = cli.stop(signal.SIGINT)
    text = cli.text
    assert code == 130 and "Traceback" not in text, text
    rows = json.loads((out / "manifest.json").read_text())["variants"]
    assert len(rows) == 601 and (out / "manifest.csv").is_file()
    done = [r for r in rows if r["status"] == "ok"]
    assert len(done) >= 5 and {r["status"] for r in rows} == {"ok", "cancelled"}, text
    for r in done:
        assert (out / r["outputs"][0]).is_file()
    folders = {p.name for p in out.iterdir() if p.is_dir()}       # no empty folder of a cancelled variant
    assert folders == {Path(r["outputs"][0]).parts[0] for r in done}, folders
    assert not [p for p in out.rglob("*") if ".tmp" in p.name or p.name.endswith(".lock")]
    assert f"stopped: {len(done)} of 601 variant(s) finished; manifest: " in text
