"""Graph bytes and provenance tags inside audio files: an exported file remembers how it was made.

Where each container keeps them:

=========  ==================================  =========================================
format     graph bytes                         tags (``dict[str, str]``)
=========  ==================================  =========================================
WAV        ID3 chunk, ``GEOB:audiochain-graph``  ID3 ``TXXX`` frames (description = key)
MP3        ID3v2, ``GEOB:audiochain-graph``      ID3 ``TXXX`` frames
FLAC, OGG  Vorbis comment ``audiochain_graph``  Vorbis comments
           (base64)
=========  ==================================  =========================================

Tag keys are stored and returned in lower case (Vorbis comment keys are case-insensitive).
``audiochain extract AUDIO`` is :func:`read_embedded_graph` followed by
:func:`nodeflow.fileformat.loads`.

>>> embed("take.flac", graph_bytes, {"audiochain_version": "0.1.0"})   # doctest: +SKIP
>>> read_embedded_graph("take.flac") == graph_bytes                    # doctest: +SKIP
True
"""
from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path

from .errors import AudioError

__all__ = ["embed", "read_embedded_graph", "read_tags", "GRAPH_KEY", "GRAPH_MIME", "MAX_GRAPH_BYTES"]

GRAPH_KEY = "audiochain_graph"            # Vorbis comment key and ID3 GEOB description stem
GRAPH_MIME = "application/x-audiochain-graph"
_GEOB_DESC = "audiochain-graph"
MAX_GRAPH_BYTES = 16 << 20                # the graph file format's own limit
_FLAC_BLOCK_LIMIT = (1 << 24) - 1         # a FLAC metadata block holds at most 16 MiB
_BAD_VORBIS_KEY = re.compile(r"[^\x20-\x3c\x3e-\x7d]")   # printable ASCII except "="


def embed(path: str | os.PathLike, graph_bytes: bytes | None, tags: dict[str, str]) -> None:
    """Write ``graph_bytes`` (or remove a stored graph, for ``None``) and set ``tags`` in ``path``.

    Existing tags with other keys are kept; a key given here replaces the stored value.
    """
    path = Path(path)
    if graph_bytes is not None and len(graph_bytes) > MAX_GRAPH_BYTES:
        raise AudioError(f"{path}: graph is {len(graph_bytes)} bytes; at most {MAX_GRAPH_BYTES >> 20} MiB "
                         "can be embedded; export with embed_graph off")
    audio = _open(path)
    if audio.tags is None:
        audio.add_tags()
    kind = _kind(audio, path)
    clean = {str(k).strip().lower(): str(v) for k, v in tags.items()}
    if kind == "id3":
        _embed_id3(audio.tags, graph_bytes, clean)
    else:
        _embed_vorbis(audio.tags, graph_bytes, clean, path, flac=type(audio).__name__ == "FLAC")
    try:
        audio.save()
    except Exception as e:  # mutagen raises its own errors, OSError, struct.error...
        raise AudioError(f"{path}: could not write metadata: {e}") from e


def read_embedded_graph(path: str | os.PathLike) -> bytes | None:
    """The graph bytes stored by :func:`embed`, or ``None`` when the file holds none."""
    path = Path(path)
    audio = _open(path)
    if audio.tags is None:
        return None
    kind = _kind(audio, path, strict=False)
    if kind == "id3":
        frames = audio.tags.getall(f"GEOB:{_GEOB_DESC}")
        return bytes(frames[0].data) if frames else None
    if kind == "vorbis":
        values = audio.tags.get(GRAPH_KEY)
        if not values:
            return None
        try:
            return base64.b64decode("".join(values[0].split()), validate=True)
        except (binascii.Error, ValueError):
            raise AudioError(f"{path}: the embedded AudioChain graph is damaged (bad base64 in "
                             f"'{GRAPH_KEY}'); re-export the file") from None
    return None


def read_tags(path: str | os.PathLike) -> dict[str, str]:
    """User-defined text tags (ID3 ``TXXX`` or Vorbis comments), keys in lower case; graph excluded."""
    path = Path(path)
    audio = _open(path)
    if audio.tags is None:
        return {}
    kind = _kind(audio, path, strict=False)
    out: dict[str, str] = {}
    if kind == "id3":
        for frame in audio.tags.getall("TXXX"):
            out[frame.desc.lower()] = "; ".join(str(t) for t in frame.text)
    elif kind == "vorbis":
        for key in audio.tags.keys():
            if key.lower() != GRAPH_KEY:
                out[key.lower()] = "; ".join(audio.tags[key])
    return out


# ---------------------------------------------------------------------------------------- helpers
def _open(path: Path):
    import mutagen

    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if not path.is_file():
        raise AudioError(f"{path}: is not a file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    try:
        audio = mutagen.File(path)
    except Exception as e:  # a damaged or disguised file: mutagen's parsers raise many kinds
        raise AudioError(f"{path}: not a readable audio file ({e}); expected wav, flac, ogg or mp3") from e
    if audio is None:
        raise AudioError(f"{path}: not an audio file (unknown content); expected wav, flac, ogg or mp3")
    return audio


def _kind(audio, path: Path, strict: bool = True) -> str | None:
    from mutagen._vorbis import VCommentDict
    from mutagen.id3 import ID3

    if isinstance(audio.tags, ID3):
        return "id3"
    if isinstance(audio.tags, VCommentDict):
        return "vorbis"
    if strict:
        raise AudioError(f"{path}: cannot store AudioChain metadata in a {type(audio).__name__} file; "
                         "export wav, flac, ogg or mp3")
    return None


def _embed_id3(tags, graph_bytes: bytes | None, items: dict[str, str]) -> None:
    from mutagen.id3 import GEOB, TXXX, Encoding

    tags.delall(f"GEOB:{_GEOB_DESC}")
    if graph_bytes is not None:
        tags.add(GEOB(encoding=Encoding.UTF8, mime=GRAPH_MIME, filename="graph.audiochain",
                      desc=_GEOB_DESC, data=bytes(graph_bytes)))
    for key, value in items.items():
        tags.delall(f"TXXX:{key}")
        tags.add(TXXX(encoding=Encoding.UTF8, desc=key, text=[value]))


def _embed_vorbis(tags, graph_bytes: bytes | None, items: dict[str, str], path: Path, flac: bool) -> None:
    for key in [k for k in tags.keys() if k.lower() == GRAPH_KEY]:
        del tags[key]
    if graph_bytes is not None:
        encoded = base64.b64encode(bytes(graph_bytes)).decode("ascii")
        if flac and len(encoded) > _FLAC_BLOCK_LIMIT - (1 << 16):
            raise AudioError(f"{path}: the graph ({len(graph_bytes)} bytes) does not fit in a FLAC metadata "
                             "block (16 MiB after base64); export wav or mp3, or turn embed_graph off")
        tags[GRAPH_KEY] = encoded
    for key, value in items.items():
        name = _BAD_VORBIS_KEY.sub("_", key) or "_"
        tags[name] = value
