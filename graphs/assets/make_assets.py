"""Make the project's own small demo clips (run once; the outputs are committed, < 2 MB in all).

    python graphs/assets/make_assets.py

They sit beside the example graphs that read them (graphs/*.msgpack read assets/...): a graph's
files in its own folder are not listed as reads outside it.

- melody.flac : 4 bars at 120 bpm (8 s), a plucked-synth melody in A minor, mono, 44.1 kHz
- loop.flac   : a 2-bar drum loop at 120 bpm (4 s), stereo, 44.1 kHz
- voice.flac  : a spoken line from espeak-ng, mono, 22.05 kHz
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SR = 44100
BPM = 120
BEAT = 60 / BPM


def midi_hz(m: float) -> float:
    return 440.0 * 2 ** ((m - 69) / 12)


def pluck(freq: float, dur: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    env = np.minimum(t / 0.005, 1.0) * np.exp(-t * 3.5)
    x = sum((0.6 / k) * np.sin(2 * np.pi * freq * k * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t * k * 0.8)
            for k in range(1, 7))
    return (x * env).astype(np.float64)


def melody() -> np.ndarray:
    rng = np.random.default_rng(7)
    # (midi note, beats): A minor phrase, 16 beats = 4 bars
    notes = [(69, 1), (72, 1), (76, 1), (74, 1), (72, 2), (69, 1), (67, 1),
             (69, 1), (72, 1), (74, 1), (76, 1), (77, 1), (76, 1), (72, 2)]
    out = np.zeros(int(16 * BEAT * SR) + SR)
    pos = 0.0
    for m, beats in notes:
        seg = pluck(midi_hz(m), beats * BEAT + 0.6, rng)
        i = int(pos * SR)
        out[i:i + len(seg)] += seg[: len(out) - i]
        bass = pluck(midi_hz(m - 24), beats * BEAT, rng) * 0.5 if beats >= 2 else 0
        if beats >= 2:
            out[i:i + len(bass)] += bass[: len(out) - i]
        pos += beats * BEAT
    out = out[: int(16 * BEAT * SR)]
    return 0.5 * out / np.abs(out).max()


def drums() -> np.ndarray:
    rng = np.random.default_rng(3)
    n = int(8 * BEAT * SR)
    left, right = np.zeros(n), np.zeros(n)
    t = np.arange(int(0.4 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 9)
    snare = rng.standard_normal(len(t)) * np.exp(-t * 18) * 0.5 + np.sin(2 * np.pi * 190 * t) * np.exp(-t * 20) * 0.3
    hat = rng.standard_normal(int(0.05 * SR)) * np.exp(-np.arange(int(0.05 * SR)) / SR * 80) * 0.25
    for beat in range(8):
        i = int(beat * BEAT * SR)
        if beat % 2 == 0:
            left[i:i + len(kick)] += kick[: n - i]
            right[i:i + len(kick)] += kick[: n - i]
        else:
            left[i:i + len(snare)] += snare[: n - i] * 0.9
            right[i:i + len(snare)] += snare[: n - i]
        for half in (0, 0.5):
            j = int((beat + half) * BEAT * SR)
            right[j:j + len(hat)] += hat[: n - j]
            left[j:j + len(hat)] += hat[: n - j] * 0.6
    x = np.stack([left, right], axis=1)
    return 0.6 * x / np.abs(x).max()


def voice(path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is needed to make voice.flac (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "v.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(wav),
                        "Chain your melodies in time, and let the music grow."], check=True)
        x, sr = sf.read(wav, dtype="float32")
    sf.write(path, x, sr, subtype="PCM_16")


if __name__ == "__main__":
    sf.write(HERE / "melody.flac", melody(), SR, subtype="PCM_16")
    sf.write(HERE / "loop.flac", drums(), SR, subtype="PCM_16")
    voice(HERE / "voice.flac")
    for p in sorted(HERE.glob("*.flac")):
        print(f"{p.name}: {p.stat().st_size / 1024:.0f} KiB, {sf.info(p).duration:.2f} s")
