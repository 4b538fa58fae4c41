"""True peak and band-limited peak for the export's meter (:mod:`._loudness` runs them beside its
loudness meter).

True peak (BS.1770-4 Annex 2) is read from the signal oversampled 4x below 96 kHz and 2x below
192 kHz by a polyphase windowed-sinc interpolator (64 taps a phase, Kaiser window: shorter ones, such as
libebur128's 49-tap filter, read peaks from content near Nyquist up to 0.5 dB low where ffmpeg does not), whose zero
phase is the input itself, so the true peak is never below the sample peak.  The interpolator is one
float32 matrix product per block and channel (all phases at once; ~3.5x faster than ``np.correlate``
per phase).  Near the Nyquist frequency it rolls off (-1.4 dB at 0.476 fs), so an export also reads
the written file's :func:`band_limited_peak` (an ideal low-pass, by FFT) when it is near its ceiling.

Start-up cost: this module imports only numpy (scipy's FFT when a band-limited peak is read).
"""
from __future__ import annotations

import functools
from typing import Iterable

import numpy as np

__all__ = ["TruePeakMeter", "band_limited_peak", "oversampling", "interpolator", "quantisation_gain",
           "TP_TAPS_PER_PHASE", "BAND_FACTOR", "BAND_CORE", "BAND_CONTEXT"]

TP_TAPS_PER_PHASE = 64    # interpolator length in input frames (even): near-Nyquist peaks need a long one
TP_KAISER_BETA = 12.0     # ~120 dB stopband
TP_RUN = 64               # frames per row of the interpolator's matrix product


def oversampling(rate: int) -> int:
    return 4 if rate < 96000 else 2 if rate < 192000 else 1


@functools.lru_cache(maxsize=4)
def interpolator(factor: int) -> np.ndarray:
    """``[factor, taps + 1]`` polyphase coefficients: row ``p`` gives the value at ``n + p / factor``
    from ``x[n - taps/2 .. n + taps/2]``.  Each row sums to 1 (DC passes unchanged); row 0 is a unit
    impulse (the input samples themselves)."""
    half = TP_TAPS_PER_PHASE // 2
    k = np.arange(-half, half + 1)
    rows = []
    for p in range(factor):
        t = p / factor - k                                  # distance from the output instant to x[n + k]
        window = np.i0(TP_KAISER_BETA * np.sqrt(1.0 - (t / (half + 1)) ** 2)) / np.i0(TP_KAISER_BETA)
        row = np.sinc(t) * window
        rows.append(row / row.sum())
    out = np.array(rows)
    out.setflags(write=False)      # designed once per factor and shared
    return out


def quantisation_gain(rate: int) -> float:
    """Largest true-peak change per unit of sample change (the interpolator's largest L1 row norm):
    a rounding error of ``e`` per sample moves the true peak by at most ``e`` times this."""
    return float(np.abs(interpolator(oversampling(rate))).sum(axis=1).max())


@functools.lru_cache(maxsize=4)
def _phase_matrix(factor: int, run: int = TP_RUN) -> np.ndarray:
    """``[run + taps - 1, phases * run]`` float32: a row of ``run + taps - 1`` input frames times it gives,
    phase after phase, the ``run`` interpolated values ``sum_j x[i + j] * rows[p, j]`` (one matrix product
    for every phase (1 .. factor - 1), instead of one ``np.correlate`` per phase and channel: ~3.5x faster)."""
    rows = interpolator(factor)[1:]
    phases, taps = rows.shape
    out = np.zeros((run + taps - 1, phases * run), np.float32)
    for p in range(phases):
        for i in range(run):
            out[i:i + taps, p * run + i] = rows[p]
    out.setflags(write=False)
    return out


class TruePeakMeter:
    """Streams ``[channels, n]`` blocks; :meth:`add` returns, for the frames whose interpolation is
    complete, the per-frame envelope ``max over channels and over the oversampled instants in
    (n - 1, n + 1)`` of the magnitude (``None`` when no frame is complete yet).  The envelope lags the
    input by ``taps/2`` frames; :meth:`finish` flushes the end.

    Before the first frame and after the last, the larger of two readings counts: the audio preceded
    and followed by silence (libebur128, a player), and mirrored there (ffmpeg's ``ebur128``: its
    resampler starts on the first samples reflected).  A master starting on a hit read -1.2 dBTP here
    and -0.7 in ffmpeg (QA58), which a delivery check built on ffmpeg refuses."""

    def __init__(self, rate: int, channels: int):
        self.factor = oversampling(rate)
        self.coeffs = interpolator(self.factor)
        self.half = TP_TAPS_PER_PHASE // 2 if self.factor > 1 else 0
        self.matrix = _phase_matrix(self.factor) if self.factor > 1 else None
        self.history = np.zeros((channels, self.half), np.float32)   # left context, then frames not yet centred
        self.emitted = 0
        self.prev_tail = 0.0                 # largest magnitude in (n-1, n) of the last emitted frame
        self.peak = 0.0
        self.sample_peak = 0.0
        self.head: np.ndarray | None = None  # the first frames (to mirror before them)
        self.seen = 0

    def add(self, block: np.ndarray) -> np.ndarray | None:
        block = np.asarray(block, np.float32)
        if block.shape[1]:
            self.sample_peak = max(self.sample_peak, float(np.abs(block).max()))
        if self.emitted == 0 and self.half:
            head = block if self.head is None else np.concatenate([self.head, block], axis=1)
            self.head = head[:, :self.half + 1]
        self.seen += block.shape[1]
        xx = np.concatenate([self.history, block], axis=1)
        n = xx.shape[1] - 2 * self.half                    # frames with both sides of context
        if n <= 0:
            self.history = xx
            return None
        self.history = xx[:, n:]
        return self._envelope(xx, n, self._start_mirrored(xx, n))

    def finish(self) -> np.ndarray | None:
        if not self.half:
            return None
        tail = self.history                                # the last frames, after their left context
        xx = np.concatenate([tail, np.zeros((tail.shape[0], self.half), np.float32)], axis=1)
        n = xx.shape[1] - 2 * self.half
        if n <= 0:
            return None
        self.history = xx[:, n:]
        mirrored = self._start_mirrored(xx, n)             # (a clip shorter than the context: its start too)
        m = min(self.half, min(tail.shape[1], self.seen) - 1)
        if m > 0:                                          # the end mirrored (about its last frame)
            end = np.zeros((tail.shape[0], self.half), np.float32)
            end[:, :m] = tail[:, -2:-2 - m:-1]
            at_end = self._after(np.concatenate([tail, end], axis=1), n)
            mirrored = at_end if mirrored is None else np.maximum(mirrored, at_end)
        return self._envelope(xx, n, mirrored)

    def _start_mirrored(self, xx: np.ndarray, n: int) -> np.ndarray | None:
        """:meth:`_after` of the first ``n`` frames with the start mirrored before them (about the first
        frame, as ffmpeg's resampler starts), while nothing has been emitted; else None."""
        if self.emitted or self.head is None:
            return None
        m = min(self.half, self.head.shape[1] - 1)
        if m <= 0:
            return None
        pre = np.zeros((xx.shape[0], self.half), np.float32)
        pre[:, self.half - m:] = self.head[:, m:0:-1]
        return self._after(np.concatenate([pre, xx[:, self.half:]], axis=1), n)

    def _after(self, xx: np.ndarray, n: int) -> np.ndarray:
        """The largest magnitude over channels at the instants in ``[k, k + 1)`` of each of the ``n``
        frames ``k`` with full context in ``xx`` (their sample and the interpolated ones after it)."""
        after: np.ndarray = np.abs(xx[:, self.half:self.half + n]).max(axis=0)
        if self.matrix is not None:
            runs, taps = -(-n // TP_RUN), self.coeffs.shape[1]
            width = runs * TP_RUN + taps - 1
            for ch in xx:                                  # runs of TP_RUN frames with their context, as rows
                ch = np.concatenate([ch, np.zeros(max(0, width - len(ch)), np.float32)])
                rows = np.lib.stride_tricks.as_strided(ch, (runs, TP_RUN + taps - 1), (TP_RUN * ch.itemsize, ch.itemsize))
                mag = np.abs(rows @ self.matrix).reshape(runs, self.factor - 1, TP_RUN).max(axis=1).reshape(-1)
                np.maximum(after, mag[:n], out=after)
        return after

    def _envelope(self, xx: np.ndarray, n: int, mirrored: np.ndarray | None = None) -> np.ndarray:
        after = self._after(xx, n)                         # instants in [n, n + 1)
        if mirrored is not None:
            np.maximum(after, mirrored, out=after)
        before = np.empty(n, np.float32)                   # instants in (n - 1, n)
        before[0] = self.prev_tail
        before[1:] = after[:-1]
        env: np.ndarray = np.maximum(after, before)
        self.prev_tail = float(after[-1])
        self.peak = max(self.peak, float(after.max()))
        self.emitted += n
        return env

    def true_peak(self) -> float:
        return max(self.peak, self.sample_peak)


BAND_FACTOR = 16         # instants per frame the band-limited peak reads (8 read a clipped mix 0.09 dB low)
BAND_CORE = 1 << 16      # frames whose peak one FFT reads ...
BAND_CONTEXT = 1 << 12   # ... with this many frames each side (a cut's ringing there is 80 dB down)


def band_limited_peak(blocks: Iterable[np.ndarray], channels: int) -> float:
    """The largest magnitude (linear) of the band-limited signal through ``[channels, n]`` blocks,
    read at :data:`BAND_FACTOR` instants per frame: each stretch of :data:`BAND_CORE` frames is
    interpolated by zero-padding its spectrum (an ideal low-pass at the Nyquist frequency), with
    :data:`BAND_CONTEXT` frames of what comes before and after (silence at the ends).

    The BS.1770 meter above rolls off near the Nyquist frequency (-1.4 dB at 0.476 fs), as
    ffmpeg's does less: a master with content up there (clipping, a limiter's own distortion) can
    read -1.15 dBTP in it and -0.86 here and in a long sinc interpolation.  An export holds its
    ceiling against the higher of the two (:func:`~nodes.io._encode.write_mastered`).

    >>> t = np.arange(48000)                    # a quarter of the rate, crests between samples
    >>> x = np.sin(np.pi / 2 * t + np.pi / 4)[None] * np.minimum(1, np.minimum(t, t[::-1]) / 480)
    >>> round(float(20 * np.log10(band_limited_peak([x], 1))), 2), round(float(20 * np.log10(np.abs(x).max())), 2)
    (0.0, -3.01)
    """
    c, peak = BAND_CONTEXT, 0.0
    buf = np.zeros((channels, c))
    for block in blocks:
        buf = np.concatenate([buf, block], axis=1)
        while buf.shape[1] >= 2 * c + BAND_CORE:
            peak = max(peak, _band_peak(buf[:, :2 * c + BAND_CORE], c, c + BAND_CORE))
            buf = buf[:, BAND_CORE:]
    if buf.shape[1] > c:
        peak = max(peak, _band_peak(np.concatenate([buf, np.zeros((channels, c))], axis=1), c, buf.shape[1]))
    return peak


def _band_peak(seg: np.ndarray, lo: int, hi: int) -> float:
    """(scipy's FFT in float32 on two threads: 2.8x less CPU than numpy's float64, the same peak to 1e-4 dB)"""
    import scipy.fft

    n, f = seg.shape[1], BAND_FACTOR
    spec = scipy.fft.rfft(seg.astype(np.float32), axis=1, workers=2)
    padded = np.zeros((seg.shape[0], n * f // 2 + 1), np.complex64)
    padded[:, :spec.shape[1]] = spec
    if n % 2 == 0:
        padded[:, n // 2] *= 0.5        # the Nyquist bin splits between its two images
    y = scipy.fft.irfft(padded, n * f, axis=1, workers=2)[:, lo * f:hi * f]
    return float(np.abs(y).max(initial=0.0)) * f
