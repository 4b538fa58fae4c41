"""One run or audition the editor started (:class:`Job`: its snapshot of the graph, its content keys,
the nodes it leaves out) and what follows from it alone, without the runner's state: the nodes a
graph's problems keep from running (:func:`blocked_nodes`), the nodes after a failure
(:func:`downstream`), and the status-bar line its end says (:func:`summary`).
:class:`~.runner.Runner` keeps the jobs.  This module does not import dearpygui.
"""
from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Callable

from ..errors import Cancelled, ExecutionError, NodeflowError
from ..executor import RunHandle, RunResult
from ..graph import Graph
from .runstate import Said

__all__ = ["Job", "blocked_nodes", "downstream", "summary"]


@dataclasses.dataclass
class Job:
    kind: str                         # run | audition
    handle: RunHandle
    keys: dict[str, str]
    targets: list[str] | None
    on_done: Callable[[RunResult | None, BaseException | None], None] | None
    started: float
    blocked: dict[str, str] = dataclasses.field(default_factory=dict)   # node -> why it is not run
    deleted: list[str] = dataclasses.field(default_factory=list)       # nodes deleted before they ran (it stopped)
    left_out: list[str] = dataclasses.field(default_factory=list)      # nodes deleted before they started (it went on)
    graph: Graph | None = None        # the snapshot it runs: which nodes come after one that failed
    scratch: Path | None = None       # an untitled graph's exports went here (its output folder)


def blocked_nodes(g: Graph, problems: list[str]) -> dict[str, str]:
    """The nodes a problem names, and every node after them: ``{node: why}``."""
    import networkx as nx
    named: dict[str, str] = {}
    for p in problems:
        if p.startswith("node '"):
            nid = p[6:].split("'", 1)[0]
            if nid in g.nodes and nid not in named:
                why = (p.split("): ", 1)[1] if "): " in p else p).split("; ")[0]
                m = re.match(r"required input '(\w+)'.* is not connected", why)
                named[nid] = f"'{m.group(1)}' not linked" if m else why     # fits the node's state line
    if not named or any(not p.startswith("node '") for p in problems):
        return {}                            # a problem of the whole graph (a cycle...): nothing runs
    out = dict(named)
    nxg = g.to_networkx()
    for nid in named:
        for d in nx.descendants(nxg, nid) if nid in nxg else ():
            out.setdefault(d, f"after '{nid}'")
    return out


def downstream(job: Job, failed: set[str]) -> dict[str, str]:
    """The nodes of ``job`` after the ``failed`` ones: ``{node: the failed node before it}``."""
    import networkx as nx
    if job.graph is None:
        return {}
    nxg = job.graph.to_networkx()
    wanted = job.graph.required_for(job.targets) if job.targets is not None else set(nxg)
    out: dict[str, str] = {}
    for nid in sorted(n for n in failed if n in nxg):
        for d in nx.descendants(nxg, nid) & wanted:      # an audition's run: only what it needed
            out.setdefault(d, nid)
    return out


def summary(job: Job, result: RunResult | None, err: BaseException | None,
             after: dict[str, str] | None = None, changed: list[str] | None = None) -> Said:
    took = time.perf_counter() - job.started
    where = ""
    if job.scratch is not None and job.scratch.is_dir() and (result is not None or not isinstance(err, Cancelled)) and any(
            n in job.keys and not Path(str(v)).expanduser().is_absolute()     # (QA62 D6: named where a file
            for (n, _), v in (job.graph.write_paths() if job.graph is not None else {}).items()):   # typed whole
        where = f"; the graph is not saved: exports in {job.scratch}"                          # did not go)
    notes = f"; left out: {', '.join(job.left_out)} (deleted before it ran)" if job.left_out else ""
    notes += (f"; changed while it ran, so not up to date: {', '.join(changed)} (Run, F5, updates them)"
              if changed else "")
    if result is not None and result.warnings:      # said on the nodes too
        notes += "".join(f"; warning: {n}: {w}" for n, ws in sorted(result.warnings.items()) for w in ws)
    if err is None and result is not None:          # (the run raised nothing)
        return Said(f"run finished in {took:.2f} s: {len(result.ran)} node(s) ran, "
                    f"{len(result.cached)} from cache" + (f"; not run: {', '.join(sorted(job.blocked))} "
                                                          "(marked on the nodes)" if job.blocked else "") + notes
                    + where, "warn" if job.blocked or changed or result.warnings else "info")
    if isinstance(err, Cancelled) and job.deleted:
        return Said(f"run stopped: deleted {', '.join(job.deleted)} while it ran; Run (F5) runs the rest "
                    "(what finished comes from the cache)")
    if isinstance(err, Cancelled):
        return Said("run stopped")
    not_run = sorted(set(after or {}) | set(job.blocked))   # after the failure, and what could not start
    tail = f"; not run: {', '.join(not_run)} (marked on the nodes)" if not_run else ""
    counts = f"; {len(result.ran)} node(s) ran, {len(result.cached)} from cache" if result is not None else ""
    if isinstance(err, (ExecutionError, NodeflowError)):
        return Said("run failed: " + str(err).splitlines()[0] + counts + tail + notes + where, "error")
    return Said(f"run failed: {type(err).__name__}: {err}", "error")
