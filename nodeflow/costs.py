"""What a run would cost, known before it runs: output sizes, peak memory, files and work.

Each node may declare ``estimate(inputs, params) -> {output: Shape}`` in ``@node``: from the
:class:`Shape` of its inputs (frames, channels, rate; list length) and its parameters it says what it
would make, without touching samples (``io.load`` reads the file header only).  :func:`estimate`
propagates shapes through the graph in topological order (a node mapped over a list is estimated
once per item and its output has the list's length), finds the run's peak memory, counts the files
exports write and the seconds of work; :mod:`.costlimits` turns what exceeds the limits into one line
per problem.

The peak is taken at each node's step: the values the run holds then (every value made before it, or
side by side with it, and its own: the executor's cache may keep each until the run ends) plus the
node's working buffers while it runs (:func:`_work`: its ``Shape.work_bytes``, else its declared
``@node(working=...)`` factor times the bytes of its inputs, else one more copy of its output; QA74:
5 min of 48 kHz stereo through a gain, a high-pass and a FLAC export grew the process by 770 MiB,
estimated at 440 MiB, as the high-pass filtered a float64 copy into a float64 result; it now filters
in blocks).

A node without an ``estimate`` passes its first audio input's shape through (right for gains,
fades, filters; a node that makes audio from nothing without an estimate is not counted).  Model
weights are not counted, only audio.  Estimates err on the large side: a list of windows is counted
as copies, ``bpm=auto`` as the fastest tempo.

>>> Shape(frames=48000 * 60, channels=2, rate=48000).nbytes       # a minute of stereo at 48 kHz
23040000
"""
from __future__ import annotations

import contextvars
import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterable

from .errors import ParameterError
from .outputs import resolve

if TYPE_CHECKING:   # costs is imported lazily by validation.py; these are for annotations only
    from .graph import Graph, NodeInstance
    from .node import NodeSpec

__all__ = ["Shape", "Estimate", "estimate", "project_rate", "human_bytes",
           "duration_class"]

SAMPLE_BYTES = 4            # float32, what Audio holds
DSP_SAMPLES_PER_S = 50e6    # default work: plain numpy passes over the samples
CALL_OVERHEAD_S = 2e-4      # per node call (a mapped node is called once per item)
_PROJECT_RATE: contextvars.ContextVar[int | None] = contextvars.ContextVar("project_rate", default=None)


@dataclasses.dataclass(frozen=True)
class Shape:
    """The size of a value a node makes (an estimate, never the value).

    ``frames``/``channels``/``rate`` describe one clip (for a list: its largest item); ``items`` is the
    list length (``None``: not a list); ``span`` the frames of the piece a list of windows covers
    (what ``stitch`` puts back together); ``chars`` the length of text.  ``file_bytes`` is what a
    writer writes per file; ``work_s`` the seconds of work to make one value (``None``: the default,
    proportional to the samples read and written); ``work_bytes`` memory the node needs while it
    runs beyond its inputs and output (``None``: its ``@node(working=...)`` factor times the bytes of
    its inputs, else one more copy of its output).
    """
    frames: int = 0
    channels: int = 0
    rate: int = 0
    items: int | None = None
    span: int | None = None
    chars: int = 0
    file_bytes: int = 0
    work_s: float | None = None
    work_bytes: int | None = None
    note: str = ""
    problem: str = ""      # what the node would refuse, known from the estimate (a rate its format cannot store)
    whole: bool = False    # a streaming node that, with these parameters, takes its input whole (an export
    #                        with a loudness target): the value feeding it is not streamed
    shortest: int | None = None   # a list's shortest item in frames, where known (a last window cut short):
    #                               a node mapped over it is estimated on that item too, for what it refuses
    guess: bool = False    # sizes only bounded, not known (windows of a meter the audio will say): what the nodes
    #                        after it would refuse of it is not said (QA: beats_per_bar=auto windows were refused
    #                        as 0.075 s by an export with a loudness target; they were 1.6 s)
    firm: bool = False     # the problem holds whatever the sizes (a rate the format cannot store): said after a
    #                        guess too (QA83 D4: an mp3 at a 96 kHz input's rate was refused only mid-run)

    @property
    def samples(self) -> int:
        return max(int(self.frames), 0) * max(int(self.channels), 0) * (self.items if self.items is not None else 1)

    @property
    def nbytes(self) -> int:
        return self.samples * SAMPLE_BYTES + self.chars * (self.items or 1)

    @property
    def seconds(self) -> float:
        return self.frames / self.rate if self.rate else 0.0

    def at(self, rate: int, channels: int | None = None) -> "Shape":
        """This clip converted to ``rate`` (and ``channels``), as the joins conform their inputs."""
        frames = math.ceil(self.frames * rate / self.rate) if self.rate else self.frames
        return Shape(frames, channels or self.channels, rate)

    def describe(self) -> str:
        if not self.rate:
            return f"{self.chars} characters" if self.chars else "nothing measurable"
        clip = f"{_seconds(self.seconds)} of {self.channels} ch at {self.rate / 1000:g} kHz"
        if self.items is not None:
            return f"{self.items:,} items of up to {clip} ({human_bytes(self.nbytes)})"
        return f"{clip} ({human_bytes(self.nbytes)})"


def project_rate() -> int | None:
    """The graph's project rate (``metadata["sample_rate"]``) while an estimate runs, else None."""
    return _PROJECT_RATE.get()


def join_rate(*shapes: Shape) -> int:
    """The rate the joins bring their inputs to: the highest, or the project rate."""
    return project_rate() or max(s.rate for s in shapes)


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"   # pragma: no cover


def _seconds(s: float) -> str:
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    return f"{s / 3600:,.3g} h" if s < 3.6e6 else f"{s / 3600:,.0f} h"


def duration_class(seconds: float) -> str:
    """``seconds``, ``minutes`` or ``hours``: how long the work is expected to take on a CPU."""
    return "seconds" if seconds < 60 else "minutes" if seconds < 3600 else "hours"


# ---------------------------------------------------------------------------------------- propagation
@dataclasses.dataclass
class NodeCost:
    node: str
    type: str
    shapes: dict[str, Shape]
    calls: int = 1                 # items when mapped
    files: int = 0
    file_bytes: int = 0
    work_s: float = 0.0
    work_bytes: int = 0
    guessed: bool = False          # it, or a node before it, has no estimate of its own: its shapes are the input's
    bounded: bool = False          # guessed only for sizes bounded before it (Shape.guess): rates and layouts known

    @property
    def out_bytes(self) -> int:
        return sum(s.nbytes for s in self.shapes.values())


@dataclasses.dataclass
class Estimate:
    nodes: dict[str, NodeCost]
    peak_bytes: int
    work_s: float
    files: int
    max_items: int | None = dataclasses.field(default=None, compare=False, repr=False)
    max_file_bytes: int = dataclasses.field(default=0, compare=False, repr=False)
    peak_node: str | None = dataclasses.field(default=None, compare=False)   # the node at whose step the peak is
    peak_work: int = dataclasses.field(default=0, compare=False)             # its working buffers then
    step_work: dict[str, int] = dataclasses.field(default_factory=dict, compare=False, repr=False)
    #   each node's working buffers at its step, as the peak counts them (a streamed node's: its blocks)

    @property
    def duration(self) -> str:
        return duration_class(self.work_s)

    def summary(self) -> str:
        at = (f" (at node '{self.peak_node}', {human_bytes(self.peak_work)} of it its working buffers)"
              if self.peak_node is not None and self.peak_work and self.peak_work * 10 >= self.peak_bytes else "")
        return (f"peak memory about {human_bytes(self.peak_bytes)}{at}, {self.files} file(s) written, "
                f"work: {self.duration} (about {_seconds(self.work_s)} on a CPU)")


def _is_list(t: Any) -> bool:
    import typing
    return typing.get_origin(t) is list


def _default(inputs: dict[str, Shape | None], outputs: Iterable[str]) -> dict[str, Shape] | None:
    first = next((s for s in inputs.values() if s is not None and s.rate), None)
    return None if first is None else {o: Shape(first.frames, first.channels, first.rate, first.items, first.span)
                                       for o in outputs}


def _collapse(s: Shape) -> Shape:
    """A list shape given to a single-valued output: the whole piece, once."""
    if s.items is None:
        return s
    frames = s.span if s.span is not None else s.frames * s.items
    return dataclasses.replace(s, frames=frames, items=None, span=None, shortest=None)


CUT_SHORT = ("a last window cut short: last='drop' where the windows are cut leaves it out, last='pad' fills "
             "it out with silence")


def _with_shortest(spec: NodeSpec, inputs: dict[str, Shape | None], item_inputs: dict[str, Shape | None],
                   mapped: set[str], params: dict[str, Any], got: dict[str, Shape], calls: int) -> dict[str, Shape]:
    """``got`` (estimated on a list's largest item), with what the node would refuse on its shortest
    item (QA: an export with a loudness target, mapped over windows whose last is 0.003 s, wrote four
    files, then failed on the fifth; the same export of one short clip was refused before running)."""
    short: dict[str, Shape] = {}
    for p in mapped:
        whole, item = inputs.get(p), item_inputs.get(p)
        if whole is not None and item is not None and whole.shortest is not None and whole.shortest < item.frames:
            short[p] = dataclasses.replace(item, frames=whole.shortest)
    if not short:
        return got
    other = spec.estimate({**item_inputs, **short}, params) if spec.estimate else None
    out = dict(got)
    for port, s in (other or {}).items():
        if port in out and out[port] is not None and s is not None and s.problem and not out[port].problem:
            rate = next(iter(short.values())).rate or 1
            frames = next(iter(short.values())).frames
            out[port] = dataclasses.replace(out[port], problem=(
                f"its shortest of {calls} item(s) is {frames / rate:.3f} s ({CUT_SHORT}): {s.problem}"))
    return out


def shortest_item_problem(spec: NodeSpec, args: dict[str, Any], mapped: dict[str, list[Any]],
                          params: dict[str, Any]) -> str:
    """What ``spec`` would refuse on the shortest of the clips it is about to be mapped over, said
    before any item runs (''": nothing).  The estimate before the run knows the items' lengths only where
    the grid does (QA: windows cut at ``bpm=auto`` wrote eight files, then an export with a loudness
    target failed on the 0.003 s ninth)."""
    from .audio import Audio
    if spec.estimate is None:
        return ""
    n = max(len(v) for v in mapped.values())
    lengths = [(a.frames, i) for v in mapped.values() for i, a in enumerate(v) if isinstance(a, Audio)]
    if n < 2 or not lengths or min(lengths)[0] == max(lengths)[0]:
        return ""          # items alike: the first fails before anything is written, as a single clip
    frames, i = min(lengths)

    def shape(v: Any) -> Shape | None:
        return Shape(v.frames, v.channels, v.sample_rate) if isinstance(v, Audio) else None
    shapes = {p: shape(v) for p, v in args.items()}
    shapes.update({p: shape(v[i]) for p, v in mapped.items()})
    try:
        got = spec.estimate(shapes, params) or {}
    except Exception:  # noqa: BLE001 - an estimate that cannot judge leaves it to the run
        return ""
    why = next((s.problem for s in got.values() if s is not None and s.problem), "")
    rate = next((s.rate for s in shapes.values() if s is not None and s.rate), 0) or 1
    last = f" ({CUT_SHORT})" if i == n - 1 else ""
    return f"item {i + 1} of {n} is {frames / rate:.3f} s{last}: {why}" if why else ""


def _params_for_estimate(inst: NodeInstance, spec: NodeSpec, base_dir: Path,
                         checkpoints: dict[tuple[str, str], Path]) -> dict[str, Any]:
    """``inst``'s parameters as the run reads them: input files absolute, a local checkpoint the folder
    found (``checkpoints``: :func:`~nodeflow.graphpaths.local_checkpoints` of the graph, once a graph)."""
    params = {k: v for k, v in inst.params.items()}
    for name, p in spec.params.items():      # input files as absolute paths (io.load reads the header)
        value = params.get(name)
        if p.kind == "path" and p.path and p.path.mode == "read" and isinstance(value, str) and value:
            params[name] = str(resolve(value, base_dir))
    for name in spec.checkpoint_params:     # a local checkpoint folder, as the run finds it (against the graph)
        if (folder := checkpoints.get((inst.id, name))) is not None:
            params[name] = str(folder)
    return params


def _refused(spec: NodeSpec, params: dict[str, Any]) -> bool:
    """Whether a parameter holds a value the node refuses (out of range, the wrong type...)."""
    for name, value in params.items():
        p = spec.params.get(name)
        if p is None:
            return True
        try:
            p.coerce(value)
        except (ParameterError, ValueError, TypeError):
            return True
    return False


def estimate(graph: Graph, scope: Iterable[str] | None = None, base_dir: Path | None = None,
             allowed: Collection[tuple[str, str]] = ()) -> Estimate:
    """Shapes of every node's outputs in ``scope`` (default: all), the run's peak memory, files and work."""
    base = Path(base_dir) if base_dir is not None else graph.base_dir()
    scope = set(graph.nodes if scope is None else scope)
    order = graph.topological_order() or []
    types = graph.output_types()
    into = graph.links_by_dst()
    from .validation import project_rate as checked_rate
    try:        # a rate no run can use is said by validation, and estimates nothing (QA: 1 GHz made 60 GiB)
        rate = checked_rate(graph.metadata.get("sample_rate") if isinstance(graph.metadata, dict) else None)
    except ParameterError:
        rate = None
    token = _PROJECT_RATE.set(rate)
    shapes: dict[tuple[str, str], Shape] = {}
    costs: dict[str, NodeCost] = {}
    from .graphpaths import foreign, local_checkpoints
    checkpoints = local_checkpoints(graph, base)     # once: it looks at every model node (QA: 0.4 s at 160)
    try:
        for nid in order:
            spec = graph.spec(nid)
            if nid not in scope or spec is None:
                continue
            links = [l for l in into.get(nid, ()) if l.dst_port in spec.inputs]
            mapped = {l.dst_port for l in links if graph._mode(l, spec, types) == "map"}   # O(links in)
            inputs = {l.dst_port: shapes.get((l.src, l.src_port)) for l in links}
            counts = [n for p in mapped if (s_in := inputs.get(p)) is not None and (n := s_in.items) is not None]
            calls = max(counts) if counts else 1
            item_inputs = {p: (dataclasses.replace(s, items=None, span=None, shortest=None) if p in mapped and s
                               is not None else s) for p, s in inputs.items()}
            try:
                params = _params_for_estimate(graph.nodes[nid], spec, base, checkpoints)
                if _refused(spec, graph.nodes[nid].params):    # validation says why; nothing follows from it
                    raise ParameterError(nid)                   # (QA47: an export then blamed the 10 Hz it made)
                if foreign(graph, nid, allowed=allowed):  # a file a graph's file names as AudioChain never
                    raise ParameterError(nid)                # saves: not opened before it is allowed
                got = spec.estimate(item_inputs, params) if spec.estimate else _default(item_inputs, spec.outputs)
                if got and spec.estimate and mapped:
                    got = _with_shortest(spec, inputs, item_inputs, mapped, params, got, calls)
            except Exception:   # noqa: BLE001 - a failing estimate leaves the node uncounted, never hides problems
                got = None
            outs: dict[str, Shape] = {}
            for port, s in (got or {}).items():
                if port not in spec.outputs or s is None:
                    continue
                if not _is_list(spec.outputs[port].type):
                    s = _collapse(s)
                if mapped:
                    src = next((inputs[p] for p in mapped if inputs.get(p) is not None), None)
                    span = shortest = None
                    if src is not None and src.span is not None and src.frames:
                        span = round(src.span * s.frames / src.frames)
                    if src is not None and src.shortest is not None and src.frames and s.frames:
                        shortest = round(src.shortest * s.frames / src.frames)
                    s = dataclasses.replace(s, items=calls if counts else None, span=span, shortest=shortest)
                outs[port] = s
                if not s.problem:       # a value the node refuses to make is unknown downstream (QA: an unreadable
                    shapes[(nid, port)] = s   # file's rate 0 made "size=1 bars is less than one token" after it)
            unknown = spec.estimate is None or any(costs[l.src].guessed and not costs[l.src].bounded
                                                   for l in links if l.src in costs)
            guessed = unknown or any(costs[l.src].guessed for l in links if l.src in costs) or any(
                s.guess for l in links if (s := shapes.get((l.src, l.src_port))) is not None)
            cost = NodeCost(nid, spec.id, outs, calls=calls, guessed=guessed, bounded=guessed and not unknown)
            read = sum(s.samples for s in inputs.values() if s is not None)
            read_bytes = sum(s.nbytes for s in item_inputs.values() if s is not None)     # per call
            for s in outs.values():
                per_call = s.work_s if s.work_s is not None else (
                    (read / calls + s.samples / (s.items or 1)) / DSP_SAMPLES_PER_S)
                cost.work_s += per_call * calls + CALL_OVERHEAD_S * calls
                cost.work_bytes = max(cost.work_bytes, _work(spec, s, read_bytes))
                if spec.side_effect:
                    cost.file_bytes = max(cost.file_bytes, s.file_bytes)
            if spec.side_effect and any(p.kind == "path" and p.path and p.path.mode == "write"
                                        for p in spec.params.values()):
                cost.files = calls
            costs[nid] = cost
    finally:
        _PROJECT_RATE.reset(token)
    streamed = _streamed(graph, costs, into, types)
    peak, at, work, steps = _peak(graph, costs, streamed, into)
    return Estimate(costs, peak, sum(c.work_s for c in costs.values()), sum(c.files for c in costs.values()),
                    peak_node=at, peak_work=work, step_work=steps)


def _work(spec: NodeSpec, out: Shape, read_bytes: int) -> int:
    """The working buffers of one call of ``spec`` making ``out`` from ``read_bytes`` of inputs: what its
    estimate says (``Shape.work_bytes``), else its declared ``working`` factor of its inputs (measured:
    a high-pass 4, a gain 0; see the nodes' declarations), else one more copy of its output."""
    if out.work_bytes is not None:
        return int(out.work_bytes)
    if spec.working is not None:
        return int(spec.working * read_bytes)
    return out.nbytes // (out.items or 1) if out.items is not None else out.nbytes


def _peak(graph: Graph, costs: dict[str, NodeCost], streamed: set[str],
          into: dict[str, list[Any]]) -> tuple[int, str | None, int, dict[str, int]]:
    """The run's peak memory, the node at whose step it is, that node's working buffers and every
    node's (the scheduler lets nodes run side by side while their buffers fit the rest of the limit).

    At a node's step the run holds every value but those of the nodes after it (a node before it or on
    another branch may have run already: its value may be kept until the run ends) and the node works
    with its buffers.  A node fed a value in blocks (streamed) works on blocks; a streamed node holds a
    few of them (:func:`_held`)."""
    order = [n for n in (graph.topological_order() or []) if n in costs]
    if not order:
        return 0, None, 0, {}
    index = {n: i for i, n in enumerate(order)}
    held = [_held(costs[n], streamed) for n in order]
    work = []
    for n in order:
        c, spec = costs[n], graph.spec(n)
        fed = [link.src for link in into.get(n, ()) if link.src in streamed]
        if n in streamed:
            w = _held(c, streamed)
        elif fed and spec is not None and spec.working is not None and not any(
                s.work_bytes is not None for s in c.shapes.values()):     # its declared factor, of blocks
            w = min(c.work_bytes, int(spec.working * sum(_held(costs[f], streamed) for f in fed)))
        else:
            w = c.work_bytes
        work.append(w)
    after = [0] * len(order)            # bit j set: order[j] comes after order[i] (depends on it)
    children: dict[int, set[int]] = {}
    for n in order:
        for link in into.get(n, ()):
            if link.src in index:
                children.setdefault(index[link.src], set()).add(index[n])
    for i in range(len(order) - 1, -1, -1):
        for j in children.get(i, ()):
            after[i] |= (1 << j) | after[j]
    total = sum(held)
    best, at = -1, 0
    # the largest working buffers first, the later of two alike (fewer values after it): the first
    # found usually stands, and a node whose buffers and every value cannot beat it is not looked at
    for i in sorted(range(len(order)), key=lambda i: (-work[i], -i)):
        if total + work[i] <= best:
            break
        later, mask = 0, after[i]
        while mask:
            low = mask & -mask
            later += held[low.bit_length() - 1]
            mask ^= low
        if total - later + work[i] > best:
            best, at = total - later + work[i], i
    return best, order[at], work[at], dict(zip(order, work))


def _streamed(graph: Graph, costs: dict[str, NodeCost], into: dict[str, list[Any]], types: dict[Any, Any]) -> set[str]:
    """The nodes whose value a run hands on in blocks, never whole: a value of a streaming node read
    by one streaming node and nothing else (and not a leaf), as :func:`nodeflow.streaming.plan_segments`
    fuses them, when it is big enough to be streamed (QA: an hour of load -> resample -> export was
    estimated at 7.2 GiB, refused under a 2 GiB limit, and ran in 127 MiB)."""
    from .streaming import STREAM_MIN_BYTES, fuses
    consumers: dict[str, int] = {}
    for nid in costs:
        for link in into.get(nid, ()):
            consumers[link.src] = consumers.get(link.src, 0) + 1
    out: set[str] = set()
    for dst in costs:
        spec = graph.spec(dst)
        links = [link for link in into.get(dst, ()) if spec is not None and link.dst_port in spec.inputs]
        if spec is None or not links or any(s.whole for s in costs[dst].shapes.values()):
            continue
        src = links[0].src
        s = graph.spec(src) if src in costs else None     # (a link from a node the graph lacks: no cost)
        if s is not None and costs[src].out_bytes >= STREAM_MIN_BYTES and fuses(
                s, spec, graph._mode(links[0], spec, types),
                (graph._mode(x, s, types) for x in into.get(src, ()) if x.dst_port in s.inputs),
                consumers.get(src, 0), len(links)):
            out.add(src)
    return out


def _held(cost: NodeCost, streamed: set[str]) -> int:
    """What a node's value takes while a run holds it: a streamed one, a few blocks."""
    if cost.node not in streamed:
        return cost.out_bytes
    from .streaming import BLOCK
    return sum(4 * BLOCK * 4 * max(s.channels, 1) for s in cost.shapes.values())
