"""What a sweep would do, found without running it: its problems (``validate`` and the sweep's own
check before it renders), the files its values read, and a line for ``audiochain show``.

A graph's saved sweep comes from a file like the graph: each value is checked in the first variant
that takes it, as that variant runs, and all its variants together are held against the run's limits
(QA: a saved sweep of 10,000 values that would write 8.9 million files was 'ok').
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .errors import ParameterError
from .graph import Graph
from .sweep import Axis, Variant, apply_overrides, expand, sweep_from_graph

__all__ = ["sweep_problems", "sweep_reads", "sweep_summary", "variant_problems"]


def sweep_summary(graph: Graph) -> str:
    """One line on ``graph``'s saved sweep for ``audiochain show``: its variants, axes and what they
    write and cost together (the graph's own summary is one variant's)."""
    from .costlimits import remembered_estimate
    from .costs import _seconds
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


def _first_holders(variants: Sequence[Variant]) -> list[Variant]:
    """The variants that hold a value no variant before them holds: every value of every axis in the
    first variant that takes it (at most the axes' lengths added, not multiplied)."""
    seen: set[tuple[str, str]] = set()
    out: list[Variant] = []
    for v in variants:
        new = {(k, repr(x)) for k, x in v.overrides} - seen
        if new or not out:
            out.append(v)
            seen |= new
    return out


CHECK_EVERY_MAX = 1000     # sweeps of up to this many variants are checked variant by variant (~1.5 ms each)


def variant_problems(graph: Graph, variants: Sequence[Variant], out_dir: Path, *, allow_outside: Sequence[Any] = (),
                     device: str = "auto") -> list[str]:
    """What the sweep's variants would refuse, found before any of them runs: every variant (a larger
    sweep than :data:`CHECK_EVERY_MAX`: each value of each axis in the first variant that takes it),
    into that variant's own folder, as that variant runs (a real variant, so a value the sweep
    replaces is never refused for the saved one; QA: ``--sweep tokenize_window.last=drop`` was refused
    for the saved ``last=keep``, and a ``last=keep`` variant was found only after the others had
    rendered; a grid whose values are fine alone but not together, a trim's start after its end in one
    pair, rendered three variants and failed the fourth).  A problem of every variant checked (the
    graph's own) is said once, the others after their variant's name."""
    found: list[tuple[Variant, list[str]]] = []
    for v in variants if len(variants) <= CHECK_EVERY_MAX else _first_holders(variants):
        try:
            g = apply_overrides(graph, v.overrides)
        except ParameterError as e:
            found.append((v, [str(e)]))
            continue
        found.append((v, g.problems(output_dir=out_dir / v.name, allow_outside=allow_outside, device=device)))
    common = set.intersection(*(set(ps) for _, ps in found)) if found else set()
    out = [p for p in found[0][1] if p in common] if found else []
    passing = {(k, repr(x)) for v, ps in found if not ps for k, x in v.overrides}
    for v, ps in found:
        together = len(v.overrides) > 1 and all((k, repr(x)) in passing for k, x in v.overrides)
        hint = (" (each of its values passes in another variant, only not together: choose values that fit "
                "together, or pair them with --zip)") if together else ""
        out += [f"sweep {v.name}: {p}{hint}" for p in ps if p not in common]
    return out


def _replaced_axes(graph: Graph, axes: Sequence[Axis]) -> list[str]:
    """Axes over a parameter that a linked input replaces (a model's ``prompt`` while its ``text`` is
    linked): every variant would render the same (QA: three identical renders of a model, without a word)."""
    from .types import replaced_by
    out = []
    for a in axes:
        spec = graph.spec(a.node)
        port = replaced_by(spec.inputs).get(a.param) if spec is not None else None
        link = graph.link_into(a.node, port) if port else None
        if link is not None:
            out.append(f"sweep: {a.name} does nothing while input '{port}' of node '{a.node}' is linked (from "
                       f"'{link.src}'; it replaces `{a.param}`): every variant would render the same; sweep what "
                       f"feeds it (a parameter of '{link.src}'), or unlink '{port}'")
    return out


def sweep_problems(graph: Graph, axes: Sequence[Axis], mode: str) -> list[str]:
    """What a sweep would refuse as a whole, found without running: its grid (size, axes) and the files
    and work of all its variants together against the run's limits (QA: a saved sweep of 10,000 values
    that would write 8.9 million files was 'ok').  Its values: :func:`variant_problems`."""
    from .costlimits import Limits, remembered_estimate
    from .costs import _seconds
    try:
        variants = expand(axes, mode)
    except ParameterError as e:
        return [f"sweep: {e}"]
    out: list[str] = _replaced_axes(graph, axes)
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
