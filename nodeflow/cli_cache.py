"""``audiochain cache info|clear``: the on-disk value cache (:mod:`nodeflow.diskcache`) from the shell."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from .diskcache import ClearIncomplete, DiskCache, enabled_by_default
from .errors import NodeflowError, ParameterError, os_error_words

__all__ = ["add_cli", "cmd_cache"]


def cmd_cache(args: argparse.Namespace) -> int:
    from .term import format_bytes, printable
    dc = DiskCache()
    if dc.folder.exists() and not dc.folder.is_dir():      # (QA: "0 entries" and rc 0 for a file)
        raise ParameterError(f"{dc.folder} is a file, not a folder: no value can be kept there; remove it, or set "
                             "AUDIOCHAIN_CACHE_DIR to a folder")
    if args.action == "clear":
        try:
            n = dc.clear()
        except ClearIncomplete as e:    # (QA: a read-only cache said "removed 0 entries", rc 0)
            raise NodeflowError(
                f"could not clear {printable(str(dc.folder))}: {e.left} entr{'y is' if e.left == 1 else 'ies are'} "
                f"left ({e.removed} removed): {os_error_words(e)}, or ask whoever owns the folder to clear it; "
                "AUDIOCHAIN_CACHE_DIR chooses another") from e
        print(f"removed {n} entr{'y' if n == 1 else 'ies'} from {printable(str(dc.folder))}")
        return 0
    from .atomic import remove_stale_tree
    sizes = _temp_sizes(dc.folder)
    swept = sum(sizes.get(p, 0) for p in remove_stale_tree(dc.folder))   # (QA85 D4: a killed run's half entry)
    i = dc.info()
    trimmed = dc.evict() if i["bytes"] > i["budget_bytes"] else 0     # (QA48: a lowered bound was left exceeded)
    if trimmed:
        i = dc.info()
    print(f"folder:  {printable(i['folder'])}")
    notes = ("" if not i["notes"] else " (1 of them a note of which inputs made a value)" if i["notes"] == 1 else
             f" ({i['notes']} of them notes of which inputs made which value)")
    print(f"entries: {i['entries']}{notes}")
    print(f"size:    {format_bytes(i['bytes'])} of {format_bytes(i['budget_bytes'])} (AUDIOCHAIN_CACHE_GB)")
    if trimmed:
        print(f"trimmed: {trimmed} least recently used entr{'y' if trimmed == 1 else 'ies'}: the folder was over "
              "its bound")
    if swept:
        print(f"swept:   {format_bytes(swept)} of half-written entries that runs which were stopped left behind")
    if not enabled_by_default():
        print("state:   off (AUDIOCHAIN_CACHE=off)")
    elif (why := dc.problem()) is not None:      # (QA48: a run said "cache info says why"; it said nothing)
        print(f"state:   values cannot be kept here: {printable(why)}, or set AUDIOCHAIN_CACHE_DIR to a folder "
              "you can write")
    else:
        free = shutil.disk_usage(dc.folder).free
        if free < i["budget_bytes"] - i["bytes"]:
            print(f"free:    {format_bytes(free)} on its disk, less than the bound leaves: entries stop being kept "
                  "when the disk fills")
    return 0


def add_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``audiochain cache info|clear``."""
    p = sub.add_parser("cache", help="the on-disk value cache: info (folder, entries, size) or clear")
    p.add_argument("action", choices=["info", "clear"], nargs="?", default="info",
                   help="info: its folder, entries and size (the default); clear: empty it")
    p.set_defaults(fn=cmd_cache)


def _temp_sizes(folder: Path) -> dict[Path, int]:
    """The sizes of the temporary files in a cache folder and its key-prefix folders (a writer's, live or
    not), which :meth:`DiskCache.info` does not count."""
    out: dict[Path, int] = {}
    try:
        folders = [folder, *(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())]
    except OSError:
        return out
    for d in folders:
        try:
            for p in d.iterdir():
                if p.name.startswith(".") and ".tmp" in p.name:
                    out[p] = p.lstat().st_size
        except OSError:
            continue
    return out
