"""``audiochain edit [FILE]``: open the desktop editor (registered through ``audiochain.cli``)."""
from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import Mapping

from ..errors import NodeflowError, install_hint

__all__ = ["add_cli", "display_problem", "leave", "main"]


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
        raise NodeflowError(f"the editor needs dearpygui: {install_hint('editor')}") from None
    if args.file and not Path(args.file).expanduser().exists():
        raise NodeflowError(f"{args.file}: no such file (open an existing graph, bundle or exported audio "
                            "file, or start without FILE for a new graph)")
    if args.script and not Path(args.script).is_file():
        raise NodeflowError(f"--script {args.script}: no such file (a path from {Path.cwd()})")
    from .app import App
    app = App(args.file).setup()
    if args.script:
        from .scripting import run_script
        return leave(run_script(app, args.script))
    app.loop()
    return leave(0)


LEAVE_WAIT_S = 2.0      # how long daemon threads still going after the window closed may take to end


def leave(rc: int) -> int:
    """``rc``, once every daemon thread has ended (the window closed: :meth:`App.close
    <nodeflow.editor.app.App.close>` stopped and waited for the runs and the preview).  Python
    joins the other threads itself before it finalizes, and the workers of thread pools too (a pool
    made on a daemon thread has daemon workers, e.g. the export's loudness meter's, idle until
    then); but it ends a daemon thread still going inside whatever native call it is in, and that
    aborted the editor on quit (QA70 D2: a run's thread in scipy's pocketfft, "terminate called
    without an active exception", rc 134).  One still going after :data:`LEAVE_WAIT_S` (a node
    that does not stop, a download): the process exits at once, without finalizing, with ``rc``."""
    import sys
    import threading
    import time
    from concurrent.futures import thread as pools
    joined_at_exit = set(getattr(pools, "_threads_queues", {}))     # (concurrent.futures' own registry)
    end = time.monotonic() + LEAVE_WAIT_S
    others = [t for t in threading.enumerate()
              if t.daemon and t is not threading.current_thread() and t not in joined_at_exit]
    for t in others:
        t.join(max(0.0, end - time.monotonic()))
    going = [t.name for t in others if t.is_alive()]
    if not going:
        return rc
    print(f"audiochain edit: quitting without waiting for {', '.join(going)}", file=sys.stderr)
    from ..cli_run import quit_now
    quit_now(rc)


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
