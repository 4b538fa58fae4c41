"""validate refuses, before any model loads, what a model node's run refuses once it has read its
checkpoint's configuration: in the run's own words (one function says both), naming the node, the
parameter and the value; a good value still validates ok.

QA: `audiochain validate` said ok for each of these, and the run refused it only after loading
the model (seconds to minutes on a real checkpoint): an EnCodec bit rate or DAC codebook count the
checkpoint does not have, a Whisper language or Bark voice it does not know, a MusicGen(-Melody) or
Stable Audio stride past the model's window, a Demucs segment longer than the model allows, and a
four-stem checkpoint given to models.demucs_6s."""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nodeflow import Audio, Graph
from nodeflow.cli import main
from nodeflow.errors import ParameterError, named
from nodeflow.fileformat import save
from nodeflow.node import Context

from .helpers import model_graph, sine

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_dac  # noqa: E402
import tiny_encodec  # noqa: E402

NODE = "m"


@pytest.fixture()
def no_load(monkeypatch, fresh_model_cache):
    """A fresh model cache, and any model load through the model layer fails the test."""
    from nodes.models.layer import Family

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("a model was loaded")
    monkeypatch.setattr(Family, "_load", refuse)
    return fresh_model_cache


def said(type_id: str, message: str) -> str:
    return named(f"node '{NODE}' ({type_id})", message, type_id)


def validated(type_id: str, tmp_path: Path, audio: dict | None = None, **params: Any) -> list[str]:
    return model_graph(type_id, tmp_path, audio=audio, node_id=NODE, device="cpu", **params).problems()


def run_refusal(type_id: str, inputs: dict[str, Any], **params: Any) -> str:
    """The run's one line for ``params`` (the node called as the executor calls it), named as validate names it."""
    from nodeflow.registry import default_registry
    with pytest.raises(ParameterError) as e:
        default_registry()[type_id].fn(**inputs, **params, device="cpu", ctx=Context(NODE))
    return said(type_id, str(e.value))


def check(type_id: str, tmp_path: Path, cache: Any, *, bad: dict, good: dict, value: str,
          audio: tuple[np.ndarray, int] | None = None, port: str = "audio", extra: dict | None = None) -> str:
    """validate refuses ``bad`` with a line naming the node, the parameter and ``value`` and loads no model,
    and passes ``good``; returns the refusal."""
    feed = {port: audio} if audio is not None else None
    problems = validated(type_id, tmp_path, feed, **(extra or {}), **bad)
    mine = [p for p in problems if p.startswith(f"node '{NODE}' ({type_id}): ") and value in p]
    assert len(mine) == 1, problems
    assert validated(type_id, tmp_path, feed, **(extra or {}), **good) == []
    assert cache.loads() == 0 and cache.keys() == []
    return mine[0]


def clip(seconds: float, rate: int, channels: int = 1) -> Audio:
    return Audio(sine(220.0, seconds, rate, channels), rate)


# ---------------------------------------------------------------------------------------- codecs
@pytest.fixture(scope="module")
def encodec_ck(tmp_path_factory) -> Path:
    return tiny_encodec.build(tmp_path_factory.mktemp("encodec") / "tiny-encodec")


@pytest.fixture(scope="module")
def dac_ck(tmp_path_factory) -> Path:
    return tiny_dac.build(tmp_path_factory.mktemp("dac") / "tiny-dac")


def test_an_encodec_bandwidth_the_checkpoint_lacks(encodec_ck, tmp_path, no_load, monkeypatch):
    line = check("models.encodec_encode", tmp_path, no_load, bad={"bandwidth_kbps": 5.0},
                 good={"bandwidth_kbps": 12.0}, value="bandwidth_kbps=5.0", audio=(sine(220, 0.1, 24000), 24000),
                 extra={"checkpoint": str(encodec_ck)})
    assert line == said("models.encodec_encode", f"bandwidth_kbps=5.0 is not a bandwidth of checkpoint "
                                                 f"'{encodec_ck}' (1.5, 3, 6, 12, 24 kbps)")
    monkeypatch.undo()
    assert run_refusal("models.encodec_encode", {"audio": clip(0.1, 24000)}, checkpoint=str(encodec_ck),
                       bandwidth_kbps=5.0) == line


def test_more_dac_codebooks_than_the_checkpoint_has(dac_ck, tmp_path, no_load, monkeypatch):
    line = check("models.dac_encode", tmp_path, no_load, bad={"codebooks": 10}, good={"codebooks": 9},
                 value="codebooks=10", audio=(sine(220, 0.1, 44100), 44100), extra={"checkpoint": str(dac_ck)})
    assert line == said("models.dac_encode", f"codebooks=10 is more than checkpoint '{dac_ck}' has (9); use 1-9, "
                                             "or 0 for all")
    monkeypatch.undo()
    assert run_refusal("models.dac_encode", {"audio": clip(0.1, 44100)}, checkpoint=str(dac_ck), codebooks=10) == line


def test_the_cli_says_it(encodec_ck, tmp_path, no_load, capsys):
    """`audiochain validate FILE` prints the line and exits 1; the good value: ok."""
    g = model_graph("models.encodec_encode", tmp_path, audio={"audio": (sine(220, 0.1, 24000), 24000)},
                    node_id=NODE, checkpoint=str(encodec_ck), bandwidth_kbps=5.0)
    save(g, tmp_path / "g.msgpack")
    assert main(["validate", str(tmp_path / "g.msgpack")]) == 1
    assert "bandwidth_kbps=5.0 is not a bandwidth of checkpoint" in capsys.readouterr().out
    g.set(NODE, "bandwidth_kbps", 6.0)
    save(g, tmp_path / "g.msgpack")
    assert main(["validate", str(tmp_path / "g.msgpack")]) == 0
    assert no_load.loads() == 0


# ---------------------------------------------------------------------------------------- speech
@pytest.fixture(scope="module")
def whisper_ck(tmp_path_factory) -> Path:
    import tiny_whisper
    return tiny_whisper.build(tmp_path_factory.mktemp("whisper") / "tiny-whisper")


def test_a_whisper_language_the_checkpoint_does_not_know(whisper_ck, tmp_path, no_load, monkeypatch):
    line = check("models.whisper", tmp_path, no_load, bad={"language": "klingon"}, good={"language": "german"},
                 value="language='klingon'", audio=(sine(220, 0.2, 16000), 16000),
                 extra={"checkpoint": str(whisper_ck)})
    assert line == said("models.whisper", f"language='klingon' is not a language of checkpoint '{whisper_ck}' "
                                          "(codes: de, en, fr); give a code such as 'en' or 'de', or '' to detect it")
    assert validated("models.whisper", tmp_path, {"audio": (sine(220, 0.2, 16000), 16000)},
                     checkpoint=str(whisper_ck), language="") == []
    monkeypatch.undo()
    assert run_refusal("models.whisper", {"audio": clip(0.2, 16000)}, checkpoint=str(whisper_ck),
                       language="klingon") == line


def test_a_bark_voice_the_checkpoint_does_not_have(tiny, tmp_path, no_load, monkeypatch):
    ck = str(tiny["bark"])
    line = check("models.bark", tmp_path, no_load, bad={"voice": "v2/en_speaker_9"}, good={"voice": "v2/en_speaker_1"},
                 value="voice='v2/en_speaker_9'", extra={"checkpoint": ck, "prompt": "Hello."})
    assert line == said("models.bark", f"voice='v2/en_speaker_9' is not a preset of checkpoint '{ck}' (presets: "
                                       "v2/en_speaker_0, v2/en_speaker_1); use voice='' for the first sentence's voice")
    assert validated("models.bark", tmp_path, checkpoint=ck, prompt="Hello.", voice="") == []
    monkeypatch.undo()
    assert run_refusal("models.bark", {}, checkpoint=ck, prompt="Hello.", voice="v2/en_speaker_9") == line


# ---------------------------------------------------------------------------------------- windows
def _without(src: Path, dst: Path, *, file: str = "", key: str = "") -> Path:
    """A copy of checkpoint ``src`` without ``file``, or without ``key`` in its config.json."""
    shutil.copytree(src, dst)
    if file:
        (dst / file).unlink()
    if key:
        config = json.loads((dst / "config.json").read_text())
        del config[key]
        (dst / "config.json").write_text(json.dumps(config))
    return dst


@pytest.mark.parametrize("type_id, base, cut, params, rate, words", [
    ("models.encodec_encode", "encodec", dict(key="target_bandwidths"), {"bandwidth_kbps": 5.0}, 24000,
     "(1.5, 3, 6, 12, 24 kbps)"),
    ("models.dac_encode", "dac", dict(key="n_codebooks"), {"codebooks": 10}, 44100, "has (9)"),
    ("models.whisper", "whisper", dict(file="generation_config.json"), {"language": "de"}, 16000, "is English-only"),
    ("models.bark", "bark", dict(file="speaker_embeddings_path.json"), {"voice": "v2/en_speaker_0", "prompt": "Hi."},
     None, "(presets: none)"),
    ("models.bark", "bark", dict(file="speaker_embeddings/v2/en_speaker_1_coarse_prompt.npy"),
     {"voice": "v2/en_speaker_1", "prompt": "Hi."}, None, "coarse_prompt file"),
])
def test_a_checkpoint_without_the_file_a_check_reads(type_id, base, cut, params, rate, words, encodec_ck, dac_ck,
                                                     whisper_ck, tiny, tmp_path, no_load, monkeypatch):
    """QA61 D5: where the checkpoint lacks the file (or key) that a check reads, validate said ok and the
    run refused from the library's defaults.  validate now reads what the run reads: the configuration
    class's default, no generation config (English-only), no presets, a voice file missing."""
    src = {"encodec": encodec_ck, "dac": dac_ck, "whisper": whisper_ck, "bark": tiny["bark"]}[base]
    ck = str(_without(Path(src), tmp_path / f"cut-{base}", **cut))
    feed = {"audio": (sine(220, 0.2, rate), rate)} if rate else None
    line, = validated(type_id, tmp_path, feed, checkpoint=ck, **params)
    assert line.startswith(f"node '{NODE}' ({type_id}): ") and words in line, line
    assert no_load.loads() == 0
    monkeypatch.undo()
    assert run_refusal(type_id, {"audio": clip(0.2, rate)} if rate else {}, checkpoint=ck, **params) == line


@pytest.mark.parametrize("type_id, name, audio", [
    ("models.musicgen_melody", "musicgen_melody_short", "melody"),
    ("models.musicgen", "musicgen_short", None),
])
def test_a_musicgen_stride_past_the_models_window(type_id, name, audio, tiny, tmp_path, no_load, monkeypatch):
    """The *_short checkpoints' window is 1 s (their generation_config's max_length): 2 s need a stride
    within it.  duration_s=auto (the melody's length) is left to the run, which knows it."""
    ck = str(tiny[name])
    feed = (sine(220, 1.0, 32000), 32000) if audio else None
    kw = dict(port=audio or "audio", extra={"checkpoint": ck, "duration_s": 2.0})
    line = check(type_id, tmp_path, no_load, bad={"extend_stride_s": 1.0}, good={"extend_stride_s": 0.5},
                 value="extend_stride_s=1", audio=feed, **kw)
    assert line == said(type_id, "extend_stride_s=1 is 50 tokens of 20 ms, the model's whole window (50 tokens, 1 s); "
                                 "to generate 2 s it must be from 0.1 to 0.98 s (at most 49 tokens)")
    assert validated(type_id, tmp_path, {audio: feed} if audio else None, checkpoint=ck, duration_s=0.8,
                     extend_stride_s=1.0) == []                       # one window: no stride needed
    if audio:
        assert validated(type_id, tmp_path, {audio: feed}, checkpoint=ck, duration_s="auto",
                         extend_stride_s=1.0) == []
    monkeypatch.undo()
    inputs = {audio: clip(1.0, 32000)} if audio else {}
    assert run_refusal(type_id, inputs, checkpoint=ck, duration_s=2.0, extend_stride_s=1.0) == line


@pytest.mark.parametrize("type_id, name, port, params, words", [
    ("models.musicgen_melody", "musicgen_melody_short", "melody", {"duration_s": "auto"}, "to generate 1.8 s"),
    ("models.musicgen", "musicgen_short", "prompt_audio", {"duration_s": 0.3}, "to generate 0.3 s after the prompt"),
])
def test_a_stride_past_the_window_for_a_length_a_linked_input_decides(type_id, name, port, params, words, tiny,
                                                                      tmp_path, no_load, monkeypatch):
    """QA61: with the length decided by a linked input (the melody's, with duration_s=auto; a prompt to
    continue), validate said ok, and the run refused after loading the model.  The input's length is
    known before the run (show prints it): validate now says the run's line."""
    ck = str(tiny[name])
    seconds = 1.8 if port == "melody" else 0.8
    got = validated(type_id, tmp_path, {port: (sine(220, seconds, 32000), 32000)}, checkpoint=ck,
                    extend_stride_s=1.0, **params)
    line = said(type_id, f"extend_stride_s=1 is 50 tokens of 20 ms, the model's whole window (50 tokens, 1 s); "
                         f"{words} it must be from 0.1 to 0.98 s (at most 49 tokens)")
    assert got == [line], got
    assert validated(type_id, tmp_path, {port: (sine(220, seconds, 32000), 32000)}, checkpoint=ck,
                     extend_stride_s=0.5, **params) == []
    monkeypatch.undo()
    assert run_refusal(type_id, {port: clip(seconds, 32000)}, checkpoint=ck, extend_stride_s=1.0,
                       **{k: (None if v == "auto" else v) for k, v in params.items()}) == line


def bounds(line: str) -> tuple[float, float]:
    """The accepted seconds a stride refusal writes: "... (0.02 to 0.98 s)"."""
    lo, hi = re.search(r"from ([\d.]+) to ([\d.]+) s \(at most", line).groups()
    return float(lo), float(hi)


@pytest.mark.parametrize("type_id, name", [("models.musicgen", "musicgen_short"),
                                           ("models.musicgen_melody", "musicgen_melody_short")])
def test_a_stride_refusal_never_reads_as_a_contradiction(type_id, name, tiny, tmp_path, no_load):
    """QA61 D7: 0.99 s rounds to the 50 tokens of the 1 s window, and the line said "0.99 must be shorter
    than the model's window of 1 s".  It now says what the value is in tokens and the seconds accepted;
    both ends of what it writes validate ok, and a token past the top is refused."""
    ck = str(tiny[name])
    feed = {"melody": (sine(220, 1.0, 32000), 32000)} if "melody" in type_id else None
    line, = validated(type_id, tmp_path, feed, checkpoint=ck, duration_s=2.0, extend_stride_s=0.99)
    assert line == said(type_id, "extend_stride_s=0.99 is 50 tokens of 20 ms, the model's whole window (50 tokens, "
                                 "1 s); to generate 2 s it must be from 0.1 to 0.98 s (at most 49 tokens)")
    lo, hi = bounds(line)
    for ok in (lo, hi):
        assert validated(type_id, tmp_path, feed, checkpoint=ck, duration_s=2.0, extend_stride_s=ok) == []
    assert len(validated(type_id, tmp_path, feed, checkpoint=ck, duration_s=2.0, extend_stride_s=hi + 0.011)) == 1


def test_a_stable_audio_stride_past_the_models_window(tmp_path, tmp_path_factory, no_load, monkeypatch):
    pytest.importorskip("diffusers")
    pytest.importorskip("torchsde")
    import tiny_stable_audio
    ck = str(tiny_stable_audio.build(tmp_path_factory.mktemp("stable-audio") / "tiny-stable-audio"))
    line = check("models.stable_audio", tmp_path, no_load, bad={"extend_stride_s": 0.05},
                 good={"extend_stride_s": 0.02}, value="extend_stride_s=0.05",
                 extra={"checkpoint": ck, "duration_s": 0.2, "prompt": "rain", "steps": 2})
    assert line == said("models.stable_audio", "extend_stride_s=0.05 is 68 latents of 0.726 ms, longer than the "
                                               "model's window of 64 latents (0.0464399 s); to generate 0.2 s it must "
                                               "be from 0.01 to 0.0457142 s (at most 63 latents)")
    assert validated("models.stable_audio", tmp_path, checkpoint=ck, duration_s=0.04, extend_stride_s=0.05,
                     prompt="rain") == []                              # one window: no stride needed
    for ok in bounds(line):                                            # latents round down: both ends hold
        assert validated("models.stable_audio", tmp_path, checkpoint=ck, duration_s=0.2, extend_stride_s=ok,
                         prompt="rain") == []
    monkeypatch.undo()
    assert run_refusal("models.stable_audio", {}, checkpoint=ck, duration_s=0.2, extend_stride_s=0.05,
                       prompt="rain", steps=2) == line


# ---------------------------------------------------------------------------------------- demucs
@pytest.fixture(scope="module")
def demucs_cks(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("demucs")
    import tiny_demucs
    root = tmp_path_factory.mktemp("demucs")
    return tiny_demucs.build(root / "tiny-htdemucs"), tiny_demucs.build(root / "tiny-htdemucs-6s",
                                                                        sources=tiny_demucs.SIX)


def test_a_demucs_segment_longer_than_the_model_allows(demucs_cks, tmp_path, no_load, monkeypatch):
    """The tiny HTDemucs was made for 1 s segments (the real one: 7.8 s)."""
    ck = str(demucs_cks[0])
    feed = (sine(220, 0.5, 44100, 2), 44100)
    line = check("models.demucs", tmp_path, no_load, bad={"segment_s": 2.0}, good={"segment_s": 0.5},
                 value="segment_s=2", audio=feed, extra={"checkpoint": ck})
    assert line == said("models.demucs", "segment_s=2 exceeds what this model was trained on (1 s); use at most "
                                         "that, or 0 for the model's own")
    assert validated("models.demucs", tmp_path, {"audio": feed}, checkpoint=ck, segment_s=0.0) == []
    monkeypatch.undo()
    assert run_refusal("models.demucs", {"audio": clip(0.5, 44100, 2)}, checkpoint=ck, segment_s=2.0) == line


def test_a_four_stem_checkpoint_for_demucs_6s(demucs_cks, tmp_path, no_load, monkeypatch):
    four, six = map(str, demucs_cks)
    line = check("models.demucs_6s", tmp_path, no_load, bad={"checkpoint": four}, good={"checkpoint": six},
                 value=f"checkpoint '{four}'", audio=(sine(220, 0.5, 44100, 2), 44100))
    assert line == said("models.demucs_6s", f"checkpoint '{four}' separates drums, bass, other, vocals; "
                                            "models.demucs_6s needs six sources (missing guitar, piano): use "
                                            "models.demucs for it")
    assert validated("models.demucs", tmp_path, {"audio": (sine(220, 0.5, 44100, 2), 44100)}, checkpoint=six) == []
    monkeypatch.undo()
    assert run_refusal("models.demucs_6s", {"audio": clip(0.5, 44100, 2)}, checkpoint=four) == line


def test_demucs_limits_read_without_loading_are_the_loaded_models(demucs_cks, tmp_path):
    """AudioChain's folder, and demucs's hub export (NAME.yaml + SIG.safetensors) whose bag sets a shorter segment."""
    import json

    from safetensors.torch import load_file, save_file

    from nodes.models import _demucs as engine
    from nodes.models.demucs import DEMUCS
    cfg = json.loads((demucs_cks[1] / "config.json").read_text())["models"][0]
    hub = tmp_path / "hub-export"
    hub.mkdir()
    save_file(load_file(str(demucs_cks[1] / "model.safetensors")), str(hub / "955717e8.safetensors"),
              metadata={"klass": "demucs.htdemucs.HTDemucs", "args": json.dumps(cfg["args"]),
                        "kwargs": json.dumps(cfg["kwargs"])})
    (hub / "htdemucs_6s.yaml").write_text("models: ['955717e8']\nsegment: 0.5\n")
    for ck in (*demucs_cks, hub):
        res = DEMUCS.resolve(str(ck), None)
        loaded, lim = engine.load(res, "cpu", "float32"), engine.limits(res)
        assert (lim.sources, lim.sample_rate, lim.segment_s, lim.max_segment_s) == \
            (loaded.sources, loaded.sample_rate, loaded.segment_s, loaded.max_segment_s)
    assert lim.segment_s == lim.max_segment_s == 0.5
