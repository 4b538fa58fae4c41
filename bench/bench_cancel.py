"""Stop means stop (issue 11): what running Rubber Band in a killable worker process costs
(``dsp.variation`` on a long clip: worker vs in process, same samples), the worker's first start,
and seconds from Stop to the run's end for a long variation (the landed in-process call vs now)."""
from __future__ import annotations

import threading
import time

import numpy as np

from bench._util import best_of, report
from nodeflow.audio import Audio


def _clip(seconds: float, rate: int = 48000) -> np.ndarray:
    return (np.random.default_rng(0).standard_normal((2, round(seconds * rate))) * 0.1).astype(np.float32)


def bench_worker_overhead(seconds: float = 20.0) -> None:
    from nodeflow.worker import call_in_worker
    from nodes.dsp.variation import variation
    clip = Audio(_clip(seconds), 48000)
    params = dict(semitones=3.0, stretch_ratio=1.5)
    t0 = time.perf_counter()
    call_in_worker(divmod, (7, 2))
    report("worker first start (s)", time.perf_counter() - t0, "goal < 0.5 s, paid once per process")
    inline = best_of(lambda: variation.call_here({"audio": clip}, params))
    worker = best_of(lambda: variation.call({"audio": clip}, params))      # process=True: in a worker
    report(f"variation {seconds:g} s stereo in a worker / in process", worker / inline, "goal < 1.1")


def bench_stop_to_end(seconds: float = 60.0) -> None:
    import dataclasses

    import nodes.dsp.variation as V
    from nodeflow import Executor, Graph
    from nodeflow.errors import Cancelled
    from nodeflow.node import node
    from nodeflow.registry import Registry, default_registry

    clip = Audio(_clip(seconds), 48000)

    @node("bench.clip", version=1)
    def source() -> Audio:
        return clip

    reg = Registry()
    reg.add_all(list(default_registry()))
    reg.add(source)
    reg.add(dataclasses.replace(V.variation, id="bench.variation_in_process", process=False))
    for label, type_id in (("in process (as landed)", "bench.variation_in_process"), ("worker", "dsp.variation")):
        g = Graph(reg)
        s, v = g.add("bench.clip"), g.add(type_id, semitones=3.0, stretch_ratio=1.5)
        g.connect(s.out, v.audio)
        started = threading.Event()
        ex = Executor(disk_cache=None)
        h = ex.submit(g, on_event=lambda e: e.kind == "started" and e.node_id == v.id and started.set())
        started.wait(60)
        time.sleep(0.3)
        t0 = time.monotonic()
        h.cancel()
        try:
            h.result(600)
        except Cancelled:
            pass
        report(f"Stop -> end, variation of {seconds:g} s stereo, {label} (s)", time.monotonic() - t0,
               "goal < 1 s")
        ex.close()


def main() -> None:
    bench_worker_overhead()
    bench_stop_to_end()


if __name__ == "__main__":
    main()
