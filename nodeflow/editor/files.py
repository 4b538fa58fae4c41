"""Files: open, save, recent files and crash recovery.

* Graph files are the engine's msgpack format (:mod:`nodeflow.fileformat`); opening an audio file
  AudioChain exported restores the graph embedded in it, opening a bundle unpacks it next to itself.
* Every change is written to a **recovery file** (atomically: temp file, fsync, rename) by a
  background thread, so a crash or a ``kill -9`` loses at most the edit being made.  A clean save
  or a clean exit removes it; the next start offers to recover it when it is still there.
* Recent files are a small JSON list in the state folder.

The state folder is ``$AUDIOCHAIN_STATE_DIR``, else ``$XDG_STATE_HOME/audiochain``, else
``~/.local/state/audiochain``.  This module does not import dearpygui.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import msgpack

from ..atomic import write_atomic
from ..errors import FileFormatError
from ..fileformat import _looks_like_audio, dumps, load, loads
from ..graph import Graph
from ..places import state_dir
from .pacing import wake

__all__ = ["state_dir", "RecentFiles", "Recovery", "Autosaver", "open_graph", "save_graph", "recovery_path",
           "find_recovery", "discard_recovery", "GRAPH_SUFFIX"]

GRAPH_SUFFIX = ".msgpack"
RECOVERY_FORMAT = "audiochain.recovery"
MAX_RECENT = 10
STATE_MODE = 0o600      # recovery files hold unsaved work: readable by their user only


def _atomic_write(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write a state file (recent list, recovery) atomically; private to the user (0o600)."""
    write_atomic(path, data, fsync=fsync, mode=STATE_MODE)


# ---------------------------------------------------------------------------------------- open / save
def open_graph(path: str | os.PathLike[str]) -> tuple[Graph, Path | None]:
    """Load a graph file, a bundle or an exported audio file.

    Returns the graph and the path that *Save* may write to: ``None`` when the graph came out of
    an audio file (saving must never overwrite the audio with a graph; the user picks a name).
    Raises :class:`~nodeflow.FileFormatError` with one clear message for anything unreadable.
    """
    p = Path(path).expanduser()
    from ..bundle import is_bundle, unpack
    if is_bundle(p):   # editing a bundle: unpacked beside it (verified, never overwriting, no link followed)
        p = unpack(p)
    graph = load(p)
    if _looks_like_audio(p):
        return graph, None
    return graph, Path(graph.path) if graph.path else p


def graph_target(path: str | os.PathLike[str]) -> Path:
    """The file :func:`save_graph` writes for ``path``: the graph suffix added if it has none."""
    p = Path(path).expanduser()
    return p.with_suffix(GRAPH_SUFFIX) if p.suffix == "" else p


def save_graph(graph: Graph, path: str | os.PathLike[str]) -> Path:
    """Save atomically (the engine's :func:`~nodeflow.save`), adding the graph suffix if missing."""
    from ..fileformat import save
    p = graph_target(path)
    if _looks_like_audio(p):
        raise FileFormatError(f"{p}: is an audio file; save the graph under a .msgpack name instead")
    return save(graph, p)


class RecentFiles:
    """The most recently opened or saved graph files, newest first."""

    def __init__(self, folder: Path | None = None):
        self.file = (folder or state_dir()) / "recent.json"

    def list(self) -> list[str]:
        try:
            items = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return []
        return [s for s in items if isinstance(s, str)][:MAX_RECENT] if isinstance(items, list) else []

    def add(self, path: str | os.PathLike[str]) -> None:
        p = str(Path(path).expanduser().resolve())
        items = [p] + [s for s in self.list() if s != p]
        try:
            _atomic_write(self.file, json.dumps(items[:MAX_RECENT], indent=1).encode(), fsync=False)
        except OSError:
            pass   # a read-only state folder must not stop the editor


# ---------------------------------------------------------------------------------------- recovery
def recovery_path(doc_path: str | os.PathLike[str] | None, folder: Path | None = None, pid: int | None = None) -> Path:
    """Where this window's recovery file of a document lives: one per graph file (one for untitled)
    *and per editor process*, so two windows on one graph never overwrite each other's unsaved work."""
    base = (folder or state_dir()) / "recovery"
    return base / f"{_recovery_stem(doc_path)}.{os.getpid() if pid is None else pid}.msgpack"


def _recovery_stem(doc_path: str | os.PathLike[str] | None) -> str:
    if doc_path is None:
        return "untitled"
    key = hashlib.sha1(str(Path(doc_path).expanduser().resolve()).encode()).hexdigest()[:16]
    return f"{Path(doc_path).stem[:40]}-{key}"


def _recovery_candidates(doc_path: str | os.PathLike[str] | None, folder: Path | None,
                         any_document: bool = False) -> list[Path]:
    """Recovery files of ``doc_path`` (of any graph with ``any_document``) that this window may offer:
    its own, and those of editors that are gone (crashed, killed), newest first; a window still open
    keeps its own to itself."""
    from ..atomic import writer_alive

    base = (folder or state_dir()) / "recovery"
    own = _recovery_stem(doc_path)               # (its path resolved once, not once per file)
    found = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    for f in entries:
        name = f.name
        stem = name[:-len(".msgpack")].rsplit(".", 1)[0] if any_document else own
        if not (name.startswith(stem + ".") and name.endswith(".msgpack")):
            continue
        pid = name[len(stem) + 1:-len(".msgpack")]
        try:
            mtime = f.stat().st_mtime
        except OSError:
            continue
        if pid == "" or (pid.isdigit() and (int(pid) == os.getpid() or not writer_alive(int(pid), mtime))):
            found.append((mtime, f))                 # pid "": a file from before per-window recovery
    return [f for _, f in sorted(found, reverse=True)]


def _absolute_inputs(graph: Graph) -> bytes:
    """Graph bytes with every input path absolute, so the recovery file resolves from anywhere."""
    g = graph.copy()
    for (nid, name), p in g.input_files().items():
        g.nodes[nid].params[name] = str(p)
    return dumps(g)


@dataclasses.dataclass
class Recovery:
    """A recovery file found on start: the unsaved graph and what it recovers."""
    file: Path
    of: Path | None        # the graph file it belongs to (None: an untitled graph)
    saved_at: float
    graph: Graph

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.saved_at))
        return (f"Unsaved changes to {self.of.name if self.of else 'an untitled graph'} were recovered from "
                f"{when}, {len(self.graph.nodes)} nodes. Recover them?")


def find_recovery(doc_path: str | os.PathLike[str] | None, folder: Path | None = None,
                  any_document: bool = False) -> Recovery | None:
    """The recovery file left for ``doc_path`` by an editor that did not exit cleanly, if any; with
    ``any_document``, the newest left for any graph (a window started without a file offers it: QA59,
    work left by a killed window was offered only to a window started on that very file).

    A recovery file that is unreadable is removed (it cannot help) and ``None`` is returned.
    """
    candidates = _recovery_candidates(doc_path, folder, any_document)
    if not candidates:
        return None
    f = candidates[0]
    try:
        raw = f.read_bytes()
    except OSError:
        return None
    try:
        doc = msgpack.unpackb(raw, raw=False, strict_map_key=True, max_bin_len=64 << 20, max_str_len=1 << 20)
        if not isinstance(doc, dict) or doc.get("format") != RECOVERY_FORMAT:
            raise FileFormatError("not a recovery file")
        graph = loads(doc["graph"], str(f))
        of = Path(doc["of"]) if doc.get("of") else None
        graph.path = of
        return Recovery(f, of, float(doc.get("saved_at", 0.0)), graph)
    except (FileFormatError, ValueError, KeyError, TypeError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError):
        f.unlink(missing_ok=True)
        return None


def discard_recovery(doc_path: str | os.PathLike[str] | None, folder: Path | None = None) -> None:
    recovery_path(doc_path, folder).unlink(missing_ok=True)


class Autosaver:
    """Writes the recovery file on every change, off the UI thread.

    :meth:`changed` serialises the graph at once (cheap) and hands the bytes to a writer thread,
    which keeps only the newest pending state; :meth:`flush` waits until it is on disk.
    """

    def __init__(self, folder: Path | None = None):
        self.folder = folder
        self.error: str | None = None
        self.writes = 0
        self._pending: tuple[Path, bytes] | None = None
        self._cond = threading.Condition()
        self._busy = False
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="audiochain-autosave", daemon=True)
        self._thread.start()

    def changed(self, graph: Graph, doc_path: Path | None) -> None:
        try:
            data = msgpack.packb({"format": RECOVERY_FORMAT, "of": str(doc_path.resolve()) if doc_path else "",
                                  "saved_at": time.time(), "graph": _absolute_inputs(graph)}, use_bin_type=True)
        except FileFormatError as e:
            self.error = str(e)
            return
        with self._cond:
            self._pending = (recovery_path(doc_path, self.folder), data)
            self._cond.notify_all()

    def discard(self, doc_path: Path | None) -> None:
        """The document is saved (or closed on purpose): drop its recovery file."""
        with self._cond:
            self._pending = None
            while self._busy:
                self._cond.wait()
        discard_recovery(doc_path, self.folder)

    def flush(self, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        with self._cond:
            while (self._pending is not None or self._busy) and time.monotonic() < end:
                self._cond.wait(0.05)

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                if self._stop or self._pending is None:
                    return
                path, data = self._pending
                self._pending = None
                self._busy = True
            try:
                _atomic_write(path, data)
                self.writes += 1
                self.error = None
            except OSError as e:
                self.error = f"cannot write the recovery file {path}: {e}"
                wake()                         # the status bar says so now, even on an idle window
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
