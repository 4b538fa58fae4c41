"""What a separation writes: stems exported as files a DAW user can tell apart by name, tags read
back with ffprobe (a tool AudioChain did not write); on a tiny random HTDemucs (tests/fixtures)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("demucs")

from nodeflow import Executor, Graph  # noqa: E402

from .helpers import write_clip  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_demucs  # noqa: E402


def _tags(path: Path) -> dict[str, str]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {k.lower(): v for k, v in json.loads(out)["format"].get("tags", {}).items()}


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
@pytest.mark.parametrize("sources", [("drums", "bass", "other", "vocals"), tiny_demucs.SIX])
def test_exported_stems_are_named_after_what_they_hold(tmp_path, sources):
    """QA57 D16: ``stems`` into one export wrote ``mix_1.flac .. mix_4.flac``; which was the drums was
    only in a tag.  Now each file's name says it, in the model's order, and agrees with its tag."""
    ck = tiny_demucs.build(tmp_path / "ckpt" / "tiny", sources=sources)
    t = np.arange(44100) / 44100
    write_clip(tmp_path / "mix.wav", np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2), 44100)
    g = Graph()
    g.path = tmp_path / "sep.msgpack"
    g.add("io.load", id="load", path="mix.wav")
    g.add("models.demucs_6s" if len(sources) == 6 else "models.demucs", id="sep", checkpoint=str(ck), device="cpu")
    g.add("io.export", id="export", path="mix.flac")
    g.connect("load.out", "sep.audio")
    g.connect("sep.stems", "export.audio")
    files = [Path(p) for p in Executor().run(g, output_dir=tmp_path / "out")["export"]["out"]]
    assert [f.name for f in files] == [f"mix_{i + 1}_{s}.flac" for i, s in enumerate(sources)]
    assert [_tags(f)["stem"] for f in files] == list(sources)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
def test_a_local_checkpoint_is_named_in_the_files_by_its_folder_never_its_path(tmp_path):
    """QA57 D10: Demucs, with its own loader, tagged ``checkpoint=../ckpt/demucs`` (the path as typed);
    every other family writes the folder's name (a shared file carries no local path)."""
    ck = tiny_demucs.build(tmp_path / "ckpt" / "my-demucs")
    (tmp_path / "song").mkdir()
    t = np.arange(44100) / 44100
    write_clip(tmp_path / "song" / "mix.wav", np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2), 44100)
    g = Graph()
    g.path = tmp_path / "song" / "sep.msgpack"
    g.add("io.load", id="load", path="mix.wav")
    g.add("models.demucs", id="sep", checkpoint="../ckpt/my-demucs", device="cpu")
    g.add("io.export", id="export", path="mix.flac", embed_graph=False)
    g.connect("load.out", "sep.audio")
    g.connect("sep.stems", "export.audio")
    files = [Path(p) for p in Executor().run(g, output_dir=tmp_path / "out")["export"]["out"]]
    tags = [_tags(f) for f in files]
    assert [t["checkpoint"] for t in tags] == ["my-demucs"] * 4, tags
    assert all("ckpt" not in v for t in tags for v in t.values()), tags
