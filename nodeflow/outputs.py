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
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["numbered", "resolve", "write_problem", "refused_writes", "clashing_writes", "unwritable", "refused_folder",
           "cannot_write", "first_missing", "prune_empty", "made_by_audiochain", "allowed_under", "linked_folder",
           "ALLOW_HINT"]

ALLOW_HINT = ("to allow it: audiochain run ... --allow-outside {root} (in Python allow_outside=[...], or Allow "
              "once in the editor)")


def numbered(name: str, i: int, n: int, label: str = "") -> str:
    """The file item ``i`` of ``n`` is written to (``name`` for a single item): ``take.wav`` ->
    ``take_1.wav`` ... (counted from 1, zero-padded to the count's width: a folder lists them in order),
    followed by the item's ``label`` where it has one (a separated stem's name), made safe for a file
    name.

    >>> numbered("out/take.wav", 1, 12), numbered("take.wav", 0, 1), numbered("mix.flac", 0, 4, "drums")
    ('out/take_02.wav', 'take.wav', 'mix_1_drums.flac')
    >>> numbered("mix.flac", 3, 4, "other+guitar/piano")
    'mix_4_other+guitar-piano.flac'
    """
    if n <= 1:
        return name
    p = Path(name)
    safe = _SAFE.sub("-", label).strip("-.")
    return str(p.with_name(f"{p.stem}_{i + 1:0{len(str(n))}d}{'_' + safe if safe else ''}{p.suffix}"))


_SAFE = re.compile(r"[^A-Za-z0-9+_.-]+")      # what a label keeps in a file name (no separators, no spaces)


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
    """``path`` is a regular file carrying AudioChain's provenance tag (a file an earlier run wrote),
    or a DAW project whose ``<Application>`` is AudioChain (``--daw``)."""
    from .audiometa import read_tags
    from .dawproject import SUFFIX, written_by_audiochain
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        if path.suffix.lower() == SUFFIX:
            return written_by_audiochain(path)
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
                f"a graph are relative to the output folder; " + ALLOW_HINT.format(root=quoted(root)))
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
                f"choose another name, or " + ALLOW_HINT.format(root=quoted(real)))
    return None


def quoted(p: Path) -> str:
    """``p`` as a shell takes it (quoted where it holds a space or a character the shell reads)."""
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


def clashing_writes(graph: Graph, out_dir: Path, scope: Iterable[str] | None = None) -> list[tuple[str, str, str]]:
    """Write paths that name a file another node of ``scope`` writes too, however spelled
    (``same.wav``, ``./sub/../same.wav``): ``(node, param, the other node)``, the later of each pair
    (a run would keep one of the two, whichever finished last).  A path naming a folder is left out:
    the node makes its file name there."""
    scope = set(graph.nodes) if scope is None else set(scope)
    first: dict[Path, str] = {}
    out = []
    for (nid, name), value in sorted(graph.write_paths().items()):
        if nid not in scope or str(value).rstrip().endswith(("/", os.sep)):
            continue
        dest = _real(resolve(value, out_dir))
        try:
            if dest.is_dir():
                continue
        except OSError:     # a path the system cannot look up (too long): :func:`unwritable` names it
            continue
        if dest in first:
            out.append((nid, name, first[dest]))
        else:
            first[dest] = nid
    return out


TEMP_NAME_EXTRA = 64    # bytes a write's temp files add to the name: ``.<name>.<pid>-<random>.tmp<suffix>``,
                        # and one more of that temp file's name while its tags are written


def unwritable(dest: Path) -> str | None:
    """Why a file cannot be created at ``dest`` whatever the run does (one line, without the node),
    or None: a name longer than the file system takes (with its temp file's), or a folder on the way
    that is read-only, not writable or a file.  Looks only; creates nothing."""
    dest = Path(os.path.abspath(dest))
    try:
        path_max = os.pathconf("/", "PC_PATH_MAX")
    except (OSError, ValueError):
        path_max = 4096
    if len(os.fsencode(str(dest))) + TEMP_NAME_EXTRA >= path_max:     # (looking it up would fail too)
        return (f"the path is {len(os.fsencode(str(dest)))} bytes long; this system takes paths of at most "
                f"{path_max} bytes (with the temp file's {TEMP_NAME_EXTRA} more); choose a shorter path")
    folder = dest.parent
    while not folder.exists() and folder != folder.parent:
        if folder.is_symlink():         # (QA44: out/loop -> loop was found only at the export: "File exists")
            return (f"{folder} is a link that leads nowhere (a loop, or its target is gone); remove it or choose "
                    "another path")
        folder = folder.parent
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    for part in [p.name for p in dest.parents if p != folder and folder in p.parents]:
        if len(os.fsencode(part)) > name_max:
            return (f"a folder name on the way is {len(os.fsencode(part))} bytes long; this file system takes names of "
                    f"at most {name_max} bytes; choose a shorter name")
    if len(os.fsencode(dest.name)) + TEMP_NAME_EXTRA > name_max:
        return (f"the file name is {len(os.fsencode(dest.name))} bytes long; this file system takes names of at most "
                f"{name_max} bytes, and the file is first written under its name with {TEMP_NAME_EXTRA} more; choose a "
                f"name of at most {name_max - TEMP_NAME_EXTRA} bytes")
    if not folder.is_dir():
        return f"{folder} is a file, not a folder; choose another path"
    if not os.access(folder, os.W_OK | os.X_OK):
        try:
            why = "is on a read-only file system" if os.statvfs(folder).f_flag & os.ST_RDONLY else "is not writable"
        except OSError:
            why = "is not writable"
        return f"{folder} {why}, so {dest.name} cannot be written there; choose another output folder (-o)"
    return None


def cannot_write(e: OSError, fix: str = "choose another path") -> str:
    """What a run says when the system refuses it a file or folder: ``cannot write there (<the
    system's words>); <fix>`` (an export's temp file, and :func:`refused_folder` before a run)."""
    return f"cannot write there ({e.strerror or e}); {fix}"


def refused_folder(folder: Path) -> str | None:
    """Why a run cannot make ``folder`` or write in it though :func:`unwritable` found nothing (one
    line, without the folder's name), or None.

    Permissions tell for everyone but root, who passes every permission check on a writable mount
    and is still refused by file systems such as sysfs and procfs (QA66: ``validate -o /sys/x`` said
    ok, the run failed at its export).  So for root only, this tries what the run does first there:
    it makes a uniquely named hidden folder in ``folder``, or in the nearest folder above it that
    exists, and removes it at once; nothing is left and nothing is created for anyone else."""
    if getattr(os, "geteuid", lambda: -1)() != 0:
        return None
    import contextlib
    import tempfile
    parent = Path(os.path.abspath(folder))
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return None         # (a file on the way: :func:`unwritable` says it)
    try:
        probe = tempfile.mkdtemp(prefix=".audiochain-check-", dir=parent)
    except OSError as e:
        return cannot_write(e, "choose another output folder (-o)")
    with contextlib.suppress(OSError):
        os.rmdir(probe)
    return None


def linked_folder(folder: Path, what: str) -> str | None:
    """Why AudioChain refuses to write into ``folder``, a folder it names itself inside an output folder
    (``what``: a sweep variant's, rerun's), where it is a symbolic link or not a folder, or None.  QA96 D1:
    a stranger's song folder shipped ``out/v000_gain_db=-6.0 -> ~/Music/victim`` and the documented sweep
    wrote there, replacing an earlier export; a folder one typed (``-o``) is one's own to link."""
    if os.path.islink(folder):
        try:
            to = f" (to {os.readlink(folder)})"
        except OSError:
            to = ""
        return (f"{folder}: {what} is a symbolic link{to}, so its files would be written where it leads; "
                "AudioChain makes this folder itself: remove the link, or choose another output folder (-o)")
    if os.path.lexists(folder) and not os.path.isdir(folder):
        return f"{folder}: {what} is a file, not a folder; move it away, or choose another output folder (-o)"
    return None


def first_missing(folder: Path) -> Path | None:
    """The outermost folder of ``folder``'s path that does not exist yet (what a run writing into
    ``folder`` creates), or None when ``folder`` exists."""
    folder = Path(os.path.abspath(folder))
    if folder.exists():
        return None
    while not folder.parent.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def prune_empty(folder: Path | None) -> None:
    """Remove ``folder`` and the folders under it when they hold no file (what a run that wrote
    nothing leaves behind); anything holding a file stays."""
    if folder is None or not folder.is_dir() or folder.is_symlink():
        return
    for root, _, _ in os.walk(folder, topdown=False):
        try:
            os.rmdir(root)
        except OSError:
            pass
