"""The cues a stitched piece carries: a label at each seam (the bar it falls on, or the window that starts there)
and the windows' own markers (a source file's cues), each once."""
from __future__ import annotations

from nodeflow.audio import Audio
from nodeflow.errors import ParameterError
from nodeflow.timebase import bar_label, parse_meter

__all__ = ["seam_cues"]


def seam_cues(windows: list[Audio], positions: list[int], centres: list[int],
              frames: int) -> tuple[tuple[int, str], ...]:
    """The markers of ``windows`` placed at ``positions`` and joined into ``frames`` frames with seams at
    ``centres``: :func:`_labels` and :func:`_own_markers`, in order."""
    labels = _labels(windows, centres)
    return tuple(sorted(set(labels + _own_markers(windows, positions, frames, labels, windows[0].frames_at(1e-3)))))


def _own_markers(windows: list[Audio], positions: list[int], frames: int, labels: tuple[tuple[int, str], ...],
                 near: int) -> tuple[tuple[int, str], ...]:
    """The windows' own markers (a source file's cues, cut with the windows) where the stitched piece
    puts them, each once: overlapping windows hold the same one, and a marker within ``near`` frames of one of
    the same name is that one (QA103 D3: two overlapping windows, each stretched, rounded a file's "bar 4" one
    frame apart), as is one within ``near`` of a seam's label of its name, the seam's on its grid (QA102 D2: a
    stretch rounds a file's "bar 7" cue one frame from where the stretched grid puts bar 7)."""
    seen = sorted({(positions[k] + f, label) for k, w in enumerate(windows) for f, label in w.markers})
    at: dict[str, list[int]] = {}
    for f, label in labels:
        at.setdefault(label, []).append(f)
    kept: list[tuple[int, str]] = []
    for f, label in seen:
        if 0 <= f < frames and not any(abs(f - g) <= near for g in at.get(label, ())):
            kept.append((f, label))
            at.setdefault(label, []).append(f)
    return tuple(kept)


def _labels(windows: list[Audio], centres: list[int]) -> tuple[tuple[int, str], ...]:
    """Cue labels of the seams (one after each window but the last): the bar they fall on when the tempo
    is known, counted where the piece starts (the first window's ``start_frame``: QA, bars 3 and 4 were
    "bar 2" and "bar 3" with window 0 left out), else the number of the window that starts there (as
    :func:`~nodes.timing.window.tokenize_window` numbered it, when the windows carry distinct numbers)."""
    first = windows[0]
    info = dict(first.info)
    try:
        bpm, (beats, note) = float(info.get("bpm", "")), parse_meter(info.get("meter") or "4/4")
    except (ValueError, ParameterError):        # no tempo, or a meter tag no one can read
        numbers = [w.index + 1 for w in windows]
        if len(set(numbers)) < len(numbers):
            numbers = list(range(1, len(windows) + 1))
        return tuple((c, f"window {numbers[k + 1]}") for k, c in enumerate(centres))
    return tuple((c, bar_label(first.start_frame + c, first.sample_rate, bpm, beats, note)) for c in centres)
