"""Test signals generated on the fly, the measurements tests make on them, and their tolerances."""
from __future__ import annotations

import numpy as np

from nodeflow.audio import Audio

# What a user would notice, and how close is close enough.
TOL = {
    "passband_db": 0.01,        # level change of an in-band tone through a resampler (HQ)
    "resample_snr_db": 100.0,   # resampled tone vs the same tone generated at the target rate (HQ)
    "roundtrip": 1e-6,          # window -> stitch against the original, linear curve
    "equal_power_db": 0.5,      # level wobble of uncorrelated noise through an equal-power crossfade
    "pitch_rel": 0.01,          # fundamental after a pitch shift, relative to the asked one
    "segment_invariance": 1e-6,  # resampled segment vs the same span of the resampled whole
}

# soxr quality -> (largest level change in dB, smallest SNR in dB) for a 1 kHz tone
QUALITY_TOL = {
    "quick": (0.1, 40.0),
    "low": (0.01, 70.0),
    "medium": (0.01, 100.0),
    "high": (TOL["passband_db"], TOL["resample_snr_db"]),
    "very_high": (TOL["passband_db"], 140.0),
}


def sine_samples(freq_hz: float, frames: int, rate: int, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    """``[channels, frames]`` float64 sine starting at phase 0 (the same on every channel)."""
    t = np.arange(frames) / rate
    return np.repeat((amp * np.sin(2 * np.pi * freq_hz * t))[None, :], channels, axis=0)


def sine(freq_hz: float, seconds: float, rate: int, amp: float = 0.5, channels: int = 1) -> Audio:
    return Audio(sine_samples(freq_hz, round(seconds * rate), rate, amp, channels), rate)


def noise(seconds: float, rate: int, seed: int = 0, rms: float = 0.1, channels: int = 1) -> Audio:
    """Seeded white Gaussian noise at ``rms`` (kept well inside [-1, 1])."""
    x = np.random.default_rng(seed).standard_normal((channels, round(seconds * rate))) * rms
    return Audio(np.clip(x, -1, 1), rate)


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-30))


def block_rms_db(x: np.ndarray, block: int) -> np.ndarray:
    """RMS level in dB of consecutive ``block``-frame blocks of a 1-D signal."""
    n = len(x) // block
    blocks = x[:n * block].astype(np.float64).reshape(n, block)
    return 20 * np.log10(np.sqrt(np.mean(blocks ** 2, axis=1)) + 1e-30)


def snr_db(signal: np.ndarray, reference: np.ndarray) -> float:
    """Reference power over error power, in dB."""
    err = signal.astype(np.float64) - reference
    return float(10 * np.log10(np.mean(reference ** 2) / max(np.mean(err ** 2), 1e-300)))


def fundamental_hz(x: np.ndarray, rate: int) -> float:
    """Frequency of the strongest spectral peak (Hann window, parabolic interpolation on log magnitude)."""
    x = np.asarray(x, np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) + 1e-30
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2])
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + offset) * rate / len(x)


def music(bpm: float, beats_per_bar: int, seconds: float, rate: int, seed: int = 0, channels: int = 2) -> Audio:
    """A music-like piece rendered as from a score: a kick on every beat (louder on each bar's
    first), a noise hat on the off-beats, a bass note per bar and a harmonic melody note per beat
    whose pitch follows a seeded walk through a major scale.  Notes start on the exact beat times."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    out = np.zeros(n)
    beat = 60.0 / bpm
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    degree = 0
    for k in range(int(seconds / beat) + 1):
        t0 = round(k * beat * rate)
        if t0 >= n:
            break
        downbeat = k % beats_per_bar == 0
        kick_len = min(round(0.12 * rate), n - t0)
        t = np.arange(kick_len) / rate
        out[t0:t0 + kick_len] += (0.6 if downbeat else 0.35) * np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 40)) * t) \
            * np.exp(-t * 25)
        hat0 = round((k + 0.5) * beat * rate)
        hat_len = max(0, min(round(0.03 * rate), n - hat0))
        out[hat0:hat0 + hat_len] += 0.08 * rng.standard_normal(hat_len) * np.exp(-np.arange(hat_len) / rate * 150)
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, len(scale) - 1))
        freq = 440.0 * 2 ** (scale[degree] / 12)
        note_len = min(round(beat * 0.9 * rate), n - t0)
        t = np.arange(note_len) / rate
        env = np.minimum(1.0, t / 0.01) * np.exp(-t * 3)
        out[t0:t0 + note_len] += 0.15 * env * sum(np.sin(2 * np.pi * freq * h * t) / h for h in (1, 2, 3))
        if downbeat:
            bass_len = min(round(beat * beats_per_bar * rate), n - t0)
            t = np.arange(bass_len) / rate
            out[t0:t0 + bass_len] += 0.2 * np.sin(2 * np.pi * freq / 4 * t) * np.minimum(1.0, t / 0.01)
    stereo = np.stack([out, np.roll(out, 7)])[:channels]
    return Audio(np.clip(stereo, -1, 1), rate)


def drum_loop(bpm: float, bars: int, rate: int) -> Audio:
    """A drum loop as a producer programs one: a kick on every beat (louder on the one), a noise hat on
    every off-beat, nothing else (no bass or harmony to hear the bar line by)."""
    beat = 60.0 / bpm * rate
    n = round(bars * 4 * beat)
    x = np.zeros((2, n))
    t = np.arange(round(0.15 * rate)) / rate
    kick = np.sin(2 * np.pi * (50 + 120 * np.exp(-t * 40)) * t) * np.exp(-t * 25)
    kick[1] = 0.95                      # the beater's click: one sample
    h = round(0.03 * rate)
    hat = np.random.default_rng(7).standard_normal(h) * np.exp(-np.arange(h) / rate * 200) * 0.25
    for k in range(bars * 4):
        for at, sound, gain in ((k, kick, 0.9 if k % 4 == 0 else 0.6), (k + 0.5, hat, 1.0)):
            s = round(at * beat)
            m = min(len(sound), n - s)
            x[:, s:s + m] += gain * sound[:m]
    return Audio(x.astype(np.float32), rate)


def rock_groove(bpm: float, bars: int, rate: int, seed: int = 3) -> Audio:
    """A backbeat as a drummer plays one: kick on 1 and 3, snare on 2 and 4, a closed hat on every eighth,
    a bass note on every beat and a chord on every bar (stereo; the hats a little to one side)."""
    beat = 60.0 / bpm
    n = round(bars * 4 * beat * rate)
    x = np.zeros((2, n))
    rng = np.random.default_rng(seed)
    t = np.arange(round(0.3 * rate)) / rate
    kick = 0.5 * np.exp(-t * 14) * np.sin(2 * np.pi * (45 * t + 90 * (1 - np.exp(-t * 35)) / 35))
    snare = 0.25 * np.exp(-t * 25) * (rng.standard_normal(len(t)) + 0.5 * np.sin(2 * np.pi * 190 * t))
    th = np.arange(round(0.05 * rate)) / rate
    hat = 0.08 * np.exp(-th * 90) * rng.standard_normal(len(th))
    roots = [110.0, 87.31, 130.81, 98.0]

    def add(at_s: float, sound: np.ndarray, gains: tuple[float, float] = (1.0, 1.0)) -> None:
        s = round(at_s * rate)
        m = min(len(sound), n - s)
        if m > 0:
            x[0, s:s + m] += gains[0] * sound[:m]
            x[1, s:s + m] += gains[1] * sound[:m]

    for b in range(bars):
        root = roots[b % len(roots)]
        tb = np.arange(round(4 * beat * rate)) / rate
        add(b * 4 * beat, sum(0.04 * np.sin(2 * np.pi * root * 2 * r * tb) for r in (1.0, 1.26, 1.5))
            * np.exp(-tb * 0.7))
        for k in range(4):
            at = (b * 4 + k) * beat
            add(at, kick if k % 2 == 0 else snare, (1.0, 1.0) if k % 2 == 0 else (0.8, 1.0))
            tq = np.arange(round(0.9 * beat * rate)) / rate
            add(at, 0.15 * np.sin(2 * np.pi * root * tq) * np.exp(-tq * 3))
            for h in (0.0, 0.5):
                add(at + h * beat, hat, (0.6, 1.0))
    return Audio(x.astype(np.float32), rate)
