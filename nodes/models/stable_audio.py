"""``models.stable_audio``: text -> audio by latent diffusion, Stable Audio Open through diffusers
(``StableAudioPipeline``).

A checkpoint is a diffusers folder (``model_index.json`` naming ``StableAudioPipeline``, one
safetensors folder per component) from the hub (``stabilityai/stable-audio-open-1.0``, a gated
repository: accept its licence, then ``audiochain models pull``) or on disk.  Everything about
time is read from it: the rate and channels (``vae/config.json``: 44.1 kHz stereo for the real
model), the samples per latent (the VAE's ``downsampling_ratios``: 2048) and the window
(``transformer/config.json`` ``sample_size``: 1024 latents, 47.55 s).

One window is one diffusion of ``steps`` denoising steps over the whole window, conditioned on the
prompt, the negative prompt (with ``guidance_scale`` > 1) and the wanted duration; the output is
exactly ``round(duration_s * rate)`` frames.  Past the window the piece is chained in time, as
MusicGen's long-form is: each further window adds ``extend_stride_s`` seconds and *continues* the
previous one: its first ``window - stride`` latents are held to the previous window's last ones
(re-noised to each step's noise level, so the model denoises the rest around them; at the last
step they are exactly the previous latents), and the decoded windows crossfade linearly over that
shared stretch, where they hold the same music.  Progress is reported per denoising step and Stop
acts within one step.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Iterator

import numpy as np

from nodeflow import checkpoints
from nodeflow.audio import Audio, seconds_to_frames
from nodeflow.errors import ParameterError, install_hint
from nodeflow.node import Context
from nodeflow.types import Range, Text

from ._textcut import cut_said
from .layer import (Checkpoint, Device, Family, Loaded, ModelProfile, Precision, quiet_transformers, pretrained,
                    register, step_progress)

__all__ = ["stable_audio", "STABLE_AUDIO", "generate", "window_plan", "lengths"]

NODE = "models.stable_audio"
DEFAULT_CHECKPOINT = "stabilityai/stable-audio-open-1.0"
STRIDE = Range(0.01, 600.0, unit="s")   # extend_stride_s
PACKAGES = ("huggingface_hub", "torch", "transformers", "diffusers", "torchsde")   # the 'diffusion' extra


def _time_base(config: dict, generation: dict) -> ModelProfile:
    """From ``model_index.json`` with each component's config: rate and channels of the VAE,
    latents per second (rate / prod(downsampling_ratios)), window (the transformer's sample_size)."""
    for part in ("vae", "transformer"):                                        # (null in model_index.json, or
        found = config.get(part)                                                  # its folder gone: QA61, the
        if not isinstance(found, dict) or found.get("_class") == [None, None]:    # run said diffusers' raw error)
            raise KeyError(part)
    vae, dit = config["vae"], config["transformer"]
    rate = int(vae["sampling_rate"])
    return ModelProfile("stable_audio", rate, Fraction(rate, math.prod(vae["downsampling_ratios"])),
                        int(dit["sample_size"]), channels=int(vae["audio_channels"]))


def _load(ck: Checkpoint, device: str, dtype: str) -> Loaded:
    from diffusers.utils import logging as dlog
    profile = STABLE_AUDIO.read_profile(ck.path)       # a checkpoint missing a part: one line, before diffusers
    bar = dlog.is_progress_bar_enabled()
    dlog.disable_progress_bar()                        # "Loading pipeline components": not the run's output
    try:
        with warnings.catch_warnings():                # diffusers' and torch's deprecation notes, not the user's
            warnings.simplefilter("ignore", FutureWarning)
            pipe = pretrained("diffusers.StableAudioPipeline", ck, device, dtype)
    finally:
        if bar:
            dlog.enable_progress_bar()
    pipe.set_progress_bar_config(disable=True)         # progress goes to the run, not to a tqdm bar
    return Loaded(pipe, None, profile, ck.name, ck.revision, ck.path, device, dtype)


STABLE_AUDIO = register(Family(
    "stable_audio", pipelines=("StableAudioPipeline",), model_class="diffusers.StableAudioPipeline", processor="",
    time_base=_time_base, packages=PACKAGES, example=DEFAULT_CHECKPOINT, load=_load,
    nominal=ModelProfile("stable_audio", 44100, Fraction(44100, 2048), 1024, channels=2)))


def _require() -> None:
    missing = checkpoints.missing_model_packages(PACKAGES)
    if missing:
        raise checkpoints.CheckpointError(
            f"{NODE} needs the 'diffusion' extra ({', '.join(missing)} not installed here): "
            f"{install_hint('models', 'diffusion')}")


def _preflight(params: dict[str, Any], base_dir: Path) -> list[str]:
    try:
        _require()
    except checkpoints.CheckpointError as e:
        return [str(e)]
    return STABLE_AUDIO.preflight(params, base_dir, check=_check)


def window_plan(frames: int, hop: int, window: int, stride: int) -> list[tuple[int, int]]:
    """``(first latent, latents)`` of each window covering ``frames`` samples: one window when they
    fit, else windows ``stride`` latents apart, the last one only as long as needed.

    >>> window_plan(100, 10, 16, 12), window_plan(410, 10, 16, 12)
    ([(0, 10)], [(0, 16), (12, 16), (24, 16), (36, 5)])
    """
    total = math.ceil(frames / hop)
    if total > window and stride < 1:
        raise ValueError(f"windows must be at least one latent apart (stride={stride})")
    plan = [(0, min(total, window))]
    while plan[-1][0] + plan[-1][1] < total:
        start = plan[-1][0] + stride
        plan.append((start, min(window, total - start)))
    return plan


@contextlib.contextmanager
def _quiet_libraries() -> Iterator[None]:
    """diffusers' and transformers' own warnings off around a pipeline call (a long prompt: a raw
    'truncated because t5 can only handle' line per window, and transformers' 'Token indices
    sequence length' once); :func:`generate` says what matters once, as a warning of the run."""
    from diffusers.utils import logging as dlog
    before = dlog.get_verbosity()
    dlog.set_verbosity_error()
    try:
        with quiet_transformers():
            yield
    finally:
        dlog.set_verbosity(before)


def _window(pipe: Any, *, prompt: str, negative_prompt: str, seconds: float, steps: int, guidance_scale: float,
            seed: int, device: str, held_back: Any, renoise: Any, on_step: Any) -> Any:
    """One diffusion over the window: its latents ``[1, channels, window]``.  ``held_back``: latents
    the window starts with (continuing the previous one), re-noised after every step."""
    import torch
    gen = torch.Generator(device=device).manual_seed(int(seed))
    sched = pipe.scheduler

    def step_end(step: int, t: Any, latents: Any) -> None:
        if held_back is not None:            # the loop goes on with this very tensor: pin its head
            sigma = float(sched.sigmas[sched.step_index])
            noise = torch.randn(held_back.shape, generator=renoise, device=device, dtype=torch.float32)
            latents[:, :, :held_back.shape[-1]] = (held_back.float() + sigma * noise).to(latents.dtype)
        on_step()

    with warnings.catch_warnings(), _quiet_libraries():     # torchsde's Brownian tree warns at the schedule's
        warnings.simplefilter("ignore", UserWarning)           # ends; the prompt's cut is said by generate
        return pipe(prompt, negative_prompt=negative_prompt or None, audio_end_in_s=seconds,
                    num_inference_steps=int(steps), guidance_scale=float(guidance_scale), generator=gen,
                    output_type="latent", callback=step_end, callback_steps=1).audios


def lengths(prof: ModelProfile, duration_s: float | Fraction, extend_stride_s: float) -> tuple[int, int]:
    """``(frames, stride)``: the output's frames at the model's rate and the latents each window past
    the first adds; under one sample, or (past one window) a stride not within the window, is one
    :class:`ParameterError`."""
    rate, hop, window = prof.sample_rate, int(prof.hop), prof.window_tokens
    frames = seconds_to_frames(duration_s, rate)
    if frames < 1:
        raise ParameterError(f"{NODE}: duration_s={float(duration_s):g} is shorter than one sample at {rate} Hz")
    stride = int(Fraction(extend_stride_s) * rate // hop)
    if frames > window * hop and not 1 <= stride < window:
        raise ParameterError(f"{NODE}: " + prof.stride_refusal(extend_stride_s, stride,
                                                               f"to generate {float(duration_s):g} s", "latent",
                                                               least_s=STRIDE.min or 0))
    return frames, stride


def _check(params: dict[str, Any], ck: Checkpoint) -> None:
    """validate's :func:`lengths`, with the time base read from the checkpoint's model_index.json and
    its components' config.json, before any model loads."""
    prof = STABLE_AUDIO.read_profile(ck.path)      # (a component missing: its one line, as the run's)
    if prof is not None:
        lengths(prof, params["duration_s"], params["extend_stride_s"])


def generate(held: Loaded, *, prompt: str, negative_prompt: str, duration_s: float | Fraction, steps: int,
             guidance_scale: float, seed: int, extend_stride_s: float, ctx: Context) -> Audio:
    """``round(duration_s * rate)`` frames of audio at the checkpoint's rate and channels (see the
    module docstring for the chaining of windows)."""
    import torch

    from nodes.dsp._curves import Curve, blend
    pipe, prof = held.model, held.profile
    rate, hop, window = prof.sample_rate, int(prof.hop), prof.window_tokens
    frames, stride = lengths(prof, duration_s, extend_stride_s)
    plan = window_plan(frames, hop, window, stride)
    reader = f"this checkpoint's {pipe.text_encoder.config.model_type} text encoder"
    for what, words in (("prompt", prompt), ("negative_prompt", negative_prompt)):
        if words and (cut := cut_said(pipe.tokenizer, words, int(pipe.tokenizer.model_max_length), what, reader)):
            ctx.warn(cut)       # once, in AudioChain's words (diffusers said it raw, once per window)
    message = f"{len(plan)} window(s) of {int(steps)} steps"
    ctx.progress(0, len(plan) * int(steps), message)
    on_step = step_progress(ctx, len(plan) * int(steps), message)
    renoise = torch.Generator(device=held.device).manual_seed(int(seed))
    out = np.zeros((prof.channels, frames), np.float32)
    previous = None
    for k, (first, count) in enumerate(plan):
        at, n = first * hop, min(count * hop, frames - first * hop)
        held_back = None if previous is None else previous[:, :, stride:]
        latents = _window(pipe, prompt=prompt, negative_prompt=negative_prompt, seconds=n / rate, steps=steps,
                          guidance_scale=guidance_scale, seed=(int(seed) + k) % 2**31, device=held.device,
                          held_back=held_back, renoise=renoise, on_step=on_step)
        with torch.inference_mode():
            audio = pipe.vae.decode(latents).sample[0, :, :n].float().cpu().numpy()
        shared = 0 if held_back is None else min(n, held_back.shape[-1] * hop)
        if shared:
            out[:, at:at + shared] = blend(out[:, at:at + shared], audio[:, :shared], Curve.LINEAR)
        out[:, at + shared:at + n] = audio[:, shared:]
        previous = latents
    return Audio(out, rate).with_info(**held.tags())


def _estimate(inputs: dict, params: dict) -> dict:
    """The nominal time base (stable-audio-open-1.0: 44.1 kHz stereo, 47.55 s windows); about 0.25 s
    of work per denoising step of a window."""
    from nodeflow.costs import Shape
    prof = STABLE_AUDIO.nominal
    seconds = float(params.get("duration_s", 10.0))
    frames = seconds_to_frames(seconds, prof.sample_rate)
    stride = max(1, int(float(params.get("extend_stride_s", 30.0)) * prof.sample_rate // prof.hop))
    windows = len(window_plan(frames, int(prof.hop), prof.window_tokens, stride)) if frames > 0 else 1
    empty = inputs.get("text") is None and not str(params.get("prompt", "")).strip()   # (validate says it too)
    return {"out": Shape(frames, prof.channels, prof.sample_rate,
                         work_s=0.25 * windows * float(params.get("steps", 100)) + 1.0,
                         problem="the prompt is empty; describe the sound or music to generate" if empty else "")}


@STABLE_AUDIO.node(NODE, category="models", version=1, preflight=_preflight, estimate=_estimate)
def stable_audio(text: str | None = None, *,
                 prompt: Annotated[str, Text(multiline=True)] = "warm analog synth pads, slow evolving chords, 90 BPM",
                 negative_prompt: Annotated[str, Text(multiline=True)] = "low quality, distorted",
                 duration_s: Annotated[float, Range(0.01, 600.0, unit="s")] = 10.0,
                 steps: Annotated[int, Range(1, 500)] = 100,
                 guidance_scale: Annotated[float, Range(0.0, 20.0)] = 7.0,
                 seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
                 extend_stride_s: Annotated[float, STRIDE] = 30.0,
                 checkpoint: str = DEFAULT_CHECKPOINT,
                 device: Device = Device.AUTO,
                 precision: Precision = Precision.AUTO,
                 ctx: Context) -> Audio:
    """Generate sound or music from a text prompt with Stable Audio Open (latent diffusion).

    The output is exactly ``duration_s`` long (in samples, at the checkpoint's rate: 44.1 kHz
    stereo).  Up to the model's window (47.55 s) it is one diffusion; past it, further windows
    continue the previous one, ``extend_stride_s`` seconds apart.

    Parameters
    ----------
    text : str, optional
        Prompt from another node (e.g. text.prompt_template); replaces `prompt` when connected.
    prompt : str
        What to generate (sound, genre, instruments, tempo...).
    negative_prompt : str
        What to steer away from; used when guidance_scale > 1.
    duration_s : float, seconds
        Length of the output, 0.01-600 s; past the model's window the piece is chained in time.
    steps : int
        Denoising steps per window, 1-500 (100 is the model's usual; fewer is faster and rougher).
    guidance_scale : float
        How closely to follow the prompt, 0-20 (7 usual); 1 or less turns guidance and the negative prompt off.
    seed : int
        Random seed, 0 to 2^31-1: the same seed and settings give the same audio.
    extend_stride_s : float, seconds
        Past the window: seconds each further window adds (the rest of the window continues the
        previous one, and the two crossfade there); shorter than the window.
    checkpoint : str
        A StableAudioPipeline checkpoint: a hub id or a local diffusers folder (safetensors).
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.

    Example::

        g = Graph(); s = g.add("models.stable_audio", prompt="rain on a tin roof", duration_s=20.0)
    """
    words = (prompt if text is None else text).strip()
    if not words:
        raise ParameterError(f"{NODE}: the prompt is empty; describe the sound or music to generate")
    _require()
    with STABLE_AUDIO.using(checkpoint, ctx, device, precision, who=NODE) as held:
        return generate(held, prompt=words, negative_prompt=negative_prompt.strip(), duration_s=duration_s,
                        steps=steps, guidance_scale=guidance_scale, seed=seed, extend_stride_s=extend_stride_s,
                        ctx=ctx)
