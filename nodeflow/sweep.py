"""Sweeps and batches: run one graph under many parameter overrides, sharing upstream work.

>>> axes = [parse_axis("vary.semitones=0,5,7", g), parse_axis("gen.seed=1..4", g)]  # doctest: +SKIP
>>> variants = expand(axes, mode="grid")   # 12 variants                          # doctest: +SKIP
>>> report = run_sweep(g, variants, out_dir="out/sweep")                         # doctest: +SKIP

Each variant runs in its own output folder; one shared :class:`Executor` (and so one cache) means
nodes whose inputs do not depend on the swept parameters are computed once for all variants.
A manifest (``manifest.json`` and ``manifest.csv``) records every variant's parameters, seed,
checkpoints, package versions, durations, output paths, status and error.  What a sweep is before it
runs (its axes, variants and their names) is :mod:`nodeflow.sweepaxes`'s.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .errors import NodeflowError, ParameterError
from .graph import Graph
from .manifest import PROMPT_NODE, OutputSummary, SweepReport, package_versions, write_manifest
from .sweepaxes import (MAX_VARIANTS, Axis, Variant, apply_overrides, expand, held_value, parse_axis, split_notice,
                        sweep_from_graph, told_apart)
from .sweepaxes import _split_values as _split_values     # (it was here)

if TYPE_CHECKING:   # the executor is imported where a sweep runs
    from .executor import Event, Executor

__all__ = ["Axis", "Variant", "parse_axis", "expand", "apply_overrides", "run_sweep", "batch", "VariantResult",
           "SweepReport", "write_manifest", "package_versions", "sweep_from_graph", "split_notice", "MAX_VARIANTS"]


# ---------------------------------------------------------------------------------------- results
@dataclasses.dataclass
class VariantResult:
    variant: Variant
    status: str                       # ok | failed | cancelled
    output_dir: str
    outputs: list[str] = dataclasses.field(default_factory=list)
    durations_s: dict[str, float] = dataclasses.field(default_factory=dict)
    provenance: dict[str, str] = dataclasses.field(default_factory=dict)
    elapsed_s: float = 0.0
    error: str = ""
    ran: list[str] = dataclasses.field(default_factory=list)
    values: dict[str, dict[str, Any]] | None = None   # node outputs (Python API); not in the manifest;
    #   a failed or stopped variant keeps those made before it ended (None: nothing was)
    prompts: dict[str, str] = dataclasses.field(default_factory=dict)   # text.prompt_template id -> final text
    numbers: dict[str, float] = dataclasses.field(default_factory=dict)  # "node.port" -> float output (scores)
    warnings: dict[str, list[str]] = dataclasses.field(default_factory=dict)   # what nodes warned of (ctx.warn)
    reads: dict[str, str] = dataclasses.field(default_factory=dict)   # what it read (graphpaths.read_state)
    torch_threads: int | None = None   # the CPU generation thread count in force (devices.one_thread_count)
    problems: list[str] = dataclasses.field(default_factory=list)   # a refused graph's problems, one by one
    retry: bool = False   # failed for a reason outside the variant (a checkpoint, the disk, a package): see outside

    def row(self) -> dict[str, Any]:
        params = {k: getattr(v, "value", v) for k, v in self.variant.overrides}
        seeds = {k: v for k, v in params.items() if k.endswith(".seed")}
        return {"index": self.variant.index, "name": self.variant.name, "status": self.status,
                "params": params, "seed": seeds, "checkpoints": self.provenance, "durations_s": self.durations_s,
                "outputs": self.outputs, "output_dir": self.output_dir, "elapsed_s": round(self.elapsed_s, 3),
                "nodes_ran": self.ran, "error": self.error, "prompt": self.prompt, "warnings": self.warnings,
                "reads": self.reads, "torch_threads": self.torch_threads, **({"retry": True} if self.retry else {})}

    @property
    def prompt(self) -> str | dict[str, str]:
        """The final prompt text: the text.prompt_template's output ("" without one; by node id with several)."""
        if len(self.prompts) <= 1:
            return next(iter(self.prompts.values()), "")
        return dict(self.prompts)


def _prompts_not_made(executor: Executor, graph: Graph, summary: OutputSummary) -> None:
    """The final text of each prompt template the run did not make (what it fed came from the
    cache, so it was not needed): the manifest's ``prompt`` (QA: empty on every row of a sweep run
    again).  A template is text only: cheap, or cached itself."""
    missing = [n for n, inst in graph.nodes.items() if inst.type == PROMPT_NODE and n not in summary.prompts]
    if missing:
        with contextlib.suppress(NodeflowError):
            made = executor.run(graph, targets=missing)
            for n in missing:
                summary(n, made[n])


def assign_devices(variants: Sequence[Variant], devices: str | Sequence[str]) -> list[str]:
    """The device each variant runs on: a device list (``"cuda:0,cuda:1"`` or a sequence) is dealt
    round-robin by the variant's index; one device (``auto``, ``cpu``, ``cuda:1``) serves them all.

    >>> assign_devices([Variant(i, ()) for i in range(3)], "cuda:0,cuda:1")
    ['cuda:0', 'cuda:1', 'cuda:0']
    """
    from .devices import parse_device_list
    items = parse_device_list(devices if isinstance(devices, str) else ",".join(devices))
    return [items[v.index % len(items)] for v in variants]


def run_variant(executor: Executor, graph: Graph, variant: Variant, out_dir: Path, *, device: str = "auto",
                on_event: Callable[[Event], None] | None = None, cancel_event: threading.Event | None = None,
                keep_values: bool = False,
                allow_outside: Sequence[Any] = ()) -> VariantResult:
    """Run one variant into ``out_dir/<variant name>``; failures are recorded, not raised.
    ``device`` may be a sweep's device list: the variant takes its own (:func:`assign_devices`).

    A failed or stopped variant's row still lists what it made before it ended (the files its
    other exports wrote, their durations, the nodes that ran when the error says); with
    ``keep_values`` it keeps the values too (e.g. the audio an export that failed was given: the
    editor still plays it); its status and error say it failed."""
    from .errors import Cancelled
    from .outputs import linked_folder
    device = assign_devices([variant], device)[0]
    vdir = out_dir / variant.name
    t0 = time.perf_counter()
    if why := linked_folder(vdir, "a sweep variant's folder"):       # (also made since the sweep was checked)
        return VariantResult(variant, "failed", str(vdir), error=why)
    made: dict[str, dict[str, Any]] = {}          # every node's outputs as the run makes them (keep_values)

    def on_output(nid: str, outputs: dict[str, Any]) -> None:
        summary(nid, outputs)
        if keep_values:
            made[nid] = outputs

    summary = OutputSummary(graph)
    reads: dict[str, str] = {}
    try:
        g = apply_overrides(graph, variant.overrides)
        summary = OutputSummary(g)
        reads = g.read_state(allow_outside=allow_outside)      # (what the run refuses is not opened)
        res = executor.run(g, output_dir=vdir, device=device, on_event=on_event, cancel_event=cancel_event,
                           allow_outside=allow_outside, on_output=on_output, keep="all" if keep_values else ())
    except NodeflowError as e:
        status = "cancelled" if isinstance(e, Cancelled) else "failed"
        done = getattr(e, "result", None)      # what ran before it ended (another export's file is written)
        files, durations, prov = summary.merged(done.cache_keys if done is not None else list(summary.per_node))
        return VariantResult(variant, status, str(vdir), files, durations, prov, time.perf_counter() - t0,
                             error=str(e), ran=sorted(done.ran) if done is not None else [],
                             values=made_before(e, made) if keep_values else None,
                             prompts=summary.prompts, numbers=summary.numbers,
                             warnings=done.warnings if done is not None else {}, reads=reads,
                             problems=list(getattr(e, "problems", None) or []), retry=outside(e))
    _prompts_not_made(executor, g, summary)
    files, durations, prov = summary.merged(res.cache_keys)
    return VariantResult(variant, "ok", str(vdir), files, durations, prov, time.perf_counter() - t0,
                         ran=sorted(res.ran), values=res.outputs if keep_values else None,
                         prompts=summary.prompts, numbers=summary.numbers, warnings=res.warnings, reads=reads)


def outside(error: BaseException) -> bool:
    """``error`` (or what caused it) comes from outside the graph's values: a checkpoint not pulled or
    mistyped, a download, the disk, a missing package, memory.  The same variant can succeed once that
    is mended (a resumed tune renders it again); a failure of the values themselves cannot."""
    from .checkpoints import CheckpointError
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        if isinstance(e, (CheckpointError, OSError, ImportError, MemoryError)):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def made_before(error: BaseException, made: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """The values a run that raised ``error`` made before it ended, by node id: the run's own result
    when the error carries one (:class:`~nodeflow.errors.ExportsFailed`,
    :class:`~nodeflow.errors.Cancelled`), else ``made`` (each node's outputs as it finished);
    None when nothing was made.

    >>> made_before(NodeflowError("node 'read': no such file"), {})
    >>> made_before(NodeflowError("node 'export': cannot write"), {"gain": {"out": 0.5}})
    {'gain': {'out': 0.5}}
    """
    result = getattr(error, "result", None)
    values = dict(result.outputs) if result is not None else dict(made)
    return values or None


def check_variants(graph: Graph, variants: Sequence[Variant], out: Path, *, allow_outside: Sequence[Any] = (),
                   device: str = "auto") -> None:
    """Refuse, before anything runs, what the sweep's variants would refuse: every variant, or each
    value in the first variant that takes it in a very large sweep
    (:func:`~nodeflow.sweepcheck.variant_problems`).  What only running finds
    (a loudness target the audio cannot reach) fails its variant alone."""
    from .errors import GraphError
    from .outputs import linked_folder
    from .sweepcheck import variant_problems
    if linked := [why for v in variants if (why := linked_folder(out / v.name, "a sweep variant's folder"))]:
        raise GraphError(linked)
    if not variants:
        graph.check(output_dir=out, allow_outside=allow_outside, device=device)
    elif problems := variant_problems(graph, variants, out, allow_outside=allow_outside, device=device):
        raise GraphError(problems)


def run_sweep(graph: Graph, variants: Sequence[Variant], out_dir: str | os.PathLike[str], *,
              executor: Executor | None = None, device: str = "auto", on_event: Callable[[Event], None] | None = None,
              on_variant: Callable[[VariantResult], None] | None = None,
              cancel_event: threading.Event | None = None, keep_values: bool = False, allow_outside: Sequence[Any] = (),
              workers: int | None = None, check: bool = True) -> list[VariantResult]:
    """Run variants on one executor (one cache: upstream work they share is computed once, even
    by variants running at the same time) and return the results in variant order.

    Up to ``workers`` variants run at a time (default: the executor's worker limit, i.e. the CPU
    count; 1: one after another).  ``on_variant`` is called as each variant finishes, one call at a
    time; after Stop no new variant starts (those are reported ``cancelled``).  ``check``: what a
    variant would refuse refuses the sweep before any variant runs (:func:`check_variants`); False
    (a batch of independent inputs, a tune's candidates): such a variant fails alone.
    """
    from .executor import Executor
    ex = executor or Executor()
    out = Path(out_dir)
    if check:
        check_variants(graph, variants, out, allow_outside=allow_outside, device=device)
    workers = max(1, min(workers or ex.max_workers, len(variants) or 1))
    report_lock = threading.Lock()

    def one(v: Variant) -> VariantResult:
        if cancel_event is not None and cancel_event.is_set():     # never started: not reported
            return VariantResult(v, "cancelled", str(out / v.name), error="sweep cancelled")
        r = run_variant(ex, graph, v, out, device=device, on_event=on_event, cancel_event=cancel_event,
                        keep_values=keep_values, allow_outside=allow_outside)
        if r.status != "ok":           # a variant that failed before writing leaves no empty folder (QA84 D2)
            from .outputs import prune_empty
            prune_empty(Path(r.output_dir))
        r.torch_threads = pin.count           # what a rerun of the row uses again (bit for bit)
        if on_variant is not None:
            with report_lock:
                on_variant(r)
        return r

    from .devices import one_thread_count
    with one_thread_count() as pin:           # the variants compute alike (the last bits follow the count)
        if workers == 1:
            return [one(v) for v in variants]
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="nodeflow-sweep") as pool:
            return list(pool.map(one, variants))


def _as_set(graph: Graph, key: Any, value: Any) -> Any:
    """``value`` as the parameter ``key`` ("node.param") holds it once set (``-6`` for a float parameter is
    ``-6.0``; an auto parameter's None is ``auto``, see :func:`held_value`), so a batch names its variants
    as a sweep from the CLI does (QA84 D2: ``v000_gain_db=-6`` in Python, ``v000_gain_db=-6.0`` from the
    CLI); a value it refuses stays as given (its variant fails alone)."""
    try:
        node_id, _, param = str(key).partition(".")
        held = apply_overrides(graph, [(key, value)]).nodes[node_id].params[param]
        spec = graph.spec(node_id)
        return held_value(spec.params.get(param) if spec is not None else None, held)
    except (NodeflowError, KeyError, TypeError, ValueError):
        return value


def batch(graph: Graph, overrides: Sequence[dict[str, Any]], *, output_dir: str | os.PathLike[str] | None = None,
          executor: Executor | None = None, device: str = "auto",
          out_dir: str | os.PathLike[str] | None = None) -> list[VariantResult]:
    """Run ``graph`` once per ``{"node.param": value}`` dict, in order, sharing upstream work.

    Each result has ``status``, ``values`` (node outputs by id) and ``outputs`` (written files),
    each variant's in a folder of its own under ``output_dir`` (as ``invoke`` and ``Executor.run``
    name it; ``out_dir`` is its former name).  Without it the files exports write go to a new
    temporary folder (the results name them; it is yours to remove), and a batch that writes no
    file leaves no folder behind.
    """
    if out_dir is not None:         # (QA47: invoke and run say output_dir, batch said out_dir)
        if output_dir is not None:
            raise ParameterError("batch: give output_dir only (out_dir is its former name)")
        output_dir = out_dir
    whole = isinstance(overrides, (str, bytes, dict))         # (QA43: "'str' object has no attribute 'items'")
    given = [] if whole else list(overrides)
    odd = type(overrides).__name__ if whole else next((type(o).__name__ for o in given if not isinstance(o, dict)), None)
    if odd is not None:
        raise ParameterError("batch: overrides must be a list of dicts such as [{'gen.seed': 1}, {'gen.seed': 2}]; "
                             f"got {'a ' + odd if whole else 'a list holding a ' + odd}")
    from .graphpaths import path_mode
    variants = told_apart([Variant(i, tuple((k, _as_set(graph, k, v)) for k, v in o.items()))
                           for i, o in enumerate(given)],
                          paths={k for o in given for k in o if path_mode(graph, *str(k).partition(".")[::2])})
    base = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="audiochain-batch-"))
    try:
        return run_sweep(graph, variants, base, executor=executor, device=device, keep_values=True, check=False)
    finally:
        if output_dir is None and not any(p.is_file() for p in base.rglob("*")):
            shutil.rmtree(base, ignore_errors=True)
