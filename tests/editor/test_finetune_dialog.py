"""Tools > Fine-tune MusicGen in the real editor window (issue 6's dialog), under Xvfb.

The Tools menu is filled from the ``audiochain.editor_tools`` entry points; the fine-tuning
dialog trains a tiny random MusicGen of the real architecture (saved with save_pretrained and
loaded through the real path) on generated tone FLAC files, in the editor's own process.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tests._weights import write_weights

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
RATE = 32000


def tones(folder: Path, n: int = 3, seconds: float = 3.0) -> Path:
    """``n`` mono FLAC loops of 0.2 s notes (a different melody each), amplitude 0.4."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * RATE)) / RATE
    for i in range(n):
        notes = np.array([220.0, 330.0, 440.0, 262.0]) * (1 + 0.25 * i)
        f = notes[(t / 0.2).astype(int) % len(notes)]
        sf.write(str(folder / f"{i + 1:02d}_take.flac"), (0.4 * np.sin(2 * np.pi * np.cumsum(f) / RATE)).astype(
            np.float32), RATE)
    return folder


def tiny_musicgen(folder: Path) -> Path:
    """The tiny MusicGen with a 1 s window (tests/fixtures/tiny_models.py), saved as a checkpoint."""
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_models
    return tiny_models.build_all(folder, ("musicgen_short",))["musicgen_short"]


@pytest.fixture
def ft_editor(editor):
    editor.env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1",
                      AUDIOCHAIN_CACHE_DIR=str(editor.tmp / "cache" / "values"))
    return editor


def test_dialog_trains_shows_progress_and_puts_the_adapter_in_the_graph(ft_editor):
    ed = ft_editor
    tones(ed.tmp / "recordings")
    tiny_musicgen(ed.tmp / "ckpt").rename(ed.tmp / "tiny-musicgen")
    st = ed.run("finetune_train", timeout=240)
    assert st["tools_loaded"] == ["finetune"] and st["failed"] == {}
    assert st["opened"], "a real click on Tools > Fine-tune MusicGen... opened the dialog"
    assert st["default_base"] == "facebook/musicgen-small" and st["default_out"].endswith("adapters/mine")
    assert st["browse_shown"] and st["data_field"] == str(ed.tmp / "recordings")
    assert st["typed"] == ["calm piano", 24]

    run = st["run1"]
    assert run["phase"] == "finished", run["message"]
    assert run["progress"] == pytest.approx(1.0) and run["overlay"] == "done: 24 steps"
    loss, val = (float(x.split()[-1]) for x in run["loss_text"].split("    ")[:2])
    assert 0 < loss < 12 and 0 < val < 12                   # both shown as numbers (ln 2048 = 7.6 untrained)
    assert run["message"].startswith(f"finished. Adapter: {st['adapter']}") and run["use_shown"]
    assert st["status_after_run"] == f"fine-tuning finished: {st['adapter']}"
    train = [e for e in st["run1_events"] if e[0] == "train"]
    assert [e[1] for e in train] == list(range(1, 25)) and all(e[2] > 0 for e in train)
    assert train[-1][3] is not None, "the last step reports a validation loss"
    # the window kept drawing while the thread trained: frames showed intermediate steps
    middle = {s[2] for s in st["seen_train"] if 0 < s[1] < 1}
    assert len(middle) >= 3 and all(o.startswith("step ") and o.endswith(" / 24") for o in middle)
    # files are counted from 1, in order; a frame shows the latest of the events that came since the one before
    # (ci121: file 1 was read within a frame, and the first frame seen showed file 2)
    reading = [s[2] for s in st["seen_data"] if s[2].startswith("reading data")]
    assert reading == sorted(reading) and set(reading) <= {f"reading data: file {k} of 3" for k in (1, 2, 3)}, reading
    assert st["seen_data"][-1][1:3] == [1.0, "data ready: 3 file(s); starting to train"]

    adapter = Path(st["adapter"])
    assert adapter == ed.tmp / "adapters" / "mine" / "adapter_model.safetensors" and adapter.stat().st_size > 1000
    manifest = json.loads((adapter.parent / "manifest.json").read_text())
    assert manifest["steps"] == 24 and manifest["hyperparameters"]["rank"] == 4
    assert manifest["hyperparameters"]["instance_prompt"] == "calm piano"
    assert manifest["hyperparameters"]["learning_rate"] == pytest.approx(1e-2)
    assert manifest["hyperparameters"]["batch_size"] == 2 and manifest["hyperparameters"]["alpha"] == 8.0

    added = {n: v for n, v in st["nodes_after_use"].items() if v["type"] == "models.musicgen"}
    assert len(added) == 1
    (nid, node), = added.items()
    assert node["params"]["adapter"] == str(adapter)
    assert node["params"]["checkpoint"] == str(ed.tmp / "tiny-musicgen") and node["params"]["prompt"] == "calm piano"
    assert st["undo_label"] == "add musicgen" and nid in st["drawn_after_use"]
    assert nid not in st["nodes_after_undo"] and nid in st["nodes_after_redo"]

    stop = st["stop"]
    assert stop["phase"] == "stopped" and st["stopping_overlay"].endswith("(stopping: saving a checkpoint)")
    assert stop["message"].startswith(f"stopped at step {st['stopped_step']}; checkpoint saved in ")
    assert stop["resume"] is True and not stop["use_shown"]
    n = st["stopped_step"]
    assert st["checkpoints"] == ["latest.json", f"step-{n:07d}"], "the engine's cancel checkpoint, no adapter yet"
    assert st["continued"]["phase"] == "finished", st["continued"]["message"]
    assert st["continued"]["steps"] == [n + 1, n + 2, n + 3], "continue picks up at the saved step"


def broken_plugins(folder: Path) -> Path:
    """Two installed (dist-info) editor tools that fail: one names a missing module, one raises."""
    info = folder / "acme_tools-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-tools\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[audiochain.editor_tools]\nacme_missing = acme_no_such_module:add_tool\n"
                                           "acme_raises = acme_raising_tool:add_tool\n")
    (folder / "acme_raising_tool.py").write_text(
        "def add_tool(editor):\n    raise RuntimeError('acme tools need a licence key in ~/.acme')\n")
    return folder


def test_mistakes_are_shown_in_the_dialog_and_broken_tools_in_the_status_bar(ft_editor):
    import os
    ed = ft_editor
    ed.env["PYTHONPATH"] = str(broken_plugins(ed.tmp / "plugins")) + os.pathsep + ed.env["PYTHONPATH"]
    (ed.tmp / "empty").mkdir()
    tones(ed.tmp / "recordings", n=1, seconds=1.0)
    bark = ed.tmp / "not-musicgen"                  # a transformers checkpoint of another model
    bark.mkdir()
    (bark / "config.json").write_text(json.dumps({"model_type": "bark"}))
    write_weights(bark / "model.safetensors")
    (ed.tmp / "used").mkdir()
    (ed.tmp / "used" / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    st = ed.run("finetune_errors", timeout=120)

    # the editor works and its own tool loaded; the two broken ones are named with their reasons
    assert st["loaded"] == ["finetune"] and set(st["failed"]) == {"acme_missing", "acme_raises"}
    assert st["failed"]["acme_missing"] == "ModuleNotFoundError: No module named 'acme_no_such_module'"
    assert st["failed"]["acme_raises"] == "RuntimeError: acme tools need a licence key in ~/.acme"
    assert st["status_error_at_start"] and st["status_at_start"].startswith("editor tool(s) failed to load: "
                                                                            "'acme_missing' (ModuleNotFoundError")
    assert "licence key" in st["failed_items"]["acme_raises"]

    red = [255, 120, 120]
    empty = st["empty"]
    assert empty["message"] == f"data folder {ed.tmp / 'empty'} is empty; put your recordings (wav, flac, mp3, ogg, " \
                               "m4a...) in it"
    assert empty["color"] == red and empty["status_error"] and empty["status"] == "fine-tuning: " + empty["message"]
    assert not empty["out_exists"] and not empty["use_shown"] and empty["overlay"] == "not started"
    assert st["no_folder"]["message"] == "choose the data folder: the folder holding your recordings"
    msg = st["not_musicgen"]["message"]
    assert msg.startswith(f"base '{bark}' is a 'bark' model; fine-tuning needs a MusicGen checkpoint")
    assert not st["not_musicgen"]["out_exists"]
    used = st["out_in_use"]["message"]
    assert used.startswith(f"out folder {ed.tmp / 'used'} already exists; use 'continue' to continue its training, "
                           "'replace' to start over") and used.endswith("or choose another output folder")
    assert (ed.tmp / "used" / "adapter_model.safetensors").read_bytes() == b"\0" * 16, "nothing was touched"
    assert st["nodes"] == []
