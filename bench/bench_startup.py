"""Short jobs are not mostly imports (issue 12): the CPU time of ``audiochain run graphs/demo.msgpack``
against the audio work alone, of ``audiochain --help`` and of ``import nodeflow``.

The audio work is the same graph run again in this process, imports warm, on a fresh executor with
no disk cache, measured as this process's CPU time (``time.process_time``); the command's CPU time is
its child's user + system time (``RUSAGE_CHILDREN``), so a shared machine's load does not count.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._util import report

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "graphs" / "demo.msgpack"
_PYCACHE = tempfile.TemporaryDirectory(prefix="audiochain-bench-pycache-")
CLI = [sys.executable, "-c", "import sys; from nodeflow.cli import main; sys.exit(main())"]


def child_cpu(cmd: list[str], repeat: int = 3) -> float:
    """Least CPU seconds (user + system) of ``repeat`` runs of ``cmd``, after one run that fills a
    bytecode cache (in a temporary folder): an installed package has its modules compiled, so
    compiling every module on every start (``PYTHONDONTWRITEBYTECODE=1``, set on this machine)
    would measure the environment rather than AudioChain."""
    best = float("inf")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = _PYCACHE.name
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return best


def audio_work_cpu(out: Path, repeat: int = 3) -> float:
    from nodeflow import Executor, load

    best = float("inf")
    Executor(disk_cache=None).run(load(DEMO), base_dir=DEMO.parent, output_dir=out)   # warm imports
    for _ in range(repeat):
        graph = load(DEMO)
        t = time.process_time()
        Executor(disk_cache=None).run(graph, base_dir=DEMO.parent, output_dir=out)
        best = min(best, time.process_time() - t)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run = child_cpu(CLI + ["run", str(DEMO), "--no-cache", "-o", str(out / "cli")])
        work = audio_work_cpu(out / "inproc")
    report("demo_run_cpu_s", run, "CPU of `audiochain run graphs/demo.msgpack` with compiled modules; 1.92 s before issue 12 (compiling every start)")
    report("demo_audio_work_cpu_s", work, "the same run in process, imports warm")
    report("demo_run_cpu_vs_audio_work", run / work, "goal <= 2x", "{:.2f}x")
    report("help_cpu_s", child_cpu(CLI + ["--help"]), "CPU of `audiochain --help`; 0.27 s before issue 12")
    report("import_nodeflow_cpu_s", child_cpu([sys.executable, "-c", "import nodeflow"]),
           "CPU of `python -c 'import nodeflow'` (numpy alone: ~0.14 s)")


if __name__ == "__main__":
    main()
