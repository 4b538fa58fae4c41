"""The files a graph names: input files resolved against the graph's folder, what it would read
outside that folder, its write paths (export targets) and which of them the user set this session.
:class:`~nodeflow.graph.Graph` answers these through its methods of the same names.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection

from .errors import NodeflowError, ParameterError
from .outputs import resolve

if TYPE_CHECKING:   # graph.py imports this module
    from .graph import Graph

__all__ = ["base_dir", "input_files", "input_digests", "path_params", "path_mode", "external_reads", "is_inside",
           "read_state", "write_paths", "is_own_path", "never_saved", "stored_far_reads", "refused_reads",
           "reads_param", "sweep_values", "from_elsewhere", "typed", "foreign", "allowed_reads", "refused_keys"]


def base_dir(graph: Graph) -> Path:
    """The folder relative input paths resolve against: the graph file's, else the cwd."""
    return Path(graph.path).resolve().parent if graph.path else Path.cwd()


def input_files(graph: Graph, base_dir: Path | None = None) -> dict[tuple[str, str], Path]:
    """Every input file the graph reads: ``(node, param) -> resolved path``."""
    base = Path(base_dir) if base_dir is not None else graph.base_dir()
    out = {}
    for nid, name, value in graph.derived("path_params", "read", lambda: path_params(graph, "read")):
        out[(nid, name)] = resolve(value, base)
    return out


def input_digests(graph: Graph, base_dir: Path | None = None, nodes: Collection[str] | None = None,
                  skip: Collection[tuple[str, str]] = ()) -> dict[tuple[str, str], str]:
    """What each input file is, by content: ``(node, param) -> digest`` (of the nodes in ``nodes``, default
    all).  A file counts by its bytes, a folder by its listing, a path whose ``FilePath.content`` finds
    the files it stands for by theirs (QA: an adapter named by its folder, by its file or as a copy missed
    the cache); ``skip``: reads not to open (a rerun's that the run refuses)."""
    from .cache import file_digest, parts_digest
    out = {}
    for (nid, name), path in input_files(graph, base_dir).items():
        if (nodes is not None and nid not in nodes) or (nid, name) in skip:
            continue
        spec = graph.registry.get(graph.nodes[nid].type)
        p = spec.params[name].path if spec is not None else None
        parts = p.content(path) if p is not None and p.content is not None else None
        out[(nid, name)] = parts_digest(parts) if parts else file_digest(path)
    return out


def path_params(graph: Graph, mode: str) -> list[tuple[str, str, str]]:
    """``(node, param, value)`` of every non-empty path parameter opened for ``mode``; a value the
    parameter refuses (a NUL character, too long) is not a path: validation reports it."""
    out = []
    for inst in graph.nodes.values():
        spec = graph.registry.get(inst.type)
        for name, p in (spec.params.items() if spec else ()):
            value = inst.params.get(name)
            if p.kind == "path" and p.path and p.path.mode == mode and isinstance(value, str) \
                    and (value.strip() if mode == "write" else value) and _valid(p, value):
                out.append((inst.id, name, value))
    return out


def path_mode(graph: Graph, node_id: str, param: str) -> str:
    """``"read"`` or ``"write"`` when ``node_id.param`` is a path parameter opened that way, else ``""``."""
    inst = graph.nodes.get(node_id)
    spec = graph.registry.get(inst.type) if inst is not None else None
    p = spec.params.get(param) if spec is not None else None
    return p.path.mode if p is not None and p.kind == "path" and p.path is not None else ""


def _valid(p: Any, value: str) -> bool:
    try:
        p.coerce(value)
    except ParameterError:
        return False
    return True


def checkpoint_values(graph: Graph) -> dict[tuple[str, str], str]:
    """``(node, param) -> value`` of every checkpoint parameter the graph's nodes set (``checkpoint``
    and those a node declares, :attr:`~nodeflow.node.NodeSpec.checkpoint_params`; a node of a type
    not installed here, its ``checkpoint``), blank ones left out."""
    out = {}
    for inst in graph.nodes.values():
        spec = graph.registry.get(inst.type)
        for name in spec.checkpoint_params if spec is not None else ("checkpoint",):
            value = inst.params.get(name)
            if isinstance(value, str) and value.strip():
                out[(inst.id, name)] = value.strip()
    return out


def local_checkpoints(graph: Graph, base_dir: Path | None = None) -> dict[tuple[str, str], Path]:
    """The local checkpoint folders the graph's model nodes name (a hub id is none): ``(node, param)
    -> folder``, resolved as a run resolves them (against the graph's folder); one not there yet is
    included where its value is spelled as a path (``./``, ``../``, ``/``, ``~``)."""
    from .checkpoints import _local_candidate
    base = Path(base_dir) if base_dir is not None else graph.base_dir()
    out = {}
    for key, text in checkpoint_values(graph).items():
        try:
            local = _local_candidate(text, base)
        except (NodeflowError, OSError, ValueError):    # no such folder: a path all the same where it is
            # spelled as one (QA: saved unrebased, unlike an adapter)
            local = base / Path(text).expanduser() if text.startswith((".", "/", "~")) else None
        if local is not None:
            out[key] = local
    return out


def read_state(graph: Graph, base_dir: Path | None = None,
               allow_outside: Collection[str | os.PathLike[str]] | None = None) -> dict[str, str]:
    """What the graph reads, as it is now: ``"node.param"`` -> an input file's content digest, or a
    checkpoint's identity (a local folder's content digest, a hub commit).  A sweep's row and a tune record
    it, so a rerun or a resume whose inputs changed says so instead of rendering other audio.  With
    ``allow_outside`` (a run's), what that run refuses (:func:`refused_reads`) is left out, never opened
    (QA97 D5: a stranger's manifest had ``~/private/...`` hashed, then refused)."""
    from .checkpoints import fingerprint, weights_digest
    base = Path(base_dir) if base_dir is not None else graph.base_dir()
    skip = refused_keys(graph, allow_outside) if allow_outside is not None else frozenset()
    out = {f"{n}.{k}": digest for (n, k), digest in input_digests(graph, base, skip=skip).items()}
    local = local_checkpoints(graph, base)
    for (nid, name), value in checkpoint_values(graph).items():
        if (nid, name) in skip:
            continue
        folder = local.get((nid, name))
        # a local folder by its bytes (read once per process): a copy or a touch is the same model (QA)
        out[f"{nid}.{name}"] = weights_digest(folder) if folder is not None and folder.is_dir() else \
            fingerprint(value, base)["revision"]
    return out


def read_changes(then: dict[str, str], now: dict[str, str]) -> list[str]:
    """``"node.param"`` of each read in ``then`` (a :func:`read_state`) that differs ``now``; a value
    that could not be told then or now (a missing checkpoint) is no change."""
    def told(v: object) -> bool:
        return isinstance(v, str) and not v.startswith(("unresolved:", "missing:", "unreadable:"))
    return sorted(k for k, v in then.items() if k in now and told(v) and told(now[k]) and now[k] != v)


def external_reads(graph: Graph, base_dir: Path | None = None) -> list[tuple[str, str, Path]]:
    """Every file or folder the graph would read outside ``base_dir`` (default: the graph file's
    folder): inputs, adapters and local checkpoint folders, as ``(node, param, real path)``,
    symlinks resolved (a link in the folder that points at ``~/.ssh`` is outside)."""
    base = Path(base_dir) if base_dir is not None else graph.base_dir()
    named = [(nid, name, path) for (nid, name), path in graph.input_files(base).items()]
    named += [(nid, name, path) for (nid, name), path in local_checkpoints(graph, base).items()]
    return [(nid, name, Path(os.path.realpath(path))) for nid, name, path in named if not is_inside(path, base)]


def is_inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """``path`` lies in ``folder`` (or is it), both with their symlinks resolved: what
    :func:`external_reads` lists and ``pack`` refuses without ``outside`` is what this says is not."""
    root, real = os.path.realpath(folder), os.path.realpath(path)
    try:
        return os.path.commonpath([root, real]) == root
    except ValueError:      # another drive
        return False


def never_saved(value: str, base: Path, links: bool = True) -> bool:
    """Whether ``value``, an input path in a graph file whose folder is ``base``, is one AudioChain's save
    never writes there (it keeps such an input by its file name alone: :func:`~nodeflow.places.shared_path`):
    absolute, from ``~``, more than two folders up, through the root, into the home folder from outside it;
    or through a symlink in the folder that leads so far, or up into a hidden folder (QA89 R2: a cloned
    project's link ``keys -> ../.ssh`` read ``keys/id_rsa``), the file's own link too (QA122 D1: ``take.wav ->
    ~/.private/take.wav``; one's own graph finds it again, as it finds any far input it saved).  ``links``
    false: a file's own link is not judged (a file this machine saved, its copy or a renamed folder's: QA126).

    >>> [never_saved(v, Path("/music/song")) for v in ("take.wav", "../kit/kick.wav", "~/x.wav", "/etc/hosts")]
    [False, False, True, True]
    >>> never_saved("../../../../tmp/x.wav", Path("/music/song/a")), never_saved("../.samples/k.wav", Path("/m/s"))
    (True, False)
    """
    text = value.strip()
    if not text or text.startswith("~") or os.path.isabs(text):
        return bool(text)
    from .places import leads_far, shared_path
    return shared_path(text, base, base) != Path(os.path.normpath(text)).as_posix() or (links and leads_far(text, base))


def stored_far_reads(graph: Graph, own: bool = False) -> dict[tuple[str, str], frozenset[str]]:
    """``(node, param) -> values`` the graph file just loaded stores for an input, a checkpoint or a saved
    sweep's value that :func:`never_saved` says AudioChain would not have written: the file came from
    elsewhere or was edited (QA88 D1: one read ``~/.ssh/id_rsa`` into its render, with a note on stderr).
    A run refuses them unless allowed (:func:`refused_reads`); a bundle run unpacked has its own rules.
    ``own``: this machine saved the file (its places remember it: :func:`~nodeflow.places.recall`), so a
    file's own link leading far is one's own set-up, in its copies and renamed folders too (QA126 D2, D3)."""
    from .bundle import is_extracted
    base = graph.base_dir()
    if graph.path is None or is_extracted(base):
        return {}
    found: dict[tuple[str, str], set[str]] = {}
    for nid, name, value in path_params(graph, "read"):
        found.setdefault((nid, name), set()).add(value.strip())
    for key, value in checkpoint_values(graph).items():
        found.setdefault(key, set()).add(value)
    for nid, param, value in sweep_values(graph):
        if reads_param(graph, nid, param):
            found.setdefault((nid, param), set()).add(value.strip())
    far = {key: frozenset(v for v in values if never_saved(v, base, links=not own)) for key, values in found.items()}
    return {key: values for key, values in far.items() if values}


def sweep_values(graph: Graph) -> list[tuple[str, str, str]]:
    """``(node, param, value)`` of each text value of the graph's saved sweep (its well-formed axes)."""
    from .sweepaxes import saved_axis
    axes = graph.sweep.get("axes", []) if isinstance(graph.sweep, dict) else []
    return [(*ax["param"].partition(".")[::2], v) for ax in axes if saved_axis(ax) for v in ax["values"]
            if isinstance(v, str)]


def reads_param(graph: Graph, nid: str, param: str) -> bool:
    """``nid.param`` names something the node reads: an input path or a checkpoint."""
    inst = graph.nodes.get(nid)
    spec = graph.registry.get(inst.type) if inst is not None else None
    return path_mode(graph, nid, param) == "read" or (spec is not None and param in spec.checkpoint_params)


def from_elsewhere(graph: Graph, nid: str, param: str, value: Any, base: Path, held: str = "",
                   own: bool = False) -> None:
    """Note ``nid.param=value`` read from a file other than the graph's (a sweep manifest's rows and --set
    values, which rerun applies: QA89 R1), stored relative to ``base``, as :func:`stored_far_reads` notes
    the graph file's; ``held``: the value as the graph holds it once applied, where spelled otherwise;
    ``own``: this machine wrote that file (as for :func:`stored_far_reads`; QA126 D4)."""
    if isinstance(value, str) and reads_param(graph, nid, param) and never_saved(value, base, links=not own):
        graph.foreign_reads[(nid, param)] = graph.foreign_reads.get((nid, param), frozenset()) | {
            value.strip(), (held or value).strip()}


def typed(graph: Graph, nid: str, param: str, value: Any) -> None:
    """``value``, set by the user (``--set``, ``--sweep``, Python, the editor), is theirs to read whatever a
    file stored (QA89 R6: typed as the graph file stored it, it was refused)."""
    values = graph.foreign_reads.get((nid, param))
    if values is not None and isinstance(value, str) and value.strip() in values:
        graph.foreign_reads[(nid, param)] = values - {value.strip()}


def foreign(graph: Graph, nid: str, param: str | None = None,
            allowed: Collection[tuple[str, str]] = ()) -> bool:
    """Whether node ``nid`` (its ``param``, or any) holds a read its graph's file stored as AudioChain never
    saves (:func:`stored_far_reads`, :func:`from_elsewhere`), but for those in ``allowed`` (``(node, param)``
    a run allows, see :func:`allowed_reads`): neither opened nor probed before the run is allowed to read it
    (QA96 D5: validation opened ``~/.ssh/id_rsa`` and ran ffmpeg on it, then refused it)."""
    inst = graph.nodes.get(nid)
    return inst is not None and any(isinstance(v := inst.params.get(p), str) and v.strip() in values
                                    for (n, p), values in graph.foreign_reads.items()
                                    if n == nid and (param is None or p == param) and (n, p) not in allowed)


def allowed_reads(graph: Graph, allow: Collection[str | os.PathLike[str]] = ()) -> frozenset[tuple[str, str]]:
    """The ``(node, param)`` of each read :func:`foreign` names that a run with ``allow`` (its
    ``--allow-outside``) lets by: opened, probed and estimated as any input (without, an allowed far take
    went uncounted in the memory a run is admitted by)."""
    if not graph.foreign_reads or not allow:
        return frozenset()
    refused = refused_keys(graph, allow)
    return frozenset(k for k in graph.foreign_reads if k not in refused and foreign(graph, *k))


def refused_keys(graph: Graph, allow: Collection[str | os.PathLike[str]] = ()) -> frozenset[tuple[str, str]]:
    """The ``(node, param)`` of each read :func:`refused_reads` gives: reads not to open."""
    return frozenset((n, p) for n, p, _, _ in refused_reads(graph, allow))


def refused_reads(graph: Graph, allow: Collection[str | os.PathLike[str]] = (),
                  scope: Collection[str] | None = None, hint: str = "",
                  swept: bool = False) -> list[tuple[str, str, Path, str]]:
    """The reads a run of ``graph`` refuses: ``(node, param, real path, why)`` for each value of
    :func:`stored_far_reads` a node of ``scope`` still holds (one set since, by ``--set``, in Python or in
    the editor, is the user's own) that lies under no folder of ``allow`` (``--allow-outside``); ``swept``:
    also each such value of the graph's saved sweep (what a variant would hold, and ``pack`` packs)."""
    from .outputs import ALLOW_HINT, allowed_under, quoted
    out, base = [], graph.base_dir()
    held = [(nid, param, inst.params.get(param)) for (nid, param) in graph.foreign_reads
            if (inst := graph.nodes.get(nid)) is not None and (scope is None or nid in scope)]
    for nid, param, value in held + (sweep_values(graph) if swept else []):
        if not isinstance(value, str) or value.strip() not in graph.foreign_reads.get((nid, param), ()):
            continue
        real = Path(os.path.realpath(base / Path(value.strip()).expanduser()))
        if allowed_under(real, allow):
            continue
        out.append((nid, param, real, f"{param}={value!r} reads {real}, outside the graph's folder, by a path "
                    "AudioChain never saves in a graph file (the file came from elsewhere, or was edited); "
                    + (hint or ALLOW_HINT).format(root=quoted(real if real.is_dir() else real.parent))))
    return out


def write_paths(graph: Graph) -> dict[tuple[str, str], str]:
    """Every write path the graph holds (export targets): ``(node, param) -> value`` as stored."""
    return {(nid, name): value for nid, name, value in
            graph.derived("path_params", "write", lambda: path_params(graph, "write"))}


def is_own_path(graph: Graph, node_id: str, param: str) -> bool:
    """The write path ``node_id.param`` was set by the user this session (not read from a file)."""
    inst = graph.nodes.get(node_id)
    return (inst is not None and (node_id, param) in graph.own_paths
            and graph.own_paths[(node_id, param)] == inst.params.get(param))
