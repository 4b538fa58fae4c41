"""The node palette: every registered node type by category, and type-to-search.

The side panel lists categories with a button per node type (its tooltip is the node's first
docstring line).  The search box above it filters the list as you type; the quick search
(``Ctrl+K``, ``Ctrl+Space``, a double-click on empty canvas, or a link dropped on empty canvas)
pops up a box at the mouse; the arrow keys move through the results and ``Enter`` adds the
highlighted one there (after a link drop: only node types that fit the link, linked to it).
:func:`search` is the ranking used by both, and does not need dearpygui.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from ..node import NodeSpec
from ..registry import Registry
from ..types import link_mode, type_name
from .keyorder import hold_until
from .paramtext import readable

__all__ = ["search", "fits", "missing", "Palette", "SYNONYMS", "MISSING"]


# words people type -> words the node library uses (prefixes; a synonym ranks one step below the word)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "loudness": ("lufs", "loud", "normalis"), "lufs": ("loudness",),
    "normalize": ("normalis", "lufs", "loudness"), "normalise": ("normaliz", "lufs", "loudness"),
    "volume": ("gain", "level", "loud"), "louder": ("gain",), "quieter": ("gain",), "level": ("gain",),
    "vocal": ("vocals", "voice", "speak", "sing", "speech"), "voice": ("vocal", "speak", "speech"),
    "singing": ("sing", "vocal"), "tts": ("speak", "speech"), "talk": ("speak",), "say": ("speak",),
    "pitch": ("transpose", "semitone"), "transpose": ("pitch", "semitone"), "key": ("transpose",),
    "speed": ("stretch", "tempo"), "bpm": ("tempo",), "beat": ("tempo", "bars"),
    "slow": ("stretch",), "slower": ("stretch",), "faster": ("stretch",), "halftime": ("stretch",),
    "layer": ("mix",), "overlay": ("mix",), "stack": ("mix",), "shift": ("transpose", "semitone"),
    "stems": ("split", "separ"), "separate": ("split", "stems"), "isolate": ("split", "vocals"),
    "cut": ("trim", "window"), "slice": ("window", "trim"), "chop": ("window", "trim"),
    "crop": ("trim",), "join": ("concat", "stitch"), "append": ("concat",), "combine": ("mix", "concat"),
    "blend": ("mix", "crossfade"), "sum": ("mix",), "samplerate": ("resample", "rate"),
    "mono": ("channels",), "stereo": ("channels",), "save": ("export", "write"), "write": ("export",),
    "render": ("export",), "open": ("load",), "import": ("load",), "read": ("load",), "file": ("load", "export"),
    "generate": ("generat", "speak", "speech"), "music": ("generat",), "ai": ("model",), "melody": ("chroma",),
    "similar": ("similar", "embedding", "search"), "find": ("search",), "score": ("similar", "scor"),
    "prompt": ("text", "template"), "fadein": ("fade",), "fadeout": ("fade",), "reverse": ("variation",),
    "tempo": ("bpm",), "transcribe": ("transcri",), "stt": ("transcri",), "asr": ("transcri",),
    "lyrics": ("transcri",),
    "dc": ("highpass",), "rumble": ("highpass",), "lowcut": ("highpass",), "hpf": ("highpass",),
    "highpass": ("highpass",), "subsonic": ("highpass",),
}
# phrases people type -> one word of SYNONYMS ("time stretch" found the time category's nodes first)
PHRASES = {"time stretch": "stretch", "time-stretch": "stretch", "slow down": "slower", "speed up": "faster",
           "half time": "halftime", "pitch shift": "pitch", "sample rate": "samplerate", "fade in": "fadein",
           "fade out": "fadeout",
           # (QA: "text to speech" put the speech-to-text model first: every word of it is in its docs)
           "text to speech": "tts", "text-to-speech": "tts", "speech synthesis": "tts", "read aloud": "tts",
           "read text aloud": "tts", "voice over": "tts", "voiceover": "tts",
           "speech to text": "transcribe", "speech-to-text": "transcribe", "speech recognition": "transcribe",
           "low cut": "lowcut", "low-cut": "lowcut", "high pass": "highpass", "high-pass": "highpass",
           "dc offset": "dc"}
# effects people look for that no node does yet: matched against node names and descriptions only (a
# word in some documentation is no such node: "echo" found the prompt template, "noise" a speech
# model's noise_scale, "eq" the crossfade's "equal power"), and the search says what is missing
# (word stems: "compression", "reverbs", "echoes", "equalize", "denoising"; "eq" alone is the whole word)
MISSING = {"reverb": "reverb", "echo": "echo or delay", "delay": "echo or delay", "compress": "compressor",
           "eq": "EQ", "equaliz": "EQ", "equalis": "EQ", "lowpass": "low-pass filter", "denois": "denoiser",
           "noise": "noise generator or denoiser", "distort": "distortion", "chorus": "chorus",
           "autotune": "pitch correction", "sidechain": "sidechain compressor"}
_WORD = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _fields(spec: NodeSpec) -> list[set[str]]:
    """What a query word is matched against, best first: the node's name, its id and category, its
    one-line description, its port and parameter names, and its whole docstring with every
    parameter's documentation."""
    names = " ".join([*spec.inputs, *spec.outputs, *spec.params])
    docs = " ".join([spec.doc, *(p.doc for p in spec.params.values()), *(p.doc for p in spec.inputs.values())])
    return [_tokens(spec.name), _tokens(f"{spec.id} {spec.category}"), _tokens(spec.tooltip), _tokens(names),
            _tokens(docs)]


def _missing(word: str) -> str | None:
    """The :data:`MISSING` effect ``word`` names, if any (by stem; "eq" as a whole word)."""
    if word == "eq":
        return MISSING["eq"]
    return next((v for k, v in MISSING.items() if k != "eq" and word.startswith(k)), None)


def _rank(fields: list[set[str]], word: str) -> int | None:
    """How well one query word matches (0 best), None when it does not: a synonym found in a field
    ranks as the word itself found one field further down.  A :data:`MISSING` effect is looked for
    in names and descriptions only."""
    if _missing(word):
        fields = fields[:3]
    ranks = [level * 2 for level, toks in enumerate(fields) if any(t.startswith(word) for t in toks)][:1]
    for syn in SYNONYMS.get(word, ()) + tuple(v for k, vs in SYNONYMS.items() if k != word and word.startswith(k)
                                              for v in vs):
        ranks += [level * 2 + 2 for level, toks in enumerate(fields) if any(t.startswith(syn) for t in toks)][:1]
    return min(ranks) if ranks else None


def missing(query: str) -> str:
    """What the search says of an effect no node does yet, else ``""``.

    >>> missing("big reverb")
    'AudioChain has no reverb node yet'
    """
    what = [m for w in _tokens(query) if (m := _missing(w))]
    return f"AudioChain has no {what[0]} node yet" if what else ""


def fits(spec: NodeSpec, t: Any, direction: str = "in") -> str | None:
    """The first port of ``spec`` that can take a value of type ``t`` (``direction='in'``: one of its
    inputs; ``'out'``: one of its outputs that can feed an input of type ``t``), or None."""
    if direction == "in":
        return next((n for n, p in spec.inputs.items() if link_mode(t, p.type)), None)
    return next((n for n, p in spec.outputs.items() if link_mode(p.type, t)), None)


def search(registry: Registry, query: str, limit: int = 20, *, fits_type: Any = None,
           direction: str = "in") -> list[NodeSpec]:
    """Node types matching every word of ``query``, best first.

    A word matches the start of a word in the node's name, id, category, description, port and
    parameter names or documentation (in that order of rank), or one of its :data:`SYNONYMS`
    ("loudness" finds the export's ``loudness_lufs``, "pitch" the variation's transpose).  With
    ``fits_type`` only node types with a port that fits it are listed (see :func:`fits`).

    >>> from nodeflow import default_registry
    >>> [s.id for s in search(default_registry(), "gain")][:1]
    ['dsp.gain']
    >>> [s.id for s in search(default_registry(), "pitch")][:1]
    ['dsp.variation']
    >>> [[s.id for s in search(default_registry(), q)][:1] for q in ("time stretch", "slow down", "layer")]
    [['dsp.variation'], ['dsp.variation'], ['dsp.mix']]
    """
    text = " ".join(query.lower().split())
    for phrase, word in PHRASES.items():
        text = text.replace(phrase, word)
    words = text.split()
    scored = []
    for spec in registry:
        if fits_type is not None and fits(spec, fits_type, direction) is None:
            continue
        fields = _fields(spec)
        score = 0
        for w in words:
            r = _rank(fields, w)
            if r is None:
                break
            score += r
        else:
            scored.append((score, spec.id, spec))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [s for _, _, s in scored[:limit]]


class Palette:
    """The side panel and the quick-search popup (dearpygui)."""

    def __init__(self, parent: int | str, registry: Registry,
                 on_pick: Callable[[str, tuple[float, float] | None, tuple[str, str, str, Any] | None], object]):
        """``on_pick(type_id, at, link)`` adds a node of that type: ``at`` None (the side panel: a
        free spot) or viewport pixels, ``link`` None or the dropped link's ``(direction, node, port,
        type)``."""
        import dearpygui.dearpygui as dpg
        self.dpg, self.registry, self.on_pick = dpg, registry, on_pick
        self.at: tuple[float, float] = (0.0, 0.0)
        self.link: tuple[str, str, str, Any] | None = None
        self.results: list[NodeSpec] = []
        self.selected = 0
        self._buttons: dict[str, str] = {}
        dpg.add_text("Nodes", parent=parent, color=(200, 200, 255))
        dpg.add_input_text(tag="palette::filter", hint="search nodes", parent=parent, width=-1,
                           callback=lambda s, a: self._filter(a))
        dpg.add_text("", tag="palette::note", parent=parent, color=(255, 170, 80), wrap=130, show=False)
        from .themes import PIN_COLOURS
        with dpg.group(horizontal=True, parent=parent, tag="palette::legend", horizontal_spacing=5):
            for label, t in (("Audio", "Audio"), ("str", "str"), ("num", "float"), ("bool", "bool")):
                dpg.add_text(label, color=PIN_COLOURS[t])      # the pin colours: one per port type
        with dpg.tooltip("palette::legend"):
            dpg.add_text("Pin colours by port type: Audio blue, text (str) yellow, numbers green, bool red, "
                         "others grey. A square pin carries a list (a node fed a list runs once per item). "
                         "While a link is dragged, the pins it cannot go to turn grey.", wrap=300)
        self._panel = parent
        self._categories: dict[str, list[str]] = {}      # category: its node types, in the panel's own order
        for category, specs in registry.categories().items():
            with dpg.collapsing_header(label=category, default_open=True, parent=parent, tag=f"palcat::{category}"):
                for spec in specs:
                    tag = f"palette::{spec.id}"
                    dpg.add_button(label=spec.name.replace("_", " "), tag=tag, width=-1,
                                   callback=lambda s, a, u: self.on_pick(u, None, None), user_data=spec.id)
                    with dpg.tooltip(tag):
                        dpg.add_text(f"{spec.id}\n{readable(spec.tooltip)}", wrap=300)
                    self._buttons[spec.id] = tag
                dpg.add_spacer(height=0, tag=f"palcat::{category}::end")   # (what reordering moves before)
            self._categories[category] = [spec.id for spec in specs]
        dpg.add_spacer(height=0, parent=parent, tag="palcat::end")
        with dpg.window(label="Add node", tag="quicksearch", show=False, no_collapse=True, width=320, height=300,
                        modal=False, no_saved_settings=True):
            dpg.add_input_text(tag="quicksearch::input", hint="type to search, Enter adds", width=-1,
                               callback=lambda s, a: self._quick_results(a), on_enter=False)
            dpg.add_child_window(tag="quicksearch::results", height=-1)
        with dpg.theme() as picked:        # the row Enter adds stands out; the one under the pointer less
            with dpg.theme_component(dpg.mvSelectable):     # (QA: the hovered row looked like the choice)
                dpg.add_theme_color(dpg.mvThemeCol_Header, (66, 150, 250, 230), category=dpg.mvThemeCat_Core)
                dpg.add_theme_color(dpg.mvThemeCol_HeaderHovered, (66, 150, 250, 60), category=dpg.mvThemeCat_Core)
                dpg.add_theme_color(dpg.mvThemeCol_HeaderActive, (66, 150, 250, 255), category=dpg.mvThemeCat_Core)
        dpg.bind_item_theme("quicksearch::results", picked)
        self._quick_results("")

    # ------------------------------------------------------------------ side panel
    def _filter(self, text: str) -> None:
        """Show the node types matching ``text`` best first: the category holding the best match on top,
        each category's matches in rank order, categories with none hidden (QA62: "stitch" listed
        resample, variation, export and a model above stitch, under every category's header)."""
        dpg = self.dpg
        hits = search(self.registry, text, limit=1000) if text.strip() else None
        note = missing(text) or (f"no node matches '{text.strip()}'" if hits == [] else "")   # as the search says
        dpg.configure_item("palette::note", default_value=note, show=bool(note))          # (QA108: a blank panel)
        rank = {s.id: i for i, s in enumerate(hits)} if hits is not None else None
        order: dict[str, int] = {}           # each category with a match: where its best one ranks
        for k, (c, ids) in enumerate(self._categories.items()):
            best = min((rank[t] for t in ids if t in rank), default=None) if rank is not None else k
            if best is not None:
                order[c] = best
        for category in sorted(order, key=lambda c: order[c]):
            dpg.move_item(f"palcat::{category}", parent=self._panel, before="palcat::end")
        for category, ids in self._categories.items():
            dpg.configure_item(f"palcat::{category}", show=category in order)
            if rank is not None and category in order:       # a match in a folded category shows (QA65)
                dpg.set_value(f"palcat::{category}", True)
            ranked = sorted(ids, key=lambda t: rank.get(t, len(rank))) if rank is not None else ids
            for type_id in ranked:
                tag = self._buttons[type_id]
                dpg.move_item(tag, parent=f"palcat::{category}", before=f"palcat::{category}::end")
                dpg.configure_item(tag, show=rank is None or type_id in rank)

    # ------------------------------------------------------------------ quick search
    def open_search(self, at: tuple[float, float], link: tuple[str, str, str, Any] | None = None) -> None:
        """Pop the search up at ``at`` (viewport pixels).  ``link=(direction, node, port, type)``: a
        link was dropped on empty canvas from that pin; only node types with a port that fits it
        are offered, and the one picked is linked to it."""
        dpg = self.dpg
        self.at, self.link = (float(at[0]), float(at[1])), link
        label = "Add node"
        if link is not None:
            direction, nid, port, t = link
            label = (f"Add node fed by {nid}.{port}" if direction == "out" else f"Add node feeding {nid}.{port}") \
                + f" ({type_name(t)})"
        dpg.set_value("quicksearch::input", "")
        self._quick_results("")
        x = min(int(at[0]), dpg.get_viewport_client_width() - 330)      # the whole popup in the window
        y = min(int(at[1]), dpg.get_viewport_client_height() - 310)
        dpg.configure_item("quicksearch", show=True, label=label, pos=[max(x, 0), max(y, 0)])
        dpg.focus_item("quicksearch")
        dpg.focus_item("quicksearch::input")
        from . import items
        hold_until(                               # what is typed right after Ctrl+K goes into the box
            lambda: items.active("quicksearch::input"))

    @property
    def searching(self) -> bool:
        return bool(self.dpg.is_item_shown("quicksearch"))

    def close_search(self) -> None:
        self.dpg.configure_item("quicksearch", show=False)
        self.link = None

    def _quick_results(self, text: str) -> None:
        dpg = self.dpg
        dpg.delete_item("quicksearch::results", children_only=True)
        link = getattr(self, "link", None)
        fit = {} if link is None else {"fits_type": link[3], "direction": "in" if link[0] == "out" else "out"}
        self.results = search(self.registry, text, limit=len(self.registry), **fit)   # all: the list scrolls
        self.selected = 0
        for i, spec in enumerate(self.results):
            dpg.add_selectable(label=f"{spec.id}  -  {readable(spec.tooltip)}"[:70], parent="quicksearch::results",
                               default_value=(i == 0), callback=lambda s, a, u: self.pick(u), user_data=spec.id,
                               tag=f"quicksearch::hit::{i}")
        if missing(text):
            dpg.add_text(missing(text), parent="quicksearch::results", color=(255, 170, 80))
        if not self.results:
            dpg.add_text("no node type matches" + (" and fits this link" if link else ""),
                         parent="quicksearch::results", color=(255, 170, 80))

    def move(self, step: int) -> None:
        """Arrow keys: highlight the next (``step=1``) or previous result; Enter adds it."""
        if not self.results:
            return
        self.selected = (self.selected + step) % len(self.results)
        for i in range(len(self.results)):
            self.dpg.set_value(f"quicksearch::hit::{i}", i == self.selected)
        self._scroll_to(self.selected)

    def _scroll_to(self, i: int) -> None:
        """Scroll the results so that result ``i`` shows (the arrow keys went past the last one in view)."""
        from . import items
        dpg, box = self.dpg, "quicksearch::results"
        first, second = items.rect("quicksearch::hit::0"), items.rect("quicksearch::hit::1")
        size = items.call(dpg.get_item_rect_size, box)      # (a child window's state has no rect)
        if first is None or second is None or not size:
            return
        pitch = second[0][1] - first[0][1]             # a row and the space under it
        top, height = i * pitch, first[1][1] - first[0][1]
        room = size[1] - pitch
        scroll = dpg.get_y_scroll(box)
        if top < scroll:
            dpg.set_y_scroll(box, top)
        elif top + height > scroll + room:
            dpg.set_y_scroll(box, top + height - room)

    def pick(self, type_id: str | None = None) -> None:
        """Add the chosen (or highlighted) match where the popup opened, linked to the dropped link's
        pin if there is one, and close the popup."""
        if type_id is None:
            if not self.results:
                return
            type_id = self.results[min(self.selected, len(self.results) - 1)].id
        link = self.link
        self.close_search()
        self.on_pick(type_id, self.at, link)
