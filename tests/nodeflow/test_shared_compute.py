"""Two processes on one value cache compute a model's value once: the first claims its key (a small
``.<key>.computing`` file beside the entry), the second waits for the entry instead of computing it
too, and says so.  A claim whose process is gone is taken over; a stopped run stops waiting."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from nodeflow import Cancelled, Executor, Graph, Registry
from nodeflow.claims import CLAIM_WRITE_S
from nodeflow.diskcache import DiskCache

ROOT = Path(__file__).resolve().parents[2]

NODES = textwrap.dedent('''
    import os, time
    import numpy as np
    from nodeflow import Audio, node

    @node("slow.take", persist=True)
    def take(*, seconds: float = 1.5) -> Audio:
        """A costly take: waits (until the file $RELEASE is there, where that is set), and notes each
        call in $CALLS."""
        with open(os.environ["CALLS"], "a") as f:
            f.write(f"{os.getpid()}\\n")
        t0 = time.monotonic()
        while os.environ.get("RELEASE") and not os.path.exists(os.environ["RELEASE"]) and time.monotonic() - t0 < 60:
            time.sleep(0.02)
        time.sleep(seconds)
        return Audio(np.full((1, 800), 0.25, np.float32), 8000)
    ''')

RUN = textwrap.dedent('''
    import sys
    sys.path[:0] = sys.argv[1:3]
    from nodeflow import Executor, Graph, Registry
    from slownodes import take
    reg = Registry()
    reg.add(take)
    g = Graph(reg)
    g.add("slow.take", id="t")
    said = []
    def heard(e):
        if e.message:
            said.append(e.message)
            print(e.message, file=sys.stderr, flush=True)       # as it happens: the test reads it
    res = Executor(disk_cache=sys.argv[3]).run(g, on_event=heard)
    print(float(res["t"]["out"].samples.max()), sorted(res.cached), said)
    ''')


@pytest.fixture
def world(tmp_path, monkeypatch):
    (tmp_path / "slownodes.py").write_text(NODES)
    monkeypatch.setenv("CALLS", str(tmp_path / "calls"))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _graph() -> Graph:
    import importlib

    import slownodes
    importlib.reload(slownodes)
    reg = Registry()
    reg.add(slownodes.take)
    g = Graph(reg)
    g.add("slow.take", id="t")
    return g


def _held_by(pid: int, start: str | None = None, space: str | None = None) -> str:
    """A claim's text as process ``pid`` writes it (its start time and pid namespace and boot)."""
    from nodeflow.atomic import process_space, process_start
    return f"{pid}\n{process_start(pid) if start is None else start}\n{process_space() if space is None else space}"


def _calls(world: Path) -> list[str]:
    f = world / "calls"
    return f.read_text().split() if f.exists() else []


def test_two_processes_compute_a_value_once(world, monkeypatch):
    """The first computes until the second says it waits for it (ci75: with a fixed 1.5 s, the second,
    started on a loaded machine, found the value already made and never waited)."""
    monkeypatch.setenv("RELEASE", str(world / "release"))
    cmd = [sys.executable, "-c", RUN, str(world), str(ROOT), str(world / "values")]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not _calls(world) and time.monotonic() - t0 < 60:      # the first has started computing
        time.sleep(0.02)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(second.stderr.readline, "")), daemon=True)
    reader.start()
    while not any("waiting: process" in line for line in lines) and second.poll() is None \
            and time.monotonic() - t0 < 60:
        time.sleep(0.02)
    (world / "release").touch()
    out2 = second.stdout.read()
    second.wait(120)
    reader.join(10)
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + "".join(lines)
    second = subprocess.CompletedProcess(cmd, second.returncode, out2, "".join(lines))
    assert len(_calls(world)) == 1                                 # computed once, by the first
    assert out1.startswith("0.25 [] ")
    assert second.stdout.startswith("0.25 ['t'] ")
    assert f"waiting: process {first.pid} is computing the same value" in second.stdout
    assert "computed by another process meanwhile" in second.stdout
    assert not list((world / "values").rglob("*.computing"))       # claims end with the computing


def test_a_claim_left_by_a_process_that_is_gone_is_taken_over(world):
    g = _graph()
    dc = DiskCache(world / "values")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    g.set("t", "seconds", 0.0)
    key = Executor(disk_cache=dc).keys(g)["t"]
    claim = dc.path(key).with_name(f".{key}.computing")
    claim.parent.mkdir(parents=True)
    claim.write_text(_held_by(gone.pid, start="1"))                                # killed while computing (kill -9)
    res = Executor(disk_cache=dc).run(g)
    assert "t" in res.ran and not claim.exists()
    claim.write_text("")                                           # never got its pid, long ago
    old = time.time() - CLAIM_WRITE_S - 1
    os.utime(claim, (old, old))
    dc.clear()                                                     # audiochain cache clear
    assert not claim.exists()
    assert Executor(disk_cache=dc).run(g).ran == {"t"}
    claim.write_text("")                                           # being written now: held
    assert dc.holder(key) == -1 and claim.exists()


def test_a_run_waits_while_a_live_process_computes_then_stops_when_told(world):
    g = _graph()
    g.set("t", "seconds", 0.0)
    dc = DiskCache(world / "values")
    key = Executor(disk_cache=dc).keys(g)["t"]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.1)
        claim = dc.path(key).with_name(f".{key}.computing")
        claim.parent.mkdir(parents=True)
        claim.write_text(_held_by(other.pid))
        waiting = threading.Event()
        handle = Executor(disk_cache=dc).submit(
            g, on_event=lambda e: waiting.set() if e.message.startswith(f"waiting: process {other.pid}") else None)
        assert waiting.wait(30)
        time.sleep(0.3)
        assert not handle.done() and not _calls(world)             # waits; computes nothing
        handle.cancel()
        with pytest.raises(Cancelled):
            handle.result(10)
        # the other process ends without the value (it failed): a waiting run computes it itself, and
        # says why it computes after all (QA38: "it is kept for both", then it computed)
        said: list[str] = []
        handle = Executor(disk_cache=dc).submit(g, on_event=lambda e: said.append(e.message))
        time.sleep(0.3)
        other.kill()
        other.wait()
        assert handle.result(30).ran == {"t"} and len(_calls(world)) == 1
        assert f"process {other.pid} ended without keeping the value (it failed, was stopped, or the cache could " \
               "not hold it): computing it here" in said
        assert not any("kept for both" in m for m in said)
    finally:
        other.kill()
        other.wait()


def test_a_cache_that_keeps_nothing_makes_no_run_wait(world):
    """AUDIOCHAIN_CACHE_GB=0 keeps nothing: a run that waited for another's value would wait out the
    whole computation, find nothing, then compute it again (QA38: 10.8 s for a 6.4 s take)."""
    g = _graph()
    g.set("t", "seconds", 0.0)
    dc = DiskCache(world / "values", budget_bytes=0)
    key = Executor(disk_cache=dc).keys(g)["t"]
    claim = dc.path(key).with_name(f".{key}.computing")
    claim.parent.mkdir(parents=True)
    claim.write_text(_held_by(os.getpid()))                        # a live process computes it now
    said: list[str] = []
    assert Executor(disk_cache=dc).run(g, on_event=lambda e: said.append(e.message)).ran == {"t"}
    assert not any(m.startswith("waiting") for m in said) and claim.exists()


def test_a_cache_folder_that_cannot_hold_a_claim_computes_anyway(world):
    """A cache "folder" that is a file (or read-only): no claim, no entry, the value all the same."""
    g = _graph()
    g.set("t", "seconds", 0.0)
    (world / "values").write_text("not a folder")
    assert Executor(disk_cache=DiskCache(world / "values")).run(g).ran == {"t"}
    assert Executor(disk_cache=DiskCache(world / "values")).run(g).ran == {"t"}


def test_the_cli_says_what_a_run_waits_for():
    import io

    from nodeflow.cli import Progress
    from nodeflow.executor import Event
    out = io.StringIO()
    progress = Progress(out)
    progress(Event("progress", "musicgen", message="waiting: process 41 is computing the same value"))
    progress(Event("progress", "musicgen", done=1, total=4))          # steps: a bar on a terminal only
    assert out.getvalue() == "  musicgen: waiting: process 41 is computing the same value\n"


def test_a_claim_of_a_process_killed_but_not_reaped_is_taken_over(world):
    """A killed process whose parent has not waited for it (a zombie) still answers ``kill(pid, 0)``;
    its claim is stale all the same (QA: the other run waited while the zombie stayed)."""
    import signal
    g = _graph()
    g.set("t", "seconds", 0.0)
    dc = DiskCache(world / "values")
    key = Executor(disk_cache=dc).keys(g)["t"]
    zombie = subprocess.Popen(["sleep", "60"])
    try:
        claim = dc.path(key).with_name(f".{key}.computing")
        claim.parent.mkdir(parents=True)
        claim.write_text(_held_by(zombie.pid))
        os.kill(zombie.pid, signal.SIGKILL)
        time.sleep(0.3)                                            # not waited for: a zombie
        handle = Executor(disk_cache=dc).submit(g)
        assert handle.result(20).ran == {"t"} and not claim.exists()
    finally:
        zombie.wait()


def test_a_claim_of_a_stopped_process_is_not_waited_for(world):
    """A process stopped while it computes (Ctrl+Z in its terminal) may never go on: a run computes
    the value itself instead of waiting, and leaves the claim to it (it may be resumed)."""
    import signal
    g = _graph()
    g.set("t", "seconds", 0.0)
    dc = DiskCache(world / "values")
    key = Executor(disk_cache=dc).keys(g)["t"]
    stopped = subprocess.Popen(["sleep", "60"])
    try:
        os.kill(stopped.pid, signal.SIGSTOP)
        time.sleep(0.2)
        claim = dc.path(key).with_name(f".{key}.computing")
        claim.parent.mkdir(parents=True)
        claim.write_text(_held_by(stopped.pid))
        assert Executor(disk_cache=dc).submit(g).result(20).ran == {"t"}
        assert claim.read_text() == _held_by(stopped.pid)
    finally:
        stopped.kill()
        stopped.wait()


def test_a_claim_no_process_here_can_hold_is_never_waited_for(world):
    """QA38 (high): containers sharing a cache folder each run as pid 1; a container killed while it
    computed left a claim "1", and every later run waited on pid 1 (itself, or init) for good.  A
    claim names its process by pid, start time, pid namespace and boot: one from elsewhere is not
    waited for, one whose pid is now another process is removed, and so is one not in that form
    once it is older than a few seconds (or dated in the future), and `cache clear` removes them."""
    g = _graph()
    g.set("t", "seconds", 0.0)
    dc = DiskCache(world / "values")
    key = Executor(disk_cache=dc).keys(g)["t"]
    claim = dc.path(key).with_name(f".{key}.computing")
    cases = {"another container": _held_by(1, space="pid:[1]/another-boot"),
             "pid 1 here, not the holder": _held_by(1, start="999999999"),
             "an older claim, a pid alone": "1",
             "nothing, dated in the future": ""}
    def plant(why: str, text: str) -> None:
        claim.parent.mkdir(parents=True, exist_ok=True)
        claim.write_text(text)
        if why.startswith(("an older", "nothing")):
            t = time.time() + (600 if why.startswith("nothing") else -600)
            os.utime(claim, (t, t))

    for why, text in cases.items():
        plant(why, text)
        assert Executor(disk_cache=dc).submit(g).result(20).ran == {"t"}, why     # at once, no wait
        assert claim.exists() == (why == "another container"), why
        plant(why, text)
        dc.clear()                                                 # audiochain cache clear
        assert not claim.exists(), why
