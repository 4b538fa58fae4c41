"""The Python API in the spirit of LangChain: compose linear chains with ``|``, run them on values.

>>> from nodes.io.load import load
>>> from nodes.dsp.resample import resample
>>> from nodes.io.export import export
>>> chain = load(path="melody.wav") | resample(rate_hz=32000) | export(path="melody32k.wav")
>>> result = chain.run()          # doctest: +SKIP
>>> chain.save("melody.msgpack")  # the same file `audiochain run` runs  # doctest: +SKIP

A chain is a :class:`~nodeflow.graph.Graph` underneath (``chain.graph``): for branches and
merges, keep adding nodes to it with ``graph.add`` / ``graph.connect``.

Values in, values out: ``chain.invoke(audio)`` feeds the chain's open input (an :class:`Audio`, a
``(numpy array, rate)`` pair, a file path or text) and returns the last node's output;
``chain.batch([a, b])`` does it for each.  A node function called on values runs on them:

>>> import numpy as np
>>> from nodes.dsp.basic import gain, fade
>>> gain((np.ones(4), 8000), gain_db=-6.0206).samples.round(3).tolist()
[[0.5, 0.5, 0.5, 0.5]]
>>> (gain(gain_db=-6.0206) | fade(fade_in_s=0.0005)).invoke((np.ones(4), 8000)).samples.round(3).tolist()
[[0.0, 0.125, 0.25, 0.375]]

This module holds the composition (:class:`Step`, :class:`Chain`) and how a run is configured;
how values become port values (:func:`~nodeflow.values.bind`, :func:`~nodeflow.values.call_node`,
:func:`~nodeflow.values.as_value`, :func:`~nodeflow.values.open_inputs`) is
:mod:`nodeflow.values`, whose names are importable from here as well.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, AsyncIterator, Generator, Iterable, Iterator

from . import values as _values
from .errors import GraphError, NodeflowError, ParameterError
from .graph import Graph, NodeRef
from .node import NodeSpec
from .registry import default_registry
from .runconfig import EXECUTOR_RUN_KEYWORDS, RUN_KEYWORDS, configured, warned
from .types import PortSpec, link_mode, type_name
from .values import _private_registry, as_value, bind, call_node, open_inputs

if TYPE_CHECKING:   # the executor imports this module (bind) when a run has inputs
    from .executor import RunResult

__all__ = ["Step", "Chain", "call_node", "as_value", "bind", "open_inputs"]

# where they were before nodeflow.values held them (tests/nodeflow/test_calling.py reads them here)
_sample_digests, _samples_digest = _values._sample_digests, _values._samples_digest


class Step:
    """A node type with parameters, not yet placed in a graph (``spec(**params)`` makes one)."""

    def __init__(self, spec: NodeSpec, params: dict[str, Any], id: str | None = None, port: str | None = None):
        self.spec, self.params, self.id, self.port = spec, dict(params), id, port
        if port is not None and port not in spec.inputs:
            raise GraphError(f"{spec.id}: no input '{port}'; inputs are: {', '.join(spec.inputs) or 'none'}")
        for k, v in self.params.items():  # fail at the line that wrote the mistake, naming the node type
            self.params[k] = spec.coerce(k, v, spec.id)   # (QA: "gain_db=100 is out of range" named no node)

    def named(self, id: str) -> "Step":
        """The same step with an explicit node id."""
        return Step(self.spec, self.params, id, self.port)

    def into(self, port: str) -> "Step":
        """The same step, fed through input ``port`` when chained (``load(...) | melody().into("melody")``)
        instead of the first input that takes the value."""
        return Step(self.spec, self.params, self.id, port)

    def __or__(self, other: "Step | Chain") -> "Chain":
        if isinstance(other, Chain):        # its refusals name what was written: step | chain
            return Chain.start(self)._then(other, written=f"{self.spec.id} | ({other!r})")
        return Chain.start(self) | other

    def __ror__(self, branches: "Mapping[str, Step | Chain]") -> "Chain":
        """``{"melody": load(...), "text": prompt(...)} | generate()``: each branch (a step or
        a chain) feeds the input of that name."""
        if not isinstance(branches, Mapping):
            return NotImplemented
        return Chain.merge(dict(branches), self)

    # a step runs as the one-node chain it starts: the same call forms, ``config`` included (QA68 D7)
    def stream(self, inputs: Any = None, config: dict[str, Any] | None = None, **kw: Any) -> Iterator[Any]:
        """Run this one node on ``inputs``, its output piece by piece; see :meth:`Chain.stream`."""
        return Chain.start(self).stream(inputs, config, **kw)

    async def ainvoke(self, inputs: Any = None, config: dict[str, Any] | None = None, **kw: Any) -> Any:
        """:meth:`invoke` without blocking the event loop; see :meth:`Chain.ainvoke`."""
        return await Chain.start(self).ainvoke(inputs, config, **kw)

    async def abatch(self, inputs: Iterable[Any], config: dict[str, Any] | None = None, **kw: Any) -> list[Any]:
        """:meth:`batch` without blocking the event loop; see :meth:`Chain.abatch`."""
        return await Chain.start(self).abatch(inputs, config, **kw)

    def astream(self, inputs: Any = None, config: dict[str, Any] | None = None, **kw: Any) -> AsyncIterator[Any]:
        """:meth:`stream` as an async iterator; see :meth:`Chain.astream`."""
        return Chain.start(self).astream(inputs, config, **kw)

    def run(self, targets: Iterable[str] | None = None, **kw: Any) -> RunResult:
        """Run this one node; see :meth:`Chain.run`."""
        return Chain.start(self).run(targets, **kw)

    def output(self, **kw: Any) -> Any:
        """Run this one node and return its (first) output value; see :meth:`Chain.output`."""
        return Chain.start(self).output(**kw)

    def invoke(self, inputs: Any = None, config: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Run this one node on ``inputs``; see :meth:`Chain.invoke`."""
        return Chain.start(self).invoke(inputs, config, **kw)

    def batch(self, inputs: Iterable[Any], config: dict[str, Any] | None = None, **kw: Any) -> list[Any]:
        """Run this one node on each of ``inputs``; see :meth:`Chain.batch`."""
        return Chain.start(self).batch(inputs, config, **kw)

    def __repr__(self) -> str:
        return f"{self.spec.id}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


class Chain:
    """A linear chain of nodes in a graph; ``chain | step`` links the last node to the next.

    A chain is a value: ``chain | step`` makes a new chain on a copy of the graph and leaves
    ``chain`` as it was, so one prefix can start several chains, each running and saving only its
    own nodes (as LangChain's runnables compose).  ``chain | other_chain`` (and ``step | chain``)
    links the last node's output into the other chain's one open input (an input no link feeds;
    a required one when it has any): reusable parts compose, ``pre | model | master``.  The other
    chain's nodes are copied, their ids given a suffix where taken (``gain`` -> ``gain_2``); where
    it has several open inputs that fit, ``other.into("node.port")`` picks one.

    >>> import numpy as np
    >>> from nodes.dsp.basic import gain, fade
    >>> pre, post = gain(gain_db=-6.0206) | gain(gain_db=0.0), gain(gain_db=0.0) | fade(fade_in_s=0.0005)
    >>> (pre | post).invoke((np.ones(4), 8000)).samples.round(3).tolist()
    [[0.0, 0.125, 0.25, 0.375]]
    """

    def __init__(self, graph: Graph, last: NodeRef, aliases: dict[str, str] | None = None,
                 port: str | None = None):
        self.graph, self.last = graph, last
        self.aliases = dict(aliases or {})   # a dict composition's branch names -> the open input they lead to
        self.port = port                     # "node.port" a chain before this one feeds (into), else None

    @classmethod
    def start(cls, step: Step, graph: Graph | None = None) -> "Chain":
        g = graph or Graph(default_registry())
        return cls(g, g.add(step.spec, step.id, **step.params))

    def __or__(self, other: "Step | Chain") -> "Chain":
        if isinstance(other, Chain):
            return self._then(other, written=f"({self!r}) | ({other!r})")
        if not isinstance(other, Step):
            raise GraphError(f"cannot chain {other!r}: use a node with parameters, e.g. gain(gain_db=-3)")
        prev_spec = self.graph.registry[self.graph.nodes[self.last.id].type]
        types = self.graph.output_types()
        out_name = next(iter(prev_spec.outputs))
        out_t = types[(self.last.id, out_name)]
        port: PortSpec | None
        if other.port is not None:                 # step.into(port): that input, or a clear refusal
            port = other.spec.inputs[other.port]
            if not link_mode(out_t, port.type):
                raise GraphError(f"cannot chain {prev_spec.id} into {other.spec.id}.{port.name}: its output is "
                                 f"{type_name(out_t)} but '{port.name}' takes {port.type_name}")
        else:
            port = next((p for p in other.spec.inputs.values() if link_mode(out_t, p.type)), None)
        if port is None:
            raise GraphError(f"cannot chain {prev_spec.id} into {other.spec.id}: its output is {type_name(out_t)} "
                             f"but the inputs take {', '.join(p.type_name for p in other.spec.inputs.values()) or 'nothing'}")
        g = self.graph.copy()
        ref = g.add(other.spec, other.id, **other.params)
        g.connect(self.last[out_name], ref[port.name])
        return Chain(g, ref, self.aliases, self.port)

    def into(self, port: str) -> "Chain":
        """The same chain, fed through its open input ``port`` (``"node.port"``, or a port name one
        open input has) when a chain before it links into it (``pre | post.into("mix.b")``), where it
        has several open inputs."""
        opens = self.open_inputs()
        hits = [f"{n}.{p}" for n, p, _ in opens if port in (f"{n}.{p}", p)]
        if len(hits) != 1:
            said = "no open input" if not hits else "several open inputs"
            raise GraphError(f"({self!r}).into({port!r}): {said} of that name; its open inputs are: "
                             f"{', '.join(f'{n}.{p}' for n, p, _ in opens) or 'none'}")
        return Chain(self.graph, self.last, self.aliases, hits[0])

    def _then(self, other: "Chain", written: str) -> "Chain":
        """``self | other``: one chain on a new graph, the last node's output linked into ``other``'s
        one open input that takes it; a refusal starts with ``written``, what the caller wrote."""
        last_spec = self.graph.registry[self.graph.nodes[self.last.id].type]
        types = self.graph.output_types()
        outs = [(name, types[(self.last.id, name)]) for name in last_spec.outputs]
        opens = other.open_inputs()
        if other.port is not None:
            opens = [o for o in opens if f"{o[0]}.{o[1]}" == other.port]
        pool = [o for o in opens if o[2].required] or opens
        pairs = [(name, n, p) for name, t in outs for n, p, ps in pool if link_mode(t, ps.type)]
        made = ", ".join(f"{self.last.id}.{name}: {type_name(t)}" for name, t in outs)
        if not pairs:
            takes = ", ".join(f"{n}.{p}: {ps.type_name}" for n, p, ps in pool)
            raise GraphError(f"{written}: the second chain has no open input that takes {made}"
                             + (f"; its open inputs: {takes}" if takes else " (every input is linked)"))
        if len({(n, p) for _, n, p in pairs}) > 1:
            names = sorted({f"{n}.{p}" for _, n, p in pairs})
            raise GraphError(f"{written}: the second chain has several open inputs that take {made}: "
                             f"{', '.join(names)}; pick one with .into(), e.g. ({other!r}).into({names[0]!r})")
        if len(pairs) > 1:
            raise GraphError(f"{written}: '{self.last.id}' gives several outputs that fit "
                             f"'{pairs[0][1]}.{pairs[0][2]}' ({', '.join(name for name, _, _ in pairs)}); "
                             "end the first chain with a node that gives one, or link the one you mean "
                             "with graph.connect")
        out_name, nid, port = pairs[0]
        g = self.graph.copy()
        if any(spec.id not in g.registry for spec in other.graph.registry._specs.values()):
            g.registry = _private_registry(g.registry)       # node types of its own: not added to a shared one
        ids = _copy_into(g, other.graph)
        g.connect(self.last[out_name], f"{ids[nid]}.{port}")
        aliases = dict(self.aliases)
        for name, target in other.aliases.items():           # its branch names, where still open and free
            n, _, p = target.partition(".")
            if name not in aliases and (n, p) != (nid, port):
                aliases[name] = f"{ids[n]}.{p}"
        return Chain(g, NodeRef(g, ids[other.last.id]), aliases, self.port)

    def run(self, targets: Iterable[str] | None = None, *, config: dict[str, Any] | None = None,
            executor: Any = None, **kw: Any) -> RunResult:
        """Run the chain's graph (or only what ``targets`` need) with ``config`` and ``executor`` as
        :meth:`invoke` takes them (default: the process-wide executor); returns the
        :class:`~nodeflow.executor.RunResult` (what nodes warned of is ``res.warnings``, and a Python
        :class:`~nodeflow.errors.AudioChainWarning` each).  ``kw`` go to
        :meth:`~nodeflow.executor.Executor.run` (``inputs``, ``keep``, ``output_dir``...); a keyword it
        does not take is a :class:`~nodeflow.errors.ParameterError` naming those it does."""
        executor, kw = configured(config, executor, kw, RUN_KEYWORDS + EXECUTOR_RUN_KEYWORDS)
        return warned(executor.run(self.graph, targets, **kw))

    def invoke(self, inputs: Any = None, config: dict[str, Any] | None = None, *, executor: Any = None,
               **run_kw: Any) -> Any:
        """Run the chain on ``inputs`` and return the last node's output (a dict by output name when
        it has several).

        ``inputs`` feeds the chain's open inputs (input ports no link feeds): one value for the one
        required open input (the first node's audio, say), or a dict by port name (``"audio"``) or
        ``"node_id.port"``.  A value is an :class:`Audio`, a ``(numpy array, rate)`` pair (samples
        ``[channels, frames]``, or 1-D for mono), a file path (read by an ``io.load`` node, as in a
        graph) or text; a list of clips fed to a port that takes one clip maps the node over it.
        Values are keyed by their content, so invoking again on the same audio is served from the
        cache.  ``config`` (as LangChain's): ``callbacks`` (handlers, see :mod:`nodeflow.callbacks`),
        ``device``, ``cache`` (``"memory"``: no disk cache, results kept in memory from one call to
        the next; ``False``: nothing cached) and ``max_workers``.  ``run_kw`` go to :meth:`~nodeflow.executor.Executor.run`
        (``device``, ``on_event``, ``output_dir``, ``keep``...); ``executor`` defaults to the
        process-wide one.
        """
        executor, run_kw = configured(config, executor, run_kw)
        graph = self.bind(inputs, base_dir=run_kw.get("base_dir"))
        res = warned(executor.run(graph, [self.last.id], **run_kw))
        outs = res[self.last.id]
        return next(iter(outs.values())) if len(outs) == 1 else dict(outs)

    def batch(self, inputs: Iterable[Any], config: dict[str, Any] | None = None, *,
              max_concurrency: int | None = None, executor: Any = None, return_exceptions: bool = False,
              **run_kw: Any) -> list[Any]:
        """:meth:`invoke` on each of ``inputs`` (up to ``max_concurrency`` at a time, default the CPU
        count), results in order; the first failure (in order) is raised, naming its item, or with
        ``return_exceptions`` every item's error takes its place in the results.  Each item's exports
        write files of their own, numbered as a mapped export's are (``take.wav``: ``take_1.wav``,
        ``take_2.wav``...; QA47: every item was written to the same file, one take left)."""
        import concurrent.futures as cf
        if max_concurrency is not None and (isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int)
                                            or max_concurrency < 1):     # (QA: 0, -1 and 2.5 were taken; "4" a TypeError)
            raise ParameterError(f"batch: max_concurrency={max_concurrency!r}; expected a whole number of at least 1 "
                                 "(or None: the CPU count)")
        items = list(inputs)
        ex, run_kw = configured(config, executor, run_kw)
        workers = max(1, min(len(items), max_concurrency or os.cpu_count() or 1))

        def one(i: int) -> Any:
            try:
                return self._numbered(i, len(items)).invoke(items[i], executor=ex, **run_kw)
            except NodeflowError as e:
                if return_exceptions:
                    return e
                if isinstance(e, (GraphError, ParameterError)):
                    raise type(e)(f"batch item {i}: {e}") from e
                e.args = (f"batch item {i}: {e}", *e.args[1:])   # the same error (its node, its result), named
                raise

        if workers == 1:
            return [one(i) for i in range(len(items))]
        with cf.ThreadPoolExecutor(workers, thread_name_prefix="nodeflow-batch") as pool:
            return list(pool.map(one, range(len(items))))

    def _numbered(self, i: int, n: int) -> "Chain":
        """This chain with its write paths (exports') numbered for item ``i`` of ``n``."""
        from .graphpaths import path_params
        from .outputs import numbered
        writes = path_params(self.graph, "write") if n > 1 else []
        if not writes:
            return self
        g = self.graph.copy()
        for nid, param, value in writes:
            g.set(nid, param, numbered(value, i, n), own=(nid, param) in self.graph.own_paths)
        return Chain(g, self.last, self.aliases)

    def stream(self, inputs: Any = None, config: dict[str, Any] | None = None, *, executor: Any = None,
               **run_kw: Any) -> Generator[Any, None, None]:
        """Run the chain on ``inputs`` (as :meth:`invoke`, with its ``config``) and yield the last
        node's output piece by piece as it is made (:meth:`~nodeflow.executor.Executor.stream`):
        list items in order, windows a model hands on; a node that makes its output at once yields
        it once."""
        ex, run_kw = configured(config, executor, run_kw)
        graph = self.bind(inputs, base_dir=run_kw.get("base_dir"))
        yield from ex.stream(graph, self.last.id, **run_kw)

    async def ainvoke(self, inputs: Any = None, config: dict[str, Any] | None = None, **kw: Any) -> Any:
        """:meth:`invoke` without blocking the event loop (the run happens on a worker thread).
        Cancelling the task (``asyncio.wait_for`` running out, say) stops the run: it raises once
        the run has stopped, within a node's cancel check."""
        cancel = kw.pop("cancel_event", None) or threading.Event()
        return await _stopped_with(cancel, self.invoke, inputs, config, cancel_event=cancel, **kw)

    async def abatch(self, inputs: Iterable[Any], config: dict[str, Any] | None = None, **kw: Any) -> list[Any]:
        """:meth:`batch` without blocking the event loop; cancelling the task stops every item."""
        cancel = kw.pop("cancel_event", None) or threading.Event()
        out: list[Any] = await _stopped_with(cancel, self.batch, list(inputs), config, cancel_event=cancel, **kw)
        return out

    async def astream(self, inputs: Any = None, config: dict[str, Any] | None = None,
                      **kw: Any) -> AsyncIterator[Any]:
        """:meth:`stream` as an async iterator; leaving the loop early, or cancelling the task that
        reads it, stops the run."""
        import asyncio
        cancel = kw.pop("cancel_event", None) or threading.Event()
        pieces = self.stream(inputs, config, cancel_event=cancel, **kw)
        done = object()
        try:
            while True:
                piece = await _stopped_with(cancel, next, pieces, done)
                if piece is done:
                    return
                yield piece
        finally:
            cancel.set()
            await asyncio.to_thread(pieces.close)      # no next() is running now (see _stopped_with)

    @classmethod
    def merge(cls, branches: dict[str, Any], step: Step) -> "Chain":
        """One graph where each branch (a :class:`Step` or :class:`Chain`) feeds ``step``'s input of
        the same name (``port`` or ``"node.port"`` is not needed: the step is the new node)."""
        g = Graph(_private_registry(default_registry()))     # branches may bring node types of their own
        lasts: dict[str, str] = {}
        aliases: dict[str, str] = {}
        for port, branch in branches.items():
            if port not in step.spec.inputs:
                raise GraphError(f"{step.spec.id}: no input '{port}' for the branch {branch!r}; inputs are: "
                                 f"{', '.join(step.spec.inputs) or 'none'}")
            if isinstance(branch, Step):
                branch = Chain.start(branch)
            if not isinstance(branch, Chain):
                raise GraphError(f"{step.spec.id}.{port}: a branch is a node step or a chain, not {type(branch).__name__}"
                                 " (feed values with invoke({...}) instead)")
            before = set(g.nodes)
            lasts[port] = _copy_into(g, branch.graph)[branch.last.id]
            opened = [(n, p) for n, p, ps in open_inputs(g) if n not in before and ps.required]
            if len(opened) == 1:          # invoke({"a": clip}) feeds the branch named "a"
                aliases[port] = f"{opened[0][0]}.{opened[0][1]}"
        ref = g.add(step.spec, step.id, **step.params)
        for port, last in lasts.items():
            spec = g.registry[g.nodes[last].type]
            g.connect(last + "." + next(iter(spec.outputs)), ref[port])   # checked: a mismatch names both ends
        return cls(g, ref, aliases)

    def open_inputs(self) -> list[tuple[str, str, PortSpec]]:
        """``(node_id, port, spec)`` of every input port of the chain that no link feeds."""
        return open_inputs(self.graph)

    def bind(self, inputs: Any = None, base_dir: str | os.PathLike[str] | None = None) -> Graph:
        """A copy of the chain's graph with ``inputs`` (see :meth:`invoke`) linked into its open inputs;
        a dict composition's branch names stand for the inputs of their branches; ``base_dir``: where
        relative file paths are (the run's)."""
        if isinstance(inputs, dict) and self.aliases:
            inputs = {self.aliases.get(k, k) if isinstance(k, str) else k: v for k, v in inputs.items()}
        return bind(self.graph, inputs, aliases=self.aliases, base_dir=base_dir)

    def output(self, **kw: Any) -> Any:
        """Run only what the last node needs and return its (first) output value; ``kw`` as
        :meth:`run` takes them (``config=``, ``executor=``...)."""
        res = self.run([self.last.id], **kw)
        return next(iter(res[self.last.id].values()))

    def save(self, path: str | os.PathLike[str]) -> Path:
        from .fileformat import save
        return save(self.graph, path)

    def __repr__(self) -> str:
        return " | ".join(f"{self.graph.nodes[n].type}" for n in self.graph.nodes)


def _copy_into(g: Graph, src: Graph) -> dict[str, str]:
    """Copy ``src``'s nodes and links into ``g`` (ids that are taken get a suffix); their new ids."""
    from .graph import Link, NodeInstance
    for spec in src.registry._specs.values():
        if spec.id not in g.registry:
            g.registry.add(spec)
    ids: dict[str, str] = {}
    for nid, inst in src.nodes.items():
        new = g._new_id(nid)
        ids[nid] = new
        g.nodes[new] = NodeInstance(new, inst.type, dict(inst.params), inst.version)
        for (n, p), v in src.own_paths.items():
            if n == nid:
                g.own_paths[(new, p)] = v
    g.links.extend(Link(ids[l.src], l.src_port, ids[l.dst], l.dst_port) for l in src.links)
    g._touch()
    return ids


async def _stopped_with(cancel: threading.Event, fn: Any, *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)`` on a worker thread, awaited; when the awaiting task is cancelled, ``cancel``
    is set and the thread is waited for before the cancellation goes on (a run left going used the
    CPU for seconds, and closing a stream while its ``next`` ran raised "generator already
    executing")."""
    import asyncio
    import contextlib
    work = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kw))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        cancel.set()
        with contextlib.suppress(BaseException):
            await work
        raise
