"""Windows that fit the editor's window: a panel's size is clamped to the viewport (less a margin)
and it is moved so that all of it is inside, when it opens and whenever the viewport is resized.
At 640x400 a 720x460 panel at (300, 80) had its close button, buttons and table off-screen.

Pure arithmetic in :func:`fit_rect` (no dearpygui); :class:`Fitter` applies it to windows.
"""
from __future__ import annotations

from typing import Any

__all__ = ["MARGIN", "room", "fit_rect", "Fitter"]

MARGIN = 20


def room(dpg: Any, margin: int = MARGIN) -> tuple[int, int]:
    """The largest window that fits the viewport, ``margin`` px to spare (at least 200 x 160)."""
    return (max(200, dpg.get_viewport_client_width() - margin), max(160, dpg.get_viewport_client_height() - margin))


def fit_rect(size: tuple[int, int], pos: tuple[int, int], viewport: tuple[int, int],
             margin: int = MARGIN) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(size, pos)`` of a window that wants ``size`` at ``pos``, made to fit ``viewport``.

    >>> fit_rect((720, 460), (300, 80), (640, 400))
    ((620, 380), (10, 10))
    >>> fit_rect((720, 460), (300, 80), (1280, 800))
    ((720, 460), (300, 80))
    """
    vw, vh = viewport
    w, h = min(size[0], max(200, vw - margin)), min(size[1], max(160, vh - margin))
    x = max(0, min(pos[0], vw - w - margin // 2))
    y = max(0, min(pos[1], vh - h - margin // 2))
    return (w, h), (x, y)


class Fitter:
    """Keeps windows inside the viewport: :meth:`add` one with the size it wants, :meth:`fit` it when
    it opens; :meth:`tick` (per frame) refits the windows shown when the viewport's size changed."""

    def __init__(self, dpg: Any):
        self.dpg = dpg
        self.wanted: dict[str, tuple[int, int]] = {}
        self._viewport: tuple[int, int] | None = None

    def add(self, tag: str, width: int, height: int) -> None:
        self.wanted[tag] = (width, height)

    def fit(self, tag: str) -> None:
        dpg = self.dpg
        viewport = (dpg.get_viewport_client_width(), dpg.get_viewport_client_height())
        x, y = dpg.get_item_pos(tag)
        size, pos = fit_rect(self.wanted[tag], (int(x), int(y)), viewport)
        dpg.configure_item(tag, width=size[0], height=size[1], pos=list(pos), max_size=list(room(dpg)))

    def tick(self) -> None:
        dpg = self.dpg
        viewport = (dpg.get_viewport_client_width(), dpg.get_viewport_client_height())
        if viewport == self._viewport:
            return
        self._viewport = viewport
        for tag in self.wanted:
            if dpg.does_item_exist(tag) and dpg.is_item_shown(tag):
                self.fit(tag)
