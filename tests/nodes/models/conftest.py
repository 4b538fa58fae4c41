"""Fixtures for the model-node tests: tiny random checkpoints of the real architectures, built once
per session, saved with save_pretrained (safetensors) and loaded through the real loading path."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"          # no test ever reaches a model hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))

pytest.importorskip("torch")
pytest.importorskip("transformers")

import tiny_models  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """name -> folder of every tiny checkpoint (musicgen, musicgen_short, musicgen_stereo_short,
    musicgen_melody, musicgen_melody_short, bark)."""
    return tiny_models.build_all(tmp_path_factory.mktemp("tiny-checkpoints"))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread; on a shared 2-core machine torch's default thread
    pool oversubscribes the cores and slows these tests down five-fold.  Restored afterwards."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face hub cache for this test (HF_HUB_CACHE points at it)."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


@pytest.fixture()
def fresh_model_cache(monkeypatch):
    """A fresh process-wide model cache, so load counts start at zero."""
    from nodeflow import modelcache
    cache = modelcache.ModelCache()
    monkeypatch.setattr(modelcache, "_default", cache)
    return cache
