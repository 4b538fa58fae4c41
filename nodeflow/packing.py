"""Packing a bundle: only what a graph needs to run elsewhere, and a list of it.

Regular files that decode as audio (libsndfile reads the header, or a media container io.load hands
to ffmpeg) and that the node reading them takes, as validate says (its estimate's verdict on the file:
no text file starting ``OggS``, no video without a soundtrack), safetensors adapters (the header
parsed; in an adapter folder only the ``.safetensors`` files and ``adapter_config.json``) and the
audio files of a folder a node reads whole (a library of clips to search) are taken.
Anything else a graph names (``~/.ssh/id_rsa``, a folder, a FIFO, a link to a key) is refused with one
line naming the node, the parameter and the file.  Reading a bundle is :mod:`nodeflow.bundle`'s job.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
import zipfile
from pathlib import Path
from typing import Any, Sequence

from .atomic import atomic_path
from .checkpoints import safetensors_whole
from .bundle import (_BLOCK, _MEDIA_MAGIC, BUNDLE_FORMAT, BUNDLE_VERSION, MAX_BUNDLE_BYTES, MAX_JSON_BYTES,
                     MAX_NAME_BYTES, _free_name, name_char_ok, name_may_start, safe_member)
from .errors import NodeflowError, os_error_words
from .graph import Graph
from .graphpaths import is_inside, path_mode

__all__ = ["pack", "OutsideFolder"]


def _member_name(path: Path, taken: set[str]) -> str:
    """``path``'s name as a bundle member (see :func:`~nodeflow.bundle.safe_member`): letters of every
    script kept (QA: "Jóga.flac" was packed as "J_ga.flac"), in NFC (a Mac's names are decomposed),
    other characters as ``_``, from its first letter, digit or bracket, short enough for any file
    system, and not the name of another member in any case."""
    text = unicodedata.normalize("NFC", path.name)
    stem = re.sub(r"_{2,}", "_", "".join(c if name_char_ok(c) else "_" for c in text))
    while stem and not name_may_start(stem[0]):
        stem = stem[1:]
    stem = stem or "file"
    base, dot, ext = stem.rpartition(".")
    if not dot or not base or len(ext) > 10:
        base, dot, ext = stem, "", ""
    while len(f"{base}{dot}{ext} (99)".encode("utf-8")) > MAX_NAME_BYTES or len(base) + len(dot + ext) > 110:
        base = base[:-1]
    stem = f"{base.rstrip(' ._')}{dot}{ext}"
    name, i = stem, 2
    while name.casefold() in taken:
        name = _free_name(stem, i, True)
        i += 1
    taken.add(name.casefold())
    return name


def _head(path: Path, n: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return b""
        return f.read(n)


def _is_audio(path: Path) -> bool:
    """Decodes as audio: libsndfile reads its header, or it is a media container io.load hands to ffmpeg."""
    import soundfile as sf
    try:
        info = sf.info(str(path))
        if info.samplerate > 0 and info.channels > 0:
            return True
    except Exception:  # noqa: BLE001 - libsndfile's errors for any foreign file
        pass
    head = _head(path, 16)
    return any(head[at:at + len(magic)] == magic for at, magic in _MEDIA_MAGIC)


def _admit(src: Path, exts: tuple[str, ...], folder: bool = False) -> tuple[list[tuple[str, Path]], list[str], str | None]:
    """What pack takes from ``src``: ([(relative member path, file)], [left out], refusal reason).
    ``folder``: the parameter takes a folder (an adapter's, or with no ``.safetensors`` among ``exts``
    a folder of audio files, e.g. a library to search)."""
    st = os.stat(src)
    if stat.S_ISDIR(st.st_mode):
        if folder and ".safetensors" not in exts:
            return _admit_audio_folder(src)
        if exts and ".safetensors" not in exts:
            return [], [], "is a folder; pack takes folders only for adapters"
        take, left = [], []
        for f in sorted(src.rglob("*")):
            rel = f.relative_to(src).as_posix()
            if "/" in rel:      # a fine-tune's checkpoints/ (training state): not needed to run (QA: 4x the size)
                left.append(rel) if f.is_file() else None
            elif f.is_symlink() or not f.is_file():
                left.append(rel) if not f.is_dir() else None
            elif f.suffix == ".safetensors" and _whole(f):
                take.append((rel, f))
            elif f.name == "adapter_config.json" and f.stat().st_size <= MAX_JSON_BYTES and _json_ok(f):
                take.append((rel, f))
            else:
                left.append(rel)
        if not any(f.suffix == ".safetensors" for _, f in take):
            return [], [], "holds no safetensors adapter"
        return take, left, None
    if not stat.S_ISREG(st.st_mode):
        return [], [], "is not a regular file (a FIFO or a device)"
    if exts and src.suffix.lower() not in exts:
        return [], [], f"is not a {'/'.join(exts[:6])}{'...' if len(exts) > 6 else ''} file"
    if src.suffix.lower() == ".safetensors":
        try:
            return ([("", src)], [], None) if safetensors_whole(src) else ([], [], "is not a valid safetensors file")
        except PermissionError:
            return [], [], "cannot be read by this user (permission denied)"
    return ([("", src)], [], None) if _is_audio(src) else ([], [], "is not an audio file")


def _admit_audio_folder(src: Path) -> tuple[list[tuple[str, Path]], list[str], str | None]:
    """The audio files in the folder ``src`` and below (regular files that decode as audio; links,
    documents and anything else left out and listed; QA61: a search graph could not be packed)."""
    take, left = [], []
    for f in sorted(src.rglob("*")):
        rel = f.relative_to(src).as_posix()
        if f.is_dir() and not f.is_symlink():
            continue
        if f.is_symlink() or not f.is_file() or not _is_audio(f):
            left.append(rel)
        else:
            take.append((rel, f))
    return (take, left, None) if take else ([], [], "holds no audio file")


def _refused_by_node(graph: Graph, nid: str, param: str, src: Path) -> str | None:
    """Why node ``nid`` would refuse the file ``src`` as its ``param``, as validate says it (the node's
    own check of the file, from its estimate: io.load's 'not a readable audio file', 'has no audio
    stream'), or None: it takes it (QA: a text file starting 'OggS' and a video with no audio track
    were packed, which validate refused as inputs)."""
    from .costs import estimate
    g = graph.copy()
    g.nodes[nid].params[param] = str(src)
    cost = estimate(g, {nid}).nodes.get(nid)
    problem = next((s.problem for s in cost.shapes.values() if s.problem), "") if cost and not cost.guessed else ""
    return f"is not an input {cost.type} takes: {problem.removeprefix(f'{src}: ')}" if cost and problem else None


def _whole(path: Path) -> bool:
    """:func:`safetensors_whole`, an unreadable file left out (it is listed as left)."""
    try:
        return safetensors_whole(path)
    except PermissionError:
        return False


def _json_ok(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_bytes()), dict)
    except (OSError, ValueError):
        return False


class OutsideFolder(NodeflowError):
    """What :func:`pack` refuses when all it refuses is files outside the graph's folder (``files``: ``(node,
    param, real path)``): the editor asks whether to include them, as ``--include-outside`` does."""

    def __init__(self, message: str, folder: Path | None = None,
                 files: list[tuple[str, str, Path]] | None = None) -> None:
        super().__init__(message)
        self.folder, self.files = folder, list(files or [])


PACK_HINT = ("pack refuses to include it; to allow it: audiochain pack ... --allow-outside {root} (in Python "
             "pack(..., allow_outside=[...]))")


def pack(graph: Graph, out: str | os.PathLike[str], *, max_bytes: int = MAX_BUNDLE_BYTES,
         report: list[str] | None = None, outside: bool = False,
         allow_outside: Sequence[str | os.PathLike[str]] = ()) -> Path:
    """Write ``graph`` with the audio files and adapters it reads into the bundle ``out``.

    Only regular files that decode as audio, and safetensors adapters, are taken; a graph naming
    anything else (a key, a config, a document) is refused with one line naming the node, the
    parameter and the file.  So is a file outside the graph's folder (the current folder for a graph
    never saved), unless ``outside`` (``--include-outside``): a graph from elsewhere that loads
    ``~/Music/...`` would take the user's own audio into the bundle they share (QA79 D1).  A path that
    AudioChain never saves in a graph file (absolute, ``~``, far up: the file came from elsewhere or was
    edited) is refused as a run refuses it, ``outside`` or not, unless under a folder of ``allow_outside``
    (``--allow-outside``; QA96 D3: a stranger's graph naming ``~/private/voice-memo.flac``, which run refused,
    was packed with ``--include-outside``).
    ``report`` (a list) receives one line per file included or left out.
    The bundle is written atomically: a full disk or a read-only folder leaves nothing at ``out``.
    """
    out = Path(out)
    problems = [p for p in graph.problems() if any(w in p for w in ("not found", "is a symlink loop", "which is not there"))]
    from .graphpaths import refused_reads
    problems += [f"node '{nid}' ({graph.nodes[nid].type}): {why}" for nid, _, _, why in refused_reads(
        graph, allow_outside, hint=PACK_HINT, swept=True)]      # (QA97 D2: a saved sweep's value was packed)
    if problems:
        raise NodeflowError("cannot bundle: " + "; ".join(problems))
    g = graph.copy()
    members: list[tuple[str, Path]] = []   # (member name, source file)
    taken: set[str] = set()
    by_source: dict[Path, str] = {}
    refused, lines = [], []
    beyond: list[tuple[str, str, Any, Path]] = []    # files outside the graph's folder, refused without outside
    home = graph.base_dir().resolve()     # (the current folder for a graph never saved)

    def take(nid: str, param: str, value: Any, src: Path) -> str | None:
        """``src`` (what ``nid.param`` = ``value`` reads) into the bundle: its member path, or None (refused)."""
        spec = graph.registry[graph.nodes[nid].type]      # input files are path parameters of known types
        path_spec = spec.params[param].path
        exts = tuple(e.lower() for e in ((path_spec.exts if path_spec else ()) or ()))
        src = src.resolve()
        if src not in by_source:
            files, left, why = _admit(src, exts, bool(path_spec and path_spec.folder))
            if why is None and files == [("", src)] and src.suffix.lower() != ".safetensors":
                why = _refused_by_node(graph, nid, param, src)
            if why is None and not outside and not is_inside(src, home):
                beyond.append((nid, param, value, src))
                return None
            if why:
                refused.append(f"node '{nid}' {param}={value!r}: {src} {why}; pack refuses to include it")
                return None
            top = by_source[src] = _member_name(src, taken)
            for rel, f in files:
                name = f"files/{top}/{rel}" if rel else f"files/{top}"
                members.append((name, f))
                lines.append(f"included {name} ({f.stat().st_size / 2**20:.2f} MiB, node '{nid}' {param})")
            lines.extend(f"left out {src / rel} (not needed to run node '{nid}')" for rel in left)
        return f"files/{by_source[src]}"
    try:
        for (nid, param), src in graph.input_files().items():
            member = take(nid, param, graph.nodes[nid].params[param], src)
            if member is not None:
                g.nodes[nid].params[param] = member
        g.sweep = _packed_sweep(graph, take, refused)
        lines.extend(_checkpoints_beside(graph, g, out))
    except OSError as e:
        raise NodeflowError(f"cannot bundle: reading {e.filename or 'an input'} failed: "
                            f"{os_error_words(e, reading=True)}") from None
    if refused or beyond:
        refused += [f"node '{nid}' {param}={value!r}: {src} is outside the graph's folder {home}; copy it beside "
                    "the graph, or pack with --include-outside if you mean to share it"
                    for nid, param, value, src in beyond]
        if len(refused) > len(beyond):
            raise NodeflowError("cannot bundle: " + "; ".join(refused))
        raise OutsideFolder("cannot bundle: " + "; ".join(refused), home, [(n, p, src) for n, p, _, src in beyond])
    for name, _ in members:
        if not safe_member(name):
            raise NodeflowError(f"cannot bundle: input file name {name!r} is not portable; rename it")
    try:
        total = sum(f.stat().st_size for _, f in members)
        if total > max_bytes:
            from .costs import human_bytes
            raise NodeflowError(f"cannot bundle: the inputs add up to {human_bytes(total)}, over the "
                                f"{human_bytes(max_bytes)} limit; share the large files separately")
        _write_bundle(g, out, members, max_bytes)
    except OSError as e:
        where = e.filename if e.filename and not str(e.filename).startswith(str(out.parent)) else out
        raise NodeflowError(f"cannot write {out}: {os_error_words(e)} ({where}); nothing was written") from None
    if report is not None:
        report.extend(lines)
    return out


def _checkpoints_beside(graph: Graph, g: Graph, out: Path) -> list[str]:
    """Local checkpoint folders (never packed: model weights) named relative to the bundle's folder, where
    its receiver's run looks (QA: '../ckpt/model' stayed relative to the graph's folder, and a bundle
    written elsewhere, or run from another folder, did not find it)."""
    from .places import shared_path
    from .graphpaths import local_checkpoints
    lines = []
    for (nid, param), folder in local_checkpoints(graph).items():
        value = shared_path(str(folder), graph.base_dir(), out.absolute().parent)
        value = value if value.startswith(("../", "./")) else f"./{value}"     # a folder, not a hub id like 'gpt2'
        g.nodes[nid].params[param] = value     # (QA61: a bare name was looked for in the run's private temp folder)
        where = f"beside the bundle, as {value}" if value.startswith("./") else \
            f"at {value}, relative to the bundle's folder"       # (QA61 D8: "at ../../x beside the bundle")
        lines.append(f"left out checkpoint {os.path.normpath(folder)} (node '{nid}'): a bundle carries audio and "
                     f"adapters, not model weights; a run of the bundle finds it {where}")
    return lines


def _packed_sweep(graph: Graph, take: Any, refused: list[str]) -> dict[str, Any]:
    """The graph's saved sweep with each input file it tries packed too (``take``), its values the
    members' paths: a bundle's sweep runs on the receiver's machine (it held this machine's paths, and
    the files were left out).  A value that names no file is refused, as a node's missing input is."""
    from .outputs import resolve
    sweep = dict(graph.sweep or {})
    if not isinstance(sweep.get("axes"), list):
        return sweep
    axes = []
    for axis in sweep["axes"]:
        nid, _, param = str(axis.get("param", "")).partition(".") if isinstance(axis, dict) else ("", "", "")
        if path_mode(graph, nid, param) != "read" or not isinstance(axis.get("values"), list):
            axes.append(axis)
            continue
        values = []
        for v in axis["values"]:
            src = resolve(v, graph.base_dir()) if isinstance(v, str) and v.strip() else None
            if src is not None and not src.exists():     # a bundle's graph reads only what it carries (bundle._reads)
                refused.append(f"node '{nid}' {param}={v!r} (a value of its saved sweep) not found (looked at {src}); "
                               "put the file there or take the value out of the sweep")
            member = take(nid, param, v, src) if src is not None and src.exists() else None
            values.append(member if member is not None else v)
        axes.append(dict(axis, values=values))
    return dict(sweep, axes=axes)


def _portable_json(value: Any) -> Any:
    """``value`` (parsed JSON) with every absolute path reduced to its last part (:func:`portable_text`);
    a string that holds JSON itself (a safetensors header's metadata) is walked too."""
    from .fileformat import portable_text
    if isinstance(value, dict):
        return {k: _portable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable_json(v) for v in value]
    if isinstance(value, str):
        if value[:1] in "{[":
            try:
                inner = json.loads(value)
            except ValueError:
                return portable_text(value)
            walked = _portable_json(inner)
            return value if walked == inner else json.dumps(walked)
        return portable_text(value)
    return value


def shared_copy(name: str, path: Path) -> bytes | None:
    """What a bundle carries of an adapter file whose settings name this machine's folders: an
    ``adapter_config.json`` (peft's ``base_model_name_or_path``) or a ``.safetensors`` header's
    metadata with each absolute path reduced to its last part (QA53: a peft adapter carried
    ``/home/alice/...``); None where the file has none (it is carried as it is)."""
    if name.endswith("adapter_config.json"):
        doc = json.loads(path.read_bytes())
        walked = _portable_json(doc)
        return None if walked == doc else json.dumps(walked, indent=2).encode()
    if not name.endswith(".safetensors") or path.stat().st_size > 1 << 30:
        return None
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or (walked := _portable_json(meta)) == meta:
        return None
    text = json.dumps({**header, "__metadata__": walked}, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)                     # the tensors stay 8-byte aligned
    return len(text).to_bytes(8, "little") + text + data[8 + n:]


def _write_bundle(g: Graph, out: Path, members: list[tuple[str, Path]], max_bytes: int) -> None:
    import msgpack
    from .fileformat import to_document
    g.path = None
    doc = to_document(g, portable=True)   # no path of this machine in what is shared
    graph_bytes = msgpack.packb(doc, use_bin_type=True)
    listed = {"graph.msgpack": {"sha256": hashlib.sha256(graph_bytes).hexdigest(), "size": len(graph_bytes)}}
    total = 0
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        for name, f in members:   # hashed as written: a file changing meanwhile cannot mislead the manifest
            if (copy := shared_copy(name, f)) is not None:
                total += len(copy)
                z.writestr(name, copy)
                listed[name] = {"sha256": hashlib.sha256(copy).hexdigest(), "size": len(copy)}
                continue
            h, n = hashlib.sha256(), 0
            fd = os.open(f, os.O_RDONLY | os.O_NONBLOCK)
            big = os.fstat(fd).st_size > 1 << 30
            with os.fdopen(fd, "rb") as src, z.open(name, "w", force_zip64=big) as dst:
                for block in iter(lambda: src.read(_BLOCK), b""):
                    n += len(block)
                    total += len(block)
                    if total > max_bytes:
                        from .costs import human_bytes
                        raise NodeflowError(f"cannot bundle: {f} grew while packing; the inputs are now over the "
                                            f"{human_bytes(max_bytes)} limit")
                    h.update(block)
                    dst.write(block)
            listed[name] = {"sha256": h.hexdigest(), "size": n}
        z.writestr("graph.msgpack", graph_bytes)
        z.writestr("bundle.json", json.dumps({"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION,
                                              "members": listed}, indent=1))
