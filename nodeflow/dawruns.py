"""From a finished run to a DAW project: one track per export node, its clips where the audio sat in
time, and the run's tempo and meter (the file format is :mod:`nodeflow.dawproject`).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .dawproject import Clip, Track, check_bpm, file_facts, parse_meter
from .errors import AudioError, ParameterError

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["clips_from_run", "off_grid", "tempo_and_meter", "EXPORT_NODE", "RunValues"]

# a run's outputs by node id: a RunResult, or a sweep variant's values
RunValues = Mapping[str, dict[str, Any]]
EXPORT_NODE = "io.export"
WINDOW_NODE = "time.tokenize_window"


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _export_inputs(graph: Graph, result: RunValues) -> list[tuple[str, list[str], list[Any]]]:
    """``(export node id, written paths, the Audio values that fed them)`` per export node that ran."""
    out = []
    for nid, inst in graph.nodes.items():
        if inst.type != EXPORT_NODE or nid not in result:
            continue
        paths = _as_list(result[nid].get("out"))
        link = next((l for l in graph.links if l.dst == nid and l.dst_port == "audio"), None)
        fed = (result.get(link.src) or {}).get(link.src_port) if link is not None else None
        audios = _as_list(fed) if fed is not None else []
        if len(audios) == len(paths):       # (None: an item of a mapped export that failed)
            audios = [a for a, p in zip(audios, paths) if isinstance(p, str)]
        out.append((nid, [p for p in paths if isinstance(p, str)], audios))
    return out


def clips_from_run(graph: Graph, result: RunValues, track_prefix: str = "") -> list[Track]:
    """One :class:`Track` per export node of a finished run, its clips where the audio sat.

    ``result`` maps node ids to their outputs: a ``RunResult``, or a sweep variant's ``values``.

    A clip's position is where its audio sat in its source (:attr:`~nodeflow.audio.Audio.span`: windows
    cut from a longer piece carry where they started, exactly) and its duration the written file's.  Where the audio
    that fed an export is not in ``result`` the clip is read off the written file, at 0 s.
    Tracks are named ``track_prefix + node id``, in the graph's node order.
    """
    from .audio import Audio
    tracks = []
    for nid, paths, audios in _export_inputs(graph, result):
        clips = []
        for i, p in enumerate(paths):
            a = audios[i] if len(audios) == len(paths) and isinstance(audios[i], Audio) else None
            try:                   # as long as the file it wrote (QA58: at another rate, a clip ran 0.49
                duration, rate, channels = file_facts(Path(p))      # sample past its file's end)
            except AudioError:
                if a is None:
                    raise
                duration, rate, channels = Fraction(a.frames, a.sample_rate), a.sample_rate, a.channels
            start = a.span[0] if a is not None else Fraction(0)    # placed at its exact time
            clips.append(Clip(Path(p), start, duration, Path(p).stem, rate, channels))
        tracks.append(Track(f"{track_prefix}{nid}", clips))
    return tracks


def _written_tempo(graph: Graph, nid: str, audios: list[Any]) -> tuple[Any, Any]:
    """``(bpm, meter)`` as export ``nid`` writes them into its file (None where it writes none): its
    own ``bpm``/``meter`` over the graph's metadata over the audio's (see ``io.export``)."""
    from .audio import Audio
    info = next((dict(a.info) for a in audios if isinstance(a, Audio)), {})
    params = graph.nodes[nid].params
    found = []
    for key in ("bpm", "meter"):
        value = next((v for v in (params.get(key), graph.metadata.get(key), info.get(key)) if v not in (None, "")), None)
        found.append(value)
    return found[0], found[1]


def off_grid(graph: Graph, result: RunValues, bpm: float, meter: tuple[int, int]) -> list[str]:
    """The exports whose file carries another tempo or meter than the project's, as ``"name (3/4 at
    97.5 bpm)"``: their clips sit where they belong in time, but their bars are not the project's."""
    out = []
    for nid, _, audios in _export_inputs(graph, result):
        own_bpm, own_meter = _written_tempo(graph, nid, audios)
        try:
            own = (check_bpm(own_bpm if own_bpm is not None else bpm),
                   parse_meter(own_meter if own_meter is not None else meter))
        except ParameterError:
            continue
        if abs(own[0] - bpm) > 1e-6 or own[1] != meter:
            out.append(f"{nid} ({own[1][0]}/{own[1][1]} at {own[0]:g} bpm)")
    return out


def tempo_and_meter(graph: Graph, result: RunValues | None = None) -> tuple[float, tuple[int, int]]:
    """The run's tempo and meter: the first exported file's (the export's ``bpm``/``meter``, else the
    graph's metadata, else its audio's ``info``), else the graph's metadata, else the first
    ``time.tokenize_window`` node's ``bpm``/``beats_per_bar``, else 120 bpm in 4/4."""
    bpm: Any = None
    meter: Any = None
    if result is not None:
        for nid, _, audios in _export_inputs(graph, result):
            own_bpm, own_meter = _written_tempo(graph, nid, audios)
            bpm = bpm if bpm is not None else own_bpm
            meter = meter if meter is not None else own_meter
    bpm = bpm if bpm is not None else graph.metadata.get("bpm") or None         # '' is unset (QA: meter='' failed
    meter = meter if meter is not None else graph.metadata.get("meter") or None  # --daw after the file was written)
    window = next((inst for inst in graph.nodes.values() if inst.type == WINDOW_NODE), None)
    if window is not None:
        if bpm is None and isinstance(window.params.get("bpm"), (int, float)):
            bpm = window.params["bpm"]
        if meter is None and isinstance(window.params.get("beats_per_bar"), int):
            note = window.params.get("note_value")
            meter = (window.params["beats_per_bar"], note if isinstance(note, int) else 4)
    return check_bpm(bpm if bpm is not None else 120.0), parse_meter(meter if meter is not None else (4, 4))
