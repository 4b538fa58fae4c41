"""speech.espeak: offline text to speech with espeak-ng (robotic, instant, no model download).

Voices are espeak-ng's: a language code (``en``, ``en-us``, ``de``, ``fr``, ``es``, ``cmn``...), a
voice name (``English_(America)``) or a voice file (``gmw/en-US``), optionally with a variant
after ``+`` (``en+f3``, ``en-us+klatt``).  ``espeak-ng --voices`` and ``espeak-ng --voices=variant``
list what is installed.
"""
from __future__ import annotations

import functools
import math
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from typing import Annotated, Callable

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context, node
from nodeflow.types import Range, Text
from nodes.dsp._conform import Resampler

_INSTALL = "install it with `apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng` (macOS)"
_OTHER_LANGS = re.compile(r"\(([^\s()]+) \d+\)")


def _estimate(inputs: dict, params: dict) -> dict:
    """Words (~6 characters each) at ``speed_wpm``, plus pauses."""
    from nodeflow.costs import Shape
    seconds = 1.0 + len(params.get("text", "")) / 6.0 * 60.0 / params["speed_wpm"] * 1.3
    rate = params.get("sample_rate_hz") or 22050
    return {"out": Shape(math.ceil(seconds * rate), 1, rate, work_s=0.05 + seconds / 50)}


@node("speech.espeak", category="speech", version=1, estimate=_estimate)
def espeak(*, text: Annotated[str, Text(multiline=True)] = "Hello from AudioChain.",
           voice: str = "en",
           speed_wpm: Annotated[int, Range(80, 450, unit="wpm")] = 175,
           pitch: Annotated[int, Range(0, 99)] = 50,
           sample_rate_hz: Annotated[int, Range(8000, 192000, unit="Hz")] | None = None,
           ctx: Context) -> Audio:
    """Speak text offline with espeak-ng (mono, 22050 Hz unless sample_rate_hz is set).

    ``speed_wpm`` is words per minute (espeak's ``-s``), ``pitch`` 0-99 (``-p``, 50 is neutral).
    The text goes to espeak-ng on stdin, never on a command line, and is read as plain text
    (no SSML).  ``sample_rate_hz`` resamples the result (soxr, high quality).

    Parameters
    ----------
    text : str
        What to say (plain text).
    voice : str
        espeak-ng voice: a language code such as en, en-us, de or fr, optionally with a variant
        (en+f3).
    speed_wpm : int, words per minute
        Speaking rate, 80-450 words per minute (175 is espeak's default).
    pitch : int
        Voice pitch, 0-99 (50 is neutral).
    sample_rate_hz : int or None, Hz
        Resample the speech to this rate, 8000-192000 Hz; empty: espeak's own 22050 Hz.

    Examples
    --------
    >>> espeak.fn(text="Four bars of drums, then the bass.", ctx=Context())   # doctest: +SKIP
    Audio(1 ch, 51081 frames, 22050 Hz, 2.317 s)
    """
    words = " ".join(text.split())
    if not words:
        raise ParameterError("text is empty; type something for espeak-ng to say")
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise AudioError(f"speech.espeak needs the espeak-ng program, which is not installed; {_INSTALL}")
    voice = _resolve_voice(exe, voice.strip())
    ctx.check_cancelled()
    cmd = [exe, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-b", "1", "--stdout", "--stdin"]
    pieces = _Pieces(ctx, sample_rate_hz)
    returncode, stderr = _speak(cmd, text.encode("utf-8"), 60 + len(text) / 100, ctx, pieces.add)
    if returncode != 0 or pieces.rate is None:
        msg = stderr.decode("utf-8", "replace").strip() or f"exit status {returncode}"
        raise AudioError(f"espeak-ng failed (voice={voice!r}): {msg}")
    ctx.check_cancelled()
    audio = pieces.finish()
    if audio.frames == 0:
        raise AudioError(f"espeak-ng produced no audio for text={text[:60]!r}")
    return audio.with_info(speech_engine=f"espeak-ng {_version(exe)}", speech_voice=voice)


PIECE_S = 0.25    # hand on speech in pieces of at least this long while espeak-ng is still speaking


class _Pieces:
    """espeak-ng's WAV on standard output, read as it is spoken: 16-bit samples (as libsndfile reads
    them: ``int16 / 32768``) handed on (``ctx.chunk``) every :data:`PIECE_S` and kept for the result,
    resampled on the way (:class:`~nodes.dsp._conform.Resampler`) when ``rate`` differs; the pieces
    concatenate to exactly the returned audio."""

    def __init__(self, ctx: Context, rate: int | None):
        self.ctx, self.want = ctx, rate
        self.head, self.rate = b"", None          # the WAV header until its data chunk starts
        self.odd = b""                            # a byte of a sample split across reads
        self.parts: list[np.ndarray] = []         # at the output rate, handed on
        self.pending: list[np.ndarray] = []       # at espeak's rate, not yet handed on
        self.frames_in = self.sent = 0
        self.resampler = None

    def add(self, data: bytes) -> None:
        if self.rate is None:
            self.head += data
            at = self.head.find(b"data")
            if at < 0 or len(self.head) < at + 8 or len(self.head) < 28:
                return
            self.rate = int.from_bytes(self.head[24:28], "little")
            data, self.head = self.head[at + 8:], b""
        data, self.odd = self.odd + data, b""
        if len(data) % 2:
            data, self.odd = data[:-1], data[-1:]
        if data:
            self.pending.append(np.frombuffer(data, "<i2").astype(np.float32) / 32768.0)
            self.frames_in += len(self.pending[-1])
        if sum(len(p) for p in self.pending) >= PIECE_S * self.rate:
            self._hand_on(last=False)

    def _hand_on(self, last: bool) -> None:
        assert self.rate is not None
        x = np.concatenate(self.pending)[None, :] if self.pending else np.zeros((1, 0), np.float32)
        self.pending = []
        if self.want is not None and self.want != self.rate:
            if self.resampler is None:
                self.resampler = Resampler(self.rate, self.want, 1)
            x = self.resampler.push(x) if not last else np.concatenate([self.resampler.push(x), self.resampler.finish()], axis=1)
        if x.shape[1]:
            piece = Audio(x, self.out_rate, start_frame=self.sent)
            self.parts.append(piece.samples)
            self.ctx.chunk(piece)
            self.sent += x.shape[1]

    @property
    def out_rate(self) -> int:
        assert self.rate is not None
        return self.want or self.rate

    def finish(self) -> Audio:
        self._hand_on(last=True)
        samples = np.concatenate(self.parts, axis=1) if self.parts else np.zeros((1, 0), np.float32)
        return Audio(samples, self.out_rate)


def _speak(cmd: list[str], text: bytes, timeout_s: float, ctx: Context,
           out: Callable[[bytes], None]) -> tuple[int, bytes]:
    """Run espeak-ng on ``text`` (stdin), giving what it writes to standard output to ``out`` as it
    comes; a cancelled run ends it at once.  ``(exit status, stderr)``."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        deadline = time.monotonic() + timeout_s
        try:
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(text)
                proc.stdin.close()
            except BrokenPipeError:
                pass                    # espeak-ng ended early; its exit status and stderr say why
            fd = proc.stdout.fileno()
            while True:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    data = os.read(fd, 1 << 16)
                    if not data:
                        break
                    out(data)
                ctx.check_cancelled()
                if time.monotonic() > deadline:
                    raise AudioError(f"espeak-ng did not finish speaking {len(text)} bytes of text in time")
            proc.wait()
            err.seek(0)
            return proc.returncode, err.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _resolve_voice(exe: str, voice: str) -> str:
    """The ``-v`` argument for ``voice`` (names and files mapped to codes); unknown ones are an error."""
    if not voice:
        raise ParameterError("voice is empty; use a language code such as 'en' (see `espeak-ng --voices`)")
    base, plus, variant = voice.partition("+")
    voices, variants = _voices(exe, ""), _voices(exe, "variant")
    if base.lower() not in voices:
        raise ParameterError(f"voice={voice!r}: espeak-ng has no voice {base!r}{_suggest(base, voices)}; "
                             "use a language code such as 'en', 'en-us', 'de', 'fr' (see `espeak-ng --voices`)")
    if plus and variant.lower() not in variants:
        raise ParameterError(f"voice={voice!r}: espeak-ng has no variant {variant!r}{_suggest(variant, variants)}; "
                             "see `espeak-ng --voices=variant`")
    return voices[base.lower()] + (f"+{variants[variant.lower()]}" if plus else "")


@functools.lru_cache(maxsize=8)
def _voices(exe: str, kind: str) -> dict[str, str]:
    """Every name espeak-ng knows for a voice (or variant), lower-cased, to the one ``-v`` accepts.

    ``--voices`` prints ``Pty Language Age/Gender VoiceName File Other-Languages``; the language
    code (voices) or the file's stem (variants) is what ``-v`` takes.
    """
    arg = f"--voices={kind}" if kind else "--voices"
    try:
        out = subprocess.run([exe, arg], capture_output=True, timeout=30, check=True).stdout
    except (subprocess.SubprocessError, OSError) as e:
        raise AudioError(f"could not list espeak-ng voices ({e}); {_INSTALL}") from e
    names: dict[str, str] = {}
    for line in out.decode("utf-8", "replace").splitlines()[1:]:
        parts = line.split()
        if len(parts) < 5:
            continue
        lang, name, file = parts[1], parts[3], parts[4]
        stem = file.rsplit("/", 1)[-1]
        canonical = stem if kind else lang
        for alias in (name, file, stem, canonical):
            names.setdefault(alias.lower(), canonical)
        for code in _OTHER_LANGS.findall(" ".join(parts[5:])):
            names.setdefault(code.lower(), code)
    return names


@functools.lru_cache(maxsize=8)
def _version(exe: str) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, timeout=30, check=False).stdout
    except (subprocess.SubprocessError, OSError):
        return "unknown"
    m = re.search(r"text-to-speech:\s*(\S+)", out.decode("utf-8", "replace"))
    return m.group(1) if m else "unknown"


def _suggest(name: str, known: dict[str, str]) -> str:
    import difflib
    close = difflib.get_close_matches(name.lower(), sorted(known), n=3)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
