"""``audiochain show``, ``nodes`` and ``extract``: what a graph, the node types and an exported file
hold, printed for people (or as JSON).

Split from :mod:`nodeflow.cli` (which holds the shared helpers; :mod:`nodeflow.cli_parser` builds the
parser); user mistakes print one clear line there.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli import EXIT_OK, _load, _print_external_reads, _refuse_overwriting_inputs
from .errors import NodeflowError, ParameterError
from .term import printable

if TYPE_CHECKING:
    from .graph import Graph
    from .node import NodeSpec

__all__ = ["cmd_extract", "cmd_nodes", "cmd_show", "describe_costs", "describe_graph", "describe_node"]


def describe_graph(graph: Graph, name: str, checked: Graph | None = None) -> str:
    """``graph`` for people: its nodes and links as the file holds them, then what a run would cost and
    what is missing on this machine, found on ``checked`` (a bundle's graph as its run unpacks it)."""
    checked = graph if checked is None else checked
    lines = [f"graph {name}"]
    for k in ("title", "description"):
        if graph.metadata.get(k):
            lines.append(f"  {k}: {graph.metadata[k]}")
    if graph.saved_by:
        packs = ", ".join(f"{k} {v}" for k, v in graph.saved_by.get("packs", {}).items())
        lines.append(f"  saved by: AudioChain {graph.saved_by.get('audiochain', '?')}" + (f" ({packs})" if packs else ""))
    lines.append(f"  nodes ({len(graph.nodes)}):")
    for inst in graph.nodes.values():
        spec = graph.registry.get(inst.type)
        shown = []
        for k, v in inst.params.items():
            default = spec.params[k].default if spec and k in spec.params else object()
            if v != default:
                p = spec.params.get(k) if spec else None
                if p is not None and p.auto and v is None:      # (QA: 'bpm=None bpm' for bpm=auto)
                    shown.append(f"{k}=auto")
                    continue
                unit = p.unit if p is not None and v is not None else ""     # ('peak_db=None dBTP': none)
                val = p.to_plain(v) if p is not None else v
                shown.append(f"{k}={val!r}" + (f" {unit}" if unit else ""))
        flag = "" if spec else "  [unknown type]"
        lines.append(f"    {inst.id:<18} {inst.type}{flag}" + (f"  {', '.join(shown)}" if shown else ""))
    lines.append(f"  links ({len(graph.links)}):")
    for l in graph.links:
        lines.append(f"    {l}")
    lines += describe_costs(checked)
    lines += _describe_needs(checked)
    return "\n".join(lines)


def _describe_needs(graph: Graph) -> list[str]:
    """What this machine lacks to run the graph's nodes (checkpoints not downloaded, packages not
    installed): each node's own preflight, as validate and the editor's marks say it (QA49 D10)."""
    lines = []
    for nid, inst in graph.nodes.items():
        spec = graph.spec(nid)
        if spec is None or spec.preflight is None:
            continue
        try:
            said = spec.preflight(dict(inst.params), graph.base_dir())
        except Exception:  # noqa: BLE001 - validate says a broken check; show goes on
            continue
        lines += [f"    {nid:<18} {msg}" for msg in said]
    return ["  missing on this machine:"] + lines if lines else []


def describe_costs(graph: Graph) -> list[str]:
    """The estimate validation checks against the limits: each node's output, the peak, the work."""
    from .costs import estimate, human_bytes
    try:
        est = estimate(graph)
    except Exception:   # noqa: BLE001 - a graph that cannot be estimated (a cycle...) still shows
        return []
    missing = [f"{nid}.{name}" for (nid, name), path in graph.input_files().items() if not path.exists()]
    if missing:     # without the input's header nothing after it can be sized (it read "0 bytes, 0 s")
        return [f"  estimate (before running): not known, input file(s) not found: {', '.join(missing)} "
                f"(audiochain validate says where each was looked for)"]
    lines = [f"  estimate (before running): {est.summary()}"]
    for c in est.nodes.values():
        made = "; ".join(f"{port} {s.describe()}" for port, s in c.shapes.items() if s.rate)
        files = f"writes {c.files:,} file(s) of up to {human_bytes(c.file_bytes)}" if c.files else ""
        if made or files:
            lines.append(f"    {c.node:<18} {'; '.join(x for x in (made, files) if x)}")
        elif c.guessed and (spec := graph.spec(c.node)) is not None and spec.estimate is None and \
                any("Audio" in p.type_name for p in spec.outputs.values()):
            # (QA49 D4: a plug-in model without one read "peak memory about 0 bytes", and no limit refused it)
            lines.append(f"    {c.node:<18} not counted: {spec.id} declares no estimate, so the figures above "
                         "leave out what it makes (its author can add estimate=...)")
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    """The graph as its file holds it; a bundle's costs, needs and outside reads as its run resolves them,
    unpacked into a private temp folder removed afterwards, as validate does (QA88 D2: read in place, a
    local checkpoint beside the bundle was looked for from the current folder)."""
    from .bundle import as_packed, extracted, is_bundle
    graph = _load(args.graph)
    if not is_bundle(args.graph):
        _show(args, graph, graph)
        return EXIT_OK
    with extracted(args.graph) as graph_file:
        unpacked = _load(str(graph_file))
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            _show(args, graph, unpacked)
    for line in buffer.getvalue().splitlines():     # a member named as the bundle's, not the temp folder's
        print(as_packed(line))
    return EXIT_OK


def _show(args: argparse.Namespace, graph: Graph, checked: Graph) -> None:
    if args.json:
        from .fileformat import to_document
        print(json.dumps(to_document(graph), indent=2, default=str))
    else:
        print(printable(describe_graph(graph, args.graph, checked), keep_newlines=True))
        if graph.sweep:
            from .sweepcheck import sweep_summary
            print(printable(sweep_summary(graph)))
    _print_external_reads(checked, sys.stderr if args.json else sys.stdout)


def describe_node(spec: NodeSpec) -> dict[str, Any]:
    return {
        "id": spec.id, "version": spec.version, "category": spec.category, "pack": spec.pack, "doc": spec.tooltip,
        "inputs": {n: {"type": p.type_name, "required": p.required, "doc": p.doc} for n, p in spec.inputs.items()},
        "outputs": {n: {"type": p.type_name} for n, p in spec.outputs.items()},
        "params": {n: {"kind": p.kind, "default": p.to_plain(p.default), "range": p.describe_range(),
                       "unit": p.unit, "optional": p.optional, "doc": p.doc} for n, p in spec.params.items()},
    }


def cmd_nodes(args: argparse.Namespace) -> int:
    import textwrap

    from .registry import default_registry
    reg = default_registry()
    specs = [s for s in reg if not args.type or s.id == args.type or s.category == args.type]
    if args.type and not specs:
        raise ParameterError(f"no node type or category '{args.type}'" + reg._hint(args.type))
    if args.json:
        print(json.dumps([describe_node(s) for s in specs], indent=2))
    else:
        for cat, group in reg.categories().items():
            group = [s for s in group if s in specs]
            if not group:
                continue
            print(f"[{cat}]")
            for s in group:
                ins = ", ".join(f"{n}: {p.type_name}" + ("" if p.required else "?") for n, p in s.inputs.items())
                outs = ", ".join(f"{n}: {p.type_name}" for n, p in s.outputs.items())
                print(f"  {s.id} v{s.version}  ({ins}) -> {outs}")
                if s.tooltip:
                    print(f"      {s.tooltip}")
                for n, p in s.params.items():
                    rng = p.describe_range()
                    print(f"      {n} ({p.kind}) = {p.to_plain(p.default)!r}" + (f"  {rng}" if rng else ""))
                    if p.doc:
                        text = "\n".join(textwrap.fill(par, 88) for par in p.doc.split("\n"))
                        print(printable(textwrap.indent(text, " " * 10), keep_newlines=True))
        # the listing used to show parameters as "--gain_db", flags `run` does not take
        print("set a parameter for one run with: audiochain run GRAPH --set NODE_ID.PARAM=VALUE")
    for name, err in reg.failed_packs.items():
        print(f"warning: node pack '{name}' failed to load: {err}", file=sys.stderr)
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    from .audiometa import read_embedded_graph
    from .fileformat import opened, save
    path = Path(args.audio)
    if not path.exists() and not path.is_symlink():
        raise NodeflowError(f"{path}: no such file")
    data = read_embedded_graph(path)          # a FIFO, a device or a folder is refused there, by name
    if data is None:
        raise NodeflowError(f"{path}: holds no AudioChain graph (was it exported with embed_graph on?)")
    # as a run of the audio file reads it: its relative input paths from the audio file's folder, and the far
    # inputs this machine remembers for it found again, so the graph saved below keeps them (QA123 D2: lost)
    graph = opened(data, path)
    if args.output:
        out = Path(args.output)
        _refuse_overwriting_inputs(out, [path, *graph.input_files().values()], "--force")
        if out.is_dir():
            raise NodeflowError(f"{out} is a folder; give the graph file's name, e.g. -o {out / path.stem}.msgpack")
        if out.exists() and not args.force:
            raise NodeflowError(f"{out} exists; pass --force to overwrite it")
        save(graph, out)
        print(f"wrote {out}")
    else:
        print(printable(describe_graph(graph, str(path)), keep_newlines=True))
    return EXIT_OK
