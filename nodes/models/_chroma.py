"""Chroma features for MusicGen-Melody, without torchaudio.

The same maths as transformers' ``MusicgenMelodyFeatureExtractor`` (which needs torchaudio):
a normalised power spectrogram (``torch.stft``, Hann window, centred), folded onto 12 pitch
classes by librosa's chroma filter bank, normalised per frame by its maximum and made one-hot at
the strongest pitch class.  The spectrogram's overall scale does not matter (max-norm + argmax).

>>> import numpy as np
>>> t = np.arange(32000) / 32000
>>> chroma(np.sin(2 * np.pi * 440 * t), 32000).argmax(-1)[3].item()   # A
9
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["chroma", "chroma_frames"]


@functools.lru_cache(maxsize=8)
def _filter_bank(sample_rate: int, n_fft: int, num_chroma: int):
    import torch
    from transformers.audio_utils import chroma_filter_bank
    bank = chroma_filter_bank(sampling_rate=sample_rate, num_frequency_bins=n_fft, tuning=0, num_chroma=num_chroma)
    return torch.from_numpy(np.asarray(bank, dtype=np.float32))


def chroma_frames(samples: int, hop_length: int = 4096, n_fft: int = 16384) -> int:
    """Frames :func:`chroma` returns for ``samples`` samples (centred STFT)."""
    return 1 + max(samples, n_fft) // hop_length


def chroma(wave, sample_rate: int, *, n_fft: int = 16384, hop_length: int = 4096, num_chroma: int = 12):
    """One-hot chroma of a mono waveform: a float32 tensor ``[frames, num_chroma]``.

    ``wave`` is a 1-D numpy array or tensor at ``sample_rate`` (the model's rate). Inputs shorter
    than ``n_fft`` are zero-padded on both sides, as the reference extractor does.
    """
    import torch
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32) if not torch.is_tensor(wave) else wave).float().cpu()
    if x.dim() != 1:
        raise ValueError(f"chroma expects a mono 1-D waveform; got shape {tuple(x.shape)}")
    if x.shape[-1] < n_fft:
        pad = n_fft - x.shape[-1]
        x = torch.nn.functional.pad(x, (pad // 2, pad - pad // 2))
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop_length, win_length=n_fft, window=torch.hann_window(n_fft),
                      center=True, normalized=True, return_complex=True).abs() ** 2      # [freq, frames]
    raw = _filter_bank(sample_rate, n_fft, num_chroma) @ spec                            # [chroma, frames]
    norm = torch.nn.functional.normalize(raw, p=float("inf"), dim=0, eps=1e-6).T        # [frames, chroma]
    return torch.zeros_like(norm).scatter_(-1, norm.argmax(-1, keepdim=True), 1.0)
