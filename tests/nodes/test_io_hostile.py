"""Hostile inputs are read safely: special files refused at once, lying headers and decompression
bombs cost only what is decoded, and the files a graph reads outside its folder are listed."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Graph
from nodeflow.cache import file_digest
from nodeflow.errors import AudioError, FileFormatError, ParameterError
from nodeflow.fileformat import load as load_graph, save
from nodes.io import _decode
from nodes.io.load import load
from tests.nodes._io_helpers import context, needs_ffmpeg, tones, write

ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 20
RATE = 8000
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")


def _cli() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "audiochain"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from nodeflow.cli import main; "
                                                               "sys.exit(main())"]


def _run_cli(args: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    """The CLI in a subprocess; a hang fails the test (TimeoutExpired) instead of the suite."""
    return subprocess.run(_cli() + args, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, cwd=cwd,
                          env={**os.environ, **env})


def _one_error_line(err: str) -> str:
    lines = [l for l in err.strip().splitlines() if not l.startswith("reads outside its folder: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _special(tmp_path: Path, kind: str) -> Path:
    if kind == "fifo":
        os.mkfifo(tmp_path / "pipe.msgpack")
        return tmp_path / "pipe.msgpack"
    if kind == "dev-zero":
        return Path("/dev/zero")
    a, b = tmp_path / "loop_a.msgpack", tmp_path / "loop_b.msgpack"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


SPECIAL = ["fifo", "dev-zero", "symlink-loop"]
EXPECT = {"fifo": "FIFO", "dev-zero": "character device", "symlink-loop": "symlink loop"}


# ------------------------------------------------------------------------------ special files
@needs_fifo
@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("command", ["validate", "show", "run"])
def test_special_file_as_graph_file_is_refused_at_once(tmp_path, kind, command):
    path = _special(tmp_path, kind)
    p = _run_cli([command, str(path)], tmp_path)
    assert p.returncode == 1
    line = _one_error_line(p.stderr)
    assert str(path) in line and EXPECT[kind] in line


@needs_fifo
@pytest.mark.parametrize("kind", SPECIAL)
def test_special_file_as_graph_file_in_python(tmp_path, kind):
    path = _special(tmp_path, kind)
    with pytest.raises(FileFormatError, match=EXPECT[kind]):
        load_graph(path)


def _graph_reading(tmp_path: Path, target: str) -> Path:
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / target))     # saved relative to the graph file
    return save(g, tmp_path / "g.msgpack")


@needs_fifo
@pytest.mark.parametrize("kind", SPECIAL)
def test_special_file_as_input_is_refused_by_validate_and_run_and_shown_by_show(tmp_path, kind):
    target = _special(tmp_path, kind)
    graph_file = _graph_reading(tmp_path, str(target))
    p = _run_cli(["validate", str(graph_file)], tmp_path)
    assert p.returncode == 1 and "Traceback" not in p.stdout + p.stderr, p.stdout + p.stderr
    p = _run_cli(["run", str(graph_file), "-o", str(tmp_path / "out")], tmp_path)
    assert p.returncode == 1
    assert "load" in _one_error_line(p.stderr)
    p = _run_cli(["show", str(graph_file)], tmp_path)   # show reads no input: it finishes and lists the node
    assert p.returncode == 0 and "io.load" in p.stdout, p.stderr


@needs_fifo
@pytest.mark.parametrize("kind", SPECIAL)
def test_io_load_refuses_special_files_in_one_line(tmp_path, kind):
    target = _special(tmp_path, kind)
    with pytest.raises(AudioError) as err:
        load.fn(path=str(target), ctx=context(tmp_path))
    msg = str(err.value)
    assert EXPECT[kind] in msg and str(target) in msg and "\n" not in msg


@needs_fifo
def test_fingerprint_never_opens_a_special_file(tmp_path):
    os.mkfifo(tmp_path / "pipe.wav")
    assert file_digest(tmp_path / "pipe.wav").startswith("special:")
    assert file_digest("/dev/zero").startswith("special:")
    (tmp_path / "x").symlink_to(tmp_path / "y")
    (tmp_path / "y").symlink_to(tmp_path / "x")
    assert file_digest(tmp_path / "x").startswith("missing:")


# ------------------------------------------------------------------------------ streams and lying headers
def _flac(tmp_path: Path, seconds: float = 2.0, name: str = "a.flac") -> tuple[Path, np.ndarray]:
    src = tones(seconds, rate=RATE, channels=2)
    return write(tmp_path / name, src, rate=RATE, format="FLAC", subtype="PCM_16"), src


def _set_flac_total(path: Path, total: int) -> Path:
    """Rewrite STREAMINFO's 36-bit total-samples field (0 = unknown, allowed by the FLAC spec)."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0          # STREAMINFO comes first
    i = 8 + 13
    data[i] = (data[i] & 0xF0) | ((total >> 32) & 0x0F)
    data[i + 1:i + 5] = (total & 0xFFFFFFFF).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def _reference(path: Path) -> np.ndarray:
    return sf.read(str(path), dtype="float32", always_2d=True)[0].T


SPANS = [(0.0, None), (0.5, 1.25), (1.5, None), (1.5, 9.0)]


@pytest.mark.parametrize("start_s,end_s", SPANS)
def test_flac_of_unknown_length_decodes_to_the_right_samples(tmp_path, start_s, end_s):
    path, _ = _flac(tmp_path)
    whole = _reference(path)
    _set_flac_total(path, 0)
    a = load.fn(path=path.name, start_s=start_s, end_s=end_s, ctx=context(tmp_path))
    start = round(start_s * RATE)
    stop = whole.shape[1] if end_s is None else min(round(end_s * RATE), whole.shape[1])
    assert (a.channels, a.sample_rate, a.frames) == (2, RATE, stop - start)
    np.testing.assert_array_equal(a.samples, whole[:, start:stop])


def test_flac_of_unknown_length_start_past_the_end_gives_the_duration(tmp_path):
    path, _ = _flac(tmp_path)
    _set_flac_total(path, 0)
    with pytest.raises(AudioError, match=r"past the end of the file \(duration 2\.000 s, 16000 frames"):
        load.fn(path=path.name, start_s=2.5, ctx=context(tmp_path))


@needs_ffmpeg
def test_flac_streamed_by_ffmpeg_to_a_pipe_decodes(tmp_path):
    path, _ = _flac(tmp_path)
    whole = _reference(path)
    with open(tmp_path / "streamed.flac", "wb") as out:
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "flac", "pipe:1"],
                       stdout=out, check=True, timeout=60)
    assert sf.info(str(tmp_path / "streamed.flac")).frames > 1 << 62      # libsndfile: length unknown
    a = load.fn(path="streamed.flac", ctx=context(tmp_path))
    np.testing.assert_array_equal(a.samples, whole)


def _peak_traced(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001 - the caller checks what it was
            result = e
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("claimed", [(1 << 36) - 1, 1 << 33])
def test_flac_header_claiming_a_huge_length_costs_only_what_it_holds(tmp_path, claimed):
    path, _ = _flac(tmp_path)
    whole = _reference(path)
    _set_flac_total(path, claimed)
    err, peak = _peak_traced(lambda: load.fn(path=path.name, ctx=context(tmp_path)))
    assert isinstance(err, AudioError) and "\n" not in str(err)
    assert f"promises {claimed} frames" in str(err) and "decoding stops at frame 16000" in str(err)
    assert peak < 16 << 20, f"peak {peak / 2**20:.1f} MiB"          # was a 256 GiB-1 TiB allocation attempt
    part = load.fn(path=path.name, start_s=0.5, end_s=1.0, ctx=context(tmp_path))   # a span inside is fine
    np.testing.assert_array_equal(part.samples, whole[:, 4000:8000])


def test_wav_header_claiming_a_huge_data_chunk_is_refused_without_allocating(tmp_path):
    path = write(tmp_path / "a.wav", tones(1.0, rate=RATE), rate=RATE, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    i = data.find(b"data")
    data[i + 4:i + 8] = struct.pack("<I", 0xFFFFFFF0)
    path.write_bytes(bytes(data))
    err, peak = _peak_traced(lambda: load.fn(path=path.name, ctx=context(tmp_path)))
    assert isinstance(err, AudioError) and "truncated" in str(err) and "\n" not in str(err)
    assert peak < 16 << 20


# ------------------------------------------------------------------------------ decompression bombs
BOMB_SECONDS, BOMB_RATE = 30, 384000        # 11.5 M frames of silence: ~44 MiB of float32 from ~100 KiB


def _bomb(tmp_path: Path, name: str = "silence.flac") -> Path:
    path = tmp_path / name
    block = np.zeros(BOMB_RATE, np.float32)
    with sf.SoundFile(str(path), "w", BOMB_RATE, 1, format="FLAC", subtype="PCM_16") as f:
        for _ in range(BOMB_SECONDS):
            f.write(block)
    return path


def test_decompression_bomb_stops_at_the_limit_in_one_line(tmp_path, monkeypatch):
    path = _bomb(tmp_path)
    assert path.stat().st_size < 1 << 20
    monkeypatch.setenv(_decode.MAX_DECODE_ENV, "0.01")               # 10.24 MiB of float32
    err, peak = _peak_traced(lambda: load.fn(path=path.name, ctx=context(tmp_path)))
    assert isinstance(err, AudioError), err
    msg = str(err)
    assert "\n" not in msg and str(path) in msg and _decode.MAX_DECODE_ENV in msg
    assert "limit of 10.2 MiB" in msg and "stopped at 10.2 MiB" in msg
    assert peak < 3 * (0.01 * 2**30), f"peak {peak / 2**20:.1f} MiB"
    # a span under the limit still loads, exactly
    a = load.fn(path=path.name, start_s=10.0, end_s=12.0, ctx=context(tmp_path))
    assert a.frames == 2 * BOMB_RATE and not a.samples.any()


def test_validate_says_the_limit_a_header_measures(tmp_path, monkeypatch):
    """QA: with AUDIOCHAIN_MAX_DECODE_GB=0.5, validate said ok of a 20-minute 96 kHz file whose header gives
    its size (879 MiB decoded); the run stopped at the limit after decoding for a while."""
    path = _bomb(tmp_path)
    monkeypatch.setenv(_decode.MAX_DECODE_ENV, "0.01")
    g = Graph()
    g.add("io.load", id="load", path=str(path))
    [said] = g.problems(output_dir=tmp_path / "o")
    assert "decodes to 43.9 MiB of audio (30 s of 1 ch at 384000 Hz), over the limit of 10.2 MiB" in said
    assert _decode.MAX_DECODE_ENV in said and "start_s/end_s" in said
    g.set("load", "end_s", 2.0)                         # a span under the limit: nothing to say
    assert g.problems(output_dir=tmp_path / "o") == []


def test_the_limit_is_not_reached_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv(_decode.MAX_DECODE_ENV, raising=False)
    a = load.fn(path=_bomb(tmp_path).name, ctx=context(tmp_path))
    assert a.frames == BOMB_SECONDS * BOMB_RATE


@needs_ffmpeg
def test_decompression_bomb_through_ffmpeg_stops_at_the_limit(tmp_path, monkeypatch):
    path = _bomb(tmp_path)
    mka = tmp_path / "silence.mka"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-c:a", "copy", str(mka)], check=True,
                   timeout=60)
    monkeypatch.setenv(_decode.MAX_DECODE_ENV, "0.01")
    with pytest.raises(AudioError, match=_decode.MAX_DECODE_ENV) as err:
        load.fn(path=mka.name, ctx=context(tmp_path))
    assert str(mka) in str(err.value) and "\n" not in str(err.value)


def test_decompression_bomb_through_the_cli_is_one_error_line(tmp_path):
    _bomb(tmp_path)
    graph_file = _graph_reading(tmp_path, "silence.flac")
    p = _run_cli(["run", "-q", str(graph_file), "-o", str(tmp_path / "out")], tmp_path,
                 **{_decode.MAX_DECODE_ENV: "0.01"})
    assert p.returncode == 1
    assert "silence.flac" in _one_error_line(p.stderr) and "limit" in p.stderr


@pytest.mark.parametrize("value", ["0", "-1", "lots", "inf"])
def test_a_bad_limit_is_named_with_an_example(monkeypatch, value):
    monkeypatch.setenv(_decode.MAX_DECODE_ENV, value)
    with pytest.raises(ParameterError, match=f"{_decode.MAX_DECODE_ENV}=.*e.g."):
        _decode.max_decode_bytes()


# ------------------------------------------------------------------------------ reads are visible
def test_external_reads_lists_what_lies_outside_the_graph_folder(tmp_path):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    _flac(project, 0.5, "inside.flac")
    _flac(elsewhere, 0.5, "outside.flac")
    (project / "sneaky.flac").symlink_to(elsewhere / "outside.flac")     # inside by name, outside in fact
    g = Graph()
    g.add("io.load", id="inside", path=str(project / "inside.flac"))
    g.add("io.load", id="climbs", path=str(elsewhere / "outside.flac"))
    g.add("io.load", id="link", path=str(project / "sneaky.flac"))
    graph_file = save(g, project / "g.msgpack")
    loaded = load_graph(graph_file)
    real = (elsewhere / "outside.flac").resolve()
    assert loaded.external_reads() == [("climbs", "path", real), ("link", "path", real)]
    for command in ("validate", "show"):
        p = _run_cli([command, str(graph_file)], tmp_path)
        assert p.returncode == 0, p.stdout + p.stderr
        listed = [l for l in p.stdout.splitlines() if l.startswith("reads outside its folder: ")]
        assert listed == [f"reads outside its folder: climbs.path -> {real}",
                          f"reads outside its folder: link.path -> {real}"]
    for quiet in ([], ["-q"]):         # -q too: it says what the run may read (QA: -q hid it)
        p = _run_cli(["run", str(graph_file), "-o", str(tmp_path / "out"), "--no-cache", *quiet], tmp_path)
        assert p.returncode == 0, p.stderr
        assert p.stderr.count("reads outside its folder: ") == 2
    # a run refused before it reads anything says only why (QA39: the notice came before the one error line)
    p = _run_cli(["run", str(graph_file), "-o", str(tmp_path / "out"), "--set", "inside.start_s=100"], tmp_path)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and p.stderr.startswith("error: "), p.stderr


def test_external_reads_escapes_control_characters(tmp_path):
    odd = tmp_path / "odd\x1b[8mname.flac"
    _flac(tmp_path, 0.5, odd.name)
    (tmp_path / "project").mkdir()
    g = Graph()
    g.add("io.load", id="load", path=str(odd))
    graph_file = save(g, tmp_path / "project" / "g.msgpack")
    p = _run_cli(["validate", str(graph_file)], tmp_path)
    assert "\x1b" not in p.stdout and "odd\\x1b[8mname.flac" in p.stdout


def test_a_graph_reading_only_its_own_folder_lists_nothing(tmp_path):
    _flac(tmp_path, 0.5, "take.flac")
    graph_file = _graph_reading(tmp_path, "take.flac")
    assert load_graph(graph_file).external_reads() == []
    p = _run_cli(["validate", str(graph_file)], tmp_path)
    assert p.returncode == 0 and "reads outside" not in p.stdout


@needs_ffmpeg
@pytest.mark.parametrize("content", ["#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\nfile://{secret}\n"
                                     "#EXT-X-ENDLIST\n", "ffconcat version 1.0\nfile {secret}\n"])
def test_an_input_that_is_a_playlist_naming_other_files_is_refused_by_validate_and_run(tmp_path, content):
    """QA: a received ``.m4a`` that was an HLS playlist (or an ffconcat list) made ffmpeg open the file
    it named, the receiver's private melody, and the run exported it; nothing said it read outside."""
    private = tmp_path / "home" / "Music"
    private.mkdir(parents=True)
    write(private / "melody.wav", tones(2.0, 48000), 48000)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "take.m4a").write_text(content.format(secret=private / "melody.wav"))
    g = Graph()
    g.add("io.load", id="load", path=str(shared / "take.m4a"))
    g.add("io.export", id="export", path="out.wav")
    g.connect("load", "export")
    save(g, shared / "g.msgpack")
    for cmd in (["validate", "g.msgpack", "-o", "out"], ["run", "g.msgpack", "-o", "out"]):
        p = _run_cli(cmd, shared)
        said = p.stdout + p.stderr
        assert p.returncode == 1 and "not audio: such a file names other files to read" in said, said
    assert not (shared / "out").exists()


@needs_ffmpeg
def test_validate_refuses_what_no_decoder_reads_as_run_does(tmp_path):
    """QA: validate said ok of a text file named .flac, random bytes named .mp3 and an empty path, which
    run refused; a WAV of 0 bits per sample was refused as 'start_s=0 is at or past the end', then passed
    validate (QA33: no decoder for it, which ffprobe's header alone shows)."""
    (tmp_path / "text.flac").write_text("not audio at all\n" * 200)
    (tmp_path / "noise.mp3").write_bytes(np.random.default_rng(0).integers(0, 256, 70_000, dtype=np.uint8).tobytes())
    header = (b"RIFF" + struct.pack("<I", 36 + 4000) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, 44100, 0, 0, 0)
              + b"data" + struct.pack("<I", 4000))
    (tmp_path / "zero_bits.wav").write_bytes(header + bytes(4000))
    for name, said in (("text.flac", "not a readable audio file"), ("noise.mp3", "not a readable audio file"),
                       ("", "path is empty; choose an audio file to load"),
                       ("zero_bits.wav", "in no codec ffmpeg can decode")):
        g = Graph()
        g.add("io.load", id="load", path=str(tmp_path / name) if name else "")
        assert any(said in p for p in g.problems(output_dir=tmp_path / "o")), (name, g.problems())
    with pytest.raises(AudioError, match="in no codec ffmpeg can decode") as info:
        load.fn(path="zero_bits.wav", ctx=context(tmp_path))
    assert "start_s" not in str(info.value)


def test_a_file_size_limit_is_named_and_leaves_no_partial_file(tmp_path):
    """QA: under `ulimit -f 200` the export said only "could not write wav (...): System error."."""
    import resource
    write(tmp_path / "in.wav", tones(3.0, 44100, channels=1), 44100)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("io.export", id="export", path="out.wav", bit_depth="pcm16")
    g.connect("load", "export")
    save(g, tmp_path / "g.msgpack")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, 200 * 1024))
    p = subprocess.run(_cli() + ["run", "-q", "--no-cache", "g.msgpack", "-o", "o"], capture_output=True, text=True,
                       timeout=CLI_TIMEOUT_S, cwd=tmp_path, preexec_fn=limit)
    line = _one_error_line(p.stderr)
    assert p.returncode == 1 and "file size limit (204,800 bytes, `ulimit -f`)" in line, p.stderr
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_a_link_loop_or_a_dangling_link_as_input_is_named_so_not_not_found(tmp_path):
    """QA: a symlink loop was reported as 'not found (looked at .../loop1.flac)'."""
    (tmp_path / "loop1.flac").symlink_to(tmp_path / "loop2.flac")
    (tmp_path / "loop2.flac").symlink_to(tmp_path / "loop1.flac")
    (tmp_path / "gone.wav").symlink_to(tmp_path / "moved" / "take.wav")
    g = Graph()
    g.add("io.load", id="loop", path=str(tmp_path / "loop1.flac"))
    g.add("io.load", id="gone", path=str(tmp_path / "gone.wav"))
    problems = g.problems()
    assert any("node 'loop': " in p and "is a symlink loop" in p for p in problems), problems
    assert any("node 'gone': " in p and f"is a link to {tmp_path / 'moved' / 'take.wav'}, which is not there" in p
               for p in problems), problems
    assert not any("not found" in p for p in problems), problems


def _damaged_mp3(folder: Path) -> Path:
    """8 s of a tone as mp3 with 400 random bytes in its middle: libmpg123 resyncs past them."""
    t = np.arange(8 * 44100) / 44100
    path = folder / "damaged.mp3"
    sf.write(path, 0.3 * np.sin(2 * np.pi * 220 * t), 44100, format="MP3")
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 400] = np.random.default_rng(1).integers(0, 256, 400, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_mp3_is_one_warning_line_not_the_decoders_own_notes(tmp_path):
    """QA66 M2: a damaged mp3 printed libmpg123's own "Note: Illegal Audio-MPEG-Header ... Trying to
    resync ... Skipped 416 bytes" lines (six, with -q too) around AudioChain's.  Now one warning line
    says what they mean."""
    mp3 = _damaged_mp3(tmp_path)
    g = Graph()
    g.add("io.load", id="load", path=str(mp3))
    g.add("io.export", id="export", path="out.wav")
    g.connect("load", "export")
    save(g, tmp_path / "g.msgpack")
    for args in (["validate", "g.msgpack"], ["run", "g.msgpack", "-o", "o", "-q"]):
        r = _run_cli(args, tmp_path)
        assert r.returncode == 0 and "Note:" not in r.stderr and "resync" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning load: {mp3}: the mp3 decoder skipped "), lines
    assert "damaged bytes (from offset" in lines[0] and lines[0].endswith("re-download the file for a clean copy")


def test_only_libmpg123s_lines_are_kept_off_the_terminal(capfd):
    from nodes.io._mpg123 import quiet_mpg123
    with quiet_mpg123("take.mp3") as said:
        os.write(2, b"Note: Trying to resync...\n")
        os.write(2, b"another thread's own line\n")
    assert capfd.readouterr().err == "another thread's own line\n"
    assert said == [b"Note: Trying to resync..."]
    with quiet_mpg123("take.wav") as said:       # only an mp3 goes through libmpg123
        os.write(2, b"Note: a wav's line\n")
    assert capfd.readouterr().err == "Note: a wav's line\n" and said == []


@pytest.mark.parametrize("start_s", [0.0, 0.1])
def test_nan_samples_in_a_file_are_said_of_the_file_with_a_fix_a_musician_can_follow(tmp_path, start_s):
    """QA66 L3: NaN samples in a float WAV were said of the audio ("replace them, e.g. with
    numpy.nan_to_num"), not of the file, with a Python function as the fix.  The frame is the file's."""
    x = np.full((RATE, 2), 0.1, np.float32)
    x[1234, 1] = np.nan
    path = tmp_path / "take.wav"
    sf.write(path, x, RATE, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(path), start_s=start_s)
    g.add("io.export", id="export", path="out.wav")
    g.connect("load", "export")
    save(g, tmp_path / "g.msgpack")
    r = _run_cli(["run", "g.msgpack", "-o", "o", "-q"], tmp_path)
    assert r.returncode == 1, r
    assert r.stderr.strip() == (f"error: node 'load': {path}: holds NaN or infinite samples (the first at frame 1234, "
                                "0.154 s in), which cannot be played or processed; export it again from the program "
                                "that made it"), r.stderr
    assert not (tmp_path / "o").exists()
