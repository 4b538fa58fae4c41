"""Validation and planning are incremental: what depends only on the graph's content is derived
once per content version; what depends on the world (files, limits) is checked on every run; any
change to the content, through the API or directly on ``nodes``/``links``, is seen."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from nodeflow import Audio, Executor, Graph, GraphError, node
from nodeflow.graph import Link, NodeInstance
from tests.nodeflow.stubs import registry


@pytest.fixture
def reg():
    return registry()


def chain(reg, n: int = 5) -> Graph:
    g = Graph(reg)
    g.add("test.tone", id="n0")
    for i in range(1, n):
        g.add("test.gain", id=f"n{i}")
        g.connect(f"n{i - 1}", f"n{i}")
    return g


@pytest.fixture
def counted(monkeypatch):
    """How often the content-only validation and planning ran."""
    from nodeflow import planning
    calls = {"problems": 0, "structure": 0}
    static, of = Graph._static_problems, planning.Structure.of.__func__

    def counting_static(self, targets):
        calls["problems"] += 1
        return static(self, targets)

    def counting_of(cls, graph, targets):
        calls["structure"] += 1
        return of(cls, graph, targets)

    monkeypatch.setattr(Graph, "_static_problems", counting_static)
    monkeypatch.setattr(planning.Structure, "of", classmethod(counting_of))
    return calls


def test_unchanged_graph_is_validated_and_planned_once(reg, counted):
    g, ex = chain(reg), Executor(disk_cache=None)
    for _ in range(3):
        ex.run(g)
    assert counted == {"problems": 1, "structure": 1}
    g.set("n3", "gain_db", -3.0)                 # an edit through the API
    res = ex.run(g)
    assert counted == {"problems": 2, "structure": 2}
    assert res.ran == {"n3", "n4"}


def test_direct_parameter_change_is_seen(reg, counted):
    g, ex = chain(reg), Executor(disk_cache=None)
    ex.run(g)
    g.nodes["n2"].params["gain_db"] = 99.0      # as a hand-edited file or a script could hold it
    with pytest.raises(GraphError, match=r"n2.*gain_db=99 is out of range"):
        ex.run(g)
    g.nodes["n2"].params["gain_db"] = -1.0
    res = ex.run(g)
    assert res.ran == {"n2", "n3", "n4"}


def test_direct_link_and_node_changes_are_seen(reg):
    g, ex = chain(reg), Executor(disk_cache=None)
    assert g.problems() == []
    g.links.append(Link("n4", "out", "n1", "audio"))     # a cycle (and a second link into n1.audio)
    problems = g.problems()
    assert any(p.startswith("cycle: ") for p in problems)
    assert any("more than one link" in p for p in problems)
    g.links.pop()
    assert g.problems() == []
    g.nodes["ghost"] = NodeInstance("ghost", "fx.reverb", {})
    assert any("unknown node type 'fx.reverb'" in p for p in g.problems())
    del g.nodes["ghost"]
    g.links = [l for l in g.links if l.dst != "n4"]        # n4's required input unlinked
    assert any("'n4'" in p and "required input 'audio'" in p for p in g.problems())
    with pytest.raises(GraphError):
        ex.run(g)


def test_registry_change_is_seen(reg):
    g = Graph(reg)
    g.nodes["later"] = NodeInstance("later", "test.later", {})
    assert any("unknown node type 'test.later'" in p for p in g.problems())
    from nodeflow import node

    @node("test.later")
    def later() -> float:
        return 1.0

    reg.add(later)
    assert g.problems() == []


def test_metadata_change_is_seen(reg):
    g = chain(reg, 2)
    v = g.content_version()
    assert g.content_version() == v
    g.metadata["sample_rate"] = 44100
    assert g.content_version() == v + 1


def test_world_is_checked_on_every_run(reg, tmp_path, counted):
    """Files appear and disappear between runs of an unchanged graph: each run sees it."""
    g = Graph(reg)
    g.add("test.read", id="r", path="in.txt")
    ex = Executor(disk_cache=None)
    with pytest.raises(GraphError, match="not found"):
        ex.run(g, base_dir=tmp_path)
    (tmp_path / "in.txt").write_text("one")
    assert ex.run(g, base_dir=tmp_path)["r"]["out"] == "one"
    (tmp_path / "in.txt").write_text("two, longer")        # new content: a new key, a new result
    os.utime(tmp_path / "in.txt", ns=(1, 1))
    assert ex.run(g, base_dir=tmp_path)["r"]["out"] == "two, longer"
    (tmp_path / "in.txt").unlink()
    with pytest.raises(GraphError, match="not found"):
        ex.run(g, base_dir=tmp_path)
    assert counted["problems"] == 1                       # the content never changed


def test_a_file_rewritten_at_the_same_length_and_time_is_read_again(reg, tmp_path):
    """A take bounced again at the same length within a file system's timestamp step (or with its
    modification time put back) gave the old result from an Executor kept open: only path, size and
    modification time named the content."""
    g = Graph(reg)
    g.add("test.read", id="r", path="in.txt")
    ex = Executor(disk_cache=None)
    f = tmp_path / "in.txt"
    f.write_text("take one")
    os.utime(f, ns=(10**18, 10**18))
    assert ex.run(g, base_dir=tmp_path)["r"]["out"] == "take one"
    f.write_text("take two")                              # same size
    os.utime(f, ns=(10**18, 10**18))                      # same modification time
    assert ex.run(g, base_dir=tmp_path)["r"]["out"] == "take two"


def test_limits_and_file_headers_are_read_on_every_run(tmp_path, monkeypatch):
    """The cost estimate is remembered per content and input file state; the limits are read each time."""
    import numpy as np
    import soundfile as sf
    monkeypatch.delenv("AUDIOCHAIN_MAX_MEMORY_GB", raising=False)
    sf.write(tmp_path / "in.wav", np.zeros((4800, 2), np.float32), 48000)
    g = Graph()
    g.add("io.load", id="load", path="in.wav")
    g.add("dsp.gain", id="gain")
    g.connect("load", "gain")
    assert g.problems(base_dir=tmp_path) == []
    monkeypatch.setenv("AUDIOCHAIN_MAX_MEMORY_GB", "0.001")      # 1 MiB: the 0.1 s clip fits
    assert g.problems(base_dir=tmp_path) == []
    sf.write(tmp_path / "in.wav", np.zeros((48000 * 60, 2), np.float32), 48000)   # the file grew
    assert any("memory" in p for p in g.problems(base_dir=tmp_path))
    monkeypatch.setenv("AUDIOCHAIN_MAX_MEMORY_GB", "8")
    assert g.problems(base_dir=tmp_path) == []


def test_keys_follow_model_fingerprints(reg):
    """A fingerprint (a checkpoint's revision) is asked on every run: a new one re-keys the node."""
    from nodeflow import node
    revision = {"v": "a"}

    @node("test.fp_model", fingerprint=lambda params, ctx: revision["v"])
    def fp_model(*, x: float = 1.0) -> float:
        return x

    reg.add(fp_model)
    g = Graph(reg)
    g.add("test.fp_model", id="m")
    ex = Executor(disk_cache=None)
    first = ex.keys(g)["m"]
    assert ex.run(g).ran == {"m"}
    assert ex.run(g).cached == {"m"}
    revision["v"] = "b"
    assert ex.keys(g)["m"] != first
    assert ex.run(g).ran == {"m"}


def test_result_keys_are_the_runs_own(reg):
    g, ex = chain(reg, 3), Executor(disk_cache=None)
    res = ex.run(g)
    res.cache_keys["n0"] = "tampered"
    assert ex.run(g).cache_keys["n0"] != "tampered"


def test_an_edit_made_while_a_run_goes_on_waits_for_the_next_run(reg, tmp_path):
    """QA: a parameter set from another thread during a run was computed by that run and stored
    under the key planned for the old value; every later run with the old value (other processes
    too, through the disk cache) got the edited audio."""
    started, go = threading.Event(), threading.Event()

    @node("test.paused_gain")
    def paused_gain(audio: Audio, *, factor: float = 1.0) -> Audio:
        """Waits for the test, then scales."""
        started.set()
        go.wait(10)
        return audio.replace(samples=audio.samples * factor)

    g = Graph(reg)
    g.add("test.tone", id="n0")
    g.add(paused_gain, id="p", factor=0.5)
    g.add("test.gain", id="q", gain_db=0.0)
    g.connect("n0", "p")
    g.connect("p", "q")
    ex = Executor(disk_cache=None)
    got: dict = {}
    t = threading.Thread(target=lambda: got.setdefault("res", ex.run(g)))
    t.start()
    assert started.wait(10)
    g.set("q", "gain_db", -12.0)                 # while p, before q, runs
    go.set()
    t.join(10)
    peak = lambda res: float(np.abs(res["q"]["out"].samples).max())     # noqa: E731
    assert peak(got["res"]) == pytest.approx(0.25)           # the run used what it planned with
    res = ex.run(g)
    assert res.ran == {"q"} and peak(res) == pytest.approx(0.25 * 10 ** (-12 / 20))
    g.set("q", "gain_db", 0.0)
    res = ex.run(g)
    assert res.cached >= {"q"} and peak(res) == pytest.approx(0.25)
