"""Prompt tuning that listens: render candidates of a graph, score each with a scorer node, refine.

``audiochain tune GRAPH --target "a warm lo-fi piano loop" --budget 32 -o out`` explores

- the slots of every ``text.prompt_template`` (the fields its template uses: ``genre``, ``mood``,
  ``instrument``, ``key``, ``bpm`` from a built-in palette, any field with ``--vary NODE.FIELD=...``),
- every seed parameter (a node parameter named ``seed``),
- parameters named with ``--vary NODE.PARAM=V1,V2|A..B`` (the ``--sweep`` syntax),

renders each candidate as a sweep variant (one executor: work shared by candidates runs once, and
candidates of a generation run side by side), scores it with a scorer node (by default the one the
installed node packs declare for the role ``scorer``, see :func:`nodeflow.families.declare_default`,
against the target text and/or a reference clip; any node type with an audio input and a float
output), and refines: the first generation is the graph as it is plus random candidates,
every later one mutates and crosses the best so far (a local step on ordered values, another value
or a new seed), never rendering a candidate twice, until ``budget`` candidates have been scored.
All draws come from ``random.Random(seed)`` and depend only on the scores before them, so a fixed
seed gives the same candidates and ranking.

The output folder holds one folder of audio per candidate (the graph's exports) and a ranked
manifest (``manifest.json`` and ``.csv``: final prompt text, parameters, seeds, scores, files),
rewritten atomically after every candidate.  It is the tune's state: run the same command again and
the search is replayed, finished candidates are read back instead of rendered.  Each row has the
sweep manifest's ``index``/``name``/``params``, so ``audiochain rerun out/manifest.json N``
re-renders it.

>>> report = tune(graph, target="a warm lo-fi piano loop", budget=32, out_dir="out")  # doctest: +SKIP
>>> report.rows[0]["prompt"], report.rows[0]["score"]                                  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .atomic import write_atomic
from .errors import NodeflowError, ParameterError
from .graph import Graph
from .manifest import file_sha256, in_folder, output_lock, package_versions, portable
from .sweep import Variant, VariantResult, apply_overrides, run_sweep
from .tune_search import FROM_CLI, PALETTE, Candidate, Dimension, Search, build_space, overrides_for, said

if TYPE_CHECKING:   # the executor is imported where a tune runs
    import argparse
    import threading

    from .executor import Executor

__all__ = ["Dimension", "TuneReport", "tune", "build_space", "overrides_for", "Search", "scorer_graph",
           "default_scorer", "PALETTE", "MANIFEST"]



def default_scorer() -> str:
    """The scorer node type an installed node pack declares (role ``scorer``)."""
    from .families import default_for
    found = default_for("scorer")
    if found is None:
        raise ParameterError("no installed node pack declares a scorer; give one with "
                             + said("scorer", "NODE_TYPE", hint=True) + " "
                             "(a node type with an audio input and a float output)")
    return found
SCORER_ID, REFERENCE_ID = "tune_score", "tune_reference"
MANIFEST = "manifest.json"
FORMAT = "audiochain.tune"


# ---------------------------------------------------------------------------------------- the graph
def _audio_outputs(graph: Graph, node: str) -> list[str]:
    from .audio import Audio
    spec = graph.spec(node)
    return [n for n, p in (spec.outputs.items() if spec else ()) if p.type is Audio]


def listened_port(graph: Graph, listen: str | None) -> str:
    """``node.port`` whose audio is scored: ``listen`` (a node or node.port), else what feeds the
    first ``io.export``."""
    if listen:
        node, _, port = listen.partition(".")
        if node not in graph.nodes:
            raise ParameterError(f"{said('listen', listen)}: {graph.no_node(node)}")
        ports = _audio_outputs(graph, node)
        if port and port not in ports or not ports:
            raise ParameterError(f"{said('listen', listen)}: node '{node}' has no audio output"
                                 + (f" '{port}' (audio outputs: {', '.join(ports)})" if ports else ""))
        return f"{node}.{port or ports[0]}"
    for nid, inst in graph.nodes.items():
        if inst.type == "io.export":
            link = next((l for l in graph.links if l.dst == nid), None)
            if link is not None:
                return f"{link.src}.{link.src_port}"
    raise ParameterError("tune writes each candidate's audio through the graph's io.export nodes; the graph has "
                         "none fed: add one (it names the files), or say which audio to score with "
                         + said("listen", "NODE", hint=True))


def scorer_graph(graph: Graph, scorer: str, listen: str, *, target: str = "",
                 reference: str | None = None) -> tuple[Graph, str]:
    """``graph`` plus the scorer node (``tune_score``) listening to ``listen`` (and a reference
    clip's ``io.load``); returns it and the scorer's ``node.port`` that holds the score."""
    from .audio import Audio
    g = graph.copy()
    g.sweep = {}
    for taken in (SCORER_ID, REFERENCE_ID):
        if taken in g.nodes:
            raise ParameterError(f"the graph has a node '{taken}'; tune adds a node of that name: rename yours")
    spec = g.registry.get(scorer)
    if spec is None:
        raise ParameterError(f"{said('scorer', scorer)}: no such node type; any node type with an audio input and a "
                             "float output scores (see `audiochain nodes`)")
    audio_in = [n for n, p in spec.inputs.items() if p.type is Audio]
    floats = [n for n, p in spec.outputs.items() if p.type is float]
    if not audio_in or not floats:
        raise ParameterError(f"{said('scorer', scorer)}: a scorer needs an audio input and a float output; it has "
                             f"inputs {', '.join(spec.inputs) or 'none'} and outputs {', '.join(spec.outputs) or 'none'}")
    params: dict[str, Any] = {}
    if target:
        if "text" not in spec.params:
            raise ParameterError(f"{said('target')}: scorer {scorer} has no 'text' parameter to hold it; "
                                 f"drop {said('target')}")
        params["text"] = target
    s = g.add(scorer, id=SCORER_ID, **params)
    g.connect(listen, f"{s.id}.{audio_in[0]}")
    if reference:
        ref_port = "reference" if "reference" in audio_in else (audio_in[1] if len(audio_in) > 1 else None)
        if ref_port is None:
            raise ParameterError(f"{said('reference')}: scorer {scorer} has no second audio input to compare with")
        r = g.add("io.load", id=REFERENCE_ID, path=str(Path(reference).resolve()))
        g.connect(r.id, f"{s.id}.{ref_port}")
    return g, f"{SCORER_ID}.{'score' if 'score' in floats else floats[0]}"


def _check_scoring(scored: Graph, reference: str | None, executor: Executor | None) -> None:
    """What the scorer needs, before a candidate is rendered (QA: a whole budget was rendered, then
    every candidate failed at scoring): something to score against, and a reference clip that
    decodes (it is loaded now, once; the run takes it from the cache)."""
    inst, spec = scored.nodes[SCORER_ID], scored.spec(SCORER_ID)
    against = spec is not None and "text" in spec.params and "reference" in spec.inputs     # a text, a clip or both
    if against and not str(inst.params.get("text") or "").strip() and not reference:
        raise ParameterError(f"{inst.type} scores against a text or a reference clip, and got neither; give "
                             f"{said('target', 'TEXT', hint=True)} (what it should sound like) or "
                             f"{said('reference', 'CLIP', hint=True)}")
    own = [p for p in scored.problems(targets=[SCORER_ID]) if p.startswith(f"node '{SCORER_ID}'")]
    if not own and spec is not None:      # its checkpoint here now, downloaded where it may be (QA124-2: offline,
        from .checkpoints import CheckpointError, resolve           # every candidate was rendered, then refused)
        for param in spec.checkpoint_params:
            try:
                resolve(str(inst.params.get(param) or ""), base_dir=scored.base_dir())
            except CheckpointError as e:
                own.append(f"node '{SCORER_ID}': {e}")
                break
    if own:        # (QA52: a scorer checkpoint not pulled, or mistyped, failed every candidate after its render)
        raise ParameterError(f"the scorer {inst.type} cannot run: " + _unnamed(own[0], SCORER_ID)
                             + (f" (and {len(own) - 1} more)" if len(own) > 1 else "")
                             + "; nothing was rendered (" + ("--scorer-set PARAM=VALUE" if FROM_CLI.get() else
                                                             "scorer_params={'PARAM': VALUE}") + " sets its parameters)")
    if reference:
        from .errors import ExecutionError, GraphError
        from .executor import Executor
        ref = Path(reference)
        if not ref.exists():
            raise ParameterError(f"{said('reference', reference)}: no such file; give the audio clip to compare with")
        if ref.is_dir():
            raise ParameterError(f"{said('reference', reference)}: is a folder; give one audio clip to compare with")
        try:
            (executor or Executor()).run(scored, targets=[REFERENCE_ID])
        except (GraphError, ExecutionError) as e:
            why = "; ".join(e.problems) if isinstance(e, GraphError) else str(e).splitlines()[0]
            raise ParameterError(f"{said('reference', reference)}: " + _unnamed(why, REFERENCE_ID)) from None


def _unnamed(problem: str, nid: str) -> str:
    """``problem`` without its leading ``node 'NID' (type):``: said of a node the tune added itself."""
    import re
    return re.sub(rf"^node '{nid}'( \([^)]*\))?: ", "", problem)


def graph_digest(graph: Graph) -> str:
    doc = {"nodes": sorted((k, v.type, sorted((p, str(getattr(x, "value", x))) for p, x in v.params.items()))
                           for k, v in graph.nodes.items()),
           "links": sorted(map(str, graph.links))}
    return hashlib.sha256(json.dumps(doc, default=str).encode()).hexdigest()


# ---------------------------------------------------------------------------------------- the report
@dataclasses.dataclass
class TuneReport:
    """A tune's settings and its rows, best first (``rows[0]``); ``rendered`` counts the candidates
    this call rendered (the others were read back from the manifest)."""
    settings: dict[str, Any]
    rows: list[dict[str, Any]]
    rendered: int = 0
    manifest: Path | None = None

    @property
    def best(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows and self.rows[0]["status"] == "ok" else None


def _finished(row: dict[str, Any]) -> bool:
    """A manifest row a resumed tune keeps: scored, or judged by the scorer as one it cannot score (the
    same candidate would be judged the same).  A candidate that failed before its scoring, or whose row
    says ``retry`` (refused before anything ran, or its scorer could not run: a checkpoint, the
    network, the disk) is rendered again (QA: an offline tune, run again after ``models pull``,
    rendered nothing; QA52: nor did one whose scorer's checkpoint was missing)."""
    error = str(row.get("error") or "")
    return row.get("status") == "ok" or (row.get("status") == "failed" and not row.get("retry") and (
        error.startswith("the scorer gave no finite score") or f"node '{SCORER_ID}'" in error))


def _row(r: VariantResult, generation: int, score_key: str, dims: Sequence[Dimension]) -> dict[str, Any]:
    row = r.row()
    scores = {k.split(".", 1)[1]: v for k, v in r.numbers.items() if k.startswith(SCORER_ID + ".")}
    score = r.numbers.get(score_key)
    if r.status == "ok" and (score is None or not math.isfinite(score)):
        row["status"], row["error"] = "failed", f"the scorer gave no finite score ({score_key}={score})"
    seeds = {d.key: row["params"].get(d.key) for d in dims if d.kind == "seed"}
    return {"rank": 0, "index": row["index"], "name": row["name"], "status": row["status"],
            "score": score if row["status"] == "ok" else None, "scores": scores, "prompt": row["prompt"],
            "params": row["params"], "seed": seeds, "generation": generation, "outputs": row["outputs"],
            "output_dir": row["output_dir"], "durations_s": row["durations_s"], "checkpoints": row["checkpoints"],
            "elapsed_s": row["elapsed_s"], "error": row["error"], "reads": row["reads"],
            "torch_threads": row["torch_threads"],
            # rendered again by a resumed tune: it failed for a reason outside it, or was refused before
            # anything ran (validating it again costs nothing; QA52: its scorer's checkpoint not pulled)
            **({"retry": True} if r.retry or r.problems else {})}


def ranked(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows best first (score, then index); failed ones last; ``rank`` numbered from 1."""
    order = sorted(rows, key=lambda r: (r["score"] is None, -(r["score"] or 0.0), r["index"]))
    return [dict(r, rank=i + 1) for i, r in enumerate(order)]


def write_tune_manifest(settings: dict[str, Any], rows: Sequence[dict[str, Any]], out_dir: Path) -> Path:
    """``manifest.json`` (the state a resumed tune reads) and ``manifest.csv``, written atomically,
    rows best first; paths relative to ``out_dir``."""
    doc = portable(dict(settings, variants=in_folder(ranked(rows), out_dir)), out_dir)
    js = json.dumps(doc, indent=2, default=str)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["rank", "index", "name", "status", "score", "scores", "prompt", "params", "seed", "outputs",
                "generation", "elapsed_s", "error"])
    for r in doc["variants"]:
        prompt = r["prompt"] if isinstance(r["prompt"], str) else json.dumps(r["prompt"])
        w.writerow([r["rank"], r["index"], r["name"], r["status"], "" if r["score"] is None else repr(r["score"]),
                    json.dumps(r["scores"]), prompt, json.dumps(r["params"], default=str), json.dumps(r["seed"]),
                    ";".join(r["outputs"]), r["generation"], r["elapsed_s"], r["error"]])
    write_atomic(out_dir / "manifest.csv", buf.getvalue().encode("utf-8"), fsync=False)
    return write_atomic(out_dir / MANIFEST, js.encode("utf-8"))


def _differs(key: str, then: Any, now: Any) -> str:
    """What differs between a setting of the earlier tune and this one's, in a few words (QA: the space
    was shown as a Python list cut at 80 characters, mid-value)."""
    if key == "space" and isinstance(then, list) and isinstance(now, list):
        old = {d.get("param"): d for d in then if isinstance(d, dict)}
        new = {d.get("param"): d for d in now if isinstance(d, dict)}
        words = [f"{p} added" for p in new if p not in old] + [f"{p} dropped" for p in old if p not in new]
        words += [f"{p}: other values" for p in new if p in old and new[p] != old[p]]
        return "; ".join(words) or "another order"
    if isinstance(then, dict) and isinstance(now, dict):
        return "; ".join(f"{k}={then.get(k)!r} then, {now.get(k)!r} now" for k in sorted(set(then) | set(now))
                         if then.get(k) != now.get(k))[:200]
    return f"{str(then)[:80]} then"


def _read_state(out_dir: Path, settings: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Finished rows of an earlier run of the same tune, by index; another tune's folder is refused."""
    path = out_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = {int(r["index"]): r for r in doc["variants"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise NodeflowError(f"{path}: cannot read the earlier tune's manifest ({type(e).__name__}); choose another "
                            "-o, or remove the folder to start again") from None
    if doc.get("format") != FORMAT:
        raise NodeflowError(f"{path} is not a tune's manifest (a sweep's?); choose another -o for the tune")
    if not any(_finished(r) for r in rows.values()):
        return {}       # nothing kept to rank new scores with: the tune starts again there, with these settings
        #                 (QA52: a tune whose every candidate failed on a mistyped --scorer-set blocked the fix)
    # the graph last: the scorer's own options (its target text) are in the graph it digests, so the option
    # changed is named before the digest that follows from it (QA: a new --target said "another graph_digest")
    for key in ("target", "reference_sha256", "scorer", "scorer_set", "score", "seed", "population", "space",
                "graph_digest"):
        now = portable(json.loads(json.dumps(settings.get(key), default=str)), out_dir)   # as the manifest holds it
        #     (QA: an absolute --scorer-set checkpoint= was stored relative to the folder: no resume matched)
        if doc.get(key) != now and not (key == "scorer_set" and key not in doc):   # (older manifests: no entry)
            raise NodeflowError(f"{out_dir} holds a tune with another {key} ({_differs(key, doc.get(key), now)}); "
                                "resume it with the same graph and options, or choose another -o")
    from .graphpaths import read_changes
    if changed := read_changes(doc.get("reads") or {}, settings["reads"]):   # (QA: the scorer's folder replaced in
        first = changed[0]                         # place: old and new scores were ranked together)
        raise NodeflowError(f"{out_dir} holds a tune whose candidates were made and scored with another "
                            f"{', '.join(changed)} ({first}: {str(doc['reads'][first])[:22]} then, "
                            f"{settings['reads'][first][:22]} now: a file edited or a checkpoint folder replaced), so "
                            "their scores would not rank with new ones; restore it, or choose another -o")
    return rows


# ---------------------------------------------------------------------------------------- the loop
def _refuse_values(graph: Graph, dims: Sequence[Dimension], out: Path, allow_outside: Sequence[Any],
                   device: str) -> None:
    """Refuse a value to explore that the graph refuses (as ``validate`` would, the checkpoint's own
    checks included), before any candidate renders: ``run --sweep`` refuses it so, and the search spent
    its budget on candidates that failed (QA61 D10: two of three on a stride past the model's window)."""
    base = set(graph.problems(output_dir=out, allow_outside=allow_outside, device=device))
    for d in dims:
        for v in d.values[1:] if d.kind == "param" else ():       # (the first is the graph's own)
            try:
                new = [p for p in apply_overrides(graph, ((d.key, v),)).problems(
                    output_dir=out, allow_outside=allow_outside, device=device) if p not in base]
            except ParameterError as e:
                new = [str(e)]
            if new:
                raise ParameterError(f"{said('vary')} {d.key}: the value {v!r} is refused ({new[0]}); leave it out")


def tune(graph: Graph, *, target: str = "", reference: str | None = None, budget: int = 32,
         out_dir: str | Path = "tune", vary: Sequence[str] = (), scorer: str | None = None,
         scorer_params: dict[str, Any] | None = None, listen: str | None = None, seed: int = 0,
         population: int = 8, slots: bool = True, seeds: bool = True, executor: Executor | None = None, device: str = "auto",
         workers: int | None = None, on_candidate: Callable[[dict[str, Any]], None] | None = None,
         cancel_event: threading.Event | None = None, allow_outside: Sequence[Any] = (),
         source: str | os.PathLike[str] | None = None) -> TuneReport:
    """Search ``graph``'s prompt slots, seeds and ``vary`` parameters for the candidate the scorer
    likes best, rendering ``budget`` candidates into ``out_dir`` (see the module's docstring).

    ``on_candidate(row)`` is called as each candidate is scored (after its row is on disk).  ``source``:
    the file the manifest names as the graph (default: ``graph.path``; a bundle the graph was unpacked from).
    Returns the rows best first; an earlier run into ``out_dir`` is resumed.
    """
    if budget < 1:
        raise ParameterError(f"{said('budget', budget)}: give at least 1 candidate")
    out = Path(out_dir)
    dims = build_space(graph, vary, slots=slots, seeds=seeds)
    if not dims:
        off = [k for k, on in (("slots", slots), ("seeds", seeds))       # what the options turned off (QA52: "the
               if not on and build_space(graph, (), slots=k == "slots", seeds=k == "seeds")]   # graph has no slots")
        named = [f"--no-{k}" if FROM_CLI.get() else said(k, False) for k in off]
        why = (f"{' and '.join(named)} keep{'s' * (len(off) == 1)} the graph's {' and '.join(off)} as they are"
               if off else "the graph has no text.prompt_template slots and no seed parameters")
        raise ParameterError(f"nothing to explore: {why}; name parameters with "
                             + said("vary", "NODE.PARAM=V1,V2", hint=True) + " or A..B")
    _refuse_values(graph, dims, out, allow_outside, device)
    port = listened_port(graph, listen)
    scorer = scorer or default_scorer()
    scored, score_key = scorer_graph(graph, scorer, port, target=target, reference=reference)
    for k, v in (scorer_params or {}).items():
        scored.set(SCORER_ID, k, v)
    _check_scoring(scored, reference, executor)
    path = source or getattr(graph, "path", None)
    settings: dict[str, Any] = {
        "format": FORMAT, "mode": "tune", "graph": str(Path(path).resolve()) if path else "",
        "graph_sha256": file_sha256(path) if path and Path(path).is_file() else "",
        "graph_digest": graph_digest(scored), "target": target,
        "reference": str(Path(reference).resolve()) if reference else "",
        "reference_sha256": file_sha256(reference) if reference else "",
        "scorer": scorer, "score": score_key, "listen": port, "seed": int(seed), "population": int(population),
        "budget": int(budget), "space": [d.describe() for d in dims], "versions": package_versions(),
        "scorer_set": {k: getattr(v, "value", v) for k, v in (scorer_params or {}).items()},
        "reads": scored.read_state()}
    search = Search(graph, dims, seed, population)
    from .devices import one_thread_count
    with output_lock(out), contextlib.ExitStack() as stack:
        done = _read_state(out, settings)
        # every candidate computes with one torch thread count, a resumed tune with its first run's (QA: the
        # count followed the machine's load, and one candidate of five identical runs differed by 2 LSB)
        stack.enter_context(one_thread_count(next((int(r["torch_threads"]) for r in done.values()
                                                   if isinstance(r.get("torch_threads"), int)), None)))
        rows: dict[int, dict[str, Any]] = {}
        history: list[tuple[Candidate, float | None]] = []
        rendered, generation = 0, 0
        from .executor import Executor
        ex = executor or Executor()
        while len(history) < budget:
            # a whole generation proposed, then cut to the budget: a tune resumed with a larger budget
            # proposes what the first run did and renders only the rest (QA: 10 -> 12 rendered one again)
            cands = search.propose(history, search.population)[:budget - len(history)]
            if not cands:
                break                                   # every candidate of a finite space is scored
            start = len(history)
            variants = [Variant(start + i, overrides_for(graph, dims, c)) for i, c in enumerate(cands)]
            todo = []
            for v in variants:
                old = done.get(v.index)
                if old is not None and _finished(old) and \
                        json.dumps(old.get("params"), default=str) == json.dumps(
                            {k: getattr(x, "value", x) for k, x in v.overrides}, default=str):
                    rows[v.index] = dict(old, output_dir=str(out / Path(str(old.get("output_dir") or v.name)).name))
                else:
                    todo.append(v)

            def finished(r: VariantResult, gen: int = generation) -> None:
                if r.status == "cancelled":
                    return
                row = _row(r, gen, score_key, dims)
                rows[row["index"]] = row
                write_tune_manifest(settings, list(rows.values()), out)
                if on_candidate is not None:
                    on_candidate(row)

            if todo:
                results = run_sweep(scored, todo, out, executor=ex, device=device, on_variant=finished,
                                    cancel_event=cancel_event, allow_outside=allow_outside, workers=workers,
                                    check=False)      # a candidate that would be refused fails alone
                rendered += sum(r.status != "cancelled" for r in results)
                if any(r.status == "cancelled" for r in results):
                    from .errors import Cancelled
                    raise Cancelled(f"tune stopped; {len(rows)} candidate(s) are in {out / MANIFEST} and the same "
                                    "command resumes it")
            for c, v in zip(cands, variants):
                history.append((c, rows[v.index]["score"]))
            generation += 1
        write_tune_manifest(settings, list(rows.values()), out)
    return TuneReport(settings, ranked(list(rows.values())), rendered, out / MANIFEST)


def rerun_graph(graph: Graph, row: dict[str, Any]) -> Graph:
    """The graph a manifest row renders (for tests and the editor): ``graph`` with its overrides."""
    return apply_overrides(graph, row["params"].items())


def run_cli(args: argparse.Namespace, graph: Graph, executor: Executor) -> int:
    """``audiochain tune``: the loop with progress on stderr and the ranking's top on stdout (its
    messages name options as typed there: ``--vary``, not ``vary=``)."""
    token = FROM_CLI.set(True)
    try:
        return _run_cli(args, graph, executor)
    finally:
        FROM_CLI.reset(token)


def _say_interrupted(out: Path, budget: int) -> None:
    import sys
    try:
        kept = sum(_finished(r) for r in json.loads((out / MANIFEST).read_text(encoding="utf-8"))["variants"])
    except (OSError, ValueError, KeyError, TypeError):
        kept = 0
    where = f"kept in {out / MANIFEST}" if kept else f"none finished; {out}"
    print(f"interrupted: {kept} of {budget} candidate(s) {where}; the same command continues the tune",
          file=sys.stderr)


def _run_cli(args: argparse.Namespace, graph: Graph, executor: Executor) -> int:
    import sys

    from .term import printable
    scorer_params: dict[str, Any] = {}
    args.scorer = args.scorer or default_scorer()
    spec = graph.registry.get(args.scorer)
    for item in args.scorer_set:
        name, eq, text = item.partition("=")
        p = spec.params.get(name.strip()) if spec is not None else None
        if not eq or p is None:
            raise ParameterError(f"--scorer-set {item!r}: expected PARAM=VALUE with a parameter of {args.scorer}"
                                 + (f" ({', '.join(spec.params)})" if spec is not None else ""))
        scorer_params[name.strip()] = p.parse(text)
    out = Path(args.output) if args.output else Path.cwd() / f"{Path(args.graph).stem}-tune"
    count = [0]

    def progress(row: dict[str, Any]) -> None:
        count[0] += 1
        if not args.quiet:
            score = "-" if row["score"] is None else f"{row['score']:.4f}"
            detail = printable(row["error"] if row["error"] else row["prompt"] if isinstance(row["prompt"], str) else "")
            print(f"[{count[0]}] {row['name']} {row['status']} score {score} {detail}"[:200], file=sys.stderr)

    if not args.quiet:          # text values as split (QA: 'lo-fi, dusty' became two values without a word)
        from .sweep import split_notice
        for line in filter(None, (split_notice(d.key, d.values) for d in build_space(graph, args.vary, slots=False,
                                                                                     seeds=False))):
            print(line, file=sys.stderr)
    from .errors import Cancelled
    try:
        report = tune(graph, target=args.target or "", reference=args.reference, budget=args.budget, out_dir=out,
                      vary=args.vary, scorer=args.scorer, scorer_params=scorer_params, listen=args.listen,
                      seed=args.seed, population=args.population, slots=not args.no_slots, seeds=not args.no_seeds,
                      executor=executor, device=args.device, workers=args.jobs, on_candidate=progress,
                      allow_outside=args.allow_outside, source=args.graph)
    except (KeyboardInterrupt, Cancelled):      # (QA: Ctrl+C exited 130 without a word; run and sweeps say so)
        _say_interrupted(out, args.budget)
        raise
    for row in report.rows[:min(5, len(report.rows))]:
        score = "failed" if row["score"] is None else f"{row['score']:.4f}"
        print(f"{row['rank']:>3}. {score}  {row['name']}  {printable(str(row['prompt']))}")
    failed = [r for r in report.rows if r["status"] != "ok"]
    print(f"{len(report.rows)} candidate(s) ({len(report.rows) - len(failed)} scored, {len(failed)} failed), "
          f"{report.rendered} rendered now; manifest: {report.manifest} (audiochain rerun {report.manifest} INDEX "
          "re-renders a row; the same command renders the failed ones again)")
    if report.best is None and failed:      # (QA: 32 candidates failed the same way, the reason cut at 200 chars)
        print(f"error: every candidate failed; the first: {printable(str(failed[0]['error']))}", file=sys.stderr)
    return 0 if report.best is not None else 1
