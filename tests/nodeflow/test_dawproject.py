"""DAWproject export: clips land on their bars, tracks per export and sweep variant, files intact.

Every file is read back twice: with ``nodeflow.dawproject.read_dawproject`` and independently
with ``zipfile`` + ``ElementTree`` following the format's schema (bitwig/dawproject Project.xsd).
"""
import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Executor, Graph, save
from nodeflow.audio import Audio
from nodeflow.cli import main
from nodeflow.dawproject import Clip, Track, parse_meter, read_dawproject, write_dawproject
from nodeflow.dawruns import clips_from_run, tempo_and_meter
from nodeflow.errors import AudioError, FileFormatError, NodeflowError, ParameterError

ROOT = Path(__file__).resolve().parents[2]
BPM, BEATS_PER_BAR, BARS_PER_WINDOW = 97, 3, 2
# a rate where a beat at 97 bpm is whole samples (60/97 s = 24000 frames), so every bar starts on a
# sample and positions can be checked to 1e-6 beats (at 48 kHz a bar start rounds by up to 1.7e-5 beats)
RATE = 97 * 400
BEAT_TOL = 1e-6


def tone(path: Path, seconds: float, channels: int = 1) -> Path:
    t = np.arange(int(RATE * seconds)) / RATE
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    sf.write(path, np.stack([x] * channels, 1), RATE, subtype="PCM_24")
    return path


def window_graph(folder: Path, seconds: float = 9.0) -> Graph:
    """load -> 2-bar windows at 97 bpm in 3/4 -> gain -> export (mapped: one file per window)."""
    tone(folder / "in.wav", seconds)
    g = Graph()
    g.add("io.load", id="src", path=str(folder / "in.wav"))   # saved relative to the graph file
    g.add("time.tokenize_window", id="win", unit="bars", size=BARS_PER_WINDOW, bpm=BPM, beats_per_bar=BEATS_PER_BAR)
    g.add("dsp.gain", id="gain", gain_db=-3.0)
    g.add("io.export", id="export", path="clips.wav")
    g.connect("src", "win")
    g.connect("win", "gain")
    g.connect("gain", "export")
    save(g, folder / "g.msgpack")
    return g


def parse(path: Path) -> tuple[float, tuple[int, int], dict[str, list[dict]], zipfile.ZipFile, str]:
    """The project by hand: tempo, meter and ``{track name: [clip attributes + its Audio's]}``."""
    z = zipfile.ZipFile(path)
    text = z.read("project.xml").decode("utf-8")
    root = ET.fromstring(text)
    tempo = root.find("Transport/Tempo")
    assert tempo.get("unit") == "bpm"
    sig = root.find("Transport/TimeSignature")
    names = {t.get("id"): t.get("name") for t in root.iter("Track") if t.find("Channel").get("role") != "master"}
    top = root.find("Arrangement/Lanes")
    assert top.get("timeUnit") == "beats"
    tracks = {}
    for lane in top.findall("Lanes"):
        if lane.get("track") not in names:
            assert not lane.findall("Clips/Clip")   # the master holds no clips
            continue
        clips = []
        for c in lane.findall("Clips/Clip"):
            audio, ref = c.find("Audio"), c.find("Audio/File")
            clips.append(dict(time=float(c.get("time")), duration=float(c.get("duration")),
                              content_unit=c.get("contentTimeUnit"), play_stop=float(c.get("playStop")),
                              audio_s=float(audio.get("duration")), rate=int(audio.get("sampleRate")),
                              channels=int(audio.get("channels")), member=ref.get("path"),
                              external=ref.get("external")))
        tracks[names[lane.get("track")]] = clips
    return float(tempo.get("value")), (int(sig.get("numerator")), int(sig.get("denominator"))), tracks, z, text


def check_clips_on_bars(clips: list[dict], exported: list[Path], z: zipfile.ZipFile) -> None:
    """Clip ``k`` starts at bar ``k * BARS_PER_WINDOW`` and its zip member decodes to the exported file."""
    assert len(clips) == len(exported)
    for k, (c, file) in enumerate(zip(clips, exported)):
        bar = k * BARS_PER_WINDOW
        assert abs(c["time"] - bar * BEATS_PER_BAR) <= BEAT_TOL, (k, c["time"])
        data, rate = sf.read(file, always_2d=True)
        assert (c["rate"], c["channels"]) == (rate, data.shape[1]) == (RATE, 1)
        assert c["audio_s"] == pytest.approx(len(data) / rate, abs=1e-9) == pytest.approx(c["play_stop"], abs=1e-9)
        assert c["duration"] == pytest.approx(len(data) / rate * BPM / 60, abs=BEAT_TOL)
        assert c["content_unit"] == "seconds" and c["external"] == "false"
        assert c["member"].startswith("audio/") and c["member"] in z.namelist()
        packed, packed_rate = sf.read(io.BytesIO(z.read(c["member"])), always_2d=True)
        assert packed_rate == rate and np.array_equal(packed, data)


def assert_no_author_paths(text: str, *folders: Path) -> None:
    root = ET.fromstring(text)
    for ref in root.iter("File"):
        p = ref.get("path")
        assert not p.startswith(("/", "\\")) and ":" not in p and ".." not in p.split("/"), p
    for folder in folders:
        assert str(folder) not in text and str(folder.resolve()) not in text


# ---------------------------------------------------------------------------------------- a run
def test_windows_of_a_run_land_on_their_bars(tmp_path):
    g = window_graph(tmp_path)
    res = Executor().run(g, output_dir=tmp_path / "out")
    windows = res["gain"]["out"]
    assert len(windows) == 3 and windows[-1].frames < windows[0].frames   # 9 s: two full windows and the rest
    tracks = clips_from_run(g, res)
    assert tempo_and_meter(g, res) == (BPM, (BEATS_PER_BAR, 4))
    project = write_dawproject(tmp_path / "song.dawproject", tracks, bpm=BPM, meter="3/4", title="Song")

    bpm, meter, tracks_back = read_dawproject(project)
    assert (bpm, meter) == (BPM, (3, 4)) and [t.name for t in tracks_back] == ["export"]
    exported = [Path(p) for p in res["export"]["out"]]
    for k, (clip, w) in enumerate(zip(tracks_back[0].clips, windows)):
        assert clip.start_s * bpm / 60 == pytest.approx(k * BARS_PER_WINDOW * BEATS_PER_BAR, abs=BEAT_TOL)
        assert clip.duration_s == pytest.approx(w.frames / RATE, abs=1e-9)
        assert (clip.sample_rate, clip.channels, clip.name) == (RATE, 1, exported[k].stem)

    bpm, meter, by_name, z, text = parse(project)
    assert (bpm, meter, list(by_name)) == (BPM, (3, 4), ["export"])
    check_clips_on_bars(by_name["export"], exported, z)
    assert_no_author_paths(text, tmp_path)
    meta = ET.fromstring(z.read("metadata.xml"))
    assert meta.tag == "MetaData" and meta.findtext("Title") == "Song"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]   # the atomic write left nothing


def test_extract_to_gives_the_exported_audio_back(tmp_path):
    a, b = tone(tmp_path / "a.wav", 1.0), tone(tmp_path / "b.wav", 0.5, channels=2)
    project = write_dawproject(tmp_path / "p.dawproject", [Track("one", [Clip(a, 0.0, 1.0), Clip(b, 2.0, 0.5)])],
                               bpm=120, meter=(4, 4))
    _, _, tracks = read_dawproject(project, extract_to=tmp_path / "x")
    assert [(c.start_s, c.duration_s, c.channels) for c in tracks[0].clips] == [(0.0, 1.0, 1), (2.0, 0.5, 2)]
    for clip, src in zip(tracks[0].clips, (a, b)):
        assert Path(clip.file).parent == tmp_path / "x" / "audio"
        assert np.array_equal(sf.read(clip.file)[0], sf.read(src)[0])
    with pytest.raises(NodeflowError, match="exists; extract the project into an empty folder"):
        read_dawproject(project, extract_to=tmp_path / "x")   # never over files that are there
    with pytest.raises(FileFormatError, match="over 1000 bytes"):
        read_dawproject(project, extract_to=tmp_path / "y", max_bytes=1000)


def test_tempo_and_meter_are_the_exported_file_s_then_the_window_node_s(tmp_path):
    """The project's tempo is what the first export writes into its file: the export's own bpm/meter,
    over the graph's metadata, over the audio's (QA: an export set to 93.7 bpm made a 120 bpm project)."""
    g = Graph()
    g.add("io.load", id="src", path="in.wav")
    g.add("io.export", id="export")
    g.connect("src", "export")
    plain = Audio(np.zeros(100), RATE)
    outputs = {"src": {"out": plain}, "export": {"out": str(tmp_path / "out.wav")}}
    assert tempo_and_meter(g, outputs) == (120.0, (4, 4))
    g.add("time.tokenize_window", id="win", bpm=133.0, beats_per_bar=7)
    assert tempo_and_meter(g, outputs) == (133.0, (7, 4))
    g.metadata.update(bpm=90, meter="6/8")
    assert tempo_and_meter(g, outputs) == (90.0, (6, 8))
    outputs["src"]["out"] = plain.with_info(bpm="97.5", meter="5/4")
    assert tempo_and_meter(g, outputs) == (90.0, (6, 8))          # the file says what the graph says
    g.metadata.clear()
    assert tempo_and_meter(g, outputs) == (97.5, (5, 4))
    g.set("export", "bpm", 93.7)
    g.set("export", "meter", "7/8")
    assert tempo_and_meter(g, outputs) == (93.7, (7, 8))


def test_exports_in_another_tempo_or_meter_than_the_project_are_named():
    """QA: a 3/4 export went into a 4/4 project without a word (its clip is placed right in time, but
    its bars are not the project's)."""
    from nodeflow.dawruns import off_grid
    g = Graph()
    for name in ("four", "three", "plain"):
        g.add("io.load", id=f"src_{name}", path="in.wav")
        g.add("io.export", id=name)
        g.connect(f"src_{name}", name)
    plain = Audio(np.zeros(100), RATE)
    outputs = {"src_four": {"out": plain.with_info(bpm="97.5", meter="4/4")},
               "src_three": {"out": plain.with_info(bpm="97.5", meter="3/4")}, "src_plain": {"out": plain},
               **{n: {"out": f"{n}.wav"} for n in ("four", "three", "plain")}}
    bpm, meter = tempo_and_meter(g, outputs)
    assert (bpm, meter) == (97.5, (4, 4))
    assert off_grid(g, outputs, bpm, meter) == ["three (3/4 at 97.5 bpm)"]      # audio without a tempo fits any
    assert off_grid(g, outputs, 120.0, (4, 4)) == ["four (4/4 at 97.5 bpm)", "three (3/4 at 97.5 bpm)"]


# ---------------------------------------------------------------------------------------- a sweep (CLI)
def sweep_to_daw(folder: Path, sweep: str) -> subprocess.CompletedProcess:
    """``audiochain run g.msgpack --sweep SWEEP -o out --daw out/p.dawproject`` on :func:`window_graph`,
    in a child process as a shell runs it; it must succeed."""
    window_graph(folder)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    p = subprocess.run([sys.executable, "-c", "import sys; from nodeflow.cli import main; sys.exit(main())",
                        "run", "g.msgpack", "--sweep", sweep, "-o", "out", "--daw", "out/p.dawproject", "-q"],
                       cwd=folder, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    return p


def test_a_sweep_of_three_variants_reads_back_as_three_tracks_on_their_bars(tmp_path):
    p = sweep_to_daw(tmp_path, "gain.gain_db=-6,-3,0")
    assert "wrote out/p.dawproject (DAW project: 3 track(s), 9 clip(s), 97 bpm, 3/4)" in p.stdout
    names = ["v000_gain_db=-6.0", "v001_gain_db=-3.0", "v002_gain_db=0.0"]

    bpm, meter, by_name, z, text = parse(tmp_path / "out" / "p.dawproject")
    assert (bpm, meter, list(by_name)) == (BPM, (3, 4), names)
    for name in names:
        check_clips_on_bars(by_name[name], [tmp_path / "out" / name / f"clips_{i}.wav" for i in (1, 2, 3)], z)
    assert len({c["member"] for clips in by_name.values() for c in clips}) == 9   # every file its own member
    assert "note:" not in p.stderr
    assert_no_author_paths(text, tmp_path)
    peak = {n: np.abs(sf.read(tmp_path / "out" / n / "clips_1.wav")[0]).max() for n in names}
    assert 20 * np.log10(peak[names[0]] / peak[names[2]]) == pytest.approx(-6.0, abs=0.01)   # the right variants

    bpm, meter, tracks = read_dawproject(tmp_path / "out" / "p.dawproject")
    assert (bpm, meter, [t.name for t in tracks]) == (BPM, (3, 4), names)
    assert [[round(c.start_s * bpm / 60, 6) for c in t.clips] for t in tracks] == [[0.0, 6.0, 12.0]] * 3


def test_a_sweep_of_meters_names_the_variants_off_the_project_s_bars(tmp_path):
    p = sweep_to_daw(tmp_path, "win.beats_per_bar=3,4")
    assert "97 bpm, 3/4)" in p.stdout
    assert ("note: in another tempo or meter, placed in time but off the project's bars: v001_beats_per_bar=4 "
            "(4/4 at 97 bpm)") in p.stderr, p.stderr


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("daw, message", [
    ("blocker/sub/p.dawproject", "blocker is a file, not a folder; choose a path in a folder"),
    ("p.zip", "a DAWproject file's name ends in .dawproject"),
    ("folder.dawproject", "is a folder; give a file name"),
    ("g.dawproject", "is an input of this command"),
])
def test_bad_daw_paths_give_one_error_line_before_anything_renders(tmp_path, capsys, monkeypatch, daw, message):
    window_graph(tmp_path, seconds=2.0)
    (tmp_path / "blocker").write_text("a file")
    (tmp_path / "folder.dawproject").mkdir()
    (tmp_path / "g.dawproject").write_bytes((tmp_path / "g.msgpack").read_bytes())   # a graph with that name
    monkeypatch.chdir(tmp_path)   # --daw is relative to the current folder
    graph = "g.dawproject" if daw == "g.dawproject" else "g.msgpack"
    assert main(["run", graph, "-o", "out", "--daw", daw, "-q"]) == 1
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()   # checked before rendering


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_daw_into_a_read_only_folder_gives_one_error_line(tmp_path, capsys):
    window_graph(tmp_path, seconds=2.0)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out"), "--daw",
                     str(locked / "p.dawproject"), "-q"]) == 1
    finally:
        locked.chmod(0o700)
    assert "cannot write in" in one_error_line(capsys.readouterr().err)


def test_daw_over_a_file_audiochain_did_not_write_says_so(tmp_path, capsys):
    """``--daw`` is a path typed for this run, so it may replace any file, and says when that file was
    not AudioChain's (QA51 #4: a user's own project was replaced without a word)."""
    window_graph(tmp_path, seconds=2.0)
    mine = tmp_path / "mine.dawproject"
    mine.write_bytes(b"PK\x05\x06" + bytes(18))          # an empty zip: someone else's file
    args = ["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out"), "--daw", str(mine), "-q"]
    assert main(args) == 0
    note = f"note: {mine} replaced a file AudioChain had not written (its path was given to this run, so it was allowed)"
    assert note in capsys.readouterr().err
    assert read_dawproject(mine)[2]                       # it is the new project now
    assert main(args) == 0
    assert "note:" not in capsys.readouterr().err         # the second time it replaces its own


def test_daw_needs_an_export_and_a_local_sweep(tmp_path, capsys):
    g = window_graph(tmp_path, seconds=2.0)
    assert main(["run", str(tmp_path / "g.msgpack"), "--daw", str(tmp_path / "p.dawproject"), "--sweep",
                 "gain.gain_db=-3,0", "--executor", "ray", "-q"]) == 1
    assert "run the sweep with --executor local" in one_error_line(capsys.readouterr().err)
    g.remove("export")
    save(g, tmp_path / "g.msgpack")
    assert main(["run", str(tmp_path / "g.msgpack"), "--daw", str(tmp_path / "p.dawproject"), "-q"]) == 1
    assert "has no io.export node" in one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------------------------------- the format
def test_project_xml_has_what_the_schema_requires(tmp_path):
    """The elements, attributes and orders bitwig/dawproject's Project.xsd requires (the XSD itself is
    another project's file: set DAWPROJECT_XSD to a downloaded Project.xsd to validate against it)."""
    a = tone(tmp_path / "a b (take ü).wav", 0.5, channels=2)
    other = tmp_path / "sub"
    other.mkdir()
    b = tone(other / "a b (take ü).wav", 0.25)
    project = write_dawproject(tmp_path / "p.dawproject", [Track("lead & bass", [Clip(a, 0.0, 0.5), Clip(b, 1.5, 0.25)]),
                                                           Track("lead & bass", [Clip(a, 3.0, 0.5)])], bpm=128.5,
                               meter=(7, 8))
    z = zipfile.ZipFile(project)
    assert z.namelist()[:2] == ["metadata.xml", "project.xml"]
    root = ET.fromstring(z.read("project.xml"))
    assert root.tag == "Project" and root.get("version") == "1.0"
    assert [c.tag for c in root] == ["Application", "Transport", "Structure", "Arrangement", "Scenes"]
    app = root.find("Application")
    assert app.get("name") == "AudioChain" and app.get("version")
    assert [c.tag for c in root.find("Transport")] == ["Tempo", "TimeSignature"]
    assert root.find("Transport/Tempo").attrib.items() >= {"unit": "bpm", "value": "128.5"}.items()
    assert root.find("Transport/TimeSignature").attrib.items() >= {"numerator": "7", "denominator": "8"}.items()
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids))   # xs:ID
    for ch in root.iter("Channel"):
        assert [c.tag for c in ch] == ["Mute", "Pan", "Volume"]   # the schema's sequence order
        assert ch.get("role") in ("regular", "master") and (ch.get("destination") in (None, *ids))
        assert all(p.get("unit") for p in (ch.find("Pan"), ch.find("Volume")))
    for lanes in root.iter("Lanes"):
        assert lanes.get("timeUnit") in (None, "beats") and lanes.get("track") in (None, *ids)
    clips = list(root.iter("Clip"))
    assert [float(c.get("time")) for c in clips] == [0.0, 1.5 * 128.5 / 60, 3.0 * 128.5 / 60]
    for c in clips:
        audio = c.find("Audio")
        assert set(audio.attrib) >= {"duration", "sampleRate", "channels"} and audio.get("timeUnit") == "seconds"
        assert [x.tag for x in audio] == ["File"] and audio.find("File").get("path")
    members = [c.find("Audio/File").get("path") for c in clips]
    assert members[0] == members[2] != members[1]   # a file used twice is stored once; same names made unique
    assert all(m.startswith("audio/lead_bass_a_b_take") and m.isascii() and " " not in m for m in members)
    assert sorted(z.namelist()[2:]) == sorted(set(members))
    xsd = os.environ.get("DAWPROJECT_XSD")
    if xsd:
        xmlschema = pytest.importorskip("xmlschema")
        xmlschema.XMLSchema(xsd).validate(z.read("project.xml").decode("utf-8"))


def test_writing_refuses_bad_input_and_leaves_nothing(tmp_path):
    a = tone(tmp_path / "a.wav", 0.5)
    good = [Track("t", [Clip(a, 0.0, 0.5)])]
    for kwargs, err, match in [
        (dict(bpm=0), ParameterError, "bpm=0: expected a tempo between 1 and 999"),
        (dict(bpm=120, meter="3/5"), ParameterError, "meter='3/5'"),
        (dict(bpm=120, tracks=[Track("t", [Clip(tmp_path / "gone.wav", 0.0, 1.0)])]), AudioError, "does not exist"),
        (dict(bpm=120, tracks=[Track("t", [Clip(a, -1.0, 0.5)])]), ParameterError, "start_s=-1.0"),
        (dict(bpm=120, tracks=[Track("t", [Clip(tmp_path / "g.msgpack", 0.0, 1.0)])]), AudioError, "not an audio file"),
    ]:
        (tmp_path / "g.msgpack").write_bytes(b"\x80")
        with pytest.raises(err, match=match):
            write_dawproject(tmp_path / "p.dawproject", kwargs.pop("tracks", good), **kwargs)
    with pytest.raises(ParameterError, match="is a clip file of this project"):
        write_dawproject(a, good, bpm=120)
    with pytest.raises(NodeflowError, match="cannot write the DAW project there"):
        write_dawproject(a / "p.dawproject", good, bpm=120)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "g.msgpack"]
    assert parse_meter("6/8") == (6, 8)


def _zip(path: Path, project: str, members: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.xml", project)
        for name, data in (members or {}).items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize("member, external, match", [
    ("../evil.wav", "false", "not a file inside the project"),
    ("/etc/passwd", "false", "not a file inside the project"),
    ("audio/missing.wav", "false", "not a file inside the project"),
    ("/home/someone/take.wav", "true", "outside the project"),
])
def test_reading_refuses_paths_out_of_the_project(tmp_path, member, external, match):
    xml = ('<Project version="1.0"><Application name="x" version="1"/><Structure><Track id="t" name="T"/></Structure>'
           '<Arrangement><Lanes timeUnit="beats"><Lanes track="t"><Clips><Clip time="0" duration="4">'
           f'<Audio duration="1" sampleRate="44100" channels="1"><File path="{member}" external="{external}"/>'
           '</Audio></Clip></Clips></Lanes></Lanes></Arrangement></Project>')
    with pytest.raises(FileFormatError, match=match):
        read_dawproject(_zip(tmp_path / "p.dawproject", xml, {"../evil.wav": b"x"}), extract_to=tmp_path / "x")
    assert not (tmp_path / "evil.wav").exists() and not (tmp_path / "x").exists()


def test_reading_refuses_malformed_files(tmp_path):
    (tmp_path / "d.dawproject").write_bytes(tone(tmp_path / "d.wav", 0.1).read_bytes())
    bomb = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><Project version="1.0">&a;</Project>'
    for path, match in [(_zip(tmp_path / "a.dawproject", bomb), "declares a DOCTYPE or entities"),
                        (_zip(tmp_path / "b.dawproject", "<Project"), "not well-formed XML"),
                        (_zip(tmp_path / "c.dawproject", "<Song/>"), "expected <Project>"),
                        (tmp_path / "d.dawproject", "not a readable zip"),
                        (tmp_path / "missing.dawproject", "no such file")]:
        with pytest.raises(FileFormatError, match=match):
            read_dawproject(path)
    with zipfile.ZipFile(tmp_path / "e.dawproject", "w") as z:
        z.writestr("metadata.xml", "<MetaData/>")
    with pytest.raises(FileFormatError, match="no project.xml inside"):
        read_dawproject(tmp_path / "e.dawproject")


def test_clips_cut_on_bars_at_48_khz_sit_on_whole_beats(tmp_path):
    """A bar at 97 bpm is no whole number of samples at 48 kHz: the clip's first sample is rounded to a
    frame, and its position still reads as the bar's beat (6.0, not 5.99999622)."""
    from fractions import Fraction
    bar = Fraction(3 * 60, 97)
    f = tmp_path / "w.wav"
    sf.write(f, np.zeros((48000, 2)), 48000)
    start = Fraction(round(2 * bar * 48000), 48000)                 # bar 3, rounded to a frame
    off = Fraction(round(2 * bar * 48000) + 3, 48000)              # 3 samples late: not snapped
    write_dawproject(tmp_path / "p.dawproject", [Track("t", [Clip(f, start, 1.0), Clip(f, off, 1.0)])],
                     bpm=97, meter=(3, 4))
    with zipfile.ZipFile(tmp_path / "p.dawproject") as z:
        clips = ET.fromstring(z.read("project.xml")).iter("Clip")
        times = [c.get("time") for c in clips]
    assert times[0] == "6.0" and float(times[1]) != 6.0


@pytest.mark.parametrize("metadata", [{"meter": "", "bpm": ""}, {"bpm": "", "meter": "3/4"}])
def test_empty_graph_metadata_is_unset_for_the_daw_project_too(tmp_path, capsys, monkeypatch, metadata):
    """QA: meter='' passed validate, then run --daw wrote the file and failed on "meter=''"."""
    from nodeflow import Graph, save
    sf.write(tmp_path / "in.wav", np.zeros((48000, 2), np.float32) + 0.1, 48000)
    g = Graph()                                  # no window node: nothing else says a tempo or a meter
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("io.export", id="export", path="out.wav")
    g.connect("load", "export")
    g.metadata.update(metadata)
    save(g, tmp_path / "g.msgpack")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "g.msgpack"]) == 0
    assert main(["run", "g.msgpack", "-o", "out", "--daw", "out/p.dawproject", "-q"]) == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "p.dawproject").is_file()


def test_windows_exported_at_another_rate_play_no_further_than_their_files(tmp_path):
    """QA58: windows at one rate exported at another were clips as long as the windows at their own rate:
    a clip played 0.49 sample past its file's end.  Each clip now lasts its file, from its bar."""
    g = window_graph(tmp_path)
    g.set("export", "sample_rate", "48000")
    res = Executor().run(g, output_dir=tmp_path / "out")
    tracks = clips_from_run(g, res)
    project = write_dawproject(tmp_path / "song.dawproject", tracks, bpm=BPM, meter="3/4")
    _, _, by_name, z, _ = parse(project)
    for k, (clip, path) in enumerate(zip(by_name["export"], res["export"]["out"])):
        info = sf.info(path)
        assert info.samplerate == 48000
        assert clip["play_stop"] == pytest.approx(info.frames / 48000, abs=1e-12) == clip["audio_s"]
        assert clip["duration"] == pytest.approx(info.frames / 48000 * BPM / 60, abs=0.5 / 48000 * BPM / 60)
        assert clip["time"] == pytest.approx(k * BARS_PER_WINDOW * BEATS_PER_BAR, abs=BEAT_TOL)
