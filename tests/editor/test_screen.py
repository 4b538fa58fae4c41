"""The window fits the screen it opens on (QA104 D1: a fixed 1280x800 on a 1366x768 screen put Run, Stop and
the status line below its bottom edge)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nodeflow.editor.screen import MIN_SIZE, fit, usable_area

from .conftest import gui_skip_reason


@pytest.fixture
def laptop(tmp_path):
    """A private X screen of 1366x768 (its display name; kept as set when a client leaves, as with a window
    manager connected)."""
    if shutil.which("Xvfb") is None or gui_skip_reason():
        pytest.skip("needs Xvfb and the GUI test tools")
    r, w = os.pipe()
    p = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1366x768x24", "-nolisten", "tcp", "-noreset"],
                         pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        display = ":" + f.readline().strip()
    yield display
    p.terminate()
    p.wait(10)


def set_work_area(display: str, width: int, height: int, top: int = 0) -> None:
    """Set the root window's ``_NET_WORKAREA`` as a window manager with a panel does (Xlib, through ctypes)."""
    x = ctypes.CDLL(ctypes.util.find_library("X11"))
    x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = ctypes.c_ulong, [ctypes.c_void_p]
    x.XInternAtom.restype, x.XInternAtom.argtypes = ctypes.c_ulong, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x.XChangeProperty.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_int,
                                  ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x.XOpenDisplay(display.encode())
    data = (ctypes.c_long * 4)(0, top, width, height)
    x.XChangeProperty(dpy, x.XDefaultRootWindow(dpy), x.XInternAtom(dpy, b"_NET_WORKAREA", 0), 6, 32, 0, data, 4)
    x.XCloseDisplay(dpy)                                 # (closing flushes the request)


def test_the_usable_area_is_the_screen_or_the_window_managers_work_area(laptop, monkeypatch):
    monkeypatch.setenv("DISPLAY", laptop)
    assert usable_area() == (0, 0, 1366, 768)
    set_work_area(laptop, 1366, 740)                          # a panel 28 px tall at the bottom
    assert usable_area() == (0, 0, 1366, 740)
    assert fit(1280, 800) == (0, 0, 1280, 740) and fit(1920, 1200) == (0, 0, 1366, 740)
    assert fit(100, 100) == (0, 0, *MIN_SIZE)
    set_work_area(laptop, 1366, 688, top=40)                  # a panel 40 px tall at the top (QA106)
    assert usable_area() == (0, 40, 1366, 688) and fit(1280, 800) == (0, 40, 1280, 688)
    monkeypatch.delenv("DISPLAY")
    assert usable_area() is None and fit(1280, 800) == (0, 0, 1280, 800)


@pytest.mark.gui
def test_the_window_opens_within_a_small_screen_with_run_and_the_status_on_it(editor, laptop):
    set_work_area(laptop, 1366, 700, top=40)                  # panels at the top (40 px) and the bottom (28 px)
    editor.env["DISPLAY"] = laptop
    st = editor.run("screen_fit")
    vw, vh = st["viewport"]
    assert (vw, vh) == (1280, 700) and st["viewport_pos"] == [0, 40], st
    for tag in ("run", "stop", "status"):
        (x0, y0), (x1, y1) = st[tag]
        assert 0 <= x0 <= x1 <= vw and 0 <= y0 < y1 <= vh, (tag, st[tag])      # (the status: empty at first)
    assert st["status_after_run"].startswith("run "), st["status_after_run"]
    assert Path(editor.tmp / "screen.png").exists()


@pytest.mark.gui
def test_nodes_added_from_the_palette_on_a_small_screen_land_whole_and_clear(editor, laptop):
    editor.env["DISPLAY"] = laptop
    st = editor.run("palette_place_small")
    assert st["added"] == ["musicgen", "load", "gain", "export", "fade", "bark"], st["added"]
    assert st["steps"] == ["add musicgen", "add load", "add gain", "add export", "add fade", "add bark"], st["steps"]
    (cx0, cy0), (cx1, cy1) = st["canvas"]
    boxes = {n: (*r[0], *r[1]) for n, r in st["rects"].items()}

    def overlap(a, b):
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    for nid, box in boxes.items():
        assert cx0 <= box[0] and box[2] <= cx1 and cy0 <= box[1] and box[3] <= cy1, (nid, box, st["canvas"])
        assert not overlap(box, (*st["mini"][0], *st["mini"][1])), (nid, box, st["mini"])
        assert not any(overlap(box, other) for o, other in boxes.items() if o != nid), (nid, boxes)
    assert st["after_undo"] == ["export", "fade", "gain", "load", "musicgen"]       # the add and its move: one step


@pytest.mark.gui
def test_model_nodes_added_into_a_full_view_hide_no_node_and_stay_off_the_minimap(editor, laptop):
    from ._graphs import chain_graph
    editor.env["DISPLAY"] = laptop
    st = editor.run("palette_place_full", chain_graph(editor.tmp))
    assert len(st["added"]) == 5 and all(s.startswith("add ") for s in st["steps"]), st["steps"]

    def overlap(a, b):
        return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    for nid, box, others, mini, canvas in zip(st["added"], st["boxes"], st["others"], st["minis"], st["canvases"]):
        assert canvas[0] <= box[0] and box[2] <= canvas[2] and canvas[1] <= box[1] and box[3] <= canvas[3], (nid, box)
        assert mini is None or overlap(box, mini) == 0, (nid, box, mini)
        for o, q in others.items():           # visible nodes: none more than half covered by the new one
            if canvas[0] <= q[0] and q[2] <= canvas[2] and canvas[1] <= q[1] and q[3] <= canvas[3]:
                assert overlap(box, q) <= 0.5 * (q[2] - q[0]) * (q[3] - q[1]), (nid, box, o, q)
    assert len(st["after_undo"]) == 4 + 4                                  # one Ctrl+Z: the last add only
