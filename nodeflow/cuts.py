"""How a window was cut, as its ``Audio.edges`` keeps it: the *cut record*.

:func:`cut_record` writes one line of text when ``time.tokenize_window`` cuts a window: a digest of its
edges, its length, the silence it was padded with, its first and last :data:`EDGE_KEEP` frames as cut and
the source's just outside it.  Nodes keep it as they change the window (``Audio.replace``); a resampler
notes that the window is its source at another rate (:func:`resampled_record`), a stretch re-records its
length (:func:`recut`).  ``time.stitch`` reads it back (:func:`read_cut`) to join neighbours that are
still their source exactly, and to tell a step the music has at a cut from one an edit made.
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["EDGE_FRAMES", "EDGE_KEEP", "Cut", "cut_record", "edge_digest", "edge_frames", "edges_map", "frame_map",
           "neighbours", "read_cut", "recut", "resampled_record"]

EDGE_FRAMES = 64      # frames at each end of a window that edge_digest covers
EDGE_KEEP = 4         # frames at each end a window keeps as it was cut (cut_record)


def edge_digest(samples: np.ndarray) -> str:
    """A digest of the first and last :data:`EDGE_FRAMES` frames of ``samples[channels, frames]``
    (the part of a window that meets its neighbours), exact to the bit."""
    import hashlib
    x = np.ascontiguousarray(samples, np.float32)
    h = hashlib.blake2b(digest_size=12)
    h.update(repr(x.shape).encode())
    h.update(np.ascontiguousarray(x[:, :EDGE_FRAMES]).tobytes())
    h.update(np.ascontiguousarray(x[:, -EDGE_FRAMES:]).tobytes())
    return h.hexdigest()


def edge_frames(x: np.ndarray) -> np.ndarray:
    """The first and last :data:`EDGE_KEEP` frames of ``x[channels, frames]`` side by side (float32): what a
    record keeps of a window's edges."""
    return np.ascontiguousarray(np.concatenate([x[:, :EDGE_KEEP], x[:, -EDGE_KEEP:]], axis=1), np.float32)


def cut_record(samples: np.ndarray, padded: int = 0, source: np.ndarray | None = None, start: int = 0) -> str:
    """What a window keeps of how it was cut (its ``Audio.edges``): :func:`edge_digest`, its length,
    the frames of silence the cut padded its end with, and its first and last :data:`EDGE_KEEP`
    frames as cut (float32), one line of text (:func:`read_cut` reads it back).  With ``source`` (the
    clip it was cut from, at frame ``start``), also the :data:`EDGE_KEEP` frames of the source just
    before and just after it (NaN where the source has none), so that a stitch tells neighbours in
    one source from windows of different takes cut on the same grid (QA83 D3).

    >>> x = np.linspace(-1, 1, 48, dtype=np.float32)[None, :]
    >>> c = read_cut(cut_record(x, padded=8), 1)
    >>> c.digest == edge_digest(x), c.frames, c.padded, c.head.shape, float(c.tail[0, -1])
    (True, 48, 8, (1, 4), 1.0)
    """
    x = np.ascontiguousarray(samples, np.float32)
    kept = edge_frames(x) if x.shape[1] >= EDGE_KEEP else x[:, :0]
    record = f"{edge_digest(x)}:{x.shape[1]}:{int(padded)}:{_text(kept)}"
    if source is None or not kept.size:
        return record
    around = np.full((x.shape[0], 2 * EDGE_KEEP), np.nan, np.float32)
    a, end = max(0, start - EDGE_KEEP), start + x.shape[1] - int(padded)
    b = min(source.shape[1], end + EDGE_KEEP)
    around[:, EDGE_KEEP - (start - a):EDGE_KEEP] = source[:, a:start]
    if not padded and b > end:
        around[:, EDGE_KEEP:EDGE_KEEP + b - end] = source[:, end:b]
    return f"{record}:{_text(around)}"


def recut(edges: str, frames: int, padded: int) -> str:
    """The cut record of a window whose length changed since (a stretch): its length and padding
    now, the digest kept (it no longer matches: the window is not its source under a gain) and no
    frames as cut.

    >>> c = read_cut(recut(cut_record(np.zeros((1, 48), np.float32), padded=8), 96, 16))
    >>> c.frames, c.padded, c.head is None
    (96, 16, True)
    """
    c = read_cut(edges)
    return "" if c is None else f"{c.digest}:{int(frames)}:{int(padded)}:"


@dataclasses.dataclass(frozen=True)
class Cut:
    """A window's :func:`cut_record` read back: ``head``/``tail`` its first/last :data:`EDGE_KEEP`
    frames as cut, ``before``/``after`` the source's just outside it (``[channels, EDGE_KEEP]``; None in
    a record without them); ``again``: where resamplers alone made the window from the window as cut (a
    gain or a channel mix aside), its first and last frames as the last of them made it, and ``again_frames``
    its length then (see :func:`resampled_record`); ``again_before``/``again_after``: the source's frames just
    outside it at that rate, as that resampler made them from the source's own (NaN where it had none)."""
    digest: str
    frames: int = -1
    padded: int = 0
    head: np.ndarray | None = None
    tail: np.ndarray | None = None
    before: np.ndarray | None = None
    after: np.ndarray | None = None
    again: np.ndarray | None = None
    again_frames: int = -1
    again_before: np.ndarray | None = None
    again_after: np.ndarray | None = None


_MAP_CHANNELS = EDGE_KEEP - 2     # a channel mix is told apart from a new take from this many channels cut
#                                   at most (each output channel fitted on EDGE_KEEP frames); more: gains only


def frame_map(now: np.ndarray, cut: np.ndarray) -> np.ndarray | None:
    """``M`` with ``now == M @ cut`` to float32 rounding (a gain times the identity where the window has
    more than :data:`_MAP_CHANNELS` channels cut); all NaN when both are silent (any map fits); None when
    no map makes one the other."""
    c, n = cut.astype(np.float64), now.astype(np.float64)
    if not c.any():
        return np.full((n.shape[0], c.shape[0]), np.nan) if not n.any() else None
    if c.shape[0] <= _MAP_CHANNELS:
        m = n @ np.linalg.pinv(c)
    elif n.shape == c.shape:
        m = float((n * c).sum() / (c * c).sum()) * np.eye(c.shape[0])
    else:
        return None
    return m if np.abs(n - m @ c).max() <= 4e-7 * np.abs(n).max() + 1e-30 else None


def edges_map(x: np.ndarray, head: np.ndarray | None, tail: np.ndarray | None) -> np.ndarray | None:
    """The one map (:func:`frame_map`) that makes ``head`` and ``tail`` the first and last frames of
    ``x`` (a window as recorded, under a gain or a channel mix), or None."""
    if head is None or tail is None or x.shape[1] < EDGE_KEEP or head.shape[0] != x.shape[0]:
        return None
    return frame_map(edge_frames(x), np.concatenate([head, tail], axis=1))


def _fitting(x: np.ndarray, c: Cut) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    """The map that makes window ``x``'s edges (``[channels, frames]``, as it is now) what its record ``c`` has,
    as cut or else as the last resampler made it, with the source's frames just outside it that go with those
    edges (None where the record keeps none); None where no map fits (a new take, a fade)."""
    m = edges_map(x, c.head, c.tail) if c.frames == x.shape[1] else None
    if m is not None:
        return m, c.before, c.after
    if c.again is not None and c.again_frames == x.shape[1]:
        m = edges_map(x, c.again[:, :EDGE_KEEP], c.again[:, EDGE_KEEP:])
        return None if m is None else (m, c.again_before, c.again_after)
    return None


def neighbours(x: np.ndarray, c: Cut | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The source's :data:`EDGE_KEEP` frames just before and just after window ``x`` (``[channels, frames]``,
    as it is now; NaN where the source has none), at the window's rate now and under the one map that makes
    its edges what its record ``c`` has (a gain, a channel mix): the window as cut, or as a resampler made it
    from the source's own frames.  None where no map fits (a new take, a fade) or the record keeps none."""
    fit = _fitting(x, c) if c is not None else None
    if fit is None:
        return None
    m, before, after = fit
    if before is None or after is None:
        return None
    m = np.eye(x.shape[0]) if np.isnan(m).all() else m          # (silent at both ends, then and now)
    return (m @ before).astype(np.float32), (m @ after).astype(np.float32)


def resampled_record(edges: str, before: np.ndarray, after: np.ndarray, around: np.ndarray | None = None) -> str:
    """The cut record ``edges`` of a window resampled from samples ``before`` to ``after``: where ``before``
    is the window as cut or as a resampler left it (under a gain or a channel mix: :func:`edges_map`),
    noting ``after``'s first and last frames, that a stitch knows the window for its source at another rate
    (a resample's frames at a hit are not an edit's jump: QA99 D1), and ``around``: the :data:`EDGE_KEEP`
    frames the resampler made just before and after it from the source's own (``[channels, 2 * EDGE_KEEP]``,
    NaN on a side it had none), that the next resample continues the window with its music (QA100 D2: taken
    back from 32 kHz without them, a bar's first frame was the resampler's guess, 0.225 from the piece's);
    else without that note.

    >>> from nodeflow.audio import Audio
    >>> from nodes.dsp.resample import resample
    >>> from nodes.timing.window import tokenize_window
    >>> t = np.arange(3 * 44100) / 44100
    >>> bars = tokenize_window.fn(Audio(np.sin(2 * np.pi * 330 * t), 44100), unit="bars", size=1, bpm=240.0)
    >>> there = read_cut(resample.fn(bars[1], rate_hz=32000).edges)
    >>> there.again_frames, there.again_before.shape, bool(np.isfinite(there.again_after).all())
    (32000, (1, 4), True)
    """
    c = read_cut(edges, before.shape[0])
    if c is None or c.head is None:
        return edges
    parts = (edges.split(":") + [""])[:5]
    if _fitting(before, c) is not None and after.shape[1] >= EDGE_KEEP:
        near = "" if around is None or around.shape != (after.shape[0], 2 * EDGE_KEEP) else "," + _text(around)
        return ":".join(parts + [f"{after.shape[1]}/{_text(edge_frames(after))}{near}"])
    return ":".join(parts if parts[4] else parts[:4])


def read_cut(edges: str, channels: int | None = None) -> Cut | None:
    """``edges`` (an ``Audio.edges``) as a :class:`Cut`, or None when there is none or it cannot be
    read (a record from before frames were kept is its digest alone).  Its frames are read as
    ``channels`` channels (without frames where the record holds another count), or with ``None`` as
    the channels the window was cut with (a window mixed to other channels since)."""
    import binascii
    if not edges:
        return None
    parts = edges.split(":")
    if len(parts) not in (4, 5, 6):
        return Cut(parts[0])
    note = parts.pop() if len(parts) == 6 else ""
    try:
        frames, padded = int(parts[1]), int(parts[2])
        kept, around = (_floats(p) for p in (parts[3:] + [""])[:2])
        again_frames, again, near = _read_note(note)
    except (ValueError, binascii.Error):
        return Cut(parts[0])
    if channels is None and kept.size and kept.size % (2 * EDGE_KEEP) == 0:
        channels = kept.size // (2 * EDGE_KEEP)
    if channels is None or kept.size != channels * 2 * EDGE_KEEP:
        return Cut(parts[0], frames, padded)
    kept = kept.reshape(channels, 2 * EDGE_KEEP)
    outside = around.reshape(channels, 2 * EDGE_KEEP) if around.size == kept.size else None
    made = again.size == kept.size
    beside = near.reshape(channels, 2 * EDGE_KEEP) if made and near.size == kept.size else None
    return Cut(parts[0], frames, padded, kept[:, :EDGE_KEEP], kept[:, EDGE_KEEP:],
               None if outside is None else outside[:, :EDGE_KEEP], None if outside is None else outside[:, EDGE_KEEP:],
               again.reshape(channels, 2 * EDGE_KEEP) if made else None, again_frames if made else -1,
               None if beside is None else beside[:, :EDGE_KEEP], None if beside is None else beside[:, EDGE_KEEP:])


def _read_note(note: str) -> tuple[int, np.ndarray, np.ndarray]:
    """A record's resampler note (``frames/edges[,around]``, :func:`resampled_record`; base64 has ``/`` but no
    ``,``) read back: the length, the edge frames and the frames around (empty where there are none)."""
    if not note:
        return -1, np.zeros(0, np.float32), np.zeros(0, np.float32)
    frames, _, kept = note.partition("/")
    edges, near = (_floats(p) for p in (kept.split(",") + [""])[:2])
    return int(frames), edges, near


def _text(frames: np.ndarray) -> str:
    """Frames as a record keeps them: their float32 bytes as base64 text (:func:`_floats` reads them back)."""
    import base64
    return base64.b64encode(np.ascontiguousarray(frames, np.float32).tobytes()).decode("ascii")


def _floats(text: str) -> np.ndarray:
    """float32 frames a record keeps as base64 text (raises ValueError, binascii.Error on other text)."""
    import base64
    return np.frombuffer(base64.b64decode(text, validate=True), np.float32)
