"""DAWproject files: arrangements of exported clips that Bitwig Studio, Studio One and Cubase open.

A ``.dawproject`` file (the open format of github.com/bitwig/dawproject, version 1.0) is a zip
holding ``project.xml`` (tracks, arrangement, tempo, meter), ``metadata.xml`` and the audio.
This module writes one audio track per :class:`Track`, each :class:`Clip` at its position on an
arrangement counted in beats (``timeUnit="beats"``: a clip stays on its bar when the DAW's
tempo matches), its audio file copied into the zip under ``audio/`` (``external="false"``, so
nothing of the author's machine appears in the XML).  Each clip plays its whole file: the
``Clip`` spans ``start_s * bpm / 60`` beats onward, its content is in seconds
(``contentTimeUnit="seconds"``, ``playStart=0``, ``playStop`` = the file's duration) and the
``Audio`` element gives the file's duration, sample rate and channels, as the format's reference
implementation places un-warped audio on a beat arrangement.

>>> tracks = clips_from_run(graph, result)   # nodeflow.dawruns          # doctest: +SKIP
>>> write_dawproject("song.dawproject", tracks, bpm=97, meter=(3, 4), title="Song")  # doctest: +SKIP
>>> bpm, meter, tracks = read_dawproject("song.dawproject")   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import math
import re
import shutil
import zipfile
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, Iterable, Sequence

from .atomic import atomic_path
from .errors import AudioError, FileFormatError, NodeflowError, ParameterError

__all__ = ["Clip", "Track", "write_dawproject", "read_dawproject", "parse_meter", "check_bpm", "file_facts", "SUFFIX"]

SUFFIX = ".dawproject"
FORMAT_VERSION = "1.0"
# reading files from elsewhere: bounded work whatever the file claims
MAX_XML_BYTES = 32 * 2**20
MAX_ENTRIES = 100_000
MAX_CLIPS = 100_000
MAX_EXTRACT_BYTES = 8 * 2**30


@dataclasses.dataclass(frozen=True)
class Clip:
    """One audio file placed on the arrangement.

    ``file`` is a file on disk when writing; in what :func:`read_dawproject` returns it is the
    path inside the zip (or the extracted file with ``extract_to``).  ``start_s`` is the position
    in the arrangement in seconds, ``duration_s`` how long the clip plays.  ``sample_rate`` and
    ``channels`` of 0 are read from the file when writing.
    """

    file: PurePath
    start_s: float | Fraction     # a Fraction keeps it exact (clips_from_run gives where the audio sat, exactly)
    duration_s: float | Fraction
    name: str = ""
    sample_rate: int = 0
    channels: int = 0


@dataclasses.dataclass(frozen=True)
class Track:
    """An audio track: a name and its clips."""

    name: str
    clips: tuple[Clip, ...] | list[Clip] = ()


# ---------------------------------------------------------------------------------------- writing
def parse_meter(meter: str | Sequence[Any]) -> tuple[int, int]:
    """``"3/4"`` or ``(3, 4)`` -> ``(3, 4)``; a :class:`ParameterError` names the expected form.

    >>> parse_meter("6/8"), parse_meter((3, 4))
    ((6, 8), (3, 4))
    """
    from .timebase import parse_meter as parse_text
    if not isinstance(meter, str):
        try:
            meter = "/".join(str(int(p)) for p in meter)
        except (TypeError, ValueError):
            raise ParameterError(f"meter={meter!r}: expected beats/note value such as 4/4, 3/4 or 6/8") from None
    return parse_text(meter)


def check_bpm(bpm: Any) -> float:
    if isinstance(bpm, bool):      # (QA: true was taken as 1 bpm)
        raise ParameterError(f"bpm={bpm!r}: expected a tempo in beats per minute, e.g. 120")
    try:
        value = float(bpm)
    except (TypeError, ValueError):
        raise ParameterError(f"bpm={bpm!r}: expected a tempo in beats per minute, e.g. 120") from None
    if not (math.isfinite(value) and 1.0 <= value <= 999.0):
        raise ParameterError(f"bpm={bpm!r}: expected a tempo between 1 and 999 beats per minute")
    return value


def _num(x: float | Fraction) -> str:
    """xs:double text: the shortest repr that reads back as the same float."""
    return repr(float(x))


PPQ = 960        # the finest beat grid a position is snapped to (DAWs' pulses per quarter note)


def _beats(seconds: float | Fraction, bpm: float, rate: int | None = None) -> str:
    """Seconds to beats, rounded once (``Fraction`` holds the float inputs exactly).  With the audio's
    ``rate``, a position within half a sample of a 1/960-beat grid point is that point: a clip cut
    on bar 3 starts at beat 6.0 in the DAW, not 5.99999622 (its first sample was rounded to a frame)."""
    beats = Fraction(seconds) * Fraction(bpm) / 60
    if rate:
        snapped = Fraction(round(beats * PPQ), PPQ)
        if abs(snapped - beats) * 60 / Fraction(bpm) * rate <= Fraction(1, 2):
            beats = snapped
    return _num(beats)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _member_name(clip: Clip, track: str, taken: set[str]) -> str:
    """``audio/<track>_<file name>``: ASCII letters, digits and ``._-`` only, unique ignoring case."""
    src = Path(clip.file)
    stem = _UNSAFE.sub("_", f"{track}_{src.stem}").strip("._-")[:80] or "clip"
    ext = _UNSAFE.sub("", src.suffix.lower())[:8]
    name, n = f"audio/{stem}{ext}", 1
    while name.lower() in taken:
        n += 1
        name = f"audio/{stem}-{n}{ext}"
    taken.add(name.lower())
    return name


def file_facts(path: Path) -> tuple[Fraction, int, int]:
    """Duration (s, exact), sample rate and channels of an audio file as stored."""
    import soundfile as sf
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as e:
        raise AudioError(f"{path}: not an audio file soundfile can read ({e}); give the files the run "
                         "exported") from None
    return Fraction(info.frames, info.samplerate), int(info.samplerate), int(info.channels)


def _sub(parent: ET.Element, tag: str, **attrs: Any) -> ET.Element:
    return ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})


def _project_xml(placed: list[tuple[Track, list[tuple[Clip, str, tuple[Fraction, int, int]]]]], bpm: float,
                 meter: tuple[int, int]) -> bytes:
    from . import __version__
    ids = iter(range(1 << 30))

    def nid() -> str:
        return f"id{next(ids)}"

    root = ET.Element("Project", version=FORMAT_VERSION)
    _sub(root, "Application", name="AudioChain", version=__version__)
    transport = _sub(root, "Transport")
    _sub(transport, "Tempo", id=nid(), name="Tempo", unit="bpm", value=_num(bpm), min=_num(min(20.0, bpm)),
         max=_num(max(666.0, bpm)))
    _sub(transport, "TimeSignature", id=nid(), numerator=meter[0], denominator=meter[1])
    structure = _sub(root, "Structure")

    def channel_params(channel: ET.Element) -> None:
        # order as the schema's sequence: Mute, Pan, Volume
        _sub(channel, "Mute", id=nid(), name="Mute", value="false")
        _sub(channel, "Pan", id=nid(), name="Pan", unit="normalized", value="0.5", min="0.0", max="1.0")
        _sub(channel, "Volume", id=nid(), name="Volume", unit="linear", value="1.0", min="0.0", max="2.0")

    master_track = ET.Element("Track", id=nid(), name="Master", contentType="audio", loaded="true")
    master = _sub(master_track, "Channel", id=nid(), role="master", audioChannels=2, solo="false")
    channel_params(master)
    arrangement = ET.Element("Arrangement", id=nid())
    lanes = _sub(arrangement, "Lanes", id=nid(), timeUnit="beats")
    for track, clips in placed:
        channels = max((facts[2] for _, _, facts in clips), default=2)
        t = _sub(structure, "Track", id=nid(), name=track.name, contentType="audio", loaded="true")
        ch = _sub(t, "Channel", id=nid(), role="regular", audioChannels=channels, destination=master.get("id"),
                  solo="false")
        channel_params(ch)
        lane = _sub(lanes, "Lanes", id=nid(), track=t.get("id"))
        timeline = _sub(lane, "Clips", id=nid())
        for clip, member, (file_s, rate, chans) in clips:
            c = _sub(timeline, "Clip", time=_beats(clip.start_s, bpm, rate),
                     duration=_beats(clip.duration_s, bpm, rate),
                     contentTimeUnit="seconds", playStart="0.0", playStop=_num(clip.duration_s),
                     name=clip.name or Path(clip.file).stem)
            audio = _sub(c, "Audio", id=nid(), timeUnit="seconds", duration=_num(file_s), sampleRate=rate,
                         channels=chans)
            _sub(audio, "File", path=member, external="false")
    structure.append(master_track)
    root.append(arrangement)
    _sub(root, "Scenes")
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


def _metadata_xml(title: str) -> bytes:
    from . import __version__
    root = ET.Element("MetaData")
    if title:
        ET.SubElement(root, "Title").text = title
    ET.SubElement(root, "Comment").text = f"Made with AudioChain {__version__}"
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


def write_dawproject(path: str | Path, tracks: Iterable[Track], *, bpm: float, meter: tuple[int, int] | str = (4, 4),
                     title: str = "") -> Path:
    """Write ``tracks`` as a DAWproject file at ``path`` (atomically: a failure leaves no file).

    Parameters
    ----------
    path : str or Path
        The ``.dawproject`` file; its folder is created if missing.  It must not be one of the
        clips' files.
    tracks : iterable of Track
        One audio track each, in order; every clip's file is copied into the zip once (a file
        used by several clips is stored once).  Sample rate, channels and the file's length come
        from the file itself.
    bpm : float
        The project tempo; clip positions are ``start_s * bpm / 60`` beats.
    meter : (int, int) or str
        Time signature, ``(3, 4)`` or ``"3/4"``.
    title : str
        The project title (``metadata.xml``).

    Returns the path written.
    """
    path = Path(path)
    bpm = check_bpm(bpm)
    meter = parse_meter(meter)
    tracks = list(tracks)
    if path.is_dir():
        raise ParameterError(f"{path}: is a folder; give a file name such as {path / ('project' + SUFFIX)}")
    members: dict[Path, tuple[str, tuple[Fraction, int, int]]] = {}
    taken: set[str] = set()
    placed = []
    for track in tracks:
        clips = []
        for clip in track.clips:
            src = Path(clip.file).resolve()
            if not src.is_file():
                raise AudioError(f"track {track.name!r}: clip file {clip.file} does not exist; give the files the "
                                 "run exported")
            if path.exists() and path.resolve() == src:
                raise ParameterError(f"{path}: is a clip file of this project; write the project to another path")
            for what, v in (("start_s", clip.start_s), ("duration_s", clip.duration_s)):
                if not (math.isfinite(v) and v >= 0 and (what == "start_s" or v > 0)):
                    raise ParameterError(f"track {track.name!r}, clip {clip.file}: {what}={v!r}; expected a "
                                         f"{'positive' if what == 'duration_s' else 'non-negative'} number of seconds")
            if src not in members:
                members[src] = (_member_name(clip, track.name, taken), file_facts(src))
            clips.append((clip, *members[src]))
        placed.append((track, clips))
    project = _project_xml(placed, bpm, meter)
    try:
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("metadata.xml", _metadata_xml(title))
                z.writestr("project.xml", project)
                for src, (member, _) in members.items():   # audio is compressed already (or barely shrinks)
                    z.write(src, member, compress_type=zipfile.ZIP_STORED)
    except OSError as e:
        raise NodeflowError(f"{path}: cannot write the DAW project there ({e.strerror or e}); choose a folder "
                            "you can write to") from None
    return path


# ---------------------------------------------------------------------------------------- reading
def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return (bool(name) and "\\" not in name and ":" not in name and not p.is_absolute()
            and ".." not in p.parts and "\x00" not in name)


def _read_xml(z: zipfile.ZipFile, name: str, source: Path) -> ET.Element:
    try:
        info = z.getinfo(name)
    except KeyError:
        raise FileFormatError(f"{source}: no {name} inside; not a DAWproject file") from None
    if info.file_size > MAX_XML_BYTES:
        raise FileFormatError(f"{source}: {name} is {info.file_size} bytes (limit {MAX_XML_BYTES})")
    data = z.read(info)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:   # no entity expansion (billion laughs) from strangers
        raise FileFormatError(f"{source}: {name} declares a DOCTYPE or entities, which DAWproject never uses")
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise FileFormatError(f"{source}: {name} is not well-formed XML ({e})") from None


def _float(el: ET.Element, attr: str, source: Path, default: float | None = None) -> float:
    text = el.get(attr)
    if text is None and default is not None:
        return default
    try:
        value = float(text)   # type: ignore[arg-type]  # None: TypeError, reported below
    except (TypeError, ValueError):
        raise FileFormatError(f"{source}: <{el.tag}> has {attr}={text!r}; expected a number") from None
    if not math.isfinite(value):
        raise FileFormatError(f"{source}: <{el.tag}> has {attr}={text!r}; expected a finite number")
    return value


def written_by_audiochain(path: str | Path) -> bool:
    """``path`` is a DAWproject file AudioChain wrote (its ``<Application name="AudioChain">``); any
    other file, or one that cannot be read, is not."""
    try:
        with zipfile.ZipFile(path) as z:
            app = _read_xml(z, "project.xml", Path(path)).find("Application")
    except Exception:  # noqa: BLE001 - unreadable, not a zip, a bad member: not AudioChain's
        return False
    return app is not None and app.get("name") == "AudioChain"


def read_dawproject(path: str | Path, *, extract_to: str | Path | None = None,
                    max_bytes: int = MAX_EXTRACT_BYTES) -> tuple[float, tuple[int, int], list[Track]]:
    """Read a DAWproject file: ``(bpm, (numerator, denominator), tracks)``.

    Tracks are the audio tracks in the project's order (the master is left out); each clip's
    ``file`` is its path inside the zip, or, with ``extract_to``, the file extracted there.
    Positions come back in seconds at the project tempo.  Safe on files from strangers: member
    names are checked (no absolute paths, no ``..``), XML is size-limited and may not declare
    entities, and extraction stops past ``max_bytes``.  Clips that reference files outside the
    zip (``external="true"``) are refused: the reader never opens paths a file names.
    """
    source = Path(path)
    try:
        z = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise FileFormatError(f"{source}: no such file") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise FileFormatError(f"{source}: not a DAWproject file (not a readable zip: {e})") from None
    with z:
        names = set(z.namelist())
        if len(names) > MAX_ENTRIES:
            raise FileFormatError(f"{source}: {len(names)} entries (limit {MAX_ENTRIES})")
        root = _read_xml(z, "project.xml", source)
        if root.tag != "Project":
            raise FileFormatError(f"{source}: project.xml's root is <{root.tag}>, expected <Project>")
        tempo = root.find("Transport/Tempo")
        bpm = _float(tempo, "value", source) if tempo is not None else 120.0
        if bpm <= 0:
            raise FileFormatError(f"{source}: tempo {bpm} bpm; expected a positive tempo")
        sig = root.find("Transport/TimeSignature")
        try:
            meter = parse_meter((sig.get("numerator"), sig.get("denominator"))) if sig is not None else (4, 4)
        except ParameterError as e:
            raise FileFormatError(f"{source}: time signature: {e}") from None
        order: dict[str, str] = {}
        masters: set[str | None] = set()
        for t in root.iter("Track"):
            ch, tid = t.find("Channel"), t.get("id")
            if ch is not None and ch.get("role") == "master":
                masters.add(tid)
            elif tid:
                order[tid] = t.get("name") or tid
        clips: dict[str, list[Clip]] = {tid: [] for tid in order}
        found = [0]
        extracted: dict[str, Path] = {}
        extracted_bytes = [0]

        def unit_of(el: ET.Element, inherited: str) -> str:
            return el.get("timeUnit") or inherited

        def to_s(value: float, unit: str) -> float:
            return value * 60.0 / bpm if unit == "beats" else value

        def clip_of(el: ET.Element, unit: str, track: str) -> Clip | None:
            audio = el.find(".//Audio")
            if audio is None:
                return None
            ref = audio.find("File")
            if ref is None or not ref.get("path"):
                raise FileFormatError(f"{source}: an <Audio> in track {order[track]!r} has no <File path=...>")
            member = ref.get("path", "")
            if ref.get("external", "false").lower() in ("true", "1"):
                raise FileFormatError(f"{source}: clip in track {order[track]!r} references {member!r} outside the "
                                      "project; AudioChain reads only self-contained projects (export them with "
                                      "audio copied into the project)")
            if not _safe_member(member) or member not in names:
                raise FileFormatError(f"{source}: clip in track {order[track]!r} references {member!r}, which is "
                                      "not a file inside the project")
            found[0] += 1
            if found[0] > MAX_CLIPS:
                raise FileFormatError(f"{source}: more than {MAX_CLIPS} clips")
            start = to_s(_float(el, "time", source), unit)
            if el.get("duration") is not None:
                duration = to_s(_float(el, "duration", source), unit)
            else:
                content = el.get("contentTimeUnit") or unit
                duration = to_s(_float(el, "playStop", source) - _float(el, "playStart", source, 0.0), content)
            file: PurePath = PurePosixPath(member)
            if extract_to is not None:
                file = _extract(z, member, Path(extract_to), extracted, extracted_bytes, max_bytes, source)
            return Clip(file, start, duration, el.get("name") or "", int(_float(audio, "sampleRate", source)),
                        int(_float(audio, "channels", source)))

        def walk(el: ET.Element, unit: str, track: str | None) -> None:
            for child in el:
                cunit = unit_of(child, unit)
                ctrack = child.get("track") or track
                if child.tag == "Clip":
                    if ctrack in clips:
                        c = clip_of(child, unit, ctrack)
                        if c is not None:
                            clips[ctrack].append(c)
                elif child.tag in ("Lanes", "Clips"):
                    walk(child, cunit, ctrack)

        arrangement = root.find("Arrangement")
        if arrangement is not None:
            walk(arrangement, "beats", None)
    tracks = [Track(name, sorted(clips[tid], key=lambda c: c.start_s)) for tid, name in order.items()]
    return bpm, meter, tracks


def _extract(z: zipfile.ZipFile, member: str, dest: Path, done: dict[str, Path], total: list[int],
             max_bytes: int, source: Path) -> Path:
    """``member`` extracted under ``dest`` (once; never over a file that was there before)."""
    if member in done:
        return done[member]
    out = dest / PurePosixPath(member)
    if out.exists():
        raise NodeflowError(f"{out} exists; extract the project into an empty folder (extract_to=...)")
    info = z.getinfo(member)
    total[0] += info.file_size   # zipfile never yields more than the declared size
    if total[0] > max_bytes:
        raise FileFormatError(f"{source}: its audio is over {max_bytes} bytes; pass a larger max_bytes")
    out.parent.mkdir(parents=True, exist_ok=True)
    with z.open(info) as src, atomic_path(out) as tmp, open(tmp, "wb") as f:
        shutil.copyfileobj(src, f, 1 << 20)
    done[member] = out
    return out
