"""The tune panel: the ranking ``audiochain tune`` wrote, its candidates played and compared A/B.

Open a tune's folder (``audiochain tune ... -o FOLDER``) or its ``manifest.json`` (View > Tune
results..., or ``audiochain edit FOLDER``: the tuned graph opens with the panel on the folder).  The rows are the manifest's, best first: rank, score (the scorer's other numbers in
the tooltip), the final prompt text, the seed(s) and the parameters the candidate differs by.  Each
row has *play* (the candidate's written audio, at its own level), *A* / *B* (the pair *A/B*
compares level-matched at the same place in the clip, see :class:`~.compare.ABCompare`), *use*
(the row's parameters into the open graph, one undoable edit) and *rerun* (use, then run the
graph: the editor's cache renders only what the parameters change).  The panel reads the manifest
and plays files; it never renders.  This module draws with dearpygui (through the app).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NodeflowError
from ..tune import FORMAT, MANIFEST
from .compare import ABCompare

if TYPE_CHECKING:
    from .app import App

__all__ = ["TunePanel", "read_tune_manifest", "tune_start"]

PROMPT_CHARS = 60


def read_tune_manifest(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """``(folder, manifest)`` of a tune folder or its ``manifest.json``; one clear error otherwise."""
    p = Path(path).expanduser()
    file = p / MANIFEST if p.is_dir() else p
    if not file.is_file():
        raise NodeflowError(f"tune results: no {MANIFEST} in {p}; open the folder `audiochain tune -o FOLDER` wrote")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise NodeflowError(f"tune results: cannot read {file} ({type(e).__name__}: {e}); is the tune still "
                            "writing it? open it again when it is done") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("variants"), list):
        what = "a sweep's manifest" if isinstance(doc, dict) and doc.get("mode") in ("grid", "zip") else "not a tune's manifest"
        raise NodeflowError(f"tune results: {file} is {what}; open a folder `audiochain tune` wrote "
                            "(View > Sweep... shows sweeps)")
    return file.parent, doc


def tune_start(path: Path | None) -> tuple[Path | None, Path | None]:
    """``audiochain edit TUNE_FOLDER`` (or its manifest.json): ``(the tuned graph, the folder)`` to open
    the graph with the panel on the folder; any other path: ``(path, None)``."""
    if path is None or not (path.is_dir() or path.name == MANIFEST):
        return path, None
    try:
        folder, doc = read_tune_manifest(path)
    except NodeflowError:
        return path, None
    graph = folder / doc["graph"] if doc.get("graph") else None      # paths in a manifest are the folder's
    return (graph.resolve() if graph is not None and graph.is_file() else None), folder


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_params(params: dict[str, Any]) -> str:
    """``gain.gain_db=-6, trim.start_s=0.5``

    >>> describe_params({"gain.gain_db": -6.0, "gen.seed": 3})
    'gain.gain_db=-6, gen.seed=3'
    """
    return ", ".join(f"{k}={_short(v)}" for k, v in params.items())


class TunePanel:
    def __init__(self, app: App):
        self.app, self.dpg = app, app.dpg
        self.rows: list[dict[str, Any]] = []
        self.settings: dict[str, Any] = {}
        self.folder: Path | None = None
        self.compare = ABCompare(app, "tune", lambda i: self.rows[i]["name"], self._value)
        dpg = self.dpg
        with dpg.window(label="Tune results", tag="tune", show=False, width=940, height=500, pos=[200, 70],
                        no_saved_settings=True):
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="tune::folder", width=-70, hint="a folder `audiochain tune -o` wrote",
                                   on_enter=True, callback=lambda: self.load())
                dpg.add_button(label="Open", tag="tune::load", callback=lambda: self.load())
            dpg.add_text("", tag="tune::about", wrap=900, color=(180, 180, 200))
            with dpg.group(horizontal=True):
                dpg.add_button(label="A/B", tag="tune::ab", callback=self.toggle_ab)
                dpg.add_text("", tag="tune::abtext")
            dpg.add_text("A/B plays both at the same loudness (the quieter one's)", tag="tune::abmatch",
                         color=(170, 200, 170))
            dpg.add_text("", tag="tune::status", wrap=900)
            with dpg.table(tag="tune::table", header_row=True, borders_innerH=True, resizable=True,
                           scrollY=True, height=-1):
                for name, w in (("#", 0.25), ("score", 0.6), ("prompt", 2.2), ("seed", 0.7), ("parameters", 3.2),
                                ("", 1.9)):
                    dpg.add_table_column(label=name, init_width_or_weight=w)

    # ------------------------------------------------------------------ open
    def open(self, path: str | Path | None = None) -> None:
        """Show the panel; with ``path`` (a tune folder or manifest), load it."""
        dpg = self.dpg
        if path is not None:
            dpg.set_value("tune::folder", str(path))
        elif not dpg.get_value("tune::folder"):
            dpg.set_value("tune::folder", str(self.app.runner.output_dir(self.app.doc.graph) / "tune"))
        dpg.configure_item("tune", show=True)
        if path is not None:
            self.load()

    def load(self) -> None:
        """Read the manifest in the folder box and list its rows, best first."""
        try:
            folder, doc = read_tune_manifest(self.dpg.get_value("tune::folder"))
        except NodeflowError as e:
            return self._say(str(e), True)
        self.folder, self.settings = folder, doc
        self.rows = sorted(doc["variants"], key=lambda r: r.get("rank") or 1e9)
        self.compare.reset()
        ok = [i for i, r in enumerate(self.rows) if r.get("status") == "ok" and self._value(i) is not None]
        self.compare.ab = {"A": ok[0] if ok else None, "B": ok[1] if len(ok) > 1 else None}
        self._draw()
        target = doc.get("target") or ""
        ref = Path(doc["reference"]).name if doc.get("reference") else ""
        self.dpg.set_value("tune::about", f"{len(self.rows)} candidate(s) of {doc.get('budget', '?')}, scored by "
                           f"{doc.get('scorer', '?')} ({doc.get('score', '?')})"
                           + (f' against "{target}"' if target else "") + (f" and {ref}" if ref else "")
                           + f"; graph {Path(doc.get('graph') or '?').name}")
        self._show_ab()
        self._say(f"tune results: {len(self.rows)} candidate(s) from {folder}")

    def _draw(self) -> None:
        dpg = self.dpg
        dpg.delete_item("tune::table", children_only=True, slot=1)
        for i, r in enumerate(self.rows):
            ok = r.get("status") == "ok"
            prompt = r.get("prompt")
            prompt = prompt if isinstance(prompt, str) else json.dumps(prompt) if prompt else ""
            with dpg.table_row(parent="tune::table", tag=f"tune::row::{i}"):
                dpg.add_text(str(r.get("rank", i + 1)))
                dpg.add_text(f"{r['score']:.4g}" if ok and r.get("score") is not None else r.get("status", "?"),
                             tag=f"tune::score::{i}", color=(150, 230, 150) if ok else (255, 120, 120))
                if r.get("scores"):
                    with dpg.tooltip(f"tune::score::{i}"):
                        dpg.add_text(describe_params(r["scores"]))
                dpg.add_text(prompt if len(prompt) <= PROMPT_CHARS else prompt[:PROMPT_CHARS - 3] + "...",
                             tag=f"tune::prompt::{i}")
                if prompt:
                    with dpg.tooltip(f"tune::prompt::{i}"):
                        dpg.add_text(prompt, wrap=600)
                dpg.add_text(describe_params(r.get("seed") or {}) or "-")
                dpg.add_text(describe_params(r.get("params") or {}), wrap=0)        # wraps at the column's edge
                with dpg.group(horizontal=True):
                    if self._value(i) is not None:
                        dpg.add_button(label="play", tag=f"tune::play::{i}", small=True, callback=lambda s, a, u: self.play(u), user_data=i)
                        dpg.add_button(label="A", tag=f"tune::A::{i}", small=True, callback=lambda s, a, u: self.pick("A", u), user_data=i)
                        dpg.add_button(label="B", tag=f"tune::B::{i}", small=True, callback=lambda s, a, u: self.pick("B", u), user_data=i)
                    elif r.get("error"):
                        dpg.add_text(str(r["error"]).splitlines()[0][:40], color=(255, 120, 120))
                    dpg.add_button(label="use", tag=f"tune::use::{i}", small=True, callback=lambda s, a, u: self.use(u), user_data=i)
                    dpg.add_button(label="rerun", tag=f"tune::rerun::{i}", small=True, callback=lambda s, a, u: self.rerun(u), user_data=i)

    def _value(self, i: int) -> Path | None:
        """Row ``i``'s audio: the first file its candidate wrote (paths in the manifest are the folder's)."""
        outs = self.rows[i].get("outputs") or []
        if self.folder is None or not outs:
            return None
        p = self.folder / outs[0]
        return p if p.is_file() else None

    def _say(self, text: str, error: bool = False) -> None:
        self.dpg.set_value("tune::status", text)
        self.dpg.configure_item("tune::status", color=(255, 110, 110) if error else (210, 210, 210))
        self.app.say(text, error)

    # ------------------------------------------------------------------ listening
    def play(self, i: int) -> None:
        """Play candidate ``i`` at its own level."""
        self.compare.play(i)

    def pick(self, side: str, i: int) -> None:
        self.compare.ab[side] = i
        self._show_ab()

    def _name(self, i: int | None) -> str:
        return "-" if i is None else f"#{self.rows[i].get('rank', i + 1)}"

    def _show_ab(self, now: str = "") -> None:
        ab = self.compare.ab
        self.dpg.set_value("tune::abtext", f"A = {self._name(ab['A'])}   B = {self._name(ab['B'])}"
                           + (f"   now: {now}" if now else ""))

    def toggle_ab(self) -> None:
        """Switch between A and B at the same position in the clip (start with A), level-matched."""
        done = self.compare.toggle()
        if done is None:
            return self._say("pick an A and a B in the list first", True)
        side, note = done
        self._show_ab(side)
        self.dpg.set_value("tune::abmatch", note)

    # ------------------------------------------------------------------ back into the graph
    def use(self, i: int) -> bool:
        """Set the open graph's parameters to candidate ``i``'s (one undoable edit)."""
        from .document import EditRefused
        row = self.rows[i]
        params: dict[str, Any] = row.get("params") or {}
        g = self.app.doc.graph
        missing = sorted({k.partition(".")[0] for k in params} - set(g.nodes))
        if missing:
            self._say(f"cannot use candidate #{row.get('rank')}: the open graph has no node "
                      f"{', '.join(repr(m) for m in missing)}; open the graph the tune ran "
                      f"({self.settings.get('graph') or '?'})", True)
            return False

        def change() -> None:
            for key, value in params.items():
                node_id, _, param = key.partition(".")
                g.set(node_id, param, value, own=False)
        try:
            self.app.doc.edit(f"use tune candidate #{row.get('rank')}", change)
        except EditRefused as e:
            self._say(f"cannot use candidate #{row.get('rank')}: {e}", True)
            return False
        self._say(f"the graph has candidate #{row.get('rank')}'s settings ({describe_params(params)}); "
                  "Run renders it, Ctrl+Z undoes")
        return True

    def rerun(self, i: int) -> None:
        """Use candidate ``i``'s settings and run the graph (what it shares with the last run is cached)."""
        if self.use(i):
            self.app.run()
