"""The editor's checkpoint downloads without a window (nodeflow/editor/downloads.py): which nodes miss a
checkpoint, a folder checked as the node checks it, the one-line messages, and a real download from a
local fake hub with progress and cancel (in a child process, so HF_ENDPOINT is read as a user's shell sets it)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nodeflow import Graph, checkpoints
from nodeflow.editor.downloads import Download, explain, folder_problem, missing_checkpoint

from ._fakehub import FakeHub
from tests._weights import write_weights

ROOT = Path(__file__).resolve().parents[2]
NAME = "facebook/musicgen-small"


def fake_musicgen(folder: Path, weights_mib: int = 1) -> Path:
    """A folder that passes MusicGen's checks (its model type, whole safetensors weights, a tokenizer);
    never loaded."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "musicgen"}))
    write_weights(folder / "model.safetensors", weights_mib << 20)
    (folder / "tokenizer.json").write_text("{}")
    return folder


@pytest.fixture
def musicgen():
    g = Graph()
    g.add("models.musicgen", id="gen")
    g.add("dsp.gain", id="gain")
    return g.registry.get("models.musicgen"), g.registry.get("dsp.gain")


def test_missing_checkpoint_reads_the_cache_only(musicgen, tmp_path, monkeypatch):
    spec, gain = musicgen
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)          # online too: nothing is fetched to find out
    assert missing_checkpoint(spec, {"checkpoint": NAME}, tmp_path) == NAME
    assert missing_checkpoint(spec, {}, tmp_path) == NAME, "the default checkpoint counts"
    assert missing_checkpoint(gain, {}, tmp_path) is None
    local = fake_musicgen(tmp_path / "mine")
    assert missing_checkpoint(spec, {"checkpoint": str(local)}, tmp_path) is None
    assert missing_checkpoint(spec, {"checkpoint": "mine"}, tmp_path) is None, "relative to the graph's folder"
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_models
    tiny_models.install_in_hub_cache(local, tmp_path / "hub", NAME)
    assert missing_checkpoint(spec, {"checkpoint": NAME}, tmp_path) is None


def test_a_folder_is_checked_as_the_node_checks_it(musicgen, tmp_path):
    spec, _ = musicgen
    assert folder_problem(spec, {}, fake_musicgen(tmp_path / "ok"), tmp_path) is None
    bark = tmp_path / "bark"
    bark.mkdir()
    (bark / "config.json").write_text(json.dumps({"model_type": "bark"}))
    (bark / "model.safetensors").write_bytes(b"\0")
    assert "is a 'bark' model; this node needs a 'musicgen' checkpoint" in folder_problem(spec, {}, bark, tmp_path)
    (tmp_path / "empty").mkdir()
    assert "has no config.json" in folder_problem(spec, {}, tmp_path / "empty", tmp_path)
    pickles = fake_musicgen(tmp_path / "pickles")
    (pickles / "model.safetensors").rename(pickles / "pytorch_model.bin")
    assert "no .safetensors weights (found pytorch_model.bin)" in folder_problem(spec, {}, pickles, tmp_path)
    assert folder_problem(spec, {}, tmp_path / "nowhere", tmp_path) == f"{tmp_path / 'nowhere'} is not a folder"


def _failed_pull(cause: BaseException) -> checkpoints.CheckpointError:
    try:
        try:
            raise cause
        except BaseException as e:
            raise checkpoints.DownloadFailed(f"checkpoint '{NAME}' could not be downloaded ({e})") from e
    except checkpoints.CheckpointError as e:
        return e


def test_messages_say_what_failed_why_and_the_fix(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    short, line = explain(NAME, _failed_pull(socket.gaierror(-2, "Name or service not known")))
    assert short == "no connection"
    assert line.startswith(f"cannot download '{NAME}': no connection to ") and "(Name or service not known)" in line
    assert f"run `audiochain models pull {NAME}` on a connected machine" in line and "'...'" in line
    assert "\n" not in line
    short, line = explain(NAME, _failed_pull(ValueError("404 Repository Not Found")))
    assert (short, line) == ("download failed", f"checkpoint '{NAME}' could not be downloaded (404 Repository Not Found)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    short, line = explain(NAME, checkpoints.CheckpointError("cannot pull"))
    assert short == "downloads are off" and "HF_HUB_OFFLINE=1 is set" in line and "unset it and restart" in line


CHILD = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from nodeflow.editor.downloads import Download

    def download(cancel):
        job = Download(sys.argv[1]).start()
        seen = []
        while job.running:
            seen.append([job.bytes_done, job.bytes_total, job.files_done, job.files_total, job.progress_text()])
            if cancel and job.bytes_done > 1 << 20:
                job.cancel()
            time.sleep(0.02)
        job.wait(30)
        return {"state": job.state, "message": job.message, "seen": seen, "path": str(job.path),
                "end": [job.bytes_done, job.bytes_total, job.files_done, job.files_total]}
    out = download(sys.argv[2] == "cancel")
    if sys.argv[2] == "cancel":
        out["weights"] = [str(p) for p in Path(sys.argv[3]).rglob("model.safetensors")]
        out["again"] = download(False)
    print(json.dumps(out))
""")


@pytest.mark.parametrize("how", ["finish", "cancel"])
def test_a_download_reports_progress_and_can_be_cancelled(tmp_path, how):
    served = fake_musicgen(tmp_path / "served", weights_mib=24)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    with FakeHub(served, NAME, chunk_delay_s=0.004) as hub:
        env.update(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_DISABLE_XET="1",
                   PYTHONPATH=str(ROOT))
        p = subprocess.run([sys.executable, "-c", CHILD, NAME, how, str(tmp_path / "hub")], env=env,
                           capture_output=True, text=True,
                           timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    middle = [s for s in out["seen"] if 0 < s[0] < s[1]]
    # the total is the listing's from the first reading on: it did not grow as each file started (CI: the
    # editor's bar read "100% of 10.4 KiB" while only the small files had started)
    assert {s[1] for s in out["seen"] if s[1]} == {(24 << 20) + 28}, out["seen"]
    if how == "finish":
        assert out["state"] == "done" and out["end"] == [(24 << 20) + 28, (24 << 20) + 28, 3, 3]
        assert out["message"] == f"downloaded '{NAME}' (24.0 MiB, 3 files) into the Hugging Face cache"
        assert any(m[4].endswith(" of 24.0 MiB, 2 of 3 files") for m in middle), out["seen"]   # the weights, last
        assert checkpoints.resolve(NAME, download=False, cache_dir=tmp_path / "hub").path == Path(out["path"])
    else:
        assert out["state"] == "cancelled" and out["message"] == f"download of '{NAME}' cancelled"
        assert out["end"][0] < out["end"][1], "it stopped before the end"
        assert out["weights"] == [], "no partial weights are left to look like a checkpoint"
        again = out["again"]        # downloaded again: what the cache holds whole is left out of the total
        assert again["state"] == "done" and again["end"][:2] == [24 << 20, 24 << 20], again["end"]
        assert {s[1] for s in again["seen"] if s[1]} == {24 << 20}, again["seen"]
        assert again["seen"][-1][0] >= out["end"][0], "it went on from where the cancel left it"


RUN_CHILD = textwrap.dedent("""
    import json, sys
    from nodeflow import Graph
    from nodeflow.editor.runner import Runner
    g = Graph()
    g.add("models.musicgen", id="gen", checkpoint=sys.argv[1], duration_s=1.0)
    g.add("dsp.gain", id="gain")
    g.add("dsp.fade", id="fade")
    g.connect("gen.out", "gain.audio")
    g.connect("gain.out", "fade.audio")
    runner = Runner()
    runner.run(g)
    messages = runner.wait(120)
    print(json.dumps({"messages": messages, "states": {n: s.describe() for n, s in runner.states.items()},
                      "kinds": {n: s.kind for n, s in runner.states.items()}}))
    runner.close()
""")


def test_nodes_after_a_model_whose_download_failed_are_marked_not_run(tmp_path):
    """QA: a run whose model node could not download its checkpoint (no network) marked that node
    failed and left the nodes after it blank, as if nothing concerned them; they now read
    "not run: after 'gen'", as nodes after one that cannot run are marked (and after any failure)."""
    pytest.importorskip("huggingface_hub")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT="https://huggingface.invalid", HF_HUB_CACHE=str(tmp_path / "hub"), PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", RUN_CHILD, NAME], env=env, capture_output=True, text=True, timeout=150)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    assert out["kinds"] == {"gen": "failed", "gain": "blocked", "fade": "blocked"}, out
    assert out["states"]["gen"].startswith(f"failed: checkpoint '{NAME}' could not be downloaded"), out
    assert out["states"]["gain"] == out["states"]["fade"] == "not run: after 'gen'"
    assert out["messages"][0].startswith("run failed: node 'gen'"), out["messages"]


def test_nodes_after_any_failed_node_are_marked_not_run(tmp_path):
    """The same marks for a run that failed on a node of its own: an input file damaged in its middle (its
    header and its end pass validation; decoding it fails)."""
    import numpy as np
    import soundfile as sf
    from nodeflow.editor.runner import Runner
    sf.write(tmp_path / "take.flac", np.random.default_rng(2).uniform(-0.5, 0.5, (44100, 2)).astype(np.float32), 44100)
    data = (tmp_path / "take.flac").read_bytes()
    (tmp_path / "take.flac").write_bytes(data[:len(data) * 2 // 5] + bytes(len(data) // 5) + data[len(data) * 3 // 5:])
    g = Graph()
    g.path = tmp_path / "g.msgpack"
    g.add("io.load", id="load", path="take.flac")
    g.add("dsp.gain", id="gain")
    g.add("dsp.fade", id="fade")
    g.connect("load.out", "gain.audio")
    g.connect("gain.out", "fade.audio")
    runner = Runner()
    try:
        runner.run(g)
        messages = runner.wait(60)
        assert {n: s.kind for n, s in runner.states.items()} == {"load": "failed", "gain": "blocked",
                                                                  "fade": "blocked"}
        assert runner.states["gain"].describe() == runner.states["fade"].describe() == "not run: after 'load'"
        assert messages[0].startswith("run failed: node 'load'"), messages
        assert messages[0].endswith("; not run: fade, gain (marked on the nodes)"), messages
        g.set("gain", "gain_db", -3.0)             # an edit of gain: its mark and fade's go, load's failure stays
        assert runner.forget_stale(g) == {"gain", "fade"}
        g.set("gain", "gain_db", 0.0)
        runner.run(g, targets=["load"])            # a run of the failed node alone marks nothing after it
        runner.wait(60)
        assert set(runner.states) == {"load"}, runner.states
    finally:
        runner.close()


CLI_ONLY = {"pull", "remove"}     # `audiochain models pull|rm`: never a node's check


def _message(node, funcs: dict) -> str:
    """The text an error's message expression makes, each ``{value}`` as ``X``."""
    import ast
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(_message(v, funcs) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return "X"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _message(node.left, funcs) + _message(node.right, funcs)
    if isinstance(node, ast.IfExp):
        return _message(node.body, funcs) + _message(node.orelse, funcs)
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) in funcs:    # a helper that words it
        (ret,) = [n for n in ast.walk(funcs[node.func.id]) if isinstance(n, ast.Return)]
        return _message(ret.value, funcs)
    raise AssertionError(f"line {node.lineno}: cannot read the message {ast.unparse(node)}; teach _message")


def checkpoint_messages() -> list[tuple[str, str]]:
    """Every message a checkpoint check can give, read from the code: each CheckpointError (or
    subclass) raised in nodeflow/checkpoints.py, checkpointfiles.py, families.py and nodes/models/."""
    import ast
    kinds = {"CheckpointError"} | {c.__name__ for c in checkpoints.CheckpointError.__subclasses__()}
    found = []
    for path in [ROOT / "nodeflow" / "checkpoints.py", ROOT / "nodeflow" / "checkpointfiles.py",
                 ROOT / "nodeflow" / "families.py",
                 *sorted((ROOT / "nodes" / "models").rglob("*.py"))]:
        tree = ast.parse(path.read_text())
        funcs = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
        for f in funcs.values():
            for n in ast.walk(f):
                if f.name not in CLI_ONLY and isinstance(n, ast.Call) and n.args and \
                        (getattr(n.func, "id", None) in kinds or getattr(n.func, "attr", None) in kinds):
                    found.append((f"{path.relative_to(ROOT)}:{n.lineno}", _message(n.args[0], funcs)))
    return found


def test_every_checkpoint_problem_draws_its_node_broken():
    """QA: a node whose local checkpoint folder was gone ('... no folder ...') or had no config.json
    was not drawn broken: serious() matched a few words.  Every message the checkpoint checks give,
    as a node's problem, now does; a new message that does not fails here."""
    from nodeflow.editor.nodetext import serious
    found = checkpoint_messages()
    assert len(found) >= 10 and any("no folder" in m for _, m in found) and \
        any("has no config.json" in m for _, m in found), found
    missed = [(where, m) for where, m in found if not serious([f"node 'gen' (models.musicgen): {m}"])]
    assert missed == [], missed
    assert not serious(["node 'export' (io.export): required input 'audio' (Audio) is not connected; link it"])


def test_a_good_folder_is_taken_when_another_value_of_the_node_is_what_it_refuses(tmp_path):
    """validate now checks values against the checkpoint's configuration (an EnCodec bit rate it
    lacks); picking a good checkpoint folder is not refused for the node's other value, which stays
    the node's problem, said on it."""
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_encodec
    from nodeflow import default_registry
    spec = default_registry()["models.encodec_encode"]
    ck = tiny_encodec.build(tmp_path / "tiny-encodec")
    bad = {"bandwidth_kbps": 23.0, "device": "cpu"}
    assert any("bandwidth_kbps=23" in p for p in spec.preflight({**bad, "checkpoint": str(ck)}, tmp_path))
    assert folder_problem(spec, bad, ck, tmp_path) is None
