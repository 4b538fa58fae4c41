"""A long-form MusicGen piece streams: the start is handed on while later windows are generated,
and the pieces concatenate to exactly what a whole run returns (issue 15)."""
from __future__ import annotations

import numpy as np
import pytest

from nodeflow import Audio, Executor, Graph


def _graph(tiny, **params) -> Graph:
    g = Graph()
    g.add("models.musicgen", id="m", checkpoint=str(tiny["musicgen_short"]), seed=3, extend_stride_s=0.5, **params)
    return g


@pytest.mark.parametrize("prompt", [False, True], ids=["from text", "continuing a prompt"])
def test_pieces_come_during_generation_and_make_the_whole(tiny, prompt):
    g = _graph(tiny, duration_s=2.6)
    inputs = None
    if prompt:
        t = np.arange(16000) / 32000
        inputs = {"m.prompt_audio": (0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32), 32000)}
    events = []
    pieces = list(Executor(disk_cache=None).stream(g, "m", inputs=inputs,
                                                   on_event=lambda e: e.node_id == "m" and events.append(e)))
    whole = Executor(disk_cache=None).run(g, inputs=inputs)["m"]["out"]
    assert len(pieces) >= 2
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), whole.samples)
    assert [p.start_frame for p in pieces] == list(np.cumsum([0] + [p.frames for p in pieces[:-1]]))
    kinds = [e.kind for e in events]
    last_step = max(i for i, k in enumerate(kinds) if k == "progress")
    assert kinds.index("chunk") < last_step                 # the first piece came while generating


def test_one_window_is_one_piece(tiny):
    pieces = list(Executor(disk_cache=None).stream(_graph(tiny, duration_s=0.5), "m"))
    assert len(pieces) == 1 and pieces[0].frames == 16000 and isinstance(pieces[0], Audio)


def test_the_pieces_go_on_through_gain_and_resample_during_generation(tiny):
    """QA68 D1: ``musicgen | gain`` streamed one piece, at the end of the run: the gain ran once the
    model was done.  The model says its length with its first piece, and the block nodes after it
    hand theirs on as it generates; the pieces make exactly what a whole run returns."""
    g = _graph(tiny, duration_s=2.6)
    g.add("dsp.gain", id="gain", gain_db=-1.0)
    g.add("dsp.resample", id="rs", rate_hz=44100)
    g.connect("m", "gain")
    g.connect("gain", "rs")
    events, got = [], []
    for p in Executor(disk_cache=None).stream(g, "rs", on_event=lambda e: e.node_id == "m" and events.append(e)):
        got.append((p, len(events)))
    whole = Executor(disk_cache=None).run(g, ["rs"])["rs"]["out"]
    pieces = [p for p, _ in got]
    assert len(pieces) >= 2 and {p.sample_rate for p in pieces} == {44100}
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), whole.samples)
    kinds = [e.kind for e in events]
    last_step = max(i for i, k in enumerate(kinds) if k == "progress")
    assert got[0][1] <= last_step            # the first piece came while the model was generating
