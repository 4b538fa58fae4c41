"""Declaring node types: the function signature *is* the schema.

Data ports come before ``*``, parameters after it; annotations give port types and parameter
specs; defaults make inputs optional; the first docstring line is the tooltip and its numpydoc
``Parameters`` section describes each port and parameter (see :mod:`nodeflow.docstrings`).  A node
that reports progress or checks for cancellation takes a keyword-only ``ctx: Context``.

>>> from nodeflow.types import Range

>>> @node("dsp.gain", category="dsp", version=1)
... def gain(audio: Audio, *, gain_db: Annotated[float, Range(-60, 24, unit="dB")] = 0.0) -> Audio:
...     '''Change the level by a number of decibels.'''
...     return audio.replace(audio.samples * 10 ** (gain_db / 20))
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import re
import types as _pytypes
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Sequence  # noqa: F401  (Annotated re-exported for node packs)

from .audio import Audio  # noqa: F401
from .context import Context   # re-exported: node packs import it from here (see __all__)
from .docstrings import parameter_docs
from .errors import DefinitionError, ParameterError, named
from .types import ParamSpec, PortSpec

if typing.TYPE_CHECKING:   # nodeflow.chain imports this module
    from .chain import Step

__all__ = ["node", "NodeSpec", "Context"]

_PLAIN: dict[Any, tuple[type, ...]] = {str: (str,), float: (numbers.Real,), int: (numbers.Integral,), bool: (bool,)}

_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


class _HelpText:
    """``NodeSpec.__doc__``: the class's docstring on the class; on a node, what ``help(node)``
    shows (:func:`_help_text`), made the first time it is read.  Made at ``@node``, it listed the
    model families of a ``profile`` choice, which loads the node packs: a node module imported on
    its own (``from nodes.dsp.resample import resample``) loaded them while it was half-imported,
    and the default registry went without that node ("unknown node type 'dsp.resample'")."""

    def __init__(self, doc: str | None):
        self.doc = doc

    def __get__(self, spec: Any, cls: Any = None) -> str | None:
        if spec is None:
            return self.doc
        text: str | None = spec.__dict__.get("_help_text")
        if text is None:
            text = spec.__dict__["_help_text"] = _help_text(spec)
        return text


@dataclasses.dataclass(eq=False)
class NodeSpec:
    """A declared node type, what ``@node`` returns.

    Called on values it runs the function on them: ``gain(audio, gain_db=-3)``, the parameters
    checked as in a graph (see :func:`nodeflow.chain.call_node`).  Called with parameters only it
    gives a chainable step: ``load(path="a.wav") | gain(gain_db=-3)`` (see :mod:`nodeflow.chain`).
    ``invoke(inputs)`` and ``batch([inputs, ...])`` run it through the engine.  ``help(gain)``
    shows the function's docstring and the node's ports and parameters.
    """
    id: str
    version: int
    category: str
    fn: Callable[..., Any]
    inputs: dict[str, PortSpec]
    outputs: dict[str, PortSpec]
    params: dict[str, ParamSpec]
    doc: str = ""
    wants_ctx: bool = False
    side_effect: bool = False
    multi_output: bool = False
    pack: str = ""
    fingerprint: Callable[[dict[str, Any], "Context"], Any] | None = None
    preflight: Callable[[dict[str, Any], Path], list[str]] | None = None
    estimate: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
    working: float | None = None    # working buffers while it runs, per byte of its inputs (see @node)
    persist: bool | None = None
    stream: Callable[[dict[str, Any], dict[str, Any], "Context"], Any] | None = None
    process: bool | Callable[[dict[str, Any], dict[str, Any]], bool] = False
    # @node(batch=...): several list items in one call.  Not named `batch`: that is the method below
    batch_fn: Callable[[list[dict[str, Any]], dict[str, Any], "Context"], list[dict[str, Any]]] | None = None
    checkpoints: tuple[str, ...] = ()      # @node(checkpoints=...): see checkpoint_params

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]

    __doc__ = _HelpText(__doc__)      # a node's: its help text, made when first read

    @property
    def checkpoint_params(self) -> tuple[str, ...]:
        """The parameters that name a model checkpoint (a hub id or a local folder): ``checkpoint``,
        and those ``@node(checkpoints=...)`` adds (a vocoder beside an acoustic model).  Each is
        rebased with the graph's file, set beside an unpacked bundle and checked by ``validate``."""
        return tuple(dict.fromkeys((("checkpoint",) if "checkpoint" in self.params else ()) + self.checkpoints))

    def __post_init__(self) -> None:
        # help(), inspect.signature() and doctest see the function (its examples run in the suite)
        self.__wrapped__ = self.fn
        self.__module__ = getattr(self.fn, "__module__", None) or __name__
        self.__name__ = self.__qualname__ = getattr(self.fn, "__name__", self.id)

    @property
    def code(self) -> str:
        """The node's :func:`~nodeflow.cache.code_digest`: cached values follow its code."""
        from .cache import code_digest
        return code_digest(self.fn)

    @property
    def tooltip(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def call(self, inputs: dict[str, Any], params: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
        """Run the function once; returns ``{output_name: value}``.  A node declared with
        ``process=True`` runs in a worker process (:func:`nodeflow.worker.run_node`)."""
        if self.process is True or (callable(self.process) and self.process(inputs, params)):
            from .worker import run_node
            return run_node(self, inputs, params, ctx)
        return self.call_here(inputs, params, ctx)

    def call_here(self, inputs: dict[str, Any], params: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
        """Run the function once in this process; returns ``{output_name: value}``."""
        kwargs = dict(inputs)
        kwargs.update(params)
        if self.wants_ctx:
            kwargs["ctx"] = ctx or Context(self.id)
        return self.outputs_of(self.fn(**kwargs))

    def __reduce__(self) -> tuple[Any, tuple[str, str, str]]:
        """Pickled by name (its module, the name it is declared under, its type id), as functions are:
        steps, chains and graphs go to other processes (multiprocessing, joblib) (QA: PicklingError)."""
        return (_declared, (self.__module__, self.__qualname__, self.id))

    def coerce(self, name: str, value: Any, who: str) -> Any:
        """``value`` for the parameter ``name``, checked and converted; a mistake is one
        :class:`ParameterError` beginning with ``who`` (the node type, or a node and its type)."""
        p = self.params.get(name)
        if p is None:
            raise ParameterError(f"{who}: no parameter '{name}'; parameters are: {', '.join(self.params) or 'none'}")
        try:
            return p.coerce(value)
        except ParameterError as e:
            raise ParameterError(named(who, str(e), self.id)) from None

    def outputs_of(self, result: Any) -> dict[str, Any]:
        """``{output_name: value}`` of what the function returned, each audio output checked."""
        if self.multi_output:
            outs = {name: getattr(result, name) for name in self.outputs}
        else:
            (name,) = self.outputs
            outs = {name: result}
        for name, value in outs.items():
            self._check_output(name, value)
        return outs

    def _check_output(self, name: str, value: Any) -> None:
        """Audio outputs hold audio: a node that returned something else is named here, not by the
        node it feeds (QA: an ndarray from ``-> Audio`` failed in the next node as an AttributeError)."""
        declared = self.outputs[name].type
        fix = "return an Audio (e.g. audio.replace(samples))"
        if declared is Audio and not isinstance(value, Audio):
            got = "None" if value is None else type(value).__name__
        elif typing.get_origin(declared) is list and typing.get_args(declared) == (Audio,) and not (
                isinstance(value, list) and all(isinstance(v, Audio) for v in value)):
            got = type(value).__name__ if not isinstance(value, list) else \
                f"a list holding {next(type(v).__name__ for v in value if not isinstance(v, Audio))}"
        elif declared in _PLAIN and (not isinstance(value, _PLAIN[declared]) or
                                     (declared is not bool and isinstance(value, bool))):
            got, fix = repr(value) if isinstance(value, str) else type(value).__name__, f"return a {declared.__name__}"
        else:                           # (QA41: "-> float" returning text went on unchecked)
            return
        raise DefinitionError(f"{self.id}: its output '{name}' is declared {self.outputs[name].type_name} but the "
                              f"function returned {got}; {fix}")

    # What a type checker reads (QA68 D6: the call was Any, so `gain(gain_db=-3) | 5` and a chain
    # assigned to an int passed unflagged): keywords only make a Step, so `step | step` is a Chain;
    # a value first is the function's result, whose type varies by node (Any).  A checker cannot tell
    # an input given by keyword (`gain(audio=a, gain_db=-3)`) from a parameter, so it reads that call
    # as a Step too: give values positionally in typed code.
    @typing.overload
    def __call__(self, **params: Any) -> Step: ...

    @typing.overload
    def __call__(self, value: Any, /, *values: Any, **kw: Any) -> Any: ...

    def __call__(self, *args: Any, **kw: Any) -> Any:
        """On values (``gain(audio, gain_db=-3)``): what the function returns.  With parameters only
        (``gain(gain_db=-3)``): a :class:`~nodeflow.chain.Step` for a chain."""
        from .chain import Step, call_node
        if args or any(k in self.inputs for k in kw):
            return call_node(self, args, kw)
        return Step(self, kw)

    def invoke(self, inputs: Any = None, **kw: Any) -> Any:
        """Run the node with its default parameters through the engine; see :meth:`nodeflow.chain.Chain.invoke`."""
        return self().invoke(inputs, **kw)

    def batch(self, inputs: list[Any], **kw: Any) -> list[Any]:
        """:meth:`invoke` for each of ``inputs``, results in order; see :meth:`nodeflow.chain.Chain.batch`."""
        results: list[Any] = self().batch(inputs, **kw)
        return results

    def __repr__(self) -> str:
        return f"<node {self.id} v{self.version}>"


def _help_text(spec: NodeSpec) -> str:
    """What ``help(node)`` shows: the function's docstring, then the node's ports and parameters."""
    lines = [spec.doc.rstrip(), "", f"Node {spec.id} v{spec.version}",
             f"  inputs:  {', '.join(f'{n}: {p.type_name}' + ('' if p.required else '?') for n, p in spec.inputs.items()) or 'none'}",
             f"  outputs: {', '.join(f'{n}: {p.type_name}' for n, p in spec.outputs.items())}"]
    if spec.params:
        lines.append("  parameters:")
    for n, p in spec.params.items():
        rng = p.describe_range()
        lines.append(f"    {n} ({p.kind}) = {p.to_plain(p.default)!r}" + (f"  {rng}" if rng else ""))
        if p.doc:
            lines.append(f"        {p.doc}")
    return "\n".join(lines).lstrip("\n")


def _with_docs(where: str, doc: str, inputs: dict[str, PortSpec], params: dict[str, ParamSpec]) -> None:
    """Give each port and parameter its description from the docstring's Parameters section."""
    described = parameter_docs(doc)
    unknown = [n for n in described if n not in inputs and n not in params and n != "ctx"]
    if unknown:
        raise DefinitionError(f"{where}: the docstring describes {', '.join(map(repr, unknown))}, which the function "
                              f"does not take; its ports and parameters are: {', '.join([*inputs, *params]) or 'none'}")
    for n, text in described.items():
        if n in params:
            if params[n].doc and text and params[n].doc != text:
                raise DefinitionError(f"{where}: parameter '{n}' is described twice (in its annotation and in the "
                                      "docstring); keep one")
            params[n] = dataclasses.replace(params[n], doc=params[n].doc or text)
        elif n in inputs:
            inputs[n] = dataclasses.replace(inputs[n], doc=inputs[n].doc or text)


def _declared(module: str, qualname: str, type_id: str) -> "NodeSpec":
    """The node type a pickle names: imported from its module, else (declared inside a function, or
    by a pack) looked up in the process-wide registry."""
    import importlib
    found: Any = None
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        found = None
    if isinstance(found, NodeSpec) and found.id == type_id:
        return found
    from .registry import default_registry
    spec = default_registry().get(type_id)
    if spec is None:
        raise DefinitionError(f"node type '{type_id}' ({module}.{qualname}) cannot be found in this process; declare "
                              "it at the top level of an importable module to send it to other processes")
    return spec


def _outputs(ret: Any, where: str, out_name: str) -> tuple[dict[str, PortSpec], bool]:
    if ret is inspect.Signature.empty or ret is None or ret is type(None):
        raise DefinitionError(f"{where}: annotate the return type (an output port type or a NamedTuple)")
    fields = getattr(ret, "__annotations__", None)
    if isinstance(ret, type) and issubclass(ret, tuple) and hasattr(ret, "_fields") and fields:
        try:    # resolved: a NamedTuple in a module with postponed annotations holds strings
            fields = typing.get_type_hints(ret, include_extras=True)
        except Exception as e:  # noqa: BLE001 - an unresolvable name is the declaration's mistake
            raise DefinitionError(f"{where}: cannot resolve the output types of {ret.__name__}: {e}") from e
        return {n: PortSpec(n, fields[n]) for n in ret._fields}, True
    return {out_name: PortSpec(out_name, ret)}, False


def not_importable(fn: Callable[..., Any]) -> str | None:
    """Why a worker process cannot find ``fn`` by its module and name (what ``process=True`` needs),
    with the fix; None when it can."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    name = getattr(fn, "__name__", repr(fn))
    if module == "__main__":       # a worker's own __main__ is nodeflow.worker, never the user's script
        return (f"{name} is defined in the script run as __main__, which a worker process cannot import; "
                f"move it into a module and import it (or leave out process=True)")
    if "<locals>" in qualname:
        return (f"{name} is defined inside a function ({qualname}), which a worker process cannot find by name; "
                "declare it at the top level of a module (or leave out process=True)")
    return None


def node(id: str, *, category: str | None = None, version: int = 1, output: str = "out",
         side_effect: bool = False,
         fingerprint: Callable[[dict[str, Any], Context], Any] | None = None,
         preflight: Callable[[dict[str, Any], Path], list[str]] | None = None,
         estimate: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
         working: float | None = None,
         persist: bool | None = None,
         stream: Callable[[dict[str, Any], dict[str, Any], Context], Any] | None = None,
         process: bool | Callable[[dict[str, Any], dict[str, Any]], bool] = False,
         batch: Callable[[list[dict[str, Any]], dict[str, Any], Context], list[dict[str, Any]]] | None = None,
         checkpoints: Sequence[str] = (),
         ) -> Callable[[Callable[..., Any]], NodeSpec]:
    """Declare a node type from a function.

    ``id`` is ``category.name`` and never changes; bump ``version`` when behaviour changes.
    ``side_effect=True`` marks sinks (exports) that run on every run instead of being served
    from the cache.  ``fingerprint(params, ctx)`` adds what the parameters alone do not pin down to
    the node's cache key (e.g. a checkpoint's resolved revision, an adapter file's hash); it must
    be cheap and return msgpack-able plain data.  ``preflight(params, base_dir)`` lists what this
    machine lacks to run the node (e.g. a checkpoint that is not downloaded) without running it;
    validation reports those problems with every other one.  ``estimate(inputs, params)`` says what
    the node would make without running it: it takes and returns :class:`nodeflow.costs.Shape` by
    port name (frames, channels, rate, list length), so validation can refuse a graph whose memory,
    file count or work exceeds the limits (see :mod:`nodeflow.costs`; without one the node passes its
    first audio input's shape through).  ``working`` is the memory the node's function takes while it
    runs beyond its inputs and outputs (its working buffers: a float64 copy, a filter's result before it
    is cast back), per byte of its inputs in a call: ``4.0`` for a filter that works on a float64 copy of
    its float32 input, ``0.0`` for one that writes straight into its output; the memory estimate adds it
    at the node's step (default: one more copy of its output; an estimate's ``Shape(work_bytes=...)``
    says it for particular parameters).  ``persist`` says whether outputs go to the on-disk value
    cache: True always, False never, None (default) by :func:`nodeflow.diskcache.worth_keeping`
    (model nodes always, others when computing them took clearly longer than reading them back).
    ``stream(inputs, params, ctx)`` is the node's streaming form, which long audio flows through in
    blocks when the executor fuses a chain of such nodes (see :mod:`nodeflow.streaming`): it takes
    ``{port: Stream}`` and returns a ``Stream`` (a sink: its output value), exactly the samples the
    function gives, or raises ``NotStreamable``.  ``process=True`` runs the function in a worker
    process (for work that holds the GIL, such as Rubber Band): the same events (its
    ``ctx.progress`` reaches the run), errors and results, Stop ends the worker at once, and
    independent branches, list items and sweep variants use every core.  Its inputs, parameters and
    outputs travel pickled, so the function must be importable by name (at the top level of a module:
    one in the script run as ``__main__`` or inside a function is a ``DefinitionError``); exports (``side_effect``)
    run in the run's process.  ``process`` may be a function ``(inputs, params) -> bool`` deciding per
    call (small work runs in the run's process, where starting a worker would cost more than it).  ``batch(items, params, ctx)`` computes several list items in one
    call when the node is mapped over a list (a model generating several prompts or windows in one
    ``generate``): ``items`` are the items' inputs (``{port: value}``), the result their outputs
    (``{output: value}`` each, in order), each exactly what the function gives for that item.
    ``checkpoints`` names string parameters that hold a model checkpoint besides one named
    ``checkpoint`` (see :attr:`NodeSpec.checkpoint_params`; a model family's node declares them
    with their family, :meth:`nodes.models.layer.Family.node`).
    """
    if not _ID.match(id):
        raise DefinitionError(f"node id {id!r} must look like 'category.name' (lowercase, digits, _)")
    if working is not None and (isinstance(working, bool) or not isinstance(working, (int, float))
                                or not math.isfinite(working) or working < 0):
        raise DefinitionError(f"node {id}: working={working!r}: expected the bytes of working buffers per byte of "
                              "its inputs, a number of 0 or more (e.g. 4.0 for a float64 copy and its result)")
    if process and side_effect:
        raise DefinitionError(f"node {id}: process=True is for computing nodes; a side-effect node (an export) "
                              "runs in the run's process, where its writes are checked")

    def wrap(fn: Callable[..., Any]) -> NodeSpec:
        where = f"node {id}"
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception as e:  # unresolved forward refs and the like
            raise DefinitionError(f"{where}: cannot resolve annotations: {e}") from e
        sig = inspect.signature(fn)
        inputs: dict[str, PortSpec] = {}
        params: dict[str, ParamSpec] = {}
        wants_ctx = False
        for p in sig.parameters.values():
            ann = hints.get(p.name, inspect.Signature.empty)
            if ann is inspect.Signature.empty:
                raise DefinitionError(f"{where}: argument '{p.name}' needs a type annotation")
            if p.name == "ctx" or ann is Context:
                wants_ctx = True
                continue
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY):
                required = p.default is inspect.Parameter.empty
                if not required and p.default is not None:
                    raise DefinitionError(f"{where}: optional input '{p.name}' must default to None")
                port_t = ann
                if typing.get_origin(ann) in (typing.Union, _pytypes.UnionType):
                    port_t = next(a for a in typing.get_args(ann) if a is not type(None))
                inputs[p.name] = PortSpec(p.name, port_t, required)
            elif p.kind == p.KEYWORD_ONLY:
                default = None if p.default is inspect.Parameter.empty else p.default
                params[p.name] = ParamSpec.from_annotation(p.name, ann, default, where)
            else:
                raise DefinitionError(f"{where}: *args/**kwargs are not supported ('{p.name}')")
        if process and (why := not_importable(fn)):      # refused now, not at every call (QA68 D3)
            raise DefinitionError(f"{where}: process=True, but {why}")
        outputs, multi = _outputs(hints.get("return", inspect.Signature.empty), where, output)
        _with_docs(where, inspect.getdoc(fn) or "", inputs, params)
        for name in checkpoints:
            if name not in params or params[name].kind != "str":
                raise DefinitionError(f"{where}: checkpoints names {name!r}, which is not a str parameter of the "
                                      "node; name the keyword-only parameters that hold a checkpoint (a hub id or "
                                      "a folder)")
        from .cache import pin
        pin(fn)             # a plug-in's code is keyed as it is imported, not as its file is later
        return NodeSpec(id=id, version=int(version), category=category or id.split(".")[0], fn=fn,
                        inputs=inputs, outputs=outputs, params=params, doc=inspect.getdoc(fn) or "",
                        wants_ctx=wants_ctx, side_effect=side_effect, multi_output=multi,
                        pack=getattr(fn, "__module__", "") or "", fingerprint=fingerprint,
                        preflight=preflight, estimate=estimate, working=working, persist=persist, stream=stream,
                        process=process if callable(process) else bool(process), batch_fn=batch,
                        checkpoints=tuple(checkpoints))

    return wrap
