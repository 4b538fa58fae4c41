"""Captions from what Whisper hears: ``audiochain finetune --captions whisper``.

A recording without a caption sidecar is captioned with the instance prompt and its file name
(:func:`.data.caption_for`); with ``--captions whisper`` the lyrics Whisper transcribes from it are
added (``"my band, warm piano take, lyrics: hold me close ..."``), so a model fine-tuned on songs
learns which words go with which music.  ``whisper:CHECKPOINT`` picks the Whisper checkpoint
(default ``openai/whisper-small``).  Transcripts are kept beside the token cache, one UTF-8 text
file per recording's content and Whisper checkpoint revision, so a second run transcribes nothing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from nodeflow.atomic import write_atomic
from nodeflow.cache import content_key, file_digest

from .errors import FinetuneError

__all__ = ["CAPTION_SOURCES", "check_captions", "whisper_captioner", "Captioner"]

CAPTION_SOURCES = ("files", "whisper")
Captioner = Callable[[Path, str], str]      # (recording, caption from the file) -> caption


def check_captions(value: str) -> str | None:
    """The Whisper checkpoint ``--captions`` asks for, or None for ``files``; a bad value is an error.

    >>> check_captions("files"), check_captions("whisper"), check_captions("whisper:openai/whisper-tiny")
    (None, 'openai/whisper-small', 'openai/whisper-tiny')
    """
    kind, _, checkpoint = str(value).partition(":")
    if kind == "files" and not checkpoint:
        return None
    if kind == "whisper":
        from ..whisper import DEFAULT_CHECKPOINT
        return checkpoint.strip() or DEFAULT_CHECKPOINT
    raise FinetuneError(f"captions={value!r}: use files (sidecars, else the instance prompt and file name) or "
                        "whisper (adds the lyrics Whisper hears; whisper:CHECKPOINT for another Whisper checkpoint)")


def whisper_captioner(checkpoint: str, device: str, cache_dir: Path, base_dir: Path | None = None,
                      language: str = "") -> Captioner:
    """A captioner adding Whisper's transcript of each recording to its caption (cached on disk)."""
    from nodeflow.node import Context
    from ..whisper import WHISPER
    ctx = Context("finetune-captions", device=device, base_dir=base_dir)
    revision = WHISPER.resolve(checkpoint, base_dir).revision    # a missing checkpoint stops here, named
    folder = Path(cache_dir) / "captions"

    def caption(path: Path, base: str) -> str:
        key = content_key("whisper-caption", file_digest(path), checkpoint, revision, language)
        f = folder / f"{key}.txt"
        if f.is_file():
            text = f.read_text(encoding="utf-8")
        else:
            text = transcript(path)
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(f, text.encode("utf-8"), fsync=False)
        return ", ".join(p for p in (base, f"lyrics: {text}" if text else "") if p)

    def transcript(path: Path) -> str:
        from nodes.io.load import load
        from ..whisper import model_input, transcribe
        audio = load.fn(path=str(path), ctx=ctx)
        with WHISPER.using(checkpoint, ctx, "auto", "auto", who="finetune --captions whisper") as held:
            x = model_input(audio, int(held.processor.feature_extractor.sampling_rate))
            return " ".join(transcribe(held, x, language=language, task="transcribe").text.split())

    return caption
