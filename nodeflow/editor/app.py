"""The editor window: menus, shortcuts, the palette, the node canvas, the status bar, the main loop.

``App`` wires the parts together and owns nothing but the :class:`~.document.Document` (a Graph
and its undo history): :mod:`.view` draws the graph, :mod:`.widgets` builds parameter widgets from
declarations, :mod:`.runner` runs the engine in the background, :mod:`.playback` auditions outputs,
:mod:`.filemenu` opens, saves and recovers files.  Every frame :meth:`App.frame` applies what
happened (engine events, finished runs, edits, node drags) and re-syncs the view when the graph's
revision changed: that per-frame work is :mod:`.upkeep`.  Tests and scripts drive the same object
frame by frame (see :mod:`.scripting`).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ..errors import NodeflowError
from . import items, upkeep, widgets
from .commands import typing as box_has_keyboard
from .document import Document, EditRefused
from .files import Autosaver, RecentFiles
from .keyorder import install as install_keys, installed as installed_keys
from .pacing import FramePacer
from .runner import Runner
from .runstate import blocked_list
from .playback import Auditioner
from .nodetext import refused_line, status_line
from .params import ParamEdits

if TYPE_CHECKING:
    from .filemenu import FileActions
    from .keyorder import KeyOrder

__all__ = ["App", "FONT"]

T = TypeVar("T")

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
TITLE = "AudioChain"


class App:
    """The editor. ``App(path).setup()`` opens the window; :meth:`loop` runs until quit.

    Parameters
    ----------
    path
        A graph file, bundle or exported audio file to open (None: an empty graph).
    state_dir
        Where recent files and recovery files live (default :func:`.files.state_dir`).
    """

    files: FileActions               # (made in setup(), with the window)

    def __init__(self, path: str | os.PathLike[str] | None = None, *, state_dir: Path | None = None,
                 width: int = 1280, height: int = 800):
        self.start_path = Path(path) if path else None
        self.state_dir = state_dir
        self.size = (width, height)
        self.origin = (0, 0)              # the window's top-left corner on the screen (see setup)
        self.doc = Document()
        self.runner = Runner(scratch_root=state_dir / "unsaved" if state_dir is not None else None)
        self.audition = Auditioner(self.runner)
        self.autosaver = Autosaver(state_dir)
        self.recent = RecentFiles(state_dir) if state_dir else RecentFiles()
        self.status_text = ""
        self._status_fit: tuple[str, float] | None = None    # (message, room) the status line was cut for
        self.status_error = False
        self.params = ParamEdits(self)
        self._held = 0.0                  # when a node's held problem line is shown (0: none held)
        self.quitting = False
        self.frame_count = 0
        self._seen: tuple[int | None, int, int, int] = (None, -1, -1, -1)   # what is drawn: _drawn()
        self.copied: dict[str, Any] | None = None         # the nodes last copied (Edit > Copy, Cut)
        self._layout_pending = False
        self._layout_at = 0              # on open: the frame to lay out a graph without positions, once measured
        self._fit_pending = 0            # on open: the frame to bring nodes that start off-screen into view
        self._laid_out = False           # on open: the graph came without positions and was laid out
        self.problems: dict[str, list[str]] = {}
        self.other_problems: list[str] = []
        self.errors: list[str] = []      # internal errors caught this session (the window stayed open)
        self._pressed_at: list[float] | None = None    # where the left button went down (a drag, or a click)
        self.renderer, self.smooth = "", True   # the OpenGL renderer; edges anti-aliased (not on a software one)
        self.pacer = FramePacer()
        self._settle = 0                 # frames still to render after a change (new items are drawn, then measured)
        self.doc.listeners.append(self._on_edit)

    # ------------------------------------------------------------------ window
    def setup(self) -> "App":
        """Make the window, its panels and the canvas, show it, and open the graph (or tune) it starts on."""
        import dearpygui.dearpygui as dpg
        self.dpg = dpg
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)
        from .screen import fit
        asked, (x, y, w, h) = self.size, fit(*self.size)    # within the screen (QA104: Run and the status off it)
        self.size, self.origin = (w, h), (x, y)              # (below a top panel: QA106)
        ui_font = self._window()
        self._panels(ui_font)
        dpg.set_primary_window("main", True)
        dpg.setup_dearpygui()
        dpg.show_viewport()
        if self.size != asked:
            dpg.maximize_viewport()       # a window manager fits it to its work area, title bar and all
        from .pacing import gl_renderer, glfw, smooth_edges
        keys = install_keys(glfw())      # a shortcut's modifiers, however fast its keys come (QA108 D5)
        if keys is not None:
            keys.watch = self.files.dialog.watch      # Enter in the file dialog's Name box
        self.renderer = gl_renderer()
        self.smooth = smooth_edges(self.renderer, os.environ.get("AUDIOCHAIN_EDITOR_SMOOTH"))
        if not self.smooth:      # a software rasterizer: sharp edges draw a dense canvas a fifth faster
            dpg.configure_app(anti_aliased_lines=False, anti_aliased_fill=False)
        from .tune_panel import tune_start
        start, tuned = tune_start(self.start_path)       # a tune's folder: its graph, and the panel on it
        self.files.start(start)
        if tuned is not None:
            self.tune.open(tuned)
        self.audition.warm_up()
        from .tools import Tools
        self.tools = Tools(self).load()
        return self

    def _window(self) -> int | None:
        """The viewport and the main window: menus, palette, canvas, Run/Stop and the status line; the UI
        font (None where DejaVu is not installed)."""
        dpg = self.dpg
        from .canvas import FONT_PX
        from .commands import build_menus
        from .filemenu import FileActions
        from .palette import Palette
        ui_font: int | None = None
        if Path(FONT).exists():
            with dpg.font_registry():       # DejaVu: readable, and has the glyphs prompts use (♪, —)
                ui_font = dpg.add_font(FONT, FONT_PX)
                dpg.bind_font(ui_font)
        dpg.create_viewport(title=TITLE, width=self.size[0], height=self.size[1], x_pos=self.origin[0],
                            y_pos=self.origin[1], vsync=False,
                            decorated=False if os.environ.get("AUDIOCHAIN_EDITOR_UNDECORATED") else True,
                            disable_close=True)
        dpg.set_exit_callback(lambda: self.files.quit())
        self.files = FileActions(self)
        with dpg.window(tag="main", no_scrollbar=True):
            build_menus(self)
            with dpg.group(horizontal=True):
                with dpg.child_window(width=150, height=-30, tag="palette"):
                    self.palette = Palette("palette", self.doc.graph.registry, self.add_node)
                with dpg.node_editor(tag="canvas", callback=self._on_link, delink_callback=self._on_delink,
                                     minimap=True, minimap_location=dpg.mvNodeMiniMap_Location_BottomRight,
                                     width=-1, height=-30):
                    pass
            with dpg.group(horizontal=True):
                dpg.add_button(label="Run", tag="run_button", callback=self.run, width=60)
                dpg.add_button(label="Stop", tag="stop_button", callback=self.stop, width=60)
                dpg.add_text("", tag="status")
                with dpg.tooltip("status"):     # the whole message: a long one is cut at the window's edge
                    dpg.add_text("", tag="status_tip", wrap=700)
        return ui_font

    def _panels(self, ui_font: int | None) -> None:
        """The theme, preferences, the graph's view and every panel and helper that works on the canvas."""
        dpg = self.dpg
        from .canvas import Canvas
        from .commands import install_shortcuts
        from .compare import NodeAB
        from .culling import Culler
        from .fitting import Fitter
        from .models_panel import ModelsPanel
        from .prefs import Preferences
        from .prefs_panel import PrefsPanel, app_theme
        from .sweeps import SweepPanel
        from .tune_panel import TunePanel
        from .view import GraphView
        from .wiring import Wiring
        app_theme(dpg, 1.0)
        self.prefs = Preferences(self.state_dir)
        self.audition.latency = self.prefs.playback_latency
        self.fitter = Fitter(dpg)          # panels fit the window (the sweep panel's too), opened or resized
        self.prefs_panel = PrefsPanel(self)
        self.view = GraphView("canvas", self.on_param, self.browse_param, self.play, self.stop_output,
                              self.seek)
        self.view.ui_font = ui_font         # tooltips in nodes are read in it at any zoom
        widgets.set_base_dir(lambda: self.doc.graph.base_dir())
        self.models = ModelsPanel(self)
        self.sweep = SweepPanel(self)
        self.tune = TunePanel(self)
        self.node_ab = NodeAB(self)
        self.wiring = Wiring(self)
        self.canvas = Canvas(self)
        self.canvas.setup(FONT)
        self.culler = Culler(self)
        self.canvas.set_minimap(self.prefs.minimap, quiet=True)
        install_shortcuts(self)

    # ------------------------------------------------------------------ status
    def say(self, text: str, error: bool = False, warn: bool = False) -> None:
        """The status bar's message: red for an error, orange for a warning (a run that left nodes
        not run), else grey."""
        self.status_text, self.status_error = text, error
        self._settle = max(self._settle, 2)
        if hasattr(self, "dpg"):
            self._status_fit = None                       # fitted to the window at the next frame
            self.dpg.set_value("status", status_line(text))
            self.dpg.set_value("status_tip", text)
            self.dpg.configure_item("status", color=(255, 110, 110) if error else (255, 170, 80) if warn
                                    else (210, 210, 210))

    # ------------------------------------------------------------------ edits
    def _on_edit(self, label: str) -> None:
        """Every change goes to the recovery file; back at the saved state there is nothing to recover."""
        if label == "open":
            if hasattr(self, "canvas"):
                self.canvas.restore_view()                # a graph opens as saved, at its saved zoom
            self._fit_pending = self.frame_count + 3      # once the nodes are drawn and measured
            self._layout_at = self.frame_count + 2        # synced the next frame, drawn and measured the one after
            pos = self.doc.graph.editor.get("positions")
            self._layout_pending = bool(self.doc.graph.nodes) and not (
                isinstance(pos, dict) and all(n in pos for n in self.doc.graph.nodes))
        if self.doc.dirty:
            self.autosaver.changed(self.doc.graph, self.doc.path)
        elif label != "open":
            self.autosaver.discard(self.doc.path)

    def _try(self, what: str, fn: Callable[..., T], *args: Any) -> T | None:
        """``fn(*args)``, or None with the refusal in the status bar when it raises a NodeflowError."""
        try:
            return fn(*args)
        except NodeflowError as e:
            self.say(f"{what} refused: {e}", True)
            return None

    def add_node(self, type_id: str, at: tuple[float, float] | None = None,
                 link: tuple[str, str, str, Any] | None = None) -> str | None:
        """Add a node at viewport point ``at`` (None: a free spot), linked to the pin of a dropped
        link ``(direction, node, port, type)`` if given (one undo step)."""
        seen = (self.view.zoom.scale, self.view.zoom.shift)
        pos = self.canvas.place_new(at, type_id, link) if at is not None else self.canvas.free_spot(type_id)
        def feeding() -> set[str]:
            return {f"{l.src}.{l.src_port}" for l in self.doc.graph.links
                    if link is not None and link[0] == "in" and (l.dst, l.dst_port) == tuple(link[1:3])}
        before = feeding()
        key = ("added", type_id, self.frame_count) if at is None else None    # placed again once drawn
        nid = self._try("add node", lambda: self.doc.add_node(type_id, pos, link=link[1:3] if link else None,
                                                              merge_key=key))
        if nid and key is not None and self.doc.history.undo_label is not None:
            self.canvas.settler.watch(nid, self.doc.history.undo_label, key)
        if nid and self.view.zoom.shift != seen[1]:       # panned to show it: undo pans back (QA62 D10)
            self.doc.history.keep_view(seen, (self.view.zoom.scale, self.view.zoom.shift))
        if nid:                 # an input takes one link: the new node's now (QA62: replaced, unsaid)
            gone = sorted(before - feeding())
            self.say(f"added {nid}" + (f", linked to {link[1]}.{link[2]}" if link else "")
                     + (f" in place of {gone[0]} (Ctrl+Z puts it back)" if gone else ""))
        return nid

    def on_param(self, nid: str, param: str, value: Any) -> Any:
        """A parameter widget's change: see :class:`.params.ParamEdits`."""
        return self.params.on_param(nid, param, value)

    def resync(self) -> None:
        """Make the next frame sync the whole view with the graph (its values, problems and marks)."""
        self._seen = (None, -1, *self._seen[2:])

    def browse_param(self, nid: str, param: str, spec: Any) -> None:
        """A field's ``...``: a file dialog, or for a model's checkpoint a folder dialog."""
        from .models_panel import is_checkpoint_field
        if is_checkpoint_field(param, spec, self.doc.graph.spec(nid)):
            self.models.pick_folder(nid, param)
        else:
            self.files.browse_param(nid, param, spec)

    def _on_link(self, sender: Any, app_data: tuple[int | str, int | str]) -> None:
        self.wiring.linked = True
        a, b = (self.view.port_of(x) for x in app_data)
        if a is None or b is None:
            return
        if a[0] == "in":
            a, b = b, a
        try:
            link = self.doc.connect(a[1], a[2], b[1], b[2])
        except EditRefused as e:
            self.say(f"link refused: {e}", True)
            return
        self.say(f"linked {link}")

    def _on_delink(self, sender: Any, item: int) -> None:
        link = self.view.link_of(item)
        if link is not None:
            self.doc.disconnect(link.dst, link.dst_port)
            self.say(f"removed link {link}")

    def undo(self) -> None:
        kept = self.doc.history.view(undo=True)
        label = self.doc.undo()
        self._show_kept(kept)
        self.say(f"undid {label}" if label else "nothing to undo")

    def redo(self) -> None:
        kept = self.doc.history.view(undo=False)
        label = self.doc.redo()
        self._show_kept(kept)
        self.say(f"redid {label}" if label else "nothing to redo")

    def _show_kept(self, kept: Any) -> None:
        """Put the view where a step undone or redone kept it (:meth:`.history.History.keep_view`): its
        ``(scale, shift)``, the pan only at the zoom it was kept at (QA65: at another zoom it showed an
        empty canvas); after a zoom the view is left as it is.  A step that set the view itself (Arrange
        and its fit) kept ``(scale, shift, compact)``: all of it is shown again."""
        if kept is not None and len(kept) == 3:     # a step that set the view itself (Arrange's fit): all of it
            self.canvas.set_view(*kept)
        elif kept is not None and kept[0] == self.view.zoom.scale:
            self.view.zoom.shift = kept[1]
            self.view.sync(self.doc.graph)

    def open_search(self) -> None:
        self.palette.open_search(self.dpg.get_mouse_pos(local=False))

    # ------------------------------------------------------------------ running and audition
    def run(self) -> None:
        """Run the graph; one that writes outside its output folder (the graph's folder) or over
        files AudioChain did not export asks first (the Allow once dialog)."""
        from ..graphpaths import refused_reads
        from ..outputs import refused_writes
        if self.runner.running:
            self.say("already running; press Stop first")
            return
        graph = self.doc.graph
        folder = self.runner.output_dir(graph)          # beside the graph; an untitled one's own folder
        writes = [(nid, str(dest)) for nid, _, dest, _ in refused_writes(graph, folder)]
        reads = [(nid, str(src)) for nid, _, src, _ in refused_reads(graph)]
        if writes or reads:
            self.files.ask_outside(folder, writes, self._start_run, reads)
            return
        self._start_run(())

    def _start_run(self, allow_outside: tuple[str, ...]) -> None:
        self.problems, self.other_problems = self.doc.problems_by_node()    # as the run finds them: a file made
        try:                                                                # since the last edit (QA111)
            job = self.runner.run(self.doc.graph, allow_outside=allow_outside)
        except NodeflowError as e:
            self.say(refused_line(str(e)), True)
            return
        if job.blocked:
            n = len(self.doc.graph.nodes)
            self.say(f"running {n - len(job.blocked)} of {n} nodes; not run (marked on them): "
                     + blocked_list(job.blocked))
        else:
            self.say("running...")

    def stop(self) -> None:
        if self.runner.stop():
            self.say("stopping...")
        self.stop_audio()

    def play(self, nid: str, port: str) -> None:
        """The play button: play, or pause/resume while this output plays."""
        self.audition.toggle(self.doc.graph, nid, port)

    def seek(self, nid: str, port: str, seconds: float, shift: bool = False) -> None:
        """A click on a waveform: play that output from there; shift+click twice: loop between."""
        if shift:
            self.audition.loop_point(self.doc.graph, nid, port, seconds)
        else:
            self.audition.seek(self.doc.graph, nid, port, seconds)

    def stop_audio(self, nid: str | None = None, port: str | None = None) -> None:
        self.audition.stop()

    def stop_output(self, nid: str, port: str) -> None:
        """An output's stop button: stop; pressed again, clear its loop region."""
        self.audition.stop_pressed()

    def validate(self) -> None:
        """Every problem at once, in a window (and the count in the status bar)."""
        dpg = self.dpg
        problems = self.doc.graph.problems()
        if not dpg.does_item_exist("problems"):
            with dpg.window(label="Problems", tag="problems", width=640, height=260, pos=[300, 420],
                            no_saved_settings=True):
                dpg.add_child_window(tag="problems::list", height=-1)
        dpg.delete_item("problems::list", children_only=True)
        for p in problems or ["No problems: the graph can run."]:
            dpg.add_text(p, parent="problems::list", wrap=600, color=(255, 170, 80) if problems else (150, 230, 150))
        dpg.configure_item("problems", show=True)
        self.say(f"{len(problems)} problem(s), listed in the Problems window" if problems
                 else "no problems: the graph can run", bool(problems))

    def canvas_pos(self, screen: tuple[float, float] | list[float]) -> tuple[float, float]:
        """A viewport point in the canvas' node coordinates (see :meth:`.canvas.Canvas.canvas_pos`)."""
        return self.canvas.canvas_pos(screen)

    # ------------------------------------------------------------------ frames
    def frame(self) -> None:
        """Render one frame and apply everything that happened.

        An exception in a callback or in the upkeep below is reported (status bar, log,
        :attr:`errors`) and the editor keeps running: the window never vanishes with the work in it.
        """
        dpg = self.dpg
        dpg.render_dearpygui_frame()
        self.frame_count += 1
        self._settle = max(self._settle - 1, 0)
        if items.run_callbacks(dpg.get_callback_queue(), self._failed):
            self._settle = max(self._settle, 2)
            self.pacer.input()
        try:
            self._upkeep()
        except Exception as e:  # noqa: BLE001 - reported; the next frame tries again
            self._failed(self._upkeep, e)
        keys = self.keys
        if keys is not None:             # after the callbacks and upkeep: what opened a box holds what follows
            keys.rendered()

    def _failed(self, where: Any, exc: BaseException) -> None:
        """An internal error: logged with its traceback, shown once in the status bar, kept in
        :attr:`errors`; the document is untouched (a refused edit never half-applies)."""
        name = getattr(where, "__qualname__", None) or repr(where)
        text = f"{name}: {type(exc).__name__}: {exc}".replace("\n", " ")
        if text not in self.errors:
            items.log.error("editor: internal error in %s", name, exc_info=exc)
            self.errors.append(text)
            del self.errors[:-50]
        self.say(f"internal error ({text[:160]}); the editor keeps running, your graph is safe: "
                 "please report it with the log", True)

    def _upkeep(self) -> None:
        upkeep.apply(self)                 # (a method: an internal error names it App._upkeep)

    @property
    def keys(self) -> KeyOrder | None:
        """The window's input events' order, kept through ImGui (see :mod:`.keyorder`)."""
        return installed_keys()

    def hold_until(self, when: float) -> None:
        """Refresh again at ``when`` (:func:`.results.show_results` held a node's problems back)."""
        self._held = max(self._held, when)

    def refresh(self) -> None:
        """Re-sync the view with the graph and the runner (after an edit or engine events): see
        :func:`.upkeep.refresh`."""
        upkeep.refresh(self)

    def busy(self) -> bool:
        """Whether the screen changes without input: a run or sweep, a preview playing or computing, a
        layout to measure, or the frames that draw the last change."""
        return bool(self._settle or self.runner.jobs or self.audition.now or self.audition.pending
                    or self._layout_pending or self._fit_pending or self.sweep.running or self.canvas.busy
                    or self.models.busy or (self.keys is not None and self.keys.waiting))

    def pump(self, until: Callable[[], object] | None = None, timeout: float | None = None) -> int:
        """Render paced frames (see :mod:`.pacing`) until quit, ``until()`` is true or ``timeout``
        seconds passed; returns the number of frames rendered.  Idle, the window waits for input."""
        end = None if timeout is None else time.monotonic() + timeout
        f0 = self.frame_count
        while not self.quitting and self.dpg.is_dearpygui_running():
            self.frame()
            if until is not None and until():
                break
            now = time.monotonic()
            if end is not None and now >= end:
                break
            busy = self.busy()
            due = [t for t in (end and end - now, self._held and self._held - time.perf_counter()) if t]
            self.pacer.wait(busy, min(due) if due else None, typing=lambda: box_has_keyboard(self))
        return self.frame_count - f0

    def loop(self, max_fps: float = 60.0) -> None:
        """Run until quit: at most ``max_fps`` frames a second while something happens, and while
        nothing does, one every 2 s or at the next input (an idle editor must not spin a core)."""
        self.pacer.budget = 1.0 / max_fps
        self.pump()
        self.close()

    def close(self) -> None:
        """Close the editor, in order: tools; then everything that computes or plays stops (the
        preview, a sweep, model downloads, the runs) and the runs are waited for (at most
        :data:`~.runner.CLOSE_WAIT_S`: see :meth:`Runner.close <.runner.Runner.close>`, QA70 D2);
        then autosave and the window.  ``audiochain edit`` then waits for any thread still going
        (:func:`.cli.leave`)."""
        if getattr(self, "tools", None) is not None:
            self.tools.close()
        self.audition.stop()
        self.audition.settle()
        self.sweep.stop()
        for download in self.models.jobs.values():
            download.cancel()
        self.runner.close()
        self.autosaver.close()
        self.dpg.destroy_context()

    # ------------------------------------------------------------------ state for tests and scripts
    def state(self) -> dict[str, Any]:
        """A JSON-able summary of what the editor shows (see :func:`.scripting.summary`)."""
        from .scripting import summary
        return summary(self)
