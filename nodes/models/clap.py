"""``models.clap_score``: how well audio matches a text description and/or a reference clip, with CLAP.

CLAP (contrastive language-audio pretraining, transformers ``ClapModel``) embeds text and audio in
one space; the score is the cosine similarity of the embeddings, from -1 to 1 (higher: closer).
Checkpoints: ``laion/clap-htsat-unfused`` (the default), ``laion/clap-htsat-fused``,
``laion/larger_clap_music`` or a local folder in the transformers format (safetensors).

The audio is downmixed to mono and resampled to the model's rate (48 kHz) by the node library's
resampler; a clip longer than the model's window (10 s) is cut into equal windows of at most that
length, each embedded, and the normalised mean of their embeddings is the clip's embedding.  Every
step is deterministic (the feature extractor's random crops are never used), so the same audio,
text and checkpoint always give the same score, on any machine with the same libraries.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from pathlib import Path
from typing import Annotated, Any, Iterator, NamedTuple

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import ParameterError
from nodeflow.families import declare_default
from nodeflow.node import Context
from nodeflow.types import Text

from ._textcut import cut_said
from .layer import Checkpoint, Device, Family, Precision, pretrained, register, tokenizer

__all__ = ["clap_score", "ClapScores", "ClapLoaded", "audio_embedding", "text_embedding", "using_clap",
           "DEFAULT_CHECKPOINT", "CLAP"]

DEFAULT_CHECKPOINT = "laion/clap-htsat-unfused"
_TEXT_MEMO = 256          # text embeddings kept per loaded model (a tune scores one target many times)


class ClapScores(NamedTuple):
    score: float              # the mean of the scores asked for (text and/or reference)
    text_score: float         # cosine similarity to `text` (0.0 when text is empty)
    reference_score: float    # cosine similarity to the reference clip (0.0 when none is connected)


@dataclasses.dataclass(eq=False)
class ClapLoaded:
    """A loaded CLAP checkpoint: model, tokenizer, feature extractor and where it came from."""
    model: Any
    tokenizer: Any
    features: Any
    checkpoint: str
    revision: str
    path: Path
    device: str
    dtype: str
    text_memo: dict[str, tuple[np.ndarray, str]] = dataclasses.field(default_factory=dict, repr=False)
    lock: Any = dataclasses.field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def sample_rate(self) -> int:
        return int(self.features.sampling_rate)

    @property
    def window_frames(self) -> int:
        return int(self.features.nb_max_samples)

    @property
    def fusion(self) -> bool:
        return bool(getattr(self.model.config.audio_config, "enable_fusion", False))


def _load(res: Checkpoint, device: str, dtype: str) -> ClapLoaded:
    import transformers
    model = pretrained("ClapModel", res, device, dtype)
    tok = tokenizer(res)
    # numpy maths only (no torchaudio): the real checkpoints' preprocessor_config.json
    features = transformers.ClapFeatureExtractor.from_pretrained(str(res.path), local_files_only=True)
    return ClapLoaded(model, tok, features, res.name, res.revision, res.path, device, dtype)


# laion/clap-*: text and audio embeddings in one space (no time base: it scores, it does not generate)
CLAP = register(Family("clap", model_types=("clap",), load=_load, example=DEFAULT_CHECKPOINT, tokenizer=True))
declare_default("scorer", "models.clap_score")      # what `audiochain tune` scores with by default


@contextlib.contextmanager
def using_clap(checkpoint: str, ctx: Context, device: Any = "auto", precision: Any = "auto") -> Iterator[ClapLoaded]:
    """The loaded CLAP checkpoint from the process-wide model cache, pinned and locked while used."""
    with CLAP.using(checkpoint, ctx, device, precision, who="models.clap_score") as loaded:
        yield loaded


def _pooled(out) -> Any:
    """Normalised embeddings from ``get_*_features`` (a tensor in older transformers, an output in newer)."""
    import torch
    emb = out if isinstance(out, torch.Tensor) else out.pooler_output
    return torch.nn.functional.normalize(emb.float(), dim=-1)


def text_embedding(loaded: ClapLoaded, text: str, ctx: Context | None = None) -> np.ndarray:
    """The unit-length embedding of ``text`` (float64 ``[dim]``), remembered per loaded model.  Text
    longer than the model reads is cut there, and ``ctx`` warns where (QA57: the end of a long
    description changed nothing, and nothing said so)."""
    hit = loaded.text_memo.get(text)
    if hit is None:
        hit = loaded.text_memo[text] = _text_embedding(loaded, text)
        if len(loaded.text_memo) > _TEXT_MEMO:
            loaded.text_memo.pop(next(iter(loaded.text_memo)))
    vec, cut = hit
    if cut and ctx is not None:
        ctx.warn(cut)
    return vec


def _text_embedding(loaded: ClapLoaded, text: str) -> tuple[np.ndarray, str]:
    """:func:`text_embedding` computed: the vector and, when the text was cut, the warning."""
    import torch
    model, tok = loaded.model, loaded.tokenizer
    limit = int(getattr(model.config.text_config, "max_position_embeddings", 514)) - 2
    limit = min(limit, int(getattr(tok, "model_max_length", limit) or limit))
    enc = tok([text], return_tensors="pt", padding=True, truncation=True, max_length=limit)
    with torch.inference_mode():
        emb = _pooled(model.get_text_features(input_ids=enc["input_ids"].to(model.device),
                                              attention_mask=enc["attention_mask"].to(model.device)))
    return emb[0].cpu().numpy().astype(np.float64), cut_said(tok, text, limit, "text", "this CLAP checkpoint")


def model_input(audio: Audio, rate: int, ctx: Context | None = None) -> np.ndarray:
    """``audio`` as the model hears it: mono (channels averaged) float32 at ``rate`` Hz, resampled
    by the node library's one resampler (soxr HQ), ``round(frames * rate / audio_rate)`` samples."""
    from nodes.dsp._conform import resample_audio
    mono = Audio(audio.samples.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32), audio.sample_rate)
    return resample_audio(mono, rate, "HQ", ctx.check_cancelled if ctx else None).samples[0]


def windows(x: np.ndarray, size: int) -> list[np.ndarray]:
    """``x`` cut into ``ceil(len / size)`` consecutive windows of equal length (within one sample),
    none longer than ``size``; together they hold every sample once.

    >>> [len(w) for w in windows(np.zeros(25), 10)]
    [9, 8, 8]
    """
    count = max(1, math.ceil(len(x) / size))
    return np.array_split(x, count)


def audio_embedding(loaded: ClapLoaded, audio: Audio, ctx: Context | None = None, *, what: str = "audio") -> np.ndarray:
    """The unit-length embedding of ``audio`` (float64 ``[dim]``): the normalised mean of its
    windows' embeddings (one window for clips up to the model's 10 s)."""
    import torch
    if audio.frames == 0:
        raise ParameterError(f"clap_score: {what} is empty (0 samples); score a clip with audio in it")
    x = model_input(audio, loaded.sample_rate, ctx)
    if not np.all(np.isfinite(x)):
        raise ParameterError(f"clap_score: {what} holds NaN or infinite samples")
    truncation = "fusion" if loaded.fusion else "rand_trunc"   # never longer than the window: no random crop
    feats, longer = [], []
    for w in windows(x, loaded.window_frames):   # one call per window: fusion's random pick has one choice
        f = loaded.features(w.astype(np.float64), sampling_rate=loaded.sample_rate, truncation=truncation,
                            padding="repeatpad", return_tensors="np")
        feats.append(f["input_features"][0])
        longer.append(bool(f["is_longer"][0][0]))
    model = loaded.model
    embs = []
    with torch.inference_mode():
        for i in range(len(feats)):
            if ctx is not None:
                ctx.check_cancelled()
                ctx.progress(i, len(feats), f"window {i + 1}/{len(feats)}")
            inp = torch.from_numpy(np.stack(feats[i:i + 1])).to(model.device, model.dtype)
            is_longer = torch.tensor([[longer[i]]], device=model.device)
            embs.append(_pooled(model.get_audio_features(input_features=inp, is_longer=is_longer))[0].cpu().numpy())
    mean = np.mean(np.asarray(embs, np.float64), axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


NOTHING = "clap_score: nothing to compare with; give text= (a description) or connect a reference clip"


def _estimate(inputs: dict, params: dict) -> dict:
    from nodeflow.costs import Shape
    a = inputs.get("audio")
    seconds = a.seconds if a is not None and a.rate else 10.0
    nothing = not str(params.get("text", "")).strip() and "reference" not in inputs       # (a linked port is a key)
    problem = NOTHING if nothing else ""          # (validate says it, as run does; QA61: it said ok)
    return {name: Shape(work_s=0.2 * max(1.0, seconds / 10.0) + 0.5, problem=problem) for name in ClapScores._fields}


@CLAP.node("models.clap_score", category="models", version=1, estimate=_estimate)
def clap_score(audio: Audio, reference: Audio | None = None, *,
               text: Annotated[str, Text(multiline=True)] = "",
               checkpoint: str = DEFAULT_CHECKPOINT,
               device: Device = Device.AUTO,
               precision: Precision = Precision.AUTO,
               ctx: Context) -> ClapScores:
    """Score how well audio matches a text and/or a reference clip (CLAP cosine similarity, -1 to 1).

    ``score`` is the mean of the scores asked for: the similarity to ``text`` when it is not
    empty, and to ``reference`` when that input is connected.  The one not asked for is 0.0.
    Deterministic: the same audio, text and checkpoint give the same score.

    Parameters
    ----------
    audio : Audio
        Clip to score; any rate, length and channel count (downmixed to mono, resampled to 48 kHz).
    reference : Audio, optional
        Clip the audio should sound like.
    text : str
        Description the audio should match, e.g. a warm lo-fi piano loop; empty: no text score.
    checkpoint : str
        CLAP checkpoint: a Hugging Face hub id (laion/clap-htsat-unfused, laion/larger_clap_music)
        or a local folder.
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device
        wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.

    Example::

        g = Graph(); s = g.add("models.clap_score", text="a warm lo-fi piano loop")
    """
    text = text.strip()
    if not text and reference is None:
        raise ParameterError(NOTHING)
    with using_clap(checkpoint, ctx, device, precision) as loaded:
        emb = audio_embedding(loaded, audio, ctx)
        text_score = float(np.dot(emb, text_embedding(loaded, text, ctx))) if text else 0.0
        ref_score = float(np.dot(emb, audio_embedding(loaded, reference, ctx, what="reference"))) \
            if reference is not None else 0.0
    asked = ([text_score] if text else []) + ([ref_score] if reference is not None else [])
    return ClapScores(round(sum(asked) / len(asked), 9), round(text_score, 9), round(ref_score, 9))
