"""Run the real editor in a subprocess under the test display, driven by a scenario script.

dearpygui aborts the whole process when there is no display, so every GUI test runs the editor
(`python -m nodeflow.editor FILE --script scenarios/NAME.py`) in its own process; the scenario sends
real mouse/keyboard events with xdotool and dumps the editor's state as JSON, which the test checks.
`scripts/run-tests.sh` (make test) starts Xvfb and PulseAudio and exports DISPLAY / PULSE_SERVER.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodeflow.editor.cli import display_problem

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def gui_skip_reason() -> str | None:
    problem = display_problem()
    if problem:
        return f"no X display for GUI tests ({problem.split(';')[0]}); run them through scripts/run-tests.sh"
    if shutil.which("xdotool") is None:
        return "xdotool is not installed (scripts/system-deps.sh installs it)"
    try:
        import dearpygui  # noqa: F401
    except ImportError:
        return "dearpygui is not installed (the 'editor' extra)"
    return None


def sound_skip_reason() -> str | None:
    if not os.environ.get("PULSE_SERVER") or shutil.which("pactl") is None:
        return "no PulseAudio server for sound tests; run them through scripts/run-tests.sh"
    if subprocess.run(["pactl", "info"], capture_output=True).returncode != 0:
        return "the PulseAudio server does not answer"
    return None


class Editor:
    """Starts the editor on a file with a scenario and collects the JSON it dumps."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.stderr = ""                 # the last run's console output
        self.state_dir = tmp / "state"
        self.env = dict(os.environ, AUDIOCHAIN_STATE_DIR=str(self.state_dir), AUDIOCHAIN_EDITOR_UNDECORATED="1",
                        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def command(self, scenario: str, file: Path | None, dump: Path) -> tuple[list[str], dict]:
        cmd = [sys.executable, "-m", "nodeflow.editor"] + ([str(file)] if file else []) + \
              ["--script", str(HERE / "scenarios" / f"{scenario}.py")]
        return cmd, dict(self.env, AUDIOCHAIN_EDITOR_DUMP=str(dump), AUDIOCHAIN_TEST_TMP=str(self.tmp))

    def run(self, scenario: str, file: Path | None = None, timeout: float = 90) -> dict:
        dump = self.tmp / f"{scenario}.json"
        cmd, env = self.command(scenario, file, dump)
        p = subprocess.run(cmd, env=env, cwd=self.tmp, capture_output=True, text=True, timeout=timeout)
        self.stderr = p.stderr
        if p.returncode != 0 or not dump.exists():
            raise AssertionError(f"editor scenario {scenario} failed (rc {p.returncode}):\n{p.stdout[-3000:]}\n"
                                 f"{p.stderr[-5000:]}")
        return json.loads(dump.read_text())

    def start(self, scenario: str, file: Path | None = None) -> subprocess.Popen:
        cmd, env = self.command(scenario, file, self.tmp / f"{scenario}.json")
        return subprocess.Popen(cmd, env=env, cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def editor(tmp_path):
    reason = gui_skip_reason()
    if reason:
        pytest.skip(reason)
    return Editor(tmp_path)


def sound_editor(tmp: Path) -> Editor:
    """An editor in ``tmp`` whose recordings tap the null sink's monitor (for module-scoped fixtures
    that run one scenario and share what it heard); skips without a display or PulseAudio."""
    reason = gui_skip_reason() or sound_skip_reason()
    if reason:
        pytest.skip(reason)
    ed = Editor(tmp)
    ed.env["PULSE_SOURCE"] = "nullsink.monitor"
    return ed
