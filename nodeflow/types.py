"""Port types and parameter specifications.

Port types are plain Python types: :class:`~nodeflow.audio.Audio`, ``str``, ``float``, ``int``,
``bool`` and ``list[T]`` of those.  A node that takes ``T`` may be fed a ``list[T]``: the engine
then maps the node over the list (see :func:`link_mode`).

Parameters are declared with ``typing.Annotated`` metadata, in the style of pedalboard
(units in names, enums for choices, range errors that print the range with its unit)::

    gain_db: Annotated[float, Range(-60.0, 24.0, unit="dB")] = 0.0
    path: Annotated[str, FilePath(mode="read", exts=(".wav", ".flac"))] = ""
    quality: Quality = Quality.HQ          # an Enum: the editor shows a combo box
"""
from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import math
import numbers
import re
import types as _pytypes
import typing
from pathlib import Path
from typing import Any

from .errors import DefinitionError, ParameterError

__all__ = ["replaced_by", "Range", "FilePath", "Text", "Auto", "Group", "ParamSpec", "PortSpec", "type_name", "is_list", "item_type",
           "link_mode", "ChoiceEnum"]

MAX_TEXT = 100_000


# ---------------------------------------------------------------------------------------- markers
@dataclasses.dataclass(frozen=True)
class Range:
    """Numeric bounds (inclusive), optional step and unit for a parameter.  ``within_input``: a time that cannot
    go past its input's length (the shortest input's, a crossfade's overlap), as a fade, a start or an end cannot:
    the editor holds it there once the input is known."""
    min: float | None = None
    max: float | None = None
    step: float | None = None
    unit: str = ""
    within_input: bool = False

    def __post_init__(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:   # (QA: "default ... out of range")
            raise DefinitionError(f"Range({self.min:g}, {self.max:g}): min is more than max; write Range(min, max)")


@dataclasses.dataclass(frozen=True)
class FilePath:
    """A file path parameter. ``mode='read'`` files are inputs (hashed into cache keys and never
    overwritten by exports); ``mode='write'`` files are outputs.  ``folder=True``: a folder is a valid
    input too (e.g. a LoRA adapter folder).

    ``content``: for a path that stands for some files found from it, a function of the resolved path
    giving those files by role (a LoRA adapter: its weights, and its settings where the weights do not
    carry them).  The input's cache key is then their bytes, so every spelling of the path (the folder
    or the file in it) and every copy of the files is the same input; without it a file counts by its
    bytes and a folder by its listing.  An empty answer (nothing found) falls back to that."""
    mode: str = "read"
    exts: tuple[str, ...] = ()
    folder: bool = False
    content: typing.Callable[[Path], dict[str, Path]] | None = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass(frozen=True)
class Text:
    """Free text (a prompt, a template). ``multiline`` asks the editor for a text area."""
    multiline: bool = False
    max_len: int = MAX_TEXT


@dataclasses.dataclass(frozen=True)
class Group:
    """Puts a parameter in a named group the editor shows folded (e.g. an export's DAW labels), so
    nodes with many rarely changed settings stay small on the canvas."""
    name: str


@dataclasses.dataclass(frozen=True)
class Auto:
    """On an optional parameter: ``None`` means "work it out from the input", and the word ``auto``
    (in a graph file, ``--set`` or the editor) is accepted for it, e.g. ``bpm="auto"``."""
    word: str = "auto"


class ChoiceEnum(str, enum.Enum):
    """Base for parameter choices: members are strings, stored in files by value."""

    def __str__(self) -> str:
        return str(self.value)


# ---------------------------------------------------------------------------------------- port types
def type_name(t: Any) -> str:
    if typing.get_origin(t) is list:
        return f"list[{type_name(item_type(t))}]"
    return getattr(t, "__name__", str(t))


def is_list(t: Any) -> bool:
    return typing.get_origin(t) is list


def item_type(t: Any) -> Any:
    args = typing.get_args(t)
    return args[0] if args else Any


def _is_sub(src: Any, dst: Any) -> bool:
    if src is dst or dst is Any:
        return True
    if src is int and dst is float:
        return True
    return isinstance(src, type) and isinstance(dst, type) and issubclass(src, dst)


def link_mode(src: Any, dst: Any) -> str | None:
    """How an output of type ``src`` can feed an input of type ``dst`` (memoised: a few type pairs
    recur across every link of a graph).

    ``'direct'`` (same type), ``'map'`` (a list feeding a per-item input: the engine maps the node),
    ``'wrap'`` (one item feeding a list input: passed as a one-item list) or ``None`` (incompatible).
    """
    try:
        return _link_mode(src, dst)
    except TypeError:          # an unhashable annotation: work it out each time
        return _link_mode.__wrapped__(src, dst)


@functools.lru_cache(maxsize=1024)
def _link_mode(src: Any, dst: Any) -> str | None:
    if is_list(src) and is_list(dst):
        return "direct" if _is_sub(item_type(src), item_type(dst)) else None
    if is_list(src):
        inner = item_type(src)
        return "map" if _is_sub(inner, dst) else None
    if is_list(dst):
        return "wrap" if _is_sub(src, item_type(dst)) else None
    return "direct" if _is_sub(src, dst) else None


@dataclasses.dataclass(frozen=True)
class PortSpec:
    name: str
    type: Any
    required: bool = True
    doc: str = ""

    @property
    def type_name(self) -> str:
        return type_name(self.type)


# ---------------------------------------------------------------------------------------- parameters
_KINDS = {float: "float", int: "int", bool: "bool", str: "str"}


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """Everything the engine, the CLI and the editor need to know about one parameter."""
    name: str
    kind: str                      # float | int | bool | str | enum | path
    default: Any
    optional: bool = False         # None is a valid value
    range: Range | None = None
    choices: type[enum.Enum] | None = None
    path: FilePath | None = None
    text: Text | None = None
    doc: str = ""
    auto: bool = False             # None is shown and accepted as "auto"
    group: str = ""                # the editor folds grouped parameters under this name

    # ---- declaration
    @classmethod
    def from_annotation(cls, name: str, annotation: Any, default: Any, where: str) -> "ParamSpec":
        meta: list[Any] = []
        if typing.get_origin(annotation) is typing.Annotated:
            annotation, *meta = typing.get_args(annotation)
        optional = False
        if typing.get_origin(annotation) in (typing.Union, _pytypes.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                raise DefinitionError(f"{where}: parameter '{name}' has an unsupported union type {annotation}")
            optional, annotation = True, args[0]
            if typing.get_origin(annotation) is typing.Annotated:
                annotation, *more = typing.get_args(annotation)
                meta += more
        rng = next((m for m in meta if isinstance(m, Range)), None)
        fpath = next((m for m in meta if isinstance(m, FilePath)), None)
        text = next((m for m in meta if isinstance(m, Text)), None)
        doc = next((m for m in meta if isinstance(m, str)), "")
        auto = any(isinstance(m, Auto) for m in meta)
        group = next((m.name for m in meta if isinstance(m, Group)), "")
        if auto and not optional:
            raise DefinitionError(f"{where}: Auto parameter '{name}' must be optional (None means auto)")
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            kind, choices = "enum", annotation
        elif annotation in _KINDS:
            kind, choices = _KINDS[annotation], None
        else:
            raise DefinitionError(f"{where}: parameter '{name}' has unsupported type {annotation!r}; "
                                  "use float, int, bool, str, an Enum, or Annotated[...] of those")
        if fpath is not None:
            if kind != "str":
                raise DefinitionError(f"{where}: FilePath parameter '{name}' must be a str")
            kind = "path"
        if rng is not None and kind not in ("float", "int"):
            raise DefinitionError(f"{where}: Range on non-numeric parameter '{name}'")
        spec = cls(name, kind, None, optional, rng, choices, fpath, text, doc, auto, group)
        if default is None and not optional:
            raise DefinitionError(f"{where}: parameter '{name}' has no default; parameters after '*' need one")
        try:
            object.__setattr__(spec, "default", spec.coerce(default))
        except ParameterError as e:
            raise DefinitionError(f"{where}: default of '{name}' is invalid: {e}") from None
        return spec

    # ---- values
    @property
    def unit(self) -> str:
        return self.range.unit if self.range else ""

    def range_words(self, unit: str | None = None) -> str:
        """The range as a musician reads it ("" when there is none), in ``unit`` (default its own).

        >>> ParamSpec("gain_db", "float", 0.0, range=Range(-60.0, 24.0, unit="dB")).range_words()
        'from -60 to 24 dB'
        >>> ParamSpec("start_s", "float", 0.0, range=Range(0.0, None)).range_words("s")
        '0 s or more'
        >>> ParamSpec("size", "float", 10.0, range=Range(0.0, 1_000_000.0)).range_words()   # (QA59: "1e+06")
        'from 0 to 1,000,000'
        """
        if self.kind == "enum" or self.range is None:
            return self.describe_range()
        lo, hi = self.range.min, self.range.max
        unit = f" {self.unit if unit is None else unit}".rstrip()
        if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
            return f"from {readable_number(lo)} to {readable_number(hi)}{unit}"
        if lo is not None and math.isfinite(lo):
            return f"{readable_number(lo)}{unit} or more"
        return f"up to {readable_number(hi)}{unit}" if hi is not None and math.isfinite(hi) else ""

    def describe_range(self) -> str:
        if self.kind == "enum" and self.choices is not None:
            return "one of " + ", ".join(str(m.value) for m in self.choices)
        if self.range is None:
            return ""
        lo = "-inf" if self.range.min is None else _number(self.range.min)
        hi = "inf" if self.range.max is None else _number(self.range.max)
        return f"[{lo}, {hi}]" + (f" {self.range.unit}" if self.range.unit else "")

    def coerce(self, value: Any) -> Any:
        """Validate ``value`` (from code or a file) and return it in canonical form."""
        if self.auto and isinstance(value, str) and value.strip().lower() == "auto":
            value = None
        if value is None:
            if self.optional:
                return None
            raise ParameterError(f"{self.name}: a value is required (got none)")
        k = self.kind
        if k == "float":     # numpy's scalars are numbers.Real too (QA: np.float32(-3.0) was "expected a number")
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ParameterError(f"{self.name}={value!r}: expected a number" + (" or auto" if self.auto else "")
                                     + _comma_hint(value))
            value = float(value)
            if not math.isfinite(value):
                raise ParameterError(f"{self.name}={value!r}: expected a finite number")
        elif k == "int":
            if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and \
                    math.isfinite(value) and float(value).is_integer():
                value = int(float(value))
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ParameterError(f"{self.name}={value!r}: expected a whole number")
            value = int(value)
        elif k == "bool":
            if not isinstance(value, bool):
                raise ParameterError(f"{self.name}={value!r}: expected true or false")
        elif k in ("str", "path"):
            if not isinstance(value, str):
                raise ParameterError(f"{self.name}={value!r}: expected text")
            limit = self.text.max_len if self.text else MAX_TEXT
            if len(value) > limit:
                raise ParameterError(f"{self.name}: text is {len(value):,} characters long, over the {limit:,} it "
                                     f"takes; shorten it, or split it over several nodes")
            if "\x00" in value:
                shown = repr(value if len(value) <= 60 else value[:57] + "...")
                raise ParameterError(f"{self.name}={shown}: text contains a NUL character (\\x00), which no file name "
                                     "or prompt can hold; remove it")
        elif k == "enum" and self.choices is not None:
            if isinstance(value, self.choices):
                return value
            text, num = value, value
            if isinstance(value, str) and value.strip()[:1].isdigit() and len(value) < 40:   # "48000.0" (QA56)
                with contextlib.suppress(ValueError):
                    num = float(value)
            if isinstance(num, numbers.Real) and not isinstance(num, bool) and math.isfinite(num) and \
                    float(num).is_integer():
                text = str(int(float(num)))     # a number choice written as one: sample_rate=48000 (QA54)
            if isinstance(text, str):
                for m in self.choices:
                    if text == m.value or text.lower() == m.name.lower():
                        return m
            fix = getattr(self.choices, "describe_unknown", None)     # choices that say how to add one
            raise ParameterError(f"{self.name}={value!r}: expected {self.describe_range()}" + (f"; {fix(value)}" if fix else ""))
        if k in ("float", "int") and self.range is not None:
            lo, hi = self.range.min, self.range.max
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ParameterError(f"{self.name}={_number(value)} is out of range ({self.range_words()})")
        return value

    def parse(self, text: str) -> Any:
        """Parse a command-line string (``--set node.param=VALUE``) and coerce it."""
        t = text.strip()
        if self.optional and t.lower() in ("none", "null", "") or (self.auto and t.lower() == "auto"):
            return None
        try:
            if self.kind == "float":
                return self.coerce(float(t))
            if self.kind == "int":
                return self.coerce(int(t))
        except ValueError:
            what = "number" + (" or auto" if self.auto else "") if self.kind == "float" else "whole number"
            raise ParameterError(f"{self.name}={text!r}: expected a {what}"
                                 + (_comma_hint(text) if self.kind == "float" else "")) from None
        if self.kind == "bool":
            low = t.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ParameterError(f"{self.name}={text!r}: expected true or false")
        return self.coerce(text)

    def to_plain(self, value: Any) -> Any:
        """The value as stored in a graph file (enums by value)."""
        return value.value if isinstance(value, enum.Enum) else value


_REPLACES = re.compile(r"replaces `+(\w+)`+ when (?:connected|linked)")


def replaced_by(inputs: dict[str, Any]) -> dict[str, str]:
    """``{parameter: input}`` for each input whose documentation says it ``replaces `param` when
    connected``: while that input is linked, the parameter does not apply.

    >>> from nodeflow.types import PortSpec
    >>> replaced_by({"text": PortSpec("text", str, False, "Text from another node; replaces `prompt` when connected.")})
    {'prompt': 'text'}
    """
    out = {}
    for name, port in inputs.items():
        m = _REPLACES.search(getattr(port, "doc", "") or "")
        if m:
            out[m.group(1)] = name
    return out


def readable_number(v: float) -> str:
    """A number as a musician reads it: no exponent for large whole values.

    >>> readable_number(1_000_000.0), readable_number(0.25), readable_number(-60.0), readable_number(384000)
    ('1,000,000', '0.25', '-60', '384,000')
    """
    return f"{int(v):,}" if abs(v) >= 1e5 and float(v).is_integer() else f"{v:g}"


_DECIMAL_COMMA = re.compile(r"\s*([-+]?\d+),(\d+)\s*")


def _comma_hint(value: Any) -> str:
    """The fix for a number typed with a decimal comma, as many countries write one (QA76 D3).

    >>> _comma_hint("131,3")
    '; write 131.3 (a point, not a comma)'
    >>> _comma_hint("1,000")
    '; write 1.000 for a decimal, 1000 for a thousand (no separator)'
    >>> _comma_hint("loud")
    ''
    """
    m = _DECIMAL_COMMA.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        return ""
    whole, part = m.groups()
    if len(part) == 3:
        return f"; write {whole}.{part} for a decimal, {whole}{part} for a thousand (no separator)"
    return f"; write {whole}.{part} (a point, not a comma)"


def _number(x: float) -> str:
    """A limit or value as people write it: whole numbers in full (a seed's 2147483647, not
    2.14748e+09), others in ``g`` form.

    >>> _number(2**31 - 1), _number(600.0), _number(0.25), _number(1e-7)
    ('2147483647', '600', '0.25', '1e-07')
    """
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"
