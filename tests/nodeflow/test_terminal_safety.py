"""Text from files never reaches the terminal raw: escape sequences in a stranger's graph (title,
paths, parameters) are shown escaped by show, validate, run and in error lines."""
from __future__ import annotations

import pytest

import numpy as np
import soundfile as sf

from nodeflow import Graph, save
from nodeflow.cli import main

HIDE = "\x1b[8m"          # 'conceal': what follows would be invisible in a terminal


def _graph(tmp_path, export_path: str):
    sf.write(tmp_path / "in.wav", np.zeros(4410), 44100)
    g = Graph()
    g.path = tmp_path / "g.msgpack"
    g.metadata["title"] = f"free sample{HIDE}/home/victim"
    a = g.add("io.load", path="in.wav")
    e = g.add("io.export", path=export_path)
    g.connect(a.out, e.audio)
    return save(g, tmp_path / "g.msgpack")


def test_show_validate_and_run_escape_control_characters(tmp_path, capsys):
    path = _graph(tmp_path, f"out{HIDE}.wav")
    main(["show", str(path)])
    main(["validate", str(path)])
    main(["run", str(path), "-o", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err
    assert "\\x1b[8m" in out + err                       # shown, escaped, so the user sees it


def test_error_lines_escape_control_characters(tmp_path, capsys):
    path = _graph(tmp_path, f"missing{HIDE}/x.flac")
    (tmp_path / "in.wav").unlink()
    assert main(["run", str(path), "-o", str(tmp_path / "o")]) == 1
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and [line for line in err.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize("missing", [1, 2])
def test_a_newline_in_a_strangers_path_cannot_print_a_line_of_its_own(tmp_path, capsys, missing):
    """QA: a load path 'mel\\nody.flac' split run's error over three lines (validate escaped it), so a
    crafted path could print a fake 'wrote ...' line; with two problems, each is still one line."""
    path = _graph(tmp_path, "out.wav")
    from nodeflow import load
    g = load(path)
    for i in range(missing):
        extra = g.add("io.load", path=f"take{i}.flac\nwrote /home/you/Music/everything.wav")
        g.connect(extra.out, g.add("io.export", path=f"o{i}.wav").audio)
    save(g, path)
    assert main(["run", str(path), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert not [line for line in err.splitlines() if line.startswith("wrote")], err
    assert err.count("\\nwrote /home/you") == 2 * missing, err        # in the value and where it looked


def test_an_os_error_anywhere_in_a_command_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    import errno

    import nodeflow.fileformat as ff
    path = _graph(tmp_path, "out.wav")

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "copy.msgpack"))
    monkeypatch.setattr(ff, "write_atomic", full_disk)
    from nodeflow import load
    song = tmp_path / "o"
    assert main(["run", str(path), "-o", str(song), "-q"]) == 0
    capsys.readouterr()
    assert main(["extract", str(song / "out.wav"), "-o", str(tmp_path / "copy.msgpack")]) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: ") and "the disk is full; free some space" in err
    assert "Traceback" not in out + err and not (tmp_path / "copy.msgpack").exists()
    del load


@pytest.mark.parametrize("error, words, not_words", [
    (TimeoutError("timed out after 20 s waiting for the run"), "timed out after 20 s waiting for the run; try again",
     "free some space"),
    (ConnectionResetError(104, "Connection reset by peer"), "Connection reset by peer; check the network connection",
     "free some space"),
    (PermissionError(13, "Permission denied", "/srv/song/out.wav"), "/srv/song/out.wav: permission denied; choose a "
     "folder you can write to", "free some space"),
    (OSError(5, "Input/output error"), "Input/output error; free some space, check the folder's permissions", "Trace"),
])
def test_an_os_error_line_gives_the_fix_for_that_error(tmp_path, capsys, monkeypatch, error, words, not_words):
    """A timeout or a dropped connection is not a full disk: each gets its own fix, on one line."""
    import nodeflow.cli as cli
    path = _graph(tmp_path, "out.wav")

    def fails(*a, **k):
        raise error
    monkeypatch.setattr(cli, "cmd_validate", fails)
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err, err
    assert not_words not in err and "Traceback" not in out + err


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_huge_value_in_a_strangers_graph_makes_an_error_line_of_bounded_size(tmp_path, capsys, command):
    """QA53: a 900,000-character parameter printed a 1.8 MB error line (the value twice); the line keeps
    its start (the node, the parameter) and its end (the fix)."""
    import msgpack
    doc = {"format": "audiochain.graph", "version": 1, "saved_by": {}, "metadata": {}, "editor": {},
           "nodes": [{"id": "x", "type": "dsp.resample", "version": 1, "params": {"profile": "9" * 900_000}}],
           "links": []}
    (tmp_path / "g.msgpack").write_bytes(msgpack.packb(doc))
    assert main([command, str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "o")]) == 1
    out = capsys.readouterr()
    lines = (out.err + out.out).strip().splitlines()
    assert all(len(line) < 2100 for line in lines), [len(line) for line in lines]
    text = "\n".join(lines)
    assert "node 'x' (dsp.resample): profile='999" in text and "characters left out" in text
    assert "or use profile=custom with your model's rates\n" in text + "\n"
