"""speech.espeak: offline text to speech with espeak-ng (robotic, instant, no model download).

Voices are espeak-ng's: a language code (``en``, ``en-us``, ``de``, ``fr``, ``es``, ``cmn``...), a
voice name (``English_(America)``) or a voice file (``gmw/en-US``), optionally with a variant
after ``+`` (``en+f3``, ``en-us+klatt``).  ``espeak-ng --voices`` and ``espeak-ng --voices=variant``
list what is installed.
"""
from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Annotated

from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context, node
from nodeflow.types import Range, Text

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
    import soundfile as sf

    words = " ".join(text.split())
    if not words:
        raise ParameterError("text is empty; type something for espeak-ng to say")
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise AudioError(f"speech.espeak needs the espeak-ng program, which is not installed; {_INSTALL}")
    voice = _resolve_voice(exe, voice.strip())
    ctx.check_cancelled()
    with tempfile.TemporaryDirectory(prefix="audiochain-espeak-") as tmp:
        wav = Path(tmp) / "speech.wav"
        cmd = [exe, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-b", "1", "-w", str(wav), "--stdin"]
        returncode, stderr = _speak(cmd, text.encode("utf-8"), 60 + len(text) / 100, ctx)
        if returncode != 0 or not wav.is_file() or wav.stat().st_size == 0:
            msg = stderr.decode("utf-8", "replace").strip() or f"exit status {returncode}"
            raise AudioError(f"espeak-ng failed (voice={voice!r}): {msg}")
        samples, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    ctx.check_cancelled()
    if samples.shape[0] == 0:
        raise AudioError(f"espeak-ng produced no audio for text={text[:60]!r}")
    audio = Audio(samples.T, rate)
    if sample_rate_hz is not None and sample_rate_hz != rate:
        import soxr
        audio = Audio(soxr.resample(samples, rate, sample_rate_hz, quality="HQ").T, sample_rate_hz)
    return audio.with_info(speech_engine=f"espeak-ng {_version(exe)}", speech_voice=voice)


def _speak(cmd: list[str], text: bytes, timeout_s: float, ctx: Context) -> tuple[int, bytes]:
    """Run espeak-ng on ``text`` (stdin); a cancelled run ends it at once.  ``(exit status, stderr)``."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    pending: bytes | None = text
    try:
        while True:
            try:
                _, err = proc.communicate(pending, timeout=0.05)
                return proc.returncode, err
            except subprocess.TimeoutExpired:
                pending = None          # sent with the first call; later calls only wait
            ctx.check_cancelled()
            if time.monotonic() > deadline:
                raise AudioError(f"espeak-ng did not finish speaking {len(text)} bytes of text in time")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


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
