"""What each format io.export writes can store, and the line that says why not: the choices
(:class:`Format`, :class:`BitDepth`), the extensions, sample rates, channels and bit depths each format
takes, the 4 GiB a WAV holds, libsndfile's codec settings, and the file name an export writes
(:func:`target_name`).  :mod:`.export` checks with these while validating, estimating and writing; each
problem names the value, the limit and the fix.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from nodeflow.errors import ParameterError
from nodeflow.types import ChoiceEnum

__all__ = ["Format", "BitDepth", "EXTENSIONS", "MP3_RATES", "MIN_RATE", "MAX_RATE", "MAX_CHANNELS", "WAV_MAX_DATA",
           "SUBTYPE", "BITS", "LOSSY", "sample_bytes", "target_name", "channels_problem", "size_problem",
           "depth_problem", "set_rate", "rate_problem", "keep_rate"]


class Format(ChoiceEnum):
    AUTO = "auto"
    WAV = "wav"
    FLAC = "flac"
    MP3 = "mp3"
    OGG = "ogg"


class BitDepth(ChoiceEnum):
    PCM16 = "pcm16"
    PCM24 = "pcm24"
    FLOAT32 = "float32"


EXTENSIONS = {".wav": "wav", ".wave": "wav", ".flac": "flac", ".mp3": "mp3", ".ogg": "ogg", ".oga": "ogg"}
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
MIN_RATE = 8000                                                  # every format; mp3 has its own list
MAX_RATE = {"wav": 768000, "flac": 655350, "ogg": 192000}        # libsndfile's vorbis crashes above ~200 kHz
MAX_CHANNELS = {"wav": 64, "flac": 8, "mp3": 2, "ogg": 255}
SUBTYPE = {BitDepth.PCM16: "PCM_16", BitDepth.PCM24: "PCM_24", BitDepth.FLOAT32: "FLOAT"}
BITS = {BitDepth.PCM16: 16, BitDepth.PCM24: 24}


def sample_bytes(bit_depth: Any) -> int:
    """Bytes a sample of a wav or flac takes at ``bit_depth`` (a :class:`BitDepth` or its value)."""
    return {d.value: bits // 8 for d, bits in BITS.items()}.get(str(getattr(bit_depth, "value", bit_depth)), 4)
# lossy settings (libsndfile's 0..1 compression level): LAME VBR ~V2, Vorbis quality ~7
LOSSY = {"mp3": dict(subtype="MPEG_LAYER_III", bitrate_mode="VARIABLE", compression_level=0.2),
          "ogg": dict(subtype="VORBIS", compression_level=0.3)}


def target_name(path: str, format: Format | str = Format.AUTO) -> tuple[str, str]:
    """The file name an export writes for ``path`` and ``format`` (an extension added where the
    format is explicit and the name has none) and the format; raises :class:`ParameterError` for
    an empty path or an extension that does not fit.  Validation and the node both use it."""
    format = Format(getattr(format, "value", format))
    if not path.strip():
        raise ParameterError("path is empty; give a file name such as out.wav")
    bad = next((c for c in path if c != "\x00" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:       # a newline, an escape, a right-to-left override: a name that lies in every listing
        raise ParameterError(f"path={path!r} holds a control character ({bad!r}); give a name of printable "
                             "characters")     # (NUL: the parameter itself refuses it)
    if why := _unportable(path):
        raise ParameterError(why)
    ext = Path(path).suffix.lower()
    if format is Format.AUTO:
        if ext not in EXTENSIONS:
            raise ParameterError(f"path={path!r}: cannot tell the format from "
                                 f"{repr(ext) if ext else 'a name without extension'}; end it in "
                                 ".wav, .flac, .mp3 or .ogg, or set format")
        return path, EXTENSIONS[ext]
    fmt = format.value
    if ext in EXTENSIONS and EXTENSIONS[ext] != fmt:
        raise ParameterError(f"format={fmt} but path={path!r} ends in {ext}; change the extension to "
                             f".{fmt} or set format to auto")
    return (path if ext in EXTENSIONS else f"{path}.{fmt}"), fmt

_WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                              *(f"{d}{i}" for d in ("COM", "LPT")
                                for i in [*"0123456789", "\u00b9", "\u00b2", "\u00b3"])})


def _unportable(path: str) -> str | None:
    """Why ``path`` names no file an export can write on every system a graph is shared to (QA79 D5, D6):
    a folder (``.``: the export wrote ``..wav``), a Windows drive (``C:/...``, a folder named ``C:`` here),
    a name Windows keeps for a device (``CON``, ``nul.wav``: no file there) or ends itself (``x.wav.``), or
    a hidden file (``..wav``), or characters Windows refuses in a name (``take: intro.wav``)."""
    text = path.strip().replace("\\", "/")
    parts = [p for p in text.split("/") if p]
    if not parts or parts[-1] in (".", ".."):        # (a trailing / is said by the export: it knows the format)
        return f"path={path!r} names a folder; give a file name, e.g. out.wav"
    if len(text) >= 2 and text[1] == ":" and text[0].isascii() and text[0].isalpha():    # C:/x.wav, C:x.wav
        return (f"path={path!r} names a Windows drive; give a path relative to the output folder (out.wav, "
                "takes/out.wav), or run with -o for the folder")
    if bad := sorted({c for c in text if c in '<>:"|?*'}):      # (QA81: 'take:stream.wav', an NTFS stream there)
        return (f"path={path!r} holds {' '.join(bad)}, which Windows cannot hold in a file name, so the graph cannot "
                "export there on Windows; use - or _ instead")
    if device := next((p for p in parts if p.split(".")[0].strip().upper() in _WINDOWS_DEVICES), None):
        return (f"path={path!r}: {device!r} is a name Windows keeps for a device, so the graph cannot export there "
                "on Windows; choose another name")
    if odd := next((p for p in path.replace("\\", "/").split("/") if p.strip() and p not in (".", "..")
                    and p != p.rstrip(". ")), None):
        return (f"path={path!r}: {odd!r} ends in a space or a dot, which Windows drops from a name (and the format "
                "is read from the name's end); remove it")
    if parts[-1].startswith("."):
        return f"path={path!r}: a name starting with a dot is a hidden file; remove the dot (e.g. out.wav)"
    return None


def channels_problem(fmt: str, channels: int) -> str | None:
    if channels > MAX_CHANNELS[fmt]:
        return f"{fmt} holds at most {MAX_CHANNELS[fmt]} channels (got {channels}); mix down first or export wav"
    return None


WAV_MAX_DATA = 0xFFFFFFFF - (1 << 20)     # a RIFF size field counts to 4 GiB; room for the chunks around the data


def size_problem(fmt: str, frames: int, channels: int, depth_bytes: int) -> str | None:
    """Why the audio does not fit one ``fmt`` file (a WAV holds at most 4 GiB: QA, 45 min of 5.1 at 96 kHz
    float was written with a broken header that readers cut at 31 min), or None."""
    size = frames * channels * depth_bytes
    if fmt != "wav" or size <= WAV_MAX_DATA:
        return None
    from nodeflow.costs import human_bytes
    return (f"{human_bytes(size)} of audio is more than a WAV file holds (4 GiB); export flac (path=....flac), "
            "lower the bit depth or the sample rate, or cut the audio into parts")


def depth_problem(fmt: str, bit_depth: Any) -> str | None:
    if fmt == "flac" and str(getattr(bit_depth, "value", bit_depth)) == BitDepth.FLOAT32.value:
        return "bit_depth=float32: flac stores 16- or 24-bit integers; choose pcm16 or pcm24, or export wav for float"
    return None


def set_rate(params: dict) -> int | None:
    """The rate ``sample_rate`` sets, or None for ``keep`` (the input's)."""
    value = str(getattr(params.get("sample_rate"), "value", params.get("sample_rate", "keep")))
    return None if value == "keep" else int(value)


def rate_problem(fmt: str, rate: int) -> str | None:
    """Why ``fmt`` cannot store audio at ``rate`` Hz (with the fix), or None."""
    near = 44100 if rate % 11025 == 0 else 48000       # the same family: an exact ratio
    if fmt == "mp3" and rate not in MP3_RATES:
        return (f"mp3 supports sample rates {', '.join(map(str, MP3_RATES))} Hz (got {rate}); set this export's "
                f"sample_rate to {near} (or export flac)")
    if rate < MIN_RATE:       # (QA41: at 2 kHz the K-weighting filters blew up; the take was called silent)
        return (f"the audio is at {rate} Hz, and an export is {MIN_RATE} Hz or more (its loudness and true peak are "
                f"metered per BS.1770, whose filters need that); set this export's sample_rate to {near}")
    top = MAX_RATE.get(fmt, MAX_RATE["wav"])
    if rate > top:            # (QA41: flac failed at write time quoting a temp file; ogg above 200 kHz crashed)
        return (f"{fmt} stores at most {top} Hz (got {rate}); set this export's sample_rate to "
                f"{96000 if rate % 11025 else 88200}" + (" (or export wav)" if fmt != "wav" else ""))
    return None


def keep_rate(fmt: str, rate: int) -> str:
    """How to keep the input's ``rate`` in this export (a format that stores it)."""
    return "sample_rate=keep" if rate_problem(fmt, rate) is None else \
        f"sample_rate=keep, as wav or flac: {fmt} cannot store {rate} Hz"
