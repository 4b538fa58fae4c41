"""Graph files: msgpack documents that people share, loaded safely from strangers.

Layout (format ``audiochain.graph``, version :data:`VERSION`)::

    {"format": "audiochain.graph", "version": 1,
     "saved_by": {"audiochain": "0.1.0", "packs": {"builtin": "0.1.0"}},
     "metadata": {"title": "...", "description": "..."},
     "nodes": [{"id": "load", "type": "io.load", "version": 1, "params": {"path": "melody.wav"}}],
     "links": [{"from": ["load", "out"], "to": ["resample", "audio"]}],
     "editor": {"positions": {"load": [40.0, 80.0]}},
     "sweep": {"mode": "grid", "axes": [{"param": "gain.gain_db", "values": [-6, 0]}]}}   # optional

Loading never executes code or builds objects from the file: msgpack is decoded with size,
length and nesting limits and no extension types, then every field is type-checked.  Any
malformed input ends in one :class:`FileFormatError` naming the file and the bad field.
Older format versions are upgraded by :data:`MIGRATIONS`; node parameters saved by an older
node version are upgraded by the node pack's registered migrations.
"""
from __future__ import annotations

import math
import os
from pathlib import Path, PurePath
from typing import Any, Callable

import msgpack

from .atomic import shared_mode, write_atomic  # noqa: F401 - shared_mode: kept importable from here
from .errors import FileFormatError
from .graph import _NODE_ID, Graph, Link, NodeInstance
from .graphpaths import local_checkpoints, path_mode, stored_far_reads
from .outputs import resolve
from .places import shared_path
from .registry import Registry, default_registry
from .sweepaxes import saved_axis

__all__ = ["FORMAT", "VERSION", "MIGRATIONS", "dumps", "loads", "save", "load", "opened", "to_document",
           "portable_text", "from_document", "MAX_FILE_BYTES"]

FORMAT = "audiochain.graph"
VERSION = 1
MAX_FILE_BYTES = 16 << 20
MAX_NODES = 10_000
MAX_LINKS = 50_000
MAX_DEPTH = 24
MAX_STR = 1 << 20

# format version n -> function upgrading a document from n to n + 1
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

_AUDIO_MAGIC = (b"RIFF", b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")


# ---------------------------------------------------------------------------------------- writing
def rebase_path(value: str, old_base: Path, new_base: Path) -> str:
    """An input path re-expressed for a graph file living in ``new_base``: always relative (a saved or
    shared file never holds an absolute path of this machine), absolute only across drives (Windows)."""
    from .places import way
    target = Path(os.path.normpath(resolve(value, old_base).absolute()))
    try:
        return way(target, Path(os.path.normpath(new_base.absolute()))).as_posix()
    except ValueError:  # another drive (Windows)
        return str(target)


def by_name(value: Any, file: Path) -> bool:
    """``value`` names an input by its file name alone, and it is not there (a take not sent): it stays a
    name wherever the graph is saved, so a file put beside the graph is read (QA82 D5: Save as wrote
    ``../dl/x/y/z/take.wav``, and the take put beside the saved graph was not found)."""
    return (isinstance(value, str) and bool(value.strip()) and not _absolute(value.strip())
            and "/" not in value and "\\" not in value and not os.path.lexists(file))


def portable_text(value: str) -> str:
    """``value``, except that an absolute path (or ``~/...``) becomes its last part: tags and shared
    files (a bundle's graph, a fine-tuned adapter) never show this machine's folder layout."""
    text = str(value).strip()
    if _absolute(text):
        return PurePath(text.replace("\\", "/")).name or text
    return value


def _absolute(text: str) -> bool:
    return text.startswith("~") or os.path.isabs(text) or bool(PurePath(text).drive)


def _portable(value: Any, base: Path | None) -> Any:
    """A parameter value fit for a file: an absolute path (a local checkpoint folder, say) becomes
    relative to ``base`` (the file's folder), or just its last part when there is no ``base``."""
    if isinstance(value, str) and _absolute(value.strip()):
        return portable_text(value) if base is None else rebase_path(value.strip(), base, base)
    return value


def _unpack_words(e: Exception) -> str:
    """What msgpack's refusal means for a graph file, in its terms (QA: 'ValueError: 3 exceeds
    max_bin_len(0)' named neither the problem nor a fix); the fix is always the sender's."""
    text = str(e)
    words = (("max_bin_len", "it holds raw bytes where a graph has only text, numbers, lists and maps"),
             ("max_ext_len", "it holds a msgpack extension value, which a graph never has"),
             ("strict_map_key", "it has a map whose keys are not text (a graph's maps are keyed by names)"),
             ("max_str_len", f"it holds a text longer than the {MAX_STR >> 20} MiB a graph file allows"),
             ("max_array_len", f"it holds a list longer than the {MAX_LINKS:,} items a graph file allows"),
             ("max_map_len", f"it holds a map larger than the {MAX_NODES:,} entries a graph file allows"))
    for key, said in words:
        if key in text:
            return f"{said}; it was not written by AudioChain or was damaged: ask for the graph again"
    if isinstance(e, UnicodeDecodeError):
        return "it holds text that is not UTF-8; it was not written by AudioChain or was damaged: ask for it again"
    if not text.strip():        # (QA53 D5: the reserved byte 0xC1 gave "FormatError: ; ...")
        return "not an AudioChain graph (not a msgpack graph document; a corrupt or different file?)"
    return f"{type(e).__name__}: {text[:120]}; it was not written by AudioChain or was damaged: ask for it again"


def _clean_saved_by(saved_by: dict[str, Any]) -> dict[str, Any]:
    """Provenance from a file, kept only where well-formed (it is informative, never trusted): the
    AudioChain version text and maps of text to text; anything else from a damaged or crafted file
    is dropped instead of failing later (in the editor, in messages)."""
    clean: dict[str, Any] = {}
    if isinstance(saved_by.get("audiochain"), str):
        clean["audiochain"] = saved_by["audiochain"][:100]
    for key in ("packs", "node_packs", "inputs", "dists"):
        value = saved_by.get(key)
        if isinstance(value, dict):
            clean[key] = {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
    if isinstance(far := saved_by.get("far"), list):     # inputs named by their file name (see nodeflow.places)
        clean["far"] = [k for k in far if isinstance(k, str)]
    if isinstance(place := saved_by.get("place"), str) and len(place) <= 64:
        clean["place"] = place
    return clean


def to_document(graph: Graph, base_dir: str | os.PathLike[str] | None = None, *, portable: bool = False) -> dict[str, Any]:
    """The file document; with ``base_dir`` (a file saved there: a graph file, an exported audio file),
    input paths are rebased to be relative to it (:func:`shared_path`: by their name alone where that
    way would spell this machine's folders; a graph file's :func:`save` remembers where they are), and
    so is any other absolute path in a parameter: no absolute path of this machine is written.  ``portable`` without
    ``base_dir`` (a bundle's graph) reduces absolute paths to their last part.  In memory only
    (``base_dir=None``, not portable: recovery files, Ray tasks), paths stay as they are.
    """
    reg = graph.registry
    nodes = []
    old_base = graph.base_dir()
    # inputs and local checkpoint folders, resolved against the graph's folder: rebased to the file's
    # (QA: a render's embedded graph kept '../ckpt/melody', right for the graph file, wrong beside the audio)
    inputs = {**graph.input_files(), **local_checkpoints(graph, old_base)} if base_dir is not None else {}
    for inst in graph.nodes.values():
        spec = reg.get(inst.type)
        params = {k: (spec.params[k].to_plain(v) if spec and k in spec.params else v) for k, v in inst.params.items()}
        for (nid, name), file in inputs.items():
            if nid == inst.id and not by_name(params[name], file):       # inputs: only with base_dir
                params[name] = shared_path(params[name], old_base, Path(base_dir if base_dir is not None else old_base))
        if portable or base_dir is not None:
            params = {k: _saved("write" if graph.is_own_path(inst.id, k) else
                                "stored" if path_mode(graph, inst.id, k) == "write" else "", v, old_base, base_dir,
                                portable=portable)          # inputs: above
                      for k, v in params.items()}
        nodes.append({"id": inst.id, "type": inst.type,
                      "version": spec.version if spec else (inst.version or 1), "params": params})
    from . import __version__
    from .places import far_keys
    known = [s for i in graph.nodes.values() if (s := reg.get(i.type)) is not None]
    used_packs = sorted({s.pack for s in known} - {""})
    node_packs = {s.id: s.pack for s in known if s.pack}
    for t, p in (graph.saved_by.get("node_packs", {}) if isinstance(graph.saved_by, dict) else {}).items():
        node_packs.setdefault(t, p)   # keep what we know about types from packs not installed here
    sources = {} if portable or base_dir is not None else {f"{nid}.{name}": str(Path(os.path.normpath(path.absolute())))
                                   for (nid, name), path in graph.input_files().items()}
    return {
        "format": FORMAT, "version": VERSION,
        "saved_by": {"audiochain": __version__, "packs": {p: reg.packs.get(p, "") for p in used_packs},
                     **({"dists": dists} if (dists := {p: reg.dists[p] for p in used_packs if p in reg.dists}) else {}),
                     "node_packs": node_packs, "inputs": sources, **far_keys(graph, base_dir)},
        "metadata": graph.metadata,
        "nodes": nodes,
        "links": [{"from": [l.src, l.src_port], "to": [l.dst, l.dst_port]} for l in graph.links],
        "editor": graph.editor,
        **({"sweep": _saved_sweep(graph, old_base, base_dir, portable=portable) if portable or base_dir is not None
            else graph.sweep}
           if graph.sweep else {}),
    }


def _saved(mode: str, value: Any, old_base: Path, base_dir: str | os.PathLike[str] | None, *,
           portable: bool = False) -> Any:
    """A parameter value as a file stores it: an absolute write path of the user's own (an export's
    set from Python or in the editor; a sweep's) relative to the file's folder when it lies inside
    it, else by its name, since stored write paths are the
    output folder's (``../../home/you/Music/x.wav`` showed the folder layout and was refused when
    run; one read from a file stays as it was, and is refused when it leaves the output folder);
    an absolute input path relative to the file's folder (a bundle's: its name); a write path read from
    a file (``"stored"``) as it was, but by its name in a shared file; anything else through
    :func:`_portable`."""
    if mode == "write" and isinstance(value, str) and _absolute(value.strip()):
        inside = _under(value.strip(), base_dir) if base_dir is not None and not portable else None
        return inside if inside is not None else portable_text(value)
    if mode == "stored" and isinstance(value, str) and _absolute(value.strip()) and not portable:
        # a write path read from a file means the same saved again (unpacked, run from a bundle): an absolute
        # one stays absolute and is refused when run, as validate says; rebased to the folder it was saved
        # in, it named another place under the output folder (QA: '../../work/decoy/x.wav', and the advice
        # to allow that folder wrote there)
        return value
    if mode == "read" and isinstance(value, str) and value.strip() and base_dir is not None:
        return value if by_name(value, resolve(value, old_base)) else shared_path(value, old_base, Path(base_dir))
    return _portable(value, None if base_dir is None else Path(base_dir))


def _under(value: str, folder: str | os.PathLike[str]) -> str | None:
    """An absolute path inside ``folder`` (where a graph file is saved, its runs' output folder) relative
    to it, or None (QA62: 'out/session.wav' typed whole was saved as 'session.wav', and the graph then
    wrote beside itself, not in out/)."""
    target = Path(os.path.normpath(Path(value).expanduser()))
    base = Path(os.path.normpath(Path(folder).absolute()))
    return target.relative_to(base).as_posix() if base in target.parents else None


def _saved_sweep(graph: Graph, old_base: Path, base_dir: str | os.PathLike[str] | None, *,
                 portable: bool = False) -> dict[str, Any]:
    """``graph.sweep`` with each axis' values stored as its parameter's are (see :func:`_saved`): the
    paths a sweep tries are no absolute paths of this machine either."""
    sweep = dict(graph.sweep)
    axes = []
    for axis in sweep.get("axes", []) if isinstance(sweep.get("axes"), list) else []:
        if saved_axis(axis):
            mode = path_mode(graph, *axis["param"].partition(".")[::2])
            axis = dict(axis, values=[_saved(mode, v, old_base, base_dir, portable=portable) for v in axis["values"]])
        axes.append(axis)
    if "axes" in sweep:
        sweep["axes"] = axes
    return sweep


def dumps(graph: Graph, base_dir: str | os.PathLike[str] | None = None, *, portable: bool = False) -> bytes:
    """The graph as msgpack bytes (what :func:`save` writes and exports embed).

    ``base_dir`` is where the bytes will live (a graph file's or an exported audio file's folder):
    relative input paths are rebased so they still point at the same files from there.
    """
    try:
        packed: bytes = msgpack.packb(to_document(graph, base_dir, portable=portable), use_bin_type=True, strict_types=False)
        return packed
    except (TypeError, ValueError, OverflowError) as e:
        raise FileFormatError(f"graph cannot be saved: {e} (metadata and editor data must be plain "
                              "strings, numbers, lists and maps)") from e


def save(graph: Graph, path: str | os.PathLike[str]) -> Path:
    """Write atomically (temp file + rename): a crash never leaves a half-written graph."""
    path = Path(path)
    if path.exists():
        for (nid, name), src in graph.input_files().items():
            if src.exists() and os.path.samefile(src, path):
                raise FileFormatError(f"{path}: refusing to save the graph over its own input file "
                                      f"(node '{nid}' reads it as {name}); save the graph under another name")
    from .places import far_for_writing, remember_saved
    far = far_for_writing(graph, path.parent)   # named by their file name alone: where they are stays here
    data = dumps(graph, path.parent)
    write_atomic(path, data)
    remember_saved(path, data, far, graph)
    if graph.path is None or Path(graph.path).resolve().parent != path.resolve().parent:
        # the graph now lives elsewhere: keep its in-memory paths pointing at the same files
        for (nid, name), file in {**graph.input_files(), **local_checkpoints(graph)}.items():
            if not by_name(value := graph.nodes[nid].params[name], file):
                graph.nodes[nid].params[name] = rebase_path(value, graph.base_dir(), path.parent)
    graph.path = path
    return path


# ---------------------------------------------------------------------------------------- reading
class _Bad(Exception):
    pass


def _check_plain(x: Any, where: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise _Bad(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if x is None or isinstance(x, (bool, int, str)):
        return
    if isinstance(x, float):
        if not math.isfinite(x):
            raise _Bad(f"{where}: number {x} is not finite")
        return
    if isinstance(x, list):
        for i, v in enumerate(x):
            _check_plain(v, f"{where}[{i}]", depth + 1)
        return
    if isinstance(x, dict):
        for k, v in x.items():
            if not isinstance(k, str):
                raise _Bad(f"{where}: map keys must be text, got {type(k).__name__}")
            _check_plain(v, f"{where}.{k}", depth + 1)
        return
    raise _Bad(f"{where}: unsupported value of type {type(x).__name__}")


def _field(d: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in d:
        if default is ...:
            raise _Bad(f"{where}: missing field '{key}'")
        return default
    v = d[key]
    if not isinstance(v, typ) or (isinstance(v, bool) and typ is int):
        names = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
        raise _Bad(f"{where}.{key}: expected {names}, got {type(v).__name__}")
    return v


def _unpack(data: bytes) -> Any:
    if len(data) > MAX_FILE_BYTES:
        raise _Bad(f"file is {len(data)} bytes; graph files are limited to {MAX_FILE_BYTES >> 20} MiB")
    if not data:
        raise _Bad("file is empty (0 bytes); save the graph again, or ask its sender for it again")
    if data.startswith(_AUDIO_MAGIC):
        raise _Bad("this is an audio file, not a graph file; use `audiochain extract` to get its graph")
    up = msgpack.Unpacker(raw=False, strict_map_key=True, use_list=True, max_buffer_size=MAX_FILE_BYTES,
                          max_str_len=MAX_STR, max_bin_len=0, max_ext_len=0,
                          max_array_len=MAX_LINKS, max_map_len=MAX_NODES)
    up.feed(data)
    try:
        doc = up.unpack()
    except msgpack.OutOfData:
        raise _Bad("file is truncated (cut short while saved or copied); save the graph again, or ask its "
                   "sender for it again") from None
    except msgpack.StackError:
        raise _Bad("data is nested too deeply") from None
    except (msgpack.FormatError, ValueError, UnicodeDecodeError, TypeError) as e:
        raise _Bad(f"not a valid graph file: {_unpack_words(e)}") from None
    if not isinstance(doc, dict):   # a text file, random bytes...: what msgpack makes of them (a number
        # for "hello") would only puzzle
        raise _Bad("not an AudioChain graph (not a msgpack graph document; a corrupt or different file?)")
    try:
        up.unpack()
    except msgpack.OutOfData:
        return doc
    except Exception:
        pass
    raise _Bad("unexpected data after the graph document (file corrupt or concatenated)")


def from_document(doc: Any, registry: Registry | None = None) -> Graph:
    """Build a Graph from a decoded document (raises ``_Bad`` with the field path)."""
    if not isinstance(doc, dict):
        raise _Bad(f"top level must be a map, got {type(doc).__name__}")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise _Bad(f"not an AudioChain graph (format field is {fmt!r}, expected {FORMAT!r})")
    version = _field(doc, "version", int, "header")
    if version > VERSION:
        raise _Bad(f"saved by a newer AudioChain (format version {version}; this one reads up to {VERSION}); "
                   "upgrade AudioChain to open it")
    if version < 1:
        raise _Bad(f"format version {version} is not valid")
    while version < VERSION:
        doc = MIGRATIONS[version](doc)
        version += 1
    _check_plain(doc, "graph")
    g = Graph(registry or default_registry())
    g.metadata = _field(doc, "metadata", dict, "graph", {})
    g.editor = _field(doc, "editor", dict, "graph", {})
    g.saved_by = _clean_saved_by(_field(doc, "saved_by", dict, "graph", {}))
    g.sweep = _field(doc, "sweep", dict, "graph", {})
    nodes = _field(doc, "nodes", list, "graph")
    if len(nodes) > MAX_NODES:
        raise _Bad(f"{len(nodes)} nodes; the limit is {MAX_NODES}")
    for i, nd in enumerate(nodes):
        where = f"nodes[{i}]"
        if not isinstance(nd, dict):
            raise _Bad(f"{where}: expected a map, got {type(nd).__name__}")
        nid = _field(nd, "id", str, where)
        ntype = _field(nd, "type", str, where)
        nver = _field(nd, "version", int, where, 1)
        params = _field(nd, "params", dict, where, {})
        if nid in g.nodes:
            raise _Bad(f"{where}: duplicate node id '{nid}'")
        if not _NODE_ID.match(nid):
            raise _Bad(f"{where}.id: {nid!r} is not a valid node id")
        for k, v in params.items():
            if isinstance(v, (list, dict)):
                raise _Bad(f"{where}.params.{k}: parameters must be single values, got {type(v).__name__}")
        spec = g.registry.get(ntype)
        values = dict(params)
        if spec is not None:
            if nver < spec.version:
                values = g.registry.migrate_params(ntype, nver, values)
            merged = {name: p.default for name, p in spec.params.items()}
            for k, v in values.items():
                p = spec.params.get(k)
                if p is None:
                    merged[k] = v  # kept and reported by validation
                    continue
                try:
                    merged[k] = p.coerce(v)
                except Exception:
                    merged[k] = v  # out of range etc.: kept, reported by validation with the others
            values = merged
        g.nodes[nid] = NodeInstance(nid, ntype, values, nver)
    links = _field(doc, "links", list, "graph", [])
    for i, ln in enumerate(links):
        where = f"links[{i}]"
        if not isinstance(ln, dict):
            raise _Bad(f"{where}: expected a map, got {type(ln).__name__}")
        ends = []
        for key in ("from", "to"):
            end = _field(ln, key, list, where)
            if len(end) != 2 or not all(isinstance(x, str) for x in end):
                raise _Bad(f"{where}.{key}: expected [node, port]")
            ends.append(end)
        g.links.append(Link(ends[0][0], ends[0][1], ends[1][0], ends[1][1]))
    return g


def loads(data: bytes, source: str = "<bytes>", registry: Registry | None = None) -> Graph:
    """Parse graph bytes; any malformed input raises one :class:`FileFormatError` naming ``source``."""
    try:
        return from_document(_unpack(bytes(data)), registry)
    except _Bad as e:
        raise FileFormatError(f"{source}: {e}") from None
    except RecursionError:
        raise FileFormatError(f"{source}: data is nested too deeply") from None


def load(path: str | os.PathLike[str], registry: Registry | None = None) -> Graph:
    """Load a graph file, or the graph embedded in an audio file AudioChain exported.

    Only a regular file is read: a FIFO, a device, a socket or a symlink loop is refused at once
    (:mod:`nodeflow.safeio`), so a path a stranger chose can never block or read forever."""
    from .safeio import NotRegularFile, check_regular, describe, read_regular
    path = Path(path)
    try:
        size = check_regular(path).st_size
    except NotRegularFile as e:
        reason = e.strerror or str(e)
        if reason.startswith("is a folder"):
            raise FileFormatError(f"{path}: is a folder, not a graph file") from None
        raise FileFormatError(describe(path, reason)) from None
    from .bundle import BUNDLE_SUFFIX, is_bundle, read_bundle
    if is_bundle(path):   # inspected in place, nothing written; input paths are the bundle's files/...
        return read_bundle(path, registry).graph
    if path.suffix.lower() == BUNDLE_SUFFIX:      # (QA: validate called it 'not an AudioChain graph')
        raise FileFormatError(f"{path}: not a valid bundle: it is not a zip archive (damaged, cut short or "
                              "another file renamed); ask the sender for it again")
    embedded = _looks_like_audio(path)
    try:
        if size > MAX_FILE_BYTES and not embedded:
            raise FileFormatError(f"{path}: file is {size} bytes; graph files are limited to {MAX_FILE_BYTES >> 20} MiB")
        if embedded:
            from .audiometa import read_embedded_graph
            data = read_embedded_graph(path)
            if data is None:
                raise FileFormatError(f"{path}: this audio file holds no AudioChain graph (AudioChain embeds one in what "
                                      "it exports, with embed_graph on); give a graph file (.msgpack) or "
                                      "audio AudioChain exported")
        else:
            data = read_regular(path, MAX_FILE_BYTES)
    except NotRegularFile as e:
        raise FileFormatError(describe(path, e.strerror or str(e))) from None
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a folder, not a graph file") from None
    except PermissionError:
        raise FileFormatError(f"{path}: permission denied") from None
    except OSError as e:
        raise FileFormatError(f"{path}: cannot be read ({e.strerror or e})") from None
    return opened(data, path, registry)


def opened(data: bytes, path: Path, registry: Registry | None = None) -> Graph:
    """The graph ``data`` holds, read from the file ``path`` (a graph file's bytes, or those an audio file
    embeds) as :func:`load` gives it: its relative paths from that file's folder, what it stores as AudioChain
    never saves noted, and the far inputs this machine remembers for it found again."""
    g = loads(data, str(path), registry)
    g.path = path
    from .places import found_again, saved_here
    # before far inputs are found again: as the file stores them; a file this machine saved (a copy of it, its
    # folder renamed) keeps its own links as its own
    g.foreign_reads = stored_far_reads(g, own=saved_here(data))
    found_again(g, path, data)                  # (a graph file's, or an export's: its audio file's)
    return g


def _looks_like_audio(path: Path) -> bool:
    from .safeio import open_regular
    try:
        with open_regular(path) as f:
            return f.read(4).startswith(_AUDIO_MAGIC)
    except OSError:
        return False
