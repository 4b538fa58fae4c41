"""The runnable interface (issue 15): what ``invoke`` costs over ``Executor.run`` of the same graph,
and how soon ``stream`` hands on the first piece of a long list against the whole render.

- ``invoke_vs_executor_run``: a 4-node DSP chain on 10 s of stereo held in memory, fed through
  ``chain.invoke`` vs the same graph with an in-graph source run by ``Executor.run``; fresh executor
  each time (nothing cached), paired and alternated, CPU time compared as well as wall time.
- ``invoke_numpy_vs_executor_run``: the same with a new writeable numpy array each call (copied,
  checked and hashed each time: a clip already held is not);
- ``stream_first_piece_vs_full``: 16 two-second windows of a 32 s clip through a Rubber Band pitch
  shift (a process node), 1 worker: seconds to the first streamed window over seconds to all of them.
"""
from __future__ import annotations

import time

import numpy as np

from bench._util import best_times, report
from nodeflow import Audio, Executor, Graph, node
from nodeflow.registry import Registry, default_registry

RATE = 44100


def _clip(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 331 * t)]).astype(np.float32)


def bench_invoke_overhead(seconds: float = 10.0, repeat: int = 5) -> None:
    from nodes.dsp.basic import fade, gain
    from nodes.dsp.resample import resample
    x = _clip(seconds)
    chain = gain(gain_db=-3) | resample(rate_hz=48000) | fade(fade_out_s=1.0) | gain(gain_db=1.0)
    clip = Audio(x, RATE)

    @node("bench.held_clip")
    def held() -> Audio:
        return clip

    reg = Registry()
    reg.add_all(list(default_registry()))
    reg.add(held)
    g = Graph(reg)
    prev = g.add("bench.held_clip")
    for step in chain.graph.nodes.values():
        ref = g.add(step.type, **step.params)
        g.connect(prev.out, ref.audio)
        prev = ref
    via_invoke, via_run = [], []
    for _ in range(repeat):       # alternated, so a busy spell slows both
        via_invoke.append(best_times(lambda: chain.invoke((x, RATE), executor=Executor(disk_cache=None)), 1))
        via_run.append(best_times(lambda: Executor(disk_cache=None).run(g, [prev.id]), 1))
    wall = min(w for w, _ in via_invoke) / min(w for w, _ in via_run)
    cpu = min(c for _, c in via_invoke) / min(c for _, c in via_run)
    report("invoke_vs_executor_run", wall, f"goal <= 1.05x; CPU time {cpu:.2f}x; {seconds:g} s stereo, 4 nodes")
    fresh, held = [], []
    for _ in range(repeat):       # a new, writeable numpy array each time (a notebook's): copied, checked, hashed
        y = x.copy()
        fresh.append(best_times(lambda: chain.invoke((y, RATE), executor=Executor(disk_cache=None)), 1))
        held.append(best_times(lambda: Executor(disk_cache=None).run(g, [prev.id]), 1))
    report("invoke_numpy_vs_executor_run", min(w for w, _ in fresh) / min(w for w, _ in held),
           f"no goal: what taking a fresh array costs (a copy, so the caller's stays writeable, the NaN check "
           f"and the content hash that keys the cache); CPU time "
           f"{min(c for _, c in fresh) / min(c for _, c in held):.2f}x")


def bench_stream_first_piece(seconds: float = 32.0) -> None:
    from nodes.dsp.variation import variation
    from nodes.timing.window import tokenize_window
    chain = tokenize_window(unit="seconds", size=2.0) | variation(semitones=3.0)
    x = (_clip(seconds), RATE)
    variation.call({"audio": Audio(x[0][:, :RATE], RATE)}, {"semitones": 1.0})   # a worker started
    ex = Executor(max_workers=1, disk_cache=None)
    t0 = time.perf_counter()
    first = None
    count = 0
    for _ in chain.stream(x, executor=ex):
        count += 1
        if first is None:
            first = time.perf_counter() - t0
    full = time.perf_counter() - t0
    report("stream_first_piece_vs_full", first / full,
           f"goal: about 1/{count} (the first of {count} windows); first window after {first:.2f} s, all after {full:.2f} s")


def bench_stream_first_music(seconds: float = 6.0) -> None:
    """A long-form MusicGen piece on a tiny random-weight checkpoint (1 s window, 0.5 s stride):
    seconds to the first streamed piece over seconds to the whole piece, of the model and of a gain
    and a resample after it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print("stream_first_music_vs_full: skipped (needs the models extra)")
        return
    import sys
    import tempfile
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fixtures"))
    import tiny_models
    with tempfile.TemporaryDirectory() as d:
        ckpt = tiny_models.build_all(Path(d))["musicgen_short"]
        g = Graph()
        g.add("models.musicgen", id="m", checkpoint=str(ckpt), duration_s=seconds, seed=1, extend_stride_s=0.5)
        g.add("dsp.gain", id="gain", gain_db=-1.0)
        g.add("dsp.resample", id="rs", rate_hz=44100)
        g.connect("m", "gain")
        g.connect("gain", "rs")
        Executor(disk_cache=None).run(g, ["m"])     # the model loaded once; a fresh executor renders again
        for target, name, what in (("m", "stream_first_music_vs_full", ""),
                                   ("rs", "stream_first_music_through_gain_resample_vs_full",
                                    "; musicgen | gain | resample, the pieces through the block nodes (0.98 before, QA68 D1)")):
            ex = Executor(disk_cache=None)
            t0, c0 = time.perf_counter(), time.process_time()
            first = None
            count = 0
            for _ in ex.stream(g, target):
                count += 1
                first = first if first is not None else time.perf_counter() - t0
            full, cpu = time.perf_counter() - t0, time.process_time() - c0
            report(name, first / full, f"goal: well under 1 (the first of {count} pieces of {seconds:g} s after "
                                       f"{first:.2f} s, all after {full:.2f} s, CPU {cpu:.2f} s{what})")


def main() -> None:
    bench_invoke_overhead()
    bench_stream_first_piece()
    bench_stream_first_music()


if __name__ == "__main__":
    main()
