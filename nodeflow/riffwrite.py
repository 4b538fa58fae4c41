"""Writing AudioChain's own WAV metadata chunks: :func:`write_wav` rewrites an exported file with the
chunks built here, streaming its data chunk (walking and reading a file's chunks is :mod:`nodeflow.riff`).

Layout of a file :func:`write_wav` rewrites (chunks it does not own are kept, in order)::

    RIFF WAVE  fmt  bext  [other chunks]  iXML  LIST/INFO  data  cue  LIST/adtl  acgr

- ``bext``: version 2 with the loudness fields (integrated, range, max true peak) when the export
  measured them, else version 1.
- ``LIST/INFO``: INAM title, IART artist, IPRD album, ICMT comment, IGNR genre, ICRD date, ISFT software,
  IBPM tempo (not in the 1991 INFO list; ffprobe shows it as ``IBPM``).
- ``id3 ``: an ID3v2.4 tag with the labels only (TIT2 TPE1 TALB TBPM TKEY...), where mediainfo, Apple
  Music and DJ software look for a WAV's tempo and key.
- ``bext`` (EBU Tech 3285 version 1, 602 bytes + CodingHistory): Description (description, else
  comment), Originator, OriginationDate/Time (``date``, else the time of writing),
  TimeReference = ``time_reference`` in samples at the file's rate, UMID zero, CodingHistory
  ``A=PCM,F=<rate>,W=<bits>,M=<mono|stereo>,T=<software>``.
- ``iXML`` (BWFXML, IXML_VERSION 2.10): PROJECT album, NOTE comment; SPEED/TIMESTAMP_SAMPLES_SINCE_
  MIDNIGHT_HI/LO + TIMESTAMP_SAMPLE_RATE (the same placement as bext); tempo, meter and key in the
  ``ASWG`` section (the Audio Sound Working Group's iXML extension: ``tempo``, ``timeSig``,
  ``inKey``, ``songTitle``, ``artist``); provenance in ``AUDIOCHAIN_INFO/ENTRY/NAME+VALUE``.
- ``cue `` + ``LIST/adtl``: one cue point per marker (id 1..n, sample offset), a ``labl`` with its label.
- ``acgr``: the graph file bytes (tag viewers list no unknown chunk).

Text is written as UTF-8 (as ffmpeg and Reaper do; ffprobe shows it correctly, mediainfo decodes
INFO as Latin-1 and so garbles non-ASCII titles).
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import AudioError
from .riff import _INFO, _OWNED, GRAPH_CHUNK, _fmt, _read, ascii_text, walk_chunks

if TYPE_CHECKING:   # audiometa imports riff, and so this module, lazily
    from .audiometa import Metadata

__all__ = ["write_wav", "source_epoch"]

_BEXT = struct.Struct("<256s32s32s10s8sIIH64s10s180s")     # 602 bytes, Tech 3285 v1/v2
# characters XML 1.0 refuses, listed directly (the negated class of the allowed ones takes ~10 ms to compile)
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def write_wav(path: Path, meta: Metadata, graph: bytes | None, software: str) -> list[str]:
    """Rewrite ``path`` with ``meta``'s chunks (replacing any it had), streaming the data chunk."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        chunks = walk_chunks(f, size)
        tag, channels, rate, bits = _fmt(f, chunks, size)
        data = next(((off, n) for cid, off, n in chunks if cid == b"data"), None)
        if data is None or data[1] in (0, 0xFFFFFFFF) or data[0] + data[1] > size:
            return [f"{path.name}: no complete data chunk; metadata not written"]
        keep = [(cid, off, n) for cid, off, n in chunks if cid not in _OWNED and cid != b"data"
                and not (cid == b"LIST" and _read(f, off, 4, 4, size) in (b"INFO", b"adtl"))]
        keep = [c for c in keep if c[1] + c[2] <= size]
        frames = data[1] // max(1, channels * ((bits + 7) // 8))
        tr = meta.time_reference_at(rate) if rate else None
        when = _when(meta.date)
        coding = _coding_history(tag, rate, bits, channels, software)
        bext = _chunk(b"bext", _bext(meta, when, tr, coding))
        front = [_chunk(b"iXML", _ixml(meta, tr, rate)), _chunk(b"LIST", b"INFO" + _info(meta, when, software))]
        back = []
        if meta.markers:
            marks = [(fr, label) for fr, label in meta.markers if fr <= frames and fr < 1 << 32]
            back += [_chunk(b"cue ", _cue(marks)), _chunk(b"LIST", b"adtl" + _adtl(marks))]
        if any((meta.title, meta.artist, meta.album, meta.bpm, meta.key)):
            from .id3meta import wav_id3_chunk
            front.append(_chunk(b"id3 ", wav_id3_chunk(meta)))    # BPM and key where ffprobe/mediainfo look
        if graph is not None:
            back.append(_chunk(GRAPH_CHUNK, graph))
        body = 4 + sum(8 + n + (n & 1) for _, _, n in keep) + len(bext) + sum(map(len, front + back)) \
            + 8 + data[1] + (data[1] & 1)
        if body >= 1 << 32:
            return [f"{path.name}: the metadata would take the file past the 4 GiB RIFF limit; not written"]
        from .atomic import new_temp
        tmp = new_temp(path)
        try:
            with open(tmp, "wb") as out:
                out.write(b"RIFF" + body.to_bytes(4, "little") + b"WAVE")
                for cid, off, n in keep:
                    _copy_chunk(f, out, cid, off, n)
                    if cid == b"fmt ":
                        out.write(bext)
                        bext = b""
                out.write(bext)
                for c in front:
                    out.write(c)
                _copy_chunk(f, out, b"data", *data)
                for c in back:
                    out.write(c)
            shutil.copymode(path, tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return []


def _copy_chunk(src: IO[bytes], dst: IO[bytes], cid: bytes, off: int, n: int) -> None:
    dst.write(cid + n.to_bytes(4, "little"))
    src.seek(off)
    left = n
    epoch = source_epoch() if cid == b"PEAK" else None      # libsndfile stamps it with the clock
    while left:
        block = src.read(min(left, 1 << 20))
        if not block:
            raise AudioError(f"the {cid.decode('latin-1')!r} chunk ends early; the file is truncated")
        if epoch is not None and left == n and len(block) >= 8:
            block = block[:4] + epoch.to_bytes(4, "little") + block[8:]
        dst.write(block)
        left -= len(block)
    if n & 1:
        dst.write(b"\x00")


def _chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + len(payload).to_bytes(4, "little") + payload + (b"\x00" if len(payload) & 1 else b"")


def _zstr(text: str) -> bytes:
    return text.encode("utf-8") + b"\x00"


def _fixed(text: str, n: int) -> bytes:
    """``text`` as ASCII (:func:`ascii_text`) cut to ``n`` bytes (bext's fixed fields)."""
    return ascii_text(text).encode("ascii")[:n]


def source_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` (seconds since 1970, the reproducible-builds convention), or None: a render
    then writes that time where a WAV holds one (bext, INFO, the PEAK chunk's stamp), so the same graph
    renders byte-identical files (QA: two renders differed only in their clock time)."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(raw) if raw.isdigit() and int(raw) < 2 ** 32 else None


def _when(date: str) -> tuple[str, str]:
    if date:
        return date[:10], (date[11:19] if len(date) >= 19 else "00:00:00")
    epoch = source_epoch()
    now = (_dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).replace(tzinfo=None) if epoch is not None
           else _dt.datetime.now()).replace(microsecond=0)
    return now.date().isoformat(), now.time().isoformat()


def _coding_history(tag: int, rate: int, bits: int, channels: int, software: str) -> bytes:
    mode = {1: ",M=mono", 2: ",M=stereo"}.get(channels, "")
    kind = "PCM" if tag in (1, 3, 0xFFFE) else "ANALOGUE" if tag == 0 else f"0x{tag:04X}"
    return f"A={kind},F={rate},W={bits}{mode},T={software}\r\n".encode("ascii", "replace")


_UNUSED = 0x7FFF      # bext v2: a loudness field that was not measured


def _loudness(meta: Metadata) -> bytes | None:
    """bext v2 loudness fields (LoudnessValue, LoudnessRange, MaxTruePeakLevel, MaxMomentaryLoudness,
    MaxShortTermLoudness; hundredths of LUFS/LU/dBTP) from the export's measurement, if it has one."""
    extra = dict(meta.extra)
    values = []
    for key in ("loudness_integrated_lufs", "loudness_range_lu", "true_peak_dbtp", "", ""):
        try:
            v = round(float(extra[key]) * 100)
            values.append(v if -32768 <= v < _UNUSED else _UNUSED)
        except (KeyError, ValueError, OverflowError):
            values.append(_UNUSED)
    return None if values[0] == _UNUSED else struct.pack("<5h", *values)


def _bext(meta: Metadata, when: tuple[str, str], tr: int | None, coding: bytes) -> bytes:
    tr = tr or 0
    loudness = _loudness(meta)
    return _BEXT.pack(_fixed(meta.description or meta.comment, 256), _fixed(meta.originator, 32), b"",
                      when[0].encode("ascii", "replace")[:10], when[1].encode("ascii", "replace")[:8],
                      tr & 0xFFFFFFFF, tr >> 32 & 0xFFFFFFFF, 1 if loudness is None else 2, bytes(64),
                      loudness or bytes(10), bytes(180)) + coding


def _info(meta: Metadata, when: tuple[str, str], software: str) -> bytes:
    items = [(cid, getattr(meta, name)) for name, cid in _INFO.items() if name != "date"]
    items += [(b"ICRD", meta.date or when[0]), (b"ISFT", software)]
    if meta.bpm is not None:      # IBPM: the INFO tempo some taggers (ExifTool's BeatsPerMinute) read
        from .audiometa import format_bpm
        items.append((b"IBPM", format_bpm(meta.bpm)))
    return b"".join(_chunk(cid, _zstr(value)) for cid, value in items if value)


def _ixml(meta: Metadata, tr: int | None, rate: int) -> bytes:
    root = ET.Element("BWFXML")

    def add(parent: ET.Element, tag: str, value: object) -> None:
        if value not in ("", None):
            ET.SubElement(parent, tag).text = _XML_BAD.sub("", str(value))

    from .audiometa import format_bpm
    add(root, "IXML_VERSION", "2.10")
    add(root, "PROJECT", meta.album)
    add(root, "NOTE", meta.comment)
    if tr is not None and rate:
        speed = ET.SubElement(root, "SPEED")
        add(speed, "TIMESTAMP_SAMPLE_RATE", rate)
        add(speed, "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI", tr >> 32)
        add(speed, "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO", tr & 0xFFFFFFFF)
    if meta.bpm is not None or meta.meter or meta.key or meta.title or meta.artist:
        aswg = ET.SubElement(root, "ASWG")
        add(aswg, "songTitle", meta.title)
        add(aswg, "artist", meta.artist)
        add(aswg, "tempo", None if meta.bpm is None else format_bpm(meta.bpm))
        add(aswg, "timeSig", meta.meter)
        add(aswg, "inKey", meta.key)
    if meta.extra:
        info = ET.SubElement(root, "AUDIOCHAIN_INFO")
        for k, v in meta.extra:
            entry = ET.SubElement(info, "ENTRY")
            add(entry, "NAME", k)
            ET.SubElement(entry, "VALUE").text = _XML_BAD.sub("", v)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _cue(marks: list[tuple[int, str]]) -> bytes:
    points = b"".join(struct.pack("<II4sIII", i, fr, b"data", 0, 0, fr) for i, (fr, _) in enumerate(marks, 1))
    return len(marks).to_bytes(4, "little") + points


def _adtl(marks: list[tuple[int, str]]) -> bytes:
    return b"".join(_chunk(b"labl", i.to_bytes(4, "little") + _zstr(label or f"marker {i}"))
                    for i, (_, label) in enumerate(marks, 1))
