"""Values in: Python values as the values of ports, for calling node functions on them and for
feeding a graph's open inputs.

A value is an :class:`~nodeflow.audio.Audio`, a ``(numpy array, rate)`` pair (samples
``[channels, frames]``, or 1-D for mono), a file path (read as ``io.load`` reads it) or text; a list
fed to a port that takes one item maps the node over it.  :func:`call_node` runs a node function on
values (what ``gain(clip, gain_db=-6)`` does); :func:`bind` links values into a copy of a graph's
open inputs (:func:`open_inputs`) as source nodes keyed by the values' content digests, which is
what :meth:`Chain.invoke <nodeflow.chain.Chain.invoke>` and ``Executor.run(graph, inputs=...)`` run;
:func:`as_value` checks one value against a port type.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .audio import AUDIO_RATES, Audio, StreamedAudio
from .errors import AudioError, GraphError, ParameterError, named
from .graph import Graph, PortRef
from .node import Context, NodeSpec
from .registry import Registry, default_registry
from .types import ParamSpec, PortSpec, is_list, item_type, type_name

__all__ = ["call_node", "as_value", "bind", "open_inputs", "value_digest"]


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


def bind(graph: Graph, inputs: Any = None, what: str = "invoke", aliases: dict[str, str] | None = None,
         base_dir: str | os.PathLike[str] | None = None) -> Graph:
    """A copy of ``graph`` with ``inputs`` linked into its open inputs (input ports no link feeds):
    one value for the one required open input, or a dict by port name or ``"node.port"``; values as
    :meth:`~nodeflow.chain.Chain.invoke` takes them.  What ``Executor.run(graph, inputs=...)`` runs.
    ``aliases`` (a dict composition's branch names -> ``"node.port"``) name the inputs in advice;
    ``base_dir``: where a relative file path is looked for (the run's; default the graph's folder, else
    the current one): a file that is not there is refused here, naming the input it was given for."""
    open_ = open_inputs(graph)
    names = ", ".join(f"{n}.{p}" for n, p, _ in open_) or "none"
    called = {v: k for k, v in (aliases or {}).items()}

    def example(ports: list[tuple[str, str, PortSpec]]) -> str:
        """A dict that feeds ``ports``, by their branch names where they have them (QA: the advice
        named 'audio', which two branches have)."""
        keys = [called.get(f"{n}.{p}") or (p if sum(o[1] == p for o in open_) == 1 else f"{n}.{p}")
                for n, p, _ in ports]
        return "{" + ", ".join(f"{k!r}: ..." for k in keys) + "}"
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
                raise GraphError(f"{what}: input '{k}' is open on {len(match)} nodes; name each, e.g. "
                                 f"{example(match)}")
            feeds[match[0][:2]] = (match[0][2], v)
        unfed = [o for o in open_ if o[2].required and o[:2] not in feeds]
        if unfed:        # (QA: a duet fed {'a': x} was told "node 'gain_2': required input 'audio' is not connected")
            n, p, _ = unfed[0]
            said = f"branch {called[f'{n}.{p}']!r} (input '{n}.{p}')" if f"{n}.{p}" in called else f"input '{n}.{p}'"
            raise GraphError(f"{what}: {said} is not fed; give every required input, e.g. "
                             f"{example([o for o in open_ if o[2].required])}")
    else:
        wanted = [o for o in open_ if o[2].required] or open_
        if not wanted:
            raise GraphError(f"{what}: the chain has no open input to feed; call it without an input")
        if len(wanted) != 1:
            raise GraphError(f"{what}: the chain has {len(wanted)} open inputs ({names}); pass a dict by name, "
                             f"e.g. {example(wanted)}")
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
            _check_file(v, graph, base_dir, where)
            ref = g.add("io.load", g._new_id("input"), path=os.fspath(v))
        else:
            if isinstance(v, list) and not is_list(t):      # a list into a per-item port: mapped
                t = list[t]                                   # type: ignore[valid-type]
            if isinstance(v, list) and item_type(t) is Audio and any(isinstance(x, str) or _is_path(x) for x in v):
                v = [_read(g, x, f"{where}[{i}]") if isinstance(x, str) or _is_path(x) else x   # (QA: a path in a
                     for i, x in enumerate(v)]                                                 # list was refused)
            value = as_value(v, t, where)
            digest = _digest(value)
            values[digest] = value
            name = type_name(t)
            if name not in sources:
                sources[name] = _source_spec(t, values)
            ref = g.add(sources[name], g._new_id("input"), digest=digest)
        g.connect(ref["out"], PortRef(node_id, port))
    return g


def _check_file(value: Any, graph: Graph, base_dir: str | os.PathLike[str] | None, where: str) -> None:
    """Refuse a file path that names nothing, as the input it was given for (QA47: the hidden io.load
    node that reads it was blamed, "node 'input': ... not found", a node the user never made)."""
    if not os.fspath(value).strip():
        raise GraphError(f"{where}: the file path is empty; give the path of an audio file, or the audio itself")
    path = Path(os.fspath(value)).expanduser()
    base = Path(base_dir) if base_dir is not None else graph.base_dir()      # as the run resolves it
    found = path if path.is_absolute() else base / path
    if not os.path.lexists(found):
        raise GraphError(f"{where}: file {os.fspath(value)!r} not found (looked at {found}); "
                         "give the path of an audio file, or the audio itself")
    from .validation import _unreadable     # a folder, a FIFO: never opened (QA91 D2: these, and a file no
    if why := _unreadable(found):            # decoder reads, blamed "node 'input' (io.load)" as well)
        raise GraphError(f"{where}: file {os.fspath(value)!r} {why}")
    spec = graph.registry.get("io.load")
    try:            # what validation says of the reading node, from the file's header
        shapes = (spec.estimate({}, {"path": str(found)}) if spec is not None and spec.estimate else None) or {}
    except Exception:  # noqa: BLE001 - a check that cannot judge leaves it to the run
        shapes = {}
    if problem := next((s.problem for s in shapes.values() if s is not None and s.problem), ""):
        raise GraphError(f"{where}: {problem}")


def _read(g: Any, path: Any, where: str) -> Any:
    """A file path in a list of clips, read as ``io.load`` reads it."""
    if "io.load" not in g.registry:
        raise ParameterError(f"{where}: got a file path, but no node type 'io.load' is registered to read it")
    return call_node(g.registry["io.load"], (), {"path": os.fspath(path)})


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
            if _finite(rate) and not AUDIO_RATES[0] <= rate <= AUDIO_RATES[1]:   # (QA41: 7 Hz made 2.25 GiB)
                raise AudioError(f"{where}: a sample rate of {rate:g} Hz is outside {AUDIO_RATES[0]}-{AUDIO_RATES[1]} Hz; "
                                 "give the rate in Hz (48000, not 48) as the pair's second item: (samples, rate)")
            try:
                return Audio(samples, rate)
            except AudioError as e:              # which input of which node, not only what is wrong
                raise AudioError(f"{where}: {e}") from None
        got = type(value).__name__
        if isinstance(value, tuple) and len(value) == 2:       # a pair whose samples are no array (QA: "got tuple")
            kind = type(value[0])
            got = f"a pair whose samples are {kind.__module__.split('.')[0]}.{kind.__name__}, not a numpy array" + \
                ("; pass tensor.numpy() (after .cpu() on a GPU)" if kind.__module__.startswith("torch") else "")
        raise ParameterError(f"{where}: takes audio (an Audio, a (numpy array, sample rate) pair or a file path); "
                             f"got {got}")
    if t is str:
        if isinstance(value, str):
            return value
        raise ParameterError(f"{where}: takes text; got {type(value).__name__}")
    if t in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return t(value)
    if isinstance(t, type) and isinstance(value, t):
        return value
    raise ParameterError(f"{where}: takes {type_name(t)}; got {type(value).__name__}")


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:       # an int too big for a float
        return True


def _is_pair(value: Any) -> bool:
    """An (array, rate) pair; a pair whose rate is not a number is refused by name, not taken as
    "some other tuple"."""
    if not isinstance(value, tuple) or len(value) != 2:
        return False
    import numpy as np
    if not isinstance(value[0], (np.ndarray, list)):
        return False
    rate = value[1]
    if not isinstance(rate, (int, float, np.integer, np.floating)) or isinstance(rate, (bool, np.bool_)):
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
            raise ParameterError(named(spec.id, str(e), spec.id)) from None
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
    try:
        def checked(**kw: Any) -> Any:
            result = spec.fn(**kw)
            spec.outputs_of(result)            # audio outputs hold audio, or the node is named
            return result
        if not mapped:
            return checked(**values, **params)
        lengths = {len(v) for v in mapped.values()}
        if len(lengths) > 1:
            raise ParameterError(f"{spec.id}: mapped inputs have different lengths ({sorted(lengths)})")
        return [checked(**values, **{n: v[i] for n, v in mapped.items()}, **params) for i in range(lengths.pop())]
    except (ParameterError, AudioError) as e:      # named as a graph names its node, once (QA: a refused
        e.args = (named(spec.id, str(e), spec.id), *e.args[1:])      # loudness target did not say which node)
        raise


def _one(value: Any, t: Any, where: str) -> Any:
    if (isinstance(value, str) or _is_path(value)) and (t is Audio or (is_list(t) and item_type(t) is Audio)):
        audio = _load_file(value, where)
        return [audio] if is_list(t) else audio
    if is_list(t) and isinstance(value, list):
        return [_one(v, item_type(t), f"{where}[{i}]") for i, v in enumerate(value)]
    return as_value(value, t, where)


_sample_digests: dict[tuple[Any, ...], tuple[Any, str]] = {}   # (id(root), data, shape...) -> (weakref, digest)


def _samples_digest(x: Any) -> str:
    """blake2b of an array's bytes, remembered while the array it views lives when nobody can write
    it (read-only through this view and where it is owned, as ``Audio`` leaves a float32 array it
    was given, and a slice of such a clip): invoking again on the same clip, or a model's inputs
    looked up again by value, cost no second pass over the samples (10 s of stereo: ~4 ms here).
    A view of a buffer its owner can still write (``Audio(buf)`` of a 1-D buffer refilled block by
    block) is hashed every time (QA38: it was served the first block's result)."""
    import weakref
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    root = x
    while isinstance(root.base, np.ndarray):
        root = root.base
    fixed = not x.flags.writeable and root.flags.owndata and not root.flags.writeable   # nobody can write it
    key = (id(root), x.__array_interface__["data"][0], x.shape, x.strides, x.dtype.str)
    if fixed:
        hit = _sample_digests.get(key)
        if hit is not None and hit[0]() is root:
            return hit[1]
    digest = hashlib.blake2b(x.data.cast("B") if x.size else b"", digest_size=20).hexdigest()   # (no frames: no bytes)
    if fixed:
        _sample_digests[key] = (weakref.ref(root, lambda _: _sample_digests.pop(key, None)), digest)
    return digest


def value_digest(value: Any, exact: bool = True) -> str | None:
    """A content digest of a value handed between nodes: equal digests, equal values.  Audio counts
    by its samples and every field, lists, tuples and string-keyed dicts item by item, arrays by
    dtype, shape and bytes, and text, numbers, bytes and None by value.  Any other type: None with
    ``exact`` (the value cannot be told from another by content), else its ``repr`` counts.  The
    executor's early cutoff (a node whose inputs are the same values as in an earlier run is taken
    from the cache) and invoke's inputs key by it."""
    h = hashlib.blake2b(digest_size=20)

    def feed(v: Any) -> bool:
        if isinstance(v, StreamedAudio):      # described, its samples never made whole
            return False
        if isinstance(v, Audio):
            h.update(b"A" + repr((v.sample_rate, v.samples.shape, v.start_frame, v.index, v.tokens, v.overlap_frames,
                                  v.info, v.markers) + ((v.edges,) if v.edges else ())
                          + ((v.exact_start, v.exact_end) if v.exact_start is not None or v.exact_end is not None
                             else ()) + ((v.marker_times,) if v.marker_times else ())).encode())
            h.update(_samples_digest(v.samples).encode())
        elif isinstance(v, list):
            h.update(b"L%d" % len(v))
            return all(feed(x) for x in v)
        elif type(v) in _PLAIN or not exact:
            h.update(b"V" + repr((type(v).__name__, v)).encode())
        elif type(v) is tuple:
            h.update(b"T%d" % len(v))
            return all(feed(x) for x in v)
        elif type(v) is dict and all(type(k) is str for k in v):
            h.update(b"D%d" % len(v))
            return all(feed(k) and feed(x) for k, x in sorted(v.items()))
        elif type(v) is np.ndarray and not v.dtype.hasobject:
            h.update(b"N" + repr((v.dtype.str, v.shape)).encode())
            h.update(_samples_digest(np.ascontiguousarray(v)).encode())
        else:
            return False
        return True
    return h.hexdigest() if feed(value) else None


_PLAIN = frozenset((str, int, float, bool, bytes, type(None)))


def _digest(value: Any) -> str:
    """A content digest of an in-memory value given to invoke (its cache key as an input)."""
    return value_digest(value, exact=False) or ""


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
