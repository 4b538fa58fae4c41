"""Model checkpoints on the canvas: a download button with progress on every node whose checkpoint
is missing, and a folder picker for a local checkpoint.

A model node naming a hub checkpoint that is not in the Hugging Face cache gets one row under its
title, on open and after every edit, online or offline: ``[Download] not downloaded``.  The button
starts :class:`~.downloads.Download` (``audiochain models pull NAME`` in the background); the row
then shows a progress bar (bytes and files done) and ``Cancel``.  When the download ends the row
goes and the node's marks are checked again; a failure is one line in the status bar (no connection:
the fix is ``audiochain models pull NAME`` on a connected machine, or a local folder) and a few
words on the node with the whole line as its tooltip.  Nodes naming the same checkpoint share one
download.

The ``...`` beside a model node's checkpoint field opens a folder dialog; the folder chosen is
checked as the node checks its checkpoint (:func:`~.downloads.folder_problem`) and set only if it
fits, else the status bar says why.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from . import items
from .downloads import PARAM, Download, folder_problem, missing_checkpoint

__all__ = ["ModelsPanel", "is_checkpoint_field"]

ROW_W = 110           # the text or progress bar beside the button: the row is no wider than a waveform
BUTTON_W = 66
COLOURS = {"missing": (240, 190, 110), "failed": (255, 120, 120), "cancelled": (200, 200, 200)}


def row_tag(nid: str) -> str:
    return f"model::row::{nid}"


class ModelsPanel:
    """The download rows and checkpoint folder dialog of one editor window (``app``)."""

    def __init__(self, app: Any):
        self.app = app
        self.jobs: dict[str, Download] = {}        # checkpoint name -> its download (the latest)
        self.missing: dict[str, str] = {}          # node id -> the hub checkpoint it names that is not cached
        self.shown: dict[str, tuple[Any, ...]] = {}   # node id -> what its row shows
        self._last_folder: Path | None = None          # the checkpoint folder picked last (dialogs open beside it)
        self._ended: set[Download] = set()         # downloads whose end was already reported
        self._redraw = 0                           # frames still to draw after a row changed
        self._runner_version = -1                  # the runner's states last read (a run's failed download)

    # ------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        """Whether a row changed and the next frames must draw it.  A running download alone does not
        keep the window busy: the idle window's upkeep (twice a second) reads its progress."""
        return self._redraw > 0

    def check(self) -> None:
        """Which model nodes miss their checkpoint (from the cache on disk, never the network)."""
        g = self.app.doc.graph
        base = g.base_dir()
        self.missing = {}
        for nid, inst in g.nodes.items():
            spec = g.registry.get(inst.type)
            name = missing_checkpoint(spec, dict(inst.params), base)
            for param in getattr(spec, "checkpoint_params", ()) if name is None else ():
                named = str(inst.params.get(param, "")).strip()
                job = self.jobs.get(named)
                if job is not None and job.state in ("cancelled", "failed"):
                    name = named    # an interrupted download can leave a snapshot that lacks files
                    break
            if name is not None:
                self.missing[nid] = name

    def sync(self) -> None:
        """After an edit or a graph change: check again and update every node's row."""
        self.check()
        for nid in list(self.shown):
            if nid not in self.app.doc.graph.nodes or not items.exists(row_tag(nid)):
                del self.shown[nid]
        for nid in self.app.doc.graph.nodes:
            self._show(nid)

    def tick(self) -> None:
        """Every frame: progress of running downloads; an ended one is reported once and the
        node's marks are checked again."""
        for name, job in self.jobs.items():
            if job.state in ("done", "failed") and job not in self._ended:
                self._ended.add(job)
                self.app.say(job.message if job.state == "failed" else job.message + "; the node can run now",
                             job.state == "failed")
                self.app.resync()                 # the graph's problems are read again
                self.sync()
        self._redraw = max(self._redraw - 1, 0)
        runs = self.app.runner.version != self._runner_version          # a run's own download may have failed
        self._runner_version = self.app.runner.version
        if runs or any(j.running for j in self.jobs.values()):
            if any([self._show(nid) for nid in self.missing]):
                self._redraw = 2

    # ------------------------------------------------------------------ the row
    def _state(self, nid: str) -> tuple[Any, ...]:
        name = self.missing.get(nid)
        job = self.jobs.get(name) if name else None
        if name is None:
            return ("hidden",)
        if job is None:
            state = self.app.runner.states.get(nid)
            if state is not None and state.kind == "failed" and _download_failed(state.causes):
                # the run tried to download it, and could not
                return ("failed", name, "download failed", state.message.splitlines()[0])
            return ("missing", name)
        if job.running:
            return ("running", name, job.progress_text(short=True), job.fraction(), job.progress_text())
        return (job.state, name, job.short, job.message)

    def _show(self, nid: str) -> bool:
        """Bring a node's row up to date; whether anything changed."""
        st = self._state(nid)
        if self.shown.get(nid) == st:
            return False
        if st[0] == "hidden" and not items.exists(row_tag(nid)):
            self.shown[nid] = st
            return False
        if not items.exists(row_tag(nid)) and not self._create(nid):
            return False
        self.shown[nid] = st
        kind = st[0]
        items.configure(row_tag(nid), show=kind != "hidden")
        if kind == "hidden":
            return True
        running = kind == "running"
        items.configure(f"model::button::{nid}", label="Cancel" if running else "Retry" if kind == "failed"
                        else "Download")
        items.configure(f"model::progress::{nid}", show=running)
        items.configure(f"model::progresstipwin::{nid}", show=running)
        items.configure(f"model::text::{nid}", show=not running, color=COLOURS.get(kind, COLOURS["missing"]))
        items.configure(f"model::texttipwin::{nid}", show=not running)
        if running:
            items.set_value(f"model::progress::{nid}", st[3])
            items.configure(f"model::progress::{nid}", overlay=st[2])
            tip = f"downloading '{st[1]}' into the Hugging Face cache: {st[4]}"
        elif kind == "missing":
            items.set_value(f"model::text::{nid}", "not downloaded")
            tip = (f"checkpoint '{st[1]}' is not in the Hugging Face cache: Download fetches it (as "
                   f"`audiochain models pull {st[1]}`), or pick a local checkpoint folder with '...'")
        elif kind == "done":
            items.set_value(f"model::text::{nid}", "downloaded")
            tip = st[3]
        else:
            items.set_value(f"model::text::{nid}", st[2])
            tip = st[3]
        items.set_value(f"model::texttip::{nid}", tip)
        items.set_value(f"model::progresstip::{nid}", tip)
        return True

    def _create(self, nid: str) -> bool:
        """The row, right under the node's title and state lines (one line of fixed height)."""
        node = self.app.view.node_tag(nid)
        children = items.call(dpg.get_item_children, node, 1, default=None) or []
        if not children:
            return False
        kw: dict[str, Any] = {"before": children[1]} if len(children) > 1 else {"parent": node}
        px = self.app.view.zoom.px          # drawn at the canvas' zoom
        with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static, tag=row_tag(nid), **kw):
            with dpg.group(horizontal=True):
                dpg.add_button(label="Download", tag=f"model::button::{nid}", width=px(BUTTON_W),
                               callback=lambda: self.press(nid))
                dpg.add_text("", tag=f"model::text::{nid}")
                dpg.add_progress_bar(tag=f"model::progress::{nid}", width=px(ROW_W), height=px(16), show=False)
            for part in ("text", "progress"):   # (a hidden item's tooltip still shows: each is hidden with it)
                with dpg.tooltip(f"model::{part}::{nid}", tag=f"model::{part}tipwin::{nid}", show=part == "text"):
                    dpg.add_text("", tag=f"model::{part}tip::{nid}", wrap=420)
        return True

    # ------------------------------------------------------------------ actions
    def press(self, nid: str) -> None:
        """The row's button: download the node's checkpoint, or cancel its download."""
        name = self.missing.get(nid)
        if name is None:
            return
        job = self.jobs.get(name)
        if job is not None and job.running:
            job.cancel()
            self.app.say(job.message)
        else:
            self.jobs[name] = Download(name).start()
            self.app.say(f"downloading '{name}' in the background (Cancel on the node stops it)")
        for other in [n for n, c in self.missing.items() if c == name]:
            self._show(other)

    def pick_folder(self, nid: str, param: str) -> None:
        """The ``...`` of a checkpoint field: a folder dialog for a local checkpoint, opened beside the
        node's own checkpoint folder, else beside the last one picked (QA104 D5: each opened in the
        graph's folder), else in the graph's folder."""
        base = self.app.doc.graph.base_dir()
        now = str(self.app.doc.graph.nodes[nid].params.get(param) or "") if nid in self.app.doc.graph.nodes else ""
        own = (base / Path(now).expanduser()) if now else None
        start = own.parent if own is not None and own.is_dir() else \
            self._last_folder.parent if self._last_folder is not None and self._last_folder.is_dir() else base
        self.app.files.dialog.open(f"Choose a checkpoint folder for {nid}", start,
                                   lambda path: self.use_folder(nid, param, path), folders=True)

    def use_folder(self, nid: str, param: str, folder: str) -> bool:
        """Set ``nid.param`` to ``folder`` if it is a checkpoint the node runs; else one line why."""
        g = self.app.doc.graph
        inst = g.nodes.get(nid)
        spec = g.registry.get(inst.type) if inst is not None else None
        if inst is None or spec is None:
            return False
        why = folder_problem(spec, dict(inst.params), folder, g.base_dir(), param)
        if why is not None:
            self.app.say(f"{nid}.{param}: not set to {Path(folder).name or folder}: {why}; pick the folder that "
                         "holds the checkpoint's config.json and .safetensors weights", True)
            return False
        self.app.on_param(nid, param, str(folder))
        self._last_folder = (g.base_dir() / Path(folder).expanduser()).resolve()
        return True


def is_checkpoint_field(param: str, spec: Any, node_spec: Any = None) -> bool:
    """Whether a ``...`` press is a model node's checkpoint field (a folder, not a file, is picked):
    ``checkpoint``, or another the node (``node_spec``) declares."""
    names = getattr(node_spec, "checkpoint_params", (PARAM,))
    return param in names and getattr(spec, "kind", "") == "str"


def _download_failed(causes: tuple[type[BaseException], ...]) -> bool:
    """Whether a node's run failed because a checkpoint could not be downloaded (the engine wraps
    the node's own error: it is among the causes)."""
    from ..checkpoints import DownloadFailed
    return any(issubclass(c, DownloadFailed) for c in causes)
