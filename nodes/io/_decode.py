"""Decoders behind io.load: libsndfile for wav/flac/ogg/mp3/aiff, an ffmpeg pipe for the rest.

Both read exactly the frames ``[start, stop)`` of the decoded stream, seeking instead of
decoding what comes before when the format allows a sample-exact seek:

- libsndfile seeks wav, flac, aiff and ogg/vorbis exactly.  MP3 seeks land on the right sample
  but the first granule after a seek decodes without its bit reservoir, so reads start
  :data:`MP3_PREROLL` frames early and drop them (and read the span in one call, see
  :func:`_read_mp3`).
- ffmpeg seeks exactly in containers with sample timestamps (mp4/m4a/mov, ogg/opus), again with a
  preroll for the decoder to settle.  Other containers (matroska/webm keep millisecond
  timestamps, avi...) are decoded from the start and the frames before ``start`` dropped.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context

SOUNDFILE_EXTS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc",
                            ".au", ".snd", ".caf", ".w64"})
MP3_PREROLL = 8 * 1152            # frames decoded and dropped before an mp3 seek target
FFMPEG_PREROLL = 8192             # the same for ffmpeg's decoders (aac priming, opus pre-skip)
_MP3_SLACK = 4 * 1152             # an mp3 length estimated from the file size may be this far off
_BLOCK = 1 << 17                  # frames per read; progress and cancellation between blocks
_EXACT_SEEK_CONTAINERS = frozenset({"mov", "mp4", "m4a", "ogg"})


class Unreadable(Exception):
    """libsndfile does not recognise the file (the caller may try ffmpeg)."""


class NoAudio(AudioError):
    """ffprobe finds no decodable audio stream in the file."""


def frame_range(path: Path, start_s: float, end_s: float | None, rate: int,
                total: int | None) -> tuple[int, int | None]:
    """``[start, stop)`` in frames at ``rate``; ``stop`` is clamped to ``total`` (None: to the end)."""
    if start_s < 0:
        raise ParameterError(f"start_s={start_s:g} must be >= 0 s")
    if end_s is not None and end_s <= start_s:
        raise ParameterError(f"end_s={end_s:g} must be greater than start_s={start_s:g}")
    start = round(start_s * rate)
    stop = None if end_s is None else round(end_s * rate)
    if total is not None:
        if start >= total:
            raise past_end(path, start_s, total, rate)
        stop = total if stop is None else min(stop, total)
    return start, stop


def past_end(path: Path, start_s: float, total: int, rate: int) -> AudioError:
    return AudioError(f"{path}: start_s={start_s:g} is at or past the end of the file "
                      f"(duration {total / rate:.3f} s, {total} frames at {rate} Hz); use a smaller start_s")


# ---------------------------------------------------------------------------------------- libsndfile
def read_soundfile(path: Path, start_s: float, end_s: float | None, ctx: Context) -> Audio:
    import soundfile as sf

    try:
        f = sf.SoundFile(str(path))
    except sf.LibsndfileError as e:
        raise Unreadable(str(e).split(": ", 1)[-1]) from None
    with f:
        rate, total, is_mp3 = f.samplerate, f.frames, f.format == "MP3"
        missing = _wav_missing_bytes(path) if f.format == "WAV" else 0
        if missing:
            raise AudioError(f"{path}: file is truncated: its data chunk is {missing} bytes short; "
                             "re-export or re-download it")
        if total <= 0:
            raise AudioError(f"{path}: contains no audio frames ({f.format} {f.subtype}); "
                             "the file may be truncated or damaged")
        start, stop = frame_range(path, start_s, end_s, rate, total)
        n = stop - start
        try:
            out = _read_mp3(f, start, n).T if is_mp3 else _read_blocks(f, start, n, ctx)   # [channels, frames]
        except sf.LibsndfileError as e:
            raise AudioError(f"{path}: decoding failed ({str(e).split(': ', 1)[-1]}); "
                             "the file may be truncated or damaged") from e
    done = out.shape[1]
    ctx.progress(done, n)
    if done < n:
        if not (is_mp3 and stop == total and n - done <= _MP3_SLACK):   # not an mp3 length estimate
            raise AudioError(f"{path}: file is truncated or damaged: its header promises {total} frames "
                             f"({total / rate:.3f} s) but decoding stops at frame {start + done}")
        if done == 0:
            raise past_end(path, start_s, start, rate)
    return Audio(out, rate)


def _read_blocks(f, start: int, n: int, ctx: Context) -> np.ndarray:
    """``[channels, frames]`` float32, de-interleaved block by block (no second full-size copy)."""
    f.seek(start)
    out = np.empty((f.channels, n), np.float32)
    buf = np.empty((min(_BLOCK, n), f.channels), np.float32)
    done = 0
    while done < n:
        got = len(f.read(dtype="float32", out=buf[:min(_BLOCK, n - done)]))
        if got == 0:
            break
        out[:, done:done + got] = buf[:got].T
        done += got
        ctx.progress(done, n)
    return out[:, :done]


def _read_mp3(f, start: int, n: int) -> np.ndarray:
    """One read call from ``start - preroll``: libsndfile 1.2.2 garbles mp3 audio after a read that
    stops inside an mp3 frame, so the span is not read in blocks."""
    preroll = min(start, MP3_PREROLL)
    f.seek(start - preroll)
    return f.read(preroll + n, dtype="float32", always_2d=True)[preroll:]


def _wav_missing_bytes(path: Path) -> int:
    """How many bytes a RIFF/WAVE data chunk claims beyond the end of the file (0 if none)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0                      # RF64, RIFX...: left to libsndfile
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                if length in (0, 0xFFFFFFFF):   # streamed writers leave the size unset
                    return 0
                return max(0, length - (size - pos - 8))
            pos += 8 + length + (length & 1)
    return 0


# ---------------------------------------------------------------------------------------- ffmpeg
def ffmpeg_tools() -> tuple[str, str] | None:
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    return (ffmpeg, ffprobe) if ffmpeg and ffprobe else None


def _probe(ffprobe: str, path: Path, url: str) -> tuple[int, int, float | None, bool]:
    cmd = [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels,duration:format=duration,format_name", "-of", "json", url]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError(f"{path}: ffprobe took over 120 s to read the file header") from None
    if r.returncode != 0:
        raise NoAudio(f"{path}: not an audio or video file ffmpeg can read ({_last_line(r.stderr)})")
    info = json.loads(r.stdout or b"{}")
    streams = info.get("streams") or []
    if not streams:
        raise NoAudio(f"{path}: has no audio stream")
    stream, fmt = streams[0], info.get("format") or {}
    rate, channels = int(stream.get("sample_rate") or 0), int(stream.get("channels") or 0)
    if rate <= 0 or channels <= 0:
        raise AudioError(f"{path}: ffprobe reports no sample rate or channel count for its audio stream")
    duration = _float(stream.get("duration")) or _float(fmt.get("duration"))
    exact = bool(_EXACT_SEEK_CONTAINERS & set(str(fmt.get("format_name", "")).split(",")))
    return rate, channels, duration, exact


def read_ffmpeg(path: Path, start_s: float, end_s: float | None, ctx: Context) -> Audio:
    tools = ffmpeg_tools()
    if tools is None:
        raise AudioError(f"{path}: reading {path.suffix or 'this'} files needs ffmpeg and ffprobe, which "
                         "are not installed; install ffmpeg (apt-get install ffmpeg) or convert the file to wav")
    ffmpeg, ffprobe = tools
    url = "file:" + str(path.absolute())
    rate, channels, duration, exact = _probe(ffprobe, path, url)
    start, stop = frame_range(path, start_s, end_s, rate, None)
    if duration is not None and start_s >= duration:
        raise past_end(path, start_s, round(duration * rate), rate)
    preroll = min(start, FFMPEG_PREROLL) if exact else start
    seek = start - preroll
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error"]
    if seek:
        cmd += ["-ss", f"{seek / rate:.6f}"]
    cmd += ["-i", url, "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", str(channels), "-ar", str(rate)]
    if stop is not None:
        cmd += ["-t", f"{(stop - seek) / rate + 1.0:.6f}"]
    cmd += ["-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
    frame_bytes = 4 * channels
    skip, need = preroll * frame_bytes, None if stop is None else (stop - start) * frame_bytes
    chunks: list[bytes] = []
    got, stopped_early = 0, False
    with tempfile.TemporaryFile() as err, subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                           stderr=err) as proc:
        try:
            while need is None or got < need:
                data = proc.stdout.read(1 << 20)
                if not data:
                    break
                if skip:
                    dropped = min(skip, len(data))
                    skip, data = skip - dropped, data[dropped:]
                chunks.append(data)
                got += len(data)
                ctx.progress(got, need or max(got, (duration or 0) * rate * frame_bytes))
            stopped_early = proc.poll() is None
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if proc.returncode != 0 and not stopped_early:
            err.seek(0)
            raise AudioError(f"{path}: ffmpeg could not decode the file ({_last_line(err.read())})")
    raw = b"".join(chunks)
    frames = len(raw) // frame_bytes
    if need is not None:
        frames = min(frames, need // frame_bytes)
    if frames == 0:
        raise past_end(path, start_s, seek + preroll - skip // frame_bytes, rate)
    x = np.frombuffer(raw, np.float32, count=frames * channels).reshape(frames, channels)
    return Audio(x.T, rate)


def _float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


def _last_line(stderr: bytes) -> str:
    """ffmpeg's last message, without the ``file:/path: `` prefix it repeats."""
    lines = [l.strip() for l in stderr.decode("utf-8", "replace").splitlines() if l.strip()]
    line = lines[-1] if lines else "no message"
    return line.split(": ", 1)[1] if line.startswith("file:") and ": " in line else line
