"""What an export says of its levels, in the user's terms: a loudness target refused where the resample
to the export's rate took the content away, and the warnings of a written file (a make-up gain that
raised a noise floor or drove the limiter, a file under its target, a lossy encoder that does not keep
a loudness).  :mod:`.export` calls these; each names the parameter, the figures and the fix.
"""
from __future__ import annotations

import math
from typing import Any

from nodeflow.audio import Audio, StreamedAudio
from nodeflow.errors import AudioError

from ._encode import LOSSY
from ._master import Silent, Unreachable, said_or, steady_formats

__all__ = ["resample_lost", "resample_loss", "resample_warning", "shortfall_warning", "unsteady_warning",
           "gain_warning", "RESAMPLE_LOSS_LU", "WARN_GAIN_DB", "LIMITED_WARN_DB"]

LIMITED_WARN_DB = 12.0   # a limiter taking this much off the peaks is said so, not "nearly silent"
WARN_GAIN_DB = 30.0      # a loudness target that raises the audio this much warns: its noise floor rises as much
RESAMPLE_LOSS_LU = 3.0     # loudness a resample takes away that the refusal of a target names as its cause


def resample_lost(source: Audio, audio: Audio) -> float | None:
    """The loudness (LU; inf where nothing is left) that the resample making ``audio`` from ``source``
    took away, where that is :data:`RESAMPLE_LOSS_LU` or more (content above the new rate's Nyquist), else None."""
    from nodes.io._loudness import integrated_lufs
    if isinstance(source, StreamedAudio) or source.sample_rate == audio.sample_rate:
        return None
    before = integrated_lufs(source.samples, source.sample_rate)
    after = integrated_lufs(audio.samples, audio.sample_rate)
    if not math.isfinite(before):
        return None
    lost = before - after if math.isfinite(after) else math.inf
    return lost if lost >= RESAMPLE_LOSS_LU else None


def resample_loss(refused: Unreachable | Silent, source: Audio, audio: Audio, keep: str) -> AudioError | None:
    """``refused`` (a target out of reach, or audio too quiet to measure) said of the resample that
    made ``audio`` from ``source`` where that took :data:`RESAMPLE_LOSS_LU` or more of its loudness away,
    else None; ``keep`` says how this export keeps the input's rate (QA67 L2: "raise peak_db"; QA74:
    "the audio is silent" of a 40 kHz tone at 88.2 kHz)."""
    if getattr(refused, "encoder", "") or (lost := resample_lost(source, audio)) is None:
        return None
    src, rate = source.sample_rate, audio.sample_rate
    if isinstance(refused, Silent):
        return AudioError(f"loudness_lufs={refused.target:g}: the resample from {src} Hz to {rate} Hz leaves this "
                          f"audio silent (its content lies above {rate // 2} Hz, which {rate} Hz cannot hold); keep the "
                          f"input's rate ({keep}) or clear loudness_lufs")
    return Unreachable(refused.target, refused.peak_db, refused.reach, refused.reason,
                       resampled=(src, rate, lost, keep))


def resample_warning(source: Audio, audio: Audio, gain_db: float, target: float, keep: str) -> str:
    """The large make-up gain's warning where the resample took the loudness away, not the input's
    quietness ("" otherwise; QA74: a 23.5 kHz tone at 96 kHz exported at 48 kHz was called nearly silent)."""
    if (lost := resample_lost(source, audio)) is None:
        return ""
    rate = audio.sample_rate
    return (f"raised by {gain_db:.0f} dB to reach loudness_lufs={target:g}: the resample from {source.sample_rate} Hz "
            f"to {rate} Hz took {lost:.1f} LU of this audio's loudness away (its content lies above {rate // 2} Hz, "
            f"which {rate} Hz cannot hold), so what is left rose as much; keep the input's rate "
            f"({keep}) or clear loudness_lufs")


def shortfall_warning(fmt: str, target: float, peak_db: float | None, got: float, limiter_short: float = 0.0) -> str:
    """What to say of a file written ``got`` LUFS that misses its ``target`` by 0.1 LU or more (within
    the 0.5 LU a target may miss by under the true-peak ceiling), else "": under a wav's or flac's target,
    the limiter's reach; a lossy file's miss, as decoded, its encoder's change (QA: an mp3 0.1 LU under
    was said to be the limiter's reach, which the same audio beat by 5 LU), unless the limiter's best
    was itself short of what it aimed at by ``limiter_short`` LU, 0.1 or more (QA67: an mp3 at its reach
    was said to be the encoder's change)."""
    miss = got - target
    if round(abs(miss), 1) < 0.1:
        return ""
    said = f"loudness_lufs={target:g}: the file measures {got:.1f} LUFS, {abs(miss):.1f} LU " \
           f"{'over' if miss > 0 else 'under'} the target"
    if fmt in LOSSY and (miss > 0 or round(limiter_short, 1) < 0.1):
        return f"{said} as decoded: the {fmt} encoder's change"
    if miss < 0 and peak_db is not None:
        as_decoded = f" as the {fmt} decodes" if fmt in LOSSY else ""
        return (f"{said}: the loudest this audio gets under peak_db={peak_db:g} dBTP{as_decoded}; raise peak_db to "
                f"get closer, or lower loudness_lufs to {math.floor(round(got * 10.0, 6)) / 10.0:.1f}")
    return said


def unsteady_warning(fmt: str, target: float, unsteady: tuple[int, float, float], got: float) -> str:
    """A lossy file written off its target because ``fmt``'s encoder does not keep this audio's
    loudness (``unsteady``: encodes, lowest and loudest decoded LUFS; ``got``: the one written); the
    formats offered leave out ``fmt`` (QA67: an ogg's warning said "wav, flac or ogg land on the target")."""
    n, lo, hi = unsteady
    return (f"loudness_lufs={target:g}: the {fmt} encoder does not keep this audio's loudness ({n} encodes decoded "
            f"between {lo:.1f} and {hi:.1f} LUFS); the closest, {got:.2f} LUFS, is written ({abs(got - target):.2f} LU "
            f"{'over' if got > target else 'under'}); {said_or(steady_formats(fmt))} land on the target")


def gain_warning(audio: Audio, report: Any, target: float) -> str:
    """What a loudness target did that a listener should know, or '': a make-up gain of
    :data:`WARN_GAIN_DB` or more heard (a nearly silent take's noise floor rose as much), or the limiter
    driven :data:`LIMITED_WARN_DB` or more into the ceiling, the level raised or lowered (QA: a classical
    piece at -12.6 LUFS exported at -6 was told it was "nearly silent"; the limiter held it ~40 dB down).
    The rise said is the one heard, not the gain into the limiter (QA94 D4: "raised by 39 dB" of a file
    that rose 33.7), and a master lowered by a driven limiter is said so (QA94 D3: not a word)."""
    from nodes.io._loudness import integrated_lufs
    gain = report.gain_db
    source = report.source_lufs
    if source is None and gain >= WARN_GAIN_DB and not isinstance(audio, StreamedAudio):
        source = integrated_lufs(audio.samples, audio.sample_rate)
    if source is None or not math.isfinite(source):
        return "" if gain < WARN_GAIN_DB else _nearly_silent(gain, target)
    out = report.measurement.integrated_lufs
    limited = source + gain - out
    if limited >= LIMITED_WARN_DB:
        # in what a listener hears: how much louder it got, and how much came off its loudest peaks next to a
        # plain gain that loud (QA: "needs 55 dB of gain" was the limiter's drive; the file rose 11.4 dB)
        peak = float(abs(audio.samples).max()) if audio.samples.size and not isinstance(audio, StreamedAudio) else 0.0
        off = 20.0 * math.log10(max(peak, 1e-12)) + (out - source) - report.measurement.sample_peak_dbfs
        how = (f"and the limiter took about {off:.0f} dB off its loudest peaks to keep the true-peak ceiling"
               if off >= 1 else f"and gets there only by driving the limiter about {limited:.0f} dB into the "
               "true-peak ceiling (its true peaks are over it as it is)")   # (QA92 D1: lowered, "-1 dB off")
        verb = "raises" if out >= source else "lowers"
        return (f"loudness_lufs={target:g} {verb} this audio {abs(out - source):.1f} dB ({source:.1f} -> {out:.1f} "
                f"LUFS), {how}, so its dynamics are flattened (LRA {report.measurement.lra_lu:.1f} LU); choose a "
                "lower loudness_lufs")
    return _nearly_silent(out - source, target) if out - source >= WARN_GAIN_DB else ""


def _nearly_silent(rise: float, target: float) -> str:
    return (f"raised by {rise:.0f} dB to reach loudness_lufs={target:g}: the audio is nearly silent, so its noise "
            "floor rose as much; check the input, or clear loudness_lufs")
