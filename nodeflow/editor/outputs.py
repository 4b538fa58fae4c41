"""A node's outputs as :class:`.view.GraphView` draws them: an audio output's play/pause and stop
(acting on the press), its waveform with a time axis (seconds, or bars when the audio knows its
tempo), playhead, loop region and level meter; any other output's value as one line (the tooltip
has all of it).  A part of the view (its base class), kept apart because it is the transport's
half of the node, not the graph's.

A waveform is a drawlist holding one image (the envelope drawn once into a texture by
:func:`wave_image`), the time axis's ticks and labels, and the playhead, loop edges and level meter
as draw items moved in place.  It was an ImPlot plot: a plot lays out its axes and ticks every
frame, and after a run the 30 plots of a dense view made a frame's CPU 2.5x that of the same nodes
without waveforms (bench_editor's ``after_run`` lines).
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

WAVE_H = 56         # a waveform's height at 100%: the envelope, and the time axis's labels under it
AXIS_H = 14         # the time axis's part of it
LABEL_PX = 11       # the time axis's labels and the level meter (pixels at 100%)
WAVE_RGB = (95, 150, 230)
PLAYHEAD = (255, 200, 60, 255)
LOOP_EDGE = (90, 230, 120, 255)
AXIS_COLOUR = (150, 150, 160, 255)
BUTTON_W = 44       # play/pause and stop: one width whatever the label (small buttons ignore widths),
                    # together with "out  (Audio)" no wider than the waveform
BUTTON_H = 16       # a small button's height: the node is as tall as before
VALUE_CHARS = 28    # a computed value's line (an export's path) within the waveform's width


def is_audio_type(t: Any) -> bool:
    """Outputs of these types get play/stop and a waveform preview."""
    return t is Audio or type_name(t) == "list[Audio]"


def wave_image(env: tuple[np.ndarray, np.ndarray, np.ndarray], span: tuple[float, float], top: float,
               width: int, height: int) -> np.ndarray:
    """The envelope ``env = (times, mins, maxs)`` drawn as ``[height, width, 4]`` float32 RGBA: each
    column filled from its lowest minimum to its highest maximum (``top`` at the top row, ``-top``
    at the bottom), translucent, its two ends opaque; the time ``span`` across the width.

    >>> img = wave_image((np.array([0.0, 1.0]), np.array([-0.5, -0.5]), np.array([0.5, 0.5])), (0.0, 1.0), 1.0, 4, 9)
    >>> [int(v) for v in (img[:, 0, 3] > 0)]        # rows 2..6 of 9: -0.5 .. 0.5 of -1 .. 1
    [0, 0, 1, 1, 1, 1, 1, 0, 0]
    >>> float(img[2, 0, 3]), round(float(img[4, 0, 3]), 2)
    (1.0, 0.47)
    """
    times, mins, maxs = (np.asarray(a, np.float64) for a in env)
    lo, hi = span
    col = np.clip(((times - lo) / max(hi - lo, 1e-9) * width).astype(np.int64), 0, width - 1)
    cmin, cmax = np.full(width, np.inf), np.full(width, -np.inf)
    np.minimum.at(cmin, col, mins)
    np.maximum.at(cmax, col, maxs)
    have = np.isfinite(cmin)
    if have.any() and not have.all():           # columns between two points: the nearest point's
        idx = np.flatnonzero(have)
        near = idx[np.clip(np.searchsorted(idx, np.arange(width)), 0, len(idx) - 1)]
        cmin, cmax = cmin[near], cmax[near]
    elif not have.any():
        return np.zeros((height, width, 4), np.float32)
    row = np.arange(height)[:, None]
    scale = (height - 1) / (2.0 * max(top, 1e-9))
    r_top = np.floor((top - cmax) * scale).astype(np.int64)
    r_bot = np.ceil((top - cmin) * scale).astype(np.int64)
    inside = (row >= r_top) & (row <= r_bot)
    edge = inside & ((row == r_top) | (row == r_bot))
    img = np.zeros((height, width, 4), np.float32)
    img[..., :3] = np.array(WAVE_RGB, np.float32) / 255.0
    img[..., 3] = np.where(edge, 1.0, np.where(inside, 120 / 255, 0.0))
    return img


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
        self.grid: dict[tuple[str, str], tuple[float, int] | None] = {}   # a bars axis's (bar s, beats)
        self.head_at: dict[tuple[str, str], float] = {}   # (node, port) -> the playhead shown (seconds)
        self.files_shown: dict[tuple[str, str], Any] = {}   # (node, port) -> (path, mtime, size) of the file drawn
        self._head_key: tuple[str, str] | None = None     # the output whose playhead is shown
        self._loop_shown: tuple[tuple[str, str], float, float | None] | None = None   # ((node, port), start, end)
        # (node, port) -> (the envelope's texture, the time axis's ticks): what its waveform draws
        self._waves: dict[tuple[str, str], tuple[int | str, list[tuple[str, float]]]] = {}
        self._hot: set[tuple[str, str]] = set()           # level meters showing red (over -1 dBFS)
        self._textures = dpg.add_texture_registry()
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
        """An audio output's waveform area (see the module's description), kept before a run: the
        node never grows."""
        with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static, tag=f"preview::{nid}::{port}"):
            dpg.add_spacer(width=self.zoom.px(widgets.WIDTH + 80), height=self.zoom.px(WAVE_H),
                           tag=f"plotspace::{nid}::{port}")          # holds the place until there is a waveform
            dpg.add_drawlist(width=self.zoom.px(widgets.WIDTH + 80), height=self.zoom.px(WAVE_H),
                             tag=f"plot::{nid}::{port}", show=False)
            dpg.bind_item_handler_registry(f"plot::{nid}::{port}", self._wave_click)

    def _draw_wave(self, nid: str, port: str) -> None:
        """Draw a waveform's items at the zoom now set: the envelope's image, the time axis, and the
        playhead, loop edges and level meter where they are shown."""
        key, tag = (nid, port), f"plot::{nid}::{port}"
        wave = self._waves.get(key)
        if wave is None or not items.delete(tag, children_only=True):
            return
        texture, ticks = wave
        z = self.zoom
        w, wave_h, size = z.px(widgets.WIDTH + 80), z.px(WAVE_H - AXIS_H), z.px(LABEL_PX)
        dpg.draw_image(texture, (0, 0), (w, wave_h), parent=tag)
        dpg.draw_line((0, wave_h), (w, wave_h), color=AXIS_COLOUR, parent=tag)
        for label, t in ticks:
            x = self._x(key, t)
            dpg.draw_line((x, wave_h), (x, wave_h + z.px(3)), color=AXIS_COLOUR, parent=tag)
            tw = _text_width(label, size)
            dpg.draw_text((min(max(x - tw / 2, 0.0), w - tw), wave_h + z.px(2)), label, size=size,
                          color=AXIS_COLOUR, parent=tag)
        dpg.draw_line((0, 0), (0, 0), tag=f"head::{nid}::{port}", color=PLAYHEAD, thickness=2 * z.scale,
                      show=False, parent=tag)
        for edge in "ab":               # the loop region's edges (shift+click twice)
            dpg.draw_line((0, 0), (0, 0), tag=f"loop{edge}::{nid}::{port}", color=LOOP_EDGE, thickness=3 * z.scale,
                          show=False, parent=tag)
        # the level meter: peak dBFS at the playhead, in the top right corner
        dpg.draw_rectangle((0, 0), (0, 0), tag=f"levelbg::{nid}::{port}", color=(0, 0, 0, 0), show=False, parent=tag)
        dpg.draw_text((0, 0), "", tag=f"level::{nid}::{port}", size=size, color=(255, 255, 255, 255), show=False,
                      parent=tag)
        self._vline(f"head::{nid}::{port}", key, self.head_at.get(key))
        if self._loop_shown is not None and self._loop_shown[0] == key:
            self.show_loop(nid, port, self._loop_shown[1], self._loop_shown[2])
        level = self.transport.get(key, ("", None))[1]
        if level is not None:
            self._place_level(key, level)

    def _redraw_waves(self) -> None:
        """Every waveform drawn again at the zoom now set (their drawlists were resized)."""
        for nid, port in list(self._waves):
            self._draw_wave(nid, port)

    def _drop_wave(self, key: tuple[str, str]) -> None:
        """A waveform's items and its texture go (its drawlist stays, empty)."""
        wave = self._waves.pop(key, None)
        if wave is not None:
            items.delete(f"plot::{key[0]}::{key[1]}", children_only=True)   # the image first, then its texture
            items.delete(wave[0])

    def _forget_outputs(self, nid: str) -> None:
        """What the outputs of a deleted node showed (its waveforms' textures too)."""
        for key in [k for k in self._waves if k[0] == nid]:
            self._drop_wave(key)
        for by_port in (self.previews, self.values, self.transport, self.time_span, self.time_unit, self.grid,
                        self.head_at, self.files_shown, self.notes):
            for k in [k for k in by_port if k[0] == nid]:
                del by_port[k]
        self._hot = {k for k in self._hot if k[0] != nid}

    def _x(self, key: tuple[str, str], seconds: float) -> float:
        """The drawlist column of time ``seconds`` on the waveform of ``key``."""
        lo, hi = self.time_span.get(key, (0.0, 1.0))
        return (seconds - lo) / max(hi - lo, 1e-9) * self.zoom.px(widgets.WIDTH + 80)

    def _vline(self, tag: str, key: tuple[str, str], seconds: float | None) -> None:
        """The waveform's vertical line ``tag`` at ``seconds`` (None: hidden)."""
        if seconds is None:
            items.configure(tag, show=False)
            return
        x = self._x(key, seconds)
        items.configure(tag, p1=(x, 0), p2=(x, self.zoom.px(WAVE_H - AXIS_H)), show=True)

    def _place_level(self, key: tuple[str, str], level: str) -> None:
        """The level meter's text in the waveform's top right corner, on red when over -1 dBFS."""
        nid, port = key
        w, size = self.zoom.px(widgets.WIDTH + 80), self.zoom.px(LABEL_PX)
        x = w - _text_width(level, size) - 3
        items.configure(f"level::{nid}::{port}", pos=(x, 1), text=level, show=True)
        items.configure(f"levelbg::{nid}::{port}", pmin=(x - 3, 0), pmax=(w, size + 3), show=True,
                        fill=(200, 60, 50, 230) if key in self._hot else (40, 90, 50, 220))

    def _time_at(self, key: tuple[str, str], plot: str, x: float) -> float:
        """The time under viewport column ``x`` on waveform ``plot``."""
        (x0, _), (x1, _) = dpg.get_item_rect_min(plot), dpg.get_item_rect_max(plot)
        lo, hi = self.time_span.get(key, (0.0, 0.0))
        return lo + (x - float(x0)) / max(float(x1) - float(x0), 1.0) * (hi - lo)

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
        x = self._time_at((nid, port), alias, float(dpg.get_mouse_pos(local=False)[0]))
        lo, hi = self.time_span.get((nid, port), (0.0, 0.0))
        shift = dpg.is_key_down(dpg.mvKey_LShift) or dpg.is_key_down(dpg.mvKey_RShift)
        if shift:                   # a loop's edge, on the beat where the waveform reads in bars
            from .clips import on_beat
            x = on_beat(x, self.grid.get((nid, port)))
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
            self._vline(f"loop{edge}::{nid}::{port}", (nid, port), at)

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
        if level is None:
            items.configure(f"level::{nid}::{port}", show=False)
            items.configure(f"levelbg::{nid}::{port}", show=False)
            return
        if level_dbfs is not None and level_dbfs > -1.0:
            self._hot.add(key)
        else:
            self._hot.discard(key)
        self._place_level(key, level)

    def show_preview(self, nid: str, port: str, env: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
                     source: Any = None) -> None:
        """Draw (or hide, with ``env=None``) the min/max envelope of an audio output."""
        key = (nid, port)
        tag = f"preview::{nid}::{port}"
        if not items.exists(tag):
            return
        if env is None:
            if key in self.previews:             # the waveform goes; its place stays
                self._drop_wave(key)
                del self.previews[key]
                items.configure(f"plot::{nid}::{port}", show=False)
                items.configure(f"plotspace::{nid}::{port}", show=True)
            return
        if self.previews.get(key) is source and source is not None:
            return
        times, mins, maxs = env
        duration = float(times[-1]) if len(times) else 0.0
        rate_end = getattr(source, "duration_s", None)
        if isinstance(rate_end, (int, float)) and rate_end > 0:
            duration = float(rate_end)
        self.time_span[key] = (float(times[0]) if len(times) else 0.0, duration)
        from .clips import bar_grid, tempo_info, time_ticks
        unit, ticks = time_ticks(duration, tempo_info(source))
        self.time_unit[key] = unit
        self.grid[key] = bar_grid(tempo_info(source)) if unit == "bars" else None
        peak = float(max(np.max(np.abs(mins)) if len(mins) else 0, np.max(np.abs(maxs)) if len(maxs) else 0, 1e-3))
        width, height = widgets.WIDTH + 80, WAVE_H - AXIS_H         # drawn at 100%, scaled with the zoom
        # drawn to full scale, as a DAW draws a clip: a quiet take looks quiet (louder than 0 dBFS: all of it)
        image = wave_image(env, (self.time_span[key][0], duration or 1.0), max(peak, 1.0) * 1.05, width, height)
        self._drop_wave(key)
        self._waves[key] = (dpg.add_static_texture(width, height, image.ravel(), parent=self._textures), ticks)
        self._draw_wave(nid, port)
        items.configure(tag, show=not self.compact)
        items.configure(f"plotspace::{nid}::{port}", show=False)
        items.configure(f"plot::{nid}::{port}", show=True)
        self.previews[key] = source

    def show_file(self, nid: str, port: str, path: object | None, files: DecodedFiles,
                  others: list[str] | None = None) -> None:
        """An export's waveform: the file it wrote (``path``), decoded in the background by ``files``
        once per version written (hidden until then, and while there is none or it cannot be read; the path
        line says "decoding take.wav..." or "cannot read take.wav" meanwhile, the tooltip why).  A mapped
        export shows its first file, its line says how many ``others`` it wrote, the tooltip names them."""
        from .filedecode import file_stamp
        key = (nid, port)
        stamp = file_stamp(path)
        if others and stamp is not None:      # the line: "take_1.wav (+3 more files)", every path in the tooltip
            self.notes[key] = (str(path), f"{os.path.basename(str(path))} (+{len(others)} more file(s))",
                               "\n".join([str(path), *others]))
        if self.files_shown.get(key) == stamp:
            self.show_value(nid, port, path)
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
        elif not others:
            self.notes.pop(key, None)
        self.show_value(nid, port, path)
        from .clips import preview_envelope
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
        if seconds is None:
            self.head_at.pop((nid, port), None)
        else:
            self.head_at[(nid, port)] = float(seconds)
        self._vline(f"head::{nid}::{port}", (nid, port), seconds)


def _text_width(text: str, size: float) -> float:
    """The width of ``text`` drawn at ``size`` pixels in the editor's font (an estimate before the
    font is measured)."""
    from .canvas import FONT_PX
    measured = dpg.get_text_size(text) if text else None
    if measured and measured[0] > 0:
        return float(measured[0]) * size / FONT_PX
    return 0.6 * size * len(text)
