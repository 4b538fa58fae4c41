"""kill -9 at random moments of export, pack, unpack and token-cache writes (12 each): a target is either absent or
complete, never partial, and the next run into the same folder leaves no temp file behind."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "fixtures" / "kill_worker.py"
KILLS = 12
SECONDS = 20.0          # of stereo 48 kHz audio: an export takes about a second
WINDOW_S = 2.0          # kills land within this long after start-up: the worker writes again and again, so this
                        # spans whole writes of every kind (pack, unpack and a cache entry take less than one)


def _source(work: Path) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(SECONDS * 48000)) / 48000
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t)) + 0.05 * rng.standard_normal(len(t))
    x = np.stack([x, np.roll(x, 11)]).T.astype(np.float32)
    sf.write(work / "long.wav", x, 48000, subtype="PCM_24")
    return x


def _kill_at_random(kind: str, work: Path, rng: random.Random) -> Path | None:
    """Start the worker, kill -9 it at a random moment of its writes; the target it was writing."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, str(WORKER), kind, str(work)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, WINDOW_S))
    finally:
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=30)
    targets = [line for line in out.splitlines() if line.strip()]
    return Path(targets[-1]) if targets else None


def _complete_audio(path: Path, frames: int) -> None:
    info = sf.info(str(path))
    assert info.frames == frames, f"{path.name}: {info.frames} of {frames} frames"
    data, _ = sf.read(str(path))
    assert len(data) == frames


def _temps(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(".") and (".tmp" in n or ".part" in n
                                                                          or n.startswith(".unpack-")))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["export", "pack", "unpack", "cache"])
def test_kill_9_never_leaves_a_partial_target(kind, tmp_path):
    from nodeflow import load
    from nodeflow.cli import main

    rng = random.Random(sum(map(ord, kind)))
    if kind == "cache":
        pytest.importorskip("safetensors")
        return _kill_cache_writes(tmp_path, rng)
    x = _source(tmp_path)
    if kind == "unpack":
        from nodeflow import Graph, save
        g = Graph()
        g.path = tmp_path / "g.msgpack"
        a = g.add("io.load", id="load", path="long.wav")
        e = g.add("io.export", id="export", path="take.flac")
        g.connect(a.out, e.audio)
        save(g, tmp_path / "g.msgpack")
        assert main(["pack", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "gift.acbundle")]) == 0
    seen = {"absent": 0, "complete": 0}
    for _ in range(KILLS):
        target = _kill_at_random(kind, tmp_path, rng)
        if target is None or not target.exists():
            seen["absent"] += 1
            continue
        seen["complete"] += 1
        if kind == "export":
            _complete_audio(target, len(x))
        elif kind == "pack":
            with zipfile.ZipFile(target) as z:
                assert z.testzip() is None
        else:                                   # each file it placed is whole
            placed = [f for f in target.rglob("*") if f.is_file() and not any(p.startswith(".") for p in
                                                                                 f.relative_to(target).parts)]
            for f in placed:
                if f.suffix == ".wav":
                    _complete_audio(f, len(x))
                elif f.suffix == ".msgpack":
                    load(f)
    print(f"kill -9 during {kind}: {KILLS} kills, target absent {seen['absent']}, complete {seen['complete']}, "
          "partial 0")
    folder = {"export": tmp_path / "out", "pack": tmp_path, "unpack": target or tmp_path / "again"}[kind]
    folder.mkdir(exist_ok=True)
    # the next run into the same folder clears what the killed ones left
    if kind == "export":
        assert main(["run", str(tmp_path / "g.msgpack"), "-q", "-o", str(folder)]) == 0
    elif kind == "pack":
        assert main(["pack", str(tmp_path / "g.msgpack"), "-o", str(folder / "final.acbundle")]) == 0
    else:
        assert main(["unpack", str(tmp_path / "gift.acbundle"), "-o", str(folder)]) == 0
    assert _temps(folder) == []


def _kill_cache_writes(tmp_path: Path, rng: random.Random) -> None:
    from nodes.models.finetune.tokens import TokenCache
    cache = TokenCache(tmp_path / "cache")
    seen = {"absent": 0, "complete": 0}
    for _ in range(KILLS):
        target = _kill_at_random("cache", tmp_path, rng)
        if target is None or not target.exists():
            seen["absent"] += 1
        else:
            seen["complete"] += 1
    entries = list((tmp_path / "cache").rglob("*.safetensors"))
    for f in entries:                    # every entry there reads back whole
        assert cache.get(f.stem) is not None and cache.get(f.stem).codes[0].shape == (4, 2_000_000), f.name
    print(f"kill -9 during cache writes: {KILLS} kills, target absent {seen['absent']}, complete {seen['complete']}, "
          f"partial 0; {len(entries)} entries all whole")
    info = {"codebooks": 4, "dropped_short": 0, "dropped_silent": 0, "seconds": 1.0}
    import numpy as np
    TokenCache(tmp_path / "cache").put("f" * 40, [np.zeros((4, 10), np.int16)], [0], info)   # the next run clears

    assert [p.name for f in (tmp_path / "cache").iterdir() for p in f.iterdir() if p.name.startswith(".")] == []
