"""Filters: a high-pass that takes out DC offset and rumble before a master."""
from __future__ import annotations

from typing import Annotated, Any

import numpy as np

from nodeflow.audio import Audio
from nodeflow.node import Context, node
from nodeflow.streaming import Stream
from nodeflow.types import Range

from .basic import _same_shape

__all__ = ["highpass"]

_BLOCK = 1 << 16     # frames filtered at a time: the filter's state carries over, so in blocks it is bit-identical


def _design(rate: int, cutoff_hz: float, order: int) -> np.ndarray:
    from scipy.signal import butter
    return np.asarray(butter(order, cutoff_hz, "highpass", fs=rate, output="sos"))


class _Filter:
    """A Butterworth high-pass run block by block: its state carries over, so a clip filtered in
    blocks is bit-identical to one filtered whole.  The state starts as if the first sample had
    always been there (a DC offset is taken out from the first sample on, no step where it starts)."""

    def __init__(self, rate: int, cutoff_hz: float, order: int):
        self.sos = _design(rate, cutoff_hz, order)
        self.zi: np.ndarray | None = None

    def __call__(self, block: np.ndarray) -> np.ndarray:
        from scipy.signal import sosfilt, sosfilt_zi
        x = block.astype(np.float64)
        if self.zi is None:
            self.zi = sosfilt_zi(self.sos)[:, None, :] * x[:, 0][None, :, None]   # [sections, channels, 2]
        y, self.zi = sosfilt(self.sos, x, axis=1, zi=self.zi)
        return np.asarray(y, dtype=np.float32)


def _stream(inputs: dict[str, Any], params: dict[str, Any], ctx: Context) -> Stream:
    s: Stream = inputs["audio"]
    return s.map(_Filter(s.head.sample_rate, _cutoff(params["cutoff_hz"], s.head.sample_rate), params["order"]))


def _cutoff(cutoff_hz: float, rate: int) -> float:
    """The cutoff, below Nyquist for this rate (a 2 kHz cutoff on 2 kHz audio stops just under it)."""
    return min(cutoff_hz, 0.45 * rate)


# working: filtered a block at a time, into its output (a float64 copy and result of the whole input, 4
# times its size, before)
@node("dsp.highpass", version=1, stream=_stream, estimate=_same_shape, working=0.0)
def highpass(audio: Audio, *,
             cutoff_hz: Annotated[float, Range(5.0, 2000.0, unit="Hz")] = 20.0,
             order: Annotated[int, Range(1, 8)] = 2) -> Audio:
    """High-pass filter (low cut): takes out DC offset and rumble below `cutoff_hz`.

    A DC offset (the waveform sitting above or below zero) takes headroom the loudness meter never
    counts, and clicks where playback starts and stops; put this node before an export to master
    without it.  The filter starts as if the first sample had always been there, so the DC is gone
    from the first sample on.

    Parameters
    ----------
    audio : Audio
        The clip to filter.
    cutoff_hz : float, Hz
        Where the cut starts (-3 dB), 5 to 2000 Hz: 20 Hz removes DC and sub-sonic rumble and keeps
        all bass; 80-120 Hz thins out vocals and speech.
    order : int
        Steepness, 6 dB per octave per order: 2 (12 dB/oct) is gentle, 4 (24 dB/oct) steep.

    Examples
    --------
    >>> x = Audio(np.full(48000, 0.3) + 0.1 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000), 48000)
    >>> y = highpass.fn(x, cutoff_hz=20.0).samples
    >>> abs(float(y.mean())) < 1e-3, round(float(np.abs(y[0, 24000:]).max()), 2)
    (True, 0.1)
    """
    if not audio.frames:
        return audio
    f = _Filter(audio.sample_rate, _cutoff(cutoff_hz, audio.sample_rate), order)
    x = audio.samples
    out = np.empty(x.shape, dtype=np.float32)
    for a in range(0, x.shape[1], _BLOCK):       # float64 temporaries of a block only, the same samples
        out[:, a:a + _BLOCK] = f(x[:, a:a + _BLOCK])
    return audio.replace(out)
