"""How loud a preview is as the editor plays it, and what the export it feeds makes of it.

A mono clip plays on both channels of the device, so it is heard 3 dB over what a meter reads of
the one channel (BS.1770 sums the channels' powers): A/B level matching and the preview's note
about its export compare clips as they are heard (QA: a mono take "level-matched" with a stereo
one played 3.1 LU louder).  The note measures long clips on a thread, so pressing play never waits
for the meter (a 3-minute stereo clip takes 1-2 s on a busy CPU).  An export without a loudness
target still changes what it writes where its true-peak limiter acts: the note then says what
the export's own limiter leaves (QA104: a gain's +5 dBFS preview, written 2.3 LU quieter, said nothing).
"""
from __future__ import annotations

import math
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from .pacing import wake

if TYPE_CHECKING:
    from ..audio import Audio
    from ..graph import Graph

__all__ = ["loudness_lufs", "limited_lufs", "export_target", "note", "Meter", "Target", "MONO_PLAYED_DB",
           "INLINE_MAX_S"]

MONO_PLAYED_DB = 10 * math.log10(2)     # a mono clip played on two channels, over its one channel's reading
INLINE_MAX_S = 10.0                     # clips up to this long are measured at once (~0.05 s); longer on a thread


def loudness_lufs(audio: Audio) -> float:
    """Integrated loudness (BS.1770, the export's own meter) of a clip as the editor plays it, in
    LUFS: a mono clip is heard on both channels, :data:`MONO_PLAYED_DB` over its own reading (the
    gate's -70 LUFS floor aside, which only near-silent blocks meet)."""
    from nodes.io._loudness import integrated_lufs
    lufs = float(integrated_lufs(audio.samples, audio.sample_rate))
    return lufs + MONO_PLAYED_DB if audio.channels == 1 else lufs


def limited_lufs(audio: Audio, target: Target) -> tuple[float, float]:
    """``(the file's loudness, as the editor plays it)`` in LUFS where an export with no loudness target
    writes ``audio`` limited to its true-peak ceiling: in the export's layout (its channels and rate,
    :func:`nodes.io._layout.conform_for_export`), through the export's own limiter
    (:func:`nodes.io._master.master`) aiming where the export aims (its meter's margin under the ceiling);
    NaNs where the limiter leaves it as it is (QA106: a mono export's note read the stereo preview, and a
    mono file's loudness as heard, 3 LU over its meter)."""
    from nodes.io._encode import METER_MARGIN_DB
    from nodes.io._layout import Channels, SampleRate, conform_for_export
    from nodes.io._master import db_to_gain, master
    assert target.peak_db is not None
    x = conform_for_export(audio, SampleRate(target.rate), Channels(target.channels))
    m = master(x.samples, x.sample_rate, None, db_to_gain(target.peak_db - METER_MARGIN_DB))
    if not m.limiting(m.gain):
        return float("nan"), float("nan")
    lufs = float(m.loudness())
    return lufs, lufs + (MONO_PLAYED_DB if x.channels == 1 else 0.0)


class Target(NamedTuple):
    """An export a preview feeds: its id, its loudness target and that target as the editor plays
    the file (None without one), its true-peak ceiling in dBTP (None: none), and the layout it writes
    (its ``channels`` and ``sample_rate`` choices)."""
    node: str
    lufs: float | None
    heard: float | None
    peak_db: float | None
    channels: str = "keep"
    rate: str = "keep"


def export_target(graph: Graph, nid: str, port: str, audio: Audio) -> Target | None:
    """The first export ``nid.port`` feeds that has a loudness target (a mono file, ``channels=mono``
    or ``keep`` of mono audio, is heard :data:`MONO_PLAYED_DB` louder), else the first with a
    true-peak ceiling (what its limiter leaves is what it writes); None when none changes the level."""
    ceiling: Target | None = None
    for link in graph.links:
        if link.src != nid or link.src_port != port or link.dst not in graph.nodes:
            continue
        inst = graph.nodes[link.dst]
        if inst.type != "io.export":
            continue
        target, peak = (getattr(inst.params.get(k), "value", inst.params.get(k)) for k in ("loudness_lufs", "peak_db"))
        layout, rate = (str(getattr(inst.params.get(k), "value", inst.params.get(k, "keep")))
                        for k in ("channels", "sample_rate"))
        if target is None:
            ceiling = ceiling or (Target(link.dst, None, None, float(peak), layout, rate) if peak is not None else None)
            continue
        mono = layout == "mono" or (layout == "keep" and audio.channels == 1)
        return Target(link.dst, float(target), float(target) + (MONO_PLAYED_DB if mono else 0.0),
                      None if peak is None else float(peak), layout, rate)
    return ceiling


def note(target: Target, here: float, written: tuple[float, float] | None = None) -> str:
    """``"; master writes it at -14.0 LUFS, 9.6 LU louder"`` (the file's loudness; how much louder as
    heard), or for an export without a loudness target whose limiter writes the preview at ``written``
    (:func:`limited_lufs`), that; ``""`` for a silent clip, or where the export writes it as it plays.

    >>> note(Target("master", -14.0, -14.0, -1.0), -23.6)
    '; master writes it at -14.0 LUFS, 9.6 LU louder'
    >>> note(Target("export", None, None, -1.0), -5.6, (-7.9, -7.9))
    '; export limits its peaks to -1.0 dBTP: it writes it at -7.9 LUFS, 2.3 LU quieter'
    >>> note(Target("export", None, None, -1.0, "mono"), -5.6, (-9.2, -6.2))     # a mono file, heard on two
    '; export limits its peaks to -1.0 dBTP: it writes it at -9.2 LUFS, 0.6 LU quieter'
    >>> note(Target("export", None, None, -1.0), -18.0, (float("nan"), float("nan")))
    ''
    """
    if here != here or here == float("-inf"):
        return ""
    if target.heard is None:
        if written is None or not math.isfinite(written[0]):
            return ""
        diff = written[1] - here
        return (f"; {target.node} limits its peaks to {target.peak_db:.1f} dBTP: it writes it at "
                f"{written[0]:.1f} LUFS, {abs(diff):.1f} LU {'louder' if diff > 0 else 'quieter'}")
    diff = target.heard - here
    way = "louder" if diff > 0 else "quieter"
    return f"; {target.node} writes it at {target.lufs:.1f} LUFS, {abs(diff):.1f} LU {way}"


class Meter:
    """:func:`loudness_lufs` of the clips previewed, each measured once while it lives; a long one on
    a thread, its answer handed back on the UI thread by :meth:`poll` (once a frame)."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[weakref.ref[Any], float]] = {}
        self._limits: dict[tuple[Any, ...], tuple[weakref.ref[Any], tuple[float, float]]] = {}
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
            wake()                             # an idle window shows it now, not at its next idle frame
        threading.Thread(target=work, name="nodeflow-preview-loudness", daemon=True).start()

    def limited(self, audio: Audio, target: Target, then: Callable[[float, tuple[float, float]], None]) -> None:
        """Call ``then(lufs, written)`` on a later :meth:`poll`: the clip's loudness and what the export
        ``target`` writes it at, limited (:func:`limited_lufs`), measured on a thread (the limiter's
        true-peak meter oversamples the whole clip) and kept while the clip lives."""
        key = (id(audio), target.peak_db, target.channels, target.rate)
        hit, known = self._limits.get(key), self.known(audio)
        if hit is not None and hit[0]() is audio and known is not None:
            then(known, hit[1])
            return

        def work() -> None:
            lufs = self.known(audio)
            lufs = self._keep(audio, loudness_lufs(audio)) if lufs is None else lufs
            written = limited_lufs(audio, target)
            with self._lock:
                self._limits = {k: v for k, v in self._limits.items() if v[0]() is not None}
                self._limits[key] = (weakref.ref(audio), written)
                self._ready.append((lambda _: then(lufs, written), lufs))
            wake()
        threading.Thread(target=work, name="nodeflow-preview-limiter", daemon=True).start()

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
