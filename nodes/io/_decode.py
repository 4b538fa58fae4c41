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

Declared lengths are never trusted for memory: both decoders read in blocks until the decoder
stops, growing the output as audio actually arrives, so a streamed FLAC of unknown length decodes
and a header claiming terabytes allocates only what the file holds.  Decoded audio is capped at
:func:`max_decode_bytes` (``AUDIOCHAIN_MAX_DECODE_GB``, default 4 GiB of float32, over 3 hours of
48 kHz stereo): a decompression bomb stops there with one line naming the file, the size reached
and the limit, and what a decode of unknown length grows past the run's estimate is taken from the
run's memory (:mod:`._decodelimits`).  What a file says of its own damage before it is decoded (an
unfinished WAV header, a data chunk cut short, a rate no audio has) is :mod:`._damage`'s.
"""
from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from nodeflow.audio import Audio, StreamedAudio, check_finite, seconds_to_frames
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context

from ._channels import VORBIS_FORMATS, from_vorbis
from ._damage import _MP3_SLACK, _UNKNOWN_LENGTH, damage, odd_rate, uncounted_audio, unfinished_wav
from ._damage import cut_short as cut_short     # (validation's: it was here)
from ._decodelimits import (MAX_DECODE_ENV, UNKNOWN_LENGTH_RATIO, Growth, max_decode_bytes,  # noqa: F401 - also
                            note_reached, reached_before, too_big)                 # importable from here

SOUNDFILE_EXTS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc",
                            ".au", ".snd", ".caf", ".w64"})
MP3_PREROLL = 8 * 1152            # frames decoded and dropped before an mp3 seek target
FFMPEG_PREROLL = 8192             # the same for ffmpeg's decoders (aac priming, opus pre-skip)
CODEC_PADDING = 4096              # frames past a container's duration that are a codec's padding, not audio
_BLOCK = 1 << 17                  # frames per read; progress and cancellation between blocks
_EXACT_SEEK_CONTAINERS = frozenset({"mov", "mp4", "m4a", "ogg"})
_MP3_FRAMES_PER_BYTE = 16         # mp3 holds at most 8 frames per byte (8 kbps at 8 kHz); twice that
_PLAUSIBLE_FRAMES_PER_BYTE = 64   # first allocation: a header promising more than this grows as decoded


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
    start = seconds_to_frames(start_s, rate)       # exact (QA: start_s=1e308 raised OverflowError)
    stop = None if end_s is None else seconds_to_frames(end_s, rate)
    if stop is not None and stop <= start:       # (QA: end_s=1e-300 was blamed on the file: "truncated")
        raise ParameterError(f"start_s={start_s:g} to end_s={end_s:g} holds no whole frame at {rate} Hz; give an end_s at "
                             f"least {1 / rate:.6f} s after start_s")
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
    from ._mpg123 import quiet_mpg123, skipped_words
    with quiet_mpg123(path) as said:        # (a damaged mp3: libmpg123's own lines before ours; QA66)
        audio = _read_soundfile(path, start_s, end_s, ctx)
    if words := skipped_words(said):
        ctx.warn(f"{path}: the mp3 decoder {words} and played on past them (a click or gap there); "
                 "re-export or re-download the file for a clean copy")
    return audio


def _read_soundfile(path: Path, start_s: float, end_s: float | None, ctx: Context) -> Audio:
    import soundfile as sf

    limit = max_decode_bytes()
    try:
        f = sf.SoundFile(str(path))
    except sf.LibsndfileError as e:
        raise Unreadable(str(e).split(": ", 1)[-1]) from None
    with f:
        rate, total, is_mp3, channels = f.samplerate, f.frames, f.format == "MP3", f.channels
        vorbis = f.format in VORBIS_FORMATS           # channels in Vorbis order (see ._channels)
        if unfinished_wav(path, f):
            raise Unreadable("its header says it holds no frames, as a recorder that stopped leaves it")
        if why := damage(path, f):
            raise AudioError(why)
        known = total < _UNKNOWN_LENGTH          # a streamed FLAC leaves its length unset
        start, stop = frame_range(path, start_s, end_s, rate, total if known else None)
        n = None if stop is None else stop - start
        size = path.stat().st_size
        limit_frames = limit // (4 * channels)
        if n is None and (again := reached_before(path, start, limit)) is not None:
            raise again
        growth = None if known else Growth(ctx, path, start, size * UNKNOWN_LENGTH_RATIO * 4, channels, rate, limit,
                                            to_end=n is None)
        with growth or contextlib.nullcontext():     # a failed decode gives back what it took
            try:
                if is_mp3:
                    out = _read_mp3(f, start, min(limit_frames + 1 if n is None else n, _MP3_FRAMES_PER_BYTE * size,
                                                    limit_frames + 1)).T
                else:
                    first = max(_BLOCK, _PLAUSIBLE_FRAMES_PER_BYTE * size // channels)
                    out = _read_blocks(f, start, n, min(first, limit_frames + 1), limit_frames + 1, ctx,
                                       integer=f.format == "FLAC", growth=growth)
            except sf.LibsndfileError as e:
                if known or start == 0:        # not a seek past the end of a stream of unknown length
                    raise AudioError(f"{path}: decoding failed ({str(e).split(': ', 1)[-1]}); "
                                     "the file may be truncated or damaged") from e
                out = np.empty((channels, 0), np.float32)
            done = out.shape[1]
            if growth is not None:
                growth.hold(out.nbytes, done)   # what it keeps (a lying header's reserve given back)
            if done > limit_frames:
                raise note_reached(path, start, limit, done, channels, rate)
        if not known and done == 0 and start > 0:
            raise past_end(path, start_s, _count_frames(path, limit_frames), rate)
    if n is None or not known:              # a stream of unknown length ends where decoding stops
        n = done
    ctx.progress(done, n)
    if done < n:
        if not (is_mp3 and stop == total and n - done <= _MP3_SLACK):   # not an mp3 length estimate
            raise AudioError(f"{path}: file is truncated or damaged: its header promises {total} frames "
                             f"({total / rate:.3f} s) but decoding stops at frame {start + done}")
        if done == 0:
            raise past_end(path, start_s, start, rate)
    if done == 0:
        raise AudioError(f"{path}: contains no audio frames; the file may be truncated or damaged")
    return _file_audio(path, from_vorbis(out) if vorbis else out, rate, start)


def _file_audio(path: Path, samples: np.ndarray, rate: int, start: int) -> Audio:
    """``Audio(samples, rate)``, read from ``path`` from frame ``start``: its one check of the samples;
    where they are not finite, said of the file (:func:`check_finite` with the file, on that path only)."""
    try:
        return Audio(samples, rate)
    except AudioError:
        check_finite(samples, path, first_frame=start, rate=rate)
        raise


def stream_soundfile(path: Path, start_s: float, end_s: float | None):
    """``(head, blocks)``: what :func:`read_soundfile` reads, described from the header and decoded in
    blocks of :data:`_BLOCK` frames when iterated (the same samples, the same errors).  Raises
    :class:`~nodeflow.streaming.NotStreamable` for mp3 (read in one call, see :func:`_read_mp3`),
    a stream of unknown length and a file libsndfile does not read (ffmpeg may)."""
    import soundfile as sf
    from nodeflow.streaming import NotStreamable

    limit = max_decode_bytes()
    try:
        f = sf.SoundFile(str(path))
    except sf.LibsndfileError as e:
        raise NotStreamable(f"libsndfile does not read it ({e})") from None
    with f:
        rate, total, channels, fmt = f.samplerate, f.frames, f.channels, f.format
        if fmt == "MP3" or total >= _UNKNOWN_LENGTH:
            raise NotStreamable("mp3, or a stream of unknown length")
        if unfinished_wav(path, f):
            raise NotStreamable("a WAV whose header was never finished (ffmpeg reads it)")
        if why := damage(path, f):
            raise AudioError(why)
    start, stop = frame_range(path, start_s, end_s, rate, total)
    n = stop - start
    limit_frames = limit // (4 * channels)
    if n > limit_frames:
        raise too_big(path, limit_frames + 1, channels, rate, limit)

    def blocks():
        integer = fmt == "FLAC"
        with sf.SoundFile(str(path)) as f:
            f.seek(start)
            buf = np.empty((min(_BLOCK, n), channels), np.float32)
            done = 0
            while done < n:
                part = buf[:min(_BLOCK, n - done)]
                if integer:
                    part.fill(np.nan)
                stop_here = False
                try:
                    got = len(f.read(dtype="float32", out=part))
                except sf.LibsndfileError as e:   # see _read_blocks: FLAC fills its last block, then fails
                    if not integer:
                        raise AudioError(f"{path}: decoding failed ({str(e).split(': ', 1)[-1]}); "
                                         "the file may be truncated or damaged") from e
                    filled = np.isnan(part[:, 0])
                    got = int(filled.argmax()) if filled.any() else len(part)
                    stop_here = True
                if got:
                    x = np.ascontiguousarray(from_vorbis(part[:got].T) if fmt in VORBIS_FORMATS else part[:got].T)
                    check_finite(x, path, first_frame=start + done, rate=rate)
                    done += got
                    yield x
                if got == 0 or stop_here:
                    break
        if done < n:
            raise AudioError(f"{path}: file is truncated or damaged: its header promises {total} frames "
                             f"({total / rate:.3f} s) but decoding stops at frame {start + done}")
    return StreamedAudio.describe(rate, channels, n), blocks()


def _read_blocks(f, start: int, n: int | None, first: int, cap: int, ctx: Context,
                 integer: bool = False, growth: Growth | None = None) -> np.ndarray:
    """``[channels, frames]`` float32 of ``n`` frames from ``start`` (None: to the end), at most ``cap``.

    De-interleaved block by block (no second full-size copy).  The output starts at ``min(n,
    first)`` frames and doubles as audio actually arrives, so a header that lies about its length
    (or a stream that has none) costs only what the file decodes to.

    ``integer`` (FLAC): libsndfile 1.2.2 fills the last block of a FLAC stream that ends before
    its header's length (unknown, or a lie) and then reports an error ("psf_fseek() failed"); the
    block is pre-filled with NaN, which integer audio never decodes to, so the frames it did
    decode are kept and the stream's end is where decoding stopped."""
    import soundfile as sf

    f.seek(start)
    want = cap if n is None else min(n, cap)
    out = np.empty((f.channels, min(want, first)), np.float32)
    buf = np.empty((min(_BLOCK, want), f.channels), np.float32)
    done = 0
    while done < want:
        if done == out.shape[1]:                 # more audio than the first guess: grow
            size = min(want, 2 * out.shape[1])
            if growth is not None:               # both buffers while it copies, past what the run counted
                growth.hold(out.nbytes + size * f.channels * 4, done)
            grown = np.empty((f.channels, size), np.float32)
            grown[:, :done] = out[:, :done]
            out = grown
            if growth is not None:
                growth.hold(out.nbytes, done)
        part = buf[:min(_BLOCK, want - done, out.shape[1] - done)]
        if integer:
            part.fill(np.nan)
        try:
            got = len(f.read(dtype="float32", out=part))
        except sf.LibsndfileError:
            if not integer:
                raise
            filled = np.isnan(part[:, 0])
            got = int(filled.argmax()) if filled.any() else len(part)
            out[:, done:done + got] = part[:got].T
            done += got
            break
        if got == 0:
            break
        out[:, done:done + got] = buf[:got].T
        done += got
        ctx.progress(done, n if n is not None else max(done, out.shape[1]))
    if done < out.shape[1] // 2:                 # give back what a lying header made us reserve
        return out[:, :done].copy()
    return out[:, :done]


def _count_frames(path: Path, cap: int) -> int:
    """Frames in a FLAC stream of unknown length (decoded from the start), at most ``cap + 1``."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:      # a fresh handle: a failed seek leaves the old one unusable
        return _count_open(f, cap)


def _count_open(f, cap: int) -> int:
    import soundfile as sf

    buf = np.empty((_BLOCK, f.channels), np.float32)
    total = 0
    while total <= cap:
        buf.fill(np.nan)
        try:
            got = len(f.read(dtype="float32", out=buf))
        except sf.LibsndfileError:      # see _read_blocks: the last block, then an error
            filled = np.isnan(buf[:, 0])
            return total + (int(filled.argmax()) if filled.any() else len(buf))
        if got == 0:
            break
        total += got
    return total


def _read_mp3(f, start: int, n: int) -> np.ndarray:
    """One read call from ``start - preroll``: libsndfile 1.2.2 garbles mp3 audio after a read that
    stops inside an mp3 frame, so the span is not read in blocks."""
    preroll = min(start, MP3_PREROLL)
    f.seek(start - preroll)
    return f.read(preroll + n, dtype="float32", always_2d=True)[preroll:]


# ---------------------------------------------------------------------------------------- ffmpeg
#: the only demuxers ffmpeg may use on an input: containers of one file's audio (and video).  A
#: playlist (hls, dash, concat) or an image sequence opens other files, anywhere on disk, from the file's
#: content whatever its name (QA: a received ``.m4a`` that was an HLS playlist exported the receiver's
#: ``~/Music/melody.flac``, and nothing said it read outside its folder)
DEMUXERS = ("mov,mp3,aac,ac3,eac3,dts,dtshd,truehd,mlp,flac,ogg,wav,w64,aiff,caf,au,matroska,asf,avi,flv,mpeg,"
            "mpegts,wv,ape,tta,tak,amr,amrnb,amrwb,mpc,mpc8,dsf,iff,voc,rm,xwma,gsm,shorten,loas,nut,mxf,sox,ircam")
_LIMITS = ["-protocol_whitelist", "file", "-format_whitelist", DEMUXERS]


def ffmpeg_tools() -> tuple[str, str] | None:
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    return (ffmpeg, ffprobe) if ffmpeg and ffprobe else None


def _to_end(path: Path) -> list[str]:
    """ffmpeg's options to read a WAV whose header counts less than its audio to its end."""
    try:
        return ["-ignore_length", "1"] if uncounted_audio(path) else []
    except OSError:
        return []


def _probe(ffprobe: str, path: Path, url: str) -> tuple[int, int, float | None, bool]:
    cmd = [ffprobe, "-v", "error", *_LIMITS, *_to_end(path), "-select_streams", "a:0", "-show_entries",
           "stream=codec_name,sample_rate,channels,duration:format=duration,format_name", "-of", "json", url]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError(f"{path}: ffprobe took over 120 s to read the file header") from None
    if r.returncode != 0:
        if b"not on whitelist" in r.stderr:
            found = re.search(rb"\[(\w+) @", r.stderr)
            name = found.group(1).decode() if found else ""
            kind = {"hls": "an HLS playlist", "concat": "an ffconcat list", "dash": "a DASH manifest"}.get(
                name, f"a {name or 'playlist'} file")
            raise NoAudio(f"{path}: {kind}, not audio: such a file names other files to read, and AudioChain never "
                          "opens files named by a file's content; export the audio itself (wav, flac, m4a...)")
        raise NoAudio(f"{path}: not an audio or video file ffmpeg can read ({_last_line(r.stderr)})")
    info = json.loads(r.stdout or b"{}")
    streams = info.get("streams") or []
    if not streams:
        raise NoAudio(f"{path}: has no audio stream")
    stream, fmt = streams[0], info.get("format") or {}
    rate, channels = int(stream.get("sample_rate") or 0), int(stream.get("channels") or 0)
    if rate <= 0 or channels <= 0:      # (QA: a text file named .flac; validate took it for unknown)
        raise NoAudio(f"{path}: ffprobe reports no sample rate or channel count for its audio stream")
    if stream.get("codec_name") in (None, "", "unknown", "none"):    # (QA: a WAV of 0 bits per sample)
        raise NoAudio(f"{path}: its audio stream is in no codec ffmpeg can decode (ffprobe: codec "
                      f"{stream.get('codec_name') or 'none'}); re-export the file (wav, flac, m4a...)")
    said = [v for v in (stream.get("duration"), fmt.get("duration")) if v not in (None, "N/A")]
    if said and all(_float(v) is None for v in said):     # (QA: a WAV of 0 bits per sample: the run blamed start_s)
        raise NoAudio(f"{path}: holds no audio (ffprobe reads a length of {said[0]} s)")
    duration = _float(stream.get("duration")) or _float(fmt.get("duration"))
    if _to_end(path):
        duration = None                 # the header's length, not the file's
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
    if why := odd_rate(path, rate):     # before decoding, as damage() is for what libsndfile reads
        raise AudioError(why)
    start, stop = frame_range(path, start_s, end_s, rate, None)
    if duration is not None and start_s >= duration:
        raise past_end(path, start_s, round(duration * rate), rate)
    if duration is not None and stop is not None and stop > (duration + 60.0) * rate:
        stop = None                 # far past the end: to the end (QA: end_s=1e308 gave ffmpeg a 300-digit -t)
    preroll = min(start, FFMPEG_PREROLL) if exact else start
    seek = start - preroll
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", *_LIMITS]
    if seek:
        cmd += ["-ss", f"{seek / rate:.6f}"]
    cmd += [*_to_end(path), "-i", url, "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", str(channels), "-ar", str(rate)]
    if stop is not None:
        cmd += ["-t", f"{(stop - seek) / rate + 1.0:.6f}"]
    cmd += ["-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
    frame_bytes = 4 * channels
    limit = max_decode_bytes()
    skip, need = preroll * frame_bytes, None if stop is None else (stop - start) * frame_bytes
    if need is None and (again := reached_before(path, start, limit)) is not None:
        raise again
    # what the run's estimate counted: the container's length, or (none) the file's size as for libsndfile
    counted = (max(0, round(duration * rate) - start) * frame_bytes if duration
               else path.stat().st_size * UNKNOWN_LENGTH_RATIO * 4)
    growth = None if need is not None else Growth(ctx, path, start, counted, channels, rate, limit, header=(
        f"its header says {duration:.1f} s" if duration else "its header gives no length"))
    raw = bytearray()               # grows as audio arrives (no second copy: numpy views it)
    got, stopped_early = 0, False
    with growth or contextlib.nullcontext(), tempfile.TemporaryFile() as err, \
            subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err) as proc:
        try:
            while need is None or got < need:
                data = proc.stdout.read(1 << 20)
                if not data:
                    break
                if skip:
                    dropped = min(skip, len(data))
                    skip, data = skip - dropped, data[dropped:]
                if growth is not None:
                    growth.hold(len(raw) + len(data), got // frame_bytes)
                raw += data
                got += len(data)
                if got > limit and (need is None or need > limit):
                    raise note_reached(path, start, limit, got // frame_bytes, channels, rate)
                ctx.progress(got, need or max(got, (duration or 0) * rate * frame_bytes))
            stopped_early = proc.poll() is None
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if proc.returncode != 0 and not stopped_early:
            err.seek(0)
            raise AudioError(f"{path}: ffmpeg could not decode the file ({_last_line(err.read())})")
    frames = len(raw) // frame_bytes
    if need is not None:
        frames = min(frames, need // frame_bytes)
    elif exact and duration is not None:
        # ffmpeg passes on the last AAC frame's padding (an 8.000 s m4a decoded to 8.0109 s): the
        # container's duration (its edit list) says where the audio ends
        excess = start + frames - round(duration * rate)
        if 0 < excess <= CODEC_PADDING:
            frames -= excess
    if frames == 0 and got == 0 and start == 0:     # nothing at all, not a start past the end (QA: it said start_s=0)
        raise AudioError(f"{path}: ffmpeg decoded no audio from it (its header names an audio stream, but no "
                         "samples came: damaged, or a format variant it cannot decode); re-export the file")
    if frames == 0:
        raise past_end(path, start_s, seek + preroll - skip // frame_bytes, rate)
    x = np.frombuffer(raw, np.float32, count=frames * channels).reshape(frames, channels)
    if (found := uncounted_audio(path)) is not None:
        counted, following, align = found
        frames = min(frames, max(0, following // align - start))     # not the chunks after it (QA56)
        x = x[:frames]
        ctx.warn(f"{path}: its header counts {counted} bytes of audio, but {following} follow (a recording that was "
                 f"not closed properly?); all of it is read ({start + frames} frames, {(start + frames) / rate:.3f} s)")
    return _file_audio(path, x.T, rate, start)


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
