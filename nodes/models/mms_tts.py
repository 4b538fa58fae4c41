"""``models.mms_tts``: text -> speech in any of MMS-TTS's ~1100 languages (transformers ``VitsModel``).

Meta's Massively Multilingual Speech TTS has one checkpoint per language, ``facebook/mms-tts-<code>``
with an ISO 639-3 code (``eng``, ``deu``, ``fra``, ``spa``...).  ``language`` picks the checkpoint
(a code, a few common names and two-letter codes are understood: ``german``, ``de``); ``checkpoint``
names another one outright (a hub id or a local folder in the transformers format, safetensors).

VITS draws noise twice (the durations, then the sound); ``seed`` fixes both, so a seed and its
settings always give the same take.  Text is spoken sentence by sentence (the sentences of
:func:`nodes.models.bark.split_text`), joined by ``pause_s`` of silence: progress and Stop act
between sentences.  The output is mono at the checkpoint's own rate (``config.sampling_rate``,
16 kHz for the MMS checkpoints), exactly the samples the model makes: ``sum(sentence lengths) +
(sentences - 1) * round(pause_s * rate)`` frames.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from nodeflow.audio import Audio, seconds_to_frames
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodeflow.types import Range, Text

from .layer import Device, Family, Loaded, Precision, register, seeded

__all__ = ["mms_tts", "MMS_TTS", "checkpoint_for", "language_code", "speak_sentence"]

NODE = "models.mms_tts"
MMS_TTS = register(Family("mms_tts", model_types=("vits",), model_class="VitsModel", processor="AutoTokenizer",
                          example="facebook/mms-tts-eng"))
DEFAULT_RATE = 16000          # the MMS checkpoints' config.sampling_rate (used only for estimates)
_CODE = re.compile(r"^[a-z]{3}(-script_[a-z]+)?$")
# common names and two-letter codes -> ISO 639-3 (any three-letter code is taken as it is)
_ALIASES = {"english": "eng", "en": "eng", "german": "deu", "deutsch": "deu", "de": "deu", "french": "fra",
            "francais": "fra", "français": "fra", "fr": "fra", "spanish": "spa", "español": "spa", "es": "spa",
            "italian": "ita", "it": "ita", "portuguese": "por", "pt": "por", "dutch": "nld", "nl": "nld",
            "russian": "rus", "ru": "rus", "polish": "pol", "pl": "pol", "swedish": "swe", "sv": "swe",
            "finnish": "fin", "fi": "fin", "hungarian": "hun", "hu": "hun", "turkish": "tur", "tr": "tur",
            "ukrainian": "ukr", "uk": "ukr", "hindi": "hin", "hi": "hin", "korean": "kor", "ko": "kor",
            "vietnamese": "vie", "vi": "vie", "swahili": "swh", "sw": "swh", "yoruba": "yor", "yo": "yor"}


def language_code(language: str) -> str:
    """The MMS (ISO 639-3) code for ``language``.

    >>> language_code("German"), language_code("fr"), language_code("deu"), language_code("uig-script_arabic")
    ('deu', 'fra', 'deu', 'uig-script_arabic')
    """
    text = str(language).strip().lower()
    code = _ALIASES.get(text, text)
    if not _CODE.match(code):
        raise ParameterError(f"{NODE}: language={language!r} is not an ISO 639-3 code like 'eng', 'deu' or 'fra' "
                             "(MMS-TTS names each checkpoint facebook/mms-tts-<code>); give the code, or a "
                             "checkpoint= hub id or folder")
    return code


def checkpoint_for(language: str, checkpoint: str = "") -> str:
    """The checkpoint a node with these parameters loads: ``checkpoint`` when given, else the
    language's ``facebook/mms-tts-<code>``.

    >>> checkpoint_for("deu"), checkpoint_for("eng", "./my-vits")
    ('facebook/mms-tts-deu', './my-vits')
    """
    return checkpoint.strip() or f"facebook/mms-tts-{language_code(language)}"


def _with_checkpoint(params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "checkpoint": checkpoint_for(params.get("language", "eng"), params.get("checkpoint", ""))}


def _fingerprint(params: dict[str, Any], ctx: Context) -> dict[str, Any]:
    try:
        return MMS_TTS.fingerprint(_with_checkpoint(params), ctx)
    except ParameterError as e:      # a bad language fails with its message when the node runs
        return {"checkpoint": f"invalid:{e}"}


def _preflight(params: dict[str, Any], base_dir: Path) -> list[str]:
    try:
        return MMS_TTS.preflight(_with_checkpoint(params), base_dir)
    except ParameterError as e:
        return [str(e)]


def speak_sentence(held: Loaded, sentence: str) -> np.ndarray:
    """One sentence through VITS (noise from torch's global generators: call inside :func:`seeded`);
    float32 samples, exactly ``sequence_lengths`` of them; empty when no character of the sentence
    is in the checkpoint's vocabulary."""
    import torch
    enc = held.processor(sentence, return_tensors="pt")
    ids = enc["input_ids"]
    blank = held.processor.pad_token_id
    if ids.numel() == 0 or bool((ids == blank).all()):
        return np.zeros(0, np.float32)
    with torch.inference_mode():
        out = held.model(input_ids=ids.to(held.model.device), attention_mask=enc["attention_mask"].to(held.model.device))
    n = int(out.sequence_lengths[0])
    return out.waveform[0, :n].float().cpu().numpy()


def _estimate(inputs: dict, params: dict) -> dict:
    """About 15 characters per second of speech at speaking_rate 1; VITS runs ~20x real time on a CPU."""
    from nodeflow.costs import Shape
    text = inputs.get("text")
    chars = text.chars if text is not None else len(params.get("prompt", ""))
    seconds = chars / 15.0 / max(0.25, float(params.get("speaking_rate", 1.0))) + math.ceil(chars / 60) * params["pause_s"]
    from .bark import split_text
    empty = text is None and not split_text(str(params.get("prompt", "")))    # (validate says it, as run does)
    return {"out": Shape(math.ceil(seconds * DEFAULT_RATE), 1, DEFAULT_RATE, work_s=0.05 * seconds + 1.0,
                         problem="the text is empty; give something to say" if empty else "")}


@MMS_TTS.node(NODE, category="models", version=1, fingerprint=_fingerprint, preflight=_preflight, estimate=_estimate)
def mms_tts(text: str | None = None, *,
            prompt: Annotated[str, Text(multiline=True)] = "Hello! This is speech in many languages.",
            language: str = "eng",
            checkpoint: str = "",
            speaking_rate: Annotated[float, Range(0.25, 4.0)] = 1.0,
            noise_scale: Annotated[float, Range(0.0, 2.0)] = 0.667,
            noise_scale_duration: Annotated[float, Range(0.0, 2.0)] = 0.8,
            pause_s: Annotated[float, Range(0.0, 5.0, unit="s")] = 0.25,
            seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
            device: Device = Device.AUTO,
            precision: Precision = Precision.AUTO,
            ctx: Context) -> Audio:
    """Speak text in one of ~1100 languages with MMS-TTS (VITS); the language picks the checkpoint.

    ``text`` (an input) replaces the ``prompt`` parameter when connected.  Characters the language's
    vocabulary lacks (most punctuation) are skipped, as MMS was trained on plain lower-case text.

    Parameters
    ----------
    text : str, optional
        Text from another node (e.g. text.prompt_template); replaces `prompt` when connected.
    prompt : str
        What to say.
    language : str
        ISO 639-3 code of the language (eng, deu, fra, spa, ...; also english, german, de, fr):
        loads facebook/mms-tts-<code>.
    checkpoint : str
        Another VITS checkpoint (a hub id or a local folder); empty: the language's MMS checkpoint.
    speaking_rate : float
        Speed of speech, 0.25-4 (2 = twice as fast, half as long).
    noise_scale : float
        Variation of the voice's sound, 0-2 (MMS default 0.667); 0 is flat and the same for any seed.
    noise_scale_duration : float
        Variation of the rhythm (how long each sound lasts), 0-2 (MMS default 0.8).
    pause_s : float, seconds
        Silence between sentences, 0-5 s.
    seed : int
        Random seed, 0 to 2^31-1: the same seed and settings give the same take.
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.

    Example::

        g = Graph(); s = g.add("models.mms_tts", prompt="Guten Morgen. Wie geht es dir?", language="deu")
    """
    from .bark import split_text
    words = prompt if text is None else text
    sentences = split_text(words)
    if not sentences:
        raise ParameterError(f"{NODE}: the text is empty; give something to say")
    name = checkpoint_for(language, checkpoint)
    with MMS_TTS.using(name, ctx, device, precision, who=NODE) as held:
        rate = int(held.model.config.sampling_rate)
        gap = np.zeros(seconds_to_frames(pause_s, rate), np.float32)
        model = held.model
        model.speaking_rate, model.noise_scale = float(speaking_rate), float(noise_scale)   # read by forward()
        model.noise_scale_duration = float(noise_scale_duration)
        parts: list[np.ndarray] = []
        with seeded(seed, held.device):
            for i, sentence in enumerate(sentences):
                ctx.progress(i, len(sentences), f"sentence {i + 1}/{len(sentences)}")
                wave = speak_sentence(held, sentence)
                if wave.size:
                    parts.extend([gap, wave] if parts else [wave])
        ctx.progress(len(sentences), len(sentences))
    if not parts:
        raise ParameterError(f"{NODE}: no character of {words[:60]!r} is in the vocabulary of checkpoint '{name}'; "
                             f"is language={language!r} the language of the text? (non-Latin scripts may need "
                             "romanising first)")
    return Audio(np.concatenate(parts), rate).with_info(**held.tags())
