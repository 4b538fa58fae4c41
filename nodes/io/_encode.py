"""Encode a mastered export and verify it: the file as written (decoded by libsndfile) must hold the
user's true-peak ceiling.  PCM keeps a margin for rounding and dither that provably covers them;
mp3 and ogg are decoded after encoding and, where the codec overshot, limited lower and encoded
again.  The ceiling the limiter works at is internal: messages speak of the user's ``peak_db``.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nodeflow.errors import AudioError

from ._channels import VORBIS_FORMATS, set_wav_mask, to_vorbis
from ._loudness import Measurement, band_limited_peak_file, measure_file, to_db
from ._master import BLOCK as MASTER_BLOCK, Mastered, Silent, Unreachable, db_to_gain, master
from ._truepeak import oversampling, quantisation_gain

LOSSY = ("mp3", "ogg")
SILENT = 2.0 ** -30   # a sample this close to 0 (-180 dBFS) is digital silence to the dither: left at 0
# True-peak meters disagree by their interpolators (BS.1770-4 leaves the filter open): ffmpeg's
# ebur128 reads full-band, limited material up to ~0.1 dB above ours.  The limiter aims this far under
# the user's ceiling so a file held at -1 dBTP also reads <= -1.0 dBTP on such a meter.  Not on every
# signal: full-scale square waves read up to 0.4 dB higher in ffmpeg (QA: -0.6 where an ideal 16x sinc
# interpolation of the same file reads -1.06 to -1.20 and ours -1.15): its resampler rings there.
METER_MARGIN_DB = 0.15
LOSSY_PASSES = 6      # encodes at most, lowering the limiter's target by the decoded overshoot each time
LOSSY_EXTRA = 1.1     # lower by 10 % more (in dB) than the overshoot measured: codecs overshoot more at lower levels
LOUDNESS_MISS_LU = 0.5         # how far under its target a file may land (the limiter's reach); further: refused
LOSSY_LOUDNESS_TOL_LU = 0.05   # a lossy file's decoded loudness further from the target is aimed again
# A written file whose BS.1770 true peak is within this of the ceiling has its band-limited peak read too, by
# the meter's oversampling (none, from 192 kHz: always).  Between its instants a tone at the Nyquist frequency
# reads up to 0.69 dB low at 4x and 3.01 dB at 2x, more with the interpolator's roll-off there: bright masters
# read up to 1.42 dB under their band-limited peak at 48 kHz (stop 50), and 2.37 dB at 96 kHz (QA87 D1).
BAND_CHECK_DB = {4: 2.0, 2: 4.0}
VERIFY_TOL_LU = 0.05  # a PCM file mastered from the search's estimate that misses its target by more is redone measured
REACH_RENDERS = 3     # renders at most that find the reach a refusal offers (each at what the one before wrote)


@dataclass(frozen=True)
class MasterReport:
    """What :func:`write_mastered` wrote: the file's own measurement (decoded as a player would), the
    make-up gain, the level the limiter held (dBTP) and how many encodes it took."""
    measurement: Measurement
    gain_db: float
    limiter_dbtp: float
    encodes: int
    unsteady: tuple[int, float, float] | None = None   # a lossy encoder that missed the target, the limiter idle:
                                                       # (encodes, lowest and loudest decoded LUFS)
    allowance: str = ""     # why the limiter held the file below the ceiling, in a refusal's words
                            # (" once the mp3 encoder's 1.0 dB overshoot is allowed for"); "" if it did not
    limiter_short_lu: float = 0.0    # how far under the loudness it aimed at the limiter's best was (its reach)
    over_db: float = 0.0    # how far over the ceiling the file is where no encode held it (peaks between samples
                            # near the top of the band, or an encoder's overshoot; see over_warning)
    source_lufs: float | None = None     # the input's loudness, where the mastering measured it (a target)

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
        x[np.abs(block) < SILENT] = 0.0    # digital silence stays silent (QA: it became +-1 LSB noise), also
        #                                  the resampler's 1e-16 residue in it (QA: 694 samples before an onset)
    q = np.clip(np.rint(x, out=x), -scale, scale - 1, out=x).T
    return np.ascontiguousarray(q, np.int16) if bits == 16 else np.ascontiguousarray(q, np.int32) << 8


def margin(rate: int, ceiling: float, bits: int | None, dither: bool) -> float:
    """How far below ``ceiling`` the limiter aims so that storing the samples cannot cross it: the
    largest per-sample change (rounding 0.5 LSB, TPDF dither 1 LSB more, or float32 rounding) times
    the true-peak interpolator's largest gain."""
    per_sample = ((1.501 if dither else 0.501) * 2.0 ** (1 - bits)) if bits else ceiling * 2.0 ** -23
    return per_sample * quantisation_gain(rate)


def _encode(tmp: Path, mastered: Mastered, fmt: str, codec: dict[str, Any], bits: int | None, dither: bool,
            check: Callable[[], None], dest: Path, limit: bool = True) -> None:
    _encode_blocks(tmp, (b for _, b in mastered.blocks(limit=limit)), mastered.rate, mastered.x.shape[0], fmt, codec,
                   bits, dither, check, dest)


def _encode_blocks(tmp: Path, blocks, rate: int, channels: int, fmt: str, codec: dict[str, Any], bits: int | None,
                   dither: bool, check: Callable[[], None], dest: Path) -> None:
    """Write float64 ``[channels, n]`` blocks (cut at multiples of the mastering block: the dither's
    draws depend on it) as ``fmt``."""
    import soundfile as sf

    container = "WAVEX" if fmt == "wav" and channels > 2 else fmt.upper()   # 5.1 says which speaker is which
    try:
        f = sf.SoundFile(str(tmp), "w", rate, channels, format=container, **codec)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        raise AudioError(f"{dest}: could not write {fmt} ({codec['subtype']}, {rate} Hz, {channels} ch): {e}") from e
    with f:
        rng = np.random.default_rng(_dither_seed(dest)) if bits == 16 and dither else None
        for block in blocks:
            check()
            if container in VORBIS_FORMATS:       # Ogg keeps Vorbis's speaker order
                block = to_vorbis(block)
            try:
                f.write(_quantise(block, bits, rng) if bits else np.ascontiguousarray(block.T, np.float32))
            except (sf.LibsndfileError, RuntimeError, ValueError) as e:
                raise AudioError(f"{dest}: could not write {fmt} ({codec['subtype']}, {rate} Hz, {channels} ch): "
                                 f"{_write_failure(e, tmp)}") from e
    if container == "WAVEX":
        set_wav_mask(tmp, channels)


def _dither_seed(dest: Path) -> int:
    """The dither's seed: from the file's name, so a render is reproducible (in any folder) and files
    written side by side (stems) get independent dither (QA: every file had the same sequence; summed
    16-bit stems carried it 3 dB louder than independent dither)."""
    import hashlib
    return int.from_bytes(hashlib.blake2b(Path(dest).name.encode(), digest_size=8).digest(), "little")


def _write_failure(e: Exception, tmp: Path) -> str:
    """libsndfile's words for a failed write ("System error." on a full disk: QA), or, when the disk
    holding ``tmp`` has no room left, what that means and its fix."""
    import errno
    import shutil

    from nodeflow.errors import os_error_words, size_limit_words
    try:
        full = shutil.disk_usage(tmp.parent).free < (1 << 20)
    except OSError:
        full = False
    if full:
        return os_error_words(OSError(errno.ENOSPC, "full"))
    try:                 # a process file-size limit (QA: `ulimit -f 200` said only "System error.")
        import resource
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        limited = limit != resource.RLIM_INFINITY and tmp.stat().st_size >= limit - (1 << 16)
    except (ImportError, OSError, ValueError):      # (no resource module on Windows)
        limited = False
    if limited:
        return size_limit_words() + ", or write a shorter or smaller file"
    if str(e).strip().rstrip(".") == "System error":
        return ("the system refused the write (libsndfile says only 'System error.'): the disk may be full or "
                "the file too large for its file system; free some space or choose another folder")
    return str(e)


def _unlimited_holds(measured: Measurement, limit_at: float, rate: int, bits: int | None, dither: bool) -> bool | None:
    """Whether audio written without the limiter is what :func:`master` would have written, judged
    from the written file's own true peak: storing moves each sample by at most the quantisation step
    (:func:`margin`), so the input's true peak is within that (plus float32 metering rounding) of the
    file's.  True: the input is under the limiter's ceiling (no limiting: the file stands); False: it is
    over (limit); None: too close to tell from the file (meter the input itself)."""
    tp = 10.0 ** (measured.true_peak_dbtp / 20.0) if np.isfinite(measured.true_peak_dbtp) else 0.0
    tol = margin(rate, limit_at, bits, dither) + 1e-5 * tp
    if tp + tol <= limit_at:
        return True
    if tp - tol > limit_at:
        return False
    return None


def _sample_peak(x: np.ndarray, check: Callable[[], None]) -> float:
    peak = 0.0
    for a in range(0, x.shape[1], MASTER_BLOCK):
        check()
        peak = max(peak, float(np.abs(x[:, a:a + MASTER_BLOCK]).max(initial=0.0)))
    return peak


def _over_db(measured: Measurement, path: Path, peak_db: float, rate: int, check: Callable[[], None],
             band: bool = False) -> float:
    """How far (dB) the written file (at ``rate``) is over the ceiling ``peak_db``: its BS.1770 true peak
    against the ceiling less the meter's margin, and, when that is within :data:`BAND_CHECK_DB` (or
    ``band``), its band-limited peak against the ceiling itself (:func:`~._truepeak.band_limited_peak`:
    peaks between samples from content near the Nyquist frequency, which the BS.1770 interpolator rolls
    off; QA: -1 dBTP masters read -0.9 in ffmpeg and -0.86 band-limited).  Negative: under.  ``band``: an earlier
    encode of this master was over; limited lower, its meter can fall further under the ceiling than
    the gate while the band-limited peak is still over (QA78: -2.02 dBTP, -0.91 band-limited)."""
    over = measured.true_peak_dbtp - (peak_db - METER_MARGIN_DB)
    if band or measured.true_peak_dbtp >= peak_db - BAND_CHECK_DB.get(oversampling(rate), math.inf):
        over = max(over, to_db(band_limited_peak_file(path, check)) - peak_db)
    return over


def over_warning(report: MasterReport, fmt: str, peak_db: float) -> str:
    """What a file written over its ceiling says (:attr:`MasterReport.over_db`): by how much, why, and the fix."""
    tp = report.measurement.true_peak_dbtp
    why = f"the {fmt} encoder's overshoot" if fmt in LOSSY else \
        f"between samples, from content at the top of the band; BS.1770 meters read {tp:.2f} dBTP"
    return (f"peaks {report.over_db:.2f} dB over peak_db={peak_db:g} after {report.encodes} encodes ({why}); "
            f"set peak_db lower (e.g. {math.floor(peak_db - report.over_db - 1.0):g}) to hold it")


def unlimited_lossy(fmt: str) -> str:
    """Why ``fmt`` (mp3, ogg) is not written without the limiter: its encoder overshoots."""
    return (f"peak_db is empty (no limiter), and {fmt} cannot be written so: its encoder's overshoot decodes over "
            "full scale (QA: 1.0 decoded at 1.012); set peak_db (e.g. -1), or export wav/flac")


def write_unlimited(tmp: Path, samples: np.ndarray, rate: int, fmt: str, codec: dict[str, Any], *,
                    loudness_lufs: float | None, bits: int | None = None, dither: bool = False,
                    check: Callable[[], None] = lambda: None, phase: Callable[[str], None] = lambda what: None,
                    dest: Path | None = None) -> MasterReport:
    """``samples`` written as they are (``peak_db=None``: no limiter), moved by one gain to
    ``loudness_lufs`` if given, so stems exported side by side still sum to their mix (QA: the limiter
    changed a drum stem by up to 0.21 and the stems no longer summed to the mix).  A float32 file keeps
    peaks over full scale; integers and lossy formats cannot, and such audio is refused, not clipped."""
    from ._limiter import too_short_to_measure
    from ._loudness import integrated_lufs
    if fmt in LOSSY:
        raise AudioError(unlimited_lossy(fmt))
    gain_db = 0.0
    if loudness_lufs is not None:
        phase("mastering")
        if (why := too_short_to_measure(samples.shape[1], rate)) is not None:
            raise AudioError(why)
        measured_in = integrated_lufs(samples, rate)
        if not np.isfinite(measured_in):
            raise Silent(loudness_lufs)
        gain_db = loudness_lufs - measured_in
    gain = db_to_gain(gain_db)
    peak = _sample_peak(samples, check) * gain
    if peak > 1.0 and bits:
        raise _over_full_scale(peak, fmt, bits, gain_db, loudness_lufs)
    phase("encoding")
    blocks = (samples[:, a:a + MASTER_BLOCK].astype(np.float64) * gain for a in range(0, samples.shape[1], MASTER_BLOCK))
    _encode_blocks(tmp, blocks, rate, samples.shape[0], fmt, codec, bits, dither, check, dest or tmp)
    phase("measuring")
    return MasterReport(measure_file(tmp, check), gain_db, float("inf"), 1)


def _over_full_scale(peak: float, fmt: str, bits: int, gain_db: float = 0.0,
                     loudness_lufs: float | None = None) -> AudioError:
    """Audio written without a limiter that peaks over what integer samples store."""
    raised = f" once raised by {gain_db:.1f} dB to loudness_lufs={loudness_lufs:g}" if gain_db > 0 else ""
    return AudioError(f"peak_db is empty (no limiter) and the audio peaks at {to_db(peak):+.2f} dBFS{raised}, over "
                      f"what {fmt} {bits}-bit stores; export 32-bit float wav "
                      "(bit_depth=float32), or set peak_db (e.g. -1) to limit it")


def write_mastered(tmp: Path, samples: np.ndarray, rate: int, fmt: str, codec: dict[str, Any], *,
                   loudness_lufs: float | None, peak_db: float, **kw: Any) -> MasterReport:
    """:func:`_write_mastered`; a target out of reach is refused with the reach a run asked for it
    writes, found by doing that run: the file is rendered at the reach the refusal found (as a re-run
    would: the same limiter, encoder and checks of the written file), and while what it writes (as
    decoded, by this meter) is further than :data:`VERIFY_TOL_LU` from that figure, rendered again at
    what it wrote (rounded down to the 0.1 LU the message shows), :data:`REACH_RENDERS` times at most.
    (QA67: the limiter's reach before writing left out the allowance the written file's band-limited
    peak or an encoder's overshoot then took: -9.6 was offered, a run at -9.6 wrote -10.1; an mp3 offered
    -10.7 wrote -10.9.)"""
    try:
        return _write_mastered(tmp, samples, rate, fmt, codec, loudness_lufs=loudness_lufs, peak_db=peak_db, **kw)
    except Unreachable as e:
        if e.encoder:             # the encoder, not the limiter: another target would not land where it says
            raise
        refused = e
    reach, reason = refused.reach, refused.reason
    for _ in range(REACH_RENDERS):
        try:
            report = _write_mastered(tmp, samples, rate, fmt, codec, loudness_lufs=reach, peak_db=peak_db, **kw)
        except Unreachable as again:
            if again.encoder:     # (the limiter reaches it; the encoder does not keep it there)
                raise Unreachable(refused.target, peak_db, again.reach, encoder=again.encoder,
                                  spread=again.spread) from None
            reach, reason = again.reach, again.reason
            continue
        got = report.measurement.integrated_lufs
        reason = report.allowance or (f" as the {fmt} decodes" if fmt in LOSSY else "")
        if abs(got - reach) <= VERIFY_TOL_LU:
            break
        reach = math.floor(round(got * 10.0, 6)) / 10.0      # down: a target under the reach lands on itself
    raise Unreachable(refused.target, refused.peak_db, reach, reason)


def _write_mastered(tmp: Path, samples: np.ndarray, rate: int, fmt: str, codec: dict[str, Any], *,
                    loudness_lufs: float | None, peak_db: float, bits: int | None = None, dither: bool = False,
                    check: Callable[[], None] = lambda: None, phase: Callable[[str], None] = lambda what: None,
                    dest: Path | None = None) -> MasterReport:
    """Master ``samples[channels, frames]`` to ``loudness_lufs`` under the true-peak ceiling ``peak_db``
    (dBTP) and write them to ``tmp`` as ``fmt`` with soundfile's ``codec`` settings.

    ``bits`` (16/24) stores integers rounded here (``dither``: TPDF on 16-bit); ``None`` writes
    floats (float wav, or the input of a lossy encoder).  ``check`` is called between blocks (it
    raises to cancel), ``phase`` as each step starts (``"mastering"``, ``"encoding"``,
    ``"measuring"``: progress); ``dest`` names the file in errors.  Returns a :class:`MasterReport`
    whose measurement is of the written file read back.
    """
    ceiling = db_to_gain(peak_db)
    dither = dither and bits == 16

    def written(mastered: Mastered, limit: bool = True) -> Measurement:
        """``mastered`` encoded into ``tmp`` and measured as the file reads back."""
        phase("encoding")
        _encode(tmp, mastered, fmt, codec, bits, dither, check, dest or tmp, limit=limit)
        phase("measuring")
        return measure_file(tmp, check)

    limit_at = ceiling * db_to_gain(-METER_MARGIN_DB) - margin(rate, ceiling, bits, dither)
    like: Mastered | None = None          # an earlier pass over the same samples: its envelope is shared
    if loudness_lufs is None and fmt not in LOSSY and _sample_peak(samples, check) <= limit_at:
        # Probably under the ceiling already: write it unlimited and let the written file's true peak
        # (measured anyway) say whether the limiter was needed, instead of metering the input first.
        plain = Mastered(samples, rate, limit_at, check=check)
        measured = written(plain, limit=False)
        like = plain
        holds = _unlimited_holds(measured, limit_at, rate, bits, dither)
        if (holds or (holds is None and not plain.limiting(1.0))) and \
                _over_db(measured, tmp, peak_db, rate, check) <= 0.0:
            return MasterReport(measured, 0.0, to_db(limit_at), 1)
    # PCM files are measured as written anyway: the search's estimate is checked there, and only a
    # file that misses the target or the ceiling is mastered again with every step measured
    verify = fmt in LOSSY or loudness_lufs is None
    aim = loudness_lufs       # what the mastering aims at: the target, moved by what an encoder moves it
    phase("mastering")
    result = master(samples, rate, loudness_lufs, limit_at, peak_db=peak_db, check=check, verify=verify, like=like)
    best: tuple[float, int, Mastered] | None = None              # the closest file under the ceiling
    tries: list[tuple[float, float]] = []                           # (aim, decoded loudness) of each
    decoded: list[float] = []                                       # the loudness of every encode
    allowance = ""                                                  # why the limiter went under the ceiling
    least: tuple[float, int, Mastered] | None = None   # the encode least over (later ones: read band-limited)
    for attempt in range(1, LOSSY_PASSES + 1):
        check()
        measured = written(result)
        if not verify and (measured.true_peak_dbtp > peak_db - METER_MARGIN_DB
                           or abs(measured.integrated_lufs - loudness_lufs) > VERIFY_TOL_LU):
            verify = True             # the search's estimate missed: master again, measuring every step
            phase("mastering")
            result = master(samples, rate, loudness_lufs, limit_at, peak_db=peak_db, check=check, like=result)
            measured = written(result)
        result.forget()           # kept aside or superseded: its gains are made again if it is written again
        over_db = _over_db(measured, tmp, peak_db, rate, check, band=least is not None)
        off = loudness_lufs - measured.integrated_lufs if loudness_lufs is not None and fmt in LOSSY else 0.0
        decoded.append(measured.integrated_lufs)
        if over_db <= 0.0 and (best is None or abs(off) < best[0]):
            best = (abs(off), attempt, result)
        if over_db > 0.0 and (least is None or over_db < least[0]):
            least = (over_db, attempt, result)
        if (over_db <= 0.0 and abs(off) <= LOSSY_LOUDNESS_TOL_LU) or attempt == LOSSY_PASSES:
            break
        check()
        phase("mastering")
        if over_db <= 0.0:        # the encoder moved the loudness (QA: an mp3 for -23 decoded at -23.2): aim by it
            tries.append((aim, measured.integrated_lufs))
            step = off / _slope(tries)
            try:
                result = master(samples, rate, aim + step, limit_at, peak_db=peak_db, check=check, like=result)
            except Unreachable as e:
                if off <= LOUDNESS_MISS_LU:
                    break         # what is written stands: within the 0.5 LU a target may miss by
                raise Unreachable(loudness_lufs, peak_db, math.floor(measured.integrated_lufs * 10) / 10,
                                  f" as the {fmt} decodes") from e   # (QA: -10.6 was suggested, it decoded at -11.2)
            aim += step
            continue
        # the decoded file is over the ceiling (a codec's overshoot, or peaks between samples near the top
        # of the band): limit lower by the overshoot and write again; from the meter's reading where that
        # is under the limiter's ceiling (the limiter sees peaks between samples as the meter does: lowered
        # from its ceiling, it did not reach them, QA87 D1)
        under = min(result.ceiling, db_to_gain(measured.true_peak_dbtp))
        limit_at = under * db_to_gain(-over_db * LOSSY_EXTRA - 0.02)
        amount = f"{over_db:.1f} dB" if over_db >= 0.05 else f"{max(over_db, 0.01):.2f} dB"   # (QA74: "0.0 dB")
        why = f"the {fmt} encoder's {amount} overshoot" if fmt in LOSSY else \
            f"{amount} of peaks between samples from content near the top of the band"
        allowance = f" once {why} is allowed for"
        try:
            result = master(samples, rate, aim, limit_at, peak_db=peak_db, check=check, reason=allowance,
                            like=result)
        except Unreachable as e:  # in the user's target, and what the decoded file reaches
            raise Unreachable(e.target - (aim - loudness_lufs), e.peak_db, round(e.reach - (aim - loudness_lufs), 1),
                              e.reason) from None
    if best is not None and best[1] != attempt and (over_db > 0.0 or best[0] < abs(off)):
        # a later encode landed further off (QA39: LAME's loudness of an 11 kHz tone jumps 1.7 LU for
        # 0.4 dB of gain): the closest is written again (the encoders are deterministic) and kept
        result = best[2]
        measured = written(result)
    elif best is None and least is not None:      # every encode over: the least over is written, and said
        over_db, at, result = least               # (QA87 D1: the last was written, over its ceiling, unsaid)
        if at != attempt:
            measured = written(result)
    return replace(_judged(measured, result, attempt, fmt, loudness_lufs, peak_db, decoded), allowance=allowance,
                   over_db=over_db if best is None else 0.0)


def _judged(measured: Measurement, result: Mastered, encodes: int, fmt: str, loudness_lufs: float | None,
            peak_db: float, decoded: list[float]) -> MasterReport:
    """The report of the file written (``measured``, from ``result``), or :class:`Unreachable` when it
    lands further than :data:`LOUDNESS_MISS_LU` from ``loudness_lufs``: under it, the limiter's reach;
    either way with the limiter idle, a lossy encoder whose loudness does not follow the gain on this
    audio (``decoded``: the loudness of each encode)."""
    unsteady = None
    if loudness_lufs is None:
        return MasterReport(measured, to_db(result.gain), to_db(result.ceiling), encodes)
    miss = loudness_lufs - measured.integrated_lufs
    if fmt in LOSSY and abs(miss) > LOSSY_LOUDNESS_TOL_LU and not result.limiting(result.gain):
        unsteady = (len(decoded), min(decoded), max(decoded))
        if abs(miss) > LOUDNESS_MISS_LU:          # the limiter is not what stops it
            raise Unreachable(loudness_lufs, peak_db, round(measured.integrated_lufs, 1), encoder=fmt, spread=unsteady)
    if miss > LOUDNESS_MISS_LU:
        raise Unreachable(loudness_lufs, peak_db, math.floor(measured.integrated_lufs * 10) / 10,
                          f" as the {fmt} decodes" if fmt in LOSSY else "")
    return MasterReport(measured, to_db(result.gain), to_db(result.ceiling), encodes, unsteady,
                        limiter_short_lu=result.short_lu, source_lufs=result.source_lufs)


def _slope(tries: list[tuple[float, float]]) -> float:
    """How much the decoded loudness moved per LU the mastering aimed: from the last two encodes
    (``(aim, decoded)``), held within 0.5-2 (an encoder's jumps must not send the aim far); 1 at first."""
    if len(tries) < 2 or tries[-1][0] == tries[-2][0]:
        return 1.0
    slope = (tries[-1][1] - tries[-2][1]) / (tries[-1][0] - tries[-2][0])
    return min(2.0, max(0.5, slope)) if math.isfinite(slope) else 1.0


def write_streamed(tmp: Path, blocks, rate: int, channels: int, fmt: str, codec: dict[str, Any], *,
                   peak_db: float | None, bits: int | None = None, dither: bool = False,
                   check: Callable[[], None] = lambda: None, phase: Callable[[str], None] = lambda what: None,
                   dest: Path | None = None) -> MasterReport:
    """:func:`write_mastered` without a loudness target, for audio arriving as ``[channels, n]`` blocks
    (wav and flac): the same file, bit for bit, written as the blocks come, then read back and
    measured.  Whether the limiter was needed is known only then (as in :func:`write_mastered`'s
    unlimited first try): if it was, or the file cannot tell, :class:`~nodeflow.streaming.NotStreamable`
    is raised (the caller removes the partial file and exports the whole value).  ``peak_db=None``
    (no limiter) is :func:`write_unlimited`'s file, written as the blocks come (QA48: a 30-minute stem
    export held 1.3 GiB, the chain made whole, where ``show`` said 72 MiB); audio over what integers
    store is refused as it refuses it, once the blocks have all come (the partial file removed)."""
    from nodeflow.streaming import NotStreamable, reblock

    dither = dither and bits == 16
    limit_at = float("inf")
    if peak_db is not None:
        ceiling = db_to_gain(peak_db)
        limit_at = ceiling * db_to_gain(-METER_MARGIN_DB) - margin(rate, ceiling, bits, dither)
    peak = [0.0]
    phase("encoding")

    def plain():
        for block in reblock(blocks, channels, MASTER_BLOCK):
            peak[0] = max(peak[0], float(np.abs(block).max(initial=0.0)))
            yield np.multiply(block, 1.0, dtype=np.float64)       # as Mastered.blocks(limit=False) gives it
    _encode_blocks(tmp, plain(), rate, channels, fmt, codec, bits, dither, check, dest or tmp)
    if peak_db is None:
        if peak[0] > 1.0 and bits:
            raise _over_full_scale(peak[0], fmt, bits)
        phase("measuring")
        return MasterReport(measure_file(tmp, check), 0.0, float("inf"), 1)
    if peak[0] > limit_at:
        raise NotStreamable(f"sample peak {to_db(peak[0]):.2f} dBFS needs the limiter")
    phase("measuring")
    measured = measure_file(tmp, check)
    if not _unlimited_holds(measured, limit_at, rate, bits, dither) or \
            _over_db(measured, tmp, peak_db, rate, check) > 0.0:
        raise NotStreamable(f"true peak {measured.true_peak_dbtp:.2f} dBTP may need the limiter")
    return MasterReport(measured, 0.0, to_db(limit_at), 1)
