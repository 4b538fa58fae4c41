"""A RunResult is a real read-only Mapping (issue 15): ``dict(res)``, ``res.keys()``, ``res.items()``."""
from __future__ import annotations

from pathlib import Path

from nodeflow import Executor, Graph

MELODY = Path(__file__).resolve().parents[2] / "graphs" / "assets" / "melody.flac"


def test_a_run_result_is_a_real_mapping():
    g = Graph()
    a = g.add("io.load", path=str(MELODY))
    b = g.add("dsp.gain", gain_db=-6)
    g.connect(a.out, b.audio)
    res = Executor(disk_cache=None).run(g, keep="all")
    assert sorted(res.keys()) == ["gain", "load"]
    as_dict = dict(res)
    assert set(as_dict) == {"gain", "load"} and as_dict["gain"]["out"] is res["gain"]["out"]
    items = list(res.items())
    assert [k for k, _ in items] == list(res) and all(v is res[k] for k, v in items)
    assert list(res.values()) == [res[k] for k in res]
    # the nodes' content keys moved to cache_keys
    assert set(res.cache_keys) == {"load", "gain"} and all(len(k) == 40 for k in res.cache_keys.values())
