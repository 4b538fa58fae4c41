"""Where a run may write: inside its output folder, over nothing it did not make.

Write paths stored in a graph file, a bundle or an audio file's embedded graph are relative to
the run's output folder (``audiochain run -o DIR``; the current folder by default).  Such a path
is refused, before anything runs, when it

- leaves the output folder: an absolute path, ``..`` climbing out, or a symlink inside the folder
  that points out of it;
- would replace an existing file AudioChain did not export (one without AudioChain's provenance
  tag), or something that is not a regular file.

Two things lift the rule: a path the user set in this session (Python code, ``--set``, the
editor's widgets and file dialog: :attr:`Graph.own_paths <nodeflow.graph.Graph.own_paths>`) and
an allowed folder (``audiochain run --allow-outside PATH``, the editor's *Allow once*), under
which anything may be written.

>>> write_problem(Path("/tmp/out/../x.wav"), Path("/tmp/out")) is not None
True
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["resolve", "write_problem", "refused_writes", "made_by_audiochain", "allowed_under", "ALLOW_HINT"]

ALLOW_HINT = "to allow it: audiochain run ... --allow-outside {root} (or Allow once in the editor)"


def resolve(value: str | os.PathLike[str], base: Path) -> Path:
    """A path as a graph holds it, made whole: ``~`` expanded, a relative one under ``base`` (the run's
    output folder for a write path, the graph file's folder for a read path); nothing checked yet.

    >>> resolve("take.wav", Path("/songs")).as_posix(), resolve("/x/take.wav", Path("/songs")).as_posix()
    ('/songs/take.wav', '/x/take.wav')
    """
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(base) / p


def _real(p: Path) -> Path:
    return Path(os.path.realpath(Path(p).absolute()))


def _inside(p: Path, folder: Path) -> bool:
    return p == folder or folder in p.parents


def allowed_under(dest: Path, roots: Iterable[str | os.PathLike[str]]) -> bool:
    """``dest`` (following symlinks) lies under one of the allowed folders (or is one of them)."""
    real = _real(dest)
    return any(_inside(real, _real(Path(r).expanduser())) for r in roots)


def made_by_audiochain(path: Path) -> bool:
    """``path`` is a regular file carrying AudioChain's provenance tag (a file an earlier run wrote)."""
    from .audiometa import read_tags
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        return bool(read_tags(path).get("audiochain_version"))
    except Exception:  # noqa: BLE001 - unreadable or not audio: not ours
        return False


def write_problem(dest: Path, out_dir: Path, allow: Iterable[str | os.PathLike[str]] = (), *, own: bool = False,
                  value: str | None = None) -> str | None:
    """Why writing ``dest`` is refused (one line without the node), or None when it may be written.

    ``value`` is the path as the graph stores it (for the message); ``own`` marks a path the user
    set this session, which is never refused.
    """
    allow = tuple(allow)
    if own or allowed_under(dest, allow):
        return None
    shown = f"path={value!r}" if value is not None else str(dest)
    folder, real = _real(out_dir), _real(dest)
    if not _inside(real, folder):
        link = " through a symlink" if _inside(Path(os.path.abspath(dest)), Path(os.path.abspath(out_dir))) else ""
        root = real.parent
        return (f"{shown} writes outside the output folder {folder}{link} (to {real}); paths stored in "
                f"a graph are relative to the output folder; " + ALLOW_HINT.format(root=_quote(root)))
    try:
        st = os.stat(real)
    except OSError:
        return None   # nothing there yet
    if stat.S_ISDIR(st.st_mode):
        return None   # the node says it names a folder, with its own message
    if not stat.S_ISREG(st.st_mode):
        return f"{shown}: {real} exists and is not a regular file (a FIFO, device or socket); choose another name"
    if not made_by_audiochain(real):
        return (f"{shown} would replace {real}, an existing file AudioChain did not export; move it away or "
                f"choose another name, or " + ALLOW_HINT.format(root=_quote(real)))
    return None


def _quote(p: Path) -> str:
    s = str(p)
    return f"'{s}'" if any(c.isspace() or c in "'\"$`\\;&|<>*?" for c in s) else s


def refused_writes(graph: Graph, out_dir: Path, allow: Iterable[str | os.PathLike[str]] = (),
                   scope: Iterable[str] | None = None) -> list[tuple[str, str, Path, str]]:
    """The writes a run of ``graph`` into ``out_dir`` would refuse: ``(node, param, target, why)``
    for each write path of the nodes in ``scope`` (default: all).  Validation reports these; the
    editor lists them in its *Allow once* dialog."""
    allow, out = tuple(allow), []
    scope = set(graph.nodes) if scope is None else set(scope)
    for (nid, name), value in graph.write_paths().items():
        if nid in scope:
            dest = resolve(value, out_dir)
            why = write_problem(dest, out_dir, allow, own=graph.is_own_path(nid, name), value=value)
            if why:
                out.append((nid, name, _real(dest), why))
    return out
