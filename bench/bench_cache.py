"""The on-disk value cache across processes: a long-form-like chain (load -> variation (Rubber Band
pitch shift, the slow part, standing in for model generation) -> resample -> fade -> export) is run
cold in one `audiochain run` process, then the fade is changed and the graph run again in a NEW
process.  Printed: the engine time of the cold run over the re-run (the CLI's own "in X s"), the same
for whole processes (imports included), and the cost of a disk hit per MiB.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ._util import report

SECONDS = 60.0
RATE = 44100


def _graph(folder: Path) -> Path:
    import soundfile as sf

    from nodeflow import Graph, save
    t = np.arange(int(SECONDS * RATE)) / RATE
    x = 0.4 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)])
    sf.write(folder / "in.wav", x.T, RATE, subtype="FLOAT")
    g = Graph()
    g.path = folder / "long.msgpack"
    g.add("io.load", id="load", path="in.wav")
    g.add("dsp.variation", id="vary", semitones=3.0)
    g.add("dsp.resample", id="rs", rate_hz=48000)
    g.add("dsp.fade", id="fade", fade_out_s=2.0)
    g.add("io.export", id="export", path="out.wav", bit_depth="float32")
    for a, b in [("load", "vary"), ("vary", "rs"), ("rs", "fade"), ("fade", "export")]:
        g.connect(a, b)
    return save(g, g.path)


def _run(graph: Path, env: dict[str, str], *extra: str) -> tuple[float, float, str]:
    """(engine seconds from the CLI's summary, process wall seconds, stderr)."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", "import sys; from nodeflow.cli import main; sys.exit(main())",
                        "run", str(graph), "-o", str(graph.parent), *extra], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(p.stderr)
    m = re.search(r"ran (\d+) node\(s\), (\d+) from cache, in ([0-9.]+) s", p.stderr)
    return float(m.group(3)), wall, p.stderr


def bench_longform_rerun(seconds: float = 20.0) -> None:
    """The long-form example (prompt -> MusicGen in continued windows -> fade -> export at -14 LUFS),
    on a tiny random-weight MusicGen saved to disk, cold in one process, then with the fade changed
    in a new process: the music comes from the disk cache, only the fade and the export run."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        print("cache_longform_rerun_last_node_speedup: skipped (goal >= 50x; needs the models extra)")
        return
    import shutil

    from .bench_models import STRIDE_S, _tiny_checkpoint
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ckpt = _tiny_checkpoint(folder / "tiny-musicgen")
        graph = folder / "longform.msgpack"
        shutil.copy(Path(__file__).resolve().parent.parent / "graphs" / "longform.msgpack", graph)
        env = dict(os.environ, AUDIOCHAIN_CACHE="on", AUDIOCHAIN_CACHE_DIR=str(folder / "values"),
                   HF_HUB_OFFLINE="1")
        sets = ["--set", f"music.checkpoint={ckpt}", "--set", f"music.duration_s={seconds:g}",
                "--set", f"music.extend_stride_s={STRIDE_S:g}"]
        cold, cold_wall, _ = _run(graph, env, *sets)
        warm, warm_wall, err = _run(graph, env, *sets, "--set", "fade.fade_out_s=3.0")
        if "cached music" not in err:
            raise RuntimeError(f"the re-run did not take the music from the disk cache:\n{err}")
        report("cache_longform_rerun_last_node_speedup", cold / warm,
               f"goal >= 50x; {seconds:g} s of tiny-MusicGen long-form: cold {cold:.2f} s, fade changed in a new "
               f"process {warm:.3f} s (engine time)", "{:.0f}x")
        report("cache_longform_rerun_process_speedup", cold_wall / warm_wall,
               f"whole processes incl. imports ({cold_wall:.1f} s vs {warm_wall:.1f} s); info", "{:.1f}x")
        # a template variable the prompt does not use: the prompt's key changes, its text does not
        same, _, err = _run(graph, env, *sets, "--set", "fade.fade_out_s=3.0", "--set", "prompt.variables=draft=2")
        if "cached music: its inputs are the same values" not in err:
            raise RuntimeError(f"the re-run after a prompt edit that keeps its text generated again:\n{err}")
        report("cache_same_prompt_text_edit_speedup", cold / same,
               f"goal >= 50x; an unused template variable added, in a new process: {same:.3f} s, the music from "
               "the disk cache by the value of its prompt (it generated again before)", "{:.0f}x")


def main() -> None:
    bench_longform_rerun()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        graph = _graph(folder)
        env = dict(os.environ, AUDIOCHAIN_CACHE="on", AUDIOCHAIN_CACHE_DIR=str(folder / "values"))
        cold, cold_wall, cold_err = _run(graph, env)
        warm, warm_wall, err = _run(graph, env, "--set", "fade.fade_out_s=4.0")
        if "cached vary" not in err:
            raise RuntimeError(f"the re-run did not take the variation from the disk cache:\n{err}")
        vary_s = float(re.search(r"done   vary \(([0-9.]+) s\)", cold_err).group(1))

        from nodeflow import load
        from nodeflow.diskcache import DiskCache
        from nodeflow.executor import Executor
        key = Executor(disk_cache=None).keys(load(graph))["vary"]
        values = DiskCache(folder / "values")
        t0 = time.perf_counter()
        assert values.get(key) is not None
        read_s = time.perf_counter() - t0
        report("cache_hit_vs_compute_variation", vary_s / read_s,
               f"goal >= 50x; {vary_s:.2f} s computed, {read_s * 1000:.0f} ms read back", "{:.0f}x")
        report("cache_rerun_last_node_engine_speedup", cold / warm,
               "goal >= 50x; the rerun fade + export of 60 s stereo cost what they cost", "{:.1f}x")
        report("cache_rerun_last_node_process_speedup", cold_wall / warm_wall,
               "whole processes incl. imports; info", "{:.1f}x")
        report("cache_rerun_engine_s", warm, f"cold {cold:.2f} s; info", "{:.3f}")

        from nodeflow import Audio
        dc = DiskCache(folder / "hit", 1 << 32)
        a = Audio(np.random.default_rng(0).uniform(-0.5, 0.5, (2, RATE * 60)).astype(np.float32), RATE)
        dc.put("ab" * 20, {"out": a})
        t0 = time.perf_counter()
        for _ in range(5):
            dc.get("ab" * 20)
        per_mib = (time.perf_counter() - t0) / 5 / (a.nbytes / (1 << 20))
        report("cache_disk_hit_ms_per_mib", per_mib * 1000, "goal <= 10 ms/MiB (the keep threshold)", "{:.2f}")


if __name__ == "__main__":
    main()
