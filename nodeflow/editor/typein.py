"""A number typed into a parameter: what a musician types, read as a value, and the box it is typed in.

:func:`parse_typed` reads what people type in a DAW: a time as ``1:30`` (minutes:seconds),
``1:02:03.5``, ``250 ms`` or ``2 min``; a frequency as ``2.5k`` or ``2.5 kHz``; a sample rate as
``44.1k``; any value with or without its unit (``-6 dB``); a decimal comma (``2,5``; ``2,500`` is
thousands) and a typographic minus.  Text it cannot read raises :class:`ValueError` saying what it expected, with examples in
the parameter's unit.

:class:`TypeIn` is the box.  A double-click on a slider or drag box hides it and opens a text box of
the same size in its place (the node keeps its size); Enter (or Tab) sets what the box holds, and so
does a click elsewhere, unless Escape put the old text back first (then nothing changes).  The widgets'
own typing (ImGui's, switched off with ``no_input``) read ``1:30`` as 1, ``250 ms`` into seconds
as 250, and ignored text it could not read without a word.
"""
from __future__ import annotations

import math
import re
from typing import Callable

import dearpygui.dearpygui as dpg

from ..types import ParamSpec
from . import items
from .keyorder import hold_until

__all__ = ["parse_typed", "TypeIn", "Typed", "TYPE_IN", "TYPING", "UNCHANGED"]

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?"
# the suffixes a value in each unit may be typed with, and what one of them is worth in the unit
_SECONDS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0}
_SCALES: dict[str, dict[str, float]] = {
    "s": {"ms": 1e-3, **_SECONDS, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0},
    "ms": {"ms": 1.0, **{k: 1e3 for k in _SECONDS}},
    "Hz": {"hz": 1.0, "k": 1e3, "khz": 1e3},
    # levels: a musician types "dB" for any of them
    **{unit: {"db": 1.0} for unit in ("dBTP", "dBFS", "LUFS", "LU")},
}
_EXAMPLES = {"s": "2.5, 1:30 or 250 ms", "ms": "250 or 0.25 s", "Hz": "440, 2.5k or 2.5 kHz"}


def parse_typed(spec: ParamSpec, text: str, unit: str = "") -> float | int:
    """The value ``text`` means for the number parameter ``spec`` shown in ``unit``.

    >>> from nodeflow.types import Range
    >>> fade = ParamSpec("fade_s", "float", 0.0, range=Range(0, 600, unit="s"))
    >>> [parse_typed(fade, t, "s") for t in ("1:30", "1:02:03.5", "250 ms", "2 min", "2,5", "8 s", " .5", "1m30s",
    ...                                      "1.5 secs")]
    [90.0, 3723.5, 0.25, 120.0, 2.5, 8.0, 0.5, 90.0, 1.5]
    >>> lufs = ParamSpec("loudness_lufs", "float", None, range=Range(-70, 0, unit="LUFS"), optional=True)
    >>> parse_typed(lufs, "-14 dB", "LUFS"), parse_typed(ParamSpec("peak_db", "float", -1.0), "-3 dB", "dBTP")
    (-14.0, -3.0)
    >>> parse_typed(lufs, "loud", "LUFS")
    Traceback (most recent call last):
    ValueError: typed 'loud': not a number in LUFS; type e.g. -35 LUFS
    >>> freq = ParamSpec("freq_hz", "float", 440.0, range=Range(20, 20000, unit="Hz"))
    >>> [parse_typed(freq, t, "Hz") for t in ("2,500 Hz", "0,125", "2,5k", "12,000")]
    [2500.0, 0.125, 2500.0, 12000.0]
    >>> rate = ParamSpec("rate", "int", 48000)
    >>> parse_typed(rate, "44.1k", "Hz"), parse_typed(ParamSpec("g", "float", 0.0), "\u22126 dB", "dB")
    (44100, -6.0)
    >>> parse_typed(fade, "1x", "s")
    Traceback (most recent call last):
    ValueError: typed '1x': not a time in s; type e.g. 2.5, 1:30 or 250 ms
    >>> parse_typed(rate, "44.05", "Hz")
    Traceback (most recent call last):
    ValueError: typed '44.05': not a whole number; type e.g. 440, 2.5k or 2.5 kHz
    """
    t = text.strip().replace("\u2212", "-")
    if re.fullmatch(r"[-+]?[1-9]\d{0,2}(,\d{3})+(\s*[a-zA-Z%]*)", t):
        t = t.replace(",", "")                     # 2,500 Hz, 1,000,000: thousands
    elif t.count(",") == 1 and "." not in t:
        t = t.replace(",", ".")                    # 2,5 s, 0,125: a decimal comma
    value = _clock(t) if unit in ("s", "ms") else None
    if value is not None and unit == "ms":
        value *= 1e3
    if value is None:
        m = re.fullmatch(rf"({_NUMBER})\s*([a-zA-Z%]*)", t, re.IGNORECASE)
        scale = None if m is None else _scale(m.group(2), unit)
        if m is None or scale is None:
            raise ValueError(_expected(spec, text, unit))
        value = float(m.group(1)) * scale
    if not math.isfinite(value):
        raise ValueError(_expected(spec, text, unit))
    if spec.kind == "int":
        if abs(value - round(value)) > 1e-9 * max(1.0, abs(value)):
            raise ValueError(_expected(spec, text, unit, "a whole number"))
        return int(round(value))
    return value


def _clock(t: str) -> float | None:
    """``m:ss``, ``h:mm:ss`` or ``1m30s`` (seconds with decimals) in seconds; None when ``t`` is not one."""
    m = re.fullmatch(r"([-+]?)(\d+)\s*m\s*(\d{1,2}(?:\.\d*)?)\s*s", t)
    if m is not None and float(m.group(3)) < 60:
        seconds = int(m.group(2)) * 60 + float(m.group(3))
        return -seconds if m.group(1) == "-" else seconds
    m = re.fullmatch(r"([-+]?)(\d+)(?::(\d{1,2}))?:(\d{1,2}(?:\.\d*)?)", t)
    if m is None:
        return None
    sign, first, middle, last = m.groups()
    if float(last) >= 60 or (middle is not None and int(middle) >= 60):
        return None
    parts = [int(first)] + ([int(middle)] if middle is not None else []) + [float(last)]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return -seconds if sign == "-" else seconds


def _scale(suffix: str, unit: str) -> float | None:
    """What one ``suffix`` is worth in ``unit`` (1 for none or the unit itself); None when it is
    not a way to write a value in that unit."""
    s = suffix.lower()
    if not s or s == unit.lower():
        return 1.0
    return _SCALES.get(unit, {}).get(s)


def _expected(spec: ParamSpec, text: str, unit: str, what: str = "") -> str:
    if not what:
        what = {"s": "a time in s", "ms": "a time in ms", "Hz": "a frequency in Hz"}.get(
            unit, "a number" + (f" in {unit}" if unit else ""))
    example = _EXAMPLES.get(unit)
    if example is None:
        example = f"{_example(spec):g}" + (f" {unit}" if unit else "")
    return f"typed {text.strip()!r}: not {what}; type e.g. {example}"


def _example(spec: ParamSpec) -> float:
    """A value to show as an example: the default, or the middle of the range (rounded), or 1."""
    r = spec.range
    lo = r.min if r is not None and r.min is not None and math.isfinite(r.min) else None
    hi = r.max if r is not None and r.max is not None and math.isfinite(r.max) else None
    d = spec.default
    if isinstance(d, (int, float)) and not isinstance(d, bool) and (lo is None or d >= lo) and (hi is None or d <= hi):
        return float(d)
    if lo is not None and hi is not None:
        return float(round((lo + hi) / 2))
    return float(lo if lo is not None else hi if hi is not None else 1)


class _TypeIn:
    """The marker :data:`TYPE_IN`: a double-click on a slider, to type a value.  Its first click
    moved the slider to where it landed; the app takes that step back (no undo step is left)."""

    def __repr__(self) -> str:
        return "TYPE_IN"


TYPE_IN = _TypeIn()


class _Typing:
    """The marker :data:`TYPING`: a double-click on a drag box, which types a value (its clicks set
    nothing, so nothing is taken back)."""

    def __repr__(self) -> str:
        return "TYPING"


TYPING = _Typing()


class Typed:
    """A value typed into a box (see :class:`TypeIn`): set, but never taken back as the first click
    of a double-click (a slider's click is)."""

    def __init__(self, value: object):
        self.value = value


class _Unchanged:
    """The marker :data:`UNCHANGED`: a value was being typed, and the box was left as it was."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()


class TypeIn:
    """The text box one value is typed into, over a slider or drag box (one at a time)."""

    def __init__(self) -> None:
        self.over: str | None = None           # the widget typed over
        self.box: str | None = None
        self._initial = ""
        self._done: Callable[[str | None], None] | None = None

    def open(self, tag: str, text: str, done: Callable[[str | None], None]) -> str | None:
        """Hide the widget ``tag`` and open a box (tagged ``typein::`` + ``tag``) showing ``text``
        where it was, with the keyboard in it; ``done`` gets what the box holds when it is left
        (None: left as it was, Escape included)."""
        self.close()
        if not items.exists(tag):
            return None
        conf = items.call(dpg.get_item_configuration, tag, default={})
        box = f"typein::{tag}"
        dpg.add_input_text(tag=box, default_value=text, width=conf.get("width", 0), label=conf.get("label") or "",
                           before=tag, on_enter=True, callback=lambda s, a, u: self.left(),
                           tab_input=True,          # Tab sets the value as Enter does (see .commands)
                           parent=dpg.get_item_parent(tag))
        items.configure(tag, show=False)
        dpg.bind_item_handler_registry(box, self._handlers())
        dpg.focus_item(box)
        hold_until(                               # what is typed right after the double-click goes into it
            lambda: items.active(box))
        self.over, self.box, self._initial, self._done = tag, box, text, done
        return box

    def left(self) -> None:
        """The box was left (Enter, Escape or a click elsewhere): hand over what it holds, close it."""
        if self.box is None or self._done is None:
            return
        # Tab sets the value (tab_input keeps the keyboard in the box); ImGui inserts its '\t' ahead of
        # characters typed in the same frame (QA113 D3: a fast "0:1", Tab gave '0:\t1'): a value has no tabs
        text = str(items.value(self.box, default=self._initial)).replace("\t", "")
        done, initial = self._done, self._initial
        self.close()
        done(None if text.strip() in ("", initial.strip()) else text)     # emptied: as Escape

    def tick(self) -> None:
        """Once a frame: a box deleted with its node (Delete, undo, a new file) hands over nothing."""
        if self.box is not None and not items.exists(self.box):
            done = self._done
            self.box = self.over = self._done = None
            if done is not None:
                done(None)

    def close(self) -> None:
        """Remove the box (if open) and show the widget again, handing over nothing."""
        box, over = self.box, self.over
        self.box = self.over = None
        self._done = None
        if box is not None:
            items.delete(box)
        if over is not None:
            items.configure(over, show=True)

    def _handlers(self) -> str:
        reg = "typein::handlers"
        if not dpg.does_item_exist(reg):
            with dpg.item_handler_registry(tag=reg):
                dpg.add_item_deactivated_handler(callback=lambda s, a, u: self.left())
        return reg
