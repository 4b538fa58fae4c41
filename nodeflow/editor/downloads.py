"""Checkpoints from the editor, without a window: which model nodes miss theirs, downloads in the
background with progress and cancel, a local folder checked as the node would check it, and one
clear line for every failure.

A :class:`Download` is ``audiochain models pull NAME`` (:func:`nodeflow.checkpoints.pull`, the same
code) in a thread: huggingface_hub reports to it through its progress-bar hook (bytes and files done
of those known so far) and a cancel stops it at the next chunk it receives.  Nothing here imports
dearpygui; :mod:`.models_panel` puts it on the nodes.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from .. import checkpoints
from ..errors import ValueProblem
from ..hubnet import causes, hub_host, no_connection
from ..term import format_bytes

__all__ = ["Download", "Cancelled", "missing_checkpoint", "folder_problem", "explain", "hub_host", "PARAM"]

PARAM = "checkpoint"      # the parameter model nodes name their checkpoint with


class Cancelled(Exception):
    """Raised inside huggingface_hub's download loop when the user cancels."""


def missing_checkpoint(spec: Any, params: dict[str, Any], base_dir: Path | None) -> str | None:
    """The first hub id a model node names (``checkpoint``, then the others it declares: a vocoder)
    that is not in the Hugging Face cache (None: not a model node, local folders, or there).  Read
    from the cache only, never from the network."""
    if spec is None or spec.preflight is None:
        return None
    for param in (p for p in getattr(spec, "checkpoint_params", (PARAM,)) if p in spec.params):
        name = str(params.get(param, spec.params[param].default) or "").strip()
        if not name or checkpoints.names_folder(name, base_dir):
            continue
        try:
            checkpoints.resolve(name, base_dir=base_dir, download=False)
        except checkpoints.CheckpointError as e:
            if isinstance(e, checkpoints.NotDownloaded):       # missing, or partly downloaded
                return name
    return None


def folder_problem(spec: Any, params: dict[str, Any], folder: str | os.PathLike[str],
                   base_dir: Path | None, param: str = PARAM) -> str | None:
    """Why ``folder`` cannot be this node's checkpoint ``param`` (the node's own check: its family's
    layout and model type, safetensors weights), or None when it can.  A value of the node's that the
    checkpoint refuses (a language it lacks: a :class:`~nodeflow.errors.ValueProblem`) is the node's
    problem, said on it once picked, not the folder's; so is what another checkpoint of the node lacks
    (a further one's problems start with its name, see :meth:`nodes.models.layer.Family.node`)."""
    if not Path(folder).is_dir():
        return f"{folder} is not a folder"
    try:
        found = spec.preflight({**params, param: str(folder)}, base_dir or Path.cwd())
    except Exception as e:  # noqa: BLE001 - a broken check is a message, not a crash
        return f"could not check {folder}: {e}"
    others = tuple(f"{name}: " for name in getattr(spec, "checkpoint_params", ()) if name != PARAM)
    mine = [p for p in found if not isinstance(p, ValueProblem)
            and (p.startswith(f"{param}: ") if param != PARAM else not p.startswith(others))]
    return mine[0].removeprefix(f"{param}: ") if mine else None


def explain(name: str, exc: BaseException) -> tuple[str, str]:
    """``(short, line)``: a few words for the node and one clear line for the status bar saying
    what failed, why and the fix."""
    fix = (f"run `audiochain models pull {name}` on a connected machine and copy its Hugging Face cache here, "
           "or pick a local checkpoint folder with '...'")
    if checkpoints.offline() or any(type(e).__name__ == "OfflineModeIsEnabled" for e in causes(exc)):
        switch = "HF_HUB_OFFLINE=1" if checkpoints.offline() else "HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE"
        return "downloads are off", (f"cannot download '{name}': {switch} is set, so downloads are off; "
                                     f"unset it and restart the editor, or {fix}")
    why = no_connection(exc)
    if why is not None:
        return "no connection", f"cannot download '{name}': no connection to {hub_host()} ({why}); {fix}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return "download failed", (text if name in text else f"cannot download '{name}': {text}")


class Download:
    """``audiochain models pull NAME`` in a background thread, with progress and cancel.

    ``state`` is ``running``, ``done``, ``failed`` or ``cancelled``; ``bytes_done``/``bytes_total``
    and ``files_done``/``files_total`` come from huggingface_hub as it goes (the byte total is what the
    repo's listing says is left to fetch, before the first byte); ``message`` is one line for the status
    bar, ``short`` a few words for the node.
    """

    def __init__(self, name: str, cache_dir: str | os.PathLike[str] | None = None):
        self.name = name
        self.cache_dir = cache_dir
        self.state = "running"
        self.bytes_done = self.bytes_total = self.files_done = self.files_total = 0
        self.message = ""
        self.short = ""
        self.path: Path | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=f"pull {name}", daemon=True)

    def start(self) -> "Download":
        self._thread.start()
        return self

    def cancel(self) -> bool:
        """Stop the download (at its next chunk; what is done stays in the cache and a later
        download resumes it).  False when it had already ended."""
        with self._lock:
            if self.state != "running":
                return False
            self._cancel.set()
            self.state, self.short = "cancelled", "download cancelled"
            self.message = f"download of '{self.name}' cancelled"
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def fraction(self) -> float:
        if self.bytes_total:
            return min(self.bytes_done / self.bytes_total, 1.0)
        return self.files_done / self.files_total if self.files_total else 0.0

    def progress_text(self, short: bool = False) -> str:
        """``1.2 MiB of 2.9 MiB, 2 of 5 files`` (``short``, for a progress bar: ``41% of 2.9 MiB``), or
        what happens before the first byte."""
        if not self.files_total and not self.bytes_total:
            return "connecting..." if short else f"connecting to {hub_host()}..."
        done, total = format_bytes(self.bytes_done), format_bytes(self.bytes_total)
        if short:
            return (f"{100 * self.bytes_done // self.bytes_total}% of {total}" if self.bytes_total
                    else f"{self.files_done} / {self.files_total} files")
        text = f"{done} of {total}" if self.bytes_total else ""
        files = f"{self.files_done} of {self.files_total} files" if self.files_total else ""
        return ", ".join(t for t in (text, files) if t)

    # ------------------------------------------------------------------ the thread
    def _work(self) -> None:
        try:
            r = checkpoints.pull(self.name, cache_dir=self.cache_dir, tqdm_class=self._bar_class(),
                                 on_size=self._listed)
        except Exception as e:  # noqa: BLE001 - every failure is one line for the user
            with self._lock:
                if self.state == "running":
                    self.short, self.message = explain(self.name, e)
                    self.state = "failed"
            return
        with self._lock:
            self.path = r.path
            if self.state == "running":
                self.state = "done"
                self.message = (f"downloaded '{self.name}' ({format_bytes(self.bytes_done)}, {self.files_done} files) "
                                "into the Hugging Face cache")

    def _listed(self, left: int, files: int) -> None:
        with self._lock:
            self.bytes_total, self.files_total = max(self.bytes_total, left), max(self.files_total, files)

    def _count(self, kind: str, n: float, total: Any = None) -> None:
        if self._cancel.is_set():
            raise Cancelled(f"download of '{self.name}' cancelled")
        with self._lock:
            if kind == "bytes":
                self.bytes_done += int(n)
                if total is not None:     # (the bar's total grows as each file starts: it only reaches the listed one)
                    self.bytes_total = max(int(total), self.bytes_done, self.bytes_total)
            elif kind == "files":
                self.files_done += int(n)
                if total is not None:
                    self.files_total = int(total)

    def _bar_class(self) -> type:
        """A tqdm stand-in for ``snapshot_download(tqdm_class=...)``: its files bar counts files,
        its bytes-written bar counts bytes (the network-transfer bar is left out: it counts the
        same bytes again)."""
        job = self

        class Bar:
            def __init__(self, *args: Any, **kwargs: Any):
                desc = str(kwargs.get("desc", ""))
                self.kind = ("files" if kwargs.get("unit", "it") != "B" else
                             "" if desc.startswith("Downloading bytes") else "bytes")
                self.n = int(kwargs.get("initial", 0) or 0)
                self._total = kwargs.get("total")
                self.format_dict: dict[str, Any] = {}
                if self.kind:
                    job._count(self.kind, 0, self._total)

            @property
            def total(self) -> Any:
                return self._total

            @total.setter
            def total(self, value: Any) -> None:
                self._total = value
                if self.kind:
                    job._count(self.kind, 0, value)

            def update(self, n: float | None = 1) -> None:
                self.n += int(n or 0)
                if self.kind:
                    job._count(self.kind, n or 0)

            def refresh(self, *args: Any, **kwargs: Any) -> None:
                pass

            def close(self) -> None:
                pass

            def set_description(self, *args: Any, **kwargs: Any) -> None:
                pass

            set_description_str = set_postfix_str = set_description

            def __enter__(self) -> "Bar":
                return self

            def __exit__(self, *exc: Any) -> None:
                pass

        return Bar
