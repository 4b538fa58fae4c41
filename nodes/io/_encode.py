"""Encode a mastered export and verify it: the file as written (decoded by libsndfile) must hold the
user's true-peak ceiling.  PCM keeps a margin for rounding and dither that provably covers them;
mp3 and ogg are decoded after encoding and, where the codec overshot, limited lower and encoded
again.  The ceiling the limiter works at is internal: messages speak of the user's ``peak_db``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nodeflow.errors import AudioError

from ._loudness import BLOCK as METER_BLOCK, Measurement, TruePeakMeter, measure_file, quantisation_gain, to_db
from ._master import BLOCK as MASTER_BLOCK, Mastered, db_to_gain, master

LOSSY = ("mp3", "ogg")
# True-peak meters disagree by their interpolators (BS.1770-4 leaves the filter open): ffmpeg's
# ebur128 reads full-band, limited material up to ~0.1 dB above ours.  The limiter aims this far under
# the user's ceiling so a file held at -1 dBTP also reads <= -1.0 dBTP on the meter a platform uses.
METER_MARGIN_DB = 0.15
LOSSY_PASSES = 6      # encodes at most, lowering the limiter's target by the decoded overshoot each time
LOSSY_EXTRA = 1.1     # lower by 10 % more (in dB) than the overshoot measured: codecs overshoot more at lower levels


@dataclass(frozen=True)
class MasterReport:
    """What :func:`write_mastered` wrote: the file's own measurement (decoded as a player would), the
    make-up gain, the level the limiter held (dBTP) and how many encodes it took."""
    measurement: Measurement
    gain_db: float
    limiter_dbtp: float
    encodes: int

    def tags(self) -> dict[str, str]:
        return self.measurement.tags()

    def summary(self) -> str:
        m = self.measurement
        return (f"wrote {m.integrated_lufs:.1f} LUFS, LRA {m.lra_lu:.1f} LU, true peak {m.true_peak_dbtp:.2f} dBTP "
                f"(sample peak {m.sample_peak_dbfs:.2f} dBFS)")


def _quantise(block: np.ndarray, bits: int, rng: np.random.Generator | None) -> np.ndarray:
    """``[channels, n]`` floats to interleaved integers, rounded here (libsndfile would scale doubles
    by 2^23 - 1 on the way to 24-bit); ``rng`` adds TPDF dither (two uniform draws, +-1 LSB peak)."""
    scale = 2.0 ** (bits - 1)
    x = block * scale
    if rng is not None:
        x += rng.random(x.shape)
        x -= rng.random(x.shape)
    q = np.clip(np.rint(x, out=x), -scale, scale - 1, out=x).T
    return np.ascontiguousarray(q, np.int16) if bits == 16 else np.ascontiguousarray(q, np.int32) << 8


def margin(rate: int, ceiling: float, bits: int | None, dither: bool) -> float:
    """How far below ``ceiling`` the limiter aims so that storing the samples cannot cross it: the
    largest per-sample change (rounding 0.5 LSB, TPDF dither 1 LSB more, or float32 rounding) times
    the true-peak interpolator's largest gain."""
    per_sample = ((1.501 if dither else 0.501) * 2.0 ** (1 - bits)) if bits else ceiling * 2.0 ** -23
    return per_sample * quantisation_gain(rate)


def _encode(tmp: Path, mastered: Mastered, fmt: str, codec: dict[str, Any], bits: int | None, dither: bool,
            check: Callable[[], None], dest: Path) -> None:
    import soundfile as sf

    channels, rate = mastered.x.shape[0], mastered.rate
    try:
        with sf.SoundFile(str(tmp), "w", rate, channels, format=fmt.upper(), **codec) as f:
            rng = np.random.default_rng(0x5EED) if bits == 16 and dither else None   # seeded: reproducible
            for _, block in mastered.blocks():
                check()
                f.write(_quantise(block, bits, rng) if bits else np.ascontiguousarray(block.T, np.float32))
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        raise AudioError(f"{dest}: could not write {fmt} ({codec['subtype']}, {rate} Hz, {channels} ch): {e}") from e


def write_mastered(tmp: Path, samples: np.ndarray, rate: int, fmt: str, codec: dict[str, Any], *,
                   loudness_lufs: float | None, peak_db: float, bits: int | None = None, dither: bool = False,
                   check: Callable[[], None] = lambda: None, mastered: Callable[[], None] = lambda: None,
                   dest: Path | None = None) -> MasterReport:
    """Master ``samples[channels, frames]`` to ``loudness_lufs`` under the true-peak ceiling ``peak_db``
    (dBTP) and write them to ``tmp`` as ``fmt`` with soundfile's ``codec`` settings.

    ``bits`` (16/24) stores integers rounded here (``dither``: TPDF on 16-bit); ``None`` writes
    floats (float wav, or the input of a lossy encoder).  ``check`` is called between blocks (it
    raises to cancel), ``mastered`` once the first mastering is done (progress); ``dest`` names the file in errors.  Returns a :class:`MasterReport` whose
    measurement is of the written file read back.
    """
    ceiling = db_to_gain(peak_db)
    limit_at = ceiling * db_to_gain(-METER_MARGIN_DB) - margin(rate, ceiling, bits, dither and bits == 16)
    result = master(samples, rate, loudness_lufs, limit_at, peak_db=peak_db, check=check)
    mastered()
    for attempt in range(1, LOSSY_PASSES + 1):
        check()
        _encode(tmp, result, fmt, codec, bits, dither, check, dest or tmp)
        measured = measure_file(tmp, check)
        over_db = measured.true_peak_dbtp - (peak_db - METER_MARGIN_DB)
        if fmt not in LOSSY or over_db <= 0.0 or attempt == LOSSY_PASSES:
            break
        # the codec's decode overshot the ceiling: limit lower by the overshoot and encode again
        check()
        limit_at = result.ceiling * db_to_gain(-over_db * LOSSY_EXTRA)
        result = master(samples, rate, loudness_lufs, limit_at, peak_db=peak_db, check=check,
                          reason=f" once the {fmt} encoder's {over_db:.1f} dB overshoot is allowed for")
    return MasterReport(measured, to_db(result.gain), to_db(result.ceiling), attempt)


def write_streamed(tmp: Path, blocks, rate: int, channels: int, fmt: str, codec: dict[str, Any], *, peak_db: float,
                   bits: int | None = None, dither: bool = False, check: Callable[[], None] = lambda: None,
                   mastered: Callable[[], None] = lambda: None, dest: Path | None = None) -> MasterReport:
    """:func:`write_mastered` without a loudness target, for audio arriving as ``[channels, n]`` blocks
    (wav and flac): the same file, bit for bit, written as the blocks come.  The input's true peak is
    metered on the way (in the blocks :func:`write_mastered` meters, so to the same value); if it turns
    out to need the limiter, :class:`~nodeflow.streaming.NotStreamable` is raised once the stream has
    ended (the caller removes the partial file and exports the whole value).  The written file is
    then read back and measured, as :func:`write_mastered` does."""
    import soundfile as sf
    from nodeflow.streaming import NotStreamable, reblock

    ceiling = db_to_gain(peak_db)
    limit_at = ceiling * db_to_gain(-METER_MARGIN_DB) - margin(rate, ceiling, bits, dither and bits == 16)
    meter = TruePeakMeter(rate, channels)
    mastered()
    where = dest or tmp
    try:
        f = sf.SoundFile(str(tmp), "w", rate, channels, format=fmt.upper(), **codec)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        raise AudioError(f"{where}: could not write {fmt} ({codec['subtype']}, {rate} Hz, {channels} ch): {e}") from e
    with f:
        rng = np.random.default_rng(0x5EED) if bits == 16 and dither else None   # as _encode: the same draws
        for block in reblock(blocks, channels, MASTER_BLOCK):
            check()
            for a in range(0, block.shape[1], METER_BLOCK):
                meter.add(block[:, a:a + METER_BLOCK])
            y = np.multiply(block, 1.0, dtype=np.float64)
            try:
                f.write(_quantise(y, bits, rng) if bits else np.ascontiguousarray(y.T, np.float32))
            except (sf.LibsndfileError, RuntimeError, ValueError) as e:
                raise AudioError(f"{where}: could not write {fmt} ({codec['subtype']}, {rate} Hz, {channels} ch): "
                                 f"{e}") from e
    meter.finish()
    if meter.peak > limit_at:
        raise NotStreamable(f"true peak {to_db(meter.peak):.2f} dBTP needs the limiter")
    return MasterReport(measure_file(tmp, check), to_db(1.0), to_db(limit_at), 1)
