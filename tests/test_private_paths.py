"""Nothing private leaves the machine: every byte AudioChain writes into files meant to be shared
(graph, bundle, sweep manifest, DAW project, WAV/FLAC/MP3/OGG exports) is scanned for the test's
temporary folder path (which holds the author's "home" and takes), the home folder and the host name."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import soundfile as sf

from nodeflow import Graph, save
from nodeflow.cli import main

FORMATS = ("wav", "flac", "mp3", "ogg")


def _secrets(tmp_path: Path) -> list[bytes]:
    found = [str(tmp_path).encode(), str(tmp_path.resolve()).encode()]
    home = os.path.expanduser("~")
    if len(home) > 4:
        found.append(home.encode() + b"/")
    host = socket.gethostname()
    if len(host) >= 6:            # a very short host name ("vm") would match random bytes of audio
        found.append(host.encode())
    return found


def test_shared_files_carry_no_private_path(tmp_path, capsys):
    home = tmp_path / "home" / "alice"
    takes = home / "Music" / "takes"
    takes.mkdir(parents=True)
    t = np.arange(44100 * 2) / 44100
    sf.write(takes / "vox.wav", np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)]).T * 0.3, 44100)
    project = home / "projects" / "song"
    g = Graph()
    g.path = project / "song.msgpack"
    g.metadata["title"] = "song"
    a = g.add("io.load", id="vox", path=str(takes / "vox.wav"))
    w = g.add("time.tokenize_window", id="bars", unit="bars", size=1, bpm=120)
    st = g.add("time.stitch", id="stitch")
    g.connect(a.out, w.audio)
    g.connect(w.out, st.windows)
    for fmt in FORMATS:
        e = g.add("io.export", id=f"export_{fmt}", path=f"song.{fmt}", loudness_lufs=-16.0)
        g.connect(st.out, e.audio)
    save(g, g.path)
    out = project / "renders"
    assert main(["run", str(g.path), "-o", str(out), "-q", "--daw", str(out / "song.dawproject")]) == 0
    assert main(["run", str(g.path), "-o", str(out / "sweep"), "-q", "--sweep", "export_wav.bit_depth=pcm16,pcm24"]) == 0
    assert main(["pack", str(g.path), "-o", str(out / "song.acbundle"), "--include-outside"]) == 0
    shared = [g.path, out / "song.dawproject", out / "song.acbundle", out / "sweep" / "manifest.json",
              out / "sweep" / "manifest.csv", *(out / f"song.{fmt}" for fmt in FORMATS)]
    secrets = _secrets(tmp_path)
    leaks = []
    for f in shared:
        data = f.read_bytes()
        leaks += [f"{f.relative_to(tmp_path)}: {s.decode()}" for s in secrets if s in data]
    print(f"private-path scan: {len(shared)} files, {sum(f.stat().st_size for f in shared)} bytes, "
          f"{len(leaks)} leaks")
    assert leaks == []


def test_a_graph_with_paths_set_from_python_is_shared_without_them(tmp_path, capsys):
    """An export set to an absolute path from Python, and a saved sweep over takes by absolute path:
    the graph file, the bundle and an export's embedded graph held those paths (the export's as
    ../../home/alice/Music/final.wav, which a run then refused as outside the output folder), and
    pack left the sweep's other takes out."""
    import zipfile
    import msgpack
    from nodeflow import load
    home = tmp_path / "home" / "alice"
    takes = home / "Music" / "takes"
    takes.mkdir(parents=True)
    t = np.arange(22050) / 22050
    for k, name in enumerate(("take1.wav", "take2.wav")):
        sf.write(takes / name, 0.3 * np.sin(2 * np.pi * (220 + 110 * k) * t), 22050)
    g = Graph()
    a = g.add("io.load", id="load", path=str(takes / "take1.wav"))
    e = g.add("io.export", id="export", path=str(home / "Music" / "final.wav"))
    g.connect(a.out, e.audio)
    g.sweep = {"mode": "grid", "axes": [{"param": "load.path", "values": [str(takes / "take1.wav"),
                                                                          str(takes / "take2.wav")]}]}
    project = tmp_path / "projects"
    save(g, project / "g.msgpack")
    secrets = _secrets(tmp_path)
    assert not [s for s in secrets if s in (project / "g.msgpack").read_bytes()]     # inputs relative to it
    back = load(project / "g.msgpack")
    assert back.nodes["export"].params["path"] == "final.wav"
    assert main(["run", str(project / "g.msgpack"), "-o", str(project / "out"), "-q"]) == 0   # was refused
    assert sorted(p.relative_to(project / "out").as_posix() for p in (project / "out").glob("*/*.wav")) == \
        ["v000_path=take1.wav/final.wav", "v001_path=take2.wav/final.wav"]     # the saved sweep's variants
    assert main(["pack", str(project / "g.msgpack"), "-o", str(project / "s.acbundle"), "--include-outside"]) == 0
    with zipfile.ZipFile(project / "s.acbundle") as z:
        names = set(z.namelist())
        doc = msgpack.unpackb(z.read("graph.msgpack"))
        raw = b"".join(z.read(n) for n in names if not n.startswith("files/"))
    assert {"files/take1.wav", "files/take2.wav"} <= names
    assert doc["sweep"]["axes"][0]["values"] == ["files/take1.wav", "files/take2.wav"]
    assert not [s for s in secrets + [b"home/alice", b"Music"] if s in raw]
    capsys.readouterr()


def test_audio_a_bundle_s_run_exports_names_its_inputs_as_the_bundle_does(tmp_path, capsys):
    """Its embedded graph pointed into the run's private temp folder (../../tmp/audiochain-bundle-x/...),
    gone once the run ended: a path of this machine that could never be found again."""
    from nodeflow.audiometa import read_embedded_graph
    from nodeflow.fileformat import loads
    sf.write(tmp_path / "in.wav", 0.3 * np.sin(2 * np.pi * 220 * np.arange(22050) / 22050), 22050)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("io.export", id="export", path="o.wav")
    g.connect("load", "export")
    save(g, tmp_path / "g.msgpack")
    assert main(["pack", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "s.acbundle")]) == 0
    assert main(["run", str(tmp_path / "s.acbundle"), "-o", str(tmp_path / "out"), "-q"]) == 0
    raw = (tmp_path / "out" / "o.wav").read_bytes()
    assert b"audiochain-bundle-" not in raw
    assert loads(read_embedded_graph(tmp_path / "out" / "o.wav")).nodes["load"].params["path"] == "files/in.wav"
    capsys.readouterr()


def test_inputs_far_from_where_the_audio_lands_are_named_by_file_alone(tmp_path, capsys, monkeypatch):
    """QA: rendered outside the user's folder, an export's embedded graph and a sweep's manifest said
    ``../../home/alice/Music/song.flac`` (the user's name and folder layout)."""
    from nodeflow.audiometa import read_embedded_graph
    from nodeflow.fileformat import loads
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    music = home / "alice" / "Music"
    music.mkdir(parents=True)
    t = np.arange(44100 * 2) / 44100
    sf.write(music / "song.flac", np.stack([np.sin(2 * np.pi * 220 * t)] * 2).T * 0.3, 44100)
    g = Graph()
    g.path = music / "g.msgpack"
    a = g.add("io.load", id="load", path=str(music / "song.flac"))
    e = g.add("io.export", id="export", path="take.flac")
    g.connect(a.out, e.audio)
    save(g, g.path)
    out = tmp_path / "renders"
    assert main(["run", str(g.path), "-o", str(out), "-q"]) == 0
    assert main(["run", str(g.path), "-o", str(out / "sweep"), "-q", "--sweep", "export.peak_db=-3,-1"]) == 0
    embedded = loads(read_embedded_graph(out / "take.flac"))
    assert embedded.nodes["load"].params["path"] == "song.flac"
    for f in (out / "take.flac", out / "sweep" / "manifest.json", out / "sweep" / "manifest.csv"):
        assert b"alice" not in f.read_bytes(), f
    near = music / "renders"           # rendered beside its inputs: still found relative to the file
    assert main(["run", str(g.path), "-o", str(near), "-q"]) == 0
    assert loads(read_embedded_graph(near / "take.flac")).nodes["load"].params["path"] == "../song.flac"
