"""A node's outputs as :class:`.view.GraphView` draws them: an audio output's play/pause and stop
(acting on the press), its waveform with a time axis (seconds, or bars when the audio knows its
tempo), playhead, loop region and level meter; any other output's value as one line (the tooltip
has all of it).  A part of the view (its base class), kept apart because it is the transport's
half of the node, not the graph's.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

import dearpygui.dearpygui as dpg
import numpy as np

from ..audio import Audio
from ..types import type_name
from . import items, widgets
from .nodetext import one_line

if TYPE_CHECKING:
    from .filedecode import DecodedFiles
    from .playback import Auditioner
    from .zoom import Zoom

__all__ = ["Outputs", "is_audio_type"]

PLOT_PAD = 2        # a waveform's padding around its plot area (the time under the pointer depends on it)
BUTTON_W = 44       # play/pause and stop: one width whatever the label (small buttons ignore widths),
                    # together with "out  (Audio)" no wider than the waveform
BUTTON_H = 16       # a small button's height: the node is as tall as before
VALUE_CHARS = 28    # a computed value's line (an export's path) within the waveform's width


def is_audio_type(t: Any) -> bool:
    """Outputs of these types get play/stop and a waveform preview."""
    return t is Audio or type_name(t) == "list[Audio]"


class Outputs:
    """The outputs' half of :class:`.view.GraphView` (see the module's description)."""
    if TYPE_CHECKING:                    # the view's, used here
        nodes: dict[str, str]
        compact: bool
        zoom: Zoom
        on_play: Callable[[str, str], None]
        on_stop: Callable[[str, str], None]
        on_seek: Callable[[str, str, float, bool], None] | None

        @staticmethod
        def attr_tag(direction: str, nid: str, port: str) -> str: ...
        @staticmethod
        def pin_label_tag(direction: str, nid: str, port: str) -> str: ...
        def _pin(self, direction: str, nid: str, port: str, t: Any) -> dict[str, Any]: ...
        def _colour_pin(self, direction: str, nid: str, port: str) -> None: ...

    def _init_outputs(self) -> None:
        # (node, port) -> (button label, level text) shown
        self.transport: dict[tuple[str, str], tuple[str, str | None]] = {}
        self.previews: dict[tuple[str, str], Any] = {}   # (node, port) -> object whose waveform is shown
        self.values: dict[tuple[str, str], tuple[str, Any]] = {}   # (node, port) -> text shown for a non-audio output
        # (node, port) -> the file a note is about, what its line says instead of the path (decoding,
        # unreadable), and the tooltip
        self.notes: dict[tuple[str, str], tuple[str, str, str]] = {}
        self.time_span: dict[tuple[str, str], tuple[float, float]] = {}   # waveform's first and last second
        self.time_unit: dict[tuple[str, str], str] = {}  # "s" or "bars": the time axis's labels
        self.y_top: dict[tuple[str, str], float] = {}
        self.files_shown: dict[tuple[str, str], Any] = {}   # (node, port) -> (path, mtime, size) of the file drawn
        self._head_key: tuple[str, str] | None = None     # the output whose playhead is shown
        self._loop_shown: tuple[tuple[str, str], float, float | None] | None = None   # ((node, port), start, end)
        with dpg.theme() as self._wave_theme:
            with dpg.theme_component(dpg.mvShadeSeries):
                dpg.add_theme_color(dpg.mvPlotCol_Fill, (95, 150, 230, 120), category=dpg.mvThemeCat_Plots)
                dpg.add_theme_color(dpg.mvPlotCol_Line, (95, 150, 230, 255), category=dpg.mvThemeCat_Plots)
        with dpg.theme() as self._plot_theme:     # tight padding: the time axis fits the 56 px with the wave
            with dpg.theme_component(dpg.mvPlot):
                dpg.add_theme_style(dpg.mvPlotStyleVar_PlotPadding, PLOT_PAD, PLOT_PAD, category=dpg.mvThemeCat_Plots)
                dpg.add_theme_style(dpg.mvPlotStyleVar_LabelPadding, 2, 0, category=dpg.mvThemeCat_Plots)
                dpg.add_theme_style(dpg.mvPlotStyleVar_MajorTickLen, 3, 3, category=dpg.mvThemeCat_Plots)
        # play/stop act on the press, not on the release as buttons do: the sound starts a click sooner
        with dpg.item_handler_registry() as self._press:
            dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Left, callback=self._pressed)
        with dpg.item_handler_registry() as self._wave_click:     # seek: a click on the waveform
            dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Left, callback=self._wave_clicked)

    def _create_output(self, nid: str, port: str, t: Any, plays_file: bool = False) -> None:
        with dpg.node_attribute(tag=self.attr_tag("out", nid, port), attribute_type=dpg.mvNode_Attr_Output,
                                **self._pin("out", nid, port, t)):
            with dpg.group(horizontal=True):
                if is_audio_type(t) or plays_file:      # an export plays the file it wrote
                    for verb in ("play", "stop"):       # fixed widths: 'play' <-> 'pause' never moves a pin
                        dpg.add_button(label=verb, tag=f"{verb}::{nid}::{port}", width=self.zoom.px(BUTTON_W),
                                       height=self.zoom.px(BUTTON_H))
                        dpg.bind_item_handler_registry(f"{verb}::{nid}::{port}", self._press)
                dpg.add_text(f"{port}  ({type_name(t)})", tag=self.pin_label_tag("out", nid, port))
        self._colour_pin("out", nid, port)
        if not is_audio_type(t):        # a computed value: one line, always there (the tooltip has all of it)
            with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static, tag=f"valueattr::{nid}::{port}"):
                dpg.add_text("", tag=f"value::{nid}::{port}", color=(190, 210, 240))
                with dpg.tooltip(f"value::{nid}::{port}"):
                    dpg.add_text("", tag=f"valuetip::{nid}::{port}", wrap=420)
        if is_audio_type(t) or plays_file:      # an export: the waveform of the file it wrote
            self._create_preview(nid, port)

    def _create_preview(self, nid: str, port: str) -> None:
        """An audio output's waveform area: time axis, playhead, loop edges and level meter."""
        # the waveform's place is kept before a run: the node never grows
        with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static, tag=f"preview::{nid}::{port}"):
            # until there is a waveform an empty box of the plot's size holds its place: a plot costs
            # a frame about as much as the rest of the node (200 empty plots made frames 2.7x longer)
            dpg.add_spacer(width=self.zoom.px(widgets.WIDTH + 80), height=self.zoom.px(56),
                           tag=f"plotspace::{nid}::{port}")
            with dpg.plot(height=self.zoom.px(56), width=self.zoom.px(widgets.WIDTH + 80), no_title=True,
                          no_menus=True, no_box_select=True,
                          no_mouse_pos=True, tag=f"plot::{nid}::{port}", show=False):
                # a time axis (seconds, or bars when the audio knows its tempo) in the same 56 px
                dpg.add_plot_axis(dpg.mvXAxis, tag=f"xaxis::{nid}::{port}", no_gridlines=True,
                                  no_highlight=True)
                dpg.add_plot_axis(dpg.mvYAxis, no_tick_labels=True, tag=f"yaxis::{nid}::{port}",
                                  no_gridlines=True, no_highlight=True)
                dpg.add_drag_line(tag=f"head::{nid}::{port}", default_value=0.0, color=(255, 200, 60, 255),
                                  thickness=2.0, show=False, no_inputs=True)
                for edge in "ab":               # the loop region's edges (shift+click twice)
                    dpg.add_drag_line(tag=f"loop{edge}::{nid}::{port}", default_value=0.0,
                                      color=(90, 230, 120, 255), thickness=3.0, show=False, no_inputs=True)
                # the level meter: peak dBFS at the playhead, drawn in the plot's corner
                dpg.add_plot_annotation(tag=f"level::{nid}::{port}", label="", default_value=(0.0, 0.0),
                                        offset=(-2, -2), clamped=True, show=False, color=(40, 40, 40, 200))
            dpg.bind_item_handler_registry(f"plot::{nid}::{port}", self._wave_click)
            dpg.bind_item_theme(f"plot::{nid}::{port}", self._plot_theme)

    @staticmethod
    def _time_at(plot: str, x: float) -> float:
        """The time under viewport column ``x`` on waveform ``plot``, from the plot's place and its time
        axis.  (ImPlot's own mouse position is only updated on frames the plot is hovered: a pointer
        moved onto it and clicked at once sought to the previous click's place.)"""
        (x0, _), (x1, _) = dpg.get_item_rect_min(plot), dpg.get_item_rect_max(plot)
        a, b = dpg.get_axis_limits(plot.replace("plot::", "xaxis::", 1))
        left, right = float(x0) + PLOT_PAD, float(x1) - PLOT_PAD
        return float(a) + (x - left) / max(right - left, 1.0) * (float(b) - float(a))

    def _pressed(self, sender: Any, app_data: Any) -> None:
        """A play or stop button went down (``app_data``: ``(mouse button, item)``)."""
        alias = items.alias(app_data[1]) if isinstance(app_data, (list, tuple)) and len(app_data) > 1 else None
        if not alias:
            return
        verb, _, rest = alias.partition("::")
        nid, _, port = rest.partition("::")
        if nid in self.nodes and verb in ("play", "stop"):
            (self.on_play if verb == "play" else self.on_stop)(nid, port)

    def _wave_clicked(self, sender: Any, app_data: Any) -> None:
        """A click on a waveform: play from the time under the pointer."""
        alias = items.alias(app_data[1]) if isinstance(app_data, (list, tuple)) and len(app_data) > 1 else None
        if not alias or not alias.startswith("plot::") or self.on_seek is None:
            return
        nid, _, port = alias[len("plot::"):].partition("::")
        if nid not in self.nodes or (nid, port) not in self.previews:
            return
        x = self._time_at(alias, float(dpg.get_mouse_pos(local=False)[0]))
        lo, hi = self.time_span.get((nid, port), (0.0, 0.0))
        shift = dpg.is_key_down(dpg.mvKey_LShift) or dpg.is_key_down(dpg.mvKey_RShift)
        self.on_seek(nid, port, min(max(x, lo), hi), bool(shift))

    def follow(self, au: Auditioner) -> tuple[str, str] | None:
        """Per frame: the playhead, play/pause label and level meter on the output playing (a paused
        one keeps its playhead), and the loop region's edges.  Returns the output that stopped since
        the last frame (nothing plays or pauses now), else None."""
        head = au.playhead()
        if head is None and au.paused is not None:
            head = (*au.paused[0], au.paused[1])
        key = head[:2] if head else None
        stopped = None
        if self._head_key is not None and self._head_key != key:
            stopped = self._head_key if key is None else None
            self.playhead(*self._head_key, None)        # the preview that stopped hides its playhead
            self.show_transport(*self._head_key, False, None)
        if head is not None:
            nid, port, at = head
            self.playhead(nid, port, at)
            self.show_transport(nid, port, au.now == (nid, port), au.level_dbfs(), paused=au.paused is not None)
        self._head_key = key
        loop = (au.loop[0], au.loop[1], au.loop[2]) if au.loop else \
            ((au.loop_mark[0], au.loop_mark[1], None) if au.loop_mark else None)
        if loop != self._loop_shown:
            if self._loop_shown is not None:
                self.show_loop(*self._loop_shown[0], None, None)
            if loop is not None:
                self.show_loop(*loop[0], loop[1], loop[2])
            self._loop_shown = loop
        return stopped

    def show_loop(self, nid: str, port: str, start: float | None, end: float | None) -> None:
        """The loop region's edges on a waveform (green lines; only the start while it is being marked)."""
        for edge, at in (("a", start), ("b", end)):
            tag = f"loop{edge}::{nid}::{port}"
            if items.configure(tag, show=at is not None) and at is not None:
                items.set_value(tag, float(at))

    def show_transport(self, nid: str, port: str, playing: bool, level_dbfs: float | None,
                       paused: bool = False) -> None:
        """The play button's label (pause while this output plays) and the level meter."""
        key = (nid, port)
        label = "pause" if playing else "play"          # play resumes a paused preview where it was
        level = None if level_dbfs is None else ("-inf dBFS" if level_dbfs == float("-inf")
                                                 else f"{max(level_dbfs, -99.9):.1f} dBFS")
        if self.transport.get(key) == (label, level):
            return
        self.transport[key] = (label, level)
        items.configure(f"play::{nid}::{port}", label=label)
        tag = f"level::{nid}::{port}"
        if level is None:
            items.configure(tag, show=False)
            return
        lo, hi = self.time_span.get(key, (0.0, 1.0))
        top = self.y_top.get(key, 1.0)
        items.set_value(tag, (hi, top))
        hot = level_dbfs is not None and level_dbfs > -1.0
        items.configure(tag, label=level, show=True, color=(200, 60, 50, 230) if hot else (40, 90, 50, 220))

    def show_preview(self, nid: str, port: str, env: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
                     source: Any = None) -> None:
        """Draw (or hide, with ``env=None``) the min/max envelope of an audio output."""
        key = (nid, port)
        tag = f"preview::{nid}::{port}"
        if not items.exists(tag):
            return
        if env is None:
            if key in self.previews:             # the waveform goes; its place stays
                items.delete(f"yaxis::{nid}::{port}", children_only=True)
                del self.previews[key]
                items.configure(f"plot::{nid}::{port}", show=False)
                items.configure(f"plotspace::{nid}::{port}", show=True)
            return
        if self.previews.get(key) is source and source is not None:
            return
        times, mins, maxs = env
        yaxis = f"yaxis::{nid}::{port}"
        items.delete(yaxis, children_only=True)
        series = dpg.add_shade_series(list(map(float, times)), list(map(float, mins)), y2=list(map(float, maxs)),
                                      parent=yaxis)
        dpg.bind_item_theme(series, self._wave_theme)
        duration = float(times[-1]) if len(times) else 0.0
        rate_end = getattr(source, "duration_s", None)
        if isinstance(rate_end, (int, float)) and rate_end > 0:
            duration = float(rate_end)
        if len(times):
            dpg.set_axis_limits(f"xaxis::{nid}::{port}", float(times[0]), duration or 1.0)
        self.time_span[key] = (float(times[0]) if len(times) else 0.0, duration)
        from .playback import time_ticks
        unit, ticks = time_ticks(duration, getattr(source, "info", ()))
        dpg.set_axis_ticks(f"xaxis::{nid}::{port}", tuple(ticks))
        items.configure(f"xaxis::{nid}::{port}", label="")
        self.time_unit[key] = unit
        peak = float(max(np.max(np.abs(mins)) if len(mins) else 0, np.max(np.abs(maxs)) if len(maxs) else 0, 1e-3))
        dpg.set_axis_limits(yaxis, -peak * 1.05, peak * 1.05)
        self.y_top[key] = peak * 1.05
        items.configure(tag, show=not self.compact)
        items.configure(f"plotspace::{nid}::{port}", show=False)
        items.configure(f"plot::{nid}::{port}", show=True)
        self.previews[key] = source

    def show_file(self, nid: str, port: str, path: object | None, files: DecodedFiles) -> None:
        """An export's waveform: the file it wrote (``path``), decoded in the background by ``files``
        once per version written (hidden until then, and while there is none or it cannot be read; the path
        line says "decoding take.wav..." or "cannot read take.wav" meanwhile, the tooltip why)."""
        from .filedecode import file_stamp
        key = (nid, port)
        stamp = file_stamp(path)
        if self.files_shown.get(key) == stamp:
            return
        audio = files.ready(path) if stamp is not None else None
        error = files.error(path) if stamp is not None and audio is None else None
        if stamp is not None and audio is None and error is None:
            files.request(path)                  # shown when decoded: the app refreshes on files.version
            self.show_preview(nid, port, None)
            self.notes[key] = (str(path), f"decoding {os.path.basename(str(path))}...", str(path))
            self.show_value(nid, port, path)
            return
        self.files_shown[key] = stamp
        if error is not None:                    # the path line says so; its tooltip has the reason
            self.notes[key] = (str(path), f"cannot read {os.path.basename(str(path))}", f"{path}\n{error}")
        else:
            self.notes.pop(key, None)
        self.show_value(nid, port, path)
        from .playback import preview_envelope
        env = preview_envelope(audio) if audio is not None else None
        self.show_preview(nid, port, env, source=audio if env is not None else None)

    def show_value(self, nid: str, port: str, value: object | None) -> None:
        """Show a computed non-audio output (a prompt, a written file's path) under its pin."""
        text = "" if value is None else (str(value) if len(str(value)) <= 300 else str(value)[:297] + "...")
        note = self.notes.get((nid, port))
        if note is not None and note[0] != text:
            del self.notes[(nid, port)]          # about another file
            note = None
        if self.values.get((nid, port), ("", None)) == (text, note) or not items.exists(f"value::{nid}::{port}"):
            return
        self.values[(nid, port)] = (text, note)
        line = one_line(note[1], chars=VALUE_CHARS) if note is not None else \
            one_line(text, tail="/" in text or "\\" in text, chars=VALUE_CHARS)
        items.set_value(f"value::{nid}::{port}", line)
        items.set_value(f"valuetip::{nid}::{port}", note[2] if note is not None else text)

    def playhead(self, nid: str, port: str, seconds: float | None) -> None:
        tag = f"head::{nid}::{port}"
        if items.configure(tag, show=seconds is not None) and seconds is not None:
            items.set_value(tag, float(seconds))
