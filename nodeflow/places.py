"""Where this machine keeps the inputs of a saved graph that lie far from it.

A graph file is passed on as it is, so it names an input far from its folder (more than two folders up,
through the file system's root, into the home folder from outside it: :func:`~nodeflow.fileformat.
shared_path`) by the file's name alone, never by a way there that spells this machine's folders and its
user's name (QA79 D2: a graph saved in ``/work/song`` read ``../../../../root/private/voice-memo.flac``).

Where such an input is stays on this machine: :func:`remember` notes it in the user's state folder
(``places.json``, readable by the user only) under the graph file's real path and a digest of the bytes
saved, and :func:`found_again` gives it back when the file is opened again: the file where it was saved,
unchanged, means what it meant (the remembered file, while it is there); a copy of it with the same bytes
(its folder renamed, a backup) takes a file of that name beside it first.  The file lists the inputs it
names so (``saved_by.far``) with a random token of its graph (``saved_by.place``, kept across saves), so a
stranger's graph built alike is no copy of one's own.  The file on another machine, edited by another
tool, or another file saved at the path of one's own finds nothing, and the input is named missing by its
file name, as a file from elsewhere is.
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

__all__ = ["state_dir", "remember", "recall", "far_inputs", "far_keys", "remember_saved", "found_again", "shared_path",
           "takes_real", "remember_manifest", "recalled", "leads_far", "saved_here", "way", "PLACES_FILE",
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
    return {key: entry for key, entry in graphs.items() if _whole(entry)} if isinstance(graphs, dict) else {}


def _whole(entry: Any) -> bool:
    """An entry of the places file with every field :func:`remember` writes, of its type."""
    if not isinstance(entry, dict):
        return False
    saved = entry.get("saved")
    return isinstance(entry.get("digest"), str) and isinstance(entry.get("inputs"), dict) \
        and isinstance(saved, (int, float)) and not isinstance(saved, bool) and math.isfinite(saved)


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


def recall(graph_file: Path, data: bytes) -> tuple[dict[str, tuple[str, str]], bool]:
    """``("node.param" -> (stored, real), exact)``: what :func:`remember` noted for ``graph_file`` saved as
    ``data`` (``exact``), or else for files saved here with the very same bytes (a copy of it, its folder
    renamed: QA80 D4) where they all agree; nothing where the bytes are not those saved (edited elsewhere,
    or another file now at that path).  A file that names far inputs carries its graph's random token
    (``saved_by.place``), so a stranger's graph built alike is no copy of one's own (QA82 D3).  An entry
    whose real path does not end in the name stored is no place of that input (a damaged file: QA81 D6)."""
    graphs, digest = _read(state_dir() / PLACES_FILE), _digest(data)
    entry = graphs.get(_key(graph_file))
    exact = entry is not None and entry["digest"] == digest
    found = [_inputs(entry)] if exact and entry is not None else \
        [_inputs(e) for e in graphs.values() if e["digest"] == digest]
    keys = set().union(*found) if found else set()
    return {k: found[0][k] for k in keys if all(f.get(k) == found[0].get(k) for f in found)}, exact


def saved_here(data: bytes) -> bool:
    """Whether this machine saved a file with the very bytes ``data`` (where it is, or where it was: a copy, its
    folder renamed), naming far inputs: its own, whatever its copies since found (QA126 D2-D4)."""
    digest = _digest(data)
    return any(isinstance(e, dict) and e.get("digest") == digest for e in _read(state_dir() / PLACES_FILE).values())


def _inputs(entry: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {k: (v[0], v[1]) for k, v in entry["inputs"].items()
            if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v) and os.path.isabs(v[1])
            and "\x00" not in v[1] and os.path.basename(v[1]) == v[0]}


def far_inputs(graph: Graph, folder: Path) -> dict[str, tuple[str, str]]:
    """``"node.param" -> (name written, absolute path)`` of each input a file saved in ``folder`` names by
    its name alone (:func:`~nodeflow.places.shared_path`), for :func:`remember` to note."""
    from .fileformat import by_name, rebase_path
    from .graphpaths import local_checkpoints, path_mode
    from .outputs import resolve
    from .sweepaxes import saved_axis
    old_base = graph.base_dir()
    values = {f"{nid}.{name}": graph.nodes[nid].params[name]
              for (nid, name) in {**graph.input_files(), **local_checkpoints(graph, old_base)}}
    for i, axis in enumerate(_axes(graph.sweep)):     # a saved sweep's files, by "sweep:axis:value"
        if saved_axis(axis) and path_mode(graph, *axis["param"].partition(".")[::2]) == "read":
            values.update({f"sweep:{i}:{j}": v for j, v in enumerate(axis["values"])
                           if isinstance(v, str) and v.strip()})
    far = {}
    for key, value in values.items():
        if by_name(value, resolve(value, old_base)):
            continue
        written = shared_path(value, old_base, folder)
        if written != rebase_path(value, old_base, folder) or leads_far(value, old_base):   # (a link named so)
            far[key] = (written, str(Path(os.path.normpath(resolve(value, old_base).absolute()))))
    return far


def far_for_writing(graph: Graph, folder: Path) -> dict[str, tuple[str, str]]:
    """:func:`far_inputs` of a graph file about to be written in ``folder`` (saved, or unpacked), the
    graph given its random token where it names any (a token of this graph's: a stranger's file alike is
    no copy of it, QA82 D3); :func:`remember_saved` notes them once the file is written."""
    far = far_inputs(graph, folder)
    if far and isinstance(graph.saved_by, dict):
        import secrets
        graph.saved_by.setdefault("place", secrets.token_hex(16))
    return far


def far_keys(graph: Graph, base_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """``{"far": ["node.param", "sweep:axis:value", ...], "place": token}``: the inputs a file saved in
    ``base_dir`` names by their file name alone, lying far from it (nothing of where they lie:
    this module keeps that on the machine that saved it), and the random token of the graph
    that saved them there, so that only a copy of that file finds them again; empty for a document kept
    in memory, or with no far input."""
    if base_dir is None:
        return {}
    far = sorted(far_inputs(graph, Path(base_dir)))
    place = graph.saved_by.get("place") if isinstance(graph.saved_by, dict) else None
    return {"far": far, **({"place": place} if isinstance(place, str) else {})} if far else {}


def _axes(sweep: Any) -> list[Any]:
    """A saved sweep's axes as the file holds them (an entry without an axis' shape in its place, so
    that ``sweep:AXIS:VALUE`` counts them as the file does)."""
    axes = sweep.get("axes") if isinstance(sweep, dict) else None
    return axes if isinstance(axes, list) else []


def remember_saved(path: Path, data: bytes, far: dict[str, tuple[str, str]], graph: Graph | None = None) -> None:
    """:func:`remember` the far inputs of the graph file just written; the file stays saved whatever
    happens here.  Said in a warning: a state folder that cannot be written, and far inputs kept by a file
    name another input of ``graph`` has too, far or near: on another machine they cannot be told apart
    (QA82 D1, D4)."""
    import warnings

    from .errors import AudioChainWarning
    names: dict[str, set[str]] = {}
    for stored, real in far.values():
        names.setdefault(stored, set()).add(real)
    for (nid, name), file in (graph.input_files() if graph is not None else {}).items():
        if f"{nid}.{name}" not in far and file.name in names:    # a near input of that name (QA82 D1)
            names[file.name].add(str(file))
    if same := sorted(n for n, reals in names.items() if len(reals) > 1):
        warnings.warn(f"{path}: saved; {', '.join(map(repr, same))} names more than one input (files of the same "
                      "name in different folders), and the file keeps a far input by its file name, so elsewhere "
                      "they cannot be told apart: rename one, or `audiochain pack` the graph to share it",
                      AudioChainWarning, stacklevel=3)
    try:
        remember(path, data, far)
    except OSError as e:
        if far:
            folder = state_dir()
            why = "it is not a folder" if folder.exists() and not folder.is_dir() else (e.strerror or str(e))
            warnings.warn(f"{path}: saved, but this machine could not note where its far inputs "
                          f"({', '.join(sorted(far))}) are: the state folder {folder} cannot be written ({why}); "
                          "the file names them by file name alone, so put them beside the graph file, or "
                          "`audiochain pack` it with its inputs", AudioChainWarning, stacklevel=3)


def found_again(graph: Graph, path: Path, data: bytes) -> None:
    """The far inputs noted when this file was saved, back where they are: only those the file says it names
    by file name (``saved_by["far"]``).  The file where it was saved, unchanged, means what it meant: the
    remembered file while it is there, even with a file of that name beside it (its own render, another
    take: QA82 D1, D2).  A copy elsewhere, or a remembered file that is gone, takes a file of that name
    beside the graph first (a template copied into a song's folder; the take put there as the missing-input
    line says: QA81 D1, D4)."""
    from .sweepaxes import saved_axis
    axes = _axes(graph.sweep)
    far = set(graph.saved_by.get("far", ())) if isinstance(graph.saved_by, dict) else set()
    found, exact = recall(path, data)
    for key, (stored, real) in found.items():
        if key not in far or not takes_real(stored, real, graph.base_dir(), exact):
            continue
        if key.startswith("sweep:"):
            i, _, j = key[6:].partition(":")
            axis: Any = axes[int(i)] if i.isdigit() and int(i) < len(axes) else None
            if saved_axis(axis) and j.isdigit() and int(j) < len(values := axis["values"]) and values[int(j)] == stored:
                values[int(j)] = real
            continue
        nid, _, param = key.rpartition(".")
        inst = graph.nodes.get(nid)
        if inst is not None and inst.params.get(param) == stored:
            inst.params[param] = real


def takes_real(stored: str, real: str, base: Path, exact: bool) -> bool:
    """Whether a far input a file names by ``stored`` (its file name), remembered at ``real``, is read
    from there: the file where it was saved, unchanged (``exact``), means what it meant while the
    remembered file is there; a copy, or a remembered file gone, takes a file of that name beside it
    (in ``base``, where the value is read from) first (see :func:`found_again`)."""
    from .outputs import resolve
    return not os.path.lexists(resolve(stored, base)) or (exact and os.path.lexists(real))


def remember_manifest(path: Path, data: bytes, stored: dict[str, Any], made: dict[str, Any]) -> None:
    """Note the far inputs of the sweep manifest just written at ``path`` as ``data``: each value of
    ``stored`` (``"row:INDEX:node.param"`` or ``"set:N"`` -> as the manifest keeps it) that names by its
    file name alone a file whose absolute path ``made`` holds under the same key, so ``rerun`` on this
    machine reads it again (:func:`recalled`), as a graph file's far inputs are found again."""
    far = {}
    for key, value in stored.items():
        real = made.get(key)
        if isinstance(value, str) and isinstance(real, str) and os.path.isabs(real) and value != real \
                and "/" not in value and os.path.basename(real) == value:
            far[key] = (value, os.path.normpath(real))
    if far:
        remember_saved(path, data, far)


def recalled(path: Path, data: bytes, values: dict[str, str], bases: dict[str, Path]) -> dict[str, str]:
    """``values`` (key -> value as the manifest at ``path``, read as ``data``, keeps it) with each far input
    :func:`remember_manifest` noted for it back where it is (see :func:`takes_real`; ``bases``: the folder
    each key's value is read from)."""
    found, exact = recall(path, data)
    out = dict(values)
    for key, (stored, real) in found.items():
        if out.get(key) == stored and key in bases and takes_real(stored, real, bases[key], exact):
            out[key] = real
    return out


def shared_path(value: str, old_base: Path, new_base: Path) -> str:
    """:func:`rebase_path` for a file others read (an exported audio file's embedded graph, a sweep's
    manifest): relative to ``new_base`` while that stays near it (at most two folders up, not through
    the file system's root, not into the home folder from outside it; a symlink on the way is judged by
    where it leads, and up into a hidden folder there is far too), else the file's name alone: a way that
    climbs further spells this machine's folder layout (``../../home/alice/Music/song.flac``: the user's
    name; QA)."""
    from .outputs import resolve
    target = Path(os.path.normpath(resolve(value, old_base).absolute()))
    base = Path(os.path.normpath(new_base.absolute()))
    try:
        rel = way(target, base)
    except ValueError:            # another drive (Windows)
        return target.name
    return target.name if _far(target, base, rel, hidden=False) or _through_far_link(target, base, rel) \
        else rel.as_posix()


def way(target: Path, base: Path) -> Path:
    """The relative way from folder ``base`` to ``target`` as the file system follows it: as written (a link's
    name kept) where it leads there and climbs no higher than the real one, else between their real paths.
    A ``..`` after a folder reached through a link is the real folder's parent (QA126 D1: a graph saved in
    ``~/Music/current -> projects/2024/song`` stored ``../projects/2024/a.wav`` for ``../a.wav``; D6: with the
    home folder a link, ``../takes/a.wav`` climbed through ``/`` and was kept by its name alone)."""
    rel = Path(os.path.relpath(target, base))
    real = Path(os.path.relpath(os.path.realpath(target), os.path.realpath(base)))
    if os.path.realpath(base / rel) == os.path.realpath(target) and rel.parts.count("..") <= real.parts.count(".."):
        return rel
    return real


def leads_far(value: str, base: Path) -> bool:
    """Whether input path ``value`` of a graph file in ``base`` reaches its file through a symlink (the file
    itself, or a folder on the way) that leads far, as :func:`shared_path` judges it: a way saved by its
    name alone, even where that name is the link's own (QA122 D1: a received project's ``take.wav ->
    ~/.private/take.wav`` rendered the private take)."""
    from .outputs import resolve
    target = Path(os.path.normpath(resolve(value, base).absolute()))
    at = Path(os.path.normpath(base.absolute()))
    try:
        return _through_far_link(target, at, Path(os.path.relpath(target, at)))
    except ValueError:            # another drive (Windows)
        return True


def _in_home(p: Path, itself: bool = False) -> bool:
    """``p`` lies in the home folder (or is it, ``itself``), by the way written and by its real path (QA80 D3:
    a home reached through a symlink named the user)."""
    home = Path(os.path.normpath(Path.home().absolute()))
    real_home, real = Path(os.path.realpath(home)), Path(os.path.realpath(p))
    return home in p.parents or real_home in real.parents or (itself and (p == home or real == real_home))


def _far(to: Path, at: Path, way: Path, hidden: bool) -> bool:
    """``to`` from ``at`` (``way``) is through the root, into the home folder from outside it, more than
    two folders up, or (``hidden``) up and into a hidden folder."""
    up = sum(part == ".." for part in way.parts)
    return (Path(os.path.commonpath([to, at])) == Path(to.anchor) or (_in_home(to) and not _in_home(at, itself=True))
            or up > 2 or (hidden and up > 0 and any(part.startswith(".") and part != ".." for part in way.parts)))


def _through_far_link(target: Path, base: Path, rel: Path) -> bool:
    """A link on the way from ``base`` to ``target`` (``rel``) is judged by where it leads, a hidden folder
    there too (QA89 R2, QA90 D4: a project's link to ../../../Music)."""
    real, real_base = Path(os.path.realpath(target)), Path(os.path.realpath(base))
    try:
        real_rel = Path(os.path.relpath(real, real_base))
    except ValueError:            # a link to another drive (Windows)
        return True
    return real_rel != rel and _far(real, real_base, real_rel, hidden=True)
