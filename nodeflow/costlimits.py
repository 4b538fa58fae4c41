"""What a run may cost and what it would exceed: the :class:`Limits` (memory, items per list, file
size, files per run, hours of work; from the environment, the memory from the machine's RAM) and
:func:`cost_problems`, one line per limit the :func:`~.costs.estimate` of a run exceeds, naming the
node, the estimate, the limit and the fix; :func:`remembered_estimate` keeps an estimate per graph
content and state of its input files, so an unchanged graph is not estimated again.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from .costs import Estimate, _seconds, estimate, human_bytes
from .errors import named

if TYPE_CHECKING:   # imported lazily by validation.py; for annotations only
    from .graph import Graph

__all__ = ["Limits", "cost_problems", "remembered_estimate"]

def _ram_bytes() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):   # not POSIX: assume a modest machine
        return 8 * 1024 ** 3


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a run may use.  Defaults follow the machine; each has an environment variable:
    ``AUDIOCHAIN_MAX_MEMORY_GB`` (peak memory, default half the RAM), ``AUDIOCHAIN_MAX_FILES``
    (files written per run, 1000), ``AUDIOCHAIN_MAX_FILE_GB`` (size of one written file, 4),
    ``AUDIOCHAIN_MAX_ITEMS`` (length of a list of windows, 100000), ``AUDIOCHAIN_MAX_HOURS``
    (estimated work, 24)."""
    memory_bytes: int
    files: int = 1000
    file_bytes: int = 4 * 1024 ** 3
    items: int = 100_000
    hours: float = 24.0
    memory_source: str = "half the RAM"

    ENV = {"memory_bytes": "AUDIOCHAIN_MAX_MEMORY_GB", "files": "AUDIOCHAIN_MAX_FILES",
           "file_bytes": "AUDIOCHAIN_MAX_FILE_GB", "items": "AUDIOCHAIN_MAX_ITEMS", "hours": "AUDIOCHAIN_MAX_HOURS"}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> tuple["Limits", list[str]]:
        """The limits for this machine and environment, and one problem line per unreadable variable."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {"memory_bytes": _ram_bytes() // 2}
        problems = []
        for field, var in cls.ENV.items():
            text = env.get(var, "").strip()
            if not text:
                continue
            try:
                number = float(text)
                if not math.isfinite(number) or number <= 0:
                    raise ValueError
            except ValueError:
                problems.append(f"{var}={text!r} is not a positive number; unset it or give e.g. {var}=8")
                continue
            number = min(number, 1e9)          # a limit past any machine (1e308 overflowed): no limit
            if field.endswith("_bytes") and number * 1024 ** 3 < 1024 ** 2:
                problems.append(f"{var}={text!r} is under 1 MiB ({number:g} GB); give e.g. {var}=8")
                continue
            if field.endswith("_bytes"):
                values[field] = int(number * 1024 ** 3)
                if field == "memory_bytes":
                    values["memory_source"] = f"set by --max-memory-gb or {var}"
            elif field == "hours":
                values[field] = number
            else:
                values[field] = int(number)
        return cls(**values), problems


def _node(graph: Graph, nid: str) -> str:
    return f"node '{nid}' ({graph.nodes[nid].type})"


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def remembered_estimate(graph: Graph, scope: Iterable[str] | None = None, base_dir: Path | None = None,
                        version: int | None = None, allowed: frozenset[tuple[str, str]] = frozenset()) -> Estimate:
    """:func:`estimate`, remembered per graph content (:meth:`Graph.derived`), state of the input files
    it reads (size, mtime, inode) and far reads ``allowed``, so a re-run of an unchanged graph does not
    estimate again."""
    scope_key = None if scope is None else frozenset(scope)
    base = Path(base_dir) if base_dir is not None else graph.base_dir()
    files = graph.input_files(base)
    signature = tuple(sorted((k, _file_signature(p)) for k, p in files.items()
                             if scope_key is None or k[0] in scope_key))
    return graph.derived("estimate", (scope_key, str(base), signature, allowed),
                         lambda: estimate(graph, scope, base, allowed), version)


def _peak_detail(graph: Graph, est: Estimate, top: Any, at: Any, big: list[Any]) -> str:
    """What makes the peak, for the memory line naming ``top``: the values (the largest, and those
    about as large) and the buffers of the node ``at`` whose step the peak is at."""
    def makes(c: Any) -> str:
        return "; ".join(s.describe() for s in c.shapes.values()) or "nothing measurable"
    buffers = (f"{human_bytes(est.peak_work)} of buffers besides the {human_bytes(est.peak_bytes - est.peak_work)} "
               "of values the run holds then")
    if top is at and at is not big[0]:      # named for its buffers: it makes little itself (QA78 D3: an
        alike = [f"'{c.node}'" for c in big[1:4] if c.out_bytes and c.out_bytes >= big[0].out_bytes // 2]   # export's
        more = f", {', '.join(alike[:3])} about as much" if alike else ""             # "makes 5 characters")
        return f"it works with {buffers}: '{big[0].node}' makes {makes(big[0])}{more}"
    made = makes(top)
    alike = [f"'{c.node}'" for c in big[:4] if c is not top and c.out_bytes and c.out_bytes >= top.out_bytes // 2]
    if alike:           # (QA48: only 'load' was named, where windows, variation and stitch held as much)
        made += f"; {', '.join(alike[:3])} {'makes' if len(alike) == 1 else 'make'} about as much"
    if at is not None and est.peak_work and est.peak_work * 10 >= est.peak_bytes:
        who = "it works" if at is top else f"{_node(graph, at.node)} works"
        made += f"; at the peak {who} with {buffers}"
    return f"this node makes {made}"


def cost_problems(graph: Graph, scope: Iterable[str] | None = None, base_dir: Path | None = None,
                  limits: Limits | None = None, version: int | None = None,
                  allowed: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """One line per limit the run would exceed, naming the node, the estimate, the limit and the fix."""
    out: list[str] = []
    if limits is None:
        limits, out = Limits.from_env()
    est = remembered_estimate(graph, scope, base_dir, version, allowed)
    if not est.nodes:
        return out
    out.extend(named(_node(graph, c.node), s.problem, graph.nodes[c.node].type) for c in est.nodes.values()
               for s in c.shapes.values() if s.problem and (not c.guessed or (c.bounded and s.firm)))
    # (a guess refuses nothing it does not know whatever the sizes)
    if est.max_items is None:   # what every run compares against the limits, found once per estimate
        est.max_items = max((s.items or 0 for c in est.nodes.values() for s in c.shapes.values()), default=0)
        est.max_file_bytes = max((c.file_bytes for c in est.nodes.values()), default=0)
    for c in (est.nodes.values() if est.max_items > limits.items or est.max_file_bytes > limits.file_bytes else ()):
        for port, s in c.shapes.items():
            if s.items is not None and s.items > limits.items:
                out.append(f"{_node(graph, c.node)}: would make a list of {s.items:,} items; the limit is "
                           f"{limits.items:,} per list; make the windows longer or the audio shorter, or raise {Limits.ENV['items']}")
        if c.file_bytes > limits.file_bytes:
            out.append(f"{_node(graph, c.node)}: would write files of about {human_bytes(c.file_bytes)} each; the "
                       f"limit is {human_bytes(limits.file_bytes)} per file; shorten the audio, lower the rate or bit "
                       f"depth, use FLAC, or raise {Limits.ENV['file_bytes']}")
    if est.files > limits.files:
        writers = sorted((c for c in est.nodes.values() if c.files), key=lambda c: -c.files)
        top = writers[0]
        what = f"{top.files:,} files (mapped over {top.calls:,} items)" if top.calls > 1 else f"{top.files:,} file(s)"
        others = f", {est.files:,} in the whole run" if est.files != top.files else ""
        out.append(f"{_node(graph, top.node)}: would write {what}{others}; the limit is {limits.files:,} files per run"
                   "; stitch the windows before exporting or use fewer windows, or raise the limit with --max-files or "
                   f"{Limits.ENV['files']}")
    if est.peak_bytes > limits.memory_bytes:
        big = sorted(est.nodes.values(), key=lambda c: -c.out_bytes)
        at = est.nodes.get(est.peak_node) if est.peak_node is not None else None
        # the node the line names: the one whose value is the largest, or the one at whose step the peak is
        # where its working buffers outweigh any value (QA74: a high-pass's float64 copies), or where the values
        # stream through in blocks, held at the peak less than whole (QA125-2: 'load' named, and "shorten the
        # audio" said, for a streamed chain whose peak is an export's buffers, the same for any length)
        streamed = at is not None and est.peak_bytes - est.peak_work < big[0].out_bytes
        top = at if at is not None and (streamed or est.peak_work > big[0].out_bytes) else big[0]
        fix = ("the audio streams through in blocks, so shorter audio needs no less; raise the limit" if streamed
               else "shorten the audio, lower the rate or split the graph, or raise the limit")
        out.append(f"{_node(graph, top.node)}: the run would need about {human_bytes(est.peak_bytes)} of memory at its "
                   f"peak ({_peak_detail(graph, est, top, at, big)}); the limit is {human_bytes(limits.memory_bytes)} "
                   f"({limits.memory_source}); {fix} with --max-memory-gb or {Limits.ENV['memory_bytes']}")
    if est.work_s > limits.hours * 3600:
        top = max(est.nodes.values(), key=lambda c: c.work_s)
        out.append(f"{_node(graph, top.node)}: the run would take about {_seconds(est.work_s)} of work "
                   f"on a CPU (this node {_seconds(top.work_s)}); the limit is {limits.hours:g} h; shorten the audio or "
                   f"the generation or use fewer windows, or raise {Limits.ENV['hours']}")
    return out
