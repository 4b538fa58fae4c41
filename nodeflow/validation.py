"""What would stop a graph from running: :meth:`Graph.problems <nodeflow.graph.Graph.problems>`
and :meth:`~nodeflow.graph.Graph.check`, which call these functions.

Every problem is found at once and named with its node, value and fix: unknown node types (and the
pack that would bring them), parameters out of range, required inputs not connected, links between
ports that do not exist or whose types do not fit, cycles, input files missing or unreadable, write
paths a run would refuse, devices this machine lacks, each node's own preflight and what a run would
cost.  What depends only on the graph's content is checked once per content version
(:meth:`~nodeflow.graph.Graph.derived`); what depends on the world, on every call.
"""
from __future__ import annotations

import bisect
import itertools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .audio import AUDIO_RATES
from .errors import GraphError, ParameterError, named
from .types import link_mode, type_name

if TYPE_CHECKING:   # graph.py imports this module
    from .graph import Graph, Link

__all__ = ["problems", "check", "static_problems", "link_problem"]


def problems(graph: Graph, targets: Iterable[str] | None = None, base_dir: Path | None = None, *,
             output_dir: Path | None = None, allow_outside: Iterable[Any] = (),
             device: str = "auto", version: int | None = None) -> list[str]:
    """Every problem in the graph at once (empty list: the graph can run).

    Checks what a run into ``output_dir`` (default: ``base_dir``, else the graph's folder) on
    ``device`` would refuse, without running or writing anything: input files that are missing,
    not regular files or unreadable; write paths outside the output folder or over a file
    AudioChain did not export (unless set by the user or under ``allow_outside``, see
    :mod:`nodeflow.outputs`); inputs a graph file names as AudioChain never saves them (absolute, from
    ``~``, far up: a file from elsewhere or edited) unless under ``allow_outside`` (see
    :func:`~nodeflow.graphpaths.refused_reads`); devices this machine does not have; each node's own preflight.

    Incremental: what depends only on the graph's content (parameters, links, types, cycles)
    is checked once per :meth:`~nodeflow.graph.Graph.content_version`; what depends on the world
    (files, devices, checkpoints, limits) is checked on every call, for the few nodes it concerns.
    """
    from .devices import device_problem, placement_problem
    from .graphpaths import allowed_reads, foreign
    allowed = allowed_reads(graph, tuple(allow_outside))
    version = graph.content_version() if version is None else version
    st = _static(graph, targets, version)
    scope = st["scope"]
    base = Path(base_dir) if base_dir else graph.base_dir()
    out: list[str] = []
    for nid in st["unknown"]:
        out.append(_unknown_type_problem(graph, nid))
    for nid, before, after in st["per_node"]:
        out.extend(before)
        if nid in st["preflight"]:
            inst, spec = graph.nodes[nid], graph.registry[graph.nodes[nid].type]
            try:
                out.extend(named(f"node '{nid}' ({spec.id})", msg, spec.id)
                           for msg in (spec.preflight(dict(inst.params), base) if spec.preflight else []))
            except Exception as e:  # a broken check must not hide the other problems
                out.append(f"node '{nid}' ({spec.id}): could not check what it needs: {e}")
        out.extend(after)
    out.extend(st["structure"])
    for (nid, name), path in graph.input_files(base_dir).items():
        try:
            missing = nid in scope and not path.exists()
        except OSError as e:        # (QA: a 6 KB path was refused without the node's name)
            from .errors import os_error_words
            out.append(f"node '{nid}': input file {name}={_shown(str(graph.nodes[nid].params[name]))!r}: "
                       f"{os_error_words(e)}")
            continue
        if missing and path.is_symlink():       # a link to nothing or a loop: said as such (QA: 'not found')
            from .safeio import special_file
            said = special_file(path) or ""
            said = said if said.startswith("is a symlink loop") else f"is a link to {os.readlink(path)}, which is not there"
            out.append(f"node '{nid}': input file {name}='{graph.nodes[nid].params[name]}' {said}; point the node "
                       "at the file itself")
        elif missing:
            sender = graph.saved_by.get("inputs", {}).get(f"{nid}.{name}") if isinstance(graph.saved_by, dict) else None
            had = f"; where the graph was saved it was {sender}" if sender and sender != str(path) else ""
            far = isinstance(graph.saved_by, dict) and f"{nid}.{name}" in graph.saved_by.get("far", ())
            out.append(f"node '{nid}': input file {name}='{graph.nodes[nid].params[name]}' not found (looked at "
                       f"{path}{had}); " + ("it lay far from the graph's folder where the graph was saved, so the file "
                                            "names it by its file name alone: put it beside the graph or point the "
                                            "node at it" if far else "put the file there or point the node at it"))
        elif nid in scope and not foreign(graph, nid, name, allowed) \
                and (why := _unreadable(path, _accepts_folder(graph, nid, name))):
            out.append(f"node '{nid}': input file {name}='{graph.nodes[nid].params[name]}' {why}")
    out_dir = Path(output_dir) if output_dir is not None else (Path(base_dir) if base_dir else graph.base_dir())
    from .graphpaths import refused_reads
    out.extend(f"node '{nid}' ({graph.nodes[nid].type}): {why}" for nid, _, _, why in refused_reads(
        graph, tuple(allow_outside), scope))
    for why in _write_problems(graph, scope, out_dir, allow_outside, base_dir, st["acyclic"], version,
                               tried=output_dir is not None, allowed=allowed):
        if " names a folder (" in why:       # the answer: the node's word on its extension goes (QA88 D5:
            param = why[:why.index("=") + 1]     # "cannot tell the format" of a folder's name, said first)
            out = [o for o in out if not (o.startswith(param) and ("cannot tell the format" in o or   # (QA102 D3:
                                                                 " names a folder; " in o))]      # said twice)
        out.append(why)
    run = str(getattr(device, "value", device) or "auto")
    for nid in st["devices"]:
        own = getattr(graph.nodes[nid].params.get("device"), "value", graph.nodes[nid].params.get("device"))
        why = placement_problem(run if run != "auto" else str(own or "auto"), graph.nodes[nid].params.get("precision"))
        if why:
            out.append(f"node '{nid}' ({graph.nodes[nid].type}): {why}"
                       + (" (the run's device: --device, or device= in Python)" if run != "auto" else ""))
    if run != "auto" and not st["devices"] and (why := device_problem(run)):   # no model node says it (QA73 D16:
        out.append(why)                                                           # --device cuda passed unchecked)
    out.extend(st["links"])
    if st["acyclic"]:   # what the run would cost, from parameters and file headers
        from .costlimits import cost_problems
        out.extend(cost_problems(graph, scope, base_dir, version=version, allowed=allowed))
    return out


def _write_problems(graph: Graph, scope: Iterable[str], out_dir: Path, allow_outside: Iterable[Any],
                    base_dir: Path | None, acyclic: bool, version: int, tried: bool = False,
                    allowed: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """What a run into ``out_dir`` would refuse to write: the output folder itself (QA66: a folder
    under a file was blamed on each export's path), then each node's write paths.  ``tried``: a run
    or a validation into an output folder it was given, where the folder is also tried as root
    (:func:`~nodeflow.outputs.refused_folder`), not the editor's check of each edit."""
    from .outputs import clashing_writes, refused_folder, refused_writes, resolve, unwritable
    writes = [k for k in graph.write_paths() if k[0] in scope]
    if writes and (why := unwritable(out_dir / "x")) is not None and not why.startswith("the file name is"):
        why = why.replace(", so x cannot be written there", "").replace("choose another path", "choose another one")
        return [f"output folder {out_dir}: {why}" + ("" if "output folder (-o)" in why else " (-o)")]
    if writes and tried and (why := refused_folder(out_dir)) is not None:     # (QA66: -o /sys/x was 'ok')
        return [f"output folder {out_dir}: {why}"]
    out: list[str] = []
    refused = set()
    inputs = graph.input_files(base_dir)
    # first what no flag lets a run do, replace an input (QA94 D5: a hard link to one was offered --allow-outside)
    for (nid, name), value in graph.write_paths().items():
        if nid not in scope or "\x00" in value:
            continue
        if why := _overwrites_input(inputs, os.path.realpath(resolve(value, out_dir)), f"{name}={_shown(value)!r}"):
            out.append(f"node '{nid}' ({graph.nodes[nid].type}): {why}")
            refused.add((nid, name))
    for nid, name, _, why in refused_writes(graph, out_dir, allow_outside, scope):
        if (nid, name) not in refused:
            out.append(f"node '{nid}' ({graph.nodes[nid].type}): {why}")
            refused.add((nid, name))
    from .safeio import same_file
    for (nid, name), value in graph.write_paths().items():
        if nid not in scope or (nid, name) in refused:
            continue
        target = os.path.realpath(resolve(value, out_dir))
        if graph.path is not None and same_file(target, graph.path):       # (QA44: found only at the export)
            out.append(f"node '{nid}' ({graph.nodes[nid].type}): {name}={_shown(value)!r}: refusing to overwrite the "
                       f"file this graph was opened from ({target}); export to another path (e.g. audiochain run -o "
                       "OTHER_FOLDER)")
        elif why := unwritable(resolve(value, out_dir)):
            out.append(f"node '{nid}' ({graph.nodes[nid].type}): {name}={_shown(value)!r}: {why}")
        elif (folder := _names_a_folder(graph, nid, name, value, out_dir)) is not None:
            out.append(f"node '{nid}' ({graph.nodes[nid].type}): {name}={_shown(value)!r} names a folder ({folder}); "
                       f"give a file name, e.g. {value.rstrip('/')}/out{Path(value).suffix or '.wav'}")
    if acyclic:
        out.extend(_item_write_problems(graph, scope, out_dir, allow_outside, base_dir, inputs, refused, version,
                                        allowed))
    for nid, name, other in clashing_writes(graph, out_dir, scope):
        out.append(f"node '{nid}' ({graph.nodes[nid].type}): {name}={graph.nodes[nid].params[name]!r} is the file "
                   f"node '{other}' writes too, and one would replace the other; give one of them another name")
    return out


def _static(graph: Graph, targets: Iterable[str] | None, version: int) -> dict[str, Any]:
    """What depends only on the graph's content, for a run of ``targets``: derived once per content
    version, through Graph._static_problems, so what runs it is seen there (tests count the calls)."""
    scope_key = None if targets is None else tuple(sorted(set(targets)))
    return graph.derived("problems", scope_key, lambda: graph._static_problems(targets), version)


def memory_room(graph: Graph, targets: Iterable[str] | None, base_dir: Path,
                allow_outside: Iterable[Any] = ()) -> tuple[int, dict[str, int], int]:
    """What the estimated peak of a run of ``targets`` (with ``allow_outside``) leaves of the memory limit
    (bytes): the most an executor may keep of earlier runs' values while it runs
    (:meth:`MemoryCache.hold_at_most`), and what nodes running side by side may take of it; each node's
    estimated working buffers; and the peak (bytes)."""
    from .costlimits import Limits, remembered_estimate
    from .graphpaths import allowed_reads
    version = graph.content_version()
    limits, _ = Limits.from_env()
    scope = _static(graph, targets, version)["scope"]
    est = remembered_estimate(graph, scope, base_dir, version, allowed_reads(graph, tuple(allow_outside)))
    return max(0, limits.memory_bytes - est.peak_bytes), dict(est.step_work), est.peak_bytes


def _item_write_problems(graph: Graph, scope: Iterable[str], out_dir: Path, allow: Iterable[Any],
                         base_dir: Path | None, inputs: dict[tuple[str, str], Path], refused: set[tuple[str, str]],
                         version: int, allowed: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """What a node writing one file per item of a list (``take.wav``: ``take_1.wav`` ...) would refuse
    of those numbered names, for the item counts the estimate knows: a name that leads outside the
    output folder or over a file AudioChain did not export, or an input of the graph.  QA66: these were
    found as each item was written, after the others (validate said ok; the run left some of them).

    A node that would write more files than a run may (``AUDIOCHAIN_MAX_FILES``) is refused for that by
    :func:`~nodeflow.costlimits.cost_problems`, and its names are not listed one by one: a bomb is refused
    from the estimate alone, in a time that does not grow with it (100,000 windows took 20 s here, over
    120 s on a loaded machine)."""
    from .costlimits import Limits, remembered_estimate
    from .outputs import numbered, resolve, write_problem
    est = remembered_estimate(graph, scope, base_dir, version, allowed)
    limits, _ = Limits.from_env()      # the limits cost_problems refuses the run by
    out: list[str] = []
    listed: dict[Path, list[str]] = {}  # each folder's names, read once (not once per item: 20,000 windows, 7 s)
    for (nid, name), value in graph.write_paths().items():
        cost = est.nodes.get(nid)
        if cost is None or cost.guessed or cost.calls < 2 or (nid, name) in refused or nid not in scope:
            continue
        if cost.files > limits.files:   # refused by its count (cost_problems), whatever its names
            continue
        n, own, kind = cost.calls, graph.is_own_path(nid, name), graph.nodes[nid].type
        for i in range(n):
            base = resolve(numbered(value, i, n), out_dir)
            # an item with a label (a stem's name) adds it: take_1_drums.wav, whichever label is there
            for dest in [base, *_labelled(base, listed)]:
                shown = os.path.relpath(dest, out_dir) if not os.path.isabs(value) else str(dest)
                why = write_problem(dest, out_dir, allow, own=own, value=shown) or \
                    _overwrites_input(inputs, dest, f"path={shown!r}")
                if why:
                    out.append(f"node '{nid}' ({kind}): {name}={_shown(value)!r} writes one file per item of its "
                               f"{n}; item {i + 1}: {why}")
                    break
            else:
                continue
            break
    return out


def _labelled(base: Path, listed: dict[Path, list[str]]) -> list[Path]:
    """The files beside ``base`` named as it with a label (``take_1.wav``: ``take_1_drums.wav``, what the
    glob ``take_1_*.wav`` finds), from the folder's names read once into ``listed``."""
    if base.parent not in listed:
        try:
            listed[base.parent] = sorted(os.listdir(base.parent))
        except OSError:                 # no folder there yet (or not one)
            listed[base.parent] = []
    names, head, tail = listed[base.parent], base.stem + "_", base.suffix
    out = []
    for f in names[bisect.bisect_left(names, head):]:      # (sorted: those starting so are together)
        if not f.startswith(head):
            break
        if f.endswith(tail) and len(f) >= len(head) + len(tail):
            out.append(base.parent / f)
    return out


def _overwrites_input(inputs: dict[tuple[str, str], Path], target: str | Path, shown: str) -> str | None:
    """Why writing ``target`` (``shown``: the parameter as the message names it) would replace a file the
    graph reads, or None."""
    from .safeio import same_file
    hit = next(((f"{n}.{k}", p) for (n, k), p in inputs.items() if same_file(target, p)), None)
    if hit is None:
        return None
    read, path = hit        # a hard link or a link is the same file under another name (QA91 D3: not named)
    same = "" if os.path.abspath(target) == os.path.abspath(path) else f", the same file as {path}"
    return (f"{shown} would overwrite an input file of this graph ({target}{same}, which {read} reads); export to "
            "another path or another output folder")


def _names_a_folder(graph: Graph, nid: str, name: str, value: str, out_dir: Path) -> Path | None:
    """The existing folder a file-writing path names (the run refused it as it wrote; QA), or None;
    a path ending in ``/`` is the node's own check, a parameter that takes a folder is left alone."""
    from .outputs import resolve
    spec = graph.spec(nid)
    p = spec.params.get(name) if spec is not None else None
    if p is None or p.path is None or p.path.folder or str(value).rstrip().endswith(("/", "\\")):
        return None
    dest = resolve(value, out_dir)
    try:
        return dest if dest.is_dir() else None
    except OSError:
        return None


def _shown(value: str) -> str:
    """A parameter's text as a message quotes it: a path of kilobytes by its two ends."""
    return value if len(value) <= 60 else f"{value[:28]}...{value[-28:]}"


_PACKAGE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")   # a distribution's name (PEP 508)


def _unknown_type_problem(graph: Graph, nid: str) -> str:
    inst = graph.nodes[nid]
    pack = graph.saved_by.get("node_packs", {}).get(inst.type) if isinstance(graph.saved_by, dict) else None
    if pack and pack != "builtin" and pack not in graph.registry.packs:
        version = graph.saved_by.get("packs", {}).get(pack, "")
        dist = graph.saved_by.get("dists", {}).get(pack, "")     # (QA98 D2: "pip install qa" for qa-pack's pack)
        if not _PACKAGE_NAME.fullmatch(dist):   # a name only, never a command a stranger's file writes (QA100 D3:
            dist = ""                           # "acme; rm -rf ~", "--index-url=http://evil.example/simple acme")
        how = f"install it (pip install {dist})" if dist else \
            f"install the Python package that provides '{pack}' (the graph file does not name it)"
        return (f"node '{nid}': node type '{inst.type}' comes from the node pack '{pack}'"
                + (f" {version}" if version else "") + f", which is not installed here; {how} and open the graph "
                "again")
    return f"node '{nid}': unknown node type '{inst.type}'" + graph.registry._hint(inst.type)


def static_problems(graph: Graph, targets: Iterable[str] | None) -> dict[str, Any]:
    """The problems that depend only on the graph's content, and which nodes need world checks."""
    scope = set(graph.nodes) if targets is None else graph.required_for(targets)
    into = graph.links_by_dst()
    unknown, per_node, preflight, devices = [], [], set(), []
    for nid, inst in graph.nodes.items():
        spec = graph.registry.get(inst.type)
        if spec is None:
            unknown.append(nid)
            continue
        if nid not in scope:
            continue
        before: list[str] = []
        if inst.version is not None and inst.version < 1:       # (QA: version -1 was taken)
            before.append(f"node '{nid}': version {inst.version} is no node version (they count from 1); the file "
                          "was not written by AudioChain or was damaged")
        if inst.version is not None and inst.version > spec.version:
            before.append(f"node '{nid}': saved by {inst.type} version {inst.version}, but this installation "
                          f"has version {spec.version}; update the pack '{spec.pack or 'builtin'}'")
        for k, v in inst.params.items():
            p = spec.params.get(k)
            if p is None:
                before.append(f"node '{nid}' ({spec.id}): unknown parameter '{k}'; its parameters are: "
                              f"{', '.join(spec.params) or 'none'}")
                continue
            try:
                p.coerce(v)
            except ParameterError as e:
                before.append(f"node '{nid}' ({spec.id}): {e}")
        linked = {l.dst_port for l in into.get(nid, ())}
        after = [f"node '{nid}' ({spec.id}): required input '{name}' ({port.type_name}) is not connected"
                 for name, port in spec.inputs.items() if port.required and name not in linked]
        if before or after or spec.preflight is not None:    # nodes with nothing to say are not kept
            per_node.append((nid, before, after))
        if spec.preflight is not None:
            preflight.add(nid)
        if "device" in spec.params:
            devices.append(nid)
    structure = [f"link {l}: no node named '{end}'" for l in graph.links for end in (l.src, l.dst)
                 if end not in graph.nodes]
    acyclic = graph.topological_order() is not None
    if not acyclic:
        import networkx as nx

        g = graph.to_networkx()
        for c in list(itertools.islice(nx.simple_cycles(nx.DiGraph(g)), 5)):
            structure.append("cycle: " + " -> ".join(c + [c[0]]))
    types = graph.output_types()
    links: list[str] = []
    seen_inputs: set[tuple[str, str]] = set()
    for l in graph.links:
        if (l.dst, l.dst_port) in seen_inputs:
            links.append(f"input '{l.dst}.{l.dst_port}' has more than one link")
        seen_inputs.add((l.dst, l.dst_port))
        if l.src in graph.nodes and l.dst in graph.nodes:
            problem = link_problem(graph, l, types)
            if problem:
                links.append(problem)
    structure += metadata_problems(graph.metadata if isinstance(graph.metadata, dict) else {})
    return {"scope": frozenset(scope), "unknown": unknown, "per_node": per_node, "preflight": preflight,
            "devices": sorted(devices), "structure": structure, "links": links, "acyclic": acyclic}


def project_rate(value: Any) -> int | None:
    """The graph's project rate from its metadata ``sample_rate`` (None: unset); raises
    :class:`ParameterError` for one that is no rate."""
    if value in (None, "", 0):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or not AUDIO_RATES[0] <= value <= AUDIO_RATES[1]:
        raise ParameterError(f"graph metadata sample_rate={value!r}: expected a project sample rate in Hz "
                             "(e.g. 44100 or 48000) or nothing")
    return int(value)


def metadata_problems(metadata: dict[str, Any]) -> list[str]:
    """What the graph's metadata holds that no run can use: its project rate, the text tags, tempo and meter
    its exports write (QA: bpm=-5 passed validate; the run wrote the file, then failed)."""
    from .audiometa import GRAPH_TEXT_TAGS
    from .dawproject import check_bpm, parse_meter
    out = [f"graph metadata {key}={_shown(repr(metadata[key]))}: expected text (the exports write it as a tag); fix "
           "it in the graph's metadata, or remove it" for key in GRAPH_TEXT_TAGS      # (QA79 D7: dropped unsaid)
           if metadata.get(key) is not None and (isinstance(metadata[key], bool)
                                                 or not isinstance(metadata[key], (str, int, float)))]
    checks: dict[str, Callable[[Any], Any]] = {"sample_rate": project_rate, "bpm": check_bpm, "meter": parse_meter}
    for key, check in checks.items():
        if metadata.get(key) not in (None, ""):
            try:
                check(metadata[key])
            except ParameterError as e:
                said = str(e).removeprefix("graph metadata ")
                out.append(f"graph metadata {said}; fix it in the graph's metadata, or remove it")
    return out


def check(graph: Graph, targets: Iterable[str] | None = None, source: str | None = None,
          base_dir: Path | None = None, **kw: Any) -> None:
    """Raise :class:`GraphError` listing :func:`problems` (same keywords), if there are any."""
    problems = graph.problems(targets, base_dir, **kw)
    if problems:
        raise GraphError(problems, source)


def link_problem(graph: Graph, l: Link, types: dict[tuple[str, str], Any]) -> str | None:
    """Why link ``l`` cannot be (a port that does not exist, types that do not fit), or None."""
    src_spec, dst_spec = graph.spec(l.src), graph.spec(l.dst)
    if src_spec is None or dst_spec is None:
        return None  # reported as unknown node type
    if l.src_port not in src_spec.outputs:
        return (f"link {l}: node '{l.src}' ({src_spec.id}) has no output '{l.src_port}'; "
                f"outputs are: {', '.join(src_spec.outputs)}")
    if l.dst_port not in dst_spec.inputs:
        return (f"link {l}: node '{l.dst}' ({dst_spec.id}) has no input '{l.dst_port}'; "
                f"inputs are: {', '.join(dst_spec.inputs) or 'none'}")
    src_t = types.get((l.src, l.src_port), src_spec.outputs[l.src_port].type)
    dst_t = dst_spec.inputs[l.dst_port].type
    if link_mode(src_t, dst_t) is None:
        # the fix is the right port (it offered "insert a node that converts": none turns a path into audio)
        return (f"link {l}: type mismatch: '{l.src}.{l.src_port}' gives {type_name(src_t)} but "
                f"'{l.dst}.{l.dst_port}' takes {type_name(dst_t)}; connect a port that gives {type_name(dst_t)}")
    return None


def _accepts_folder(graph: Graph, node_id: str, param: str) -> bool:
    spec = graph.spec(node_id)
    p = spec.params.get(param) if spec else None
    return bool(p is not None and p.path is not None and p.path.folder)


def _unreadable(path: Path, folder_ok: bool = False) -> str | None:
    """Why an existing input cannot be read (None: it can): only regular files are opened, so a
    FIFO or a device never blocks validation; a folder only where the parameter takes one."""
    import os
    import stat
    try:
        st = os.stat(path)
    except OSError as e:
        return f"cannot be examined ({e.strerror or e}); check the path"
    if stat.S_ISDIR(st.st_mode):
        return None if folder_ok else f"is a folder ({path}), not a file; point the node at a file"
    if not stat.S_ISREG(st.st_mode):
        return f"is not a regular file ({path}: a FIFO, device or socket); point the node at an audio file"
    try:
        with open(path, "rb") as f:
            f.read(16)
    except OSError as e:
        return f"cannot be read ({path}: {e.strerror or e}); check its permissions"
    return None
