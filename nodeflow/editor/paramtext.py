"""What a parameter reads like, without a window: its label, unit, tooltip and number format, whether
its range calls for a drag box, when it applies, and a typed number held at a widget's ends.

:mod:`.widgets` builds the dearpygui widgets from these; tests use them without a display.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from ..types import ParamSpec, readable_number, replaced_by  # noqa: F401 - replaced_by: kept importable from here

__all__ = ["MAX_LABEL", "Clamped", "applies", "applies_when", "as_shown", "bound_by_input", "boxed", "clamp", "path_tip",
           "display_name", "drag_speed", "finite_range", "float_format", "is_wide", "plain", "readable",
           "tooltip", "replaced_by", "unit_of", "value_format"]

MAX_LABEL = 14
# shorter words for labels that would not fit (cut mid-word they read "custom windo.", "preserve for.")
_ABBREVIATIONS = (("tokens per", "tok/s"), ("window tokens", "window"), ("semitones", "st"),
                  ("temperature", "temp."), ("preserve", "keep"), ("noise scale duration", "duration noise"),
                  ("negative prompt", "neg. prompt"))
_UNIT_SUFFIXES = ("_db", "_s", "_hz", "_ms", "_lufs", "_wpm", "_semitones")


def display_name(spec: ParamSpec) -> str:
    """``gain_db`` with unit dB reads "gain"; underscores become spaces."""
    name = spec.name
    if spec.unit or spec.kind == "float":
        for suf in _UNIT_SUFFIXES:
            if name.endswith(suf) and len(name) > len(suf):
                name = name[: -len(suf)]
                break
    name = name.replace("_", " ")
    for long, short in _ABBREVIATIONS:
        if len(name) <= MAX_LABEL:
            break
        name = name.replace(long, short)
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1].rstrip() + "."


def unit_of(spec: ParamSpec) -> str:
    if spec.unit:
        return spec.unit
    for suf, unit in (("_db", "dB"), ("_hz", "Hz"), ("_ms", "ms"), ("_s", "s"), ("_lufs", "LUFS"),
                      ("_wpm", "wpm"), ("_semitones", "st")):
        if spec.name.endswith(suf):
            return unit
    return ""


def range_words(spec: ParamSpec) -> str:
    """A parameter's range as a musician reads it, in its unit as the editor shows it ("" when it has
    none): :meth:`ParamSpec.range_words`, the engine's words for it too."""
    return spec.range_words(unit_of(spec))


_ROLE = re.compile(r":[a-z]+:`~?(?:[\w.]*\.)?([^`<>]+?)`")     # :func:`~nodeflow.load` -> load
_LITERAL = re.compile(r"``(.+?)``|`([^`]+)`")


def readable(doc: str) -> str:
    """A docstring's text as a tooltip reads it: reStructuredText's inline markup taken off
    (QA46: "With ``profile=custom``: the target rate", "Play `b` after `a`").

    >>> readable("With ``profile=custom``: play `b` after :func:`~nodeflow.audio.recut` (:class:`Audio`)")
    'With profile=custom: play b after recut (Audio)'
    """
    return _LITERAL.sub(lambda m: m.group(1) or m.group(2), _ROLE.sub(r"\1", doc))


def tooltip(spec: ParamSpec) -> str:
    bits = [spec.name] + ([readable(spec.doc)] if spec.doc else [])
    rng = range_words(spec)
    if rng:
        bits.append(rng)
    if spec.optional:
        bits.append("leave empty for none")
    if spec.path is not None:
        bits.append(("an input file" if spec.path.mode == "read" else "an output file")
                    + (" (" + ", ".join(spec.path.exts) + ")" if spec.path.exts else ""))
    return "\n".join(bits)


def plain(spec: ParamSpec, value: Any) -> Any:
    if value is None:
        return ""
    return spec.to_plain(value)


_ONE_DECIMAL = ("dB", "dBTP", "dBFS", "LUFS", "LU", "st", "bpm", "%")


def path_tip(value: Any, base: Path | None) -> str:
    r"""A file field's tooltip line: the full path on disk (a relative path is the graph's folder
    ``base`` joined with it), and how the graph keeps it when that differs.

    >>> path_tip("../audio/song.wav", Path("/music/graphs"))
    '/music/audio/song.wav\n(kept in the graph as ../audio/song.wav)'
    >>> path_tip("/music/take.wav", Path("/music/graphs")), path_tip("", Path("/x"))
    ('/music/take.wav', '')
    >>> print(path_tip("/data/rec/take.wav", Path("/work/song")))       # far: the file keeps its name
    /data/rec/take.wav
    (kept in the graph file by its name, take.wav: it lies far from the graph's folder)
    """
    from ..outputs import resolve
    text = str(value or "")
    if not text:
        return ""
    full = os.path.normpath(resolve(text, base) if base is not None else Path(text).expanduser())
    if full == text and base is not None:
        from ..places import shared_path
        kept = shared_path(text, base, base)
        if kept == Path(full).name and os.path.dirname(full) != os.path.normpath(base):
            return f"{full}\n(kept in the graph file by its name, {kept}: it lies far from the graph's folder)"
    return full if full == text else f"{full}\n(kept in the graph as {text})"


def float_format(spec: ParamSpec) -> str:
    """The printf format a float parameter is shown with: the decimals of its step, else one for
    levels, semitones and tempi, none for wide frequency ranges, two for times, and by the span of
    the range for the rest (over 1000: none, over 100: one, else two; under 0.5: three).

    >>> from nodeflow.types import Range
    >>> f = lambda r, name="x": float_format(ParamSpec(name, "float", 0.0, range=r))
    >>> f(Range(-60, 24, unit="dB")), f(Range(0, 600, unit="s")), f(Range(20, 20000, unit="Hz")), f(Range(0, 1))
    ('%.1f dB', '%.2f s', '%.0f Hz', '%.2f')
    >>> f(Range(0, 1, step=0.005)), f(Range(0.25, 4.0, unit="x"))
    ('%.3f', '%.2f x')
    """
    unit = unit_of(spec)
    r = spec.range
    span = (r.max - r.min) if r is not None and r.min is not None and r.max is not None else None
    if r is not None and r.step:
        decimals = max(0, min(6, -math.floor(math.log10(r.step) + 1e-9)))
    elif unit in _ONE_DECIMAL:
        decimals = 1
    elif unit in ("Hz", "ms", "samples"):
        decimals = 0 if span is None or span >= 100 else 1
    elif unit == "s" or span is None:
        decimals = 2
    else:
        decimals = 0 if span >= 1000 else 1 if span >= 100 else 2 if span >= 0.5 else 3
    return f"%.{decimals}f" + (f" {unit}" if unit else "")


def value_format(spec: ParamSpec, value: float) -> str:
    """:func:`float_format` with as many more decimals (up to 4) as ``value`` needs to be shown as it
    is: a typed 3.25 semitones reads 3.25, not 3.2 (QA).

    >>> from nodeflow.types import Range
    >>> semis = ParamSpec("semitones", "float", 0.0, range=Range(-24, 24, unit="st"))
    >>> value_format(semis, 3.0), value_format(semis, 3.25), value_format(semis, 1 / 3)
    ('%.1f st', '%.2f st', '%.4f st')
    """
    fmt = float_format(spec)
    decimals = int(fmt[2:fmt.index("f")])
    if not math.isfinite(value):
        return fmt
    while decimals < 4 and abs(round(value, decimals) - round(value, 6)) > 1e-9:
        decimals += 1
    return f"%.{decimals}f" + fmt[fmt.index("f") + 1:]


def as_shown(value: float, fmt: str) -> float:
    """A widget's float (float32 inside dearpygui) as its format shows it: rounded to the format's
    decimals, or for ``%g`` to the shortest text that is the same float32.

    >>> as_shown(-33.599998474121094, "%.1f dB"), as_shown(0.10000000149011612, "%g s")
    (-33.6, 0.1)
    """
    m = re.match(r"%\.(\d+)f", fmt)
    if m:
        return round(float(value), int(m.group(1)))
    import numpy as np
    return float(str(np.float32(value)))


def is_wide(spec: ParamSpec) -> bool:
    """Whether a float's range is too wide for a linear slider: a positive range over more than a
    factor of 100 (0.1-600 s, 20-20000 Hz), 0 to over 100 in a unit of frequency or samples, or 0 to
    10 s or more (QA33/QA40: one click on the crossfade's 0-60 s slider set 44.85 s on an 8 s clip;
    a drag box's click sets nothing, and a 50 px drag from 2 s moves it about 1 s).

    >>> from nodeflow.types import Range
    >>> w = lambda r: is_wide(ParamSpec("x", "float", 0.0, range=r))
    >>> w(Range(0, 600, unit="s")), w(Range(20, 20000, unit="Hz")), w(Range(-60, 24, unit="dB")), w(Range(0, 60, unit="s"))
    (True, True, False, True)
    >>> w(Range(0, 5, unit="s")), w(Range(-24, 24, unit="st"))
    (False, False)
    """
    rng = finite_range(spec)
    if rng is None:
        return False
    lo, hi = rng
    if lo > 0:
        return hi / lo >= 100
    unit = unit_of(spec)
    return lo == 0 and ((hi >= 100 and unit in ("Hz", "samples")) or (hi >= 10 and unit == "s") or
                        (hi >= 100 and unit == "ms"))


def drag_speed(spec: ParamSpec, value: float) -> float:
    """Value change per pixel of a wide parameter's drag box: 1 % of the value (at least 1 % of a
    thousandth of the range), so 50 px change 0 s by 0.3 s and 8 s by about 5 s, never 300 s."""
    rng = finite_range(spec) or (0.0, 1.0)
    floor = max(abs(rng[0]), (rng[1] - rng[0]) / 1000.0)
    return 0.01 * max(abs(float(value)), floor)


_APPLIES = re.compile(r"^\s*With ((?:``\w+=[\w.-]+``(?:,? or )?)+)")
_MATTERS = re.compile(r"^\s*For ((?:``\w+=[\w.-]+``(?:,? or )?)+)")


def _condition(spec: ParamSpec, pattern: re.Pattern[str]) -> tuple[str, tuple[str, ...]] | None:
    m = pattern.match(spec.doc or "")
    if not m:
        return None
    pairs = re.findall(r"``(\w+)=([\w.-]+)``", m.group(1))
    names = {n for n, _ in pairs}
    return (pairs[0][0], tuple(v for _, v in pairs)) if len(names) == 1 else None


def _holds(cond: tuple[str, tuple[str, ...]] | None, params: dict[str, Any]) -> bool:
    if cond is None or cond[0] not in params:
        return True
    v = params[cond[0]]
    return str(getattr(v, "value", v)) in cond[1]


def applies_when(spec: ParamSpec) -> tuple[str, tuple[str, ...]] | None:
    """``(parameter, values)`` when the parameter's documentation starts ``With ``p=v``:`` (or
    ``With ``p=a`` or ``p=b``:``): it matters only while ``p`` has one of those values (hidden otherwise).

    >>> applies_when(ParamSpec("custom_rate_hz", "int", 1, doc="With ``profile=custom``: the model's rate."))
    ('profile', ('custom',))
    >>> applies_when(ParamSpec("gain_db", "float", 0.0, doc="Gain in dB.")) is None
    True
    """
    return _condition(spec, _APPLIES)


def applies(spec: ParamSpec, params: dict[str, Any]) -> bool:
    """Whether a parameter applies with these parameter values (see :func:`applies_when`)."""
    return _holds(applies_when(spec), params)


def matters_when(spec: ParamSpec) -> tuple[str, tuple[str, ...]] | None:
    """``(parameter, values)`` when the documentation starts ``For ``p=a`` or ``p=b``:``: the value
    does its main work only while ``p`` has one of those values, and is greyed otherwise, still
    editable (a tempo with windows cut in seconds only labels them).

    >>> matters_when(ParamSpec("bpm", "float", 120.0, doc="For ``unit=bars`` or ``unit=beats``: the grid's tempo."))
    ('unit', ('bars', 'beats'))
    """
    return _condition(spec, _MATTERS)


def matters(spec: ParamSpec, params: dict[str, Any]) -> bool:
    """Whether a parameter does its main work with these parameter values (see :func:`matters_when`)."""
    return _holds(matters_when(spec), params)


_BOUNDED = re.compile(r"^(fade(_\w+)?|start|end)_s$")


def bound_by_input(spec: ParamSpec) -> bool:
    """Whether a time parameter cannot usefully exceed its input's length (a fade, a start or end, or one its
    range says so of: ``Range(within_input=True)``, a crossfade's overlap)."""
    return spec.kind == "float" and (bool(_BOUNDED.match(spec.name)) or
                                     bool(spec.range is not None and spec.range.within_input))


def finite_range(spec: ParamSpec) -> tuple[float, float] | None:
    r = spec.range
    if r is None or r.min is None or r.max is None:
        return None
    if not (math.isfinite(r.min) and math.isfinite(r.max)):
        return None
    return r.min, r.max


def clamp(spec: ParamSpec, value: Any, conf: dict[str, Any]) -> tuple[Any, str | None]:
    """A number typed into a slider or drag box (``conf``: its configuration) held at the widget's
    ends (the declared range, or the input's length for a time bounded by it), as a DAW holds it,
    and what to tell the user when it was: ``(value, None)`` when it fits.

    >>> clamp(ParamSpec("gain_db", "float", 0.0), 500.0, {"min_value": -60.0, "max_value": 24.0})
    (24.0, 'typed 500: the range is -60 to 24 dB')
    >>> from nodeflow.types import Range
    >>> spec = ParamSpec("fade_in_s", "float", 0.0, range=Range(0.0, 600.0, unit="s"))
    >>> clamp(spec, 20.0, {"min_value": 0.0, "max_value": 8.0})
    (8.0, 'typed 20: the input is 8 s long')
    >>> clamp(ParamSpec("gain_db", "float", 0.0), 24.000001, {"min_value": -60.0, "max_value": 24.0})
    (24.000001, None)
    >>> clamp(ParamSpec("duration_s", "float", 8.0, range=Range(0.1, 600.0, unit="s")), 0.0,
    ...       {"min_value": 0.10000000149011612, "max_value": 600.0})        # the declared end, not float32's
    (0.1, 'typed 0: the range is 0.1 to 600 s')
    >>> clamp(ParamSpec("seed", "int", 0), -4, {"min_value": 0, "max_value": 2**31 - 1})
    (0, 'typed -4: the range is 0 to 2,147,483,647')
    """
    lo, hi = conf.get("min_value"), conf.get("max_value")
    if not isinstance(value, (int, float)) or not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)) \
            or lo >= hi:
        return value, None
    # a float32 slider's own end is no overshoot; a whole number has none (a seed's range is 2**31 wide)
    slack = 0.0 if isinstance(value, int) else 1e-6 * max(1.0, abs(lo), abs(hi))
    if lo - slack <= value <= hi + slack:
        return value, None
    end = lo if value < lo else hi
    declared_end = (spec.range.min if value < lo else spec.range.max) if spec.range is not None else None
    if isinstance(declared_end, (int, float)) and abs(declared_end - end) <= slack:
        end = declared_end                          # 0.1, not the float32 slider's 0.10000000149011612
    held = type(value)(end)
    unit = f" {unit_of(spec)}" if unit_of(spec) else ""
    declared = spec.range.max if spec.range is not None else None
    if value > hi and bound_by_input(spec) and declared is not None and hi < declared:
        return held, f"typed {value:g}: the input is {readable_number(hi)}{unit} long"
    return held, f"typed {value:g}: the range is {readable_number(lo)} to {readable_number(hi)}{unit}"


class Clamped:
    """A typed number held at the widget's end: the value set, and why (for the status bar)."""

    def __init__(self, value: Any, reason: str):
        self.value, self.reason = value, reason


def boxed(spec: ParamSpec, value: Any) -> str:
    """An optional value as its text box shows it: empty for none, a number with its unit."""
    if value is None:
        return ""
    unit = unit_of(spec) if spec.kind in ("float", "int") else ""
    return f"{plain(spec, value)} {unit}" if unit else str(plain(spec, value))
