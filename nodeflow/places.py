"""Where this machine keeps the inputs of a saved graph that lie far from it.

A graph file is passed on as it is, so it names an input far from its folder (more than two folders up,
through the file system's root, into the home folder from outside it: :func:`~nodeflow.fileformat.
shared_path`) by the file's name alone, never by a way there that spells this machine's folders and its
user's name (QA79 D2: a graph saved in ``/work/song`` read ``../../../../root/private/voice-memo.flac``).

Where such an input is stays on this machine: :func:`remember` notes it in the user's state folder
(``places.json``, readable by the user only) under the graph file's real path and a digest of the bytes
saved, and :func:`recall` gives it back when that file, or a copy of it with the same bytes (its folder
renamed), is opened again on this machine.  The file on another machine, edited by another tool, or another
file saved at the path of one's own (a stranger's, downloaded over it) finds nothing, and the input is
named missing by its file name, as a file from elsewhere is.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["state_dir", "remember", "recall", "far_inputs", "remember_saved", "found_again", "PLACES_FILE",
           "MAX_GRAPHS"]

PLACES_FILE = "places.json"
MAX_GRAPHS = 2000             # graph files remembered; the least recently saved are forgotten first
MAX_BYTES = 16 << 20          # a places file larger than this is not read (2000 graphs take well under 1 MiB)
_MODE = 0o600


def state_dir() -> Path:
    """The user's AudioChain state folder: ``AUDIOCHAIN_STATE_DIR``, else ``$XDG_STATE_HOME/audiochain``
    (``~/.local/state/audiochain``): recent files, recovery, preferences and the places of far inputs."""
    env = os.environ.get("AUDIOCHAIN_STATE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "audiochain"


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def _key(graph_file: Path) -> str:
    return os.path.realpath(graph_file)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One process at a time reads and rewrites the places file (two saves at once each keep theirs)."""
    try:
        import fcntl
    except ImportError:           # Windows: the last save wins
        yield
        return
    with open(folder / (PLACES_FILE + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(file: Path) -> dict[str, dict[str, Any]]:
    """The entries of the places file; where it is missing, damaged, not a regular file (a FIFO would block
    every open) or odd in any way, nothing (the graphs still open: QA80 D5)."""
    from .safeio import read_regular
    try:
        data = read_regular(file, MAX_BYTES)
        doc = json.loads(data) if len(data) <= MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return {}
    graphs = doc.get("graphs") if isinstance(doc, dict) else None
    out = {}
    for key, entry in (graphs.items() if isinstance(graphs, dict) else ()):
        saved = entry.get("saved") if isinstance(entry, dict) else None
        if isinstance(entry.get("digest") if isinstance(entry, dict) else None, str) \
                and isinstance(entry.get("inputs"), dict) and isinstance(saved, (int, float)) \
                and not isinstance(saved, bool) and math.isfinite(saved):
            out[key] = entry
    return out


def remember(graph_file: Path, data: bytes, far: dict[str, tuple[str, str]]) -> None:
    """Note that the graph file just saved as ``data`` at ``graph_file`` names each ``"node.param"`` of
    ``far`` by ``stored`` (its file name) for the input at ``real`` (an absolute path of this machine);
    with ``far`` empty, forget the file.  Raises :class:`OSError` where the state folder cannot be written."""
    from .atomic import write_atomic
    folder = state_dir()
    file = folder / PLACES_FILE
    if not far and not file.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        graphs = _read(file)
        key = _key(graph_file)
        if far:
            graphs[key] = {"digest": _digest(data), "saved": time.time(),
                           "inputs": {k: [stored, real] for k, (stored, real) in sorted(far.items())}}
        elif graphs.pop(key, None) is None:
            return
        # the most recently saved are kept, moved or renamed graph files too (found by their bytes: QA81 D3)
        graphs = dict(sorted(graphs.items(), key=lambda kv: -kv[1]["saved"])[:MAX_GRAPHS])
        write_atomic(file, json.dumps({"version": 1, "graphs": graphs}, indent=1).encode(), mode=_MODE)


def recall(graph_file: Path, data: bytes) -> dict[str, tuple[str, str]]:
    """``"node.param" -> (stored, real)`` that :func:`remember` noted for ``graph_file`` saved as ``data``,
    or else for files saved here with the very same bytes (a copy of it, its folder renamed: QA80 D4) where
    they all agree (two songs saved alike from different takes name neither: QA81 D2); nothing where the
    bytes are not those saved (edited elsewhere, or another file now at that path).  An entry whose real
    path does not end in the name stored is no place of that input (a damaged file: QA81 D6)."""
    graphs, digest = _read(state_dir() / PLACES_FILE), _digest(data)
    entry = graphs.get(_key(graph_file))
    if entry is not None and entry["digest"] == digest:
        found = [_inputs(entry)]
    else:
        found = [_inputs(e) for e in graphs.values() if e["digest"] == digest]
    keys = set().union(*found) if found else set()
    return {k: found[0][k] for k in keys if all(f.get(k) == found[0].get(k) for f in found)}


def _inputs(entry: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {k: (v[0], v[1]) for k, v in entry["inputs"].items()
            if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v) and os.path.isabs(v[1])
            and "\x00" not in v[1] and Path(v[1]).name == Path(v[0].replace("\\", "/")).name}


def far_inputs(graph: Graph, folder: Path) -> dict[str, tuple[str, str]]:
    """``"node.param" -> (name written, absolute path)`` of each input a file saved in ``folder`` names by
    its name alone (:func:`~nodeflow.fileformat.shared_path`), for :func:`remember` to note."""
    from .fileformat import rebase_path, shared_path
    from .graphpaths import local_checkpoints, path_mode
    from .outputs import resolve
    old_base = graph.base_dir()
    values = {f"{nid}.{name}": graph.nodes[nid].params[name]
              for (nid, name) in {**graph.input_files(), **local_checkpoints(graph, old_base)}}
    for i, axis in enumerate(_axes(graph.sweep)):     # a saved sweep's files, by "sweep:axis:value"
        if path_mode(graph, *axis["param"].partition(".")[::2]) == "read":
            values.update({f"sweep:{i}:{j}": v for j, v in enumerate(axis["values"])
                           if isinstance(v, str) and v.strip()})
    far = {}
    for key, value in values.items():
        written = shared_path(value, old_base, folder)
        if written != rebase_path(value, old_base, folder):
            far[key] = (written, str(Path(os.path.normpath(resolve(value, old_base).absolute()))))
    return far


def _axes(sweep: Any) -> list[dict[str, Any]]:
    axes = sweep.get("axes") if isinstance(sweep, dict) else None
    return [a for a in axes if isinstance(a, dict) and isinstance(a.get("param"), str)
            and isinstance(a.get("values"), list)] if isinstance(axes, list) else []


def remember_saved(path: Path, data: bytes, far: dict[str, tuple[str, str]]) -> None:
    """:func:`remember` the far inputs of the graph file just written; the file stays saved whatever
    happens here, and a state folder that cannot be written is said in a warning."""
    try:
        remember(path, data, far)
    except OSError as e:
        if far:
            import warnings

            from .errors import AudioChainWarning
            names = ", ".join(sorted(far))
            warnings.warn(f"{path}: saved, but where {names} lie could not be noted in {state_dir()} "
                          f"({e.strerror or e}); the file names them by file name only, so put them beside the "
                          "graph file or `audiochain pack` it with its inputs", AudioChainWarning, stacklevel=3)


def found_again(graph: Graph, path: Path, data: bytes) -> None:
    """The far inputs noted when this file was saved (it unchanged since), back where they are: only those
    the file says it names by file name (``saved_by["far"]``), and only where no file of that name lies
    beside the graph (a file there is the one meant: QA81 D1, D4)."""
    from .outputs import resolve
    axes = _axes(graph.sweep)
    far = set(graph.saved_by.get("far", ())) if isinstance(graph.saved_by, dict) else set()
    for key, (stored, real) in recall(path, data).items():
        if key not in far or os.path.lexists(resolve(stored, graph.base_dir())):
            continue
        if key.startswith("sweep:"):
            i, _, j = key[6:].partition(":")
            if i.isdigit() and j.isdigit() and int(i) < len(axes) and int(j) < len(values := axes[int(i)]["values"]) \
                    and values[int(j)] == stored:
                values[int(j)] = real
            continue
        nid, _, param = key.rpartition(".")
        inst = graph.nodes.get(nid)
        if inst is not None and inst.params.get(param) == stored:
            inst.params[param] = real
