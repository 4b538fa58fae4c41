"""Parameter widgets built from a node's declaration (:class:`~nodeflow.types.ParamSpec`).

* a number with a finite range: a slider over that range, the unit in the shown value
  (``-6.0 dB``), as many decimals as its step or unit calls for (:func:`float_format`); a
  double-click types an exact value as a DAW reads it (``1:30``, ``250 ms``, ``2.5k``: see
  :mod:`.typein`), and its first click, which moved the slider to where it landed, is taken back
  (:data:`TYPE_IN`).  A wide range (a fade of up to 600 s, a frequency, a duration: see
  :func:`is_wide`) gets a drag box whose speed follows the value (1 % of it per pixel, so a short
  drag makes a small change at any size: logarithmic in effect); a time that cannot exceed the
  input's length is bounded by it once the input is known (:func:`bound_by_input`);
* a number without bounds: an input box (a wide whole-number range with a unit, such as a sample
  rate: a drag box showing the unit);
* an optional number: a text box showing the value with its unit ("-14.0 LUFS"; empty means none);
* a choice (an Enum): a combo box of its values;
* ``Text``: a text box (multi-line for prompts and templates);
* ``FilePath``: a text box showing the file name (``.../take.wav``; the full path in its tooltip;
  typing a path replaces it) and a ``...`` button that opens the file dialog;
* a model's ``checkpoint`` (a hub id or a folder): a text box and a ``...`` button that opens a
  folder dialog (:mod:`.models_panel` checks the folder);
* an optional value (``None`` allowed): a text box where empty means "none".

A parameter documented as ``With ``profile=custom``: ...`` applies only then and is hidden
otherwise (:func:`applies_when`, :func:`applies`).  The tooltip is the parameter's documentation
and its range.  Every change calls
``on_change(node_id, param, value)``; the app turns it into an undoable edit and puts the widget
back when the value is refused (or is :class:`Invalid`).  A float is passed as the widget shows it
(:func:`as_shown`: ``-33.6``, not the slider's float32 ``-33.599998474121094``).

Leaving a widget (a slider let go, a box clicked out of, Enter) calls ``on_change(node_id, param,
LEFT)``: what follows is a new undo step.  A text box that takes its value on Enter takes what it
shows when left without Enter too (Escape puts the old text back first, so it cancels).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import dearpygui.dearpygui as dpg

from ..types import ParamSpec, readable_number
from . import items
from .nodetext import path_shown, path_typed
from .paramtext import (Clamped, applies, applies_when, as_shown, bound_by_input, boxed, clamp,
                        display_name, drag_speed, finite_range, float_format, is_wide, matters, matters_when,
                        path_tip, plain,
                        tooltip, unit_of, value_format)
from .typein import TYPE_IN, TYPING, UNCHANGED, TypeIn, Typed, parse_typed

__all__ = ["add_param_widget", "set_widget_value", "widget_tag", "display_name", "WIDTH", "float_format",
           "is_wide", "drag_speed", "applies_when", "applies", "matters_when", "matters", "bound_by_input", "as_shown", "clamp", "Clamped",
           "Invalid", "LEFT", "TYPE_IN", "TYPING", "commit_typing", "forget", "is_slider", "param_tags", "typing_box", "typing_tick",
           "set_base_dir", "BOUNDS"]

WIDTH = 104
PATH_EXTRA = 36     # a path box is this much wider than other fields (it was 28 px narrower): about 19 characters
_BASE_DIR: Callable[[], Path] | None = None     # the graph's folder: file fields' tooltips show full paths


def set_base_dir(base_dir: Callable[[], Path]) -> None:
    """Where relative file paths start (the open graph's folder), for the file fields' tooltips."""
    global _BASE_DIR
    _BASE_DIR = base_dir


def _path_tip(value: Any) -> str:
    return path_tip(value, _BASE_DIR() if _BASE_DIR is not None else None)


def _local_folder(value: Any) -> bool:
    """Whether a checkpoint field names a folder on this machine (:func:`nodeflow.checkpoints.names_folder`),
    not a hub id (``org/model-name``, shown as it is)."""
    from ..checkpoints import names_folder
    text = str(value or "").strip()
    return bool(text) and names_folder(text, _BASE_DIR() if _BASE_DIR is not None else None)


def _checkpoint_shown(value: Any) -> str:
    """A checkpoint box's text: a local folder by its name (``.../my-model``: a narrow box showed the
    start of the path, alike for every node: QA104 D4), a hub id as it is."""
    return path_shown(value) if _local_folder(value) else str(value or "")


def widget_tag(node_id: str, param: str) -> str:
    return f"param::{node_id}::{param}"


def add_param_widget(parent: int | str, node_id: str, spec: ParamSpec, value: Any,
                     on_change: Callable[[str, str, Any], Any],
                     on_browse: Callable[[str, str, ParamSpec], None] | None = None,
                     scale: float = 1.0, checkpoint: bool = False) -> str:
    """Add the widget for one parameter under ``parent``, its sizes times ``scale`` (the canvas'
    zoom, see :mod:`.zoom`); returns its tag.  ``checkpoint``: the parameter names a model
    checkpoint (its ``...`` picks a folder)."""
    def px(v: float) -> int:
        return max(1, round(v * scale))
    tag = widget_tag(node_id, spec.name)
    cb_value = lambda s, a, u: on_change(node_id, spec.name, a)        # noqa: E731
    kw = dict(tag=tag, label=display_name(spec), width=px(WIDTH), parent=parent)
    on_leave: Callable[[], None] | None = None           # what leaving a box that commits on Enter takes
    if _text_box(spec):           # an optional value, or a number without bounds: typed, read on Enter or leaving
        on_leave = _add_typed_box(node_id, spec, value, on_change, kw)
    elif spec.kind in ("float", "int"):
        _add_number(node_id, spec, value, on_change, kw)
    elif spec.kind == "bool":
        kw.pop("width")
        dpg.add_checkbox(default_value=bool(value), callback=cb_value, **kw)
    elif spec.kind == "enum" and spec.choices is not None:
        dpg.add_combo([str(m.value) for m in spec.choices], default_value=str(plain(spec, value)),
                      callback=cb_value, **kw)
    elif (spec.kind == "path" and spec.path is not None) or \
            (spec.kind == "str" and checkpoint and on_browse is not None):
        on_leave = _add_path_box(node_id, spec, value, on_change, on_browse, kw, px)
    else:  # str / Text
        multiline = bool(spec.text and spec.text.multiline)
        if multiline:
            kw["width"] = px(WIDTH) + px(76)        # prompts and templates get room to be read
        dpg.add_input_text(default_value=str(value or ""), multiline=multiline, height=px(54) if multiline else 0,
                           callback=cb_value, **kw)

    def leave() -> None:
        if on_leave is not None:
            on_leave()
        on_change(node_id, spec.name, LEFT)
    _LEAVE[tag] = leave
    if dpg.get_item_type(tag) in _SLIDERS + _DRAGS:     # a double-click types a value (a drag's clicks set nothing)
        marker = TYPE_IN if dpg.get_item_type(tag) in _SLIDERS else TYPING
        _TYPE_IN[tag] = lambda: _type_into(tag, node_id, spec, on_change, marker)
    dpg.bind_item_handler_registry(tag, _leave_handlers())
    with dpg.tooltip(tag):
        dpg.add_text(tooltip(spec), wrap=320)
        if (spec.kind == "path" and not spec.optional) or checkpoint:     # the full path (a checkpoint's folder)
            dpg.add_text(_path_tip(plain(spec, value)) if spec.kind == "path" or _local_folder(value) else "",
                         tag=f"pathtip::{node_id}::{spec.name}", wrap=320, color=(190, 210, 240))
    return tag


def _add_typed_box(node_id: str, spec: ParamSpec, value: Any, on_change: Callable[[str, str, Any], Any],
                   kw: dict[str, Any]) -> Callable[[], None]:
    """A text box for an optional value or an unbounded number, read on Enter; returns what leaving
    it does (read it too)."""
    tag, unit = kw["tag"], unit_of(spec)

    def parse(s: int | str, a: str, u: Any) -> None:
        if a.strip() == str(items.call(dpg.get_item_user_data, tag) or "").strip():
            return                           # left as shown: nothing to set, nothing to say
        if not a.strip() and not spec.optional:
            on_change(node_id, spec.name, UNCHANGED)         # emptied: the value stays, as with Escape
            return
        try:
            v = parse_typed(spec, a, unit) if spec.kind in ("float", "int") and a.strip() else spec.parse(a)
        except Exception as e:  # noqa: BLE001 - shown in the status bar by on_change's caller
            on_change(node_id, spec.name, _Invalid(str(e)))
            return
        rng = finite_range(spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        if rng and (unit == "s" or (spec.kind == "int" and not unit)):
            # a time held at the range's ends (or its input's length), as a slider holds it (QA101 D2), and a
            # plain whole number (a seed, a count: QA104 D7); a level past its range is refused (+5 LUFS held
            # at 0 would be a master at 0 LUFS), in the words typed (QA104: 99999999999999999999999 read 1e+23)
            held, why = clamp(spec, v, {"min_value": rng[0], "max_value": BOUNDS.get(tag, rng[1])})
            v = Clamped(held, why.replace(f"typed {v:g}", f"typed {a.strip()}", 1)) if why else v
        elif rng and not rng[0] <= v <= rng[1]:
            v = _Invalid(f"typed {a.strip()}: the range is {readable_number(rng[0])} to {readable_number(rng[1])}"
                         f"{f' {unit}' if unit else ''}; type a value in it")
        on_change(node_id, spec.name, v)
    dpg.add_input_text(default_value=boxed(spec, value), on_enter=True, callback=parse, **kw,
                       user_data=boxed(spec, value),           # the text shown: leaving it so sets nothing
                       hint=("none" + (f" ({unit})" if unit else "")) if spec.optional else unit)
    # a double-click types a value as on a slider: a box over it, the whole value selected (ImGui's own
    # double-click selects a word: QA, "0.0 s" became "0.0 0.5" and was refused)
    _TYPE_IN[tag] = lambda: _BOX.open(tag, str(items.value(tag, default="")),
                                      lambda typed: None if typed is None else parse(tag, typed, None))
    return lambda: parse(tag, str(items.value(tag)), None)


def _add_number(node_id: str, spec: ParamSpec, value: Any, on_change: Callable[[str, str, Any], Any],
                kw: dict[str, Any]) -> None:
    """A bounded number's slider, or drag box where the range is wide (see :func:`.paramtext.is_wide`)."""
    def cb_number(s: int | str, a: Any, u: Any, shown: Callable[[Any], Any] = lambda a: a) -> None:
        """A slider's or drag box's value; one typed past its ends is held there, and says so."""
        value, why = clamp(spec, a, items.call(dpg.get_item_configuration, s, default={}))
        on_change(node_id, spec.name, Clamped(shown(value), why) if why else shown(value))
    rng, unit = finite_range(spec), unit_of(spec)
    if not rng:
        return
    if spec.kind == "float":
        fmt = float_format(spec)
        if is_wide(spec):          # a drag box whose step follows the value, no handle over the digits
            def cb_wide(s: int | str, a: float, u: Any) -> None:
                items.configure(s, speed=drag_speed(spec, as_shown(a, fmt)))
                cb_number(s, a, u, lambda a: as_shown(a, fmt))
            dpg.add_drag_float(default_value=float(value), min_value=rng[0], max_value=rng[1],
                               format=value_format(spec, float(value)),
                               speed=drag_speed(spec, value), clamped=False, no_input=True, callback=cb_wide, **kw)
        else:
            dpg.add_slider_float(default_value=float(value), min_value=rng[0], max_value=rng[1],
                                 format=value_format(spec, float(value)),
                                 callback=lambda s, a, u: cb_number(s, a, u, lambda a: as_shown(a, fmt)),
                                 clamped=False, no_input=True, **kw)
        return
    fmt = "%d" + (f" {unit}" if unit else "")
    if rng[1] - rng[0] <= 1000:
        dpg.add_slider_int(default_value=int(value), min_value=int(rng[0]), max_value=int(rng[1]), format=fmt,
                           callback=cb_number, clamped=False, no_input=True, **kw)
    elif unit:     # e.g. a sample rate: the unit stays in view (an input box cannot show one)
        dpg.add_drag_int(default_value=int(value), min_value=int(rng[0]), max_value=int(rng[1]), format=fmt,
                         speed=max(1.0, (rng[1] - rng[0]) / 2000), clamped=False, no_input=True,
                         callback=cb_number, **kw)


def _add_path_box(node_id: str, spec: ParamSpec, value: Any, on_change: Callable[[str, str, Any], Any],
                  on_browse: Callable[[str, str, ParamSpec], None] | None, kw: dict[str, Any],
                  px: Callable[[float], int]) -> Callable[[], None] | None:
    """A file's box (its name in view, the whole path on hover) or a model's checkpoint (a hub id, or a
    folder), with "..." to browse; returns what leaving a file's box does."""
    tag, parent, width = kw.pop("tag"), kw.pop("parent"), kw["width"]
    browse = f"browse::{node_id}::{spec.name}"
    with dpg.group(horizontal=True, parent=parent):
        if spec.kind != "path":
            assert on_browse is not None         # a checkpoint's box comes with "..." only

            def cb_checkpoint(s: int | str, a: str, full: str) -> None:
                new = path_typed(a, full) if _local_folder(full) else a.strip()
                if new != full:
                    on_change(node_id, spec.name, new)
            dpg.add_input_text(default_value=_checkpoint_shown(value), tag=tag, user_data=str(value or ""),
                               **dict(kw, width=width - px(28)), callback=cb_checkpoint, on_enter=True)
            dpg.add_button(label="...", width=px(22), callback=lambda: on_browse(node_id, spec.name, spec), tag=browse)
            return lambda: cb_checkpoint(tag, str(items.value(tag)), str(dpg.get_item_user_data(tag) or ""))

        def cb_path(s: int | str, a: str, full: str) -> None:
            new = path_typed(a, full)
            if new != full:
                on_change(node_id, spec.name, new)
        assert spec.path is not None
        dpg.add_input_text(default_value=path_shown(value), callback=cb_path, on_enter=True, tag=tag,
                           user_data=str(value or ""), **dict(kw, width=width + px(PATH_EXTRA)),   # the extension in view
                           hint="file" if spec.path.mode == "read" else "output file")
        if on_browse is not None:
            dpg.add_button(label="...", width=px(22), callback=lambda: on_browse(node_id, spec.name, spec), tag=browse)
    return lambda: cb_path(tag, str(items.value(tag)), str(dpg.get_item_user_data(tag) or ""))


def _text_box(spec: ParamSpec) -> bool:
    """Whether the parameter is typed into a text box: an optional value (empty means none), or a
    number without a slider (``2.5 bars``, ``1:30``, a seed: read by :func:`.typein.parse_typed`; an
    ImGui number box read ``2.5`` into a whole number as 2 and ``1e3`` as 1, without a word)."""
    rng = finite_range(spec)
    return (spec.optional and spec.kind in ("float", "int", "str", "path", "enum")) \
        or (spec.kind == "float" and (rng is None or (not is_wide(spec) and rng[1] - rng[0] > 1e5))) \
        or (spec.kind == "int" and not (rng and (rng[1] - rng[0] <= 1000 or unit_of(spec))))


_LEAVE: dict[str, Callable[[], Any]] = {}     # widget tag -> what leaving it does (see add_param_widget)
_TYPE_IN: dict[str, Callable[[], Any]] = {}   # slider or drag box tag -> what a double-click on it does
_BOX = TypeIn()                               # the box a value is typed into (one at a time)
BOUNDS: dict[str, float] = {}                 # typed box tag -> its input's length (view.bound_times): held there


def forget(node_id: str) -> None:
    """Drop what leaving a deleted node's widgets did (the tags come back with a new node)."""
    prefix = widget_tag(node_id, "")
    for table in (_LEAVE, _TYPE_IN):
        for tag in [t for t in table if t.startswith(prefix)]:
            del table[tag]
    for tag in [t for t in BOUNDS if t.startswith(prefix)]:
        del BOUNDS[tag]


def param_tags() -> list[str]:
    """The tags of every parameter widget drawn (a deleted node's are forgotten), and of the box a
    value is being typed into (see :mod:`.typein`)."""
    return list(_LEAVE) + ([_BOX.box] if _BOX.box is not None else [])


def typing_box() -> str | None:
    """The tag of the box a value is being typed into over a slider or drag box, if one is open."""
    return _BOX.box


def typing_tick() -> None:
    """Once a frame: a box a value was typed into, deleted with its node, hands over nothing."""
    _BOX.tick()


def commit_typing() -> None:
    """Set what is being typed into a parameter's box, as leaving the box would: a command run by
    its key while the box has the keyboard (F5, Ctrl+S) runs on the value typed, not the old one."""
    if _BOX.box is not None:
        _BOX.left()
    for tag, leave in list(_LEAVE.items()):
        if items.item_type(tag) == "mvAppItemType::mvInputText" and items.active(tag):
            leave()


def _leave_handlers() -> str:
    """One item handler registry for every parameter widget: deactivation calls the widget's leave,
    a double-click on a slider opens it for typing."""
    reg = "param::leave_handlers"
    if not dpg.does_item_exist(reg):
        with dpg.item_handler_registry(tag=reg):
            dpg.add_item_deactivated_handler(callback=_left)
            dpg.add_item_double_clicked_handler(button=dpg.mvMouseButton_Left, callback=_double_clicked)
    return reg


def _alias(item: Any) -> str:
    return str(dpg.get_item_alias(item) if isinstance(item, int) else item)


def _left(sender: Any, item: Any) -> None:
    fn = _LEAVE.get(_alias(item))
    if fn is not None:
        fn()


def _double_clicked(sender: Any, app_data: Any) -> None:
    """A double-click on a slider or drag box: a text box in its place (see :func:`_type_into`)."""
    tag = _alias(app_data[1]) if isinstance(app_data, (list, tuple)) and len(app_data) > 1 else ""
    fn = _TYPE_IN.get(tag)
    if fn is not None and items.exists(tag):
        fn()


def _type_into(tag: str, node_id: str, spec: ParamSpec, on_change: Callable[[str, str, Any], Any],
               marker: Any) -> None:
    """Open a box over the widget ``tag`` showing the value before the double-click (``on_change``
    answers ``marker`` with it, taking a slider's first click back); what is typed is read by
    :func:`.typein.parse_typed`, held at the widget's ends (:func:`clamp`) and set in one step."""
    now = on_change(node_id, spec.name, marker)
    fmt = str(items.call(dpg.get_item_configuration, tag, default={}).get("format") or "%g")
    text = fmt % now if isinstance(now, (int, float)) else str(items.value(tag, default=""))

    def done(typed: str | None) -> None:
        if typed is None:
            on_change(node_id, spec.name, UNCHANGED)
            return
        try:
            value = parse_typed(spec, typed, unit_of(spec))
        except ValueError as e:
            on_change(node_id, spec.name, _Invalid(str(e)))
        else:
            held, why = clamp(spec, value, items.call(dpg.get_item_configuration, tag, default={}))
            on_change(node_id, spec.name, Typed(Clamped(held, why) if why else held))
        on_change(node_id, spec.name, LEFT)
    _BOX.open(tag, text, done)


class _Left:
    """The marker :data:`LEFT`: the user left the widget (see the module's docstring)."""

    def __repr__(self) -> str:
        return "LEFT"


LEFT = _Left()


_SLIDERS = ("mvAppItemType::mvSliderFloat", "mvAppItemType::mvSliderInt")
_DRAGS = ("mvAppItemType::mvDragFloat", "mvAppItemType::mvDragInt")


def is_slider(tag: str) -> bool:
    """Whether ``tag`` is a slider (a click on it sets the value under the pointer)."""
    return dpg.does_item_exist(tag) and dpg.get_item_type(tag) in _SLIDERS


class _Invalid:
    """A value the user typed that the parameter cannot take; carries the reason."""

    def __init__(self, reason: str):
        self.reason = reason


def set_widget_value(node_id: str, spec: ParamSpec, value: Any) -> None:
    """Show ``value`` in the parameter's widget (after undo, paste or a refused edit)."""
    tag = widget_tag(node_id, spec.name)
    if not items.exists(tag):
        return
    if _text_box(spec):
        shown: Any = boxed(spec, value)
        items.configure(tag, user_data=shown)
    elif spec.kind == "float":
        shown = float(value)
        items.configure(tag, format=value_format(spec, shown))      # a typed 3.25 reads 3.25
        if is_wide(spec):
            items.configure(tag, speed=drag_speed(spec, shown))
    elif spec.kind == "int":
        shown = int(value)
    elif spec.kind == "bool":
        shown = bool(value)
    elif spec.kind == "path":
        shown = path_shown(plain(spec, value))
        items.configure(tag, user_data=str(plain(spec, value) or ""))
        items.set_value(f"pathtip::{node_id}::{spec.name}", _path_tip(plain(spec, value)))
    elif items.exists(f"pathtip::{node_id}::{spec.name}"):         # a checkpoint's box
        shown = _checkpoint_shown(value)
        items.configure(tag, user_data=str(value or ""))
        items.set_value(f"pathtip::{node_id}::{spec.name}", _path_tip(value) if _local_folder(value) else "")
    else:
        shown = str(plain(spec, value) or "")
    if items.value(tag) != shown:
        items.set_value(tag, shown)


Invalid = _Invalid
