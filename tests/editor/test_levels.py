"""A preview's level as it is heard: a mono clip plays on both channels (3 dB over its one channel's
meter reading), so A/B level matching and the note about the export it feeds compare clips as heard
(QA: a mono take "level-matched" at -22.1 LUFS played at -19.2); the note on a long clip is measured
on a thread and still said (QA: past 2 minutes it said nothing)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from nodeflow import Audio, Graph
from nodeflow.editor.levels import MONO_PLAYED_DB, Target, export_target, loudness_lufs, note
from nodeflow.editor.playback import Auditioner

RATE = 22050


def chords(seconds: float, channels: int) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)) * 0.1
    return np.tile(x.astype(np.float32), (channels, 1))


def test_a_mono_clip_measures_as_it_is_played_on_two_channels():
    pyebur128 = pytest.importorskip("pyebur128")
    mono = Audio(chords(6.0, 1), RATE)
    both = np.ascontiguousarray(np.repeat(mono.samples, 2, axis=0).T)    # what the device plays: [frames, 2]
    state = pyebur128.R128State(2, RATE, pyebur128.MeasurementMode.MODE_I)
    state.add_frames(both.ravel(), len(both))
    assert loudness_lufs(mono) == pytest.approx(pyebur128.get_loudness_global(state), abs=0.01)   # libebur128
    assert loudness_lufs(Audio(np.repeat(mono.samples, 2, axis=0), RATE)) == pytest.approx(loudness_lufs(mono), abs=0.01)


@pytest.mark.parametrize("channels, layout, heard", [(1, "keep", MONO_PLAYED_DB), (1, "mono", MONO_PLAYED_DB),
                                                     (1, "stereo", 0.0), (2, "keep", 0.0), (2, "mono", MONO_PLAYED_DB)])
def test_the_export_target_is_what_its_file_sounds_like(channels, layout, heard):
    g = Graph()
    g.add("dsp.gain", id="take")
    g.add("io.export", id="master", path="m.wav", loudness_lufs=-16.0, channels=layout)
    g.connect("take", "master")
    got = export_target(g, "take", "out", Audio(chords(1.0, channels), RATE))
    assert got == ("master", -16.0, pytest.approx(-16.0 + heard), -1.0, layout, "keep")


def test_the_note_on_a_long_preview_comes_once_it_is_measured():
    class Player:
        playing, error, position_s, underflows, latency = True, None, 0.0, 0, "auto"

        def play(self, clip, loop=False, start_s=0.0):
            self.clip = clip
    g = Graph()
    g.add("dsp.gain", id="take")
    g.add("io.export", id="master", path="m.wav", loudness_lufs=-14.0, channels="stereo")
    g.connect("take", "master")
    song = Audio(chords(150.0, 1), RATE)                 # a song-length mono take: measured on a thread
    au = Auditioner(None, player=Player)
    au._graph = g
    au._play_clip("take", "out", song, 0.0)
    assert au.messages == [("playing take.out (150.0 s)", False)]
    end = time.monotonic() + 60
    while len(au.messages) < 2 and time.monotonic() < end:
        au.tick()
        time.sleep(0.02)
    heard = loudness_lufs(song)
    assert au.messages[1] == ("playing take.out (150.0 s)" + note(Target("master", -14.0, -14.0, -1.0), heard), False)
    assert f"{-14.0 - heard:.1f} LU louder" in au.messages[1][0]


class _Player:
    playing, error, position_s, underflows, latency = True, None, 0.0, 0, "auto"

    def play(self, clip, loop=False, start_s=0.0):
        self.clip = clip


def _said(au, count: int) -> list[str]:
    end = time.monotonic() + 60
    while len(au.messages) < count and time.monotonic() < end:
        au.tick()
        time.sleep(0.02)
    return [m for m, _ in au.messages]


def _ebur128(path) -> float:
    import re
    import subprocess
    r = subprocess.run(["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null",
                        "-"], capture_output=True, text=True, timeout=120)
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", r.stderr)[-1])


@pytest.mark.parametrize("channels, rate", [("keep", "keep"), ("mono", "keep"), ("mono", "48000")])
def test_a_preview_the_exports_limiter_lowers_says_what_the_file_is_written_at(tmp_path, channels, rate):
    """QA104: a gain's +5 dBFS preview feeding an export with no loudness target (its -1 dBTP ceiling
    only) said nothing, and the file came out 2.3 LU quieter, limited.  The note now says what the
    export writes it at, and ffmpeg's ebur128 reads that on the file the export wrote, in the export's
    layout (QA106: a mono export's note read the stereo preview; a mono file's loudness was given as
    heard, 3 LU over its meter)."""
    from nodeflow.node import Context
    from nodes.io.export import export
    g = Graph()
    g.add("dsp.gain", id="gain", gain_db=6.0)
    g.add("io.export", id="export", path="out.wav", channels=channels, sample_rate=rate)
    g.connect("gain", "export")
    hot = Audio(chords(8.0, 2) * np.array([[10.0], [8.0]], np.float32), RATE)    # peaks about +5 dBFS
    au = Auditioner(None, player=_Player)
    au._graph = g
    au._play_clip("gain", "out", hot, 0.0)
    said = _said(au, 2)
    heard = loudness_lufs(hot)
    assert said[0] == "playing gain.out (8.0 s)"
    assert said[1].startswith("playing gain.out (8.0 s); export limits its peaks to -1.0 dBTP: it writes it at ")
    written = float(said[1].split("writes it at ")[1].split(" LUFS")[0])
    quieter = float(said[1].split(", ")[-1].removesuffix(" LU quieter"))
    as_heard = written + (MONO_PLAYED_DB if channels == "mono" else 0.0)         # a mono file on two channels
    assert quieter == pytest.approx(heard - as_heard, abs=0.11) and quieter > 0.5     # (each said to 0.1)
    ctx = Context("export", base_dir=tmp_path, output_dir=tmp_path)
    export.fn(hot, ctx=ctx, **{**{k: export.params[k].default for k in export.params}, "path": "out.wav",
                               "embed_graph": False, "channels": channels, "sample_rate": rate})
    assert _ebur128(tmp_path / "out.wav") == pytest.approx(written, abs=0.15)


def test_a_preview_under_the_exports_ceiling_gets_no_note():
    """The same chain, the preview's true peak under the export's ceiling: the file is written as it plays,
    so nothing is added (once measured)."""
    g = Graph()
    g.add("dsp.gain", id="gain")
    g.add("io.export", id="export", path="out.wav")
    g.connect("gain", "export")
    quiet = Audio(chords(8.0, 2), RATE)
    au = Auditioner(None, player=_Player)
    au._graph = g
    au._play_clip("gain", "out", quiet, 0.0)
    end = time.monotonic() + 10
    while time.monotonic() < end and not au.levels._limits:
        au.tick()
        time.sleep(0.02)
    au.tick()
    assert au.levels._limits and [m for m, _ in au.messages] == ["playing gain.out (8.0 s)"]
