"""Running models: the process-wide model cache (load once, LRU by bytes, unload, threads), devices
(`auto` -> cpu here, `--device`), and cancelling mid-generation."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from nodeflow import Executor, cli, devices, fileformat
from nodeflow.errors import NodeflowError, Cancelled, ExecutionError, ParameterError
from nodeflow.modelcache import ModelCache, ModelKey, nbytes_of

from .helpers import model_graph, run_graph, run_model


# ---------------------------------------------------------------------------------------- model cache
def test_a_checkpoint_loads_once_across_runs_and_nodes(tiny, tmp_path, fresh_model_cache):
    ck = str(tiny["musicgen_short"])
    a = run_model("models.musicgen", tmp_path, checkpoint=ck, duration_s=0.3, seed=1)
    b = run_model("models.musicgen", tmp_path, checkpoint=ck, duration_s=0.3, seed=2)   # another run, another seed
    g = model_graph("models.musicgen", tmp_path, checkpoint=ck, duration_s=0.2, seed=3)
    g.add("models.musicgen", id="second", checkpoint=ck, duration_s=0.2, seed=4)        # another node
    run_graph(g)
    assert not np.array_equal(a.samples, b.samples)
    assert fresh_model_cache.loads() == 1
    (key,) = fresh_model_cache.keys()
    assert (key.kind, key.device, key.dtype) == ("musicgen", "cpu", "float32")
    assert key.checkpoint == str(tiny["musicgen_short"].resolve()) and key.revision.startswith("local-")


def _modules(n: int, width: int):
    import torch
    return [torch.nn.Linear(width, width) for _ in range(n)]


def test_lru_eviction_by_byte_budget_and_unload():
    a, b, c = _modules(3, 64)
    size = nbytes_of(a)
    assert size == (64 * 64 + 64) * 4
    cache = ModelCache(budget_bytes=2 * size)
    keys = [ModelKey("test", name, "r1", "cpu", "float32") for name in "abc"]
    cache.get(keys[0], lambda: a)
    cache.get(keys[1], lambda: b)
    cache.get(keys[0], lambda: pytest.fail("a was evicted"))       # a is now the most recent
    cache.get(keys[2], lambda: c)                                    # over budget: b (least recent) goes
    assert cache.keys() == [keys[0], keys[2]]
    assert cache.stats()["evictions"] == 1 and cache.stats()["bytes"] == 2 * size
    assert cache.unload(keys[0]) and keys[0] not in cache and not cache.unload(keys[0])
    cache.get(keys[0], lambda: a)
    assert cache.loads(keys[0]) == 2 and cache.loads() == 4


def test_a_model_in_use_is_not_evicted_and_a_smaller_budget_evicts_at_once():
    a, b = _modules(2, 32)
    cache = ModelCache(budget_bytes=nbytes_of(a))
    ka, kb = (ModelKey("test", n, "r", "cpu", "float32") for n in "ab")
    with cache.use(ka, lambda: a):
        cache.get(kb, lambda: b)                  # over budget, but a is pinned: b (unpinned) goes instead
        assert ka in cache and kb not in cache
    cache.budget_bytes = 0
    assert cache.keys() == []


def test_concurrent_requests_load_once(tmp_path):
    cache = ModelCache(budget_bytes=1 << 30)
    key = ModelKey("test", "slow", "r", "cpu", "float32")
    calls = []

    def loader():
        calls.append(1)
        time.sleep(0.2)
        return _modules(1, 16)[0]

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(key, loader))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 6 and all(g is got[0] for g in got)


def test_concurrent_runs_share_one_model_and_stay_reproducible(tiny, tmp_path, fresh_model_cache):
    ck = str(tiny["musicgen_short"])
    expected = {s: run_model("models.musicgen", tmp_path / str(s), checkpoint=ck, duration_s=0.4, seed=s)
                for s in (1, 2, 3)}
    handles = {s: Executor().submit(model_graph("models.musicgen", tmp_path / f"c{s}", checkpoint=ck,
                                                duration_s=0.4, seed=s)) for s in (1, 2, 3)}
    for s, h in handles.items():
        assert h.result(timeout=120)["model"]["out"] == expected[s]
    assert fresh_model_cache.loads() == 1


# ---------------------------------------------------------------------------------------- devices
def test_auto_device_is_the_cpu_here():
    import torch
    assert not torch.cuda.is_available()        # this test describes the CPU-only CI machine
    assert devices.resolve_device("auto") == "cpu"
    assert devices.resolve_dtype("auto", "cpu") == "float32"
    assert devices.pick_device("cuda", "cpu") == "cpu"          # the run's --device wins over the node's
    assert devices.pick_device("cpu", "auto") == "cpu"


@pytest.mark.parametrize("name,words", [("cuda", "CUDA is not available"), ("mps", "MPS is not available"),
                                        ("tpu", "expected one of auto, cpu, cuda, mps")])
def test_an_absent_device_is_one_clear_error(name, words):
    with pytest.raises(ParameterError, match=words):
        devices.resolve_device(name)


def test_float16_on_the_cpu_is_refused():
    with pytest.raises(ParameterError, match="float16 is not supported for generation on the CPU"):
        devices.resolve_dtype("float16", "cpu")


def test_validate_refuses_a_precision_this_machine_cannot_run_before_loading_the_model(tiny, tmp_path, capsys):
    """`validate` says what `run` would refuse (QA49 D1: float16 on a CPU-only machine passed validate,
    and the run refused it only after loading the model); `auto` precision is never refused."""
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=0.2)
    fileformat.save(g, tmp_path / "g.msgpack")
    capsys.readouterr()
    for argv in (["validate"], ["run", "-o", str(tmp_path / "out")]):
        assert cli.main([argv[0], str(tmp_path / "g.msgpack"), *argv[1:], "--set", "model.precision=float16"]) == 1
        said = capsys.readouterr()
        lines = [line for line in (said.out + said.err).splitlines() if "float16" in line]
        assert len(lines) == 1 and "node 'model' (models.musicgen): precision=float16 is not supported for " \
            "generation on the CPU; use float32 or bfloat16" in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert devices.placement_problem("auto", "auto") is None and devices.placement_problem("cpu", "bfloat16") is None


def test_run_device_overrides_the_node_and_names_the_problem(tiny, tmp_path):
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=0.2,
                    device="cuda")
    with pytest.raises(NodeflowError, match="node 'model'.*device='cuda': CUDA is not available"):
        run_graph(g)                             # refused before anything runs (validation checks devices)
    out, _ = run_graph(g, device="cpu")          # `--device cpu` runs a graph saved for a GPU machine
    assert out.frames == round(0.2 * 32000)


def test_the_cache_key_follows_the_device_the_run_uses(tiny, tmp_path):
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=0.2)
    ex = Executor()
    assert ex.keys(g, device="auto")["model"] == ex.keys(g, device="cpu")["model"]   # auto is the cpu here
    assert ex.keys(g, device="cuda")["model"] != ex.keys(g, device="cpu")["model"]


def test_cli_device_flag(tiny, tmp_path, capsys):
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=0.2)
    e = g.add("io.export", id="export", path="song.wav")
    g.connect("model.out", e.audio)
    fileformat.save(g, tmp_path / "g.msgpack")
    assert cli.main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out"), "--device", "cpu", "-q"]) == 0
    assert (tmp_path / "out" / "song.wav").is_file()
    capsys.readouterr()
    assert cli.main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out2"), "--device", "cuda",
                     "-q", "--set", "model.seed=9"]) == 1
    err = "".join(line for line in capsys.readouterr().err.splitlines(keepends=True)
                  if not line.startswith("reads outside its folder: "))      # said with -q too (the checkpoint)
    assert err.startswith("error: node 'model' (models.musicgen): device='cuda': CUDA is not available")
    assert err.count("\n") == 1
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


# ---------------------------------------------------------------------------------------- cancel
@pytest.mark.parametrize("node_type,params", [
    ("models.musicgen", dict(checkpoint="musicgen_short", duration_s=4.0, extend_stride_s=0.5)),
    ("models.bark", dict(checkpoint="bark", prompt="Hello world. A calm song. Goodbye.", max_sentence_s=0.6)),
])
def test_cancel_from_a_progress_event_stops_generation_promptly(tiny, tmp_path, node_type, params):
    params = dict(params, checkpoint=str(tiny[params["checkpoint"]]))
    g = model_graph(node_type, tmp_path, **params)
    e = g.add("io.export", id="export", path=str(tmp_path / "never.wav"))
    g.connect("model.out", e.audio)
    cancel = threading.Event()
    seen = []

    def on_event(ev):
        seen.append(ev)
        if ev.kind == "progress" and ev.node_id == "model" and sum(e.kind == "progress" for e in seen) == 3:
            cancel.set()       # the third step reported: mid-way through the first window/sentence

    with pytest.raises(Cancelled):
        run_graph(g, on_event=on_event, cancel_event=cancel)
    kinds = [ev.kind for ev in seen if ev.node_id == "model"]
    assert kinds[-1] == "cancelled" and "finished" not in kinds
    progress = [ev for ev in seen if ev.kind == "progress"]
    assert len(progress) == 3 and progress[-1].done < progress[-1].total / 4   # not one more step reported
    assert not any(ev.node_id == "export" and ev.kind == "started" for ev in seen)
    assert not (tmp_path / "never.wav").exists()
    # the model is fine afterwards: the same graph runs to the end
    out, _ = run_graph(g)
    assert out.frames > 0


# ---------------------------------------------------------------------------------------- cuda:N, device lists
def test_cuda_n_is_accepted_and_refused_in_one_line_when_absent(tiny, tmp_path, capsys):
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=0.2)
    fileformat.save(g, tmp_path / "g.msgpack")
    code = cli.main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out"), "--device", "cuda:1"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 1
    assert len(errors) == 1 and "device='cuda:1': CUDA is not available on this machine" in errors[0]
    assert cli.main(["validate", str(tmp_path / "g.msgpack"), "--device", "cuda:1"]) == 1
    assert "node 'model' (models.musicgen): device='cuda:1': CUDA is not available" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:                 # a misspelt device: argparse's one line, exit 2
        cli.main(["run", str(tmp_path / "g.msgpack"), "--device", "cuda:x"])
    assert e.value.code == 2
    assert "'cuda:x' is not a device; expected auto, cpu, cuda, cuda:N or mps" in capsys.readouterr().err
    assert cli.main(["run", str(tmp_path / "g.msgpack"), "--device", "cpu,cpu", "-q", "-o", str(tmp_path / "o2")]) == 1
    err = "".join(line for line in capsys.readouterr().err.splitlines(keepends=True)
                  if not line.startswith("reads outside its folder: "))      # said with -q too (the checkpoint)
    assert err == ("error: --device cpu,cpu: a device list is for sweeps (--sweep NODE.PARAM=...); a single run "
                   "takes one device, e.g. --device cuda:0\n")
    with pytest.raises(SystemExit):
        cli.main(["rerun", str(tmp_path / "m.json"), "1", "--device", "cpu,cpu"])   # rerun takes one device
    assert "one device here (a list is for sweeps)" in capsys.readouterr().err


@pytest.mark.parametrize("text,want", [("cpu", ["cpu"]), ("", ["auto"]), (" CUDA:0 , cuda:1", ["cuda:0", "cuda:1"]),
                                       ("cuda,mps", ["cuda", "mps"])])
def test_device_lists_parse(text, want):
    assert devices.parse_device_list(text) == want


@pytest.mark.parametrize("text,words", [("gpu", "'gpu' is not a device"), ("cpu:1", "'cpu:1' is not a device"),
                                        ("cuda:", "'cuda:' is not a device"), ("auto,cpu", "'auto' cannot be part")])
def test_bad_device_lists_name_the_item(text, words):
    with pytest.raises(ParameterError, match=words):
        devices.parse_device_list(text)


def test_assign_devices_round_robin_by_variant_index():
    from nodeflow.sweep import Variant, assign_devices
    vs = [Variant(i, ()) for i in range(5)]
    assert assign_devices(vs, "cuda:0,cuda:1") == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert assign_devices(vs, ["cpu", "cpu"]) == ["cpu"] * 5
    assert assign_devices(vs, "auto") == ["auto"] * 5            # one device serves every variant
    assert assign_devices(vs[3:], "a" and "cuda:0,cuda:1,cuda:2") == ["cuda:0", "cuda:1"]   # by index, not position


def test_a_sweep_deals_its_device_list_to_variants(tmp_path, monkeypatch, capsys):
    """`run --sweep ... --device cuda:0,cuda:1` on a (pretend) two-GPU machine: variants alternate
    devices; `--device cpu,cpu` runs here for real; Ray refuses a list in one line."""
    import soundfile as sf
    import torch

    from nodeflow import Graph
    from nodeflow.executor import Executor
    sf.write(str(tmp_path / "in.wav"), np.zeros((4800, 1), np.float32), 48000)
    g = Graph()
    src = g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    gain = g.add("dsp.gain", id="gain")
    g.connect(src.out, gain.audio)
    fileformat.save(g, tmp_path / "g.msgpack")
    used: list[str] = []
    real_run = Executor.run

    def spy(self, graph, *a, **kw):     # variants run at once: which starts first is the scheduler's
        used.append((graph.nodes["gain"].params["gain_db"], kw.get("device", "auto")))
        return real_run(self, graph, *a, **kw)

    monkeypatch.setattr(Executor, "run", spy)
    base = ["run", str(tmp_path / "g.msgpack"), "--sweep", "gain.gain_db=-6,-3,0", "-q", "--no-cache"]
    assert cli.main(base + ["-o", str(tmp_path / "a"), "--device", "cpu,cpu"]) == 0
    assert sorted(used) == [(-6.0, "cpu"), (-3.0, "cpu"), (0.0, "cpu")]
    used.clear()
    monkeypatch.setattr(devices, "_cuda_ok", lambda: True)          # two GPUs, as far as validation can tell
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert cli.main(base + ["-o", str(tmp_path / "b"), "--device", "cuda:0,cuda:1"]) == 0
    assert sorted(used) == [(-6.0, "cuda:0"), (-3.0, "cuda:1"), (0.0, "cuda:0")]     # dealt by variant
    capsys.readouterr()
    assert cli.main(base + ["-o", str(tmp_path / "d"), "--device", "cpu,cpu", "--executor", "ray"]) == 1
    assert "a device list is dealt by the local executor" in capsys.readouterr().err
