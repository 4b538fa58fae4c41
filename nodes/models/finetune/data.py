"""Training data: every audio file under a folder -> captioned windows of codec tokens.

Each file is decoded with ``io.load``'s decoders (any format it reads), resampled to the model's
rate and laid out in the model's channels (:func:`nodes.models.layer.to_model_audio`), cut into
windows of whole tokens with tokenize-window's maths (:func:`nodes.timing.window.window_bounds`),
and each window that is long enough and not silent is encoded to EnCodec codes once: the codes
are kept in a content-addressed :class:`~.tokens.TokenCache`, so a second run decodes nothing.

Captions come from a sidecar next to the file (``take.txt``, or ``take.json`` with a
``caption``/``description``/``text``/``prompt`` field); otherwise from the instance prompt and
the file's name (``"my band, warm piano take"`` for ``03_warm-piano_take.flac``).

Files that cannot be used (unreadable, too short, silent, a broken sidecar) are skipped and
listed in the :class:`Report`; only a folder with nothing usable at all is an error.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nodeflow.cache import content_key, file_digest
from nodeflow.errors import Cancelled, NodeflowError
from nodeflow.node import Context
from nodeflow.timebase import ModelProfile

from .errors import DataError, FinetuneError
from .tokens import TokenCache, codec_fingerprint, encode_windows

__all__ = ["WindowSettings", "Example", "Report", "Dataset", "scan", "check_folder", "caption_for", "window_settings",
           "prepare"]

CAPTION_KEYS = ("caption", "description", "text", "prompt")
SIDECAR_EXTS = (".txt", ".json")
MAX_CAPTION = 2000


@dataclasses.dataclass(frozen=True)
class WindowSettings:
    """How files are cut: window and hop in tokens, the shortest window kept, the silence floor."""
    size_tokens: int
    hop_tokens: int
    min_tokens: int
    silence_db: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Example:
    """One training window: int16 codes ``[K, T]``, its caption and where it came from."""
    codes: np.ndarray
    caption: str
    source: str
    start_s: float


@dataclasses.dataclass
class Report:
    """What became of every file under the data folder."""
    audio_files: int = 0
    used: list[str] = dataclasses.field(default_factory=list)
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)   # (file, reason)
    ignored: list[str] = dataclasses.field(default_factory=list)               # not audio
    dropped_short: int = 0
    dropped_silent: int = 0
    encoded_windows: int = 0        # windows encoded by this run (0 when everything came from the cache)
    cached_files: int = 0           # files whose windows came from the cache
    seconds: float = 0.0            # audio in the kept windows

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["skipped"] = [{"file": f, "reason": r} for f, r in self.skipped]
        return d

    def lines(self) -> list[str]:
        """Human-readable summary, one line per skipped file."""
        out = [f"{len(self.used)} of {self.audio_files} audio files used, {self.seconds:.1f} s in windows "
               f"({self.dropped_short} short and {self.dropped_silent} silent windows dropped)"]
        out += [f"skipped {f}: {r}" for f, r in self.skipped]
        return out


@dataclasses.dataclass
class Dataset:
    train: list[Example]
    val: list[Example]
    report: Report
    fingerprint: str
    codec: str
    settings: WindowSettings


# ---------------------------------------------------------------------------------------- files
def scan(data_dir: Path) -> tuple[list[Path], list[Path]]:
    """``(audio files, other files)`` under ``data_dir``, sorted; hidden files and folders are left out."""
    from nodes.io.load import AUDIO_EXTS
    audio, other = [], []
    for p in sorted(data_dir.rglob("*")):
        rel = p.relative_to(data_dir)
        if any(part.startswith(".") for part in rel.parts) or p.is_dir():
            continue        # a FIFO or a device is listed (and skipped when read), never silently left out (QA)
        (audio if p.suffix.lower() in AUDIO_EXTS else other).append(p)
    return audio, other


def check_folder(data_dir: str | Path) -> tuple[Path, list[Path], list[Path]]:
    """``(folder, audio files, other files)``; :class:`DataError` for a missing or empty folder or
    one without audio files (cheap: run before any model loads)."""
    root = Path(data_dir).expanduser()
    if not root.exists():
        raise DataError(f"data folder {root} does not exist; give the folder holding your recordings")
    if not root.is_dir():
        raise DataError(f"{root} is a file; give the folder holding your recordings, not one file")
    audio, other = scan(root)
    if not audio and not other:
        raise DataError(f"data folder {root} is empty; put your recordings (wav, flac, mp3, ogg, m4a...) in it")
    if not audio:
        names = ", ".join(p.relative_to(root).as_posix() for p in other[:5]) + (" ..." if len(other) > 5 else "")
        raise DataError(f"data folder {root} has no audio files ({len(other)} other files: {names}); AudioChain "
                        "reads wav, flac, mp3, ogg, opus, m4a, aiff and the soundtrack of mp4, mov and mkv videos")
    return root, audio, other


def name_words(stem: str) -> str:
    """A file name as words: separators become spaces, bare numbers (track numbers) go."""
    words = [w for w in re.split(r"[\s_\-.]+", stem) if w and not w.isdigit()]
    return " ".join(words)


def caption_for(path: Path, instance_prompt: str = "") -> str:
    """The caption of ``path``: its ``.txt`` sidecar, its ``.json`` sidecar's caption field, or the
    instance prompt and the file name.  A sidecar that cannot be used raises :class:`DataError`."""
    txt, js = path.with_suffix(".txt"), path.with_suffix(".json")
    if txt.is_file():
        try:
            text = txt.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"caption file {txt.name} is unreadable ({e}); save it as UTF-8 text") from None
        if not text:
            raise DataError(f"caption file {txt.name} is empty; write the caption in it or delete it")
        return " ".join(text.split())[:MAX_CAPTION]
    if js.is_file():
        try:
            data = json.loads(js.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise DataError(f"caption file {js.name} is not valid JSON ({e}); fix it or delete it") from None
        if isinstance(data, dict):
            for k in CAPTION_KEYS:
                if isinstance(data.get(k), str) and data[k].strip():
                    return " ".join(data[k].split())[:MAX_CAPTION]
        raise DataError(f"caption file {js.name} has no text field; give it one of "
                        f"{', '.join(repr(k) for k in CAPTION_KEYS)}")
    parts = [instance_prompt.strip(), name_words(path.stem)]
    return ", ".join(p for p in parts if p)[:MAX_CAPTION]


# ---------------------------------------------------------------------------------------- windows
def window_settings(profile: ModelProfile, *, window_s: float | None, min_window_s: float | None,
                    overlap_s: float, silence_db: float) -> WindowSettings:
    """Window settings in whole tokens, checked against the model's window."""
    limit = profile.audio_window_tokens
    size = limit if window_s is None else profile.seconds_to_tokens(window_s)
    tok_ms = 1000.0 / float(profile.frame_rate)
    if not 1 <= size <= limit:
        raise FinetuneError(f"window_s={window_s:g} is {size} tokens; it must be between one token ({tok_ms:g} ms) "
                            f"and the model's window of {float(profile.window_s):g} s")
    overlap = profile.seconds_to_tokens(overlap_s)
    if not 0 <= overlap < size:
        raise FinetuneError(f"overlap_s={overlap_s:g} must be at least 0 and shorter than the window "
                            f"({float(profile.tokens_to_seconds(size)):g} s)")
    min_tokens = min(size, profile.seconds_to_tokens(5.0)) if min_window_s is None else \
        profile.seconds_to_tokens(min_window_s)
    if not 1 <= min_tokens <= size:
        raise FinetuneError(f"min_window_s={min_window_s:g} must be between one token ({tok_ms:g} ms) and the "
                            f"window ({float(profile.tokens_to_seconds(size)):g} s)")
    return WindowSettings(size, size - overlap, min_tokens, float(silence_db))


def cut(samples: np.ndarray, rate: int, profile: ModelProfile, s: WindowSettings
        ) -> tuple[list[np.ndarray], list[int], int, int]:
    """``(segments, start frames, dropped short, dropped silent)`` of ``samples`` [C, N] at the
    model's rate: windows of whole tokens; a shorter last window keeps its whole tokens."""
    from nodes.timing.window import window_bounds
    hop = int(profile.hop)
    segs, starts, short, silent = [], [], 0, 0
    for start, end, _ in window_bounds(samples.shape[1], rate, profile, s.size_tokens, s.hop_tokens, "keep"):
        tokens = (min(end, samples.shape[1]) - start) // hop
        if tokens < s.min_tokens:
            short += 1
            continue
        seg = samples[:, start:start + tokens * hop]
        level = 10.0 * math.log10(float(np.mean(np.square(seg, dtype=np.float64))) + 1e-20)
        if level < s.silence_db:
            silent += 1
            continue
        segs.append(np.ascontiguousarray(seg, dtype=np.float32))
        starts.append(start)
    return segs, starts, short, silent


# ---------------------------------------------------------------------------------------- the data set
def _why_nothing(report: Report, data_dir: Path, s: WindowSettings, profile: ModelProfile, longest_s: float) -> str:
    reasons = [r for _, r in report.skipped]
    min_s = float(profile.tokens_to_seconds(s.min_tokens))
    if reasons and all(r.startswith("too short") for r in reasons):
        return (f"{data_dir}: every audio file is too short: the shortest usable window is {min_s:g} s and the "
                f"longest clip is {longest_s:.2f} s; add longer recordings or lower min_window_s (--min-window-s)")
    if reasons and all(r.startswith("silent") for r in reasons):
        return (f"{data_dir}: all audio is silent (below {s.silence_db:g} dBFS); check the recordings or "
                f"lower silence_db (--silence-db)")
    if reasons and all(not r.startswith(("too short", "silent")) for r in reasons):
        return (f"{data_dir}: none of the {report.audio_files} audio files could be used: "
                + "; ".join(f"{f} ({r})" for f, r in report.skipped))      # one line (QA: the CLI showed '\n')
    return (f"{data_dir}: no usable training windows in {report.audio_files} audio files: "
            + "; ".join(f"{f} ({r})" for f, r in report.skipped))


def _split(clips: list[tuple[str, str, list[Example]]], val_fraction: float, seed: int
           ) -> tuple[list[Example], list[Example]]:
    """Held-out windows: whole files when there are several (no window of a held-out recording is
    trained on), else the last windows of the only file.  Deterministic given the contents."""
    total = sum(len(ex) for _, _, ex in clips)
    if val_fraction <= 0 or total < 2:
        return [e for _, _, ex in clips for e in ex], []
    want = min(total - 1, max(1, round(total * val_fraction)))
    if len(clips) == 1:
        ex = clips[0][2]
        return ex[:len(ex) - want], ex[len(ex) - want:]
    order = sorted(clips, key=lambda c: hashlib.blake2b(f"{seed}:{c[1]}:{c[0]}".encode(), digest_size=8).digest())
    val_ids, have = set(), 0
    for rel, digest, ex in order:
        if have >= want:
            break
        if total - have - len(ex) >= 1 and (have == 0 or have + len(ex) <= want):
            val_ids.add(rel)
            have += len(ex)
    train = [e for rel, _, ex in clips if rel not in val_ids for e in ex]
    val = [e for rel, _, ex in clips if rel in val_ids for e in ex]
    if not val:  # one file holds (almost) everything: hold out its last windows instead
        big = max(clips, key=lambda c: len(c[2]))[0]
        train = [e for rel, _, ex in clips for e in (ex if rel != big else ex[:len(ex) - want])]
        val = [e for rel, _, ex in clips if rel == big for e in ex[len(ex) - want:]]
    return train, val


def _orphan_caption(path: Path, audio: list[Path]) -> str:
    """Why caption file ``path`` captions no recording, and its name if it meant one (QA64 D5: such
    files were passed over without a word, their recordings trained on the fallback caption)."""
    meant = next((a for a in audio if a.parent == path.parent and a.name.lower() in
                  (path.with_suffix("").name.lower(), path.stem.lower() + a.suffix.lower())), None)
    fix = (f"name it {meant.with_suffix(path.suffix).name} beside {meant.name}" if meant is not None else
           "name it after its recording (NAME.txt or NAME.json beside NAME.wav), or remove it")
    return f"a caption file that matches no recording, so it captions nothing; {fix}"


def prepare(data_dir: str | Path, model, profile: ModelProfile, settings: WindowSettings, *,
            instance_prompt: str = "", val_fraction: float = 0.1, seed: int = 0, cache_dir: str | Path,
            progress: Callable[[int, int, str], None] | None = None,
            cancel: threading.Event | None = None,
            captioner: Callable[[Path, str], str] | None = None) -> Dataset:
    """Read, window, caption and encode the training data under ``data_dir`` (see the module doc).

    Raises :class:`DataError` when the folder is missing or empty, holds no audio files, or none
    of them gives a usable window; unusable files are otherwise skipped and reported.
    ``captioner(path, caption)`` (e.g. :func:`.captions.whisper_captioner`) extends the caption of
    a file that has no sidecar.
    """
    from ..layer import to_model_audio
    from nodes.io.load import load
    root, audio, other = check_folder(data_dir)
    stems = {p.with_suffix("") for p in audio}
    cancel = cancel or threading.Event()
    cache = TokenCache(cache_dir)
    codec = codec_fingerprint(model)
    rate, channels = profile.sample_rate, profile.channels
    k = int(model.config.decoder.num_codebooks)
    report = Report(audio_files=len(audio), ignored=[p.relative_to(root).as_posix() for p in other
                                                     if not (p.suffix in SIDECAR_EXTS and p.with_suffix("") in stems)])
    report.skipped += [(p.relative_to(root).as_posix(), _orphan_caption(p, audio)) for p in other
                       if p.suffix in SIDECAR_EXTS and p.with_suffix("") not in stems]
    clips: list[tuple[str, str, list[Example]]] = []
    longest = 0.0
    for i, path in enumerate(audio):
        if cancel.is_set():
            raise Cancelled("fine-tuning cancelled while preparing the data")
        rel = path.relative_to(root).as_posix()
        if progress:
            progress(i, len(audio), rel)
        try:
            caption = caption_for(path, instance_prompt)
            if captioner is not None and not any(path.with_suffix(x).is_file() for x in (".txt", ".json")):
                caption = captioner(path, caption)[:MAX_CAPTION]
        except DataError as e:
            report.skipped.append((rel, str(e)))
            continue
        digest = file_digest(path)
        key = content_key("finetune-tokens", digest, codec, settings.as_dict(), rate, channels)
        entry = cache.get(key)
        if entry is None:
            try:
                decoded = load.fn(path=str(path), ctx=Context("finetune", cancel_event=cancel))
                samples = to_model_audio(decoded, rate, channels)
            except Cancelled:
                raise
            except NodeflowError as e:
                said = str(e).split(": ", 1)        # the file is named by the row: not again (QA: said twice)
                report.skipped.append((rel, f"unreadable: {said[-1] if said[0].endswith(path.name) else str(e)}"))
                continue
            except Exception as e:  # noqa: BLE001 - one damaged file never stops the run
                report.skipped.append((rel, f"unreadable: {type(e).__name__}: {e}"))
                continue
            segs, starts, short, silent = cut(samples, rate, profile, settings)
            codes = encode_windows(model, segs) if segs else []
            report.encoded_windows += len(codes)
            info = {"dropped_short": short, "dropped_silent": silent, "seconds": samples.shape[1] / rate,
                    "codebooks": k}
            cache.put(key, codes, starts, info)
        else:
            codes, starts, info = entry.codes, entry.starts, entry.meta
            report.cached_files += 1
        report.dropped_short += int(info["dropped_short"])
        report.dropped_silent += int(info["dropped_silent"])
        longest = max(longest, float(info["seconds"]))
        if not codes:
            min_s = float(profile.tokens_to_seconds(settings.min_tokens))
            if info["dropped_silent"] and not info["dropped_short"]:
                why = f"silent (below {settings.silence_db:g} dBFS)"
            elif info["dropped_silent"]:
                why = f"silent, and what is not is shorter than {min_s:g} s"
            else:
                why = f"too short ({float(info['seconds']):.2f} s; the shortest usable window is {min_s:g} s)"
            report.skipped.append((rel, why))
            continue
        examples = [Example(c, caption, rel, s / rate) for c, s in zip(codes, starts)]
        report.used.append(rel)
        report.seconds += sum(c.shape[1] for c in codes) / float(profile.frame_rate)
        clips.append((rel, digest, examples))
    if progress:
        progress(len(audio), len(audio), "")
    if not clips:
        raise DataError(_why_nothing(report, root, settings, profile, longest))
    train, val = _split(clips, val_fraction, seed)
    fingerprint = content_key("finetune-data", codec, settings.as_dict(), seed, val_fraction,
                              [(rel, d, [e.caption for e in ex][:1], len(ex)) for rel, d, ex in clips],
                              sorted({e.source for e in val}))
    return Dataset(train, val, report, fingerprint, codec, settings)
