"""A sweep's record: what each variant wrote, how long its audio is, which checkpoints made it
(:class:`OutputSummary`), and the manifest (``manifest.json`` and ``manifest.csv``,
:func:`write_manifest`) with every variant's parameters, seeds, checkpoints, package versions,
durations, outputs, status and error, paths in it portable; :func:`output_lock` holds a sweep's
output folder.  :mod:`nodeflow.sweep` runs the variants.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from .atomic import write_atomic
from .audio import Audio
from .errors import NodeflowError
from .graph import Graph
from .outputs import first_missing, prune_empty

if TYPE_CHECKING:   # the sweep imports this module
    from .sweep import VariantResult

__all__ = ["PROMPT_NODE", "PROVENANCE_KEYS", "OutputSummary", "SweepReport", "file_sha256", "output_lock",
           "package_versions", "portable", "portable_path", "summarize_outputs", "write_manifest", "recorded_sets",
           "replayed_sets", "keep_earlier", "in_folder", "rerun_values", "EARLIER"]

PROMPT_NODE = "text.prompt_template"     # its output is recorded as a variant's final prompt text


def package_versions() -> dict[str, str]:
    from importlib import metadata
    out = {"python": sys.version.split()[0]}
    for name in ("audiochain", "numpy", "soxr", "soundfile", "pedalboard", "torch", "transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


#: what a model's audio says about the model that made it (its ``info``): the manifest's checkpoints
PROVENANCE_KEYS = ("checkpoint", "revision", "adapter", "adapter_digest")


def summarize_outputs(graph: Graph, outputs: dict[str, dict[str, Any]]) -> tuple[list[str], dict[str, float], dict[str, str]]:
    """Written files (from side-effect nodes), audio durations, and provenance (checkpoints: the
    :data:`PROVENANCE_KEYS` of the audio's ``info``, not its tempo or other tags) of a run."""
    files, durations, prov = [], {}, {}
    for nid, outs in outputs.items():
        spec = graph.spec(nid)
        for port, v in outs.items():
            items = v if isinstance(v, list) else [v]
            for item in items:
                if isinstance(item, Audio):
                    durations[f"{nid}.{port}"] = round(item.duration_s, 6) if not isinstance(v, list) else \
                        round(sum(a.duration_s for a in items), 6)
                    for k, val in item.info:
                        if k in PROVENANCE_KEYS:
                            prov[f"{nid}.{k}"] = val
                elif isinstance(item, str) and spec is not None and spec.side_effect:
                    files.append(item)
    return files, durations, prov


class OutputSummary:
    """``on_output`` for :meth:`Executor.run`: summarises each node's outputs as the run makes them
    (the run releases intermediate values early), then :meth:`merged` gives what
    :func:`summarize_outputs` gives for all of them, in the run's node order."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.per_node: dict[str, Any] = {}
        self.prompts: dict[str, str] = {}      # final text of each text.prompt_template
        self.numbers: dict[str, float] = {}    # every float output ("node.port"), e.g. a scorer's

    def __call__(self, nid: str, outputs: dict[str, Any]) -> None:
        self.per_node[nid] = summarize_outputs(self.graph, {nid: outputs})
        inst = self.graph.nodes.get(nid)
        if inst is not None and inst.type == PROMPT_NODE and isinstance(outputs.get("out"), str):
            self.prompts[nid] = outputs["out"]
        for port, v in outputs.items():
            if type(v) is float:
                self.numbers[f"{nid}.{port}"] = v

    def merged(self, order: Iterable[str]) -> tuple[list[str], dict[str, float], dict[str, str]]:
        """All nodes' summaries in ``order``; a checkpoint is named once, by the first node whose
        audio carries it (the model), not again by each node after it that passes its audio on."""
        files, durations, prov = [], {}, {}
        seen: set[tuple[str, str]] = set()
        for nid in order:
            if nid in self.per_node:
                f, d, p = self.per_node[nid]
                files += f
                durations.update(d)
                for key, val in p.items():
                    if (key.rsplit(".", 1)[-1], val) not in seen:
                        seen.add((key.rsplit(".", 1)[-1], val))
                        prov[key] = val
        return files, durations, prov


@dataclasses.dataclass
class SweepReport:
    graph_path: str
    mode: str
    axes: list[dict[str, Any]]
    results: list[VariantResult]
    executor: str = "local"
    versions: dict[str, str] = dataclasses.field(default_factory=package_versions)
    graph_sha256: str = ""            # of the graph file when the sweep ran; rerun checks it
    sets: list[str] = dataclasses.field(default_factory=list)   # the run's --set NODE.PARAM=VALUE; rerun applies them

    def __post_init__(self) -> None:
        if not self.graph_sha256 and self.graph_path and Path(self.graph_path).is_file():
            self.graph_sha256 = file_sha256(self.graph_path)

    @property
    def failed(self) -> list[VariantResult]:
        return [r for r in self.results if r.status != "ok"]

    def document(self) -> dict[str, Any]:
        return {"graph": self.graph_path, "graph_sha256": self.graph_sha256, "mode": self.mode, "axes": self.axes, "executor": self.executor,
                "versions": self.versions, "set": self.sets, "variants": [r.row() for r in self.results]}


def file_sha256(path: str | os.PathLike[str]) -> str:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_ABS_PATH = re.compile(r"(?<![\w.~])/(?:[^\s'\",;:()\[\]{}<>|]+)")


def portable_path(path: str, base: Path) -> str:
    """``path`` as the manifest stores it: an absolute one as :func:`.places.shared_path` has it
    (relative to ``base``, the output folder, when near it, else by file name): a shared manifest
    shows no one's folder layout."""
    from .places import shared_path
    return shared_path(path, base, base) if Path(path).is_absolute() else path


def portable(doc: Any, base: Path) -> Any:
    """``doc`` with every absolute path in its strings made portable (:func:`portable_path`)."""
    if isinstance(doc, dict):
        return {k: portable(v, base) for k, v in doc.items()}
    if isinstance(doc, list):
        return [portable(v, base) for v in doc]
    if isinstance(doc, str) and "/" in doc:
        return _ABS_PATH.sub(lambda m: portable_path(m.group(), base), doc)
    return doc


GRAPH_KEY = "graph"      # the swept graph, among the far files :func:`.places.remember_manifest` notes

LOCK_NAME = ".audiochain-sweep.lock"     # held in a sweep's output folder while it runs


@contextlib.contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold the output folder for one sweep at a time: a second sweep into the same folder is refused
    (its manifest would replace the running one's rows) with one line."""
    import fcntl

    made = first_missing(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = out_dir / LOCK_NAME
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NodeflowError(f"{out_dir}: another sweep is writing into this folder; wait for it to finish "
                                "or choose another -o (two sweeps' manifests would overwrite each other)") from None
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)
        prune_empty(made)               # a sweep that wrote nothing leaves no folder behind


def recorded_sets(graph: Graph, sets: Sequence[str]) -> list[str]:
    """A run's ``--set`` values as its manifest records them for ``rerun``: a relative path that names
    a file or folder (an adapter, a local checkpoint, an input) made whole against the graph's folder,
    which the manifest then keeps relative to itself (:func:`.manifest.portable`).  A path written to
    (an export's) stays as typed: it names a file in each variant's folder."""
    return _made_whole(graph, sets or (), graph.base_dir(), typed=True)


def replayed_sets(graph: Graph, recorded: Any, folder: Path) -> list[str]:
    """The ``--set`` values a manifest in ``folder`` records, its relative paths (kept relative to the
    manifest) made whole again; QA64: rerun left them out and rendered other audio with exit 0.  They
    come from a file, perhaps another's: ``rerun`` applies them as a saved sweep's values, a path
    written to kept inside the output folder (QA66 H1)."""
    return _made_whole(graph, [str(item) for item in recorded] if isinstance(recorded, list) else [], folder)


def _made_whole(graph: Graph, sets: Sequence[str], folder: Path, typed: bool = False) -> list[str]:
    """``NODE.PARAM=VALUE`` items, a relative VALUE that names something in ``folder`` made whole
    (not a path the node writes to); ``typed`` (the user's own ``--set``): one from ``~`` too."""
    out = []
    for item in sets:
        target, _, text = item.partition("=")
        node, _, param = target.partition(".")
        spec = graph.spec(node) if node in graph.nodes else None
        p = spec.params.get(param) if spec is not None else None
        writes = p is not None and p.kind == "path" and p.path is not None and p.path.mode == "write"
        if typed and text.startswith("~") and not writes:     # one's own, from home: as its full path, which the
            whole: Path | None = Path(text).expanduser()   # manifest keeps by name (QA97 D3: '~/...' was refused)
        else:
            whole = folder / text if text and not writes and not Path(text).expanduser().is_absolute() else None
        out.append(f"{target}={whole}" if whole is not None and whole.exists() else item)
    return out


EARLIER = "manifest.earlier"       # an earlier sweep's manifest, kept where a new sweep in its folder would replace it


def keep_earlier(out_dir: Path, names: set[str]) -> tuple[str, str]:
    """Keep the manifest of an earlier sweep in ``out_dir`` as :data:`EARLIER` (``manifest.earlier-2``,
    ``-3`` ... where that is taken: QA122 D2, a third sweep replaced the first one's) where its variant
    folders stay and this sweep (variant folders ``names``) does not make them again; returns what to
    say and the file kept (``("", "")`` when there is nothing to keep).  QA64 D7: a second sweep into a
    folder replaced the manifest, and the first sweep's takes stayed with nothing describing them."""
    path = out_dir / "manifest.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["variants"]
        left = [str(r["name"]) for r in rows if str(r["name"]) not in names and (out_dir / str(r["name"])).is_dir()]
    except (OSError, ValueError, KeyError, TypeError):
        return "", ""
    if not left:
        return "", ""
    kept, n = EARLIER, 1
    while any(os.path.lexists(out_dir / f"{kept}{ext}") for ext in (".json", ".csv")):
        n += 1
        kept = f"{EARLIER}-{n}"
    for ext in (".json", ".csv"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(out_dir / f"manifest{ext}", out_dir / f"{kept}{ext}")
    return (f"note: {out_dir} holds an earlier sweep's {len(left)} variant folder(s) that this sweep does not make "
            f"again ({', '.join(left[:3])}{' ...' if len(left) > 3 else ''}); its manifest is kept as {kept}.json "
            "(`audiochain rerun` reads it)"), f"{kept}.json"


def in_folder(rows: list[dict[str, Any]], out_dir: Path) -> list[dict[str, Any]]:
    """``rows`` with each ``output_dir`` relative to ``out_dir``, as their ``outputs`` are (QA64: a
    relative ``-o out/t`` kept ``out/t/v000_...``, and each resume of a tune put ``out/t`` before it again)."""
    base = out_dir.resolve()
    out = []
    for row in rows:
        folder = row.get("output_dir")
        if folder:
            with contextlib.suppress(ValueError, OSError):
                row = dict(row, output_dir=Path(folder).resolve().relative_to(base).as_posix())
        out.append(row)
    return out


def write_manifest(report: SweepReport, out_dir: Path, graph: Graph | None = None) -> tuple[Path, Path]:
    """Write ``manifest.json`` and ``manifest.csv`` atomically; paths in them are relative to
    ``out_dir`` (or file names), never absolute, but for the files a row's values name for the nodes of
    ``graph`` (the graph swept) to read, kept relative to the graph's folder, where ``rerun`` reads them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    made = report.document()
    made = dict(made, variants=in_folder(made["variants"], out_dir))
    if graph is not None:
        made = _map_reads(made, graph, _whole)
    doc = portable(_map_reads(made, graph, _kept) if graph is not None else made, out_dir)
    js = json.dumps(doc, indent=2, default=str)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["index", "name", "status", "params", "seed", "checkpoints", "durations_s", "outputs",
                "elapsed_s", "error", "versions", "prompt", "warnings"])
    versions = json.dumps(report.versions, sort_keys=True)
    for row in doc["variants"]:
        w.writerow([row["index"], row["name"], row["status"], json.dumps(row["params"], default=str),
                    json.dumps(row["seed"]), json.dumps(row["checkpoints"]), json.dumps(row["durations_s"]),
                    ";".join(row["outputs"]), row["elapsed_s"], row["error"], versions,
                    row["prompt"] if isinstance(row["prompt"], str) else json.dumps(row["prompt"]),
                    json.dumps(row["warnings"]) if row["warnings"] else ""])
    paths = (out_dir / "manifest.json", out_dir / "manifest.csv")
    for path, text in zip(paths, (js, buf.getvalue())):
        write_atomic(path, text.encode("utf-8"), fsync=False)
    from .places import remember_manifest
    stored, real = rerun_values(doc), rerun_values(made)
    stored[GRAPH_KEY], real[GRAPH_KEY] = doc.get("graph"), made.get("graph")   # (QA97 D6: one's own, far)
    remember_manifest(paths[0], js.encode("utf-8"), stored, real)
    return paths


def _map_reads(doc: dict[str, Any], graph: Graph, how: Callable[[str, Path], str]) -> dict[str, Any]:
    """``doc`` with ``how(value, graph's folder)`` applied to each text value its rows (and axes) give a node
    of ``graph`` to read (an input file, a checkpoint)."""
    from .graphpaths import reads_param
    base = graph.base_dir()

    def one(key: str, value: Any) -> Any:
        nid, _, param = key.partition(".")
        return how(value, base) if isinstance(value, str) and value.strip() and reads_param(graph, nid, param) \
            else value
    rows = [dict(r, params={k: one(k, v) for k, v in r["params"].items()}) if isinstance(r.get("params"), dict)
            else r for r in doc["variants"]]
    axes = [dict(a, values=[one(str(a.get("param")), v) for v in a["values"]]) if isinstance(a.get("values"), list)
            else a for a in doc["axes"]]
    return dict(doc, variants=rows, axes=axes)


def _whole(value: str, base: Path) -> str:
    """A typed value ``rerun`` would take for a stranger's (QA96 D4: ``takes_link/take3.flac``, a link in the
    graph's folder to a far folder, or a long climb) as the absolute path it reads, which :func:`_kept` keeps
    by name and :func:`.places.remember_manifest` notes."""
    from .graphpaths import never_saved
    if os.path.isabs(value) or not never_saved(value, base):
        return value
    return os.path.normpath(base / Path(value).expanduser())


def _kept(value: str, base: Path) -> str:
    """An absolute path kept relative to the graph's folder, as a graph file keeps it
    (:func:`.places.shared_path`: by its name alone where far): a sweep run with ``-o`` elsewhere wrote it
    relative to the manifest, and ``rerun``, which reads a row's values from the graph's folder, looked for
    ``../b/proj/take.wav`` there."""
    from .places import shared_path
    return shared_path(value, base, base) if os.path.isabs(value) else value


def rerun_values(doc: dict[str, Any]) -> dict[str, Any]:
    """What ``rerun`` applies of a manifest ``doc``: each row's values (``"row:INDEX:node.param"``) and
    each ``--set`` value (``"set:N"``), by key, for :func:`.places.remember_manifest` and
    :func:`.places.recalled`."""
    out: dict[str, Any] = {}
    for row in doc.get("variants") or []:
        if isinstance(row, dict) and isinstance(row.get("params"), dict):
            out.update({f"row:{row.get('index')}:{k}": v for k, v in row["params"].items()})
    sets = doc.get("set")
    for i, item in enumerate(sets if isinstance(sets, list) else []):
        out[f"set:{i}"] = str(item).partition("=")[2]
    return out
