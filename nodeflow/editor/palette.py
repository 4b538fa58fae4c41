"""The node palette: every registered node type by category, and type-to-search.

The side panel lists categories with a button per node type (its tooltip is the node's first
docstring line).  The search box above it filters the list as you type; the quick search
(``Ctrl+K`` or ``Ctrl+Space``) pops up a box at the mouse, ``Enter`` adds the best match there.
:func:`search` is the ranking used by both, and does not need dearpygui.
"""
from __future__ import annotations

from typing import Callable

from ..node import NodeSpec
from ..registry import Registry

__all__ = ["search", "Palette"]


def search(registry: Registry, query: str, limit: int = 20) -> list[NodeSpec]:
    """Node types matching every word of ``query``, best first.

    A word matches the type id, its category or its tooltip; matches at the start of the node's
    name rank first, then in its id, then in the description.

    >>> from nodeflow import default_registry
    >>> [s.id for s in search(default_registry(), "gain")][:1]
    ['dsp.gain']
    """
    words = query.lower().split()
    scored = []
    for spec in registry:
        hay_id, name, doc = spec.id.lower(), spec.name.lower(), spec.tooltip.lower()
        score = 0
        for w in words:
            if name.startswith(w):
                score += 0
            elif w in hay_id or w in spec.category.lower():
                score += 1
            elif w in doc:
                score += 3
            else:
                break
        else:
            scored.append((score, spec.id, spec))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [s for _, _, s in scored[:limit]]


class Palette:
    """The side panel and the quick-search popup (dearpygui)."""

    def __init__(self, parent: int | str, registry: Registry, on_pick: Callable[[str, bool], None]):
        """``on_pick(type_id, at_mouse)`` adds a node of that type."""
        import dearpygui.dearpygui as dpg
        self.dpg, self.registry, self.on_pick = dpg, registry, on_pick
        self._buttons: dict[str, str] = {}
        dpg.add_text("Nodes", parent=parent, color=(200, 200, 255))
        dpg.add_input_text(tag="palette::filter", hint="search nodes", parent=parent, width=-1,
                           callback=lambda s, a: self._filter(a))
        for category, specs in registry.categories().items():
            with dpg.collapsing_header(label=category, default_open=True, parent=parent, tag=f"palcat::{category}"):
                for spec in specs:
                    tag = f"palette::{spec.id}"
                    dpg.add_button(label=spec.name.replace("_", " "), tag=tag, width=-1,
                                   callback=lambda s, a, u: self.on_pick(u, False), user_data=spec.id)
                    with dpg.tooltip(tag):
                        dpg.add_text(f"{spec.id}\n{spec.tooltip}", wrap=300)
                    self._buttons[spec.id] = tag
        with dpg.window(label="Add node", tag="quicksearch", show=False, no_collapse=True, width=320, height=300,
                        modal=False, no_saved_settings=True):
            dpg.add_input_text(tag="quicksearch::input", hint="type to search, Enter adds", width=-1,
                               callback=lambda s, a: self._quick_results(a), on_enter=False)
            dpg.add_child_window(tag="quicksearch::results", height=-1)
        self._quick_results("")

    # ------------------------------------------------------------------ side panel
    def _filter(self, text: str) -> None:
        shown = {s.id for s in search(self.registry, text, limit=1000)} if text.strip() else set(self._buttons)
        for type_id, tag in self._buttons.items():
            self.dpg.configure_item(tag, show=type_id in shown)

    # ------------------------------------------------------------------ quick search
    def open_search(self, at: tuple[float, float]) -> None:
        dpg = self.dpg
        dpg.set_value("quicksearch::input", "")
        self._quick_results("")
        dpg.configure_item("quicksearch", show=True, pos=[int(at[0]), int(at[1])])
        dpg.focus_item("quicksearch")
        dpg.focus_item("quicksearch::input")

    @property
    def searching(self) -> bool:
        return bool(self.dpg.is_item_shown("quicksearch"))

    def close_search(self) -> None:
        self.dpg.configure_item("quicksearch", show=False)

    def _quick_results(self, text: str) -> None:
        dpg = self.dpg
        dpg.delete_item("quicksearch::results", children_only=True)
        self.results = search(self.registry, text, limit=12)
        for i, spec in enumerate(self.results):
            dpg.add_selectable(label=f"{spec.id}  -  {spec.tooltip}"[:70], parent="quicksearch::results",
                               default_value=(i == 0), callback=lambda s, a, u: self.pick(u), user_data=spec.id,
                               tag=f"quicksearch::hit::{i}")

    def pick(self, type_id: str | None = None) -> None:
        """Add the chosen (or best) match at the mouse and close the popup."""
        if type_id is None:
            if not self.results:
                return
            type_id = self.results[0].id
        self.close_search()
        self.on_pick(type_id, True)
