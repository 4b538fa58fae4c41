"""A fine-tune whose token cache fills the disk stops with one line (it used to carry on and exit 0
with a damaged cache), and leaves no partial entry."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from nodeflow.errors import NodeflowError

pytest.importorskip("safetensors")


@pytest.fixture
def tiny_disk():
    d = Path(tempfile.mkdtemp(prefix="audiochain-full-"))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({r.stderr.decode().strip()})")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)
        d.rmdir()


def test_a_full_cache_disk_is_one_error_and_leaves_no_partial_entry(tiny_disk):
    from nodes.models.finetune.tokens import TokenCache
    cache = TokenCache(tiny_disk)
    info = {"codebooks": 4, "dropped_short": 0, "dropped_silent": 0, "seconds": 1.0}
    cache.put("aa" * 20, [np.ones((4, 500), np.int16)], [0], info)               # fits
    assert cache.get("aa" * 20).codes[0].shape == (4, 500)
    with pytest.raises(NodeflowError) as e:
        cache.put("bb" * 20, [np.ones((4, 100_000), np.int16)], [0], info)     # 800 kB on a 64 kB disk
    assert "No space left on device" in str(e.value) and "--cache-dir" in str(e.value) and "\n" not in str(e.value)
    files = sorted(p.name for p in tiny_disk.rglob("*") if p.is_file())
    assert files == ["aa" * 20 + ".safetensors"]
