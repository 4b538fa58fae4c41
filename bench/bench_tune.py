"""`audiochain tune` throughput (issue 15) and the CLAP node's overhead (issue 13).

Candidates per minute of a tune against the same candidates rendered and scored as separate runs (a
fresh executor each, as separate `audiochain run` calls would, in this process so the models stay
loaded for both).

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


def bench_clap_overhead(seconds: float = 10.0) -> None:
    """models.clap_score on a 10 s mono 48 kHz clip (one window, nothing to resample) against the bare
    transformers calls it makes (feature extractor, audio and text embeddings), best of 8 each, alternated."""
    import torch
    import transformers

    from bench._util import best_times
    from nodeflow.audio import Audio
    from nodeflow.node import Context
    from nodes.models.clap import clap_score
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_clap
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 48000)) / 48000)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        ck = tiny_clap.build(Path(d) / "clap")
        model = transformers.ClapModel.from_pretrained(str(ck), local_files_only=True).eval()
        tok = transformers.AutoTokenizer.from_pretrained(str(ck), local_files_only=True)
        fe = transformers.ClapFeatureExtractor.from_pretrained(str(ck), local_files_only=True)

        def bare():
            f = fe(x.astype(np.float64), sampling_rate=48000, truncation="rand_trunc", padding="repeatpad",
                   return_tensors="pt")
            with torch.inference_mode():
                a = model.get_audio_features(input_features=f["input_features"], is_longer=f["is_longer"])
                t = model.get_text_features(**tok([TARGET], return_tensors="pt"))
            return a, t

        def node():
            from nodes.models import clap
            with clap.using_clap(str(ck), Context("b", device="cpu"), "cpu") as loaded:
                loaded.text_memo.clear()        # the bare call embeds the text each time too
            return clap_score.fn(Audio(x[None], 48000), text=TARGET, checkpoint=str(ck), device="cpu",
                                 ctx=Context("b"))

        node()
        before = torch.get_num_threads()
        torch.set_num_threads(1)        # both on one thread (the node picks its own count on a busy machine)
        os.environ["AUDIOCHAIN_TORCH_THREADS"] = "1"
        try:
            bare_w = node_w = float("inf")
            for _ in range(8):          # alternated: a busy machine slows both alike
                bare_w = min(bare_w, best_times(bare, 1)[0])
                node_w = min(node_w, best_times(node, 1)[0])
        finally:
            torch.set_num_threads(before)
            os.environ.pop("AUDIOCHAIN_TORCH_THREADS", None)
    report("clap_node_overhead", node_w / bare_w, f"goal <= 1.1x; 10 s clip, 1 thread: node {node_w * 1000:.0f} ms, "
           f"bare transformers {bare_w * 1000:.0f} ms")


def main() -> None:
    bench_tune()
    bench_clap_overhead()


if __name__ == "__main__":
    main()
