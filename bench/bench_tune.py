"""`audiochain tune` throughput (issue 15): candidates per minute of a tune against the same candidates
rendered and scored as separate runs (a fresh executor each, as separate `audiochain run` calls would,
in this process so the models stay loaded for both).

The graph: an 8 s clip -> a Rubber Band pitch shift (the expensive upstream every candidate shares)
-> gain (varied) -> export, scored by the tiny random CLAP (tests/fixtures/tiny_clap.py) against a text.
The tune shares the pitch shift across candidates and renders a generation's candidates side by side.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench._util import report

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 16
TARGET = "a warm lo-fi piano loop"


def _graph(folder: Path):
    from nodeflow import Graph, save
    rate = 44100
    t = np.arange(8 * rate) / rate
    x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)])
    sf.write(folder / "in.flac", x.T, rate, subtype="PCM_24")
    g = Graph()
    g.add("io.load", id="load", path=str(folder / "in.flac"))
    g.add("dsp.variation", id="vary", semitones=3.0)
    g.add("dsp.gain", id="gain")
    g.add("io.export", id="export", path="take.wav", bit_depth="float32")
    g.connect("load", "vary")
    g.connect("vary", "gain")
    g.connect("gain", "export")
    g.path = save(g, folder / "g.msgpack")
    return g


def bench_tune() -> None:
    from nodeflow import Executor
    from nodeflow.sweep import apply_overrides
    from nodeflow.tune import SCORER_ID, listened_port, scorer_graph, tune
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_clap
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ck = tiny_clap.build(d / "clap")
        g = _graph(d)
        t0 = time.perf_counter()
        rep = tune(g, target=TARGET, budget=BUDGET, vary=["gain.gain_db=-15..0"], out_dir=d / "tune",
                   scorer_params={"checkpoint": str(ck), "device": "cpu"}, executor=Executor(disk_cache=None))
        tuned = time.perf_counter() - t0
        assert len(rep.rows) == BUDGET and rep.best is not None
        scored, key = scorer_graph(g, "models.clap_score", listened_port(g, None), target=TARGET)
        scored.set(SCORER_ID, "checkpoint", str(ck))
        scored.set(SCORER_ID, "device", "cpu")
        t0 = time.perf_counter()
        same = True
        for row in rep.rows:
            one = apply_overrides(scored, row["params"].items())
            res = Executor(disk_cache=None).run(one, output_dir=d / "separate" / row["name"])
            same &= res[SCORER_ID]["score"] == row["score"]
        separate = time.perf_counter() - t0
    report("tune_candidates_per_min", 60 * BUDGET / tuned, f"{BUDGET} candidates, 8 s each, tiny CLAP; "
           f"separate runs: {60 * BUDGET / separate:.1f}/min", "{:.1f}")
    report("tune_vs_separate_runs_speedup", separate / tuned, "goal > 1: shared upstream, candidates side by side; "
           f"same scores: {same}; load {os.getloadavg()[0]:.1f}")


def main() -> None:
    bench_tune()


if __name__ == "__main__":
    main()
