"""The editor's preferences (Edit > Preferences...), kept in ``preferences.json`` beside the recent
files.  Today: the playback latency and whether the canvas shows its minimap.  This module does not import dearpygui.

>>> from nodeflow.editor.prefs import LATENCY_CHOICES, latency_label, latency_value
>>> latency_value(latency_label(0.2))
0.2
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .files import _atomic_write, state_dir

__all__ = ["Preferences", "LATENCY_CHOICES", "latency_label", "latency_value"]

# (value, label) in the order the dialog shows them
LATENCY_CHOICES: tuple[tuple[Any, str], ...] = (
    ("auto", "auto: from the sound device, grows after a dropout"),
    ("low", "low: the device's shortest (dropouts on a busy machine)"),
    (0.05, "50 ms"), (0.1, "100 ms"), (0.2, "200 ms"), (0.5, "500 ms"), (1.0, "1000 ms"),
)


def latency_label(value: Any) -> str:
    for v, label in LATENCY_CHOICES:
        if v == value:
            return label
    return f"{float(value) * 1e3:.0f} ms" if isinstance(value, (int, float)) else LATENCY_CHOICES[0][1]


def latency_value(label: str) -> Any:
    for v, lab in LATENCY_CHOICES:
        if lab == label:
            return v
    if label.endswith(" ms"):
        try:
            return float(label[:-3]) / 1e3
        except ValueError:
            pass
    return "auto"


class Preferences:
    """Settings that outlive a session; a missing or damaged file gives the defaults."""

    DEFAULTS: dict[str, Any] = {"playback_latency": "auto", "minimap": True}

    def __init__(self, folder: Path | None = None):
        self.file = (folder or state_dir()) / "preferences.json"
        self.data = dict(self.DEFAULTS)
        try:
            saved = json.loads(self.file.read_text())
        except (OSError, ValueError):
            saved = {}
        if isinstance(saved, dict):
            from .player import check_latency
            try:
                check_latency(saved.get("playback_latency", "auto"))
                self.data["playback_latency"] = saved.get("playback_latency", "auto")
            except Exception:  # noqa: BLE001 - a bad value in the file: the default
                pass
            if isinstance(saved.get("minimap"), bool):
                self.data["minimap"] = saved["minimap"]

    @property
    def minimap(self) -> bool:
        """View > Minimap: shown (every node drawn) or hidden (nodes far outside the view not drawn)."""
        return bool(self.data.get("minimap", True))

    @property
    def playback_latency(self) -> Any:
        return self.data["playback_latency"]

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        try:
            _atomic_write(self.file, json.dumps(self.data, indent=1).encode())
        except OSError:
            pass          # the setting still applies to this session
