"""Writes are contained: whatever a graph file, bundle or embedded graph says, a run writes only
inside its output folder, over nothing AudioChain did not export, unless the user says otherwise
(``--allow-outside PATH``, or a path they typed with ``--set``).  And ``validate`` refuses what
``run`` refuses, without running or writing."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Executor, Graph, GraphError, load, save
from nodeflow.audiometa import embed, read_tags
from nodeflow.bundle import pack
from nodeflow.cli import main
from nodeflow.fileformat import dumps, loads

RATE = 8000


def tone(path: Path, seconds: float = 0.25) -> Path:
    t = np.arange(int(RATE * seconds)) / RATE
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), RATE)
    return path


def export_graph(folder: Path, export_path: str, name: str = "g.msgpack", **export_params) -> Path:
    """A graph file (as a stranger would send it): load in.wav -> export to ``export_path``, stored
    exactly as given (``save`` would store an absolute path relative to the file)."""
    tone(folder / "in.wav")
    g = Graph()
    g.path = folder / name
    g.add("io.load", id="load", path="in.wav")
    g.add("io.export", id="export", path=export_path, **export_params)
    g.connect("load", "export")
    g.path.write_bytes(dumps(g))
    return g.path


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fake home folder holding the user's own files, and a work folder the commands run in."""
    h = tmp_path / "home"
    (h / "victim").mkdir(parents=True)
    (h / "victim" / "my_master.wav").write_bytes(b"RIFF my own master, not AudioChain's" * 100)
    tone(h / "Music" / "my-master.flac")
    monkeypatch.setenv("HOME", str(h))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return h


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: its bytes and mtime (ns)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def run_cli(capsys, *argv: str) -> tuple[int, list[str], list[str]]:
    rc = main(["run", *argv, "-q"] if argv[0] != "validate" else list(argv))
    cap = capsys.readouterr()
    return rc, cap.out.strip().splitlines(), cap.err.strip().splitlines()


def assert_refused(capsys, home: Path, argv: list[str], *needles: str) -> str:
    before = snapshot(home)
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 1, (out, err)
    assert len(err) == 1 and err[0].startswith("error: "), err
    for n in needles:
        assert n in err[0], err[0]
    assert snapshot(home) == before
    return err[0]


ESCAPES = {"absolute": lambda h: str(h / "victim" / "my_master.wav"),
           "dotdot": lambda h: "../../home/victim/my_master.wav",
           "home": lambda h: "~/Music/my-master.flac"}


# ------------------------------------------------------------------ from a graph file, a WAV, a bundle
@pytest.mark.parametrize("kind", list(ESCAPES))
def test_graph_file_cannot_write_outside_the_output_folder(home, capsys, kind):
    g = export_graph(home.parent / "downloads", ESCAPES[kind](home))
    line = assert_refused(capsys, home, [str(g), "-o", "rendered"], "node 'export'", "writes outside the output folder",
                          "--allow-outside")
    assert "my_master.wav" in line or "my-master.flac" in line
    assert not any(Path("rendered").glob("**/*.wav"))


def test_validate_reports_what_run_refuses(home, capsys):
    g = export_graph(home.parent / "downloads", str(home / "victim" / "my_master.wav"))
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and "writes outside the output folder" in "\n".join(out)
    assert not Path("rendered").exists()      # validate writes nothing


def test_embedded_graph_in_a_downloaded_wav_cannot_write_outside(home, capsys):
    """`audiochain run free_sample.wav -o rendered` re-runs the graph in the file: that graph's
    export path is relative to `rendered`, and an absolute one is refused."""
    dl = home.parent / "downloads"
    for kind, path in ESCAPES.items():
        g = load(export_graph(dl, path(home), name=f"{kind}.msgpack"))
        sample = tone(dl / f"free_sample_{kind}.wav")
        embed(sample, dumps(g), {})          # a crafted file: the graph as the sender wrote it
        assert_refused(capsys, home, [str(sample), "-o", "rendered"], "writes outside the output folder")
        rc, out, _ = run_cli(capsys, "validate", str(sample), "-o", "rendered")
        assert rc == 1 and "writes outside" in "\n".join(out)


def hostile_bundle(bundle: Path, export_path: str) -> Path:
    """``bundle`` with its graph's export path replaced (and its manifest entry to match): what a
    stranger can send, whatever ``pack`` itself stores."""
    import hashlib
    import json
    import zipfile
    with zipfile.ZipFile(bundle) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    g = loads(members["graph.msgpack"])
    g.nodes["export"].params["path"] = export_path
    members["graph.msgpack"] = data = dumps(g)
    manifest = json.loads(members["bundle.json"])
    manifest["members"]["graph.msgpack"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    members["bundle.json"] = json.dumps(manifest).encode()
    out = bundle.with_name("hostile.acbundle")
    with zipfile.ZipFile(out, "w") as z:
        for name, b in members.items():
            z.writestr(name, b)
    return out


def test_a_bundle_writes_into_the_output_folder(home, capsys):
    src = export_graph(home.parent / "downloads", "takes/mix.flac")
    bundle = pack(load(src), home.parent / "downloads" / "song.acbundle")
    rc, out, err = run_cli(capsys, str(bundle), "-o", "rendered")
    assert rc == 0 and out == [f"wrote {Path('rendered').resolve() / 'takes' / 'mix.flac'}"], (out, err)


@pytest.mark.parametrize("kind", list(ESCAPES))
def test_bundle_cannot_write_outside(home, capsys, kind):
    src = export_graph(home.parent / "downloads", "mix.wav")
    bundle = hostile_bundle(pack(load(src), home.parent / "downloads" / "song.acbundle"), ESCAPES[kind](home))
    assert_refused(capsys, home, [str(bundle), "-o", "rendered"], "writes outside the output folder")
    rc, out, _ = run_cli(capsys, "validate", str(bundle), "-o", "rendered")
    assert rc == 1 and "writes outside" in "\n".join(out)


def test_symlink_inside_the_output_folder_pointing_out_is_refused(home, capsys):
    g = export_graph(home.parent / "downloads", "link/my_master.wav")
    Path("rendered").mkdir()
    os.symlink(home / "victim", "rendered/link")
    assert_refused(capsys, home, [str(g), "-o", "rendered"], "through a symlink")
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and "through a symlink" in "\n".join(out)


def test_a_link_loop_on_the_way_and_the_file_the_graph_came_from_are_refused_before_anything_runs(home, capsys):
    """QA44: validate said ok, and run ran every node before the export failed ("File exists" for
    out/loop -> loop; the embedded graph of song.wav exporting song.wav itself)."""
    g = export_graph(home.parent / "downloads", "loop/x.wav")
    Path("rendered").mkdir()
    os.symlink("loop", "rendered/loop")
    assert_refused(capsys, home, [str(g), "-o", "rendered"], "rendered/loop is a link that leads nowhere")
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and "leads nowhere" in "\n".join(out)
    made = export_graph(Path.cwd(), "song.wav", name="s.msgpack")
    assert run_cli(capsys, str(made), "-o", ".")[0] == 0          # song.wav holds the graph that made it
    song = Path("song.wav").absolute()
    before = song.read_bytes()
    err = assert_refused(capsys, home, [str(song), "-o", "."], "refusing to overwrite the file this graph was opened from")
    assert "ran" not in err and song.read_bytes() == before
    rc, out, _ = run_cli(capsys, "validate", str(song), "-o", ".")
    assert rc == 1 and "opened from" in "\n".join(out)


# ------------------------------------------------------------------ what lets a write through
def test_allow_outside_lets_it_through(home, capsys):
    target = home / "victim" / "render.wav"
    g = export_graph(home.parent / "downloads", str(target))
    rc, out, err = run_cli(capsys, str(g), "-o", "rendered", "--allow-outside", str(home / "victim"))
    assert rc == 0, err
    assert out == [f"wrote {target}"] and sf.info(target).frames == RATE // 4
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered", "--allow-outside", str(home / "victim"))
    assert rc == 0, out


def test_allow_outside_covers_only_its_folder(home, capsys):
    g = export_graph(home.parent / "downloads", str(home / "Music" / "x.wav"))
    assert_refused(capsys, home, [str(g), "-o", "rendered", "--allow-outside", str(home / "victim")],
                   "writes outside")


def test_a_path_typed_with_set_is_the_users_own(home, capsys):
    g = export_graph(home.parent / "downloads", "mix.wav")
    target = home / "victim" / "typed.wav"
    rc, out, err = run_cli(capsys, str(g), "-o", "rendered", "--set", f"export.path={target}")
    assert rc == 0, err
    assert out == [f"wrote {target}"] and not any(line.startswith("note:") for line in err)
    # over a file AudioChain did not write: allowed, and said (QA51: replaced without a word)
    notes = target.with_name("notes.wav")
    notes.write_text("my notes")
    rc, out, err = run_cli(capsys, str(g), "-o", "rendered", "--set", f"export.path={notes}")
    assert rc == 0 and out == [f"wrote {notes}"], err
    said = [line for line in err if "replaced a file AudioChain" in line]      # once, by the export (QA98 D3: the
    assert len(said) == 1 and said[0].startswith(f"warning export: {notes}: replaced a file AudioChain did not "
                                                 "export ("), err               # run said it again as a note)
    rc, out, err = run_cli(capsys, str(g), "-o", "rendered", "--set", f"export.path={notes}")
    assert rc == 0 and not any(line.startswith("note:") for line in err)     # now it is AudioChain's own


def test_a_saved_sweep_cannot_write_outside(home, capsys):
    dl = home.parent / "downloads"
    g = load(export_graph(dl, "a.wav"))
    g.sweep = {"mode": "grid", "axes": [{"param": "export.path", "values": ["a.wav", str(home / "victim" / "b.wav")]}]}
    (dl / "g.msgpack").write_bytes(dumps(g))     # as a stranger can write it (save stores only b.wav)
    before = snapshot(home)
    rc, _, err = run_cli(capsys, str(dl / "g.msgpack"), "-o", "rendered")
    assert rc == 1 and "writes outside" in "\n".join(err)
    assert snapshot(home) == before


# ------------------------------------------------------------------ existing files at the target
def test_rerunning_into_the_same_folder_replaces_its_own_exports(home, capsys):
    g = export_graph(home.parent / "downloads", "takes/mix.wav")
    assert run_cli(capsys, str(g), "-o", "rendered")[0] == 0
    first = Path("rendered/takes/mix.wav")
    assert read_tags(first).get("audiochain_version")
    os.utime(first, ns=(1, 1))
    rc, out, err = run_cli(capsys, str(g), "-o", "rendered")
    assert rc == 0, err
    assert first.stat().st_mtime_ns != 1 and sf.info(first).frames == RATE // 4


def test_an_existing_file_audiochain_did_not_export_is_refused(home, capsys):
    g = export_graph(home.parent / "downloads", "mix.wav")
    Path("rendered").mkdir()
    Path("rendered/mix.wav").write_bytes(b"the user's own recording")
    before = snapshot(Path("rendered"))
    line = assert_refused(capsys, home, [str(g), "-o", "rendered"], "node 'export'",
                          "an existing file AudioChain did not export", "--allow-outside")
    assert snapshot(Path("rendered")) == before
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and "AudioChain did not export" in "\n".join(out)
    # allowing that very file lets the run replace it
    rc, _, err = run_cli(capsys, str(g), "-o", "rendered", "--allow-outside", str(Path("rendered/mix.wav").resolve()))
    assert rc == 0, err
    assert line


def test_the_engine_refuses_before_anything_runs(home):
    """Executor.run (Python) with a loaded graph: GraphError before any node runs, nothing written."""
    g = load(export_graph(home.parent / "downloads", str(home / "victim" / "my_master.wav")))
    before = snapshot(home)
    events = []
    with pytest.raises(GraphError, match="writes outside the output folder"):
        Executor().run(g, output_dir=home.parent / "out", on_event=events.append)
    assert events == [] and snapshot(home) == before


def test_graphs_built_in_code_write_where_their_code_says(tmp_path):
    """Paths set from Python (Graph.add / set) are the user's own, as before."""
    tone(tmp_path / "in.wav")
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("io.export", id="export", path=str(tmp_path / "elsewhere" / "x.wav"))
    g.connect("load", "export")
    res = Executor().run(g, output_dir=tmp_path / "out")
    assert res["export"]["out"] == str(tmp_path / "elsewhere" / "x.wav")


# ------------------------------------------------------------------ validate checks what run checks
def test_empty_output_folder_is_refused(home, capsys):
    """QA73 D13: the line said "leave -o out", which reads as the flag `-o out`."""
    g = export_graph(home.parent / "downloads", "mix.wav")
    for argv in ([str(g), "-o", ""], ["validate", str(g), "-o", ""]):
        rc, out, err = run_cli(capsys, *argv)
        assert rc == 1 and err == ['error: -o "": empty output folder; give a folder (-o out), or omit -o to write '
                                   'into the current folder'], err
    assert list(Path.cwd().iterdir()) == []


def test_validate_reports_a_special_or_unreadable_input(home, capsys):
    dl = home.parent / "downloads"
    g = export_graph(dl, "mix.wav")
    (dl / "in.wav").unlink()
    os.mkfifo(dl / "in.wav")                     # must not hang
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and "is not a regular file" in "\n".join(out)
    assert_refused(capsys, home, [str(g), "-o", "rendered"], "is not a regular file")
    (dl / "in.wav").unlink()
    (dl / "in.wav").mkdir()
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and "is a folder" in "\n".join(out)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_validate_reports_an_input_without_read_permission(home, capsys):
    dl = home.parent / "downloads"
    g = export_graph(dl, "mix.wav")
    (dl / "in.wav").chmod(0)
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and "cannot be read" in "\n".join(out)
    assert_refused(capsys, home, [str(g), "-o", "rendered"], "cannot be read")


def test_validate_reports_a_device_this_machine_lacks(home, capsys):
    pytest.importorskip("torch")
    dl = home.parent / "downloads"
    g = Graph()
    g.path = dl / "gen.msgpack"
    g.add("models.musicgen", id="gen", device="mps")    # Apple MPS: never on Linux
    dl.mkdir(parents=True, exist_ok=True)
    save(g, g.path)
    rc, out, _ = run_cli(capsys, "validate", str(g.path), "-o", "rendered")
    assert rc == 1 and any("node 'gen'" in l and "MPS is not available" in l for l in out), out
    g.nodes["gen"].params["device"] = "auto"
    save(g, g.path)
    rc, out, _ = run_cli(capsys, "validate", str(g.path), "-o", "rendered", "--device", "mps")
    assert rc == 1 and any("MPS is not available" in l and "--device" in l for l in out), out
    rc, _, err = run_cli(capsys, str(g.path), "-o", "rendered", "--device", "mps")
    assert rc == 1 and "MPS is not available" in "\n".join(err)


@pytest.mark.parametrize("params, message", [
    (dict(path="mix.aiff"), "cannot tell the format from '.aiff'"),
    (dict(path="mix.wav", format="flac"), "format=flac but path='mix.wav' ends in .wav"),
    (dict(path="mix.mp3", sample_rate="96000"), "mp3 supports sample rates 8000, "),
    (dict(path="a\nb.wav"), "path='a\\nb.wav' holds a control character ('\\n')"),
    (dict(path="take\x1b[31m.wav"), "holds a control character ('\\x1b')"),
    (dict(path="evil\u202evaw.exe.wav"), "holds a control character ('\\u202e')"),     # right-to-left override
    (dict(path="a\x85b.wav"), "holds a control character ('\\x85')"),
    (dict(path="mixes/"), "path='mixes/' names a folder; give a file name, e.g. mixes/out.wav"),
    (dict(path="."), "path='.' names a folder; give a file name, e.g. out.wav"),         # QA79 D6: wrote '..wav'
    (dict(path="takes/..", format="flac"), "path='takes/..' names a folder"),
    (dict(path="C:/mixes/x.wav"), "path='C:/mixes/x.wav' names a Windows drive"),        # QA79 D5: made a folder 'C:'
    (dict(path="CON"), "'CON' is a name Windows keeps for a device"),
    (dict(path="stems/nul.wav"), "'nul.wav' is a name Windows keeps for a device"),
    (dict(path="C:x.wav"), "names a Windows drive"),                         # QA80 D6: C: drive's own folder
    (dict(path="COM0.wav"), "'COM0.wav' is a name Windows keeps"),
    (dict(path="conin$.wav"), "is a name Windows keeps"),
    (dict(path="x.wav "), "'x.wav ' ends in a space or a dot"),
    (dict(path="x.wav."), "'x.wav.' ends in a space or a dot"),
    (dict(path="..wav"), "a name starting with a dot is a hidden file"),
    (dict(path="take:stream.wav"), "holds :, which Windows cannot hold in a file name"),     # QA81
    (dict(path="mixes/take?|1.wav"), "holds ? |, which Windows cannot hold"),
])
def test_validate_reports_a_bad_export_name(home, capsys, params, message):
    params = dict(params)
    path = params.pop("path")
    g = export_graph(home.parent / "downloads", path, **params)
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and any(message in l for l in out), out
    assert_refused(capsys, home, [str(g), "-o", "rendered"], message)
    assert not Path("rendered").exists()


# ------------------------------------------------------------------ places a run cannot write, found before it runs
@pytest.mark.parametrize("node", ["load", "export"])
def test_a_path_with_a_nul_character_is_one_line_from_validate_and_run(home, capsys, node):
    """A stranger's graph file whose path holds a NUL byte (the OS cannot even look it up)."""
    g = export_graph(home.parent / "downloads", "mix.wav")
    name = b"in.wav" if node == "load" else b"mix.wav"
    g.write_bytes(g.read_bytes().replace(name, name[:1] + b"\x00" + name[2:]))    # same length: still msgpack
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    said = f"path='{name[:1].decode()}\\x00{name[2:].decode()}': text contains a NUL character (\\x00), which no " \
        "file name or prompt can hold; remove it"
    assert rc == 1 and any(f"node '{node}'" in l and l.endswith(said) for l in out), out
    assert_refused(capsys, home, [str(g), "-o", "rendered"], f"node '{node}'", "NUL character")
    assert not Path("rendered").exists()


@pytest.mark.parametrize("node, long", [("load", "b" * 6000 + ".wav"), ("load", "a/" * 3000 + "x.wav"),
                                        ("export", "c" * 6000 + ".wav"), ("export", "d/" * 3000 + "o.wav")])
def test_a_path_of_kilobytes_is_one_line_naming_its_node_from_validate_and_run(home, capsys, node, long):
    """QA: a 6 KB path (the OS cannot look it up: ENAMETOOLONG) was refused without the node's name."""
    folder = home.parent / "downloads"
    g = export_graph(folder, long if node == "export" else "mix.wav")
    if node == "load":
        doc = load(g)
        doc.nodes["load"].params["path"] = long
        doc.path = g
        g.write_bytes(dumps(doc))
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and len(out) == 2 and f"node '{node}'" in out[1] and long[:20] in out[1], out
    assert len(out[1]) < 300 and ("longer than the file system takes" in out[1] or "choose a shorter path" in out[1])
    assert_refused(capsys, home, [str(g), "-o", "rendered"], f"node '{node}'", "choose a shorter path")
    assert not Path("rendered").exists()


def test_a_file_name_longer_than_the_file_system_takes_is_refused_before_anything_runs(home, capsys):
    g = export_graph(home.parent / "downloads", "take " * 50 + ".wav")       # 254 bytes: its temp file's name is longer
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and any("the file name is 254 bytes long" in l and "at most 191 bytes" in l for l in out), out
    assert_refused(capsys, home, [str(g), "-o", "rendered"], "node 'export'", "choose a name of at most 191 bytes")
    assert not Path("rendered").exists()
    # the limit is the real one: 191 bytes are written, tags and all (QA: 212 passed and failed writing the tags)
    for name, rc_wanted in (("a" * 187 + ".wav", 0), ("a" * 188 + ".wav", 1)):
        rc, _, err = run_cli(capsys, str(g), "-o", "rendered", "--set", f"export.path={name}")
        assert rc == rc_wanted and (rc or Path("rendered", name).is_file()), err


def test_a_read_only_output_folder_is_refused_before_anything_runs(home, capsys):
    import subprocess
    ro = Path("ro").absolute()
    ro.mkdir()
    if subprocess.run(["mount", "-o", "bind,ro", str(ro), str(ro)], capture_output=True).returncode != 0:
        if os.geteuid() == 0:
            pytest.skip("cannot mount a read-only folder here, and root writes into any folder")
        ro.chmod(0o555)
        why = "is not writable"
    else:
        why = "is on a read-only file system"
    try:
        g = export_graph(home.parent / "downloads", "mix.wav")
        for out_dir in (ro, ro / "new" / "sub"):
            rc, out, _ = run_cli(capsys, "validate", str(g), "-o", str(out_dir))
            said = f"output folder {out_dir}: {ro} {why}; choose another output folder (-o)"      # (QA66 L4)
            assert rc == 1 and any(l.endswith(said) for l in out), out
            assert_refused(capsys, home, [str(g), "-o", str(out_dir)], said)
        assert list(ro.iterdir()) == []
    finally:
        if why.startswith("is on"):
            subprocess.run(["umount", str(ro)], check=True)
        ro.chmod(0o755)


def _sysfs_refuses_folders() -> bool:
    """Whether /sys is sysfs here and refuses a new folder (to root too)."""
    import tempfile
    if not Path("/sys/kernel").is_dir():
        return False
    try:
        os.rmdir(tempfile.mkdtemp(dir="/sys"))
    except OSError:
        return True
    return False


@pytest.mark.skipif(not _sysfs_refuses_folders(), reason="needs Linux's /sys, which refuses new folders")
@pytest.mark.parametrize("folder", ["/sys/audiochain-test/sub", "/sys/kernel"])
def test_an_output_folder_the_file_system_refuses_is_one_line_from_validate_and_run(home, capsys, folder):
    """QA66: `validate -o /sys/x` said ok (root passes every permission check, and validate creates
    nothing), then the run failed at its export after every other node had run.  Validate says it
    in one line naming the folder, the run says the same line before anything runs, and nothing is
    left on disk."""
    g = export_graph(home.parent / "downloads", "mix.wav")
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", folder)
    lines = [l for l in out if folder in l]
    assert rc == 1 and len(lines) == 1, out
    said = lines[0].removeprefix("  - ")
    assert said.startswith(f"output folder {folder}: ") and said.endswith("choose another output folder (-o)"), said
    assert_refused(capsys, home, [str(g), "-o", folder], said)
    assert not Path("/sys/audiochain-test").exists() and not list(Path("/sys/kernel").glob(".audiochain*"))


def test_validate_leaves_nothing_in_or_above_the_output_folder(home, capsys):
    """What validate checks of the output folder (root tries to make a folder there: QA66) leaves no
    trace: a folder it would make is not made, one that is there holds what it held."""
    g = export_graph(home.parent / "downloads", "mix.wav")
    Path("kept").mkdir()
    (Path("kept") / "old.wav").write_bytes(b"old")
    for out_dir in ("kept", "kept/new/sub", "rendered/today"):
        rc, out, _ = run_cli(capsys, "validate", str(g), "-o", out_dir)
        assert rc == 0 and out[-1].endswith("ok (2 nodes, 1 links)"), out
        assert sorted(p.name for p in Path().iterdir()) == ["kept"]
        assert [p.name for p in Path("kept").iterdir()] == ["old.wav"]


def test_a_run_that_writes_nothing_leaves_no_output_folder(home, capsys):
    g = export_graph(home.parent / "downloads", "mix.wav", loudness_lufs=-20.0)
    tone(g.parent / "in.wav", seconds=2.0)        # long enough to measure: the export starts writing, then refuses
    rc, _, err = run_cli(capsys, str(g), "-o", "rendered/today", "--set", "export.loudness_lufs=-1")   # unreachable
    assert rc == 1 and "cannot be reached" in err[-1], err
    assert not Path("rendered").exists()          # neither the folder it named nor the one above, both made by the run
    Path("kept").mkdir()
    rc, _, err = run_cli(capsys, str(g), "-o", "kept", "--set", "export.loudness_lufs=-1")
    assert rc == 1 and Path("kept").is_dir()      # a folder that was there stays
    rc, _, _ = run_cli(capsys, str(g), "-o", "rendered/today")
    assert rc == 0 and Path("rendered/today/mix.wav").is_file()


def test_a_rate_the_format_cannot_store_is_found_from_the_input_before_anything_runs(home, capsys):
    """``sample_rate=keep`` on a 96 kHz input: the input's header gives the rate an mp3 export would get."""
    dl = home.parent / "downloads"
    g = export_graph(dl, "mix.mp3")
    t = np.arange(96000) / 96000
    sf.write(dl / "in.wav", (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 96000)
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and any("node 'export'" in l and "(got 96000); set this export's sample_rate to 48000" in l
                           for l in out), out
    assert_refused(capsys, home, [str(g), "-o", "rendered"], "(got 96000)")
    rc, _, err = run_cli(capsys, str(g), "-o", "rendered", "--set", "export.sample_rate=48000")
    assert rc == 0 and sf.info("rendered/mix.mp3").samplerate == 48000, err
    # through time.detect_tempo, which passes the clip through (its estimate says so), the rate is known too
    g2 = load(g)
    g2.add("time.detect_tempo", id="tempo", bpm=120.0, beats_per_bar=4)
    g2.links.clear()
    g2.connect("load", "tempo")
    g2.connect("tempo", "export")
    save(g2, dl / "tempo.msgpack")
    rc, out, _ = run_cli(capsys, "validate", str(dl / "tempo.msgpack"), "-o", "rendered2")
    assert rc == 1 and any("(got 96000)" in l for l in out), out
    assert_refused(capsys, home, [str(dl / "tempo.msgpack"), "-o", "rendered2"], "(got 96000)")


@pytest.mark.parametrize("second", ["same.wav", "./sub/../same.wav"])
def test_two_exports_to_one_file_are_refused_before_anything_runs(home, capsys, second):
    """One export would silently replace the other (which one, changing from run to run), and the run
    said it wrote both: validate and run say so, and nothing is written."""
    folder = home.parent / "downloads"
    tone(folder / "in.wav")
    g = Graph()
    g.path = folder / "dup.msgpack"
    g.add("io.load", id="load", path="in.wav")
    g.add("io.export", id="plain", path="same.wav")
    g.add("dsp.gain", id="quiet", gain_db=-20.0)
    g.add("io.export", id="quieter", path=second)
    g.connect("load", "plain")
    g.connect("load", "quiet")
    g.connect("quiet", "quieter")
    g.path.write_bytes(dumps(g))
    rc, out, _ = run_cli(capsys, "validate", str(g.path), "-o", "rendered")
    assert rc == 1 and any("node 'quieter'" in line and "node 'plain' writes too" in line for line in out), out
    assert_refused(capsys, home, [str(g.path), "-o", "rendered"], "node 'quieter'", "another name")
    assert not any(Path("rendered").glob("**/*.wav"))


def test_a_path_longer_than_the_system_takes_is_one_short_line(home, capsys):
    """A 30-level, 6 KB export path gave a 6 KB error line ending in "free some space"."""
    g = export_graph(home.parent / "downloads", "/".join(["d" * 200] * 30) + "/x.wav")
    line = assert_refused(capsys, home, [str(g), "-o", "rendered"], "node 'export'", "bytes long; this system takes "
                          "paths of at most", "choose a shorter path")      # (the count: the temp folder's too)
    assert len(line) < 400 and "free some space" not in line


def test_an_export_path_naming_a_folder_is_said_by_validate(home, capsys):
    """QA: validate said ok, the run then refused 'names a folder' with FAILED progress lines."""
    g = export_graph(home.parent / "downloads", "takes/mix.wav")
    (Path("rendered") / "takes" / "mix.wav").mkdir(parents=True)
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    assert rc == 1 and any("node 'export'" in l and "names a folder" in l and "give a file name" in l for l in out), out
    assert_refused(capsys, home, [str(g), "-o", "rendered"], "node 'export'", "names a folder")


def test_an_export_path_naming_a_folder_without_an_extension_is_said_once(home, capsys):
    """QA88 D5: `--set export.path=<a folder>` said two problems, "cannot tell the format from a name
    without extension" and "names a folder", where the second alone is the answer; QA102 D3: `.` said "names a
    folder" twice, the node's word and the run's (with the folder)."""
    g = export_graph(home.parent / "downloads", "take.wav")
    (Path("rendered") / "stems").mkdir(parents=True)
    for path in ("stems", str(Path("rendered", "stems").absolute()), ".", "stems/.."):
        rc, out, err = run_cli(capsys, "validate", str(g), "-o", "rendered", "--set", f"export.path={path}")
        said = [l for l in out + err if "node 'export'" in l]
        assert rc == 1 and len(said) == 1 and "names a folder" in said[0] and "give a file name" in said[0], (out, err)


def window_export_graph(folder: Path, load_path: str = "in.wav", seconds: float = 1.0) -> Path:
    """A stranger's graph: load -> 0.25 s windows -> export to take.wav, one file per window
    (take_1.wav ... take_4.wav for a second of audio)."""
    tone(folder / "in.wav", seconds)
    g = Graph()
    g.path = folder / "g.msgpack"
    g.add("io.load", id="load", path=load_path)
    g.add("time.tokenize_window", id="win", unit="seconds", size=0.25)
    g.add("io.export", id="export", path="take.wav")
    g.connect("load", "win")
    g.connect("win", "export")
    g.path.write_bytes(dumps(g))
    return g.path


@pytest.mark.parametrize("case", ["symlink", "foreign", "input"])
def test_the_numbered_files_of_an_export_of_a_list_are_checked_before_anything_runs(home, capsys, case):
    """QA66 M1: take.wav fed four windows writes take_1.wav ... take_4.wav, and those names were
    checked only as each item was written: validate said ok, the run wrote take_3 and take_4, then
    refused take_1 (a symlink out of the folder, a file AudioChain did not make, or the graph's own
    input) and exited 1.  Now validate and run refuse it in one line before anything is written."""
    out = Path("rendered")
    out.mkdir()
    if case == "symlink":
        os.symlink(home / "victim" / "my_master.wav", out / "take_1.wav")
        g, needle = window_export_graph(home.parent / "downloads"), "item 1: path='take_1.wav' writes outside"
    elif case == "foreign":
        (out / "take_2_drums.wav").write_bytes(b"the user's own take")    # a labelled item's name too
        g, needle = window_export_graph(home.parent / "downloads"), "item 2: path='take_2_drums.wav' would replace"
    else:                                   # an earlier render, AudioChain's own, read as the input
        earlier = export_graph(home.parent / "earlier", "take_1.wav")
        tone(earlier.parent / "in.wav", 1.0)
        assert run_cli(capsys, str(earlier), "-o", str(out))[0] == 0
        g = window_export_graph(out, load_path="take_1.wav")
        needle = "item 1: path='take_1.wav' would overwrite an input file of this graph"
    before = snapshot(out)
    line = assert_refused(capsys, home, [str(g), "-o", str(out)], "node 'export' (io.export): path='take.wav' writes "
                          "one file per item of its 4", needle)
    assert snapshot(out) == before, line
    rc, said, _ = run_cli(capsys, "validate", str(g), "-o", str(out))
    assert rc == 1 and needle in "\n".join(said), said


def test_an_export_of_a_list_replaces_its_own_numbered_files_on_a_second_run(home, capsys):
    g = window_export_graph(home.parent / "downloads")
    for _ in range(2):
        rc, _, err = run_cli(capsys, str(g), "-o", "rendered")
        assert rc == 0, err
    assert sorted(p.name for p in Path("rendered").iterdir()) == [f"take_{i}.wav" for i in range(1, 5)]


def test_an_output_folder_under_a_file_is_said_of_the_folder_not_of_each_export(home, capsys):
    """QA66 L4: -o below a regular file was blamed on the export node's path."""
    g = export_graph(home.parent / "downloads", "mix.wav")
    Path("afile").write_text("a file, not a folder")
    line = assert_refused(capsys, home, [str(g), "-o", "afile/sub"])
    assert line == f"error: output folder afile/sub: {Path('afile').resolve()} is a file, not a folder; choose " \
                   "another one (-o)", line
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "afile/sub")
    assert rc == 1 and out[-1].endswith("is a file, not a folder; choose another one (-o)"), out


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_device_this_machine_lacks_is_refused_for_a_graph_without_model_nodes(home, capsys, command):
    """QA73 D16: `--device mps` was refused for a graph with a model node, but accepted silently
    (validate 'ok', run rendered) for one without; it is one line whatever the graph holds."""
    pytest.importorskip("torch")          # (without it the line says torch is missing)
    g = export_graph(home.parent / "downloads", "mix.wav")
    rc, out, err = run_cli(capsys, *([command] if command == "validate" else []), str(g), "-o", "rendered",
                           "--device", "mps")                   # Apple MPS: never on Linux
    said = "device='mps': Apple MPS is not available on this machine; use device 'auto' or 'cpu'"
    assert rc == 1
    if command == "validate":
        assert [l for l in out if not l.startswith("reads outside")][-2:] == [f"{g}: 1 problem(s):", f"  - {said}"], out
    else:
        assert err == [f"error: {said}"], err
    assert not Path("rendered").exists()


# ------------------------------------------------------------------ reads a graph file names as AudioChain never saves
def stranger_reading(folder: Path, load_path: str, **sweep) -> Path:
    """A graph file from elsewhere: load ``load_path`` (stored as given) -> export take.wav."""
    g = Graph()
    g.path = folder / "g.msgpack"
    folder.mkdir(parents=True, exist_ok=True)
    g.add("io.load", id="load", path=load_path)
    g.add("io.export", id="export", path="take.wav")
    g.connect("load", "export")
    g.sweep = dict(sweep)
    g.path.write_bytes(dumps(g))
    return g.path


@pytest.mark.parametrize("kind", list(ESCAPES) + ["far up"])
def test_a_graph_file_reading_outside_by_a_path_never_saved_is_refused_unless_allowed(home, capsys, kind):
    """QA88 D1: a graph file from elsewhere read ~/.ssh/id_rsa (or any file of yours) into its render, with
    a note on stderr.  A path AudioChain's save never writes in a graph file (absolute, ~, far up) is now
    refused by validate and run, in one line with the --allow-outside that allows it; nothing is written."""
    far = {"far up": lambda h: "../../../../../../.." + str(h / "Music" / "my-master.flac")}
    value = {**ESCAPES, **far}[kind](home)
    if kind == "dotdot":
        value = "../../../" + str((home / "victim" / "my_master.wav").relative_to(home.parent.parent))
    target = (tone(home / "victim" / "my_master.wav") if kind in ("absolute", "dotdot")
              else home / "Music" / "my-master.flac")
    g = stranger_reading(home.parent / "downloads" / "song", value)
    rc, out, _ = run_cli(capsys, "validate", str(g), "-o", "rendered")
    said = [l for l in out if "node 'load'" in l]
    assert rc == 1 and len(said) == 1 and f"reads {target.resolve()}, outside the graph's folder" in said[0], out
    assert f"--allow-outside {target.resolve().parent}" in said[0]
    err = assert_refused(capsys, home, [str(g), "-o", "rendered"], "node 'load'", "never saves in a graph file")
    assert not Path("rendered").exists(), err
    rc, _, err = run_cli(capsys, str(g), "-o", "rendered", "--allow-outside", str(target.parent))
    assert rc == 0 and sf.info(Path("rendered") / "take.wav").frames == sf.info(target).frames, err
    # Python as well, and allow_outside there
    with pytest.raises(GraphError, match="never saves in a graph file"):
        Executor().run(load(g), output_dir=Path("py"))
    Executor().run(load(g), output_dir=Path("py"), allow_outside=[target.parent])
    assert (Path("py") / "take.wav").is_file()


_OPENED: list[str] | None = None          # while a test records: every file opened, every program started


def _note(event: str, args: tuple) -> None:
    if _OPENED is not None and event in ("open", "subprocess.Popen", "os.exec", "os.posix_spawn"):
        _OPENED.append(f"{event} {args[0]!r} {args[1] if len(args) > 1 else ''!r}")


def test_a_refused_read_is_neither_opened_nor_probed(home, capsys):
    """QA96 D5: a stranger's graph naming ``~/.ssh/id_rsa`` was refused, but validation first opened the key
    twice and ran ffmpeg on it (and said "not an audio or video file ffmpeg can read", telling it exists).
    A read the run refuses is not touched before it is allowed."""
    import sys
    global _OPENED
    key = home / ".ssh" / "id_rsa"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    g = stranger_reading(home.parent / "downloads" / "song", "~/.ssh/id_rsa")
    if not getattr(sys, "_audiochain_open_hook", False):     # an audit hook stays for the process: added once
        sys.addaudithook(_note)
        sys._audiochain_open_hook = True      # type: ignore[attr-defined]
    _OPENED = []
    try:
        for argv in (["validate", str(g), "-o", "rendered"], [str(g), "-o", "rendered"]):
            rc, out, err = run_cli(capsys, *argv)
            said = [line for line in out + err if "never saves in a graph file" in line]
            assert rc == 1 and len(said) == 1 and "not an audio" not in " ".join(out + err), (out, err)
        Executor().keys(load(g))       # as the editor keys the nodes it shows (it opened the key to hash it)
        opened = [e for e in _OPENED if "id_rsa" in e or "ffprobe" in e or "ffmpeg" in e]
    finally:
        _OPENED = None
    assert opened == [], opened


def test_an_allowed_far_read_is_checked_and_counted_as_any_input(home, capsys, monkeypatch):
    """A far read a run allows (--allow-outside) is what that run reads: validation checks it (a damaged take is
    said before the run) and its size counts in the memory estimate a run is admitted by (it was left
    uncounted, as a refused one is, so an allowed 10-minute take fitted any limit)."""
    from nodeflow.validation import memory_room
    take = tone(home / "Music" / "long.wav", seconds=60.0)
    g = load(stranger_reading(home.parent / "downloads" / "song", "~/Music/long.wav"))
    allow = (str(home / "Music"),)
    _, _, refused_peak = memory_room(g, None, g.base_dir())
    _, _, allowed_peak = memory_room(g, None, g.base_dir(), allow)
    assert allowed_peak - refused_peak >= sf.info(take).frames * 4, (refused_peak, allowed_peak)  # its float32
    monkeypatch.setenv("AUDIOCHAIN_MAX_MEMORY_GB", str(allowed_peak / 2 / 1e9))
    rc, out, err = run_cli(capsys, "validate", str(g.path), "--allow-outside", str(home / "Music"))
    assert rc == 1 and any("memory" in line and "'load' makes 60 s" in line for line in out + err), (out, err)
    monkeypatch.delenv("AUDIOCHAIN_MAX_MEMORY_GB")
    take.write_bytes(b"RIFF" + bytes(200))                         # damaged: said as for any input
    rc, out, err = run_cli(capsys, "validate", str(g.path), "--allow-outside", str(home / "Music"))
    assert rc == 1 and any("node 'load'" in line and "long.wav" in line for line in out + err), (out, err)
    assert main(["run", str(g.path), "-o", "rendered", "-q", "--allow-outside", str(home / "Music")]) == 1
    assert not Path("rendered").exists()


def test_paths_of_ones_own_are_read_as_they_say(home, capsys):
    """What the user's own graph names is read without asking: a far input the file keeps by its name,
    found again where it was saved (places), a path typed with --set, one set in Python."""
    mine = tone(home / "Music" / "take.wav")
    g = Graph()
    g.add("io.load", id="load", path=str(mine))
    g.add("io.export", id="export", path="take.wav")
    g.connect("load", "export")
    saved = save(g, home.parent / "elsewhere" / "deep" / "g.msgpack")
    assert str(mine) not in saved.read_bytes().decode("latin-1")       # by its file name alone, and remembered
    assert main(["run", str(saved), "-o", "r1", "-q"]) == 0
    stranger = stranger_reading(home.parent / "downloads" / "song", "~/.ssh/id_rsa")
    assert main(["run", str(stranger), "-o", "r2", "-q", "--set", f"load.path={mine}"]) == 0
    again = load(stranger)
    again.set("load", "path", str(mine))
    Executor().run(again, output_dir=Path("r3"))
    assert all(sf.info(Path(r) / "take.wav").frames == sf.info(mine).frames for r in ("r1", "r2", "r3"))


def test_a_saved_sweep_reading_outside_by_a_path_never_saved_is_refused(home, capsys):
    tone(home.parent / "downloads" / "song" / "in.wav")
    private = tone(home / "Music" / "memo.wav")
    g = stranger_reading(home.parent / "downloads" / "song", "in.wav",
                         mode="grid", axes=[{"param": "load.path", "values": ["in.wav", str(private)]}])
    before = snapshot(home)
    rc, _, err = run_cli(capsys, str(g), "-o", "rendered")
    refused = [l for l in err if l.startswith("error: ")]
    assert rc == 1 and len(refused) == 1 and "node 'load'" in refused[0] and f"reads {private}" in refused[0], err
    assert not Path("rendered").exists() and snapshot(home) == before
    assert main(["run", str(g), "-o", "rendered", "-q", "--allow-outside", str(private.parent)]) == 0


def test_a_checkpoint_folder_named_as_never_saved_is_refused(home, capsys):
    (home / "models" / "mine").mkdir(parents=True)
    g = Graph()
    g.path = home.parent / "downloads" / "g.msgpack"
    g.path.parent.mkdir(parents=True)
    g.add("models.musicgen", id="gen", checkpoint=str(home / "models" / "mine"), duration_s=1.0)
    g.path.write_bytes(dumps(g))
    rc, out, _ = run_cli(capsys, "validate", str(g.path))
    assert rc == 1 and any("node 'gen'" in l and "checkpoint=" in l and "never saves in a graph file" in l
                           for l in out), out


def test_rerun_of_a_manifest_naming_private_files_is_refused(home, capsys):
    """QA89 R1: a manifest edited by a stranger (a row's value and a --set it records at ~/...) was rerun
    with exit 0 and not even the stderr note: it is a file like a graph file, its values judged alike."""
    import json
    private = tone(home / "Music" / "memo.wav", 0.5)
    g = stranger_reading(home.parent / "downloads" / "song", "in.wav")
    tone(g.parent / "in.wav")
    assert main(["run", str(g), "-o", "out", "-q", "--sweep", "export.bit_depth=pcm16,pcm24"]) == 0
    manifest = Path("out") / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["variants"][0]["params"]["load.path"] = "~/Music/memo.wav"
    for row in doc["variants"]:
        row.pop("reads", None)                     # what each row read: no changed-input check applies
    doc["set"] = ["load.path=~/Music/memo.wav"]
    manifest.write_text(json.dumps(doc))
    capsys.readouterr()
    for row in ("0", "1"):
        assert main(["rerun", str(manifest), row, "-o", f"again{row}", "-q"]) == 1
        err = capsys.readouterr().err
        assert "node 'load'" in err and f"reads {private}" in err and "never saves" in err, err
        assert not Path(f"again{row}").exists()
    assert main(["rerun", str(manifest), "0", "-o", "allowed", "-q", "--allow-outside", str(private.parent)]) == 0


def test_a_link_in_the_graphs_folder_into_a_hidden_folder_is_refused(home, capsys):
    """QA89 R2: a cloned project's link ``keys -> ../.ssh`` read ``keys/id_rsa`` (spelled inside the graph's
    folder); a link to a sample library is one's own set-up and is read (with the outside note)."""
    key = tone(home / ".ssh" / "key.wav", 0.5)
    library = tone(home / "library" / "kick.wav", 0.5)
    proj = home / "proj"
    proj.mkdir()
    (proj / "keys").symlink_to("../.ssh")
    (proj / "samples").symlink_to("../library")
    g = stranger_reading(proj, "keys/key.wav")
    rc, out, _ = run_cli(capsys, "validate", str(g))
    assert rc == 1 and any("node 'load'" in l and f"reads {key}" in l for l in out), out
    assert main(["run", str(g), "-o", "out", "-q"]) == 1 and not Path("out").exists()
    assert main(["run", str(stranger_reading(proj, "samples/kick.wav")), "-o", "out", "-q"]) == 0
    assert sf.info(Path("out") / "take.wav").frames == sf.info(library).frames


def test_ones_own_inputs_in_a_hidden_folder_one_up_are_read_again_everywhere(home, capsys):
    """QA89 R4: save() wrote ``../.samples/kick.wav`` and the reopened graph was refused as a stranger's;
    QA90 D2, D3: stored by name instead, the exported audio's graph and a sweep's rerun lost them.  Such a
    path is one save writes, and is read again from the graph, its exported audio and its manifest."""
    kick = tone(home / "u" / ".samples" / "kick.wav", 0.5)
    snare = tone(home / "u" / ".samples" / "snare.wav", 0.75)
    g = Graph()
    g.add("io.load", id="load", path=str(kick))
    g.add("io.export", id="export", path="take.wav")
    g.connect("load", "export")
    g.sweep = {"mode": "grid", "axes": [{"param": "load.path", "values": [str(kick), str(snare)]}]}
    saved = save(g, home / "u" / "proj" / "g.msgpack")
    assert b"../.samples/kick.wav" in saved.read_bytes()
    out = saved.parent / "out"
    assert main(["run", str(saved), "-o", str(out), "-q", "--no-sweep"]) == 0
    assert sf.info(out / "take.wav").frames == sf.info(kick).frames
    assert main(["run", str(out / "take.wav"), "-o", "again", "-q", "--no-sweep"]) == 0     # its embedded graph
    assert main(["run", str(saved), "-o", str(saved.parent / "swept"), "-q"]) == 0
    for row, want in (("0", kick), ("1", snare)):
        assert main(["rerun", str(saved.parent / "swept" / "manifest.json"), row, "-o", f"r{row}", "-q"]) == 0
        assert [sf.info(p).frames for p in Path(f"r{row}").rglob("take.wav")] == [sf.info(want).frames]


def test_a_link_in_the_graphs_folder_leading_far_is_refused_and_ones_own_is_kept_by_name(home, capsys):
    """QA90 D4: a cloned project's links ``music -> ../../../Music`` and to an absolute folder read
    ``~/Music`` (the same path spelled in the file is refused); one's own graph through such a link is
    saved keeping the input by its name, the place remembered, and reopens."""
    memo = tone(home / "Music" / "memo.wav", 0.5)
    proj = home / "src" / "github" / "proj"
    proj.mkdir(parents=True)
    (proj / "music").symlink_to("../../../Music")
    (proj / "absmusic").symlink_to(home / "Music")
    for link in ("music", "absmusic"):
        g = stranger_reading(proj, f"{link}/memo.wav")
        assert main(["run", str(g), "-o", "out", "-q"]) == 1
        assert f"reads {memo}" in capsys.readouterr().err and not Path("out").exists()
    mine = Graph()
    mine.add("io.load", id="load", path=str(proj / "music" / "memo.wav"))
    mine.add("io.export", id="export", path="take.wav")
    mine.connect("load", "export")
    saved = save(mine, proj / "mine.msgpack")
    assert b"music/memo.wav" not in saved.read_bytes()
    assert main(["run", str(saved), "-o", "out", "-q"]) == 0
    assert sf.info(Path("out") / "take.wav").frames == sf.info(memo).frames


def test_a_files_own_link_in_the_graphs_folder_leading_far_is_refused_and_ones_own_reopens(home, capsys):
    """QA122 D1: a received project's ``take.wav -> ~/.private/take.wav`` (a link to the file itself, named by
    the link's name, as a save would write a near file) rendered the private take with a note on stderr, where
    a link to its folder was refused; an absolute link and one to a folder far up alike.  Now refused the same;
    one's own graph with such a link is saved keeping the input by its name, the place remembered, and
    reopens (in the editor and `show` as the link's whole path, as any far input found again)."""
    private = tone(home / ".private" / "take.wav", 0.5)
    far = tone(home.parent / "far" / "kick.wav", 0.25)
    proj = home / "songs" / "2026" / "proj"
    near = tone(proj / "assets" / "snare.wav", 0.25)
    (proj / "take.wav").symlink_to(private)
    (proj / "rel.wav").symlink_to("../../../.private/take.wav")
    (proj / "kick.wav").symlink_to(far)
    (proj / "snare.wav").symlink_to("assets/snare.wav")        # a link within the project: one's own set-up
    for name, real in (("take.wav", private), ("rel.wav", private), ("kick.wav", far)):
        g = stranger_reading(proj, name)
        rc, out, _ = run_cli(capsys, "validate", str(g))
        assert rc == 1 and any("node 'load'" in l and f"reads {real}" in l and "never saves" in l for l in out), out
        assert main(["run", str(g), "-o", "out", "-q"]) == 1 and not Path("out").exists()
        assert f"reads {real}" in capsys.readouterr().err
        assert main(["run", str(g), "-o", "out", "-q", "--allow-outside", str(real.parent)]) == 0
        shutil.rmtree("out")
    assert main(["run", str(stranger_reading(proj, "snare.wav")), "-o", "out", "-q"]) == 0
    assert sf.info(Path("out") / "take.wav").frames == sf.info(near).frames
    shutil.rmtree("out")
    mine = Graph()
    mine.add("io.load", id="load", path=str(proj / "take.wav"))
    mine.add("io.export", id="export", path="take.wav")
    mine.connect("load", "export")
    saved = save(mine, proj / "mine.msgpack")
    assert b".private" not in saved.read_bytes() and str(home).encode() not in saved.read_bytes()
    assert main(["run", str(saved), "-o", "out", "-q"]) == 0
    assert sf.info(Path("out") / "take.wav").frames == sf.info(private).frames
    # QA126 D2-D4: one's own project copied (links and all), its folder renamed, and its sweep rerun, still run;
    # a stranger's graph beside the copy is still refused
    copy = proj.parent / "proj-copy"
    shutil.copytree(proj, copy, symlinks=True)
    proj.rename(proj.parent / "proj-v2")
    from nodeflow.places import recall, state_dir
    for own in (copy / "mine.msgpack", proj.parent / "proj-v2" / "mine.msgpack"):
        assert main(["run", str(own), "-o", str(own.parent / "again"), "-q"]) == 0, capsys.readouterr().err
    assert main(["run", str(stranger_reading(copy, "take.wav")), "-o", "strange", "-q"]) == 1
    assert f"reads {private}" in capsys.readouterr().err and not Path("strange").exists()
    swept = proj.parent / "proj-v2" / "mine.msgpack"
    assert main(["run", str(swept), "-o", "swept", "-q", "--sweep", "load.path=take.wav,rel.wav"]) == 0
    for row in ("0", "1"):
        assert main(["rerun", str(Path("swept") / "manifest.json"), row, "-q"]) == 0, capsys.readouterr().err


def test_the_graph_extracted_from_ones_own_export_keeps_its_far_inputs(home, capsys):
    """QA123 D2: `audiochain extract` of one's own export wrote the far inputs by their file names alone, their
    places forgotten: the extracted graph was refused (a file link leading far) or its take not found (a far
    absolute path), where `audiochain run` of the same audio file ran.  Extract now reads the audio file as a
    run does, far inputs found again, and saves it as Save does: next to the take or elsewhere, it runs."""
    private = tone(home / ".private" / "take.wav", 0.5)
    far = tone(home.parent / "far" / "kit" / "kick.wav", 0.25)
    proj = home / "songs" / "2026" / "proj"
    proj.mkdir(parents=True)
    (proj / "take.wav").symlink_to(private)
    g = Graph()
    g.add("io.load", id="load", path=str(proj / "take.wav"))
    g.add("io.load", id="kick", path=str(far))
    g.add("dsp.mix", id="mix")
    g.add("io.export", id="export", path="mix.wav")
    g.connect("load", "mix.a")
    g.connect("kick", "mix.b")
    g.connect("mix", "export")
    saved = save(g, proj / "mine.msgpack")
    assert main(["run", str(saved), "-o", "out", "-q"]) == 0
    for dest in (proj / "extracted.msgpack", home / "elsewhere" / "x" / "extracted.msgpack"):
        dest.parent.mkdir(parents=True, exist_ok=True)
        assert main(["extract", str(Path("out") / "mix.wav"), "-o", str(dest)]) == 0
        assert str(home).encode() not in dest.read_bytes() and b".private" not in dest.read_bytes()
        capsys.readouterr()
        assert main(["run", str(dest), "-o", str(dest.parent / "again"), "-q"]) == 0, capsys.readouterr().err
        assert sf.info(dest.parent / "again" / "mix.wav").frames == sf.info(private).frames


def test_rerun_of_a_cloned_projects_manifest_through_a_link_is_refused(home, capsys):
    """QA90 D1: a manifest's row ``load.path=keys/id_rsa`` was judged from the manifest's folder, where no
    link is, and read from the graph's, where ``keys -> ../.ssh`` is."""
    import json
    key = tone(home / ".ssh" / "key.wav", 0.5)
    proj = home / "proj1"
    g = stranger_reading(proj, "in.wav")
    tone(proj / "in.wav")
    (proj / "keys").symlink_to("../.ssh")
    assert main(["run", str(g), "-o", str(proj / "out"), "-q", "--sweep", "export.bit_depth=pcm16,pcm24"]) == 0
    manifest = proj / "out" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["variants"][0]["params"]["load.path"] = "keys/key.wav"
    for row in doc["variants"]:
        row.pop("reads", None)
    manifest.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["rerun", str(manifest), "0", "-o", "again", "-q"]) == 1
    assert f"reads {key}" in capsys.readouterr().err and not Path("again").exists()


def test_a_graph_in_a_folder_named_like_an_unpacked_bundle_is_checked(home, capsys, monkeypatch):
    """QA89 R5: a folder in the temp folder named audiochain-bundle-* (an archive's, its name the
    sender's) was taken for a bundle being run, and its graph's reads were not judged."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(home.parent / "tmp"))
    tone(home / "Music" / "memo.wav")
    g = stranger_reading(home.parent / "tmp" / "audiochain-bundle-demo", "~/Music/memo.wav")
    assert main(["run", str(g), "-o", "out", "-q"]) == 1
    assert "never saves in a graph file" in capsys.readouterr().err and not Path("out").exists()


def test_a_path_typed_as_the_graph_file_stores_it_is_the_users_own(home, capsys):
    """QA89 R6: --set or --sweep typing the very value the graph file stored was refused with it."""
    memo, other = tone(home / "Music" / "memo.wav", 0.5), tone(home / "Music" / "other.wav", 0.75)
    g = stranger_reading(home.parent / "downloads" / "song", "~/Music/memo.wav")
    assert main(["run", str(g), "-o", "set", "-q", "--set", "load.path=~/Music/memo.wav"]) == 0
    assert main(["run", str(g), "-o", "swept", "-q", "--sweep", "load.path=~/Music/memo.wav,~/Music/other.wav"]) == 0
    assert sorted(sf.info(p).frames for p in Path("swept").rglob("take.wav")) == sorted(
        sf.info(p).frames for p in (memo, other))


def test_a_bundle_naming_a_checkpoint_as_pack_never_does_is_refused(home, capsys):
    """QA89 R3: a hand-made bundle whose checkpoint was ~/privvoice (or absolute) ran the receiver's model;
    pack names a checkpoint folder beside the bundle relative to it, never so."""
    import hashlib
    import json
    import zipfile
    (home / "privvoice").mkdir()
    for value in ("~/privvoice", str(home / "privvoice")):
        g = Graph()
        g.add("models.musicgen", id="gen", checkpoint=value, duration_s=1.0)
        data = dumps(g)
        meta = {"format": "audiochain.bundle", "version": 1,
                "members": {"graph.msgpack": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}}}
        bundle = Path("b.acbundle")
        with zipfile.ZipFile(bundle, "w") as z:
            z.writestr("graph.msgpack", data)
            z.writestr("bundle.json", json.dumps(meta))
        for argv in (["run", str(bundle), "-o", "out", "-q"], ["validate", str(bundle)], ["show", str(bundle)]):
            assert main(argv) == 1, argv
            err = capsys.readouterr().err
            assert f"node 'gen' names checkpoint={value!r}, a folder outside the bundle" in err, err


def test_a_rerun_of_a_strangers_manifest_does_not_hash_what_it_refuses(home, capsys):
    """QA97 D5: a stranger's manifest whose ``--set`` named ``~/.ssh/id_rsa``: rerun opened the key and hashed it
    (for the row's record of what it read) before the run refused it."""
    import json
    import sys
    global _OPENED
    key = home / ".ssh" / "id_rsa"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    song = home.parent / "downloads" / "song"
    tone(song / "take.wav")
    g = stranger_reading(song, "take.wav")
    assert main(["run", str(g), "-o", str(song / "out"), "-q", "--sweep", "export.bit_depth=pcm16,pcm24"]) == 0
    doc = json.loads((song / "out" / "manifest.json").read_text())
    doc["set"] = ["load.path=~/.ssh/id_rsa"]
    (song / "out" / "manifest.json").write_text(json.dumps(doc))
    if not getattr(sys, "_audiochain_open_hook", False):
        sys.addaudithook(_note)
        sys._audiochain_open_hook = True      # type: ignore[attr-defined]
    capsys.readouterr()
    _OPENED = []
    try:
        assert main(["rerun", str(song / "out" / "manifest.json"), "0"]) == 1
        opened = [e for e in _OPENED if "id_rsa" in e]
    finally:
        _OPENED = None
    assert "never saves in a graph file" in capsys.readouterr().err
    assert opened == [], opened
