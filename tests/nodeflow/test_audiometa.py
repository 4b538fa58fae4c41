"""nodeflow.audiometa: native tags per format, checked with the tools DAW users look with
(ffprobe, mediainfo, libsndfile, python's wave), and files written by other tools read back."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow.audiometa import (LOAD_KEYS, Metadata, read_embedded_graph, read_metadata, read_tags,
                                write_metadata)
from nodeflow.errors import AudioError, ParameterError

RATE = 48000
FORMATS = {"wav": dict(format="WAV", subtype="PCM_24"), "flac": dict(format="FLAC", subtype="PCM_16"),
           "ogg": dict(format="OGG", subtype="VORBIS"), "mp3": dict(format="MP3", subtype="MPEG_LAYER_III")}
GRAPH = bytes(range(256)) * 40 + b"\x00audiochain"       # binary, like fileformat.dumps output
META = Metadata(title="Take 3 \u266a", artist="Ada Lovelace", album="Engines", comment="first pass",
                bpm=92.5, key="F# minor", meter="3/4", time_reference=RATE * 3600 + 7,
                markers=((0, "start"), (24017, "seam 1"), (36029, "seam 2")),   # between milliseconds
                extra=(("checkpoint", "facebook/musicgen-small"), ("audiochain_version", "0.1.0")))
needs_ffprobe = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
needs_mediainfo = pytest.mark.skipif(shutil.which("mediainfo") is None, reason="mediainfo not installed")


def tone(seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t) * np.minimum(1, 20 * t)
    return np.stack([x, 0.5 * x], axis=1).astype(np.float32)


def written(tmp_path: Path, fmt: str, meta: Metadata = META, graph: bytes | None = GRAPH) -> tuple[Path, np.ndarray]:
    path = tmp_path / f"take.{fmt}"
    sf.write(path, tone(), RATE, **FORMATS[fmt])
    before = sf.read(path, dtype="float32")[0]
    assert write_metadata(path, fmt, meta, graph) == []
    return path, before


def ffprobe(path: Path) -> dict:
    r = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-show_chapters", "-of", "json",
                        str(path)], capture_output=True, check=True, timeout=60)
    assert r.stderr == b""                                  # no warning, no error
    return json.loads(r.stdout)


def ffprobe_tags(doc: dict) -> dict[str, str]:
    tags = dict(doc["format"].get("tags", {}))
    for s in doc["streams"]:
        tags.update(s.get("tags", {}))
    return {k.lower(): v for k, v in tags.items()}


def all_strings(obj) -> list[str]:
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in [str(k), *all_strings(v)]]
    if isinstance(obj, list):
        return [s for v in obj for s in all_strings(v)]
    return [str(obj)]


def no_graph_text(doc) -> None:
    """Nothing shown looks like the graph: no long value, no base64."""
    for s in all_strings(doc):
        assert len(s) < 200, s[:80]
        assert "audiochain_graph" not in s.lower() and "AAECAwQF" not in s   # base64 of bytes 0,1,2,3,4,5


# ---------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("fmt", FORMATS)
def test_write_then_read_keeps_samples_fields_markers_and_graph(tmp_path, fmt):
    path, before = written(tmp_path, fmt)
    after = sf.read(path, dtype="float32")[0]
    assert np.array_equal(before, after)                    # the audio is untouched, sample for sample
    assert read_embedded_graph(path) == GRAPH
    got = read_metadata(path)
    for field in ("title", "artist", "album", "comment", "bpm", "key", "meter", "time_reference", "extra"):
        assert getattr(got, field) == getattr(META, field), field
    assert got.time_reference_rate == RATE
    assert got.markers == META.markers      # every format, to the sample (QA55: FLAC and MP3 were a ms off)
    tags = read_tags(path)
    assert tags["checkpoint"] == "facebook/musicgen-small" and tags["bpm"] == "92.5"
    assert "audiochain_graph" not in tags


@pytest.mark.parametrize("fmt", FORMATS)
def test_rewriting_replaces_the_graph_and_none_removes_it(tmp_path, fmt):
    path, before = written(tmp_path, fmt)
    assert write_metadata(path, fmt, Metadata(title="again"), b"other graph") == []
    assert read_embedded_graph(path) == b"other graph" and read_metadata(path).title == "again"
    assert write_metadata(path, fmt, Metadata(title="plain"), None) == []
    assert read_embedded_graph(path) is None
    assert np.array_equal(sf.read(path, dtype="float32")[0], before)


# ---------------------------------------------------------------------------------------- other tools' views
@needs_ffprobe
@pytest.mark.parametrize("fmt", FORMATS)
def test_ffprobe_shows_native_tags_markers_and_no_graph(tmp_path, fmt):
    path, _ = written(tmp_path, fmt)
    doc = ffprobe(path)
    tags = ffprobe_tags(doc)
    assert tags["title"] == META.title and tags["artist"] == META.artist and tags["album"] == META.album
    assert tags["time_reference"] == str(META.time_reference)
    if fmt == "wav":
        assert tags["coding_history"].startswith("A=PCM,F=48000,W=24,M=stereo,T=AudioChain")
        assert tags["encoded_by"] == "AudioChain"           # bext Originator
    else:
        assert tags["bpm"] == "92.5"
        assert tags.get("tbpm", "92") == "92"              # mp3: ID3's integer TBPM beside it
    chapters = [(float(c["start_time"]) * RATE, c["tags"]["title"]) for c in doc["chapters"]]
    tol = 0.5 if fmt == "wav" else RATE / 1000 / 2        # ffmpeg lists cue points / chapters (chapters in ms)
    assert [label for _, label in chapters] == [label for _, label in META.markers]
    assert all(abs(a - b) <= tol for (a, _), (b, _) in zip(chapters, META.markers)), chapters
    no_graph_text(doc)


@needs_ffprobe
@pytest.mark.parametrize("fmt", FORMATS)
def test_markers_in_one_millisecond_are_chapters_that_each_end_where_the_next_starts(tmp_path, fmt):
    """QA103: a "chorus" cue 16 samples before a seam's "bar 3" became a FLAC chapter that ffprobe ran to the end
    of the file (an mp3's, none long): both started on the same millisecond.  Each chapter now ends where the
    next starts, the last at the end, and every marker reads back on its sample."""
    path = tmp_path / f"cues.{fmt}"
    sf.write(path, tone(1.0), RATE, **FORMATS[fmt])
    markers = ((9600, "bar 2"), (23984, "chorus"), (24000, "bar 3"), (24010, "fill"), (38400, "bar 4"))
    assert write_metadata(path, fmt, Metadata(markers=markers), None) == []
    assert read_metadata(path).markers == markers
    chapters = sorted(ffprobe(path)["chapters"], key=lambda c: float(c["start_time"]))
    assert [c["tags"]["title"] for c in chapters] == [label for _, label in markers]
    starts = [float(c["start_time"]) for c in chapters]
    ends = [float(c["end_time"]) for c in chapters]
    assert all(a < b for a, b in zip(starts, starts[1:])), starts
    assert ends[:-1] == starts[1:] and ends[-1] >= 0.999, (starts, ends)
    assert all(abs(s * RATE - f) <= 3 * RATE / 1000 for s, (f, _) in zip(starts, markers))


@needs_ffprobe
@pytest.mark.parametrize("fmt", FORMATS)
def test_chapters_are_listed_in_time_order_whatever_their_labels(tmp_path, fmt):
    """QA121 D2: an mp3 of a source's cues and stitch's seams listed "outro" (15.873 s of 17) second: mutagen
    writes frames by size, so CHAP frames with shorter labels came first, and ffmpeg lists chapters in the order
    the file holds them (the CTOC's order aside).  Unsorted, as a DAW or player reads them: in time order.
    QA123 D1: made the same size by padding a sub-frame, chapters with a label of 120 bytes or more about had
    ffmpeg drop the others (a sub-frame of 128 bytes or more: it reads their sizes as ID3v2.3's), and one
    such label dropped its own chapter before; an mp3's chapter titles are cut to 120 bytes, and that is said."""
    path = tmp_path / f"cues.{fmt}"
    sf.write(path, tone(2.0), RATE, **FORMATS[fmt])
    long = "a very long label for the bridge, très long — " * 8
    markers = ((4800, "verse"), (19200, "window 2"), (33984, "chorus \u266a"), (48000, "window 3"),
               (52000, long), (90000, "outro"))
    markers += tuple((90100 + 7 * i, "x" * (i % 5 + 1)) for i in range(12))    # ids past m9, labels of every size
    said = write_metadata(path, fmt, Metadata(markers=markers), None)
    if fmt == "mp3":
        assert said == ["1 marker label(s) cut to 120 bytes in the mp3's chapters (ffmpeg drops a chapter with a "
                        "longer title); wav, flac and ogg keep them whole"]
        cut = long.encode()[:117].decode("utf-8", "ignore") + "…"
        markers = tuple((f, cut if label == long else label) for f, label in markers)
    else:
        assert said == []
    assert read_metadata(path).markers == markers
    chapters = ffprobe(path)["chapters"]
    assert [c["tags"]["title"] for c in chapters] == [label for _, label in markers]
    assert [float(c["start_time"]) for c in chapters] == sorted(float(c["start_time"]) for c in chapters)


@needs_ffprobe
@pytest.mark.parametrize("fmt", ["flac", "ogg", "mp3"])
def test_a_run_of_close_markers_and_markers_at_the_end_read_back_on_their_samples(tmp_path, fmt):
    """QA105: 15 markers 3 samples apart came back up to 13 ms late from the 12th on (each chapter a
    millisecond after the one before), and markers in a file's last milliseconds got chapters after its
    end (a marker on the last frame: an empty chapter).  Every marker reads back on its sample, and
    every chapter starts before the end and lasts."""
    path = tmp_path / f"close.{fmt}"
    sf.write(path, tone(1.0), RATE, **FORMATS[fmt])
    markers = tuple(sorted(((0, "zero"), (1, "one"), *((24000 + 3 * k, f"m{k}") for k in range(15)),
                           (47960, "near 1"), (47980, "near 2"), (47999, "last"), (48000, "at end"))))
    assert write_metadata(path, fmt, Metadata(markers=markers), None) == []
    assert read_metadata(path).markers == markers
    chapters = sorted(ffprobe(path)["chapters"], key=lambda c: float(c["start_time"]))
    starts = [float(c["start_time"]) for c in chapters]
    length = float(ffprobe(path)["format"]["duration"])
    assert all(a < b for a, b in zip(starts, starts[1:])) and starts[-1] < length, (starts, length)
    assert all(float(c["end_time"]) > float(c["start_time"]) for c in chapters)


@needs_ffprobe
@pytest.mark.parametrize("fmt, count, kept", [("mp3", 600, 600), ("wav", 1001, 1001), ("flac", 1001, 999),
                                              ("ogg", 1001, 999)])
def test_a_stitch_of_many_windows_keeps_its_markers_as_far_as_the_format_counts(tmp_path, fmt, count, kept):
    # QA83: 256 seams failed the mp3 (an ID3 CTOC counts its chapters in one byte); flac and ogg number chapters
    # with three digits, so past 999 the rest is said, never silently dropped
    path = tmp_path / f"long.{fmt}"
    sf.write(path, tone(4.0), RATE, **FORMATS[fmt])
    markers = tuple((180 * i + 7, f"bar {i + 1}") for i in range(count))
    notes = write_metadata(path, fmt, Metadata(markers=markers), GRAPH)
    assert notes == ([] if kept == count else
                     [f"{count} markers, and {fmt}'s chapters (CHAPTER001 to CHAPTER999) hold 999: the first 999 were "
                      "written; export wav to keep all (its cue points have no such limit), or fewer markers "
                      "(larger windows)"])
    assert read_metadata(path).markers == markers[:kept]            # each on its sample
    chapters = ffprobe(path)["chapters"]
    assert [c["tags"]["title"] for c in chapters] == [label for _, label in markers[:kept]]
    assert read_embedded_graph(path) == GRAPH


@needs_mediainfo
@pytest.mark.parametrize("fmt", FORMATS)
def test_mediainfo_shows_title_artist_bpm_and_no_graph(tmp_path, fmt):
    path, _ = written(tmp_path, fmt, META.merge(Metadata(title="Take 3")))   # mediainfo reads INFO as Latin-1
    r = subprocess.run(["mediainfo", "--Output=JSON", str(path)], capture_output=True, check=True, timeout=60)
    doc = json.loads(r.stdout)
    general = doc["media"]["track"][0]
    assert general["Title"] == "Take 3"
    if fmt == "wav":
        assert general["Director"] == META.artist                    # mediainfo's name for INFO IART
        assert float(doc["media"]["track"][1]["Delay"]) == pytest.approx(META.time_reference / RATE)
        assert general["extra"]["bext_Present"] == "Yes"
    else:
        assert general["Performer"] == META.artist
        assert general["BPM"] in ("92.5", "92 / 92.5")
    no_graph_text(doc)


def test_wav_chunks_seen_by_libsndfile_and_wave(tmp_path):
    path, _ = written(tmp_path, "wav")
    with wave.open(str(path)) as w:                        # python's own RIFF reader
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 3, RATE, RATE)
    from soundfile import _ffi, _snd
    with sf.SoundFile(str(path)) as f:                     # libsndfile's cue parser (SFC_GET_CUE)
        buf = _ffi.new("char[]", 4 + 100 * 280)
        assert _snd.sf_command(f._file, 0x10CE, buf, len(buf)) == 1
        raw = bytes(_ffi.buffer(buf))
    count = struct.unpack_from("<I", raw)[0]
    offsets = [struct.unpack_from("<iIiiiI", raw, 4 + 280 * i)[5] for i in range(count)]
    assert offsets == [frame for frame, _ in META.markers]
    data = path.read_bytes()
    order = [data[i:i + 4] for i in (12, 12 + 8 + int.from_bytes(data[16:20], "little"))]
    assert order == [b"fmt ", b"bext"]                     # bext right after fmt, as ffmpeg writes it
    assert len(data) % 2 == 0 and int.from_bytes(data[4:8], "little") == len(data) - 8


def test_time_reference_is_rescaled_to_the_file_rate(tmp_path):
    path = tmp_path / "low.wav"
    sf.write(path, tone(0.2, 32000), 32000)
    write_metadata(path, "wav", Metadata(time_reference=96000, time_reference_rate=48000))
    got = read_metadata(path)
    assert (got.time_reference, got.time_reference_rate) == (64000, 32000)   # 2 s either way


# ---------------------------------------------------------------------------------------- other writers
@needs_ffprobe
def test_a_wav_tagged_by_ffmpeg_loads_with_its_title_artist_and_bext_placement(tmp_path):
    from nodeflow.node import Context
    from nodes.io.load import load

    src = tmp_path / "plain.wav"
    sf.write(src, tone(1.0), RATE, subtype="PCM_16")
    ext = tmp_path / "tagged.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy", "-write_bext", "1",
                    "-metadata", "title=From ffmpeg", "-metadata", "artist=Someone Else", "-metadata", "comment=c1",
                    "-metadata", "time_reference=12345", "-metadata", "originator=Reaper", str(ext)],
                   check=True, timeout=60)
    meta = read_metadata(ext)
    assert (meta.title, meta.artist, meta.comment, meta.originator) == ("From ffmpeg", "Someone Else", "c1", "Reaper")
    assert (meta.time_reference, meta.time_reference_rate) == (12345, RATE)
    audio = load.fn(path=str(ext), ctx=Context())
    info = dict(audio.info)
    assert info["title"] == "From ffmpeg" and info["artist"] == "Someone Else" and info["time_reference"] == "12345"
    assert set(info) <= set(LOAD_KEYS)
    span = load.fn(path=str(ext), start_s=0.25, end_s=0.5, ctx=Context())
    assert dict(span.info)["time_reference"] == "12345" and span.start_frame == 12000   # the file's, and its place
    assert Metadata.from_info(span.info).time_reference_at(RATE) + span.start_frame == 24345   # what an export writes


@needs_ffprobe
@pytest.mark.parametrize("fmt", ["flac", "mp3"])
def test_bpm_and_key_from_files_ffmpeg_tagged(tmp_path, fmt):
    src = tmp_path / "plain.wav"
    sf.write(src, tone(0.5), RATE)
    out = tmp_path / f"t.{fmt}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-metadata", "title=T", "-metadata", "TBPM=128",
                    "-metadata", "BPM=128", "-metadata", "TKEY=Am", "-metadata", "initialkey=Am", str(out)],
                   check=True, timeout=60)
    meta = read_metadata(out)
    assert (meta.title, meta.bpm, meta.key) == ("T", 128.0, "Am")


def test_files_from_older_audiochain_still_give_their_graph(tmp_path):
    """Before 2026-12 the graph sat in an ID3 GEOB inside WAV and in a base64 Vorbis comment."""
    import base64

    from mutagen.flac import FLAC
    from mutagen.id3 import GEOB, TXXX
    from mutagen.wave import WAVE

    wav = tmp_path / "old.wav"
    sf.write(wav, tone(0.2), RATE)
    w = WAVE(wav)
    w.add_tags()
    w.tags.add(GEOB(encoding=3, mime="application/x-audiochain-graph", filename="graph.audiochain",
                    desc="audiochain-graph", data=GRAPH))
    w.tags.add(TXXX(encoding=3, desc="checkpoint", text=["old-ckpt"]))
    w.save()
    assert read_embedded_graph(wav) == GRAPH and read_tags(wav)["checkpoint"] == "old-ckpt"
    write_metadata(wav, "wav", Metadata(title="new"), GRAPH)       # new files: the ID3 chunk holds labels only
    data = wav.read_bytes()
    assert b"audiochain-graph" not in data and b"old-ckpt" not in data and read_embedded_graph(wav) == GRAPH
    from mutagen.wave import WAVE as W
    assert str(W(wav).tags["TIT2"]) == "new"
    flac = tmp_path / "old.flac"
    sf.write(flac, tone(0.2), RATE)
    f = FLAC(flac)
    f["audiochain_graph"] = base64.b64encode(GRAPH).decode()
    f.save()
    assert read_embedded_graph(flac) == GRAPH and "audiochain_graph" not in read_tags(flac)
    f["audiochain_graph"] = "@@not base64@@"
    f.save()
    with pytest.raises(AudioError, match="damaged"):
        read_embedded_graph(flac)


# ---------------------------------------------------------------------------------------- strangers' files
def chunk(cid: bytes, payload: bytes, claimed: int | None = None) -> bytes:
    n = len(payload) if claimed is None else claimed
    return cid + n.to_bytes(4, "little") + payload + (b"\x00" if len(payload) & 1 else b"")


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def test_malformed_and_huge_wav_chunks_are_skipped_quickly(tmp_path):
    fmt = chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16))
    data = chunk(b"data", np.zeros(800, np.int16).tobytes())
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b"<BWFXML><NOTE>&b;</NOTE></BWFXML>")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(riff(fmt, chunk(b"bext", b"short"), chunk(b"iXML", bomb), chunk(b"iXML", b"<BWFXML><unclosed>"),
                         chunk(b"LIST", b"INFO" + chunk(b"INAM", b"ok\x00") + b"IART\xff\xff\xff\x7f"),
                         chunk(b"cue ", b"\xff\xff\xff\xff"), data + b"JUNK" * 3000,
                         chunk(b"LIST", b"INFO", claimed=0x7FFFFFF0)))
    meta = read_metadata(bad)
    assert meta.title == "ok" and meta.comment == "" and meta.markers == ()
    assert sf.read(bad)[0].shape == (800,)
    huge = tmp_path / "huge_graph.wav"
    huge.write_bytes(riff(fmt, data, chunk(b"acgr", b"x" * 10, claimed=0x7FFFFFF0)))
    with pytest.raises(AudioError, match="graph is damaged"):
        read_embedded_graph(huge)
    many = tmp_path / "many.wav"                          # 100 k empty chunks: only the first 4096 are walked
    many.write_bytes(riff(fmt, b"JUNK\x00\x00\x00\x00" * 100_000, data))
    assert read_metadata(many) == Metadata(originator="")


def test_not_an_audio_file_and_rf64(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("hello")
    assert read_metadata(text) == Metadata(originator="")
    with pytest.raises(AudioError, match="not a wav file"):
        write_metadata(text, "wav", META, None)
    big = tmp_path / "big.wav"
    sf.write(big, tone(0.1), RATE, format="RF64")
    before = big.read_bytes()
    notes = write_metadata(big, "wav", META, GRAPH)
    assert len(notes) == 1 and "RF64" in notes[0] and big.read_bytes() == before


# ---------------------------------------------------------------------------------------- the value
def test_metadata_checks_values_and_merges_like_layers():
    with pytest.raises(ParameterError, match="bpm=0"):
        Metadata(bpm=0)
    with pytest.raises(ParameterError, match="meter='3-4'"):
        Metadata(meter="3-4")
    with pytest.raises(ParameterError, match="time_reference=-1"):
        Metadata(time_reference=-1)
    with pytest.raises(ParameterError, match="reserved"):
        Metadata(extra=(("title", "x"),))
    info = (("title", "a"), ("bpm", "120"), ("checkpoint", "c"), ("meter", "nonsense"), ("time_reference", "5"))
    m = Metadata.from_info(info)
    assert (m.title, m.bpm, m.meter, m.time_reference, m.extra) == ("a", 120.0, "", 5, (("checkpoint", "c"),))
    assert dict(m.to_info()) == {"title": "a", "bpm": "120", "checkpoint": "c", "time_reference": "5"}
    merged = m.merge(Metadata(artist="b", bpm=90.25, extra=(("adapter", "d"),)))
    assert (merged.title, merged.artist, merged.bpm) == ("a", "b", 90.25)
    assert dict(merged.extra) == {"checkpoint": "c", "adapter": "d"}
    assert Metadata(markers=((9, "b"), (1, "a"))).markers == ((1, "a"), (9, "b"))


@needs_ffprobe
def test_ogg_with_a_graph_decodes_in_ffmpeg_as_before_without_warnings(tmp_path):
    plain = tmp_path / "plain.ogg"
    sf.write(plain, tone(), RATE, **FORMATS["ogg"])
    tagged = tmp_path / "tagged.ogg"
    shutil.copy(plain, tagged)
    write_metadata(tagged, "ogg", META, GRAPH)

    def decode(p: Path) -> bytes:
        r = subprocess.run(["ffmpeg", "-v", "warning", "-i", str(p), "-f", "f32le", "-"], capture_output=True,
                           check=True, timeout=60)
        assert r.stderr == b""
        return r.stdout

    assert decode(tagged) == decode(plain) and len(decode(plain)) > 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_audiochain_extract_gets_the_graph_back(tmp_path, fmt, capsys):
    from nodeflow import Graph
    from nodeflow.cli import main
    from nodeflow.fileformat import dumps

    g = Graph()
    g.add("dsp.gain", id="gain", gain_db=-3.0)
    path, _ = written(tmp_path, fmt, graph=dumps(g, tmp_path))
    assert main(["extract", str(path)]) == 0
    assert "gain_db=-3.0 dB" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", FORMATS)
def test_damaged_files_give_partial_metadata_or_a_clear_error_never_a_crash(tmp_path, fmt):
    path, _ = written(tmp_path, fmt)
    good = path.read_bytes()
    rng = np.random.default_rng(7)
    bad = tmp_path / f"bad.{fmt}"
    for i in range(40):
        data = bytearray(good[:int(rng.integers(12, len(good)))] if i % 2 else good)
        for pos in rng.integers(0, min(len(data), 20000), size=8):   # where the metadata lives
            data[pos] = int(rng.integers(0, 256))
        bad.write_bytes(bytes(data))
        assert isinstance(read_metadata(bad), Metadata)
        try:
            graph = read_embedded_graph(bad)
        except AudioError as e:
            assert "damaged" in str(e) or "not an audio file" in str(e)
        else:
            assert graph is None or isinstance(graph, bytes)


def _riff(tmp_path: Path, name: str, *chunks: bytes) -> Path:
    """A 16-bit stereo 44.1 kHz WAV of 0.1 s built by hand, with ``chunks`` (id + size + data each) after
    its fmt chunk: files as other software writes them, read with no help from AudioChain's writer."""
    def chunk(cid: bytes, data: bytes) -> bytes:
        return cid + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)
    fmt = chunk(b"fmt ", struct.pack("<HHIIHH", 1, 2, 44100, 44100 * 4, 4, 16))
    data = chunk(b"data", np.zeros((4410, 2), "<i2").tobytes())
    body = b"WAVE" + fmt + b"".join(chunks) + data
    path = tmp_path / name
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize("text, bpm", [(b"128\0", 128.0), (b"128.00\0", 128.0), (b"97.5 BPM\0", 97.5),
                                       (b"0\0", None), (b"fast\0", None)])
def test_a_wav_info_ibpm_is_its_tempo(tmp_path, text, bpm):
    """QA55: AudioChain writes LIST/INFO IBPM (ffprobe shows it), and load did not read it back."""
    info = b"INFO" + b"INAM" + struct.pack("<I", 5) + b"loop\0\0" + b"IBPM" + struct.pack("<I", len(text)) + text \
        + b"\0" * (len(text) % 2)
    path = _riff(tmp_path, "info.wav", b"LIST" + struct.pack("<I", len(info)) + info)
    meta = read_metadata(path)
    assert meta.title == "loop" and meta.bpm == bpm


def test_an_acid_chunks_tempo_and_meter_are_read(tmp_path):
    """A loop from a sample pack carries its tempo in the ACID chunk (flags, root note, beats, meter, tempo)."""
    acid = struct.pack("<IHHfIHHf", 0x2, 60, 0x8000, 0.0, 14, 4, 7, 133.0)    # 14 beats of 7/4 at 133 bpm
    path = _riff(tmp_path, "acid.wav", b"acid" + struct.pack("<I", len(acid)) + acid)
    meta = read_metadata(path)
    assert (meta.bpm, meta.meter) == (133.0, "7/4")
