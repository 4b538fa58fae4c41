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
>>> gain((np.ones(4), 4), gain_db=-6.0206).samples.round(3).tolist()
[[0.5, 0.5, 0.5, 0.5]]
>>> (gain(gain_db=-6.0206) | fade(fade_in_s=1.0)).invoke((np.ones(4), 4)).samples.round(3).tolist()
[[0.0, 0.125, 0.25, 0.375]]
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Generator, Iterable, Iterator

import numpy as np

from .audio import Audio
from .errors import GraphError, NodeflowError, ParameterError
from .graph import Graph, NodeRef, PortRef
from .node import Context, NodeSpec
from .registry import Registry, default_registry
from .types import ParamSpec, PortSpec, is_list, item_type, link_mode, type_name

if TYPE_CHECKING:   # the executor imports this module (bind) when a run has inputs
    from .executor import RunResult

__all__ = ["Step", "Chain", "call_node", "as_value", "bind", "open_inputs"]


class Step:
    """A node type with parameters, not yet placed in a graph (``spec(**params)`` makes one)."""

    def __init__(self, spec: NodeSpec, params: dict[str, Any], id: str | None = None, port: str | None = None):
        self.spec, self.params, self.id, self.port = spec, dict(params), id, port
        if port is not None and port not in spec.inputs:
            raise GraphError(f"{spec.id}: no input '{port}'; inputs are: {', '.join(spec.inputs) or 'none'}")
        for k, v in self.params.items():  # fail at the line that wrote the mistake
            p = spec.params.get(k)
            if p is None:
                raise GraphError(f"{spec.id}: no parameter '{k}'; parameters are: {', '.join(spec.params) or 'none'}")
            self.params[k] = p.coerce(v)

    def named(self, id: str) -> "Step":
        """The same step with an explicit node id."""
        return Step(self.spec, self.params, id, self.port)

    def into(self, port: str) -> "Step":
        """The same step, fed through input ``port`` when chained (``load(...) | melody().into("melody")``)
        instead of the first input that takes the value."""
        return Step(self.spec, self.params, self.id, port)

    def __or__(self, other: "Step | Chain") -> "Chain":
        return Chain.start(self) | other

    def __ror__(self, branches: Any) -> "Chain":
        """``{"melody": load(...), "text": prompt(...)} | generate()``: each branch (a step or
        a chain) feeds the input of that name."""
        if not isinstance(branches, dict):
            return NotImplemented
        return Chain.merge(branches, self)

    def stream(self, inputs: Any = None, **kw: Any) -> Iterator[Any]:
        """Run this one node on ``inputs``, its output piece by piece; see :meth:`Chain.stream`."""
        return Chain.start(self).stream(inputs, **kw)

    async def ainvoke(self, inputs: Any = None, **kw: Any) -> Any:
        return await Chain.start(self).ainvoke(inputs, **kw)

    async def abatch(self, inputs: Iterable[Any], **kw: Any) -> list[Any]:
        return await Chain.start(self).abatch(inputs, **kw)

    def astream(self, inputs: Any = None, **kw: Any) -> AsyncIterator[Any]:
        return Chain.start(self).astream(inputs, **kw)

    def run(self, **kw: Any) -> RunResult:
        return Chain.start(self).run(**kw)

    def invoke(self, inputs: Any = None, **kw: Any) -> Any:
        """Run this one node on ``inputs``; see :meth:`Chain.invoke`."""
        return Chain.start(self).invoke(inputs, **kw)

    def batch(self, inputs: Iterable[Any], **kw: Any) -> list[Any]:
        """Run this one node on each of ``inputs``; see :meth:`Chain.batch`."""
        return Chain.start(self).batch(inputs, **kw)

    def __repr__(self) -> str:
        return f"{self.spec.id}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


class Chain:
    """A linear chain of nodes in a graph; ``chain | step`` links the last node to the next."""

    def __init__(self, graph: Graph, last: NodeRef, aliases: dict[str, str] | None = None):
        self.graph, self.last = graph, last
        self.aliases = dict(aliases or {})   # a dict composition's branch names -> the open input they lead to

    @classmethod
    def start(cls, step: Step, graph: Graph | None = None) -> "Chain":
        g = graph or Graph(default_registry())
        return cls(g, g.add(step.spec, step.id, **step.params))

    def __or__(self, other: "Step | Chain") -> "Chain":
        if isinstance(other, Chain):
            raise GraphError("chain | chain is ambiguous; build the second chain from steps, or use graph.connect")
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
        ref = self.graph.add(other.spec, other.id, **other.params)
        self.graph.connect(self.last[out_name], ref[port.name])
        return Chain(self.graph, ref)

    def run(self, targets: Iterable[str] | None = None, **kw: Any) -> RunResult:
        """Run the chain's graph; returns the :class:`~nodeflow.executor.RunResult`."""
        from .executor import run
        return run(self.graph, targets, **kw)

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
        ``device``, ``cache`` (``"memory"``: no disk cache; ``False``: nothing cached, a fresh
        executor) and ``max_workers``.  ``run_kw`` go to :meth:`~nodeflow.executor.Executor.run`
        (``device``, ``on_event``, ``output_dir``, ``keep``...); ``executor`` defaults to the
        process-wide one.
        """
        executor, run_kw = _configured(config, executor, run_kw)
        graph = self.bind(inputs)
        res = executor.run(graph, [self.last.id], **run_kw)
        outs = res[self.last.id]
        return next(iter(outs.values())) if len(outs) == 1 else dict(outs)

    def batch(self, inputs: Iterable[Any], config: dict[str, Any] | None = None, *,
              max_concurrency: int | None = None, executor: Any = None, return_exceptions: bool = False,
              **run_kw: Any) -> list[Any]:
        """:meth:`invoke` on each of ``inputs`` (up to ``max_concurrency`` at a time, default the CPU
        count), results in order; the first failure (in order) is raised, naming its item, or with
        ``return_exceptions`` every item's error takes its place in the results."""
        import concurrent.futures as cf
        items = list(inputs)
        ex, run_kw = _configured(config, executor, run_kw)
        workers = max(1, min(len(items), max_concurrency or os.cpu_count() or 1))

        def one(i: int) -> Any:
            try:
                return self.invoke(items[i], executor=ex, **run_kw)
            except NodeflowError as e:
                if return_exceptions:
                    return e
                if isinstance(e, (GraphError, ParameterError)):
                    raise type(e)(f"batch item {i}: {e}") from e
                e.add_note(f"(batch item {i})")
                raise

        if workers == 1:
            return [one(i) for i in range(len(items))]
        with cf.ThreadPoolExecutor(workers, thread_name_prefix="nodeflow-batch") as pool:
            return list(pool.map(one, range(len(items))))

    def stream(self, inputs: Any = None, config: dict[str, Any] | None = None, *, executor: Any = None,
               **run_kw: Any) -> Generator[Any, None, None]:
        """Run the chain on ``inputs`` (as :meth:`invoke`, with its ``config``) and yield the last
        node's output piece by piece as it is made (:meth:`~nodeflow.executor.Executor.stream`):
        list items in order, windows a model hands on; a node that makes its output at once yields
        it once."""
        ex, run_kw = _configured(config, executor, run_kw)
        graph = self.bind(inputs)
        yield from ex.stream(graph, self.last.id, **run_kw)

    async def ainvoke(self, inputs: Any = None, **kw: Any) -> Any:
        """:meth:`invoke` without blocking the event loop (the run happens on a worker thread)."""
        import asyncio
        return await asyncio.to_thread(self.invoke, inputs, **kw)

    async def abatch(self, inputs: Iterable[Any], **kw: Any) -> list[Any]:
        """:meth:`batch` without blocking the event loop."""
        import asyncio
        return await asyncio.to_thread(self.batch, list(inputs), **kw)

    async def astream(self, inputs: Any = None, **kw: Any) -> AsyncIterator[Any]:
        """:meth:`stream` as an async iterator; leaving the loop early stops the run."""
        import asyncio
        pieces = self.stream(inputs, **kw)
        done = object()
        try:
            while True:
                piece = await asyncio.to_thread(next, pieces, done)
                if piece is done:
                    return
                yield piece
        finally:
            await asyncio.to_thread(pieces.close)

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
            lasts[port] = _copy_into(g, branch.graph, branch.last.id)
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

    def bind(self, inputs: Any = None) -> Graph:
        """A copy of the chain's graph with ``inputs`` (see :meth:`invoke`) linked into its open inputs;
        a dict composition's branch names stand for the inputs of their branches."""
        if isinstance(inputs, dict) and self.aliases:
            inputs = {self.aliases.get(k, k) if isinstance(k, str) else k: v for k, v in inputs.items()}
        return bind(self.graph, inputs)

    def output(self, **kw: Any) -> Any:
        """Run only what the last node needs and return its (first) output value."""
        res = self.run([self.last.id], **kw)
        return next(iter(res[self.last.id].values()))

    def save(self, path: str | os.PathLike[str]) -> Path:
        from .fileformat import save
        return save(self.graph, path)

    def __repr__(self) -> str:
        return " | ".join(f"{self.graph.nodes[n].type}" for n in self.graph.nodes)


def open_inputs(graph: Graph) -> list[tuple[str, str, PortSpec]]:
    """``(node_id, port, spec)`` of every input port of ``graph`` that no link feeds."""
    linked = {(l.dst, l.dst_port) for l in graph.links}
    out = []
    for n in graph.nodes:
        spec = graph.spec(n)
        for p, ps in (spec.inputs.items() if spec else ()):
            if (n, p) not in linked:
                out.append((n, p, ps))
    return out


def bind(graph: Graph, inputs: Any = None, what: str = "invoke") -> Graph:
    """A copy of ``graph`` with ``inputs`` linked into its open inputs (input ports no link feeds):
    one value for the one required open input, or a dict by port name or ``"node.port"``; values as
    :meth:`Chain.invoke` takes them.  What ``Executor.run(graph, inputs=...)`` runs."""
    open_ = open_inputs(graph)
    names = ", ".join(f"{n}.{p}" for n, p, _ in open_) or "none"
    feeds: dict[tuple[str, str], tuple[PortSpec, Any]] = {}
    if inputs is None:
        pass
    elif isinstance(inputs, dict):
        for k, v in inputs.items():
            node_id, _, port = str(k).rpartition(".")
            match = [o for o in open_ if o[1] == port and (not node_id or o[0] == node_id)]
            if not match:
                raise GraphError(f"{what}: no open input '{k}'; open inputs are: {names}")
            if len(match) > 1:
                raise GraphError(f"{what}: input '{k}' is open on {len(match)} nodes; name one, e.g. "
                                 f"'{match[0][0]}.{port}'")
            feeds[match[0][:2]] = (match[0][2], v)
    else:
        wanted = [o for o in open_ if o[2].required] or open_
        if len(wanted) != 1:
            raise GraphError(f"{what}: the chain has {len(wanted)} open inputs ({names}); pass a dict by name, "
                             f"e.g. {{'{wanted[0][1] if wanted else 'audio'}': ...}}")
        feeds[wanted[0][:2]] = (wanted[0][2], inputs)
    g = graph.copy()
    g.registry = _private_registry(graph.registry)
    values: dict[str, Any] = {}
    sources: dict[str, NodeSpec] = {}
    for (node_id, port), (ps, v) in feeds.items():
        where = f"{what}: input '{node_id}.{port}'"
        t = ps.type
        if (isinstance(v, str) or _is_path(v)) and (t is Audio or (is_list(t) and item_type(t) is Audio)):
            if "io.load" not in g.registry:
                raise ParameterError(f"{where}: got a file path, but no node type 'io.load' is registered to read it")
            ref = g.add("io.load", g._new_id("input"), path=os.fspath(v))
        else:
            if isinstance(v, list) and not is_list(t):      # a list into a per-item port: mapped
                t = list[t]                                   # type: ignore[valid-type]
            value = as_value(v, t, where)
            digest = _digest(value)
            values[digest] = value
            name = type_name(t)
            if name not in sources:
                sources[name] = _source_spec(t, values)
            ref = g.add(sources[name], g._new_id("input"), digest=digest)
        g.connect(ref["out"], PortRef(node_id, port))
    return g


def _copy_into(g: Graph, src: Graph, last: str) -> str:
    """Copy ``src``'s nodes and links into ``g`` (ids that are taken get a suffix); ``last``'s new id."""
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
    return ids[last]


# ---------------------------------------------------------------------------------------- values in
def _is_path(value: Any) -> bool:
    return isinstance(value, os.PathLike)


def as_value(value: Any, t: Any, where: str) -> Any:
    """``value`` as a value of port type ``t``: an :class:`Audio` stays one, a ``(numpy array, rate)``
    pair becomes one (samples ``[channels, frames]``, or 1-D for mono), text stays text; a list
    port takes a list of those.  Anything else is a :class:`ParameterError` naming the port."""
    if is_list(t):
        if not isinstance(value, (list, tuple)) or _is_pair(value):
            value = [value]
        return [as_value(v, item_type(t), f"{where}[{i}]") for i, v in enumerate(value)]
    if t is Audio:
        if isinstance(value, Audio):
            return value
        if _is_pair(value):
            samples, rate = value
            if isinstance(samples, np.ndarray) and samples.dtype == np.float32 and samples.flags.writeable:
                samples = samples.copy()    # Audio adopts float32 arrays read-only: the caller's stays theirs
            return Audio(samples, rate)
        raise ParameterError(f"{where}: takes audio (an Audio, a (numpy array, sample rate) pair or a file path); "
                             f"got {type(value).__name__}")
    if t is str:
        if isinstance(value, str):
            return value
        raise ParameterError(f"{where}: takes text; got {type(value).__name__}")
    if t in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return t(value)
    if isinstance(t, type) and isinstance(value, t):
        return value
    raise ParameterError(f"{where}: takes {type_name(t)}; got {type(value).__name__}")


def _is_pair(value: Any) -> bool:
    """An (array, rate) pair; a pair whose rate is not a number is refused by name, not taken as
    "some other tuple"."""
    if not isinstance(value, tuple) or len(value) != 2:
        return False
    import numpy as np
    if not isinstance(value[0], (np.ndarray, list)):
        return False
    rate = value[1]
    if not isinstance(rate, (int, float, np.integer)) or isinstance(rate, bool):
        raise ParameterError(f"the sample rate of an (array, rate) pair must be a number of Hz, e.g. 44100; "
                             f"got {rate!r} ({type(rate).__name__})")
    return True


def _load_file(path: Any, where: str) -> Audio:
    """A file given where audio goes, read the way ``io.load`` reads it."""
    spec = default_registry().get("io.load")
    if spec is None:
        raise ParameterError(f"{where}: got a file path, but no node type 'io.load' is registered to read it")
    audio: Audio = spec.fn(path=os.fspath(path), ctx=Context(f"{where}: io.load"))
    return audio


def call_node(spec: NodeSpec, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    """``spec(*args, **kw)`` on values: data ports (by position or name) and parameters (by name),
    checked as :meth:`Graph.set` checks them; returns what the function returns.  An audio port
    takes an :class:`Audio`, a ``(numpy array, rate)`` pair or a file path; a list fed to a port that
    takes one item maps the node over it (as in a graph) and gives a list.

    >>> from nodes.dsp.basic import gain
    >>> import numpy as np
    >>> gain((np.full(4, 0.5), 8000), gain_db=6.0206).samples.round(3).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    """
    kw = dict(kw)
    ctx = kw.pop("ctx", None)
    names = list(spec.inputs)
    if len(args) > len(names):
        raise ParameterError(f"{spec.id}: takes {len(names)} input(s) ({', '.join(names) or 'none'}) by position; "
                             f"got {len(args)} values; parameters go by name, e.g. {spec.name}(audio, "
                             f"{next(iter(spec.params), 'param')}=...)")
    inputs: dict[str, Any] = dict(zip(names, args))
    for k in [k for k in kw if k in spec.inputs]:
        if k in inputs:
            raise ParameterError(f"{spec.id}: input '{k}' given twice (by position and by name)")
        inputs[k] = kw.pop(k)
    params = {n: p.default for n, p in spec.params.items()}
    for k, v in kw.items():
        p = spec.params.get(k)
        if p is None:
            raise ParameterError(f"{spec.id}: no parameter or input '{k}'; inputs are: {', '.join(names) or 'none'}; "
                                 f"parameters are: {', '.join(spec.params) or 'none'}")
        try:
            params[k] = p.coerce(v)
        except ParameterError as e:
            raise ParameterError(f"{spec.id}: {e}") from None
    missing = [n for n, p in spec.inputs.items() if p.required and inputs.get(n) is None]
    if missing:
        raise ParameterError(f"{spec.id}: input {', '.join(map(repr, missing))} needs a value")
    mapped: dict[str, list[Any]] = {}
    values: dict[str, Any] = {}
    for n, v in inputs.items():
        t, where = spec.inputs[n].type, f"{spec.id}: input '{n}'"
        if v is None:
            values[n] = None
        elif isinstance(v, list) and not is_list(t):
            mapped[n] = [_one(x, t, f"{where}[{i}]") for i, x in enumerate(v)]
        else:
            values[n] = _one(v, t, where)
    if spec.wants_ctx:
        params["ctx"] = ctx if ctx is not None else Context(spec.id)
    if not mapped:
        return spec.fn(**values, **params)
    lengths = {len(v) for v in mapped.values()}
    if len(lengths) > 1:
        raise ParameterError(f"{spec.id}: mapped inputs have different lengths ({sorted(lengths)})")
    return [spec.fn(**values, **{n: v[i] for n, v in mapped.items()}, **params) for i in range(lengths.pop())]


def _one(value: Any, t: Any, where: str) -> Any:
    if (isinstance(value, str) or _is_path(value)) and (t is Audio or (is_list(t) and item_type(t) is Audio)):
        audio = _load_file(value, where)
        return [audio] if is_list(t) else audio
    if is_list(t) and isinstance(value, list):
        return [_one(v, item_type(t), f"{where}[{i}]") for i, v in enumerate(value)]
    return as_value(value, t, where)


_sample_digests: dict[int, tuple[Any, str]] = {}     # id(samples) -> (weakref to them, digest)


def _samples_digest(x: Any) -> str:
    """blake2b of an array's bytes, remembered while the array lives when it cannot change (read-only
    and owning its memory, as ``Audio`` leaves a float32 array it was given): invoking again on the
    same clip costs no second pass over its samples (10 s of stereo: ~4 ms here)."""
    import weakref
    fixed = not x.flags.writeable and x.flags.owndata
    if fixed:
        hit = _sample_digests.get(id(x))
        if hit is not None and hit[0]() is x:
            return hit[1]
    digest = hashlib.blake2b(x.data.cast("B"), digest_size=20).hexdigest()
    if fixed:
        key = id(x)
        _sample_digests[key] = (weakref.ref(x, lambda _: _sample_digests.pop(key, None)), digest)
    return digest


def _digest(value: Any) -> str:
    """A content digest of an in-memory value (its cache key as an input)."""
    h = hashlib.blake2b(digest_size=20)

    def feed(v: Any) -> None:
        if isinstance(v, Audio):
            h.update(b"A" + repr((v.sample_rate, v.samples.shape, v.start_frame, v.index, v.tokens, v.overlap_frames,
                                  v.info, v.markers)).encode())
            h.update(_samples_digest(v.samples).encode())
        elif isinstance(v, list):
            h.update(b"L%d" % len(v))
            for x in v:
                feed(x)
        else:
            h.update(b"V" + repr((type(v).__name__, v)).encode())
    feed(value)
    return h.hexdigest()


def _source_spec(t: Any, values: dict[str, Any]) -> NodeSpec:
    """A node type with no inputs whose output is a value given to ``invoke`` (by its digest)."""
    from .costs import Shape

    def value(*, digest: str) -> Any:
        """A value given to invoke()."""
        return values[digest]

    def estimate(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Shape]:
        v = values[params["digest"]]
        clips = v if isinstance(v, list) else [v]
        audio = [c for c in clips if isinstance(c, Audio)]
        if not audio:
            return {"out": Shape(chars=sum(len(c) for c in clips if isinstance(c, str)))}
        big = max(audio, key=lambda a: a.frames)
        return {"out": Shape(big.frames, max(a.channels for a in audio), big.sample_rate,
                             items=len(clips) if isinstance(v, list) else None)}

    kind = re.sub(r"[^a-z0-9_]", "_", type_name(t).lower()).strip("_")
    return NodeSpec(id=f"input.{kind}", version=1, category="input", fn=value, inputs={},
                    outputs={"out": PortSpec("out", t)},
                    params={"digest": ParamSpec.from_annotation("digest", str, "", "invoke input")},
                    doc="A value given to invoke().", estimate=estimate, persist=False)


def _private_registry(base: Registry) -> Registry:
    """A registry with every node type of ``base``, to which an invoke adds its input types."""
    reg = Registry()
    reg._specs = dict(base._specs)
    reg._migrations = base._migrations
    reg.packs, reg.failed_packs = dict(base.packs), dict(base.failed_packs)
    return reg


CONFIG_KEYS = ("callbacks", "device", "cache", "max_workers")


RUN_KEYWORDS = ("base_dir", "output_dir", "device", "on_event", "cancel_event", "allow_outside", "keep", "on_output")


def _configured(config: dict[str, Any] | None, executor: Any, run_kw: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The executor and run keywords a ``config`` asks for (see :meth:`Chain.invoke`)."""
    unknown = sorted(set(run_kw) - set(RUN_KEYWORDS))
    if unknown:
        raise ParameterError(f"unknown keyword(s) {', '.join(map(repr, unknown))}; a run takes "
                             f"{', '.join(RUN_KEYWORDS)}, plus config={{{', '.join(CONFIG_KEYS)}}}")
    run_kw = dict(run_kw)
    config = dict(config or {})
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ParameterError(f"config: unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(CONFIG_KEYS)}")
    callbacks = config.get("callbacks")
    if callbacks:
        from .callbacks import handlers
        if callable(callbacks):
            callbacks = [callbacks]
        run_kw["on_event"] = handlers(*callbacks, run_kw.get("on_event"))
    if config.get("device") is not None:
        run_kw["device"] = str(config["device"])
    cache, workers = config.get("cache", True), config.get("max_workers")
    if cache not in (True, False, "memory", "disk"):
        raise ParameterError(f"config: cache={cache!r}; expected True (memory and disk), 'memory' or False")
    if executor is None and (cache is not True or workers):
        from .executor import Executor
        executor = Executor(max_workers=workers, disk_cache=None if cache in (False, "memory") else "default",
                            cache_bytes=0 if cache is False else 2 << 30)
    return (executor if executor is not None else _shared_executor()), run_kw


def _shared_executor() -> Any:
    """The process-wide executor :func:`nodeflow.executor.run` uses (made now if needed)."""
    from . import executor as _ex
    if _ex._default_executor is None:
        _ex._default_executor = _ex.Executor()
    return _ex._default_executor
