"""How loud a preview is as the editor plays it, and what the export it feeds makes of it.

A mono clip plays on both channels of the device, so it is heard 3 dB over what a meter reads of
the one channel (BS.1770 sums the channels' powers): A/B level matching and the preview's note
about its export compare clips as they are heard (QA: a mono take "level-matched" with a stereo
one played 3.1 LU louder).  The note measures long clips on a thread, so pressing play never waits
for the meter (a 3-minute stereo clip takes 1-2 s on a busy CPU).
"""
from __future__ import annotations

import math
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..audio import Audio
    from ..graph import Graph

__all__ = ["loudness_lufs", "export_target", "note", "Meter", "MONO_PLAYED_DB", "INLINE_MAX_S"]

MONO_PLAYED_DB = 10 * math.log10(2)     # a mono clip played on two channels, over its one channel's reading
INLINE_MAX_S = 10.0                     # clips up to this long are measured at once (~0.05 s); longer on a thread


def loudness_lufs(audio: Audio) -> float:
    """Integrated loudness (BS.1770, the export's own meter) of a clip as the editor plays it, in
    LUFS: a mono clip is heard on both channels, :data:`MONO_PLAYED_DB` over its own reading (the
    gate's -70 LUFS floor aside, which only near-silent blocks meet)."""
    from nodes.io._loudness import integrated_lufs
    lufs = float(integrated_lufs(audio.samples, audio.sample_rate))
    return lufs + MONO_PLAYED_DB if audio.channels == 1 else lufs


def export_target(graph: Graph, nid: str, port: str, audio: Audio) -> tuple[str, float, float] | None:
    """The first export ``nid.port`` feeds that has a loudness target: ``(its id, the target, the
    target as the editor plays the file)`` (a mono file, ``channels=mono`` or ``keep`` of mono audio,
    is heard :data:`MONO_PLAYED_DB` louder); None when none has one."""
    for link in graph.links:
        if link.src != nid or link.src_port != port or link.dst not in graph.nodes:
            continue
        inst = graph.nodes[link.dst]
        target = getattr(inst.params.get("loudness_lufs"), "value", inst.params.get("loudness_lufs"))
        if inst.type != "io.export" or target is None:
            continue
        layout = str(getattr(inst.params.get("channels"), "value", inst.params.get("channels", "keep")))
        mono = layout == "mono" or (layout == "keep" and audio.channels == 1)
        return link.dst, float(target), float(target) + (MONO_PLAYED_DB if mono else 0.0)
    return None


def note(target: tuple[str, float, float], here: float) -> str:
    """``"; master writes it at -14.0 LUFS, 9.6 LU louder"`` (as heard), or ``""`` for a silent clip.

    >>> note(("master", -14.0, -14.0), -23.6)
    '; master writes it at -14.0 LUFS, 9.6 LU louder'
    """
    if here != here or here == float("-inf"):
        return ""
    diff = target[2] - here
    return f"; {target[0]} writes it at {target[1]:.1f} LUFS, {abs(diff):.1f} LU {'louder' if diff > 0 else 'quieter'}"


class Meter:
    """:func:`loudness_lufs` of the clips previewed, each measured once while it lives; a long one on
    a thread, its answer handed back on the UI thread by :meth:`poll` (once a frame)."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[weakref.ref[Any], float]] = {}
        self._ready: list[tuple[Callable[[float], None], float]] = []
        self._lock = threading.Lock()

    def known(self, audio: Audio) -> float | None:
        hit = self._known.get(id(audio))
        return hit[1] if hit is not None and hit[0]() is audio else None

    def measure(self, audio: Audio, then: Callable[[float], None]) -> None:
        """Call ``then(lufs)``: now when it is known or the clip is short, else on a later
        :meth:`poll`, after a thread has measured it."""
        got = self.known(audio)
        if got is None and audio.duration_s <= INLINE_MAX_S:
            got = self._keep(audio, loudness_lufs(audio))
        if got is not None:
            then(got)
            return

        def work() -> None:
            lufs = self._keep(audio, loudness_lufs(audio))
            with self._lock:
                self._ready.append((then, lufs))
        threading.Thread(target=work, name="nodeflow-preview-loudness", daemon=True).start()

    def _keep(self, audio: Audio, lufs: float) -> float:
        with self._lock:
            for k in [k for k, (ref, _) in self._known.items() if ref() is None]:
                del self._known[k]
            self._known[id(audio)] = (weakref.ref(audio), lufs)
        return lufs

    def poll(self) -> None:
        """On the UI thread: hand on what the threads measured."""
        with self._lock:
            ready, self._ready = self._ready, []
        for then, lufs in ready:
            then(lufs)
