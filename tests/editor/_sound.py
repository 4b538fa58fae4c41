"""Recording the PulseAudio null sink with ``parec`` (a C program, so the recording does not depend on
Python's scheduling) and counting dropouts in a steady tone.  On PipeWire, ``pw-profiler`` watches the
server's own graph through the take: a cycle the server woke late for is a quantum of silence in the
sink that no player can cover (QA: a 30 ms SIGSTOP of ``pipewire`` is one 10.7 ms gap, the player's
stream never underflowing), and a test retakes such a take rather than count it against the player."""
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


class ServerWatch:
    """``pw-profiler`` watching PipeWire's graph while a take is recorded (nothing on PulseAudio):
    :attr:`late` is how many cycles the server woke or finished late for, counted when it stops."""

    def __init__(self) -> None:
        self.late = 0
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
        self.late = _late_cycles(self._log.read_text() if self._log.exists() else "")
        shutil.rmtree(self._dir, ignore_errors=True)


def _late_cycles(profile: str) -> int:
    """The cycles a ``pw-profiler`` log shows late: it writes a cycle that came over 1.3 periods after the
    one before it as 1.4 periods in its first column; a change of quantum (a stream joining or leaving) is
    not lateness, nor is the first cycle it saw."""
    rows = [line.split("\t") for line in profile.splitlines()[1:]]
    cycles = [(float(r[0]), float(r[3])) for r in rows if len(r) > 3 and r[0].strip() and r[3].strip()]
    return sum(1 for i, (took, period) in enumerate(cycles)
               if i >= 2 and took > 1.3 * period and all(cycles[j][1] == period for j in range(i - 2, i)))


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
    def data(self) -> np.ndarray:
        return np.fromfile(self.path, dtype="<f4").reshape(-1, 2)


@functools.cache
def on_pipewire() -> bool:
    """Whether the PulseAudio server the tests reach is PipeWire's, whose graph ``pw-profiler`` watches."""
    info = subprocess.run(["pactl", "info"], capture_output=True, text=True, timeout=10).stdout
    return "on PipeWire" in info and subprocess.run(["which", "pw-profiler"], capture_output=True).returncode == 0


T = TypeVar("T")


def on_time_take(path: Path, play: Callable[[], T], tries: int = 3) -> tuple[np.ndarray, T]:
    """Record ``play()`` to ``path`` again while the server's own graph ran late during the take (at
    most ``tries`` takes; the last is kept whatever happened): the recording and what ``play`` gave."""
    for _ in range(tries):
        with Parec(path) as rec:
            got = play()
        if not rec.server_late:
            break
    return rec.data, got


def dropouts(x: np.ndarray, rate: int = RATE, min_s: float = 0.001) -> dict:
    """Silent runs of at least ``min_s`` inside a recorded steady tone (first to last sound)."""
    m = x[:, 0] if x.ndim == 2 else x
    loud = np.flatnonzero(np.abs(m) > SILENT)
    if not len(loud):
        return {"count": 0, "gap_s": 0.0, "longest_s": 0.0, "span_s": 0.0}
    span = m[loud[0]:loud[-1] + 1]
    quiet = np.concatenate([[0], (np.abs(span) < SILENT).astype(np.int8), [0]])
    d = np.diff(quiet)
    lens = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
    gaps = lens[lens >= int(min_s * rate)]
    return {"count": int(len(gaps)), "gap_s": float(gaps.sum() / rate),
            "longest_s": float(gaps.max() / rate) if len(gaps) else 0.0, "span_s": len(span) / rate}


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
