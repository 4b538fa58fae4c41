"""`make bench`: run every benchmark module and print one `name: value (goal ...)` line per measure."""
from __future__ import annotations

import importlib
import os
import sys
import traceback

MODULES = ["bench.bench_engine", "bench.bench_time", "bench.bench_sweep", "bench.bench_models", "bench.bench_demucs", "bench.bench_families", "bench.bench_finetune", "bench.bench_editor", "bench.bench_audition", "bench.bench_master", "bench.bench_cancel", "bench.bench_memory", "bench.bench_cache", "bench.bench_startup", "bench.bench_api", "bench.bench_tune"]


def main(argv: list[str]) -> int:
    # every "cold" figure must be cold: the user's disk cache would answer repeated runs (and runs of
    # earlier `make bench`es) instantly; bench_cache turns it on for its own processes
    os.environ.setdefault("AUDIOCHAIN_CACHE", "off")
    chosen = [m for m in MODULES if not argv or any(a in m for a in argv)]
    failed = 0
    for name in chosen:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        print(f"# {name}", flush=True)
        try:
            mod.main()
        except Exception:
            failed += 1
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
