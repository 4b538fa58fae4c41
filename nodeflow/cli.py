"""``audiochain``: run, validate, show and inspect graphs headless.

User mistakes print one clear line (``error: ...``) and exit non-zero; ``--debug`` adds the
traceback.  Progress comes only from the executor's events.  This module holds what the commands share
(loading, ``--set``, ``-o``, progress lines), the ``validate``, ``pack``, ``unpack`` and ``tune``
commands, and :func:`main`; the parser and its argument checks are :mod:`nodeflow.cli_parser`'s.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence, TextIO

from .cli_parser import EXIT_USAGE, build_parser
from .errors import Cancelled, NodeflowError, ParameterError, os_error_words
from .term import ERROR_LIMIT, printable

if TYPE_CHECKING:   # each command imports what it uses when it runs (a fast `audiochain --help`)
    from .executor import Event, Executor
    from .graph import Graph

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130     # (EXIT_USAGE, 2, is the parser's: a command line it refused)


# ---------------------------------------------------------------------------------------- helpers
def _load(path: str) -> Graph:
    from .fileformat import load
    return load(path)


def _print_external_reads(graph: Graph, stream: TextIO) -> None:
    """One line per file or folder the graph reads outside its own folder (``Graph.external_reads``),
    its saved sweep's values included (QA: a sweep over load.path read ~/.ssh/id_rsa unannounced)."""
    from .sweepcheck import sweep_reads
    for nid, param, path in graph.external_reads():
        print(f"reads outside its folder: {printable(nid)}.{printable(param)} -> {printable(path)}", file=stream)
    for nid, param, read in sweep_reads(graph):
        print(f"reads outside its folder (a sweep value): {printable(nid)}.{printable(param)} -> {printable(read)}",
              file=stream)


def _print_downloads(graph: Graph, stream: TextIO) -> None:
    """One line per hub checkpoint the graph names that is not on this machine, when the run may
    download it (QA73 D3: validate said only 'ok', and the run then failed at once offline).  Not a
    problem: the run fetches it; offline, the node's preflight lists it as one.  The hub cache is
    only looked at: validate never touches the network."""
    from .checkpoints import CheckpointError, NotDownloaded, hub_cache_dir, offline, resolve
    from .graphpaths import checkpoint_values
    if offline():
        return
    for (nid, param), name in checkpoint_values(graph).items():
        try:
            resolve(name, base_dir=graph.base_dir(), download=False)
        except NotDownloaded:
            print(f"downloads when run: node '{printable(nid)}': {param} '{printable(name)}' is not on this machine "
                  f"(Hugging Face cache {printable(str(hub_cache_dir()))}); the run downloads it, or run "
                  f"`audiochain models pull {printable(name)}` first", file=stream)
        except CheckpointError:     # a bad folder or name: the node's preflight lists it as a problem
            continue


def apply_sets(graph: Graph, sets: Sequence[str], *, own: bool = True) -> None:
    """Apply ``NODE.PARAM=VALUE`` overrides, parsing VALUE with the parameter's declaration.

    A path typed here is the user's own: an export path may point anywhere (``Graph.own_paths``).
    ``own=False``: values read from a file (a manifest's), a path written to kept in the output folder.
    """
    from .graphpaths import reads_param
    for item in sets or ():
        target, eq, text = item.partition("=")
        node_id, dot, param = target.partition(".")
        if not eq or not dot or not node_id or not param:
            raise ParameterError(f"--set {item!r}: expected NODE.PARAM=VALUE, e.g. --set gain.gain_db=-3")
        if node_id not in graph.nodes:
            raise ParameterError(f"--set {item!r}: {graph.no_node(node_id)}")
        spec = graph.spec(node_id)
        if spec is None:
            raise ParameterError(f"--set {item!r}: node '{node_id}' has an unknown type '{graph.nodes[node_id].type}'")
        p = spec.params.get(param)
        if p is None:
            raise ParameterError(f"--set {item!r}: node '{node_id}' ({spec.id}) has no parameter '{param}'; "
                                 f"parameters are: {', '.join(spec.params) or 'none'}")
        try:
            value = p.parse(text)
            if own and reads_param(graph, node_id, param):
                value = _typed_input(value, graph.base_dir())
            graph.set(node_id, param, value, own=own)
        except ParameterError as e:
            raise ParameterError(f"--set {item!r}: {e}") from None


def _typed_input(value: Any, graph_dir: Path) -> Any:
    """An input path typed on the command line, as the shell means it: from the current folder (made
    absolute) where it is there and not beside the graph; else as the graph's own paths, from its folder
    (QA88 D4: a path the shell completed was looked for beside the graph, and not found)."""
    if not isinstance(value, str) or not value or os.path.isabs(value) or value.startswith("~"):
        return value
    here = Path.cwd() / value
    if os.path.lexists(here) and not os.path.lexists(graph_dir / value):
        return str(here)
    return value


def _refuse_overwriting_inputs(out: Path, inputs: Sequence[Path], flag: str) -> None:
    """``--force`` replaces an earlier output, never the file being read (the graph, audio it uses)."""
    if not out.exists():
        return
    for src in inputs:
        try:
            same = src.exists() and os.path.samefile(out, src)
        except OSError:
            same = False
        if same:
            raise NodeflowError(f"{out} is an input of this command ({src}); {flag} replaces earlier outputs, never "
                                "an input: choose another output path")


def _fmt_value(v: Any) -> str:
    from .audio import Audio
    if isinstance(v, Audio):
        return f"audio {v.duration_s:.3f} s, {v.sample_rate} Hz, {v.channels} ch"
    if isinstance(v, list):
        return f"list of {len(v)}" + (f" ({_fmt_value(v[0])} ...)" if v else "")
    if isinstance(v, str):      # a prompt is read whole (QA: a template's preview was cut at 100 characters)
        return v if len(v) <= 2000 else f"{v[:2000]}... ({len(v)} characters)"
    return repr(v)


class Progress:
    """Renders executor events on stderr: a live bar per running node on a terminal, lines otherwise."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started: dict[str, float] = {}
        self._last_draw = 0.0
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, ev: Event) -> None:
        if ev.kind == "warning":         # said even with --quiet: it is about the result
            from .bundle import as_packed     # (a bundle's files by their names in it, not its temp folder)
            with self._lock:
                self._line(f"  warning {ev.node_id}: {as_packed(str(ev.message))}")
            return
        if self.quiet:
            return
        with self._lock:
            if ev.kind == "started":
                self.started[ev.node_id] = time.perf_counter()
                if not self.tty:
                    self._line(f"  run    {ev.node_id}")
            elif ev.kind == "cached":
                self._line(f"  cached {ev.node_id}" + (f": {ev.message}" if ev.message else ""))
            elif ev.kind == "progress" and not ev.total and ev.message:    # a state, not a step count
                self._line(f"  {ev.node_id}: {ev.message}")
            elif ev.kind == "progress" and self.tty and ev.total:
                now, done = time.perf_counter(), ev.done or 0.0     # progress events carry done and total
                if now - self._last_draw < 0.05 and done < ev.total:
                    return
                self._last_draw = now
                frac = max(0.0, min(1.0, done / ev.total))
                bar = "#" * int(frac * 30)
                self.stream.write(f"\r\x1b[2K  {ev.node_id:<20} [{bar:<30}] {frac * 100:5.1f}% {ev.message}")
                self.stream.flush()
            elif ev.kind == "finished":
                # the node's own time: the nodes of a streamed chain start and end together, and each read
                # the chain's whole time (QA98 D3)
                dt = ev.elapsed_s if ev.elapsed_s is not None else \
                    time.perf_counter() - self.started.get(ev.node_id, time.perf_counter())
                self._line(f"  done   {ev.node_id} ({dt:.2f} s)")
            elif ev.kind == "failed":
                self._line(f"  FAILED {ev.node_id}")
            elif ev.kind == "cancelled":
                self._line(f"  cancelled {ev.node_id}")


# ---------------------------------------------------------------------------------------- commands
@contextlib.contextmanager
def _limit_flags(args: argparse.Namespace) -> Iterator[None]:
    """``--max-memory-gb`` / ``--max-files``: the AUDIOCHAIN_MAX_* limits for this command only."""
    saved = dict(os.environ)
    for flag, var in (("max_memory_gb", "AUDIOCHAIN_MAX_MEMORY_GB"), ("max_files", "AUDIOCHAIN_MAX_FILES")):
        if getattr(args, flag, None) is not None:
            os.environ[var] = str(getattr(args, flag))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _output_dir(args: argparse.Namespace) -> Path:
    """``-o`` (default: the current folder); an empty ``-o ""`` is refused, not taken as the current folder."""
    if args.output is not None and not args.output.strip():
        raise ParameterError('-o "": empty output folder; give a folder (-o out), or omit -o to write into '
                             "the current folder")
    out_dir = Path(args.output) if args.output else Path.cwd()
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"-o {args.output}: is a file, not a folder; -o names the folder exported files go "
                             "to (their names come from each export node's path)")
    return out_dir


def _executor(args: argparse.Namespace) -> Executor:
    """The executor a `run` uses: --jobs bounds what runs at once, --no-cache leaves the disk cache out."""
    from .executor import Executor
    return Executor(max_workers=args.jobs, disk_cache=None if args.no_cache else "default")


def cmd_tune(args: argparse.Namespace) -> int:
    """Prompt tuning that listens (nodeflow/tune.py): candidates rendered, scored, refined."""
    from .bundle import extracted, is_bundle
    from .tune import run_cli
    if is_bundle(args.graph):     # as run: unpacked privately; the manifest names the bundle, which rerun unpacks
        with extracted(args.graph) as graph_file:
            return run_cli(args, _load(str(graph_file)), _executor(args))
    return run_cli(args, _load(args.graph), _executor(args))


def cmd_validate(args: argparse.Namespace) -> int:
    """What ``run`` with the same options would refuse, found without running or writing anything the
    user sees: a bundle is checked as run runs it, unpacked into a private temp folder removed afterwards
    (QA: read in place, its members' audio was never looked at, so validate said ok of a playlist, a start
    past a file's end and a clip too short for its loudness target, which run refused)."""
    graph = _load(args.graph)
    apply_sets(graph, args.set)
    from .bundle import as_packed, extracted, is_bundle
    if is_bundle(args.graph):
        with extracted(args.graph) as graph_file:
            unpacked = _load(str(graph_file))
            apply_sets(unpacked, args.set)
            problems = [as_packed(p) for p in _run_problems(unpacked, args)]   # named as the bundle's (QA66 L2)
            _print_external_reads(unpacked, sys.stdout)     # as its run resolves them (QA: a local checkpoint
            _print_downloads(unpacked, sys.stdout)          # beside the bundle was said to be elsewhere)
    else:
        problems = _run_problems(graph, args)
        _print_external_reads(graph, sys.stdout)
        _print_downloads(graph, sys.stdout)
    if problems:
        print(f"{args.graph}: {len(problems)} problem(s):")
        for p in problems:
            print(f"  - {printable(p, limit=ERROR_LIMIT)}")
        return EXIT_ERROR
    print(f"{args.graph}: ok ({len(graph.nodes)} nodes, {len(graph.links)} links)")
    return EXIT_OK


def sweeps(args: argparse.Namespace, graph: Graph) -> bool:
    """Whether a command's options select a sweep: ``--sweep`` axes, or the graph's saved sweep unless
    ``--no-sweep`` (else one run)."""
    return bool(args.sweep) or (bool(graph.sweep) and not args.no_sweep)


def sweep_axes(args: argparse.Namespace, graph: Graph) -> tuple[list[Any], str]:
    """The sweep a command's options select (:func:`sweeps`), as ``(axes, mode)``: the ``--sweep`` axes
    (paired with ``--zip``), else the graph's saved sweep.  One place, so that `validate` checks the
    variants `run` renders (QA73 D8: validate refused --sweep)."""
    from .sweep import parse_axis, sweep_from_graph
    if args.sweep:
        from .graphpaths import typed
        axes = [parse_axis(s, graph) for s in args.sweep]
        for axis in axes:           # the user's own values, whatever the graph file stored (QA89 R6)
            for v in axis.values:
                typed(graph, axis.node, axis.param, v)
        return axes, ("zip" if args.zip else "grid")
    axes, mode = sweep_from_graph(graph)
    return axes, ("zip" if args.zip else mode)


def _run_problems(graph: Graph, args: argparse.Namespace) -> list[str]:
    """What a run of ``graph`` with ``args``' options refuses, its sweep's variants included."""
    kw: dict[str, Any] = dict(output_dir=_output_dir(args), allow_outside=args.allow_outside, device=args.device)
    problems = graph.problems(**kw)
    if sweeps(args, graph):     # what a run of the sweep would refuse too
        from .sweep import expand
        from .sweepcheck import sweep_problems, variant_problems
        try:
            axes, mode = sweep_axes(args, graph)
            if variants := expand(axes, mode):    # the run checks its variants, not the saved values they replace
                problems = variant_problems(graph, variants, _output_dir(args), allow_outside=args.allow_outside,
                                            device=args.device)
            problems += sweep_problems(graph, axes, mode)
        except ParameterError as e:
            problems.append(f"sweep: {e}")
    return problems


def cmd_pack(args: argparse.Namespace) -> int:
    from .bundle import BUNDLE_SUFFIX, pack
    graph = _load(args.graph)
    out = Path(args.output) if args.output else Path(args.graph).with_suffix(BUNDLE_SUFFIX)
    if out.is_dir() or str(args.output or "").endswith(("/", os.sep)):    # (QA: --force then failed with the temp
        # file's 'Is a directory'; 'newdir/' wrote a zip named newdir)
        raise ParameterError(f"-o {args.output}: names a folder; give the bundle's file name, e.g. "
                             f"-o {out / Path(args.graph).with_suffix(BUNDLE_SUFFIX).name}")
    _refuse_overwriting_inputs(out, [Path(args.graph), *graph.input_files().values()], "--force")
    if out.exists() and not args.force:
        raise NodeflowError(f"{out} exists; pass --force to replace it")
    limit = int(args.max_mb * 2**20)
    report: list[str] = []
    pack(graph, out, max_bytes=limit, report=report, outside=args.include_outside, allow_outside=args.allow_outside)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    for line in report:   # what leaves the machine: every file included (and any left out)
        print(f"  {printable(line)}")
    return EXIT_OK


def cmd_unpack(args: argparse.Namespace) -> int:
    from .bundle import unpack
    report: list[str] = []
    out = unpack(args.bundle, args.output, report=report)
    print(f"unpacked to {out.parent}; graph: {out}")
    for line in report:
        print(f"  {printable(line)}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------- entry
@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal, ``kill``, a job scheduler) stop a command as Ctrl-C does:
    the run is cancelled, what finished is said, and no partial file is left (QA: they killed the
    process outright and an mp3 export's temp file stayed).  The handlers before are put back."""
    import signal

    from .cli_run import STOPPED_BY      # (not in this module: it may run as __main__, a copy of itself)
    STOPPED_BY.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        STOPPED_BY[:] = [signum]
        raise KeyboardInterrupt
    before = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            before[sig] = signal.signal(sig, stop)
        except (OSError, ValueError):
            pass
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _error_text(e: NodeflowError) -> str:
    """An error as the terminal shows it: a list of problems one per line, each with its own line
    breaks and control characters escaped (QA: a path with a newline from a stranger's graph split the
    error over three lines; a crafted one could print a fake 'wrote ...' line)."""
    from .errors import GraphError
    if isinstance(e, GraphError) and len(e.problems) > 1:
        head = f"{e.source}: " if e.source else ""
        return printable(head + f"{len(e.problems)} problems:") + "".join(f"\n  - {printable(p, limit=ERROR_LIMIT)}"
                                                                      for p in e.problems)
    return printable(e, limit=ERROR_LIMIT)


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "fn", None):
        ap.print_help(sys.stderr)                   # a usage error: stdout stays for what a command makes
        return EXIT_USAGE
    try:
        with _limit_flags(args), _stop_signals():
            return int(args.fn(args) or 0)
    except Cancelled as e:
        print(f"cancelled: {e}", file=sys.stderr)
        from .cli_run import exit_interrupted
        return exit_interrupted()
    except NodeflowError as e:
        if args.debug:
            import traceback
            traceback.print_exc()
        print(f"error: {_error_text(e)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        from .cli_run import exit_interrupted
        return exit_interrupted()
    except BrokenPipeError:
        return EXIT_OK
    except OSError as e:       # a full disk, a read-only folder, a vanished file: one line, never a traceback
        if args.debug:
            import traceback
            traceback.print_exc()
        name = str(getattr(e, "filename", None) or "")
        where = f"{name if len(name) <= 160 else name[:70] + ' ... ' + name[-70:]}: " if name else ""   # a 6 KB path
        words = os_error_words(e, fix="free some space, check the folder's permissions or choose another path")
        print(f"error: {printable(where + words, limit=ERROR_LIMIT)}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
