"""dsp.highpass takes a DC offset out before a master, and io.export says when a master carries one
(QA51: a +0.3 offset went into the master scaled by the loudness gain, clicked where the file ends,
and kept -14 LUFS out of reach without a word on why).  Checked on the written files with ffmpeg's
astats (DC offset) and ebur128 (loudness, true peak)."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Audio, Executor, Graph, save
from nodeflow.cli import main
from nodeflow.streaming import Stream
from nodes.dsp.filters import _Filter, highpass
from tests.nodes._io_helpers import needs_ffmpeg
from tests.nodes._signals import music, rms_db, sine

RATE = 44100


def ffmpeg_stats(path) -> tuple[float, float, float]:
    """(DC offset, integrated LUFS, true peak dBTP) of a file as ffmpeg decodes and measures it."""
    p = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", str(path), "-af",
                        "astats=measure_perchannel=none,ebur128=peak=true", "-f", "null", "-"],
                       capture_output=True, text=True, check=True)
    dc = float(re.findall(r"DC offset:\s+(-?[\d.e+-]+)", p.stderr)[-1])
    summary = p.stderr[p.stderr.rindex("Summary:"):]
    return (dc, float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),
            float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1)))


def with_dc(tmp_path, dc: float, rate: int = RATE):
    """Kicks on every beat of 133 bpm and a chord stab on every bar, peaks at 0.7 between silences,
    stereo, sitting ``dc`` above zero (a bad converter, a DC-coupled synth)."""
    n, beat = round(8.0 * rate), 60 / 133.0
    x = np.zeros(n)
    t = np.arange(round(0.3 * rate)) / rate
    kick = np.sin(2 * np.pi * (55 * t + 3 * (1 - np.exp(-t * 25)))) * np.exp(-t * 14)
    stab = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3 * np.exp(-t * 9)
    for i in range(int(8.0 / beat)):
        a = round(i * beat * rate)
        hit = kick if i % 4 else kick + stab
        x[a:a + len(hit)] += hit[:max(0, n - a)]
    x = x / np.abs(x).max() * 0.7
    path = tmp_path / f"dc{dc:+}.wav"
    sf.write(path, np.stack([x, np.roll(x, 31)]).T + dc, rate, subtype="FLOAT")
    return path


def test_the_filter_takes_dc_out_from_the_first_sample_and_keeps_the_music():
    piece = music(127.3, 3, 6.0, 48000, seed=2)
    x = piece.replace(piece.samples * 0.5 + np.float32(0.3))
    y = highpass.fn(x, cutoff_hz=20.0, order=2).samples
    assert np.abs(y.mean(axis=1)).max() < 1e-3                      # the offset is gone
    assert np.abs(y[:, 0]).max() < 1e-6                              # no step where it starts
    assert abs(rms_db(y) - rms_db(piece.samples * 0.5)) < 0.2         # the music is as loud as before
    tone = sine(440.0, 2.0, 48000, amp=0.5).samples
    assert abs(rms_db(highpass.fn(Audio(tone, 48000), cutoff_hz=20.0).samples[:, 4800:]) - rms_db(tone)) < 0.01
    rumble = sine(8.0, 4.0, 48000, amp=0.5).samples                  # 8 Hz: well below 20 Hz, cut
    assert rms_db(highpass.fn(Audio(rumble, 48000), cutoff_hz=20.0, order=4).samples[:, 24000:]) < rms_db(rumble) - 25


def test_block_by_block_is_bit_identical_to_whole():
    x = music(141.0, 7, 5.0, 22050, seed=1)
    x = x.replace(x.samples + np.float32(-0.2))
    whole = highpass.fn(x, cutoff_hz=35.0, order=3).samples
    for block in (1, 777, 65536):
        f = _Filter(x.sample_rate, 35.0, 3)
        assert np.array_equal(np.concatenate([f(b) for b in Stream.of(x, block=block).blocks], axis=1), whole)


def graph(source, *, filtered: bool, **export):
    g = Graph()
    g.add("io.load", id="load", path=str(source))
    last = "load"
    if filtered:
        g.add("dsp.highpass", id="hp")
        g.connect("load", "hp")
        last = "hp"
    g.add("io.export", id="export", path="master.wav", peak_db=-1.0, embed_graph=False, **export)
    g.connect(last, "export")
    return g


@needs_ffmpeg
def test_a_master_of_audio_with_dc_is_refused_with_the_reason_and_passes_through_the_highpass(tmp_path, capsys):
    src = with_dc(tmp_path, 0.3)
    g = graph(src, filtered=False, loudness_lufs=-14.0)
    save(g, tmp_path / "g.msgpack")
    assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "cannot be reached under peak_db=-1 dBTP" in err and "put a dsp.highpass (20 Hz) before" in err
    assert re.search(r"; the audio carries a DC offset of \+0\.30\d, which takes headroom the loudness does not count", err)
    assert not (tmp_path / "out" / "master.wav").exists()

    save(graph(src, filtered=True, loudness_lufs=-14.0), tmp_path / "g2.msgpack")
    assert main(["run", str(tmp_path / "g2.msgpack"), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert "DC offset" not in capsys.readouterr().err
    dc, lufs, tp = ffmpeg_stats(tmp_path / "out" / "master.wav")
    assert abs(dc) < 1e-3 and lufs == pytest.approx(-14.0, abs=0.1) and tp <= -1.0 + 0.05
    y, _ = sf.read(tmp_path / "out" / "master.wav")
    assert np.abs(y[0]).max() < 1e-3 and np.abs(y[-1]).max() < 0.1   # it starts and ends at rest: no click


@needs_ffmpeg
def test_a_master_that_keeps_a_dc_offset_is_written_and_warned_about(tmp_path):
    src = with_dc(tmp_path, -0.05)
    res = Executor(disk_cache=None).run(graph(src, filtered=False, loudness_lufs=-16.0), base_dir=tmp_path,
                                        output_dir=tmp_path / "out")
    warnings = [str(w) for ws in res.warnings.values() for w in ws]
    assert any("the audio carries a DC offset of -0.0" in str(w) for w in warnings), warnings
    dc, lufs, _ = ffmpeg_stats(tmp_path / "out" / "master.wav")
    assert dc < -0.05 and lufs == pytest.approx(-16.0, abs=0.1)     # written as asked, the offset with it
    clean = Executor(disk_cache=None).run(graph(with_dc(tmp_path, 0.002), filtered=False, loudness_lufs=-16.0),
                                          base_dir=tmp_path, output_dir=tmp_path / "out2")
    assert not any("DC offset" in str(w) for ws in clean.warnings.values() for w in ws)


def test_streamed_the_filter_and_the_warning_are_as_whole(tmp_path, monkeypatch):
    """A long piece streams through load -> highpass -> export block by block: the same file, and the
    export's DC tally (taken as the blocks are written) warns as the whole value's does."""
    from nodes.io import export
    src = with_dc(tmp_path, 0.2)
    files, tallied = {}, []
    tally = export.DCTally.tally
    monkeypatch.setattr(export.DCTally, "tally", lambda self, b: tallied.append(b.shape[1]) or tally(self, b))
    for stream in (False, True):
        for filtered in (False, True):
            g = graph(src, filtered=filtered)
            g.nodes["export"].params["path"] = f"{stream}-{filtered}.wav"
            res = Executor(disk_cache=None, stream=stream).run(g, base_dir=tmp_path, output_dir=tmp_path / "out")
            said = [str(w) for ws in res.warnings.values() for w in ws]
            assert any("DC offset of +0.20" in w for w in said) != filtered, (stream, filtered, said)
            files[stream, filtered] = sf.read(tmp_path / "out" / f"{stream}-{filtered}.wav")[0]
            assert (sum(tallied), len(tallied) > 1) == ((8 * RATE, True) if stream else (0, False))   # it streamed
            tallied.clear()
    assert np.array_equal(files[True, True], files[False, True]) and np.array_equal(files[True, False], files[False, False])
