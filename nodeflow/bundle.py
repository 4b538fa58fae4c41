"""Bundles: one self-contained file carrying a graph plus the input audio and adapters it uses.

A bundle is a zip archive (stored, not recompressed: audio stays bit-exact) holding
``bundle.json`` (format, version, a sha256 and size for every member), ``graph.msgpack`` (the
graph, its input paths pointing into ``files/``) and ``files/...``.

Bundles come from strangers, so reading one trusts nothing: its graph may read only the files it carries
(each input setting and each value of its saved sweep, :func:`_reads`); member names are checked (only
``files/...`` in a portable alphabet: no absolute paths, ``..``, backslashes, NULs, duplicates),
links, folders, encryption and odd compression methods are refused, declared sizes and ratios
are bounded before a byte is inflated, and every member is streamed through its CRC, size and
sha256.  Any damage is one :class:`~nodeflow.FileFormatError`.

* :func:`read_bundle` inspects a bundle in place (``validate``, ``show``): nothing is written.
* :func:`extracted` unpacks into a fresh private temp folder for a run and removes it after.
* :func:`unpack` (in :mod:`nodeflow.unpacking`) writes next to the bundle (or into a target folder):
  everything is staged and verified first, then moved into place without following links or
  overwriting anything (a name that exists with other content gets a new name, and the graph points at it).

:func:`pack` (in :mod:`nodeflow.packing`) takes only what a graph needs to run elsewhere: regular
files that decode as audio and that the node reading them takes (as validate says), and safetensors
adapters (a file, or the ``adapter_model.safetensors``/``adapter_config.json`` of an adapter folder).
Anything else a graph names (``~/.ssh/id_rsa``...) is refused by name.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import lzma
import os
import shutil
import stat
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypedDict

from .errors import FileFormatError, GraphError, NodeflowError, os_error_words
from .graph import Graph
from .graphpaths import checkpoint_values, never_saved, path_mode, sweep_values

if TYPE_CHECKING:
    from .registry import Registry

__all__ = ["pack", "unpack", "read_bundle", "extracted", "is_bundle", "BUNDLE_FORMAT",
           "MAX_BUNDLE_BYTES", "BUNDLE_SUFFIX"]

BUNDLE_FORMAT = "audiochain.bundle"
BUNDLE_VERSION = 1
BUNDLE_SUFFIX = ".acbundle"
MAX_BUNDLE_BYTES = 1 << 30       # refuse to pack or unpack more than 1 GiB of members
MAX_MEMBERS = 2000
MAX_RATIO = 200                  # uncompressed / compressed, per member larger than RATIO_FLOOR (zip bombs)
RATIO_FLOOR = 1 << 16
MAX_JSON_BYTES = 1 << 20         # bundle.json, adapter_config.json
NAME_PUNCTUATION = frozenset(" ._()[]+-'&,!#@~=$")   # besides letters, digits and marks of any script, in
#                                                        member names: what every file system takes
NAME_FIRST = frozenset("([")   # a member's name starts with a letter, a digit or one of these (no ".x", "-x")
MAX_NAME_BYTES = 200           # a member's folder or file name (file systems take 255 bytes; a letter is up to 4)
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_BLOCK = 1 << 20
# what a damaged archive raises from zipfile/zlib (bad CRC, truncation, lying headers, odd methods)
_DAMAGE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, ValueError, NotImplementedError,
           RuntimeError, struct.error, OverflowError, KeyError, IndexError)
# media containers io.load reads through ffmpeg (soundfile reads WAV/FLAC/OGG/MP3 itself)
_MEDIA_MAGIC = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"), (0, b"OggS"))


class Member(TypedDict):
    """A member's entry in ``bundle.json``: its sha256 (hex) and size in bytes."""
    sha256: str
    size: int


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """True for a regular file starting like a zip (never opens a FIFO or a device: that could hang)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------------------------------- reading
@contextlib.contextmanager
def _reading(src: str) -> Iterator[None]:
    """Turn whatever a damaged archive raises into one FileFormatError naming the bundle."""
    try:
        yield
    except FileFormatError:
        raise
    except _DAMAGE as e:
        raise FileFormatError(f"{src}: damaged bundle ({e}); ask the sender for a new copy") from None
    except OSError as e:
        raise FileFormatError(f"{src}: cannot read it ({os_error_words(e)})") from None


def _open_zip(path: Path) -> zipfile.ZipFile:
    src = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileFormatError(f"{src}: no such file") from None
    except OSError as e:
        raise FileFormatError(f"{src}: cannot read it ({os_error_words(e)})") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileFormatError(f"{src}: not a regular file (a folder, FIFO or device); a bundle is a .acbundle file")
    if not is_bundle(path):     # what show, validate and run check first: unpack says the same (QA53 D4)
        raise FileFormatError(f"{src}: not a valid bundle: it is not a zip archive (damaged, cut short or another "
                              "file renamed); ask the sender for it again")
    with _reading(src):
        try:
            with open(path, "rb") as f:       # count entries before zipfile reads the whole directory
                end = zipfile._EndRecData(f)   # type: ignore[attr-defined]
        except AttributeError:                # pragma: no cover - zipfile internals moved
            end = None
        total = zipfile._ECD_ENTRIES_TOTAL   # type: ignore[attr-defined]
        if end and end[total] > MAX_MEMBERS:
            raise FileFormatError(f"{src}: {end[total]} members; bundles are limited to "
                                  f"{MAX_MEMBERS}")
        try:
            return zipfile.ZipFile(path)
        except zipfile.BadZipFile as e:
            raise FileFormatError(f"{src}: not a valid bundle ({e})") from None


def _check_members(z: zipfile.ZipFile, src: str, archive_size: int) -> None:
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise FileFormatError(f"{src}: {len(infos)} members; bundles are limited to {MAX_MEMBERS}")
    names = [unicodedata.normalize("NFC", i.filename).casefold() for i in infos]   # one file on macOS or Windows
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FileFormatError(f"{src}: duplicate member name {dup!r}; refusing")
    folders = {n.rsplit("/", k)[0] for n in names for k in range(1, n.count("/") + 1)}
    if both := sorted(folders & set(names)):      # (QA53 D4: blamed on a temp folder of the unpack)
        raise FileFormatError(f"{src}: member {both[0]!r} is both a file and a folder of other members; refusing "
                              "(ask the sender to pack it again)")
    total = 0
    for i in infos:
        mode = (i.external_attr >> 16) & 0xFFFF
        if i.orig_filename != i.filename or (i.filename not in ("bundle.json", "graph.msgpack")
                                             and not safe_member(i.filename)):
            raise FileFormatError(f"{src}: refusing member {i.orig_filename!r} (only files/... names are allowed; "
                                  "no absolute paths, '..', backslashes or odd characters)")
        if stat.S_ISLNK(mode) or i.is_dir() or (stat.S_IFMT(mode) and not stat.S_ISREG(mode)):
            raise FileFormatError(f"{src}: refusing member {i.filename!r} (links and folders are not allowed)")
        if i.flag_bits & 0x1:
            raise FileFormatError(f"{src}: encrypted member {i.filename!r}")
        if i.compress_type not in _METHODS:
            raise FileFormatError(f"{src}: member {i.filename!r} uses compression method {i.compress_type}; "
                                  "bundles are stored or deflated")
        if i.header_offset + i.compress_size > archive_size:
            raise FileFormatError(f"{src}: member {i.filename!r} runs past the end of the file (truncated?)")
        if i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise FileFormatError(f"{src}: member {i.filename!r} expands "
                                  f"{i.file_size // max(i.compress_size, 1)}x; refusing")
        total += i.file_size
    if total > MAX_BUNDLE_BYTES:
        raise FileFormatError(f"{src}: members add up to {total / 2**20:.0f} MiB (limit {MAX_BUNDLE_BYTES >> 20} MiB)")


def _read_manifest(z: zipfile.ZipFile, src: str) -> dict[str, Member]:
    with _reading(src):
        _check_members(z, src, os.fstat(z.fp.fileno()).st_size if z.fp else 1 << 62)
        names = {i.filename for i in z.infolist()}
        if "bundle.json" not in names or "graph.msgpack" not in names:
            raise FileFormatError(f"{src}: not an AudioChain bundle (bundle.json or graph.msgpack missing)")
        if z.getinfo("bundle.json").file_size > MAX_JSON_BYTES:
            raise FileFormatError(f"{src}: bundle.json is too large")
        raw = z.read("bundle.json")
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FileFormatError(f"{src}: bundle.json is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise FileFormatError(f"{src}: not an AudioChain bundle")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > BUNDLE_VERSION:
        raise FileFormatError(f"{src}: bundle version {manifest.get('version')!r} is newer than this AudioChain reads "
                              f"({BUNDLE_VERSION}); upgrade AudioChain")
    members = manifest.get("members")
    if not isinstance(members, dict) or set(members) != names - {"bundle.json"}:
        raise FileFormatError(f"{src}: bundle.json does not list exactly the members present")
    for name, m in members.items():
        if not (isinstance(m, dict) and isinstance(m.get("sha256"), str) and type(m.get("size")) is int
                and z.getinfo(name).file_size == m["size"]):
            raise FileFormatError(f"{src}: bundle.json entry for {name!r} is malformed or its size does not match")
    checked: dict[str, Member] = members     # each entry checked just above
    return checked


def _stream(z: zipfile.ZipFile, name: str, expect: Member, src: str,
            sink: Callable[[bytes], object] | None = None) -> bytes | None:
    """Stream one member through its CRC (zipfile), size and sha256; ``sink`` gets each block.
    Without a sink the bytes of a small member are returned (graph.msgpack)."""
    h, n, keep = hashlib.sha256(), 0, []
    with _reading(src):
        f = z.open(name)
    with f:
        while True:
            with _reading(src):
                block = f.read(_BLOCK)
            if not block:
                break
            n += len(block)
            if n > expect["size"]:
                raise FileFormatError(f"{src}: member {name!r} is larger than declared")
            h.update(block)
            if sink is not None:
                sink(block)
            elif name == "graph.msgpack":
                keep.append(block)
    if n != expect["size"] or h.hexdigest() != expect["sha256"]:
        raise FileFormatError(f"{src}: member {name!r} is corrupt (hash or size mismatch)")
    return b"".join(keep) if sink is None else None


def _tops(members: Iterable[str]) -> list[str]:
    return sorted({"/".join(n.split("/")[:2]) for n in members if n.startswith("files/")})


def _graph_of(z: zipfile.ZipFile, members: dict[str, Member], src: str, registry: Registry | None = None) -> Graph:
    """The bundle's graph; every file it reads must be one the bundle carries."""
    from .fileformat import loads
    data = _stream(z, "graph.msgpack", members["graph.msgpack"], src)
    assert data is not None            # without a sink the member's bytes come back
    graph = loads(data, f"{src}:graph.msgpack", registry)
    tops = set(_tops(members))
    for nid, param, value, where in _reads(graph):
        if value not in tops:
            raise FileFormatError(f"{src}: node '{nid}' reads {param}={value!r}{where}, which the bundle does not "
                                  "carry; a bundle's graph may only read its own files/ (refusing: ask the sender to "
                                  "pack it again with audiochain pack)")
    for nid, param, value in _checkpoints(graph):
        if never_saved(value, Path(src).absolute().parent):       # (QA89 R3: ~/privvoice ran the receiver's voice)
            raise FileFormatError(f"{src}: node '{nid}' names {param}={value!r}, a folder outside the bundle named as "
                                  "audiochain pack never names one (absolute, from ~ or far up); a bundle's checkpoint "
                                  "is a hub id or a folder beside the bundle (refusing: ask the sender to pack it "
                                  "again with audiochain pack)")
    used = {v for inst in graph.nodes.values() for v in inst.params.values() if isinstance(v, str)}
    for axis in graph.sweep.get("axes", []) if isinstance(graph.sweep, dict) else []:
        used.update(v for v in (axis.get("values") if isinstance(axis, dict) else None) or [] if isinstance(v, str))
    if unused := sorted(tops - used):      # (QA: files/evil.py, files/run.sh were unpacked beside the graph)
        raise FileFormatError(f"{src}: carries {unused[0]!r}, which its graph does not use; a bundle carries only the "
                              "files its graph reads, as audiochain pack makes it (refusing: ask the sender to pack "
                              "it again)")
    return graph


def _checkpoints(graph: Graph) -> list[tuple[str, str, str]]:
    """``(node, param, value)`` of each checkpoint a bundle's graph names, its saved sweep's too."""
    out = [(nid, param, value) for (nid, param), value in checkpoint_values(graph).items()]
    return out + [(nid, param, v) for nid, param, v in sweep_values(graph) if v.strip() and (
        spec := graph.spec(nid) if nid in graph.nodes else None) is not None and param in spec.checkpoint_params]


def _reads(graph: Graph) -> list[tuple[str, str, str, str]]:
    """``(node, param, value, where)`` of every file a bundle's graph can read: its input path settings
    (``where`` is '') and each value its saved sweep gives one (QA: a sweep over ``load.path`` read
    the receiver's private take, where the same path as the node's setting was refused)."""
    out = [(nid, param, graph.nodes[nid].params[param], "") for nid, param in graph.input_files(Path("/"))]
    return out + [(nid, param, v, " (a value of its saved sweep)") for nid, param, v in sweep_values(graph)
                  if v and path_mode(graph, nid, param) == "read"]


@dataclasses.dataclass
class Inspected:
    graph: Graph          # its input paths are the bundle's "files/..." names; graph.path is None
    members: dict[str, Member]     # name -> {"sha256", "size"}


def read_bundle(bundle: str | os.PathLike[str], registry: Registry | None = None) -> Inspected:
    """Inspect a bundle in place: every check :func:`unpack` makes, every member streamed through
    its CRC and hash in memory, nothing written anywhere."""
    path = Path(bundle)
    src = str(path)
    with _open_zip(path) as z:
        members = _read_manifest(z, src)
        graph = _graph_of(z, members, src, registry)
        for name in sorted(members):
            if name != "graph.msgpack":
                _stream(z, name, members[name], src, sink=lambda b: None)
    return Inspected(graph, members)


_EXTRACTED = "audiochain-bundle-"
_OWNER = ".audiochain-run"        # in an extracted() folder: the process running the bundle (claims.owner_text)


_UNPACKED: dict[str, str] = {}   # an extracted() folder (as paths in messages spell it, with its "/") -> its bundle

# what a message about a member's content says of it: the receiver cannot mend the member, its sender packs it again
_MEMBER_CONTENT = ("not a readable audio file", "not an audio", "file is empty", "truncated", "damaged",
                   "no audio", "decoding failed", "could not decode")
_RECEIVERS_FIX = ("; re-export or re-download it", "; re-export or re-download the file for a clean copy")
SENDERS_FIX = "the bundle's sender must pack it again"


@contextlib.contextmanager
def extracted(bundle: str | os.PathLike[str]) -> Iterator[Path]:
    """Unpack into a fresh private temp folder (never a fixed one a link could sit at); yields the
    graph file and removes the folder afterwards.  While it is there, :func:`as_packed` names the files
    in it as the bundle's members, and an error raised inside names them so (QA66 L2: ``/tmp/audiochain-
    bundle-XXXX/files/notes.flac``, a folder gone when the message was read)."""
    from .claims import owner_text
    _sweep_extracted()
    folder = Path(tempfile.mkdtemp(prefix=_EXTRACTED))
    with contextlib.suppress(OSError):
        fd = os.open(folder / _OWNER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(owner_text())
    spellings = {str(folder) + os.sep, str(folder.resolve()) + os.sep}
    for s in spellings:
        _UNPACKED[s] = os.fspath(bundle)
    try:
        yield unpack(bundle, folder)
    except NodeflowError as e:
        if isinstance(e, GraphError):
            e.problems = [as_packed(p) for p in e.problems]
            e.args = (GraphError(e.problems, e.source).args[0], *e.args[1:])
        elif e.args and isinstance(e.args[0], str):
            e.args = (as_packed(e.args[0]), *e.args[1:])
        raise
    finally:
        for s in spellings:
            _UNPACKED.pop(s, None)
        shutil.rmtree(folder, ignore_errors=True)


def _sweep_extracted() -> None:
    """Remove the folders :func:`extracted` left in the temp folder where their run was killed (kill -9, out
    of memory: its ``finally`` never ran, and a stranger's bundle stayed unpacked for good: QA122 D4): each
    names the process it was unpacked for; those of this user whose process has ended go."""
    from .claims import owner_gone
    root = Path(tempfile.gettempdir())
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(_EXTRACTED)]
    except OSError:
        return
    for e in entries:
        with contextlib.suppress(OSError):
            mine = e.stat(follow_symlinks=False).st_uid == getattr(os, "getuid", int)()
            if e.is_dir(follow_symlinks=False) and mine and owner_gone(Path(e.path) / _OWNER):
                shutil.rmtree(e.path)


def as_packed(text: str) -> str:
    """``text`` with each file of a bundle being run (:func:`extracted`) named as ``bundle: member``;
    where it says the member itself is unusable, the fix is its sender's.

    >>> _UNPACKED["/tmp/audiochain-bundle-x1/"] = "song.acbundle"
    >>> as_packed("/tmp/audiochain-bundle-x1/files/a.flac: file is empty (0 bytes); re-export or re-download it")
    "song.acbundle: files/a.flac: file is empty (0 bytes); the bundle's sender must pack it again"
    >>> del _UNPACKED["/tmp/audiochain-bundle-x1/"]
    """
    named = False
    for folder, bundle in list(_UNPACKED.items()):
        if folder in text:
            text, named = text.replace(folder, f"{bundle}: "), True
    if named and SENDERS_FIX not in text and any(w in text for w in _MEMBER_CONTENT):
        for fix in _RECEIVERS_FIX:
            text = text.replace(fix, "")
        text = f"{text.rstrip('. ')}; {SENDERS_FIX}"
    return text


def is_extracted(folder: Path) -> bool:
    """Whether ``folder`` is one :func:`extracted` made in this process and is using (gone once its run ends)."""
    folder = Path(folder).resolve()     # (by its name alone, any archive's folder unpacked in /tmp was one: QA89 R5)
    return folder.name.startswith(_EXTRACTED) and folder.parent == Path(tempfile.gettempdir()).resolve() and \
        str(folder) + os.sep in _UNPACKED


# ---------------------------------------------------------------------------------------- member names
def name_char_ok(c: str) -> bool:
    """Whether ``c`` may stand in a bundle member's name: a letter, digit or mark of any script (Björk,
    日本の歌, हिंदी), or one of :data:`NAME_PUNCTUATION`; never a control, format (bidi) or path character."""
    return c in NAME_PUNCTUATION or unicodedata.category(c)[0] in "LNM"


def name_may_start(c: str) -> bool:
    return c in NAME_FIRST or unicodedata.category(c)[0] in "LN"


def _part_ok(part: str) -> bool:
    return (0 < len(part) <= 121 and len(part.encode("utf-8")) <= MAX_NAME_BYTES
            and name_may_start(part[0]) and all(map(name_char_ok, part))
            and unicodedata.normalize("NFC", part) == part)


def safe_member(name: str) -> bool:
    """Whether ``name`` is a member :func:`unpack` may write: ``files/`` and at most 9 folder or file
    names, each starting with a letter, a digit or a bracket, of :func:`name_char_ok` characters, in
    NFC, at most 121 characters and :data:`MAX_NAME_BYTES` bytes."""
    head, _, rest = name.partition("/")
    parts = rest.split("/")
    return head == "files" and len(parts) <= 9 and all(map(_part_ok, parts))


def _free_name(name: str, i: int, is_file: bool) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem} ({i}).{ext}" if is_file and dot and stem else f"{name} ({i})"


def unpack(bundle: str | os.PathLike[str], target: str | os.PathLike[str] | None = None, *,
           report: list[str] | None = None) -> Path:
    """:func:`nodeflow.unpacking.unpack` (kept here: ``from nodeflow.bundle import unpack``)."""
    from .unpacking import unpack as _unpack
    return _unpack(bundle, target, report=report)


def pack(graph: Graph, out: str | os.PathLike[str], **kwargs: Any) -> Path:
    """:func:`nodeflow.packing.pack` (kept here: ``from nodeflow.bundle import pack``)."""
    from .packing import pack as _pack
    return _pack(graph, out, **kwargs)
