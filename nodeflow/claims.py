"""Claims: which process is computing a value now, so that other processes wait for it instead of
computing it too (:class:`~nodeflow.diskcache.DiskCache` is :class:`Claims` on its entries' folder).

A claim is a file next to the entry it announces, ``.<key>.computing``, created with ``O_EXCL`` and
holding three lines: the holder's pid, its start time, and its pid namespace and boot
(:func:`nodeflow.atomic.process_space`), so that a claim left by a process that is gone, by one in
another container or from an earlier boot is never waited on for good.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["Claims", "CLAIM_WRITE_S", "owner_text", "owner_gone"]

CLAIM_WRITE_S = 5.0        # a claim file without its pid yet is being written for at most this long


class Claims:
    """Claims on the keys of a folder laid out by :meth:`path` (see the module)."""

    def path(self, key: str) -> Path:
        """Where the entry of ``key`` lives; its claim is the file next to it (the subclass's layout)."""
        raise NotImplementedError

    def _claim_path(self, key: str) -> Path:
        return self.path(key).with_name(f".{key}.computing")

    def claim(self, key: str) -> int | None:
        """Start computing ``key`` so that other processes wait for its entry instead of computing it too:
        0 when this process now holds the claim (end it with :meth:`release`), the pid of the live
        process that holds it, or None when the folder cannot hold a claim (read-only: compute anyway).
        A claim whose process is gone (killed, or its pid reused by a later process) is taken over."""
        p = self._claim_path(key)
        for _ in range(3):
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = self.holder(key)
                if pid is not None:
                    return pid
                continue                    # it was stale (now removed) or just ended: claim again
            except OSError:
                return None
            with os.fdopen(fd, "w") as f:
                f.write(_claim_text())
            return 0
        return None

    def holder(self, key: str) -> int | None:
        """The pid of the live process computing ``key`` now (-1: one that is writing its claim), or
        None.  A claim says which process holds it (pid, start time, the pid namespace and boot it ran
        in): one left by a process that is gone, or by a later process given its pid, is removed; one
        from another container or boot (its pid means nothing here), or held by a stopped process, is
        not waited for (the run computes the value itself) and left; one not in that form (being
        written, or garbage) is waited for at most :data:`CLAIM_WRITE_S` from its time, then removed."""
        from .atomic import process_space, process_start, process_state, writer_alive
        from .safeio import read_regular
        p = self._claim_path(key)
        try:
            st = os.stat(p)
            parts = read_regular(p, 512).decode("utf-8", "replace").split("\n")
        except OSError:
            return None                     # none (or not a file someone could hold: never waited on)
        if len(parts) != 3 or not parts[0].isdigit():      # being written, or not ours: stale soon
            if abs(time.time() - st.st_mtime) < CLAIM_WRITE_S:     # (abs: a time in the future is no claim)
                return -1
        elif parts[2] != process_space():
            return None                     # another container's or boot's pid: cannot tell, never wait
        elif writer_alive(pid := int(parts[0]), st.st_mtime) and process_start(pid) == parts[1]:
            if process_state(pid) in ("T", "t"):        # stopped (Ctrl+Z, a debugger): not waited for,
                return None                             # nor taken from it (it may go on)
            return pid
        try:
            os.unlink(p)
        except OSError:
            pass
        return None

    def release(self, key: str) -> None:
        """End this process's claim on ``key`` (see :meth:`claim`)."""
        p = self._claim_path(key)
        try:
            from .safeio import read_regular
            if read_regular(p, 512).decode("utf-8", "replace") == _claim_text():
                os.unlink(p)
        except OSError:
            pass


def _claim_text() -> str:
    """What this process writes in a claim: its pid, start time, and pid namespace and boot."""
    from .atomic import process_space, process_start
    return f"{os.getpid()}\n{process_start(os.getpid())}\n{process_space()}"


owner_text = _claim_text      # the same three lines say which process owns a folder it made (bundle.extracted)


def owner_gone(path: Path) -> bool:
    """Whether the owner file at ``path`` (:func:`owner_text`) names a process of this pid namespace and
    boot that has ended; False where that cannot be told (no such file, another form, another container's
    or boot's pid), so what it owns is left."""
    from .atomic import process_space, process_start, writer_alive
    from .safeio import read_regular
    try:
        st = os.stat(path, follow_symlinks=False)
        parts = read_regular(path, 512).decode("utf-8", "replace").split("\n")
    except OSError:
        return False
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2] or parts[2] != process_space():
        return False
    return not (writer_alive(pid := int(parts[0]), st.st_mtime) and process_start(pid) == parts[1])
