"""What a sweep is, before it runs: its axes (``NODE.PARAM=V1,V2|A..B``, or a JSON list, parsed with the
parameter's declaration; a text.prompt_template's variable too), its variants (the full grid or the axes
zipped), each variant's folder name, a graph with a variant's overrides applied, and the sweep a graph
file saves.

Running the variants, and what they leave, is :mod:`nodeflow.sweep`'s (which re-exports these names).
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
from typing import Any, Callable, Collection, Iterable, Sequence

from .errors import ParameterError
from .graph import Graph

__all__ = ["Axis", "Variant", "parse_axis", "expand", "apply_overrides", "sweep_from_graph", "saved_axis", "held_value",
           "split_notice", "told_apart", "is_name", "MAX_VARIANTS"]

MAX_VARIANTS = 10_000


@dataclasses.dataclass(frozen=True)
class Axis:
    node: str
    param: str
    values: tuple[Any, ...]
    listed: bool = False          # the values came as a JSON list (not split at commas)
    paths: bool = False           # the parameter is a file path (its values named as paths: told_apart)

    @property
    def name(self) -> str:
        return f"{self.node}.{self.param}"


@dataclasses.dataclass(frozen=True)
class Variant:
    index: int
    overrides: tuple[tuple[str, Any], ...]   # (("node.param", value), ...)
    shown: tuple[str, ...] = ()              # each value as its name shows it, where the sweep told them apart
    #                                          (:func:`told_apart`); else as :func:`_short` shows it alone
    named: str = ""                          # its name as given elsewhere (the sweep's, a manifest's row: QA123
    #                                          D4, rerun's folder named the take alone), where it is one (is_name)

    @property
    def name(self) -> str:
        """``v003_param=value_...``: at most :data:`NAME_CHARS` characters after the index, made shorter
        by cutting the longest text values (marked ``…``), never a number (QA: a cut at 80 characters
        showed seed 1210484339 as ``seed=1`` and ``seed=121``); what does not fit is said as ``_etc``.
        Values keep their words in any script (:func:`_clean`); the ``vNNN`` index keeps names unique
        and never a reserved device name (CON, NUL...) on Windows."""
        if self.named and is_name(self.named, self.index):
            return self.named
        keys = [_clean(k.split(".", 1)[1]) for k, _ in self.overrides]
        vals = [_clean(s) for s in self.shown] if len(self.shown) == len(self.overrides) else \
            [_clean(_short(v)) for _, v in self.overrides]
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
        s = _file_name(s)
    return s if len(s) <= 24 else s[:24 - len(CUT)] + CUT


def is_name(name: str, index: int) -> bool:
    """Whether ``name`` (from a manifest, perhaps another's) is a variant ``index``'s folder name as
    :attr:`Variant.name` makes them: one folder, never a way out of it."""
    return isinstance(name, str) and re.fullmatch(rf"v0*{index}(_[^/\\\x00-\x1f<>:\"|?*]+)?", name) is not None \
        and _size(name) <= NAME_CHARS + 12 and not name.endswith((".", " "))


def told_apart(variants: list[Variant], paths: Collection[str] = ()) -> list[Variant]:
    """``variants`` with each file path value shown by as many of its last folders as tell it from the
    other paths the sweep gives that parameter where their file names are the same (QA122 D3: takes
    ``session1/vocal.wav`` and ``session2/vocal.wav`` made ``v000_path=vocal.wav`` and ``v001_path=vocal.wav``,
    DAW tracks alike); each other value as :func:`_short` shows it alone.  ``paths``: the parameters
    (``node.param``) that are file paths, whatever their values read as (QA123 D3: ``evening session
    2024-05-01/vocal.wav``, with spaces, read as text, was cut to ``evening_session_2024-05…`` for both days)."""
    shown: dict[tuple[str, Any], str] = {}
    for key in {k for v in variants for k, _ in v.overrides}:
        values = {val for v in variants for k, val in v.overrides
                  if k == key and isinstance(val, str) and (key in paths or _is_path(val))}
        by_name: dict[str, list[str]] = {}
        for val in values:
            by_name.setdefault(_file_name(val), []).append(val)
        for name, same in by_name.items():
            if len(same) == 1:
                shown[(key, same[0])] = name if len(name) <= 24 else name[:23] + CUT
                continue
            parts = {val: [p for p in val.replace("\\", "/").rstrip("/").split("/") if p] for val in same}
            for val, ps in parts.items():
                n = next((n for n in range(2, len(ps) + 1)
                          if all(other[-n:] != ps[-n:] for o, other in parts.items() if o != val)), len(ps))
                text = "/".join(ps[-n:])       # long: the folder that differs, and the file's name
                if len(text) > 24:
                    others = [other[-n] for o, other in parts.items() if o != val and len(other) >= n]
                    text = f"{_telling(ps[-n], others)}/{CUT}/{ps[-1]}"
                shown[(key, val)] = text
    if not any(_short(val) != shown[(k, val)] for (k, val) in shown):
        return variants
    return [dataclasses.replace(v, shown=tuple(shown.get((k, val), _short(val)) if isinstance(val, str) else
                                               _short(val) for k, val in v.overrides)) for v in variants]


def _file_name(value: str) -> str:
    return value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or value


def _telling(part: str, others: list[str], width: int = 12) -> str:
    """Of folder name ``part``, at most ``width`` characters that tell it from ``others``: its end, its start,
    or around where it first differs (``…2024-05-01``)."""
    if len(part) <= width:
        return part
    keep = width - 1
    if all(o[-keep:] != part[-keep:] for o in others):
        return CUT + part[-keep:].lstrip()
    if all(o[:keep] != part[:keep] for o in others):
        return part[:keep] + CUT
    start = max(0, len(os.path.commonprefix([part, *others])) - 4)
    return CUT + part[start:start + width - 2] + CUT


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
            values.append(held_value(p, p.parse(raw)))
        except ParameterError as e:
            raise ParameterError(f"--sweep {spec!r}: {e}") from None
    if not values:
        raise ParameterError(f"--sweep {spec!r}: no values given")
    return Axis(node_id, param, tuple(values), listed=listed, paths=p.kind == "path")


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
    return told_apart([Variant(i, tuple(zip(names, c))) for i, c in enumerate(combos)],
                      paths={a.name for a in axes if a.paths})


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


def saved_axis(ax: Any) -> bool:
    """Whether ``ax``, an entry of a graph file's ``sweep["axes"]``, has an axis' shape:
    ``{"param": "node.param", "values": [...]}`` (what saving, the places file and a run read)."""
    return isinstance(ax, dict) and isinstance(ax.get("param"), str) and isinstance(ax.get("values"), list)


def held_value(p: Any, value: Any) -> Any:
    """A swept value as its axis holds it: the parameter's own, but the word ``auto`` for an
    :class:`~nodeflow.types.Auto` parameter's None, which every setter reads as None again; so a
    variant's folder, the manifest and ``rerun`` say ``bpm=auto``, not ``bpm=None`` (QA94 D6)."""
    return "auto" if value is None and getattr(p, "auto", False) else value


def sweep_from_graph(graph: Graph) -> tuple[list[Axis], str]:
    """The sweep saved in a graph file (its ``sweep`` section: axes and mode)."""
    saved = getattr(graph, "sweep", None) or {}
    axes = []
    for i, ax in enumerate(saved.get("axes", [])):
        if not saved_axis(ax):
            raise ParameterError(f"saved sweep axis {i}: expected {{'param': 'node.param', 'values': [...]}}")
        node_id, _, param = ax["param"].partition(".")
        spec = graph.spec(node_id) if node_id in graph.nodes else None
        if spec is None or param not in spec.params:
            raise ParameterError(f"saved sweep axis {ax['param']!r}: no such node parameter")
        if not ax["values"]:             # (QA44: an empty axis ran "0/0 variant(s) ok", exit 0, no audio)
            raise ParameterError(f"saved sweep axis {ax['param']!r} has no values; give it some in the graph's "
                                 "sweep, or run without it: --no-sweep")
        try:
            p = spec.params[param]
            axes.append(Axis(node_id, param, tuple(held_value(p, p.coerce(v)) for v in ax["values"]),
                             paths=p.kind == "path"))
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
