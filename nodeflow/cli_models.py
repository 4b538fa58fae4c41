"""``audiochain models list|pull|rm|info``: checkpoints in the Hugging Face cache, from the command
line (:mod:`nodeflow.checkpoints` does the work)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from .checkpoints import hub_cache_dir, info, list_cached, pull, remove
from .errors import NodeflowError
from .term import format_bytes

__all__ = ["add_cli", "main"]


def _cmd_list(args: argparse.Namespace) -> int:
    rows = list_cached(args.cache_dir)
    if not rows:
        print(f"no checkpoints cached in {args.cache_dir or hub_cache_dir()}")
        return 0
    for row in rows:
        revs = ", ".join(r["commit"][:10] + (f" ({'/'.join(r['refs'])})" if r["refs"] else "")
                         + (" partly downloaded: pull again" if r["partial"] else "") for r in row["revisions"])
        print(f"{row['name']:40s} {format_bytes(row['bytes']):>9s}  {row['model_type']:16s} {revs}")
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    r = pull(args.name, cache_dir=args.cache_dir)
    print(f"pulled {args.name} @ {r.revision[:12]} -> {r.path}")
    return 0


def _cmd_rm(args: argparse.Namespace) -> int:
    freed = remove(args.name, cache_dir=args.cache_dir)
    print(f"removed {args.name} ({format_bytes(freed)} freed)")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    data = info(args.name, cache_dir=args.cache_dir)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for k, v in data.items():
        if k == "bytes":
            v = format_bytes(v)
        elif k == "voices":
            v = f"{len(v)}: " + ", ".join(v[:8]) + (" ..." if len(v) > 8 else "")
        elif k == "also_run_by":
            k, v = "also run by", ", ".join(v) + " (families of other node packs that accept it)"
        print(f"{k:12s} {v}")
    return 0


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except NodeflowError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return run


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``models list|pull|rm|info`` to an argparse subparsers object; each command's ``fn(args)``
    returns an exit code and prints one ``error: ...`` line on failure."""
    p = subparsers.add_parser("models", help="manage model checkpoints in the Hugging Face cache")

    def usage(args: argparse.Namespace) -> int:     # `audiochain models` alone: a usage error, on stderr
        p.print_help(sys.stderr)                     # (QA: the help on stdout with rc 2)
        return 2

    p.set_defaults(fn=usage)
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cache-dir", default=None,
                        help="hub cache folder (default: the one huggingface_hub uses: HF_HUB_CACHE, HF_HOME/hub, "
                             "$XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub)")
    q = sub.add_parser("list", parents=[common], help="cached checkpoints with size and revisions")
    q.set_defaults(fn=_guard(_cmd_list))
    q = sub.add_parser("pull", parents=[common], help="download a checkpoint (safetensors only), with progress")
    q.add_argument("name", help="hub id, e.g. org/model (optionally @revision)")
    q.set_defaults(fn=_guard(_cmd_pull))
    q = sub.add_parser("rm", parents=[common], help="delete a cached checkpoint")
    q.add_argument("name", help="hub id, e.g. org/model (as `models list` shows it)")
    q.set_defaults(fn=_guard(_cmd_rm))
    q = sub.add_parser("info", parents=[common], help="path, revision, size, model family and time base of a checkpoint")
    q.add_argument("name", help="hub id or local folder")
    q.add_argument("--json", action="store_true", help="print it as JSON (for scripts)")
    q.set_defaults(fn=_guard(_cmd_info))
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m nodeflow.cli_models ACTION ...`` (the same as ``audiochain models ACTION ...``)."""
    ap = argparse.ArgumentParser(prog="audiochain")
    add_cli(ap.add_subparsers(dest="command"))
    args = ap.parse_args(["models", *(sys.argv[1:] if argv is None else argv)])
    return int(args.fn(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
