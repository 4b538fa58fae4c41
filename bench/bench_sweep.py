"""Sweep and Ray benchmarks (issue 5). Each measure is a ratio or a difference against a baseline
run in this same process.

- ``sweep16_shared_upstream_speedup``: a 16-variant sweep (a cheap gain swept after an expensive
  Rubber Band pitch shift, each variant exported) against the same 16 variants run independently
  (a fresh executor each, so nothing is shared): the engine's cache should compute the expensive
  node once, not 16 times.
- ``ray_overhead_per_variant_ms``: a tiny sweep on a local 1-CPU Ray cluster (tasks run one at a
  time, like the local executor's variants) minus the same sweep on the local executor, per
  variant; ``ray_bare_task_ms``: an empty Ray task round trip, for reference.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench._util import best_of, report
from nodeflow import Executor, Graph, save
from nodeflow.sweep import expand, parse_axis, run_sweep

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = 16


def _graph(folder: Path, seconds: float) -> Graph:
    rate = 44100
    t = np.arange(round(seconds * rate)) / rate
    x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)])
    sf.write(folder / "in.flac", x.T, rate, subtype="PCM_24")
    g = Graph()
    g.path = folder / "g.msgpack"
    g.add("io.load", id="load", path="in.flac")
    g.add("dsp.variation", id="vary", semitones=5.0, octave_blend=0.5)     # the expensive shared node
    g.add("dsp.gain", id="gain")
    g.add("io.export", id="export", path="take.wav", bit_depth="float32")
    g.connect("load", "vary")
    g.connect("vary", "gain")
    g.connect("gain", "export")
    save(g, g.path)
    return g


def bench_sweep_sharing(seconds: float = 4.0) -> None:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        g = _graph(d, seconds)
        variants = expand([parse_axis(f"gain.gain_db={','.join(str(-v) for v in range(VARIANTS))}", g)])
        runs: dict[str, int] = {}

        def swept():
            results = run_sweep(g, variants, d / "sweep")      # one executor: shared cache
            runs["sweep"] = sum("vary" in r.ran for r in results)
            assert all(r.status == "ok" for r in results), [r.error for r in results]

        def independent():
            runs["independent"] = 0
            for v in variants:                                  # a fresh executor per variant
                r = run_sweep(g, [v], d / "alone", executor=Executor())[0]
                runs["independent"] += "vary" in r.ran
                assert r.status == "ok", r.error

        t_alone = best_of(independent, 1)
        t_sweep = best_of(swept, 2)
        report(f"sweep{VARIANTS}_shared_upstream_speedup", t_alone / t_sweep,
               f"goal: much faster than {VARIANTS} independent runs ({t_sweep:.2f} s vs {t_alone:.2f} s; "
               f"the expensive node ran {runs['sweep']}x vs {runs['independent']}x)")


def bench_ray_overhead(n: int = 32) -> None:
    try:
        import ray
    except ImportError:
        print("ray_overhead_per_variant_ms: skipped (ray is not installed: pip install 'audiochain[distributed]')")
        return
    from nodeflow.distributed import run_sweep_ray
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        saved = {k: os.environ.get(k) for k in ("HOME", "RAY_TMPDIR", "PYTHONPATH")}
        os.environ.update(HOME=str(d), RAY_TMPDIR=str(d),
                          PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]])))
        try:
            t0 = time.perf_counter()
            ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     _temp_dir=str(d / "t"))
            startup = time.perf_counter() - t0
            try:
                g = _graph(d, 0.5)
                g.remove("vary")
                g.connect("load", "gain")
                variants = expand([parse_axis("gain.gain_db=" + ",".join(str(-i / 2) for i in range(n)), g)])
                run_sweep_ray(g, variants[:4], d / "warm")      # start the workers, import the node packs
                t_ray = best_of(lambda: run_sweep_ray(g, variants, d / "ray"), 2)
                t_local = best_of(lambda: run_sweep(g, variants, d / "local", executor=Executor()), 2)

                @ray.remote
                def empty():
                    return None
                ray.get([empty.remote() for _ in range(8)])
                t_bare = best_of(lambda: ray.get([empty.remote() for _ in range(n)]), 3)
            finally:
                ray.shutdown()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    report("ray_overhead_per_variant_ms", (t_ray - t_local) / n * 1e3,
           f"goal: small against a model node's seconds; Ray minus the local executor over {n} tiny variants, "
           f"one task at a time on a 1-CPU local cluster (started in {startup:.1f} s)")
    report("ray_bare_task_ms", t_bare / n * 1e3, "goal: informational; an empty Ray task's round trip")


def bench_sweep_concurrency(seconds: float = 3.0, repeat: int = 2) -> None:
    """A 16-variant local sweep whose variants differ in the expensive node (a Rubber Band pitch
    shift per variant, in worker processes) with 2 variants at a time vs one after another, runs
    alternated, fresh executor each (nothing shared between runs), best of ``repeat``."""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        g = _graph(d, seconds)
        variants = expand([parse_axis(f"vary.semitones={','.join(str(v) for v in range(-8, 8))}", g)])
        run_sweep(g, variants[:2], d / "warm", executor=Executor(disk_cache=None), workers=2)   # workers started

        best = {1: float("inf"), 2: float("inf")}
        for i in range(repeat):
            for workers in (1, 2):
                t0 = time.perf_counter()
                results = run_sweep(g, variants, d / f"w{workers}_{i}", executor=Executor(disk_cache=None),
                                    workers=workers)
                best[workers] = min(best[workers], time.perf_counter() - t0)
                assert all(r.status == "ok" for r in results), [r.error for r in results]
        report(f"sweep{VARIANTS}_concurrent_vs_sequential", best[1] / best[2],
               f"goal >= 1.6x on 2 cores ({os.cpu_count()} here, load average {os.getloadavg()[0]:.1f}); "
               f"{best[2]:.2f} s with 2 variants at a time vs {best[1]:.2f} s one after another")


def bench_variation_branches(seconds: float = 20.0, repeat: int = 3) -> None:
    """Two independent Rubber Band branches (``dsp.variation``, a process node) on 2 workers vs 1,
    runs alternated, the source cached, best of ``repeat``."""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        g = _graph(d, seconds)
        g.remove("gain")
        g.remove("export")
        g.add("dsp.variation", id="vary2", semitones=-5.0, octave_blend=0.5)   # the same work as vary
        g.connect("load", "vary2")
        best = {1: float("inf"), 2: float("inf")}
        Executor(max_workers=2, disk_cache=None).run(g, ["load"])      # warm: two workers started
        for _ in range(repeat):
            for workers in (1, 2):
                ex = Executor(max_workers=workers, disk_cache=None)
                ex.run(g, ["load"])
                t0 = time.perf_counter()
                ex.run(g)
                best[workers] = min(best[workers], time.perf_counter() - t0)
                ex.close()
        report("variation_branches_speedup", best[1] / best[2],
               f"goal >= 1.6x on 2 cores ({os.cpu_count()} here, load average {os.getloadavg()[0]:.1f}); "
               f"{best[2]:.2f} s on 2 workers vs {best[1]:.2f} s on 1")


def main() -> None:
    bench_sweep_sharing()
    bench_sweep_concurrency()
    bench_variation_branches()
    bench_ray_overhead()


if __name__ == "__main__":
    main()
