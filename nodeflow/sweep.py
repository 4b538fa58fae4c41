"""Sweeps and batches: run one graph under many parameter overrides, sharing upstream work.

>>> axes = [parse_axis("vary.semitones=0,5,7", g), parse_axis("gen.seed=1..4", g)]  # doctest: +SKIP
>>> variants = expand(axes, mode="grid")   # 12 variants                          # doctest: +SKIP
>>> report = run_sweep(g, variants, out_dir="out/sweep")                         # doctest: +SKIP

Each variant runs in its own output folder; one shared :class:`Executor` (and so one cache) means
nodes whose inputs do not depend on the swept parameters are computed once for all variants.
A manifest (``manifest.json`` and ``manifest.csv``) records every variant's parameters, seed,
checkpoints, package versions, durations, output paths, status and error.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .errors import NodeflowError, ParameterError
from .graph import Graph
from .manifest import PROMPT_NODE, OutputSummary, SweepReport, package_versions, write_manifest

if TYPE_CHECKING:   # the executor is imported where a sweep runs
    from .executor import Event, Executor

__all__ = ["Axis", "Variant", "parse_axis", "expand", "apply_overrides", "run_sweep", "batch", "VariantResult",
           "SweepReport", "write_manifest", "package_versions", "sweep_from_graph"]

MAX_VARIANTS = 10_000


@dataclasses.dataclass(frozen=True)
class Axis:
    node: str
    param: str
    values: tuple[Any, ...]
    listed: bool = False          # the values came as a JSON list (not split at commas)

    @property
    def name(self) -> str:
        return f"{self.node}.{self.param}"


@dataclasses.dataclass(frozen=True)
class Variant:
    index: int
    overrides: tuple[tuple[str, Any], ...]   # (("node.param", value), ...)

    @property
    def name(self) -> str:
        """``v003_param=value_...``: at most :data:`NAME_CHARS` characters after the index, made shorter
        by cutting the longest text values (marked ``…``), never a number (QA: a cut at 80 characters
        showed seed 1210484339 as ``seed=1`` and ``seed=121``); what does not fit is said as ``_etc``.
        Values keep their words in any script (:func:`_clean`); the ``vNNN`` index keeps names unique
        and never a reserved device name (CON, NUL...) on Windows."""
        keys = [_clean(k.split(".", 1)[1]) for k, _ in self.overrides]
        vals = [_clean(_short(v)) for _, v in self.overrides]
        def size() -> int:
            return _size("_".join(f"{k}={v}" for k, v in zip(keys, vals)))
        texts = [i for i, (_, v) in enumerate(self.overrides) if not _is_number(v)]
        for i in sorted(texts, key=lambda i: -len(vals[i])):
            text = vals[i].removesuffix(CUT)
            for n in range(len(text) - 1, 3, -1):
                if size() <= NAME_CHARS:
                    break
                vals[i] = text[:n].rstrip(". _") + CUT
        slug = ""
        for k, v in zip(keys, vals):
            piece = f"{k}={v}"
            if _size(slug) + _size(piece) + 1 > NAME_CHARS:
                slug += "_etc"
                break
            slug = f"{slug}_{piece}" if slug else piece
        return f"v{self.index:03d}" + (f"_{slug}" if slug else "")

    def as_dict(self) -> dict[str, Any]:
        return dict(self.overrides)


NAME_CHARS = 80     # a variant's folder name after its index (see _size)
CUT = "…"           # marks a shortened text (not "...": Windows strips a name's trailing dots)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _size(s: str) -> int:
    """How long a name is against :data:`NAME_CHARS`: its characters, or two fifths of its UTF-8
    bytes where more, so 80 is at most 200 bytes (file systems allow 255; 80 emoji are 320)."""
    return max(len(s), len(s.encode("utf-8")) * 2 // 5)


def _is_path(s: str) -> bool:
    """Whether a value reads as a file path (``../takes/take2.wav``, ``/abs/take``, ``C:\\x\\y.wav``, a
    name with an extension after a slash), not as text that holds a slash (``AC/DC rock``, ``AC/DC``,
    ``R&B/Soul``, ``東京/大阪``: QA72 L1 and QA74 showed them as ``DC_rock``, ``DC``, ``大阪``)."""
    if not ("/" in s.strip("/") or "\\" in s) or any(c.isspace() or c in '<>"|?*' for c in s):
        return False
    last = re.split(r"[/\\]", s.rstrip("/\\"))[-1]
    return s.startswith(("/", "./", "../", "~", "\\")) or re.match(r"^[A-Za-z]:[/\\]", s) is not None \
        or re.fullmatch(r".+\.[A-Za-z0-9]{1,5}", last) is not None


def _short(v: Any) -> str:
    """A value as a variant's folder name shows it: a path by its file name (``take2.wav``, not
    ``.._home_alice_Music_t...``), anything longer than 24 characters cut."""
    s = str(getattr(v, "value", v))
    if hasattr(v, "value") or _is_path(s):
        s = s.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or s
    return s if len(s) <= 24 else s[:24 - len(CUT)] + CUT


def _clean(t: str) -> str:
    """``t`` as part of a folder name: its letters and digits in any script kept (NFC, as macOS and a
    DAW's browser show them; QA72 L1: ``Bjørk`` was ``Bj_rk``), every run of spaces, symbols or
    characters a file system reserves (``/ \\ : * ? " < > |``, controls) one ``_``, none at its ends,
    nor trailing dots (``..`` is ``_``)."""
    import unicodedata
    t = unicodedata.normalize("NFC", t)
    keep = "".join(c if c in "_.=+-" + CUT or unicodedata.category(c)[0] in "LNM" else "\0" for c in t)
    return re.sub("\0+", "_", keep).strip("_").rstrip(". ") or "_"


def _split_values(text: str) -> list[str]:
    t = text.strip()
    if t.startswith("["):
        try:
            items = json.loads(t)
        except json.JSONDecodeError as e:
            raise ParameterError(f"sweep values {text!r}: invalid JSON list ({e.msg})") from None
        if not isinstance(items, list) or not items:
            raise ParameterError(f"sweep values {text!r}: expected a non-empty JSON list")
        return [json.dumps(i) if not isinstance(i, str) else i for i in items]
    number = r"-?(?:\d+(?:\.\d*)?|\.\d+)"
    m = re.fullmatch(rf"\s*({number})\s*\.\.\s*({number})\s*(?::\s*({number}))?\s*", t)
    if m:                  # A..B or A..B:STEP, decimal steps counted exactly (0.5..2:0.5 -> 0.5,1.0,1.5,2.0)
        from decimal import Decimal
        a, b = Decimal(m.group(1)), Decimal(m.group(2))
        whole = all("." not in g for g in m.groups() if g)
        if m.group(3) is None and not whole:
            raise ParameterError(f"sweep range {text!r}: a range of non-whole numbers needs a step, e.g. "
                                 f"{m.group(1)}..{m.group(2)}:0.5 (or list the values: 0.5,1,1.5)")
        step = Decimal(m.group(3) or 1)
        if step <= 0 or b < a:
            raise ParameterError(f"sweep range {text!r}: expected A..B with A <= B (and a positive :STEP)")
        if (b - a) // step + 1 > MAX_VARIANTS:
            raise ParameterError(f"sweep range {text!r} has more than {MAX_VARIANTS} values")
        count = int((b - a) // step) + 1
        return [str(a + i * step) for i in range(count)]
    values = [p.strip() for p in t.split(",")]
    json_hint = 'for values with commas or quotes write a JSON list: NODE.PARAM=["a, b","c"]'
    if any(v and (v[0] in "\"'" or v[-1] in "\"'") for v in values):    # (QA: quotes went into the prompts as text)
        raise ParameterError(f"sweep values {text!r}: quotes do not group values (values are split at every comma); "
                             + json_hint)
    if "" in values and t:                             # (QA: -6,,-3 dropped the empty one without a word)
        where = "between two commas" if "" in values[1:-1] else "after the last comma" if values[-1] == "" else \
            "before the first comma"
        raise ParameterError(f"sweep values {text!r}: an empty value {where}; give each value, or " + json_hint)
    return values if t else []


def split_notice(name: str, values: Sequence[Any]) -> str:
    """A line showing text values as they were split at commas ('' where none is text with a space): a
    prompt with a comma became two values without a word (QA)."""
    from .term import printable
    texts = [v for v in (getattr(v, "value", v) for v in values) if isinstance(v, str)]
    if not any(" " in t for t in texts):
        return ""
    return (f"  {name}: " + " | ".join(printable(repr(t)) for t in texts)
            + ' (split at commas; a JSON list keeps a comma in a value: ["a, b", "c"])')


def parse_axis(spec: str, graph: Graph) -> Axis:
    """Parse ``NODE.PARAM=v1,v2`` / ``NODE.PARAM=1..8`` / ``NODE.PARAM=["a, b", "c"]``."""
    target, eq, text = spec.partition("=")
    node_id, dot, param = target.strip().partition(".")
    if not eq or not dot:
        raise ParameterError(f"--sweep {spec!r}: expected NODE.PARAM=v1,v2,... or NODE.PARAM=1..8")
    if node_id not in graph.nodes:
        raise ParameterError(f"--sweep {spec!r}: {graph.no_node(node_id)}")
    pspec = graph.spec(node_id)
    try:
        raws = _split_values(text)
    except ParameterError as e:     # (QA43: "sweep range '5..1': ..." said not which of several --sweep)
        raise ParameterError(f"--sweep {spec!r}: {e}") from None
    listed = text.strip().startswith("[")      # a JSON list: not split at commas
    if pspec is not None and param not in pspec.params and (variables := _template_variable(graph, node_id, param)):
        return Axis(node_id, "variables", tuple(variables(r) for r in raws), listed=listed)
    if pspec is None or param not in pspec.params:
        names = ", ".join(pspec.params) if pspec else "unknown node type"
        raise ParameterError(f"--sweep {spec!r}: node '{node_id}' has no parameter '{param}' ({names})")
    p = pspec.params[param]
    values = []
    for raw in raws:
        try:
            values.append(p.parse(raw))
        except ParameterError as e:
            raise ParameterError(f"--sweep {spec!r}: {e}") from None
    if not values:
        raise ParameterError(f"--sweep {spec!r}: no values given")
    return Axis(node_id, param, tuple(values), listed=listed)


def _template_variable(graph: Graph, node_id: str, name: str) -> Callable[[str], str] | None:
    """For ``{name}``, a variable of prompt template ``node_id`` (a field of its template that is no
    parameter): the node's ``variables`` text with ``name`` set to a value, as ``tune --vary`` writes
    it; else None.  QA64: `tune --vary prompt.feel=...` worked and `run --sweep prompt.feel=...` was refused."""
    from .manifest import PROMPT_NODE
    from .tune_search import _current, _template_fields, _variables, variables_text
    if graph.nodes[node_id].type != PROMPT_NODE or name not in _template_fields(str(_current(graph, node_id, "template"))):
        return None
    own = _variables(str(_current(graph, node_id, "variables")))
    return lambda value: variables_text({**own, name: value.strip()})


def expand(axes: Sequence[Axis], mode: str = "grid") -> list[Variant]:
    """Every combination (``grid``) or paired values (``zip``, all axes the same length)."""
    if not axes:
        return [Variant(0, ())]
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise ParameterError(f"a parameter is swept twice: {', '.join(sorted(n for n in names if names.count(n) > 1))}")
    if mode == "zip":
        lengths = {a.name: len(a.values) for a in axes}
        if len(set(lengths.values())) != 1:
            raise ParameterError("--zip needs sweeps of equal length; got " +
                                 ", ".join(f"{k}: {v}" for k, v in lengths.items()))
        combos = list(zip(*(a.values for a in axes)))
    elif mode == "grid":
        total = 1
        for a in axes:
            total *= len(a.values)
        if total > MAX_VARIANTS:
            raise ParameterError(f"the sweep grid has {total} variants (limit {MAX_VARIANTS}); use --zip or fewer values")
        combos = list(itertools.product(*(a.values for a in axes)))
    else:
        raise ParameterError(f"sweep mode {mode!r}: expected grid or zip")
    return [Variant(i, tuple(zip(names, c))) for i, c in enumerate(combos)]


def apply_overrides(graph: Graph, overrides: dict[str, Any] | Iterable[tuple[str, Any]]) -> Graph:
    """A copy of ``graph`` with ``{"node.param": value}`` applied (values validated).

    The copy is one variant, so it carries no saved sweep: a file it exports embeds a graph
    that re-renders that variant, not the whole sweep again.  Values may come from a file (a
    saved sweep), so a write path set here stays inside the output folder (``allow_outside``).
    """
    g = graph.copy()
    g.sweep = {}
    items = overrides.items() if isinstance(overrides, dict) else overrides
    for key, value in items:
        node_id, _, param = key.partition(".")
        g.set(node_id, param, value, own=False)
    return g


def sweep_from_graph(graph: Graph) -> tuple[list[Axis], str]:
    """The sweep saved in a graph file (its ``sweep`` section: axes and mode)."""
    saved = getattr(graph, "sweep", None) or {}
    axes = []
    for i, ax in enumerate(saved.get("axes", [])):
        if not isinstance(ax, dict) or not isinstance(ax.get("param"), str) or not isinstance(ax.get("values"), list):
            raise ParameterError(f"saved sweep axis {i}: expected {{'param': 'node.param', 'values': [...]}}")
        node_id, _, param = ax["param"].partition(".")
        spec = graph.spec(node_id) if node_id in graph.nodes else None
        if spec is None or param not in spec.params:
            raise ParameterError(f"saved sweep axis {ax['param']!r}: no such node parameter")
        if not ax["values"]:             # (QA44: an empty axis ran "0/0 variant(s) ok", exit 0, no audio)
            raise ParameterError(f"saved sweep axis {ax['param']!r} has no values; give it some in the graph's "
                                 "sweep, or run without it: --no-sweep")
        try:
            axes.append(Axis(node_id, param, tuple(spec.params[param].coerce(v) for v in ax["values"])))
        except ParameterError as e:      # (QA: 'peak_db=5.9 is out of range', no node, no word of the sweep)
            raise ParameterError(f"saved sweep axis {ax['param']!r} (node '{node_id}'): {e}; fix the value in the "
                                 "graph's sweep, or run without it: --no-sweep") from None
    mode = saved.get("mode", "grid")
    if mode not in ("grid", "zip"):      # (QA: mode 'evil' ran as a grid, a sweep of one variant without axes)
        raise ParameterError(f"saved sweep mode {str(mode)[:40]!r}: expected 'grid' or 'zip'; fix the graph's sweep, "
                             "or run without it: --no-sweep")
    if not axes:
        raise ParameterError("the saved sweep has no axes; fix the graph's sweep, or run without it: --no-sweep")
    return axes, mode


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
    device = assign_devices([variant], device)[0]
    vdir = out_dir / variant.name
    t0 = time.perf_counter()
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
        reads = g.read_state()
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
    from .sweepcheck import variant_problems
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
    variants = [Variant(i, tuple(o.items())) for i, o in enumerate(given)]
    base = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="audiochain-batch-"))
    try:
        return run_sweep(graph, variants, base, executor=executor, device=device, keep_values=True, check=False)
    finally:
        if output_dir is None and not any(p.is_file() for p in base.rglob("*")):
            shutil.rmtree(base, ignore_errors=True)
