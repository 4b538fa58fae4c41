"""io.export as a DAW user meets it: labels from the source and the graph in ffprobe and mediainfo,
windows placed by their BWF time reference, seams as cue markers, session rates and layouts, no path
of this machine in any byte, and one failing export never stopping the others."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.nodes._signals import music
from nodeflow import Executor, ExportsFailed, Graph, save
from nodeflow.cli import main

pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffmpeg's ffprobe")


def ffprobe(path: Path) -> dict:
    r = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_chapters", "-show_streams", "-of", "json",
                        str(path)], capture_output=True, check=True, timeout=60)
    return json.loads(r.stdout)


def tags(doc: dict) -> dict[str, str]:
    out = {k.lower(): v for k, v in doc["format"].get("tags", {}).items()}
    for s in doc.get("streams", []):                     # ogg keeps its comments on the stream
        out.update({k.lower(): v for k, v in s.get("tags", {}).items()})
    return out


def tagged_source(tmp_path: Path, ext: str = "wav") -> Path:
    """A 97 bpm piece tagged by ffmpeg (not by AudioChain): title, artist, a time reference (WAV: bext;
    FLAC: the TIME_REFERENCE comment) and a BPM (FLAC: a comment; WAV: TBPM in an ID3 chunk, by mutagen)."""
    plain = tmp_path / "plain.wav"
    sf.write(plain, music(97.0, 4, 12.0, 48000, seed=1).samples.T, 48000, subtype="PCM_24")
    src = tmp_path / f"source.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(plain), *(["-c", "copy", "-write_bext", "1"] if ext == "wav"
                                                                       else []),
                    "-metadata", "title=Night Train", "-metadata", "artist=The Sleepers", "-metadata", "BPM=97",
                    "-metadata", "time_reference=480000", str(src)], check=True, timeout=60)
    if ext == "wav":                    # the tempo as taggers (mutagen here) put it in a WAV: an ID3 chunk
        from mutagen.id3 import TBPM
        from mutagen.wave import WAVE
        w = WAVE(src)
        w.add_tags()
        w.tags.add(TBPM(encoding=3, text=["97"]))
        w.save()
    return src


def run_graph(g: Graph, tmp_path: Path):
    return Executor().run(g, output_dir=tmp_path / "out")


@pytest.mark.parametrize("source", ["wav", "flac"])
@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "ogg"])
def test_source_labels_survive_load_to_export(tmp_path, source, ext):
    g = Graph()
    load = g.add("io.load", path=str(tagged_source(tmp_path, source)))
    exp = g.add("io.export", path=f"master.{ext}", loudness_lufs=-14.0)
    g.connect(load.out, exp.audio)
    out = Path(run_graph(g, tmp_path)[exp.id]["out"])
    t = tags(ffprobe(out))
    assert t["title"] == "Night Train" and t["artist"] == "The Sleepers"
    assert int(t["time_reference"]) == 480000                # still placed where the source was
    assert t.get("bpm", t.get("tbpm", t.get("ibpm"))) == "97"           # the tempo came along (WAV: INFO IBPM)
    if ext == "wav":
        assert b"<tempo>97</tempo>" in out.read_bytes()                 # and iXML
    assert all(len(v) < 200 for v in t.values())            # no graph in any tag view
    if shutil.which("mediainfo"):
        doc = json.loads(subprocess.run(["mediainfo", "--Output=JSON", str(out)], capture_output=True,
                                        check=True, timeout=60).stdout)
        general = doc["media"]["track"][0]
        assert general["Title"] == "Night Train"
        assert general["BPM"] in ("97", "97 / 97")
        if ext == "wav":                                    # BWF v2 loudness fields, as mediainfo reads them
            bext = doc["media"]["track"][1]["extra"]
            assert abs(float(bext["LoudnessValue"]) + 14.0) < 0.1 and float(bext["MaxTruePeakLevel"]) <= -1.0
            assert float(bext["LoudnessRange"]) >= 0.0
        assert all(len(str(v)) < 200 for v in general.values())


@pytest.mark.skipif(not shutil.which("mediainfo"), reason="mediainfo is not installed")
def test_a_comment_in_any_script_reads_right_in_bext_ixml_and_id3(tmp_path):
    """bext's Description takes ASCII only (EBU Tech 3285): the comment goes there spelled in ASCII,
    whole in iXML and the id3 chunk; read back, the comment is the whole text (QA51: UTF-8 in bext,
    shown by mediainfo as "\u00c3\u00a7a va \u00e2\u0080\u0094 Bj\u00c3\u00b8rk")."""
    from nodeflow.audiometa import read_metadata
    g = Graph()
    load = g.add("io.load", path=str(tagged_source(tmp_path)))
    exp = g.add("io.export", path="note.wav", comment="\u00e7a va \u2014 Bj\u00f8rk")
    g.connect(load.out, exp.audio)
    out = Path(run_graph(g, tmp_path)[exp.id]["out"])
    doc = json.loads(subprocess.run(["mediainfo", "--Output=JSON", str(out)], capture_output=True,
                                    check=True, timeout=60).stdout)
    assert doc["media"]["track"][0]["Description"] == "ca va - Bjork"
    assert "<NOTE>\u00e7a va \u2014 Bj\u00f8rk</NOTE>" in out.read_bytes().decode("utf-8", "replace")
    meta = read_metadata(out)
    assert meta.comment == "\u00e7a va \u2014 Bj\u00f8rk" and not meta.description


def test_parameters_and_graph_metadata_override_the_source(tmp_path):
    g = Graph()
    g.metadata.update(title="Graph title", artist="Graph artist")
    load = g.add("io.load", path=str(tagged_source(tmp_path)))
    exp = g.add("io.export", path="x.mp3", title="Param title", bpm=98.5, key="F#m", meter="6/8")
    g.connect(load.out, exp.audio)
    t = tags(ffprobe(Path(run_graph(g, tmp_path)[exp.id]["out"])))
    assert (t["title"], t["artist"], t["tbpm"], t["tkey"]) == ("Param title", "Graph artist", "98", "F#m")
    assert t["bpm"] == "98.5" and t["meter"] == "6/8"


def test_windows_exported_on_their_own_carry_their_place_and_the_stitch_its_seams(tmp_path):
    """Each 1-bar window's bext time reference is the source's plus the window's start, so "insert at
    original time" drops it in place; the stitched file has a cue marker on every bar line."""
    g = Graph()
    load = g.add("io.load", path=str(tagged_source(tmp_path)))
    bars = g.add("time.tokenize_window", unit="bars", size=1, bpm=97.0, beats_per_bar=4)
    each = g.add("io.export", path="bar.wav")
    st = g.add("time.stitch")
    whole = g.add("io.export", path="whole.wav")
    g.connect(load.out, bars.audio)
    g.connect(bars.out, each.audio)
    g.connect(bars.out, st.windows)
    g.connect(st.out, whole.audio)
    res = run_graph(g, tmp_path)
    windows = res[bars.id]["out"]
    paths = [Path(p) for p in res[each.id]["out"]]
    assert len(paths) == len(windows) == 5                 # 12 s at 97 bpm: 4.85 bars
    bar = 4 * 60 / 97 * 48000
    for k, (w, p) in enumerate(zip(windows, paths)):
        assert w.start_frame == round(k * bar)
        assert int(tags(ffprobe(p))["time_reference"]) == 480000 + w.start_frame
    chapters = ffprobe(Path(res[whole.id]["out"]))["chapters"]
    assert [round(float(c["start_time"]) * 48000) for c in chapters] == [round(k * bar) for k in range(1, 5)]
    assert [c["tags"]["title"] for c in chapters] == ["bar 2", "bar 3", "bar 4", "bar 5"]


def test_a_stitch_of_more_windows_than_the_format_has_chapters_for_is_written_and_says_so(tmp_path):
    """QA83: 256 one-beat windows stitched failed the mp3 export ("bytes must be in range(0, 256)", naming the
    hidden temporary file); now the mp3 keeps every seam, and a flac, whose chapters stop at 999, says so."""
    g = Graph()
    beats = g.add("time.tokenize_window", unit="beats", size=0.25, bpm=128.0)
    st = g.add("time.stitch")
    exports = {fmt: g.add("io.export", path=f"song.{fmt}") for fmt in ("mp3", "flac")}
    g.connect(beats.out, st.windows)
    for e in exports.values():
        g.connect(st.out, e.audio)
    res = Executor().run(g, inputs={f"{beats.id}.audio": music(128.0, 4, 120.0, 44100)}, output_dir=tmp_path / "out")
    seams = 120 * 128 // 60 * 4 - 1             # 2 minutes at 128 bpm in quarter beats: 1024 windows
    mp3, flac = (Path(res[e.id]["out"]) for e in exports.values())
    assert len(ffprobe(mp3)["chapters"]) == seams and len(ffprobe(flac)["chapters"]) == 999
    assert res.warnings[exports["flac"].id] == [f"{flac}: {seams} markers, and flac's chapters (CHAPTER001 to "
                                                "CHAPTER999) hold 999: the first 999 were written; export wav to keep "
                                                "all (its cue points have no such limit), or fewer markers (larger "
                                                "windows)"]
    assert exports["mp3"].id not in res.warnings


@pytest.mark.parametrize("rate, layout, channels_in, expected", [("48000", "stereo", 1, (48000, 2)),
                                                                 ("44100", "keep", 2, (44100, 2)),
                                                                 ("96000", "mono", 2, (96000, 1)),
                                                                 ("keep", "stereo", 6, (32000, 2))])
def test_session_rate_and_layout(tmp_path, rate, layout, channels_in, expected):
    src = tmp_path / "model-rate.wav"
    x = music(120.0, 4, 4.0, 32000, channels=1).samples
    sf.write(src, np.repeat(x, channels_in, axis=0).T * 0.5, 32000, subtype="FLOAT")
    g = Graph()
    load = g.add("io.load", path=str(src))
    exp = g.add("io.export", path="out.flac", sample_rate=rate, channels=layout, loudness_lufs=-16.0)
    g.connect(load.out, exp.audio)
    out = Path(run_graph(g, tmp_path)[exp.id]["out"])
    stream = ffprobe(out)["streams"][0]
    assert (int(stream["sample_rate"]), stream["channels"]) == expected
    assert sf.info(str(out)).frames == 4 * expected[0]


def test_no_path_of_this_machine_in_any_exported_byte(tmp_path):
    deep = tmp_path / "home" / "alice" / "private" / "takes"
    deep.mkdir(parents=True)
    src = deep / "take.wav"
    sf.write(src, music(100.0, 4, 3.0, 44100).samples.T, 44100)
    graph_dir = tmp_path / "projects" / "songs" / "a" / "b"
    g = Graph()
    load = g.add("io.load", path=str(src))
    exp = g.add("io.export", path="master.wav")
    g.connect(load.out, exp.audio)
    save(g, graph_dir / "song.msgpack")
    for ext in ("wav", "flac", "mp3", "ogg"):
        assert main(["run", str(graph_dir / "song.msgpack"), "-o", str(tmp_path / "o"), "-q",
                     "--set", f"{exp.id}.path=master.{ext}"]) == 0
        data = (tmp_path / "o" / f"master.{ext}").read_bytes()
        assert str(tmp_path).encode() not in data and b"/tmp/" not in data       # relative paths only
        from nodeflow.audiometa import read_embedded_graph
        assert read_embedded_graph(tmp_path / "o" / f"master.{ext}")     # the graph is still inside


def test_a_failing_export_does_not_stop_the_others(tmp_path, capsys):
    src = tmp_path / "in.wav"
    sf.write(src, music(120.0, 4, 2.0, 44100).samples.T, 44100)
    g = Graph()              # (a folder where the file goes is refused before the run: validate finds it)
    load = g.add("io.load", path=str(src))
    ids = []
    for name in ("a.wav", "b.wav", "c.flac", "d.mp3"):       # b and d: targets out of reach, found as they master
        exp = g.add("io.export", path=name, loudness_lufs={"b.wav": -2.5, "d.mp3": -3.0}.get(name))
        g.connect(load.out, exp.audio)
        ids.append(exp.id)
    with pytest.raises(ExportsFailed) as info:
        run_graph(g, tmp_path)
    assert sorted(f.node_id for f in info.value.failures) == [ids[1], ids[3]]
    assert (tmp_path / "out" / "a.wav").exists() and (tmp_path / "out" / "c.flac").exists()
    save(g, tmp_path / "g.msgpack")
    capsys.readouterr()
    assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out")]) == 1
    out, err = capsys.readouterr()
    assert out.count("wrote ") == 2
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and any("loudness_lufs=-2.5" in e for e in errors) and \
        any("loudness_lufs=-3" in e for e in errors)


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_a_window_that_fails_to_export_stops_no_other_window(tmp_path, capsys, jobs):
    """One export mapped over 2-bar windows (133 bpm), the 2nd window digital silence, so it cannot be
    normalised: every other window is written and listed, whatever --jobs, the failure names item 2, and
    the DAW project places the written windows on their bars (QA47: --jobs 1 left w_1 only, --jobs 4
    w_1, w_3 and w_4, none listed)."""
    import zipfile

    x = music(133.0, 4, 30.0, 44100, seed=3)
    two_bars = round(2 * 4 * 60 / 133 * 44100)
    samples = x.samples.copy()
    samples[:, two_bars:2 * two_bars] = 0.0
    sf.write(tmp_path / "gap.wav", samples.T, 44100, subtype="PCM_24")
    g = Graph()
    load = g.add("io.load", path=str(tmp_path / "gap.wav"))
    win = g.add("time.tokenize_window", unit="bars", size=2, bpm=133)
    exp = g.add("io.export", path="w.wav", loudness_lufs=-14)
    g.connect(load.out, win.audio)
    g.connect(win.out, exp.audio)
    save(g, tmp_path / "g.msgpack")
    out = tmp_path / f"out{jobs}"
    capsys.readouterr()
    assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(out), "--no-cache", "--jobs", jobs,
                 "--daw", str(out / "song.dawproject")]) == 1
    stdout, err = capsys.readouterr()
    names = [f"w_{i}.wav" for i in range(1, 10) if i != 2]
    assert sorted(p.name for p in out.glob("*.wav")) == names
    assert [line.rsplit("/", 1)[1] for line in stdout.splitlines() if line.startswith("wrote ") and line.endswith(".wav")] == names
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "item 2 of 9" in errors[0] and "silent" in errors[0]
    assert "1 export(s) failed, 8 file(s) written" in err
    project = zipfile.ZipFile(out / "song.dawproject").read("project.xml").decode()
    assert project.count("<Clip ") == 8 and project.count('time="0.0"') == 1, project    # each on its bars


def test_a_span_loaded_from_a_plain_wav_keeps_its_place_like_a_trim(tmp_path):
    """A bar trimmed off with io.load's start_s lost its place (BWF time reference 0, DAW clip at beat 0)
    in a WAV without a time reference of its own, while dsp.trim kept it: both now say bar 2."""
    import zipfile
    sf.write(tmp_path / "loop.wav", music(120.0, 4, 8.0, 48000).samples.T, 48000)      # no bext chunk
    for how in ("load", "trim"):
        g = Graph()
        load = g.add("io.load", id="load", path=str(tmp_path / "loop.wav"), start_s=2.0 if how == "load" else 0.0)
        last = load
        if how == "trim":
            last = g.add("dsp.trim", id="trim", start_s=2.0)
            g.connect(load.out, last.audio)
        e = g.add("io.export", id="export", path=f"{how}.wav", bpm=120.0)
        g.connect(last.out, e.audio)
        save(g, tmp_path / f"{how}.msgpack")
        out = tmp_path / how
        assert main(["run", str(tmp_path / f"{how}.msgpack"), "-o", str(out), "-q", "--daw", str(out / "p.dawproject")]) == 0
        assert tags(ffprobe(out / f"{how}.wav"))["time_reference"] == str(2 * 48000)       # ffprobe reads bext
        with zipfile.ZipFile(out / "p.dawproject") as z:
            assert '<Clip time="4.0"' in z.read("project.xml").decode()                 # bar 2 at 4/4


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3"])
def test_a_typed_tempo_comes_back_from_the_file_in_full(tmp_path, ext):
    """QA: the file's BPM tag kept 3 decimals (87.31415 -> 87.314), so windows cut at bpm=auto from the
    exported file drifted off the grid cut at the typed tempo."""
    from nodeflow.audio import Audio
    from nodeflow.node import Context
    from nodes.io.export import export
    from nodes.io.load import load
    from nodes.timing.window import tokenize_window
    x = music(87.31415, 4, 20.0, 44100)
    typed = tokenize_window.fn(x, unit="bars", size=1, bpm=87.31415)
    args = {k: export.params[k].default for k in export.params}
    args.update(path=f"t.{ext}", embed_graph=False)
    ctx = Context("export", base_dir=tmp_path, output_dir=tmp_path)
    written = export.fn(Audio(x.samples, 44100).with_info(**dict(typed[0].info)), ctx=ctx, **args)
    back = load.fn(path=written, ctx=ctx)
    assert dict(back.info)["bpm"] == "87.31415"
    again = tokenize_window.fn(back, unit="bars", size=1, bpm="auto")
    assert [w.start_frame for w in again[:12]] == [w.start_frame for w in typed[:12]]


@pytest.mark.parametrize("bit_depth", ["float32", "pcm24"])
def test_source_date_epoch_makes_two_renders_byte_identical(tmp_path, monkeypatch, bit_depth):
    """QA: two renders of one graph differed only in the bext date and time and the PEAK chunk's
    stamp (libsndfile's clock).  SOURCE_DATE_EPOCH pins all three, as reproducible builds do."""
    import time

    from nodeflow.audiometa import read_metadata
    sf.write(tmp_path / "in.wav", music(97.0, 4, 2.0, 48000).samples.T, 48000, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("io.export", id="export", path="take.wav", bit_depth=bit_depth, loudness_lufs=-16.0)
    g.connect("load", "export")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")            # 2026-01-01 00:00:00 UTC
    first = Executor(disk_cache=None).run(g, output_dir=tmp_path / "a")["export"]["out"]
    time.sleep(1.1)                                                    # the clock moves on
    second = Executor(disk_cache=None).run(g, output_dir=tmp_path / "b")["export"]["out"]
    assert Path(first).read_bytes() == Path(second).read_bytes()
    assert read_metadata(Path(first)).date.startswith("2026-01-01")


def test_a_source_files_markers_survive_load_windows_stitch_and_export(tmp_path):
    """QA: a BWF's 'bar 1...9' cue points were lost on load -> export, and a stitched export kept only its
    own seams.  Each window carries the markers it holds (not all of the source's), the stitch puts them
    back with its seam labels, and a span loaded from later in the file has them where it holds them."""
    from nodeflow.audiometa import Metadata, read_metadata, write_metadata
    rate = 44100
    src = tmp_path / "marked.wav"
    sf.write(src, music(120.0, 4, 8.0, rate).samples.T, rate, subtype="PCM_24")
    cues = ((0, "intro"), (rate * 3, "verse"), (rate * 5 + 17, "hook"))
    write_metadata(src, "wav", Metadata(markers=cues), None)
    g = Graph()
    g.add("io.load", id="load", path=str(src))
    g.add("io.export", id="whole", path="whole.wav")
    g.add("time.tokenize_window", id="win", unit="seconds", size=2.0)
    g.add("io.export", id="windows", path="w.wav")
    g.add("time.stitch", id="stitch")
    g.add("io.export", id="stitched", path="stitched.wav")
    g.add("io.load", id="later", path=str(src), start_s=4.0)
    g.add("io.export", id="span", path="span.wav")
    for a, b in (("load", "whole"), ("load", "win"), ("win", "windows"), ("win", "stitch"), ("stitch", "stitched"),
                 ("later", "span")):
        g.connect(a, b)
    res = Executor(disk_cache=None).run(g, output_dir=tmp_path / "o")
    assert read_metadata(tmp_path / "o" / "whole.wav").markers == cues
    per_window = [read_metadata(p).markers for p in res["windows"]["out"]]
    assert per_window == [((0, "intro"),), ((rate, "verse"),), ((rate + 17, "hook"),), ()], per_window
    stitched = read_metadata(tmp_path / "o" / "stitched.wav").markers
    assert set(cues) <= set(stitched) and len(stitched) == len(set(stitched)), stitched
    assert read_metadata(tmp_path / "o" / "span.wav").markers == ((rate + 17, "hook"),)


def test_a_source_files_cue_labels_are_its_own_text_and_seams_count_bars_where_the_clip_sits(tmp_path):
    """QA55: cues starting with "bar " were rewritten as seam labels on export: "bar 4 - Chorus" became
    "bar 4", a span loaded from 1 s turned "bar 5" into "bar 4 beat 3.65", and a window's "bar 3" into
    "bar 1" (placed by its time reference at bar 3).  Seams stitch labels still say their bar."""
    from fractions import Fraction
    from nodeflow.audiometa import Metadata, read_metadata, write_metadata
    rate, bpm = 48000, 141.0
    bar = Fraction(60, 141) * 5                                   # 5/4 at 141 bpm
    src = tmp_path / "song.wav"
    sf.write(src, music(bpm, 5, 12.0, rate).samples.T, rate, subtype="PCM_24")
    cues = ((round(bar * rate), "Verse"), (round(3 * bar * rate), "bar 4 - Chorus"), (round(4 * bar * rate), "bar 5"))
    write_metadata(src, "wav", Metadata(markers=cues, bpm="141", meter="5/4"), None)
    g = Graph()
    g.add("io.load", id="load", path=str(src))
    g.add("io.export", id="whole", path="whole.wav")
    g.add("io.load", id="later", path=str(src), start_s=1.0)
    g.add("io.export", id="span", path="span.wav")
    g.add("time.tokenize_window", id="win", unit="bars", size=2, bpm=bpm, beats_per_bar=5)
    g.add("io.export", id="windows", path="w.wav")
    g.add("time.stitch", id="stitch")
    g.add("io.export", id="stitched", path="stitched.wav")
    for a, b in (("load", "whole"), ("later", "span"), ("load", "win"), ("win", "windows"), ("win", "stitch"),
                 ("stitch", "stitched")):
        g.connect(a, b)
    res = Executor(disk_cache=None).run(g, output_dir=tmp_path / "o")
    assert read_metadata(tmp_path / "o" / "whole.wav").markers == cues
    assert read_metadata(tmp_path / "o" / "span.wav").markers == tuple((f - rate, label) for f, label in cues)
    second = read_metadata(Path(res["windows"]["out"][1])).markers           # bars 3-4: the Chorus and bar 5 cues
    assert [label for _, label in second] == ["bar 4 - Chorus"]
    third = read_metadata(Path(res["windows"]["out"][2])).markers
    assert [label for _, label in third] == ["bar 5"]                        # where the DAW puts it: bar 5
    stitched = dict((label, f) for f, label in read_metadata(tmp_path / "o" / "stitched.wav").markers)
    assert stitched["bar 4 - Chorus"] == cues[1][0] and stitched["Verse"] == cues[0][0]
    assert stitched["bar 3"] == round(2 * bar * rate)                       # the seams, on their bars
