"""io.load: read an audio file (or a video's soundtrack), whole or a span of it."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Annotated

from nodeflow.audio import Audio
from nodeflow.costs import Shape
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context, node
from nodeflow.streaming import NotStreamable, Stream
from nodeflow.safeio import describe, special_file
from nodeflow.timebase import exact_time
from nodeflow.types import FilePath, Range

from ._damage import cut_short, damage, odd_rate, unfinished_wav
from ._decode import (SOUNDFILE_EXTS, UNKNOWN_LENGTH_RATIO, NoAudio, Unreadable, ffmpeg_tools, frame_range,
                      read_ffmpeg, read_soundfile, stream_soundfile)

AUDIO_EXTS = tuple(sorted(SOUNDFILE_EXTS | {".m4a", ".aac", ".opus", ".wma", ".mka", ".webm", ".mp4",
                                            ".mov", ".mkv", ".avi"}))


# (path, size, mtime) -> (rate, channels, frames, why it stops decoding early or ''), or why no decoder reads it
_HEADERS: dict[tuple, tuple[int, int, int | None, str] | str | None] = {}


def header(file: Path) -> tuple[int, int, int | None] | None:
    """``(rate, channels, frames)`` from the file's header (frames None: unknown), without decoding;
    None if it is not a regular file or no decoder reads its header (the estimate says why)."""
    got = _header(file)
    return got[:3] if isinstance(got, tuple) else None


def _header(file: Path) -> tuple[int, int, int | None, str] | str | None:
    try:
        st = file.stat()
    except OSError:
        return None
    import stat as _stat
    if not _stat.S_ISREG(st.st_mode):
        return None
    key = (str(file), st.st_size, st.st_mtime_ns)
    if key not in _HEADERS:
        _HEADERS[key] = _empty(file) if st.st_size == 0 else _read_header(file)
    return _HEADERS[key]


def _read_header(file: Path) -> tuple[int, int, int | None, str] | str | None:
    reason = ""
    if file.suffix.lower() in SOUNDFILE_EXTS:
        import soundfile as sf

        from ._mpg123 import quiet_mpg123
        try:
            with quiet_mpg123(file), sf.SoundFile(str(file)) as f:
                if unfinished_wav(file, f):         # ffmpeg reads it to its end: the run does too
                    raise Unreadable("its header says it holds no frames")
                if why := damage(file, f):          # what the run would refuse: validate says it too
                    return why
                frames = int(f.frames) if 0 < f.frames < 2 ** 48 else None
                short = cut_short(file, f)          # (QA: a FLAC or mp3 cut short passed validate)
                return int(f.samplerate), int(f.channels), frames, short
        except Exception as e:   # noqa: BLE001 - libsndfile cannot read it: try ffprobe below
            reason = str(e).split(": ", 1)[-1]
    tools = ffmpeg_tools()
    if tools is None:
        return _no_ffmpeg(file, reason) if reason else None
    from ._decode import _probe
    try:
        rate, channels, duration, _ = _probe(tools[1], file, "file:" + str(file.absolute()))
        return odd_rate(file, rate) or (rate, channels, round(duration * rate) if duration else None, "")
    except NoAudio as e:
        return _neither(file, e) if reason else str(e)
    except Exception:   # noqa: BLE001 - ffprobe failed otherwise (a timeout): the run says why
        return None


def _empty(file: Path) -> str:
    return f"{file}: file is empty (0 bytes); re-export or re-download it"


def _no_ffmpeg(file: Path, reason: str) -> str:
    return (f"{file}: not an audio file libsndfile can read ({reason}); installing ffmpeg would let AudioChain "
            "try other codecs")


def _neither(file: Path, e: NoAudio) -> str:
    detail = str(e).removeprefix(f"{file}: ")
    return (f"{file}: not a readable audio file: neither libsndfile nor ffmpeg recognise its content "
            f"(ffmpeg: {detail})")


EMPTY_PATH = "path is empty; choose an audio file to load"


def _estimate(inputs: dict, params: dict) -> dict[str, Shape] | None:
    if not str(params.get("path") or "").strip():          # (QA: validate said ok)
        return {"out": Shape(0, 0, 0, problem=EMPTY_PATH)}
    file = Path(params["path"])
    got = _header(file)
    if got is None:
        return None
    if isinstance(got, str):        # validate says what the run would: the file is there, no decoder reads it
        return {"out": Shape(0, 0, 0, problem=got)}
    rate, channels, frames, short = got
    if short and params.get("end_s") is None:       # read to its end: the run refuses it
        return {"out": Shape(0, channels, rate, problem=short)}
    if params.get("start_s", 0.0) < 0:       # the parameter's range says so (once)
        return None
    try:      # a span the file does not have (start_s past its end, end_s before start_s): validate says so
        frame_range(file, params.get("start_s", 0.0), params.get("end_s"), rate, frames)
    except (ParameterError, AudioError) as e:
        return {"out": Shape(0, channels, rate, problem=str(e))}
    note, known = "", frames is not None
    if frames is None:
        frames, note = file.stat().st_size * UNKNOWN_LENGTH_RATIO // channels, "length unknown from the header"
    start = round(params.get("start_s", 0.0) * rate)
    if params.get("end_s") is not None:
        frames = min(frames, round(params["end_s"] * rate))
    span = max(frames - start, 0)
    # libsndfile decodes wav, flac, ogg and aiff straight into the value (measured: 1% of it); an mp3 is read
    # interleaved and laid out again, ffmpeg's formats come through a pipe: one more copy (the default)
    work = 0 if file.suffix.lower() in _STRAIGHT else None
    return {"out": Shape(span, channels, rate, note=note, work_bytes=work,
                         problem=_over_decode_limit(file, span, channels, rate) if known else "")}


_STRAIGHT = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff")


def _over_decode_limit(file: Path, frames: int, channels: int, rate: int) -> str:
    """The decode limit a span the header measures would reach, said before the run (QA: validate said ok,
    and the run stopped at the limit after decoding for a while)."""
    from ._decode import MAX_DECODE_ENV, max_decode_bytes
    try:
        limit = max_decode_bytes()
    except ParameterError:
        return ""               # a malformed limit is said where it is read
    need = frames * channels * 4
    if need <= limit:
        return ""
    from nodeflow.term import format_bytes
    return (f"{file}: decodes to {format_bytes(need)} of audio ({frames / rate:.0f} s of {channels} ch at {rate} Hz), "
            f"over the limit of {format_bytes(limit)}; load a span with start_s/end_s, or raise the limit with "
            f"{MAX_DECODE_ENV} if the file is trusted")


def _stream(inputs: dict, params: dict, ctx: Context) -> Stream:
    """The file in blocks as libsndfile decodes them (wav, flac, ogg, aiff...); mp3, files of
    unknown length and what only ffmpeg reads are loaded whole (:class:`NotStreamable`)."""
    file = _checked_file(params["path"], ctx)
    if file.suffix.lower() not in SOUNDFILE_EXTS:
        raise NotStreamable("decoded through ffmpeg")
    head, blocks = stream_soundfile(file, params["start_s"], params["end_s"])
    return Stream(with_file_info(head, file, params["start_s"]), blocks)


@node("io.load", category="io", version=2, estimate=_estimate, stream=_stream)
def load(*, path: Annotated[str, FilePath(mode="read", exts=AUDIO_EXTS)] = "",
         start_s: Annotated[float, Range(0.0, None, unit="s")] = 0.0,
         end_s: Annotated[float, Range(0.0, None, unit="s")] | None = None,
         ctx: Context) -> Audio:
    """Load an audio file (wav, flac, ogg, mp3; m4a, opus and video soundtracks through ffmpeg).

    Reads frames ``[start_s, end_s)`` at the file's own sample rate and channel count, exactly:
    the span is converted to frames once (``round(seconds * rate)``) and the decoder seeks to it
    instead of decoding what comes before, where the format allows.  ``end_s`` past the end of
    the file reads to the end; ``start_s`` past it is an error that gives the file's duration.
    Relative paths are resolved against the graph file's folder.

    What the file says about itself (WAV INFO/bext/iXML, FLAC/OGG comments, MP3 ID3) comes along in
    ``info``: ``title``, ``artist``, ``album``, ``comment``, ``genre``, ``bpm``, ``key``, ``meter``, and
    ``time_reference`` (BWF placement in samples, plus ``start_frame`` for a span) with
    ``time_reference_rate``, so an export keeps them (see :mod:`nodeflow.audiometa`).

    Parameters
    ----------
    path : str
        Audio file to read; a relative path is relative to the graph file's folder.
    start_s : float, seconds
        Where to start reading, in seconds from the file's start (must be inside the file).
    end_s : float or None, seconds
        Where to stop reading, in seconds from the file's start; empty or past the end: to the end.

    Returns
    -------
    Audio
        float32 ``[channels, frames]``; ``frames == round(end_s * rate) - round(start_s * rate)``.

    Examples
    --------
    >>> load.fn(path="take.flac", start_s=1.5, end_s=4.0, ctx=Context())   # doctest: +SKIP
    Audio(2 ch, 110250 frames, 44100 Hz, 2.500 s)
    """
    file = _checked_file(path, ctx)
    return with_file_info(_read_audio(file, start_s, end_s, ctx), file, start_s)


def _checked_file(path: str, ctx: Context) -> Path:
    """The input file ``path`` names, refused in one line if it is no regular, non-empty file."""
    if not path.strip():
        raise ParameterError(EMPTY_PATH)
    file = ctx.resolve_input(path)
    why = special_file(file)        # a FIFO, /dev/zero or a symlink loop is refused, never opened
    if why == "no such file":
        relative = not Path(path).expanduser().is_absolute()
        where = f" (relative paths are resolved against {ctx.base_dir})" if relative else ""
        raise AudioError(f"{file}: no such file{where}; check path={path!r}")
    if why is not None and why.startswith("is a folder"):
        raise AudioError(f"{file}: is a folder, not an audio file; check path={path!r}")
    if why is not None:
        raise AudioError(f"{describe(file, why)}; check path={path!r}")
    if file.stat().st_size == 0:
        raise AudioError(_empty(file))
    ctx.check_cancelled()
    return file


def with_file_info(audio: Audio, file: Path, start_s: float) -> Audio:
    """``audio`` with the source file's metadata (:func:`nodeflow.audiometa.file_info`) in ``info`` and
    its markers where this span holds them,
    placed at ``start_s`` in the file (``start_frame``, as ``dsp.trim`` places a span): exports put
    its BWF time reference and DAW clips there, whether or not the file has a time reference (a
    bar trimmed off with ``start_s`` lost its place in a plain WAV)."""
    from nodeflow.audiometa import file_facts
    items, markers = file_facts(file, audio.sample_rate)
    start = round(start_s * audio.sample_rate)
    placed = audio.replace(start_frame=start, exact_start=exact_time(float(start_s))) if start_s else audio
    inside = [(f, label) for f, label in markers if start <= f < start + audio.frames]
    if inside:      # the file's own markers, where this span holds them (QA: lost on load -> export)
        placed = placed.replace(markers=tuple((f - start, label) for f, label in inside),
                                marker_times=grid_marker_times(inside, items, audio.sample_rate))
    return placed.with_info(**items) if items else placed


def grid_marker_times(markers: list[tuple[int, str]], items: dict[str, str], rate: int) -> tuple:
    """The exact time of each marker of a file labelled ``bar N`` (``bar N beat B``) where the file's
    tempo and meter put that bar line on the marker's sample, else None: an export writes its seams'
    cue points so, and a cue point holds only its sample, where the bar line lies between two.  QA58:
    such a file at 44.1 kHz exported at 96 kHz put bar 4 at 519700 for the grid's 519699.  Bars count
    from the file's time reference (where an export placed it), or from its start."""
    from nodeflow.timebase import bar_label_time, parse_meter
    try:
        bpm = float(items["bpm"])
        beats, note = parse_meter(items.get("meter") or "4/4")
        origins = [Fraction(0)]
        if items.get("time_reference"):
            origins.insert(0, Fraction(int(items["time_reference"]), int(items.get("time_reference_rate") or rate)))
    except (KeyError, ValueError, ParameterError, ZeroDivisionError):
        return ()
    if not 0 < bpm < 1e4:
        return ()
    times = []
    for f, label in markers:
        t = bar_label_time(label, bpm, beats, note)
        times.append(next((t - o for o in origins if t is not None and round((t - o) * rate) == f), None))
    return tuple(times)


def _read_audio(file: Path, start_s: float, end_s: float | None, ctx: Context) -> Audio:
    if file.suffix.lower() not in SOUNDFILE_EXTS:
        return read_ffmpeg(file, start_s, end_s, ctx)
    try:
        return read_soundfile(file, start_s, end_s, ctx)
    except Unreadable as e:
        reason = str(e)
    # libsndfile does not know this content (a wav holding mp3 or adpcm data, a renamed file...)
    if ffmpeg_tools() is None:
        raise AudioError(_no_ffmpeg(file, reason))
    try:
        return read_ffmpeg(file, start_s, end_s, ctx)
    except NoAudio as e:
        raise AudioError(_neither(file, e)) from None
