"""What the canvas shows of the runner's results, and what stops playing when an edit makes it stale.

After an edit or the engine's events, :meth:`.app.App.refresh` calls :func:`show_results`: every node
shows its state (queued, running with progress, done, failed, not run), its computed values, the
waveform of each audio output (growing while it streams), an export's file, and time parameters
bounded by the length of what feeds them.  :func:`stop_if_stale` stops a preview whose node was
deleted, or whose sound an edit changed, rather than let it play on under a waveform that is gone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .audition import plays_file
from .filedecode import written_files
from .paramtext import bound_by_input
from .clips import preview_envelope
from .view import is_audio_type

if TYPE_CHECKING:
    from pathlib import Path

    from ..graph import Graph
    from ..node import NodeSpec
    from .app import App

__all__ = ["show_results", "stop_if_stale"]


def show_results(app: App, keys: dict[str, str]) -> None:
    """Every node of the document's graph shows what the runner has for it (``keys``: the nodes'
    current cache keys, :meth:`.runner.Runner.current_keys`)."""
    g = app.doc.graph
    types = g.output_types()
    feeds = {(l.dst, l.dst_port): (l.src, l.src_port) for l in g.links}
    estimated: list[Any] = []
    files: dict[tuple[str, str], Path] | None = None     # the graph's input files, once (sources' lengths)
    held = app.params.settling()     # a slider's click that may be a double-click's first: its node keeps its size
    for nid, inst in g.nodes.items():
        spec = g.registry.get(inst.type)
        problems = app.problems.get(nid, [])
        if held is not None and held[0] == nid and nid in app.view.marks:
            problems = app.view.problems_shown(nid)        # what it showed; the app refreshes when the hold ends
            app.hold_until(held[1])
        app.view.mark(nid, app.runner.states.get(nid), problems, unknown=spec is None)
        if spec is None:
            continue
        if any(bound_by_input(p) for p in spec.params.values()):      # times bounded by the input's length
            lengths = [_length(app, g, feeds[(nid, p)], keys, estimated) for p in spec.inputs if (nid, p) in feeds]
            if not spec.inputs:              # a source: the file it reads (QA95 D2: a load's start past its end)
                files = files if files is not None else g.input_files()
                lengths.append(_file_length(g, files, nid))
            known = [x for x in lengths if x is not None]
            app.view.bound_times(nid, spec, min(known) if known else None)
        for port, ps in spec.outputs.items():
            _show_output(app, g, nid, port, spec, types.get((nid, port), ps.type), keys)


def _file_length(g: Graph, files: dict[tuple[str, str], Path], nid: str) -> float | None:
    """Seconds of the audio file source node ``nid`` reads (``files``: the graph's input files), from its
    header (cached by the file's size and time), or None: no file, not audio, a header that gives no length,
    or a read a run refuses (a stranger's graph naming ``~/...``: not opened, QA96 D5)."""
    from nodes.io.load import header

    from ..graphpaths import foreign
    for (n, p), path in files.items():
        if n == nid and not foreign(g, n, p) and (got := header(path)) is not None and got[2] is not None \
                and got[0] > 0:
            return got[2] / got[0]
    return None


def _length(app: App, g: Graph, src: tuple[str, str], keys: dict[str, str], estimated: list[Any]) -> float | None:
    """Seconds of the clip output ``src`` gives: as computed when the runner has it, else as the graph's
    cost estimate reads it from file headers and parameters (estimates err long, never short: a bound
    from one never refuses a length the clip has); None when neither knows (a list, no estimate)."""
    seconds = getattr(app.runner.output(g, *src, keys), "duration_s", None)
    if isinstance(seconds, (int, float)):
        return float(seconds)
    if not estimated:                      # once per refresh, remembered per graph content and input files
        from ..costlimits import remembered_estimate
        try:
            estimated.append(remembered_estimate(g))
        except Exception:  # noqa: BLE001 - an estimate that fails bounds nothing
            estimated.append(None)
    cost = estimated[0].nodes.get(src[0]) if estimated[0] is not None else None
    shape = cost.shapes.get(src[1]) if cost is not None else None
    if shape is None or shape.items is not None or not shape.frames or not shape.rate:
        return None
    return float(shape.seconds)


def _show_output(app: App, g: Graph, nid: str, port: str, spec: NodeSpec, t: Any, keys: dict[str, str]) -> None:
    """One output: a value's line (an export's also the waveform of its file), or an audio waveform."""
    view, value = app.view, app.runner.output(g, nid, port, keys)
    if not is_audio_type(t):
        files = written_files(value) if plays_file(spec, t) else []
        view.show_value(nid, port, files[0] if files else value)
        if plays_file(spec, t):                     # an export: its file's waveform (a mapped one's first)
            view.show_file(nid, port, files[0] if files else None, app.audition.files, files[1:])
        return
    live = app.runner.live.get(nid, port, keys.get(nid)) if value is None else None
    value = live.snapshot() if live is not None else value      # the waveform grows as it streams
    if value is None:
        view.show_preview(nid, port, None)
    elif view.previews.get((nid, port)) is not value:
        env = preview_envelope(value)
        if env is not None:
            view.show_preview(nid, port, env, source=value)


def stop_if_stale(app: App, keys: dict[str, str], drawn: set[str]) -> None:
    """An edit left the output playing (or paused) out of date, or deleted its node (one of
    ``drawn``, the nodes on the canvas before it): its old sound stops rather than go on under a
    waveform that no longer exists (an export's file too, once it is out of date)."""
    au, g = app.audition, app.doc.graph
    key = au.now or (au.paused[0] if au.paused is not None else None)
    if au.clip is not None and key is not None and key[0] in drawn and key[0] not in g.nodes:
        au.stop()
        app.say(f"stopped {key[0]}.{key[1]}: its node was deleted (Ctrl+Z brings it back)")
        return
    spec = g.spec(key[0]) if key is not None and key[0] in g.nodes else None
    if au.clip is None or key is None or spec is None or key[1] not in spec.outputs:
        return                                 # nothing playing, or not a node's output (a sweep variant)
    nid, port = key
    if app.runner.output(g, nid, port, keys) is None and app.runner.live.get(nid, port, keys.get(nid)) is None:
        au.stop()
        again = "Ctrl+B compares the new versions" if key in app.node_ab.pair else "press play to hear the new version"
        app.say(f"stopped {nid}.{port}: an edit changed it; {again}")
