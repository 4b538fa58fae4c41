"""What io.export does before mastering: the DAW session's rate and channel layout, and the labels
(title, artist, tempo, placement, markers, provenance) a DAW reads, merged from the node's
parameters, the graph's metadata and the audio itself, with no path of this machine in them."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.fileformat import portable_text
from nodeflow.timebase import bar_label, parse_meter
from nodeflow.types import ChoiceEnum

from nodes.dsp._conform import resample_audio

__all__ = ["SampleRate", "Channels", "conform_for_export", "export_metadata"]


class SampleRate(ChoiceEnum):
    """Sample rate of the written file: the audio's own, or a DAW session rate."""
    KEEP = "keep"
    HZ_44100 = "44100"
    HZ_48000 = "48000"
    HZ_88200 = "88200"
    HZ_96000 = "96000"


class Channels(ChoiceEnum):
    """Channel layout of the written file."""
    KEEP = "keep"
    MONO = "mono"
    STEREO = "stereo"


# ITU-R BS.775 fold-down of 5.1 / 7.1 (WAV order L R C LFE Ls Rs [Lb Rb]) to stereo; the LFE is left out
_SURROUND = 0.7071
_FOLD = {6: ([0, 2, 4], [1, 2, 5]), 8: ([0, 2, 4, 6], [1, 2, 5, 7])}


def _stereo(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    if n == 1:
        return np.repeat(x, 2, axis=0)
    if n == 2:
        return x
    if n not in _FOLD:
        raise AudioError(f"channels=stereo: cannot fold {n} channels to stereo (5.1 and 7.1 can); "
                         "use a dsp.channels node or channels=keep")
    left, right = _FOLD[n]
    gains = lambda idx: np.array([1.0 if i in (0, 1) else _SURROUND for i in idx])[:, None]
    out = np.stack([(x[left] * gains(left)).sum(axis=0), (x[right] * gains(right)).sum(axis=0)])
    return out / (1.0 + _SURROUND * (len(left) - 1))       # full-scale in every speaker stays in range


def conform_for_export(audio: Audio, rate: SampleRate, channels: Channels,
                       check: Callable[[], None] | None = None) -> Audio:
    """``audio`` in the layout asked for (channels first, then the rate: fewer channels to resample).

    >>> conform_for_export(Audio(np.zeros(32000), 32000), SampleRate.HZ_48000, Channels.STEREO).samples.shape
    (2, 48000)
    """
    x = audio.samples
    if channels is Channels.MONO and audio.channels > 1:
        x = (_stereo(x) if audio.channels in _FOLD else x).mean(axis=0, keepdims=True)
    elif channels is Channels.STEREO and audio.channels != 2:
        x = _stereo(x)
    if x is not audio.samples:
        audio = audio.replace(np.asarray(x, np.float32))
    if rate is not SampleRate.KEEP:
        audio = resample_audio(audio, int(rate.value), "VHQ", check=check)
    return audio


def conform_stream(stream, rate: SampleRate, channels: Channels):
    """:func:`conform_for_export` of a :class:`nodeflow.streaming.Stream`, block by block (channel
    folds work frame by frame; the rate through :func:`nodes.dsp._conform.resample_stream`)."""
    from nodes.dsp._conform import resample_stream

    h = stream.head
    fold = None
    if channels is Channels.MONO and h.channels > 1:
        fold, n = (lambda x: (_stereo(x) if h.channels in _FOLD else x).mean(axis=0, keepdims=True)), 1
    elif channels is Channels.STEREO and h.channels != 2:
        fold, n = _stereo, 2
        _stereo(np.zeros((h.channels, 0), np.float32))     # refuses a layout it cannot fold, before a block flows
    if fold is not None:
        stream = stream.map(lambda b: np.asarray(fold(b), np.float32), h.replace(channels=n))
    if rate is not SampleRate.KEEP:
        stream = resample_stream(stream, int(rate.value), "VHQ")
    return stream


def _graph_fields(graph: Any) -> dict[str, Any]:
    meta = getattr(graph, "metadata", None) or {}
    out = {}
    from nodeflow.audiometa import GRAPH_TEXT_TAGS
    for k in (*GRAPH_TEXT_TAGS, "meter", "bpm"):
        v = meta.get(k)
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and v != "":
            out[k] = str(v)
    return out


def export_metadata(audio: Audio, graph: Any, params: dict[str, Any], *, markers: bool, version: str):
    """The :class:`~nodeflow.audiometa.Metadata` to write: node parameters over the graph's metadata
    over the audio's ``info``; the BWF time reference at the clip's place in its source; the seams
    as markers; provenance with paths reduced to names."""
    from nodeflow.audiometa import Metadata

    base = Metadata.from_info(tuple((k, portable_text(v)) for k, v in audio.info))
    over = Metadata.from_info({k: str(v) for k, v in params.items() if v not in ("", None)})
    meta = base.merge(Metadata.from_info(_graph_fields(graph))).merge(over)
    placement = (meta.time_reference_at(audio.sample_rate) or 0) + audio.start_frame
    fields = dict(time_reference=placement, time_reference_rate=audio.sample_rate,
                  extra=(("audiochain_version", version),))
    kept = tuple(m for m in audio.markers if 0 <= m[0] < audio.frames) if markers else ()
    return dataclasses.replace(meta.merge(Metadata(**fields)),
                               markers=_bar_labels(kept, meta, audio.sample_rate, audio.start_frame))


_BAR_LABEL = re.compile(r"bar \d+( beat \d+(\.\d+)?)?")     # what timebase.bar_label writes, and nothing else


def _bar_labels(markers: tuple, meta, rate: int, start_frame: int) -> tuple:
    """Seams labelled ``bar N`` (as stitch labels them) by the bar they fall on, counted as the clip's
    place in its source counts them (``start_frame``: where a DAW puts the file by its time reference),
    so a stitched clip placed after other material since it was labelled says where it is now.  Any
    other label is the user's text and is kept (QA55: a cue "bar 4 - Chorus" was written "bar 4", and
    a window's "bar 3" cue "bar 1")."""
    if meta.bpm is None:
        return markers
    try:
        beats, note = parse_meter(meta.meter) if meta.meter else (4, 4)
    except ParameterError:
        beats, note = 4, 4
    return tuple((f, bar_label(start_frame + f, rate, meta.bpm, beats, note) if _BAR_LABEL.fullmatch(label) else label)
                 for f, label in markers)
