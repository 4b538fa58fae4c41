"""MusicGen's long-form engine, shared by ``models.musicgen`` and ``models.musicgen_melody``.

Work happens in token space, as in audiocraft: the model generates one window (its trained
context, 30 s for the released checkpoints); every later window is prompted with the last
``window - extend_stride`` tokens generated so far and adds ``extend_stride`` new ones.  The
tokens are then decoded by EnCodec chunk by chunk with overlapping context and complementary
crossfades, so a seam between windows is ordinary decoded audio, not a splice of two clips.

Timing comes from the loaded model's profile: ``hop`` samples per token, ``delay`` extra steps
of the codebook delay pattern, ``window`` audio tokens per call.  ``frames`` requested samples
need ``ceil(frames / hop)`` tokens; the decoded audio is trimmed to exactly ``frames``.

Codes are ``[K, T]`` (K codebooks; a stereo model interleaves left/right codebooks).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodeflow.timebase import ModelProfile
from nodeflow.types import ChoiceEnum

from .layer import sampler, step_criterion


class MusicgenPrecision(ChoiceEnum):
    """Weights' dtype; ``auto`` = float16 on CUDA, float32 elsewhere; on the CPU ``bfloat16`` is about
    2x faster than float32 and ``int8`` (8-bit decoder weights) faster still, each with a measured
    change in the model's arithmetic (see bench/bench_models.py)."""
    AUTO = "auto"
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    INT8 = "int8"

__all__ = ["Window", "plan_windows", "encode_prompt", "generate_codes", "decode", "decode_context", "assemble",
           "sampling_kwargs"]


@dataclasses.dataclass(frozen=True)
class Window:
    start: int      # index (in the whole token timeline) of the window's first context token
    context: int    # tokens of earlier audio the window is prompted with
    new: int        # tokens it adds


def plan_windows(prompt_tokens: int, new_tokens: int, window: int, stride: int) -> list[Window]:
    """The generate calls that add ``new_tokens`` after ``prompt_tokens`` of context.

    When the prompt and the new tokens fit in one window, that is one call (``stride`` unused).
    Otherwise each call sees at most ``window`` tokens; its context is the last ``window - stride``
    tokens so far (the first call's is the prompt, capped the same way).

    >>> [(w.start, w.context, w.new) for w in plan_windows(0, 250, 100, 60)]
    [(0, 0, 100), (60, 40, 60), (120, 40, 60), (180, 40, 30)]
    >>> plan_windows(30, 70, 100, 1000)
    [Window(start=0, context=30, new=70)]
    """
    if prompt_tokens + new_tokens <= window:
        return [Window(0, prompt_tokens, new_tokens)]
    if not 0 < stride < window:
        raise ParameterError(f"extend stride of {stride} tokens must be within the model's window of {window} tokens")
    cap = window - stride
    out, have, made = [], prompt_tokens, 0
    while made < new_tokens:
        ctx = min(have, cap)
        n = min(window - ctx, new_tokens - made)
        out.append(Window(have - ctx, ctx, n))
        have, made = have + n, made + n
    return out


def sampling_kwargs(*, top_k: int, top_p: float, temperature: float, guidance_scale: float,
                    seed: int | None = None, device: str = "cpu", batch: int = 1) -> dict[str, Any]:
    """generate() settings; temperature 0 means greedy decoding.

    With ``seed`` the tokens are drawn from a generator of their own on ``device`` (:func:`sampler`):
    the same music as torch's global generator seeded with ``seed``, without touching it, so
    generations on other models run concurrently.  Without it, generate() samples from the
    global generator (seed it yourself)."""
    if temperature <= 0:
        kw: dict[str, Any] = {"do_sample": False}
    elif seed is not None:
        kw = {"do_sample": True, "temperature": 1.0, "top_k": None, "top_p": None,
              "logits_processor": sampler(seed, device, temperature=float(temperature),
                                          top_k=int(top_k) if top_k > 0 else None,
                                          top_p=float(top_p) if 0 < top_p < 1 else None, batch=batch)}
    else:
        kw = {"do_sample": True, "temperature": float(temperature), "top_k": int(top_k) if top_k > 0 else None,
              "top_p": float(top_p) if 0 < top_p < 1 else None}
    kw["guidance_scale"] = float(guidance_scale) if guidance_scale > 1 else None
    return kw


def _pad_id(model) -> int:
    gc = model.generation_config
    for v in (gc.decoder_start_token_id, gc.pad_token_id, model.config.decoder.pad_token_id):
        if v is not None:
            return int(v)
    raise ParameterError("checkpoint has no decoder start/pad token id in its generation config")


def encode_prompt(model, samples: np.ndarray, tokens: int):
    """EnCodec codes ``[K, tokens]`` of the last ``tokens * hop`` samples of ``samples`` [C, N]."""
    import torch
    hop = int(math.prod(model.config.audio_encoder.upsampling_ratios))
    seg = torch.from_numpy(np.array(samples[:, samples.shape[1] - tokens * hop:], np.float32))  # writable copy
    seg = seg.to(model.device, model.dtype)
    per_channel = []
    for c in range(seg.shape[0]):
        codes = model.audio_encoder.encode(seg[None, c:c + 1]).audio_codes   # [1, 1, k, T]
        per_channel.append(codes[0, 0, :, :tokens])
    if len(per_channel) == 1:
        return per_channel[0]
    k = per_channel[0].shape[0]
    out = per_channel[0].new_empty((2 * k, tokens))
    out[0::2], out[1::2] = per_channel[0], per_channel[1]   # left/right interleaved, as MusicGen stereo
    return out


def _codes_from_sequence(model, initial, sequence):
    """Undo the delay pattern of a finished ``generate`` sequence ([K, L], start token first)."""
    pad = _pad_id(model)
    _, mask = model.decoder.build_delay_pattern_mask(initial, pad_token_id=pad, max_length=sequence.shape[-1])
    ids = model.decoder.apply_delay_pattern_mask(sequence, mask)
    k = model.decoder.num_codebooks
    return ids[ids != pad].reshape(k, -1)


def generate_codes(model, profile: ModelProfile, conditioning: Callable[[Window], dict[str, Any]], *,
                   prompt_codes, new_tokens: int, stride: int, sampling: dict[str, Any], ctx: Context,
                   single_window_audio: dict[str, Any] | None = None,
                   on_window: Callable[[Any], None] | None = None):
    """All codes ``[K, P + new_tokens]``: the prompt's ``P`` followed by the generated ones.

    ``conditioning(window)`` gives the generate() inputs of a window (text ids, chroma...).
    Progress counts every generated step; a cancelled run raises :class:`Cancelled` mid-window.
    When everything fits in one window, ``generate()`` has already decoded exactly these codes:
    that audio (float32 ``[C, (P + new_tokens) * hop]``) is put in ``single_window_audio["audio"]``
    so it need not be decoded again.
    """
    import torch
    k = model.decoder.num_codebooks
    pad, delay = _pad_id(model), profile.delay_tokens
    codes = prompt_codes if prompt_codes is not None else torch.empty((k, 0), dtype=torch.long, device=model.device)
    windows = plan_windows(codes.shape[1], new_tokens, profile.audio_window_tokens, stride)
    total, done = sum(w.new + delay for w in windows), 0
    for w in windows:
        ctx.check_cancelled()
        context = codes[:, codes.shape[1] - w.context:]
        initial = torch.cat([torch.full((k, 1), pad, dtype=torch.long, device=model.device), context.long()], dim=1)
        audio, ids = _generate_window(model, conditioning(w), initial, w.new + delay, sampling, ctx, done, total)
        got = _codes_from_sequence(model, initial, ids)
        if got.shape[1] != w.context + w.new:
            raise RuntimeError(f"window produced {got.shape[1] - w.context} tokens, expected {w.new}")
        codes = torch.cat([codes, got[:, w.context:]], dim=1)
        done += w.new + delay
        if on_window is not None:
            on_window(codes)               # all codes so far (a progressive decode takes what it can)
        if single_window_audio is not None and len(windows) == 1 and w.context == codes.shape[1] - w.new:
            single_window_audio["audio"] = audio[0].float().cpu().numpy()     # [C, codes * hop]
    return codes


def _generate_window(model, inputs: dict[str, Any], initial: Any, steps: int, sampling: dict[str, Any],
                     ctx: Context, done: int, total: int) -> tuple[Any, Any]:
    """One window's ``generate`` from ``initial`` (the decoder ids so far), ``steps`` new tokens,
    progress per step counted from ``done`` of ``total``; returns (its decoded audio, every id)."""
    seen: dict[str, Any] = {}

    def on_step(ids):
        seen["ids"] = ids
        ctx.progress(done + ids.shape[-1] - initial.shape[1], total, "generating")

    audio = model.generate(**inputs, decoder_input_ids=initial, max_new_tokens=steps,
                           stopping_criteria=[step_criterion(on_step)], **sampling)
    if "ids" not in seen:
        raise RuntimeError("generate() returned without producing a token")
    return audio, seen["ids"]


def generate_codes_batch(model, profile: ModelProfile, conditioning: Callable[[Window], dict[str, Any]], *,
                         batch: int, new_tokens: int, stride: int, sampling: dict[str, Any], ctx: Context,
                         single_window_audio: list | None = None) -> list:
    """:func:`generate_codes` for ``batch`` items without prompts, generated together: one
    ``generate`` per window for all of them (``conditioning`` gives the batched inputs); returns each
    item's codes ``[K, new_tokens]``.  With one window, ``single_window_audio`` receives each item's
    decoded audio."""
    import torch
    k = model.decoder.num_codebooks
    pad, delay = _pad_id(model), profile.delay_tokens
    codes = [torch.empty((k, 0), dtype=torch.long, device=model.device) for _ in range(batch)]
    windows = plan_windows(0, new_tokens, profile.audio_window_tokens, stride)
    total, done = sum(w.new + delay for w in windows), 0
    for w in windows:
        ctx.check_cancelled()
        initial = torch.cat([torch.cat([torch.full((k, 1), pad, dtype=torch.long, device=model.device),
                                        c[:, c.shape[1] - w.context:].long()], dim=1) for c in codes])
        audio, ids = _generate_window(model, conditioning(w), initial, w.new + delay, sampling, ctx, done, total)
        for i in range(batch):
            rows = slice(i * k, (i + 1) * k)
            got = _codes_from_sequence(model, initial[rows], ids[rows])
            if got.shape[1] != w.context + w.new:
                raise RuntimeError(f"window produced {got.shape[1] - w.context} tokens, expected {w.new}")
            codes[i] = torch.cat([codes[i], got[:, w.context:]], dim=1)
        done += w.new + delay
        if single_window_audio is not None and len(windows) == 1:
            single_window_audio.extend(audio[i].float().cpu().numpy() for i in range(batch))
    return codes


def _decode_once(model, codes):
    if model.decoder.config.audio_channels == 2:
        parts = [model.audio_encoder.decode(codes[None, None, c::2], [None]).audio_values for c in (0, 1)]
        return __import__("torch").cat(parts, dim=1)[0]
    return model.audio_encoder.decode(codes[None, None], [None]).audio_values[0]


DECODE_CONTEXT_S = 1.0   # codes each side of a decode chunk boundary: EnCodec's LSTM settles well within it


def decode_context(profile: ModelProfile) -> int:
    """Tokens of neighbouring codes a decode chunk sees on each side (1 s, at most half a window)."""
    return max(1, min(profile.seconds_to_tokens(DECODE_CONTEXT_S), profile.audio_window_tokens // 2))


def decode(model, codes, *, chunk: int, context: int) -> np.ndarray:
    """EnCodec decode of ``codes`` [K, T] to float32 ``[C, T * hop]``.

    Long code sequences are decoded ``chunk`` tokens at a time, each with ``context`` tokens of
    neighbouring codes on both sides; neighbouring chunks overlap by ``context`` tokens around
    each boundary and are crossfaded with complementary linear ramps (they sum to one).
    """
    d = ProgressiveDecode(model, codes.shape[1], chunk=chunk, context=context)
    d.feed(codes)
    return d.out


class ProgressiveDecode:
    """:func:`decode` of codes that grow window by window: a chunk is decoded as soon as the codes
    it reads exist, so the start of a long piece is audible before its end is generated.  Fed the
    same codes, ``out`` is exactly what :func:`decode` gives; ``final`` counts the samples no later
    chunk will change."""

    def __init__(self, model, total: int, *, chunk: int, context: int):
        self.model, self.total, self.context = model, total, context
        self.hop = int(math.prod(model.config.audio_encoder.upsampling_ratios))
        self.out: np.ndarray | None = None
        self.final = 0
        self.single = total <= chunk + 2 * context or context <= 0
        starts = list(range(0, total, chunk))
        if len(starts) > 1 and total - starts[-1] < context:   # a tail shorter than the fade joins the chunk before
            starts.pop()
        self.bounds = starts + [total]
        self.half = context * self.hop // 2
        self.next = 0

    def feed(self, codes) -> None:
        """Decode what the codes so far (``[K, t]``, the first ``t`` of ``total``) allow."""
        have, hop, total, context = codes.shape[1], self.hop, self.total, self.context
        if self.single:
            if have >= total and self.out is None:
                self.out = _decode_once(self.model, codes[:, :total]).float().cpu().numpy()
                self.final = total * hop
            return
        bounds, half = self.bounds, self.half
        while self.next < len(bounds) - 1:
            i = self.next
            s, e = bounds[i], bounds[i + 1]
            a, b = max(0, s - context), min(total, e + context)
            if b > have:
                return
            y = _decode_once(self.model, codes[:, a:b]).float().cpu().numpy()
            if self.out is None:
                self.out = np.zeros((y.shape[0], total * hop), np.float32)
            lo = s * hop - (half if i else 0)
            hi = e * hop + (half if i < len(bounds) - 2 else 0)
            seg = y[:, lo - a * hop:hi - a * hop]
            gain = np.ones(hi - lo, np.float32)
            if i:  # fade in across [s*hop - half, s*hop + half)
                gain[:2 * half] = (np.arange(2 * half, dtype=np.float32) + 0.5) / (2 * half)
            if i < len(bounds) - 2:
                gain[-2 * half:] = 1.0 - (np.arange(2 * half, dtype=np.float32) + 0.5) / (2 * half)
            self.out[:, lo:hi] += seg * gain
            self.final = e * hop - half if i < len(bounds) - 2 else total * hop
            self.next += 1


def assemble(decoded: np.ndarray, *, prompt: np.ndarray | None, prompt_tokens: int, hop: int, frames: int,
             keep_prompt: bool, crossfade: int) -> np.ndarray:
    """The output clip from decoded codes ``[C, (P + n) * hop]``.

    The new material starts at sample ``P * hop`` of ``decoded`` (the prompt's end) and is trimmed
    to ``frames``.  With ``keep_prompt`` the user's own prompt samples come first, unchanged except
    for their last ``crossfade`` samples, which fade into the decoded prompt so the continuation
    (decoded together with that prompt) follows without a jump.
    """
    start = prompt_tokens * hop
    new = decoded[:, start:start + frames]
    if new.shape[1] != frames:
        raise RuntimeError(f"decoded {new.shape[1]} samples of new audio, expected {frames}")
    if prompt is None or not keep_prompt:
        return np.ascontiguousarray(new)
    head = prompt.copy()
    n = min(crossfade, start, head.shape[1])
    if n > 0:
        ramp = (np.arange(n, dtype=np.float32) + 0.5) / n
        head[:, -n:] = head[:, -n:] * (1.0 - ramp) + decoded[:, start - n:start] * ramp
    return np.ascontiguousarray(np.concatenate([head, new], axis=1))
