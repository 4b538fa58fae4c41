"""What a sweep would do, found without running it: its problems (``validate`` and the sweep's own
check before it renders), the files its values read, and a line for ``audiochain show``.

A graph's saved sweep comes from a file like the graph: each value is tried on the graph as a run
would set it, and all its variants together are held against the run's limits (QA: a saved sweep
of 10,000 values that would write 8.9 million files was 'ok').
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .errors import ParameterError
from .graph import Graph
from .sweep import Axis, _short, apply_overrides, expand, sweep_from_graph

__all__ = ["sweep_problems", "sweep_reads", "sweep_summary"]


def sweep_summary(graph: Graph) -> str:
    """One line on ``graph``'s saved sweep for ``audiochain show``: its variants, axes and what they
    write and cost together (the graph's own summary is one variant's)."""
    from .costs import _seconds, remembered_estimate
    try:
        axes, mode = sweep_from_graph(graph)
        n = len(expand(axes, mode))
    except ParameterError as e:
        return f"saved sweep: {e}"
    est = remembered_estimate(graph)
    return (f"saved sweep: {n:,} variant(s) ({mode}) over {', '.join(a.name for a in axes)}; all of them: "
            f"{est.files * n:,} file(s) written, about {_seconds(est.work_s * n)} of work on a CPU")


def sweep_reads(graph: Graph) -> list[tuple[str, str, Path]]:
    """``(node, param, path)`` for each file a value of ``graph``'s saved sweep reads outside the
    graph's folder (what :meth:`Graph.external_reads` says of the graph's own values)."""
    from .graphpaths import path_mode
    if not graph.sweep:
        return []
    try:
        axes, _ = sweep_from_graph(graph)
    except ParameterError:
        return []           # validate says why
    out: list[tuple[str, str, Path]] = []
    for axis in axes:
        if path_mode(graph, axis.node, axis.param) != "read":
            continue
        for v in axis.values:
            try:
                reads = apply_overrides(graph, {axis.name: v}).external_reads()
            except ParameterError:
                continue
            out += [r for r in reads if r[:2] == (axis.node, axis.param) and r not in out]
    return out


def sweep_problems(graph: Graph, axes: Sequence[Axis], mode: str, *, output_dir: Path | None = None,
                   allow_outside: Sequence[Any] = (), device: str = "auto", values: bool | str = True,
                   bundled: bool = False, known: Sequence[str] | None = None) -> list[str]:
    """What a sweep would refuse, found without running: its grid (size, axes), the files and work of
    all its variants together against the run's limits (QA: a saved sweep of 10,000 values that
    would write 8.9 million files was 'ok'), and with ``values`` (``validate``) each value tried on
    the graph alone (a path outside the output folder or not there, a value out of range: its
    problems beyond the graph's own; a run fails those variants and renders the others).  ``bundled``:
    the graph is a bundle's, whose ``files/...`` were verified inside the zip (not looked up on disk);
    ``known``: the graph's own problems with these keywords, when the caller has them already.
    ``values="writes"`` (``run``): only the values of export paths, each against the output folder (a
    path leaving it is refused before anything runs, as ``validate`` refuses it; QA: a run rendered the
    other variants, then failed that one).  ``output_dir`` is the run's: a variant writes into its
    own folder in it, and paths are resolved there, by ``run`` and ``validate`` alike."""
    from .costs import Limits, _seconds, remembered_estimate
    try:
        variants = expand(axes, mode)
    except ParameterError as e:
        return [f"sweep: {e}"]
    run_dir = Path(output_dir) if output_dir is not None else None
    if run_dir is not None and variants:
        output_dir = run_dir / variants[0].name                  # where a variant writes (run_sweep)
    kw: dict[str, Any] = dict(output_dir=output_dir, allow_outside=allow_outside, device=device)
    own = set(graph.problems(**kw) if known is None else known) if values else set()
    out: list[str] = []
    for axis in axes if values else ():
        spec = graph.spec(axis.node)
        checks_world = spec is not None and spec.params[axis.param].kind == "path"   # (others: set() checks them)
        if values == "writes" and not (checks_world and spec is not None and spec.side_effect):
            continue
        for v in axis.values:
            if bundled and isinstance(v, str) and v.startswith("files/"):
                continue        # (QA: a bundle's own takes were 'not found' in the folder validate ran in)
            try:
                g = apply_overrides(graph, {axis.name: v})
            except ParameterError as e:
                out.append(f"sweep {axis.name}={_short(v)}: {e}")
                continue
            if checks_world:
                into = next((x for x in variants if (axis.name, v) in x.overrides), None)
                at = dict(kw, output_dir=run_dir / into.name) if run_dir is not None and into is not None else kw
                out += [f"sweep {axis.name}={_short(v)}: {p}" for p in g.problems(**at) if p not in own]
    limits, _ = Limits.from_env()
    est = remembered_estimate(graph)
    n = len(variants)
    if n > 1 and est.files * n > limits.files:
        out.append(f"sweep: its {n:,} variants would write {est.files:,} file(s) each, {est.files * n:,} in all; the "
                   f"limit is {limits.files:,} files per run; sweep fewer values, or raise the limit with --max-files "
                   f"or {Limits.ENV['files']}")
    if n > 1 and est.work_s * n > limits.hours * 3600:
        out.append(f"sweep: its {n:,} variants would take about {_seconds(est.work_s * n)} of work "
                   f"({_seconds(est.work_s)} each); the limit is {limits.hours:g} h; sweep fewer values, or raise "
                   f"{Limits.ENV['hours']}")
    return out
