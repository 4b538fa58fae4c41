"""Written files (an export's) are decoded off the UI thread, once per version, and play when ready.

A ten-minute export took 1.3-1.9 s to decode here (wav, flac, mp3), on the UI thread: the editor
froze when the run finished (the export's waveform) and again at every press of its play button.
"""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import soundfile as sf

from nodeflow.audio import Audio
from nodeflow.editor.filedecode import DecodedFiles, decode_file
from nodeflow.editor.playback import Auditioner
from nodeflow.editor.runner import Runner

RATE = 48000


def _tone(path, seconds: float = 0.5, freq: float = 440.0, amp: float = 0.25) -> str:
    t = np.arange(int(seconds * RATE)) / RATE
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(str(path), np.stack([x, x], axis=1), RATE, subtype="PCM_24")
    return str(path)


class _Decoder:
    """decode_file, recording which thread decoded which file, held back until ``go`` is set."""

    def __init__(self):
        self.threads: list[str] = []
        self.go = threading.Event()
        self.go.set()

    def __call__(self, path: str) -> Audio:
        self.threads.append(threading.current_thread().name)
        assert self.go.wait(10)
        return decode_file(path)


def _deliver(files: DecodedFiles, until) -> None:
    for _ in range(100):
        files.poll(wait_s=0.1)
        if until():
            return
    raise AssertionError("the decode never came back")


def test_a_file_is_decoded_on_another_thread_once_per_version(tmp_path):
    path = _tone(tmp_path / "take.wav")
    dec = _Decoder()
    files, got = DecodedFiles(decode=dec), []
    assert files.ready(path) is None
    files.request(path, lambda clip, err: got.append((clip, err)))
    files.request(path, lambda clip, err: got.append((clip, err)))      # asked twice while decoding
    _deliver(files, lambda: len(got) == 2)
    assert dec.threads == ["nodeflow-file-decode"]                      # once, never on this thread
    clip, err = got[0]
    assert err is None and clip is got[1][0] and files.ready(path) is clip
    assert clip.sample_rate == RATE and clip.frames == RATE // 2
    np.testing.assert_allclose(clip.samples[0], sf.read(path, dtype="float32")[0][:, 0])
    files.request(path)                                                 # decoded: nothing to do
    assert files.poll(wait_s=0.2) is False and len(dec.threads) == 1
    # the run writes the file again: that version is decoded afresh, the old one is let go
    _tone(tmp_path / "take.wav", seconds=0.25, freq=220.0)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000))
    assert files.ready(path) is None
    files.request(path)
    _deliver(files, lambda: files.ready(path) is not None)
    assert files.ready(path).frames == RATE // 4 and len(dec.threads) == 2
    assert len(files._clips) == 1


def test_a_file_that_cannot_be_decoded_says_why_once(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    files, got = DecodedFiles(), []
    files.request(str(bad), lambda clip, err: got.append((clip, err)))
    _deliver(files, lambda: got)
    assert got[0][0] is None and "cannot decode" in str(got[0][1]) and str(bad) in str(got[0][1])
    assert files.error(str(bad)) is not None and files.ready(str(bad)) is None
    files.request(str(tmp_path / "never-written.wav"), lambda clip, err: got.append((clip, err)))
    _deliver(files, lambda: len(got) == 2)
    assert got[1][0] is None and "no such file" in str(got[1][1])


def test_why_a_file_failed_is_kept_for_its_newest_version_only(tmp_path, monkeypatch):
    """The reasons were never forgotten: a run writing a broken file again and again kept one per
    version, and a fixed file kept its old reason too."""
    from nodeflow.editor import filedecode
    bad = tmp_path / "broken.wav"
    files, got = DecodedFiles(), []

    def version(n: int, payload: bytes) -> None:
        bad.write_bytes(payload)
        os.utime(bad, ns=(n * 1_000_000_000, n * 1_000_000_000))
        files.request(str(bad), lambda clip, err: got.append((clip, err)))
        _deliver(files, lambda: len(got) == n)
    for n in range(1, 4):
        version(n, b"RIFF\x00\x00\x00\x00WAVEjunk" * (10 + n))
    assert len(files._errors) == 1 and files.error(str(bad)) is got[-1][1]
    _tone(bad)
    os.utime(bad, ns=(9_000_000_000, 9_000_000_000))
    files.request(str(bad), lambda clip, err: got.append((clip, err)))
    _deliver(files, lambda: len(got) == 4)
    assert got[-1][1] is None and files._errors == {} and files.error(str(bad)) is None
    monkeypatch.setattr(filedecode, "MAX_ERRORS", 3)                 # many broken files: the oldest go
    for i in range(5):
        p = tmp_path / f"b{i}.wav"
        p.write_bytes(b"not audio")
        files.request(str(p), lambda clip, err: got.append((clip, err)))
        _deliver(files, lambda: len(got) == 5 + i)
    assert len(files._errors) == 3 and files.error(str(tmp_path / "b4.wav")) is not None
    assert files.error(str(tmp_path / "b0.wav")) is None


def test_decoded_files_stay_under_the_memory_budget_newest_kept(tmp_path):
    paths = [_tone(tmp_path / f"t{i}.wav", seconds=1.0) for i in range(3)]
    one = RATE * 2 * 4                                                  # a second of stereo float32
    files = DecodedFiles(budget_bytes=int(2.5 * one))
    for p in paths:
        files.request(p)
        _deliver(files, lambda p=p: files.ready(p) is not None)
    assert [files.ready(p) is not None for p in paths] == [False, True, True]
    huge = DecodedFiles(budget_bytes=1)                                 # over budget alone: still shown
    huge.request(paths[0])
    _deliver(huge, lambda: huge.ready(paths[0]) is not None)


class _FakePlayer:
    latency = None
    playing = False
    position_s = 0.0
    first_buffer_s = 0.001

    def __init__(self):
        self.played: list[Audio] = []

    def play(self, audio, on_done=None, *, loop=False, start_s=0.0):
        self.played.append(audio)

    def stop(self):
        pass


def _play_held(tmp_path) -> tuple[Auditioner, _Decoder, _FakePlayer, str]:
    """Play on an export's file whose decode is held back (until ``dec.go`` is set)."""
    path = _tone(tmp_path / "out.wav")
    dec = _Decoder()
    dec.go.clear()
    player = _FakePlayer()
    au = Auditioner(Runner(), player=lambda: player)
    au.files = DecodedFiles(decode=dec)
    au.play_value(("export", "out"), path)
    return au, dec, player, path


def test_play_on_an_export_decodes_in_the_background_then_plays(tmp_path):
    au, dec, player, path = _play_held(tmp_path)
    assert au.pending == ("export", "out") and not player.played       # returned at once
    assert au.messages[-1][0] == "decoding out.wav to play it..."
    dec.go.set()
    _deliver(au.files, lambda: player.played)
    assert au.now == ("export", "out") and au.pending is None and player.played[0].frames == RATE // 2
    au.play_value(("export", "out"), path)                              # decoded: plays at once
    assert len(player.played) == 2 and len(dec.threads) == 1


def test_a_stop_while_the_file_decodes_plays_nothing(tmp_path):
    au, dec, player, path = _play_held(tmp_path)
    au.stop()
    dec.go.set()
    _deliver(au.files, lambda: au.files.ready(path) is not None)
    assert au.files.poll(wait_s=0.2) is False and not player.played and au.now is None


@pytest.mark.parametrize("payload", [b"", b"not audio at all"])
def test_play_on_an_unreadable_export_is_one_line_and_no_retry_loop(tmp_path, payload):
    bad = tmp_path / "out.wav"
    bad.write_bytes(payload)
    player = _FakePlayer()
    au = Auditioner(Runner(), player=lambda: player)
    au.play_value(("export", "out"), str(bad))
    _deliver(au.files, lambda: any(err for _, err in au.messages))
    texts = [t for t, err in au.messages if err]
    assert len(texts) == 1 and texts[0].startswith("cannot play export.out: cannot decode") and "\n" not in texts[0]
    assert au.pending is None and not player.played
    assert au.files.poll(wait_s=0.2) is False                           # nothing asked again


def test_play_on_an_export_whose_file_was_deleted_since_the_run_says_so(tmp_path):
    """QA108 D2: the export's file deleted after the run: its node still showed it written, and play said
    "export.out is not audio (no file written yet)"."""
    player = _FakePlayer()
    au = Auditioner(Runner(), player=lambda: player)
    au.play_value(("export", "out"), str(tmp_path / "demo.wav"))
    texts = [t for t, err in au.messages if err]
    assert texts == ["cannot play export.out: demo.wav is not there any more (moved or deleted since the run); "
                     "Run (F5) writes it again"]
    assert not player.played
    au.play_value(("export", "out"), str(tmp_path))                      # a folder: not a file to play
    assert [t for t, err in au.messages if err][-1] == f"export.out is not audio: {tmp_path.name} is not a file " \
                                                       "AudioChain can play"


def test_the_exports_line_says_while_its_file_is_decoded_and_when_it_cannot_be_read(editor):
    """QA: the export's waveform stayed blank without a word while a long file was decoded."""
    from ._graphs import transport_graph
    st = editor.run("export_decoding", transport_graph(editor.tmp))
    assert st["decoding"]["text"] == "decoding out.wav..." and not st["decoding"]["wave"], st["decoding"]
    assert st["decoding"]["tip"] == st["path"]
    assert st["decoded"]["text"].endswith("/out.wav") and st["decoded"]["wave"] and st["decoded"]["tip"] == st["path"]
    broken = st["broken"]
    assert broken["text"] == "cannot read out.wav" and not broken["wave"], broken
    assert broken["tip"].startswith(st["path"] + "\n") and "cannot decode" in broken["tip"], broken
    assert st["decoding"]["height"] == st["decoded"]["height"] == broken["height"], "the node changed size"


def test_an_export_fed_a_list_shows_and_plays_the_files_this_run_wrote(editor):
    """QA: an export fed windows (one file per window) kept the waveform of the out.wav an earlier run
    wrote, its line read "...demo_4.wav']" (a Python list), and play said "export.out is not audio"."""
    from ._graphs import transport_graph
    st = editor.run("mapped_export", transport_graph(editor.tmp))
    assert st["single"]["text"].endswith("/out.wav") and st["single"]["wave"], st["single"]
    files = st["files"]
    assert [f.rsplit("/", 1)[1] for f in files] == ["out_1.wav", "out_2.wav", "out_3.wav"], files
    mapped = st["mapped"]
    assert mapped["text"] == "out_1.wav (+2 more file(s))" and mapped["wave"], mapped
    assert mapped["tip"] == "\n".join(files)
    assert st["wave_source"] == 48000, "the waveform is the first file (1 s), not the older out.wav (3 s)"
    assert st["playing"] == ["export", "out"] and st["clip_frames"] == 48000, st
    assert "playing export.out" in st["status"], st["status"]
