"""One entry of the on-disk value cache (:mod:`nodeflow.diskcache`) as bytes: :func:`encode` writes a
node's outputs, :func:`decode` reads them back and checks every byte.  Never pickle, only this layout::

    b"ACVALUE1"                 8 bytes magic
    blake2b-256 digest          32 bytes, of everything that follows
    header length               8 bytes, little-endian
    header                      UTF-8 JSON: key, node type, payload size, {port: value description}
    padding                     to a multiple of 16 bytes
    payload                     raw arrays (Audio samples as float32 [channels, frames]), each 16-aligned

An Audio is described by ``rate, channels, frames, start_frame, index, tokens, overlap_frames, info,
markers, edges`` (and ``exact_start``/``exact_end``/``marker_times`` as ``"num/den"`` where it has them) plus its array's place in the payload; str, int, float, bool and None are stored in the JSON;
lists, tuples and str-keyed dicts of those (and of Audio and numeric arrays) nest.  A value of any
other type makes the entry unstorable (the node is simply recomputed next time).

The digest covers header and payload, so a flipped or truncated entry is detected on read
(:class:`CorruptEntry`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import struct
from fractions import Fraction
from typing import Any

import numpy as np

from .audio import Audio

__all__ = ["encode", "decode", "CorruptEntry", "MAGIC"]

log = logging.getLogger("nodeflow.diskcache")    # the store's: what it does not keep is said there, as before

MAGIC = b"ACVALUE1"
_PREFIX = len(MAGIC) + 32 + 8
_ALIGN = 16


class CorruptEntry(ValueError):
    """An entry whose digest, length or header does not check out."""


class _Unstorable(Exception):
    pass


def _describe(v: Any, arrays: list[np.ndarray], offset: list[int]) -> Any:
    def place(a: np.ndarray) -> dict[str, int]:
        a = np.ascontiguousarray(a)
        start = offset[0]
        arrays.append(a)
        offset[0] = start + a.nbytes + (-a.nbytes) % _ALIGN
        return {"offset": start, "nbytes": a.nbytes}

    t = type(v)
    if v is None or t in (bool, str, int, float):
        if t is float and not np.isfinite(v):
            return {"t": "float", "v": repr(v)}
        return {"t": "json", "v": v}
    if t is Audio:
        return {"t": "audio", "rate": v.sample_rate, "channels": v.channels, "frames": v.frames,
                "start_frame": int(v.start_frame), "index": int(v.index),
                "tokens": None if v.tokens is None else int(v.tokens), "overlap_frames": int(v.overlap_frames),
                "info": [[str(k), str(x)] for k, x in v.info], "markers": [[int(f), str(l)] for f, l in v.markers],
                "edges": str(v.edges),
                **{k: str(t) for k in ("exact_start", "exact_end") if (t := getattr(v, k)) is not None},
                **({"marker_times": [None if t is None else str(t) for t in v.marker_times]} if v.marker_times else {}),
                **place(v.samples)}
    if t is np.ndarray:
        if v.dtype.kind not in "biuf" or v.dtype.byteorder == ">":
            raise _Unstorable(f"array of dtype {v.dtype}")
        return {"t": "array", "dtype": v.dtype.str, "shape": list(v.shape), **place(v)}
    if t is list or t is tuple:
        return {"t": t.__name__, "items": [_describe(x, arrays, offset) for x in v]}
    if t is dict and all(type(k) is str for k in v):
        return {"t": "dict", "items": {k: _describe(x, arrays, offset) for k, x in v.items()}}
    raise _Unstorable(f"value of type {t.__name__}")


def encode(key: str, outputs: dict[str, Any], node: str = "", said: list[str] | None = None,
           before: dict[str, list[str]] | None = None) -> list[bytes | memoryview] | None:
    """An entry's bytes as chunks (prefix first), or None when a value cannot be stored safely;
    ``said``: what the node warned of when it made them (``ctx.warn``), said again when they are read;
    ``before``: what the nodes that fed them said, by their content keys (said again for them when
    this value stands for theirs in a later process)."""
    arrays: list[np.ndarray] = []
    offset = [0]
    try:
        desc = {str(port): _describe(v, arrays, offset) for port, v in outputs.items()}
    except _Unstorable as e:
        log.debug("not storing %s (%s): %s", key, node, e)
        return None
    head: dict[str, Any] = {"key": key, "node": node, "payload_bytes": offset[0], "outputs": desc}
    if said:
        head["said"] = [str(m) for m in said]
    if before:
        head["before"] = {str(k): [str(m) for m in v] for k, v in before.items() if v}
    header = json.dumps(head, separators=(",", ":")).encode()
    header += b" " * ((-(_PREFIX + len(header))) % _ALIGN)     # JSON ignores trailing spaces
    body: list[bytes | memoryview] = [header]
    for a in arrays:
        body.append(a.data.cast("B"))
        if a.nbytes % _ALIGN:
            body.append(b"\0" * ((-a.nbytes) % _ALIGN))
    h = hashlib.blake2b(digest_size=32)
    for c in body:
        h.update(c)
    return [MAGIC + h.digest() + struct.pack("<Q", len(header)), *body]


def _build(d: Any, data: bytes, base: int) -> Any:
    t = d["t"]
    if t == "json":
        return d["v"]
    if t == "float":
        return float(d["v"])
    if t in ("list", "tuple"):
        items = [_build(x, data, base) for x in d["items"]]
        return items if t == "list" else tuple(items)
    if t == "dict":
        return {k: _build(x, data, base) for k, x in d["items"].items()}
    if t == "audio":
        n = d["channels"] * d["frames"]
        if n * 4 != d["nbytes"]:
            raise CorruptEntry("audio size does not match its header")
        x = np.frombuffer(data, np.float32, n, base + d["offset"]).reshape(d["channels"], d["frames"])
        return Audio(x, d["rate"], start_frame=d["start_frame"], index=d["index"], tokens=d["tokens"],
                     overlap_frames=d["overlap_frames"], info=tuple((k, v) for k, v in d["info"]),
                     markers=tuple((int(f), l) for f, l in d["markers"]), edges=str(d.get("edges", "")),
                     **{k: Fraction(d[k]) for k in ("exact_start", "exact_end") if k in d},
                     marker_times=tuple(None if t is None else Fraction(t) for t in d.get("marker_times", ())))
    if t == "array":
        dt = np.dtype(d["dtype"])
        shape = tuple(d["shape"])
        n = int(np.prod(shape, dtype=np.int64))
        if n * dt.itemsize != d["nbytes"]:
            raise CorruptEntry("array size does not match its header")
        return np.frombuffer(data, dt, n, base + d["offset"]).reshape(shape)
    raise CorruptEntry(f"unknown value kind {t!r}")


def decode(data: bytes, key: str | None = None, said: list[str] | None = None,
           before: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Outputs from an entry's bytes (and what the node said of them appended to ``said``, what the
    nodes before it said put in ``before``); raises :class:`CorruptEntry` unless every check passes."""
    if len(data) < _PREFIX or data[:len(MAGIC)] != MAGIC:
        raise CorruptEntry("not a value entry (bad magic or too short)")
    digest = data[len(MAGIC):len(MAGIC) + 32]
    if hashlib.blake2b(memoryview(data)[_PREFIX:], digest_size=32).digest() != digest:
        raise CorruptEntry("checksum mismatch (corrupt or truncated)")
    (hlen,) = struct.unpack_from("<Q", data, len(MAGIC) + 32)
    try:
        header = json.loads(data[_PREFIX:_PREFIX + hlen])
        if key is not None and header["key"] != key:
            raise CorruptEntry(f"entry holds key {header['key']}, not {key}")
        base = _PREFIX + hlen
        if len(data) != base + header["payload_bytes"]:
            raise CorruptEntry("payload length does not match its header")
        outputs = {port: _build(d, data, base) for port, d in header["outputs"].items()}
        if said is not None:
            said += [str(m) for m in header.get("said", ())]
        if before is not None and isinstance(header.get("before"), dict):
            before.update({str(k): [str(m) for m in v] for k, v in header["before"].items() if isinstance(v, list)})
        return outputs
    except CorruptEntry:
        raise
    except Exception as e:   # a header that passed the digest but not the reader: a bug or a foreign file
        raise CorruptEntry(f"unreadable header: {type(e).__name__}: {e}") from e
