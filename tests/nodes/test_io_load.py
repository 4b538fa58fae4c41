"""io.load through real codecs: every format, channels, exact spans, and files that are not fit to load."""
from __future__ import annotations

import numpy as np
import pytest

from nodeflow.errors import AudioError, ParameterError
from nodes.io import _decode
from nodes.io.load import load
from tests.nodes._io_helpers import (LOSSLESS_TOL, LOSSY_MIN_CORR, RATE, best_lag, context, corr, encode, ffmpeg,
                                     fundamental_hz, needs_ffmpeg, tones, write)

SOUNDFILE_CASES = [("wav", "WAV", "PCM_16"), ("wav", "WAV", "PCM_24"), ("wav", "WAV", "FLOAT"),
                   ("flac", "FLAC", "PCM_16"), ("flac", "FLAC", "PCM_24"),
                   ("ogg", "OGG", "VORBIS"), ("mp3", "MP3", "MPEG_LAYER_III")]


@pytest.mark.parametrize("ext,fmt,subtype", SOUNDFILE_CASES)
def test_soundfile_formats_decode_to_the_source(tmp_path, ext, fmt, subtype):
    src = tones(1.5)
    write(tmp_path / f"a.{ext}", src, format=fmt, subtype=subtype)
    a = load.fn(path=f"a.{ext}", ctx=context(tmp_path))
    assert (a.channels, a.sample_rate, a.frames) == (2, RATE, src.shape[1])
    assert a.samples.dtype == np.float32
    if (fmt, subtype) in LOSSLESS_TOL:
        assert np.abs(a.samples - src).max() <= LOSSLESS_TOL[(fmt, subtype)] * 1.0001
    else:
        assert corr(a.samples, src) > LOSSY_MIN_CORR
        assert best_lag(a.samples[0], src[0]) == 0


@pytest.mark.parametrize("ext,fmt,subtype,channels", [("wav", "WAV", "PCM_24", 6), ("flac", "FLAC", "PCM_24", 6),
                                                      ("ogg", "OGG", "VORBIS", 4)])   # vorbis 5.1 low-passes LFE
def test_multichannel_keeps_every_channel_apart(tmp_path, ext, fmt, subtype, channels):
    src = tones(0.5, channels=channels)
    write(tmp_path / f"many.{ext}", src, format=fmt, subtype=subtype)
    a = load.fn(path=f"many.{ext}", ctx=context(tmp_path))
    assert a.channels == channels and a.frames == src.shape[1]
    for c in range(channels):
        assert fundamental_hz(a.samples[c], RATE) == pytest.approx(fundamental_hz(src[c], RATE), abs=3)


# a span against the same frames of the whole decode: identical, except that mpg123 (mono, MPEG-2)
# may round its synthesis filter differently after a seek (+-1 float32 ulp)
SPAN_ATOL = {"MP3": 1e-6}
SPANS = [(0.0, 0.25), (0.123457, 0.9), (1.0, None), (0.5, 99.0), (1.9999, None)]


@pytest.mark.parametrize("ext,fmt,subtype", SOUNDFILE_CASES[1::2] + [("mp3", "MP3", "MPEG_LAYER_III")])
@pytest.mark.parametrize("start_s,end_s", SPANS)
def test_span_is_exact_in_frames_and_samples(tmp_path, ext, fmt, subtype, start_s, end_s):
    path = write(tmp_path / f"a.{ext}", tones(2.0), format=fmt, subtype=subtype)
    ctx = context(tmp_path)
    whole = load.fn(path=str(path), ctx=ctx).samples
    part = load.fn(path=str(path), start_s=start_s, end_s=end_s, ctx=ctx)
    start = round(start_s * RATE)
    stop = whole.shape[1] if end_s is None else min(round(end_s * RATE), whole.shape[1])
    assert part.frames == stop - start
    np.testing.assert_allclose(part.samples, whole[:, start:stop], rtol=0, atol=SPAN_ATOL.get(fmt, 0.0))


def test_long_mp3_spans_match_the_whole_decode(tmp_path):
    """Longer than one read block: libsndfile garbles mp3 reads that stop inside a frame."""
    path = write(tmp_path / "long.mp3", tones(7.0, channels=1), format="MP3")
    ctx = context(tmp_path)
    whole = load.fn(path="long.mp3", ctx=ctx).samples
    assert whole.shape[1] == round(7.0 * RATE) and corr(whole, tones(7.0, channels=1)) > LOSSY_MIN_CORR
    part = load.fn(path=str(path), start_s=3.3, end_s=6.9, ctx=ctx)
    ref = whole[:, round(3.3 * RATE):round(6.9 * RATE)]
    np.testing.assert_allclose(part.samples, ref, rtol=0, atol=SPAN_ATOL["MP3"])


@needs_ffmpeg
@pytest.mark.parametrize("ext,codec,exact", [("m4a", ("-c:a", "aac"), False), ("opus", ("-c:a", "libopus"), False),
                                             ("mka", ("-c:a", "libvorbis"), True)])
@pytest.mark.parametrize("start_s,end_s", [(0.0, 0.25), (0.31234, 1.2), (1.5, None)])
def test_ffmpeg_span_is_exact_in_frames(tmp_path, ext, codec, exact, start_s, end_s):
    """mp4/ogg seek by timestamp (decoders re-converge after a preroll); matroska decodes from 0."""
    wav = write(tmp_path / "src.wav", tones(2.0, rate=48000), 48000)
    path = encode(wav, tmp_path / f"a.{ext}", *codec)
    ctx = context(tmp_path)
    whole = load.fn(path=str(path), ctx=ctx).samples
    part = load.fn(path=str(path), start_s=start_s, end_s=end_s, ctx=ctx)
    start = round(start_s * 48000)
    stop = whole.shape[1] if end_s is None else round(end_s * 48000)
    assert part.frames == stop - start
    ref = whole[:, start:stop]
    if exact:
        np.testing.assert_array_equal(part.samples, ref)
    else:
        assert best_lag(part.samples[0], ref[0], 256) == 0
        assert np.abs(part.samples - ref).max() < 2e-3


@needs_ffmpeg
@pytest.mark.parametrize("ext,codec,rate", [("m4a", ("-c:a", "aac"), 44100), ("opus", ("-c:a", "libopus"), 48000)])
def test_ffmpeg_formats_decode(tmp_path, ext, codec, rate):
    wav = write(tmp_path / "src.wav", tones(1.0, rate=rate), rate)
    a = load.fn(path=str(encode(wav, tmp_path / f"a.{ext}", *codec)), ctx=context(tmp_path))
    assert (a.channels, a.sample_rate) == (2, rate)
    assert a.frames == rate, a.frames                # exact: not aac's last frame of padding (QA: 8.0109 s)
    for c, f0 in enumerate((220.0, 220.0 * 2 ** 0.25)):
        assert fundamental_hz(a.samples[c], rate) == pytest.approx(f0, abs=2)


@needs_ffmpeg
def test_video_soundtrack(tmp_path):
    path = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1.5", "-f", "lavfi",
           "-i", "sine=frequency=300:duration=1.5:sample_rate=48000", "-shortest", "-c:v", "mpeg4",
           "-c:a", "aac", str(path))
    a = load.fn(path="clip.mp4", start_s=0.5, end_s=1.0, ctx=context(tmp_path))
    assert (a.channels, a.sample_rate, a.frames) == (1, 48000, 24000)
    assert fundamental_hz(a.samples[0], 48000) == pytest.approx(300, abs=2)


def test_relative_paths_resolve_against_the_graph_folder(tmp_path):
    (tmp_path / "sounds").mkdir()
    write(tmp_path / "sounds" / "x.wav", tones(0.1), format="WAV", subtype="FLOAT")
    assert load.fn(path="sounds/x.wav", ctx=context(tmp_path)).frames == round(0.1 * RATE)


def _truncate(tmp_path, ext, fmt, subtype):
    path = write(tmp_path / f"cut.{ext}", tones(2.0), format=fmt, subtype=subtype)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path.name


def _text_as(name):
    def make(d):
        (d / name).write_text("just some notes, not audio\n" * 20)
        return name
    return make


BAD_FILES = {
    "missing": lambda d: "nothere.wav",
    "empty": lambda d: (d / "empty.wav").write_bytes(b"") or "empty.wav",
    "folder": lambda d: (d / "dir.wav").mkdir() or "dir.wav",
    "text as wav": _text_as("notes.wav"),
    "text as mp3": _text_as("notes.mp3"),
    "text as flac": _text_as("notes.flac"),
    "text as m4a": _text_as("notes.m4a"),
    "truncated wav": lambda d: _truncate(d, "wav", "WAV", "PCM_16"),
    "truncated flac": lambda d: _truncate(d, "flac", "FLAC", "PCM_16"),
    "truncated ogg": lambda d: _truncate(d, "ogg", "OGG", "VORBIS"),
    "truncated mp3": lambda d: _truncate(d, "mp3", "MP3", "MPEG_LAYER_III"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_unusable_files_give_one_clear_error_naming_the_file(tmp_path, case):
    name = BAD_FILES[case](tmp_path)
    with pytest.raises(AudioError) as err:
        load.fn(path=name, ctx=context(tmp_path))
    assert name in str(err.value)
    assert "Traceback" not in str(err.value) and "\n" not in str(err.value)


def test_start_past_the_end_reports_the_duration(tmp_path):
    write(tmp_path / "a.flac", tones(1.5), format="FLAC", subtype="PCM_16")
    with pytest.raises(AudioError, match=r"a\.flac.*start_s=2.*duration 1\.500 s"):
        load.fn(path="a.flac", start_s=2.0, ctx=context(tmp_path))


@pytest.mark.parametrize("ext", ["flac", pytest.param("m4a", marks=needs_ffmpeg)])
def test_times_far_out_of_range_are_said_in_the_parameters_words(tmp_path, ext):
    """QA: start_s=1e308 raised 'OverflowError: cannot convert float infinity to integer'; end_s=1e-300 was
    blamed on a good file ('truncated or damaged'); end_s=1e308 on an m4a gave 0 frames."""
    write(tmp_path / "a.wav", tones(1.5), format="WAV", subtype="PCM_16")
    if ext == "m4a":
        encode(tmp_path / "a.wav", tmp_path / "a.m4a", "-c:a", "aac")
    else:
        write(tmp_path / "a.flac", tones(1.5), format="FLAC", subtype="PCM_16")
    name = f"a.{ext}"
    with pytest.raises(AudioError, match=r"start_s=1e\+308 is at or past the end of the file"):
        load.fn(path=name, start_s=1e308, ctx=context(tmp_path))
    with pytest.raises(ParameterError, match=r"start_s=0 to end_s=1e-300 holds no whole frame at \d+ Hz; give an end_s"):
        load.fn(path=name, end_s=1e-300, ctx=context(tmp_path))
    whole = load.fn(path=name, ctx=context(tmp_path))
    assert load.fn(path=name, end_s=1e308, ctx=context(tmp_path)).frames == whole.frames > 0


def test_end_before_start_is_a_parameter_error(tmp_path):
    write(tmp_path / "a.wav", tones(1.0), format="WAV", subtype="PCM_16")
    with pytest.raises(ParameterError, match="end_s=0.2 must be greater than start_s=0.5"):
        load.fn(path="a.wav", start_s=0.5, end_s=0.2, ctx=context(tmp_path))
    with pytest.raises(ParameterError, match="path is empty"):
        load.fn(path=" ", ctx=context(tmp_path))


@needs_ffmpeg
def test_missing_ffmpeg_is_named_with_the_fix(tmp_path, monkeypatch):
    wav = write(tmp_path / "src.wav", tones(0.3), RATE)
    encode(wav, tmp_path / "a.m4a", "-c:a", "aac")
    monkeypatch.setattr(_decode, "ffmpeg_tools", lambda: None)
    with pytest.raises(AudioError, match=r"a\.m4a.*needs ffmpeg.*apt-get install ffmpeg"):
        load.fn(path="a.m4a", ctx=context(tmp_path))


@pytest.mark.parametrize("span, said", [(dict(start_s=500.0), "start_s=500 is at or past the end of the file"),
                                        (dict(start_s=5.0, end_s=2.0), "end_s=2 must be greater than start_s=5")])
def test_validate_reports_a_span_the_file_does_not_have(tmp_path, span, said):
    """validate said ok, then run refused (QA)."""
    import soundfile as sf
    from nodeflow import Graph
    sf.write(tmp_path / "in.wav", np.zeros((44100 * 3, 2), np.float32), 44100)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"), **span)
    found = [p for p in g.problems() if said in p]
    assert len(found) == 1 and found[0].startswith("node 'load' (io.load): "), g.problems()


def _unreadable(tmp_path, kind: str):
    """A file of each kind no decoder reads: its content, as a stranger's folder might hold it."""
    if kind == "random.wav":
        (tmp_path / kind).write_bytes(np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind == "header-only.wav":
        (tmp_path / kind).write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    elif kind == "empty.flac":
        (tmp_path / kind).write_bytes(b"")
    elif kind == "no-frames.wav":          # a header and nothing after it
        import soundfile as sf
        sf.write(tmp_path / kind, np.zeros((0, 2), np.float32), 44100, subtype="PCM_24")
    elif kind == "lying-header.wav":       # a data chunk that claims 4 GB and holds 0.1 s
        import soundfile as sf
        sf.write(tmp_path / kind, np.zeros((4410, 1), np.float32), 44100, subtype="PCM_16")
        data = bytearray((tmp_path / kind).read_bytes())
        at = data.index(b"data") + 4
        data[at:at + 4] = (0xFFFFFFF0).to_bytes(4, "little")
        (tmp_path / kind).write_bytes(bytes(data))
    elif kind == "silent-video.mp4":       # a video without a soundtrack
        ffmpeg("-f", "lavfi", "-i", "testsrc=d=0.5:s=64x48", "-pix_fmt", "yuv420p", str(tmp_path / kind))
    return tmp_path / kind


@needs_ffmpeg
@pytest.mark.parametrize("kind", ["random.wav", "header-only.wav", "empty.flac", "silent-video.mp4", "no-frames.wav",
                                  "lying-header.wav"])
def test_validate_says_what_the_run_says_of_a_file_no_decoder_reads(tmp_path, kind):
    """validate said ok for a corrupt input, the run then refused it (QA): both now say the same line."""
    from nodeflow import Graph
    path = _unreadable(tmp_path, kind)
    g = Graph()
    g.add("io.load", id="load", path=str(path))
    with pytest.raises(AudioError) as run:
        load.fn(path=str(path), ctx=context(tmp_path))
    assert g.problems() == [f"node 'load' (io.load): {run.value}"]
    assert str(path) in str(run.value) and "\n" not in str(run.value)


def test_validate_without_ffmpeg_says_what_the_run_says(tmp_path, monkeypatch):
    from nodeflow import Graph
    monkeypatch.setattr(_decode, "ffmpeg_tools", lambda: None)
    import nodes.io.load as load_module
    monkeypatch.setattr(load_module, "ffmpeg_tools", lambda: None)
    path = _unreadable(tmp_path, "random.wav")
    g = Graph()
    g.add("io.load", id="load", path=str(path))
    with pytest.raises(AudioError, match="installing ffmpeg would let AudioChain try other codecs") as run:
        load.fn(path=str(path), ctx=context(tmp_path))
    assert g.problems() == [f"node 'load' (io.load): {run.value}"]


@needs_ffmpeg
def test_a_wav_a_recorder_never_finished_is_read_to_its_end(tmp_path):
    """QA round 2: a WAV whose data size is 0 (the recorder lost power) was refused by validate and run, while
    ffmpeg decodes all of it."""
    import soundfile as sf
    from nodeflow import Graph
    x = tones(2.0)                                    # [channels, frames]
    sf.write(tmp_path / "take.wav", x.T, RATE, subtype="PCM_16")
    data = bytearray((tmp_path / "take.wav").read_bytes())
    at = data.index(b"data") + 4
    data[at:at + 4] = (0).to_bytes(4, "little")
    (tmp_path / "take.wav").write_bytes(bytes(data))
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "take.wav"))
    assert g.problems() == []
    got = load.fn(path=str(tmp_path / "take.wav"), ctx=context(tmp_path))
    assert got.frames == x.shape[1] and corr(got.samples, x) > 0.999


@needs_ffmpeg
@pytest.mark.parametrize("counted, layout", [(0, "WAV"), (1000, "WAV"), (0, "WAVEX"), (1000, "WAVEX")])
def test_a_wav_whose_header_counts_less_than_its_audio_is_read_to_its_end_and_said(tmp_path, counted, layout):
    """QA55: a WAV whose data chunk says 1000 bytes with 4 s after it loaded as 250 frames (5.7 ms), and
    validate said ok: a recorder that updated its header once, then stopped.  Its chunks after the data
    (a LIST, a cue) are not audio: such a file reads as its header says."""
    import soundfile as sf
    from nodeflow import Executor, Graph
    from nodeflow.audiometa import Metadata, write_metadata
    x = tones(4.0)
    sf.write(tmp_path / "take.wav", x.T, RATE, subtype="PCM_24", format=layout)   # WAVEX: WAVE_FORMAT_EXTENSIBLE
    data = bytearray((tmp_path / "take.wav").read_bytes())                         # (QA56: only WAV was read on)
    at = data.index(b"data") + 4
    data[at:at + 4] = counted.to_bytes(4, "little")
    (tmp_path / "take.wav").write_bytes(bytes(data))
    before = (tmp_path / "take.wav").read_bytes()
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "take.wav"))
    assert g.problems() == []
    res = Executor(disk_cache=None).run(g)
    got = res["load"]["out"]
    assert got.frames == x.shape[1] and corr(got.samples, x) > 0.999
    assert res.warnings["load"] == [f"{tmp_path / 'take.wav'}: its header counts {counted} bytes of audio, but "
                                    f"{x.shape[1] * 6} follow (a recording that was not closed properly?); all of it is "
                                    f"read ({x.shape[1]} frames, 4.000 s)"]
    assert (tmp_path / "take.wav").read_bytes() == before                 # the input is never changed
    sf.write(tmp_path / "tagged.wav", x.T, RATE, subtype="PCM_24")          # chunks after the data: not audio
    write_metadata(tmp_path / "tagged.wav", "wav", Metadata(title="take", markers=((RATE, "verse"),)), None)
    plain = Executor(disk_cache=None).run(Graph().add("io.load", path=str(tmp_path / "tagged.wav")).graph)
    assert not plain.warnings and next(iter(plain.outputs.values()))["out"].frames == x.shape[1]
    # the same file, its header counting less: the audio read to where its chunks begin, its cues kept (QA56:
    # the chunks were read as 30 frames of audio, a click at its end, and its markers were lost)
    data = bytearray((tmp_path / "tagged.wav").read_bytes())
    at = data.index(b"data") + 4
    data[at:at + 4] = counted.to_bytes(4, "little")
    (tmp_path / "tagged.wav").write_bytes(bytes(data))
    got = load.fn(path=str(tmp_path / "tagged.wav"), ctx=context(tmp_path))
    assert got.frames == x.shape[1] and corr(got.samples, x) > 0.999 and got.markers == ((RATE, "verse"),)


@pytest.mark.parametrize("ext, fmt, subtype", [("flac", "FLAC", "PCM_16"), ("mp3", "MP3", "MPEG_LAYER_III")])
def test_validate_finds_a_file_cut_short_without_decoding_it(tmp_path, ext, fmt, subtype):
    """QA: a FLAC or mp3 cut short (a download that stopped) passed validate and the run refused it.
    validate reads its last 50 ms; a load that ends before the cut (end_s) still passes, and so does
    the whole file."""
    from nodeflow import Graph
    name = _truncate(tmp_path, ext, fmt, subtype)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / name))
    [problem] = g.problems()
    assert problem.startswith(f"node 'load' (io.load): {tmp_path / name}: file is truncated or damaged: its header "
                              "promises 88200 frames (2.000 s) but it ends before that; re-export or re-download it")
    with pytest.raises(AudioError, match="truncated or damaged"):
        load.fn(path=name, ctx=context(tmp_path))
    g.set("load", "end_s", 0.5)
    assert g.problems() == []
    assert load.fn(path=name, end_s=0.5, ctx=context(tmp_path)).frames == round(0.5 * RATE)
    whole = write(tmp_path / f"whole.{ext}", tones(2.0), format=fmt, subtype=subtype)
    g.set("load", "path", str(whole))
    g.set("load", "end_s", None)
    assert g.problems() == []


@pytest.mark.parametrize("rate", [7, 999, 800000])
def test_a_file_at_a_rate_no_audio_has_is_refused_by_its_load_naming_the_file(tmp_path, capsys, rate):
    """QA83 D6: a 7 Hz wav loaded, and two nodes later a resample refused it with advice for Python code
    ("Audio(samples, 48000), not 48"), naming neither the file nor the load."""
    import soundfile as sf
    from nodeflow import Graph, save
    from nodeflow.cli import main
    path = tmp_path / "odd.wav"
    sf.write(path, np.zeros((100, 2), np.float32), rate)
    said = (f"{path}: its header says a sample rate of {rate} Hz, outside the 1000-768000 Hz audio is recorded at "
            "(a damaged header, or data that is not sound); re-export it at its real rate (44100 or 48000 Hz are "
            "the usual ones)")
    with pytest.raises(AudioError) as e:
        load.fn(path=str(path), ctx=context(tmp_path))
    assert str(e.value) == said
    g = Graph()
    g.add("io.load", id="take", path=str(path))
    g.add("time.detect_tempo", id="tempo")
    g.connect("take", "tempo")
    save(g, tmp_path / "g.msgpack")
    for command in ("validate", "run"):
        assert main([command, str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out")]) == 1
        out = capsys.readouterr()
        assert f"node 'take' (io.load): {said}" in out.out + out.err, out
