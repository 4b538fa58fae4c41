"""``models.dac_encode`` and ``models.dac_decode``: audio <-> DAC tokens (Descript Audio Codec,
transformers ``DacModel``), as :mod:`nodes.models.encodec` does for EnCodec.

The tokens are text, a JSON object anyone can read or edit::

    {"codec": "dac", "checkpoint": "descript/dac_44khz", "revision": "...", "sample_rate": 44100,
     "channels": 1, "frames": 88200, "frame_rate": 86.1328125, "codebook_size": 1024,
     "codes": [[...], ...]}

``codes[codebook][token]`` are integers below ``codebook_size``, as many codebooks as were asked
for (up to the checkpoint's ``n_codebooks``: fewer is a lower bit rate), ``ceil(frames / hop)``
tokens covering the audio; ``frames`` is the exact length that was encoded, so decoding gives back
exactly that many samples.  The rate and the hop (``prod(downsampling_ratios)``, so the token
rate) are read from the checkpoint's config, never from constants.  DAC is mono.
"""
from __future__ import annotations

import json
import math
from typing import Annotated, Any

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodeflow.types import Range

from ._codes import checked_codes
from .layer import (Checkpoint, Device, Family, Loaded, Precision, config_value, estimate_token_decode, place, placement,
                    register, to_model_audio)

__all__ = ["dac_encode", "dac_decode", "DAC", "encode_tokens", "checked_codebooks", "decode_tokens", "parse_tokens"]

DEFAULT_CHECKPOINT = "descript/dac_44khz"
FORMAT = "dac"
DAC = register(Family("dac", model_types=("dac",), model_class="DacModel", processor="", example=DEFAULT_CHECKPOINT))


def _hop(config: Any) -> int:
    """Samples per token: the encoder's strides (``hop_length`` in the config says the same)."""
    ratios = config["downsampling_ratios"] if isinstance(config, dict) else config.downsampling_ratios
    return int(math.prod(ratios))


def checked_codebooks(codebooks: int, n_codebooks: Any, checkpoint: str) -> int:
    """How many codebooks ``codebooks`` keeps of the checkpoint's ``n_codebooks`` (0: all); more than it
    has is refused in one line."""
    books = int(codebooks) or int(n_codebooks)
    if books > int(n_codebooks):
        raise ParameterError(f"models.dac_encode: codebooks={codebooks} is more than checkpoint '{checkpoint}' "
                             f"has ({n_codebooks}); use 1-{n_codebooks}, or 0 for all")
    return books


def _check_encode(params: dict[str, Any], ck: Checkpoint) -> None:
    """validate's :func:`checked_codebooks`, against the checkpoint's config.json, before any model loads."""
    checked_codebooks(params["codebooks"], config_value(ck, "n_codebooks", "DacConfig"), ck.name)


def encode_tokens(held: Loaded, samples: np.ndarray, codebooks: int) -> dict[str, Any]:
    """Tokens (the JSON-ready dict) of mono ``samples`` ``[1, frames]`` at the model's rate:
    ``codebooks`` of them (0: all the checkpoint has)."""
    import torch
    cfg = held.model.config
    books = checked_codebooks(codebooks, cfg.n_codebooks, held.checkpoint)
    hop, frames = _hop(cfg), int(samples.shape[1])
    padded = np.pad(samples, ((0, 0), (0, -frames % hop)))            # the encoder drops a partial last token
    x = torch.tensor(padded)[None].to(held.model.device, held.model.dtype)
    with torch.inference_mode():
        codes = held.model.encode(x, n_quantizers=books, return_dict=True).audio_codes[0].cpu().tolist()
    return {"codec": FORMAT, "checkpoint": held.checkpoint, "revision": held.revision,
            "sample_rate": int(cfg.sampling_rate), "channels": 1, "frames": frames,
            "frame_rate": int(cfg.sampling_rate) / hop, "codebook_size": int(cfg.codebook_size), "codes": codes}


def parse_tokens(text: str, node_id: str = "models.dac_decode") -> dict[str, Any]:
    """The tokens dict of ``text``, checked: one clear error naming what is wrong."""
    try:
        d = json.loads(text)
    except ValueError as e:
        raise ParameterError(f"{node_id}: tokens are not JSON ({e}); feed the output of models.dac_encode") from None
    need = ("codec", "sample_rate", "frames", "codebook_size", "codes")
    if not isinstance(d, dict) or d.get("codec") != FORMAT or any(k not in d for k in need):
        raise ParameterError(f"{node_id}: tokens are not DAC tokens (need codec='dac' and {', '.join(need[1:])}); "
                             "feed the output of models.dac_encode")
    checked_codes(d, node_id, "[codebooks][tokens]", "models.dac_encode")
    return d


def decode_tokens(held: Loaded, d: dict[str, Any]) -> np.ndarray:
    """Samples ``[1, frames]`` of tokens ``d``: exactly ``d['frames']`` of them."""
    import torch
    cfg = held.model.config
    books = len(d["codes"])
    if (int(d["sample_rate"]), int(d["codebook_size"])) != (int(cfg.sampling_rate), int(cfg.codebook_size)) or \
            books > int(cfg.n_codebooks):
        raise ParameterError(f"models.dac_decode: the tokens are from a {d['sample_rate']} Hz codec with "
                             f"{d['codebook_size']} codes per book and {books} books ({d.get('checkpoint', '?')}); "
                             f"checkpoint '{held.checkpoint}' is {cfg.sampling_rate} Hz, {cfg.codebook_size} codes, "
                             f"up to {cfg.n_codebooks} books: decode with the checkpoint that encoded them")
    codes = torch.tensor(d["codes"], dtype=torch.long, device=held.model.device)[None]      # [1, books, tokens]
    with torch.inference_mode():
        x = held.model.decode(audio_codes=codes, return_dict=True).audio_values.reshape(1, -1).float().cpu().numpy()
    frames = int(d["frames"])
    if x.shape[1] < frames:       # never for DAC's own tokens; edited ones may be shorter
        x = np.pad(x, ((0, 0), (0, frames - x.shape[1])))
    return np.ascontiguousarray(x[:, :frames], dtype=np.float32)


def _codec_shape(params: dict[str, Any]) -> tuple[int, float, int]:
    """(rate, tokens per second, codebooks) of the checkpoint, read from its config when it is on
    this machine; else DAC 44.1 kHz's."""
    try:
        from nodeflow import checkpoints, families
        cfg = families.read_config(checkpoints.resolve(params.get("checkpoint", ""), download=False).path) or {}
        rate = int(cfg["sampling_rate"])
        return rate, rate / _hop(cfg), int(cfg.get("n_codebooks", 9))
    except Exception:  # noqa: BLE001 - an estimate never fails; the node reports a bad checkpoint
        return 44100, 44100 / 512, 9


def _estimate_encode(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The tokens (as text, ~5 characters a code) and the clip they stand for (frames, rate), which
    models.dac_decode's estimate reads."""
    from nodeflow.costs import Shape
    a = inputs.get("audio")
    rate, per_s, books = _codec_shape(params)
    seconds = a.seconds if a is not None and a.rate else 10.0
    books = int(params.get("codebooks") or 0) or books
    return {"out": Shape(frames=math.ceil(seconds * rate), channels=1, rate=rate,
                         chars=int(seconds * per_s * books * 5), work_s=0.05 * seconds + 1.0)}


@DAC.node("models.dac_encode", category="models", version=2, estimate=_estimate_encode, check=_check_encode)
def dac_encode(audio: Audio, *,
               checkpoint: str = DEFAULT_CHECKPOINT,
               codebooks: Annotated[int, Range(0, 32, step=1)] = 0,
               device: Device = Device.AUTO,
               precision: Precision = Precision.AUTO,
               ctx: Context) -> str:
    """Encode audio into DAC tokens (JSON text: codes per codebook, the exact length, the codec).

    Parameters
    ----------
    audio : Audio
        Any rate, length and channels; resampled (soxr HQ) to the codec's rate and mixed down to mono.
    checkpoint : str
        DAC checkpoint: descript/dac_44khz, descript/dac_24khz, descript/dac_16khz or a local folder.
    codebooks : int
        How many codebooks to keep, 1 to the checkpoint's (9 for dac_44khz, about 7.7 kbps); fewer is a
        lower bit rate; 0: all of them.
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.

    Example::

        g = Graph(); e = g.add("models.dac_encode", codebooks=4)
    """
    if audio.frames == 0:
        raise ParameterError("models.dac_encode: the audio is empty (0 samples)")
    with DAC.using(checkpoint, ctx, device, precision, who="models.dac_encode") as held:
        ctx.progress(0, 1, "encoding")
        tokens = encode_tokens(held, to_model_audio(audio, int(held.model.config.sampling_rate), 1), codebooks)
        ctx.progress(1, 1)
    tokens["place"] = placement(audio)      # where the window sat: the decoded audio goes back there (QA57)
    return json.dumps(tokens, separators=(",", ":"))


@DAC.node("models.dac_decode", category="models", version=2, estimate=estimate_token_decode)
def dac_decode(tokens: str, *,
               checkpoint: str = DEFAULT_CHECKPOINT,
               device: Device = Device.AUTO,
               precision: Precision = Precision.AUTO,
               ctx: Context) -> Audio:
    """Decode DAC tokens (from models.dac_encode, edited or not) back into mono audio of their exact length.

    Parameters
    ----------
    tokens : str
        DAC tokens as JSON text (models.dac_encode's output).
    checkpoint : str
        The DAC checkpoint that encoded them (its rate and codebook size must match).
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.

    Example::

        g = Graph(); d = g.add("models.dac_decode")
    """
    d = parse_tokens(tokens)
    with DAC.using(checkpoint, ctx, device, precision, who="models.dac_decode") as held:
        ctx.progress(0, 1, "decoding")
        x = decode_tokens(held, d)
        ctx.progress(1, 1)
    out = Audio(x, int(d["sample_rate"])).with_info(**held.tags())
    return place(out, d["place"], fit=True, what="models.dac_decode") if "place" in d else out   # back on its window's bar
