"""io.export through real codecs: every format read back, bit depths, loudness and peak ceiling,
atomic writes, protected inputs, and the graph embedded in the file reopening as the same graph."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Executor, Graph, load, save
from nodeflow.audio import Audio
from nodeflow.audiometa import read_embedded_graph, read_tags
from nodeflow.cli import main
from nodeflow.errors import AudioError, Cancelled, ExecutionError, GraphError, ParameterError
from nodeflow.fileformat import loads
from nodeflow.node import Context
from nodes.io.export import export
from tests.nodes._io_helpers import LOSSY_MIN_CORR, RATE, best_lag, corr, tones

ROOT = Path(__file__).resolve().parents[2]
LSB16, LSB24 = 2.0 ** -15, 2.0 ** -23

# (path, params) -> (libsndfile subtype read back, largest |decoded - source|; None: lossy, compare by correlation)
# io.export rounds to the nearest integer itself: 0.5 LSB; TPDF dither (16-bit) adds up to 1 LSB more.
FORMATS = [
    ("a.wav", dict(bit_depth="pcm16", dither=False), "PCM_16", 0.5 * LSB16),
    ("a.wav", dict(bit_depth="pcm16"), "PCM_16", 1.5 * LSB16),
    ("a.wav", dict(bit_depth="pcm24"), "PCM_24", 0.5 * LSB24),
    ("a.wav", dict(bit_depth="float32"), "FLOAT", 0.0),
    ("a.flac", dict(bit_depth="pcm16", dither=False), "PCM_16", 0.5 * LSB16),
    ("a.flac", dict(bit_depth="pcm24"), "PCM_24", 0.5 * LSB24),
    ("a.mp3", {}, "MPEG_LAYER_III", None),
    ("a.ogg", {}, "VORBIS", None),
    ("a", dict(format="flac"), "PCM_24", 0.5 * LSB24),        # explicit format adds the extension
]
LOUDNESS_TOL_LU = 0.5     # the promise, measured by pyloudnorm on the file as written


def source_file(folder: Path, samples: np.ndarray, rate: int = RATE, name: str = "src.wav") -> Path:
    """A float32 wav (lossless) holding ``samples[channels, frames]``: the graph's input."""
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / name, samples.T, rate, subtype="FLOAT")
    return folder / name


def export_graph(src: Path, **params) -> Graph:
    g = Graph()
    g.path = src.parent / "g.msgpack"
    g.add("io.load", id="load", path=src.name)
    g.add("io.export", id="export", **params)
    g.connect("load", "export")
    return g


def run_export(src: Path, out_dir: Path, **params) -> Path:
    res = Executor().run(export_graph(src, **params), output_dir=out_dir)
    return Path(res["export"]["out"])


def transients(seconds: float, rate: int = RATE) -> np.ndarray:
    """A quiet pad with loud percussive hits: a high crest factor, so loud targets need the limiter."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    x = 0.05 * np.sin(2 * np.pi * 110 * t)
    rng = np.random.default_rng(7)
    for start in range(0, n - rate // 4, rate // 4):
        burst = rng.standard_normal(rate // 8) * np.exp(-np.arange(rate // 8) / (0.01 * rate))
        x[start:start + rate // 8] += 0.9 * burst / np.abs(burst).max()
    return np.stack([x, np.roll(x, 37)]).astype(np.float32) * 0.95 / np.abs(x).max()


def lufs(path: Path) -> float:
    import pyloudnorm
    data, rate = sf.read(path, always_2d=True)
    return float(pyloudnorm.Meter(rate).integrated_loudness(data))


def peak_dbfs(path: Path) -> float:
    data, _ = sf.read(path, always_2d=True)
    return float(20 * np.log10(np.abs(data).max()))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------------------------- formats
@pytest.mark.parametrize("path,params,subtype,tol", FORMATS, ids=lambda v: str(v) if isinstance(v, str) else None)
def test_every_format_reads_back_through_its_codec(tmp_path, path, params, subtype, tol):
    src = tones(1.5)
    out = run_export(source_file(tmp_path, src), tmp_path / "out", path=path, **params)
    info = sf.info(out)
    assert out.suffix in (".wav", ".flac", ".mp3", ".ogg") and out.parent == tmp_path / "out"
    assert (info.subtype, info.samplerate, info.channels, info.frames) == (subtype, RATE, 2, src.shape[1])
    data, _ = sf.read(out, always_2d=True, dtype="float64")
    if tol is not None:
        assert np.abs(data.T - src).max() <= tol * 1.000001
    else:
        assert corr(data.T, src) > LOSSY_MIN_CORR and best_lag(data[:, 0], src[0]) == 0
    assert listing(tmp_path / "out") == [out.name]          # no temporary file left behind
    assert read_tags(out)["audiochain_version"]


def test_24_bit_round_trip_is_within_one_lsb_and_stable(tmp_path):
    """float -> 24-bit within 1 LSB; a 24-bit file loaded and exported again keeps every integer."""
    # under the 0 dBTP ceiling: noise clipped at -0.01 dBFS reads +1.4 dBTP (peak_db is a true-peak ceiling)
    x = np.clip(np.random.default_rng(3).standard_normal((2, RATE)) * 0.15, -0.5, 0.5).astype(np.float32)
    first = run_export(source_file(tmp_path, x), tmp_path / "o1", path="a.wav", bit_depth="pcm24", peak_db=0.0)
    back, _ = sf.read(first, always_2d=True, dtype="float64")
    assert np.abs(back.T - x).max() <= LSB24
    ints1, _ = sf.read(first, dtype="int32")
    second = run_export(first, tmp_path / "o2", path="b.flac", bit_depth="pcm24", peak_db=0.0)
    ints2, _ = sf.read(second, dtype="int32")
    assert np.array_equal(ints1, ints2)
    assert np.all(ints1 % 256 == 0)   # 24 significant bits


def test_float32_wav_is_bit_exact_and_untouched_below_the_ceiling(tmp_path):
    x = tones(1.0, amp=0.7)
    out = run_export(source_file(tmp_path, x), tmp_path / "o", path="a.wav", bit_depth="float32", peak_db=-1.0)
    data, _ = sf.read(out, always_2d=True, dtype="float32")
    assert np.array_equal(data.T, x)


def test_mono_and_multichannel_keep_their_channels(tmp_path):
    for channels, path in ((1, "mono.mp3"), (6, "six.flac")):
        x = tones(0.5, channels=channels)
        out = run_export(source_file(tmp_path, x, name=f"src{channels}.wav"), tmp_path / "o", path=path)
        assert sf.info(out).channels == channels


def test_a_surround_wav_says_which_speaker_is_which(tmp_path):
    """A 5.1 WAV export had a plain PCM header with no channel mask: ffprobe read its layout as
    "unknown" (a DAW guesses). More than two channels now go in WAVE_FORMAT_EXTENSIBLE, tags kept."""
    import shutil
    import subprocess
    from nodeflow.audiometa import read_embedded_graph, read_tags
    out = run_export(source_file(tmp_path, tones(0.5, channels=6), name="src6.wav"), tmp_path / "o",
                     path="six.wav", loudness_lufs=-23.0)
    with open(out, "rb") as f:
        head = f.read(64)
    assert head[20:22] == b"\xfe\xff"                       # the fmt chunk's format tag: extensible
    assert read_tags(out)["loudness_integrated_lufs"] == "-23.00" and read_embedded_graph(out) is not None
    if shutil.which("ffprobe"):
        layout = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=channel_layout", "-of", "csv=p=0",
                                 str(out)], capture_output=True, text=True, timeout=60).stdout.strip()
        assert layout == "5.1"


SPEAKERS = {6: ["FL", "FR", "FC", "LFE", "BL", "BR"], 8: ["FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"]}


def _speaker_tones(channels: int) -> np.ndarray:
    """One second of a different tone on each channel (WAV order), 500 Hz apart."""
    t = np.arange(RATE) / RATE
    return np.stack([0.1 * np.sin(2 * np.pi * (300 + 500 * c) * t) for c in range(channels)]).astype(np.float32)


def _ffmpeg_speakers(path: Path, channels: int) -> list[str]:
    """Which tone ffmpeg decodes on each speaker of ``path``, named in its own (WAV) order."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-"], capture_output=True,
                         timeout=60, check=True).stdout
    y = np.frombuffer(raw, np.float32).reshape(-1, channels)
    hz = [int(np.argmax(np.abs(np.fft.rfft(y[:RATE, c])))) * RATE / len(y[:RATE]) for c in range(channels)]
    return [SPEAKERS[channels][round((f - 300) / 500)] for f in hz]


@pytest.mark.skipif(not __import__("shutil").which("ffmpeg"), reason="needs ffmpeg")
@pytest.mark.parametrize("channels", [6, 8])
def test_surround_speakers_stay_where_they_are_in_every_format(tmp_path, channels):
    """QA: a 5.1 or 7.1 Ogg export was written in WAV order where Ogg keeps Vorbis order, so ffmpeg
    played the centre on the right and the LFE on a surround (5.1 read as FL FC FR SR LFE SL) and it
    measured 3.2 LU too loud; a 7.1 WAV said "7.1 wide" (FLC, FRC) in its channel mask.  Checked with
    ffmpeg's decoder and ffprobe's layout; an Ogg made by ffmpeg loads in WAV order too."""
    x = _speaker_tones(channels)
    src = source_file(tmp_path, x, name=f"src{channels}.wav")
    for path in ("s.ogg", "s.wav", "s.flac"):
        out = run_export(src, tmp_path / "o", path=path)
        assert _ffmpeg_speakers(out, channels) == SPEAKERS[channels], path
    layout = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=channel_layout", "-of", "csv=p=0",
                             str(tmp_path / "o" / "s.wav")], capture_output=True, text=True, timeout=60).stdout.strip()
    assert layout == {6: "5.1", 8: "7.1"}[channels]
    theirs = tmp_path / "theirs.ogg"         # Vorbis order, as ffmpeg lays out its own 5.1/7.1
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-c:a", "libvorbis", str(theirs)], check=True, timeout=60)
    from nodes.io.load import load as load_node
    got = load_node.fn(path=str(theirs), ctx=Context(base_dir=tmp_path)).samples
    tone_of = [int(np.argmax(np.abs(np.fft.rfft(c[:RATE])))) for c in got]
    assert [SPEAKERS[channels][round((f - 300) / 500)] for f in tone_of] == SPEAKERS[channels]


def test_mapped_over_a_list_writes_numbered_files(tmp_path):
    src = source_file(tmp_path, tones(2.0))
    g = Graph()
    g.path = tmp_path / "g.msgpack"
    g.add("io.load", id="load", path=src.name)
    g.add("time.tokenize_window", id="win", profile="custom", unit="seconds", size=0.5, overlap=0.0)
    g.add("io.export", id="export", path="part.flac")
    g.connect("load", "win")
    g.connect("win", "export")
    res = Executor().run(g, output_dir=tmp_path / "o")
    files = [Path(p) for p in res["export"]["out"]]
    assert [f.name for f in files] == ["part_1.flac", "part_2.flac", "part_3.flac", "part_4.flac"]
    assert all(sf.info(f).frames == RATE // 2 for f in files)


# ---------------------------------------------------------------------------------------- level
@pytest.mark.parametrize("path,target,ceiling", [("a.wav", -23.0, -1.0), ("a.wav", -14.0, -1.0),
                                                 ("a.flac", -9.0, -1.0), ("a.wav", -12.0, -6.0),
                                                 ("a.mp3", -14.0, -1.0), ("a.ogg", -16.0, -1.0)])
@pytest.mark.parametrize("signal", ["tones", "transients"])
def test_loudness_lands_within_half_an_lu_under_the_ceiling(tmp_path, path, target, ceiling, signal):
    x = tones(4.0) if signal == "tones" else transients(4.0)
    out = run_export(source_file(tmp_path, x), tmp_path / "o", path=path, loudness_lufs=target, peak_db=ceiling)
    assert lufs(out) == pytest.approx(target, abs=LOUDNESS_TOL_LU)
    assert peak_dbfs(out) <= ceiling          # lossy too: the decoded file is checked and re-encoded


def test_the_limiter_is_needed_and_holds_the_ceiling(tmp_path):
    """-9 LUFS on transients is impossible by gain alone under -1 dBFS: the limiter must work."""
    x = transients(4.0)
    plain = run_export(source_file(tmp_path, x), tmp_path / "o1", path="a.wav", bit_depth="float32",
                       peak_db=0.0)
    gain_needed = -9.0 - lufs(plain)
    assert 20 * np.log10(np.abs(x).max()) + gain_needed > 3.0   # plain gain would clip by > 3 dB
    out = run_export(source_file(tmp_path, x), tmp_path / "o2", path="a.wav", bit_depth="pcm24",
                     loudness_lufs=-9.0, peak_db=-1.0)
    assert lufs(out) == pytest.approx(-9.0, abs=LOUDNESS_TOL_LU)
    ints, _ = sf.read(out, dtype="int32")
    assert np.abs(ints.astype(np.int64) >> 8).max() <= 2 ** 23 * 10 ** (-1 / 20)


def test_lossy_codec_overshoot_is_caught_and_reencoded(tmp_path):
    """mp3 turns limited percussive hits into peaks above the ceiling; the export checks its decode."""
    x = transients(3.0)
    for path in ("a.mp3", "a.ogg"):
        out = run_export(source_file(tmp_path, x), tmp_path / "o", path=path, peak_db=-1.0)
        assert peak_dbfs(out) <= -1.0
        assert peak_dbfs(out) > -3.0             # held near the ceiling, not turned down wholesale


@pytest.mark.parametrize("bit_depth", ["pcm16", "pcm24", "float32"])
def test_peak_ceiling_without_a_loudness_target(tmp_path, bit_depth):
    x = tones(1.0, amp=1.0)                      # full scale
    out = run_export(source_file(tmp_path, x), tmp_path / "o", path="a.wav", bit_depth=bit_depth, peak_db=-3.0)
    assert peak_dbfs(out) <= -3.0
    assert peak_dbfs(out) > -3.5                 # limited, not turned down wholesale
    data, _ = sf.read(out, always_2d=True)
    quiet = np.abs(x).max(axis=0) < 10 ** (-3.0 / 20) * 0.5
    assert np.abs(data.T[:, quiet] - x[:, quiet]).max() < 0.5 * np.abs(x).max() * (1 - 10 ** (-3 / 20))


def test_a_loudness_beyond_the_ceiling_is_one_clear_error_and_no_file(tmp_path):
    with pytest.raises(ExecutionError, match=r"loudness_lufs=-3 cannot be reached under peak_db=-20 dBTP on this "
                                             r"audio: .* reaches about -2\d\.\d LUFS( once [^;]+ is allowed for)?; "
                                             r"lower loudness_lufs to -2\d\.\d or raise"):
        run_export(source_file(tmp_path, transients(2.0)), tmp_path / "o", path="a.wav",
                   loudness_lufs=-3.0, peak_db=-20.0)
    assert not (tmp_path / "o").exists() or listing(tmp_path / "o") == []


@pytest.mark.parametrize("path, loudness, first", [("a.flac", -14.0, "mastering to -14 LUFS, -1 dBTP"),
                                                   ("a.wav", None, "encoding WAV")])
def test_the_export_says_what_it_is_doing_as_it_goes(tmp_path, path, loudness, first):
    """QA: a 7-minute export showed 'running' and an empty bar for 20 s."""
    said = []
    ctx = Context("export", emit=lambda kind, node_id, **kw: said.append(kw) if kind == "progress" else None,
                  base_dir=tmp_path, output_dir=tmp_path / "o")
    export.fn(Audio(tones(2.0), RATE), path=path, ctx=ctx,
              **{**{k: export.params[k].default for k in export.params if k != "path"}, "loudness_lufs": loudness})
    steps = [(kw["done"], kw["total"], kw["message"]) for kw in said]
    assert steps[0] == (0 if loudness is not None else 60, 100, first), steps
    assert [m for _, _, m in steps if m in ("encoding FLAC", "encoding WAV", "measuring the file")]
    assert [d for d, _, _ in steps] == sorted(d for d, _, _ in steps), "the bar went back"
    assert "LUFS" in steps[-2][2] and "dBTP" in steps[-2][2], steps      # the file's loudness and true peak
    assert steps[-1][:2] == (100, 100)


# ---------------------------------------------------------------------------------------- safety
def test_failure_mid_write_leaves_no_partial_file_and_the_old_file_untouched(tmp_path):
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    (out_dir / "a.wav").write_bytes(b"yesterday's master")
    cancel = threading.Event()

    def emit(kind, node_id, **kw):   # cancel once the codec has written the temporary file
        if kind == "progress" and kw["message"] == "measuring the file":
            cancel.set()

    ctx = Context("export", emit=emit, cancel_event=cancel, base_dir=tmp_path, output_dir=out_dir)
    with pytest.raises(Cancelled):
        export.fn(Audio(tones(1.0), RATE), path="a.wav", ctx=ctx,
                  **{k: export.params[k].default for k in export.params if k != "path"})
    assert listing(out_dir) == ["a.wav"]
    assert (out_dir / "a.wav").read_bytes() == b"yesterday's master"


def test_an_existing_output_is_replaced_whole(tmp_path):
    src = source_file(tmp_path, tones(1.0))
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "a.flac").write_bytes(b"old" * 1000)
    out = run_export(src, tmp_path / "o", path="a.flac")
    assert sf.info(out).frames == RATE and listing(tmp_path / "o") == ["a.flac"]


def test_a_path_set_from_python_that_replaces_a_file_audiochain_did_not_export_says_so(tmp_path):
    """QA68 D10: a typo in ``export(path=...)`` from Python replaced a 12 s recording without a word (a path
    the user sets is theirs, so it is written; the run now says what it replaced)."""
    import warnings

    from nodeflow.errors import AudioChainWarning
    from nodes.dsp.basic import gain
    take = tmp_path / "my_take.wav"
    sf.write(take, tones(2.0).T, RATE)
    chain = gain(gain_db=-1.0) | export(path="my_take.wav")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chain.invoke((tones(0.5), RATE), output_dir=tmp_path)
    said = [str(w.message) for w in caught if issubclass(w.category, AudioChainWarning)]
    assert len(said) == 1 and f"{take}: replaced a file AudioChain did not export" in said[0], said
    assert sf.info(take).frames == RATE // 2
    with warnings.catch_warnings(record=True) as caught:        # its own export, replaced again: nothing to say
        warnings.simplefilter("always")
        chain.invoke((tones(0.5), RATE), output_dir=tmp_path)
    assert not [w for w in caught if "did not export" in str(w.message)]


def test_refuses_to_overwrite_an_input_file_of_the_graph(tmp_path):
    src = source_file(tmp_path, tones(1.0))
    before = src.read_bytes()
    os.link(src, tmp_path / "alias.wav")          # the same file under another name
    for path in ("src.wav", str(src), "alias.wav"):
        with pytest.raises((ExecutionError, GraphError), match="overwrite an input file of this graph") as e:
            run_export(src, tmp_path, path=path)
        # the link is named as the input's other name (QA91 D3: "(alias.wav, which ... reads)" named only the link)
        assert (f"the same file as {src}, which" in str(e.value)) == (path == "alias.wav"), str(e.value)
    assert src.read_bytes() == before
    assert sorted(listing(tmp_path)) == ["alias.wav", "src.wav"]


def test_validate_says_a_saved_path_linked_to_an_input_overwrites_it_and_offers_no_flag(tmp_path, capsys):
    """QA94 D5: a graph whose saved export path is a hard link to its input was told by validate "would
    replace alias.wav, an existing file AudioChain did not export; ... --allow-outside", and the run given
    that flag was then refused for overwriting an input.  validate says that refusal, and only it."""
    from nodeflow import save
    from nodeflow.cli import main
    src = source_file(tmp_path, tones(1.0))
    os.link(src, tmp_path / "alias.wav")
    save(export_graph(src, path="alias.wav"), tmp_path / "g.msgpack")
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "g.msgpack"), "-o", str(tmp_path)]) == 1
    said = capsys.readouterr().out
    assert "would overwrite an input file of this graph" in said and f"the same file as {src}" in said, said
    assert "allow-outside" not in said and "did not export" not in said, said


def test_impossible_params_give_one_clear_error_and_write_nothing(tmp_path):
    src = source_file(tmp_path, tones(0.5))
    mono96 = source_file(tmp_path, tones(0.5, rate=96000, channels=1), 96000, name="hi.wav")
    cases = [
        (src, dict(path="a.flac", bit_depth="float32"), ParameterError, "flac stores 16- or 24-bit integers"),
        (src, dict(path="a.wav", format="mp3"), ParameterError, r"format=mp3 but path='a.wav' ends in \.wav"),
        (src, dict(path="a.aiff"), ParameterError, "cannot tell the format from '.aiff'"),
        (src, dict(path="noext"), ParameterError, "a name without extension"),
        (mono96, dict(path="a.mp3"), AudioError, r"mp3 supports sample rates .* \(got 96000\); set this "
         r"export.s sample_rate to 48000 \(or export flac\)"),
        (src, dict(path="  "), ParameterError, "path is empty"),
        # a folder (named with a trailing slash, or existing) is refused; it used to write "<folder>.wav" beside it
        (src, dict(path="takes/", format="wav"), AudioError, r"path='takes/' names a folder; give a file name, e\.g\. takes/out\.wav"),
        (src, dict(path=str(tmp_path), format="flac"), AudioError, "names a folder"),
    ]
    # a name or format that cannot work is refused by validation, before anything runs (the node's
    # own check, shared through io.export's preflight, and the rate the input's header gives); what
    # needs the audio fails in the node
    before_run = {"a.wav", "a.aiff", "noext", "  ", "a.mp3", "takes/", "a.flac", str(tmp_path)}   # (a folder: validate)
    for s, params, kind, message in cases:
        with pytest.raises(GraphError if params["path"] in before_run else ExecutionError, match=message) as info:
            run_export(s, tmp_path / "o", **params)
        assert params["path"] in before_run or isinstance(info.value.__cause__, kind)
        assert "node 'export'" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ParameterError, match="peak_db"):
        export_graph(src, path="a.wav", peak_db=3.0)           # out of range: refused when set
    assert not (tmp_path / "o").exists() or listing(tmp_path / "o") == []
    assert not (tmp_path / "o" / "takes.wav").exists() and not (tmp_path.parent / f"{tmp_path.name}.flac").exists()


@pytest.mark.parametrize("rate, path, message", [
    (2000, "low.wav", r"the audio is at 2000 Hz, and an export is 8000 Hz or more \(its loudness and true peak are "
                      r"metered per BS.1770, whose filters need that\); set this export.s sample_rate to 48000"),
    (250000, "hi.ogg", r"ogg stores at most 192000 Hz \(got 250000\); set this export.s sample_rate to 96000 \(or "
                       r"export wav\)"),
    (705600, "hi.flac", r"flac stores at most 655350 Hz \(got 705600\); set this export.s sample_rate to 88200"),
])
def test_a_rate_no_export_can_write_is_refused_before_the_run(tmp_path, rate, path, message):
    """QA41: at 2 kHz the loudness filters blew up (numpy overflow warnings, then "the audio is silent"
    for a loud take); flac at 1 GHz failed at write time quoting a temp file; and libsndfile's vorbis
    encoder crashes the process (SIGSEGV) above about 200 kHz."""
    src = source_file(tmp_path, tones(0.5, rate=rate, channels=1), rate, name="src.wav")
    with pytest.raises(GraphError, match=message) as info:
        run_export(src, tmp_path / "o", path=path)
    assert "\n" not in str(info.value) and not (tmp_path / "o" / path).exists()


def test_impossible_params_through_the_cli_are_one_error_line(tmp_path, capsys):
    g = export_graph(source_file(tmp_path, tones(0.5)), path="a.flac", bit_depth="float32")
    save(g, tmp_path / "g.msgpack")
    assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "o"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: node 'export' (io.export): bit_depth=float32")   # before it ran
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "o" / "a.flac").exists()


# ---------------------------------------------------------------------------------------- provenance
@pytest.mark.parametrize("path", ["song.wav", "song.flac", "song.mp3", "song.ogg"])
def test_embedded_graph_reopens_as_the_same_graph(tmp_path, path):
    src = source_file(tmp_path, tones(1.0))
    g = export_graph(src, path=path, loudness_lufs=-16.0)
    g.add("dsp.gain", id="gain", gain_db=-2.5)
    g.disconnect("export.audio")
    g.connect("load", "gain")
    g.connect("gain", "export")
    g.metadata = {"title": "take 3", "description": "äöü ♪"}
    g.editor = {"positions": {"load": [10.0, 20.0]}}
    save(g, tmp_path / "g.msgpack")
    out = run_export_graph(g, tmp_path)              # written beside the graph file
    again = loads(read_embedded_graph(out), str(out))
    assert again == g
    assert load(out) == g                            # load() opens audio files too


def run_export_graph(g: Graph, out_dir: Path) -> Path:
    res = Executor().run(g, output_dir=out_dir)
    return Path(res["export"]["out"])


def test_exported_file_elsewhere_reruns_and_extracts_with_the_same_inputs(tmp_path, capsys):
    proj = tmp_path / "proj"
    src = source_file(proj / "takes", tones(1.0))
    g = Graph()
    g.path = proj / "g.msgpack"
    g.add("io.load", id="load", path="takes/src.wav")
    g.add("dsp.gain", id="gain", gain_db=-4.0)
    g.add("io.export", id="export", path="song.flac")
    g.connect("load", "gain")
    g.connect("gain", "export")
    save(g, g.path)
    far = tmp_path / "renders" / "monday"
    assert main(["run", str(g.path), "-o", str(far), "-q"]) == 0
    song = far / "song.flac"
    # the embedded graph points at the same input from the exported file's folder
    assert load(song).input_files()[("load", "path")].resolve() == src.resolve()
    capsys.readouterr()
    assert main(["extract", str(song)]) == 0
    shown = capsys.readouterr().out
    assert "gain_db=-4.0 dB" in shown and "io.export" in shown
    assert main(["extract", str(song), "-o", str(tmp_path / "back.msgpack")]) == 0
    back = load(tmp_path / "back.msgpack")
    assert back.nodes["gain"].params == g.nodes["gain"].params and back.links == g.links
    assert back.input_files()[("load", "path")].resolve() == src.resolve()
    # `audiochain run song.flac` renders the same audio again (flac: bit for bit)
    assert main(["run", str(song), "-o", str(tmp_path / "again"), "-q"]) == 0
    assert np.array_equal(sf.read(tmp_path / "again" / "song.flac", dtype="int32")[0], sf.read(song, dtype="int32")[0])
    # ... but never over itself
    assert main(["run", str(song), "-o", str(far), "-q"]) == 1
    assert "refusing to overwrite the file this graph was opened from" in capsys.readouterr().err


def test_embed_graph_off_and_extract_of_a_plain_file(tmp_path, capsys):
    out = run_export(source_file(tmp_path, tones(0.5)), tmp_path / "o", path="a.ogg", embed_graph=False)
    assert read_embedded_graph(out) is None
    assert main(["extract", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {out}: holds no AudioChain graph (was it exported with embed_graph on?)"]


def test_extract_as_a_real_process(tmp_path):
    g = export_graph(source_file(tmp_path, tones(0.5)), path="x.mp3")
    save(g, tmp_path / "g.msgpack")
    out = run_export_graph(g, tmp_path)
    exe = ROOT / ".venv" / "bin" / "audiochain"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "nodeflow.cli"]
    p = subprocess.run(cmd + ["extract", str(out), "-o", str(tmp_path / "x.msgpack")], capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert load(tmp_path / "x.msgpack") == g


# ---------------------------------------------------------------------------------------- mastering maths
@pytest.mark.parametrize("rate,channels,seconds", [(44100, 2, 3.0), (48000, 1, 0.4), (32000, 5, 7.3),
                                                   (22050, 2, 1.2345), (8000, 1, 13.0)])
def test_streamed_loudness_equals_libebur128(rate, channels, seconds):
    """The meter is libebur128's (the reference; pyloudnorm, the old reference, reads up to 0.11 LU low)."""
    pyebur128 = pytest.importorskip("pyebur128")

    from nodes.io._master import integrated_lufs
    n = round(rate * seconds)
    x = np.random.default_rng(channels).standard_normal((channels, n)) * np.linspace(0.001, 0.3, n)
    x[:, :n // 3] *= 1e-4                        # a quiet third: the gates have work to do
    state = pyebur128.R128State(channels, rate, pyebur128.MeasurementMode.MODE_I)
    state.add_frames(np.ascontiguousarray(x.T).ravel(), n)
    assert integrated_lufs(x, rate) == pytest.approx(pyebur128.get_loudness_global(state), abs=1e-6)


def test_limiting_and_loudness_do_not_depend_on_the_block_size(monkeypatch):
    from nodes.io import _limiter, _master
    x = transients(7.0)                           # longer than one block (2^18 frames)
    whole = _master.master(x, RATE, -9.0, 10 ** (-1 / 20))
    reference, gain = whole.array(), whole.gain
    monkeypatch.setattr(_limiter, "BLOCK", 9973)  # a prime: block edges fall everywhere
    small = _master.Mastered(x, RATE, whole.ceiling, gain)   # the limiter's own target (true-peak passes)
    small.knee = whole.knee                                  # and the fast-stage knee the search chose
    # cumsum rounding only, which can flip the float32 gain by one step (~6e-8: under a 24-bit step)
    np.testing.assert_allclose(small.array(), reference, rtol=0, atol=1.2e-7)
    assert small.loudness() == pytest.approx(whole.loudness(), abs=1e-9)
    assert np.abs(reference).max() <= 10 ** (-1 / 20)


def test_re_mastering_the_same_audio_reuses_its_measurement_and_matches_a_fresh_one(monkeypatch):
    """Tweaking export settings on a cached output measures the audio once; the results are the same
    as a fresh measurement, limited (memoised blocks) or not, and the memo dies with the array."""
    import gc

    from nodes.io import _energies, _limiter, _master
    x = transients(3.0)
    x.setflags(write=False)                       # as Audio keeps its samples
    calls = []
    real = _limiter._metered
    monkeypatch.setattr(_limiter, "_metered", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = _master.master(x, RATE, -20.0, 10 ** (-1 / 20))
    n_first = len(calls)
    again = _master.master(x, RATE, -20.0, 10 ** (-1 / 20))
    assert n_first >= 1 and len(calls) - n_first == n_first - 1   # only the plain measurement is remembered
    np.testing.assert_array_equal(again.array(), first.array())
    fresh = _master.master(x.copy(), RATE, -9.0, 10 ** (-1 / 20))          # limiting: blocks kept for the write
    limited = _master.master(x, RATE, -9.0, 10 ** (-1 / 20))
    np.testing.assert_array_equal(limited.array(), fresh.array())
    assert _master.integrated_lufs(limited.array(), RATE) == pytest.approx(-9.0, abs=0.05)
    key = id(x)
    assert key in _energies._ENERGIES
    del x, first, again, limited
    gc.collect()
    assert key not in _energies._ENERGIES or _energies._ENERGIES[key][0]() is not None


def test_an_array_freed_by_the_garbage_collector_while_the_memo_is_locked_never_hangs(monkeypatch):
    """ci92: an export hung for ten minutes.  The memo's lock is held while it stores an entry; any
    allocation there may run the garbage collector, which frees an array in a reference cycle and calls
    its weak reference's callback, on the same thread: it waited for the lock that thread held."""
    import gc
    import threading

    from nodes.io import _energies
    rate = 48000
    cyclic = np.zeros((1, 4800), np.float32)
    holder: list = [cyclic]
    holder.append(holder)                        # only the collector frees it
    _energies.remember(cyclic, rate, (np.zeros(3), None))
    key = id(cyclic)
    del cyclic, holder
    real = _energies._evict
    monkeypatch.setattr(_energies, "_evict", lambda: (gc.collect(), real()))   # collected under the lock
    done = threading.Event()
    other = np.zeros((1, 4800), np.float32)
    threading.Thread(target=lambda: (_energies.remember(other, rate, (np.zeros(3), None)), done.set()),
                     daemon=True).start()
    assert done.wait(20), "storing an entry hung on the collector's callback"
    assert _energies.remembered(other, rate) is not None
    assert key not in _energies._ENERGIES         # the freed array's entry went when the lock was next taken


@pytest.mark.parametrize("meter", ["foo", "7/9", "0/4", "3 4", "99/4", "6/08", "+6/8", "\u0663/\u0664"])
def test_a_meter_no_daw_can_read_is_refused_before_anything_runs(tmp_path, meter):
    """foo, 0/4 and '3 4' were dropped without a word; 7/9 and 99/4 were written into the file as typed."""
    g = Graph()
    src = g.add("dsp.gain", id="gain")
    e = g.add("io.export", id="export", path="x.wav", meter=meter)
    g.connect(src.out, e.audio)
    said = [p for p in g.problems(output_dir=tmp_path) if "meter=" in p]
    assert len(said) == 1 and said[0].startswith(f"node 'export' (io.export): meter={meter!r}: expected"), said
    with pytest.raises(ParameterError, match="meter="):
        export.fn(Audio(np.zeros((1, 4800), np.float32), 48000), path="y.wav", meter=meter,
                  ctx=Context(output_dir=tmp_path))
    assert not list(tmp_path.iterdir())


def test_validate_finds_what_the_export_would_refuse(tmp_path, capsys):
    """QA: validate said ok (rc 0) for a float flac, 5.1 into mp3 and a loudness target on a 0.3 s
    clip, each refused by run; now validate names them, with run's words."""
    src = source_file(tmp_path, tones(0.3, channels=6), name="short6.wav")
    cases = {"a.flac": (dict(bit_depth="float32"), "bit_depth=float32: flac stores 16- or 24-bit integers"),
             "b.mp3": ({}, "mp3 holds at most 2 channels (got 6); mix down first or export wav"),
             "c.wav": (dict(loudness_lufs=-14.0), "loudness_lufs needs at least 0.4 s of audio to measure "
                                                  "(got 0.300 s)")}
    for path, (params, said) in cases.items():
        g = export_graph(src, path=path, **params)
        save(g, tmp_path / "g.msgpack")
        assert main(["validate", str(tmp_path / "g.msgpack")]) == 1
        assert said in capsys.readouterr().out, path
    save(export_graph(src, path="d.wav"), tmp_path / "g.msgpack")
    assert main(["validate", str(tmp_path / "g.msgpack")]) == 0


def test_a_full_disk_is_said_in_words_with_the_fix(tmp_path, monkeypatch):
    """QA (a 3 MiB tmpfs): libsndfile's "System error." was the whole reason given."""
    import collections
    import shutil

    import soundfile
    src = source_file(tmp_path, tones(0.5))

    def no_room(self, data):
        raise soundfile.LibsndfileError(2, "System error.")
    monkeypatch.setattr(soundfile.SoundFile, "write", no_room)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: collections.namedtuple("u", "total used free")(1, 1, 0))
    with pytest.raises(ExecutionError, match=r"could not write wav \(PCM_24, 44100 Hz, 2 ch\): the disk is full; free "
                                             r"some space or choose another folder"):
        run_export(src, tmp_path / "o", path="a.wav")
    assert not (tmp_path / "o").exists() or listing(tmp_path / "o") == []


@pytest.mark.parametrize("name", ["take.wav", "take.ogg"])
def test_a_disk_that_fills_as_the_tags_are_written_names_the_file_being_made(tmp_path, monkeypatch, name):
    """QA51: the disk filled after the audio, as the tags went in: the line named the hidden temp file
    (".take.wav.12134-m1yssrn8.tmp.wav") and gave "[Errno 28] No space left on device", no fix."""
    import errno

    from nodeflow import riff, xiph
    src = source_file(tmp_path, tones(0.5))

    def no_room(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(riff, "write_wav", no_room)
    monkeypatch.setattr(xiph, "write_xiph", no_room)
    with pytest.raises(ExecutionError) as e:
        run_export(src, tmp_path / "o", path=name)
    assert str(e.value).endswith(f"{tmp_path / 'o' / name}: could not write its tags, markers and graph: the disk is "
                                 "full; free some space or choose another folder"), str(e.value)
    assert not (tmp_path / "o").exists() or listing(tmp_path / "o") == []


@pytest.mark.parametrize("path, said", [("..\\..\\winrel.wav", "backslashes (a Windows path); write / between "
                                                               "folders, e.g. 'winrel.wav'"),   # (QA63 D4: '../..'
                                        ("mixes\\take 1.wav", "e.g. 'mixes/take 1.wav'"),      # was refused in turn)
                                        ("C:\\Windows\\x.wav", "e.g. 'Windows/x.wav'"),
                                        ("$HOME/x.wav", "holds '$HOME', which is not expanded"),
                                        ("${OUT}/x.wav", "holds '${OUT}', which is not expanded"),
                                        ("file:///tmp/x.wav", "is a URL")])
def test_a_path_written_for_another_system_is_refused_before_the_run(tmp_path, path, said):
    """QA: a graph from Windows wrote files named '..\\..\\winrel.wav'; '$HOME/x.wav' and 'file:///tmp/x.wav'
    made folders named '$HOME' and 'file:' (inside the output folder, but not what anyone meant)."""
    from nodeflow import Graph
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("io.export", id="export", path=path)
    g.connect("load", "export")
    found = [p for p in g.problems() if said in p]
    assert len(found) == 1 and found[0].startswith(f"node 'export' (io.export): path={path!r}"), g.problems()
    assert not any(":" in p.name or "$" in p.name or "\\" in p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize("path", ["Ke$ha - Tik Tok.wav", "A$AP Rocky - Praise.wav", "Ty Dolla $ign.wav", "mix %A% B.wav",
                                  "100%.wav", "take $5 mix.wav", "Beyoncé — Halo.wav", "C#minor.wav"])
def test_names_with_dollar_and_percent_signs_are_names(tmp_path, path):
    """QA: the check for unexpanded variables refused artists' names (Ke$ha, A$AP Rocky, Ty Dolla $ign)."""
    from nodeflow import Graph
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("io.export", id="export", path=path)
    g.connect("load", "export")
    assert not [p for p in g.problems() if "export" in p and "load" not in p.split(":")[0]], g.problems()


def test_audio_past_what_a_wav_holds_is_refused_before_a_byte_is_written():
    """QA: 45 min of 5.1 at 96 kHz in float32 (6.2 GB) was written as a WAV whose RIFF size said
    0xFFFFFFFF, which libsndfile (and AudioChain's own load) read as 31 of its 45 minutes."""
    from nodeflow.costs import Shape
    from nodes.io.export import _estimate
    params = {k: export.params[k].default for k in export.params}
    big = Shape(frames=96000 * 45 * 60, channels=6, rate=96000)
    said = _estimate({"audio": big}, dict(params, path="big.wav", bit_depth="float32"))["out"].problem
    assert said == ("5.8 GiB of audio is more than a WAV file holds (4 GiB); export flac (path=....flac), lower the "
                    "bit depth or the sample rate, or cut the audio into parts")
    assert _estimate({"audio": big}, dict(params, path="big.flac"))["out"].problem == ""
    assert _estimate({"audio": Shape(frames=96000 * 30 * 60, channels=6, rate=96000)},
                     dict(params, path="ok.wav", bit_depth="pcm24"))["out"].problem == ""


def test_16_bit_dither_keeps_digital_silence_and_differs_between_files(tmp_path):
    """QA: with dither, 2 s of digital silence came out as +-1 LSB noise, and every file got the same
    dither sequence (summed 16-bit stems carried it 3 dB louder than independent dither would)."""
    t = np.arange(RATE) / RATE
    x = np.concatenate([np.zeros(RATE), 0.1 * np.sin(2 * np.pi * 440 * t), np.zeros(RATE)]).astype(np.float32)
    ctx = Context("export", output_dir=tmp_path)
    got = {}
    for name in ("drums.wav", "bass.wav"):
        export.fn(Audio(x, RATE), path=name, bit_depth="pcm16", dither=True, loudness_lufs=None, peak_db=0.0, ctx=ctx)
        got[name] = sf.read(tmp_path / name, dtype="int16")[0].astype(np.float64)
    for y in got.values():
        assert not y[:RATE].any() and not y[2 * RATE:].any()        # the silences, sample for sample
    errors = [got[n][RATE:2 * RATE] - x[RATE:2 * RATE] * 32768 for n in got]
    assert 0.15 < float(np.var(errors[0])) < 0.35                     # TPDF: 1/12 + 2/12 of an LSB squared
    assert abs(float(np.corrcoef(errors[0], errors[1])[0, 1])) < 0.1  # independent between files
    # a resampler's 1e-16 residue in the silence is silence too; a render is the same in any folder
    y = x.copy()
    y[:RATE] = 1e-16
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    for folder in ("v1", "v2"):
        export.fn(Audio(y, RATE), path=f"{folder}/take.wav", bit_depth="pcm16", dither=True, loudness_lufs=None,
                  peak_db=0.0, ctx=ctx)
    a, b = (sf.read(tmp_path / f / "take.wav", dtype="int16")[0] for f in ("v1", "v2"))
    assert not a[:RATE].any() and np.array_equal(a, b)


def test_without_a_limiter_stems_sum_to_their_mix_and_overs_are_kept_or_refused(tmp_path):
    """QA: peak_db could not be turned off, so float32 stems were limited (a drum stem changed by up to
    0.21) and the stem files no longer summed to the mix file.  ``peak_db=None`` writes the audio as it
    is (one gain to a loudness target, if any): float32 keeps overs, integer PCM refuses them."""
    rng = np.random.default_rng(5)
    t = np.arange(2 * RATE) / RATE
    drums = (np.sin(2 * np.pi * 60 * t) * np.exp(-(t % 0.5) * 12) * 0.99).astype(np.float32)     # near full scale
    bass = (0.6 * np.sin(2 * np.pi * 55 * t)).astype(np.float32)
    keys = (0.3 * rng.standard_normal(len(t)) * np.exp(-(t % 0.25) * 20)).astype(np.float32)
    mix = drums + bass + keys                                                                   # peaks over 1.0
    ctx = Context("export", output_dir=tmp_path)
    for name, x in (("drums", drums), ("bass", bass), ("keys", keys), ("mix", mix)):
        export.fn(Audio(x, RATE), path=f"{name}.wav", bit_depth="float32", peak_db=None, embed_graph=False, ctx=ctx)
    read = {n: sf.read(tmp_path / f"{n}.wav", dtype="float32")[0] for n in ("drums", "bass", "keys", "mix")}
    assert np.array_equal(read["drums"], drums) and np.abs(read["mix"]).max() > 1.0
    assert np.abs(read["drums"] + read["bass"] + read["keys"] - read["mix"]).max() < 1e-6
    with pytest.raises(AudioError, match=r"peak_db is empty \(no limiter\) and the audio peaks at \+[\d.]+ dBFS, over "
                                         r"what wav 24-bit stores; export 32-bit float wav"):
        export.fn(Audio(mix, RATE), path="mix24.wav", bit_depth="pcm24", peak_db=None, ctx=ctx)
    assert not (tmp_path / "mix24.wav").exists()
    for lossy in ("bass.mp3", "bass.ogg"):     # (QA: a source at 1.0 decoded at 1.012 with no limiter)
        with pytest.raises(AudioError, match=r"peak_db is empty \(no limiter\), and (mp3|ogg) cannot be written so"):
            export.fn(Audio(bass, RATE), path=lossy, peak_db=None, ctx=ctx)
        assert not (tmp_path / lossy).exists()
    sf.write(tmp_path / "bass_in.wav", bass, RATE)             # and refused before a run, as validate says
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "bass_in.wav"))
    g.add("io.export", id="export", path="bass.mp3", peak_db=None)
    g.connect("load", "export")
    assert any("peak_db is empty (no limiter), and mp3 cannot be written so" in p
               for p in g.problems(output_dir=tmp_path / "o")), g.problems(output_dir=tmp_path / "o")
    out = export.fn(Audio(bass, RATE), path="bass_-20.flac", loudness_lufs=-20.0, peak_db=None, ctx=ctx)
    from nodes.io._loudness import measure_file
    y = sf.read(out, dtype="float64")[0]
    assert measure_file(out).integrated_lufs == pytest.approx(-20.0, abs=0.05)
    assert np.corrcoef(y, bass)[0, 1] > 0.99999                       # one gain, nothing else


def test_a_master_keeps_no_copy_of_its_input_once_it_ends(tmp_path):
    """QA97 D4: each master of a value the run kept left the K-weighted copy of that value in memory (as large
    as the value, up to 256 MiB a process, counted by no estimate): three masters in a row under a memory
    limit of 532 MiB took 682 MiB.  The copy is shared only while a master holds it."""
    import gc
    import tracemalloc
    rng = np.random.default_rng(3)
    t = np.arange(30 * RATE) / RATE
    x = (0.3 * np.sin(2 * np.pi * 110 * t) + 0.2 * rng.standard_normal(t.size) * (t % 0.5 < 0.05)).astype(np.float32)
    audio = Audio(np.stack([x, 0.9 * x]), RATE)            # held by the caller, as a run holds a value it keeps
    args = {k: export.params[k].default for k in export.params}
    warm = Audio(np.stack([x[:5 * RATE]] * 2).copy(), RATE)            # what the first export imports: not counted
    export.fn(warm, ctx=Context(output_dir=tmp_path), **{**args, "path": "warm.wav", "loudness_lufs": -12.0})
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for target in (-12.0, -10.0):                         # the second reuses what the first measured, or not
            export.fn(audio, ctx=Context(output_dir=tmp_path), **{**args, "path": f"m{-target:.0f}.wav",
                                                                  "loudness_lufs": target})
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < audio.samples.nbytes // 8, (kept, audio.samples.nbytes)
    assert sf.info(str(tmp_path / "m12.wav")).frames == sf.info(str(tmp_path / "m10.wav")).frames == x.size
