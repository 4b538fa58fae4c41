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
from . import items
from .files import GRAPH_SUFFIX, Recovery, find_recovery, graph_target, open_graph, recovery_path, save_graph
from .fitting import room

if TYPE_CHECKING:
    from ..types import ParamSpec
    from .app import App

__all__ = ["FileActions", "file_filters", "chosen_path"]


def file_filters(name: str, exts: tuple[str, ...]) -> tuple[str, ...]:
    """The dialog's filters: every type at once first (the dialog opens on the first filter, so a
    folder of WAV and FLAC files never looks empty), then all files, then each type alone.  The
    dialog matches extensions case by case: each type is given in upper and title case too (a
    field recorder's ``ZOOM0001.WAV`` was not listed, nor ``Take2.Flac``).

    >>> file_filters("Audio files", (".wav", ".flac"))[:3]
    ('Audio files (.wav .flac){.wav,.WAV,.Wav,.flac,.FLAC,.Flac}', '.*', '.wav{.wav,.WAV,.Wav}')
    >>> file_filters("Audio files", tuple(f".x{i}" for i in range(9)))[0][:22]
    'Audio files (9 types){'
    >>> file_filters("Graphs", (".msgpack",))
    ('.msgpack{.msgpack,.MSGPACK,.Msgpack}', '.*')
    """
    def both(e: str) -> str:
        return ",".join(dict.fromkeys((e, e.upper(), "." + e[1:].capitalize())))
    if not exts:
        return (".*",)
    alone = tuple(f"{e}{{{both(e)}}}" for e in exts)
    if len(exts) == 1:
        return (alone[0], ".*")
    shown = " ".join(exts) if len(exts) <= 3 else f"{len(exts)} types"      # the filter box is narrow
    return (f"{name} ({shown}){{{','.join(map(both, exts))}}}", ".*") + alone


def chosen_path(data: Any) -> str | None:
    """The path the file dialog's OK chose: the file name box (what was typed or clicked) in the
    folder the dialog shows, or the typed name as is when it is absolute or starts with ``~``
    (dearpygui's ``file_path_name`` glues even an absolute name onto the folder shown); ``..`` in a
    typed name is the folder above (QA106: ``sub/../tone.wav`` was kept as typed).

    >>> chosen_path({"file_path_name": "/w//tmp/g/song.msgpack", "current_path": "/w", "file_name": "/tmp/g/song.msgpack"})
    '/tmp/g/song.msgpack'
    >>> chosen_path({"file_path_name": "/w/song.msgpack", "current_path": "/w", "file_name": "song.msgpack"})
    '/w/song.msgpack'
    >>> chosen_path({"file_path_name": "/w//ckpt/small", "current_path": "/w//ckpt/small", "file_name": ""})
    '/ckpt/small'
    >>> chosen_path({"file_path_name": "/w/sub/../tone.wav", "current_path": "/w/sub", "file_name": "../tone.wav"})
    '/w/tone.wav'
    """
    if not isinstance(data, dict):
        return None
    name, folder = data.get("file_name"), data.get("current_path")
    if isinstance(name, str) and name.strip():
        typed = Path(name.strip()).expanduser()
        if typed.is_absolute():
            return os.path.normpath(typed)
        if isinstance(folder, str) and folder:
            return os.path.normpath(Path(folder) / typed)
    path = data.get("file_path_name")
    if not isinstance(path, str) or not path:
        return None
    # a folder dialog has no file name: what was typed into its path box is glued onto the folder
    # shown, an absolute path after '//', a home-relative one after '/~'
    if (cut := path.rfind("//")) >= 0:
        return path[cut + 1:]
    if (cut := path.rfind("/~")) >= 0 and path[cut + 2:cut + 3] in ("", "/"):
        return str(Path(path[cut + 1:]).expanduser())
    return path


FILE_DIALOGS = ("filedialog", "modelfolder", "tools::filedialog")    # this one's, a checkpoint's, a tool's
QUESTIONS = ("guard", "outside", "packout", "recovery", "replace")     # the boxes that ask (see _question)


class FileActions:
    def __init__(self, app: App):
        self.app = app
        self.dpg = app.dpg
        self.recovery: Recovery | None = None
        self._pending: Callable[[], object] | None = None
        self._dialog_mode: Any = None
        self._replacing: tuple[Any, str] | None = None    # the dialog's choice while "Replace the file?" asks
        self._ask_next: tuple[str, int, int] | None = None   # a box to show on the next frame, and its size
        self._again: tuple[Any, Path] | None = None    # a dialog to open again in a folder its OK chose
        self._asked: tuple[str, tuple[str, ...]] = ("", ())   # the last dialog's title and file types
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
        """Per-frame upkeep: an autosave error is shown once; "Replace the file?" (or "Include files from
        outside?") shown after the file dialog; Escape closes the file dialog, or answers Cancel to the box
        that asks."""
        err = self.app.autosaver.error
        if err and err != getattr(self, "_shown_error", None):
            self._shown_error = err
            self.app.say(err, True)
        dpg = self.dpg
        if self._ask_next is not None:
            (tag, w, h), self._ask_next = self._ask_next, None
            self._show_centered(tag, w, h, modal=False)
        if self._again is not None:
            (mode, folder), self._again = self._again, None
            self._dialog(mode, *self._asked, start=folder)
        if dpg.is_key_pressed(dpg.mvKey_Escape):
            if dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"):
                dpg.hide_item("filedialog")
                self._dialog_mode = None
            elif other := next((t for t in FILE_DIALOGS if items.shown(t)), None):
                dpg.hide_item(other)           # a checkpoint's folder dialog, a tool's: Escape is Cancel too
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
                start: Path | None = None) -> None:
        dpg = self.dpg
        self._dialog_mode, self._asked = mode, (label, exts)
        if dpg.does_item_exist("filedialog"):
            dpg.delete_item("filedialog")
        base = start if start is not None and start.is_dir() else self.app.doc.graph.base_dir()
        # fits the window (its OK and Cancel at the bottom): a modal opens centred in it
        most = list(room(dpg))
        with dpg.file_dialog(label=label, tag="filedialog", width=min(760, most[0]), height=min(460, most[1]),
                             modal=True, max_size=most,
                             default_path=str(base), default_filename=default,
                             callback=self._dialog_done, cancel_callback=lambda: None):
            for e in exts:
                dpg.add_file_extension(e)

    def _dialog_done(self, sender: Any, data: dict[str, Any]) -> None:
        path = chosen_path(data)
        mode, self._dialog_mode = self._dialog_mode, None
        if not path:
            return
        if Path(path).expanduser().is_dir():        # OK on a folder (no name typed or clicked): into it, asked again
            self._again = (mode, Path(path).expanduser())    # (reopened by tick: dearpygui closes it after this)
            self.app.say(f"{path} is a folder: pick a file in it, or type a name", True)
            return
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
                self._ask_next = ("replace", 440, 100)  # shown by tick, not modal: dearpygui closes a modal
                return                                  # opened as its file dialog closes
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
        self.guard(lambda: self._dialog("open", "Open a graph, bundle or exported audio file",
                                        file_filters("AudioChain files", exts)), "open another")

    def ask_save_as(self, then: Callable[[], object] | None = None) -> None:
        name = self.app.doc.path.stem if self.app.doc.path else "untitled"
        self._dialog(("saveas", then), "Save graph as", (GRAPH_SUFFIX,), name)

    def ask_bundle(self) -> None:
        name = self.app.doc.path.stem if self.app.doc.path else "untitled"
        self._dialog("bundle", "Save as bundle (graph + its input files)", (".acbundle",), name)

    def ask_daw(self) -> None:
        name = self.app.doc.path.stem if self.app.doc.path else "untitled"
        self._dialog("daw", "Export the last run as a DAW project (Bitwig, Studio One, Cubase)", (".dawproject",), name)

    def browse_param(self, nid: str, param: str, spec: ParamSpec) -> None:
        from ..outputs import resolve
        exts = tuple(spec.path.exts) if spec.path and spec.path.exts else ()
        graph = self.app.doc.graph
        now = graph.nodes[nid].params.get(param) if nid in graph.nodes else None
        start = resolve(now, graph.base_dir()).parent if isinstance(now, str) and now else None
        self._dialog(("param", nid, param), f"Choose {param} for {nid}", file_filters("Audio files", exts),
                     Path(now).name if isinstance(now, str) and now else "",
                     start=start)      # in the folder of the file chosen before, its name in the box

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
