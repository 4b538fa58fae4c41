"""What the file dialog lists, read without a window (:mod:`nodeflow.editor.dirlist`), on real folders."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
import soundfile as sf

from nodeflow.editor.dirlist import Entry, filters, human_size, listing, ordered, typed_path


@pytest.fixture
def takes(tmp_path):
    d = tmp_path / "takes"
    (d / "Vocals").mkdir(parents=True)
    (d / "drums 2").mkdir()
    (d / "drums 10").mkdir()
    (d / ".git").mkdir()
    for name, frames in (("take10.wav", 9600), ("Take2.WAV", 4800), ("take1.Flac", 2400), ("mix.mp3", 48000)):
        sf.write(d / name, np.zeros(frames, np.float32), 48000,
                 format={"wav": "WAV", "flac": "FLAC", "mp3": "MP3"}[name.rsplit(".", 1)[1].lower()])
    (d / "notes.txt").write_text("levels")
    (d / ".take.wav.swp").write_bytes(b"x")
    os.symlink(d / "take10.wav", d / "link to take10.wav")
    os.symlink(d / "gone.wav", d / "broken.wav")
    os.symlink(d / "Vocals", d / "vox")
    return d


def test_folders_come_first_then_the_files_of_the_type_in_the_order_people_read_them(takes):
    audio = filters("Audio files", (".wav", ".flac", ".mp3"))[0]
    rows = listing(takes, audio)
    assert [(e.name, e.folder) for e in rows] == [
        ("drums 2", True), ("drums 10", True), ("Vocals", True), ("vox", True),
        ("link to take10.wav", False), ("mix.mp3", False), ("take1.Flac", False), ("Take2.WAV", False),
        ("take10.wav", False)]
    sizes = {e.name: e.size for e in rows}
    assert sizes["take10.wav"] == (takes / "take10.wav").stat().st_size == sizes["link to take10.wav"]
    assert abs(next(e for e in rows if e.name == "mix.mp3").mtime - time.time()) < 60


def test_all_files_hidden_ones_and_folders_only(takes):
    every = filters("Audio files", (".wav",))[1]
    assert every.label == "All files" and "notes.txt" in [e.name for e in listing(takes, every)]
    hidden = [e.name for e in listing(takes, every, hidden=True)]
    assert ".git" in hidden and ".take.wav.swp" in hidden
    assert [e.name for e in listing(takes, every, folders_only=True)] == ["drums 2", "drums 10", "Vocals", "vox"]


def test_a_folder_that_cannot_be_read_raises_oserror(takes):
    with pytest.raises(OSError):
        listing(takes / "take10.wav")
    with pytest.raises(OSError):
        listing(takes / "missing")


def test_ordered_by_size_or_time_either_way_keeps_folders_first():
    rows = [Entry("b.wav", False, 300, 3.0), Entry("z", True, 0, 9.0), Entry("A.wav", False, 100, 5.0),
            Entry("c.wav", False, 300, 1.0)]
    assert [e.name for e in ordered(rows, "size")] == ["z", "A.wav", "b.wav", "c.wav"]
    assert [e.name for e in ordered(rows, "size", True)] == ["z", "b.wav", "c.wav", "A.wav"]
    assert [e.name for e in ordered(rows, "modified", True)] == ["z", "A.wav", "b.wav", "c.wav"]
    assert [e.name for e in ordered(rows, "name", True)] == ["z", "c.wav", "b.wav", "A.wav"]


def test_sizes_read_as_a_file_manager_writes_them():
    assert [human_size(n) for n in (1, 999, 1000, 9_949, 10_000, 999_499, 1_500_000, 2_000_000_000)] == [
        "1 B", "999 B", "1.0 kB", "9.9 kB", "10 kB", "999 kB", "1.5 MB", "2.0 GB"]


def test_a_typed_name_is_read_in_the_folder_shown_unless_it_is_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert typed_path(tmp_path, "song") == tmp_path / "song"
    assert typed_path(tmp_path / "a", "../b/./song.msgpack") == tmp_path / "b" / "song.msgpack"
    assert typed_path(tmp_path, "~/songs/take") == tmp_path / "home" / "songs" / "take"
    assert typed_path(tmp_path / "a", str(tmp_path / "c")) == tmp_path / "c"
