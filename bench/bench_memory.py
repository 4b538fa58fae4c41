"""Memory bounded by design: peak RSS of a long chain relative to one value (streamed, as the
executor runs it, and node by node), of two masters side by side (two branches, two sweep variants)
relative to a memory limit that holds one, and what io.load / io.export cost over a raw libsndfile read /
write.

Each peak is measured in a fresh subprocess (``ru_maxrss`` is a process high-water mark).
``BENCH_ROOT`` runs the child against another checkout (e.g. an export of the previous commit),
for before/after figures.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from bench._util import report

SECONDS, RATE = 300.0, 48000

_CHILD = r'''
import json, resource, sys, time
from pathlib import Path
import numpy as np, soundfile as sf
from nodeflow import Executor, Graph
from nodeflow.audio import Audio
from nodeflow.node import Context
import nodes  # noqa: F401 - registers the built-in nodes
src, out_dir, what = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

def rss():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()

def peak_rss():   # VmHWM: this process image's own high-water mark (ru_maxrss inherits the parent's at fork)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))

def cpu(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        c = time.process_time(); fn(); best = min(best, time.process_time() - c)
    return best

if what in ("chain", "chain-whole"):
    g = Graph()
    steps = [("io.load", dict(path=str(src))), ("dsp.gain", dict(gain_db=-3.0)),
             ("dsp.fade", dict(fade_in_s=1.0, fade_out_s=2.0)), ("dsp.trim", dict(start_s=0.5)),
             ("dsp.resample", dict(rate_hz=44100)), ("dsp.gain", dict(gain_db=1.0)),
             ("dsp.channels", dict(mode="stereo")), ("dsp.fade", dict(fade_in_s=0.5)),
             ("io.export", dict(path="chain.wav", embed_graph=False))]
    prev = None
    for i, (t, p) in enumerate(steps):
        n = g.add(t, id=f"n{i}", **p)
        if prev is not None:
            g.connect(prev, f"n{i}")
        prev = f"n{i}"
    base = rss()
    Executor(cache_bytes=1 << 20, stream=None if what == "chain" else False).run(g, base_dir=out_dir,
                                                                                 output_dir=out_dir)
    peak = peak_rss()
    print(json.dumps({"peak_over_base": peak - base}))
elif what in ("one", "branches", "variants"):     # masters side by side under a limit that holds one
    import os
    from nodeflow.costs import estimate
    from nodeflow.sweep import Variant, run_sweep
    g = Graph()
    for i in range(2 if what == "branches" else 1):
        g.add("io.load", id=f"l{i}", path=str(src))
        g.add("dsp.gain", id=f"g{i}", gain_db=-1.0 - i)
        g.add("io.export", id=f"e{i}", path=f"m{i}.wav", loudness_lufs=-10.0, embed_graph=False)
        g.connect(f"l{i}", f"g{i}")
        g.connect(f"g{i}", f"e{i}")
    peak = estimate(g, base_dir=out_dir).peak_bytes
    limit = int(peak * 1.05)
    os.environ["AUDIOCHAIN_MAX_MEMORY_GB"] = str(limit / 2**30)
    base = rss()
    ex = Executor(cache_bytes=1 << 20, disk_cache=None)
    if what != "variants":
        ex.run(g, base_dir=out_dir, output_dir=out_dir)
    else:
        rows = run_sweep(g, [Variant(0, (("g0.gain_db", -1.0),)), Variant(1, (("g0.gain_db", -2.0),))],
                         out_dir / "sweep", executor=ex, workers=2)
        assert all(r.status == "ok" for r in rows), [r.error for r in rows]
    print(json.dumps({"peak_over_base": peak_rss() - base, "limit": limit}))
else:
    from nodes.io.load import load
    from nodes.io.export import export
    from nodeflow.threads import limit_blas_threads
    limit_blas_threads()          # as a run sets it (the nodes are called directly here)
    ctx = Context("bench", base_dir=out_dir, output_dir=out_dir)
    def raw_read():
        sf.read(str(src), dtype="float32", always_2d=True)
    def node_load():
        load.fn(**{**{k: load.params[k].default for k in load.params}, "path": str(src)}, ctx=ctx)
    a = Audio(sf.read(str(src), dtype="float32", always_2d=True)[0].T, 48000)
    def raw_write():
        sf.write(str(out_dir / "raw.wav"), a.samples.T, 48000, subtype="PCM_24")
    def node_export():
        args = {k: export.params[k].default for k in export.params}
        args.update(path="node.wav", embed_graph=False, loudness_lufs=None)
        export.fn(a, ctx=ctx, **args)
    print(json.dumps({"load": cpu(node_load) / cpu(raw_read), "export": cpu(node_export) / cpu(raw_write)}))
'''


def _music(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 110 * t) + 0.05 * rng.standard_normal(len(t))
    return np.stack([x, np.roll(x, 100)]).astype(np.float32) * 0.8


def _child(src: Path, out: Path, what: str) -> dict:
    root = os.environ.get("BENCH_ROOT") or str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    r = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(out), what], cwd=root, env=env,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "in.wav"
        sf.write(str(src), _music(SECONDS, RATE).T, RATE, subtype="PCM_24")
        value = round(SECONDS * RATE) * 2 * 4               # one float32 stereo value of the clip
        chain = _child(src, Path(d), "chain")
        report("memory_chain9_peak_over_one_value", chain["peak_over_base"] / value,
               f"goal <= 3: peak RSS growth of a 9-node chain (load..export, cache 1 MiB) over one value "
               f"({value / 2**20:.0f} MiB: {SECONDS / 60:.0f} min stereo {RATE // 1000} kHz); streamed, as the "
               "executor runs it")
        chain = _child(src, Path(d), "chain-whole")
        report("memory_chain9_node_by_node_peak_over_one_value", chain["peak_over_base"] / value,
               "goal <= 3: the same chain node by node (Executor(stream=False)): the nodes' own temporaries")
        short = Path(d) / "masters.wav"
        sf.write(str(short), _music(180.0, RATE).T, RATE, subtype="PCM_24")
        one = _child(short, Path(d), "one")
        m = _child(short, Path(d), "variants")
        report("memory_two_master_variants_peak_over_one", m["peak_over_base"] / one["peak_over_base"],
               f"goal <= 1.3: peak RSS growth of a sweep of two 3-minute master variants on one executor, under a "
               f"memory limit of 1.05x one's estimated peak ({m['limit'] / 2**20:.0f} MiB), over one master's "
               f"({one['peak_over_base'] / 2**20:.0f} MiB): side by side only while they fit (1.90 before)")
        m = _child(short, Path(d), "branches")
        report("memory_two_master_branches_peak_over_limit", m["peak_over_base"] / m["limit"],
               f"goal <= 1.0: the same two masters on two branches of one graph, under a limit of 1.05x its estimated "
               f"peak ({m['limit'] / 2**20:.0f} MiB: each branch's values are held to the end of the run)")
        io = _child(src, Path(d), "io")
        report("io_load_vs_raw_sf_read_cpu", io["load"], "goal <= 1.3: io.load over sf.read(float32), CPU time")
        report("io_export_vs_raw_sf_write_cpu", io["export"],
               "goal <= 1.3: io.export (pcm24, no loudness, true-peak checked) over sf.write, CPU time")


if __name__ == "__main__":
    main()
