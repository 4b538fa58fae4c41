"""``audiochain run``: render a graph headless into an output folder, as a sweep of variants (locally
or on Ray), into a DAWproject, or as raw audio on standard output.  ``audiochain rerun`` (one row of a
sweep's manifest again) is :mod:`nodeflow.cli_rerun`.

Split from :mod:`nodeflow.cli` (which holds the shared helpers; :mod:`nodeflow.cli_parser` builds the
parser); user mistakes print one clear line there.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from .cli import (EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, Progress, _executor, _fmt_value, _load, _output_dir,
                  _print_external_reads, apply_sets, sweep_axes, sweeps)
from .cli_daw import check_daw, daw_collector, daw_part, write_daw
from .cli_rerun import cmd_rerun  # noqa: F401 - kept importable from here
from .errors import Cancelled, ExecutionError, ExportsFailed, GraphError, NodeflowError, ParameterError, os_error_words
from .outputs import first_missing, prune_empty
from .term import ERROR_LIMIT, printable

if TYPE_CHECKING:
    from .callbacks import TraceHandler
    from .cli_daw import DawPart
    from .dawruns import RunValues
    from .executor import Event, RunHandle
    from .graph import Graph
    from .sweep import Variant, VariantResult


def cmd_run(args: argparse.Namespace) -> int:
    from .bundle import extracted, is_bundle
    if is_bundle(args.graph):   # a bundle runs from a fresh private temp folder, removed afterwards; a sweep's
        with extracted(args.graph) as graph_file:        # manifest names the bundle, which rerun unpacks again
            return cmd_run(argparse.Namespace(**{**vars(args), "graph": str(graph_file), "source": args.graph}))
    graph = _load(args.graph)
    apply_sets(graph, args.set)
    if args.output == "-":
        return _run_to_stdout(args, graph)
    out_dir = _output_dir(args)
    check_daw(args, graph)
    if sweeps(args, graph):
        if getattr(args, "trace", None):    # (QA: ignored without a word)
            raise ParameterError(f"--trace {args.trace} records one run, and a sweep runs many; drop --trace, or "
                                 "trace one variant with --no-sweep and --set NODE.PARAM=VALUE")
        if args.target:   # a sweep renders whole variants; it used to ignore --target silently
            raise ParameterError(f"--target {args.target[0]} applies to a single run, not to a sweep (each variant "
                                 "renders the whole graph); drop --target, or pass --no-sweep for a graph that "
                                 "saves a sweep")
        _print_external_reads(graph, sys.stderr)     # with -q too: it is about what the run may read (QA)
        return _run_sweep(args, graph, out_dir)
    if args.zip:
        raise ParameterError("--zip pairs the values of --sweep axes, and this run has none; add --sweep NODE.PARAM=... "
                             "(two or more, with as many values each) or drop --zip")
    if "," in args.device:
        raise ParameterError(f"--device {args.device}: a device list is for sweeps (--sweep NODE.PARAM=...); a single "
                             "run takes one device, e.g. --device cuda:0")
    if args.executor == "ray":
        raise ParameterError("--executor ray runs sweeps (use --sweep NODE.PARAM=...); a single run is local")
    made = first_missing(out_dir)
    try:
        return _run_once(args, graph, out_dir)
    finally:                    # a run that wrote nothing (it failed, or had no export) leaves no folder behind
        prune_empty(made)


def _run_once(args: argparse.Namespace, graph: Graph, out_dir: Path) -> int:
    """One run of ``graph`` into ``out_dir``: progress, what it wrote, its levels and failures."""
    foreign = _foreign_targets(graph, out_dir)
    ex = _executor(args)
    progress = Progress(quiet=args.quiet)
    finished: list[str] = []       # node ids in the order they finished (what a Ctrl-C reports)
    failed: dict[str, str] = {}    # every node that failed, in order, and why
    warned: list[str] = []         # what the nodes warned of (an export says itself what it replaced)
    told: list[bool] = []
    traced: set[str] = set()

    def on_event(ev: Event) -> None:
        if not told:    # what the run may read, once it has passed validation (QA39: a user mistake is one line)
            told.append(True)
            _print_external_reads(graph, sys.stderr)     # with -q too (QA)
        if ev.kind in ("finished", "cached"):
            finished.append(ev.node_id)
        elif ev.kind == "warning":
            warned.append(str(ev.message))
        elif ev.kind == "failed":
            failed.setdefault(ev.node_id, str(ev.error) if ev.error is not None else f"node '{ev.node_id}': {ev.message}")
            if getattr(args, "debug", False) and isinstance(ev.error, BaseException) and ev.node_id not in traced:
                traced.add(ev.node_id)          # --debug: where the node's own code failed, as it fails
                import traceback
                traceback.print_exception(ev.error, file=sys.stderr)
        progress(ev)

    trace = _trace(args, graph, out_dir)
    listener: Callable[[Any], None] = on_event
    if trace is not None:
        from .callbacks import handlers
        listener = handlers(on_event, trace)
    try:
        handle = ex.submit(graph, args.target or None, output_dir=out_dir, device=args.device, on_event=listener,
                           allow_outside=args.allow_outside, keep_going=True)   # every branch that can run, runs
    except BaseException:
        if trace is not None:
            trace.close()
        raise
    try:
        while not handle.done():
            time.sleep(0.05)
    except KeyboardInterrupt:
        return _interrupted(graph, handle, finished)
    finally:
        if trace is not None:
            if handle.done() and isinstance(refused := handle.exception(0), GraphError):
                from .runtypes import Event as RefusedEvent
                trace(RefusedEvent("refused", "", message=str(refused), error=refused))
            trace.close()
    failures: list[Any] = []
    try:
        result = handle.result()
    except ExportsFailed as e:      # the other exports were written: list them, then every failure
        assert e.result is not None     # a run raises it with the result of what did run
        result, failures = e.result, e.failures
    except ExecutionError as e:     # a node failed, the branches beside it ran: the same, and every failure
        if getattr(e, "result", None) is None:
            raise
        result, failures = getattr(e, "result"), list(failed.values()) or [e]      # (QA: only one of two was said)
    if not args.quiet:
        print(f"ran {len(result.ran)} node(s), {len(result.cached)} from cache, in {result.elapsed_s:.2f} s",
              file=sys.stderr)
    written = _written(graph, result.outputs)
    leaves = args.target or [n for n in result.outputs if not any(l.src == n for l in graph.links)]
    for nid in leaves:              # a --target that failed, or sat after a failure, has nothing (QA86 D2)
        if nid in result.outputs and ((leaf_spec := graph.spec(nid)) is None or not leaf_spec.side_effect):
            for port, v in result.outputs[nid].items():
                print(f"{nid}.{port}: {printable(_fmt_value(v))}")
    for w, nid in written:
        print(f"wrote {printable(w)}", flush=True)
        if os.path.realpath(w) in foreign and not any(f"{w}: replaced a file" in said for said in warned):
            # (QA51: a typed path replaced a user's file without a word; QA98 D3: said twice where the export said it)
            print(f"note: {printable(w)} replaced a file AudioChain had not written (its path was given to this "
                  "run, so it was allowed)", file=sys.stderr)
        if not args.quiet:
            _print_levels(w)
    if args.daw:           # (QA: the project's tempo was checked, and refused, without --daw)
        write_daw(args, graph, [daw_part(graph, result.outputs)])
    for f in failures:
        print(f"error: {printable(f, limit=ERROR_LIMIT)}", file=sys.stderr)
    if failures:
        if (written or len(failures) > 1) and not args.quiet:
            exports = all((spec := graph.spec(n)) is not None and spec.side_effect for n in failed) and failed
            print(f"{len(failures)} {'export' if exports else 'node'}(s) failed, {len(written)} file(s) written",
                  file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _foreign_targets(graph: Graph, out_dir: Path) -> set[str]:
    """The files this run's own write paths (``--set``, Python) would replace that AudioChain did not
    write: a stored path is refused over them, a typed one is allowed, and said after the run."""
    from .outputs import made_by_audiochain, resolve
    out = set()
    for (nid, name), value in graph.write_paths().items():
        if graph.is_own_path(nid, name):
            dest = os.path.realpath(resolve(value, out_dir))
            if os.path.isfile(dest) and not made_by_audiochain(Path(dest)):
                out.add(dest)
    return out


def _written(graph: Graph, outputs: RunValues) -> list[tuple[str, str]]:
    """The files a run's exports (side-effect nodes) wrote: ``(path, the node that wrote it)``."""
    out: list[tuple[str, str]] = []
    for nid, outs in outputs.items():
        spec = graph.spec(nid)
        if spec is not None and spec.side_effect:
            for v in outs.values():
                out += [(p, nid) for p in ([v] if isinstance(v, str) else v if isinstance(v, list) else [])
                        if isinstance(p, str)]
    return out


STOPPED_BY: list[int] = []      # the signal that stopped this command, when not Ctrl-C (SIGINT)


def interrupted_words() -> str:
    """How the command was stopped, for its 'stopping...' line: Ctrl-C may be pressed again to quit at
    once; a SIGTERM or SIGHUP is named (a job scheduler or a closed terminal sent it, not a user)."""
    import signal
    if not STOPPED_BY:
        return "interrupted: stopping{} (Ctrl-C again to quit at once)..."
    return f"{signal.Signals(STOPPED_BY[0]).name} received: stopping{{}}..."


def exit_interrupted() -> int:
    """130 after Ctrl-C; 128 + the signal's number after SIGTERM (143) or SIGHUP (129), as a shell
    reports a process those signals ended."""
    return 128 + STOPPED_BY[0] if STOPPED_BY else EXIT_INTERRUPTED


STOP_WAIT_S = 0.8      # after Ctrl-C, how long the run may take to stop before the process quits anyway


def _interrupted(graph: Graph, handle: RunHandle, finished: list[str]) -> int:
    """Ctrl-C during ``audiochain run``: cancel, wait at most ``STOP_WAIT_S``, say what finished
    (nodes, files written) and exit 130; a second Ctrl-C quits at once."""
    handle.cancel()
    print("\n" + interrupted_words().format(""), file=sys.stderr, flush=True)
    result = None
    try:
        try:
            result = handle.result(STOP_WAIT_S)     # (it may have finished as Ctrl-C came: its files are written)
        except Cancelled as e:
            result = e.result
        except Exception:  # noqa: BLE001 - timed out, or a node failed while stopping
            pass
    except KeyboardInterrupt:
        quit_now()
    done = set(result.ran | result.cached) if result is not None else set(finished)
    done_ids = [n for n in graph.nodes if n in done]        # in graph order
    written = _written(graph, result.outputs if result is not None else {})
    names = ", ".join(done_ids) if done_ids else "none"
    files = ("wrote " + ", ".join(w for w, _ in written)) if written else "no file written"
    print(printable(f"stopped: {len(done_ids)} of {len(graph.nodes)} node(s) finished ({names}); {files}"),
          file=sys.stderr, flush=True)
    if not handle.done():      # a node that does not check for cancellation: do not wait for it
        quit_now()
    return exit_interrupted()


def quit_now(rc: int | None = None) -> NoReturn:
    """Exit at once with ``rc`` (default: 130, see :func:`exit_interrupted`), even with a node still
    running: its worker processes are killed, and Python does not finalize (the editor quitting with
    a thread that would not stop: see ``nodeflow.editor.cli``)."""
    from .atomic import remove_live_temps
    from .worker import end_all_workers
    end_all_workers()
    remove_live_temps()         # an encoder still writing leaves no partial file
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(exit_interrupted() if rc is None else rc)


def _print_levels(path: str) -> None:
    """The written file's loudness, loudness range and true peak (from its tags), on stderr.  (A
    loudness that misses the export's target is the export's warning, which ``-q`` keeps.)"""
    from .audiometa import read_tags
    try:
        t = read_tags(path)
        # as the tag keeps it, to the hundredth (QA99 D3: -14.05 read "-14.1", a missed -14 at a glance)
        print(f"  {float(t['loudness_integrated_lufs']):.2f} LUFS, LRA {float(t['loudness_range_lu']):.1f} LU, "
              f"true peak {float(t['true_peak_dbtp']):.2f} dBTP", file=sys.stderr)
    except (NodeflowError, KeyError, ValueError, OSError):
        pass      # not an audio file AudioChain measured


def _run_to_stdout(args: argparse.Namespace, graph: Graph) -> int:
    """``-o -``: one node's audio as raw float32 on standard output, piece by piece (nodeflow.pipe)."""
    from .pipe import pick_target, pipe_audio
    if sweeps(args, graph) or args.daw:
        raise ParameterError("-o - streams one run's audio to standard output; a sweep or --daw writes files: give "
                             "an output folder (-o out), or --no-sweep")
    if args.target and len(args.target) > 1:
        raise ParameterError(f"-o - streams one node; got --target {' --target '.join(args.target)}")
    if sys.stdout.isatty():
        raise ParameterError("-o -: standard output is a terminal; pipe it into a player or a file "
                             "(e.g. | ffplay -f f32le ...), or give an output folder (-o out)")
    target, port = pick_target(graph, args.target[0] if args.target else None)
    progress = Progress(quiet=args.quiet)
    note = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    frames, closed = pipe_audio(_executor(args), graph, target, port, on_event=progress, device=args.device,
                                allow_outside=args.allow_outside, note=note)
    if closed:                      # not an error (| head wants the start), but not the whole either
        print(f"stopped: the reader closed the pipe ({frames} frame(s) of {target}.{port} were written into it, "
              "what it read of them is its own)", file=sys.stderr)
    elif not args.quiet:
        print(f"streamed {frames} frame(s) of {target}.{port}", file=sys.stderr)
    return 0


def _trace(args: argparse.Namespace, graph: Graph, out_dir: Path) -> TraceHandler | None:
    """``--trace FILE``: every event of the run as JSON lines, private paths replaced (nodeflow.callbacks)."""
    if not getattr(args, "trace", None):
        return None
    from .callbacks import TraceHandler
    try:
        Path(args.trace).parent.mkdir(parents=True, exist_ok=True)      # as -o makes its folder
        return TraceHandler(args.trace, private=[graph.base_dir(), out_dir, Path.cwd()])
    except ParameterError:
        raise ParameterError(f"--trace {args.trace}: the file exists; give a new name (a trace never replaces a "
                             "file)") from None
    except OSError as e:          # (QA: a folder not made yet was 'a file or folder vanished')
        raise ParameterError(f"--trace {args.trace}: cannot write it: "
                             f"{os_error_words(e, fix='choose a folder you can write to')}") from None


def _run_sweep(args: argparse.Namespace, graph: Graph, out_dir: Path) -> int:
    """A sweep holds its output folder (one sweep at a time: manifests never lose rows)."""
    from .manifest import output_lock
    with output_lock(out_dir):
        return _run_sweep_locked(args, graph, out_dir)


def _run_sweep_locked(args: argparse.Namespace, graph: Graph, out_dir: Path) -> int:
    from .manifest import SweepReport, keep_earlier, recorded_sets, write_manifest
    from .sweep import expand
    axes, mode = sweep_axes(args, graph)
    variants = expand(axes, mode)
    if args.executor == "ray" and "," in args.device:
        raise ParameterError(f"--device {args.device}: a device list is dealt by the local executor; on Ray each "
                             "worker uses its own device: pass one device (or auto)")
    from .sweepcheck import sweep_problems
    if problems := sweep_problems(graph, axes, mode):      # its grid, axes and limits first: no variant is checked
        raise GraphError(problems)                         # for a sweep refused as a whole
    from .sweep import check_variants
    check_variants(graph, variants, out_dir, allow_outside=args.allow_outside, device=args.device)
    total = len(variants)
    done = [0]
    if note := keep_earlier(out_dir, {v.name for v in variants})[0]:
        print(note, file=sys.stderr)                # with -q too: it is about the folder's files

    def on_variant(r: VariantResult) -> None:
        done[0] += 1
        said = "".join(f"; warning {n}: {printable(w)}" for n, ws in sorted(r.warnings.items()) for w in ws)
        if not args.quiet or said:          # a warning is said with -q too (it is about the result)
            extra = f": {printable(r.error)}" if r.error else ""
            print(f"[{done[0]}/{total}] {r.variant.name} {r.status} ({r.elapsed_s:.2f} s){extra}{said}", file=sys.stderr)

    if not args.quiet:
        print(f"sweep: {total} variant(s) ({mode}) on the {args.executor} executor -> {out_dir}", file=sys.stderr)
        from .sweep import split_notice
        for line in filter(None, (split_notice(a.name, a.values) for a in axes if not a.listed)):
            print(line, file=sys.stderr)
    daw_parts: list[tuple[int, DawPart]] = []   # --daw: (variant index, its tracks) (a local sweep only; check_daw refuses Ray)
    if args.executor == "ray":
        from .distributed import run_sweep_ray
        results = run_sweep_ray(graph, variants, out_dir, address=args.address, device=args.device,
                                on_variant=on_variant)
    else:
        results = _local_sweep(args, graph, variants, out_dir, daw_collector(args, graph, on_variant, daw_parts))
    report = SweepReport(str(Path(getattr(args, "source", None) or args.graph).resolve()), mode,
                         [{"param": a.name, "values": [getattr(v, "value", v) for v in a.values]} for a in axes],
                         results, executor=args.executor, sets=recorded_sets(graph, args.set))
    js, cs = write_manifest(report, out_dir, graph)
    if any(r.status == "cancelled" for r in results):     # Ctrl-C: what finished is on record, the rest says so
        ok = sum(r.status == "ok" for r in results)
        from .atomic import remove_live_temps
        remove_live_temps()                          # an encoder's temp file still open in a cancelled variant
        for r in results:
            if r.status == "cancelled":             # (QA: a cancelled variant left its empty folder)
                with contextlib.suppress(OSError):
                    os.rmdir(r.output_dir)
        print(f"stopped: {ok} of {total} variant(s) finished; manifest: {js} and {cs} (the cancelled ones are "
              "listed as such)", file=sys.stderr)
        # a variant's node may still be in an encoder that cannot be stopped: leave at once, as a single run
        # does, rather than tear the interpreter down under it (QA: a segmentation fault at exit, 3 in 5)
        from .manifest import LOCK_NAME
        with contextlib.suppress(OSError):
            (out_dir / LOCK_NAME).unlink()
        quit_now()
        return exit_interrupted()
    failed = report.failed
    print(f"{total - len(failed)}/{total} variant(s) ok; manifest: {js} and {cs}")
    # variants finish in any order (they run side by side): tracks follow the variants' order
    write_daw(args, graph, [part for _, part in sorted(daw_parts, key=lambda p: p[0])])
    if failed:
        for r in failed:
            print(f"  {r.variant.name}: {r.status}: {printable(r.error)}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _local_sweep(args: argparse.Namespace, graph: Graph, variants: list[Variant], out_dir: Path,
                 on_variant: Callable[[VariantResult], None]) -> list[VariantResult]:
    """:func:`.sweep.run_sweep` on a thread the first Ctrl-C stops: no new variant starts, the running
    ones are cancelled, and every variant comes back (those that did not finish as ``cancelled``) so
    the manifest records what was made (QA: Ctrl-C left 235 variant folders and no manifest); after a
    second Ctrl-C, or with a variant that does not stop, it comes back at once all the same."""
    from .sweep import VariantResult, run_sweep
    cancel = threading.Event()
    finished: dict[int, VariantResult] = {}
    box: dict[str, Any] = {}

    def collect(r: VariantResult) -> None:
        finished[r.variant.index] = r
        on_variant(r)

    def work() -> None:
        try:
            box["results"] = run_sweep(graph, variants, out_dir, executor=_executor(args), workers=args.jobs,
                                       device=args.device, keep_values=bool(args.daw), cancel_event=cancel,
                                       allow_outside=args.allow_outside, on_variant=collect, check=False)
        except BaseException as e:  # noqa: BLE001 - raised again on the main thread
            box["error"] = e
    thread = threading.Thread(target=work, name="nodeflow-sweep", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:
        cancel.set()
        print("\n" + interrupted_words().format(" the sweep"), file=sys.stderr, flush=True)
        try:
            thread.join(STOP_WAIT_S * 4)    # a variant that does not stop is left: the caller quits at once
        except KeyboardInterrupt:
            pass
    if "error" in box:
        raise box["error"]
    return box.get("results") or [finished.get(v.index) or VariantResult(v, "cancelled", str(out_dir / v.name),
                                                                         error="sweep interrupted") for v in variants]
