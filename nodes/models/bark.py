"""``models.bark``: text -> speech (and sung lyrics) with Bark, any length, one consistent voice.

Checkpoints: ``suno/bark-small``, ``suno/bark`` or a local folder in the transformers format.
Lyrics between ``♪`` are sung: Bark was trained with that notation, so sung spans are passed
through to the model with their ``♪`` marks (each sung line keeps them when text is split).

Long text is split into sentences (one Bark pass covers at most ~15 s); every sentence is spoken
with the same voice and the sentences are joined with short silences.  The voice is a preset from
the checkpoint's speaker embeddings (``speaker_embeddings_path.json`` naming ``.npy`` arrays,
read with ``numpy.load(allow_pickle=False)``: never pickle), or, with ``voice=""``, the voice
Bark picks for the first sentence, carried over to the rest.
"""
from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from nodeflow.audio import Audio, seconds_to_frames
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodeflow.types import Range, Text

from .layer import (Checkpoint, Device, Family, Loaded, ModelProfile, Precision, pretrained, profile_from_rates, tokenizer,
                    read_json, register, seeded, step_criterion, quiet_transformers)

__all__ = ["bark", "split_text", "load_voice", "check_voice", "BARK"]


# ---------------------------------------------------------------------------------------- the family
def _time_base(config: dict, generation: dict) -> ModelProfile:
    """Bark's time base: the codec's rate / prod(upsampling_ratios) tokens per second (75), and a
    window of the whole seconds one semantic pass covers."""
    codec = config["codec_config"]
    rate = int(codec["sampling_rate"])
    frame_rate = Fraction(rate, math.prod(codec["upsampling_ratios"]))
    sem = generation.get("semantic_config") or {}
    tokens, per_s = Fraction(str(sem.get("max_new_tokens", 768))), Fraction(str(sem.get("semantic_rate_hz", 49.9)))
    window_s = math.floor(tokens / per_s)
    return profile_from_rates(rate, frame_rate, int(window_s * frame_rate), "bark", 0)


def _load(ck: Checkpoint, device: str, dtype: str) -> Loaded:
    if dtype == "int8":
        raise ParameterError("precision=int8 is for MusicGen; use float32 or bfloat16 for Bark")
    model = pretrained("BarkModel", ck, device, dtype)
    return Loaded(model, tokenizer(ck), BARK.loaded_profile(model), ck.name, ck.revision, ck.path, device, dtype,
                  {"voices": read_json(ck.path / "speaker_embeddings_path.json")})


def _voices(path: Path) -> dict[str, Any]:
    voices = read_json(path / "speaker_embeddings_path.json")
    return {"voices": sorted(k for k in voices if k != "repo_or_path")} if voices else {}


# suno/bark: EnCodec 24 kHz, hop 320 -> 75 tokens/s; one generate call is ~15 s
BARK = register(Family("bark", model_types=("bark",), time_base=_time_base, example="suno/bark-small", tokenizer=True,
                       nominal=ModelProfile("bark", 24000, Fraction(75), 1125, 0), load=_load, describe=_voices))

MAX_CHARS = 220          # Bark reads at most 256 text tokens per pass; keep sentences well inside
EDGE_FADE_S = 0.005      # fade each sentence's first/last 5 ms so the pauses join without clicks
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f])\s+|\n+")
_SUNG = re.compile("(\u266a[^\u266a]*(?:\u266a|$))")


def _fit(piece: str, limit: int) -> list[str]:
    """Split a sentence longer than ``limit`` characters at clause marks, then between words."""
    if len(piece) <= limit:
        return [piece]
    out: list[str] = []
    for clause in re.split(r"(?<=[,;:])\s+", piece):
        words, cur = clause.split(), ""
        for w in words:
            if cur and len(cur) + 1 + len(w) > limit:
                out.append(cur)
                cur = w
            else:
                cur = f"{cur} {w}" if cur else w
        if cur:
            out.append(cur)
    return out


def split_text(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Sentences of ``text`` for one Bark pass each; sung spans (``♪ ... ♪``) stay sung.

    >>> split_text("Hello there. How are you? \u266a la la la \u266a Bye!")
    ['Hello there.', 'How are you?', '\u266a la la la \u266a', 'Bye!']
    """
    pieces: list[str] = []
    for span in _SUNG.split(text):
        sung = span.startswith("\u266a")
        body = span.strip("\u266a \t\n") if sung else span
        for sentence in _SENTENCE_END.split(body):
            sentence = " ".join(sentence.split())
            if not sentence:
                continue
            for part in _fit(sentence, max_chars - (4 if sung else 0)):
                pieces.append(f"\u266a {part} \u266a" if sung else part)
    return pieces


def check_voice(voice: str, index: dict[str, Any], checkpoint: str) -> None:
    """Refuse a ``voice`` (non-empty) that is not a preset of the checkpoint's speaker embeddings
    (``index``: its ``speaker_embeddings_path.json``), in one line."""
    names = sorted(k for k in index if k != "repo_or_path")
    if voice not in names:
        listed = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "") if names else "none"
        raise ParameterError(f"voice={voice!r} is not a preset of checkpoint '{checkpoint}' "
                             f"(presets: {listed}); use voice='' for the first sentence's voice")


def _check(params: dict[str, Any], ck: Checkpoint) -> None:
    """validate's :func:`check_voice` and :func:`voice_files`, against the checkpoint's
    ``speaker_embeddings_path.json`` (none: no presets, as the run reads it), before any model loads."""
    if params.get("voice"):
        voice_files(ck.path, str(params["voice"]), read_json(ck.path / "speaker_embeddings_path.json"), ck.name)


def voice_files(root: Path, voice: str, index: dict[str, Any], checkpoint: str) -> list[tuple[str, int, str, Path]]:
    """``(key, ndim, name, path)`` of preset ``voice``'s three prompt files in checkpoint folder ``root``; a voice
    the checkpoint lacks, or a file missing or outside the folder, is one :class:`ParameterError`."""
    check_voice(voice, index, checkpoint)
    root = Path(root).resolve()
    files = []
    for key, ndim in (("semantic_prompt", 1), ("coarse_prompt", 2), ("fine_prompt", 2)):
        rel = index[voice].get(key) if isinstance(index[voice], dict) else None
        path = (root / str(rel)).resolve() if rel else None
        if path is None or os.path.commonpath([root, path]) != str(root) or not path.is_file():
            raise ParameterError(f"voice {voice!r}: {key} file {rel!r} is missing or outside the checkpoint folder")
        files.append((key, ndim, str(rel), path))
    return files


def load_voice(loaded: Loaded, voice: str) -> dict[str, np.ndarray] | None:
    """The arrays of voice preset ``voice`` from the checkpoint's speaker embeddings (no pickle)."""
    if not voice:
        return None
    arrays: dict[str, np.ndarray] = {}
    for key, ndim, rel, path in voice_files(Path(loaded.path), voice, loaded.extra.get("voices") or {},
                                            loaded.checkpoint):
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:      # object arrays are pickles: never loaded (QA49 D6)
            why = "holds Python objects (a pickle), which are never loaded" if "allow_pickle" in str(e) else \
                f"is not a numpy array file ({e})"
            raise ParameterError(f"voice {voice!r}: {key} file {rel!r} {why}; it must be a {ndim}-D integer array "
                                 "saved with numpy.save; use another voice, or voice='' for the first sentence's "
                                 "voice") from None
        if arr.ndim != ndim or not np.issubdtype(arr.dtype, np.integer):
            raise ParameterError(f"voice {voice!r}: {key} must be a {ndim}-D integer array; "
                                 f"got {arr.dtype} {arr.shape}")
        arrays[key] = arr.astype(np.int64)
    return arrays


def _configs(model, *, text_temperature: float, waveform_temperature: float, semantic_tokens: int):
    from transformers.models.bark import generation_configuration_bark as bg
    gc = model.generation_config
    sem = dict(gc.semantic_config, temperature=text_temperature, do_sample=True, max_new_tokens=semantic_tokens)
    coarse = dict(gc.coarse_acoustics_config, temperature=waveform_temperature, do_sample=True)
    return (bg.BarkSemanticGenerationConfig(**sem), bg.BarkCoarseGenerationConfig(**coarse),
            bg.BarkFineGenerationConfig(**gc.fine_acoustics_config), int(gc.codebook_size))


def _speak(loaded: Loaded, sentence: str, history: dict[str, Any] | None, configs, stop) -> tuple[np.ndarray, dict]:
    """One sentence through Bark's three stages; returns its audio and its tokens (a voice)."""
    import torch
    model, (sgc, cgc, fgc, codebook) = loaded.model, configs
    enc = loaded.tokenizer(sentence, padding="max_length", max_length=sgc.max_input_semantic_length,
                           truncation=True, add_special_tokens=False, return_attention_mask=True, return_tensors="pt")
    hp = None if history is None else {k: torch.as_tensor(v, device=model.device) for k, v in history.items()}
    ids, mask = enc["input_ids"].to(model.device), enc["attention_mask"].to(model.device)
    sem = model.semantic.generate(ids, attention_mask=mask, history_prompt=hp, semantic_generation_config=sgc,
                                  stopping_criteria=[stop])
    sem = sem[0][sem[0] != sgc.semantic_pad_token]
    if sem.numel() < 2:  # Bark ended the sentence at once: nothing to say
        return np.zeros(0, np.float32), {}
    with quiet_transformers():     # (transformers' own Bark passes max_new_tokens beside its config: a warning)
        coarse = model.coarse_acoustics.generate(sem[None].clone(), history_prompt=hp, semantic_generation_config=sgc,
                                                 coarse_generation_config=cgc, codebook_size=codebook,
                                                 stopping_criteria=[stop])
    fine = model.fine_acoustics.generate(coarse, history_prompt=hp, semantic_generation_config=sgc,
                                         coarse_generation_config=cgc, fine_generation_config=fgc,
                                         codebook_size=codebook)
    wave = model.codec_decode(fine).reshape(-1).float().cpu().numpy()
    tokens = {"semantic_prompt": sem.cpu().numpy(), "coarse_prompt": fine[0, :2].cpu().numpy(),
              "fine_prompt": fine[0].cpu().numpy()}
    return wave, tokens


def _estimate(inputs: dict, params: dict) -> dict:
    """At most ``max_sentence_s`` (+ the pause) per sentence, as the prompt splits (a connected text,
    whose words are not known yet: a sentence per 40 characters); the work, Bark's CPU ~10x the
    speech it likely makes (~8 characters a second).  QA49 D5: "Hello there. Goodbye." was one
    sentence of 0.85 s; it is two of up to 0.85 s each, 1.45 s when run at 0.6 s a sentence."""
    from nodeflow.costs import Shape
    text = inputs.get("text")
    if text is not None:
        chars = text.chars
        sentences = max(1, math.ceil(chars / 40))        # a short sentence is ~40 characters
    else:
        prompt = str(params.get("prompt", ""))
        chars, sentences = len(prompt), max(1, len(split_text(prompt)))
    most = sentences * (params["max_sentence_s"] + params["pause_s"])
    likely = min(most, chars / 8 + sentences * params["pause_s"])
    rate = BARK.nominal.sample_rate
    empty = text is None and not split_text(str(params.get("prompt", "")))    # (validate says it, as run does)
    return {"out": Shape(math.ceil(most * rate), 1, rate, work_s=10.0 * likely + 2.0,
                         problem="the text is empty; give something to say" if empty else "")}


@BARK.node("models.bark", category="models", version=1, estimate=_estimate, check=_check)
def bark(text: str | None = None, *,
         prompt: Annotated[str, Text(multiline=True)] = "Hello! This is Bark. \u266a And this line is sung. \u266a",
         checkpoint: str = "suno/bark-small",
         voice: str = "",
         seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
         text_temperature: Annotated[float, Range(0.05, 2.0)] = 0.7,
         waveform_temperature: Annotated[float, Range(0.05, 2.0)] = 0.7,
         pause_s: Annotated[float, Range(0.0, 5.0, unit="s")] = 0.25,
         max_sentence_s: Annotated[float, Range(0.2, 15.0, unit="s")] = 15.0,
         device: Device = Device.AUTO,
         precision: Precision = Precision.AUTO,
         ctx: Context) -> Audio:
    """Speak (or, between ♪ marks, sing) text with Bark in one voice; long text sentence by sentence.

    ``text`` (an input) replaces the ``prompt`` parameter when connected.  ``voice`` names a preset
    of the checkpoint (``v2/en_speaker_6`` for suno/bark-small; ``audiochain models info`` lists
    them) or is empty for the voice Bark picks for the first sentence.  Sentences are joined with
    ``pause_s`` of silence; ``max_sentence_s`` caps each sentence's length (Bark sometimes
    rambles past the end of a sentence).  ``text_temperature`` and ``waveform_temperature``
    are Bark's semantic and coarse sampling temperatures.

    Parameters
    ----------
    text : str, optional
        Text from another node (e.g. text.prompt_template); replaces `prompt` when connected.
    prompt : str
        What to say; put sung lines between ♪ marks.
    checkpoint : str
        Bark checkpoint: a Hugging Face hub id (suno/bark-small, suno/bark) or a local folder.
    voice : str
        Voice preset of the checkpoint (e.g. v2/en_speaker_6); empty: the voice Bark picks for the
        first sentence, kept for the rest.
    seed : int
        Random seed, 0 to 2^31-1: the same seed and settings give the same take.
    text_temperature : float
        Randomness of what is said and how (semantic tokens), 0.05-2.0; lower is steadier.
    waveform_temperature : float
        Randomness of the sound itself (coarse acoustic tokens), 0.05-2.0; lower is steadier.
    pause_s : float, seconds
        Silence between sentences, 0-5 s.
    max_sentence_s : float, seconds
        Longest a sentence may run, 0.2-15 s; cuts off Bark's rambling past a sentence's end.
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device
        wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.

    Example::

        g = Graph(); b = g.add("models.bark", prompt="Good morning. \u266a Sun is up \u266a", voice="v2/en_speaker_6")
    """
    words = prompt if text is None else text
    sentences = split_text(words)
    if not sentences:
        raise ParameterError("models.bark: the text is empty; give something to say")
    with BARK.using(checkpoint, ctx, device, precision) as loaded:
        model, rate = loaded.model, loaded.profile.sample_rate
        sgc_max = int(model.generation_config.semantic_config.get("max_new_tokens", 768))
        rate_hz = float(model.generation_config.semantic_config.get("semantic_rate_hz", 49.9))
        configs = _configs(model, text_temperature=text_temperature, waveform_temperature=waveform_temperature,
                           semantic_tokens=max(2, min(sgc_max, round(max_sentence_s * rate_hz))))
        history = load_voice(loaded, voice)
        # progress: semantic steps, then coarse steps (~2 codebooks x 75/49.9 per semantic token)
        budget = configs[0].max_new_tokens * (1 + 2 * 75 / rate_hz)
        steps = [0, 0]   # sentence index, steps in it

        def on_step(ids) -> None:
            steps[1] += 1
            ctx.progress(steps[0] + min(0.99, steps[1] / budget), len(sentences), f"sentence {steps[0] + 1}")

        stop = step_criterion(on_step)
        fade, gap = seconds_to_frames(EDGE_FADE_S, rate), np.zeros(seconds_to_frames(pause_s, rate), np.float32)
        parts: list[np.ndarray] = []
        sent = 0                          # frames handed on (ctx.chunk: each sentence as it is spoken)
        with seeded(seed, loaded.device):
            for i, sentence in enumerate(sentences):
                steps[:] = [i, 0]
                ctx.progress(i, len(sentences), f"sentence {i + 1}/{len(sentences)}")
                wave, tokens = _speak(loaded, sentence, history, configs, stop)
                if history is None and tokens:
                    history = tokens          # the first sentence's voice carries over
                if wave.size:
                    n = min(fade, wave.size // 2)
                    ramp = (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)
                    wave[:n] *= ramp
                    wave[wave.size - n:] *= ramp[::-1]
                    piece = [gap, wave] if parts else [wave]
                    parts.extend(piece)
                    ctx.chunk(Audio(np.concatenate(piece), rate, start_frame=sent))
                    sent += sum(len(p) for p in piece)
            ctx.progress(len(sentences), len(sentences))
    if not parts:
        raise ParameterError(f"models.bark: Bark produced no audio for {words[:60]!r}; try another seed or voice")
    return Audio(np.concatenate(parts), rate).with_info(**loaded.tags())
