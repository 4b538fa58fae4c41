"""List items that share a model and its settings are generated together, one ``generate`` per
window for all of them, each getting what it would get alone (issue 12)."""
from __future__ import annotations

import numpy as np
import pytest

from nodeflow import Cancelled, Executor, Graph
from nodes.models import _musicgen as engine

from .helpers import write_clip
from .test_melody import _notes

TEXTS = ["lofi piano", "dub techno", "jazz trio with brushes", "ambient pads"]


@pytest.fixture
def counted(monkeypatch):
    calls = {"batch": 0, "one": 0}
    batch, one = engine.generate_codes_batch, engine.generate_codes

    def counting_batch(*a, **k):
        calls["batch"] += 1
        return batch(*a, **k)

    def counting_one(*a, **k):
        calls["one"] += 1
        return one(*a, **k)

    monkeypatch.setattr(engine, "generate_codes_batch", counting_batch)
    monkeypatch.setattr(engine, "generate_codes", counting_one)
    return calls


def _texts_run(tiny, monkeypatch, batch: int, **params):
    monkeypatch.setenv("AUDIOCHAIN_MODEL_BATCH", str(batch))
    g = Graph()
    g.add("models.musicgen", id="m", checkpoint=str(tiny["musicgen_short"]), seed=3, **params)
    events = []
    out = Executor(disk_cache=None).run(g, inputs={"m.text": TEXTS}, on_event=events.append)["m"]["out"]
    return out, events


@pytest.mark.parametrize("params", [dict(duration_s=1.0), dict(duration_s=2.6, extend_stride_s=0.5)],
                         ids=["one window", "long-form"])
def test_prompts_generated_together_equal_one_by_one(tiny, monkeypatch, counted, params):
    alone, _ = _texts_run(tiny, monkeypatch, 1, **params)
    assert counted == {"batch": 0, "one": 4}
    together, events = _texts_run(tiny, monkeypatch, 8, **params)
    assert counted == {"batch": 1, "one": 4}                       # one batched generation for the four
    frames = round(params["duration_s"] * 32000)
    assert [a.frames for a in together] == [frames] * 4
    for a, b in zip(alone, together):
        np.testing.assert_allclose(b.samples, a.samples, atol=1e-5)   # the same tokens; decode noise only
    assert not np.allclose(together[0].samples, together[1].samples, atol=1e-3)   # the prompts do differ
    chunks = [e.done for e in events if e.kind == "chunk" and e.node_id == "m"]
    assert chunks == [1, 2, 3, 4]


def test_the_cap_splits_a_long_list(tiny, monkeypatch, counted):
    _texts_run(tiny, monkeypatch, 3, duration_s=0.5)
    assert counted == {"batch": 1, "one": 1}                       # 3 together, then the last alone


def test_melody_windows_generated_together_keep_their_bars(tiny, tmp_path, monkeypatch, counted):
    melody = _notes([261.63, 329.63, 392.0, 523.25, 392.0, 329.63], 1.0, 44100)[:, :round(5.3 * 44100)]
    src = write_clip(tmp_path / "melody.wav", melody, 44100)

    def run(batch: int):
        monkeypatch.setenv("AUDIOCHAIN_MODEL_BATCH", str(batch))
        g = Graph()
        load = g.add("io.load", path=str(src))
        bars = g.add("time.tokenize_window", profile="musicgen_melody", unit="bars", size=1, bpm=97.0,
                     beats_per_bar=3)
        gen = g.add("models.musicgen_melody", id="gen", checkpoint=str(tiny["musicgen_melody_short"]),
                    duration_s="auto", seed=3, extend_stride_s=0.5, prompt="strings")
        g.connect(load.out, bars.audio)
        g.connect(bars.out, gen.melody)
        return Executor(disk_cache=None).run(g, ["gen"])["gen"]["out"]

    alone = run(1)
    together = run(8)
    assert counted["batch"] == 1                                    # the two full bars together, the short last alone
    assert [(v.index, v.start_frame, v.frames) for v in together] == [(v.index, v.start_frame, v.frames) for v in alone]
    assert dict(together[0].info)["meter"] == "3/4"
    for a, b in zip(alone, together):
        np.testing.assert_allclose(b.samples, a.samples, atol=1e-5)


def test_stop_ends_a_batched_generation(tiny, monkeypatch):
    import threading
    monkeypatch.setenv("AUDIOCHAIN_MODEL_BATCH", "8")
    g = Graph()
    g.add("models.musicgen", id="m", checkpoint=str(tiny["musicgen_short"]), seed=3, duration_s=2.6,
          extend_stride_s=0.5)
    stop = threading.Event()

    def on_event(e):
        if e.kind == "progress" and e.node_id == "m" and e.done and e.done >= 5:
            stop.set()

    with pytest.raises(Cancelled):
        Executor(disk_cache=None).run(g, inputs={"m.text": TEXTS}, on_event=on_event, cancel_event=stop)
