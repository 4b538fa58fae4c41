"""The File menu's actions in the window: dialogs, the unsaved-changes guard and the recovery offer.

The file logic itself (atomic saves, recovery files, recent files, audio and bundle opening) is in
:mod:`.files`; this module puts it behind dearpygui dialogs.  Every action that would drop unsaved
edits (new, open, quit) first asks *Save / Don't save / Cancel*.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import NodeflowError
from ..graph import Graph
from .dirlist import filters
from .filedialog import FileDialog
from .files import GRAPH_SUFFIX, Recovery, find_recovery, graph_target, open_graph, recovery_path, save_graph

if TYPE_CHECKING:
    from ..types import ParamSpec
    from .app import App

__all__ = ["FileActions"]


QUESTIONS = ("guard", "outside", "packout", "recovery", "replace")     # the boxes that ask (see _question)


class FileActions:
    def __init__(self, app: App):
        self.app = app
        self.dpg = app.dpg
        self.recovery: Recovery | None = None
        self._pending: Callable[[], object] | None = None
        self.dialog = FileDialog(app)       # every file dialog: this menu's, a node's file, a checkpoint's folder
        self._replacing: tuple[Any, str] | None = None    # the dialog's choice while "Replace the file?" asks
        self._ask_next: tuple[str, int, int] | None = None   # a box to show on the next frame, and its size
        self._outside: tuple[tuple[str, ...], Callable[[tuple[str, ...]], object]] | None = None
        self._outside_said = ""        # what a Cancel of it says
        self._packing: Path | None = None    # the bundle asked about while "Include files from outside?" asks
        self._question("guard", "Unsaved changes", 440, 100, [("save", "Save", lambda: self._guard("save")),
                       ("discard", "Don't save", lambda: self._guard("discard")),
                       ("cancel", "Cancel", lambda: self._guard("cancel"))])
        self._question("replace", "Replace the file?", 440, 100, [("yes", "Replace", lambda: self._replace_ok(True)),
                       ("no", "Cancel", lambda: self._replace_ok(False))])
        self._question("recovery", "Recover unsaved work?", 480, 120, [("yes", "Recover", lambda: self._recover(True)),
                       ("no", "Discard", lambda: self._recover(False))])
        self._question("packout", "Include files from outside the graph's folder?", 560, 120, [
            ("include", "Include them", lambda: self._answer_packout(True)),
            ("cancel", "Cancel", lambda: self._answer_packout(False))])
        self._question("outside", "Writes outside the output folder", 560, 120, [
            ("allow", "Allow once", lambda: self._answer_outside(True)),
            ("cancel", "Cancel", lambda: self._answer_outside(False))])

    def _question(self, tag: str, label: str, width: int, button: int,
                  answers: list[tuple[str, str, Callable[[], object]]]) -> None:
        """A box that asks (hidden; modal while shown, see :meth:`_show_centered`): its text
        ``TAG::text`` and a button ``TAG::KEY`` per answer."""
        dpg = self.dpg
        with dpg.window(label=label, tag=tag, modal=False, show=False, no_resize=True, no_saved_settings=True,
                        width=width, no_close=True):
            dpg.add_text("", tag=f"{tag}::text", wrap=width - 20)
            with dpg.group(horizontal=True):
                for key, text, fn in answers:
                    dpg.add_button(label=text, tag=f"{tag}::{key}", width=button, callback=fn)

    # ------------------------------------------------------------------ writes outside the folder
    def ask_outside(self, folder: Path, writes: list[tuple[str, str]], go: Callable[[tuple[str, ...]], object],
                    reads: list[tuple[str, str]] | None = None) -> None:
        """The *Allow once* dialog: a run's ``writes`` ``(node, destination)`` fall outside its output
        ``folder`` (or over files AudioChain did not export), its ``reads`` ``(node, file)`` are named by the
        graph file as AudioChain never saves them (a file from elsewhere: see
        :func:`~nodeflow.graphpaths.refused_reads`); *Allow once* calls ``go(those paths)``."""
        reads = reads or []
        self._outside = (tuple(dest for _, dest in [*writes, *reads]), go)
        self._outside_said = ("the graph writes outside its output folder" if not reads else
                              "the graph file reads outside its folder" if not writes else
                              "the graph reads and writes outside its folders")
        said = []
        if writes:
            said.append(f"This graph writes outside its output folder ({folder}) or over files AudioChain did "
                        "not export:\n" + "\n".join(f"  node '{nid}': {dest}" for nid, dest in writes))
        if reads:
            said.append("This graph file reads files outside its folder by paths AudioChain never saves (it came "
                        "from elsewhere, or was edited):\n" + "\n".join(f"  node '{nid}': {src}" for nid, src in reads))
        self.dpg.set_value("outside::text", "\n\n".join(said) + "\n\nAllow these for this run?")
        self._show_centered("outside", 560, 140 + 18 * (len(writes) + len(reads)))

    def _answer_outside(self, allow: bool) -> None:
        self._hide("outside")
        asked, self._outside = self._outside, None
        if asked is not None and allow:
            asked[1](asked[0])
        elif asked is not None:
            self.app.say(f"run cancelled: {self._outside_said}")

    # ------------------------------------------------------------------ start
    def start(self, path: Path | None) -> None:
        if path is None or not self.open(path):           # (open offers the recovery of what it opened)
            self._offer_recovery(any_document=path is None)
        self.update_recent()
        self.update_title()

    def _offer_recovery(self, any_document: bool = False) -> None:
        """Ask whether to recover the unsaved work a window that did not exit cleanly left for the graph
        now open (for any graph: ``any_document``, a window started without a file)."""
        rec = find_recovery(self.app.doc.path, self.app.state_dir, any_document=any_document)
        if rec is not None and rec.file != recovery_path(self.app.doc.path, self.app.state_dir):
            self.recovery = rec
            self.dpg.set_value("recovery::text", rec.describe())
            self._show_centered("recovery", 480, 140)

    def _recover(self, accept: bool) -> None:
        rec, self.recovery = self.recovery, None
        self._hide("recovery")
        if rec is None:
            return
        if accept:
            note = self._replace(rec.graph, rec.of, dirty=True)
            self.app.autosaver.flush()          # this window's own recovery file holds the work now:
            self.app.say(f"recovered {len(rec.graph.nodes)} nodes; save to keep them{note}")
        else:
            self.app.say("discarded the recovered changes")
        rec.file.unlink(missing_ok=True)        # the old one is gone (QA59: offered again after Don't save)

    def tick(self) -> None:
        """Per-frame upkeep: the file dialog opened shows; an autosave error is shown once; "Replace the
        file?" (or "Include files from outside?") shown after the file dialog; Escape closes the file
        dialog, or answers Cancel to the box that asks."""
        self.dialog.tick()
        err = self.app.autosaver.error
        if err and err != getattr(self, "_shown_error", None):
            self._shown_error = err
            self.app.say(err, True)
        dpg = self.dpg
        if self._ask_next is not None:
            (tag, w, h), self._ask_next = self._ask_next, None
            self._show_centered(tag, w, h, modal=False)
        if dpg.is_key_pressed(dpg.mvKey_Escape):
            if self.dialog.shown:
                self.dialog.escape()
            elif dpg.is_item_shown("guard"):
                self._guard("cancel")
            elif dpg.is_item_shown("replace"):
                self._replace_ok(False)
            elif dpg.is_item_shown("packout"):
                self._answer_packout(False)

    # ------------------------------------------------------------------ guard
    def guard(self, action: Callable[[], object], verb: str) -> None:
        """Run ``action`` now, or after asking when there are unsaved edits."""
        if not self.app.doc.dirty:
            action()
            return
        self._pending = action
        self.dpg.set_value("guard::text", f"{self.app.doc.title} has unsaved changes. Save them before you {verb}?")
        self._show_centered("guard", 440, 120)

    def _guard(self, choice: str) -> None:
        self._hide("guard")
        action, self._pending = self._pending, None
        if choice == "cancel" or action is None:
            return
        if choice == "save":
            if self.app.doc.path is None:
                self.ask_save_as(then=action)
                return
            if not self.save():
                return
        else:
            self.app.autosaver.discard(self.app.doc.path)
        action()

    def _show_centered(self, tag: str, w: int, h: int, modal: bool = True) -> None:
        vw, vh = self.dpg.get_viewport_client_width(), self.dpg.get_viewport_client_height()
        self.dpg.configure_item(tag, show=True, modal=modal, pos=[max(0, (vw - w) // 2), max(0, (vh - h) // 3)])
        if not modal:
            self.dpg.focus_item(tag)

    def _hide(self, tag: str) -> None:
        self.dpg.configure_item(tag, show=False, modal=False)

    # ------------------------------------------------------------------ actions
    def new(self) -> None:
        def go() -> None:
            note = self._replace(Graph(self.app.doc.graph.registry), None)
            self.app.say(f"new graph{note}")
        self.guard(go, "start a new graph")

    def open(self, path: str | Path) -> bool:
        try:
            graph, save_path = open_graph(path)
        except NodeflowError as e:
            self.app.say(str(e), True)
            return False
        note = self._replace(graph, save_path)
        self.app.recent.add(path)
        self.update_recent()
        self._offer_recovery()                  # (QA59: Open recent showed the saved graph, no word of the work)
        problems = graph.problems()
        if save_path is None:
            self.app.say(f"restored the graph embedded in {Path(path).name}{note}; "
                         "Save as... to keep it as a graph file")
        elif problems:
            self.app.say(f"opened {Path(path).name}{note}: {len(problems)} problem(s), marked on the nodes: "
                         f"{problems[0]}", True)
        else:
            self.app.say(f"opened {Path(path).name}{note}")
        return True

    def _replace(self, graph: Graph, path: Path | None, *, dirty: bool = False) -> str:
        """Swap in another graph: a run of the old one stops, as Stop does, and none of its node
        states stay on the new graph; returns a note for the status bar."""
        stopped = self.app.runner.detach()
        self.app.audition.stop()
        self.app.doc.replace(graph, path, dirty=dirty)
        return " (stopped the previous graph's run)" if stopped else ""

    def save(self) -> bool:
        doc = self.app.doc
        if doc.path is None:
            self.ask_save_as()
            return False
        return self.save_as(doc.path)

    def save_as(self, path: str | Path) -> bool:
        doc = self.app.doc
        old = doc.path
        scratch = self.app.runner.scratch if not doc.graph.path else None   # untitled: its runs' exports
        self.app.canvas.keep_view()
        import warnings

        from ..errors import AudioChainWarning
        try:
            with warnings.catch_warnings(record=True) as said:     # what the save says (far takes of one name,
                warnings.simplefilter("always", AudioChainWarning)   # a state folder it cannot write): shown
                written = save_graph(doc.graph, path)
        except (NodeflowError, OSError) as e:
            self.app.say(f"not saved: {e}", True)
            return False
        self.app.autosaver.discard(old)
        doc.path = written
        doc.history.mark_clean()
        self.app.autosaver.discard(written)
        self.app.recent.add(written)
        self.update_recent()
        self.update_title()
        left = scratch is not None and any(scratch.iterdir())
        notes = [str(w.message) for w in said if issubclass(w.category, AudioChainWarning)]
        self.app.say(f"saved {written}" + (f"; the exports of its runs before it was saved stay in {scratch} "
                                           "(Run, F5, writes them beside the graph)" if left else "")
                     + "".join(f"; {n.split(': saved', 1)[-1].lstrip(';, ')}" for n in notes), warn=bool(notes))
        return True

    def bundle(self, path: str | Path, *, outside: bool = False) -> bool:
        """File > Save as bundle...: the graph with its input files; files from outside the graph's folder
        (the user's own takes elsewhere, or what a graph from a stranger names) are included only once the
        user says so in the box that lists them, as ``pack --include-outside`` (QA79 D1)."""
        from ..packing import OutsideFolder, pack
        out = self._target("bundle", str(path))
        try:
            pack(self.app.doc.graph, out, outside=outside)
        except OutsideFolder as e:
            self._packing = out
            self.dpg.set_value("packout::text", f"These files lie outside the graph's folder ({e.folder}):\n"
                               + "\n".join(f"  node '{nid}' {param}: {src}" for nid, param, src in e.files)
                               + "\n\nAnyone you give the bundle to gets them. Include them?")
            self._ask_next = ("packout", 560, 120 + 18 * len(e.files))   # (after the file dialog: see "replace")
            return False
        except (NodeflowError, OSError) as e:
            self.app.say(f"bundle not written: {e}", True)
            return False
        self.app.say(f"wrote the bundle {out} (graph with its input files)")
        return True

    def _answer_packout(self, include: bool) -> None:
        self._hide("packout")
        out, self._packing = self._packing, None
        if out is not None and include:
            self.bundle(out, outside=True)
        elif out is not None:
            self.app.say("bundle not written: it would take files from outside the graph's folder")

    def daw(self, path: str | Path) -> bool:
        """File > Export DAW project...: the exports of the last run as a DAWproject file (a track per
        export, each clip at its bar, the tempo and meter of the music), as ``audiochain run --daw``."""
        from ..dawproject import write_dawproject
        from ..dawruns import clips_from_run, off_grid, tempo_and_meter
        out = self._target("daw", str(path))
        graph = self.app.doc.graph
        outputs = {n: outs for n, (_, outs) in self.app.runner.outputs.items() if n in graph.nodes}
        from ..executor import RunResult
        run = RunResult(outputs, set(), set(), {}, 0.0)
        try:
            tracks = [t for t in clips_from_run(graph, run) if t.clips]
            if not tracks:
                self.app.say("no DAW project written: run the graph first (Run, F5) so its exports have files", True)
                return False
            bpm, meter = tempo_and_meter(graph, run)
            write_dawproject(out, tracks, bpm=bpm, meter=meter, title=str(graph.metadata.get("title", "")))
        except (NodeflowError, OSError) as e:
            self.app.say(f"DAW project not written: {e}", True)
            return False
        other = off_grid(graph, run, bpm, meter)
        self.app.say(f"wrote the DAW project {out} ({len(tracks)} track(s), {bpm:g} bpm {meter[0]}/{meter[1]})"
                     + (f"; in another tempo or meter, placed in time but off the project's bars: {', '.join(other)}"
                        if other else ""), warn=bool(other))
        return True

    def quit(self) -> None:
        def go() -> None:
            self.app.autosaver.discard(self.app.doc.path)
            self.app.quitting = True
        self.guard(go, "quit")

    # ------------------------------------------------------------------ dialogs
    def _dialog(self, mode: Any, label: str, exts: tuple[str, ...], default: str = "",
                start: Path | None = None, kind: str = "AudioChain files", existing: bool = False) -> None:
        base = start if start is not None and start.is_dir() else self.app.doc.graph.base_dir()
        self.dialog.open(label, base, lambda path: self._dialog_done(mode, path), name=default,
                         types=filters(kind, exts), existing=existing)

    def _dialog_done(self, mode: Any, path: str) -> None:
        """The file dialog chose ``path`` for ``mode``."""
        if mode in ("bundle", "daw") or (isinstance(mode, tuple) and mode[0] == "saveas"):
            folder = Path(path).parent
            if not folder.is_dir():      # typed: a folder that is not there is never made on the way
                what = {"bundle": "bundle not written", "daw": "DAW project not written"}.get(mode, "not saved")
                self.app.say(f"{what}: the folder {folder} does not exist; create it first or pick another", True)
                return
            target, own = self._target(mode, path), self.app.doc.path
            if os.path.lexists(target) and (own is None or target.resolve() != Path(own).resolve()):
                self._replacing = (mode, path)    # as desktop apps ask (a name picked or typed replaced silently)
                self.dpg.set_value("replace::text", f"{target} already exists. Replace it?")
                self._ask_next = ("replace", 440, 100)  # shown by tick, on the frame after the dialog closed
                return
        self._chosen(mode, path)

    @staticmethod
    def _target(mode: Any, path: str) -> Path:
        """The file Save as, Save as bundle or Export DAW project writes for the ``path`` chosen."""
        from ..bundle import BUNDLE_SUFFIX
        from ..dawproject import SUFFIX
        if mode == "bundle":
            return Path(path).expanduser().with_suffix(BUNDLE_SUFFIX)
        if mode == "daw":
            return Path(path).expanduser().with_suffix(SUFFIX)
        return graph_target(path)

    def _replace_ok(self, yes: bool) -> None:
        self._hide("replace")
        pending, self._replacing = self._replacing, None
        if yes and pending is not None:
            self._chosen(*pending)

    def _chosen(self, mode: Any, path: str) -> None:
        if mode == "open":
            self.open(path)
        elif mode == "bundle":
            self.bundle(path)
        elif mode == "daw":
            self.daw(path)
        elif isinstance(mode, tuple) and mode[0] == "saveas":
            if self.save_as(path) and mode[1] is not None:
                mode[1]()
        elif isinstance(mode, tuple) and mode[0] == "param":
            self.app.on_param(mode[1], mode[2], path)

    def ask_open(self) -> None:
        exts = (GRAPH_SUFFIX, ".acbundle", ".wav", ".flac", ".mp3", ".ogg")
        self.guard(lambda: self._dialog("open", "Open a graph, bundle or exported audio file", exts, existing=True),
                   "open another")

    def ask_save_as(self, then: Callable[[], object] | None = None) -> None:
        name = self.app.doc.path.stem if self.app.doc.path else "untitled"
        self._dialog(("saveas", then), "Save graph as", (GRAPH_SUFFIX,), name, kind="Graphs")

    def ask_bundle(self) -> None:
        name = self.app.doc.path.stem if self.app.doc.path else "untitled"
        self._dialog("bundle", "Save as bundle (graph + its input files)", (".acbundle",), name, kind="Bundles")

    def ask_daw(self) -> None:
        name = self.app.doc.path.stem if self.app.doc.path else "untitled"
        self._dialog("daw", "Export the last run as a DAW project (Bitwig, Studio One, Cubase)", (".dawproject",), name,
                     kind="DAW projects")

    def browse_param(self, nid: str, param: str, spec: ParamSpec) -> None:
        from ..outputs import resolve
        exts = tuple(spec.path.exts) if spec.path and spec.path.exts else ()
        graph = self.app.doc.graph
        now = graph.nodes[nid].params.get(param) if nid in graph.nodes else None
        start = resolve(now, graph.base_dir()).parent if isinstance(now, str) and now else None
        self._dialog(("param", nid, param), f"Choose {param} for {nid}", exts,
                     Path(now).name if isinstance(now, str) and now else "",
                     start=start, kind="Audio files",   # in the folder of the file chosen before, its name in the box
                     existing=spec.path is not None and spec.path.mode == "read")

    # ------------------------------------------------------------------ chrome
    def update_title(self) -> None:
        doc = self.app.doc
        name = doc.title
        if doc.path is None and doc.graph.path:
            name = f"{Path(doc.graph.path).name} (unsaved graph)"
        self.dpg.set_viewport_title(f"AudioChain - {name}{' *' if doc.dirty else ''}")

    def update_recent(self) -> None:
        dpg = self.dpg
        dpg.delete_item("menu_recent", children_only=True)
        items = self.app.recent.list()
        for p in items:
            dpg.add_menu_item(label=p, parent="menu_recent",
                              callback=lambda s, a, u: self.guard(lambda: self.open(u), "open another"), user_data=p)
        if not items:
            dpg.add_menu_item(label="(none yet)", parent="menu_recent", enabled=False)
