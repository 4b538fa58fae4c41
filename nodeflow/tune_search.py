"""The search space and the search of :mod:`nodeflow.tune`: what a tune varies in a graph (template
slots, seeds, ``--vary`` parameters) and how it proposes candidates from the scores so far.

A candidate is a tuple of values, one per :class:`Dimension`; :func:`overrides_for` turns it into
sweep overrides.  :class:`Search` draws everything from ``random.Random(seed)`` and the scores it is
given, so a replay with the same scores proposes the same candidates (what resuming relies on).
"""
from __future__ import annotations

import contextvars
import dataclasses
import itertools
import math
import random
import re
import string
from typing import Any, Iterator, Sequence

from .errors import ParameterError
from .graph import Graph
from .manifest import PROMPT_NODE
from .sweepaxes import _split_values, parse_axis

__all__ = ["Dimension", "Search", "build_space", "overrides_for", "said", "PALETTE", "MAX_SEED"]

#: True while ``audiochain tune`` runs: messages name its options as typed there (``--vary``), not as
#: :func:`.tune.tune`'s keywords (``vary=``).
FROM_CLI: contextvars.ContextVar[bool] = contextvars.ContextVar("tune_from_cli", default=False)


def said(option: str, value: Any = None, *, quoted: bool = False, hint: bool = False) -> str:
    """``option`` (a keyword of :func:`.tune.tune`) with ``value`` as the caller wrote it: ``--listen
    mix`` from the command line (``quoted``: ``--vary 'a.b=1,2'``), ``listen='mix'`` in Python;
    ``hint``: ``value`` is a placeholder (``--target TEXT``, ``target=TEXT``)."""
    if FROM_CLI.get():
        return f"--{option.replace('_', '-')}" + ("" if value is None else f" {value!r}" if quoted else f" {value}")
    return f"{option}=" + ("" if value is None else str(value) if hint else repr(value))


MAX_SEED = 2**31 - 1

# one candidate of the search: a value per dimension, in the order of the dimensions
Candidate = tuple[Any, ...]

# values tried for a template's standard slots (the graph's own value is always tried first)
PALETTE: dict[str, tuple[Any, ...]] = {
    "genre": ("lo-fi hip hop", "jazz", "ambient", "house", "dub", "classical", "soul", "folk", "techno",
              "bossa nova"),
    "mood": ("relaxed", "warm", "melancholic", "dreamy", "upbeat", "dark", "nostalgic", "euphoric"),
    "instrument": ("piano", "electric piano", "rhodes", "acoustic guitar", "strings", "analog synths",
                   "vibraphone", "nylon guitar"),
    "key": ("C major", "A minor", "D minor", "F major", "E minor", "G major", "B flat major"),
    "bpm": tuple(range(60, 141, 10)),
}


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One thing the search varies: ``node.param`` (``kind`` param or seed) or a template variable
    (``kind`` variable: ``name`` in the node's ``variables``).  ``values`` are the choices (none for
    a seed: any whole number), the graph's own value first."""
    node: str
    param: str
    kind: str                      # param | seed | variable
    values: tuple[Any, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.node}.{self.param}"

    @property
    def ordered(self) -> bool:
        return len(self.values) > 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                            for v in self.values)

    def describe(self) -> dict[str, Any]:
        return {"param": self.key, "kind": self.kind, "values": [getattr(v, "value", v) for v in self.values]}


# ---------------------------------------------------------------------------------------- the space
def _template_fields(template: str) -> list[str]:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f]
    except ValueError:
        return []


def _variables(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in re.split(r"[;\n]", text or ""):
        name, eq, value = item.partition("=")
        if eq and name.strip():
            pairs[name.strip()] = value.strip()
    return pairs


def variables_text(pairs: dict[str, str]) -> str:
    """A prompt template's ``variables`` as written: ``"feel=swung; fx=tape echo"``."""
    return "; ".join(f"{k}={v}" for k, v in pairs.items())


def _current(graph: Graph, node: str, param: str) -> Any:
    inst = graph.nodes[node]
    if param in inst.params:
        return inst.params[param]
    spec = graph.spec(node)
    return spec.params[param].default if spec is not None and param in spec.params else None


def _first(current: Any, values: Sequence[Any]) -> tuple[Any, ...]:
    out = [current] if current is not None else []
    out += [v for v in values if v not in out]
    return tuple(out)


def build_space(graph: Graph, vary: Sequence[str] = (), *, slots: bool = True, seeds: bool = True) -> list[Dimension]:
    """What :func:`tune` explores in ``graph``: ``--vary`` specs, template slots and seeds, in that order."""
    dims: dict[str, Dimension] = {}
    for spec_text in vary:
        target, eq, text = spec_text.partition("=")
        node_id, dot, name = target.strip().partition(".")
        inst = graph.nodes.get(node_id)
        nspec = graph.spec(node_id) if inst is not None else None
        if inst is not None and inst.type == PROMPT_NODE and nspec is not None and eq and dot \
                and name not in nspec.params:
            fields = _template_fields(str(_current(graph, node_id, "template")))
            if name not in fields:
                raise ParameterError(f"{said('vary', spec_text, quoted=True)}: the template of '{node_id}' has no "
                                     f"field {{{name}}} (fields: {', '.join(fields) or 'none'})")
            values = _split_values(text)
            bad = [v for v in values if re.search(r"[;=\n]", v)]
            if bad or not values:
                raise ParameterError(f"{said('vary', spec_text, quoted=True)}: " + (
                    "template values cannot contain ';', '=' or new lines" if bad else "no values given"))
            own = _variables(str(_current(graph, node_id, "variables"))).get(name)
            dim = Dimension(node_id, name, "variable", _first(own, values))
        else:
            try:
                axis = parse_axis(spec_text, graph)
            except ParameterError as e:
                raise ParameterError(str(e).replace("--sweep ", "--vary " if FROM_CLI.get() else "vary=")) from None
            if inst is not None and inst.type == PROMPT_NODE and name not in ("template", "variables"):
                fields = _template_fields(str(_current(graph, node_id, "template")))
                if name not in fields:      # (QA: candidates that differ in it render alike, budget spent)
                    raise ParameterError(f"{said('vary', spec_text, quoted=True)}: the template of '{node_id}' does "
                                         f"not use {{{name}}}, so its values would all render alike (fields: {', '.join(fields) or 'none'}); "
                                         f"add {{{name}}} to the template or vary a field it uses")
            from .sweepcheck import _replaced_axes
            if replaced := _replaced_axes(graph, [axis]):      # (QA: accepted; every candidate rendered alike in it)
                raise ParameterError(f"{said('vary', spec_text, quoted=True)}: "
                                     + replaced[0].removeprefix(f"sweep: {axis.name} ").replace("every variant", "every candidate").replace("sweep what", "vary what"))
            dim = Dimension(axis.node, axis.param, "param", _first(_current(graph, axis.node, axis.param), axis.values))
        if dim.key in dims:
            raise ParameterError(f"{said('vary', spec_text, quoted=True)}: {dim.key} is varied twice")
        dims[dim.key] = dim
    for node_id, inst in graph.nodes.items():
        spec = graph.spec(node_id)
        if spec is None:
            continue
        if slots and inst.type == PROMPT_NODE:
            for field in dict.fromkeys(_template_fields(str(_current(graph, node_id, "template")))):
                key = f"{node_id}.{field}"
                if key in dims or field not in PALETTE or field not in spec.params:
                    continue
                p = spec.params[field]
                dims[key] = Dimension(node_id, field, "param",
                                      _first(_current(graph, node_id, field), [p.parse(str(v)) for v in PALETTE[field]]))
        if seeds:
            for name, p in spec.params.items():
                if name == "seed" and p.kind == "int" and f"{node_id}.{name}" not in dims:
                    dims[f"{node_id}.{name}"] = Dimension(node_id, name, "seed")
    return list(dims.values())


def overrides_for(graph: Graph, dims: Sequence[Dimension], cand: Candidate) -> tuple[tuple[str, Any], ...]:
    """A candidate as sweep overrides (``node.param``, value); template variables are written into
    their node's ``variables`` text, so a row reruns on the plain graph."""
    out: dict[str, Any] = {}
    variables: dict[str, dict[str, str]] = {}
    for d, v in zip(dims, cand):
        if d.kind == "variable":
            variables.setdefault(d.node, _variables(str(_current(graph, d.node, "variables"))))[d.param] = str(v)
        else:
            out[d.key] = v
    for node_id, pairs in variables.items():
        out[f"{node_id}.variables"] = variables_text(pairs)
    return tuple(out.items())


# ---------------------------------------------------------------------------------------- the search
class Search:
    """Proposes candidates (tuples of values, one per dimension) generation by generation.

    Everything it draws comes from ``random.Random(seed)`` and the scores it is told, so the same
    seed and scores give the same proposals (which is what resuming relies on)."""

    def __init__(self, graph: Graph, dims: Sequence[Dimension], seed: int, population: int):
        self.dims, self.population = list(dims), max(1, int(population))
        self.rng = random.Random(int(seed))
        self._previous_best: Candidate | None = None
        self.baseline = tuple(_current(graph, d.node, d.param) if d.kind == "seed" else d.values[0] for d in dims)

    @property
    def size(self) -> float:
        """How many distinct candidates exist (infinite with a seed)."""
        return math.prod(len(d.values) if d.kind != "seed" else math.inf for d in self.dims)

    def _value(self, d: Dimension) -> Any:
        return self.rng.randint(0, MAX_SEED) if d.kind == "seed" else self.rng.choice(d.values)

    def _random(self) -> Candidate:
        return tuple(self._value(d) for d in self.dims)

    def _spread(self, count: int) -> list[Candidate]:
        """``count`` random candidates spread over the ordered dimensions (one per stratum, a Latin
        hypercube), random elsewhere: a first generation that covers the space."""
        if count < 1:
            return []
        columns = []
        for d in self.dims:
            if d.ordered:
                vals, strata = sorted(d.values), list(range(count))
                self.rng.shuffle(strata)
                columns.append([vals[min(len(vals) - 1, int((k + self.rng.random()) * len(vals) / count))]
                                for k in strata])
            else:
                columns.append([self._value(d) for _ in range(count)])
        return list(dict.fromkeys(zip(*columns)))

    def _mutate(self, cand: Candidate) -> Candidate:
        out = list(cand)
        movable = [i for i, d in enumerate(self.dims) if d.kind == "seed" or len(d.values) > 1]
        if not movable:
            return cand
        count = min(len(movable), self.rng.choices((1, 2, 3), weights=(6, 3, 1))[0])
        for i in self.rng.sample(movable, count):
            d = self.dims[i]
            if d.kind == "seed":
                out[i] = self.rng.randint(0, MAX_SEED)
                continue
            if d.ordered and self.rng.random() < 0.7:     # a local step along sorted values
                vals = sorted(d.values)
                j = vals.index(out[i]) + self.rng.choice((1, 1, 1, 2, 3)) * self.rng.choice((-1, 1))
                out[i] = vals[min(max(j, 0), len(vals) - 1)]
            else:
                out[i] = self.rng.choice([v for v in d.values if v != out[i]])
        return tuple(out)

    def _extrapolate(self, old: Candidate, new: Candidate, factor: int) -> Candidate:
        """``new`` moved further from ``old`` along the ordered dimensions where they differ."""
        out = list(new)
        for i, d in enumerate(self.dims):
            if d.kind != "seed" and d.ordered and old[i] != new[i]:
                vals = sorted(d.values)
                j = vals.index(new[i]) + factor * (vals.index(new[i]) - vals.index(old[i]))
                out[i] = vals[min(max(j, 0), len(vals) - 1)]
        return tuple(out)

    def _neighbours(self, cand: Candidate) -> list[Candidate]:
        """``cand`` moved one step along one dimension: the next value up and down an ordered one,
        every other value of a short unordered one (at most 3 drawn), a new seed."""
        out = []
        for i, d in enumerate(self.dims):
            if d.kind == "seed":
                moves = [self.rng.randint(0, MAX_SEED)]
            elif d.ordered:
                vals = sorted(d.values)
                j = vals.index(cand[i])
                moves = [vals[k] for k in (j - 1, j + 1, j - 2, j + 2) if 0 <= k < len(vals)]
            else:
                others = [v for v in d.values if v != cand[i]]
                moves = self.rng.sample(others, min(3, len(others)))
            out += [cand[:i] + (m,) + cand[i + 1:] for m in moves]
        return out

    def propose(self, history: Sequence[tuple[Candidate, float | None]], count: int) -> list[Candidate]:
        """The next generation: up to ``count`` candidates never proposed before."""
        seen = {c for c, _ in history}
        out: list[Candidate] = []
        if not history:
            out.append(self.baseline)
            out += [c for c in self._spread(count - 1) if c != self.baseline]
        ranked = sorted(((s, i) for i, (_, s) in enumerate(history) if s is not None and math.isfinite(s)),
                        key=lambda t: (-t[0], t[1]))
        parents = [history[i][0] for _, i in ranked[:max(2, self.population // 2)]]
        weights = [(len(parents) - r) ** 2 for r in range(len(parents))]
        if parents and self._previous_best is not None and parents[0] != self._previous_best:
            for factor in (1, 2):      # the best moved: keep going that way (a pattern move)
                c = self._extrapolate(self._previous_best, parents[0], factor)
                if c not in seen and c not in out and len(out) < count:
                    out.append(c)
        self._previous_best = parents[0] if parents else None
        if parents:                    # most of the generation: the best one's untried neighbours
            near = [c for c in self._neighbours(parents[0]) if c not in seen]
            self.rng.shuffle(near)
            for c in near:
                if len(out) >= max(1, count * 5 // 8):
                    break
                if c not in out:
                    out.append(c)
        while len(out) < count and len(seen) + len(out) < self.size:
            for _attempt in range(64):
                if not parents or (len(out) == count - 1 and count >= 4 and self.rng.random() < 0.5):
                    cand = self._random()                  # an immigrant keeps the search from settling early
                else:
                    cand = self.rng.choices(parents, weights)[0]
                    if len(parents) > 1 and self.rng.random() < 0.3:
                        other = self.rng.choices(parents, weights)[0]
                        cand = tuple(a if self.rng.random() < 0.5 else b for a, b in zip(cand, other))
                    cand = self._mutate(cand)
                if cand not in seen and cand not in out:
                    out.append(cand)
                    break
            else:
                cand = self._random()
                if cand not in seen and cand not in out:
                    out.append(cand)
                elif self.size < math.inf:      # a small space nearly covered: take what is left in order
                    left = [c for c in _all(self.dims) if c not in seen and c not in out]
                    out += left[:count - len(out)]
                    break
        return out


def _all(dims: Sequence[Dimension]) -> Iterator[Candidate]:
    return itertools.product(*(d.values for d in dims))
