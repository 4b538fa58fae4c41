"""``models.whisper``: audio -> text and word timestamps with Whisper (transformers
``WhisperForConditionalGeneration`` + ``WhisperProcessor``): lyrics of a vocal stem, captions for
fine-tuning data, any language Whisper knows, or an English translation of it.

Checkpoints: ``openai/whisper-small`` (the default), ``openai/whisper-tiny`` ... ``openai/whisper-large-v3``,
the English-only ``*.en`` ones, or a local folder in the transformers format (safetensors).

The audio is downmixed to mono and resampled to the model's rate (``feature_extractor.sampling_rate``,
16 kHz) by the node library's resampler, then cut into consecutive windows of the model's length
(``feature_extractor.chunk_length``, 30 s); each window is transcribed greedily (deterministic: the
same audio and settings give the same text on any machine with the same libraries), with the
timestamps of its tokens from the cross-attention alignment heads.  A word the window edge cuts is
heard as two pieces, one in each window.  Progress counts windows and tokens; Stop ends the current
token.
"""
from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodeflow.types import ChoiceEnum

from .layer import (Checkpoint, Device, Family, Loaded, Precision, quiet_transformers, read_json, register,
                    step_criterion)

__all__ = ["whisper", "WHISPER", "Transcript", "Task", "transcribe", "words_of", "language_code"]

NODE = "models.whisper"
DEFAULT_CHECKPOINT = "openai/whisper-small"
WHISPER = register(Family("whisper", model_types=("whisper",), model_class="WhisperForConditionalGeneration",
                          processor="WhisperProcessor", example=DEFAULT_CHECKPOINT))


class Task(ChoiceEnum):
    """``transcribe`` writes what is said in its language; ``translate`` writes it in English."""
    TRANSCRIBE = "transcribe"
    TRANSLATE = "translate"


class Transcript(NamedTuple):
    text: str     # the whole transcript, windows joined by a space
    words: str    # JSON list of {"word", "start_s", "end_s"}, times from the start of the audio


def language_code(language: str, multilingual: bool, lang_to_id: Any, checkpoint: str) -> str | None:
    """The ``<|xx|>`` code of ``language`` (a code or an English name) for a checkpoint whose generation
    config says ``is_multilingual`` and ``lang_to_id``; None: detect.  A language it does not know is
    one :class:`ParameterError`."""
    text = language.strip().lower().strip("<|>")
    if not multilingual:
        if text not in ("", "en", "english"):
            raise ParameterError(f"{NODE}: checkpoint '{checkpoint}' is English-only; language={language!r} "
                                 "needs a multilingual checkpoint such as openai/whisper-small")
        return None
    if not text:
        return None
    from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE
    code = TO_LANGUAGE_CODE.get(text, text)
    known = sorted(k.strip("<|>") for k in (lang_to_id or {}))
    if code not in known:
        listed = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
        raise ParameterError(f"{NODE}: language={language!r} is not a language of checkpoint '{checkpoint}' "
                             f"(codes: {listed}); give a code such as 'en' or 'de', or '' to detect it")
    return code


def _language(held: Loaded, language: str) -> str | None:
    gc = held.model.generation_config
    multilingual = bool(getattr(gc, "is_multilingual", False))
    return language_code(language, multilingual, gc.lang_to_id if multilingual else None, held.checkpoint)


def _check(params: dict[str, Any], ck: Checkpoint) -> None:
    """validate's :func:`language_code`, against the checkpoint's generation_config.json (what the run's
    model reads; none: an English-only model, as the run finds it), before any model loads."""
    gen = read_json(ck.path / "generation_config.json")
    language_code(str(params["language"]), bool(gen.get("is_multilingual", False)), gen.get("lang_to_id"), ck.name)


_NO_SPACES = {"zh", "ja", "th", "lo", "my", "yue"}    # written without spaces: a token is a word


def words_of(held: Loaded, tokens: list[int], times: list[float], offset_s: float, end_s: float,
             language: str | None = None) -> list[dict]:
    """Words of one window's generated ``tokens`` with their times: a token spans from the previous
    token's timestamp to its own (as transformers' ASR pipeline reads them), plus ``offset_s``, at
    most ``end_s``.  A word starts at a token that starts with a space (Whisper's byte-level
    vocabulary marks it ``Ġ``), so punctuation stays with its word; in languages written without
    spaces every token is a word.  (transformers' own grouping decodes the growing word once per
    token and was 0.09 s per window here, more than the tiny model's whole generation.)"""
    tok = held.processor.tokenizer
    special = set(tok.all_special_ids)
    first_ts = int(held.model.generation_config.no_timestamps_token_id) + 1
    keep = [i for i, t in enumerate(tokens) if t not in special and t < first_ts]
    pieces = tok.convert_ids_to_tokens([tokens[i] for i in keep])
    groups: list[list[int]] = []
    for j, piece in enumerate(pieces):
        if not groups or piece.startswith("\u0120") or language in _NO_SPACES:
            groups.append([j])
        else:
            groups[-1].append(j)
    out = []
    for g in groups:
        word = tok.convert_tokens_to_string([pieces[j] for j in g]).strip()
        first, last = keep[g[0]], keep[g[-1]]
        start = offset_s + float(times[first - 1] if first > 0 else 0.0)
        end = offset_s + float(times[last])
        if word:
            out.append({"word": word, "start_s": round(min(start, end_s), 3),
                        "end_s": round(min(max(end, start), end_s), 3)})
    return out


def _language_token(held: Loaded, tokens: list[int]) -> str | None:
    """The language code Whisper wrote at the start of ``tokens`` (``<|ja|>`` -> ``ja``), if any."""
    ids = {v: k.strip("<|>") for k, v in (held.model.generation_config.lang_to_id or {}).items()}
    return next((ids[t] for t in tokens[:3] if t in ids), None)


def transcribe(held: Loaded, samples: np.ndarray, *, language: str, task: Any, ctx: Context | None = None) -> Transcript:
    """Transcribe mono float32 ``samples`` at the model's rate, window by window."""
    import torch
    fe, model = held.processor.feature_extractor, held.model
    rate, size = int(fe.sampling_rate), int(fe.n_samples)
    lang = _language(held, language)
    gen_kw: dict[str, Any] = {"language": lang, "task": str(getattr(task, "value", task))} \
        if getattr(model.generation_config, "is_multilingual", False) else {}
    limit = max(1, int(model.config.max_target_positions) - 5)   # the 4 prompt tokens + 1 fit the positions
    count = max(1, math.ceil(samples.size / size))
    steps = [0, 0]

    def on_step(ids) -> None:
        steps[1] += 1
        if ctx is not None:
            ctx.progress(steps[0] + min(0.99, steps[1] / limit), count, f"window {steps[0] + 1}/{count}")

    stop = step_criterion(on_step)
    texts, words = [], []
    for k in range(count):
        steps[:] = [k, 0]
        if ctx is not None:
            ctx.progress(k, count, f"window {k + 1}/{count}")
        piece = samples[k * size:(k + 1) * size]
        feats = fe(piece, sampling_rate=rate, return_tensors="pt", return_attention_mask=True)
        with torch.inference_mode(), quiet_transformers():    # (QA57, QA60: two deprecation lines a run)
            out = model.generate(feats["input_features"].to(model.device, model.dtype),
                                 attention_mask=feats["attention_mask"].to(model.device), max_new_tokens=limit,
                                 return_token_timestamps=True, return_dict_in_generate=True,
                                 stopping_criteria=[stop], **gen_kw)
        tokens = out["sequences"][0].tolist()
        times = out["token_timestamps"][0].float().tolist()
        texts.append(held.processor.tokenizer.decode(tokens, skip_special_tokens=True).strip())
        heard = lang or _language_token(held, tokens)       # detected: the token after start-of-transcript
        words.extend(words_of(held, tokens, times, k * size / rate, min(samples.size, (k + 1) * size) / rate, heard))
    if ctx is not None:
        ctx.progress(count, count)
    return Transcript(" ".join(t for t in texts if t), json.dumps(words, ensure_ascii=False))


def _estimate(inputs: dict, params: dict) -> dict:
    """whisper-small transcribes ~5x real time on a CPU."""
    from nodeflow.costs import Shape
    a = inputs.get("audio")
    seconds = a.seconds if a is not None and a.rate else 30.0
    return {"text": Shape(chars=int(seconds * 15), work_s=0.2 * seconds + 2.0),
            "words": Shape(chars=int(seconds * 60), work_s=0.0)}


@WHISPER.node(NODE, category="models", version=1, estimate=_estimate, check=_check)
def whisper(audio: Audio, *,
            checkpoint: str = DEFAULT_CHECKPOINT,
            language: str = "",
            task: Task = Task.TRANSCRIBE,
            device: Device = Device.AUTO,
            precision: Precision = Precision.AUTO,
            ctx: Context) -> Transcript:
    """Transcribe speech or sung lyrics to text, with the time of every word (Whisper).

    ``text`` is the transcript; ``words`` a JSON list of ``{"word", "start_s", "end_s"}`` with times
    in seconds from the start of the audio.  Long audio is transcribed in 30 s windows.

    Parameters
    ----------
    audio : Audio
        Speech or a vocal stem; any rate, length and channel count (downmixed to mono, resampled to 16 kHz).
    checkpoint : str
        Whisper checkpoint: a Hugging Face hub id (openai/whisper-small, openai/whisper-large-v3,
        openai/whisper-small.en) or a local folder.
    language : str
        Language of the audio: a code (en, de, fr) or an English name (german); empty: detected.
    task : Task
        transcribe (in the audio's language) or translate (to English).
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.

    Example::

        g = Graph(); w = g.add("models.whisper", language="en")
    """
    if audio.frames == 0:
        raise ParameterError(f"{NODE}: the audio is empty (0 samples); give it speech or singing")
    with WHISPER.using(checkpoint, ctx, device, precision, who=NODE) as held:
        x = model_input(audio, int(held.processor.feature_extractor.sampling_rate), ctx)
        return transcribe(held, x, language=language, task=task, ctx=ctx)


def model_input(audio: Audio, rate: int, ctx: Context | None = None) -> np.ndarray:
    """``audio`` as Whisper hears it: mono (channels averaged) float32 at ``rate``, resampled by the
    node library's one resampler (soxr HQ)."""
    from nodes.dsp._conform import resample_audio
    mono = Audio(audio.samples.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32), audio.sample_rate)
    return resample_audio(mono, rate, "HQ", ctx.check_cancelled if ctx else None).samples[0]
