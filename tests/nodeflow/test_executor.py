import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nodeflow import Audio, Cancelled, ChoiceEnum, ExecutionError, Executor, Graph, GraphError, node
from nodeflow.cache import MemoryCache, content_key, node_key
from tests.nodeflow.stubs import CALLS, registry


@pytest.fixture
def reg():
    CALLS.clear()
    return registry()


def chain(reg):
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("test.gain", id="gain", gain_db=-6.0)
    g.add("test.stats", id="stats")
    g.connect("tone", "gain")
    g.connect("gain", "stats")
    return g


def events_of(ev, kind):
    return {e.node_id for e in ev if e.kind == kind}


def test_run_outputs_and_multi_output_ports(reg):
    res = Executor().run(chain(reg))
    assert res["stats"]["peak"] == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-3)
    assert res["stats"]["rms"] == pytest.approx(0.5 * 10 ** (-6 / 20) / np.sqrt(2), rel=1e-2)


def test_second_run_is_all_cached_and_param_change_reruns_only_downstream(reg):
    g, ex = chain(reg), Executor()
    ev = []
    ex.run(g, on_event=ev.append)
    assert events_of(ev, "finished") == {"tone", "gain", "stats"}
    ev.clear()
    res = ex.run(g, on_event=ev.append)
    # the leaf comes from the cache, so nothing upstream of it is even looked up
    assert events_of(ev, "started") == set() and events_of(ev, "cached") == {"stats"}
    assert res.ran == set()
    ev.clear()
    ex.run(g, on_event=ev.append, keep="all")       # asked for every value: each comes from the cache
    assert events_of(ev, "cached") == {"tone", "gain", "stats"}
    g.set("gain", "gain_db", -12.0)
    ev.clear()
    res = ex.run(g, on_event=ev.append)
    assert res.ran == {"gain", "stats"} and res.cached == {"tone"}
    assert events_of(ev, "started") == {"gain", "stats"}
    assert CALLS["tone"] == 1 and CALLS["gain"] == 2


def test_target_computes_only_what_it_needs(reg):
    g = chain(reg)
    g.add("test.tone", id="other", freq_hz=1000.0)
    res = Executor().run(g, targets=["gain"])
    assert res.ran == {"tone", "gain"}
    assert set(res.outputs) == {"gain"}            # intermediates are released; keep= asks for them


def test_cached_target_needs_no_upstream(reg):
    g, ex = chain(reg), Executor()
    ex.run(g)
    CALLS.clear()
    res = ex.run(g, targets=["stats"])
    assert res.ran == set() and res.cached == {"stats"} and sum(CALLS.values()) == 0


def test_identical_nodes_share_cache_entries(reg):
    g = Graph(reg)
    g.add("test.tone", id="a")
    g.add("test.tone", id="b")
    g.add("test.mix", id="m")
    g.connect("a", "m.a")
    g.connect("b", "m.b")
    ex = Executor(max_workers=1)
    ex.run(g)
    assert CALLS["tone"] == 1
    CALLS.clear()
    g.add("test.tone", id="c")
    ex.run(g, targets=["c"])
    assert CALLS["tone"] == 0


def test_failure_names_node_keeps_cause_and_cache(reg):
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("test.fail", id="bad", message="kaputt")
    g.connect("tone", "bad")
    ex, ev = Executor(), []
    with pytest.raises(ExecutionError) as e:
        ex.run(g, on_event=ev.append)
    assert e.value.node_id == "bad" and "kaputt" in str(e.value) and "node 'bad'" in str(e.value)
    assert isinstance(e.value.__cause__, RuntimeError)
    assert events_of(ev, "failed") == {"bad"}
    res = ex.run(g, targets=["tone"])
    assert res.cached == {"tone"}  # computed before the failure, kept


def test_invalid_graph_fails_before_anything_runs(reg):
    g = Graph(reg)
    g.add("test.gain", id="g")
    g.add("test.tone", id="t")
    with pytest.raises(GraphError, match="required input 'audio'"):
        Executor().run(g)
    assert CALLS["tone"] == 0


def test_list_mapping_runs_node_per_item_and_gathers(reg):
    g = Graph(reg)
    g.add("test.tone", id="t", duration_s=1.0)
    g.add("test.split", id="s", parts=4)
    g.add("test.gain", id="g", gain_db=-6.0)
    g.add("test.join", id="j")
    g.connect("t", "s")
    g.connect("s", "g")
    g.connect("g", "j")
    ev = []
    res = Executor().run(g, on_event=ev.append, keep=["g", "t"])
    assert CALLS["gain"] == 4
    parts = res["g"]["out"]
    assert [p.index for p in parts] == [0, 1, 2, 3]
    joined = res["j"]["out"]
    direct = res["t"]["out"].samples * 10 ** (-6 / 20)
    np.testing.assert_allclose(joined.samples, direct, atol=1e-6)
    prog = [e for e in ev if e.kind == "progress" and e.node_id == "g"]
    assert [p.done for p in prog] == [1, 2, 3, 4] and prog[-1].total == 4


@pytest.mark.parametrize("workers", [1, 3])
def test_a_node_failing_on_a_list_item_says_which_item(reg, workers):
    """QA41: a mapped node's own exception (a RuntimeError, not AudioChain's) did not say which item
    failed, while ctx.warn said "item 5 of 10"."""
    g = Graph(reg)
    g.add("test.tone", id="t", duration_s=1.0)
    g.add("test.split", id="s", parts=4)
    g.add("test.fail", id="bad", message="would clip")
    g.connect("t", "s")
    g.connect("s", "bad")
    with pytest.raises(ExecutionError) as e:
        Executor(max_workers=workers).run(g)
    assert str(e.value) == "node 'bad': item 1 of 4: test.fail failed: RuntimeError: would clip"
    assert isinstance(e.value.__cause__, RuntimeError)


def test_single_item_wrapped_into_list_input(reg):
    g = Graph(reg)
    g.add("test.tone", id="t")
    g.add("test.join", id="j")
    g.connect("t", "j")
    res = Executor().run(g, keep="all")
    assert res["j"]["out"] == res["t"]["out"]


def test_cancel_stops_long_node_promptly(reg):
    g = Graph(reg)
    g.add("test.tone", id="t")
    g.add("test.slow", id="slow", steps=2000, step_s=0.005)
    g.connect("t", "slow")
    ex = Executor()
    started = threading.Event()
    h = ex.submit(g, on_event=lambda e: started.set() if e.kind == "progress" else None)
    assert started.wait(10)
    h.cancel()
    with pytest.raises(Cancelled):
        h.result(timeout=10)
    assert CALLS["slow"] == 1
    res = ex.run(g, targets=["t"])
    assert res.cached == {"t"}


def test_a_node_left_out_mid_run_takes_what_needs_it_and_the_rest_runs_on(reg):
    """RunHandle.skip (the editor deletes a node a run has still to do): a node not started is left
    out with the nodes after it; the running node and the other branch finish; a started node
    cannot be left out (cancel is the way to stop it)."""
    g = Graph(reg)
    g.add("test.tone", id="t")
    g.add("test.slow", id="slow", steps=40, step_s=0.01)
    g.add("test.gain", id="after")
    g.add("test.sink", id="out", name="after")
    g.add("test.gain", id="other")
    g.connect("t", "slow"); g.connect("slow", "after"); g.connect("after", "out"); g.connect("t", "other")
    started, events = threading.Event(), []

    def on_event(e):
        events.append(e)
        if e.kind == "progress" and e.node_id == "slow":
            started.set()
    h = Executor(max_workers=1).submit(g, on_event=on_event)
    assert started.wait(10)
    assert h.skip(["slow"]) is False                # running: only a cancel stops it
    assert h.skip(["after"]) is True
    res = h.result(timeout=10)
    assert {"t", "slow", "other"} <= res.ran and not {"after", "out"} & (res.ran | set(res.outputs))
    assert CALLS.get("sink", 0) == 0 and events_of(events, "skipped") == {"after"}


def test_progress_events_from_node(reg):
    g = Graph(reg)
    g.add("test.tone", id="t")
    g.add("test.slow", id="slow", steps=5, step_s=0.0)
    g.connect("t", "slow")
    ev = []
    Executor().run(g, on_event=ev.append)
    assert [e.done for e in ev if e.kind == "progress"] == [1, 2, 3, 4, 5]
    kinds = [e.kind for e in ev if e.node_id == "slow"]
    assert kinds[0] == "queued" and kinds[1] == "started" and kinds[-1] == "finished"


def test_independent_branches_run_concurrently(reg):
    g = Graph(reg)
    g.add("test.tone", id="t")
    for b in ("b1", "b2"):
        g.add("test.busy", id=b, seconds=0.4 if b == "b1" else 0.41)
        g.connect("t", b)
    spans = {}
    def on(e):
        if e.kind in ("started", "finished"):
            spans.setdefault(e.node_id, []).append(time.perf_counter())
    Executor(max_workers=2).run(g, on_event=on)
    (s1, e1), (s2, e2) = spans["b1"], spans["b2"]
    assert s2 < e1 and s1 < e2  # the two busy nodes overlapped in time


def test_side_effect_nodes_run_every_time(reg):
    g = chain(reg)
    g.add("test.sink", id="sink")
    g.connect("gain", "sink")
    ex = Executor()
    ex.run(g)
    res = ex.run(g)
    assert res.ran == {"sink"} and CALLS["sink"] == 2


def test_input_file_content_is_in_cache_key(reg, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("one")
    g = Graph(reg)
    g.add("test.read", id="r", path=str(f))
    ex = Executor()
    assert ex.run(g)["r"]["out"] == "one"
    assert ex.run(g).cached == {"r"}
    time.sleep(0.01)
    f.write_text("two")
    assert ex.run(g)["r"]["out"] == "two"


def test_relative_input_path_resolves_against_graph_folder(reg, tmp_path):
    (tmp_path / "in.txt").write_text("hello")
    g = Graph(reg)
    g.add("test.read", id="r", path="in.txt")
    g.path = tmp_path / "g.msgpack"
    assert Executor().run(g)["r"]["out"] == "hello"


def test_lru_byte_budget_evicts_oldest():
    c = MemoryCache(budget_bytes=10_000)
    a = np.zeros(1000, np.float32)  # 4 KB each
    c.put("a", a)
    c.put("b", a)
    assert c.get("a") is not None  # a is now most recent
    c.put("c", a)
    assert "b" not in c and "a" in c and "c" in c
    assert c.bytes_used <= 10_000
    assert not c.put("huge", np.zeros(10_000, np.float32))


def test_eviction_recomputes_transparently(reg):
    g = chain(reg)
    ex = Executor(cache=MemoryCache(budget_bytes=1))  # nothing fits
    ex.run(g)
    res = ex.run(g)
    assert res.ran == {"tone", "gain", "stats"}


# ---------------------------------------------------------------- concurrency, proven from event order
_rendezvous = threading.Barrier(2)


@node("test.rendezvous")
def _rendezvous_node(audio: Audio, *, name: str = "x") -> Audio:
    """Returns only once two of these are running at the same time (a sequential executor fails it)."""
    try:
        _rendezvous.wait(timeout=20)
    except threading.BrokenBarrierError:
        raise RuntimeError(f"{name}: the other branch never ran at the same time as this one") from None
    return audio


def test_two_independent_branches_overlap_from_event_order(reg):
    _rendezvous.reset()
    reg.add(_rendezvous_node)
    g = Graph(reg)
    g.add("test.tone", id="t")
    for b in ("left", "right"):
        g.add("test.rendezvous", id=b, name=b)
        g.connect("t", b)
        g.add("test.gain", id=f"{b}_gain", gain_db=-3.0)
        g.connect(b, f"{b}_gain")
    ev = []
    res = Executor(max_workers=2).run(g, on_event=ev.append)
    assert res.ran == {"t", "left", "right", "left_gain", "right_gain"}
    order = [(e.kind, e.node_id) for e in ev if e.kind in ("started", "finished")]
    first_finish = min(order.index(("finished", b)) for b in ("left", "right"))
    assert order.index(("started", "left")) < first_finish and order.index(("started", "right")) < first_finish
    # each branch's tail starts only after its own head finished
    for b in ("left", "right"):
        assert order.index(("finished", b)) < order.index(("started", f"{b}_gain"))


def test_one_worker_runs_branches_one_after_the_other(reg):
    g = Graph(reg)
    g.add("test.tone", id="t")
    for b in ("b1", "b2"):
        g.add("test.gain", id=b, gain_db=-1.0 if b == "b1" else -2.0)
        g.connect("t", b)
    ev = []
    Executor(max_workers=1).run(g, on_event=ev.append)
    spans = [(e.kind, e.node_id) for e in ev if e.kind in ("started", "finished") and e.node_id != "t"]
    assert spans[0][0] == "started" and spans[1] == ("finished", spans[0][1])   # no overlap with one worker


@pytest.mark.parametrize("workers", [1, 2])
def test_keep_going_runs_every_branch_a_failure_does_not_feed(reg, workers):
    """make -k: tone feeds a failing node (and a gain after it) and two other branches; with
    keep_going the other branches still run, whatever the order, and the failure is raised after."""
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("test.fail", id="bad", message="start beyond the clip")
    g.add("test.gain", id="after", gain_db=-1.0)
    for b in ("b1", "b2"):
        g.add("test.gain", id=b, gain_db=-2.0 if b == "b1" else -3.0)
        g.connect("tone", b)
    g.add("test.stats", id="stats")
    g.connect("tone", "bad")
    g.connect("bad", "after")
    g.connect("b2", "stats")
    ex, ev = Executor(max_workers=workers), []
    with pytest.raises(ExecutionError, match="start beyond the clip") as info:
        ex.run(g, on_event=ev.append, keep_going=True)
    assert info.value.node_id == "bad" and {"b1", "stats"} <= set(info.value.result.outputs)   # all that ran
    assert events_of(ev, "finished") == {"tone", "b1", "b2", "stats"}
    assert "after" not in events_of(ev, "started") | events_of(ev, "finished")
    assert ex.run(g, ["stats"]).cached == {"stats"}            # what ran is kept
    CALLS.clear()                                              # without keep_going the first failure stops it
    with pytest.raises(ExecutionError, match="start beyond the clip"):
        Executor(max_workers=1).run(g, on_event=ev.append)


# ---------------------------------------------------------------- cache keys
class _Colour(ChoiceEnum):
    RED = "red"
    BLUE = "blue"


@pytest.mark.parametrize("params, files, fingerprint, upstream", [
    ({}, {}, None, []),
    ({"gain_db": -6.0, "n": 3, "on": True, "name": "x", "none": None}, {}, None, [("audio", "k" * 40, "out")]),
    ({"colour": _Colour.BLUE, "path": Path("/tmp/a.wav"), "list": [1, _Colour.RED, (2.5, "y")],
      "nested": {"b": 1, "a": [None, {"z": _Colour.RED}]}}, {"path": "d" * 40},
     {"revision": "abc", "device": "cpu"}, [("b", "k2", "out"), ("a", "k1", "peak")]),
])
def test_node_key_is_the_documented_content_key(params, files, fingerprint, upstream):
    assert node_key("test.x", 2, params, files, fingerprint, upstream, "c0de") == \
        content_key("test.x", 2, params, files, fingerprint, upstream, "c0de")


def test_node_keys_follow_type_version_params_and_upstream(reg):
    g = chain(reg)
    ex = Executor()
    k1 = ex.keys(g)
    assert len(set(k1.values())) == 3
    g.set("gain", "gain_db", -7.0)
    k2 = ex.keys(g)
    assert k2["tone"] == k1["tone"] and k2["gain"] != k1["gain"] and k2["stats"] != k1["stats"]
    g.set("gain", "gain_db", -6.0)
    assert ex.keys(g) == k1                    # the same content gives the same keys again
    g2 = chain(reg)                            # a separate but equal graph shares them
    assert Executor().keys(g2) == k1


# ------------------------------------------------------------------ values released during the run
def _release_probe_registry():
    import gc
    import weakref
    from typing import Annotated

    from nodeflow import Range, Registry
    made: dict[str, weakref.ref] = {}
    alive_when: dict[str, bool] = {}

    @node("probe.source")
    def source() -> Audio:
        """A clip whose object the probe watches."""
        a = Audio(np.zeros((2, 4000), np.float32), 8000)
        made["source"] = weakref.ref(a)
        return a

    @node("probe.step")
    def step(audio: Audio, *, gain_db: Annotated[float, Range(-60.0, 24.0, unit="dB")] = 0.0) -> Audio:
        """A new clip each time; records whether the source clip is still alive."""
        gc.collect()
        alive_when[f"step{abs(gain_db):g}"] = made["source"]() is not None
        return audio.replace(audio.samples * 10 ** (gain_db / 20))

    reg = Registry()
    reg.add(source)
    reg.add(step)
    return reg, made, alive_when


def _probe_chain(reg, steps=4):
    g = Graph(reg)
    g.add("probe.source", id="src")
    prev = "src"
    for i in range(steps):
        g.add("probe.step", id=f"s{i}", gain_db=-float(i))
        g.connect(prev, f"s{i}")
        prev = f"s{i}"
    return g


def test_intermediate_value_is_freed_once_its_last_consumer_finished():
    reg, made, alive = _release_probe_registry()
    res = Executor(cache_bytes=0).run(_probe_chain(reg))       # a cache too small to hold anything
    # s0 takes the source; once s0 finished, nothing holds it while s1.. run
    assert alive == {"step0": True, "step1": False, "step2": False, "step3": False}
    assert set(res.outputs) == {"s3"}                           # the leaf: what the run was for


def test_kept_and_cached_values_stay_alive():
    reg, made, alive = _release_probe_registry()
    res = Executor(cache_bytes=0).run(_probe_chain(reg), keep=["src"])
    assert all(alive.values()) and res["src"]["out"] is made["source"]()
    reg, made, alive = _release_probe_registry()
    ex = Executor(disk_cache=None)                               # the cache holds its own reference
    ex.run(_probe_chain(reg))
    assert all(alive.values()) and made["source"]() is not None


def test_parallel_branches_release_a_value_after_its_last_consumer():
    reg, made, alive = _release_probe_registry()
    g = Graph(reg)
    g.add("probe.source", id="src")
    g.add("probe.step", id="a", gain_db=-1.0)
    g.add("probe.step", id="b", gain_db=-2.0)
    g.add("probe.step", id="c", gain_db=-3.0)
    g.connect("src", "a")
    g.connect("src", "b")
    g.connect("b", "c")
    res = Executor(cache_bytes=0, max_workers=1).run(g)
    assert alive["step1"] and alive["step2"] and not alive["step3"]
    assert set(res.outputs) == {"a", "c"}


def _hungry_registry():
    """A source and a node whose estimate declares 300 MiB of working buffers (what a master's limiter takes
    of a few minutes of audio), sleeping so that two running side by side overlap in time."""
    from nodeflow.costs import Shape
    from nodeflow.registry import Registry

    @node("test.src", estimate=lambda inputs, params: {"out": Shape(8000, 1, 8000)})
    def src() -> Audio:
        """One second of silence."""
        return Audio(np.zeros(8000, np.float32), 8000)

    @node("test.hungry", estimate=lambda inputs, params: {"out": Shape(8000, 1, 8000, work_bytes=300 << 20)})
    def hungry(audio: Audio, *, seconds: float = 0.4) -> Audio:
        """Holds 300 MiB of working buffers (by its estimate) for ``seconds``."""
        time.sleep(seconds)
        return audio

    r = Registry()
    r.load_pack("hungry", lambda reg: reg.add_all([src, hungry]), "1.0")
    return r


@pytest.mark.parametrize("limit_gb, together", [(0.5, False), (8.0, True)])
def test_branches_run_side_by_side_only_while_their_buffers_fit_the_memory_limit(limit_gb, together, monkeypatch):
    """The estimated peak counts one node's working buffers at a time, and the scheduler ran every ready branch
    at once: two masters side by side took 585 MB of a run estimated at 395 MiB under a limit of 0.42 GB.  A
    node now starts beside others only while its buffers fit what the limit leaves past the estimated peak:
    under 0.5 GB (the estimate: 300 MiB, one at a time) the two hungry branches run one after the other,
    under 8 GB side by side as before."""
    monkeypatch.setenv("AUDIOCHAIN_MAX_MEMORY_GB", str(limit_gb))
    g = Graph(_hungry_registry())
    g.add("test.src", id="s")
    for b, seconds in (("h1", 0.4), ("h2", 0.41)):
        g.add("test.hungry", id=b, seconds=seconds)
        g.connect("s", b)
    spans: dict[str, list[float]] = {}

    def on(e):
        if e.kind in ("started", "finished"):
            spans.setdefault(e.node_id, []).append(time.perf_counter())
    Executor(max_workers=2).run(g, on_event=on)
    overlapped = spans["h2"][0] < spans["h1"][1] and spans["h1"][0] < spans["h2"][1]
    assert overlapped == together, spans


@pytest.mark.parametrize("limit_gb, together", [(0.5, False), (8.0, True)])
def test_runs_on_one_executor_go_side_by_side_only_while_their_peaks_fit_the_memory_limit(
        limit_gb, together, monkeypatch, tmp_path):
    """Sweep variants run side by side on one executor, each within the limit alone: a sweep of two 3-minute
    masters, each estimated at 395 MiB, took 716 MB under a 0.42 GB limit.  A run now starts beside others
    only while their estimated peaks fit what the limit leaves past its own; else it waits its turn."""
    from nodeflow.sweep import Variant, run_sweep
    monkeypatch.setenv("AUDIOCHAIN_MAX_MEMORY_GB", str(limit_gb))
    g = Graph(_hungry_registry())
    g.add("test.src", id="s")
    g.add("test.hungry", id="h", seconds=0.4)
    g.connect("s", "h")
    spans: dict[float, list[float]] = {}

    def on(e):
        if e.node_id == "h" and e.kind in ("started", "finished"):
            spans.setdefault(threading.get_ident(), []).append(time.perf_counter())
    res = run_sweep(g, [Variant(0, (("h.seconds", 0.4),)), Variant(1, (("h.seconds", 0.41),))], tmp_path,
                    executor=Executor(max_workers=2, disk_cache=None), on_event=on, workers=2, check=False)
    assert [r.status for r in res] == ["ok", "ok"], [r.error for r in res]
    (s1, e1), (s2, e2) = sorted(spans.values())
    assert (s2 < e1 and s1 < e2) == together, spans
