"""Loudness and peak meters for exports: ITU-R BS.1770-4 integrated loudness, EBU Tech 3342 loudness
range (LRA) and true peak, streamed in blocks so that an hour of audio is never copied whole.

The arithmetic follows libebur128 (the reference meter EBU R128 tools are checked against), so the
two agree to a few thousandths of an LU:

- the K-weighting biquads are designed per sample rate from their analog parameters (a 4 dB high
  shelf at 1682 Hz and a 38 Hz high-pass), not copied from the 48 kHz table of BS.1770;
- energies are summed per 100 ms chunk (``(rate + 5) // 10`` frames); a gating block is the last
  four chunks (400 ms, a new one every 100 ms), a short-term block the last thirty (3 s, a new one
  every 100 ms, as EBU Tech 3342 asks for its loudness range); a trailing partial chunk is not counted;
- the gates are ``>= -70 LUFS`` absolute and ``>=`` the relative threshold (-10 LU integrated,
  -20 LU for LRA); LRA is the 10th to 95th percentile spread of the gated short-term loudness.

Channel weights (WAV order): mono/stereo/3 ch 1 each; 4 ch L R C S (1, 1, 1, 1.41); 5 ch L R C
Ls Rs; 6 or more: L R C LFE Ls Rs [Lb Rb ...] with the LFE (channel 4) excluded and every channel
after it weighted 1.41 (5.1 and 7.1 per BS.1770-4).

True peak (BS.1770-4 Annex 2) and the band-limited peak are :mod:`._truepeak`'s; :func:`measure_blocks`
runs its meter beside the loudness meter, on a second thread for long blocks.

Start-up cost: this module imports only numpy.  The K-weighting runs as a block state-space filter
(:class:`SosFilter`, numpy matrix products, within 1e-10 relative of ``scipy.signal.sosfilt`` and about
as fast) because importing ``scipy.signal`` costs about 1 s of CPU, more than measuring a short export;
past ``SCIPY_AFTER_SAMPLES`` the meter hands its state to ``sosfilt``: by the length alone, never by
whether something else imported ``scipy.signal`` (the two round apart, and a warm run's master then
differed from a cold run's by 1 LSB in places: QA71).
"""
from __future__ import annotations

import concurrent.futures as cf
import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import os

import numpy as np

from ._truepeak import BAND_CORE, TruePeakMeter, band_limited_peak
from ._truepeak import TP_TAPS_PER_PHASE as TP_TAPS_PER_PHASE, quantisation_gain as quantisation_gain   # (they were here)

BLOCK = 1 << 16           # frames measured at a time
ABS_GATE_LUFS = -70.0
SIDE_MIN_FRAMES = 1 << 13      # blocks at least this long meter true peak on the side thread
SCIPY_AFTER_SAMPLES = 1 << 25   # samples (frames x channels, ~6 min of 48 kHz stereo) after which sosfilt pays its import


@dataclass(frozen=True)
class Measurement:
    """What a meter reads on a whole programme (``-inf`` where everything is gated or silent)."""
    integrated_lufs: float
    lra_lu: float
    true_peak_dbtp: float
    sample_peak_dbfs: float

    def tags(self) -> dict[str, str]:
        """The measurement as file tags / log fields (R128-style names, 2 decimals)."""
        return {"loudness_integrated_lufs": f"{self.integrated_lufs:.2f}", "loudness_range_lu": f"{self.lra_lu:.2f}",
                "true_peak_dbtp": f"{self.true_peak_dbtp:.2f}", "sample_peak_dbfs": f"{self.sample_peak_dbfs:.2f}"}


def to_db(linear: float) -> float:
    return float(20.0 * np.log10(linear)) if linear > 0 else float("-inf")


def channel_weights(channels: int) -> np.ndarray:
    """BS.1770-4 weights in WAV channel order (see the module docstring)."""
    if channels <= 3:
        return np.ones(channels)
    if channels == 4:
        return np.array([1.0, 1.0, 1.0, 1.41])
    if channels == 5:
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41])
    return np.array([1.0, 1.0, 1.0, 0.0] + [1.41] * (channels - 4))


def k_weighting(rate: int) -> np.ndarray:
    """The two K-weighting biquads for ``rate`` as second-order sections ``[2, 6]`` (libebur128's design)."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = np.tan(np.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = np.tan(np.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass])


def chunk_frames(rate: int) -> int:
    return (rate + 5) // 10


class SosFilter:
    """``scipy.signal.sosfilt`` over ``[n, channels]`` blocks, streamed, in numpy alone.

    The cascade of second-order sections is one state-space system ``z' = A z + b u``, ``y = c z + d u``.
    A run of ``m`` frames is then two matrix products: its input through the impulse-response Toeplitz
    matrix, plus the state at its start through the first ``m`` outputs of ``c A^t``.  The states at the
    runs' starts follow ``x[r + 1] = x[r] A^m + drive[r]``; instead of a Python loop over every run, runs
    are taken ``group`` at a time: within a group every state is a matrix product of the group's drives
    (a block-Toeplitz matrix of powers of ``A^m``) plus the group's first state through ``A^(m j)``, and
    only the groups' first states are carried by a loop.  Every step is one matrix product over the whole
    block (BLAS), about as fast as ``sosfilt`` itself.  :attr:`zi` is ``sosfilt``'s state (``[sections, 2,
    channels]``, direct form II transposed), so a stream can move to ``sosfilt`` at any block.
    """

    def __init__(self, sos: np.ndarray, channels: int, m: int = 32, group: int = 16):
        sos = np.asarray(sos, np.float64)
        a, b, c, d = np.zeros((0, 0)), np.zeros((0, 1)), np.zeros((1, 0)), np.ones((1, 1))
        for b0, b1, b2, a0, a1, a2 in sos:   # each section in DF2T: y = b0 u + z1; z' = As z + Bs u
            b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
            sa, sb = np.array([[-a1, 1.0], [-a2, 0.0]]), np.array([[b1 - a1 * b0], [b2 - a2 * b0]])
            k = a.shape[0]
            nxt = np.zeros((k + 2, k + 2))
            nxt[:k, :k], nxt[k:, :k], nxt[k:, k:] = a, sb @ c, sa
            a, b, c, d = nxt, np.vstack([b, sb @ d]), np.hstack([b0 * c, [[1.0, 0.0]]]), b0 * d
        powers = [np.eye(a.shape[0])]
        for _ in range(m):
            powers.append(a @ powers[-1])
        self.m, self.group, self.sections, s = m, group, len(sos), a.shape[0]
        self.apow = np.array(powers)                                           # A^0 .. A^m
        self.obs = np.array([(c @ powers[t])[0] for t in range(m)])            # [m, s]: y_t from the state
        h = np.array([d[0, 0]] + [(c @ powers[k - 1] @ b).item() for k in range(1, m)])
        i = np.arange(m)
        self.toep = np.where(i[:, None] >= i[None, :], h[np.abs(i[:, None] - i[None, :])], 0.0)  # [out, in]
        self.gain = np.array([powers[m - 1 - j] @ b[:, 0] for j in range(m)]).T  # [s, m]: next state from u_j
        step = [np.eye(s)]                                  # (A^m)^k acting on row states, k = 0 .. group
        for _ in range(group):
            step.append(step[-1] @ powers[m].T)
        self.inner = np.zeros((group * s, group * s))      # a group's drives -> its states (block Toeplitz)
        for j in range(1, group):
            for k in range(j):
                self.inner[k * s:(k + 1) * s, j * s:(j + 1) * s] = step[j - 1 - k]
        self.ends = np.vstack([step[group - 1 - k] for k in range(group)])    # drives -> the next group's first state
        self.starts = np.hstack(step[:group])               # a group's first state -> its states
        self.leap = step[group]
        self.x = np.zeros((channels, s))

    @property
    def zi(self) -> np.ndarray:
        return self.x.T.reshape(self.sections, 2, -1).copy()

    def _states(self, drive: np.ndarray) -> np.ndarray:
        """States at the start of each run (``[runs, channels, s]``) from the runs' drives; advances :attr:`x`."""
        runs, channels, s = drive.shape
        g = self.group
        groups = -(-runs // g)
        pad = groups * g - runs
        if pad:
            drive = np.concatenate([drive, np.zeros((pad, channels, s))])
        d = drive.reshape(groups, g, channels, s).transpose(0, 2, 1, 3).reshape(groups * channels, g * s)
        ends = (d @ self.ends).reshape(groups, channels, s)
        first = np.empty((groups, channels, s))
        x = self.x
        for k in range(groups):
            first[k] = x
            x = x @ self.leap + ends[k]
        flat = first.reshape(groups * channels, s) @ self.starts + d @ self.inner
        states: np.ndarray = flat.reshape(groups, channels, g, s)
        states = states.transpose(0, 2, 1, 3).reshape(groups * g, channels, s)
        self.x = states[runs] if pad else x
        return states[:runs]

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """Filter ``u[n, channels]`` (float64), continuing from the previous block."""
        n, channels = u.shape
        m, whole = self.m, n // self.m
        y = np.empty_like(u)
        if whole:
            runs = np.ascontiguousarray(u[:whole * m].reshape(whole, m, channels).transpose(0, 2, 1))
            runs = runs.reshape(whole * channels, m)                           # one row per run and channel
            states = self._states((runs @ self.gain.T).reshape(whole, channels, -1))
            out = runs @ self.toep.T + states.reshape(whole * channels, -1) @ self.obs.T
            y[:whole * m] = out.reshape(whole, channels, m).transpose(0, 2, 1).reshape(whole * m, channels)
        rest = n - whole * m
        if rest:
            tail = u[whole * m:].T                                             # [channels, rest]
            y[whole * m:] = (tail @ self.toep[:rest, :rest].T + self.x @ self.obs[:rest].T).T
            self.x = self.x @ self.apow[rest].T + tail @ self.gain[:, m - rest:].T
        return y


class LoudnessMeter:
    """Streams ``[channels, n]`` blocks through the K-weighting filters and keeps, per 100 ms chunk,
    the channel-weighted sum of squares: all that integrated loudness and LRA need (8 bytes per
    100 ms).  Those energies scale with ``gain**2`` when the whole input does."""

    def __init__(self, rate: int, channels: int, keep_filtered: int = 0):
        self.rate, self.channels, self.chunk = rate, channels, chunk_frames(rate)
        # the K-weighted audio of the first ``keep_filtered`` frames, [n, channels] float32, filled as it comes
        self.filtered = np.empty((keep_filtered, channels), np.float32) if keep_filtered else None
        self.sos = k_weighting(rate)
        self.weights = channel_weights(channels)
        self.filter: SosFilter | None = SosFilter(self.sos, channels)
        self.zi: np.ndarray | None = None     # sosfilt's state, once the stream has moved to it
        self._samples = 0
        self._chunks: list[np.ndarray] = []
        self._partial, self._filled = 0.0, 0     # sum and frames of the chunk being filled

    def add(self, block: np.ndarray) -> None:
        n = block.shape[1]
        if n == 0:
            return
        self._samples += block.size
        if self.filter is not None and self._samples > SCIPY_AFTER_SAMPLES:
            self.zi, self.filter = self.filter.zi, None
        if self.filter is not None:
            filtered = self.filter(np.asarray(block, np.float64).T.copy())
        else:
            from scipy.signal import sosfilt

            filtered, self.zi = sosfilt(self.sos, np.asarray(block, np.float64).T, axis=0, zi=self.zi)
        if self.filtered is not None:
            at = self._samples // self.channels - n
            self.filtered[at:at + n] = filtered[:max(0, len(self.filtered) - at)]
        energy = np.square(filtered, out=filtered) @ self.weights          # [n]
        first = min(n, self.chunk - self._filled)                          # frames completing the open chunk
        self._partial += float(energy[:first].sum())
        self._filled += first
        if self._filled < self.chunk:
            return
        done = [self._partial]
        whole = (n - first) // self.chunk
        rest = energy[first:first + whole * self.chunk]
        if whole:
            done.extend(rest.reshape(whole, self.chunk).sum(axis=1))
        self._chunks.append(np.array(done))
        tail = energy[first + whole * self.chunk:]
        self._partial, self._filled = float(tail.sum()), len(tail)

    def energies(self) -> np.ndarray:
        """Weighted sum of squares of each complete 100 ms chunk so far."""
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0)


def _windows(chunks: np.ndarray, size: int, hop: int, first_end: int) -> np.ndarray:
    """Energy sums of windows of ``size`` chunks ending after chunk ``first_end, first_end + hop, ...``."""
    if len(chunks) < first_end:
        return np.zeros(0)
    csum = np.concatenate([[0.0], np.cumsum(chunks)])
    ends = np.arange(first_end, len(chunks) + 1, hop)
    sums: np.ndarray = csum[ends] - csum[ends - size]
    return sums


def block_energies(chunks: np.ndarray, chunk: int) -> np.ndarray:
    """Mean-square energy of every 400 ms gating block (4 chunks, hop 1)."""
    return _windows(chunks, 4, 1, 4) / (4 * chunk)


def gated_loudness(z: np.ndarray, scale: float = 1.0) -> float:
    """BS.1770-4 integrated loudness of block energies ``z`` (times ``scale``), libebur128's gates."""
    z = z * scale
    z = z[z >= 10.0 ** ((ABS_GATE_LUFS + 0.691) / 10.0)]
    if not len(z):
        return float("-inf")
    z = z[z >= z.mean() * 0.1]
    if not len(z):
        return float("-inf")
    return float(10.0 * np.log10(z.mean()) - 0.691)


def loudness_range(chunks: np.ndarray, chunk: int) -> float:
    """EBU Tech 3342 loudness range in LU from 100 ms chunk energies: 3 s blocks every 100 ms (Tech 3342
    since 2011 asks for consecutive blocks overlapping by at least 2.9 s; blocks every second read
    4.76 LU for a clip that ffmpeg's meter and a Tech 3342 meter read 7.8 and 7.1, QA)."""
    z = _windows(chunks, 30, 1, 30) / (30 * chunk)
    z = np.sort(z[z >= 10.0 ** ((ABS_GATE_LUFS + 0.691) / 10.0)])
    if not len(z):
        return 0.0
    z = z[z >= z.mean() * 0.01]
    if not len(z):
        return 0.0
    n = len(z) - 1
    high, low = z[int(n * 0.95 + 0.5)], z[int(n * 0.1 + 0.5)]
    return float(10.0 * np.log10(high / low))



@functools.lru_cache(maxsize=1)
def side() -> cf.ThreadPoolExecutor:
    """One thread for the second of two independent meters (numpy releases the GIL in both: the
    loudness and the true-peak meter of a block run side by side on two cores)."""
    return cf.ThreadPoolExecutor(1, thread_name_prefix="audiochain-meter")


def measure_blocks(blocks: Iterable[np.ndarray], rate: int, channels: int) -> Measurement:
    """:class:`Measurement` of a programme given as successive ``[channels, n]`` blocks."""
    loud, tp = LoudnessMeter(rate, channels), TruePeakMeter(rate, channels)
    for block in blocks:
        peaks = side().submit(tp.add, block) if block.shape[1] >= SIDE_MIN_FRAMES else None
        loud.add(block)
        if peaks is None:
            tp.add(block)
        else:
            peaks.result()
    tp.finish()
    chunks = loud.energies()
    return Measurement(gated_loudness(block_energies(chunks, loud.chunk)), loudness_range(chunks, loud.chunk),
                       to_db(tp.true_peak()), to_db(tp.sample_peak))


def _split(x: np.ndarray, block: int = BLOCK) -> Iterator[np.ndarray]:
    for a in range(0, x.shape[1], block):
        yield x[:, a:a + block]


def measure(samples: np.ndarray, rate: int) -> Measurement:
    """Integrated loudness (LUFS), loudness range (LU), true peak (dBTP) and sample peak (dBFS) of
    ``samples[channels, frames]`` (a 1-D array is mono).

    Examples
    --------
    >>> t = np.arange(48000 * 20) / 48000
    >>> x = np.tile(10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t), (2, 1))
    >>> round(measure(x, 48000).integrated_lufs, 1)
    -23.0
    """
    x = np.atleast_2d(samples)
    return measure_blocks(_split(x), rate, x.shape[0])


def _file_blocks(f: Any, check: Callable[[], None] | None, block: int) -> Iterator[np.ndarray]:
    """An open soundfile's audio as a decoder plays it back, ``[channels, n]`` float32 blocks in WAV
    speaker order (``check`` between them: ``ctx.check_cancelled`` raises to cancel)."""
    from ._channels import VORBIS_FORMATS, from_vorbis
    if f.format == "MP3":   # libsndfile 1.2.2 decodes an mp3 read in blocks wrongly where a block ends inside
        # a frame (mpg123: "part2_3_length ... too large"): one read, as _decode._read_mp3 (an mp3 export is
        # mastered whole in memory already), handed on in blocks all the same: a meter given the whole file
        # as one block works on float64 copies of it (an mp3 export peaked at 19 times the clip)
        whole = f.read(dtype="float32", always_2d=True)
        parts: Iterable[np.ndarray] = (whole[a:a + block] for a in range(0, max(len(whole), 1), block))
    else:
        parts = f.blocks(blocksize=block, dtype="float32", always_2d=True)
    for b in parts:
        if check is not None:
            check()
        yield from_vorbis(b.T) if f.format in VORBIS_FORMATS else b.T     # (Ogg: its speakers in WAV order)


def measure_file(path: str | os.PathLike[str], check: Callable[[], None] | None = None) -> Measurement:
    """:func:`measure` of an audio file as a decoder plays it back, read in blocks (see :func:`_file_blocks`)."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        return measure_blocks(_file_blocks(f, check, BLOCK), f.samplerate, f.channels)



def band_limited_peak_file(path: str | os.PathLike[str], check: Callable[[], None] | None = None) -> float:
    """:func:`band_limited_peak` of an audio file as a decoder plays it back (see :func:`_file_blocks`)."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        return band_limited_peak(_file_blocks(f, check, BAND_CORE), f.channels)


def integrated_lufs(x: np.ndarray, rate: int) -> float:
    """Integrated loudness of ``x[channels, frames]`` in LUFS (``-inf`` when all below the gate)."""
    x = np.atleast_2d(x)
    meter = LoudnessMeter(rate, x.shape[0])
    for block in _split(x):
        meter.add(block)
    return gated_loudness(block_energies(meter.energies(), meter.chunk))
