"""Sweeps on a real local Ray cluster: identical results to the local executor, and a worker
killed mid-sweep is retried, never dropped."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Graph, save
from nodeflow.cli import main
from nodeflow.sweep import expand, parse_axis

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    d = tmp_path_factory.mktemp("ray")
    saved = {k: os.environ.get(k) for k in ("HOME", "RAY_TMPDIR", "PYTHONPATH")}
    os.environ.update(HOME=str(d), RAY_TMPDIR=str(d),
                      PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]])))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _temp_dir=str(d / "t"))
    yield
    ray.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def graph_file(tmp_path):
    sr = 16000
    t = np.arange(sr // 2) / sr
    sf.write(tmp_path / "in.wav", 0.25 * np.sin(2 * np.pi * 440 * t), sr, subtype="PCM_24")
    g = Graph()
    g.add("io.load", id="load", path="in.wav")
    g.add("dsp.resample", id="rs", rate_hz=32000, quality="very_high")
    g.add("dsp.variation", id="vary")
    g.add("io.export", id="export", path="v.flac", bit_depth="pcm24")
    g.connect("load", "rs")
    g.connect("rs", "vary")
    g.connect("vary", "export")
    g.path = tmp_path / "g.msgpack"
    return save(g, g.path)


def test_ray_sweep_matches_local_bit_for_bit(ray_cluster, graph_file, tmp_path):
    sweep = ["--sweep", "vary.semitones=-5,0,7", "-q"]
    assert main(["run", str(graph_file), "-o", str(tmp_path / "local")] + sweep) == 0
    assert main(["run", str(graph_file), "-o", str(tmp_path / "ray"), "--executor", "ray"] + sweep) == 0
    local = json.loads((tmp_path / "local" / "manifest.json").read_text())
    remote = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert remote["executor"] == "ray"
    for a, b in zip(local["variants"], remote["variants"]):
        assert (a["name"], a["status"], a["params"]) == (b["name"], b["status"], b["params"])
        common = set(a["durations_s"]) & set(b["durations_s"])      # Ray's driver computes the shared upstream
        assert "vary.out" in common and all(a["durations_s"][k] == b["durations_s"][k] for k in common)
        assert (tmp_path / "local" / a["outputs"][0]).read_bytes() == (tmp_path / "ray" / b["outputs"][0]).read_bytes()
        assert "rs" not in b["nodes_ran"]  # shared upstream came from the driver, not recomputed per task


def test_killed_worker_is_retried(ray_cluster, graph_file, tmp_path):
    from nodeflow.distributed import run_sweep_ray
    g, pids = _marked_graph(graph_file, tmp_path)
    variants = expand([parse_axis("mark.tag=a,b,c", g)])
    killed: list[int] = []
    th = _kill_when_started(pids, "b", killed)
    results = run_sweep_ray(g, variants, tmp_path / "out", packs=["tests.nodeflow.raypack"])
    th.join()
    assert killed, "the test never saw variant b start"
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    runs_of_b = sorted(f.name for f in pids.iterdir() if f.name.startswith("b."))
    assert len(runs_of_b) == 2 and f"b.{killed[0]}" in runs_of_b  # ran again in another worker
    for r in results:
        assert Path(r.outputs[0]).is_file()


# ---------------------------------------------------------------------------------------- audit additions
def _marked_graph(graph_file: Path, tmp_path: Path):
    """The sweep graph with a ``raytest.marked`` node before the export: each run of it leaves a
    ``TAG.PID`` file in the returned folder and holds for 3 s, so a test can kill its worker."""
    from nodeflow.fileformat import load
    from nodeflow.registry import default_registry
    from tests.nodeflow import raypack
    reg = default_registry()
    if "raytest" not in reg.packs:
        reg.load_pack("raytest", raypack)
    g = load(graph_file)
    pids = tmp_path / "pids"
    pids.mkdir()
    g.add("raytest.marked", id="mark", pid_dir=str(pids), hold_s=3.0)
    g.disconnect("export.audio")
    g.connect("vary", "mark")
    g.connect("mark", "export")
    return g, pids


def _kill_when_started(pids: Path, tag: str, killed: list[int]) -> threading.Thread:
    def killer():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for f in pids.iterdir():
                if f.name.startswith(f"{tag}."):
                    pid = int(f.name.split(".")[1])
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.05)
    th = threading.Thread(target=killer)
    th.start()
    return th


def test_a_worker_that_dies_every_time_is_reported_not_dropped(ray_cluster, graph_file, tmp_path):
    from nodeflow.distributed import run_sweep_ray
    g, pids = _marked_graph(graph_file, tmp_path)
    killed: list[int] = []
    th = _kill_when_started(pids, "b", killed)
    results = run_sweep_ray(g, expand([parse_axis("mark.tag=a,b,c", g)]), tmp_path / "out", max_retries=0,
                            packs=["tests.nodeflow.raypack"])
    th.join()
    assert killed
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    assert results[1].error.startswith("ray task failed") and results[1].variant.as_dict() == {"mark.tag": "b"}
    assert Path(results[0].outputs[0]).is_file() and Path(results[2].outputs[0]).is_file()


def test_cli_aggregates_ray_progress(ray_cluster, graph_file, tmp_path, capsys):
    assert main(["run", str(graph_file), "-o", str(tmp_path / "o"), "--executor", "ray",
                 "--sweep", "vary.semitones=-2,2", "--sweep", "export.bit_depth=pcm16,pcm24"]) == 0
    cap = capsys.readouterr()
    assert "sweep: 4 variant(s) (grid) on the ray executor" in cap.err
    assert sorted(int(l.split("/")[0].strip("[")) for l in cap.err.splitlines() if l.startswith("[")) == [1, 2, 3, 4]
    assert "4/4 variant(s) ok" in cap.out


def _cli_env(ray_dir: Path) -> dict:
    return dict(os.environ, HOME=str(ray_dir), RAY_TMPDIR=str(ray_dir),
                PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def _cli() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "audiochain"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from nodeflow.cli import main; "
                                                               "sys.exit(main())"]


def test_cli_joins_a_cluster_by_address(ray_cluster, graph_file, tmp_path):
    """A separate process joins the running cluster with --address and leaves it running."""
    address = ray.get_runtime_context().gcs_address
    p = subprocess.run(_cli() + ["run", str(graph_file), "-o", str(tmp_path / "o"), "-q", "--executor", "ray",
                                 "--address", address, "--sweep", "vary.semitones=0,3"],
                       capture_output=True, text=True, timeout=180, env=_cli_env(Path(os.environ["HOME"])))
    assert p.returncode == 0, p.stderr[-3000:]
    rows = json.loads((tmp_path / "o" / "manifest.json").read_text())["variants"]
    assert [r["status"] for r in rows] == ["ok", "ok"] and all((tmp_path / "o" / r["outputs"][0]).is_file() for r in rows)
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2   # the cluster is still up


def test_cli_without_address_starts_and_stops_a_local_ray(graph_file, tmp_path):
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))   # Ray's unix socket paths must stay under 107 bytes
    p = subprocess.run(_cli() + ["run", str(graph_file), "-o", str(tmp_path / "o"), "-q", "--executor", "ray",
                                 "--sweep", "vary.semitones=0,3"],
                       capture_output=True, text=True, timeout=180, env=_cli_env(d))
    assert p.returncode == 0, p.stderr[-3000:]
    assert "2/2 variant(s) ok" in p.stdout
    assert any(d.rglob("session_*"))        # its own Ray, under the temp dir it was pointed at
    import shutil
    shutil.rmtree(d, ignore_errors=True)


def test_without_ray_installed_one_clear_error(graph_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)     # `import ray` now raises ImportError
    assert main(["run", str(graph_file), "-o", str(tmp_path / "o"), "-q", "--executor", "ray",
                 "--sweep", "vary.semitones=0,3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: the Ray executor needs Ray: pip install -e '.[distributed]' (run in the AudioChain folder)"]
    assert not (tmp_path / "o").exists()


def test_model_variants_ask_for_a_gpu_only_where_the_cluster_has_one(graph_file):
    from nodeflow.distributed import task_resources
    from nodeflow.fileformat import load
    g = load(graph_file)
    assert task_resources(g, {"CPU": 8, "GPU": 2}) == {"num_cpus": 1, "num_gpus": 0}   # no model node
    g.add("models.musicgen", id="gen")
    assert task_resources(g, {"CPU": 8, "GPU": 2}) == {"num_cpus": 1, "num_gpus": 1}
    assert task_resources(g, {"CPU": 8}) == {"num_cpus": 1, "num_gpus": 0}


def test_a_wrong_address_fails_fast_with_one_error(graph_file, tmp_path):
    """Ray itself waits minutes for a cluster that is not there; the CLI says so at once."""
    import socket
    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.run(_cli() + ["run", str(graph_file), "-o", str(tmp_path / "o"), "-q", "--executor", "ray",
                                 "--address", f"127.0.0.1:{port}", "--sweep", "vary.semitones=0,3"],
                       capture_output=True, text=True, timeout=60, env=_cli_env(tmp_path))
    assert p.returncode == 1
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --address 127.0.0.1:{port}: no Ray cluster answers there")
    assert err[0].endswith("or omit --address to start a local Ray"), err     # QA73 D13: not "leave --address out"
    assert not (tmp_path / "o").exists()


def test_an_unsaved_graph_resolves_relative_inputs_like_the_driver(ray_cluster, graph_file, tmp_path, monkeypatch):
    """A graph built in Python (no file) reads relative paths from the driver's current folder,
    wherever Ray's workers happen to run."""
    from nodeflow.distributed import run_sweep_ray
    from nodeflow.fileformat import load
    g = load(graph_file)
    g.path = None
    monkeypatch.chdir(graph_file.parent)          # in.wav is here
    results = run_sweep_ray(g, expand([parse_axis("vary.semitones=0,2", g)]), tmp_path / "out")
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
