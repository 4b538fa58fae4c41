"""Graphs and songs from strangers (issue 11's fuzz suite; bundles have theirs in test_bundle_hostile.py).

Hostile graph files, and the same graphs embedded in WAVs a user downloads, go through ``validate``,
``show``, ``run``, ``pack`` and ``extract`` in a sandbox with a fake home folder.  Each command ends
with no traceback, exit 0 or 1 (1 with one ``error:`` line, or validate's problem list), within its
time, and nothing outside the run's output folder is created, changed or removed."""
from __future__ import annotations

import os
import random
from pathlib import Path

import msgpack
import numpy as np
import pytest
import soundfile as sf

from nodeflow.audiometa import Metadata, write_metadata
from nodeflow.cli import main

COMMANDS = ("validate", "show", "run", "pack", "extract")


def _snapshot(root: Path, skip: Path) -> dict[str, tuple]:
    """Every path under ``root`` except ``skip``: (kind, size, mtime, first bytes)."""
    out = {}
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        d = Path(dirpath)
        if d == skip or skip in d.parents:
            dirs[:] = []
            continue
        for name in dirs + files:
            p = d / name
            if p == skip:
                continue
            st = os.lstat(p)
            head = b""
            if p.is_file() and not p.is_symlink() and st.st_size and (st.st_mode & 0o170000) == 0o100000:
                with open(p, "rb") as f:
                    head = f.read(64)
            is_dir = (st.st_mode & 0o170000) == 0o040000        # a folder's own times change with its entries
            out[str(p.relative_to(root))] = (st.st_mode & 0o170000, 0 if is_dir else st.st_size,
                                             0 if is_dir else st.st_mtime_ns, head)
    return out


def _node(nid: str, type_: str, **params) -> dict:
    return {"id": nid, "type": type_, "version": 1, "params": params}


def _doc(nodes: list[dict], links: list[tuple[str, str, str, str]], **extra) -> dict:
    doc = {"format": "audiochain.graph", "version": 1, "saved_by": {"audiochain": "0.1.0"},
           "metadata": {"title": "free sample"}, "nodes": nodes,
           "links": [{"from": [a, b], "to": [c, d]} for a, b, c, d in links], "editor": {}}
    doc.update(extra)
    return doc


def _chain(load_path: str, export_path: str, **export) -> dict:
    return _doc([_node("load", "io.load", path=load_path), _node("export", "io.export", path=export_path, **export)],
                [("load", "out", "export", "audio")])


def _cases(home: Path, inbox: Path) -> dict[str, bytes]:
    """name -> graph file bytes."""
    victim = home / "Music" / "my-master.flac"
    cases = {
        "absolute export over a master": _chain("take.wav", str(victim)),
        "export climbing out": _chain("take.wav", "../../../Music/my-master.flac"),
        "export into ~": _chain("take.wav", "~/Music/my-master.flac"),
        "export through a symlink": _chain("take.wav", "link/escape.wav"),
        "reads ~/.ssh on a loose node": _doc([_node("load", "io.load", path="take.wav"),
                                              _node("export", "io.export", path="out.wav"),
                                              _node("spy", "io.load", path="~/.ssh/id_rsa")],
                                             [("load", "out", "export", "audio")]),
        "reads a FIFO": _chain(str(inbox / "pipe"), "out.wav"),
        "reads /dev/zero": _chain("/dev/zero", "out.wav"),
        "reads a symlink loop": _chain(str(inbox / "loop1"), "out.wav"),
        "escape sequences in text": _chain("take.wav", "out\x1b[8m.wav") | {"metadata": {"title": "\x1b]0;pwned\x07"}},
        "malformed saved_by": _chain("take.wav", "out.wav") | {"saved_by": {"inputs": 7, "node_packs": [1, 2]}},
        "unknown node type": _doc([_node("x", "evil.rm_rf", target="~")], []),
        "self-doubling concat": _doc(
            [_node("load", "io.load", path="take.wav")] + [_node(f"c{i}", "dsp.concat") for i in range(40)]
            + [_node("export", "io.export", path="big.wav")],
            [("load", "out", "c0", "a"), ("load", "out", "c0", "b")]
            + [l for i in range(1, 40) for l in ((f"c{i-1}", "out", f"c{i}", "a"), (f"c{i-1}", "out", f"c{i}", "b"))]
            + [("c39", "out", "export", "audio")]),
        "8000 files": _doc([_node("load", "io.load", path="take.wav"),
                            _node("win", "time.tokenize_window", unit="tokens", size=1.0, profile="musicgen"),
                            _node("export", "io.export", path="w.wav")],
                           [("load", "out", "win", "audio"), ("win", "out", "export", "audio")]),
        "local checkpoint in home": _doc([_node("gen", "models.musicgen", checkpoint=str(home / "models" / "x")),
                                          _node("export", "io.export", path="g.wav")],
                                         [("gen", "out", "export", "audio")]),
        "param of the wrong type": _doc([_node("load", "io.load", path=["take.wav"]),
                                         _node("export", "io.export", path="o.wav", loudness_lufs="loud")],
                                        [("load", "out", "export", "audio")]),
    }
    out = {k: msgpack.packb(v, use_bin_type=True) for k, v in cases.items()}
    base = out["absolute export over a master"]
    rng = random.Random(7)
    for i in range(12):                                  # random byte damage of a hostile graph
        b = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        out[f"damaged bytes {i}"] = bytes(b)
    return out


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "Music").mkdir(parents=True)
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    sf.write(home / "Music" / "my-master.flac", np.zeros((4410, 2)), 44100)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    t = np.arange(44100 * 2) / 44100
    sf.write(inbox / "take.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 44100)
    os.mkfifo(inbox / "pipe")
    os.symlink(inbox / "loop2", inbox / "loop1")
    os.symlink(inbox / "loop1", inbox / "loop2")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(home / "Music", out / "link")                # a link already sitting in the output folder
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(inbox)
    return tmp_path, home, inbox, out


def _argv(command: str, src: Path, out: Path) -> list[str]:
    return {"validate": ["validate", str(src)], "show": ["show", str(src)], "run": ["run", str(src), "-o", str(out), "-q"],
            "pack": ["pack", str(src), "-o", str(out / f"{src.stem}.acbundle")],
            "extract": ["extract", str(src), "-o", str(out / f"{src.stem}.msgpack")]}[command]


@pytest.mark.timeout(300)
def test_hostile_graphs_and_songs_are_refused_cleanly_and_touch_nothing_outside(sandbox, capsys):
    tmp, home, inbox, out = sandbox
    before = _snapshot(tmp, out)
    master = (home / "Music" / "my-master.flac").read_bytes()
    counts = {"commands": 0, "refused": 0, "ran": 0}
    failures = []
    for i, (name, data) in enumerate(_cases(home, inbox).items()):
        graph = inbox / f"g{i}.msgpack"
        graph.write_bytes(data)
        song = inbox / f"song{i}.wav"                       # the same graph inside a downloaded WAV
        sf.write(song, np.zeros(4410), 44100)
        write_metadata(song, "wav", Metadata(title="free sample"), data)
        for src in (graph, song):
            for command in COMMANDS:
                if command == "extract" and src is graph:
                    continue
                capsys.readouterr()
                try:
                    rc = main(_argv(command, src, out))
                except SystemExit as e:          # argparse
                    rc = e.code
                o, e = capsys.readouterr()
                counts["commands"] += 1
                errors = [line for line in e.splitlines() if line.startswith("error:")]
                problems = command == "validate" and "problem(s)" in o
                if "Traceback" in o + e or rc not in (0, 1) or (rc == 1 and len(errors) != 1 and not problems):
                    failures.append(f"{name} / {command} {src.suffix}: rc {rc}, {len(errors)} error lines: {(o + e)[-300:]}")
                if "\x1b" in o + e:
                    failures.append(f"{name} / {command}: raw escape sequence printed")
                counts["refused" if rc == 1 else "ran"] += 1
            for f in inbox.glob("*.acbundle"):
                failures.append(f"{name}: wrote {f} outside the output folder")
        src_files = {str(inbox.relative_to(tmp) / p) for p in (f"g{i}.msgpack", f"song{i}.wav")}
        before.update({k: v for k, v in _snapshot(tmp, out).items() if k in src_files})   # the test's own files
    after = _snapshot(tmp, out)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    print(f"graph fuzz: {len(_cases(home, inbox))} hostile graphs, each as a file and inside a WAV, "
          f"{counts['commands']} commands: {counts['refused']} refused cleanly, {counts['ran']} ran within the "
          f"output folder; {len(failures)} failures; {len(changed)} paths changed outside it")
    assert failures == []
    assert changed == []
    assert (home / "Music" / "my-master.flac").read_bytes() == master
    bundles = list(out.glob("*.acbundle"))
    for b in bundles:                                       # nothing private packed
        import zipfile
        with zipfile.ZipFile(b) as z:
            assert not any("id_rsa" in n or ".ssh" in n for n in z.namelist())
