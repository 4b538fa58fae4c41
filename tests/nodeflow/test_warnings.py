"""What a node says of its result that is not an error (``ctx.warn``): an event, ``RunResult.warnings``,
said again for a value from the cache, through a worker process and a mapped list, as a Python warning
from a chain, printed by the CLI (with ``-q`` too) and shown by the editor on the node.  The first user:
an export whose loudness target raises a near-silent clip by 30 dB or more (QA: a click in silence was
normalised to -23 LUFS, its noise floor raised by 71 dB, without a word)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from nodeflow import Audio, AudioChainWarning, Context, Executor, Graph, Registry, node
from tests.nodeflow.stubs import ALL


@node("test.warns")
def warns(audio: Audio, *, said: str = "the take is quiet", ctx: Context) -> Audio:
    """Warns of ``said`` and hands its input on."""
    ctx.warn(said)
    return audio


@pytest.fixture
def reg():
    from tests.nodeflow import process_nodes
    r = Registry()
    r.load_pack("stubs", lambda reg: reg.add_all([*ALL, *process_nodes.ALL, warns]), "1.0")
    return r


def _graph(reg, *steps):
    g = Graph(reg)
    g.add("test.tone", id="tone")
    last = "tone"
    for nid, type_id, params in steps:
        g.add(type_id, id=nid, **params)
        g.connect(last, nid)
        last = nid
    return g


def test_a_warning_is_an_event_and_in_the_result_and_said_again_from_the_cache(reg):
    g = _graph(reg, ("w", "test.warns", {}), ("gain", "test.gain", {"gain_db": -3.0}))
    ex = Executor(disk_cache=None)
    events = []
    res = ex.run(g, on_event=events.append)
    assert res.warnings == {"w": ["the take is quiet"]}
    assert [(e.kind, e.message) for e in events if e.node_id == "w" and e.kind not in ("queued", "started")] == \
        [("warning", "the take is quiet"), ("finished", "")]
    events.clear()
    again = ex.run(g, ["w"], on_event=events.append)      # from the memory cache: said again, before "cached"
    assert again.cached >= {"w"} and again.warnings == {"w": ["the take is quiet"]}
    assert [e.kind for e in events if e.node_id == "w"] == ["warning", "cached"]
    g.set("w", "said", "")                                 # a new value: what the old one said goes
    g.set("w", "said", "another thing")
    assert ex.run(g).warnings == {"w": ["another thing"]}
    assert ex.run(_graph(reg, ("gain", "test.gain", {}))).warnings == {}


def test_a_cached_value_says_what_the_nodes_before_it_said(reg):
    """QA41: ``warner | gain`` invoked again came whole from the cache (gain's value), and the run
    said nothing: the nodes before a cached value are not visited, yet its value stands for theirs."""
    g = _graph(reg, ("w", "test.warns", {}), ("w2", "test.warns", {"said": "and clipped"}),
               ("gain", "test.gain", {"gain_db": -3.0}))
    ex = Executor(disk_cache=None)
    first = ex.run(g)
    events = []
    again = ex.run(g, on_event=events.append)
    assert again.cached == {"gain"} and again.warnings == first.warnings == {"w": ["the take is quiet"],
                                                                              "w2": ["and clipped"]}
    assert [(e.kind, e.node_id) for e in events if e.kind != "queued"] == \
        [("warning", "w"), ("warning", "w2"), ("cached", "gain")]
    assert ex.run(g).warnings == first.warnings                # and every time after (nothing piles up)


@node("test.kept", persist=True)
def kept(audio: Audio) -> Audio:
    """A value kept on disk (as a model's take is)."""
    return Audio(audio.samples * np.float32(0.5), audio.sample_rate)


def test_a_value_from_disk_says_what_the_nodes_before_it_said_in_a_later_process(reg, tmp_path):
    """QA41 D4 across processes: the entry of a value kept on disk keeps what the nodes feeding it said,
    so a new process taking it says it again for them."""
    from nodeflow.diskcache import DiskCache
    reg.add(kept)
    g = _graph(reg, ("w", "test.warns", {}), ("k", "test.kept", {}))
    first = Executor(disk_cache=DiskCache(tmp_path / "values")).run(g)
    assert first.warnings == {"w": ["the take is quiet"]} and "k" in first.ran
    later = Executor(disk_cache=DiskCache(tmp_path / "values")).run(g)      # a new memory: another process
    assert later.cached == {"k"} and later.warnings == {"w": ["the take is quiet"]}


def test_a_warning_from_a_worker_process_and_from_list_items(reg):
    g = _graph(reg, ("spin", "proc.spin", {"warn": "from the worker"}))
    assert Executor(disk_cache=None).run(g).warnings == {"spin": ["from the worker"]}
    g = _graph(reg, ("split", "test.split", {"parts": 3}), ("w", "test.warns", {"said": "quiet"}))
    assert Executor(disk_cache=None).run(g).warnings == {"w": [f"item {i} of 3: quiet" for i in (1, 2, 3)]}


def test_a_chain_says_warnings_as_python_warnings_and_a_node_called_alone_too(reg):
    from nodeflow.chain import Chain
    from nodeflow.graph import NodeRef
    g = _graph(reg, ("w", "test.warns", {}))
    chain = Chain(g, NodeRef(g, "w"))
    with pytest.warns(AudioChainWarning, match="node 'w': the take is quiet"):
        chain.invoke(executor=Executor(disk_cache=None))
    import uuid
    said = f"the take is quiet, {uuid.uuid4().hex}"          # never computed before: not in any cache
    g.set("w", "said", said)
    with pytest.warns(AudioChainWarning, match=f"node 'w': {said}"):
        assert Chain(g, NodeRef(g, "w")).run().warnings == {"w": [said]}
    with pytest.warns(AudioChainWarning, match="node 'node': the take is quiet"):
        warns.fn(Audio(np.zeros((1, 100), np.float32), 8000), ctx=Context())
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # nothing said: no warning
        Chain(g, NodeRef(g, "tone")).invoke(executor=Executor(disk_cache=None))


def test_each_sweep_variant_keeps_its_warnings_in_its_manifest_row(reg, tmp_path):
    from nodeflow.sweep import expand, parse_axis, run_sweep
    g = _graph(reg, ("w", "test.warns", {}))
    variants = expand([parse_axis('w.said=["quiet take", "hiss"]', g)])
    results = run_sweep(g, variants, tmp_path / "sw", executor=Executor(disk_cache=None))
    assert [r.row()["warnings"] for r in results] == [{"w": ["quiet take"]}, {"w": ["hiss"]}]
