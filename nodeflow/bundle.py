"""Bundles: one self-contained file carrying a graph plus the input audio and adapters it uses.

A bundle is a zip archive (stored, not recompressed: audio stays bit-exact) holding
``bundle.json`` (format, version, a sha256 and size for every member), ``graph.msgpack`` (the
graph, its input paths pointing into ``files/``) and ``files/...``.  Unpacking is as careful as
graph loading: member names are checked (no absolute paths, no ``..``, no links, only the
listed members), sizes and compression ratios are bounded, hashes are verified, and nothing
is written outside the target folder or over a receiver's file: a name that exists with other
content gets a new name, and the graph points at it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from .atomic import atomic_path
from .errors import FileFormatError, NodeflowError
from .fileformat import dumps, loads
from .graph import Graph

__all__ = ["pack", "unpack", "is_bundle", "BUNDLE_FORMAT", "MAX_BUNDLE_BYTES", "BUNDLE_SUFFIX"]

BUNDLE_FORMAT = "audiochain.bundle"
BUNDLE_VERSION = 1
BUNDLE_SUFFIX = ".acbundle"
MAX_BUNDLE_BYTES = 1 << 30       # refuse to pack or unpack more than 1 GiB of members
MAX_MEMBERS = 2000
MAX_RATIO = 200                  # uncompressed / compressed, per member (zip bombs)
_SAFE = re.compile(r"^files/[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,120}(/[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,120}){0,8}$")


def is_bundle(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _member_name(path: Path, taken: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9 ._()+-]+", "_", path.name).lstrip("._ ") or "file"
    name, i = stem, 2
    while name.lower() in taken:
        base, dot, ext = stem.rpartition(".")
        name = f"{base} ({i}).{ext}" if dot else f"{stem} ({i})"
        i += 1
    taken.add(name.lower())
    return name


def pack(graph: Graph, out: str | os.PathLike, *, max_bytes: int = MAX_BUNDLE_BYTES) -> Path:
    """Write ``graph`` with every input file (and folder, e.g. an adapter) it reads into ``out``."""
    out = Path(out)
    problems = [p for p in graph.problems() if "not found" in p]
    if problems:
        raise NodeflowError("cannot bundle: " + "; ".join(problems))
    g = graph.copy()
    members: list[tuple[str, Path]] = []   # (member name, source file)
    taken: set[str] = set()
    by_source: dict[Path, str] = {}
    for (nid, param), src in graph.input_files().items():
        src = src.resolve()
        if src not in by_source:
            top = _member_name(src, taken)
            by_source[src] = top
            if src.is_dir():
                for f in sorted(p for p in src.rglob("*") if p.is_file() and not p.is_symlink()):
                    members.append((f"files/{top}/{f.relative_to(src).as_posix()}", f))
            else:
                members.append((f"files/{top}", src))
        g.nodes[nid].params[param] = f"files/{by_source[src]}"
    total = sum(f.stat().st_size for _, f in members)
    if total > max_bytes:
        raise NodeflowError(f"cannot bundle: the inputs add up to {total / 2**20:.1f} MiB, over the "
                            f"{max_bytes / 2**20:.0f} MiB limit; share the large files separately")
    for name, _ in members:
        if not _SAFE.match(name):
            raise NodeflowError(f"cannot bundle: input file name {name!r} is not portable; rename it")
    g.path = None
    import msgpack
    from .fileformat import to_document
    doc = to_document(g)
    doc["saved_by"]["inputs"] = {f"{n}.{p}": str(path.resolve()) for (n, p), path in graph.input_files().items()}
    graph_bytes = msgpack.packb(doc, use_bin_type=True)
    manifest = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION,
                "members": {name: {"sha256": _sha256(f), "size": f.stat().st_size} for name, f in members}}
    manifest["members"]["graph.msgpack"] = {"sha256": hashlib.sha256(graph_bytes).hexdigest(), "size": len(graph_bytes)}
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("bundle.json", json.dumps(manifest, indent=1))
        z.writestr("graph.msgpack", graph_bytes)
        for name, f in members:
            z.write(f, name)
    return out


def _read_manifest(z: zipfile.ZipFile, src: str) -> dict:
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise FileFormatError(f"{src}: {len(infos)} members; bundles are limited to {MAX_MEMBERS}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise FileFormatError(f"{src}: duplicate member names")
    total = 0
    for i in infos:
        mode = (i.external_attr >> 16) & 0xFFFF
        if i.filename not in ("bundle.json", "graph.msgpack") and not _SAFE.match(i.filename):
            raise FileFormatError(f"{src}: refusing member {i.filename!r} (only files/... names are allowed; "
                                  "no absolute paths, '..' or odd characters)")
        if stat.S_ISLNK(mode) or i.is_dir():
            raise FileFormatError(f"{src}: refusing member {i.filename!r} (links and folders are not allowed)")
        if i.flag_bits & 0x1:
            raise FileFormatError(f"{src}: encrypted member {i.filename!r}")
        total += i.file_size
        if i.compress_size and i.file_size / i.compress_size > MAX_RATIO:
            raise FileFormatError(f"{src}: member {i.filename!r} expands {i.file_size // i.compress_size}x; refusing")
    if total > MAX_BUNDLE_BYTES:
        raise FileFormatError(f"{src}: members add up to {total / 2**20:.0f} MiB (limit {MAX_BUNDLE_BYTES >> 20} MiB)")
    if "bundle.json" not in names or "graph.msgpack" not in names:
        raise FileFormatError(f"{src}: not an AudioChain bundle (bundle.json or graph.msgpack missing)")
    if z.getinfo("bundle.json").file_size > 1 << 20:
        raise FileFormatError(f"{src}: bundle.json is too large")
    try:
        manifest = json.loads(z.read("bundle.json"))
    except (ValueError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{src}: bundle.json is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise FileFormatError(f"{src}: not an AudioChain bundle")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > BUNDLE_VERSION:
        raise FileFormatError(f"{src}: bundle version {manifest.get('version')!r} is newer than this AudioChain reads "
                              f"({BUNDLE_VERSION}); upgrade AudioChain")
    members = manifest.get("members")
    if not isinstance(members, dict) or set(members) != set(names) - {"bundle.json"}:
        raise FileFormatError(f"{src}: bundle.json does not list exactly the members present")
    for name, m in members.items():
        if not (isinstance(m, dict) and isinstance(m.get("sha256"), str) and isinstance(m.get("size"), int)
                and z.getinfo(name).file_size == m["size"]):
            raise FileFormatError(f"{src}: bundle.json entry for {name!r} is malformed or its size does not match")
    return members


def _extract(z: zipfile.ZipFile, name: str, expect: dict, dest: Path, src: str) -> None:
    """Copy one member to ``dest`` (a new file), verifying size and hash as it streams."""
    h = hashlib.sha256()
    n = 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never replaces anything
    try:
        with os.fdopen(fd, "wb") as out, z.open(name) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                n += len(block)
                if n > expect["size"]:
                    raise FileFormatError(f"{src}: member {name!r} is larger than declared")
                h.update(block)
                out.write(block)
        if n != expect["size"] or h.hexdigest() != expect["sha256"]:
            raise FileFormatError(f"{src}: member {name!r} is corrupt (hash or size mismatch)")
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def unpack(bundle: str | os.PathLike, target: str | os.PathLike | None = None) -> Path:
    """Unpack next to the bundle (or into ``target``); returns the graph file written.

    Existing files are never overwritten: identical ones are reused, others get a new name.
    """
    bundle = Path(bundle)
    src = str(bundle)
    target = Path(target) if target is not None else bundle.with_suffix("")
    try:
        z = zipfile.ZipFile(bundle)
    except FileNotFoundError:
        raise FileFormatError(f"{src}: no such file") from None
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise FileFormatError(f"{src}: not a valid bundle ({e})") from None
    with z:
        members = _read_manifest(z, src)
        try:
            graph = loads(z.read("graph.msgpack"), f"{src}:graph.msgpack")
        except zipfile.BadZipFile as e:
            raise FileFormatError(f"{src}: corrupt ({e})") from None
        if hashlib.sha256(z.read("graph.msgpack")).hexdigest() != members["graph.msgpack"]["sha256"]:
            raise FileFormatError(f"{src}: graph.msgpack is corrupt (hash mismatch)")
        target.mkdir(parents=True, exist_ok=True)
        root = target.resolve()
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root))
        try:
            renamed: dict[str, str] = {}   # top-level member ("files/x") -> path relative to target
            tops = sorted({"/".join(n.split("/")[:2]) for n in members if n.startswith("files/")})
            for top in tops:
                parts = [n for n in members if n == top or n.startswith(top + "/")]
                stage_top = staging / top
                for name in parts:
                    dest = (staging / name).resolve()
                    if root not in dest.parents:
                        raise FileFormatError(f"{src}: member {name!r} escapes the target folder")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    _extract(z, name, members[name], dest, src)
                renamed[top] = _place(stage_top, root / top, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    for nid, inst in graph.nodes.items():
        for k, v in list(inst.params.items()):
            if isinstance(v, str) and v in renamed:
                inst.params[k] = renamed[v]
    from .fileformat import save
    out, i = root / "graph.msgpack", 2
    graph.path = out  # the input paths above are relative to the target folder
    data = dumps(graph)
    while out.exists():
        if out.is_file() and out.read_bytes() == data:
            return out   # unpacked before: reuse it
        out = root / f"graph ({i}).msgpack"
        i += 1
    graph.path = out
    save(graph, out)
    return out


def _same(a: Path, b: Path) -> bool:
    if a.is_dir() != b.is_dir():
        return False
    if a.is_file():
        return a.stat().st_size == b.stat().st_size and _sha256(a) == _sha256(b)
    fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    fb = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and not p.is_symlink())
    return fa == fb and all(_same(a / p, b / p) for p in fa)


def _place(staged: Path, wanted: Path, root: Path) -> str:
    """Move a staged member into place without overwriting; returns its path relative to root."""
    wanted.parent.mkdir(parents=True, exist_ok=True)
    if wanted.parent.resolve() != root / wanted.parent.relative_to(root):
        raise FileFormatError(f"{wanted.parent} leads outside {root} (a link); unpack into another folder")
    dest, i = wanted, 2
    while dest.exists() or dest.is_symlink():
        if not dest.is_symlink() and _same(staged, dest):
            return dest.relative_to(root).as_posix()   # the receiver already has this exact file
        stem, dot, ext = wanted.name.rpartition(".") if wanted.is_file() or staged.is_file() else (wanted.name, "", "")
        name = f"{stem} ({i}).{ext}" if dot and stem else f"{wanted.name} ({i})"
        dest = wanted.with_name(name)
        i += 1
    os.rename(staged, dest)
    return dest.relative_to(root).as_posix()
