"""The sound output for :mod:`nodeflow.editor.player`: sounddevice (PortAudio) imported with one clear
:class:`AudioDeviceError` when it or its library is missing, the output device found (looked for
again once when none is, unless a stream is open), the outputs named in messages, and the streams
still open closed at exit before PortAudio's own teardown, and the rate to play at (:func:`device_rate`).
This module never imports dearpygui.
"""
from __future__ import annotations

import atexit
import os
import threading
import weakref
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import NodeflowError, install_hint

if TYPE_CHECKING:   # playstream imports this module
    from .playstream import _Session

__all__ = ["AudioDeviceError", "device_rate", "SERVER_RATE"]


class AudioDeviceError(NodeflowError):
    """No usable sound output (no PortAudio library, no device, no sound server, stream refused)."""


def _sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing library into one clear AudioDeviceError."""
    try:
        import sounddevice
    except OSError as e:   # sounddevice is installed but libportaudio is not
        raise AudioDeviceError(
            f"cannot play sound: the PortAudio library is missing ({e}); install it "
            "(Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio)") from None
    except ImportError as e:
        if e.name != "sounddevice":   # macOS/Windows: its bundled PortAudio binaries are missing
            raise AudioDeviceError(f"cannot play sound: the PortAudio library is missing ({e}); "
                                   "reinstall sounddevice or install PortAudio") from None
        raise AudioDeviceError("cannot play sound: the sounddevice package is not installed; "
                               f"install the editor extra: {install_hint('editor')}") from None
    global _atexit_hooked
    if not _atexit_hooked:   # registered after sounddevice's own hook, so it runs before PortAudio ends
        atexit.register(_close_all)
        _atexit_hooked = True
    sd: ModuleType = sounddevice      # (untyped: attributes are Any)
    return sd


_live: "weakref.WeakSet[_Session]" = weakref.WeakSet()   # sessions whose stream may still be open
_live_lock = threading.Lock()
_atexit_hooked = False


def _close_all() -> None:
    """At exit: close every open stream ourselves rather than racing PortAudio's own teardown."""
    with _live_lock:
        sessions = list(_live)
    for s in sessions:
        s.stopped = True
        s.close()


def _no_device_hint() -> str:
    """What to do, the message's last clause (the status bar keeps it in view: QA65); a server the
    environment names is asked after first, with the Python fix (choose another output)."""
    server = os.environ.get("PULSE_SERVER")
    where = (f"PULSE_SERVER={server} is set: is a PulseAudio server listening there? " if server else "")
    return (f"{where}{PYTHON_FIX}start a sound server (`pulseaudio --start`, or PipeWire) or connect a sound "
            "card")


PYTHON_FIX = "in Python, Player(device=...) chooses another output; "


def in_editor_words(text: str) -> str:
    """A player's message as the editor says it: without the fix only Python can apply (QA69: "in
    Python, Player(device=...)" meant nothing to someone in the editor, and cut the real fix short).

    >>> in_editor_words("no audio output device (PortAudio); " + PYTHON_FIX + "start a sound server")
    'no audio output device (PortAudio); start a sound server'
    """
    return text.replace(PYTHON_FIX, "").replace("pick another output with Player(device=...)",
                                                "pick another output in the system's sound settings")


def _outputs(sd: ModuleType) -> list[str]:
    try:
        return [f"{i}: {d['name']}" for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] > 0]
    except Exception:  # noqa: BLE001 - only used to enrich a message
        return []


SERVER_RATE = 48000     # the rate PulseAudio and PipeWire run at unless set otherwise


def device_rate(sd: ModuleType, info: dict[str, Any]) -> int:
    """The rate an output plays at without converting: the device's own, as PortAudio reports it,
    except for ALSA's devices that are not hardware (``default``, ``pulse``, ``pipewire``: a sound
    server), for which PortAudio's figure is a guess (44100 while the server runs at 48000):
    :data:`SERVER_RATE`.  A stream at another rate makes the server convert, and there the first
    buffers of a preview ran dry on a quiet machine (QA: every first play of a 22.05 kHz take had
    1-3 gaps, a 48 kHz one none); clips of other rates are converted by soxr as they play.

    >>> class Sd:
    ...     def query_hostapis(self, i): return {"name": "ALSA"}
    >>> device_rate(Sd(), {"name": "default", "hostapi": 0, "default_samplerate": 44100.0})
    48000
    >>> device_rate(Sd(), {"name": "USB Audio: - (hw:1,0)", "hostapi": 0, "default_samplerate": 44100.0})
    44100
    """
    rate = int(info.get("default_samplerate") or SERVER_RATE)
    try:
        api = str(sd.query_hostapis(info["hostapi"])["name"])
    except Exception:  # noqa: BLE001 - no host API figure: the device's own rate
        return rate
    return SERVER_RATE if api == "ALSA" and "(hw:" not in str(info.get("name", "")) else rate


def _output_device(sd: ModuleType, device: int | str | None) -> dict[str, Any]:
    """The output device's info dict; re-scans devices once if none is found (a server started since)."""
    for attempt in (0, 1):
        try:
            info: dict[str, Any] = sd.query_devices(device, kind="output")
            return info
        except sd.PortAudioError as e:
            err: Exception = e
        except ValueError as e:   # a name or index that matches no output
            outs = _outputs(sd)
            raise AudioDeviceError(f"audio output device {device!r} not found ({e}); available outputs: "
                                   f"{', '.join(outs) if outs else 'none'}") from None
        with _live_lock:
            busy = any(s.stream_open for s in _live)
        if attempt or busy:
            break
        try:   # PortAudio lists devices once at start-up: look again (never while a stream is open)
            sd._terminate()
            sd._initialize()
        except Exception:  # noqa: BLE001
            break
    raise AudioDeviceError(f"no audio output device (PortAudio: {err}); {_no_device_hint()}") from None
