"""What an audio file says about itself: title, artist, tempo, placement, markers, provenance and
the graph that made it, each in the fields its format's own tools (DAWs, tag viewers) read.

=============  ===========================================  ====================================
format         tags, tempo, placement, markers              graph bytes (never shown as a tag)
=============  ===========================================  ====================================
WAV            ``LIST/INFO`` (INAM IART IPRD ICMT IGNR ICRD  RIFF chunk ``acgr``
               ISFT), ``bext`` (EBU Tech 3285 v1:
               description, originator, date, TimeReference,
               CodingHistory), ``iXML`` (tempo, meter, key in
               ``ASWG``; placement in ``SPEED``; provenance in
               ``AUDIOCHAIN_INFO``), ``cue `` + ``LIST/adtl``
               ``labl`` (markers).  See :mod:`nodeflow.riff`.
FLAC           Vorbis comments (TITLE ARTIST ALBUM COMMENT   APPLICATION block, id ``ACgr``
               DESCRIPTION GENRE DATE BPM KEY INITIALKEY
               METER TIME_REFERENCE, ``CHAPTERnnn[NAME]``
               markers, provenance keys in lower case)
OGG Vorbis     the same Vorbis comments                      after the comment header's framing
                                                             bit (what decoders skip, like
                                                             mutagen's padding).  See
                                                             :mod:`nodeflow.xiph`.
MP3            ID3v2.4 TIT2 TPE1 TALB COMM TCON TDRC TBPM    ID3 ``GEOB:audiochain-graph``
               (rounded; exact in TXXX:BPM) TKEY TXXX:KEY
               TXXX:METER TXXX:TIME_REFERENCE, CHAP/CTOC
               markers, provenance TXXX.  See
               :mod:`nodeflow.id3meta`.
=============  ===========================================  ====================================

Files AudioChain wrote before these locations (graph in an ID3 chunk of a WAV, or base64 in a
Vorbis comment) still open with :func:`read_embedded_graph`.  RF64 (WAV over 4 GiB) files get
no metadata: :func:`write_metadata` returns a note saying so.

>>> meta = Metadata(title="take 3", bpm=120, meter="3/4", markers=((48000, "seam 1"),))
>>> write_metadata("take.wav", "wav", meta, graph_bytes)        # doctest: +SKIP
[]
>>> read_metadata("take.wav").bpm                              # doctest: +SKIP
120.0
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import struct
from pathlib import Path
from typing import Any, Iterable

from .errors import AudioError, ParameterError

__all__ = ["Metadata", "write_metadata", "read_metadata", "read_embedded_graph", "read_tags", "embed",
           "detect_format", "file_facts", "GRAPH_KEY", "GRAPH_MIME", "MAX_GRAPH_BYTES", "INFO_KEYS", "LOAD_KEYS",
           "GRAPH_TEXT_TAGS"]

GRAPH_KEY = "audiochain_graph"            # legacy Vorbis comment key (base64), read only
GRAPH_MIME = "application/x-audiochain-graph"
MAX_GRAPH_BYTES = 16 << 20                # the graph file format's own limit
MAX_TEXT = 4096                           # characters kept of a tag read from a file
_METER = re.compile(r"^([1-9]\d?)/([1-9]\d?)$")
# Metadata fields that travel as ``(key, str)`` pairs in ``Audio.info``
INFO_KEYS = ("title", "artist", "album", "comment", "description", "genre", "date", "bpm", "key", "meter",
             "time_reference", "time_reference_rate", "originator")
# the text tags an export takes from the graph's metadata (besides bpm and meter, checked as such)
GRAPH_TEXT_TAGS = ("title", "artist", "album", "comment", "description", "genre", "key")
# what io.load copies from a source file into the loaded Audio's info
LOAD_KEYS = ("title", "artist", "album", "comment", "genre", "bpm", "key", "meter", "time_reference",
             "time_reference_rate")
# what reading a file's tags gives: (Metadata keyword arguments, markers as (frame, label), extra text)
Parts = tuple[dict[str, Any], list[tuple[int, str]], dict[str, str]]


@dataclasses.dataclass(frozen=True)
class Metadata:
    """Descriptive metadata of one audio file; every field is optional ("" / None / () = not set).

    Parameters
    ----------
    title, artist, album, comment, genre : str
    description : str
        Longer text; WAV ``bext`` Description (256 bytes; ``comment`` is used when empty).
    date : str
        ``yyyy-mm-dd`` or ``yyyy-mm-ddThh:mm:ss``; WAV ``bext``/ICRD use the time of writing when empty.
    bpm : float | None
        Tempo in beats per minute, 0 < bpm <= 999.
    key : str
        Musical key as written by the user ("F#m", "C minor").
    meter : str
        Time signature "N/D", e.g. "3/4".
    time_reference : int | None
        Placement of the first sample, in samples since the session start (BWF TimeReference).
    time_reference_rate : int | None
        The rate ``time_reference`` counts in; None means the file's own rate.  Writers rescale.
    originator : str
        WAV ``bext`` Originator (32 bytes).
    markers : tuple[tuple[int, str], ...]
        ``(frame, label)`` cue points at the file's rate, e.g. window seams.
    extra : tuple[tuple[str, str], ...]
        Provenance (checkpoint, adapter, audiochain_version...), lower-case keys.
    """

    title: str = ""
    artist: str = ""
    album: str = ""
    comment: str = ""
    description: str = ""
    genre: str = ""
    date: str = ""
    bpm: float | None = None
    key: str = ""
    meter: str = ""
    time_reference: int | None = None
    time_reference_rate: int | None = None
    originator: str = "AudioChain"
    markers: tuple[tuple[int, str], ...] = ()
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for f in ("title", "artist", "album", "comment", "description", "genre", "date", "key", "meter", "originator"):
            value = getattr(self, f)
            if not isinstance(value, str):
                raise ParameterError(f"metadata {f}={value!r} must be text")
            object.__setattr__(self, f, value.replace("\x00", "").strip())
        if self.bpm is not None:
            try:
                bpm = float(self.bpm)
            except (TypeError, ValueError):
                bpm = math.nan
            if not (0 < bpm <= 999):
                raise ParameterError(f"metadata bpm={self.bpm!r} must be a tempo in (0, 999] beats per minute")
            object.__setattr__(self, "bpm", bpm)
        if self.meter and not _METER.match(self.meter):
            raise ParameterError(f"metadata meter={self.meter!r} must be a time signature like 4/4 or 7/8")
        for f in ("time_reference", "time_reference_rate"):
            v = getattr(self, f)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 63
                                  or (f == "time_reference_rate" and v == 0)):
                raise ParameterError(f"metadata {f}={v!r} must be a non-negative whole number of samples"
                                     if f == "time_reference" else f"metadata {f}={v!r} must be a rate in Hz > 0")
        markers = []
        for m in self.markers:
            frame, label = m
            if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
                raise ParameterError(f"metadata marker {m!r}: the frame must be a whole number >= 0")
            markers.append((frame, str(label).replace("\x00", "")))
        object.__setattr__(self, "markers", tuple(sorted(markers, key=lambda m: m[0])))
        extra = {}
        for k, v in self.extra:
            k = str(k).strip().lower()
            if not k or k in INFO_KEYS or k == GRAPH_KEY:
                raise ParameterError(f"metadata extra key {k!r} is empty or a reserved field name; "
                                     "set that field instead")
            extra[k] = str(v).replace("\x00", "")
        object.__setattr__(self, "extra", tuple(sorted(extra.items())))

    # ------------------------------------------------------------------ Audio.info round trip
    @classmethod
    def from_info(cls, info: dict[str, Any] | Iterable[tuple[str, Any]]) -> "Metadata":
        """From ``Audio.info`` pairs: :data:`INFO_KEYS` become fields (bad values are dropped), the
        rest ``extra``."""
        fields: dict[str, Any] = {}
        extra = []
        for k, v in (info.items() if isinstance(info, dict) else info):
            k, v = str(k).strip().lower(), str(v)
            if k in INFO_KEYS:
                fields.update(clean_fields({k: v}))
            elif k and k != GRAPH_KEY:
                extra.append((k, v))
        return cls(**fields, extra=tuple(extra))

    def to_info(self, keys: Iterable[str] = INFO_KEYS, include_extra: bool = True) -> tuple[tuple[str, str], ...]:
        """``(key, str)`` pairs of the fields that are set (those of ``keys``), then ``extra``; sorted."""
        out = dict(self.extra) if include_extra else {}
        for k in keys:
            v = getattr(self, k)
            if k == "originator" and v == "AudioChain":
                continue
            if v not in ("", None):
                out[k] = format_bpm(v) if k == "bpm" else str(v)
        return tuple(sorted(out.items()))

    def merge(self, over: "Metadata") -> "Metadata":
        """This metadata with every field that ``over`` sets replaced (``extra`` merged key by key,
        ``markers`` replaced when ``over`` has any).  ``params.merge`` order: the last one wins."""
        default = Metadata()
        changes = {f.name: getattr(over, f.name) for f in dataclasses.fields(self)
                   if f.name not in ("extra", "markers") and getattr(over, f.name) != getattr(default, f.name)}
        if over.markers:
            changes["markers"] = over.markers
        changes["extra"] = tuple({**dict(self.extra), **dict(over.extra)}.items())
        return dataclasses.replace(self, **changes)

    def time_reference_at(self, rate: int) -> int | None:
        """``time_reference`` in samples at ``rate``."""
        if self.time_reference is None:
            return None
        src = self.time_reference_rate or rate
        return self.time_reference if src == rate else round(self.time_reference * rate / src)


def format_bpm(bpm: float) -> str:
    """The tempo in full, as AudioChain carries it (QA: 87.31415 was written "87.314", and windows cut
    at the tempo read back from the file drifted off the typed grid).

    >>> format_bpm(120.0), format_bpm(92.5), format_bpm(87.31415)
    ('120', '92.5', '87.31415')
    """
    return format(float(bpm), ".15g")


def clean_fields(raw: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for :class:`Metadata` from text read out of a file: values that do not
    parse (a BPM of "fast", a meter of "x") are dropped, text is capped at :data:`MAX_TEXT`."""
    out: dict[str, Any] = {}
    for k, v in raw.items():
        v = str(v).replace("\x00", "").strip()[:MAX_TEXT]
        if not v:
            continue
        if k == "bpm":
            try:            # "128", "128,00", "97.5 BPM" (taggers write the unit too)
                bpm = float(v.replace(",", ".").lower().removesuffix("bpm").strip())
            except ValueError:
                continue
            if 0 < bpm <= 999:
                out[k] = bpm
        elif k in ("time_reference", "time_reference_rate"):
            if v.isdigit() and 0 < len(v) <= 19 and int(v) < 1 << 63 and (k == "time_reference" or int(v) > 0):
                out[k] = int(v)
        elif k == "meter":
            if _METER.match(v):
                out[k] = v
        elif k in INFO_KEYS:
            out[k] = v
    return out


# ---------------------------------------------------------------------------------------- public API
def detect_format(path: str | os.PathLike[str]) -> str | None:
    """"wav", "rf64", "flac", "ogg", "mp3" from the file's first bytes, or None."""
    from .safeio import open_regular
    with open_regular(path) as f:
        head = f.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return "wav"
        if head[:4] in (b"RF64", b"BW64") and head[8:12] == b"WAVE":
            return "rf64"
        if head[:4] == b"fLaC":
            return "flac"
        if head[:4] == b"OggS":
            return "ogg"
        if head[:3] == b"ID3":
            size = 10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0)
            f.seek(size)
            if f.read(4) == b"fLaC":
                return "flac"
            return "mp3"
        if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
            return "mp3"
    return None


def markers_left(count: int, kept: int, where: str) -> str:
    """The note of a file whose format holds fewer markers than it was given."""
    return (f"{count} markers, and {where} hold {kept}: the first {kept} were written; export wav to keep all "
            "(its cue points have no such limit), or fewer markers (larger windows)")


def write_metadata(path: str | os.PathLike[str], fmt: str | None, meta: Metadata,
                   graph_bytes: bytes | None = None) -> list[str]:
    """Write ``meta`` (and the graph, when given) into the audio file at ``path``.

    Call it on the finished (temporary) file after the audio is written.  WAV metadata chunks
    are replaced as a whole (the file is rewritten, the data chunk streamed); FLAC, OGG and MP3
    keep tags with other keys.  Returns notes about what could not be stored (an empty list when
    everything was; they name no file: the caller says which); raises :class:`AudioError` when the
    file cannot be written at all.
    """
    from . import __version__

    path = Path(path)
    _check_file(path)
    if graph_bytes is not None and len(graph_bytes) > MAX_GRAPH_BYTES:
        raise AudioError(f"{path}: graph is {len(graph_bytes)} bytes; at most {MAX_GRAPH_BYTES >> 20} MiB "
                         "can be embedded; export with embed_graph off")
    found = detect_format(path)
    fmt = (fmt or found or "").lower()
    if found == "rf64" and fmt == "wav":
        fmt = "rf64"
    if fmt != found:
        raise AudioError(f"{path}: is not a {fmt or 'known'} file (its content looks like {found or 'nothing known'}); "
                         "metadata is written to wav, flac, ogg and mp3")
    software = f"AudioChain {__version__}"
    graph = None if graph_bytes is None else bytes(graph_bytes)
    try:
        if fmt == "rf64":
            return ["RF64 (WAV over 4 GiB): no tags, markers or graph written; export flac, or shorter files, to "
                    "keep them"]
        if fmt == "wav":
            from .riff import write_wav
            return write_wav(path, meta, graph, software)
        if fmt in ("flac", "ogg"):
            from .xiph import write_xiph
            return write_xiph(path, fmt, meta, graph, software)
        from .id3meta import write_mp3
        return write_mp3(path, meta, graph, software)
    except AudioError:
        raise
    except Exception as e:  # mutagen raises its own errors, OSError, struct.error...
        from .atomic import temp_target
        from .errors import os_error_words
        target = temp_target(path.name)          # the file being made, not its hidden temp file (QA51)
        shown = path.with_name(target) if target else path
        why = os_error_words(e) if isinstance(e, OSError) else str(e)
        raise AudioError(f"{shown}: could not write its tags, markers and graph: {why}") from e


def read_metadata(path: str | os.PathLike[str]) -> Metadata:
    """The metadata a file carries (any writer's, not only AudioChain's); unreadable or malformed
    fields are skipped, never fatal.  Formats without tags AudioChain knows give ``Metadata()``
    with an empty ``originator``."""
    fields, markers, extra = _read_parts(Path(path))
    for k in [k for k in extra if k in INFO_KEYS or k == GRAPH_KEY or not k]:   # e.g. ID3 TXXX:comment
        value = extra.pop(k)
        if k in INFO_KEYS and k not in fields:
            fields.update(clean_fields({k: value}))
    fields.setdefault("originator", "")
    return Metadata(**fields, markers=tuple(markers), extra=tuple(extra.items()))


def file_info(path: str | os.PathLike[str], rate: int) -> dict[str, str]:
    """The metadata of an audio file that travels with its audio (:data:`LOAD_KEYS`: tempo, meter,
    title...) as an ``Audio.info`` dict, for audio read at ``rate`` (a BWF time reference is the
    file's first sample's: a span read from later in it says so with its ``start_frame``); empty
    for a file with none, or none AudioChain reads."""
    return file_facts(path, rate)[0]


def file_facts(path: str | os.PathLike[str], rate: int) -> tuple[dict[str, str], tuple[tuple[int, str], ...]]:
    """:func:`file_info`, and the file's markers (cue points) as ``(frame, label)``: what ``io.load``
    hands on with its audio, so a marker survives load -> export (QA: a BWF's 'bar 1...9' cues were lost)."""
    try:
        meta = read_metadata(path)
    except (AudioError, OSError):
        return {}, ()
    items = dict(meta.to_info(keys=LOAD_KEYS, include_extra=False))
    if meta.time_reference is not None:
        items["time_reference"] = str(meta.time_reference)
        items["time_reference_rate"] = str(meta.time_reference_rate or rate)
    return items, meta.markers


def read_embedded_graph(path: str | os.PathLike[str]) -> bytes | None:
    """The graph bytes stored by :func:`write_metadata` (or an older :func:`embed`), or None."""
    path = Path(path)
    _check_file(path)
    fmt = detect_format(path)
    if fmt == "wav":
        from .riff import read_wav_graph
        return read_wav_graph(path)
    if fmt in ("flac", "ogg"):
        from .xiph import read_xiph_graph
        return read_xiph_graph(path, fmt)
    if fmt == "mp3":
        from .id3meta import read_id3_graph
        return read_id3_graph(path)
    if fmt is None:
        raise AudioError(f"{path}: not an audio file AudioChain can read metadata from; "
                         "expected wav, flac, ogg or mp3")
    return None


def read_tags(path: str | os.PathLike[str]) -> dict[str, str]:
    """Text tags as a flat dict with lower-case keys: the :class:`Metadata` fields that are set
    and the provenance/other keys (``extra``); the graph is never included."""
    return dict(read_metadata(path).to_info())     # read_metadata checks the file (once)


def embed(path: str | os.PathLike[str], graph_bytes: bytes | None, tags: dict[str, str]) -> None:
    """Older API: :func:`write_metadata` with ``tags`` as ``Audio.info``-style pairs."""
    write_metadata(path, None, Metadata.from_info(tags), graph_bytes)


# ---------------------------------------------------------------------------------------- helpers
def _read_parts(path: Path) -> Parts:
    _check_file(path)
    fmt = detect_format(path)
    try:
        if fmt == "wav":
            from .riff import read_wav
            return read_wav(path)
        if fmt in ("flac", "ogg"):
            from .xiph import read_xiph
            return read_xiph(path, fmt)
        if fmt == "mp3":
            from .id3meta import read_id3_file
            return read_id3_file(path)
    except (OSError, ValueError, IndexError, struct.error):   # a damaged file: its metadata is left out
        pass
    return {}, [], {}


def _check_file(path: Path) -> None:
    """A regular, non-empty file (a FIFO, a device or a symlink loop is refused, never opened)."""
    from .safeio import NotRegularFile, check_regular, describe
    try:
        st = check_regular(path)
    except NotRegularFile as e:
        reason = e.strerror or str(e)
        if reason == "no such file":
            raise AudioError(f"{path}: no such file") from None
        if reason.startswith("is a folder"):
            raise AudioError(f"{path}: is not a file") from None
        raise AudioError(describe(path, reason)) from None
    if st.st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")


def _syncsafe(b: bytes) -> int:
    return (b[0] & 0x7F) << 21 | (b[1] & 0x7F) << 14 | (b[2] & 0x7F) << 7 | (b[3] & 0x7F)
