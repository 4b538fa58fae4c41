"""dearpygui calls on items that may have been deleted, and callbacks that must not close the window.

Anything on the canvas can disappear between two frames (Delete, undoing an add, a new file) while
dearpygui still hands out its id: as the focused item, in the selection, as the sender of a queued
callback.  dearpygui 2.3 answers a call on such an id with a plain ``Exception`` ("Item not found"),
other calls with ``SystemError``; uncaught, either ends the editor.  So every call the editor makes on
an item that can be deleted goes through this module:

* a call on an item that no longer exists (before or during the call) does nothing and returns the
  default;
* an error on an item that *does* exist is a real bug and propagates, to be caught per callback by
  :func:`run_callbacks` (the editor reports it in the status bar and its log, and keeps running).

>>> from nodeflow.editor import items
>>> items.value("param::gone::gain_db", default=0.0)      # doctest: +SKIP
0.0
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Sequence

import dearpygui.dearpygui as dpg

__all__ = ["exists", "call", "clipboard_text", "value", "set_value", "configure", "state", "rect", "item_type", "alias", "pos",
           "set_pos", "delete", "active", "shown", "bind_theme", "focused", "run_callbacks"]

log = logging.getLogger("nodeflow.editor")

Item = int | str   # an item id (int) or tag (str)


def exists(item: Item | None) -> bool:
    """Whether ``item`` names a live item (0, None and "" name none)."""
    if item is None or item == 0 or item == "":
        return False
    try:
        return bool(dpg.does_item_exist(item))
    except Exception:  # noqa: BLE001 - a malformed id is no item
        return False


def call(fn: Callable[..., Any], item: Item, *args: Any, default: Any = None, **kw: Any) -> Any:
    """``fn(item, *args, **kw)``, or ``default`` when ``item`` is gone before or during the call."""
    if not exists(item):
        return default
    try:
        return fn(item, *args, **kw)
    except Exception:
        if exists(item):
            raise
        return default


def value(item: Item, default: Any = None) -> Any:
    return call(dpg.get_value, item, default=default)


def set_value(item: Item, v: Any) -> bool:
    """Show ``v`` in ``item``; False when the item is gone."""
    return bool(call(lambda i: dpg.set_value(i, v) or True, item, default=False))


def configure(item: Item, **kw: Any) -> bool:
    return bool(call(lambda i: dpg.configure_item(i, **kw) or True, item, default=False))


def state(item: Item) -> dict[str, Any]:
    """``dpg.get_item_state`` ({} for a gone item)."""
    return call(dpg.get_item_state, item, default=None) or {}


def rect(item: Item) -> tuple[list[float], list[float]] | None:
    """``(rect_min, rect_max)`` in viewport pixels, or None (gone, or not drawn yet)."""
    st = state(item)
    if st.get("rect_min") is None or st.get("rect_max") is None:
        return None
    return list(st["rect_min"]), list(st["rect_max"])


def item_type(item: Item) -> str:
    """``"mvAppItemType::mvInputText"`` and so on; "" for a gone item."""
    return call(dpg.get_item_type, item, default="") or ""


def alias(item: Item) -> str | None:
    """The tag of an item id (None when it has none or is gone)."""
    if isinstance(item, str):
        return item if exists(item) else None
    return call(dpg.get_item_alias, item, default=None) or None


def pos(item: Item) -> list[float] | None:
    p = call(dpg.get_item_pos, item, default=None)
    return None if p is None else [float(v) for v in p]


def set_pos(item: Item, p: Iterable[float]) -> bool:
    return bool(call(lambda i: dpg.set_item_pos(i, list(p)) or True, item, default=False))


def delete(item: Item, **kw: Any) -> bool:
    return bool(call(lambda i: dpg.delete_item(i, **kw) or True, item, default=False))


def active(item: Item) -> bool:
    """Whether ``item`` has the keyboard (a text box typed into); False for a gone item."""
    return bool(call(dpg.is_item_active, item, default=False))


def shown(item: Item) -> bool:
    return bool(call(dpg.is_item_shown, item, default=False))


def bind_theme(item: Item, theme: Item) -> bool:
    return bool(call(lambda i: dpg.bind_item_theme(i, theme) or True, item, default=False))


def focused() -> Item | None:
    """The item with the keyboard focus, None when there is none or it was deleted since."""
    try:
        item = dpg.get_focused_item()
    except Exception:  # noqa: BLE001 - the focused item is gone
        return None
    return item if exists(item) else None


def run_callbacks(jobs: Iterable[Sequence[Any]] | None, on_error: Callable[[Any, BaseException], None]) -> int:
    """Run the queued callbacks (``manual_callback_management``) one by one; an exception in one is
    handed to ``on_error(callback, exc)`` and the others still run.  Returns how many ran."""
    import inspect
    n = 0
    for job in jobs or ():
        fn = job[0] if job else None
        if fn is None:
            continue
        try:
            fn(*job[1:1 + len(inspect.signature(fn).parameters)])
        except Exception as e:  # noqa: BLE001 - reported by on_error; the window stays open
            on_error(fn, e)
        n += 1
    return n


_glfw_clipboard: Any = None


def clipboard_text() -> str:
    """The system clipboard's text ("" when it holds none).

    ``dpg.get_clipboard_text()`` aborts the whole process (a C++ ``std::logic_error``, no Python
    exception) when the clipboard is empty or holds no text, as it is on a fresh X session.  GLFW's own
    call, which dearpygui exports, returns NULL then; it is used instead.  Where that symbol is not
    available the system clipboard is not read at all ("" is returned; the editor's own clip still
    pastes).  Call it from the UI thread.
    """
    global _glfw_clipboard
    if _glfw_clipboard is None:
        _glfw_clipboard = _glfw_clipboard_reader()
    if not _glfw_clipboard:
        return ""
    raw = _glfw_clipboard()
    return raw.decode("utf-8", "replace") if raw else ""


def _glfw_clipboard_reader() -> Any:
    """GLFW's clipboard read, with GLFW's error callback off while it runs: an empty clipboard is an
    error to GLFW ("Format unavailable", 65545), which dearpygui's callback prints on the console for
    every paste.  False where the symbols are not exported."""
    import ctypes
    from .pacing import glfw
    lib = glfw()
    try:
        get, set_callback = lib.glfwGetClipboardString, lib.glfwSetErrorCallback
    except AttributeError:                    # (None has none either)
        return False
    get.restype, get.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
    set_callback.restype, set_callback.argtypes = ctypes.c_void_p, [ctypes.c_void_p]

    def read() -> bytes | None:
        before = set_callback(None)
        try:
            raw: bytes | None = get(None)       # GLFW 3.3 ignores the window argument
            return raw
        finally:
            set_callback(before)
    return read
