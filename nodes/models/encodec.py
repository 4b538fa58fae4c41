"""``models.encodec_encode`` and ``models.encodec_decode``: audio <-> EnCodec tokens (transformers
``EncodecModel``), so the tokens audio models read and write can be seen, edited and fed on.

The tokens are text, a JSON object anyone can read or edit::

    {"codec": "encodec", "checkpoint": "facebook/encodec_24khz", "revision": "...",
     "sample_rate": 24000, "channels": 1, "frames": 48000, "frame_rate": 75.0, "bandwidth_kbps": 6.0,
     "codebook_size": 1024, "pad_tokens": 0, "scales": [null], "codes": [[[...], ...]]}

``codes[chunk][codebook][token]`` are integers below ``codebook_size``: one chunk for the 24 kHz model,
one per second for the 48 kHz one (which also records each chunk's loudness ``scale``); ``frames``
is the exact length of the audio that was encoded (at ``sample_rate``), so decoding gives back
exactly that many samples.  Rates and token rates are read from the checkpoint's config
(``sampling_rate / prod(upsampling_ratios)`` tokens per second), never from constants.
"""
from __future__ import annotations

import contextlib
import json
import math
from typing import Annotated, Any, Iterator

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodeflow.types import Range

from ._codes import checked_codes
from .layer import (Checkpoint, Device, Family, Loaded, Precision, config_value, estimate_token_decode, place, placement,
                    register, to_model_audio)

__all__ = ["encodec_encode", "encodec_decode", "ENCODEC", "encode_tokens", "check_bandwidth", "decode_tokens",
           "parse_tokens"]

DEFAULT_CHECKPOINT = "facebook/encodec_24khz"
FORMAT = "encodec"
ENCODEC = register(Family("encodec", model_types=("encodec",), model_class="EncodecModel", processor="",
                          example=DEFAULT_CHECKPOINT))


@contextlib.contextmanager
def _using(node_id: str, checkpoint: str, ctx: Context, device: Any, precision: Any) -> Iterator[Loaded]:
    with ENCODEC.using(checkpoint, ctx, device, precision, who=node_id) as held:
        yield held


def _frame_rate(config) -> float:
    return float(config.sampling_rate) / math.prod(config.upsampling_ratios)


def check_bandwidth(bandwidth_kbps: float, target_bandwidths: Any, checkpoint: str) -> None:
    """Refuse a bit rate the checkpoint (its config's ``target_bandwidths``) does not have, in one line."""
    allowed = [float(b) for b in target_bandwidths]
    if float(bandwidth_kbps) not in allowed:
        raise ParameterError(f"models.encodec_encode: bandwidth_kbps={bandwidth_kbps} is not a bandwidth of checkpoint "
                             f"'{checkpoint}' ({', '.join(f'{b:g}' for b in allowed)} kbps)")


def _check_encode(params: dict, ck: Checkpoint) -> None:
    """validate's :func:`check_bandwidth`, against the checkpoint's config.json, before any model loads."""
    check_bandwidth(params["bandwidth_kbps"], config_value(ck, "target_bandwidths", "EncodecConfig"), ck.name)


def encode_tokens(held: Loaded, samples: np.ndarray, bandwidth_kbps: float) -> dict:
    """Tokens (the JSON-ready dict) of ``samples`` ``[channels, frames]`` at the model's rate and channels."""
    import torch
    cfg = held.model.config
    check_bandwidth(bandwidth_kbps, cfg.target_bandwidths, held.checkpoint)
    x = torch.tensor(samples)[None].to(held.model.device, held.model.dtype)
    with torch.inference_mode():
        enc = held.model.encode(x, bandwidth=float(bandwidth_kbps), return_dict=True)
    codes = enc.audio_codes[:, 0].cpu().tolist()           # [chunks, codebooks, tokens]
    scales = [None if s is None else s.float().cpu().reshape(-1).tolist() for s in enc.audio_scales]
    return {"codec": FORMAT, "checkpoint": held.checkpoint, "revision": held.revision,
            "sample_rate": int(cfg.sampling_rate), "channels": int(cfg.audio_channels), "frames": int(samples.shape[1]),
            "frame_rate": _frame_rate(cfg), "bandwidth_kbps": float(bandwidth_kbps),
            "codebook_size": int(cfg.codebook_size), "pad_tokens": int(enc.last_frame_pad_length or 0),
            "scales": scales, "codes": codes}


def parse_tokens(text: str, node_id: str = "models.encodec_decode") -> dict:
    """The tokens dict of ``text``, checked: one clear error naming what is wrong."""
    try:
        d = json.loads(text)
    except ValueError as e:
        raise ParameterError(f"{node_id}: tokens are not JSON ({e}); feed the output of models.encodec_encode") from None
    need = ("codec", "sample_rate", "channels", "frames", "codebook_size", "pad_tokens", "scales", "codes")
    if not isinstance(d, dict) or d.get("codec") != FORMAT or any(k not in d for k in need):
        raise ParameterError(f"{node_id}: tokens are not EnCodec tokens (need codec='encodec' and "
                             f"{', '.join(need[1:])}); feed the output of models.encodec_encode")
    codes = checked_codes(d, node_id, "[chunks][codebooks][tokens]", "models.encodec_encode")
    if not isinstance(d["scales"], list) or len(d["scales"]) != codes.shape[0]:
        raise ParameterError(f"{node_id}: {len(d['scales'])} scales for {codes.shape[0]} chunks of codes")
    return d


def decode_tokens(held: Loaded, d: dict) -> np.ndarray:
    """Samples ``[channels, frames]`` of tokens ``d``: exactly ``d['frames']`` of them."""
    import torch
    cfg = held.model.config
    mine = (int(cfg.sampling_rate), int(cfg.audio_channels), int(cfg.codebook_size))
    theirs = (int(d["sample_rate"]), int(d["channels"]), int(d["codebook_size"]))
    if mine != theirs:
        raise ParameterError(f"models.encodec_decode: the tokens are from a {theirs[0]} Hz, {theirs[1]}-channel codec "
                             f"with {theirs[2]} codes per book ({d.get('checkpoint', '?')}); checkpoint "
                             f"'{held.checkpoint}' is {mine[0]} Hz, {mine[1]}-channel, {mine[2]}: decode with the "
                             "checkpoint that encoded them")
    dev = held.model.device
    codes = torch.tensor(d["codes"], dtype=torch.long, device=dev)[:, None]      # [chunks, batch 1, books, tokens]
    scales = [None if s is None else torch.tensor(s, device=dev, dtype=held.model.dtype).reshape(1, 1)
              for s in d["scales"]]
    frames = int(d["frames"])
    with torch.inference_mode():
        out = held.model.decode(codes, scales, padding_mask=torch.ones(1, frames, dtype=torch.bool, device=dev),
                                last_frame_pad_length=int(d["pad_tokens"]), return_dict=True)
    x = out.audio_values[0].float().cpu().numpy()
    if x.shape[1] < frames:       # never for EnCodec's own tokens; edited ones may be shorter
        x = np.pad(x, ((0, 0), (0, frames - x.shape[1])))
    return np.ascontiguousarray(x[:, :frames], dtype=np.float32)


def _codec_shape(params: dict) -> tuple[int, int, float]:
    """(rate, channels, tokens per second) of the checkpoint, read from its config when it is on this
    machine; else EnCodec 24 kHz's."""
    try:
        from nodeflow import checkpoints, families
        cfg = families.read_config(checkpoints.resolve(params.get("checkpoint", ""), download=False).path) or {}
        rate = int(cfg["sampling_rate"])
        return rate, int(cfg.get("audio_channels", 1)), rate / math.prod(cfg["upsampling_ratios"])
    except Exception:  # noqa: BLE001 - an estimate never fails; the node reports a bad checkpoint
        return 24000, 1, 75.0


def _estimate_encode(inputs: dict, params: dict) -> dict:
    """The tokens (as text, ~5 characters a code) and the clip they stand for (frames, rate), which
    models.encodec_decode's estimate reads."""
    from nodeflow.costs import Shape
    a = inputs.get("audio")
    rate, channels, per_s = _codec_shape(params)
    seconds = a.seconds if a is not None and a.rate else 10.0
    books = 2 * max(1.0, float(params["bandwidth_kbps"]) / 1.5)       # 1.5 kbps: 2 codebooks at 24 kHz
    return {"out": Shape(frames=math.ceil(seconds * rate), channels=channels, rate=rate,
                         chars=int(seconds * per_s * books * 5), work_s=0.05 * seconds + 1.0)}


@ENCODEC.node("models.encodec_encode", category="models", version=2, estimate=_estimate_encode, check=_check_encode)
def encodec_encode(audio: Audio, *,
                   checkpoint: str = DEFAULT_CHECKPOINT,
                   bandwidth_kbps: Annotated[float, Range(1.5, 24.0, unit="kbps")] = 6.0,
                   device: Device = Device.AUTO,
                   precision: Precision = Precision.AUTO,
                   ctx: Context) -> str:
    """Encode audio into EnCodec tokens (JSON text: codes per codebook, the exact length, the codec).

    Parameters
    ----------
    audio : Audio
        Any rate, length and channels; resampled (soxr HQ) and down/up-mixed to the codec's.
    checkpoint : str
        EnCodec checkpoint: facebook/encodec_24khz (mono), facebook/encodec_48khz (stereo) or a local folder.
    bandwidth_kbps : float, kbps
        Bit rate, one of the checkpoint's (24 kHz: 1.5, 3, 6, 12, 24 = 2, 4, 8, 16, 32 codebooks).
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.

    Example::

        g = Graph(); e = g.add("models.encodec_encode", bandwidth_kbps=6.0)
    """
    if audio.frames == 0:
        raise ParameterError("models.encodec_encode: the audio is empty (0 samples)")
    with _using("models.encodec_encode", checkpoint, ctx, device, precision) as held:
        cfg = held.model.config
        ctx.progress(0, 1, "encoding")
        x = to_model_audio(audio, int(cfg.sampling_rate), int(cfg.audio_channels))
        tokens = encode_tokens(held, x, bandwidth_kbps)
        ctx.progress(1, 1)
    tokens["place"] = placement(audio)      # where the window sat: the decoded audio goes back there (QA57)
    return json.dumps(tokens, separators=(",", ":"))


@ENCODEC.node("models.encodec_decode", category="models", version=2, estimate=estimate_token_decode)
def encodec_decode(tokens: str, *,
                   checkpoint: str = DEFAULT_CHECKPOINT,
                   device: Device = Device.AUTO,
                   precision: Precision = Precision.AUTO,
                   ctx: Context) -> Audio:
    """Decode EnCodec tokens (from models.encodec_encode, edited or not) back into audio of their exact length.

    Parameters
    ----------
    tokens : str
        EnCodec tokens as JSON text (models.encodec_encode's output).
    checkpoint : str
        The EnCodec checkpoint that encoded them (its rate, channels and codebooks must match).
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.

    Example::

        g = Graph(); d = g.add("models.encodec_decode")
    """
    d = parse_tokens(tokens)
    with _using("models.encodec_decode", checkpoint, ctx, device, precision) as held:
        ctx.progress(0, 1, "decoding")
        x = decode_tokens(held, d)
        ctx.progress(1, 1)
    out = Audio(x, int(d["sample_rate"])).with_info(**held.tags())
    return place(out, d["place"], fit=True, what="models.encodec_decode") if "place" in d else out   # back on its window's bar
