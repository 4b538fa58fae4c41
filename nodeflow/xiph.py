"""FLAC and Ogg Vorbis metadata: Vorbis comments for the tags, a binary place for the graph.

Vorbis comments written (keys upper case, values UTF-8): TITLE, ARTIST, ALBUM, COMMENT, DESCRIPTION,
GENRE, DATE, BPM (``120`` / ``92.5``), KEY and INITIALKEY (the same text), METER (``3/4``),
TIME_REFERENCE (samples at the file's rate; the key ffmpeg gives a WAV's bext time reference),
ENCODER (AudioChain and its version), markers as the chapter extension ``CHAPTER001=00:00:01.500``
+ ``CHAPTER001NAME=label`` (millisecond precision; ffmpeg lists them as chapters), provenance
under its own lower-case keys.

The graph:

- FLAC: an APPLICATION metadata block (type 2) with application id ``ACgr``; decoders and tag
  viewers skip application blocks they do not know.  At most 16 MiB - 5 bytes.
- Ogg Vorbis: after the framing bit of the comment header packet, where decoders stop reading
  (mutagen keeps its padding there): ``AudioChainGraph\\x01`` + length (u32 LE) + bytes + CRC-32.
  libvorbis, ffmpeg and libsndfile decode such files unchanged; ``ffprobe`` at its default
  verbosity prints an information line "N bytes of comment header remain" (as for any file
  mutagen padded).  A tag editor that rewrites the comment header drops the graph.

Reading parses FLAC blocks and Ogg pages directly, with bounded sizes, not through mutagen.
"""
from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import AudioError

if TYPE_CHECKING:   # audiometa imports this module lazily
    from .audiometa import Metadata, Parts

APP_ID = b"ACgr"
OGG_MAGIC = b"AudioChainGraph\x01"
_FLAC_MAX_BLOCK = (1 << 24) - 1
_MAX_BLOCKS = 1024
_MAX_PAGES = 2048
_MAX_PACKET = (17 << 20)
_BAD_KEY = re.compile(r"[^\x20-\x3c\x3e-\x7d]")          # printable ASCII except "="
_CHAPTER = re.compile(r"^(?:chapter(\d{3})(name)?|audiochain_marker(\d{3}))$")   # the last: a chapter's exact sample
MAX_CHAPTERS = 999     # the chapter extension numbers them with three digits
_FIELDS = {"title": "title", "artist": "artist", "album": "album", "comment": "comment",
           "description": "description", "genre": "genre", "date": "date", "bpm": "bpm", "tempo": "bpm",
           "key": "key", "initialkey": "key", "meter": "meter", "time_reference": "time_reference",
           "timereference": "time_reference"}
_SKIP = {"encoder", "vendor"}
# what a scan of a file's header finds: (Vorbis comments, sample rate or 0, AudioChain graph bytes or None)
_Scan = tuple[list[tuple[str, str]], int, "bytes | None"]


# ---------------------------------------------------------------------------------------- reading
def read_xiph(path: Path, fmt: str) -> Parts:
    from .audiometa import GRAPH_KEY, clean_fields

    comments, rate, _ = (_flac_scan if fmt == "flac" else _ogg_scan)(path)
    fields: dict[str, str] = {}
    extra: dict[str, str] = {}
    chapters: dict[str, dict[str, str]] = {}
    for key, value in comments:
        k = key.lower()
        m = _CHAPTER.match(k)
        if m:
            chapters.setdefault(m.group(1) or m.group(3), {})["sample" if m.group(3) else "name" if m.group(2)
                                                              else "time"] = value
        elif k in _FIELDS:
            fields.setdefault(_FIELDS[k], value)
        elif k not in _SKIP and k != GRAPH_KEY and len(k) <= 200:
            extra.setdefault(k, value[:4096])
    found = []
    for ch in chapters.values():
        t = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", ch.get("time", "").strip())
        if t and rate:
            seconds = int(t.group(1)) * 3600 + int(t.group(2)) * 60 + float(t.group(3))
            found.append((seconds, ch.get("sample", ""), ch.get("name", "")))
    markers = exact_markers(found, rate)
    if "time_reference" in fields and rate:
        fields["time_reference_rate"] = str(rate)
    if "description" in fields:                      # ffmpeg writes a WAV's comment as DESCRIPTION
        fields.setdefault("comment", fields["description"])
    return clean_fields(fields), sorted(markers), extra


def exact_marker(seconds: float, rate: int, sample: str) -> int:
    """A marker's frame from a chapter's time in milliseconds and the exact ``sample`` AudioChain
    writes beside it, where that sample is the same point (QA55: FLAC and MP3 markers came back up to
    16 samples off; a chapter moved by another tagger, or a file resampled since, keeps its time).

    >>> exact_marker(0.5, 48000, "24017"), exact_marker(0.9, 48000, "24017"), exact_marker(0.5, 48000, "")
    (24017, 43200, 24000)
    """
    frame = round(seconds * rate)
    if _sample(sample) is not None and abs(int(sample) - seconds * rate) <= rate / 1000:
        return int(sample)
    return frame


def exact_markers(chapters: list[tuple[float, str, str]], rate: int) -> list[tuple[int, str]]:
    """Markers ``(frame, label)`` from a file's chapters ``(seconds, the exact sample written beside it,
    label)``: each on its exact sample where the chapter is at that sample (:func:`exact_marker`) or at
    the millisecond :func:`chapter_ms` gives it among the others (a run of markers within a few
    milliseconds, each a millisecond after the one before: QA105, from the 12th on they came back
    up to 13 ms late); else at the chapter's time (moved by another tagger, or resampled since).
    The last chapter's time stands for the file's end (before it, or where it was not moved back,
    the same times follow)."""
    known = {i: s for i, s in enumerate(_sample(sample) for _, sample, _ in chapters) if s is not None}
    last = max(known, key=lambda i: (known[i], i), default=None)
    end = None if last is None else round(chapters[last][0] * 1000) + 1
    written = dict(zip(known, chapter_ms(list(known.values()), rate, end)))
    out = []
    for i, (seconds, sample, label) in enumerate(chapters):
        there = i in written and round(seconds * 1000) == written[i]
        out.append((known[i] if there else exact_marker(seconds, rate, sample), label))
    return out


def _sample(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


def chapter_ms(frames: list[int], rate: int, end_ms: int | None = None) -> list[int]:
    """Each marker's chapter time in milliseconds (what a chapter counts), a millisecond after the one
    before where two fall in the same millisecond: a chapter ends where the next starts, and ffmpeg
    ran one starting with the next to the end of the file (QA103: "chorus" 16 samples before "bar 3").
    Within a file ``end_ms`` long each starts before its end (a marker on the last frame: a chapter of
    the last millisecond, not an empty one past the end).  The exact sample written beside each
    still says where it is (:func:`exact_markers`).

    >>> chapter_ms([96000, 143984, 144000, 144010, 192000], 48000)
    [2000, 3000, 3001, 3002, 4000]
    >>> chapter_ms([0, 47980, 47999, 48000], 48000, end_ms=1000)
    [0, 997, 998, 999]
    """
    order = sorted(range(len(frames)), key=frames.__getitem__)         # in time, whatever order they came in
    out = [0] * len(frames)
    last = -1
    for i in order:
        out[i] = last = max(round(frames[i] * 1000 / rate), last + 1)
    if end_ms is not None:
        limit = end_ms - 1
        for i in reversed(order):
            out[i] = limit = max(0, min(out[i], limit))
            limit -= 1
    return out


def read_xiph_graph(path: Path, fmt: str) -> bytes | None:
    from .audiometa import GRAPH_KEY

    comments, _, graph = (_flac_scan if fmt == "flac" else _ogg_scan)(path, want_graph=True)
    if graph is not None:
        return graph
    for key, value in comments:                       # AudioChain before 2026-12: base64 comment
        if key.lower() == GRAPH_KEY:
            try:
                return base64.b64decode("".join(value.split()), validate=True)
            except (binascii.Error, ValueError):
                raise AudioError(f"{path}: the embedded AudioChain graph is damaged (bad base64 in "
                                 f"'{GRAPH_KEY}'); re-export the file") from None
    return None


def parse_comments(data: bytes) -> tuple[list[tuple[str, str]], int]:
    """``([(key, value)...], end offset)`` of a Vorbis comment structure (no packet type header)."""
    pos = 4 + int.from_bytes(data[:4], "little")
    count = int.from_bytes(data[pos:pos + 4], "little")
    pos += 4
    out = []
    for _ in range(count):
        if pos + 4 > len(data):
            break
        n = int.from_bytes(data[pos:pos + 4], "little")
        raw = data[pos + 4:pos + 4 + n]
        pos += 4 + n
        if len(raw) < n:
            break
        key, sep, value = raw.decode("utf-8", "replace").partition("=")
        if sep:
            out.append((key, value))
    return out, pos


def _flac_scan(path: Path, want_graph: bool = False) -> _Scan:
    comments: list[tuple[str, str]] = []
    rate, graph = 0, None
    with open(path, "rb") as f:
        head = f.read(10)
        start = 0
        if head[:3] == b"ID3":
            from .audiometa import _syncsafe
            start = 10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0)
        f.seek(start)
        if f.read(4) != b"fLaC":
            return comments, rate, graph
        for _ in range(_MAX_BLOCKS):
            head = f.read(4)
            if len(head) < 4:
                break
            last, kind, n = head[0] & 0x80, head[0] & 0x7F, int.from_bytes(head[1:4], "big")
            if kind == 0 and n >= 18:
                info = f.read(n)
                rate = int.from_bytes(info[10:13], "big") >> 4
            elif kind == 4:
                comments, _ = parse_comments(f.read(n))
            elif kind == 2 and want_graph and graph is None:
                body = f.read(n)
                if body[:4] == APP_ID:
                    graph = body[4:]
                    if len(graph) != n - 4:
                        raise AudioError(f"{path}: the embedded AudioChain graph is damaged (truncated "
                                         "FLAC application block); re-export the file")
            else:
                f.seek(n, 1)
            if last:
                break
    return comments, rate, graph


def _ogg_packets(f: IO[bytes], wanted: int) -> list[bytes]:
    """The first ``wanted`` packets of the first logical stream (bounded page and packet sizes)."""
    packets: list[bytes] = []
    current, serial = b"", None
    for _ in range(_MAX_PAGES):
        head = f.read(27)
        if len(head) < 27 or head[:4] != b"OggS":
            break
        page_serial, nseg = struct.unpack_from("<I", head, 14)[0], head[26]
        lacing = f.read(nseg)
        body = f.read(sum(lacing))
        if serial is None:
            serial = page_serial
        if page_serial != serial:
            continue
        pos = 0
        for lace in lacing:
            current += body[pos:pos + lace]
            pos += lace
            if len(current) > _MAX_PACKET:
                return packets
            if lace < 255:
                packets.append(current)
                current = b""
                if len(packets) >= wanted:
                    return packets
    return packets


def _ogg_scan(path: Path, want_graph: bool = False) -> _Scan:
    comments: list[tuple[str, str]] = []
    rate, graph = 0, None
    with open(path, "rb") as f:
        packets = _ogg_packets(f, 2)
    if packets and packets[0][:7] == b"\x01vorbis" and len(packets[0]) >= 16:
        rate = int.from_bytes(packets[0][12:16], "little")
    if len(packets) > 1 and packets[1][:7] == b"\x03vorbis":
        comments, end = parse_comments(packets[1][7:])
        tail = packets[1][7 + end + 1:]              # after the framing byte
        if want_graph and tail[:len(OGG_MAGIC)] == OGG_MAGIC:
            n = int.from_bytes(tail[16:20], "little")
            graph, crc = tail[20:20 + n], tail[20 + n:24 + n]
            if len(graph) != n or len(crc) != 4 or zlib.crc32(graph) != int.from_bytes(crc, "little"):
                raise AudioError(f"{path}: the embedded AudioChain graph is damaged (checksum mismatch in "
                                 "the Ogg comment header); re-export the file")
    return comments, rate, graph


# ---------------------------------------------------------------------------------------- writing
def vorbis_items(meta: Metadata, rate: int, software: str, end_ms: int | None = None) -> dict[str, list[str]]:
    from .audiometa import format_bpm

    items: dict[str, list[str]] = {}
    for key, name in (("TITLE", "title"), ("ARTIST", "artist"), ("ALBUM", "album"), ("COMMENT", "comment"),
                      ("DESCRIPTION", "description"), ("GENRE", "genre"), ("DATE", "date"),
                      ("KEY", "key"), ("INITIALKEY", "key"), ("METER", "meter")):
        if getattr(meta, name):
            items[key] = [getattr(meta, name)]
    if meta.bpm is not None:
        items["BPM"] = [format_bpm(meta.bpm)]
    tr = meta.time_reference_at(rate)
    if tr is not None:
        items["TIME_REFERENCE"] = [str(tr)]
    items["ENCODER"] = [software]
    kept = meta.markers[:MAX_CHAPTERS]
    for i, (frame, label), ms in zip(range(1, len(kept) + 1), kept, chapter_ms([f for f, _ in kept], rate, end_ms)):
        items[f"CHAPTER{i:03d}"] = [f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"]
        items[f"CHAPTER{i:03d}NAME"] = [label or f"marker {i}"]
        items[f"AUDIOCHAIN_MARKER{i:03d}"] = [str(frame)]   # the chapter's sample (a chapter counts milliseconds)
    for k, v in meta.extra:
        items[_BAD_KEY.sub("_", k) or "_"] = [v]
    return items


def write_xiph(path: Path, fmt: str, meta: Metadata, graph: bytes | None, software: str) -> list[str]:
    from mutagen.flac import FLAC, MetadataBlock
    from mutagen.oggvorbis import OggVorbis

    from .audiometa import GRAPH_KEY, markers_left

    audio: Any = FLAC(path) if fmt == "flac" else OggVorbis(path)     # mutagen's file types, loosely typed
    if audio.tags is None:
        audio.add_tags()
    items = vorbis_items(meta, audio.info.sample_rate, software, round(audio.info.length * 1000))
    notes = [markers_left(len(meta.markers), MAX_CHAPTERS, f"{fmt}'s chapters (CHAPTER001 to CHAPTER999)")] \
        if len(meta.markers) > MAX_CHAPTERS else []
    stale = {GRAPH_KEY} | ({k for k in map(str.lower, audio.tags.keys()) if _CHAPTER.match(k)} if meta.markers else set())
    for key in [k for k in audio.tags.keys() if k.lower() in stale]:
        del audio.tags[key]
    for key, values in items.items():
        audio.tags[key] = values
    if fmt == "flac":
        audio.metadata_blocks[:] = [b for b in audio.metadata_blocks
                                    if not (b.code == 2 and getattr(b, "data", b"")[:4] == APP_ID)]
        if graph is not None:
            if len(graph) + 4 > _FLAC_MAX_BLOCK:
                raise AudioError(f"{path}: the graph ({len(graph)} bytes) does not fit in a FLAC metadata block "
                                 f"(at most {_FLAC_MAX_BLOCK - 4} bytes); export wav or mp3, or turn embed_graph off")
            block: Any = MetadataBlock(APP_ID + graph)
            block.code = 2
            audio.metadata_blocks.append(block)
        audio.save()
        return notes
    audio.save(padding=lambda info: 0)
    if graph is not None:
        _ogg_append(path, OGG_MAGIC + len(graph).to_bytes(4, "little") + graph
                    + zlib.crc32(graph).to_bytes(4, "little"))
    return notes


def _ogg_append(path: Path, trailer: bytes) -> None:
    """Put ``trailer`` after the framing bit of the Vorbis comment packet (pages renumbered)."""
    from mutagen.ogg import OggPage

    with open(path, "rb+") as f:
        page = OggPage(f)
        while not page.packets or not page.packets[0].startswith(b"\x03vorbis"):
            page = OggPage(f)
        old = [page]
        while not (old[-1].complete or len(old[-1].packets) > 1):
            page = OggPage(f)
            if page.serial == old[0].serial:
                old.append(page)
        packets = OggPage.to_packets(old, strict=False)
        _, end = parse_comments(packets[0][7:])
        packets[0] = packets[0][:7 + end + 1] + trailer
        OggPage.replace(f, old, OggPage._from_packets_try_preserve(packets, old))
