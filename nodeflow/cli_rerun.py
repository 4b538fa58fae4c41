"""``audiochain rerun``: render one row of a sweep manifest again, with the same graph, overrides,
``--set`` values and outputs, refused when an input file or checkpoint the row read has changed since
(``--allow-changed`` renders it all the same).

Split from :mod:`nodeflow.cli_run` (the sweep that wrote the manifest); user mistakes print one clear
line in :mod:`nodeflow.cli`.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli import EXIT_OK, _load, apply_sets
from .errors import GraphError, NodeflowError, ParameterError

if TYPE_CHECKING:
    from .graph import Graph
    from .sweep import Variant


def _same_reads(args: argparse.Namespace, graph: Any, variant: Any, row: dict[str, Any]) -> None:
    """Refuse a rerun whose input files or checkpoints changed since the row was rendered (QA: a
    re-exported checkpoint or an edited input rendered other audio without a word)."""
    from .graphpaths import read_changes
    from .sweep import apply_overrides
    then = row.get("reads")
    if not isinstance(then, dict) or getattr(args, "allow_changed", False):
        return
    allowed = getattr(args, "allow_outside", None) or ()
    now = apply_overrides(graph, variant.overrides).read_state(allow_outside=allowed)   # (refused: not opened)
    changed = read_changes(then, now)
    if changed:
        first = changed[0]
        what = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        raise NodeflowError(f"row {args.row} would not reproduce its audio: {what} is not what it was at the sweep "
                            f"({first}: {str(then[first])[:22]} then, {now[first][:22]} now: a file edited or a "
                            "checkpoint folder replaced); restore it, or pass --allow-changed to render with it as it "
                            "is now")


def cmd_rerun(args: argparse.Namespace) -> int:
    """Re-run one manifest row: same graph, same overrides, same outputs (on the same device)."""
    from .sweep import Variant
    from .fileformat import MAX_FILE_BYTES
    from .safeio import NotRegularFile, describe, read_regular
    try:       # a regular file of at most 16 MiB (QA: a FIFO hung, /dev/zero ran out of memory)
        data = read_regular(args.manifest, MAX_FILE_BYTES)
        if len(data) > MAX_FILE_BYTES:
            raise NodeflowError(f"{args.manifest}: file is over {MAX_FILE_BYTES >> 20} MiB, not a sweep manifest; give "
                                "the manifest.json a sweep wrote")
        doc = json.loads(data.decode("utf-8"))
        row = next(r for r in doc["variants"] if str(r["index"]) == str(args.row).strip() or r["name"] == args.row)
        variant = Variant(int(row["index"]), tuple((k, v) for k, v in dict(row["params"]).items()),
                          named=row.get("name") if isinstance(row.get("name"), str) else "")   # its folder's name
        graph_name = str(doc["graph"])
    except NotRegularFile as e:
        raise NodeflowError(describe(args.manifest, e.strerror or str(e))) from None
    except FileNotFoundError:
        raise NodeflowError(f"{args.manifest}: no such file") from None
    except OSError as e:
        raise NodeflowError(f"{args.manifest}: cannot read it ({e.strerror or e}); give the manifest.json a sweep "
                            "wrote") from None
    except RecursionError:
        raise NodeflowError(f"{args.manifest}: not a sweep manifest (nested too deeply); give the manifest.json a "
                            "sweep wrote") from None
    except (ValueError, KeyError, TypeError) as e:   # bad JSON, not UTF-8 text (a graph, audio), wrong shape
        why = (f"it has no {e.args[0]!r} entry" if isinstance(e, KeyError) else "it is not JSON text"
               if isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)) else "its rows are not a sweep's")
        raise NodeflowError(f"{args.manifest}: not a sweep manifest ({why}); give the manifest.json a sweep "
                            "wrote") from None          # (QA: "KeyError: 'variants'" was said)
    except StopIteration:
        rows = [r.get("index") for r in doc["variants"] if isinstance(r, dict)]
        have = f"rows 0 to {len(rows) - 1}" if rows == list(range(len(rows))) and rows else \
            f"{len(rows)} row(s)" if rows else "no rows"
        raise NodeflowError(f"{args.manifest}: no row {args.row}; it has {have} (a row's index or its name, e.g. "
                            f"{doc['variants'][0]['name'] if rows else 'v000_...'})") from None
    own = None if args.graph else _own_graph(args, graph_name, data)
    if not args.graph and own is None:
        _judge_graph_field(args, graph_name, doc)
    doc["graph"] = own or str(Path(args.manifest).resolve().parent / graph_name)   # stored relative to the manifest
    if not args.graph and not os.path.lexists(doc["graph"]):     # (QA88 D3: "no such file", and no word of --graph)
        far = "" if "/" in graph_name else (" (a manifest names a graph more than two folders from it by its file "
                                            "name alone)")
        raise NodeflowError(f"{args.manifest}: row {args.row}'s graph {graph_name!r} is not at {doc['graph']}{far}; "
                            f"pass the graph file with --graph, e.g. audiochain rerun {args.manifest} {args.row} "
                            f"--graph path/to/{Path(graph_name).name}")
    if not args.graph and doc.get("graph_sha256") and Path(doc["graph"]).is_file():
        from .manifest import file_sha256
        if file_sha256(doc["graph"]) != doc["graph_sha256"]:
            raise NodeflowError(f"{doc['graph']} has changed since this sweep ran, so row {args.row} would not "
                                "reproduce its audio; restore the graph file, or pass --graph to rerun with another")
    from .bundle import extracted, is_bundle
    source = args.graph or doc["graph"]
    if is_bundle(source):        # a sweep of a bundle: its packed files as its run had them (QA: "no such file")
        with extracted(source) as graph_file:
            return _rerun(args, _load(str(graph_file)), variant, row, doc.get("set"), data)
    return _rerun(args, _load(source), variant, row, doc.get("set"), data)


def _rerun(args: argparse.Namespace, graph: Graph, variant: Variant, row: dict[str, Any],
           recorded: Any = None, data: bytes = b"") -> int:
    from .executor import Executor
    from .sweep import run_variant
    from .manifest import replayed_sets
    from .graphpaths import from_elsewhere
    folder = Path(args.manifest).resolve().parent
    found, found_sets = _found_again(args, graph, variant, recorded, data)   # judged as stored, read as found
    replayed = replayed_sets(graph, found_sets, folder)
    try:
        apply_sets(graph, replayed, own=False)      # from a file, as a saved sweep's values (QA66 H1)
    except ParameterError as e:
        raise NodeflowError(f"row {args.row} was rendered with --set {' --set '.join(replayed)}, which this graph "
                            f"no longer takes ({e}); restore the graph, or pass --graph") from None
    raw = [str(item) for item in recorded] if isinstance(recorded, list) else []
    from .places import saved_here
    own = saved_here(data)    # a manifest this machine wrote: its links are its own
    for kept, held in zip(raw, replayed):     # a manifest, perhaps another's, read as a graph file (QA89 R1):
        target, _, text = kept.partition("=")      # its values judged as it stores them, refused as they are held;
        for base in (folder, graph.base_dir()):    # one left relative is read from the graph's folder (QA97 D1:
            from_elsewhere(graph, *target.partition(".")[::2], text, base, held.partition("=")[2],   # a link there)
                           own=own)
    for (key, value), (_, held_value) in zip(variant.overrides, found.overrides):   # a row's values are read
        from_elsewhere(graph, *key.partition(".")[::2], value, graph.base_dir(),   # from the graph's folder
                       held_value if isinstance(held_value, str) else "", own=own)  # (QA90 D1: a link there)
    variant = found
    apply_sets(graph, getattr(args, "set", None) or [])     # the user's own, over the recorded ones
    _same_reads(args, graph, variant, row)
    out = Path(args.output) if args.output else Path(args.manifest).resolve().parent / "rerun"
    from .outputs import linked_folder
    if not args.output and (why := linked_folder(out, "rerun's output folder")):    # (QA96 D1: shipped as a link)
        raise NodeflowError(why)
    executor = Executor(disk_cache=None if getattr(args, "no_cache", False) else "default")
    from .devices import one_thread_count
    threads = row.get("torch_threads")
    with one_thread_count(threads if isinstance(threads, int) and threads > 0 else None):   # as the row was made
        r = run_variant(executor, graph, variant, out, device=args.device, allow_outside=args.allow_outside)
    if r.status != "ok":
        if len(r.problems) > 1:              # one per line, as run says them (QA: '\n' in one line)
            raise GraphError(r.problems, source=variant.name)
        raise NodeflowError(f"{variant.name}: {r.error}")
    for f in r.outputs:
        print(f"wrote {f}")
    return EXIT_OK


def _found_again(args: argparse.Namespace, graph: Graph, variant: Variant, recorded: Any,
                 data: bytes) -> tuple[Variant, list[str]]:
    """The row's values and the recorded ``--set`` values with each far input the sweep's manifest names by
    its file name alone back where it lies, where this machine noted it when writing the manifest
    (:func:`.places.recalled`; a graph file's are found again alike): a sweep over takes in a far
    sample folder reruns here, and elsewhere names the file missing as before."""
    from .manifest import rerun_values
    from .places import recalled
    from .sweep import Variant
    sets = [str(item) for item in recorded] if isinstance(recorded, list) else []
    doc = {"variants": [{"index": variant.index, "params": dict(variant.overrides)}], "set": sets}
    values = rerun_values(doc)
    bases = {key: graph.base_dir() if key.startswith("row:") else Path(args.manifest).resolve().parent
             for key in values}
    back = recalled(Path(args.manifest), data, {k: v for k, v in values.items() if isinstance(v, str)}, bases)
    overrides = tuple((k, back.get(f"row:{variant.index}:{k}", v)) for k, v in variant.overrides)
    sets = [f"{item.partition('=')[0]}={back[f'set:{i}']}" if f"set:{i}" in back else item
            for i, item in enumerate(sets)]
    return Variant(variant.index, overrides, named=variant.named), sets


def _own_graph(args: argparse.Namespace, graph_name: str, data: bytes) -> str | None:
    """The graph of a manifest this machine wrote where the sweep's output folder lay far from its graph (so
    the manifest names it by its file name alone), back where it is (:func:`.places.recalled`; QA97 D6: one's
    own sweep run with ``-o`` elsewhere needed ``--graph``); None for any other manifest."""
    from .manifest import GRAPH_KEY
    from .places import recalled
    folder = Path(args.manifest).resolve().parent
    found = recalled(Path(args.manifest), data, {GRAPH_KEY: graph_name}, {GRAPH_KEY: folder}).get(GRAPH_KEY)
    return found if found is not None and found != graph_name else None


def _judge_graph_field(args: argparse.Namespace, graph_name: str, doc: dict[str, Any]) -> None:
    """Refuse a manifest's ``graph`` that AudioChain never writes (QA96 D2: a stranger's manifest named
    ``/home/alice/song/memo.msgpack``, ``../../../proj/memo.msgpack`` or a link shipped beside it, without a
    digest, and ``rerun`` rendered alice's graph, her far inputs found again, into the stranger's folder):
    a sweep writes its graph relative to the manifest, at most two folders up, or by its file name alone,
    with the graph file's digest.  ``--graph`` names the graph as one's own."""
    from .graphpaths import never_saved
    folder = Path(args.manifest).resolve().parent
    fix = f"pass the graph file yourself: audiochain rerun {args.manifest} {args.row} --graph path/to/graph.msgpack"
    full = Path(os.path.normpath(folder / graph_name))
    real = Path(os.path.realpath(full))        # a link shipped beside it: judged by where it leads
    if never_saved(graph_name, folder) or (real != full and never_saved(os.path.relpath(real, folder), folder)):
        raise NodeflowError(f"{args.manifest}: its graph {graph_name!r} is not where a sweep writes it (relative to "
                            f"the manifest, at most two folders up): the manifest came from elsewhere or was edited; "
                            f"{fix}")
    if not doc.get("graph_sha256"):
        raise NodeflowError(f"{args.manifest}: it records no digest of its graph {graph_name!r}, so rerun cannot tell "
                            f"it is the graph the sweep ran (the manifest came from elsewhere or was edited); {fix}")

