"""``models.musicgen_melody``: variations of your own melody with MusicGen-Melody.

The melody (any Audio: any rate, any channels) is downmixed, resampled to the model's rate and
turned into one-hot chroma (12 pitch classes, computed without torchaudio, see
:mod:`nodes.models._chroma`).  It is looped or trimmed to the requested duration, and every
generation window is conditioned on the chroma of the part of the melody under it.
"""
from __future__ import annotations

import functools
from fractions import Fraction
from typing import Annotated

from nodeflow.audio import Audio
from nodeflow.node import Context
from nodeflow.types import Auto, Range, Text

from .placement import placed_like

from ._musicgen import MusicgenPrecision
from .layer import AdapterPath, Device, Family, ModelProfile, register
from .musicgen import STRIDE, batched, estimate_generation, generate_music, load_musicgen, musicgen_time_base, window_check

__all__ = ["musicgen_melody", "placed_like", "MUSICGEN_MELODY"]

# facebook/musicgen-melody: MusicGen's time base (32 kHz, 50 tokens/s, 30 s), conditioned on chroma
MUSICGEN_MELODY = register(Family(
    "musicgen_melody", model_types=("musicgen_melody",), time_base=musicgen_time_base,
    example="facebook/musicgen-melody", tokenizer=True,
    nominal=ModelProfile("musicgen_melody", 32000, Fraction(50), 1503, 3),
    load=functools.partial(load_musicgen, model_class="MusicgenMelodyForConditionalGeneration",
                           family_name="musicgen_melody")))

def _estimate(inputs: dict, params: dict) -> dict:
    melody = inputs.get("melody")
    new_s = params["duration_s"] if params.get("duration_s") is not None else (melody.seconds if melody else None)
    return None if new_s is None else {"out": estimate_generation(params, inputs.get("prompt_audio"), new_s,
                                                                  MUSICGEN_MELODY, params.get("duration_s") is None)}


def _batch(items: list[dict], params: dict, ctx: Context) -> list[dict]:
    """Windows of one length are generated together (see :func:`nodes.models.musicgen.batched`)."""
    return batched("musicgen_melody", items, params, ctx, musicgen_melody.fn, melody=True,
                   finish=lambda item, audio: placed_like(audio, item["melody"], fit=params.get("duration_s") is None))


@MUSICGEN_MELODY.node("models.musicgen_melody", category="models", version=2, estimate=_estimate,
      check=window_check(MUSICGEN_MELODY), batch=lambda items, params, ctx: _batch(items, params, ctx))
def musicgen_melody(melody: Audio, text: str | None = None, prompt_audio: Audio | None = None, *,
                    prompt: Annotated[str, Text(multiline=True)] = "orchestral arrangement with strings and piano",
                    checkpoint: str = "facebook/musicgen-melody",
                    duration_s: Annotated[float, Range(0.1, 600.0, unit="s"), Auto()] | None = 10.0,
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
    """Generate music that follows a melody (its chroma) and a text description, any length.

    The melody starts with the first generated sample (after ``prompt_audio``, if connected) and
    loops when shorter than ``duration_s``; ``duration_s=auto`` generates exactly the melody's
    length.  Mapped over windows from ``time.tokenize_window`` (use ``duration_s=auto``), each
    variation keeps its window's place, tempo and meter, so ``time.stitch`` puts it back on the
    bar it came from.  Every other port and parameter works as in ``models.musicgen``.

    Parameters
    ----------
    melody : Audio
        The melody to follow (its chroma: which notes sound when); loops when shorter than
        duration_s.
    text : str, optional
        Text from another node (e.g. text.prompt_template); replaces `prompt` when connected.
    prompt_audio : Audio, optional
        Audio to continue: the new music picks up where it ends.
    prompt : str
        Description of the arrangement to generate (genre, instruments, mood).
    checkpoint : str
        MusicGen-Melody checkpoint: a Hugging Face hub id (facebook/musicgen-melody) or a local
        folder.
    duration_s : float or auto, seconds
        Length of the new music, 0.1-600 s; auto: exactly the melody's length.
    seed : int
        Random seed, 0 to 2^31-1: the same seed and settings give the same music.
    top_k : int
        Sample only from the k most likely tokens, 0-2048 (0: off).
    top_p : float
        Sample from the smallest set of tokens whose probability adds up to p, 0-1 (0: off).
    temperature : float
        Randomness of sampling, 0-5: lower is safer and more repetitive, 0 is greedy.
    guidance_scale : float
        How strongly the music follows the prompt, 1-20 (1: guidance off).
    extend_stride_s : float, seconds
        Past 30 s, how far each new window moves on, 0.1-30 s.
    keep_prompt : bool
        Start the output with `prompt_audio` (on) or with the new music only (off).
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device
        wins.
    precision : MusicgenPrecision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16, bfloat16
        (about 2x faster on a CPU) or int8 (CPU only, 8-bit decoder weights, faster still).
    adapter : str
        LoRA adapter trained on this MusicGen-Melody checkpoint (its folder or .safetensors file);
        one trained on another base (a MusicGen checkpoint, other weights) is refused. Empty: the
        checkpoint as it is.

    Example::

        g = Graph(); v = g.add("models.musicgen_melody", prompt="jazz trio", duration_s=20.0)
        g.connect(hummed.out, v.melody)
    """
    auto = duration_s is None           # the melody's exact span: a bar between two samples is not cut short
    with MUSICGEN_MELODY.using(checkpoint, ctx, device, precision, adapter=adapter) as loaded:
        out = generate_music(loaded, text=prompt if text is None else text, prompt_audio=prompt_audio, melody=melody,
                             duration_s=melody.exact_duration if duration_s is None else duration_s,
                             seed=seed, top_k=top_k, top_p=top_p, temperature=temperature,
                             guidance_scale=guidance_scale, extend_stride_s=extend_stride_s,
                             keep_prompt=keep_prompt, ctx=ctx)
    return out if prompt_audio is not None and keep_prompt else placed_like(out, melody, fit=auto)
