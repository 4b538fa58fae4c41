"""Executor.stream of a node after a model: the model's pieces go on through the block nodes after it
(gain, fade, resample) while it still generates, and make exactly the whole output (QA68 D1:
``musicgen | gain`` gave one piece at the end of the run)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from nodeflow import Audio, Context, Executor, Graph, node

_seen = threading.Event()
PIECE, RATE = 3000, 16000


def _piece(i: int, channels: int = 2) -> np.ndarray:
    t = np.arange(PIECE * i, PIECE * (i + 1)) / RATE
    x = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.stack([x, 0.8 * x][:channels]).astype(np.float32)


@node("relaytest.model")
def model(*, count: int = 4, announce: int = -1, wait: bool = True, step_s: float = 0.0, returns: str = "pieces",
          ctx: Context = None) -> Audio:
    """Makes its audio piece by piece as a generator would, handing each on; after the first it
    waits until the reader has a piece of the node streamed.  ``announce``: the length it says
    (-1: the true one, 0: none); ``returns`` other than its pieces (a bug in a node's code):
    ``half`` (at half the level), ``short`` (1000 frames fewer)."""
    total = PIECE * count if announce < 0 else announce or None
    parts = []
    for i in range(count):
        ctx.check_cancelled()
        time.sleep(step_s)
        if i == 1 and wait:
            assert _seen.wait(20), "no piece reached the reader while the model was generating"
        parts.append(_piece(i))
        ctx.chunk(Audio(parts[-1], RATE, start_frame=PIECE * i), total_frames=total)
    out = np.concatenate(parts, axis=1)
    return Audio(out * 0.5 if returns == "half" else out[:, :-1000] if returns == "short" else out, RATE)


def _graph(tail: list[tuple[str, dict]], **model_params) -> tuple[Graph, str]:
    g = Graph()
    g.add(model, id="m", **model_params)
    prev = "m"
    for i, (kind, params) in enumerate(tail):
        g.add(kind, id=f"n{i}", **params)
        g.connect(prev, f"n{i}")
        prev = f"n{i}"
    return g, prev


CHAINS = {
    "gain": [("dsp.gain", {"gain_db": -3.0})],
    "gain, fade, resample": [("dsp.gain", {"gain_db": -3.0}), ("dsp.fade", {"fade_in_s": 0.1, "fade_out_s": 0.2}),
                             ("dsp.resample", {"rate_hz": 44100})],
    "resample to 22.05 kHz, mono": [("dsp.resample", {"rate_hz": 22050}), ("dsp.channels", {"mode": "mono"})],
}


@pytest.fixture(autouse=True)
def _gate():
    _seen.clear()
    yield
    _seen.set()


def _stream(g: Graph, target: str) -> list[Audio]:
    pieces = []
    for p in Executor(disk_cache=None).stream(g, target):
        pieces.append(p)
        _seen.set()
    return pieces


@pytest.mark.parametrize("chain", list(CHAINS))
def test_the_pieces_go_on_through_the_block_nodes_while_the_model_generates(chain):
    g, last = _graph(CHAINS[chain])
    pieces = _stream(g, last)               # the model waits for the first piece: it came early
    whole = Executor(disk_cache=None).run(g, [last])[last]["out"]
    assert len(pieces) >= 3
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), whole.samples)
    assert [p.start_frame for p in pieces] == list(np.cumsum([0] + [p.frames for p in pieces[:-1]]))
    assert {p.sample_rate for p in pieces} == {whole.sample_rate}


def test_a_model_that_does_not_say_its_length_gives_the_nodes_after_it_once():
    g, last = _graph(CHAINS["gain"], announce=0, wait=False)
    pieces = _stream(g, last)
    assert len(pieces) == 1
    np.testing.assert_array_equal(pieces[0].samples, Executor(disk_cache=None).run(g, [last])[last]["out"].samples)


@pytest.mark.parametrize("said", [PIECE * 6, PIECE * 3 + 17])
def test_pieces_that_do_not_make_the_length_said_still_stream_the_whole_output_exactly(said):
    """A model that says one length and makes another (a bug in its code): what went on early stays,
    the rest of the run's own output follows; nothing is lost, doubled or raised."""
    g, last = _graph(CHAINS["gain, fade, resample"][:1], announce=said)
    pieces = _stream(g, last)
    whole = Executor(disk_cache=None).run(g, [last])[last]["out"]
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), whole.samples)


def test_a_cached_chain_gives_its_output_once_and_a_closed_stream_stops_the_run():
    g, last = _graph(CHAINS["gain"])
    ex = Executor(disk_cache=None)
    first = []
    for p in ex.stream(g, last):
        first.append(p)
        _seen.set()
    again = list(ex.stream(g, last))
    assert len(again) == 1 and again[0].frames == sum(p.frames for p in first)
    g, last = _graph(CHAINS["gain"], count=40, wait=False, step_s=0.05)
    events = []
    stream = Executor(disk_cache=None).stream(g, last, on_event=events.append)
    assert next(stream).frames == PIECE                 # the first piece, 2 s before the model is done
    stream.close()
    assert [e.kind for e in events if e.node_id == "m"][-1] == "cancelled"
    assert sum(e.kind == "chunk" for e in events) < 40


@pytest.mark.parametrize("tail", ["none", "gain, fade, resample"])
@pytest.mark.parametrize("returns, said", [
    ("half", "the piece at frame 0 (3000 frames) is not those frames of its output"),
    ("short", "its pieces held 12000 frames, its output 11000")])
def test_a_model_whose_pieces_are_not_its_output_is_an_error_naming_it_not_wrong_audio(tail, returns, said):
    """QA77 D1: a node that handed on pieces other than what it returned (at half the level, or 1000
    frames longer) streamed them, and the nodes after it their blocks, without a word: the audio streamed
    was not the run's.  Now, once the run has made the output, the stream raises one error naming the
    node and how its pieces differ from its output."""
    from nodeflow.errors import ExecutionError
    g, last = _graph([] if tail == "none" else CHAINS[tail], returns=returns, wait=False)
    pieces = []
    with pytest.raises(ExecutionError) as e:
        for p in Executor(disk_cache=None).stream(g, last):
            pieces.append(p)
    via = "" if tail == "none" else " (streamed through n0 -> n1 -> n2)"
    assert str(e.value) == (f"node 'm': the pieces it handed on are not its output{via}: {said}; what was streamed "
                            "is wrong (a node's pieces, ctx.chunk, must concatenate to the value it returns, and "
                            "total_frames must be its length)")
    assert e.value.node_id == "m" and len(pieces) >= 4


def test_a_model_that_says_a_length_its_output_does_not_have_is_an_error_not_a_misplaced_fade():
    """QA93 D3: a node whose first piece said total_frames twice its output streamed, through a fade,
    blocks whose fade-out sat where that length ended: the stream lacked the fade-out the run's output
    has, and nothing was said.  The length is held against the output once made."""
    from nodeflow.errors import ExecutionError
    g, last = _graph([("dsp.fade", {"fade_out_s": 0.25})], announce=2 * 4 * PIECE, wait=False)
    with pytest.raises(ExecutionError) as e:
        list(Executor(disk_cache=None).stream(g, last))
    assert str(e.value).startswith("node 'm': the pieces it handed on are not its output (streamed through n0): its "
                                   f"first piece said total_frames={8 * PIECE}, its output has {4 * PIECE} frames; ")
    g, last = _graph([("dsp.fade", {"fade_out_s": 0.25})], wait=False)        # the true length: as the run made it
    whole = Executor(disk_cache=None).run(g).outputs[last]["out"]
    assert np.array_equal(np.concatenate([p.samples for p in Executor(disk_cache=None).stream(g, last)], axis=1),
                          whole.samples)
