import atexit
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests never write into the user's value cache: one private folder for the session (processes and
# executors made at import time), and a fresh one per test (see _private_value_cache).
os.environ["AUDIOCHAIN_CACHE_DIR"] = tempfile.mkdtemp(prefix="audiochain-values-")
atexit.register(shutil.rmtree, os.environ["AUDIOCHAIN_CACHE_DIR"], True)


@pytest.fixture(autouse=True)
def _private_value_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own empty on-disk value cache and state folder, so no test sees another's entries."""
    monkeypatch.setenv("AUDIOCHAIN_CACHE_DIR", str(tmp_path_factory.mktemp("values")))
    # nor into the user's state folder (recent files, where saved graphs' far inputs are: nodeflow.places)
    monkeypatch.setenv("AUDIOCHAIN_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.delenv("AUDIOCHAIN_CACHE", raising=False)
