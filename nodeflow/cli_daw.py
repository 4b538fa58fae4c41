"""``--daw PATH`` of ``audiochain run``: checked before anything renders, each run's (or sweep
variant's) clips collected as it finishes, and the DAWproject written at the end (the clips and the
file format come from :mod:`nodeflow.dawruns` and :mod:`nodeflow.dawproject`).  Split from
:mod:`nodeflow.cli_run`.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .cli import _refuse_overwriting_inputs
from .errors import NodeflowError, ParameterError

if TYPE_CHECKING:
    from .dawproject import Track
    from .dawruns import RunValues
    from .graph import Graph
    from .sweep import VariantResult

    # one run's part of a --daw project: its tracks, tempo (bpm) and meter, its exports off those bars
    DawPart = tuple[list[Track], float, tuple[int, int], list[str]]

__all__ = ["check_daw", "daw_part", "daw_collector", "write_daw"]


def check_daw(args: argparse.Namespace, graph: Graph) -> None:
    """``--daw PATH``, checked before anything renders: a ``.dawproject`` name in a folder that can be
    written (missing folders are created, as for ``-o``), not an input, and an export to place."""
    if not getattr(args, "daw", None):
        return
    from .dawproject import SUFFIX
    from .dawruns import EXPORT_NODE
    path = Path(args.daw)
    if path.suffix.lower() != SUFFIX:
        raise ParameterError(f"--daw {args.daw}: a DAWproject file's name ends in {SUFFIX} (DAWs open it by its "
                             f"extension); e.g. --daw {path.with_suffix(SUFFIX)}")
    if path.is_dir():
        raise ParameterError(f"--daw {args.daw}: is a folder; give a file name, e.g. --daw {path / ('song' + SUFFIX)}")
    if args.executor == "ray":
        raise ParameterError("--daw places each clip where its audio sat, which Ray variants do not send back; "
                             "run the sweep with --executor local, or drop --daw")
    if not any(inst.type == EXPORT_NODE for inst in graph.nodes.values()):
        raise ParameterError(f"--daw {args.daw}: the graph has no {EXPORT_NODE} node, so there are no files to "
                             f"place; add an export node (its files become the project's clips)")
    _refuse_overwriting_inputs(path, [Path(args.graph), *graph.input_files().values()], "--daw")
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ParameterError(f"--daw {args.daw}: {folder} is a file, not a folder; choose a path in a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(f"--daw {args.daw}: cannot write in {folder} (permission denied); choose a folder "
                             "you can write to")


def daw_part(graph: Graph, outputs: RunValues, name: str = "") -> DawPart:
    """One run's tracks with its tempo and meter; a sweep variant's tracks are named by the variant."""
    from .dawruns import clips_from_run, off_grid, tempo_and_meter
    tracks = clips_from_run(graph, outputs, track_prefix=f"{name} " if name else "")
    if name and len(tracks) == 1:
        tracks[0] = dataclasses.replace(tracks[0], name=name)
    bpm, meter = tempo_and_meter(graph, outputs)
    return tracks, bpm, meter, [f"{name} {n}".strip() for n in off_grid(graph, outputs, bpm, meter)]


def daw_collector(args: argparse.Namespace, graph: Graph, on_variant: Callable[[VariantResult], None],
                   parts: list[tuple[int, DawPart]]) -> Callable[[VariantResult], None]:
    """``on_variant`` that, with ``--daw``, first takes each finished variant's clips (then drops its values)."""
    if not args.daw:
        return on_variant
    from .sweep import apply_overrides

    def collect(r: VariantResult) -> None:
        if r.status == "ok" and r.values is not None:
            parts.append((r.variant.index, daw_part(apply_overrides(graph, r.variant.overrides), r.values,
                                                     r.variant.name)))
        r.values = None   # kept only for this; a long sweep must not hold every variant's audio
        on_variant(r)
    return collect


def write_daw(args: argparse.Namespace, graph: Graph, parts: list[DawPart]) -> None:
    """Write the ``--daw`` project: every part's tracks, at the first part's tempo and meter."""
    if not getattr(args, "daw", None):
        return
    from .dawproject import write_dawproject
    if not parts:   # a sweep whose variants all failed (they are listed next)
        print("no DAW project written: no variant succeeded", file=sys.stderr)
        return
    tracks = [t for part in parts for t in part[0]]
    if not any(t.clips for t in tracks):
        raise NodeflowError(f"--daw {args.daw}: no export wrote a file, so there is nothing to place; no DAW "
                            "project written")
    bpm, meter = parts[0][1], parts[0][2]
    title = str(graph.metadata.get("title") or Path(args.graph).stem)
    from .outputs import made_by_audiochain
    foreign = Path(args.daw).is_file() and not made_by_audiochain(Path(args.daw))
    path = write_dawproject(Path(args.daw), tracks, bpm=bpm, meter=meter, title=title)
    print(f"wrote {path} (DAW project: {len(tracks)} track(s), {sum(len(t.clips) for t in tracks)} clip(s), "
          f"{bpm:g} bpm, {meter[0]}/{meter[1]})")
    if foreign:             # (QA51 #4: as run says of a typed export path)
        print(f"note: {path} replaced a file AudioChain had not written (its path was given to this run, so it "
              "was allowed)", file=sys.stderr)
    other = [n for part in parts for n in part[3]] + [f"{t.name} ({part[2][0]}/{part[2][1]} at {part[1]:g} bpm)"
                                                       for part in parts[1:] if part[1:3] != (bpm, meter)
                                                       for t in part[0] if t.clips]
    if other:
        print(f"note: in another tempo or meter, placed in time but off the project's bars: {', '.join(other)}",
              file=sys.stderr)
