"""The colours the canvas speaks in, and the dearpygui themes that carry them (each made once).

A node's title bar says its run state (:data:`STATE_COLOURS`); a pin's colour says its port's type
(:data:`PIN_COLOURS`, the palette's legend too), grey while a dragged link cannot go there; a
parameter that does not apply is greyed.  :class:`Themes` makes each theme on first use and hands the
same one back after (a theme per node would be hundreds of items at 200 nodes).
"""
from __future__ import annotations

from typing import Any

import dearpygui.dearpygui as dpg

from ..types import type_name
from . import items

__all__ = ["Themes", "pin_colour", "PIN_COLOURS", "PIN_OTHER", "PIN_DIM", "STATE_COLOURS"]

STATE_COLOURS = {                      # title bar colour per run state
    "queued": (70, 90, 140), "running": (200, 140, 30), "cached": (40, 130, 140),
    "done": (50, 140, 70), "failed": (180, 50, 50), "cancelled": (110, 110, 110),
    "broken": (150, 40, 90), "blocked": (120, 95, 50),
}

PIN_COLOURS = {                        # one colour per port type (a list's pins are squares of its item's colour)
    "Audio": (90, 150, 240), "str": (235, 200, 70), "float": (110, 210, 120), "int": (170, 225, 90),
    "bool": (230, 110, 110),
}
PIN_OTHER = (170, 170, 180)
PIN_DIM = (60, 60, 66)


def pin_colour(t: Any) -> tuple[int, int, int]:
    """The pin colour of a port type (a list: its item type's colour).

    >>> from nodeflow import Audio
    >>> pin_colour(Audio), pin_colour(list[Audio]) == pin_colour(Audio)
    ((90, 150, 240), True)
    """
    name = type_name(t)
    if name.startswith("list[") and name.endswith("]"):
        name = name[5:-1]
    return PIN_COLOURS.get(name, PIN_OTHER)


def _lighter(colour: tuple[int, int, int], by: int) -> tuple[int, ...]:
    return tuple(min(255, c + by) for c in colour)


class Themes:
    """The canvas' themes, made on first use."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[str, float], int] = {}                     # (run state, zoom) -> theme
        self._pins: dict[tuple[tuple[int, int, int], bool], int] = {}      # (colour, dimmed) -> theme

    def node(self, state: str, scale: float) -> int:
        """A node's theme in run ``state`` ("" for none) at zoom ``scale``: its title bar's colour, and
        imnodes' and Dear ImGui's sizes times the zoom (0, no theme, at 100% without a state)."""
        from .zoom import STYLE
        colour = STATE_COLOURS.get(state)
        if colour is None and scale == 1.0:
            return 0
        key = (state if colour else "", scale)
        if key not in self._nodes:
            th: int       # (dearpygui annotates its item context managers as returning the id: they yield Any)
            with dpg.theme() as th:
                with dpg.theme_component(dpg.mvAll):
                    if colour is not None:
                        dpg.add_theme_color(dpg.mvNodeCol_TitleBar, colour, category=dpg.mvThemeCat_Nodes)
                        dpg.add_theme_color(dpg.mvNodeCol_TitleBarHovered, _lighter(colour, 30),
                                            category=dpg.mvThemeCat_Nodes)
                        dpg.add_theme_color(dpg.mvNodeCol_TitleBarSelected, _lighter(colour, 50),
                                            category=dpg.mvThemeCat_Nodes)
                    if scale != 1.0:
                        for name, values, cat in STYLE:
                            dpg.add_theme_style(getattr(dpg, name), *(v * scale for v in values),
                                                category=getattr(dpg, f"mvThemeCat_{cat}"))
            self._nodes[key] = th
        return self._nodes[key]

    def pin(self, colour: tuple[int, int, int], dim: bool = False) -> int:
        """A pin drawn in ``colour``, or grey with a grey label (``dim``: a dragged link cannot go there)."""
        key = (colour, dim)
        if key not in self._pins:
            th: int
            with dpg.theme() as th:
                with dpg.theme_component(dpg.mvAll):
                    pin = PIN_DIM if dim else colour
                    dpg.add_theme_color(dpg.mvNodeCol_Pin, pin, category=dpg.mvThemeCat_Nodes)
                    dpg.add_theme_color(dpg.mvNodeCol_PinHovered, _lighter(pin, 50), category=dpg.mvThemeCat_Nodes)
                    if dim:
                        dpg.add_theme_color(dpg.mvThemeCol_Text, (105, 105, 112), category=dpg.mvThemeCat_Core)
            self._pins[key] = th
        return self._pins[key]

    @staticmethod
    def greyed() -> int | str:
        """Grey text for a parameter that does not apply."""
        if not items.exists("theme::greyed"):
            with dpg.theme(tag="theme::greyed"), dpg.theme_component(dpg.mvAll):
                dpg.add_theme_color(dpg.mvThemeCol_Text, (130, 130, 130, 255))
        return "theme::greyed"
