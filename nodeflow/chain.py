"""The Python API in the spirit of LangChain: compose linear chains with ``|``.

>>> from nodes.io.load import load
>>> from nodes.dsp.resample import resample
>>> from nodes.io.export import export
>>> chain = load(path="melody.wav") | resample(rate_hz=32000) | export(path="melody32k.wav")
>>> result = chain.run()          # doctest: +SKIP
>>> chain.save("melody.msgpack")  # the same file `audiochain run` runs  # doctest: +SKIP

A chain is a :class:`~nodeflow.graph.Graph` underneath (``chain.graph``): for branches and
merges, keep adding nodes to it with ``graph.add`` / ``graph.connect``.
"""
from __future__ import annotations

from typing import Any, Iterable

from .errors import GraphError
from .graph import Graph, NodeRef
from .node import NodeSpec
from .registry import default_registry
from .types import link_mode, type_name

__all__ = ["Step", "Chain"]


class Step:
    """A node type with parameters, not yet placed in a graph (``spec(**params)`` makes one)."""

    def __init__(self, spec: NodeSpec, params: dict[str, Any], id: str | None = None):
        self.spec, self.params, self.id = spec, dict(params), id
        for k, v in self.params.items():  # fail at the line that wrote the mistake
            p = spec.params.get(k)
            if p is None:
                raise GraphError(f"{spec.id}: no parameter '{k}'; parameters are: {', '.join(spec.params) or 'none'}")
            self.params[k] = p.coerce(v)

    def named(self, id: str) -> "Step":
        """The same step with an explicit node id."""
        return Step(self.spec, self.params, id)

    def __or__(self, other: "Step | Chain") -> "Chain":
        return Chain.start(self) | other

    def run(self, **kw: Any):
        return Chain.start(self).run(**kw)

    def __repr__(self) -> str:
        return f"{self.spec.id}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


class Chain:
    """A linear chain of nodes in a graph; ``chain | step`` links the last node to the next."""

    def __init__(self, graph: Graph, last: NodeRef):
        self.graph, self.last = graph, last

    @classmethod
    def start(cls, step: Step, graph: Graph | None = None) -> "Chain":
        g = graph or Graph(default_registry())
        return cls(g, g.add(step.spec, step.id, **step.params))

    def __or__(self, other: "Step | Chain") -> "Chain":
        if isinstance(other, Chain):
            raise GraphError("chain | chain is ambiguous; build the second chain from steps, or use graph.connect")
        if not isinstance(other, Step):
            raise GraphError(f"cannot chain {other!r}: use a node with parameters, e.g. gain(gain_db=-3)")
        prev_spec = self.graph.spec(self.last.id)
        types = self.graph.output_types()
        out_name = next(iter(prev_spec.outputs))
        out_t = types[(self.last.id, out_name)]
        port = next((p for p in other.spec.inputs.values() if link_mode(out_t, p.type)), None)
        if port is None:
            raise GraphError(f"cannot chain {prev_spec.id} into {other.spec.id}: its output is {type_name(out_t)} "
                             f"but the inputs take {', '.join(p.type_name for p in other.spec.inputs.values()) or 'nothing'}")
        ref = self.graph.add(other.spec, other.id, **other.params)
        self.graph.connect(self.last[out_name], ref[port.name])
        return Chain(self.graph, ref)

    def run(self, targets: Iterable[str] | None = None, **kw: Any):
        """Run the chain's graph; returns the :class:`~nodeflow.executor.RunResult`."""
        from .executor import run
        return run(self.graph, targets, **kw)

    def output(self, **kw: Any) -> Any:
        """Run only what the last node needs and return its (first) output value."""
        res = self.run([self.last.id], **kw)
        return next(iter(res[self.last.id].values()))

    def save(self, path) -> Any:
        from .fileformat import save
        return save(self.graph, path)

    def __repr__(self) -> str:
        return " | ".join(f"{self.graph.nodes[n].type}" for n in self.graph.nodes)
