"""The editor's *Tools > Fine-tune MusicGen...* dialog: start a LoRA fine-tuning and watch it.

Registered in the ``audiochain.editor_tools`` entry-point group (:func:`add_tool`); it uses only
the editor's plug-in API (:class:`nodeflow.editor.tools.EditorAPI`).  The form holds what
``audiochain finetune`` takes most often: the data folder, the base checkpoint, the output
folder, the instance prompt, steps, rank, alpha, learning rate and batch size.  *Start* runs
:func:`~nodes.models.finetune.train.finetune` on a background thread (the window keeps
drawing); a progress bar shows the files read, then step / total, with the loss and the
validation loss.  *Stop* sets the run's cancel event: the engine saves a checkpoint, and
*continue* (resume) picks it up on the next *Start*.  Mistakes (an empty folder, a base that is
not MusicGen, an output folder in use...) are shown as the engine's one-line message.  After a
finished run, *Use in graph* adds a ``models.musicgen`` node using the new adapter (one
undoable edit).

Importing this module is cheap: torch and transformers load when training starts.
"""
from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import Any

from nodeflow.errors import Cancelled, NodeflowError

__all__ = ["add_tool", "FinetuneDialog", "TAG"]

TAG = "finetune"
WIDTH, HEIGHT = 660, 430
GREEN, RED, GREY, WHITE = (150, 230, 150), (255, 120, 120), (170, 170, 190), (215, 215, 215)
# the engine's messages name CLI flags; in the dialog they are these fields
_FIELDS = {"--resume": "'continue'", "--force": "'replace'", "another --out": "another output folder",
           "--out": "the output folder", "--steps": "steps"}


def add_tool(editor: Any) -> "FinetuneDialog":
    """The ``audiochain.editor_tools`` entry point: the dialog and its item in the Tools menu."""
    dialog = FinetuneDialog(editor)
    editor.add_menu_item("Fine-tune MusicGen...", dialog.open, tag=f"{TAG}::menu")
    return dialog


def _in_dialog_words(msg: str) -> str:
    for flag, name in _FIELDS.items():
        msg = msg.replace(flag, name)
    return msg


class FinetuneDialog:
    """The dialog; ``state()`` summarises what it shows (for scripts and tests)."""

    def __init__(self, editor: Any):
        self.editor, self.dpg = editor, editor.dpg
        self.events: list[Any] = []          # every TrainEvent of the current run, in order
        self._incoming: list[Any] = []       # filled by the training thread, drained each frame
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._outcome: tuple[str, Any] | None = None
        self.result: Any = None
        self.phase = "idle"                  # idle, starting, data, train, finished, stopped, failed
        self._run: dict[str, Any] = {}
        self._build()
        editor.on_frame(self.tick)
        editor.on_close(self.close)

    # ------------------------------------------------------------------ the form
    def _build(self) -> None:
        dpg, t = self.dpg, TAG
        with dpg.window(label="Fine-tune MusicGen (LoRA)", tag=t, show=False, width=WIDTH, height=HEIGHT,
                        no_saved_settings=True):
            dpg.add_text("Teach MusicGen your own recordings. Every audio file under the data folder is used; "
                         "a file's caption comes from NAME.txt or NAME.json beside it, else from the instance "
                         "prompt and the file name.", wrap=WIDTH - 30, color=GREY)
            dpg.add_spacer(height=4)
            with dpg.table(header_row=False, policy=dpg.mvTable_SizingStretchProp):
                dpg.add_table_column(width_fixed=True, init_width_or_weight=118)
                dpg.add_table_column(width_stretch=True)
                self._path_row("data folder", "data", "the folder of your recordings (searched recursively)",
                               folder=True)
                self._path_row("base model", "base", "a MusicGen hub id or a local checkpoint folder", folder=True,
                               default="facebook/musicgen-small")
                self._path_row("output folder", "out", "where the adapter goes (a new or empty folder)", folder=True)
                with dpg.table_row():
                    dpg.add_text("instance prompt")
                    dpg.add_input_text(tag=f"{t}::prompt", width=-1, hint="e.g. my band, warm analog synths")
            dpg.add_spacer(height=2)
            with dpg.group(horizontal=True):
                self._number("steps", "steps", dpg.add_input_int, 500, "optimizer steps in total", min_value=1,
                             min_clamped=True)
                self._number("rank", "rank", dpg.add_input_int, 8, "LoRA rank: larger adapts more", min_value=1,
                             max_value=1024, min_clamped=True, max_clamped=True)
                self._number("alpha", "alpha", dpg.add_input_double, 16.0, "LoRA alpha; the scale is alpha / rank",
                             format="%g", step=0)
            with dpg.group(horizontal=True):
                self._number("learning rate", "lr", dpg.add_input_double, 1e-4, "peak learning rate (1e-4 is usual)",
                             format="%g", step=0)
                self._number("batch size", "batch", dpg.add_input_int, 4, "windows per step", min_value=1,
                             min_clamped=True)
            with dpg.group(horizontal=True):
                dpg.add_checkbox(label="continue the run saved in the output folder", tag=f"{t}::resume")
                dpg.add_checkbox(label="replace a previous run there", tag=f"{t}::force")
            dpg.add_spacer(height=4)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Start", tag=f"{t}::start", width=90, callback=lambda: self.start())
                dpg.add_button(label="Stop", tag=f"{t}::stop", width=90, callback=lambda: self.stop())
                dpg.add_button(label="Use in graph", tag=f"{t}::use", width=120, show=False,
                               callback=lambda: self.use_in_graph())
            dpg.add_progress_bar(tag=f"{t}::progress", default_value=0.0, width=-1, overlay="not started")
            dpg.add_text("", tag=f"{t}::loss")
            dpg.add_text("", tag=f"{t}::message", wrap=WIDTH - 30)

    def _path_row(self, label: str, key: str, hint: str, *, folder: bool, default: str = "") -> None:
        dpg = self.dpg
        with dpg.table_row():
            dpg.add_text(label)
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag=f"{TAG}::{key}", default_value=default, width=-92, hint=hint)
                dpg.add_button(label="Browse...", tag=f"{TAG}::{key}::browse", width=84,
                               callback=lambda: self.browse(key, label, folder))

    def _number(self, label: str, key: str, add: Any, default: Any, tip: str, **kw: Any) -> None:
        dpg = self.dpg
        dpg.add_text(label)
        item = add(tag=f"{TAG}::{key}", default_value=default, width=110 if add is dpg.add_input_int else 90, **kw)
        with dpg.tooltip(item):
            dpg.add_text(tip)

    def browse(self, key: str, label: str, folder: bool) -> None:
        current = self.dpg.get_value(f"{TAG}::{key}").strip()
        start = self._path(current) if current else None
        if start is not None and key == "base" and not start.is_dir():
            start = None                                     # a hub id, not a folder
        self.editor.choose_path(f"Choose the {label}", lambda p: self.dpg.set_value(f"{TAG}::{key}", p),
                                folder=folder, start=start)

    def open(self) -> None:
        dpg = self.dpg
        if not dpg.get_value(f"{TAG}::out").strip():
            dpg.set_value(f"{TAG}::out", str(self.editor.base_dir / "adapters" / "mine"))
        self.editor.show(TAG, WIDTH, HEIGHT)

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _path(self, text: str) -> Path:
        p = Path(text).expanduser()
        return p if p.is_absolute() else self.editor.base_dir / p

    def settings(self) -> dict[str, Any]:
        """The form as keyword arguments of ``finetune()``; FinetuneError for an empty path."""
        from .errors import FinetuneError
        v = (lambda k: self.dpg.get_value(f"{TAG}::{k}"))
        data, base, out = (v(k).strip() for k in ("data", "base", "out"))
        if not data:
            raise FinetuneError("choose the data folder: the folder holding your recordings")
        if not base:
            raise FinetuneError("give a base model: a MusicGen hub id such as facebook/musicgen-small, or a local "
                                "checkpoint folder")
        if not out:
            raise FinetuneError("choose an output folder for the adapter")
        steps = int(v("steps"))
        return dict(data_dir=self._path(data), base=base, base_dir=self.editor.base_dir, out=self._path(out),
                    resume=bool(v("resume")), force=bool(v("force")), instance_prompt=v("prompt").strip(),
                    steps=steps, rank=int(v("rank")), alpha=float(v("alpha")), learning_rate=float(v("lr")),
                    batch_size=int(v("batch")), eval_every=max(1, min(100, steps // 10)))

    def start(self) -> None:
        if self.running:
            self._show("a fine-tuning run is going; press Stop first", RED)
            return
        try:
            kwargs = self.settings()
        except NodeflowError as e:
            self._fail(str(e))
            return
        self.events, self._incoming, self._outcome, self.result = [], [], None, None
        self._cancel = threading.Event()
        self._run = kwargs
        self.phase = "starting"
        dpg = self.dpg
        dpg.configure_item(f"{TAG}::use", show=False)
        self._progress(0.0, overlay=f"loading {kwargs['base']} ...")
        dpg.set_value(f"{TAG}::loss", "")
        self._show(f"starting: loading the base model, then reading {kwargs['data_dir']}", WHITE)
        self._thread = threading.Thread(target=self._work, args=(kwargs, self._cancel, self._incoming),
                                        name="audiochain-finetune", daemon=True)
        self._thread.start()
        self.editor.say("fine-tuning started (Tools > Fine-tune MusicGen... shows its progress)")

    def _work(self, kwargs: dict[str, Any], cancel: threading.Event, incoming: list[Any]) -> None:
        try:
            import transformers
            transformers.utils.logging.set_verbosity_error()
            transformers.utils.logging.disable_progress_bar()
            from .train import finetune

            def progress(event: Any) -> None:
                incoming.append(event)
                self.editor.wake()            # shown now, on an idle window too
            result = finetune(progress=progress, cancel=cancel, **kwargs)
            self._outcome = ("result", result)
        except Cancelled:
            self._outcome = ("stopped early", None)
        except NodeflowError as e:
            self._outcome = ("error", _in_dialog_words(str(e)))
        except Exception as e:  # noqa: BLE001 - shown in the dialog, never a crash of the editor
            traceback.print_exc()
            self._outcome = ("error", f"fine-tuning failed: {type(e).__name__}: {e}")
        finally:
            self.editor.wake()

    def stop(self) -> None:
        if not self.running:
            self._show("nothing is running", GREY)
            return
        self._cancel.set()
        overlay = self.dpg.get_item_configuration(f"{TAG}::progress").get("overlay") or ""
        self.dpg.configure_item(f"{TAG}::progress", overlay=f"{overlay}  (stopping: saving a checkpoint)")
        self._show("stopping after the current step; a checkpoint is saved", WHITE)

    def close(self) -> None:
        """The editor is closing: stop a run and let the engine save its checkpoint."""
        if self.running:
            import sys
            print("stopping the fine-tuning run: saving a checkpoint ('continue' resumes it) ...", file=sys.stderr)
            self._cancel.set()
            self._thread.join(120)

    # ------------------------------------------------------------------ per frame
    def tick(self) -> None:
        dpg = self.dpg
        while self._incoming:
            ev = self._incoming.pop(0)
            self.events.append(ev)
            self._show_event(ev)
        if self._outcome is not None and not self.running:
            kind, value = self._outcome
            self._outcome = None
            if kind == "error":
                self._fail(value)
            elif kind == "stopped early":
                self.phase = "stopped"
                dpg.configure_item(f"{TAG}::progress", overlay="stopped")
                self._show("stopped while reading the data; nothing was trained or saved", WHITE)
                self.editor.say("fine-tuning stopped")
            else:
                self._finished(value)

    def _show_event(self, ev: Any) -> None:
        dpg = self.dpg
        if ev.phase == "data":
            self.phase = "data"
            if ev.done < ev.total:
                self._progress(ev.done / max(ev.total, 1), overlay=f"reading data: file {ev.done + 1} of {ev.total}")
                self._show(f"reading and encoding {ev.message}", WHITE)
            else:
                self._progress(1.0, overlay=f"data ready: {ev.total} file(s); starting to train")
        elif ev.phase == "train":
            if self.phase != "train":
                self._show("training", WHITE)
            self.phase = "train"
            stopping = "  (stopping: saving a checkpoint)" if self._cancel.is_set() else ""
            self._progress(ev.step / max(ev.total_steps, 1), overlay=f"step {ev.step} / {ev.total_steps}{stopping}")
            dpg.set_value(f"{TAG}::loss", self._losses(ev.loss, ev.val_loss, ev.tokens_per_s))
        elif ev.phase == "checkpoint":
            self._show(f"checkpoint saved at step {ev.step}", WHITE)

    def _progress(self, value: float, overlay: str) -> None:
        self.dpg.set_value(f"{TAG}::progress", value)
        self.dpg.configure_item(f"{TAG}::progress", overlay=overlay)

    def _losses(self, loss: float | None, val: float | None, rate: float | None = None) -> str:
        parts = [f"loss {loss:.4g}" if loss is not None else "loss -",
                 f"val loss {val:.4g}" if val is not None else "val loss - (not measured yet)"]
        if rate:
            parts.append(f"{rate:,.0f} tokens/s")
        return "    ".join(parts)

    def _finished(self, r: Any) -> None:
        dpg = self.dpg
        self.result = r
        skipped = ""
        if r.report.skipped:
            names = ", ".join(f"{f} ({why.split(';')[0]})" for f, why in r.report.skipped[:3])
            skipped = f"\nskipped {len(r.report.skipped)} file(s): {names}" + (" ..." if len(r.report.skipped) > 3
                                                                              else "")
        if r.status == "finished":
            self.phase = "finished"
            self._progress(1.0, overlay=f"done: {r.step} steps")
            dpg.set_value(f"{TAG}::loss", self._losses(r.train_loss, r.val_loss) + (
                f"    (val loss before: {r.val_loss_before:.4g})" if r.val_loss_before is not None else ""))
            self._show(f"finished. Adapter: {r.adapter}\nUse in graph adds a MusicGen node that uses it." + skipped,
                       GREEN)
            dpg.configure_item(f"{TAG}::use", show=True)
            dpg.set_value(f"{TAG}::resume", False)
            self.editor.say(f"fine-tuning finished: {r.adapter}")
        else:
            self.phase = "stopped"
            dpg.configure_item(f"{TAG}::progress", overlay=f"stopped at step {r.step} / {self._run.get('steps')}")
            dpg.set_value(f"{TAG}::resume", True)
            dpg.set_value(f"{TAG}::force", False)
            self._show(f"stopped at step {r.step}; checkpoint saved in {r.checkpoint}.\n'continue' is ticked: "
                       "press Start to go on from there." + skipped, WHITE)
            self.editor.say(f"fine-tuning stopped at step {r.step}; checkpoint saved")

    def _fail(self, text: str) -> None:
        self.phase = "failed"
        self.dpg.configure_item(f"{TAG}::progress", overlay="not started" if not self.events else "failed")
        self._show(text, RED)
        self.editor.say(f"fine-tuning: {text.splitlines()[0]}", True)

    def _show(self, text: str, color: tuple[int, int, int]) -> None:
        self.dpg.set_value(f"{TAG}::message", text)
        self.dpg.configure_item(f"{TAG}::message", color=color)

    # ------------------------------------------------------------------ result
    def use_in_graph(self) -> str | None:
        """Add a ``models.musicgen`` node with the new adapter (and the base it was trained on)."""
        r = self.result
        if r is None or r.adapter is None:
            self._show("no finished adapter yet: Start a run and let it finish", RED)
            return None
        base = self._run["base"]
        local = self._path(base)
        params: dict[str, Any] = {"adapter": str(r.adapter),
                                  "checkpoint": str(local) if local.is_dir() else base}
        if self._run.get("instance_prompt"):
            params["prompt"] = self._run["instance_prompt"]
        return self.editor.add_node("models.musicgen", **params)

    def state(self) -> dict[str, Any]:
        dpg = self.dpg
        cfg = dpg.get_item_configuration(f"{TAG}::progress")
        return {"shown": bool(dpg.is_item_shown(TAG)), "phase": self.phase, "running": self.running,
                "progress": dpg.get_value(f"{TAG}::progress"), "overlay": cfg.get("overlay"),
                "loss_text": dpg.get_value(f"{TAG}::loss"), "message": dpg.get_value(f"{TAG}::message"),
                "use_shown": bool(dpg.is_item_shown(f"{TAG}::use")), "resume": dpg.get_value(f"{TAG}::resume"),
                "events": [(e.phase, e.step, e.loss, e.val_loss) for e in self.events]}
