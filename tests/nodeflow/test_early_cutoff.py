"""Early cutoff: a costly node (a model, or one declared ``persist=True``) whose inputs are the same
values as in an earlier run is taken from the cache, even though an edit upstream changed their keys
(QA35 D9: a template variable the prompt does not use, or whitespace the prompt node collapses, made
MusicGen generate again).  Its inputs are digested by content (:func:`nodeflow.values.value_digest`),
and the cache notes which outputs each set of input values gave, in memory and on disk."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nodeflow import Audio, Context, Executor, Graph, Registry, node
from nodeflow.audio import StreamedAudio
from nodeflow.diskcache import DiskCache
from nodeflow.planning import by_value_nodes, structure
from nodeflow.values import value_digest

CALLS: dict[str, int] = {}


@node("t.prompt", category="text")
def prompt(*, template: str = "{genre} groove", genre: str = "dub", unused: str = "") -> str:
    """A prompt from a template: whitespace collapsed, ``unused`` never read."""
    return " ".join(template.format(genre=genre).split())


@node("t.model", category="models")
def model(text: str, *, seconds: float = 0.5, wait_s: float = 0.0, until: str = "", ctx: Context) -> Audio:
    """A costly stand-in for a model: a tone whose pitch follows the text; counts its calls (``until``: it
    computes until that file is there, for ``wait_s`` at most)."""
    CALLS["model"] = CALLS.get("model", 0) + 1
    end = time.monotonic() + wait_s
    while time.monotonic() < end and not (until and os.path.exists(until)):
        time.sleep(0.02)
    if "quiet" in text:
        ctx.warn("asked for a quiet take")
    rate = 8000
    t = np.arange(int(seconds * rate)) / rate
    f = 100.0 + 10.0 * (sum(map(ord, text)) % 50)
    return Audio(np.sin(2 * np.pi * f * t)[None].astype(np.float32), rate)


@node("t.gain")
def gain(audio: Audio, *, db: float = 0.0) -> Audio:
    """A cheap node: counts its calls."""
    CALLS["gain"] = CALLS.get("gain", 0) + 1
    return Audio(audio.samples * np.float32(10 ** (db / 20)), audio.sample_rate)


@dataclasses.dataclass
class Opaque:
    """A value of a type the digest does not know."""
    x: int


@node("t.opaque")
def opaque(*, x: int = 1) -> Opaque:
    """A value of an unknown type."""
    return Opaque(x)


@node("t.from_opaque", category="models")
def from_opaque(v: Opaque) -> Audio:
    """A model fed a value of an unknown type."""
    CALLS["from_opaque"] = CALLS.get("from_opaque", 0) + 1
    return Audio(np.zeros((1, 8), np.float32), 8000)


@pytest.fixture
def reg() -> Registry:
    CALLS.clear()
    r = Registry()
    for spec in (prompt, model, gain, opaque, from_opaque):
        r.add(spec)
    return r


def song(reg: Registry, **prompt_params) -> Graph:
    g = Graph(reg)
    g.add("t.prompt", id="p", **prompt_params)
    g.add("t.model", id="m")
    g.add("t.gain", id="g", db=-3.0)
    g.connect("p", "m")
    g.connect("m", "g")
    return g


def test_an_edit_that_leaves_the_prompt_text_the_same_does_not_run_the_model_again(reg):
    ex = Executor(disk_cache=None)
    events = []
    first = ex.run(song(reg))
    for params in ({"unused": "feel=7/8"}, {"template": "  {genre}   groove "}):
        res = ex.run(song(reg, **params), on_event=events.append)
        assert CALLS["model"] == 1                      # the model ran once, in the first run
        assert "m" in res.cached and "p" in res.ran     # the prompt ran again, gave the same text
        np.testing.assert_array_equal(res["g"]["out"].samples, first["g"]["out"].samples)
    said = [e.message for e in events if e.kind == "cached" and e.node_id == "m"]
    assert said and "same values" in said[0]
    assert CALLS["gain"] == 3                           # cheap nodes after it are computed (its key changed)


def test_other_text_runs_the_model_again(reg):
    ex = Executor(disk_cache=None)
    a = ex.run(song(reg), keep="all")
    b = ex.run(song(reg, genre="lo-fi"), keep="all")
    assert CALLS["model"] == 2 and "m" in b.ran
    assert not np.array_equal(a["m"]["out"].samples, b["m"]["out"].samples)


def test_another_process_finds_it_on_disk(reg, tmp_path):
    """The note of which outputs the input values gave is a small entry of the disk cache: a new
    executor (another process) with an empty memory finds it; a cleared cache forgets it."""
    cache = tmp_path / "values"
    Executor(disk_cache=DiskCache(cache)).run(song(reg))
    info = DiskCache(cache).info()
    assert (info["entries"], info["notes"]) == (2, 1)                  # the take, and the note (cache info says)
    res = Executor(disk_cache=DiskCache(cache)).run(song(reg, unused="x"))
    assert CALLS["model"] == 1 and "m" in res.cached
    DiskCache(cache).clear()
    Executor(disk_cache=DiskCache(cache)).run(song(reg, unused="y"))
    assert CALLS["model"] == 2


def test_warnings_are_said_again(reg, tmp_path):
    """By the same process, and by another one (the disk entry keeps them; QA: a sweep manifest
    written later showed no warnings for a take that warned when it was made)."""
    ex = Executor(disk_cache=DiskCache(tmp_path / "values"))
    ex.run(song(reg, genre="quiet"))
    res = ex.run(song(reg, genre="quiet", unused="z"))
    assert CALLS["model"] == 1
    assert res.warnings.get("m") == ["asked for a quiet take"]
    for params in ({"unused": "y"}, {"unused": "y"}, {}):       # by value, by key, by key (its first)
        res = Executor(disk_cache=DiskCache(tmp_path / "values")).run(song(reg, genre="quiet", **params))
        assert CALLS["model"] == 1 and "m" in res.cached
        assert res.warnings.get("m") == ["asked for a quiet take"], params


def test_a_value_the_digest_does_not_know_is_computed_again(reg):
    ex = Executor(disk_cache=None)
    for x in (1, 1):
        g = Graph(reg)
        g.add("t.opaque", id="o", x=x)
        g.add("t.from_opaque", id="f")
        g.connect("o", "f")
        ex.run(g)
    assert CALLS["from_opaque"] == 1                     # the same key: the cache, as always
    g.nodes["o"].params["x"] = 1
    ex.cache.clear()
    ex.run(g)
    assert CALLS["from_opaque"] == 2                     # no key for the value: never served by value


def test_only_costly_nodes_fed_by_links_are_looked_up_by_value(reg):
    st = structure(song(reg), None)
    assert by_value_nodes(st.specs, st.inputs) == {"m"} == st.by_value


def test_variants_whose_inputs_come_out_the_same_at_once_compute_it_once(reg, tmp_path):
    """QA: a sweep of an unused template variable generated every variant (they ran side by side,
    none finished before the others looked).  A variant whose inputs equal those of one computing now
    waits for it."""
    from nodeflow.sweep import expand, parse_axis, run_sweep
    g = song(reg)
    g.set("m", "wait_s", 0.5)
    results = run_sweep(g, expand([parse_axis("p.unused=a,b,c,d", g)]), tmp_path / "out", workers=4,
                        executor=Executor(disk_cache=None))
    assert [r.status for r in results] == ["ok"] * 4
    assert CALLS["model"] == 1 and sum("m" in r.ran for r in results) == 1


def test_a_run_waiting_on_the_same_input_values_says_the_warnings_too(reg):
    """QA38: two runs on one executor at once, the second's inputs the same values as the first's:
    it waits for the first's take and must say what the model said of it (it said nothing)."""
    ex = Executor(disk_cache=None)
    res: dict[str, object] = {}

    def go(name: str, **params: str) -> None:
        g = song(reg, genre="quiet", **params)
        g.set("m", "wait_s", 0.4)
        res[name] = ex.run(g)
    threads = [threading.Thread(target=go, args=("a",)), threading.Thread(target=go, args=("b",), kwargs={"unused": "x"})]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()
    assert CALLS["model"] == 1 and "m" in res["b"].cached
    assert res["a"].warnings.get("m") == res["b"].warnings.get("m") == ["asked for a quiet take"]


def test_two_processes_whose_inputs_come_out_the_same_compute_it_once(tmp_path):
    """The claim across processes is by the value key too: two runs with different unused
    variables, started together, generate once (QA: both generated, 10.5 s each).  The first computes
    until the second says it waits (ci148: a loaded machine's second process came after a 5 s compute)."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(Path(__file__).resolve().parents[2])!r}, {str(Path(__file__).resolve().parent)!r}]
        from nodeflow import Executor, Graph, Registry
        from test_early_cutoff import prompt, model, CALLS
        reg = Registry()
        reg.add(prompt)
        reg.add(model)
        g = Graph(reg)
        g.add("t.prompt", id="p", unused=sys.argv[1])
        g.add("t.model", id="m", wait_s=60.0, until={str(tmp_path / "waitingb")!r})
        g.connect("p", "m")
        said = []

        def heard(e):
            said.append(e.message)
            if e.kind == "started" and e.node_id == "m":
                open({str(tmp_path / "started")!r} + sys.argv[1], "w").close()
            if e.message.startswith("waiting"):          # the first computes until the second waits for it
                open({str(tmp_path / "waiting")!r} + sys.argv[1], "w").close()
        res = Executor(disk_cache={str(tmp_path / "values")!r}).run(g, on_event=heard)
        print(CALLS.get("model", 0), sorted(res.cached), [m for m in said if m])
        """)
    first = subprocess.Popen([sys.executable, "-c", script, "a"], stdout=subprocess.PIPE, text=True)
    end = time.monotonic() + 60       # the second starts once the first computes (ci97: started after a fixed
    while not (tmp_path / "starteda").exists() and time.monotonic() < end:     # 1 s, a loaded machine's second
        time.sleep(0.05)              # process came when the first had finished, and took its value from the cache)
    second = subprocess.run([sys.executable, "-c", script, "b"], capture_output=True, text=True, timeout=120)
    out1, _ = first.communicate(timeout=120)
    assert second.returncode == 0, second.stderr
    assert out1.startswith("1 []") and second.stdout.startswith("0 ['m']"), (out1, second.stdout)
    assert f"waiting: process {first.pid}" in second.stdout


def test_value_digest_is_exact():
    big = np.zeros(100_000, np.float32)
    other = big.copy()
    other[50_000] = 1.0                                  # repr() of both is the same ("0., 0., ..., 0.")
    assert repr(big) == repr(other) and value_digest(big) != value_digest(other)
    assert value_digest(big) == value_digest(big.copy())
    assert value_digest({"a": 1, "b": [2.0]}) == value_digest({"b": [2.0], "a": 1})
    assert len({value_digest(v) for v in (1, 1.0, True, "1", b"1", None, (1,), [1])}) == 8
    a = Audio(np.ones((2, 10), np.float32), 8000)
    assert value_digest(a) == value_digest(Audio(np.ones((2, 10), np.float32), 8000))
    assert value_digest(a) != value_digest(Audio(np.ones((2, 10), np.float32), 8000, start_frame=1))
    assert value_digest(a) != value_digest(Audio(np.ones((2, 10), np.float32), 16000))
    assert value_digest(Audio(np.asfortranarray(np.ones((2, 10), np.float32)), 8000)) == value_digest(a)
    assert value_digest(StreamedAudio.describe(8000, 2, 10, node="x")) is None
    assert value_digest(Opaque(1)) is None and value_digest([1, Opaque(1)]) is None


def test_a_clips_samples_are_digested_once_while_they_live():
    """A loaded or sliced clip's samples are a read-only view: the digest is remembered by the array
    it views (QA: a 10-minute melody was hashed again, 0.2 s, on every run)."""
    from nodeflow import values
    base = np.random.default_rng(0).standard_normal((2, 48000)).astype(np.float32)
    clip = Audio(base, 48000)
    part = Audio(clip.samples[:1], 48000)                    # one channel: a view, as io.load's clips are
    assert not part.samples.flags.owndata
    assert value_digest(part) == value_digest(Audio(part.samples.copy(), 48000))
    value_digest(clip)
    calls = []
    real = values.hashlib.blake2b

    def counting(*a, **k):
        calls.append(k.get("digest_size"))
        return real(*a, **k)
    values.hashlib.blake2b = counting
    try:
        value_digest(clip), value_digest(part), value_digest(part)
    finally:
        values.hashlib.blake2b = real
    assert len(calls) == 3                                   # the three outer digests; no pass over samples


def test_a_real_prompt_template_edit_keeps_the_model_take(tmp_path):
    """Through the CLI, with the built-in prompt node: a variable the template does not use."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        from nodeflow import Executor, Graph, default_registry
        from test_early_cutoff import model, CALLS
        reg = default_registry()
        reg.add(model)
        g = Graph(reg)
        g.add("text.prompt_template", id="p", template="{{genre}} groove, {{feel}}", genre="dub",
              variables=sys.argv[1])
        g.add("t.model", id="m")
        g.connect("p", "m")
        res = Executor(disk_cache={str(tmp_path / "values")!r}).run(g, keep="all")
        print(res["p"]["out"], CALLS.get("model", 0), sorted(res.cached))
        """)

    def run(variables: str) -> str:
        p = subprocess.run([sys.executable, "-c", script, variables], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    assert run("feel=7/8 swing") == "dub groove, 7/8 swing 1 []"
    assert run("feel=7/8 swing; unused=1") == "dub groove, 7/8 swing 0 ['m']"
    assert run("feel=5/4") == "dub groove, 5/4 1 []"
