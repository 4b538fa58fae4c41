"""Every core: list items run concurrently up to the executor's worker limit, concurrent runs on one
executor compute shared work once, and local sweeps run variants concurrently.  No wall-clock
asserts: overlap is proven with barriers, sharing with call counts."""
from __future__ import annotations

import threading
from typing import Annotated

import numpy as np
import pytest

from nodeflow import Audio, Cancelled, ExecutionError, Executor, Graph, Range, Registry, node
from nodeflow.sweep import expand, parse_axis, run_sweep
from tests.nodeflow.stubs import ALL, CALLS

_gate: dict[str, object] = {}


@node("conc.meet")
def meet(audio: Audio, *, fail_at: Annotated[int, Range(-1, 100)] = -1) -> Audio:
    """Waits until another item is running too (a barrier of 2), then returns the item."""
    if audio.index == fail_at:
        raise ValueError(f"item {audio.index} is broken")
    barrier = _gate.get("barrier")
    if barrier is not None:
        barrier.wait(timeout=20)
    return audio.replace(audio.samples * 2.0)


@node("conc.shared")
def shared(audio: Audio, *, tag: str = "") -> Audio:
    """The expensive upstream node: holds until released, counts its calls."""
    CALLS["shared"] += 1
    started = _gate.get("started")
    if started is not None:
        started.set()
    release = _gate.get("release")
    if release is not None:
        release.wait(timeout=20)
    return audio


@pytest.fixture
def reg():
    CALLS.clear()
    _gate.clear()
    r = Registry()
    r.load_pack("stubs", lambda reg: reg.add_all([*ALL, meet, shared]), "1.0")
    return r


def mapped_graph(reg, parts: int = 4, **meet_params) -> Graph:
    g = Graph(reg)
    g.add("test.tone", id="tone", duration_s=1.0)
    g.add("test.split", id="split", parts=parts)
    g.add("conc.meet", id="meet", **meet_params)
    g.add("test.join", id="join")
    g.connect("tone", "split")
    g.connect("split", "meet")
    g.connect("meet", "join")
    return g


def test_list_items_run_concurrently_and_keep_their_order(reg):
    _gate["barrier"] = threading.Barrier(2)       # a sequential map would time out here
    g = mapped_graph(reg)
    events = []
    res = Executor(max_workers=2, disk_cache=None).run(g, on_event=lambda e: events.append(e))
    tone = Executor(disk_cache=None).run(g, ["tone"])["tone"]["out"]
    n = tone.frames // 4
    np.testing.assert_allclose(res["join"]["out"].samples, tone.samples[:, :4 * n] * 2.0)
    progress = [(e.done, e.total) for e in events if e.kind == "progress" and e.node_id == "meet"]
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_one_worker_maps_items_one_by_one(reg):
    g = mapped_graph(reg)
    res = Executor(max_workers=1, disk_cache=None).run(g)
    assert res["join"]["out"].frames == 8000


def test_a_failing_item_fails_the_node_and_names_it(reg):
    g = mapped_graph(reg, parts=6, fail_at=3)
    with pytest.raises(ExecutionError) as e:
        Executor(max_workers=2, disk_cache=None).run(g)
    assert "'meet'" in str(e.value) and "item 3 is broken" in str(e.value)


def test_concurrent_runs_compute_shared_work_once(reg):
    """Two runs on one executor (two sweep variants, an editor run) need the same upstream value at
    the same time: it is computed once, the other run takes it and reports it cached."""
    _gate["started"], _gate["release"] = threading.Event(), threading.Event()
    ex = Executor(disk_cache=None)
    graphs = []
    for gain_db in (-3.0, -6.0):
        g = Graph(reg)
        g.add("test.tone", id="tone")
        g.add("conc.shared", id="shared")
        g.add("test.gain", id="gain", gain_db=gain_db)
        g.connect("tone", "shared")
        g.connect("shared", "gain")
        graphs.append(g)
    results = {}
    first = threading.Thread(target=lambda: results.__setitem__(0, ex.run(graphs[0])))
    first.start()
    assert _gate["started"].wait(20)               # run 0 is computing the shared node now
    second = threading.Thread(target=lambda: results.__setitem__(1, ex.run(graphs[1])))
    second.start()
    second.join(0.3)                               # run 1 is waiting for run 0's value, not computing it
    _gate["release"].set()
    first.join(20)
    second.join(20)
    assert CALLS["shared"] == 1
    assert "shared" in results[0].ran and "shared" in results[1].cached
    assert results[1]["gain"]["out"].frames == results[0]["gain"]["out"].frames


def test_a_waiting_run_can_be_stopped(reg):
    _gate["started"], _gate["release"] = threading.Event(), threading.Event()
    ex = Executor(disk_cache=None)
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("conc.shared", id="shared")
    g.connect("tone", "shared")
    first = ex.submit(g)
    assert _gate["started"].wait(20)
    stop = threading.Event()
    second = ex.submit(g.copy(), cancel_event=stop)
    stop.set()
    with pytest.raises(Cancelled):
        second.result(20)
    _gate["release"].set()
    assert "shared" in first.result(20).ran


def test_local_sweep_runs_variants_concurrently(reg, tmp_path):
    """Variants overlap (a barrier of 2 inside each), results come back in variant order."""
    _gate["barrier"] = threading.Barrier(2)
    g = mapped_graph(reg, parts=1)
    variants = expand([parse_axis("tone.freq_hz=110,220,330,440", g)])
    results = run_sweep(g, variants, tmp_path / "sweep", executor=Executor(disk_cache=None), workers=2)
    assert [r.status for r in results] == ["ok"] * 4, [r.error for r in results]
    assert [r.variant.index for r in results] == [0, 1, 2, 3]


def test_cli_sweep_with_jobs_and_no_cache(tmp_path, monkeypatch, capsys):
    """`run --sweep ... --jobs 2` renders every variant (rows in order); --no-cache now holds for
    sweeps too (it was ignored there): nothing is written to the disk cache."""
    import json
    import os

    import soundfile as sf

    from nodeflow import save
    from nodeflow.cli import main
    values = tmp_path / "values"
    monkeypatch.setenv("AUDIOCHAIN_CACHE_DIR", str(values))
    monkeypatch.setenv("AUDIOCHAIN_CACHE_MIN_S", "0")          # keep every value, however cheap
    rate = 44100
    t = np.arange(rate) / rate
    sf.write(tmp_path / "in.wav", 0.3 * np.sin(2 * np.pi * 220 * t), rate, subtype="FLOAT")
    g = Graph()
    g.path = tmp_path / "g.msgpack"
    g.add("io.load", id="load", path="in.wav")
    g.add("dsp.gain", id="gain")
    g.add("io.export", id="export", path="take.wav", bit_depth="float32", loudness_lufs=None)
    g.add("io.export", id="copy", path="copy.flac", format="flac", loudness_lufs=None)
    g.connect("load", "gain")
    g.connect("gain", "export")
    g.connect("gain", "copy")        # two consumers: the gain's value is made whole (not streamed), so cacheable
    save(g, tmp_path / "g.msgpack")
    out = tmp_path / "out"
    rc = main(["run", str(tmp_path / "g.msgpack"), "-o", str(out), "--sweep", "gain.gain_db=-12,-6,0",
               "--jobs", "2", "--no-cache", "-q"])
    assert rc == 0, capsys.readouterr().err
    rows = json.loads((out / "manifest.json").read_text())["variants"]
    assert [r["index"] for r in rows] == [0, 1, 2] and {r["status"] for r in rows} == {"ok"}
    peaks = [float(np.abs(sf.read(out / r["name"] / "take.wav")[0]).max()) for r in rows]
    assert peaks == pytest.approx([0.3 * 10 ** (-12 / 20), 0.3 * 10 ** (-6 / 20), 0.3], rel=1e-5)
    def entries() -> int:
        return sum(1 for p in values.rglob("*") if p.is_file() and p.suffix != ".lock") if values.exists() else 0

    assert entries() == 0
    assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "cached"), "--sweep", "gain.gain_db=-3",
                 "-q"]) == 0
    assert entries() > 0                                          # without --no-cache the sweep stores values
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path / "g.msgpack"), "--jobs", "0"])
    assert "--jobs '0': expected a whole number of at least 1" in capsys.readouterr().err


# ----------------------------------------------------------------------------- nodes in worker processes
@pytest.fixture
def preg():
    from tests.nodeflow import process_nodes
    r = Registry()
    r.load_pack("stubs", lambda reg: reg.add_all([*ALL, *process_nodes.ALL]), "1.0")
    return r


def test_a_process_node_runs_in_a_worker_with_its_events(preg):
    import os
    g = Graph(preg)
    g.add("test.tone", id="tone")
    g.add("proc.spin", id="spin", steps=4)
    g.connect("tone", "spin")
    events = []
    res = Executor(disk_cache=None).run(g, on_event=events.append)
    out = res["spin"]["out"]
    assert dict(out.info)["pid"] != str(os.getpid())
    tone = Executor(disk_cache=None).run(g, ["tone"])["tone"]["out"]
    np.testing.assert_array_equal(out.samples, tone.samples * 2.0)
    kinds = [(e.kind, e.done, e.total) for e in events if e.node_id == "spin"]
    assert [k[0] for k in kinds if k[0] != "progress"] == ["queued", "started", "finished"]
    assert [k[1:] for k in kinds if k[0] == "progress"] == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_process_that_used_a_worker_exits_with_nothing_left_open():
    """QA47: the idle worker's pipes were never closed: with warnings on (``-W always``, pytest's
    default) the interpreter said ``ResourceWarning: unclosed file`` twice as it exited."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("from nodeflow import Executor, Graph, Registry\n"
            "from tests.nodeflow.stubs import ALL\n"
            "from tests.nodeflow import process_nodes\n"
            "r = Registry(); r.load_pack('stubs', lambda reg: reg.add_all([*ALL, *process_nodes.ALL]), '1.0')\n"
            "g = Graph(r); g.add('test.tone', id='tone'); g.add('proc.spin', id='spin'); g.connect('tone', 'spin')\n"
            "print(Executor(disk_cache=None).run(g)['spin']['out'].frames)\n")
    p = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[2])
    assert p.returncode == 0 and int(p.stdout) > 0, p.stderr
    assert "ResourceWarning" not in p.stderr, p.stderr


def test_branches_of_process_nodes_run_at_the_same_time(preg, tmp_path):
    """Two GIL-holding branches, each waiting for the other to arrive: only separate processes
    running at once can finish."""
    g = Graph(preg)
    g.add("test.tone", id="tone")
    for me in ("a", "b"):
        g.add("proc.spin", id=f"spin_{me}", meet=str(tmp_path), me=me)
        g.connect("tone", f"spin_{me}")
    res = Executor(max_workers=2, disk_cache=None).run(g)
    assert dict(res["spin_a"]["out"].info)["pid"] != dict(res["spin_b"]["out"].info)["pid"]


def test_mapped_items_of_a_process_node_keep_item_progress(preg):
    g = Graph(preg)
    g.add("test.tone", id="tone")
    g.add("test.split", id="split", parts=2)
    g.add("proc.spin", id="spin", steps=2)
    g.add("test.join", id="join")
    for a, b in [("tone", "split"), ("split", "spin"), ("spin", "join")]:
        g.connect(a, b)
    events = []
    Executor(max_workers=1, disk_cache=None).run(g, on_event=events.append)
    progress = [(e.done, e.total) for e in events if e.kind == "progress" and e.node_id == "spin"]
    assert sorted(set(progress)) == [(0.5, 2), (1.0, 2), (1.5, 2), (2.0, 2)]   # each item's half, in the list
    fractions = [d / t for d, t in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_the_progress_of_items_running_side_by_side_only_goes_forward(preg):
    """QA: four items each reporting 20 steps at once went back 17 times (0.85 -> 0.6): items were
    scaled to ``i * total + done``.  Now the list's progress is the sum of its items' fractions."""
    g = Graph(preg)
    g.add("test.tone", id="tone", duration_s=0.5)
    g.add("test.split", id="split", parts=4)
    g.add("test.slow", id="slow", steps=20, step_s=0.002)
    g.add("test.join", id="join")
    for a, b in [("tone", "split"), ("split", "slow"), ("slow", "join")]:
        g.connect(a, b)
    events = []
    Executor(max_workers=4, disk_cache=None).run(g, on_event=events.append)
    fractions = [e.done / e.total for e in events if e.kind == "progress" and e.node_id == "slow"]
    assert len(fractions) >= 80 and fractions == sorted(fractions) and fractions[-1] == 1.0


def test_an_error_in_a_worker_names_the_node(preg):
    g = Graph(preg)
    g.add("test.tone", id="tone")
    g.add("proc.boom", id="boom", message="the take clipped")
    g.connect("tone", "boom")
    with pytest.raises(ExecutionError) as e:
        Executor(disk_cache=None).run(g)
    assert "'boom'" in str(e.value) and "ValueError: the take clipped" in str(e.value)
    assert isinstance(e.value.__cause__, ValueError)


def test_stop_ends_a_worker_that_never_returns(preg, tmp_path):
    import os
    import time
    g = Graph(preg)
    g.add("test.tone", id="tone")
    g.add("proc.hang", id="hang", pidfile=str(tmp_path / "pid"))
    g.connect("tone", "hang")
    handle = Executor(disk_cache=None).submit(g)
    deadline = time.monotonic() + 30
    while not (tmp_path / "pid").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    pid = int((tmp_path / "pid").read_text())
    handle.cancel()
    with pytest.raises(Cancelled):
        handle.result(30)
    for _ in range(500):                 # the worker was killed (and reaped), not left spinning
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"worker {pid} still runs after Stop")


def test_process_nodes_cannot_be_exports():
    from nodeflow import DefinitionError

    with pytest.raises(DefinitionError, match="process=True is for computing nodes"):
        @node("proc.bad_sink", process=True, side_effect=True)
        def bad_sink(audio: Audio) -> str:
            return ""


def test_a_node_decides_per_call_whether_to_use_a_worker(preg):
    import os
    for far in (False, True):
        g = Graph(preg)
        g.add("test.tone", id="tone")
        g.add("proc.maybe", id="m", far=far)
        g.connect("tone", "m")
        pid = dict(Executor(disk_cache=None).run(g)["m"]["out"].info)["pid"]
        assert (pid != str(os.getpid())) is far


def test_short_variation_clips_stay_in_process_long_ones_use_a_worker():
    from nodes.dsp.variation import INLINE_SAMPLES, _in_worker
    from nodeflow import Audio
    short = Audio(np.zeros((2, INLINE_SAMPLES // 4), np.float32), 44100)
    long = Audio(np.zeros((2, INLINE_SAMPLES), np.float32), 44100)
    assert not _in_worker({"audio": short}, {"stretch_ratio": 1.0})
    assert _in_worker({"audio": short}, {"stretch_ratio": 4.0})       # the output is what Rubber Band makes
    assert _in_worker({"audio": long}, {"stretch_ratio": 1.0})


def test_stop_ends_a_worker_call_while_its_argument_waits_for_the_worker_to_read_it(monkeypatch):
    """A large argument fills the pipe until the worker reads it, and a fresh worker reads only once its
    imports are done: seconds on a busy machine.  The call was sent on the caller's thread, so Stop was
    not seen until then (ci142: detect_tempo stopped in 1.02 s with the machine loaded; bound 1 s).
    Here the worker starts 5 s late: Stop, asked 0.2 s in, ends the call long before."""
    import os
    import subprocess
    import sys
    import time

    from nodeflow import worker
    from nodeflow.errors import Cancelled
    late = [sys.executable, "-c", "import time, runpy; time.sleep(5); runpy.run_module('nodeflow.worker', "
            "run_name='__main__')"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    started: list[subprocess.Popen[bytes]] = []
    monkeypatch.setattr(worker, "_idle", [])
    monkeypatch.setattr(worker, "_start", lambda: started.append(subprocess.Popen(
        late, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)) or started[-1])
    asked = time.monotonic() + 0.2

    def check() -> None:
        if time.monotonic() > asked:
            raise Cancelled("stopped")
    with pytest.raises(Cancelled):
        worker.call_in_worker(len, (np.zeros(4_000_000),), check=check)     # 32 MB: far more than a pipe holds
    assert time.monotonic() - asked < 2.5, "Stop waited for the worker to read its argument"
    assert started and started[0].poll() is not None, "the worker was ended"
