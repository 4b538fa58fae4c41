"""Streamed chains (nodeflow.streaming): the same samples as the node-by-node run, the same events,
cancellation and errors naming the node, nothing partial left behind, bounded memory."""
from __future__ import annotations

import dataclasses
import gc
import hashlib
import threading
import time
import tracemalloc
import weakref
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Executor, Graph, Registry
from nodeflow.audio import Audio, StreamedAudio
from nodeflow.audiometa import read_metadata
from nodeflow.errors import AudioError, Cancelled, ExecutionError, ExportsFailed
from nodeflow.node import Context, node
from nodeflow.streaming import NotStreamable, Stream, reblock

RATE = 48000


def _music(seconds: float, rate: int = RATE, channels: int = 2, amp: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(round(seconds * rate)) / rate
    x = amp * np.sin(2 * np.pi * 110 * t) + 0.05 * rng.standard_normal(len(t))
    return np.stack([np.roll(x, 37 * c) for c in range(channels)]).astype(np.float32)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in.wav"
    sf.write(str(path), _music(7.3).T, RATE, subtype="PCM_24")
    return path


def _chain(steps, registry=None) -> Graph:
    g = Graph(registry) if registry is not None else Graph()
    prev = None
    for i, (t, p) in enumerate(steps):
        g.add(t, id=f"n{i}", **p)
        if prev is not None:
            g.connect(prev, f"n{i}")
        prev = f"n{i}"
    return g


def _run(g: Graph, out: Path, stream: bool, **kw):
    events = []
    res = Executor(disk_cache=None, stream=stream).run(g, base_dir=out, output_dir=out,
                                                       on_event=lambda e: events.append(e), **kw)
    return res, events


def _same_file(a: Path, b: Path) -> None:
    """Same samples (as stored) and the same tags; the bext origination time may differ."""
    xa, ra = sf.read(str(a), dtype="float64", always_2d=True)
    xb, rb = sf.read(str(b), dtype="float64", always_2d=True)
    assert ra == rb and xa.shape == xb.shape
    assert np.array_equal(xa, xb)
    undated = lambda m: dataclasses.replace(m, date="")   # noqa: E731 - the date is the writing time
    assert undated(read_metadata(a)) == undated(read_metadata(b))


NINE = [("dsp.gain", dict(gain_db=-3.0)), ("dsp.fade", dict(fade_in_s=1.0, fade_out_s=2.0, curve="equal_power")),
        ("dsp.trim", dict(start_s=0.5, end_s=6.9)), ("dsp.resample", dict(rate_hz=44100)),
        ("dsp.gain", dict(gain_db=1.0)), ("dsp.channels", dict(mode="swap")), ("dsp.fade", dict(fade_in_s=0.5))]


@pytest.mark.parametrize("export", [dict(path="o.wav"), dict(path="o.flac", bit_depth="pcm16"),
                                    dict(path="o.wav", bit_depth="float32"),
                                    dict(path="o.wav", sample_rate="48000", channels="mono", bit_depth="pcm16"),
                                    dict(path="o.wav", loudness_lufs=-20.0),        # whole: needs two passes
                                    dict(path="o.wav", peak_db=-12.0),              # found at the end: limiter
                                    dict(path="o.wav", peak_db=None),               # no limiter: streamed too
                                    dict(path="o.flac", bit_depth="pcm16", peak_db=None, dither=True)])
def test_streamed_chain_writes_the_file_the_node_by_node_run_writes(tmp_path, source, export):
    g = _chain([("io.load", dict(path=str(source)))] + NINE + [("io.export", export)])
    (tmp_path / "s").mkdir()
    (tmp_path / "w").mkdir()
    res_s, ev = _run(g, tmp_path / "s", True)
    res_w, _ = _run(g, tmp_path / "w", False)
    _same_file(tmp_path / "s" / export["path"], tmp_path / "w" / export["path"])
    assert res_s.ran == res_w.ran == set(g.nodes)
    last_in = "n7"                      # what fed the export: described (streamed) or whole
    assert isinstance(res_w[last_in]["out"], Audio) and not isinstance(res_w[last_in]["out"], StreamedAudio)
    head = res_s[last_in]["out"]
    assert isinstance(head, Audio)
    assert (head.frames, head.channels, head.sample_rate, head.start_frame) == \
        (res_w[last_in]["out"].frames, res_w[last_in]["out"].channels, res_w[last_in]["out"].sample_rate,
         res_w[last_in]["out"].start_frame)
    for n in g.nodes:                   # each node: started, finished, in that order
        kinds = [e.kind for e in ev if e.node_id == n]
        assert kinds[0] == "queued" and kinds.index("started") < kinds.index("finished") == len(kinds) - 1
    assert not list((tmp_path / "s").glob("*.tmp*")) and sorted(p.name for p in (tmp_path / "s").iterdir()) == \
        [export["path"]]


def test_an_export_without_a_limiter_streams_and_refuses_what_integers_cannot_store(tmp_path, source):
    """QA48: peak_db=None (stems that must sum to their mix) made the chain whole: a 30-minute export held
    1.3 GiB where `show` estimated 72 MiB.  It streams now; audio over full scale for 24-bit integers is
    refused as the whole-value export refuses it, with no file left."""
    g = _chain([("io.load", dict(path=str(source)))] + NINE + [("io.export", dict(path="o.wav", peak_db=None))])
    res, _ = _run(g, tmp_path, True)
    assert isinstance(res["n7"]["out"], StreamedAudio)          # what fed the export was never made whole
    hot = _chain([("io.load", dict(path=str(source))), ("dsp.gain", dict(gain_db=12.0)),
                  ("io.export", dict(path="hot.wav", peak_db=None))])
    (tmp_path / "h").mkdir()
    with pytest.raises(ExecutionError, match=r"peak_db is empty \(no limiter\) and the audio peaks at \+[\d.]+ dBFS, "
                                             r"over what wav 24-bit stores; export 32-bit float wav"):
        _run(hot, tmp_path / "h", True)
    assert not list((tmp_path / "h").iterdir())


def test_a_chain_that_ends_in_a_value_streams_into_it_exactly(tmp_path, source):
    g = _chain([("io.load", dict(path=str(source), start_s=0.25))] + NINE)
    res_s, ev = _run(g, tmp_path, True)
    res_w, _ = _run(g, tmp_path, False)
    a, b = res_s["n7"]["out"], res_w["n7"]["out"]
    assert type(a) is Audio and a == b
    assert (a.start_frame, a.overlap_frames, a.markers, a.info) == (b.start_frame, b.overlap_frames, b.markers, b.info)
    assert set(res_s.outputs) == {"n7"}                 # inner values were never made whole
    assert any(e.kind == "progress" and e.node_id == "n0" for e in ev)


def test_streaming_a_chain_s_last_node_hands_it_on_block_by_block(tmp_path, source):
    """Executor.stream (and `audiochain run -o -`) of a chain that streams: its audio comes block by
    block while the chain runs, never made whole (an hour to standard output took 23 s to its first
    byte and 3.7 GB), and the pieces are the node-by-node result, to the bit."""
    g = _chain([("io.load", dict(path=str(source))), ("dsp.gain", dict(gain_db=-3.0)),
                ("dsp.resample", dict(rate_hz=44100))])
    events: list = []
    pieces = list(Executor(disk_cache=None).stream(g, "n2", base_dir=tmp_path, output_dir=tmp_path,
                                                   on_event=events.append))
    whole, _ = _run(g, tmp_path, False)
    assert len(pieces) > 3 and all(type(p) is Audio for p in pieces)
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), whole["n2"]["out"].samples)
    kinds = [e.kind for e in events if e.node_id == "n2"]
    assert kinds.index("chunk") < kinds.index("finished")          # handed on while the chain ran


def test_keep_returns_a_value_whole_and_the_chain_streams_around_it(tmp_path, source):
    g = _chain([("io.load", dict(path=str(source)))] + NINE[:3] + [("io.export", dict(path="o.wav"))])
    res, _ = _run(g, tmp_path, True, keep=["n1"])
    assert type(res["n1"]["out"]) is Audio                   # kept: computed whole
    assert isinstance(res["n3"]["out"], StreamedAudio)      # fed the export: streamed, described
    with pytest.raises(AudioError, match="n3.*keep="):
        res["n3"]["out"].samples


def test_the_input_file_is_never_changed(tmp_path, source):
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    g = _chain([("io.load", dict(path=str(source))), ("dsp.gain", dict(gain_db=-1.0)),
                ("io.export", dict(path="o.wav"))])
    _run(g, tmp_path / "elsewhere", True)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest
    g.set("n2", "path", str(source))                  # over the input itself: refused, input intact
    with pytest.raises(Exception, match="input file|refus"):
        Executor(disk_cache=None, stream=True).run(g, base_dir=tmp_path, output_dir=tmp_path)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


# ------------------------------------------------------------------ cancellation and errors
def test_cancel_in_the_middle_of_a_streamed_chain_leaves_no_file(tmp_path, source):
    g = _chain([("io.load", dict(path=str(source))), ("dsp.resample", dict(rate_hz=44100)),
                ("io.export", dict(path="o.wav"))])
    cancel = threading.Event()
    events = []

    def on_event(e):
        events.append(e)
        if e.kind == "progress" and e.node_id == "n0":
            cancel.set()              # Stop after the first block was read
    with pytest.raises(Cancelled):
        Executor(disk_cache=None, stream=True).run(g, base_dir=tmp_path, output_dir=tmp_path / "out",
                                                   on_event=on_event, cancel_event=cancel)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert {e.node_id for e in events if e.kind == "cancelled"} == {"n0", "n1", "n2"}
    assert not any(e.kind == "finished" for e in events)


def _failing_registry(after_blocks: int):
    import nodes
    reg = Registry()
    reg.load_pack("builtin", nodes)

    def stream(inputs, params, ctx):
        s = inputs["audio"]

        def blocks():
            for i, b in enumerate(s.blocks):
                if i == after_blocks:
                    raise RuntimeError("broke on purpose")
                yield b
        return Stream(s.head, blocks())

    @node("test.breaks", stream=stream)
    def breaks(audio: Audio) -> Audio:
        """Fails (whole), or after a few blocks (streamed)."""
        raise RuntimeError("broke on purpose")

    reg.add(breaks)
    return reg


def test_each_streamed_node_reports_its_own_time_not_the_chains(tmp_path, source):
    """Every node of a streamed chain runs from its first block to its last: each was reported with
    the chain's time (QA: 'done gain (52.97 s)' for a 0.9 s gain before a slow encode)."""
    import nodes
    reg = Registry()
    reg.load_pack("builtin", nodes)

    def stream(inputs, params, ctx):
        s = inputs["audio"]

        def blocks():
            for b in s.blocks:
                time.sleep(0.1)             # a slow stage: 100 ms a block of its own (20 ms was within what a
                                            # loaded machine takes to open the file: ci83)
                yield b
        return Stream(s.head, blocks())

    @node("test.slow_stream", stream=stream)
    def slow(audio: Audio) -> Audio:
        """Slow, streamed."""
        return audio

    reg.add(slow)
    g = _chain([("io.load", {"path": str(source)}), ("dsp.gain", {"gain_db": -1.0}), ("test.slow_stream", {}),
                ("io.export", {"path": "o.wav"})], reg)
    res, events = _run(g, tmp_path, stream=True, keep=[])
    took = {e.node_id: e.elapsed_s for e in events if e.kind == "finished"}
    blocks = sum(1 for e in events if e.kind == "progress" and e.node_id == "n2")
    assert took["n2"] >= 0.1 * max(blocks - 1, 1), (took, blocks)
    assert took["n1"] < took["n2"] / 2 and took["n0"] < took["n2"] / 2, took    # they were all equal
    assert sum(took.values()) <= res.elapsed_s + 0.05, (took, res.elapsed_s)    # the chain's time, shared out


def test_an_error_in_the_middle_names_the_node_and_leaves_no_partial_file(tmp_path, source):
    reg = _failing_registry(after_blocks=2)
    g = Graph(reg)
    g.add("io.load", id="load", path=str(source))
    g.add("test.breaks", id="middle")
    g.add("dsp.gain", id="gain", gain_db=-2.0)
    g.add("io.export", id="out", path="o.wav")
    g.connect("load", "middle"); g.connect("middle", "gain"); g.connect("gain", "out")
    events = []
    with pytest.raises(ExecutionError, match="node 'middle'.*broke on purpose") as info:
        Executor(disk_cache=None, stream=True).run(g, base_dir=tmp_path, output_dir=tmp_path / "out",
                                                   on_event=events.append)
    assert not isinstance(info.value, ExportsFailed)      # an upstream node failed, not the export
    assert isinstance(info.value.__cause__, RuntimeError)
    assert [e.node_id for e in events if e.kind == "failed"] == ["middle"]
    assert {e.node_id for e in events if e.kind == "cancelled"} == {"load", "gain", "out"}
    out = tmp_path / "out"
    assert not out.exists() or not list(out.iterdir())    # the temp file went with the error


@pytest.mark.parametrize("after", ["gain", "export"])
@pytest.mark.parametrize("miscount", [-1, 1])
def test_a_stream_form_that_miscounts_its_frames_is_said_of_its_node_and_writes_nothing(tmp_path, source, after,
                                                                                       miscount):
    """QA68 D4: a plug-in stream= form whose blocks each lost a frame was blamed on the gain after it
    (a bare "stream gave 767994 of the 768000 frames it announced"), and fed straight to an export it
    wrote the short file without a word.  Now the node that made the stream is named, with the fix."""
    import nodes
    reg = Registry()
    reg.load_pack("builtin", nodes)

    def stream(inputs, params, ctx):
        s = inputs["audio"]
        return Stream(s.head, (b[:, :-1] if miscount < 0 else np.concatenate([b, b[:, -1:]], axis=1)
                               for b in s.blocks))

    @node("test.miscounts", stream=stream)
    def miscounts(audio: Audio) -> Audio:
        """Whole, it is right; its stream form is not."""
        return audio

    reg.add(miscounts)
    steps = [("io.load", {"path": str(source)}), ("test.miscounts", {})] + \
        ([("dsp.gain", {"gain_db": -2.0})] if after == "gain" else []) + [("io.export", {"path": "o.wav"})]
    g = _chain(steps, reg)
    said = "of the" if miscount < 0 else "more than the"
    with pytest.raises(ExecutionError, match=rf"^node 'n1': test.miscounts failed: RuntimeError: its stream gave .*"
                                             rf"{said} \d+ frames it announced; a stream= form must give exactly"):
        Executor(disk_cache=None, stream=True).run(g, base_dir=tmp_path, output_dir=tmp_path / "out")
    out = tmp_path / "out"
    assert not out.exists() or not list(out.iterdir())
    res = Executor(disk_cache=None, stream=False).run(g, base_dir=tmp_path, output_dir=tmp_path / "whole")
    assert sf.info(tmp_path / "whole" / "o.wav").frames == sf.info(source).frames and res


def test_a_short_chain_run_node_by_node_keeps_what_finished_before_its_export_failed(tmp_path):
    """A fused load -> gain -> export of a short clip runs node by node: when the export refuses, the load
    and the gain did run (QA: the CLI said "cancelled load" and "ran 0 node(s)"); their values are cached."""
    sf.write(tmp_path / "silence.wav", np.zeros((RATE, 2), np.float32), RATE)
    g = _chain([("io.load", dict(path=str(tmp_path / "silence.wav"))), ("dsp.gain", dict(gain_db=-1.0)),
                ("io.export", dict(path="o.wav", loudness_lufs=-14.0))])
    ex, events = Executor(disk_cache=None), []
    with pytest.raises(ExportsFailed, match="silent") as info:
        ex.run(g, base_dir=tmp_path, output_dir=tmp_path / "out", on_event=events.append, keep=[])
    ends = {e.node_id: e.kind for e in events if e.kind in ("finished", "failed", "cancelled")}
    assert ends == {"n0": "finished", "n1": "finished", "n2": "failed"}
    assert info.value.result.ran == {"n0", "n1"}
    g.set("n2", "loudness_lufs", None)
    again = ex.run(g, base_dir=tmp_path, output_dir=tmp_path / "out", keep=[])
    assert again.cached == {"n1"} and again.ran == {"n2"}      # the gain's value came from the cache


def test_a_damaged_flac_fails_in_the_middle_with_the_loads_message(tmp_path):
    """A FLAC damaged in its middle (one cut short is refused before the run: validate reads its end)."""
    path = tmp_path / "t.flac"
    sf.write(str(path), _music(20.0).T, RATE, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] + bytes(len(data) // 10) + data[len(data) * 6 // 10:])
    g = _chain([("io.load", dict(path=str(path))), ("dsp.gain", dict(gain_db=-1.0)),
                ("io.export", dict(path="o.wav"))])
    errors = []
    for stream in (True, False):
        with pytest.raises(ExecutionError, match="node 'n0'.*truncated") as info:
            Executor(disk_cache=None, stream=stream).run(g, base_dir=tmp_path, output_dir=tmp_path / f"o{stream}")
        errors.append(str(info.value))
        assert not (tmp_path / f"o{stream}").exists() or not list((tmp_path / f"o{stream}").iterdir())
    assert errors[0] == errors[1]


def test_a_failing_streamed_export_does_not_stop_the_other_exports(tmp_path, source, monkeypatch):
    from nodeflow import validation
    monkeypatch.setattr(validation, "_names_a_folder", lambda *a: None)   # a folder made there after the check
    g = Graph()
    g.add("io.load", id="load", path=str(source))
    g.add("dsp.gain", id="g1", gain_db=-1.0)
    g.add("io.export", id="bad", path="o.flac")        # a folder of that name is there: found as it writes
    (tmp_path / "o.flac").mkdir()                      # (an mp3 at 88.2 kHz is refused before the run now)
    g.add("io.load", id="load2", path=str(source))
    g.add("io.export", id="good", path="good.wav")
    g.connect("load", "g1"); g.connect("g1", "bad"); g.connect("load2", "good")
    with pytest.raises(ExportsFailed, match="node 'bad'.*names a folder"):
        Executor(disk_cache=None, stream=True).run(g, base_dir=tmp_path, output_dir=tmp_path)
    assert (tmp_path / "good.wav").exists() and list((tmp_path / "o.flac").iterdir()) == []


# ------------------------------------------------------------------ memory
def test_a_released_value_feeding_a_streamed_chain_is_freed(tmp_path):
    made: dict[str, weakref.ref] = {}
    alive_at_end: list[bool] = []
    import nodes
    reg = Registry()
    reg.load_pack("builtin", nodes)

    @node("test.source")
    def src() -> Audio:
        """A whole value (no streaming form) the probe watches."""
        a = Audio(_music(3.0), RATE)
        made["a"] = weakref.ref(a)
        return a

    @node("test.after")
    def after(path: str) -> str:
        """Runs after the export; records whether the source is still alive."""
        gc.collect()
        alive_at_end.append(made["a"]() is not None)
        return path
    reg.add(src)
    reg.add(after)
    g = Graph(reg)
    g.add("test.source", id="s")
    g.add("dsp.gain", id="g", gain_db=-1.0)
    g.add("dsp.fade", id="f", fade_in_s=0.5)
    g.add("io.export", id="e", path="o.wav")
    g.add("test.after", id="z")
    g.connect("s", "g"); g.connect("g", "f"); g.connect("f", "e"); g.connect("e", "z")
    res = Executor(cache_bytes=0, disk_cache=None).run(g, base_dir=tmp_path, output_dir=tmp_path)
    assert alive_at_end == [False]                      # released once the streamed chain had it
    assert isinstance(res["f"]["out"], StreamedAudio)


def test_streamed_load_resample_export_memory_does_not_grow_with_the_audio(tmp_path):
    """tracemalloc (numpy reports its buffers to it): the streamed run's peak is its blocks, the same
    for 40 s as for 160 s of audio; the node-by-node run holds whole values."""
    peaks = {}
    for seconds in (40.0, 160.0):
        path = tmp_path / f"{seconds:g}.wav"
        sf.write(str(path), _music(seconds).T, RATE, subtype="PCM_16")
        g = _chain([("io.load", dict(path=str(path))), ("dsp.resample", dict(rate_hz=44100)),
                    ("io.export", dict(path="o.wav", embed_graph=False))])
        for stream in (True, False):
            tracemalloc.start()
            Executor(disk_cache=None, cache_bytes=0, stream=stream).run(g, base_dir=tmp_path, output_dir=tmp_path)
            peaks[seconds, stream] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    value = 160 * RATE * 2 * 4
    assert peaks[160.0, True] < 1.5 * peaks[40.0, True]      # measured: the same ~18 MB
    assert peaks[160.0, True] < 0.4 * value                  # measured ~0.25x of 160 s
    assert peaks[160.0, False] > 1.5 * value                 # load's and resample's outputs, whole


# ------------------------------------------------------------------ building blocks
def test_reblock_cuts_where_one_whole_array_would_be_cut():
    x = np.arange(2 * 1000, dtype=np.float32).reshape(2, 1000)
    parts = [x[:, a:b] for a, b in ((0, 3), (3, 400), (400, 401), (401, 1000))]
    got = list(reblock(iter(parts), 2, 128))
    assert [b.shape[1] for b in got] == [128] * 7 + [104]
    assert np.array_equal(np.concatenate(got, axis=1), x)


def test_planning_fuses_only_values_nobody_else_needs(tmp_path, source):
    from nodeflow import streaming
    g = Graph()
    g.add("io.load", id="load", path=str(source))
    g.add("dsp.gain", id="a", gain_db=-1.0)
    g.add("dsp.fade", id="b", fade_in_s=0.1)
    g.add("io.export", id="e1", path="1.wav")
    g.add("dsp.mix", id="m")                         # no streaming form: takes 'a' whole
    g.connect("load", "a"); g.connect("a", "b"); g.connect("b", "e1"); g.connect("a", "m.a"); g.connect("load", "m.b")
    ex = Executor(disk_cache=None)
    seen = {}
    original = streaming.plan_segments

    def spy(*args, **kw):
        seen["segments"] = original(*args, **kw)
        return seen["segments"]
    streaming.plan_segments = spy
    try:
        ex.run(g, base_dir=tmp_path, output_dir=tmp_path)
    finally:
        streaming.plan_segments = original
    assert seen["segments"] == {"e1": ["b", "e1"]}   # 'a' and 'load' have two consumers each
    streaming.plan_segments = spy
    try:
        ex.run(g, base_dir=tmp_path, output_dir=tmp_path, keep="all")
    finally:
        streaming.plan_segments = original
    assert seen["segments"] == {}


def test_a_node_that_cannot_stream_runs_the_chain_whole(tmp_path):
    path = tmp_path / "in.mp3"
    sf.write(str(path), _music(3.0).T, RATE, format="MP3", subtype="MPEG_LAYER_III")
    g = _chain([("io.load", dict(path=str(path))), ("dsp.gain", dict(gain_db=-1.0)),
                ("io.export", dict(path="o.wav"))])
    (tmp_path / "s").mkdir(); (tmp_path / "w").mkdir()
    _run(g, tmp_path / "s", True)
    _run(g, tmp_path / "w", False)
    _same_file(tmp_path / "s" / "o.wav", tmp_path / "w" / "o.wav")


def test_stream_of_a_whole_value_gives_views_of_its_samples():
    a = Audio(_music(1.0), RATE)
    s = Stream.of(a, block=10000)
    blocks = list(s.blocks)
    assert s.head.frames == a.frames and all(np.shares_memory(b, a.samples) for b in blocks)
    assert np.array_equal(np.concatenate(blocks, axis=1), a.samples)
    with pytest.raises(NotStreamable):
        from nodes.io.export import _stream
        _stream({"audio": s}, dict(loudness_lufs=-14.0), Context())


def test_nine_node_chain_node_by_node_peaks_under_three_values(tmp_path):
    """issue 12's goal for the nodes themselves (Executor(stream=False)): a 9-node chain holds at most
    about two values at once (a node's input and output; measured 2.1x by tracemalloc)."""
    path = tmp_path / "in.wav"
    sf.write(str(path), _music(60.0).T, RATE, subtype="PCM_24")
    g = _chain([("io.load", dict(path=str(path)))] + NINE + [("io.export", dict(path="o.wav", embed_graph=False))])
    tracemalloc.start()
    Executor(disk_cache=None, cache_bytes=0, stream=False).run(g, base_dir=tmp_path, output_dir=tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3.0 * 60 * RATE * 2 * 4


def test_a_streamed_exports_clip_keeps_its_place_in_the_daw_project(tmp_path, source):
    from nodeflow.dawruns import clips_from_run
    g = _chain([("io.load", dict(path=str(source), start_s=1.0)), ("dsp.trim", dict(start_s=0.5)),
                ("io.export", dict(path="o.wav"))])
    clips = []
    for stream in (True, False):
        res, _ = _run(g, tmp_path / str(stream), stream)
        assert isinstance(res["n1"]["out"], StreamedAudio) == stream
        (track,) = clips_from_run(g, res)
        (clip,) = track.clips
        clips.append((clip.start_s, clip.duration_s, clip.sample_rate, clip.channels))
    assert clips[0] == clips[1] == [(Fraction(3, 2), Fraction(58, 10), RATE, 2)][0]   # its place in the file, not 0


def test_by_default_short_audio_runs_node_by_node_and_is_cached(tmp_path, source):
    """Streamed values are not cached, so by default a chain streams only when a value would take
    STREAM_MIN_BYTES or more than the memory cache's budget; shorter clips keep their values cached."""
    g = _chain([("io.load", dict(path=str(source))), ("dsp.gain", dict(gain_db=-1.0)),
                ("io.export", dict(path="o.wav"))])
    ex = Executor(disk_cache=None)
    res = ex.run(g, base_dir=tmp_path, output_dir=tmp_path)
    assert type(res["n1"]["out"]) is Audio
    again = ex.run(g, base_dir=tmp_path, output_dir=tmp_path)
    assert again.cached == {"n1"} and again.ran == {"n2"}          # the export reads gain's value back
    small_budget = Executor(disk_cache=None, cache_bytes=1 << 20).run(g, base_dir=tmp_path, output_dir=tmp_path)
    assert isinstance(small_budget["n1"]["out"], StreamedAudio)    # 2.8 MB values > a 1 MiB budget: streamed
