"""`audiochain finetune --captions whisper` (issue 13): files without a caption sidecar are captioned
with the lyrics Whisper hears (after the instance prompt and file name); sidecars still win; the
transcripts are cached per file content, so a second run transcribes nothing.  Tiny random MusicGen
(the base) and Whisper checkpoints of the real architectures."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nodeflow.node import Context
from nodes.models.finetune.errors import FinetuneError

from .helpers import sine, write_clip

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_models  # noqa: E402
import tiny_whisper  # noqa: E402


@pytest.fixture(scope="module")
def cks(tmp_path_factory) -> dict[str, Path]:
    built = tiny_models.build_all(tmp_path_factory.mktemp("base"), ("musicgen_short",))
    built["whisper"] = tiny_whisper.build(tmp_path_factory.mktemp("whisper") / "tiny-whisper")
    return built


def test_whisper_captions_files_without_a_sidecar_once(cks, tmp_path, monkeypatch):
    from nodes.models import whisper as whisper_module
    from nodes.models.finetune.captions import check_captions, whisper_captioner
    from nodes.models.finetune.data import prepare, window_settings
    from nodes.models.layer import family
    data = tmp_path / "songs"
    write_clip(data / "01_warm-piano.wav", sine(220.0, 2.0, 32000), 32000)
    write_clip(data / "02_night-drive.wav", sine(330.0, 2.0, 32000), 32000)
    (data / "02_night-drive.txt").write_text("my own caption", encoding="utf-8")
    calls = []
    real = whisper_module.transcribe
    monkeypatch.setattr(whisper_module, "transcribe", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert check_captions(f"whisper:{cks['whisper']}") == str(cks["whisper"])

    def captions() -> dict[str, str]:
        captioner = whisper_captioner(str(cks["whisper"]), "cpu", tmp_path / "cache")
        with family("musicgen").using(str(cks["musicgen_short"]), Context("t"), "cpu", "float32") as loaded:
            settings = window_settings(loaded.profile, window_s=1.0, min_window_s=0.5, overlap_s=0.0, silence_db=-60.0)
            ds = prepare(data, loaded.model, loaded.profile, settings, instance_prompt="my band", val_fraction=0.0,
                         cache_dir=tmp_path / "cache", captioner=captioner)
        return {e.source: e.caption for e in ds.train}

    first = captions()
    with whisper_module.WHISPER.using(str(cks["whisper"]), Context("t"), "cpu", "float32") as held:
        x = whisper_module.model_input(_load(data / "01_warm-piano.wav"), 16000)
        heard = " ".join(whisper_module.transcribe(held, x, language="", task="transcribe").text.split())
    assert heard and first["01_warm-piano.wav"] == f"my band, warm piano, lyrics: {heard}"
    assert first["02_night-drive.wav"] == "my own caption"                  # a sidecar wins
    assert len(calls) == 2                                                  # one file + the check above
    assert captions() == first and len(calls) == 2                          # cached: nothing transcribed again


def test_a_caption_file_that_matches_no_recording_is_said_with_the_name_it_wants(cks, tmp_path):
    """QA64 D5: tune_a.wav.txt, TUNE_C.txt (for tune_c.wav) and tune_zz.txt were passed over without a
    word, and their recordings trained on the fallback caption.  Each is said, with the name it wants."""
    from nodes.models.finetune.data import prepare, window_settings
    from nodes.models.layer import family
    data = tmp_path / "songs"
    for name in ("tune_a.wav", "tune_c.wav"):
        write_clip(data / name, sine(220.0, 2.0, 32000), 32000)
    for name, text in (("tune_a.wav.txt", "ballad"), ("TUNE_C.txt", "case"), ("tune_zz.txt", "orphan"),
                       ("notes.md", "not a caption")):
        (data / name).write_text(text, encoding="utf-8")
    with family("musicgen").using(str(cks["musicgen_short"]), Context("t"), "cpu", "float32") as loaded:
        settings = window_settings(loaded.profile, window_s=1.0, min_window_s=0.5, overlap_s=0.0, silence_db=-60.0)
        ds = prepare(data, loaded.model, loaded.profile, settings, instance_prompt="my band", val_fraction=0.0,
                     cache_dir=tmp_path / "cache")
    said = dict(ds.report.skipped)
    assert said["tune_a.wav.txt"].endswith("; name it tune_a.txt beside tune_a.wav"), said
    assert said["TUNE_C.txt"].endswith("; name it tune_c.txt beside tune_c.wav"), said
    assert said["tune_zz.txt"].startswith("a caption file that matches no recording") and "notes.md" not in said


def _load(path: Path):
    from nodes.io.load import load
    return load.fn(path=str(path), ctx=Context("t"))


def test_a_bad_captions_value_is_one_clear_line():
    from nodes.models.finetune.settings import Hyperparameters
    with pytest.raises(FinetuneError, match=r"captions='lyrics': use files .* or whisper"):
        Hyperparameters(captions="lyrics").check()
