"""Executor.stream: a node's output piece by piece as it is made (list items in order, chunks a
node hands on with ctx.chunk), the pieces making exactly the whole output."""
from __future__ import annotations

import re

import threading

import numpy as np
import pytest

from nodeflow import Audio, Context, ExecutionError, Executor, Graph, GraphError, Registry, node
from tests.nodeflow.stubs import ALL

_gate: dict[str, threading.Event] = {}


@node("strm.held")
def held(audio: Audio) -> Audio:
    """Item 0 passes at once; later items wait until the test has received item 0."""
    if audio.index > 0:
        assert _gate["first_seen"].wait(20), "the first item was not streamed before the second was made"
    return audio


@node("strm.windows")
def windows(*, count: int = 3, ctx: Context = None) -> Audio:
    """Makes its audio window by window, handing each on before making the next."""
    parts = []
    for i in range(count):
        if i > 0:
            assert _gate["first_seen"].wait(20), "the first window was not streamed before the second was made"
        part = np.full((1, 100), float(i + 1), np.float32)
        parts.append(part)
        ctx.chunk(Audio(part, 8000, start_frame=100 * i))
    return Audio(np.concatenate(parts, axis=1), 8000)


@node("strm.unplaced")
def unplaced(*, ctx: Context = None) -> Audio:
    """Hands on pieces of 100, 50 and 70 frames without saying where each starts (as a plug-in may)."""
    parts = [np.full((1, n), 0.1, np.float32) for n in (100, 50, 70)]
    for part in parts:
        ctx.chunk(Audio(part, 8000))
    return Audio(np.concatenate(parts, axis=1), 8000)


@pytest.fixture
def reg():
    _gate.clear()
    _gate["first_seen"] = threading.Event()
    r = Registry()
    r.load_pack("stubs", lambda reg: reg.add_all([*ALL, held, windows, unplaced]), "1.0")
    return r


def split_graph(reg, parts=4) -> Graph:
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("test.split", id="split", parts=parts)
    g.add("strm.held", id="held")
    g.connect("tone", "split")
    g.connect("split", "held")
    return g


@pytest.mark.parametrize("workers", [1, 2])
def test_list_items_stream_in_order_before_the_rest_is_made(reg, workers):
    g = split_graph(reg)
    pieces = []
    ex = Executor(max_workers=workers, disk_cache=None)
    for piece in ex.stream(g, "held"):
        pieces.append(piece)
        _gate["first_seen"].set()
    whole = Executor(disk_cache=None).run(g, ["held"])["held"]["out"]
    assert [p.index for p in pieces] == [0, 1, 2, 3]
    assert [p.index for p in ex.stream(g, "held")] == [0, 1, 2, 3]      # cached: the same items
    for p, w in zip(pieces, whole):
        np.testing.assert_array_equal(p.samples, w.samples)


def test_a_node_hands_on_windows_that_make_its_output(reg):
    g = Graph(reg)
    g.add("strm.windows", id="w", count=3)
    ex = Executor(disk_cache=None)
    pieces = []
    for piece in ex.stream(g, "w"):
        pieces.append(piece)
        _gate["first_seen"].set()
    assert len(pieces) == 3
    whole = ex.run(g)["w"]["out"]                    # now from the cache
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), whole.samples)
    assert [p.start_frame for p in pieces] == [0, 100, 200]
    again = list(ex.stream(g, "w"))                 # cached: the whole output, once
    assert len(again) == 1 and again[0].frames == 300


def test_errors_come_out_of_the_stream(reg):
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("test.fail", id="bad")
    g.connect("tone", "bad")
    with pytest.raises(ExecutionError, match="'bad'"):
        list(Executor(disk_cache=None).stream(g, "bad"))
    with pytest.raises(GraphError, match="no node named 'nope'"):
        list(Executor(disk_cache=None).stream(g, "nope"))
    with pytest.raises(GraphError, match="no output 'rms'"):
        list(Executor(disk_cache=None).stream(g, "bad", "rms"))


def test_closing_the_stream_stops_the_run(reg):
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("test.split", id="split", parts=50)
    g.add("test.slow", id="slow", steps=20, step_s=0.01)
    g.connect("tone", "split")
    g.connect("split", "slow")
    events = []
    stream = Executor(max_workers=1, disk_cache=None).stream(g, "slow", on_event=events.append)
    next(stream)
    stream.close()
    kinds = {e.kind for e in events if e.node_id == "slow"}
    assert "cancelled" in kinds and "finished" not in kinds


# ----------------------------------------------------------------------------- audiochain run -o -
def _cli_graph(tmp_path):
    import soundfile as sf

    from nodeflow import save
    rate = 44100
    t = np.arange(rate * 2) / rate
    x = np.stack([0.4 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 331 * t)]).T
    sf.write(tmp_path / "in.wav", x, rate, subtype="FLOAT")
    g = Graph()
    g.path = tmp_path / "g.msgpack"
    g.add("io.load", id="load", path="in.wav")
    g.add("dsp.gain", id="gain", gain_db=-6.0)
    g.add("io.export", id="export", path="out.wav")
    g.connect("load", "gain")
    g.connect("gain", "export")
    save(g, g.path)
    expected = Executor(disk_cache=None).run(g, ["gain"], base_dir=tmp_path)["gain"]["out"]
    return g.path, expected


def _cli(*args, **kw):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-c", "import sys; from nodeflow.cli import main; sys.exit(main())",
                           *args], capture_output=True, **kw)


def test_run_to_stdout_is_read_by_ffmpeg(tmp_path):
    """The raw stream, decoded by ffmpeg with the format the CLI printed, is the node's audio; the
    export did not run (no file)."""
    import re
    import shutil
    import subprocess

    import soundfile as sf
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    graph, expected = _cli_graph(tmp_path)
    p = _cli("run", str(graph), "-o", "-", cwd=tmp_path)
    assert p.returncode == 0, p.stderr.decode()
    err = p.stderr.decode()
    m = re.search(r"streaming (\d+) channel\(s\) at (\d+) Hz as raw float32", err)
    assert m and (int(m.group(1)), int(m.group(2))) == (2, 44100), err
    assert "streamed 88200 frame(s) of gain.out" in err
    assert not (tmp_path / "out.wav").exists()
    raw = tmp_path / "piped.raw"
    raw.write_bytes(p.stdout)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "f32le", "-ar", m.group(2), "-ac", m.group(1), "-i", str(raw),
                    "-c:a", "pcm_f32le", str(tmp_path / "decoded.wav")], check=True)
    decoded, rate = sf.read(tmp_path / "decoded.wav", dtype="float32")
    assert rate == 44100
    np.testing.assert_array_equal(decoded.T, expected.samples)


def test_run_to_stdout_refusals_are_one_line(tmp_path):
    graph, _ = _cli_graph(tmp_path)
    p = _cli("run", str(graph), "-o", "-", "--target", "export", cwd=tmp_path)
    assert p.returncode != 0
    assert p.stderr.decode().strip().splitlines()[-1].endswith("stream the audio it takes instead: --target gain")
    p = _cli("run", str(graph), "-o", "-", "--sweep", "gain.gain_db=-1,-2", cwd=tmp_path)
    assert p.returncode != 0 and "a sweep or --daw writes files" in p.stderr.decode()
    assert len(p.stderr.decode().strip().splitlines()) == 1


def test_a_reader_that_leaves_early_ends_the_run_quietly(tmp_path):
    import subprocess
    import sys
    graph, _ = _cli_graph(tmp_path)
    cmd = (f"{sys.executable} -c 'import sys; from nodeflow.cli import main; sys.exit(main())' "
           f"run {graph} -o - -q | head -c 1000 > {tmp_path / 'head.raw'}")
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert (tmp_path / "head.raw").stat().st_size == 1000
    assert b"Traceback" not in p.stderr and b"BrokenPipe" not in p.stderr
    # said, with -q too: not all of it was read (QA: "streamed 256000 frame(s)" as if it had been)
    assert re.fullmatch(r"stopped: the reader closed the pipe \(\d+ frame\(s\) of \w+\.out were written into it, what "
                        r"it read of them is its own\)", p.stderr.decode().strip())


def test_pieces_that_do_not_say_where_they_start_are_placed_one_after_another(reg):
    """QA: a plug-in's streamed pieces all said start_frame=0 (built-in models place theirs)."""
    g = Graph(reg)
    g.add("strm.unplaced", id="u")
    _gate["first_seen"].set()
    pieces = list(Executor(disk_cache=None).stream(g, "u"))
    assert [(p.start_frame, p.frames) for p in pieces] == [(0, 100), (100, 50), (150, 70)]
