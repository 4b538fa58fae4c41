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
    assert main(["pack", str(g.path), "-o", str(out / "song.acbundle")]) == 0
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
