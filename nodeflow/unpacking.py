"""Unpacking a bundle onto disk (:func:`unpack`): next to the bundle or into a target folder, every
member staged in a private folder there and verified (CRC, size, sha256) before anything is moved into
place; no link at or inside the target is followed, nothing existing is overwritten (an identical file
is reused, another name is found for a different one, and the graph points at it), and on any failure
nothing new is left behind.

What a bundle may hold, and reading one in place, are :mod:`nodeflow.bundle`'s (which also keeps
``from nodeflow.bundle import unpack`` working); packing one is :mod:`nodeflow.packing`'s.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Callable

from .bundle import _BLOCK, Member, _free_name, _graph_of, _open_zip, _read_manifest, _stream, _tops
from .errors import FileFormatError, NodeflowError, ParameterError, os_error_words
from .graph import Graph

__all__ = ["unpack"]

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _subdir(fd: int, parts: list[str], shown: Path, *, create: bool) -> int:
    """Open (creating) ``parts`` below the folder ``fd`` without following any link; a new fd."""
    fd = os.dup(fd)
    for part in parts:
        shown = shown / part
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=fd)
        try:
            nfd = os.open(part, _DIR, dir_fd=fd)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise FileFormatError(f"{shown} is a link or a file, not a folder; unpack never follows links "
                                      "(a link here leads outside the target folder, or could): remove it or unpack "
                                      "elsewhere") from None
            raise
        os.close(fd)
        fd = nfd
    return fd


def _same(a: Path, b: Path) -> bool:
    """Same content, comparing regular files only (a link, FIFO or device is never 'the same')."""
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    if stat.S_ISREG(sa.st_mode) and stat.S_ISREG(sb.st_mode):
        return sa.st_size == sb.st_size and _sha256(a) == _sha256(b)
    if not (stat.S_ISDIR(sa.st_mode) and stat.S_ISDIR(sb.st_mode)):
        return False
    na, nb = sorted(os.listdir(a)), sorted(os.listdir(b))
    return na == nb and all(_same(a / n, b / n) for n in na)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def _place(sfd: int, tfd: int, name: str, staged: Path, shown: Path, placed: list[tuple[int, str]]) -> tuple[str, bool]:
    """Move ``name`` from the staging folder into the target folder without overwriting anything:
    an identical existing file is reused, another name is found otherwise.  Returns (name used, new)."""
    is_file = stat.S_ISREG(os.lstat(staged / name).st_mode)
    cand, i = name, 2
    while True:
        try:
            os.stat(cand, dir_fd=tfd, follow_symlinks=False)
        except FileNotFoundError:
            try:
                if is_file:   # link(2) never replaces an existing name: no overwrite even in a race
                    os.link(name, cand, src_dir_fd=sfd, dst_dir_fd=tfd, follow_symlinks=False)
                else:
                    os.rename(name, cand, src_dir_fd=sfd, dst_dir_fd=tfd)
            except FileExistsError:
                pass
            else:
                placed.append((tfd, cand))
                return cand, True
        else:
            if _same(staged / name, shown / cand):
                return cand, False   # the receiver already has this exact file
        cand, i = _free_name(name, i, is_file), i + 1


def unpack(bundle: str | os.PathLike[str], target: str | os.PathLike[str] | None = None, *,
           report: list[str] | None = None) -> Path:
    """Unpack next to the bundle (or into ``target``); returns the graph file written.

    Existing files are never overwritten (identical ones are reused, others get a new name) and
    no link at or inside the target is followed.  Every member is staged and verified before
    anything is moved into place; on any failure nothing new is left in the target.
    ``report`` (a list) receives one line per file written or reused.
    """
    from .fileformat import dumps
    bundle = Path(bundle)
    src = str(bundle)
    if target is not None and not str(target).strip():      # Path("") is the current folder (QA79 D8)
        raise ParameterError(f"-o {str(target)!r}: empty folder to unpack into; give a folder (-o song), or omit -o "
                             f"to unpack beside the bundle ({bundle.with_suffix('').name}/)")
    target = Path(target) if target is not None else bundle.with_suffix("")
    with _open_zip(bundle) as z:
        members = _read_manifest(z, src)
        graph = _graph_of(z, members, src)
        need = sum(m["size"] for m in members.values())
        if os.path.islink(target):
            raise FileFormatError(f"{target} is a link; unpack never follows links (it could lead outside the "
                                  "folder you meant): remove it or unpack elsewhere (-o FOLDER)")
        try:
            return _unpack_into(z, members, graph, target, src, need, report, dumps)
        except OSError as e:
            raise NodeflowError(f"cannot unpack into {target}: {os_error_words(e)} (nothing was left there)") from None


def _unpack_into(z: zipfile.ZipFile, members: dict[str, Member], graph: Graph, target: Path, src: str, need: int,
                 report: list[str] | None, dumps: Callable[[Graph, Path], bytes]) -> Path:
    made = [p for p in [target, *target.parents] if not os.path.lexists(p)]   # removed again on failure
    target.mkdir(parents=True, exist_ok=True)
    try:
        return _unpack_here(z, members, graph, target, src, need, report, dumps)
    except BaseException:
        for p in made:
            with contextlib.suppress(OSError):
                p.rmdir()   # only if empty: never anything that appeared meanwhile
        raise


def _unpack_here(z: zipfile.ZipFile, members: dict[str, Member], graph: Graph, target: Path, src: str, need: int,
                 report: list[str] | None, dumps: Callable[[Graph, Path], bytes]) -> Path:
    """Into the existing folder ``target``: every member staged and verified in a private folder there,
    then moved into place with the graph pointed at the names they got; on failure what was placed is
    taken back.  ``report`` receives the lines of what was written or reused."""
    tfd = _open_target(target, need)
    from .atomic import remove_stale
    remove_stale(target)          # staging folders and temp files a killed unpack or export left here
    stage = f".unpack-{os.getpid()}-{secrets.token_hex(6)}"
    os.mkdir(stage, 0o700, dir_fd=tfd)
    placed: list[tuple[int, str]] = []
    lines: list[str] = []
    fds = [tfd]
    try:
        sfd = _subdir(tfd, [stage], target, create=False)
        fds.append(sfd)
        _stage_files(z, members, src, sfd, target / stage)
        renamed = _place_files(members, tfd, sfd, target, stage, fds, placed, lines)
        _repoint(graph, renamed)
        _checkpoints_from_beside(graph, Path(src).absolute().parent, target)
        from .places import far_for_writing, remember_saved
        graph.path = target / "graph.msgpack"   # the input paths above are relative to the target folder
        far = far_for_writing(graph, target)     # a folder beside the bundle, by name: found again on load
        data = dumps(graph, target)
        fd = os.open("graph.msgpack", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=sfd)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        name, new = _place(sfd, tfd, "graph.msgpack", target / stage, target, placed)
        graph.path = written = target / name
        lines.append(f"{'wrote' if new else 'kept (identical)'} {written}")
        remember_saved(written, data, far, graph)      # (QA86 D1: a run then looked in the target folder)
    except BaseException:
        _take_back(placed)   # leave nothing new behind
        raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(stage, dir_fd=tfd)
        for fd in fds:
            os.close(fd)
    if report is not None:
        report.extend(lines)
    return written


def _open_target(target: Path, need: int) -> int:
    """A descriptor of the folder ``target``, opened without following a link, once it has room for
    ``need`` bytes."""
    free = shutil.disk_usage(target).free
    if need > free:
        raise NodeflowError(f"cannot unpack into {target}: the bundle needs {need / 2**20:.1f} MiB and "
                            f"{free / 2**20:.1f} MiB are free; free some space or unpack elsewhere")
    try:
        return os.open(target, _DIR)   # a link put there since the check above is not followed either
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise FileFormatError(f"{target} is a link or a file; unpack never follows links: unpack elsewhere") from None
        raise


def _stage_files(z: zipfile.ZipFile, members: dict[str, Member], src: str, sfd: int, staged: Path) -> None:
    """Every ``files/`` member written (and verified while read) into the staging folder ``sfd``."""
    for name in sorted(n for n in members if n.startswith("files/")):
        *dirs, leaf = name.split("/")
        dfd = _subdir(sfd, dirs, staged, create=True)
        try:
            fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=dfd)
            with os.fdopen(fd, "wb") as out:
                _stream(z, name, members[name], src, sink=out.write)
        finally:
            os.close(dfd)


def _place_files(members: dict[str, Member], tfd: int, sfd: int, target: Path, stage: str, fds: list[int],
                 placed: list[tuple[int, str]], lines: list[str]) -> dict[str, str]:
    """Each staged top-level file or folder under ``files/`` moved into ``target/files`` (an identical
    one there reused, another name found for a different one); returns ``{member: the name it got}``.
    The folders opened join ``fds`` (closed by the caller, after any taking back of ``placed``)."""
    renamed: dict[str, str] = {}
    tops = _tops(members)
    if tops:
        ffd = _subdir(tfd, ["files"], target, create=True)
        fds.append(ffd)
        sffd = _subdir(sfd, ["files"], target / stage, create=False)
        fds.append(sffd)
        for top in tops:
            used, new = _place(sffd, ffd, top[len("files/"):], target / stage / "files", target / "files", placed)
            renamed[top] = f"files/{used}"
            lines.append(f"{'wrote' if new else 'kept (identical)'} {target / renamed[top]}")
    return renamed


def _repoint(graph: Graph, renamed: dict[str, str]) -> None:
    """The graph's parameters, and its saved sweep's values, naming a file that got another name."""
    for nid, inst in graph.nodes.items():
        for k, v in list(inst.params.items()):
            if isinstance(v, str) and v in renamed:
                inst.params[k] = renamed[v]
    for axis in graph.sweep.get("axes", []) if isinstance(graph.sweep, dict) else []:
        if isinstance(axis, dict) and isinstance(axis.get("values"), list):   # its saved sweep reads the same
            axis["values"] = [renamed.get(v, v) if isinstance(v, str) else v     # files (QA53: a variant read
                              for v in axis["values"]]                           # the receiver's older a.wav)


def _take_back(placed: list[tuple[int, str]]) -> None:
    """Remove what was placed (``(folder descriptor, name)``), the last first."""
    for fd, name in reversed(placed):
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                shutil.rmtree(name, dir_fd=fd)
            else:
                os.unlink(name, dir_fd=fd)


def _checkpoints_from_beside(graph: Graph, bundle_dir: Path, target: Path) -> None:
    """A local checkpoint folder the bundle names (never packed) as the folder beside the bundle it
    means, wherever the bundle is unpacked (QA: run looked for it under the private temp folder, then
    in the current folder); a hub id stays one."""
    from .graphpaths import checkpoint_values
    for (nid, name), ck in checkpoint_values(graph).items():
        if os.path.isabs(ck) or (target / ck).is_dir():
            continue
        if ck.startswith(".") or (bundle_dir / ck).is_dir():
            graph.nodes[nid].params[name] = os.path.normpath(bundle_dir / ck)
