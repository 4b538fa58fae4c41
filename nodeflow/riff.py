"""WAV metadata chunks: walking a RIFF file's chunks and reading the metadata out of anyone's files;
writing AudioChain's own (:func:`write_wav`, with the layout it writes) is :mod:`nodeflow.riffwrite`.

Reading takes ``LIST/INFO``, ``bext``, ``iXML``, ``cue `` + ``LIST/adtl`` markers and the graph chunk
(``acgr``), the ``acid`` chunk's tempo and meter (ACIDized loops), an ID3 chunk (``id3 `` or ``ID3 ``,
what taggers and older AudioChain versions wrote), and ``SPEED`` placement from iXML.  Text decodes as
UTF-8, falling back to Latin-1.  Text chunks over :data:`MAX_TEXT_CHUNK` bytes are skipped, at most :data:`MAX_CHUNKS` chunk headers
are read: a stranger's damaged file cannot make reading slow or large.
"""
from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterator

from .errors import AudioError

if TYPE_CHECKING:   # audiometa imports this module lazily
    from .audiometa import Parts
    # the writer's names, still importable from here (see __getattr__ at the end)
    from .riffwrite import source_epoch as source_epoch, write_wav as write_wav

MAX_CHUNKS = 4096
MAX_TEXT_CHUNK = 1 << 20
MAX_ID3_CHUNK = 32 << 20
GRAPH_CHUNK = b"acgr"
_OWNED = {b"bext", b"iXML", b"cue ", b"id3 ", b"ID3 ", GRAPH_CHUNK}   # and LIST INFO/adtl
_INFO = {"title": b"INAM", "artist": b"IART", "album": b"IPRD", "comment": b"ICMT", "genre": b"IGNR",
         "date": b"ICRD"}


# ---------------------------------------------------------------------------------------- walking
def walk_chunks(f: IO[bytes], size: int) -> list[tuple[bytes, int, int]]:
    """``(id, payload offset, payload size)`` of the top-level chunks of a RIFF/WAVE file.  After a data
    chunk followed by bytes that are no chunk (audio its size does not count: a recorder that stopped),
    the walk goes on at the chunks that end the file (:func:`trailing_chunks`)."""
    out: list[tuple[bytes, int, int]] = []
    pos = 12
    while pos + 8 <= size and len(out) < MAX_CHUNKS:
        f.seek(pos)
        head = f.read(8)
        cid, n = head[:4], int.from_bytes(head[4:8], "little")
        if out and out[-1][0] == b"data" and not _chunk_at(cid, pos, n, size) and cid not in _TRAILING:
            found = trailing_chunks(f, pos, size)
            if found is None:
                break
            pos = found
            continue
        out.append((cid, pos + 8, n))
        pos += 8 + n + (n & 1)
    return out


def _chunk_at(cid: bytes, pos: int, n: int, size: int) -> bool:
    return len(cid) == 4 and all(0x20 <= c <= 0x7E for c in cid) and pos + 8 + n <= size


_TRAILING = (b"LIST", b"cue ", b"id3 ", b"ID3 ", b"iXML", b"bext", b"smpl", b"inst", b"acid", b"JUNK", b"junk",
             b"PAD ", b"_PMX", b"DISP", b"LGWV", b"umid", b"cart", GRAPH_CHUNK)
_TRAILING_SEARCH = 48 << 20      # the metadata that can end a WAV (a graph, an ID3 with pictures) fits in this


def trailing_chunks(f: IO[bytes], start: int, size: int) -> int | None:
    """Where the chunks that end a WAV begin, searched from ``start`` (bytes that are no chunk: audio its
    data size does not count) within the file's last :data:`_TRAILING_SEARCH` bytes: the first offset
    where known chunks (LIST, cue, iXML, ...) follow one another exactly to the end of the file; None
    where there is none (audio to the end)."""
    lo = max(start, size - _TRAILING_SEARCH)
    f.seek(lo)
    tail = f.read(size - lo)
    hits = sorted(i for cid in _TRAILING for i in _finds(tail, cid))
    for i in hits:
        at = pos = lo + i
        while pos + 8 <= size:
            head = tail[pos - lo:pos - lo + 8]
            n = int.from_bytes(head[4:8], "little")
            if not _chunk_at(head[:4], pos, n, size):
                break
            pos += 8 + n + (n & 1)
        if pos >= size:
            return at
    return None


def chunks_to_end(f: IO[bytes], pos: int, size: int) -> bool:
    """Whether chunks follow one another from ``pos`` exactly to the end of the file (their 8-byte
    headers read, nothing else)."""
    for _ in range(MAX_CHUNKS):
        if pos >= size:
            return True
        f.seek(pos)
        head = f.read(8)
        n = int.from_bytes(head[4:8], "little")
        if len(head) < 8 or not _chunk_at(head[:4], pos, n, size):
            return False
        pos += 8 + n + (n & 1)
    return False


def _finds(data: bytes, needle: bytes) -> Iterator[int]:
    i = data.find(needle)
    while i != -1:
        yield i
        i = data.find(needle, i + 1)


def _read(f: IO[bytes], offset: int, n: int, limit: int, size: int) -> bytes | None:
    if n > limit or offset + n > size:
        return None
    f.seek(offset)
    return f.read(n)


def _fmt(f: IO[bytes], chunks: list[tuple[bytes, int, int]], size: int) -> tuple[int, int, int, int]:
    """``(format tag, channels, rate, bits)`` from the fmt chunk (zeros when missing)."""
    for cid, off, n in chunks:
        if cid == b"fmt " and n >= 16:
            tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", _read(f, off, 16, 16, size) or bytes(16))
            return tag, ch, rate, bits
    return 0, 0, 0, 0


# ---------------------------------------------------------------------------------------- reading
def read_wav(path: Path) -> Parts:
    """``(fields, markers, extra)`` for :class:`nodeflow.audiometa.Metadata` from a RIFF/WAVE file."""
    from .audiometa import clean_fields

    size = path.stat().st_size
    fields: dict[str, str] = {}
    extra: dict[str, str] = {}
    cues: dict[int, int] = {}
    labels: dict[int, str] = {}
    fallback: dict[str, str] = {}           # acid, ID3: used where the native chunks say nothing
    fb_extra: dict[str, str] = {}
    with open(path, "rb") as f:
        chunks = walk_chunks(f, size)
        _, _, rate, _ = _fmt(f, chunks, size)
        for cid, off, n in chunks:
            limit = MAX_ID3_CHUNK if cid in (b"id3 ", b"ID3 ") else MAX_TEXT_CHUNK
            if cid not in (b"LIST", b"bext", b"iXML", b"cue ", b"acid", b"id3 ", b"ID3 "):
                continue
            data = _read(f, off, n, limit, size)
            if data is None:
                continue
            if cid == b"LIST" and data[:4] == b"INFO":
                for key, value in _subchunks(data[4:]):
                    name = next((k for k, v in _INFO.items() if v == key), None)
                    if name:
                        fields.setdefault(name, _text(value))
                    elif key == b"IBPM":       # what export writes there too (QA55: read by ffprobe, not by load)
                        fallback.setdefault("bpm", _text(value).strip())
            elif cid == b"LIST" and data[:4] == b"adtl":
                for key, value in _subchunks(data[4:]):
                    if key == b"labl" and len(value) >= 4:
                        labels[int.from_bytes(value[:4], "little")] = _text(value[4:])
            elif cid == b"bext":
                _parse_bext(data, fields)
            elif cid == b"iXML":
                _parse_ixml(data, fields, extra)
            elif cid == b"cue ":
                count = int.from_bytes(data[:4], "little") if len(data) >= 4 else 0
                for i in range(min(count, (len(data) - 4) // 24)):
                    ident, _, _, _, _, offset = struct.unpack_from("<II4sIII", data, 4 + 24 * i)
                    cues[ident] = offset
            elif cid == b"acid" and len(data) >= 24:
                denom, num, tempo = struct.unpack_from("<HHf", data, 16)   # after flags, root, beats
                if 0 < tempo <= 999:
                    fallback["bpm"] = f"{tempo:.3f}"
                if num and denom:
                    fallback["meter"] = f"{num}/{denom}"
            else:
                from .id3meta import id3_parts
                got, _, more = id3_parts(data)
                fallback.update({k: v for k, v in got.items() if k not in fallback})
                fb_extra.update(more)
    for k, v in fallback.items():
        fields.setdefault(k, v)
    for k, v in fb_extra.items():
        extra.setdefault(k, v)
    if "time_reference" in fields and rate:
        fields.setdefault("time_reference_rate", str(rate))
    if "description" in fields and fields["description"] in (fields.get("comment"),            # bext Description
                                                             ascii_text(fields.get("comment", ""))[:256]):  # filled
        fields.pop("description", None)                                                          # from the comment
    markers = sorted((frame, labels.get(ident, "")) for ident, frame in cues.items())
    return clean_fields(fields), markers, extra


def read_wav_graph(path: Path) -> bytes | None:
    """The ``acgr`` chunk, else a GEOB frame in an ID3 chunk (AudioChain before 2026-12)."""
    from .audiometa import MAX_GRAPH_BYTES

    size = path.stat().st_size
    with open(path, "rb") as f:
        chunks = walk_chunks(f, size)
        for cid, off, n in chunks:
            if cid == GRAPH_CHUNK:
                if n > MAX_GRAPH_BYTES or off + n > size:
                    raise AudioError(f"{path}: the embedded AudioChain graph is damaged ({n} bytes claimed, "
                                     f"{max(0, size - off)} present, limit {MAX_GRAPH_BYTES >> 20} MiB); re-export the file")
                f.seek(off)
                return f.read(n)
        for cid, off, n in chunks:
            if cid in (b"id3 ", b"ID3 "):
                data = _read(f, off, n, MAX_ID3_CHUNK, size)
                if data is not None:
                    from .id3meta import id3_graph
                    return id3_graph(data)
    return None


def _subchunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    pos = 0
    while pos + 8 <= len(data):
        key, n = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        yield key, data[pos + 8:pos + 8 + n]
        pos += 8 + n + (n & 1)


def _text(raw: bytes) -> str:
    raw = raw.split(b"\x00", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_bext(data: bytes, fields: dict[str, str]) -> None:
    if len(data) < 348:
        return
    desc, orig, _, date, time, lo, hi = struct.unpack_from("<256s32s32s10s8sII", data)
    fields.setdefault("description", _text(desc))
    fields["originator"] = _text(orig)
    d, t = _text(date).strip(), _text(time).strip()
    if re.fullmatch(r"\d{4}[-:/. ]\d{2}[-:/. ]\d{2}", d):
        d = f"{d[:4]}-{d[5:7]}-{d[8:10]}"
        if re.fullmatch(r"\d{2}[-:/. ]\d{2}[-:/. ]\d{2}", t):
            d += f"T{t[:2]}:{t[3:5]}:{t[6:8]}"
        fields.setdefault("date", d)
    fields["time_reference"] = str(hi << 32 | lo)


def _parse_ixml(data: bytes, fields: dict[str, str], extra: dict[str, str]) -> None:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:      # no entity expansion from strangers' files
        return
    try:
        root = ET.fromstring(data.rstrip(b"\x00 \r\n\t"))
    except ET.ParseError:
        return

    def text(p: str) -> str:
        node = root.find(p)
        return (node.text or "").strip() if node is not None else ""

    for key, where in (("bpm", "ASWG/tempo"), ("meter", "ASWG/timeSig"), ("key", "ASWG/inKey"),
                       ("title", "ASWG/songTitle"), ("artist", "ASWG/artist"), ("album", "PROJECT"),
                       ("comment", "NOTE")):
        if text(where):
            fields.setdefault(key, text(where))
    hi, lo = text("SPEED/TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI"), text("SPEED/TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO")
    if lo.isdigit() and (hi.isdigit() or not hi) and "time_reference" not in fields:
        fields["time_reference"] = str(int(hi or 0) << 32 | int(lo))
        rate = text("SPEED/TIMESTAMP_SAMPLE_RATE")
        if rate.isdigit():
            fields["time_reference_rate"] = rate
    for entry in root.findall("AUDIOCHAIN_INFO/ENTRY")[:1000]:
        name, value = entry.findtext("NAME", "").strip().lower(), entry.findtext("VALUE", "")
        if name:
            extra[name[:200]] = value[:4096]


_ASCII_LIKE = str.maketrans({"\u2014": "-", "\u2013": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
                            "\u201d": '"', "\u2026": "...", "\u00f8": "o", "\u00d8": "O", "\u00e6": "ae",
                            "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE", "\u00df": "ss", "\u0142": "l",
                            "\u0141": "L", "\u0111": "d", "\u0110": "D", "\u00e5": "a", "\u00c5": "A"})


def ascii_text(text: str) -> str:
    """``text`` as ASCII, the only characters bext's fixed fields take (EBU Tech 3285): accents
    dropped, dashes, quotes and a few letters spelled out, anything else ``?`` (QA51: UTF-8 there
    showed as "Ã§a va" in mediainfo; the whole text stays in iXML, ``id3 `` and INFO).

    >>> ascii_text("ça va — Bjørk"), ascii_text("東京")
    ('ca va - Bjork', '??')
    """
    import unicodedata
    flat = unicodedata.normalize("NFKD", text.translate(_ASCII_LIKE))
    return "".join(c for c in flat if not unicodedata.combining(c)).encode("ascii", "replace").decode("ascii")


def __getattr__(name: str) -> Any:
    """The writer's names (:mod:`nodeflow.riffwrite`, which builds on this module), importable from here
    as before the split: ``from .riff import write_wav`` finds it, and patching ``riff.write_wav`` reaches
    every export."""
    if name in ("write_wav", "source_epoch"):
        from . import riffwrite
        return getattr(riffwrite, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
