"""Learning that a machine has no GPU costs no torch import (about 2 s), so a cached re-run of a
model graph on a CPU machine starts as fast as one without models."""
from __future__ import annotations

import subprocess
import sys

import pytest

from nodeflow import devices


def test_no_driver_files_means_cpu_without_torch():
    if not devices._no_gpu_driver():
        pytest.skip("this machine has GPU driver files: torch is asked")
    code = ("import sys; from nodeflow import devices; "
            "print(devices.resolve_device('auto'), devices.device_problem('auto'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "None", "False"]


def test_driver_files_make_torch_decide(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(sys, "platform", "linux")
    fake = tmp_path / "nvidiactl"
    monkeypatch.setattr(devices, "GPU_DEVICE_FILES", (str(tmp_path / "absent"),))
    assert devices._no_gpu_driver()
    fake.touch()
    monkeypatch.setattr(devices, "GPU_DEVICE_FILES", (str(fake),))
    assert not devices._no_gpu_driver()
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices._cuda_ok()                         # with a driver present, torch's answer counts


def test_macos_never_has_cuda_and_linux_never_has_mps(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert devices._no_gpu_driver() and not devices._cuda_ok()
    monkeypatch.setattr(sys, "platform", "linux")
    assert not devices._mps_ok()
