"""A saved graph file names an input far from its folder by the file's name alone; this machine remembers
where it is (nodeflow.places), so the file reopens and runs here, and a copy elsewhere names the input
missing (QA79 D2: a graph saved from Python kept '../../../../root/qa79priv/secret-voice-memo.flac')."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Executor, Graph, load, save
from nodeflow.errors import AudioChainWarning
from nodeflow.fileformat import dumps
from nodeflow.places import PLACES_FILE, state_dir

RATE = 44100


def _take(path: Path, seconds: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * RATE)) / RATE
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), RATE, subtype="PCM_24")
    return path


@pytest.fixture
def alice(tmp_path, monkeypatch):
    """alice's home (private takes in it) and a project folder outside it, as /work/song and /root/... were."""
    home = tmp_path / "home" / "alice"
    monkeypatch.setenv("HOME", str(home))
    memo = _take(home / "private" / "voice-memo.flac")
    project = tmp_path / "work" / "song"
    project.mkdir(parents=True)
    return home, memo, project


def _graph(inputs: str | Path) -> Graph:
    g = Graph()
    g.add("io.load", id="load", path=str(inputs))
    g.add("io.export", id="export", path="mix.wav")
    g.connect("load", "export")
    return g


def test_a_far_input_is_saved_by_name_and_found_again_on_this_machine(alice):
    home, memo, project = alice
    file = save(_graph(memo), project / "song.msgpack")
    raw = file.read_bytes()
    assert b"alice" not in raw and b"private" not in raw and b"home" not in raw and b".." not in raw
    assert b"voice-memo.flac" in raw
    again = load(file)                                       # reopened here: the input is where it was
    assert again.nodes["load"].params["path"] == str(memo)
    Executor().run(again, output_dir=project / "out")
    assert sf.info(str(project / "out" / "mix.wav")).frames == sf.info(str(memo)).frames
    save(again, file)                                        # saved again as it was
    assert file.read_bytes() == raw and load(file).nodes["load"].params["path"] == str(memo)
    places = json.loads((state_dir() / PLACES_FILE).read_text())
    assert oct(os.stat(state_dir() / PLACES_FILE).st_mode & 0o777) == "0o600"
    assert places["graphs"][os.path.realpath(file)]["inputs"] == {"load.path": ["voice-memo.flac", str(memo)]}


def test_a_copy_here_finds_its_inputs_and_one_elsewhere_or_changed_names_them_missing(alice, tmp_path, monkeypatch):
    home, memo, project = alice
    file = save(_graph(memo), project / "song.msgpack")
    friend = tmp_path / "friend"
    friend.mkdir()
    copy = Path(shutil.copy(file, friend / "song.msgpack"))
    assert load(copy).nodes["load"].params["path"] == str(memo)         # the same bytes on this machine (QA80 D4)
    own_state = os.environ["AUDIOCHAIN_STATE_DIR"]
    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", str(tmp_path / "friends-state"))    # the friend's machine
    [said] = load(copy).problems(output_dir=friend / "out")
    assert "voice-memo.flac" in said and str(home) not in said          # the name, nothing of alice's folders
    assert ("it lay far from the graph's folder where the graph was saved, so the file names it by its file name "
            "alone: put it beside the graph") in said
    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", own_state)
    # a stranger's graph downloaded over alice's own, at the same path: nothing of hers is read by it
    stranger = _graph(memo)
    stranger.add("dsp.gain", id="gain", gain_db=-3.0)
    stranger.connect("load", "gain")
    stranger.connect("gain", "export")
    file.write_bytes(dumps(stranger, friend))     # written by the stranger's machine, not saved here
    assert load(file).nodes["load"].params["path"] == "voice-memo.flac"


def test_near_inputs_stay_relative_and_nothing_is_noted(alice):
    home, memo, project = alice
    near = _take(project.parent / "takes" / "bass.wav")
    file = save(_graph(near), project / "song.msgpack")
    assert b"../takes/bass.wav" in file.read_bytes()
    assert not (state_dir() / PLACES_FILE).exists()
    assert load(file).nodes["load"].params["path"] == "../takes/bass.wav"


def test_an_unwritable_state_folder_saves_the_graph_and_says_how_to_keep_its_inputs(alice, tmp_path, monkeypatch):
    home, memo, project = alice
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", str(blocker / "state"))
    with pytest.warns(AudioChainWarning, match=r"could not note where its far inputs \(load\.path\) are: the state "
                      r"folder .* cannot be written \(Not a directory\).*beside the graph file.*pack"):
        file = save(_graph(memo), project / "song.msgpack")
    assert b"voice-memo.flac" in file.read_bytes() and b"alice" not in file.read_bytes()


def test_a_saved_sweeps_far_takes_are_found_again_too(alice):
    home, memo, project = alice
    other = _take(home / "private" / "take-2.wav")
    g = _graph(memo)
    g.path = project / "song.msgpack"             # near.wav: beside it
    g.sweep = {"mode": "grid", "axes": [{"param": "load.path", "values": [str(memo), str(other), "near.wav"]}]}
    file = save(g, project / "song.msgpack")
    assert b"alice" not in file.read_bytes() and b".." not in file.read_bytes()
    again = load(file)
    assert again.sweep["axes"][0]["values"] == [str(memo), str(other), "near.wav"]
    assert again.nodes["load"].params["path"] == str(memo)


def test_a_home_reached_through_a_symlink_is_still_home(tmp_path, monkeypatch):
    """QA80 D3: with $HOME a symlink (/home on another disk, an automount), a take in the real home folder
    was saved as '../../home/alice/Music/take.wav' from a project two folders away."""
    real = tmp_path / "data" / "home" / "alice"
    take = _take(real / "Music" / "take.wav")
    (tmp_path / "hl").symlink_to(tmp_path / "data" / "home")
    monkeypatch.setenv("HOME", str(tmp_path / "hl" / "alice"))
    project = tmp_path / "data" / "shared" / "proj"
    project.mkdir(parents=True)
    file = save(_graph(take), project / "g.msgpack")
    assert b"alice" not in file.read_bytes() and b"home" not in file.read_bytes()
    assert load(file).nodes["load"].params["path"] == str(take)


@pytest.mark.parametrize("case", ["garbage", "list", "badsaved", "listsaved", "nan", "deep", "fifo", "folder"])
def test_a_damaged_or_odd_places_file_is_nothing_remembered(alice, case):
    """QA80 D5: a places file with a saved time that is not a number broke every save after the graph was
    written; deep nesting broke every open with a RecursionError; a FIFO hung every open."""
    home, memo, project = alice
    file = save(_graph(memo), project / "song.msgpack")
    places = state_dir() / PLACES_FILE
    places.unlink()
    good = {"digest": "0" * 40, "inputs": {}}
    content = {"garbage": "{not json", "list": "[1, 2]", "deep": "[" * 100000 + "]" * 100000,
               "badsaved": json.dumps({"graphs": {"/x": dict(good, saved="soon")}}),
               "listsaved": json.dumps({"graphs": {"/x": dict(good, saved=[1])}}),
               "nan": json.dumps({"graphs": {"/x": dict(good, saved=float("nan"))}})}.get(case)
    if case == "fifo":
        os.mkfifo(places)
    elif case == "folder":
        places.mkdir()
    else:
        places.write_text(content)
    assert load(file).nodes["load"].params["path"] == "voice-memo.flac"      # nothing remembered, no hang
    if case == "folder":
        with pytest.warns(AudioChainWarning, match="could not note where its far inputs"):
            save(_graph(memo), project / "song.msgpack")
        return
    save(_graph(memo), project / "song.msgpack")                              # saves, and remembers again
    assert load(file).nodes["load"].params["path"] == str(memo)


def _sine(path: Path, hz: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(RATE // 2) / RATE
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), RATE, subtype="PCM_24")
    return path


def test_a_file_beside_the_graph_wins_over_a_remembered_far_one(tmp_path):
    """QA81 D1, D4: a template copied into a song folder with its own take.wav beside it read the far take.wav
    another graph of the same bytes had remembered; a file put beside a graph as the missing-input line says
    was not read."""
    far = _sine(tmp_path / "samples" / "a" / "b" / "c" / "take.wav", 440.0)
    (tmp_path / "projA" / "x" / "y").mkdir(parents=True)
    template = save(_graph(far), tmp_path / "projA" / "x" / "y" / "song.msgpack")
    song = tmp_path / "projB" / "song.msgpack"
    song.parent.mkdir()
    shutil.copy(template, song)
    assert load(song).nodes["load"].params["path"] == str(far)        # a copy, nothing beside it: the far take
    _sine(song.parent / "take.wav", 220.0)
    assert load(song).nodes["load"].params["path"] == "take.wav"      # its own take, beside it
    assert load(song).problems() == []


def test_two_graphs_saved_alike_from_different_takes_each_copy_reads_its_own(tmp_path):
    """QA81 D2: songA and songC, saved alike from two takes of the same name, had the same bytes, and a copy
    of songA read songC's take, the one saved last.  Each graph that names far inputs carries a token of its
    own now; entries that disagree still name neither (a places file of an older version)."""
    for song, hz in (("songA", 440.0), ("songC", 660.0)):
        take = _sine(tmp_path / f"samples{song[-1]}" / "a" / "b" / "take.wav", hz)
        (tmp_path / song / "x" / "y").mkdir(parents=True)
        save(_graph(take), tmp_path / song / "x" / "y" / "g.msgpack")
    a, c = (tmp_path / s / "x" / "y" / "g.msgpack" for s in ("songA", "songC"))
    assert a.read_bytes() != c.read_bytes()
    take_a, take_c = (str(tmp_path / f"samples{s}" / "a" / "b" / "take.wav") for s in "AC")
    assert load(a).nodes["load"].params["path"] == take_a and load(c).nodes["load"].params["path"] == take_c
    backup = Path(shutil.copy(a, tmp_path / "backup.msgpack"))
    assert load(backup).nodes["load"].params["path"] == take_a
    places = state_dir() / PLACES_FILE                  # two entries of the same bytes that disagree: neither
    doc = json.loads(places.read_text())
    doc["graphs"]["/elsewhere/g.msgpack"] = dict(doc["graphs"][os.path.realpath(a)], inputs={"load.path": [
        "take.wav", take_c]})
    places.write_text(json.dumps(doc))
    assert load(backup).nodes["load"].params["path"] == "take.wav"
    [said] = load(backup).problems(output_dir=tmp_path / "out")
    assert "take.wav' not found" in said and "lay far from the graph's folder" in said


def test_a_renamed_project_folder_keeps_its_far_inputs_after_other_saves(alice, tmp_path):
    """QA81 D3: a save of any other graph forgot the entries of graph files no longer where they were saved,
    and the renamed project lost its far input."""
    home, memo, project = alice
    save(_graph(memo), project / "song.msgpack")
    moved = project.parent / "song-2026"
    project.rename(moved)
    other = tmp_path / "work" / "other"
    other.mkdir()
    g = _graph(memo)
    g.add("dsp.gain", id="gain", gain_db=-1.0)
    save(g, other / "g.msgpack")
    assert load(moved / "song.msgpack").nodes["load"].params["path"] == str(memo)


def test_only_a_far_input_is_said_far_and_a_damaged_entry_points_nowhere_else(alice, tmp_path):
    """QA81 D5: a near input deleted was said to lie far; D6: an entry whose path names another file was
    followed."""
    home, memo, project = alice
    near = _take(project / "in.wav")
    file = save(_graph(near), project / "near.msgpack")
    near.unlink()
    [said] = load(file).problems(output_dir=project / "out")
    assert "put the file there or point the node at it" in said and "lay far" not in said
    other = _take(home / "private" / "other.flac")
    far = save(_graph(memo), project / "far.msgpack")
    places = state_dir() / PLACES_FILE
    doc = json.loads(places.read_text())
    doc["graphs"][os.path.realpath(far)]["inputs"]["load.path"][1] = str(other)
    places.write_text(json.dumps(doc))
    assert load(far).nodes["load"].params["path"] == "voice-memo.flac"


def test_a_stranger_graph_built_alike_reads_none_of_my_far_takes(tmp_path, monkeypatch):
    """QA82 D3: a collaborator's graph, built as mine was for a take of the same name, had the same bytes as
    mine, and opened here it read my private take."""
    mine = _sine(tmp_path / "me" / "private" / "a" / "b" / "take.wav", 440.0)
    (tmp_path / "me" / "song" / "x" / "y").mkdir(parents=True)
    save(_graph(mine), tmp_path / "me" / "song" / "x" / "y" / "g.msgpack")
    own_state = os.environ["AUDIOCHAIN_STATE_DIR"]
    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", str(tmp_path / "their-state"))      # their machine
    theirs = _sine(tmp_path / "them" / "studio" / "a" / "b" / "take.wav", 220.0)
    (tmp_path / "them" / "song" / "x" / "y").mkdir(parents=True)
    sent = save(_graph(theirs), tmp_path / "them" / "song" / "x" / "y" / "g.msgpack")
    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", own_state)
    (tmp_path / "me" / "Downloads").mkdir()
    got = Path(shutil.copy(sent, tmp_path / "me" / "Downloads" / "g.msgpack"))
    assert load(got).nodes["load"].params["path"] == "take.wav"


def test_the_file_where_it_was_saved_keeps_its_far_take_over_one_beside_it(alice):
    """QA82 D1, D2: a far take.wav and a take.wav beside the graph were both read from beside it on reopening
    (the render came out of the wrong take, with no word), and a graph exporting vocals.wav beside itself
    from a far vocals.wav took its own render as its input on the second run."""
    home, memo, project = alice
    far = _sine(home / "refs" / "a" / "b" / "vocals.wav", 440.0)
    g = _graph(far)
    g.set("export", "path", "vocals.wav")
    file = save(g, project / "song.msgpack")
    Executor().run(load(file), output_dir=project)
    assert (project / "vocals.wav").exists()
    assert load(file).nodes["load"].params["path"] == str(far)        # not its own render
    Executor().run(load(file), output_dir=project)                    # and it runs again


def test_two_far_takes_of_one_name_are_said_on_save_and_an_odd_name_is_found(alice, tmp_path):
    """QA82 D4: two far inputs named take.wav are kept by one name, which elsewhere cannot tell them apart;
    D6: a far file whose name holds a backslash (legal on Linux) was never found again."""
    home, memo, project = alice
    lead = _sine(home / "rec" / "lead" / "a" / "take.wav", 440.0)
    bass = _sine(home / "rec" / "bass" / "a" / "take.wav", 110.0)
    g = _graph(lead)
    g.add("io.load", id="bass", path=str(bass))
    with pytest.warns(AudioChainWarning, match=r"'take\.wav' names more than one input.*rename one.*pack"):
        file = save(g, project / "two.msgpack")
    again = load(file)
    assert (again.nodes["load"].params["path"], again.nodes["bass"].params["path"]) == (str(lead), str(bass))
    odd = _sine(home / "rec" / "lead\\v2.wav", 330.0)
    file = save(_graph(odd), project / "odd.msgpack")
    assert load(file).nodes["load"].params["path"] == str(odd)


def test_a_missing_take_named_by_its_name_stays_a_name_through_save_as(tmp_path):
    """QA82 D5: a graph from elsewhere whose take.wav was not sent, saved as into one's own folder, stored
    '../dl/x/y/z/take.wav'; the take put beside the saved graph, as the missing-input line says, was not read."""
    dl = tmp_path / "dl" / "x" / "y" / "z"
    dl.mkdir(parents=True)
    g = _graph("take.wav")
    got = save(g, dl / "g.msgpack")
    mine = tmp_path / "mysong"
    mine.mkdir()
    file = save(load(got), mine / "g.msgpack")
    assert load(file).nodes["load"].params["path"] == "take.wav"
    _sine(mine / "take.wav", 440.0)
    assert load(file).problems() == []


def test_a_far_take_named_as_a_near_one_is_said_on_save(alice):
    """QA82 D1: a far take.wav and a take.wav beside the graph, both kept as 'take.wav': elsewhere one file
    would be read for both, and the save said nothing."""
    home, memo, project = alice
    far = _sine(home / "refs" / "a" / "b" / "take.wav", 440.0)
    near = _sine(project / "take.wav", 220.0)
    g = _graph(far)
    g.add("io.load", id="near", path=str(near))
    with pytest.warns(AudioChainWarning, match=r"'take\.wav' names more than one input"):
        file = save(g, project / "g.msgpack")
    again = load(file)
    assert (again.nodes["load"].params["path"], again.nodes["near"].params["path"]) == (str(far), "take.wav")


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3"])
def test_an_exports_far_input_is_found_again_by_running_the_audio_here_and_named_missing_elsewhere(
        alice, tmp_path, monkeypatch, capsys, ext):
    """The graph embedded in exported audio names a far input by its file name alone, as a graph file
    does; ``audiochain run mix.wav`` said "not found" on the machine that made it (left at stop 51).  The
    export notes where it is, so the render runs again here, with nothing of alice's folders in the file;
    a copy on a friend's machine names the input missing by name, with the fix."""
    from nodeflow.audiometa import read_embedded_graph
    from nodeflow.cli import main
    home, memo, project = alice
    g = _graph(memo)
    g.set("export", "path", f"mix.{ext}")
    Executor().run(g, output_dir=project / "out")
    mix = project / "out" / f"mix.{ext}"
    embedded = read_embedded_graph(mix)
    assert embedded is not None and b"voice-memo.flac" in embedded and b"alice" not in embedded
    assert main(["run", str(mix), "-o", str(project / "again"), "-q"]) == 0, capsys.readouterr().err
    assert sf.info(str(project / "again" / f"mix.{ext}")).frames == sf.info(str(mix)).frames
    friend = tmp_path / "friend"
    friend.mkdir()
    copy = Path(shutil.copy(mix, friend / f"mix.{ext}"))
    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", str(tmp_path / "friends-state"))    # the friend's machine
    capsys.readouterr()
    assert main(["run", str(copy), "-o", str(friend / "out")]) == 1
    said = capsys.readouterr().err
    assert "voice-memo.flac' not found" in said and "put it beside the graph" in said and str(home) not in said, said


def test_a_sweep_over_far_takes_reruns_here_and_names_them_missing_elsewhere(alice, tmp_path, monkeypatch, capsys):
    """A sweep manifest names far takes by their file name alone (``--sweep load.path=...`` over a sample
    folder in alice's home, and a ``--set``), and ``rerun`` said "not found" on the machine that ran it (left
    at stops 51 and 52).  The manifest's far values are noted as a graph file's are: rerun here reads them,
    a copy of the manifest here too, with nothing of alice's folders in it; on a friend's machine the take is
    named missing by its name, and a stranger's manifest listing the same names reads nothing of alice's."""
    from nodeflow.cli import main
    home, memo, project = alice
    takes = [_take(home / "takes" / f"take{i}.wav", 0.3 + 0.1 * i) for i in range(2)]
    g = _graph(project / "near.wav")
    _take(project / "near.wav")
    g.add("io.load", id="bed", path=str(project / "near.wav"))
    g.add("dsp.concat", id="cat")
    g.connect("load", "cat.a")
    g.connect("bed", "cat.b")
    g.connect("cat", "export")
    file = save(g, project / "song.msgpack")
    out = project / "out"
    assert main(["run", str(file), "-o", str(out), "-q", "--sweep", f"load.path={takes[0]},{takes[1]}",
                 "--set", f"bed.path={memo}"]) == 0, capsys.readouterr().err
    text = (out / "manifest.json").read_text()
    assert "alice" not in text and "take1.wav" in text and "voice-memo.flac" in text
    for row, take in enumerate(takes):
        assert main(["rerun", str(out / "manifest.json"), str(row), "-o", str(project / "again"), "-q"]) == 0, \
            capsys.readouterr().err
        name = f"v00{row}_path=take{row}.wav"
        made = sf.info(str(project / "again" / name / "mix.wav")).frames
        assert made == sf.info(str(take)).frames + sf.info(str(memo)).frames
        assert made == sf.info(str(out / name / "mix.wav")).frames
    copy = project / "kept"
    shutil.copytree(out, copy)           # the sweep's folder copied aside on this machine: its bytes are noted
    assert main(["rerun", str(copy / "manifest.json"), "1", "--graph", str(file), "-o", str(tmp_path / "c"),
                 "-q"]) == 0, capsys.readouterr().err
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    doc = json.loads(text)
    doc["variants"][1]["elapsed_s"] = 9.0          # the same names in a manifest written elsewhere
    (stranger / "manifest.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["rerun", str(stranger / "manifest.json"), "1", "--graph", str(file), "-o", str(stranger / "o")]) == 1
    said = capsys.readouterr().err
    assert "take1.wav' not found" in said and "alice" not in said.replace(str(project), ""), said
    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", str(tmp_path / "friends-state"))    # the friend's machine
    assert main(["rerun", str(out / "manifest.json"), "0", "-o", str(tmp_path / "f")]) == 1
    said = capsys.readouterr().err
    assert "take0.wav' not found" in said and "put the file there" in said, said


def test_a_sweep_into_a_folder_elsewhere_keeps_its_takes_where_rerun_reads_them(alice, tmp_path, capsys):
    """A sweep over takes beside the graph, typed as absolute paths, run with ``-o`` in another folder: its
    manifest kept them relative to itself (``../song/take0.wav``), and ``rerun``, which reads a row's values
    from the graph's folder, looked for ``song/../song/take0.wav`` there and said "not found"."""
    from nodeflow.cli import main
    home, memo, project = alice
    takes = [_take(project / f"take{i}.wav", 0.3 + 0.1 * i) for i in range(2)]
    file = save(_graph(takes[0]), project / "song.msgpack")
    out = project.parent / "renders"
    assert main(["run", str(file), "-o", str(out), "-q", "--sweep", f"load.path={takes[0]},{takes[1]}"]) == 0
    doc = json.loads((out / "manifest.json").read_text())
    assert [r["params"]["load.path"] for r in doc["variants"]] == ["take0.wav", "take1.wav"]
    assert main(["rerun", str(out / "manifest.json"), "1", "-o", str(tmp_path / "again"), "-q"]) == 0, \
        capsys.readouterr().err
    assert sf.info(str(tmp_path / "again" / "v001_path=take1.wav" / "mix.wav")).frames == sf.info(str(takes[1])).frames


def test_a_sweep_over_a_take_reached_through_a_link_in_the_project_reruns_here(alice, tmp_path, capsys):
    """QA96 D4: ``--sweep load.path=takes_link/take3.flac`` (a link in the graph's folder to ``~/Music/takes``)
    kept the value as typed, and ``rerun`` on the machine that ran it took it for a stranger's ("by a path
    AudioChain never saves") and refused it.  The manifest keeps it by name, noted here as a far take is."""
    from nodeflow.cli import main
    home, memo, project = alice
    take = _take(home / "Music" / "takes" / "take3.flac")
    (project / "takes_link").symlink_to(home / "Music" / "takes")
    file = save(_graph(_take(project / "near.wav")), project / "song.msgpack")
    out = project / "out"
    assert main(["run", str(file), "-o", str(out), "-q", "--sweep", "load.path=takes_link/take3.flac,near.wav"]) == 0
    text = (out / "manifest.json").read_text()
    assert "takes_link" not in text and "alice" not in text and '"load.path": "take3.flac"' in text
    assert main(["rerun", str(out / "manifest.json"), "0", "-o", str(tmp_path / "again"), "-q"]) == 0, \
        capsys.readouterr().err
    assert sf.info(str(tmp_path / "again" / "v000_path=take3.flac" / "mix.wav")).frames == sf.info(str(take)).frames


def test_a_set_value_typed_from_home_reruns_here(alice, tmp_path, capsys):
    """QA97 D3: ``--set load.path=~/Music/takes/take2.wav`` was kept in the manifest as typed, and ``rerun`` on
    the machine that ran it took the ``~`` for a stranger's and refused it.  It is kept by name and noted."""
    from nodeflow.cli import main
    home, memo, project = alice
    take = _take(home / "Music" / "takes" / "take2.wav", 0.4)
    file = save(_graph(_take(project / "near.wav")), project / "song.msgpack")
    out = project / "out"
    assert main(["run", str(file), "-o", str(out), "-q", "--sweep", "export.bit_depth=pcm16,pcm24",
                 "--set", "load.path=~/Music/takes/take2.wav"]) == 0, capsys.readouterr().err
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["set"] == ["load.path=take2.wav"], doc["set"]
    assert main(["rerun", str(out / "manifest.json"), "0", "-o", str(tmp_path / "again"), "-q"]) == 0, \
        capsys.readouterr().err
    name = doc["variants"][0]["name"]
    assert sf.info(str(tmp_path / "again" / name / "mix.wav")).frames == sf.info(str(take)).frames


def test_a_graph_saved_into_a_folder_reached_through_a_link_names_its_inputs_as_the_file_system_follows_them(
        tmp_path, monkeypatch):
    """QA126 D1: saved in ``~/Music/current -> projects/2024/song``, a take at ``projects/2024/a.wav`` was stored
    as ``../projects/2024/a.wav`` (worked out on the link's path; the file system's ``..`` is the real folder's
    parent), and the saved graph did not find it.  D6: with the home folder itself a link, ``../takes/a.wav``
    was taken to climb through ``/`` and kept by its file name alone.  Both are stored as the file system
    follows them, relative and near, and validate on another machine's state."""
    real_home = tmp_path / "real-home"
    music = real_home / "Music"
    take = music / "projects" / "2024" / "a.wav"
    take.parent.mkdir(parents=True)
    sf.write(take, np.zeros(800, np.float32), 8000)
    (music / "projects" / "2024" / "song").mkdir()
    (music / "current").symlink_to("projects/2024/song")
    (tmp_path / "home").symlink_to(real_home)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (music / "album" / "takes").mkdir(parents=True)
    (music / "album" / "mix").mkdir()
    sf.write(music / "album" / "takes" / "b.wav", np.zeros(800, np.float32), 8000)
    linked = tmp_path / "home" / "Music"
    cases = ((linked / "current", str(take), "../a.wav"),
             (linked / "album" / "mix", str(music / "album" / "takes" / "b.wav"), "../takes/b.wav"))
    for folder, path, stored in cases:
        g = Graph()
        g.add("io.load", id="load", path=path)
        g.add("io.export", id="export", path="out.wav")
        g.connect("load", "export")
        saved = save(g, folder / "song.msgpack")
        assert load(saved).nodes["load"].params["path"] == stored
        monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", str(tmp_path / "elsewhere" / folder.name))   # no places known
        assert load(saved).problems() == []
