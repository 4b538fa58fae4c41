"""Written files decoded off the UI thread, once per version of the file.

An export's waveform and its play button show the file it wrote, decoded as the listener hears it.
Decoding a ten-minute file takes one to two seconds here: on the UI thread that froze the editor
once when the run finished and again at every press of play.  :class:`DecodedFiles` decodes on one
background thread, keeps the clips it decoded (newest first, up to a memory budget) keyed by the
file's path, size and modification time, and hands each result to the UI thread in :meth:`poll`
(the window is woken, see :func:`.pacing.wake`).  This module does not import dearpygui.

>>> import os, tempfile, soundfile as sf
>>> path = os.path.join(tempfile.mkdtemp(), "take.wav")
>>> sf.write(path, np.zeros((4800, 2), np.float32), 48000)
>>> files, heard = DecodedFiles(), []
>>> files.ready(path) is None                     # not decoded yet: asks for it
True
>>> files.request(path, lambda audio, err: heard.append((audio.frames, err)))
>>> while not heard:
...     _ = files.poll(wait_s=1.0)
>>> heard, files.ready(path).frames
([(4800, None)], 4800)
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from ..audio import Audio
from ..cache import FileStamp, file_stamp

__all__ = ["DecodedFiles", "decode_file", "file_stamp", "written_files"]

BUDGET_BYTES = 1 << 30        # decoded clips kept (a ten-minute stereo 48 kHz file is 230 MB)

Done = Callable[[Audio | None, OSError | None], None]
MAX_ERRORS = 256            # failed files remembered (the newest version of each, the most recent files)
Stamp = FileStamp           # (real path, size, modification and change times, inode): see nodeflow.cache.file_stamp


def written_files(value: Any) -> list[str]:
    """The files an export's output names: its path, or the paths of a mapped export (one file per
    item of a list: QA, such an export showed the waveform of an older file and could not be played);
    [] for anything else.

    >>> written_files("a.wav"), written_files(["a_1.wav", "a_2.wav"]), written_files(None)
    (['a.wav'], ['a_1.wav', 'a_2.wav'], [])
    """
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return []


def decode_file(path: str) -> Audio:
    """A written file decoded as the listener will hear it (what an export delivers), with the
    metadata it carries (its tempo and meter: the waveform's time axis reads in bars)."""
    import soundfile as sf

    from ..audiometa import file_info
    from nodes.io._channels import VORBIS_FORMATS, from_vorbis
    try:
        with sf.SoundFile(str(path)) as f:
            x, rate = f.read(dtype="float32", always_2d=True), f.samplerate
            if f.format in VORBIS_FORMATS:      # an Ogg's speakers in WAV order, as every clip's
                x = from_vorbis(x, axis=1)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise OSError(f"cannot decode {path} for playback: {e}") from None
    audio = Audio(np.ascontiguousarray(x.T), int(rate))
    info = file_info(path, int(rate))
    return audio.with_info(**info) if info else audio


class DecodedFiles:
    """Decoded files by version: :meth:`ready` answers at once, :meth:`request` decodes in the
    background and :meth:`poll` (on the UI thread, once a frame) delivers the results."""

    def __init__(self, budget_bytes: int = BUDGET_BYTES, decode: Callable[[str], Audio] = decode_file):
        self.budget = budget_bytes
        self._decode = decode
        self._clips: OrderedDict[Stamp, Audio] = OrderedDict()
        self._errors: dict[Stamp, OSError] = {}
        self._waiting: dict[Stamp, list[Done]] = {}          # decoding (or queued) -> who waits for it
        self._done: list[tuple[list[Done], Audio | None, OSError | None]] = []     # for poll() to deliver
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._todo: list[tuple[Stamp, str]] = []
        self._thread: threading.Thread | None = None
        self.version = 0                                     # bumped when a result is delivered

    def ready(self, path: object) -> Audio | None:
        """The file's clip if this version of it is decoded, else None (see :meth:`error`)."""
        stamp = file_stamp(path)
        with self._lock:
            clip = self._clips.get(stamp) if stamp is not None else None
            if clip is not None:
                self._clips.move_to_end(stamp)          # type: ignore[arg-type]
            return clip

    def get(self, path: object) -> Audio:
        """The file's clip: decoded already, or decoded now on this thread and kept (A/B measures
        both takes' loudness at once).  Raises OSError when it cannot be decoded."""
        clip = self.ready(path)
        if clip is not None:
            return clip
        stamp = file_stamp(path)
        clip = self._decode(str(path))
        if stamp is not None:
            with self._lock:
                self._keep(stamp, clip)
        return clip

    def error(self, path: object) -> OSError | None:
        """Why this version of the file could not be decoded (None: it could, or was not tried)."""
        stamp = file_stamp(path)
        return self._errors.get(stamp) if stamp is not None else None

    def request(self, path: object, then: Done | None = None) -> None:
        """Decode ``path`` in the background unless this version is decoded or being decoded;
        ``then(clip, error)`` runs in :meth:`poll` once it is (at the next poll if it already is).
        A path that is no regular file gives ``then(None, OSError)``."""
        stamp = file_stamp(path)
        thens = [then] if then is not None else []
        with self._lock:
            if stamp is None:
                if thens:
                    self._done.append((thens, None, OSError(f"{path}: no such file (not written yet?)")))
            elif stamp in self._clips or stamp in self._errors:
                if thens:
                    self._done.append((thens, self._clips.get(stamp), self._errors.get(stamp)))
            elif stamp in self._waiting:
                self._waiting[stamp].extend(thens)
            else:
                self._waiting[stamp] = thens
                self._todo.append((stamp, str(path)))
                self._wake.notify_all()
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name="nodeflow-file-decode", daemon=True)
                    self._thread.start()

    def poll(self, wait_s: float = 0.0) -> bool:
        """Deliver finished decodes to their callbacks (the UI thread, once a frame); True if any
        was.  ``wait_s``: wait that long for one when none has finished (tests, doctests)."""
        with self._lock:
            if not self._done and wait_s > 0:
                self._wake.wait_for(lambda: bool(self._done), timeout=wait_s)
            done, self._done = self._done, []
            if done:
                self.version += 1
        for thens, clip, err in done:
            for then in thens:
                then(clip, err)
        return bool(done)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: bool(self._todo))
                stamp, path = self._todo.pop(0)
            clip: Audio | None = None
            err: OSError | None = None
            try:
                clip = self._decode(path)
            except OSError as e:
                err = e
            except Exception as e:  # noqa: BLE001 - a decoder's own failure is this file's error
                err = OSError(f"cannot decode {path} for playback: {e}")
            with self._lock:
                if clip is not None:
                    self._keep(stamp, clip)
                elif err is not None:
                    self._forget_errors(stamp[0])
                    self._errors[stamp] = err
                    while len(self._errors) > MAX_ERRORS:                # the oldest go first
                        del self._errors[next(iter(self._errors))]
                self._done.append((self._waiting.pop(stamp, []), clip, err))
                self._wake.notify_all()
            from .pacing import wake
            wake()

    def _keep(self, stamp: Stamp, clip: Audio) -> None:
        """Hold ``clip`` (lock held), dropping the least recently used ones over the budget (the
        newest always stays: it is what the editor shows)."""
        self._clips[stamp] = clip
        self._forget_errors(stamp[0])
        older = [s for s in self._clips if s[0] == stamp[0] and s != stamp]
        for s in older:                                  # an old version of the same file
            del self._clips[s]
        while len(self._clips) > 1 and sum(c.nbytes for c in self._clips.values()) > self.budget:
            self._clips.popitem(last=False)

    def _forget_errors(self, real_path: str) -> None:
        """Forget why older versions of a file failed (lock held): only the newest counts."""
        for s in [s for s in self._errors if s[0] == real_path]:
            del self._errors[s]
