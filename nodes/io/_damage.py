"""What an opened audio file says of its own damage before it is decoded, each in one line naming the
file and the fix: a WAV whose header was never finished or counts less than the audio that follows it
(a recorder that stopped: ffmpeg reads it to its end), a data chunk shorter than its header says, no
frames at all, and a FLAC, mp3 or Ogg cut short (found from its last 50 ms, not by decoding it).

The decoders in :mod:`._decode` refuse or redirect such a file with these; ``io.load``'s validation
says the same without decoding.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["unfinished_wav", "uncounted_audio", "damage", "cut_short"]

_UNKNOWN_LENGTH = 1 << 62         # libsndfile reports SF_COUNT_MAX for a stream of unknown length
_MP3_SLACK = 4 * 1152             # an mp3 length estimated from the file size may be this far off
_RIFF_WAV = ("WAV", "WAVEX")      # libsndfile's names for a RIFF WAVE (WAVEX: WAVE_FORMAT_EXTENSIBLE, QA56)


def unfinished_wav(path: Path, f: Any) -> bool:
    """A WAV whose header was never finished (its data size 0, the audio after it): a recorder that lost
    power leaves one.  ffmpeg reads such a file to its end, libsndfile as empty (QA: refused, though ffmpeg
    decoded all 4 s).  Or one whose data size counts less than the audio that follows it (QA55: 250 of
    176400 frames were read without a word): :func:`uncounted_audio`; ffmpeg reads it to its end too."""
    try:
        return f.format in _RIFF_WAV and (f.frames <= 0 and path.stat().st_size > 4096 or bool(uncounted_audio(path)))
    except OSError:
        return False


def uncounted_audio(path: Path) -> tuple[int, int, int] | None:
    """``(counted, audio, block_align)``: the bytes a WAV's data chunk counts, the audio bytes that
    follow it (up to the chunks that end the file: cue points, LIST, ...) and the bytes of one frame,
    for a WAV whose data size counts less than its audio: 0 (a header never finished), or a size
    followed by bytes that are no RIFF chunk (a recorder that updated its header once, then stopped);
    None for any other file."""
    from nodeflow.riff import chunks_to_end, trailing_chunks
    found = _wav_data(path)
    if found is None:
        return None
    pos, counted, size, align = found
    following = size - pos - 8
    if counted == 0xFFFFFFFF or following <= counted + (counted & 1):
        return None
    with open(path, "rb") as f:
        at = pos + 8 + counted + (counted & 1)
        if counted and chunks_to_end(f, at, size):
            return None                 # chunks follow the counted audio: the file is as its header says
        end = trailing_chunks(f, at, size)      # (reads the file's tail: only for a damaged header)
    audio = (size if end is None else end) - pos - 8
    if audio <= counted or (counted == 0 and audio <= 4096):
        return None
    return counted, audio, max(1, align)


def damage(path: Path, f: Any) -> str:
    """Why the open soundfile ``f`` of ``path`` cannot be played although libsndfile opened it (a WAV
    whose data chunk is shorter than its header says, no frames at all), in one line; '' if none."""
    missing = _wav_missing_bytes(path) if f.format in _RIFF_WAV else 0
    if missing:
        return f"{path}: file is truncated: its data chunk is {missing} bytes short; re-export or re-download it"
    if f.frames <= 0:
        return f"{path}: contains no audio frames ({f.format} {f.subtype}); the file may be truncated or damaged"
    return odd_rate(path, f.samplerate)


def odd_rate(path: Path, rate: int) -> str:
    """Why a file whose header says ``rate`` Hz is no audio to work with (QA83 D6: a 7 Hz wav was
    refused two nodes later, as a resample's Python mistake), in one line; '' if its rate is one audio has."""
    from nodeflow.audio import AUDIO_RATES
    if AUDIO_RATES[0] <= rate <= AUDIO_RATES[1]:
        return ""
    return (f"{path}: its header says a sample rate of {rate} Hz, outside the {AUDIO_RATES[0]}-{AUDIO_RATES[1]} Hz "
            "audio is recorded at (a damaged header, or data that is not sound); re-export it at its real rate "
            "(44100 or 48000 Hz are the usual ones)")


def cut_short(path: Path, f: Any) -> str:
    """Why the open soundfile ``f`` of ``path`` stops decoding before the length its header promises
    (a FLAC, mp3 or Ogg cut short: a download or copy that stopped), found by reading its last 50 ms,
    not the whole file, in one line; '' if it reaches its end.  Leaves ``f`` at its start."""
    total = int(f.frames)
    if f.format not in ("FLAC", "MP3", "OGG") or not 0 < total < _UNKNOWN_LENGTH:
        return ""
    tail = min(total, max(1, f.samplerate // 20))
    try:
        f.seek(max(0, total - tail - (_MP3_SLACK if f.format == "MP3" else 0)))
        whole = len(f.read(tail, dtype="float32", always_2d=True)) == tail
        f.seek(0)
    except Exception:      # noqa: BLE001 - libsndfile cannot seek there: the file ends before it
        whole = False
    if whole:
        return ""
    return (f"{path}: file is truncated or damaged: its header promises {total} frames ({total / f.samplerate:.3f} s) "
            "but it ends before that; re-export or re-download it")


def _wav_missing_bytes(path: Path) -> int:
    """How many bytes a RIFF/WAVE data chunk claims beyond the end of the file (0 if none)."""
    found = _wav_data(path)
    if found is None or found[1] in (0, 0xFFFFFFFF):       # streamed writers leave the size unset
        return 0
    pos, length, size, _ = found
    return max(0, length - (size - pos - 8))


def _wav_data(path: Path) -> tuple[int, int, int, int] | None:
    """A RIFF/WAVE file's data chunk: ``(its offset, the size its header says, the file's size, the fmt
    chunk's bytes per frame)``; None for other files (RF64, RIFX...: left to libsndfile) or without one."""
    from nodeflow.riff import walk_chunks
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        chunks = walk_chunks(f, size)
        align = 0
        for cid, off, n in chunks:
            if cid == b"fmt " and n >= 16:
                f.seek(off + 12)
                align = int.from_bytes(f.read(2), "little")
            if cid == b"data":
                return off - 8, n, size, align
    return None
