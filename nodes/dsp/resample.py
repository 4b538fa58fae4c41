"""``dsp.resample``: change the sample rate (soxr), to a fixed rate or to a model's rate."""
from __future__ import annotations

import dataclasses
from typing import Annotated

from nodeflow.audio import Audio
from nodeflow.costs import Shape
from nodeflow.node import Context, node
from nodeflow.timebase import ProfileChoice, profile_named
from nodeflow.types import ChoiceEnum, Range

from ._conform import resample_audio, resample_stream


class RateProfile(ProfileChoice):
    """Where the target rate comes from: ``custom`` uses ``rate_hz``, the others the nominal rate of
    a registered model family (musicgen, bark, ... and any a plug-in node pack declares)."""
    CUSTOM = "custom"


class Quality(ChoiceEnum):
    """soxr quality, from fastest to most accurate."""
    QUICK = "quick"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"


SOXR_QUALITY = {Quality.QUICK: "QQ", Quality.LOW: "LQ", Quality.MEDIUM: "MQ", Quality.HIGH: "HQ",
                Quality.VERY_HIGH: "VHQ"}


def target_rate(rate_hz: int, profile: RateProfile | str) -> int:
    """The rate ``dsp.resample`` converts to: ``rate_hz``, or the profile's model rate."""
    profile = RateProfile(profile)
    return rate_hz if profile is RateProfile.CUSTOM else profile_named(profile).sample_rate


def _estimate(inputs: dict[str, Shape], params: dict) -> dict[str, Shape]:
    a = inputs["audio"]
    out = a.at(target_rate(params["rate_hz"], params["profile"]))
    return {"out": dataclasses.replace(out, work_s=(a.samples + out.samples) / 20e6)}   # soxr HQ


def _stream(inputs: dict, params: dict, ctx: Context):
    rate = target_rate(params["rate_hz"], params["profile"])
    return resample_stream(inputs["audio"], rate, SOXR_QUALITY[Quality(params["quality"])])


@node("dsp.resample", version=1, estimate=_estimate, stream=_stream, working=0.0)
def resample(audio: Audio, *,
             rate_hz: Annotated[int, Range(1000, 384000, step=1, unit="Hz")] = 32000,
             profile: RateProfile = RateProfile.CUSTOM,
             quality: Quality = Quality.HIGH,
             ctx: Context | None = None) -> Audio:
    """Change the sample rate to `rate_hz`, or to a model's rate (MusicGen 32 kHz, Bark 24 kHz).

    Window placement (``start_frame``, ``overlap_frames``) is scaled to the new rate, so windows
    resampled one by one still stitch back together.  A clip already at the target rate passes
    through unchanged.

    Parameters
    ----------
    audio : Audio
        Clip (or, mapped by the engine, each window of a list).
    rate_hz : int
        With ``profile=custom``: the target rate in Hz (a model profile sets its own).
    profile : RateProfile
        ``custom``, or a model family whose native rate becomes the target (``audiochain nodes
        dsp.resample`` lists those installed, plug-ins' included).
    quality : Quality
        soxr quality: quick, low, medium, high (default) or very_high.

    Examples
    --------
    >>> import numpy as np
    >>> resample.fn(Audio(np.zeros(44100), 44100), profile="bark").sample_rate
    24000
    """
    rate = target_rate(rate_hz, profile)
    return resample_audio(audio, rate, SOXR_QUALITY[Quality(quality)], ctx.check_cancelled if ctx else None)
