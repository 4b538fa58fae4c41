"""Bundles from strangers, and pack/unpack on a bad day.

Every hostile bundle is generated here (bad CRCs anywhere, truncation, zip-slip, absolute,
backslash and NUL names, duplicates, links and FIFOs as members, size and ratio bombs, too many
entries, lying or broken ``bundle.json``) and fed to ``pack``, ``unpack``, ``validate``, ``show``,
``run`` and ``extract``: each must exit 1 with exactly one ``error:`` line, no traceback, and leave
every file outside the output folder as it was (a fake home folder, the bundle's own folder and
the temp folder are snapshotted before and after).  ``pack`` must refuse what is not audio or an
adapter (a graph naming ``~/.ssh/id_rsa``), and every OSError (full disk, read-only folder, a file
that vanished) must end in one line and leave no partial file at the target.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import nodeflow.packing as packing_mod
from nodeflow import Graph, load, save
from nodeflow.bundle import pack
from nodeflow.cli import main
from nodeflow.fileformat import dumps

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("validate", "show", "run", "unpack", "extract", "pack")
RESULTS: dict[str, bool] = {}     # case -> refused cleanly by every command
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")   # zipfile warns while we build such a bundle


# ---------------------------------------------------------------------------------------- sandbox
@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """home/ (HOME, with ~/.ssh and ~/Music), inbox/ (where bundles arrive), tmp/ (TMPDIR) and out/
    (the output folder, also the cwd).  Only out/ may change."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    (home / ".ssh" / "config").write_text("Host *\n  User me\n")
    (home / "Music").mkdir()
    _sine(home / "Music" / "my-master.flac")
    for d in ("inbox", "tmp", "out"):
        (tmp_path / d).mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.chdir(tmp_path / "out")
    return tmp_path


def _sine(path: Path, seconds: float = 0.25, rate: int = 22050) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * 330 * t), rate, subtype="PCM_16")
    return path


def snapshot(root: Path, skip: Path) -> dict[str, tuple]:
    """Every path under ``root`` except ``skip``: (kind, size, mtime_ns, link target)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            dirs[:] = []
            continue
        for name in dirs + files:
            p = Path(dirpath) / name
            if p == skip:
                continue
            st = os.lstat(p)
            folder = p.is_dir() and not p.is_symlink()   # a folder's entries are compared one by one
            out[str(p.relative_to(root))] = (st.st_mode >> 12, None if folder else st.st_size,
                                             None if folder else st.st_mtime_ns,
                                             os.readlink(p) if p.is_symlink() else None)
    return out


def cli(argv, capsys) -> tuple[int, str, str]:
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def refused_cleanly(rc: int, out: str, err: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return (rc == 1 and len(lines) == 1 and lines[0].startswith("error: ")
            and "Traceback" not in out + err)


# ---------------------------------------------------------------------------------------- building bundles
def _graph_bytes(path_param: str = "files/x.wav") -> bytes:
    g = Graph()
    g.add("io.load", id="l", path=path_param)
    g.add("io.export", id="e", path="x-out.wav")
    g.connect("l", "e")
    return dumps(g)


def _swept_graph_bytes(*values: str, param: str = "l.path", node: tuple[str, ...] = ()) -> bytes:
    """:func:`_graph_bytes` with a saved sweep over ``param`` (``files/x.wav`` and ``values``); ``node``:
    (type, id) of one more node, e.g. a model whose adapter the sweep varies."""
    g = Graph()
    g.add("io.load", id="l", path="files/x.wav")
    g.add("io.export", id="e", path="x-out.wav")
    g.connect("l", "e")
    if node:
        g.add(node[0], id=node[1])
    first = ["files/x.wav"] if param == "l.path" else []
    g.sweep = {"mode": "grid", "axes": [{"param": param, "values": [*first, *values]}]}
    return dumps(g)


def _wav_bytes() -> bytes:
    p = Path(tempfile.mkdtemp()) / "x.wav"
    _sine(p)
    data = p.read_bytes()
    p.unlink()
    p.parent.rmdir()
    return data


def build(members: dict[str, bytes] | None = None, *, manifest=None, method=zipfile.ZIP_STORED,
          attrs: dict[str, int] | None = None, graph: bytes | None = None, extra: list | None = None) -> bytes:
    """A bundle as bytes; ``manifest`` may be a dict, bytes (written as is) or a function of the right one."""
    files = {"graph.msgpack": graph if graph is not None else _graph_bytes(), **(members if members is not None
                                                                                  else {"files/x.wav": WAV})}
    right = {"format": "audiochain.bundle", "version": 1,
             "members": {k: {"sha256": hashlib.sha256(v).hexdigest(), "size": len(v)} for k, v in files.items()}}
    if callable(manifest):
        manifest = manifest(right)
    man = manifest if isinstance(manifest, bytes) else json.dumps(right if manifest is None else manifest).encode()
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("bundle.json"), man, compress_type=zipfile.ZIP_STORED)
        for name, data in [*files.items(), *(extra or [])]:
            info = zipfile.ZipInfo(name)
            info.external_attr = (attrs or {}).get(name, 0o100644 << 16)
            z.writestr(info, data, compress_type=method)
    return buf.getvalue()


def _central(data: bytes):
    """(offset, name) of every central directory record."""
    at = data.find(b"PK\x01\x02")
    while at != -1:
        n = struct.unpack_from("<H", data, at + 28)[0]
        yield at, data[at + 46: at + 46 + n]
        at = data.find(b"PK\x01\x02", at + 46 + n)


def patch_central(data: bytes, name: bytes, offset: int, fmt: str, value) -> bytes:
    b = bytearray(data)
    for at, n in _central(data):
        if n == name:
            struct.pack_into(fmt, b, at + offset, value)
    return bytes(b)


def flip_in_member(data: bytes, name: str, where: float) -> bytes:
    """Flip one byte inside a member's stored data (its CRC no longer matches)."""
    z = zipfile.ZipFile(__import__("io").BytesIO(data))
    info = z.getinfo(name)
    n, e = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + n + e
    at = start + min(int(where * info.compress_size), info.compress_size - 1)
    b = bytearray(data)
    b[at] ^= 0x5A
    return bytes(b)


WAV = _wav_bytes()


def _cases() -> dict[str, callable]:
    good = build()
    c: dict[str, callable] = {}
    for i, where in enumerate((0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99)):      # bad CRCs in the audio
        c[f"crc-audio-{i}"] = lambda where=where: flip_in_member(good, "files/x.wav", where)
    for i, where in enumerate((0.0, 0.2, 0.4, 0.6, 0.8, 0.99)):            # ... in bundle.json
        c[f"crc-manifest-{i}"] = lambda where=where: flip_in_member(good, "bundle.json", where)
    for i, where in enumerate((0.0, 0.5, 0.99)):                           # ... in the graph
        c[f"crc-graph-{i}"] = lambda where=where: flip_in_member(good, "graph.msgpack", where)
    deflated = build(method=zipfile.ZIP_DEFLATED)
    for i, where in enumerate((0.1, 0.5, 0.9)):                            # ... in a deflate stream
        c[f"crc-deflated-{i}"] = lambda where=where: flip_in_member(deflated, "files/x.wav", where)
    c["crc-field-lies"] = lambda: patch_central(good, b"files/x.wav", 16, "<I", 0xDEADBEEF)
    for frac in (0.05, 0.3, 0.6, 0.95):
        c[f"truncated-{frac}"] = lambda frac=frac: good[: int(len(good) * frac)]
    c["truncated-eocd"] = lambda: good[:-5]
    c["empty"] = lambda: b""
    c["junk-after-magic"] = lambda: b"PK\x03\x04" + os.urandom(200)
    c["not-a-zip"] = lambda: b"\x00" * 1000
    for name in ("../escape.wav", "files/../../escape.wav", "/etc/evil.wav", "files/a\\..\\..\\evil.wav",
                 "files\\evil.wav", "C:/evil.wav", "files/./x.wav", "files/.hidden", "files/a\x00/../../escape.wav",
                 "files/\u00e9t\u00e9.wav", "files/" + "a" * 300 + ".wav", "extra.txt"):
        c[f"name-{name[:24]!r}"] = lambda name=name: build({"files/x.wav": WAV, name: b"x"})
    c["duplicate-names"] = lambda: build(extra=[("files/x.wav", b"second copy")])
    c["duplicate-case"] = lambda: build(extra=[("files/X.WAV", b"second copy")])
    c["symlink-member"] = lambda: build({"files/x.wav": b"/home/me/.ssh/id_rsa"},
                                        attrs={"files/x.wav": 0o120777 << 16})
    c["fifo-member"] = lambda: build(attrs={"files/x.wav": 0o010644 << 16})
    c["folder-member"] = lambda: build(extra=[("files/dir/", b"")])
    c["ratio-bomb"] = lambda: build({"files/x.wav": b"\0" * 8_000_000}, method=zipfile.ZIP_DEFLATED)
    c["declared-huge"] = lambda: patch_central(good, b"files/x.wav", 24, "<I", 0xFFFFFFF0)
    c["declared-small"] = lambda: patch_central(build(method=zipfile.ZIP_DEFLATED), b"files/x.wav", 24, "<I", 10)
    c["compressed-past-end"] = lambda: patch_central(good, b"files/x.wav", 20, "<I", 0x7FFFFFF0)
    c["too-many-entries"] = lambda: build({f"files/{i}.wav": b"x" for i in range(2100)})
    c["encrypted-flag"] = lambda: patch_central(good, b"files/x.wav", 8, "<H", 0x1)
    c["bzip2-method"] = lambda: build(method=zipfile.ZIP_BZIP2)
    c["unknown-method"] = lambda: patch_central(good, b"files/x.wav", 10, "<H", 99)
    c["manifest-not-json"] = lambda: build(manifest=b"{not json")
    c["manifest-not-utf8"] = lambda: build(manifest=b"\xff\xfe\x00{")
    c["manifest-list"] = lambda: build(manifest=[1, 2, 3])
    c["manifest-deep"] = lambda: build(manifest=b"[" * 100_000 + b"]" * 100_000)
    c["manifest-huge"] = lambda: build(manifest=b" " * (2 << 20) + b"{}")
    c["manifest-wrong-format"] = lambda: build(manifest=lambda m: {**m, "format": "other"})
    c["manifest-future"] = lambda: build(manifest=lambda m: {**m, "version": 99})
    c["manifest-missing-member"] = lambda: build(manifest=lambda m: {**m, "members": {
        **m["members"], "files/ghost.wav": {"sha256": "0" * 64, "size": 1}}})
    c["manifest-unlisted-member"] = lambda: build(manifest=lambda m: {**m, "members": {
        k: v for k, v in m["members"].items() if k != "files/x.wav"}})
    c["manifest-bad-hash"] = lambda: build(manifest=lambda m: {**m, "members": {
        **m["members"], "files/x.wav": {"sha256": "0" * 64, "size": len(WAV)}}})
    c["manifest-bad-size"] = lambda: build(manifest=lambda m: {**m, "members": {
        **m["members"], "files/x.wav": {"sha256": m["members"]["files/x.wav"]["sha256"], "size": 3}}})
    c["manifest-size-bool"] = lambda: build(manifest=lambda m: {**m, "members": {
        **m["members"], "files/x.wav": {"sha256": "0" * 64, "size": True}}})
    c["no-manifest"] = lambda: _without(good, "bundle.json")
    c["no-graph"] = lambda: _without(good, "graph.msgpack")
    c["graph-garbage"] = lambda: build(graph=os.urandom(300))
    c["graph-reads-ssh-key"] = lambda: build(graph=_graph_bytes(str(Path.home() / ".ssh" / "id_rsa")))
    c["graph-reads-tilde"] = lambda: build(graph=_graph_bytes("~/.ssh/id_rsa"))
    c["graph-reads-missing-member"] = lambda: build(graph=_graph_bytes("files/ghost.wav"))
    # a saved sweep's values are inputs too (QA44: a sweep value rendered the receiver's own take)
    c["sweep-reads-home-audio"] = lambda: build(graph=_swept_graph_bytes(str(Path.home() / "Music" / "my-master.flac")))
    c["sweep-reads-tilde"] = lambda: build(graph=_swept_graph_bytes("~/Music/my-master.flac"))
    c["sweep-reads-missing-member"] = lambda: build(graph=_swept_graph_bytes("files/ghost.wav"))
    # files the graph never reads, unpacked beside it (QA: files/evil.py, files/run.sh)
    c["unused-script"] = lambda: build({"files/x.wav": WAV, "files/evil.py": b"import os; os.system('id')\n"})
    c["unused-audio"] = lambda: build({"files/x.wav": WAV, "files/other.wav": WAV})
    return c


def _without(data: bytes, name: str) -> bytes:
    import io
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            if info.filename != name:
                z.writestr(info, src.read(info))
    return buf.getvalue()


CASES = _cases()


def run_case(name: str, root: Path, capsys) -> list[str]:
    """Every command on the hostile bundle ``name``; returns what went wrong (empty: refused cleanly)."""
    inbox, out = root / "inbox", root / "out"
    bundle = inbox / f"{name.strip(chr(39)).replace('/', '_').replace(chr(92), '_').replace(chr(0), '_')[:40]}.acbundle"
    bundle.write_bytes(CASES[name]())
    before = snapshot(root, out)
    wrong = []
    for command in COMMANDS:
        argv = {"validate": ["validate", str(bundle)], "show": ["show", str(bundle)],
                "run": ["run", str(bundle), "-o", str(out / "run"), "-q"],
                "unpack": ["unpack", str(bundle), "-o", str(out / "unpacked")],
                "extract": ["extract", str(bundle), "-o", str(out / "extracted.msgpack")],
                "pack": ["pack", str(bundle), "-o", str(out / "repacked.acbundle")]}[command]
        rc, o, e = cli(argv, capsys)
        if not refused_cleanly(rc, o, e):
            wrong.append(f"{command}: rc={rc} stderr={e!r} stdout={o[:200]!r}")
    after = snapshot(root, out)
    if after != before:
        wrong.append(f"changed outside out/: {sorted(set(after.items()) ^ set(before.items()))[:5]}")
    if (out / "unpacked").exists() and any(p.is_file() for p in (out / "unpacked").rglob("*")):
        wrong.append(f"unpack left files: {sorted(map(str, (out / 'unpacked').rglob('*')))[:5]}")
    RESULTS[name] = not wrong
    return wrong


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_bundle_is_refused_cleanly_everywhere(name, sandbox, capsys):
    assert run_case(name, sandbox, capsys) == []


def test_bad_crc_is_one_line_from_a_real_process(sandbox):
    bundle = sandbox / "inbox" / "crc.acbundle"
    bundle.write_bytes(CASES["crc-audio-3"]())
    before = snapshot(sandbox, sandbox / "out")
    for command in ("validate", "unpack"):
        p = subprocess.run([sys.executable, "-m", "nodeflow.cli", command, str(bundle)], capture_output=True,
                           text=True, cwd=sandbox / "out", env={**os.environ}, timeout=120)
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.strip().splitlines() == [p.stderr.strip()] and p.stderr.startswith("error: ")
        assert "Bad CRC-32" in p.stderr or "corrupt" in p.stderr
    assert snapshot(sandbox, sandbox / "out") == before


# ---------------------------------------------------------------------------------------- in place, private temp
def make_project(root: Path) -> Path:
    (root / "takes").mkdir(parents=True)
    _sine(root / "takes" / "vox.wav")
    g = Graph()
    g.path = root / "song.msgpack"
    g.add("io.load", id="vox", path="takes/vox.wav")
    g.add("dsp.gain", id="gain", gain_db=-3.0)
    g.add("io.export", id="out", path="mix.wav")
    g.connect("vox", "gain")
    g.connect("gain", "out")
    return save(g, g.path)


def test_validate_and_show_write_nothing_and_ignore_a_link_at_the_unpack_folder(sandbox, capsys):
    src = make_project(sandbox / "home" / "proj")
    bundle = pack(load(src), sandbox / "inbox" / "song.acbundle")
    (sandbox / "inbox" / "song").symlink_to(sandbox / "home" / "Music", target_is_directory=True)
    before = snapshot(sandbox, sandbox / "nothing")   # out/ and tmp/ included: nothing may change anywhere
    rc, out, err = cli(["validate", str(bundle)], capsys)
    assert rc == 0 and out.strip() == f"{bundle}: ok (3 nodes, 2 links)" and err == ""
    rc, out, err = cli(["show", str(bundle)], capsys)
    assert rc == 0 and "files/vox.wav" in out and err == ""
    assert snapshot(sandbox, sandbox / "nothing") == before
    # run: extracted into a private temp folder (not the link), removed afterwards
    rc, out, err = cli(["run", str(bundle), "-o", str(sandbox / "out"), "-q"], capsys)
    assert rc == 0, err
    assert list((sandbox / "tmp").iterdir()) == [] and sorted(os.listdir(sandbox / "home" / "Music")) == [
        "my-master.flac"]
    assert sf.info(sandbox / "out" / "mix.wav").frames == sf.info(src.parent / "takes" / "vox.wav").frames
    # unpack to the default folder: the link sitting there is refused, not followed
    rc, out, err = cli(["unpack", str(bundle)], capsys)
    assert refused_cleanly(rc, out, err) and "is a link" in err
    assert sorted(os.listdir(sandbox / "home" / "Music")) == ["my-master.flac"]


def test_validate_reads_the_graph_from_the_bundle_and_reports_its_problems(sandbox, capsys):
    bundle = sandbox / "inbox" / "dangling.acbundle"
    g = Graph()
    g.add("io.load", id="l", path="files/x.wav")
    g.add("dsp.gain", id="gain")            # its input is not connected
    bundle.write_bytes(build(graph=dumps(g)))
    rc, out, err = cli(["validate", str(bundle)], capsys)
    assert rc == 1 and "1 problem(s)" in out and "required input 'audio'" in out and "files/x.wav" not in out


def test_unpack_lists_what_it_wrote_and_keeps_the_receivers_files(sandbox, capsys):
    src = make_project(sandbox / "home" / "proj")
    bundle = pack(load(src), sandbox / "inbox" / "song.acbundle")
    target = sandbox / "out" / "song"
    (target / "files").mkdir(parents=True)
    (target / "files" / "vox.wav").write_bytes(b"mine")
    rc, out, err = cli(["unpack", str(bundle), "-o", str(target)], capsys)
    assert rc == 0, err
    assert out.splitlines()[1:] == [f"  wrote {target / 'files' / 'vox (2).wav'}", f"  wrote {target / 'graph.msgpack'}"]
    assert (target / "files" / "vox.wav").read_bytes() == b"mine"
    assert sorted(os.listdir(target)) == ["files", "graph.msgpack"]   # no staging folder left
    rc, out, err = cli(["unpack", str(bundle), "-o", str(target)], capsys)
    assert rc == 0 and all(line.startswith("  kept (identical)") for line in out.splitlines()[1:])


def test_unpack_into_an_empty_folder_name_is_refused_as_run_refuses_it(sandbox, capsys):
    """QA79 D8: ``unpack -o ""`` unpacked into the current folder, where ``run -o ""`` is refused."""
    bundle = pack(load(make_project(sandbox / "home" / "proj")), sandbox / "inbox" / "song.acbundle")
    rc, out, err = cli(["unpack", str(bundle), "-o", ""], capsys)
    assert rc == 1 and err.strip() == ("error: -o '': empty folder to unpack into; give a folder (-o song), or omit -o "
                                       'to unpack beside the bundle (song/)'), err
    rc, out, err = cli(["unpack", str(bundle), "-o", " "], capsys)
    assert rc == 1 and err.startswith("error: -o ' ': empty folder"), err
    assert os.listdir(sandbox / "out") == [] and os.listdir(sandbox / "inbox") == ["song.acbundle"]


# ---------------------------------------------------------------------------------------- pack takes audio only
def _stranger_graph(root: Path, path_value: str, connected: bool = False) -> Path:
    g = Graph()
    g.path = root / "free-beat.msgpack"
    _sine(root / "beat.wav")
    g.add("io.load", id="beat", path="beat.wav")
    g.add("io.load", id="sneaky", path=path_value)     # not connected to anything
    g.add("io.export", id="out", path="beat-out.wav")
    g.connect("beat", "out")
    if connected:
        g.add("dsp.mix", id="mix")
    return save(g, g.path)


@pytest.mark.parametrize("value, why", [
    ("~/.ssh/id_rsa", "is not a"),
    ("{home}/.ssh/id_rsa", "is not a"),
    ("{home}/.ssh", "is a folder"),
    ("{home}/.ssh/key.wav", "is not an audio file"),
    ("{home}/.ssh/link.wav", "id_rsa is not a"),      # a link is judged by what it points at
    ("{home}/.ssh/adapter.safetensors", "is not a"),
])
def test_pack_refuses_what_is_not_audio(sandbox, capsys, value, why):
    home = sandbox / "home"
    (home / ".ssh" / "key.wav").write_bytes((home / ".ssh" / "id_rsa").read_bytes())
    (home / ".ssh" / "link.wav").symlink_to(home / ".ssh" / "id_rsa")
    (home / ".ssh" / "adapter.safetensors").write_bytes(b"\x10" + b"\0" * 7 + b"{}" + b"x" * 30)
    src = _stranger_graph(sandbox / "inbox", value.format(home=home))
    before = snapshot(sandbox, sandbox / "out")
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "gift.acbundle")], capsys)
    assert refused_cleanly(rc, out, err), err
    assert "node 'sneaky' path=" in err and why in err and "pack refuses to include it" in err
    assert not (sandbox / "out" / "gift.acbundle").exists() and os.listdir(sandbox / "out") == []
    assert snapshot(sandbox, sandbox / "out") == before


@pytest.mark.parametrize("value", ["{home}/Music/voice-memo.wav", "../home/Music/voice-memo.wav",
                                   "link-to-music/voice-memo.wav"])
def test_pack_refuses_audio_outside_the_graphs_folder_unless_asked(sandbox, capsys, value):
    """QA79 D1: a stranger's graph that loads ~/Music/... (by an absolute path, a relative one that
    climbs out, or a symlinked folder beside it) was packed with the user's own audio when the user
    passed it on: pack listed the file and included it.  It now refuses, in one line naming the node,
    the file and the fix; --include-outside packs it, for a user who means to share it."""
    home = sandbox / "home"
    (home / "Music").mkdir(exist_ok=True)
    _sine(home / "Music" / "voice-memo.wav")
    (sandbox / "inbox").mkdir(exist_ok=True)
    (sandbox / "inbox" / "link-to-music").symlink_to(home / "Music")
    src = _stranger_graph(sandbox / "inbox", value.format(home=home))
    before = snapshot(sandbox, sandbox / "out")
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "gift.acbundle")], capsys)
    assert refused_cleanly(rc, out, err), err
    assert "node 'sneaky' path=" in err and (
        f"{home / 'Music' / 'voice-memo.wav'} is outside the graph's folder {sandbox / 'inbox'}; copy it beside the "
        "graph, or pack with --include-outside if you mean to share it") in err, err
    assert os.listdir(sandbox / "out") == [] and snapshot(sandbox, sandbox / "out") == before
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "gift.acbundle"), "--include-outside"], capsys)
    assert rc == 0 and "included files/voice-memo.wav" in out, err
    assert "files/voice-memo.wav" in zipfile.ZipFile(sandbox / "out" / "gift.acbundle").namelist()


@pytest.mark.parametrize("param, value, node", [
    ("l.path", "{home}/Music/my-master.flac", ()),
    ("mg.adapter", "{home}/adapters/mine.safetensors", ("models.musicgen", "mg")),
])
def test_a_bundles_saved_sweep_reads_only_the_bundles_own_files(sandbox, capsys, param, value, node):
    """QA44: a node setting outside files/ was refused, a saved sweep's value was not: validate said ok, run
    rendered the receiver's private take into the output folder (and named it in manifest.json), unpack
    wrote a graph pointing at it; an adapter in a sweep was refused only for being 'not found'.  Every
    command refuses it first, in one line naming the node, the parameter and the value."""
    home = sandbox / "home"
    (home / "adapters").mkdir()
    (home / "adapters" / "mine.safetensors").write_bytes(b"\x02" + b"\0" * 7 + b"{}")
    value = value.format(home=home)
    bundle = sandbox / "inbox" / "swept.acbundle"
    bundle.write_bytes(build(graph=_swept_graph_bytes(value, param=param, node=node)))
    before = snapshot(sandbox, sandbox / "nothing")
    nid, _, name = param.partition(".")
    for argv in (["validate", str(bundle), "-o", str(sandbox / "out")], ["show", str(bundle)],
                 ["run", str(bundle), "-o", str(sandbox / "out")], ["unpack", str(bundle), "-o", str(sandbox / "out")]):
        rc, out, err = cli(argv, capsys)
        assert refused_cleanly(rc, out, err), (argv, out, err)
        assert err.strip() == (f"error: {bundle}: node '{nid}' reads {name}={value!r} (a value of its saved sweep), "
                               "which the bundle does not carry; a bundle's graph may only read its own files/ "
                               "(refusing: ask the sender to pack it again with audiochain pack)"), err
    assert snapshot(sandbox, sandbox / "nothing") == before and os.listdir(sandbox / "out") == []


def test_pack_refuses_a_saved_sweep_value_that_names_no_file(sandbox, capsys):
    """A bundle's sweep may read only the files the bundle carries: pack refuses a value naming no file, as
    it refuses a node's missing input (it kept the bare name, and the receiver would read that name)."""
    src = make_project(sandbox / "home" / "proj")
    g = load(src)
    g.sweep = {"mode": "grid", "axes": [{"param": "vox.path", "values": ["takes/vox.wav", "takes/gone.wav"]}]}
    save(g, src)
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "song.acbundle")], capsys)
    assert refused_cleanly(rc, out, err), err
    assert ("node 'vox' path='takes/gone.wav' (a value of its saved sweep) not found (looked at "
            f"{src.parent / 'takes' / 'gone.wav'}); put the file there or take the value out of the sweep") in err
    assert os.listdir(sandbox / "out") == []


def _video_only(path: Path) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "1",
                    "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)
    return path


@pytest.mark.parametrize("swept", [False, True], ids=["node", "sweep"])
@pytest.mark.parametrize("name, why", [
    ("notes.ogg", "is not an input io.load takes: not a"),         # a text file starting with 'OggS'
    ("screen_recording.mp4", "is not an input io.load takes: has no audio stream"),   # video only
])
def test_pack_takes_only_files_the_node_takes_as_validate_says(sandbox, capsys, name, why, swept):
    """QA44: pack sniffed the first bytes, so a text file named .ogg starting with 'OggS' and a video with no
    audio track were packed (and shipped), though validate refuses both as inputs.  Pack asks the node, as
    validate does, for a node's setting and a saved sweep's value alike."""
    private = sandbox / "home" / "private"
    private.mkdir()
    f = private / name
    if name.endswith(".ogg"):
        f.write_bytes(b"OggS\x00\x02 my bank PIN is 1234, PASSWORD=hunter2\n")
    else:
        _video_only(f)
    if swept:
        src = make_project(sandbox / "home" / "proj")
        g = load(src)
        g.sweep = {"mode": "grid", "axes": [{"param": "vox.path", "values": ["takes/vox.wav", str(f)]}]}
        save(g, src)
        nid = "vox"
    else:
        src, nid = _stranger_graph(sandbox / "inbox", str(f)), "sneaky"
    rc, out, err = cli(["validate", str(src)], capsys)
    assert rc == 1 and str(f) in out                      # validate refuses it as an input ...
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "gift.acbundle")], capsys)
    assert refused_cleanly(rc, out, err), err            # ... and pack refuses to include it, saying why
    assert f"node '{nid}' path=" in err and f"{f} {why}" in err and err.rstrip().endswith("pack refuses to include it")
    assert os.listdir(sandbox / "out") == []


def test_pack_refuses_a_fifo(sandbox, capsys):
    fifo = sandbox / "inbox" / "pipe.wav"
    os.mkfifo(fifo)
    src = _stranger_graph(sandbox / "inbox", str(fifo))
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "gift.acbundle")], capsys)
    assert refused_cleanly(rc, out, err) and "not a regular file" in err


def test_pack_lists_what_it_includes_and_no_path_of_this_machine(sandbox, capsys):
    src = make_project(sandbox / "home" / "proj")
    out_file = sandbox / "out" / "song.acbundle"
    rc, out, err = cli(["pack", str(src), "-o", str(out_file)], capsys)
    assert rc == 0, err
    assert out.splitlines()[1].startswith("  included files/vox.wav (") and "node 'vox' path" in out
    assert str(sandbox).encode() not in out_file.read_bytes()


def test_a_bundle_whose_sweep_varies_its_inputs_validates_and_shows_as_it_runs(sandbox, capsys):
    """QA round 2: validate said the bundle's own takes were 'not found' in the folder it ran in (the run
    rendered 2/2), and show said 'input file(s) not found' for every bundle."""
    from nodeflow import load
    src = make_project(sandbox / "home" / "proj")
    _sine(src.parent / "takes" / "vox2.wav")
    g = load(src)
    g.sweep = {"mode": "grid", "axes": [{"param": "vox.path", "values": ["takes/vox.wav", "takes/vox2.wav"]}]}
    save(g, src)
    bundle = sandbox / "out" / "song.acbundle"
    assert cli(["pack", str(src), "-o", str(bundle)], capsys)[0] == 0
    rc, out, err = cli(["validate", str(bundle)], capsys)
    assert rc == 0 and "ok (3 nodes" in out, (out, err)
    rc, out, err = cli(["show", str(bundle)], capsys)
    assert rc == 0 and "not found" not in out and "estimate (before running): peak memory" in out, out
    rc, out, err = cli(["run", str(bundle), "-o", str(sandbox / "out" / "r"), "-q"], capsys)
    assert rc == 0 and "2/2 variant(s) ok" in out, (out, err)


def test_pack_to_a_folder_or_with_no_size_limit_is_one_clear_line(sandbox, capsys):
    """QA: -o a folder said 'exists; pass --force', then --force failed on the temp file's 'Is a directory';
    --max-mb 0 and -1 were taken ('over the -1 MiB limit')."""
    src = make_project(sandbox / "home" / "proj")
    (sandbox / "out").mkdir(exist_ok=True)
    for extra in ([], ["--force"]):
        rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out"), *extra], capsys)
        assert rc == 1 and err.strip().splitlines() == [f"error: -o {sandbox / 'out'}: names a folder; give the bundle's "
                                                        f"file name, e.g. -o {sandbox / 'out' / src.with_suffix('.acbundle').name}"]
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "new") + "/"], capsys)     # (it wrote a zip named new)
    assert rc == 1 and "names a folder; give the bundle's file name" in err and not (sandbox / "new").exists()
    for bad in ("0", "-1", "nan"):
        with pytest.raises(SystemExit) as e:
            cli(["pack", str(src), "-o", str(sandbox / "out" / "a.acbundle"), "--max-mb", bad], capsys)
        assert e.value.code == 2 and "expected a size in MiB above 0" in capsys.readouterr().err
    assert list((sandbox / "out").iterdir()) == []


# ---------------------------------------------------------------------------------------- disks and folders
def _fail_zip_write(code):
    real = zipfile._ZipWriteFile.write
    calls = [0]

    def write(self, data):
        calls[0] += 1
        if calls[0] > 1:
            raise OSError(code, os.strerror(code))
        return real(self, data)
    return write


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"), (errno.EDQUOT, "quota")])
def test_pack_on_a_full_disk_leaves_nothing(sandbox, capsys, monkeypatch, code, words):
    src = make_project(sandbox / "home" / "proj")
    (src.parent / "takes" / "vox.wav").write_bytes(b"")   # replaced by a longer take: several blocks
    _sine(src.parent / "takes" / "vox.wav", seconds=60)
    monkeypatch.setattr(zipfile._ZipWriteFile, "write", _fail_zip_write(code))
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "song.acbundle")], capsys)
    assert refused_cleanly(rc, out, err) and words in err and "nothing was written" in err
    assert os.listdir(sandbox / "out") == []   # neither the bundle nor a temp file


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_pack_and_unpack_into_a_read_only_folder(sandbox, capsys, monkeypatch, code, words):
    # the tests run as root, for whom chmod does not stop writes: the kernel's answer is injected where
    # the file would be created (mkstemp for pack's atomic write, mkdir/open for unpack)
    src = make_project(sandbox / "home" / "proj")
    bundle = pack(load(src), sandbox / "inbox" / "song.acbundle")
    real_mkstemp, real_mkdir = tempfile.mkstemp, os.mkdir

    def refuse(*a, **k):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: refuse() if "out" in str(k.get("dir")) else
                        real_mkstemp(*a, **k))
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "song.acbundle")], capsys)
    assert refused_cleanly(rc, out, err) and words in err
    monkeypatch.setattr(os, "mkdir", lambda p, *a, **k: refuse() if str(p).startswith(".unpack") else
                        real_mkdir(p, *a, **k))
    rc, out, err = cli(["unpack", str(bundle), "-o", str(sandbox / "out" / "u")], capsys)
    assert refused_cleanly(rc, out, err) and words in err
    assert [p for p in (sandbox / "out").rglob("*") if p.is_file()] == []


def test_unpack_failing_midway_rolls_back(sandbox, capsys, monkeypatch):
    src = make_project(sandbox / "home" / "proj")
    g = load(src)
    _sine(src.parent / "takes" / "b.wav")
    g.add("io.load", id="b", path="takes/b.wav")
    bundle = pack(g, sandbox / "inbox" / "song.acbundle")
    real_link = os.link
    n = [0]

    def link(*a, **k):   # the second file cannot be placed: the first must not stay behind
        n[0] += 1
        if n[0] == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_link(*a, **k)
    monkeypatch.setattr(os, "link", link)
    target = sandbox / "out" / "u"
    rc, out, err = cli(["unpack", str(bundle), "-o", str(target)], capsys)
    assert refused_cleanly(rc, out, err) and "the disk is full" in err
    assert [p for p in target.rglob("*") if not p.is_dir()] == []


def test_unpack_refuses_when_the_disk_is_too_small(sandbox, capsys, monkeypatch):
    src = make_project(sandbox / "home" / "proj")
    bundle = pack(load(src), sandbox / "inbox" / "song.acbundle")
    import shutil
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10 << 30, 10 << 30, 1000))
    rc, out, err = cli(["unpack", str(bundle), "-o", str(sandbox / "out" / "u")], capsys)
    assert refused_cleanly(rc, out, err) and "are free" in err


def test_pack_of_a_file_that_vanishes(sandbox, capsys, monkeypatch):
    src = make_project(sandbox / "home" / "proj")
    real = packing_mod._is_audio

    def vanish(path):
        ok = real(path)
        path.unlink()
        return ok
    monkeypatch.setattr(packing_mod, "_is_audio", vanish)
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "song.acbundle")], capsys)
    assert refused_cleanly(rc, out, err) and "vanished" in err
    assert os.listdir(sandbox / "out") == []


def test_pack_onto_a_real_tiny_disk(sandbox, capsys):
    """A 64 KiB tmpfs, when this machine lets us mount one: the kernel's own ENOSPC."""
    disk = sandbox / "out" / "tiny"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        src = make_project(sandbox / "home" / "proj")
        _sine(src.parent / "takes" / "vox.wav", seconds=10)     # ~430 KiB
        rc, out, err = cli(["pack", str(src), "-o", str(disk / "song.acbundle")], capsys)
        assert refused_cleanly(rc, out, err) and "the disk is full" in err
        assert os.listdir(disk) == []
        small = pack(load(make_project(sandbox / "home" / "p2")), sandbox / "inbox" / "s.acbundle")
        _sine(sandbox / "home" / "p2" / "takes" / "vox.wav", seconds=10)
        big = pack(load(sandbox / "home" / "p2" / "song.msgpack"), sandbox / "inbox" / "big.acbundle")
        rc, out, err = cli(["unpack", str(big), "-o", str(disk / "u")], capsys)
        assert refused_cleanly(rc, out, err) and ("the disk is full" in err or "are free" in err)
        assert [p for p in disk.rglob("*") if p.is_file()] == []
        del small
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# ---------------------------------------------------------------------------------------- counts
def test_zz_fuzz_summary(sandbox, capsys):
    """Prints the counts (running any case the parametrised test did not, e.g. when run alone)."""
    for name in CASES:
        if name not in RESULTS:
            run_case(name, sandbox, capsys)
    clean = sum(RESULTS.values())
    with capsys.disabled():
        print(f"\nbundle fuzz: {len(RESULTS)} cases x {len(COMMANDS)} commands, {clean} refused cleanly")
    assert clean == len(RESULTS) == len(CASES)


def test_an_absolute_export_path_in_a_bundle_is_refused_by_run_as_validate_refuses_it(sandbox, capsys):
    """QA: run rebased a bundle's absolute export path against its private unpack folder, so it named
    another place ('../../...'), and the --allow-outside it advised wrote there; validate named the path
    as stored.  Unpacked, a stored write path keeps its meaning: both refuse the same path, the same way."""
    target = sandbox / "home" / "Music" / "overwritten.wav"
    g = Graph()
    g.add("io.load", id="l", path="files/x.wav")
    g.add("io.export", id="e", path=str(target))
    g.connect("l", "e")
    bundle = sandbox / "inbox" / "abs.acbundle"
    bundle.write_bytes(build(graph=dumps(g)))
    said = []
    for argv in (["validate", str(bundle), "-o", str(sandbox / "out")], ["run", str(bundle), "-o", str(sandbox / "out")]):
        rc, out, err = cli(argv, capsys)
        assert rc == 1
        said.append(next(line for line in (out + err).splitlines() if "writes outside the output folder" in line))
    assert all(f"path='{target}'" in s and f"(to {target})" in s and f"--allow-outside {target.parent}" in s
               for s in said), said
    assert not target.exists() and not any((sandbox / "out").rglob("*.wav"))


def test_validate_checks_a_bundles_audio_as_run_does_and_leaves_nothing(sandbox, capsys):
    """QA: validate read a bundle in place and never looked at its audio, so it said ok of a clip too short
    for its export's loudness target (and of a playlist), which run refused."""
    short = io.BytesIO()
    sf.write(short, np.zeros((14400, 1), np.float32) + 0.1, 48000, format="WAV")   # 0.3 s
    g = Graph()
    g.add("io.load", id="l", path="files/x.wav")
    g.add("io.export", id="e", path="out.wav", loudness_lufs=-16.0)
    g.connect("l", "e")
    bundle = sandbox / "inbox" / "short.acbundle"
    bundle.write_bytes(build({"files/x.wav": short.getvalue()}, graph=dumps(g)))
    before = snapshot(sandbox, sandbox / "nothing")
    said = []
    for argv in (["validate", str(bundle), "-o", str(sandbox / "out")], ["run", str(bundle), "-o", str(sandbox / "out")]):
        rc, out, err = cli(argv, capsys)
        assert rc == 1
        said.append(next(line for line in (out + err).splitlines() if "needs at least 0.4 s" in line))
    assert all("(got 0.300 s)" in s for s in said), said
    assert snapshot(sandbox, sandbox / "nothing") == before          # the private unpack folders are gone


def test_a_member_that_is_not_audio_is_named_by_the_bundle_not_by_the_runs_temp_folder(sandbox, capsys):
    """QA66 L2: validate and run said ``/tmp/audiochain-bundle-XXXX/files/notes.flac: not a readable audio
    file``, a folder gone when the message was read, naming no bundle and no member; and the fix is the
    sender's, not the receiver's."""
    bundle = sandbox / "inbox" / "song.acbundle"
    bundle.write_bytes(build({"files/x.wav": b"hello\n" * 100}))
    for argv in (["validate", str(bundle), "-o", str(sandbox / "out")],
                 ["run", str(bundle), "-o", str(sandbox / "out"), "-q"]):
        rc, out, err = cli(argv, capsys)
        assert rc == 1, (argv, out, err)
        line = next((line for line in (out + err).splitlines() if "not a readable audio file" in line), out + err)
        assert f"{bundle}: files/x.wav: not a readable audio file" in line, (argv[0], line)
        assert line.endswith("; the bundle's sender must pack it again"), (argv[0], line)
        assert "audiochain-bundle-" not in out + err, (argv[0], out + err)


def test_a_warning_about_a_member_names_it_by_the_bundle(sandbox, capsys, tmp_path):
    """QA66 L2's warnings: a damaged mp3 in a bundle that still plays is warned about (its skipped
    bytes), and the warning named the run's temp folder, gone when read."""
    from tests.nodes.test_io_hostile import _damaged_mp3
    mp3 = _damaged_mp3(tmp_path).read_bytes()
    bundle = sandbox / "inbox" / "song.acbundle"
    bundle.write_bytes(build({"files/take.mp3": mp3}, graph=_graph_bytes("files/take.mp3")))
    rc, out, err = cli(["run", str(bundle), "-o", str(sandbox / "out"), "-q"], capsys)
    assert rc == 0, (out, err)
    line = next((line for line in (out + err).splitlines() if "warning l:" in line), out + err)
    assert f"warning l: {bundle}: files/take.mp3: the mp3 decoder skipped " in line, line
    assert "audiochain-bundle-" not in out + err, out + err


@pytest.mark.parametrize("case", ["file_and_folder", "bytes_before_the_zip"])
def test_every_command_refuses_the_same_odd_bundle_in_the_same_words(tmp_path, capsys, case):
    """QA53 D4: a member that is both a file and a folder passed show and failed unpack on a temp folder of
    its own; a zip with bytes before it was refused by show, validate and run, and unpacked by unpack."""
    data = build({"files/x.wav": WAV, "files/x.wav/b.wav": WAV}) if case == "file_and_folder" else b"JUNK" * 10 + build()
    (tmp_path / "b.acbundle").write_bytes(data)
    said = set()
    for argv in (["show"], ["validate"], ["run", "-q", "-o", str(tmp_path / "o")], ["unpack", "-o", str(tmp_path / "u")]):
        rc, out, err = cli([argv[0], str(tmp_path / "b.acbundle"), *argv[1:]], capsys)
        assert refused_cleanly(rc, out, err), (argv, rc, out, err)
        said.add(err.strip())
    assert len(said) == 1, said
    assert ("is both a file and a folder" if case == "file_and_folder" else "it is not a zip archive") in said.pop()
    assert not (tmp_path / "u").exists() and not (tmp_path / "o").exists()


def test_a_graph_of_msgpacks_reserved_byte_says_what_it_is(tmp_path, capsys):
    """QA53 D5: 'not a valid graph file: FormatError: ; ...', no reason given."""
    (tmp_path / "c1.msgpack").write_bytes(b"\xc1\xc1\xc1")
    rc, out, err = cli(["show", str(tmp_path / "c1.msgpack")], capsys)
    assert refused_cleanly(rc, out, err) and "FormatError" not in err
    assert "not an AudioChain graph (not a msgpack graph document" in err


@pytest.mark.parametrize("value", ["{home}/Music/voice-memo.wav", "~/Music/voice-memo.wav",
                                   "../../../home/Music/voice-memo.wav"])
def test_pack_include_outside_still_refuses_what_a_strangers_file_names_as_audiochain_never_saves(
        sandbox, capsys, value):
    """QA96 D3: a stranger's graph file naming ``~/private/voice-memo.flac`` by an absolute path, ``~`` or a
    climb (which run and validate refuse: "by a path AudioChain never saves in a graph file") was packed with
    ``--include-outside``, and the user's memo went into the bundle they were asked to send back.  pack now
    refuses it as run does, flag or not, unless ``--allow-outside`` names its folder."""
    home = sandbox / "home"
    (home / "Music").mkdir(exist_ok=True)
    _sine(home / "Music" / "voice-memo.wav")
    inbox = sandbox / "inbox" / "a" / "b"
    inbox.mkdir(parents=True)
    _sine(inbox / "beat.wav")
    g = Graph()
    g.add("io.load", id="beat", path="beat.wav")
    g.add("io.load", id="sneaky", path=value.format(home=home))
    g.add("io.export", id="out", path="beat-out.wav")
    g.connect("beat", "out")
    src = inbox / "free-beat.msgpack"
    src.write_bytes(dumps(g))                       # written elsewhere: nothing of it is noted on this machine
    before = snapshot(sandbox, sandbox / "out")
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "gift.acbundle"), "--include-outside"], capsys)
    assert refused_cleanly(rc, out, err), err
    assert "node 'sneaky' (io.load): path=" in err and "by a path AudioChain never saves in a graph file" in err
    assert "audiochain pack ... --allow-outside" in err, err
    assert os.listdir(sandbox / "out") == [] and snapshot(sandbox, sandbox / "out") == before
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "gift.acbundle"), "--include-outside",
                        "--allow-outside", str(home / "Music")], capsys)
    assert rc == 0 and "included files/voice-memo.wav" in out, err


def test_pack_refuses_a_strangers_saved_sweep_value_as_the_run_does(sandbox, capsys):
    """QA97 D2: a stranger's graph whose saved sweep names ``~/Music/voice-memo.wav`` (run and validate refuse
    it) was packed with ``--include-outside``, the memo in the bundle byte for byte."""
    home = sandbox / "home"
    (home / "Music").mkdir(exist_ok=True)
    _sine(home / "Music" / "voice-memo.wav")
    inbox = sandbox / "inbox" / "song"
    inbox.mkdir(parents=True)
    _sine(inbox / "beat.wav")
    g = Graph()
    g.add("io.load", id="beat", path="beat.wav")
    g.add("io.export", id="out", path="beat-out.wav")
    g.connect("beat", "out")
    g.sweep = {"mode": "grid", "axes": [{"param": "beat.path", "values": ["beat.wav", "~/Music/voice-memo.wav"]}]}
    src = inbox / "free-beat.msgpack"
    src.write_bytes(dumps(g))
    rc, out, err = cli(["pack", str(src), "-o", str(sandbox / "out" / "gift.acbundle"), "--include-outside"], capsys)
    assert refused_cleanly(rc, out, err) and "never saves in a graph file" in err, err
    assert os.listdir(sandbox / "out") == []
