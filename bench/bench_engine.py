"""Engine and core-node benchmarks (issue 2). Each measure is a ratio against a baseline run here."""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from bench._util import best_of, report
from nodeflow import Audio, Executor, Graph, Registry, load, node

ROOT = Path(__file__).resolve().parent.parent


def bench_resample() -> None:
    """dsp.resample through the engine vs raw soxr, pydub and ffmpeg through pipes (10 min stereo)."""
    from nodes.dsp.resample import resample
    rate, minutes = 44100, 10
    x = (np.random.default_rng(0).standard_normal((2, rate * 60 * minutes)) * 0.1).astype(np.float32)
    audio = Audio(x, rate)
    inter = np.ascontiguousarray(x.T)
    raw = best_of(lambda: soxr.resample(inter, rate, 32000, quality="HQ"))
    node_t = best_of(lambda: resample.fn(audio, rate_hz=32000))
    report("resample_node_vs_soxr", node_t / raw, "goal <= 1.10")
    if shutil.which("ffmpeg"):
        pcm = inter.tobytes()
        def ffmpeg():
            subprocess.run(["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(rate), "-ac", "2", "-i", "pipe:0",
                            "-af", "aresample=resampler=soxr", "-ar", "32000", "-f", "f32le", "pipe:1"],
                           input=pcm, capture_output=True, check=True)
        report("resample_node_vs_ffmpeg_pipes", node_t / best_of(ffmpeg, 2), "goal < 1.0: faster than ffmpeg through pipes")
    else:
        print("resample_node_vs_ffmpeg_pipes: skipped (goal < 1.0; ffmpeg is not installed)")
    try:
        from pydub import AudioSegment
    except ImportError:
        print("resample_node_vs_pydub: skipped (goal: informational; pydub is not installed: pip install pydub)")
    else:
        seg = AudioSegment((inter * 32767).astype(np.int16).tobytes(), frame_rate=rate, sample_width=2, channels=2)
        report("resample_node_vs_pydub", node_t / best_of(lambda: seg.set_frame_rate(32000), 2),
               "goal: informational; pydub resamples int16 at low quality (error ~9e-3 vs soxr)")


@node("bench.one")
def _one(*, v: float = 1.0) -> float:
    return v


@node("bench.inc")
def _inc(x: float) -> float:
    return x + 1.0


def bench_executor_overhead() -> None:
    reg = Registry()
    reg.add_all([_one, _inc])
    g = Graph(reg)
    prev = g.add("bench.one")
    for _ in range(999):
        nxt = g.add("bench.inc")
        g.connect(prev.out, nxt.x, check=False)
        prev = nxt
    direct = best_of(lambda: [_inc.fn(float(i)) for i in range(1000)])
    t = best_of(lambda: Executor().run(g))
    report("executor_overhead_per_node_us", (t - direct) / 1000 * 1e6, "goal < 50 us, 1000-node chain, cold cache")


def bench_demo_rerun() -> None:
    with tempfile.TemporaryDirectory() as out:
        g = load(ROOT / "graphs" / "demo.msgpack")
        ex = Executor()
        cold = best_of(lambda: Executor().run(g, output_dir=out), 2)
        ex.run(g, output_dir=out)
        last = [n for n in g.nodes if g.nodes[n].type == "io.export"][0]
        values = iter([-14.0, -18.0, -20.0, -15.0])
        def rerun():
            g.set(last, "loudness_lufs", next(values))
            ex.run(g, output_dir=out)
        warm = best_of(rerun, 3)
        report("demo_rerun_after_last_param_speedup", cold / warm, "goal >= 20x faster than a cold run")


@node("bench.heavy")
def _heavy(audio: Audio, *, rate_hz: int = 48000) -> Audio:
    """A heavy branch: very-high-quality resampling (soxr releases the GIL)."""
    y = soxr.resample(np.ascontiguousarray(audio.samples.T), audio.sample_rate, rate_hz, quality="VHQ")
    return Audio(y.T, rate_hz)


@node("bench.source")
def _source(*, seconds: float = 120.0) -> Audio:
    return Audio((np.random.default_rng(1).standard_normal((2, int(44100 * seconds))) * 0.1).astype(np.float32), 44100)


def bench_parallel_branches() -> None:
    reg = Registry()
    reg.add_all([_heavy, _source])
    g = Graph(reg)
    g.add("bench.source", id="src")
    for i, rate in enumerate((47999, 48001)):
        g.add("bench.heavy", id=f"b{i}", rate_hz=rate)
        g.connect("src", f"b{i}")
    def timed(workers):
        def go():
            ex = Executor(max_workers=workers)
            ex.cache.put(ex.keys(g)["src"], {"out": _source.fn()})  # both runs start from the cached source
            ex.run(g)
        return best_of(go, 3)
    report("parallel_branches_speedup", timed(1) / timed(2), f"goal >= 1.6x on 2 cores (this machine: {os.cpu_count()})")


PEAK_SCRIPT = textwrap.dedent("""
    import resource, sys
    from nodeflow import Graph, Executor
    g = Graph()
    g.add("io.load", id="load", path=sys.argv[1])
    g.add("dsp.resample", id="rs", rate_hz=44100)
    g.add("io.export", id="out", path=sys.argv[2], bit_depth="pcm24", embed_graph=False)
    g.connect("load", "rs"); g.connect("rs", "out")
    Executor().run(g, output_dir=sys.argv[3])
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
""")


def bench_peak_memory(minutes: float = 60.0) -> None:
    rate, ch = 48000, 2
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "hour.wav"
        with sf.SoundFile(src, "w", rate, ch, subtype="PCM_16") as f:
            block = (np.random.default_rng(0).standard_normal((rate * 10, ch)) * 0.1).astype(np.float32)
            for _ in range(int(minutes * 6)):
                f.write(block)
        base = subprocess.run([sys.executable, "-c", "import resource, nodeflow, nodes, soundfile, soxr, pyloudnorm;"
                               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss*1024)"],
                              capture_output=True, text=True, check=True)
        r = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(src), "hour_out.wav", d],
                           capture_output=True, text=True)
        if r.returncode:
            print("peak_memory_hour_48k_stereo: failed\n" + r.stderr[-2000:])
            return
        peak = int(r.stdout.strip().splitlines()[-1]) - int(base.stdout.strip())
        audio_bytes = minutes * 60 * rate * ch * 4
        report("peak_memory_hour_48k_stereo_x_audio", peak / audio_bytes,
               f"goal < 3x the float32 audio size ({audio_bytes / 2**30:.2f} GiB)")


def main() -> None:
    bench_executor_overhead()
    bench_resample()
    bench_demo_rerun()
    bench_parallel_branches()
    bench_peak_memory(float(os.environ.get("BENCH_HOUR_MINUTES", "60")))


if __name__ == "__main__":
    main()
