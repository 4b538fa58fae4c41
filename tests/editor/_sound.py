"""Recording the PulseAudio null sink with ``parec`` (a C program, so the recording does not depend on
Python's scheduling) and counting dropouts in a steady tone.  On PipeWire, ``pw-profiler`` watches the
server's own graph through the take: a cycle the server woke late for, or one that ended before the server
ran its client streams, is a quantum of silence in the sink that no player can cover (QA: a 30 ms SIGSTOP
of ``pipewire`` is one 10.7 ms gap, the player's stream never underflowing; stop 56's CI: ``pipewire-pulse``
not woken to run its clients within a cycle, the same gap).  A test retakes such a take; in the take it
keeps, :func:`dropouts` leaves out a gap only where the profile places a missed cycle (within
:data:`MISSED_NEAR_S`), never one anywhere else."""
from __future__ import annotations

import functools
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

RATE = 48000
SILENT = 1e-3          # a 0.25-amplitude sine is below this for ~1 us per zero crossing: far under a sample
MISSED_NEAR_S = 0.05   # a gap this close to where the profile places a missed cycle is that cycle's (seen: 15-21 ms)
FINISHED = "3"         # pw-profiler's status of a client that ran within its cycle


class Take(np.ndarray):
    """A recording (frames x 2) that knows where PipeWire's graph missed a cycle during it:
    :attr:`missed` is ``(frame, frames)`` for each, placed from the profile (empty on PulseAudio, and
    on any slice or copy of it: those frames are not the recording's)."""

    missed: tuple[tuple[int, int], ...] = ()

    def __array_finalize__(self, obj: object) -> None:
        self.missed = ()


class ServerWatch:
    """``pw-profiler`` watching PipeWire's graph while a take is recorded (nothing on PulseAudio):
    :attr:`late` is how many cycles the server woke or finished late for, counted when it stops."""

    def __init__(self) -> None:
        self.late = 0
        self.missed: list[tuple[float, int]] = []    # (seconds after the first client joined, frames)
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not on_pipewire():
            return
        self._dir = Path(tempfile.mkdtemp(prefix="pw-profile-"))        # its plot scripts land there too
        self._log = self._dir / "profile.log"
        self._proc = subprocess.Popen(["pw-profiler", "-o", str(self._log)], cwd=self._dir,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10          # watching: the graph's cycles are coming in
        while time.monotonic() < end and (not self._log.exists() or self._log.stat().st_size < 2000):
            time.sleep(0.02)

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)
        self._proc.wait(10)
        self._proc = None
        self.late, self.missed = _late_cycles(self._log.read_text() if self._log.exists() else "")
        shutil.rmtree(self._dir, ignore_errors=True)


def _late_cycles(profile: str) -> tuple[int, list[tuple[float, int]]]:
    """The cycles a ``pw-profiler`` log shows late, and where the ones that left the sink silent lie.

    Each row is a cycle: period, its end, the clock's delay and the quantum (us), then 8 columns per
    client (id, its signal, wake and finish times, two durations, status, xruns).  A cycle that came over
    1.3 periods after the one before it is written as 1.4 periods in the first column (a change of quantum,
    a stream joining or leaving, is not lateness, nor is the first cycle it saw); a client whose status
    is not "finished" was not run within the cycle: the sink had nothing of it for that quantum.  Gives how
    many cycles were late or missed, and each run of missed cycles as (seconds after the first client
    joined the others during the log, its quanta in frames); none to place when no client joined (a
    client that takes another's place, as the previous take's recorder, is not a join)."""
    rows = [line.split("\t") for line in profile.splitlines()[1:]]
    rows = [r for r in rows if len(r) > 3 and r[0].strip() and r[3].strip()]
    cycles = [(float(r[0]), float(r[3])) for r in rows]
    clients = [[r[j:j + 8] for j in range(4, len(r) - 7, 8) if r[j].strip()] for r in rows]
    late = {i for i, (took, period) in enumerate(cycles)
            if i >= 2 and took > 1.3 * period and all(cycles[j][1] == period for j in range(i - 2, i))}
    missed = [i for i, cs in enumerate(clients) if any(c[6].strip() != FINISHED for c in cs)]
    ids = [{c[0] for c in cs} for cs in clients]
    join = next((i for i in range(1, len(ids)) if ids[i] > ids[i - 1]), None)
    starts = np.concatenate([[0.0], np.cumsum([took for took, _ in cycles])]) / 1e6
    if join is None:
        return len(late | set(missed)), []
    runs: list[list[int]] = []                      # missed cycles in a row after the join, each run one gap
    for i in (i for i in missed if i > join):
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    placed = [(float(starts[r[0]] - starts[join]), sum(round(cycles[i][1] * RATE / 1e6) for i in r)) for r in runs]
    return len(late | set(missed)), placed


class Parec:
    """``with Parec(path) as rec: ...`` records ``nullsink.monitor`` to ``path`` (float32 stereo 48 kHz);
    ``rec.server_late`` then says whether PipeWire's own graph ran late during the take."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.watch = ServerWatch()

    def __enter__(self) -> "Parec":
        self.proc = subprocess.Popen(["parec", "-d", "nullsink.monitor", "--format=float32le", f"--rate={RATE}",
                                      "--channels=2", "--latency-msec=50", str(self.path)])
        self._wait_for(0.2)                  # recording for real (parec may take a while on a busy machine)
        self.watch.start()
        return self

    def _frames(self) -> int:
        return self.path.stat().st_size // 8 if self.path.exists() else 0

    def _wait_for(self, seconds: float, timeout: float = 30.0) -> None:
        want, end = self._frames() + int(seconds * RATE), time.monotonic() + timeout
        while self._frames() < want and time.monotonic() < end and self.proc.poll() is None:
            time.sleep(0.02)

    def __exit__(self, *exc) -> None:
        self._wait_for(0.4)                  # the sound's tail is in the file
        self.proc.terminate()
        self.proc.wait(10)
        self.watch.stop()

    @property
    def server_late(self) -> int:
        """Cycles PipeWire's graph woke or finished late for while recording (0 on PulseAudio)."""
        return self.watch.late

    @property
    def data(self) -> Take:
        """What is recorded so far (whole frames: parec may be writing one)."""
        raw = np.fromfile(self.path, dtype="<f4") if self.path.exists() else np.zeros(0, np.float32)
        return placed(raw[:len(raw) // 2 * 2].reshape(-1, 2), self.watch)


def placed(x: np.ndarray, watch: ServerWatch) -> Take:
    """The recording ``x`` as a :class:`Take`, the cycles ``watch`` saw PipeWire miss placed from its first
    sound: where the player's stream joined the graph (a stream is filled before it starts)."""
    take = x.view(Take)
    loud = np.flatnonzero(np.abs(x[:, 0]) > SILENT)
    if len(loud):
        take.missed = tuple((int(loud[0] + s * RATE), n) for s, n in watch.missed)
    return take


@functools.cache
def on_pipewire() -> bool:
    """Whether the PulseAudio server the tests reach is PipeWire's, whose graph ``pw-profiler`` watches."""
    info = subprocess.run(["pactl", "info"], capture_output=True, text=True, timeout=10).stdout
    return "on PipeWire" in info and subprocess.run(["which", "pw-profiler"], capture_output=True).returncode == 0


T = TypeVar("T")


def on_time_take(path: Path, play: Callable[[], T], tries: int = 3) -> tuple[Take, T]:
    """Record ``play()`` to ``path`` again while the server's own graph ran late during the take (at
    most ``tries`` takes; the last is kept whatever happened): the recording and what ``play`` gave."""
    for _ in range(tries):
        with Parec(path) as rec:
            got = play()
        if not rec.server_late:
            break
    return rec.data, got


def dropouts(x: np.ndarray, rate: int = RATE, min_s: float = 0.001) -> dict:
    """Silent runs of at least ``min_s`` inside a recorded steady tone (first to last sound); in a
    :class:`Take`, a run where PipeWire missed cycles, no longer than their quanta, is the server's: it is
    counted apart (``"server"``), not in ``"count"``."""
    runs, span = _silent_runs(x, rate, min_s)
    servers = _servers(runs, x, rate)
    gaps = np.array([n for a, n in runs if (a, n) not in servers], dtype=np.int64)
    return {"count": int(len(gaps)), "gap_s": float(gaps.sum() / rate),
            "longest_s": float(gaps.max() / rate) if len(gaps) else 0.0, "span_s": span / rate,
            "server": len(servers)}


def server_gaps(x: np.ndarray, rate: int = RATE, min_s: float = 0.001) -> list[tuple[int, int]]:
    """The silent runs (first frame, frames) of a :class:`Take` that are PipeWire's: each within
    :data:`MISSED_NEAR_S` of where the profile places cycles it missed, and no longer than their quanta."""
    return _servers(_silent_runs(x, rate, min_s)[0], x, rate)


def _servers(runs: list[tuple[int, int]], x: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """Those of ``x``'s silent ``runs`` that are PipeWire's (see :func:`server_gaps`)."""
    missed = getattr(x, "missed", ())
    return [(a, n) for a, n in runs if any(abs(a - at) <= MISSED_NEAR_S * rate and n <= q + 1 for at, q in missed)]


def steps(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """How far each sample of the first channel moves from the one before, from ``start`` to ``stop``
    (a click is a large one); the way into and out of PipeWire's own gaps (:func:`server_gaps`) is not
    counted: there the sink had nothing for a quantum."""
    d = np.abs(np.diff(np.asarray(x[:, 0], np.float64)))
    for a, n in server_gaps(x):
        d[max(a - 2, 0):a + n + 1] = 0.0
    return d[start:stop]


def _silent_runs(x: np.ndarray, rate: int, min_s: float) -> tuple[list[tuple[int, int]], int]:
    """Silent runs of at least ``min_s`` between the first and last sound, (first frame, frames), and
    how many frames lie from the first sound to the last."""
    m = np.asarray(x[:, 0] if x.ndim == 2 else x)
    loud = np.flatnonzero(np.abs(m) > SILENT)
    if not len(loud):
        return [], 0
    span = m[loud[0]:loud[-1] + 1]
    d = np.diff(np.concatenate([[0], (np.abs(span) < SILENT).astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    lens = np.flatnonzero(d == -1) - starts
    return [(int(a + loud[0]), int(n)) for a, n in zip(starts, lens) if n >= int(min_s * rate)], len(span)


def seconds_at(x: np.ndarray, hz: float, rate: int = RATE) -> float:
    """How long the recording is dominated by ``hz`` (10 ms blocks)."""
    m = x[:, 0] if x.ndim == 2 else x
    blk = rate // 100
    n = len(m) // blk
    b = m[:n * blk].reshape(n, blk) * np.hanning(blk)
    spec = np.abs(np.fft.rfft(b, axis=1))
    freqs = np.fft.rfftfreq(blk, 1 / rate)
    loud = np.sqrt(np.mean(b ** 2, axis=1)) > 0.01
    return float(((spec.argmax(axis=1) == np.argmin(np.abs(freqs - hz))) & loud).sum() / 100)
