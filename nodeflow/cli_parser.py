"""The ``audiochain`` command line's grammar: the parser with every command, its arguments and their
help, the checks of a value as it is typed (``--jobs``, ``--device``, ``--max-memory-gb``, ...), the
commands plug-in packages add, and ``--debug`` accepted after any command.

Each command's function lives beside its kind (:mod:`nodeflow.cli` for validate, pack, unpack and tune,
:mod:`nodeflow.cli_run`, :mod:`nodeflow.cli_inspect`, ...); they are looked up when the parser is
built.  Split from :mod:`nodeflow.cli`, which runs what it parses.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Callable, NoReturn, cast

from .errors import ParameterError
from .term import printable

__all__ = ["build_parser", "EXIT_USAGE", "CLI_ENTRY_POINT_GROUP"]

EXIT_USAGE = 2      # a command line the parser refused (argparse's own status)


def _add_limit_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-memory-gb", type=_gb_arg, metavar="GB",
                   help="refuse a run estimated to need more memory (default: half the RAM; AUDIOCHAIN_MAX_MEMORY_GB)")
    p.add_argument("--max-files", type=_count_arg("--max-files"), metavar="N",
                   help="refuse a run that would write more files (default 1000; AUDIOCHAIN_MAX_FILES)")

def _max_mb_arg(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        n = math.nan
    if not math.isfinite(n) or n <= 0:
        raise argparse.ArgumentTypeError(f"--max-mb {text!r}: expected a size in MiB above 0 (e.g. --max-mb 2048)")
    return n


def _jobs_arg(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--jobs {text!r}: expected a whole number of at least 1 (e.g. --jobs 2)")
    return n


def _gb_arg(text: str) -> float:
    """``--max-memory-gb``: a positive, finite number of GB (1e308 overflowed into a traceback; 0 was
    reported as a bad AUDIOCHAIN_MAX_MEMORY_GB the user never set)."""
    try:
        gb = float(text)
    except ValueError:
        gb = 0.0
    if not math.isfinite(gb) or gb < 0.001:
        raise argparse.ArgumentTypeError(f"--max-memory-gb {text!r}: expected a number of GB, at least 0.001 "
                                         "(e.g. --max-memory-gb 8)")
    return gb


def _count_arg(flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: expected a whole number of at least 1")
        return int(text)
    return parse


def _device_list_arg(text: str) -> str:
    """``--device``: one device or a comma-separated list, spelling checked (not presence: that
    is validation's, so `validate` lists it with the other problems); normalised to ``a,b``."""
    from .devices import parse_device_list
    try:
        return ",".join(parse_device_list(text))
    except ParameterError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _device_arg(text: str) -> str:
    value = _device_list_arg(text)
    if "," in value:
        raise argparse.ArgumentTypeError(f"--device {text!r}: one device here (a list is for sweeps), e.g. cuda:0")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one line (``error: audiochain run: argument --jobs: ...``), not the
    usage block and a line; exit status 2 (a command line argparse refused) as before."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, printable(f"error: {self.prog}: {message} (see {self.prog} --help)") + "\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        """As argparse's, but an unknown option is named with its command's help (QA54: a typo in
        ``run --sett`` sent the user to ``audiochain --help``, which lists no option of ``run``)."""
        ns, extra = self.parse_known_args(args, namespace)
        if extra:
            words = [w for w in (getattr(ns, "command", None), getattr(ns, "models_command", None)) if w]
            prog = " ".join([self.prog, *words])
            self.exit(EXIT_USAGE, printable(f"error: {prog}: unrecognized arguments: {' '.join(extra)} "
                                            f"(see {prog} --help)") + "\n")
        return ns


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    ap = _Parser(prog="audiochain", description="Chain audio models and processing in time.")
    ap.add_argument("--version", action="version", version=f"audiochain {__version__}")
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = cast("argparse._SubParsersAction[argparse.ArgumentParser]",     # (its parsers are _Parser)
               ap.add_subparsers(dest="command", metavar="COMMAND"))

    # each command's function is looked up now, as the parser is built (a test may patch one)
    _add_run(sub)
    _add_rerun(sub)
    _add_tune(sub)
    _add_validate(sub)
    _add_inspecting(sub)
    _add_bundles(sub)
    from .cli_models import add_cli as add_models_cli
    add_models_cli(sub)
    from .cli_cache import add_cli as add_cache_cli
    add_cache_cli(sub)
    _add_plugin_commands(sub)
    _debug_everywhere(sub)
    return ap


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``audiochain run``: a graph headless, a sweep of it, a DAWproject, or audio on standard output."""
    from . import cli_run
    p = sub.add_parser("run", help="run a graph headless")
    p.add_argument("graph", help="graph file (.msgpack) or an audio file AudioChain exported")
    _add_limit_flags(p)
    p.add_argument("-o", "--output", help="folder for exported files (default: the current folder); '-': "
                   "stream a node's audio to standard output as raw float32 instead (--target NODE)")
    p.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE", help="override a parameter")
    p.add_argument("--target", action="append", metavar="NODE", help="compute only what NODE needs")
    p.add_argument("--device", default="auto", type=_device_list_arg, metavar="DEVICE",
                   help="device for model nodes: auto, cpu, cuda, cuda:N, mps; a sweep takes a list "
                   "(cuda:0,cuda:1: variants dealt round-robin)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, summary or loudness lines: only the "
                   "files written, warnings and errors")
    _add_sweep_flags(p)
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk value cache "
                   "(see `audiochain cache info`)")
    p.add_argument("--jobs", type=_jobs_arg, metavar="N", help="run up to N nodes, list items and sweep variants "
                   "at a time (default: the number of CPUs)")
    p.add_argument("--trace", metavar="FILE", help="write every event of the run to FILE (JSON lines, with the "
                   "versions and platform, private paths replaced): attach it to a bug report")
    p.add_argument("--executor", default="local", choices=["local", "ray"], help="where sweep variants run")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--daw", metavar="PATH", help="also write a DAWproject file (Bitwig, Studio One, Cubase): a "
                   "track per export (and sweep variant), each clip at its bar")
    _add_allow_outside(p)
    p.set_defaults(fn=cli_run.cmd_run)


def _add_rerun(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``audiochain rerun``: one row of a sweep manifest again."""
    from . import cli_rerun
    p = sub.add_parser("rerun", help="re-run one row of a sweep manifest")
    p.add_argument("manifest", help="the manifest a sweep wrote in its output folder")
    p.add_argument("row", help="the row's index (0, 1, ...) or its name (v000_gain_db=-6.0)")
    p.add_argument("--graph", help="graph file (default: the one the manifest names)")
    p.add_argument("-o", "--output", help="output folder (default: MANIFEST_DIR/rerun)")
    p.add_argument("--device", default="auto", type=_device_arg, metavar="DEVICE",
                   help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("-q", "--quiet", action="store_true", help="as run's: only the files written, warnings and errors "
                   "(what rerun says anyway; QA72 L6: a command copied from run with -q was refused)")
    p.add_argument("--allow-changed", action="store_true",
                   help="render even though an input file or checkpoint the row read has changed since")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk value cache "
                   "(every node of the row is computed again)")
    p.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override a parameter (over the --set values the sweep ran with, which rerun applies)")
    _add_allow_outside(p)
    p.set_defaults(fn=cli_rerun.cmd_rerun)


def _add_tune(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``audiochain tune``: the search for what a scorer likes best."""
    from . import cli
    p = sub.add_parser("tune", help="search prompt slots, seeds and parameters for what a scorer likes best")
    p.add_argument("graph", help="graph file (.msgpack) to tune")
    p.add_argument("--target", help="text the audio should match (the scorer's text), e.g. 'a warm lo-fi piano loop'")
    p.add_argument("--reference", metavar="AUDIO", help="a clip the audio should sound like")
    p.add_argument("--budget", type=_count_arg("--budget"), default=32, metavar="N",
                   help="candidates to render (default 32)")
    p.add_argument("-o", "--output", help="folder for candidates and the ranked manifest (default: GRAPH-tune); "
                   "an earlier tune there is resumed")
    p.add_argument("--vary", action="append", default=[], metavar="NODE.PARAM=V1,V2|A..B",
                   help="also explore this parameter (or a template field of a text.prompt_template); the --sweep "
                        "syntax: a value with commas goes in a JSON list, NODE.PARAM='[\"a, b\", \"c\"]'")
    p.add_argument("--scorer", default=None, metavar="NODE_TYPE",
                   help="node type that scores (an audio input, a float output; default: the scorer the installed "
                        "node packs declare)")
    p.add_argument("--scorer-set", action="append", default=[], metavar="PARAM=VALUE",
                   help="a scorer parameter, e.g. checkpoint=org/model")
    p.add_argument("--listen", metavar="NODE", help="the node whose audio is scored (default: what feeds the export)")
    p.add_argument("--seed", type=int, default=0, help="seed of the search: the same seed, the same candidates")
    p.add_argument("--population", type=_count_arg("--population"), default=8, metavar="N",
                   help="candidates per generation (8)")
    p.add_argument("--no-slots", action="store_true", help="keep the prompt templates' slots as they are")
    p.add_argument("--no-seeds", action="store_true", help="keep seed parameters as they are")
    p.add_argument("--device", default="auto", type=_device_arg, metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--jobs", type=_jobs_arg, metavar="N", help="candidates rendered at a time (default: CPUs)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk value cache")
    p.add_argument("-q", "--quiet", action="store_true", help="no line per candidate: only the result, warnings "
                   "and errors")
    _add_allow_outside(p, with_set=False)
    p.set_defaults(fn=cli.cmd_tune)


def _add_validate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``audiochain validate``: every problem a run with these options would refuse."""
    from . import cli
    p = sub.add_parser("validate", help="list every problem in a graph (what `run` with these options refuses)")
    p.add_argument("graph", help="graph file (.msgpack) or an audio file AudioChain exported")
    _add_limit_flags(p)
    p.add_argument("-o", "--output", help="the output folder the run would use (default: the current folder)")
    p.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE", help="override a parameter")
    p.add_argument("--device", default="auto", type=_device_list_arg, metavar="DEVICE",
                   help="device for model nodes: auto, cpu, cuda, cuda:N, mps, or a sweep's list (cuda:0,cuda:1)")
    _add_sweep_flags(p)
    _add_allow_outside(p)
    p.set_defaults(fn=cli.cmd_validate)


def _add_inspecting(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``show``, ``nodes`` and ``extract``: a graph, the node types, the graph inside an export."""
    from . import cli_inspect
    p = sub.add_parser("show", help="print a graph readably")
    p.add_argument("graph", help="graph file (.msgpack) or an audio file AudioChain exported")
    p.add_argument("--json", action="store_true", help="print it as JSON (for scripts)")
    p.set_defaults(fn=cli_inspect.cmd_show)

    p = sub.add_parser("nodes", help="list node types with ports and parameters")
    p.add_argument("type", nargs="?", help="a node type id or category")
    p.add_argument("--json", action="store_true", help="print them as JSON (for scripts)")
    p.set_defaults(fn=cli_inspect.cmd_nodes)

    p = sub.add_parser("extract", help="get the graph embedded in an exported audio file")
    p.add_argument("audio", help="an audio file AudioChain exported (its graph is embedded in it)")
    p.add_argument("-o", "--output", help="write it as a graph file")
    p.add_argument("--force", action="store_true", help="replace the file -o names if it exists (never an input)")
    p.set_defaults(fn=cli_inspect.cmd_extract)


def _add_bundles(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``pack`` and ``unpack``: a self-contained bundle of a graph and its input files."""
    from . import cli
    p = sub.add_parser("pack", help="write a self-contained bundle: the graph plus its input files")
    p.add_argument("graph", help="graph file (.msgpack) to pack with the files it reads")
    p.add_argument("-o", "--output", help="bundle file (default: GRAPH.acbundle)")
    p.add_argument("--max-mb", type=_max_mb_arg, default=1024.0, help="refuse bundles larger than this (MiB)")
    p.add_argument("--force", action="store_true", help="replace the bundle if it exists (never an input)")
    p.add_argument("--include-outside", action="store_true",
                   help="also pack input files outside the graph's folder (refused without it: a graph from "
                        "elsewhere could name your own files)")
    p.add_argument("--allow-outside", action="append", default=[], metavar="PATH",
                   help="also pack files under PATH that the graph's file names as AudioChain never saves (an "
                        "absolute path, ~, far up: it came from elsewhere or was edited); run refuses them alike")
    p.set_defaults(fn=cli.cmd_pack)

    p = sub.add_parser("unpack", help="unpack a bundle (never overwrites existing files)")
    p.add_argument("bundle", help="a bundle (.acbundle) that `audiochain pack` wrote")
    p.add_argument("-o", "--output", help="target folder (default: next to the bundle)")
    p.set_defaults(fn=cli.cmd_unpack)

def _add_sweep_flags(p: argparse.ArgumentParser) -> None:
    """``--sweep``, ``--zip`` and ``--no-sweep``: run's, and validate's to check the same variants."""
    p.add_argument("--sweep", action="append", default=[], metavar="NODE.PARAM=V1,V2|A..B",
                   help="run a variant per value (several --sweep: every combination); values are split at "
                        "every comma: a value with commas (a prompt) goes in a JSON list, NODE.PARAM='[\"a, b\", "
                        "\"c\"]'")
    p.add_argument("--zip", action="store_true", help="pair the sweeps' values instead of the full grid")
    p.add_argument("--no-sweep", action="store_true", help="ignore a sweep saved in the graph file")


def _add_allow_outside(p: argparse.ArgumentParser, with_set: bool = True) -> None:
    p.add_argument("--allow-outside", action="append", default=[], metavar="PATH",
                   help="let the graph write under PATH, outside the output folder, and replace files there; "
                        "and read there what its file names as AudioChain never saves (an absolute path...)" +
                   (" (paths given with --set are always allowed)" if with_set else ""))


def _debug_everywhere(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`audiochain run G --debug` works as well as `audiochain --debug run G` (nested commands too)."""
    for p in sub.choices.values():
        if "--debug" not in p._option_string_actions:
            p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                _debug_everywhere(action)


CLI_ENTRY_POINT_GROUP = "audiochain.cli"


def _add_plugin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Subcommands contributed by packages (entry-point group ``audiochain.cli``: a callable
    ``add_cli(subparsers)``), e.g. ``edit`` and ``finetune``; a broken one is reported, not hidden."""
    import importlib.metadata
    for ep in sorted(importlib.metadata.entry_points(group=CLI_ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            ep.load()(sub)
        except Exception as e:  # noqa: BLE001 - a broken plug-in must not take the CLI down
            print(f"warning: command '{ep.name}' ({ep.value}) failed to load: {e}", file=sys.stderr)
