"""ID3v2.4 metadata (MP3 files, and ID3 chunks other tools put in WAV files).

Frames written: TIT2 title, TPE1 artist, TALB album, COMM comment (language ``eng``, no
description), TCON genre, TDRC date, TBPM (rounded to an integer, as ID3 requires) with the exact
value in ``TXXX:BPM``, TKEY (when the key reads as ID3's ``A#m``/``Eb``/``o`` notation) and the
user's text in ``TXXX:KEY``, ``TXXX:METER``, ``TXXX:TIME_REFERENCE`` (samples at the file's rate),
``TXXX:DESCRIPTION``, markers as ``CHAP`` frames (milliseconds, a ``TIT2`` label each) under one
``CTOC`` (ffmpeg lists them as chapters), provenance as ``TXXX:<key>``, and the graph as
``GEOB:audiochain-graph`` (binary; tag viewers do not print it).
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .errors import AudioError
from .xiph import chapter_ms, exact_markers

if TYPE_CHECKING:   # mutagen is imported where tags are read or written; audiometa imports this module lazily
    from mutagen.id3 import ID3

    from .audiometa import Metadata, Parts

GEOB_DESC = "audiochain-graph"
CTOC_MAX = 255                        # entries a CTOC lists (its count is one byte)
MAX_MARKERS = CTOC_MAX * CTOC_MAX     # chapters under one top-level table of tables
MARKER_SAMPLE = "audiochain_sample"    # a CHAP's TXXX sub-frame: its exact sample (CHAP counts milliseconds)
MAX_ID3 = 64 << 20
_TXXX = {"bpm": "bpm", "key": "key", "initialkey": "key", "meter": "meter", "time_reference": "time_reference",
         "timereference": "time_reference", "description": "description"}
_TEXT = {"TIT2": "title", "TPE1": "artist", "TALB": "album", "TCON": "genre", "TDRC": "date", "TBPM": "bpm",
         "TKEY": "key"}
_KEY = re.compile(r"([A-Ga-g])\s*([#b♯♭]?)\s*(m|min|minor|maj|major)?", re.I)


def id3_key(key: str) -> str | None:
    """ID3's TKEY notation for a key ("F# minor" -> "F#m", "Bb major" -> "Bb"), or None."""
    m = _KEY.fullmatch(key.strip())
    if key.strip().lower() in ("o", "off", "off key"):
        return "o"
    if not m:
        return None
    acc = {"♯": "#", "♭": "b", "B": "b"}.get(m.group(2), m.group(2))
    minor = (m.group(3) or "").lower() in ("m", "min", "minor") and m.group(3) != "M"
    return m.group(1).upper() + acc + ("m" if minor else "")


def id3_parts(data: bytes | None, tags: ID3 | None = None,
              rate: int = 0) -> tuple[dict[str, str], list[tuple[int, str]], dict[str, str]]:
    """``(fields, markers, extra)`` from ID3 tag bytes (or a loaded mutagen ``ID3``)."""
    if tags is None:
        tags = _load(data)
    fields: dict[str, str] = {}
    extra: dict[str, str] = {}
    chapters: list[tuple[float, str, str]] = []
    if tags is None:
        return fields, [], extra
    for frame in tags.values():
        fid = frame.FrameID
        if fid == "TXXX":
            desc, text = frame.desc.strip().lower(), "; ".join(map(str, frame.text))
            if desc in _TXXX:
                fields[_TXXX[desc]] = text          # exact values win over TBPM / TKEY
            elif desc and len(desc) <= 200:
                extra[desc] = text[:4096]
        elif fid in _TEXT:
            fields.setdefault(_TEXT[fid], "; ".join(map(str, frame.text)))
        elif fid == "COMM" and not frame.desc and frame.text:
            fields.setdefault("comment", "; ".join(map(str, frame.text)))
        elif fid == "CHAP" and rate:
            label = next((str(s.text[0]) for s in frame.sub_frames.values() if s.FrameID == "TIT2" and s.text), "")
            sample = next((str(s.text[0]) for s in frame.sub_frames.values() if s.FrameID == "TXXX"
                           and s.desc == MARKER_SAMPLE and s.text), "")
            chapters.append((frame.start_time / 1000, sample, label))
    if fields.get("key") and len(fields["key"]) > 200:
        del fields["key"]
    return fields, sorted(exact_markers(chapters, rate)), extra


def id3_graph(data: bytes | None, tags: ID3 | None = None) -> bytes | None:
    if tags is None:
        tags = _load(data)
    frames = tags.getall(f"GEOB:{GEOB_DESC}") if tags is not None else []
    return bytes(frames[0].data) if frames else None


def _load(data: bytes | None) -> ID3 | None:
    from mutagen.id3 import ID3

    try:
        return ID3(fileobj=io.BytesIO(data or b""))
    except Exception:  # mutagen's ID3NoHeaderError, struct errors...: a damaged tag is no tag
        return None


def _file_tags(path: Path) -> tuple[ID3 | None, int]:
    """``(tags, rate)`` of an MP3 file; tags None when it has none (or a too large one)."""
    from mutagen.mp3 import MP3

    from .audiometa import _syncsafe

    with open(path, "rb") as f:
        head = f.read(10)
    if head[:3] == b"ID3" and _syncsafe(head[6:10]) > MAX_ID3:
        return None, 0
    try:
        audio: Any = MP3(path)
    except Exception:
        return None, 0
    tags: ID3 | None = audio.tags
    rate: int = audio.info.sample_rate
    return tags, rate


def read_id3_file(path: Path) -> Parts:
    from .audiometa import clean_fields

    tags, rate = _file_tags(path)
    fields, markers, extra = id3_parts(None, tags=tags, rate=rate) if tags is not None else ({}, [], {})
    if "time_reference" in fields and rate:
        fields["time_reference_rate"] = str(rate)
    return clean_fields(fields), markers, extra


def read_id3_graph(path: Path) -> bytes | None:
    tags, _ = _file_tags(path)
    return id3_graph(None, tags=tags)


def _fill_text(tags: ID3, meta: Metadata) -> Callable[[str, str], None]:
    """Set ``meta``'s text frames (title, artist, album, genre, date, comment, tempo, key, meter) in
    the ID3 ``tags``; returns the ``txxx(desc, value)`` setter for more."""
    from mutagen.id3 import COMM, TBPM, TXXX, Encoding, Frames

    from .audiometa import format_bpm

    utf8 = Encoding.UTF8

    def text(fid: str, value: str) -> None:
        tags.delall(fid)
        tags.add(Frames[fid](encoding=utf8, text=[value]))

    def txxx(desc: str, value: str) -> None:
        for old in [k for k in tags.keys() if k.lower() == f"txxx:{desc.lower()}"]:
            del tags[old]
        tags.add(TXXX(encoding=utf8, desc=desc, text=[value]))

    for fid, name in (("TIT2", "title"), ("TPE1", "artist"), ("TALB", "album"), ("TCON", "genre"), ("TDRC", "date")):
        if getattr(meta, name):
            text(fid, getattr(meta, name))
    if meta.comment:
        tags.delall("COMM::eng")
        tags.add(COMM(encoding=utf8, lang="eng", desc="", text=[meta.comment]))
    if meta.description:
        txxx("DESCRIPTION", meta.description)
    if meta.bpm is not None:
        tags.delall("TBPM")
        tags.add(TBPM(encoding=utf8, text=[str(max(1, round(meta.bpm)))]))
        txxx("BPM", format_bpm(meta.bpm))
    if meta.key:
        if tkey := id3_key(meta.key):
            text("TKEY", tkey)
        txxx("KEY", meta.key)
    if meta.meter:
        txxx("METER", meta.meter)
    return txxx


def wav_id3_chunk(meta: Metadata) -> bytes:
    """An ID3v2.4 tag holding only ``meta``'s labels, for a WAV's ``id3 `` chunk: what Apple Music,
    DJ software, ffprobe and mediainfo read for a WAV's title, artist and BPM (RIFF INFO has no BPM)."""
    import io

    from mutagen.id3 import ID3

    tags = ID3()
    _fill_text(tags, meta)
    buf = io.BytesIO()
    tags.save(buf, v2_version=4, padding=lambda info: 0)
    return buf.getvalue()


def write_mp3(path: Path, meta: Metadata, graph: bytes | None, software: str) -> list[str]:
    from mutagen.id3 import GEOB, TENC, Encoding
    from mutagen.mp3 import MP3

    from .audiometa import markers_left

    audio: Any = MP3(path)     # mutagen's file type, loosely typed
    if audio.tags is None:
        audio.add_tags()
    tags, rate = audio.tags, audio.info.sample_rate
    utf8 = Encoding.UTF8
    txxx = _fill_text(tags, meta)
    tr = meta.time_reference_at(rate)
    if tr is not None:
        txxx("TIME_REFERENCE", str(tr))
    tags.delall("TENC")
    tags.add(TENC(encoding=utf8, text=[software]))
    said = _chapters(tags, meta.markers, rate, round(audio.info.length * 1000)) if meta.markers else []
    for k, v in meta.extra:
        txxx(k, v)
    tags.delall(f"GEOB:{GEOB_DESC}")
    if graph is not None:
        tags.add(GEOB(encoding=utf8, mime="application/x-audiochain-graph", filename="graph.audiochain",
                      desc=GEOB_DESC, data=graph))
    try:
        audio.save(v2_version=4)
    except Exception as e:
        raise AudioError(f"{path}: could not write ID3 tags: {e}") from e
    return said + ([markers_left(len(meta.markers), MAX_MARKERS, "an mp3's ID3 chapters")]
                   if len(meta.markers) > MAX_MARKERS else [])


def _chapters(tags: Any, markers: Sequence[tuple[int, str]], rate: int, end_ms: int) -> list[str]:
    """Write ``markers`` as CHAP frames under one CTOC (tables of 255 under it past 255), in time order in the
    file; returns what to say of labels cut.

    mutagen writes frames by size, then by key, and ffmpeg and players list chapters in the order the file
    holds them, whatever the CTOC says (QA121 D2: "outro", at 15.873 s of 17, listed second): every CHAP is
    made the same size by its element id (``m00001`` and padding), so the ids' order, the time order, decides.
    A sub-frame of 128 bytes or more is dropped by ffmpeg with its chapter (it reads their sizes as ID3v2.3's,
    not v2.4's syncsafe ones; QA123 D1), so a title is cut to :data:`TITLE_BYTES`."""
    from mutagen.id3 import CHAP, CTOC, CTOCFlags, Encoding, Frames
    utf8 = Encoding.UTF8
    tags.delall("CHAP")
    tags.delall("CTOC")
    kept = markers[:MAX_MARKERS]
    times = chapter_ms([f for f, _ in kept], rate, end_ms)
    labels = [_title(label or f"marker {i}") for i, (_, label) in enumerate(kept, 1)]
    size = [len(label.encode()) + len(str(frame)) for label, (frame, _) in zip(labels, kept)]
    widest = max(size, default=0)
    ids = []
    for i, ((frame, _), label) in enumerate(zip(kept, labels), 1):
        start = times[i - 1]
        stop = times[i] if i < len(times) else max(start, end_ms)
        ids.append(f"m{i:05d}" + "_" * (widest - size[i - 1]))
        tags.add(CHAP(element_id=ids[-1], start_time=start, end_time=stop, start_offset=0xFFFFFFFF,
                      end_offset=0xFFFFFFFF, sub_frames=[Frames["TIT2"](encoding=utf8, text=[label]),
                                                         # its sample: a chapter counts milliseconds (QA55)
                                                         Frames["TXXX"](encoding=utf8, desc=MARKER_SAMPLE,
                                                                        text=[str(frame)])]))
    if len(ids) > CTOC_MAX:       # a CTOC counts its entries in one byte: past 255, tables of 255 under it (QA83)
        groups = [ids[a:a + CTOC_MAX] for a in range(0, len(ids), CTOC_MAX)]
        ids = [f"toc{g}" for g in range(1, len(groups) + 1)]
        for toc, group in zip(ids, groups):
            tags.add(CTOC(element_id=toc, flags=CTOCFlags.ORDERED, child_element_ids=group, sub_frames=[]))
    tags.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids,
                  sub_frames=[]))
    cut = sum(label != (given or label) for label, (_, given) in zip(labels, kept))
    return [f"{cut} marker label(s) cut to {TITLE_BYTES} bytes in the mp3's chapters (ffmpeg drops a chapter with a "
            "longer title); wav, flac and ogg keep them whole"] if cut else []


TITLE_BYTES = 120      # a chapter's title in UTF-8 at most: its TIT2 sub-frame stays under 128 bytes (see _chapters)


def _title(label: str) -> str:
    """``label`` cut, with ``…``, to :data:`TITLE_BYTES` bytes of UTF-8 at most, between characters."""
    if len(label.encode()) <= TITLE_BYTES:
        return label
    out = label.encode()[:TITLE_BYTES - len(CUT.encode())].decode("utf-8", "ignore")
    return out + CUT


CUT = "…"
