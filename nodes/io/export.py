"""io.export: write audio to a file, mastered to a loudness and peak ceiling, with the graph inside.

What each format can store (rates, channels, bit depths, the file name written) is :mod:`._formats`;
the conversion and labels before mastering :mod:`._layout`; mastering and encoding :mod:`._encode`.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated, Iterator

from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.timebase import parse_meter
from nodeflow.node import Context, node
from nodeflow.streaming import NotStreamable, Stream
from nodeflow.outputs import numbered, resolve
from nodeflow.safeio import same_file
from nodeflow.types import FilePath, Group, Range, Text

from ._formats import (BITS, EXTENSIONS, LOSSY, SUBTYPE, BitDepth, Format, channels_problem, depth_problem,
                       keep_rate, rate_problem, sample_bytes, set_rate, size_problem, target_name)
from ._formats import MAX_CHANNELS, MAX_RATE, MIN_RATE, MP3_RATES, WAV_MAX_DATA  # noqa: F401 - kept importable from here
from ._encode import over_warning, unlimited_lossy, write_mastered, write_streamed, write_unlimited
from ._limiter import too_short_to_measure
from ._master import DCTally, Silent, Unreachable
from ._said import WARN_GAIN_DB, gain_warning, resample_loss, resample_warning, shortfall_warning, unsteady_warning
from ._layout import Channels, SampleRate, conform_for_export, conform_stream, export_metadata

LABELS = Group("labels for the DAW")


def _preflight(params: dict, base_dir: Path) -> list[str]:
    """What validation reports without writing: the name and format (see :func:`target_name`), and
    a sample rate the format cannot store when ``sample_rate`` sets it (with ``keep`` the input's
    rate decides: :func:`_estimate` reports it)."""
    path, format = params.get("path"), params.get("format", Format.AUTO)
    if str(params.get("meter") or "").strip():
        try:
            parse_meter(params["meter"])
        except ParameterError as e:
            return [f"{e}; or leave meter empty to take the audio's"]
    if not isinstance(path, str):
        return []
    if why := _foreign_path(path):
        return [why]
    if path.rstrip().endswith(("/", os.sep)):     # (one naming an existing folder: the node, which knows where)
        chosen = Format(getattr(format, "value", format))
        ext = "wav" if chosen is Format.AUTO else chosen.value
        return [f"path={path!r} names a folder; give a file name, e.g. {path.rstrip('/' + os.sep)}/out.{ext}"]
    try:
        _, fmt = target_name(path, format)
    except (ParameterError, ValueError) as e:
        return [str(e)]
    rate = set_rate(params)
    whys = [rate_problem(fmt, rate) if rate else None, depth_problem(fmt, params.get("bit_depth"))]
    return [why for why in whys if why]


def _foreign_path(path: str) -> str | None:
    """Why ``path`` would not be written where its writer meant (QA: a graph from Windows wrote files
    named ``..\\..\\winrel.wav``; ``$HOME/x.wav`` and ``file:///tmp/x.wav`` made folders named
    ``$HOME`` and ``file:``), or None."""
    import re
    if "\\" in path and os.sep == "/":
        import posixpath
        fix = posixpath.normpath(path.replace("\\", "/").split(":", 1)[-1].lstrip("/"))
        if fix == ".." or fix.startswith("../"):   # (QA63: the fix offered was refused in turn, for leaving the folder)
            fix = posixpath.basename(fix) if fix != ".." else "out.wav"
        return f"path={path!r} separates folders with backslashes (a Windows path); write / between folders, e.g. {fix!r}"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", path):
        return f"path={path!r} is a URL; give a file name (relative to the output folder), e.g. 'out.wav'"
    # a variable a shell or Windows would expand: $NAME or %NAME% starting a folder (Ke$ha and A$AP Rocky are
    # names, QA), or ${NAME} anywhere
    if m := re.search(r"(?:^|/)(\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%)(?=/|$)|\$\{[A-Za-z_][A-Za-z0-9_]*\}",
                      path):
        return (f"path={path!r} holds {(m.group(1) or m.group()).lstrip('/')!r}, which is not expanded (a file or folder would be named so); "
                "write the folder itself, or a path relative to the output folder")
    return None



def _estimate(inputs: dict, params: dict) -> dict:
    """The file this export writes (per item when mapped): its size and the mastering work."""
    from nodeflow.costs import Shape
    a = inputs.get("audio")
    if a is None or not a.rate:
        return None
    rate_set = set_rate(params)
    rate = rate_set or a.rate
    layout = str(getattr(params.get("channels"), "value", params.get("channels")))
    ch = {"mono": 1, "stereo": 2}.get(layout, a.channels)
    frames = a.frames * rate // a.rate
    fmt = str(getattr(params.get("format"), "value", params.get("format")))
    ext = Path(str(params.get("path", ""))).suffix.lower()
    fmt = EXTENSIONS.get(ext, "wav") if fmt == "auto" else fmt
    depth = sample_bytes(params.get("bit_depth"))
    size = frames * ch * depth if fmt in ("wav", "flac") else frames * 40_000 // rate   # lossy: ~320 kbit/s
    firm = (unlimited_lossy(fmt) if fmt in LOSSY and "peak_db" in params and params["peak_db"] is None
            else None) or (rate_problem(fmt, a.rate) if rate_set is None else None) or channels_problem(fmt, ch)
    problem = firm or (too_short_to_measure(frames, rate) if params.get("loudness_lufs") is not None and frames
                       else None) or size_problem(fmt, frames, ch, depth)
    whole = params.get("loudness_lufs") is not None or fmt not in ("wav", "flac")     # mastered or encoded whole
    # written as it arrives (wav and flac without a loudness target: see _stream), a few blocks at a time
    # (measured 0.1 of the clip's float32 size); a file whose true peak then needs the limiter is exported
    # whole after all (rare: a hot master, which no estimate knows beforehand; its work grows by 3 times the
    # clip: test_a_hot_masters_memory_grows_as_its_estimate_says).
    # Whole: a loudness target measured 2.6 times the clip, ogg 0.6, mp3 2.5 and 5 with a loudness target (its
    # file is decoded whole to be measured: a libsndfile bug, see _loudness._file_blocks; QA90 D5: a 10-minute
    # mp3 master at -9 LUFS peaked at 1.33 GiB, estimated at 4 times the clip)
    clip = frames * ch * 4
    work = (5 if fmt == "mp3" and params.get("loudness_lufs") is not None else 4) * clip if whole else \
        min(4 * clip, 64 << 20)
    return {"out": Shape(chars=len(str(params.get("path", ""))), file_bytes=size + 65536,
                         work_s=frames * ch / 5e6 + 0.02, work_bytes=work, problem=problem or "", whole=whole,
                         firm=bool(firm))}


def _stream(inputs: dict, params: dict, ctx: Context) -> str:
    """Write the audio as it arrives: wav and flac without a loudness target (with the limiter's
    ceiling or without a limiter).  Lossy formats (decoded and re-encoded until the codec keeps the
    ceiling) and loudness targets (measured on the whole first) are exported whole; audio whose true
    peak needs the limiter is found out only at the end, and then exported whole too
    (:class:`NotStreamable`, the partial file removed)."""
    if params["loudness_lufs"] is not None:
        raise NotStreamable("a loudness target is measured on the whole audio first")
    return _export(inputs["audio"], params, ctx)


@node("io.export", category="io", version=2, side_effect=True, preflight=_preflight, estimate=_estimate,
      stream=_stream)
def export(audio: Audio, *,
           path: Annotated[str, FilePath(mode="write", exts=tuple(EXTENSIONS))] = "out.wav",
           format: Format = Format.AUTO,
           bit_depth: BitDepth = BitDepth.PCM24,
           sample_rate: SampleRate = SampleRate.KEEP,
           channels: Channels = Channels.KEEP,
           loudness_lufs: Annotated[float, Range(-70.0, 0.0, unit="LUFS")] | None = None,
           peak_db: Annotated[float, Range(-60.0, 0.0, unit="dBTP")] | None = -1.0,
           dither: bool = True,
           title: Annotated[str, Text(max_len=1000), LABELS] = "",
           artist: Annotated[str, Text(max_len=1000), LABELS] = "",
           album: Annotated[str, Text(max_len=1000), LABELS] = "",
           comment: Annotated[str, Text(max_len=10000), LABELS] = "",
           bpm: Annotated[float, Range(1.0, 999.0, unit="bpm"), LABELS] | None = None,
           key: Annotated[str, Text(max_len=40), LABELS] = "",
           meter: Annotated[str, Text(max_len=8), LABELS] = "",
           markers: Annotated[bool, LABELS] = True,
           embed_graph: bool = True,
           ctx: Context) -> str:
    """Write audio to wav, flac, mp3 or ogg, normalised and peak-limited, with the graph embedded.

    - ``format=auto`` takes the format from the extension; with an explicit format a path
      without a known extension gets one.  Mapped over a list, item ``i`` of ``n`` is written to
      ``name_<i>.ext`` (numbered from 1), ``name_<i>_<stem>.ext`` for a separated stem
      (``mix_1_drums.flac``).
    - ``bit_depth`` applies to wav (16/24-bit PCM or 32-bit float) and flac (16/24 only); mp3
      is LAME VBR (~V2), ogg is Vorbis quality ~7.  ``dither`` adds TPDF dither to 16-bit PCM.
    - ``loudness_lufs`` sets the integrated loudness (ITU-R BS.1770-4, as libebur128 meters it);
      ``peak_db`` is a TRUE-peak ceiling in dBTP (4x oversampled) held by a two-stage look-ahead
      limiter, and the loudness still lands within 0.5 LU of its target; a target the limiter cannot
      reach under ``peak_db`` is refused with the loudness it can reach.  For PCM the ceiling holds
      for the stored integers; mp3 and ogg are decoded after encoding and, where the codec overshot
      the ceiling or moved the loudness, mastered again.  A written file near its ceiling is also
      read band-limited (an ideal low-pass: peaks between samples from content near the Nyquist
      frequency, which the 4x meter rolls off) and limited lower where that is over.  The written file's loudness, loudness range and
      true peak are reported in the progress message.
    - ``sample_rate`` (keep, 44.1, 48, 88.2 or 96 kHz) and ``channels`` (keep, mono, stereo; 5.1
      and 7.1 fold down to stereo with ITU-R BS.775 gains, the LFE left out) convert for a DAW
      session before mastering.
    - Labels a DAW reads, in each format's own fields (WAV LIST/INFO, BWF bext and iXML; FLAC/OGG
      Vorbis comments; MP3 ID3): ``title``, ``artist``, ``album``, ``comment``, ``bpm``, ``key``
      and ``meter``.  Each empty one comes from the graph's metadata, else from the audio (a
      source file's tags survive load -> export; a detected or typed tempo travels with windows).
      The BWF time reference is the clip's place in its source (plus the source's own time
      reference), so a window exported on its own drops into place with "insert at original
      time".  ``markers`` writes a cue marker at each stitched window's seam.
    - The file is written to a temporary name in the same folder and renamed into place, so a
      failure leaves no partial file and an existing file untouched.  Input files of the graph
      are never overwritten.  Provenance (checkpoint, adapter digest, AudioChain version) goes
      into the tags, and (``embed_graph``) the graph itself, where tag viewers do not show it:
      ``audiochain extract FILE`` gets it back.  No absolute path of this machine is written:
      inputs are relative to the file, or named by file name.

    Returns the absolute path written.

    Parameters
    ----------
    audio : Audio
        What to write (mapped over a list: one numbered file per item).
    path : str
        File to write, relative to the run's output folder; the extension picks the format with
        format=auto.
    format : Format
        auto (from the extension), wav, flac, mp3 or ogg.
    bit_depth : BitDepth
        Sample format of wav and flac: pcm16, pcm24 or float32 (wav only); mp3 and ogg ignore it.
    sample_rate : SampleRate
        Rate of the file: keep (the audio's own) or 44100, 48000, 88200, 96000 Hz for a DAW session.
    channels : Channels
        Layout of the file: keep, mono or stereo (5.1 and 7.1 fold down to stereo).
    loudness_lufs : float or None, LUFS
        Integrated loudness target, -70 to 0 LUFS (e.g. -14 for streaming); empty: the level is left
        as it is.
    peak_db : float or None, dBTP
        True-peak ceiling, -60 to 0 dBTP, held by the limiter (-1 dBTP suits most delivery specs);
        empty: no limiter, the audio is written as it is (stems that sum to their mix; a 32-bit
        float wav keeps peaks over full scale, integer PCM refuses them, mp3 and ogg need the limiter).
    dither : bool
        Add TPDF dither when writing 16-bit PCM (recommended; other formats ignore it).
    title : str
        Title tag; empty: from the graph's metadata, else from the audio's source file.
    artist : str
        Artist tag; empty: from the graph's metadata, else from the audio's source file.
    album : str
        Album tag; empty: from the graph's metadata, else from the audio's source file.
    comment : str
        Comment tag; empty: from the graph's metadata, else from the audio's source file.
    bpm : float or None, bpm
        Tempo tag, 1-999 bpm; empty: the tempo the audio carries or the graph's metadata.
    key : str
        Musical key tag (e.g. A minor); empty: from the graph's metadata or the audio.
    meter : str
        Time signature tag (e.g. 3/4); empty: from the graph's metadata or the audio.
    markers : bool
        Write a cue marker at each stitched window's seam, which DAWs show on the clip.
    embed_graph : bool
        Store the graph that made the file inside it (hidden from tag viewers; `audiochain extract`
        reads it).
    """
    params = dict(path=path, format=format, bit_depth=bit_depth, sample_rate=sample_rate, channels=channels,
                  loudness_lufs=loudness_lufs, peak_db=peak_db, dither=dither, title=title, artist=artist,
                  album=album, comment=comment, bpm=bpm, key=key, meter=meter, markers=markers,
                  embed_graph=embed_graph)
    return _export(audio, params, ctx)


def _export(source: Audio | Stream, p: dict, ctx: Context) -> str:
    """The export of a whole value or of a :class:`Stream` (see :func:`_stream`)."""
    import nodeflow
    from nodeflow import audiometa

    path, format, bit_depth, embed_graph = p["path"], p["format"], p["bit_depth"], p["embed_graph"]
    if str(p.get("meter") or "").strip():
        parse_meter(p["meter"])            # a meter tag a DAW cannot read is refused, not written as typed
    info = source.head.info if isinstance(source, Stream) else source.info
    dest, fmt = _destination(path, format, ctx, label=dict(info).get("stem", ""))
    if isinstance(source, Stream):
        if fmt in LOSSY:
            raise NotStreamable(f"{fmt} is decoded and checked after encoding")
        stream = conform_stream(source, SampleRate(p["sample_rate"]), Channels(p["channels"]))
        audio = stream.head
    else:
        stream = None
        audio = conform_for_export(source, SampleRate(p["sample_rate"]), Channels(p["channels"]),
                                   check=ctx.check_cancelled)
    _check_codec(audio, fmt, bit_depth)
    _refuse_protected(dest, ctx)
    foreign = _foreign_file(dest)
    meta = export_metadata(audio, ctx.graph, {k: p[k] for k in ("title", "artist", "album", "comment", "bpm", "key",
                                                                 "meter")},
                           markers=p["markers"], version=nodeflow.__version__)
    pcm = fmt in ("wav", "flac") and bit_depth is not BitDepth.FLOAT32
    ctx.check_cancelled()
    graph_bytes, far = _graph_bytes(ctx, dest) if embed_graph and ctx.graph is not None else (None, {})
    codec = LOSSY.get(fmt, {"subtype": SUBTYPE[bit_depth]})
    bits = BITS.get(bit_depth) if pcm else None
    phase = _Phases(ctx, fmt, p["loudness_lufs"], p["peak_db"])
    dc = DCTally(audio, stream)
    if stream is not None:
        stream = stream.map(dc.tally)
    with _atomic(dest) as tmp, dc.noted():
        if stream is not None:
            report = write_streamed(tmp, stream.blocks, audio.sample_rate, audio.channels, fmt, codec,
                                    peak_db=p["peak_db"], bits=bits, dither=p["dither"], check=ctx.check_cancelled,
                                    phase=phase, dest=dest)
        else:
            try:
                if p["peak_db"] is None:
                    report = write_unlimited(tmp, audio.samples, audio.sample_rate, fmt, codec,
                                             loudness_lufs=p["loudness_lufs"], bits=bits, dither=p["dither"],
                                             check=ctx.check_cancelled, phase=phase, dest=dest)
                else:
                    report = write_mastered(tmp, audio.samples, audio.sample_rate, fmt, codec,
                                            loudness_lufs=p["loudness_lufs"], peak_db=p["peak_db"], bits=bits,
                                            dither=p["dither"], check=ctx.check_cancelled, phase=phase, dest=dest)
            except (Unreachable, Silent) as e:
                raise resample_loss(e, source, audio, keep_rate(fmt, source.sample_rate)) or e from None
        phase("tagging", report.summary())
        tags = meta.merge(audiometa.Metadata(extra=tuple(report.tags().items())))
        for said in audiometa.write_metadata(tmp, fmt, tags, graph_bytes):
            ctx.warn(f"{dest}: {said}")     # what the format could not hold (QA83: markers past its count)
        ctx.check_cancelled()
    if graph_bytes is not None:     # where its far inputs are stays on this machine, as for a graph file
        from nodeflow.places import remember_saved
        remember_saved(dest, graph_bytes, far, ctx.graph)
    if foreign:             # (QA68 D10: a typo in a path set from Python replaced a recording without a word)
        ctx.warn(f"{dest}: replaced a file AudioChain did not export ({foreign}); the path was set by you, so it was "
                 "written; restore the file from a backup if that was not meant")
    if p["loudness_lufs"] is not None:      # (QA: a click in silence rose 71 dB)
        said = resample_warning(source, audio, report.gain_db, p["loudness_lufs"], keep_rate(fmt, source.sample_rate)) \
            if report.gain_db >= WARN_GAIN_DB else None
        if said := said or gain_warning(audio, report, p["loudness_lufs"]):
            ctx.warn(said)
    if note := dc.note():
        ctx.warn(note)
    if report.over_db > 0.0:      # (QA87 D1: written over its ceiling, not a word)
        ctx.warn(f"{dest}: {over_warning(report, fmt, p['peak_db'])}")
    if report.unsteady:      # (QA39: "within the 0.5 LU allowed", said of an encoder's jumps)
        ctx.warn(unsteady_warning(fmt, p["loudness_lufs"], report.unsteady, report.measurement.integrated_lufs))
    elif p["loudness_lufs"] is not None and (short := shortfall_warning(fmt, p["loudness_lufs"], p["peak_db"],
                                                                          report.measurement.integrated_lufs,
                                                                          report.limiter_short_lu)):
        ctx.warn(short)      # a warning, so `run -q` says it too (QA67: a master 0.5 LU under its target, not a word)
    ctx.progress(100, 100)
    return str(dest)



#: where each step of an export starts, in percent of the whole: mastering to a loudness (passes over
#: the audio until the limited result meets the target) takes most of it, tags next to nothing
_PHASES = {"mastering": 0, "encoding": 60, "measuring": 85, "tagging": 97}


class _Phases:
    """What the export is doing, as the node's progress: where the step starts (:data:`_PHASES`)
    and a few words ("encoding FLAC"), never going back (a file measured over its target is
    mastered again).  A long export showed 'running' and an empty bar for its whole 20 s (QA)."""

    def __init__(self, ctx: Context, fmt: str, loudness_lufs: float | None, peak_db: float | None):
        self.ctx, self.step = ctx, 0
        target = f"{loudness_lufs:g} LUFS, " if loudness_lufs is not None else ""
        ceiling = f"{peak_db:g} dBTP" if peak_db is not None else "no limiter"
        self.words = {"mastering": f"mastering to {target}{ceiling}", "encoding": f"encoding {fmt.upper()}",
                      "measuring": "measuring the file", "tagging": "writing tags"}

    def __call__(self, what: str, message: str = "") -> None:
        self.step = max(self.step, _PHASES[what])
        self.ctx.progress(self.step, 100, message or self.words[what])


def _destination(path: str, format: Format, ctx: Context, label: str = "") -> tuple[Path, str]:
    if not path.strip():
        raise ParameterError("path is empty; give a file name such as out.wav")
    if path.rstrip().endswith(("/", os.sep)) or resolve(path, ctx.output_dir).is_dir():   # not "folder" + ".wav"
        dest = resolve(path, ctx.output_dir).absolute()
        raise AudioError(f"path={path!r} names a folder ({dest}); give a file name, e.g. "
                         f"{path.rstrip('/' + os.sep)}/out.{'wav' if format is Format.AUTO else format.value}")
    name, fmt = target_name(path, format)
    if ctx.item is not None:
        name = numbered(name, *ctx.item, label=label)
    dest = Path(os.path.abspath(ctx.resolve_output(name)))   # refuses places outside the output folder
    if dest.is_dir():
        raise AudioError(f"{dest}: is a folder; give a file name (path={path!r})")
    return dest, fmt


def _check_codec(audio: Audio, fmt: str, bit_depth: BitDepth) -> None:
    if audio.frames == 0:
        raise AudioError("the audio is empty (0 frames); nothing to export")
    if (why := channels_problem(fmt, audio.channels)) is not None:
        raise AudioError(why)
    if (why := depth_problem(fmt, bit_depth)) is not None:
        raise ParameterError(why)
    if (why := rate_problem(fmt, audio.sample_rate)) is not None:
        raise AudioError(why)
    if (why := size_problem(fmt, audio.frames, audio.channels, sample_bytes(bit_depth))) is not None:
        raise AudioError(why)


def _graph_bytes(ctx: Context, dest: Path) -> tuple[bytes, dict[str, tuple[str, str]]]:
    """The running graph as file bytes, its relative input paths rebased for ``dest``'s folder
    (so ``audiochain run dest`` finds the same inputs wherever the export was written), and the inputs
    it names by file name alone, lying far from there, for :func:`~nodeflow.places.remember_saved` to note
    once the file is written (so ``audiochain run dest`` finds them on this machine, as a graph file's)."""
    from nodeflow.fileformat import dumps

    from nodeflow.bundle import is_extracted
    from nodeflow.places import far_for_writing
    graph = ctx.graph.copy()           # its token of far inputs is the export's own
    if graph.base_dir() != ctx.base_dir.resolve():   # the run resolved inputs against another folder
        graph.path = ctx.base_dir.resolve() / "graph.msgpack"
    if is_extracted(graph.base_dir()):    # a bundle's run: its inputs as the bundle names them (files/...), not
        return dumps(graph, graph.base_dir(), portable=True), {}   # the private folder removed when the run ends
    far = far_for_writing(graph, dest.parent)
    return dumps(graph, dest.parent, portable=True), far


def _foreign_file(dest: Path) -> str:
    """What ``dest`` held when it is a file AudioChain did not export ("3.2 MB, made 2026-11-30 14:02"),
    else "" (a run may replace it: a path the user set, or a folder they allowed)."""
    import time
    from nodeflow.outputs import made_by_audiochain
    try:
        st = os.stat(dest)
    except OSError:
        return ""
    if not os.path.isfile(dest) or made_by_audiochain(dest):
        return ""
    return f"{st.st_size / 1e6:.1f} MB, last changed {time.strftime('%Y-%m-%d %H:%M', time.localtime(st.st_mtime))}"


def _refuse_protected(dest: Path, ctx: Context) -> None:
    target = Path(os.path.realpath(dest))             # never raises (Path.resolve does on a symlink loop)
    source = getattr(ctx.graph, "path", None)
    if source is not None and target.exists() and same_file(target, Path(source)):
        raise AudioError(f"{dest}: refusing to overwrite the file this graph was opened from; "
                         "export to another path (e.g. audiochain run -o OTHER_FOLDER)")
    for p in ctx.protected_files:
        if same_file(target, Path(p)):
            raise AudioError(f"{dest}: refusing to overwrite an input file of this graph ({p}); "
                             "export to another path")


@contextlib.contextmanager
def _atomic(dest: Path) -> Iterator[Path]:
    """A fresh temp file beside ``dest`` (:func:`nodeflow.atomic.new_temp`, which also clears temp
    files that killed runs left there), synced and renamed onto it if the block succeeds, else removed."""
    from nodeflow.atomic import new_temp

    from nodeflow.outputs import cannot_write
    try:
        tmp = new_temp(dest, suffix=dest.suffix)
    except OSError as e:
        raise AudioError(f"{dest}: {cannot_write(e)}") from e
    try:
        yield tmp
        try:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except OSError as e:
            raise AudioError(f"{dest}: cannot move the finished file into place ({e.strerror or e})") from e
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
