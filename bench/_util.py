"""Shared timing helpers for the benchmarks."""
from __future__ import annotations

import time
from typing import Callable


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls (the least disturbed by a noisy machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_times(fn: Callable[[], object], repeat: int = 3) -> tuple[float, float]:
    """Best (wall, CPU) seconds of ``repeat`` calls: compare both, the machine is shared."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - w), min(cpu, time.process_time() - c)
    return wall, cpu


def report(name: str, value: float, goal: str, fmt: str = "{:.2f}") -> str:
    line = f"{name}: {fmt.format(value)} ({goal})"
    print(line, flush=True)
    return line
