"""``models.musicgen``: text (and optionally audio to continue) -> music of any length, with MusicGen.

Checkpoints: ``facebook/musicgen-small|medium|large``, the ``-stereo-`` variants, or a local
folder in the transformers format (safetensors).  See :mod:`nodes.models._musicgen` for the
long-form engine and the token maths.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from fractions import Fraction
from typing import Annotated, Any, Callable

import numpy as np

from nodeflow.audio import Audio, seconds_to_frames
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodeflow.types import Range, Text

from . import _musicgen as engine
from ._chroma import chroma
from ._musicgen import MusicgenPrecision
from .layer import (AdapterPath, Checkpoint, Device, Family, Loaded, ModelProfile, family, pretrained, tokenizer,
                    profile_from_rates, read_json, register, to_model_audio)

__all__ = ["STRIDE", "musicgen", "generate_music", "MUSICGEN", "musicgen_time_base", "load_musicgen", "chained_stride",
           "window_check"]


# ---------------------------------------------------------------------------------------- the family
def musicgen_time_base(config: dict, generation: dict) -> ModelProfile:
    """MusicGen's time base from its ``config.json``/``generation_config.json``: codec rate /
    prod(upsampling_ratios) tokens per second, a delay of ``num_codebooks / audio_channels - 1``
    tokens, and an audio window of the generation config's ``max_length`` tokens (the 30 s it was
    trained on), capped by the position embeddings."""
    codec, dec = config["audio_encoder"], config["decoder"]
    rate = int(codec["sampling_rate"])
    frame_rate = Fraction(rate, math.prod(codec["upsampling_ratios"]))
    channels = int(dec.get("audio_channels", 1))
    delay = int(dec["num_codebooks"]) // channels - 1
    limit = int(dec["max_position_embeddings"]) - 1 - delay
    audio_window = min(int(generation.get("max_length") or limit), limit)
    p = profile_from_rates(rate, frame_rate, audio_window + delay, config.get("model_type", "musicgen"), delay)
    return dataclasses.replace(p, channels=channels)


def load_musicgen(ck: Checkpoint, device: str, dtype: str, *, model_class: str, family_name: str) -> Loaded:
    """A MusicGen(-Melody) checkpoint on ``device`` in ``dtype`` (``int8``: 8-bit decoder weights on
    the CPU), with its tokenizer (and, for the melody model, its chroma settings)."""
    model = pretrained(model_class, ck, device, "float32" if dtype == "int8" else dtype)
    if device == "cpu" and dtype == "float32":   # guidance decodes 2 rows a step
        from ._cpu import skinny_products
        skinny_products(model.decoder)
    if dtype == "int8":
        from ._cpu import int8_products
        int8_products(model.decoder)
    tok = tokenizer(ck)
    extra: dict[str, Any] = {}
    if family_name == "musicgen_melody":  # the feature extractor needs torchaudio: read its settings only
        pre = read_json(ck.path / "preprocessor_config.json")
        extra["chroma"] = {"n_fft": int(pre.get("n_fft", 16384)), "hop_length": int(pre.get("hop_length", 4096))}
    return Loaded(model, tok, family(family_name).loaded_profile(model), ck.name, ck.revision, ck.path,
                  device, dtype, extra)


# facebook/musicgen-*: EnCodec 32 kHz, hop 640 -> 50 tokens/s, 4 codebooks (delay 3), 1503 tokens = 30 s
MUSICGEN = register(Family(
    "musicgen", model_types=("musicgen",), time_base=musicgen_time_base, example="facebook/musicgen-small", tokenizer=True,
    nominal=ModelProfile("musicgen", 32000, Fraction(50), 1503, 3),
    load=functools.partial(load_musicgen, model_class="MusicgenForConditionalGeneration", family_name="musicgen")))

STRIDE = Range(0.1, 30.0, unit="s")   # extend_stride_s: within the 30 s window
PROMPT_CROSSFADE_S = 0.02   # the user's prompt fades into its decoded self over the last 20 ms


def _new_length(duration_s: float | Fraction, rate: int, hop: int) -> tuple[int, int]:
    """Frames of new music and the tokens that cover them; under one sample is refused."""
    frames = seconds_to_frames(duration_s, rate)
    if frames < 1:
        raise ParameterError(f"duration_s={float(duration_s):g} is shorter than one sample at {rate} Hz")
    return frames, math.ceil(frames / hop)


def chained_stride(prof: ModelProfile, extend_stride_s: float, duration_s: float | Fraction, tokens: int,
                   after_prompt: bool = False) -> int:
    """The tokens each window past the first adds (``extend_stride_s``); when ``tokens`` (the prompt's
    and the new ones) need more than one window, a stride not within the window is one
    :class:`ParameterError`."""
    window = prof.audio_window_tokens
    stride = prof.seconds_to_tokens(extend_stride_s)
    if tokens > window and not 1 <= stride < window:
        raise ParameterError(prof.stride_refusal(extend_stride_s, stride, f"to generate {float(duration_s):g} s"
                                                 + (" after the prompt" if after_prompt else ""), least_s=STRIDE.min or 0))
    return stride


def window_check(fam: Family) -> Callable[[dict[str, Any], Checkpoint], None]:
    """validate's :func:`chained_stride` for a node of ``fam`` (``Family.node(check=)``), with the time
    base read from the checkpoint's config.json and generation_config.json, before any model loads.
    What is only known when the node runs (``duration_s=auto``: the melody's length; a connected
    ``prompt_audio``) is left to the run."""
    def check(params: dict[str, Any], ck: Checkpoint) -> None:
        duration_s = params.get("duration_s")
        if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float, Fraction)):
            return
        try:
            prof = fam.read_profile(ck.path)
        except ParameterError:
            return                  # a config without a time base: the run says so
        if prof is not None:
            _stride_for(prof, params["extend_stride_s"], duration_s)
    return check


def _stride_for(prof: ModelProfile, extend_stride_s: float, new_s: float | Fraction, prompt_s: float = 0.0) -> int:
    """:func:`chained_stride` for ``new_s`` seconds after a prompt of ``prompt_s``, counted in ``prof``'s
    tokens before the run (validate: :func:`window_check` and :func:`_stride_problem`)."""
    hop = int(prof.hop)
    _, new_tokens = _new_length(new_s, prof.sample_rate, hop)
    return chained_stride(prof, extend_stride_s, new_s, round(prompt_s * prof.sample_rate) // hop + new_tokens,
                          prompt_s > 0)


def _melody_samples(melody: Audio, rate: int) -> np.ndarray:
    """The melody as mono float32 at the model's rate; an empty or silent one is refused."""
    tune = to_model_audio(melody, rate, 1)[0]
    if tune.size == 0:
        raise ParameterError("melody is empty")
    if not np.any(tune):
        raise ParameterError("melody is silent; chroma conditioning needs audible pitches")
    return tune


def generate_music(loaded: Loaded, *, text: str, prompt_audio: Audio | None, melody: Audio | None,
                   duration_s: float | Fraction, seed: int, top_k: int, top_p: float, temperature: float,
                   guidance_scale: float, extend_stride_s: float, keep_prompt: bool, ctx: Context) -> Audio:
    """Generate ``duration_s`` seconds of new music (plus the prompt when ``keep_prompt``).

    The output has exactly ``round(duration_s * rate)`` new frames at the model's rate and channel
    count; with a kept prompt, the prompt (resampled, in the model's channel layout) comes first.
    ``melody`` (MusicGen-Melody only) is looped from the first generated sample onwards and each
    window is conditioned on the chroma of the melody under it.
    """
    model, prof = loaded.model, loaded.profile
    rate, hop, window = prof.sample_rate, int(prof.hop), prof.audio_window_tokens
    frames, new_tokens = _new_length(duration_s, rate, hop)
    prompt, prompt_tokens, prompt_codes = None, 0, None
    if prompt_audio is not None:
        prompt = to_model_audio(prompt_audio, rate, prof.channels)
        prompt_tokens = prompt.shape[1] // hop
        if prompt_tokens < 1:
            raise ParameterError(f"prompt_audio is {prompt_audio.duration_s * 1000:.1f} ms long; continuing needs at "
                                 f"least one token of audio ({hop / rate * 1000:g} ms)")
    stride = chained_stride(prof, extend_stride_s, duration_s, prompt_tokens + new_tokens, prompt is not None)
    if prompt_tokens + new_tokens > window:       # past one window: chained continuations
        prompt_tokens = min(prompt_tokens, window - stride)
    enc = loaded.tokenizer([text], return_tensors="pt", padding=True)
    text_inputs = {k: enc[k].to(model.device) for k in ("input_ids", "attention_mask")}
    if melody is not None:
        tune = _melody_samples(melody, rate)

    def conditioning(w: engine.Window) -> dict[str, Any]:
        if melody is None:
            return dict(text_inputs)
        first = (w.start - prompt_tokens) * hop          # melody time 0 = first generated sample
        seg = tune[np.arange(first, first + window * hop) % tune.size]
        settings = loaded.extra["chroma"]
        feats = chroma(seg, rate, n_fft=settings["n_fft"], hop_length=settings["hop_length"],
                       num_chroma=model.config.num_chroma)
        return dict(text_inputs, input_features=feats[None].to(model.device, model.dtype))

    import torch
    sampling = engine.sampling_kwargs(top_k=top_k, top_p=top_p, temperature=temperature, guidance_scale=guidance_scale,
                                      seed=seed, device=loaded.device)
    with torch.inference_mode():     # tokens are drawn from the sampler's own generator: no process-wide lock
        if prompt is not None:
            prompt_codes = engine.encode_prompt(model, prompt, prompt_tokens)
        once: dict[str, Any] = {}
        total = prompt_tokens + new_tokens
        progressive = engine.ProgressiveDecode(model, total, chunk=window, context=engine.decode_context(prof))
        crossfade = seconds_to_frames(PROMPT_CROSSFADE_S, rate)
        pieces = _Pieces(ctx, rate, prompt, prompt_tokens * hop, frames, keep_prompt, crossfade)

        def on_window(so_far) -> None:   # past one window: the start is handed on while the rest is generated
            if so_far.shape[1] < total:
                progressive.feed(so_far)
                pieces.hand_on(progressive.out, progressive.final)

        codes = engine.generate_codes(model, prof, conditioning, prompt_codes=prompt_codes, new_tokens=new_tokens,
                                      stride=stride, sampling=sampling, ctx=ctx, single_window_audio=once,
                                      on_window=on_window)
        decoded = once.get("audio")
        if decoded is None or decoded.shape[1] != codes.shape[1] * hop:
            progressive.feed(codes)          # the same chunks decode() decodes, so the same samples
            decoded = progressive.out
    ctx.check_cancelled()
    out = engine.assemble(decoded, prompt=prompt, prompt_tokens=prompt_tokens, hop=hop, frames=frames,
                          keep_prompt=keep_prompt, crossfade=crossfade)
    pieces.hand_on_rest(out)
    return Audio(out, rate).with_info(**loaded.tags(),
                                      **loaded.extra.get("info", {}))   # + adapter, adapter_digest


class _Pieces:
    """Hands the output on (``ctx.chunk``) as its samples become final: the parts of
    :func:`engine.assemble`'s result computed by the same arithmetic, so the pieces concatenate to
    exactly the returned audio; each says the whole's length (the prompt kept, and the frames asked
    for), so the block nodes after the model hand theirs on too (:mod:`nodeflow.relay`)."""

    def __init__(self, ctx: Context, rate: int, prompt: np.ndarray | None, start: int, frames: int,
                 keep_prompt: bool, crossfade: int):
        self.ctx, self.rate, self.start, self.frames = ctx, rate, start, frames
        self.prompt = prompt if prompt is not None and keep_prompt else None
        self.head = 0 if self.prompt is None else self.prompt.shape[1]
        self.n = 0 if self.prompt is None else min(crossfade, start, self.head)
        self.sent = 0

    def _slice(self, decoded: np.ndarray, a: int, b: int) -> np.ndarray:
        parts = []
        head, n, start = self.head, self.n, self.start
        if a < head:
            h = self.prompt[:, a:min(b, head)].copy()
            lo, hi = max(a, head - n), min(b, head)
            if n > 0 and hi > lo:
                ramp = (np.arange(n, dtype=np.float32) + 0.5) / n
                r = ramp[lo - (head - n):hi - (head - n)]
                h[:, lo - a:hi - a] = self.prompt[:, lo:hi] * (1.0 - r) + decoded[:, start - head + lo:start - head + hi] * r
            parts.append(h)
        if b > head:
            parts.append(decoded[:, start + max(a, head) - head:start + b - head])
        return np.concatenate(parts, axis=1)

    def hand_on(self, decoded: np.ndarray | None, final: int) -> None:
        if decoded is None:
            return
        head_ready = self.head if final >= self.start else self.head - self.n
        ready = head_ready + (max(0, min(self.frames, final - self.start)) if head_ready == self.head else 0)
        if ready > self.sent:
            self.ctx.chunk(Audio(self._slice(decoded, self.sent, ready), self.rate, start_frame=self.sent),
                           total_frames=self.head + self.frames)
            self.sent = ready

    def hand_on_rest(self, out: np.ndarray) -> None:
        if out.shape[1] > self.sent:
            self.ctx.chunk(Audio(out[:, self.sent:], self.rate, start_frame=self.sent), total_frames=out.shape[1])
            self.sent = out.shape[1]


MAX_BATCH = 8     # list items generated in one call (AUDIOCHAIN_MODEL_BATCH: another cap; 1: one by one)


def batch_size() -> int:
    import os
    try:
        return max(1, int(os.environ.get("AUDIOCHAIN_MODEL_BATCH", MAX_BATCH)))
    except ValueError:
        return MAX_BATCH


def generate_music_batch(loaded: Loaded, *, texts: list[str], melodies: list[Audio] | None, duration_s: float | Fraction,
                         seed: int, top_k: int, top_p: float, temperature: float, guidance_scale: float,
                         extend_stride_s: float, keep_prompt: bool, ctx: Context) -> list[Audio]:
    """:func:`generate_music` for several items at once (no prompt audio, one duration): one
    ``generate`` per window for all of them.  Each item draws from a generator of its own seeded
    with ``seed``, so it gets the tokens it would get alone (up to the last bits of the batched
    arithmetic); each output is exactly ``round(duration_s * rate)`` frames."""
    model, prof = loaded.model, loaded.profile
    rate, hop, window = prof.sample_rate, int(prof.hop), prof.audio_window_tokens
    frames, new_tokens = _new_length(duration_s, rate, hop)
    stride = chained_stride(prof, extend_stride_s, duration_s, new_tokens)
    n = len(texts)
    enc = loaded.tokenizer(list(texts), return_tensors="pt", padding=True)
    text_inputs = {k: enc[k].to(model.device) for k in ("input_ids", "attention_mask")}
    tunes = None
    if melodies is not None:
        tunes = [_melody_samples(m, rate) for m in melodies]

    import torch

    def conditioning(w: engine.Window) -> dict[str, Any]:
        if tunes is None:
            return dict(text_inputs)
        first = w.start * hop
        settings = loaded.extra["chroma"]
        feats = [chroma(t[np.arange(first, first + window * hop) % t.size], rate, n_fft=settings["n_fft"],
                        hop_length=settings["hop_length"], num_chroma=model.config.num_chroma) for t in tunes]
        return dict(text_inputs, input_features=torch.stack(feats).to(model.device, model.dtype))

    sampling = engine.sampling_kwargs(top_k=top_k, top_p=top_p, temperature=temperature, guidance_scale=guidance_scale,
                                      seed=seed, device=loaded.device, batch=n)
    with torch.inference_mode():
        once: list = []
        codes = engine.generate_codes_batch(model, prof, conditioning, batch=n, new_tokens=new_tokens, stride=stride,
                                            sampling=sampling, ctx=ctx, single_window_audio=once)
        outs = []
        for i, c in enumerate(codes):
            ctx.check_cancelled()
            decoded = once[i] if len(once) == n and once[i].shape[1] == c.shape[1] * hop else \
                engine.decode(model, c, chunk=window, context=engine.decode_context(prof))
            out = engine.assemble(decoded, prompt=None, prompt_tokens=0, hop=hop, frames=frames,
                                  keep_prompt=keep_prompt, crossfade=seconds_to_frames(PROMPT_CROSSFADE_S, rate))
            outs.append(Audio(out, rate).with_info(**loaded.tags(),
                                                   **loaded.extra.get("info", {})))
    return outs


def batched(kind: str, items: list[dict[str, Any]], params: dict[str, Any], ctx: Context, one: Callable[..., Audio],
            melody: bool = False, finish: Callable[[dict[str, Any], Audio], Audio] | None = None
            ) -> list[dict[str, Any]]:
    """The ``batch=`` of the MusicGen nodes: items without prompt audio and of one duration are
    generated together, up to :func:`batch_size` at a time (``finish(item, audio)`` then does what
    the node function does after generating); any other item one by one (``one``)."""
    out: list[dict[str, Any] | None] = [None] * len(items)
    groups: dict[Any, list[int]] = {}
    for i, it in enumerate(items):
        if it.get("prompt_audio") is not None:
            out[i] = {"out": one(**it, **params, ctx=ctx)}
            continue
        dur = params.get("duration_s")
        if melody and dur is None:              # the melody's exact span (a bar between two samples)
            dur = it["melody"].exact_duration
        groups.setdefault(dur, []).append(i)
    cap = batch_size()
    p = params
    for dur, idx in groups.items():
        for start in range(0, len(idx), cap):
            chunk = idx[start:start + cap]
            if len(chunk) == 1:
                i = chunk[0]
                out[i] = {"out": one(**items[i], **params, ctx=ctx)}
                continue
            texts = [items[i].get("text") if items[i].get("text") is not None else p["prompt"] for i in chunk]
            adapter = {"adapter": p.get("adapter", "")} if "adapter" in p else {}
            with family(kind).using(p["checkpoint"], ctx, p["device"], p["precision"], **adapter) as loaded:
                made = generate_music_batch(loaded, texts=texts, melodies=[items[i]["melody"] for i in chunk] if melody
                                            else None, duration_s=dur, seed=p["seed"], top_k=p["top_k"],
                                            top_p=p["top_p"], temperature=p["temperature"],
                                            guidance_scale=p["guidance_scale"], extend_stride_s=p["extend_stride_s"],
                                            keep_prompt=p["keep_prompt"], ctx=ctx)
            for i, audio in zip(chunk, made):
                out[i] = {"out": finish(items[i], audio) if finish is not None else audio}
    return [o for o in out if o is not None]


def _batch(items: list[dict[str, Any]], params: dict[str, Any], ctx: Context) -> list[dict[str, Any]]:
    return batched("musicgen", items, params, ctx, musicgen.fn)


# seconds of CPU work per second of music generated, by checkpoint size (a GPU is several times faster)
_CPU_S_PER_S = {"small": 3.0, "medium": 10.0, "large": 25.0, "melody": 10.0}


def _stride_problem(fam: Family, params: dict, prompt_s: float, new_s: float) -> str:
    """What :func:`chained_stride` says of ``params`` for a piece whose prompt (``prompt_s``) or length
    comes from a linked input, with the checkpoint's own time base when it is on this machine ("" when
    it is not, or says nothing): validate says what run says (QA61: a connected prompt_audio or
    duration_s=auto passed validate, and the run refused after loading the model)."""
    from nodeflow import checkpoints
    try:
        res = checkpoints.resolve(str(params.get("checkpoint", "")), download=False, family=fam)
        prof = fam.read_profile(res.path)
        if prof is not None:
            _stride_for(prof, params["extend_stride_s"], Fraction(new_s).limit_denominator(10**9), prompt_s)
    except ParameterError as e:
        return str(e)
    except Exception:  # noqa: BLE001 - not on this machine, or a config the run reads and refuses itself
        return ""
    return ""


def estimate_generation(params: dict, prompt: Any, new_s: float, fam: Family | None = None,
                        linked_length: bool = False) -> Any:
    """The shape of ``new_s`` seconds generated (plus a kept prompt) and the CPU work it takes:
    continuation windows past 30 s each re-read the last ``30 - extend_stride_s`` seconds.  With the
    node's family ``fam``, a stride the checkpoint refuses for a length a linked input decides (a
    prompt, or ``linked_length``: the melody's) is the shape's problem."""
    from nodeflow.costs import Shape
    p = MUSICGEN.nominal
    rate, name = p.sample_rate, str(params.get("checkpoint", "")).lower()
    channels = 2 if "stereo" in name else 1
    kept = prompt.at(rate).frames if prompt is not None and prompt.rate and params.get("keep_prompt", True) else 0
    prompt_s = prompt.seconds if prompt is not None else 0.0
    window_s, stride = float(p.window_s), min(max(params.get("extend_stride_s", 18.0), 0.02), float(p.window_s))
    windows = 1 if prompt_s + new_s <= window_s else math.ceil((prompt_s + new_s - window_s) / stride) + 1
    factor = next((v for k, v in _CPU_S_PER_S.items() if k in name), _CPU_S_PER_S["medium"])
    linked = prompt is not None and bool(prompt.rate) or linked_length
    problem = _stride_problem(fam, params, prompt_s if prompt is not None and prompt.rate else 0.0, new_s) \
        if fam is not None and linked else ""
    return Shape(kept + math.ceil(new_s * rate), channels, rate,
                 work_s=factor * (new_s + 0.05 * windows * (window_s - stride)) + 1.0, problem=problem)


def _estimate(inputs: dict, params: dict) -> dict:
    return {"out": estimate_generation(params, inputs.get("prompt_audio"), params["duration_s"], MUSICGEN)}


@MUSICGEN.node("models.musicgen", category="models", version=1, estimate=_estimate, check=window_check(MUSICGEN),
      batch=lambda items, params, ctx: _batch(items, params, ctx))
def musicgen(text: str | None = None, prompt_audio: Audio | None = None, *,
             prompt: Annotated[str, Text(multiline=True)] = "lofi hip hop beat with warm piano and soft drums",
             checkpoint: str = "facebook/musicgen-small",
             duration_s: Annotated[float, Range(0.1, 600.0, unit="s")] = 10.0,
             seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
             top_k: Annotated[int, Range(0, 2048)] = 250,
             top_p: Annotated[float, Range(0.0, 1.0)] = 0.0,
             temperature: Annotated[float, Range(0.0, 5.0)] = 1.0,
             guidance_scale: Annotated[float, Range(1.0, 20.0)] = 3.0,
             extend_stride_s: Annotated[float, STRIDE] = 18.0,
             keep_prompt: bool = True,
             device: Device = Device.AUTO,
             precision: MusicgenPrecision = MusicgenPrecision.AUTO,
             adapter: AdapterPath = "",
             ctx: Context) -> Audio:
    """Generate music from a text description with MusicGen, any length, optionally continuing audio.

    ``text`` (an input, e.g. from ``text.prompt_template``) replaces the ``prompt`` parameter when
    connected.  ``prompt_audio`` is resampled to the model's rate and channel layout and continued;
    the output then starts with it (``keep_prompt``) followed by ``duration_s`` seconds of new
    music: a new clip, so windows continued this way are not put back on their bars by
    ``time.stitch`` (``models.musicgen_melody`` with ``duration_s=auto`` regenerates each in place).  Past the model's window (30 s) generation continues window by window, each prompted
    with the last ``window - extend_stride_s`` seconds.  ``top_k=0`` / ``top_p=0`` turn those
    filters off; ``temperature=0`` is greedy; ``guidance_scale=1`` turns classifier-free guidance off.
    ``adapter`` is a LoRA adapter from ``audiochain finetune`` (its output folder or
    ``adapter_model.safetensors``), merged into the checkpoint's weights; its content digest is
    part of the cache key and of the output's metadata (``adapter``, ``adapter_digest``).

    Parameters
    ----------
    text : str, optional
        Text from another node (e.g. text.prompt_template); replaces `prompt` when connected.
    prompt_audio : Audio, optional
        Audio to continue: the new music picks up where it ends.
    prompt : str
        Description of the music to generate (genre, instruments, mood, tempo).
    checkpoint : str
        MusicGen checkpoint: a Hugging Face hub id (facebook/musicgen-small, -medium, -large) or a
        local folder.
    duration_s : float, seconds
        Length of the new music, 0.1-600 s; past 30 s it is generated window by window.
    seed : int
        Random seed, 0 to 2^31-1: the same seed and settings give the same music.
    top_k : int
        Sample only from the k most likely tokens, 0-2048 (0: off; 250 is MusicGen's default).
    top_p : float
        Sample from the smallest set of tokens whose probability adds up to p, 0-1 (0: off).
    temperature : float
        Randomness of sampling, 0-5: lower is safer and more repetitive, 0 is greedy.
    guidance_scale : float
        How strongly the music follows the prompt, 1-20 (1: guidance off; 3 is MusicGen's default).
    extend_stride_s : float, seconds
        Past 30 s, how far each new window moves on, 0.1-30 s; the rest of the window is context
        from the previous one.
    keep_prompt : bool
        Start the output with `prompt_audio` (on) or with the new music only (off).
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device
        wins.
    precision : MusicgenPrecision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16, bfloat16
        (about 2x faster on a CPU) or int8 (CPU only, 8-bit decoder weights, faster still).
    adapter : str
        LoRA adapter from `audiochain finetune` (its folder or .safetensors file); empty: the
        checkpoint as it is.

    Example::

        g = Graph(); m = g.add("models.musicgen", prompt="80s synth pop", duration_s=45.0, seed=7)
    """
    with MUSICGEN.using(checkpoint, ctx, device, precision, adapter=adapter) as loaded:
        return generate_music(loaded, text=prompt if text is None else text, prompt_audio=prompt_audio, melody=None,
                              duration_s=duration_s, seed=seed, top_k=top_k, top_p=top_p, temperature=temperature,
                              guidance_scale=guidance_scale, extend_stride_s=extend_stride_s,
                              keep_prompt=keep_prompt, ctx=ctx)
