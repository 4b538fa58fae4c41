"""``audiochain edit [FILE]``: open the desktop editor (registered through ``audiochain.cli``)."""
from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import Mapping

from ..errors import NodeflowError

__all__ = ["add_cli", "display_problem", "main"]


def display_problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why no window can open here (no DISPLAY, or no X server behind it), else None.

    dearpygui aborts the whole process without a display, so this is checked first.
    """
    env = os.environ if env is None else env
    disp = env.get("DISPLAY", "")
    if not disp:
        return ("no display: the editor needs a graphical session and DISPLAY is not set; run it on a desktop, "
                "or headless under Xvfb (xvfb-run -a audiochain edit FILE); `audiochain run` works without one")
    host, _, rest = disp.rpartition(":")
    num = rest.split(".")[0]
    if not num.isdigit():
        return f"DISPLAY={disp!r} is not a valid X display (expected something like ':0')"
    try:
        if host in ("", "unix"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(f"/tmp/.X11-unix/X{num}")
        else:
            s = socket.create_connection((host, 6000 + int(num)), timeout=2)
        s.close()
    except OSError as e:
        return f"no X server answers on DISPLAY={disp} ({e.strerror or e}); start one or fix DISPLAY"
    return None


def cmd_edit(args: argparse.Namespace) -> int:
    problem = display_problem()
    if problem:
        raise NodeflowError(problem)
    try:
        import dearpygui  # noqa: F401
    except ImportError:
        raise NodeflowError("the editor needs dearpygui: pip install 'audiochain[editor]'") from None
    if args.file and not Path(args.file).expanduser().exists():
        raise NodeflowError(f"{args.file}: no such file (open an existing graph, bundle or exported audio "
                            "file, or start without FILE for a new graph)")
    if args.script and not Path(args.script).is_file():
        raise NodeflowError(f"--script {args.script}: no such file (a path from {Path.cwd()})")
    from .app import App
    app = App(args.file).setup()
    if args.script:
        from .scripting import run_script
        return run_script(app, args.script)
    app.loop()
    return 0


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("edit", help="open the desktop node editor",
                              description="Open the desktop node editor on FILE (a graph, a bundle or an audio "
                                          "file AudioChain exported), or on a new graph.")
    p.add_argument("file", nargs="?", help="graph file, bundle or exported audio file")
    p.add_argument("--script", help=argparse.SUPPRESS)   # drive the window from a script (tests, benchmarks)
    p.set_defaults(fn=cmd_edit)


def main(argv: list[str] | None = None) -> int:
    """``python -m nodeflow.editor [FILE]`` (the same as ``audiochain edit``)."""
    from ..cli import main as cli_main
    return cli_main(["edit", *(argv if argv is not None else __import__("sys").argv[1:])])
