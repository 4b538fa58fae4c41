"""Decodes whose length no header gives, inside a run: they take what they grow past the run's estimate
from the memory the run has room for, side by side, and a file that reached the decode limit is not
decoded again (QA79 D4: three loads of a 375 KB FLAC with its length zeroed decoded 4 GiB apiece, 14.5 GB
in all against an 11.8 GiB limit, and 63 s)."""
from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Executor, Graph
from nodeflow.errors import ExecutionError
from nodes.io import _decode

MiB = 1 << 20
SECONDS, RATE = 30, 384000          # 11.5 M frames of silence: 44 MiB of float32 from a FLAC of ~100 KiB


def _no_length_bomb(path: Path) -> Path:
    """A FLAC of silence whose STREAMINFO gives no length (0: allowed by the spec, as a streamed FLAC)."""
    block = np.zeros(RATE, np.float32)
    with sf.SoundFile(str(path), "w", RATE, 1, format="FLAC", subtype="PCM_16") as f:
        for _ in range(SECONDS):
            f.write(block)
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0
    data[21] &= 0xF0
    data[22:26] = bytes(4)
    path.write_bytes(bytes(data))
    with sf.SoundFile(str(path)) as f:
        assert f.frames >= 1 << 62 or f.frames == 0, f.frames       # libsndfile: no length
    return path


def _three_loads(folder: Path, names: list[str]) -> Graph:
    g = Graph()
    for i, name in enumerate(names):
        g.add("io.load", id=f"l{i}", path=name)
    g.add("dsp.concat", id="c1")
    g.add("dsp.concat", id="c2")
    g.add("io.export", id="export", path="out.flac")
    g.connect("l0.out", "c1.a")
    g.connect("l1.out", "c1.b")
    g.connect("c1.out", "c2.a")
    g.connect("l2.out", "c2.b")
    g.connect("c2", "export")
    g.path = folder / "three.msgpack"
    return g


def _traced(fn):
    """``fn()``'s exception, the traced peak and what is still traced after it (the exception held)."""
    tracemalloc.start()
    try:
        try:
            fn()
        except ExecutionError as e:
            err = e
        else:
            raise AssertionError("the run was not refused")
        current, peak = tracemalloc.get_traced_memory()
        return err, peak, current
    finally:
        tracemalloc.stop()


def test_side_by_side_loads_of_unknown_length_stay_within_the_runs_memory(tmp_path, monkeypatch):
    bomb = _no_length_bomb(tmp_path / "a.flac")
    for name in ("b.flac", "c.flac"):          # three files: none is refused for another's decode
        shutil.copy(bomb, tmp_path / name)
    monkeypatch.setenv("AUDIOCHAIN_MAX_MEMORY_GB", "0.1")      # 102 MiB; the three decode to 132 MiB, concat twice
    g = _three_loads(tmp_path, ["a.flac", "b.flac", "c.flac"])
    assert g.problems(output_dir=tmp_path / "out") == []      # estimated at 16 samples per byte: a few MiB each
    events: list = []
    err, peak, current = _traced(lambda: Executor(max_workers=3).run(g, output_dir=tmp_path / "out", keep_going=True,
                                                                      on_event=events.append))
    said = [str(e.get("message", "")) if isinstance(e, dict) else str(getattr(e, "message", "")) for e in events]
    text = str(err) + "\n" + "\n".join(said)
    assert "decodes to more than the run's memory has room for" in text, text
    assert "AUDIOCHAIN_MAX_MEMORY_GB" in text and "header gives no length" in text
    assert peak < 102 * MiB, f"traced peak {peak / MiB:.0f} MiB over the 102 MiB limit"
    assert current < 16 * MiB, f"{current / MiB:.0f} MiB still held after the run"   # failed decodes let go
    assert not (tmp_path / "out" / "out.flac").exists()
    # with the room, the same run makes its file
    monkeypatch.setenv("AUDIOCHAIN_MAX_MEMORY_GB", "2")
    Executor(max_workers=3).run(g, output_dir=tmp_path / "out")
    assert sf.info(str(tmp_path / "out" / "out.flac")).frames == 3 * SECONDS * RATE


def test_a_file_that_reached_the_decode_limit_is_decoded_once_per_process(tmp_path, monkeypatch):
    _no_length_bomb(tmp_path / "a.flac")
    monkeypatch.setenv(_decode.MAX_DECODE_ENV, "0.02")          # 20.5 MiB: the file decodes to 44
    decodes = []
    real = _decode._read_blocks
    monkeypatch.setattr(_decode, "_read_blocks", lambda *a, **k: decodes.append(1) or real(*a, **k))
    g = _three_loads(tmp_path, ["a.flac"] * 3)
    for i in range(3):
        g.set(f"l{i}", "start_s", 0.0)
    err, peak, current = _traced(lambda: Executor(max_workers=1).run(g, output_dir=tmp_path / "out", keep_going=True))
    assert "decodes to more than the limit of 20.5 MiB" in str(err) and _decode.MAX_DECODE_ENV in str(err)
    assert len(decodes) == 1, f"decoded {len(decodes)} times"
    assert current < 16 * MiB, f"{current / MiB:.0f} MiB still held after the run"
    # a higher limit, or a changed file, decodes again
    monkeypatch.setenv(_decode.MAX_DECODE_ENV, "0.03")
    with pytest.raises(ExecutionError, match="limit of 30.7 MiB"):
        Executor(max_workers=1).run(g, output_dir=tmp_path / "out")
    assert len(decodes) == 2
    _no_length_bomb(tmp_path / "a.flac")
    with pytest.raises(ExecutionError, match="limit of 30.7 MiB"):
        Executor(max_workers=1).run(g, output_dir=tmp_path / "out")
    assert len(decodes) == 3


def test_a_span_loads_after_the_whole_file_reached_the_limit(tmp_path, monkeypatch):
    """QA80 D2: the fix the refusal suggests (load a span with start_s/end_s) was refused in turn, in the
    same process (the editor's), for the whole file's refusal."""
    from nodes.io.load import load
    from tests.nodes._io_helpers import context
    _no_length_bomb(tmp_path / "a.flac")
    monkeypatch.setenv(_decode.MAX_DECODE_ENV, "0.02")
    with pytest.raises(Exception, match="decodes to more than the limit of 20.5 MiB"):
        load.fn(path="a.flac", ctx=context(tmp_path))
    part = load.fn(path="a.flac", end_s=5.0, ctx=context(tmp_path))
    assert part.frames == 5 * RATE and not part.samples.any()
    later = load.fn(path="a.flac", start_s=20.0, end_s=26.0, ctx=context(tmp_path))
    assert later.frames == 6 * RATE
