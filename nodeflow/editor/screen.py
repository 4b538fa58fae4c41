"""How large the editor's window can be on this screen, read before the window opens.

The window opened at a fixed 1280x800: on a 1366x768 laptop screen its bottom row (Run, Stop and the
status line, where every refusal is said) was off the screen (QA104 D1).  :func:`fit` keeps the
window within the screen's usable area: under X, the window manager's work area (``_NET_WORKAREA``:
the screen less its panels) or else the screen; on Windows the work area.  Elsewhere, or where it
cannot be read, the size asked for is kept.  Nothing here imports dearpygui.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["fit", "usable_area", "MIN_SIZE"]

MIN_SIZE = (640, 400)      # the smallest window the editor lays out (its panels fit down to it)


def fit(width: int, height: int, area: tuple[int, int, int, int] | None = None) -> tuple[int, int, int, int]:
    """``(x, y, width, height)``: the window within ``area`` ``(x, y, width, height)`` (default:
    :func:`usable_area`) at its top-left corner, never under :data:`MIN_SIZE`.

    >>> fit(1280, 800, (0, 0, 1366, 768)), fit(1280, 800, (0, 40, 1920, 1040))
    ((0, 0, 1280, 768), (0, 40, 1280, 800))
    """
    area = usable_area() if area is None else area
    if area is None:
        return 0, 0, width, height
    return area[0], area[1], max(MIN_SIZE[0], min(width, area[2])), max(MIN_SIZE[1], min(height, area[3]))


def usable_area() -> tuple[int, int, int, int] | None:
    """The screen's usable area ``(x, y, width, height)`` in pixels (a top panel: ``y`` below it), or None
    where it cannot be read."""
    try:
        if sys.platform == "win32":
            return _windows_work_area()
        if os.environ.get("DISPLAY"):
            return _x11_area(os.environ["DISPLAY"])
    except (OSError, AttributeError, ValueError):
        return None
    return None


def _windows_work_area() -> tuple[int, int, int, int] | None:
    class Rect(ctypes.Structure):
        _fields_ = [("left", ctypes.c_long), ("top", ctypes.c_long), ("right", ctypes.c_long),
                    ("bottom", ctypes.c_long)]
    r = Rect()
    spi_getworkarea = 0x0030
    user32 = ctypes.windll.user32          # type: ignore[attr-defined]  # (Windows only)
    if not user32.SystemParametersInfoW(spi_getworkarea, 0, ctypes.byref(r), 0):
        return None
    return r.left, r.top, r.right - r.left, r.bottom - r.top


def _x11_area(display: str) -> tuple[int, int, int, int] | None:
    name = ctypes.util.find_library("X11")
    if name is None:
        return None
    x = ctypes.CDLL(name)
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    dpy = x.XOpenDisplay(display.encode())
    if not dpy:
        return None
    try:
        x.XDefaultScreen.argtypes = [ctypes.c_void_p]
        x.XDisplayWidth.argtypes = x.XDisplayHeight.argtypes = x.XRootWindow.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XRootWindow.restype = ctypes.c_ulong
        screen = x.XDefaultScreen(dpy)
        size = int(x.XDisplayWidth(dpy, screen)), int(x.XDisplayHeight(dpy, screen))
        work = _work_area(x, dpy, x.XRootWindow(dpy, screen))
        return work if work is not None else (0, 0, *size)
    finally:
        x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        x.XCloseDisplay(dpy)


def _work_area(x: ctypes.CDLL, dpy: int, root: int) -> tuple[int, int, int, int] | None:
    """The first desktop's work area from the window manager (``_NET_WORKAREA``), or None without one."""
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    atom = x.XInternAtom(dpy, b"_NET_WORKAREA", 1)       # only_if_exists: no window manager, no atom
    if not atom:
        return None
    kind, fmt = ctypes.c_ulong(), ctypes.c_int()
    count, after = ctypes.c_ulong(), ctypes.c_ulong()
    data = ctypes.POINTER(ctypes.c_long)()
    x.XGetWindowProperty.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long, ctypes.c_long,
                                     ctypes.c_int, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                                     ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_ulong),
                                     ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_long))]
    xa_cardinal = 6
    if x.XGetWindowProperty(dpy, root, atom, 0, 4, 0, xa_cardinal, ctypes.byref(kind), ctypes.byref(fmt),
                            ctypes.byref(count), ctypes.byref(after), ctypes.byref(data)) != 0 or not data:
        return None
    try:
        if fmt.value != 32 or count.value < 4:
            return None
        return int(data[0]), int(data[1]), int(data[2]), int(data[3])     # the first desktop's
    finally:
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XFree(data)
