"""What the editor's file dialog lists, without a window: a folder's entries (folders first, names in
the order people read them), the filters it offers, sizes and times as a musician reads them, and the
path a typed name means.  :mod:`.filedialog` puts it in a window.

Dear ImGui's file dialog, which dearpygui bundles, listed names Z to A on the first click of a column,
wrote sizes in French units (``566 o``, ``2 Mo``), matched extensions case by case and never gave its
name box the keyboard: this module is the part of its replacement that tests read without a window.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Entry", "Filter", "filters", "listing", "ordered", "human_size", "when", "typed_path", "natural"]


@dataclass(frozen=True)
class Entry:
    """One row of the dialog: a folder or a file in the folder shown."""
    name: str
    folder: bool
    size: int = 0          # bytes (0 for a folder)
    mtime: float = 0.0     # seconds since the epoch


@dataclass(frozen=True)
class Filter:
    """A choice of the dialog's type box: its label and the extensions it lists (none: every file).

    >>> Filter("Audio files", (".wav", ".flac")).matches("ZOOM0001.WAV")
    True
    >>> Filter("All files", ()).matches("notes.txt"), Filter(".wav", (".wav",)).matches("take.wav.txt")
    (True, False)
    """
    label: str
    exts: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        return not self.exts or name.lower().endswith(self.exts)


def filters(name: str, exts: tuple[str, ...]) -> tuple[Filter, ...]:
    """The type box's choices: every type at once first (the dialog opens on it, so a folder of WAV
    and FLAC files never looks empty), then all files, then each type alone.  Case is ignored: a
    field recorder's ``ZOOM0001.WAV`` is a ``.wav``.

    >>> [f.label for f in filters("Audio files", (".wav", ".FLAC"))]
    ['Audio files (.wav .flac)', 'All files', '.wav', '.flac']
    >>> filters("Audio files", tuple(f".x{i}" for i in range(9)))[0].label
    'Audio files (9 types)'
    >>> [f.label for f in filters("Graphs", (".msgpack",))], filters("Any", ())
    (['Graphs (.msgpack)', 'All files'], (Filter(label='All files', exts=()),))
    """
    every = Filter("All files")
    exts = tuple(dict.fromkeys(e.lower() for e in exts if e and e != ".*"))
    if not exts:
        return (every,)
    shown = " ".join(exts) if len(exts) <= 3 else f"{len(exts)} types"
    together = Filter(f"{name} ({shown})", exts)
    return (together, every) if len(exts) == 1 else (together, every) + tuple(Filter(e, (e,)) for e in exts)


def natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that reads numbers as numbers and ignores case: ``take2`` before ``Take10``.

    >>> sorted(["take10.wav", "Take2.wav", "take1.wav", "b.wav", "A.wav"], key=natural)
    ['A.wav', 'b.wav', 'take1.wav', 'Take2.wav', 'take10.wav']
    """
    return tuple((0, int(p)) if p.isdigit() else (1, p.casefold()) for p in re.split(r"(\d+)", name) if p)


def listing(folder: Path, flt: Filter = Filter("All files"), folders_only: bool = False,
            hidden: bool = False) -> list[Entry]:
    """The folders and the files ``flt`` lists in ``folder``, folders first and names in
    :func:`natural` order; names that start with a dot only with ``hidden``.  A link counts as
    what it points to; a broken link, or an entry that cannot be read, is left out.  Raises
    ``OSError`` when the folder itself cannot be read."""
    out = []
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith(".") and not hidden:
                continue
            try:
                is_dir = e.is_dir()
                if is_dir:
                    out.append(Entry(e.name, True, 0, e.stat().st_mtime))
                elif not folders_only and flt.matches(e.name) and e.is_file():
                    st = e.stat()
                    out.append(Entry(e.name, False, st.st_size, st.st_mtime))
            except OSError:
                continue
    return ordered(out)


def ordered(entries: list[Entry], by: str = "name", descending: bool = False) -> list[Entry]:
    """``entries`` by ``name`` (:func:`natural`), ``size`` or ``modified``; folders first either way,
    ties by name.

    >>> [e.name for e in ordered([Entry("b", False, 5), Entry("z", True), Entry("a", False, 9)], "size", True)]
    ['z', 'a', 'b']
    """
    def key(e: Entry) -> tuple[object, ...]:
        return (e.size,) if by == "size" else (e.mtime,) if by == "modified" else ()
    rows = sorted(entries, key=lambda e: natural(e.name))
    rows = sorted(rows, key=key, reverse=descending) if by in ("size", "modified") else \
        (rows[::-1] if descending else rows)
    return [e for e in rows if e.folder] + [e for e in rows if not e.folder]


def human_size(n: int) -> str:
    """A file's size as file managers write it (powers of 1000, one decimal below 10).

    >>> human_size(0), human_size(566), human_size(1234), human_size(45_678_901), human_size(3_200_000_000)
    ('0 B', '566 B', '1.2 kB', '46 MB', '3.2 GB')
    """
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" or size >= 10 else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def when(mtime: float, now: float | None = None) -> str:
    """When a file was last changed: the time today, the date and time this year, else the date.

    >>> t = time.mktime((2026, 12, 7, 9, 5, 0, 0, 0, -1))
    >>> when(t, t + 60), when(t - 86400 * 30, t), when(t - 86400 * 400, t)
    ('09:05', '7 Nov 09:05', '2025-11-02')
    """
    now = time.time() if now is None else now
    t, today = time.localtime(mtime), time.localtime(now)
    if t[:3] == today[:3]:
        return time.strftime("%H:%M", t)
    if t.tm_year == today.tm_year:
        return f"{t.tm_mday} {time.strftime('%b %H:%M', t)}"
    return time.strftime("%Y-%m-%d", t)


def typed_path(folder: Path, name: str) -> Path:
    """The path a name typed in the dialog means: as is when absolute or ``~/...``, else in the
    ``folder`` shown; ``..`` is the folder above (QA106: ``sub/../tone.wav`` was kept as typed).

    >>> str(typed_path(Path("/w"), "/tmp/g/song.msgpack")), str(typed_path(Path("/w/sub"), " ../tone.wav "))
    ('/tmp/g/song.msgpack', '/w/tone.wav')
    >>> str(typed_path(Path("/w"), "")), str(typed_path(Path("/w"), "~")) == str(Path.home())
    ('/w', True)
    """
    typed = Path(name.strip()).expanduser()
    return Path(os.path.normpath(typed if typed.is_absolute() else folder / typed))
