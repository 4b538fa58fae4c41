"""The engine type-checks: mypy, as configured in pyproject.toml ([tool.mypy]: nodeflow/ without the
editor, check_untyped_defs), reports no error.  Run by hand with ``.venv/bin/mypy`` from the repo root.

mypy keeps its incremental cache in ``.mypy_cache/`` at the repo root (git ignores it): a first run
takes ~15 s, later ones a second or two."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_mypy_reports_no_error_on_the_engine():
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    p = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = (p.stdout + p.stderr)[-6000:]
    assert p.returncode == 0, f"mypy found errors (fix them; see pyproject.toml [tool.mypy]):\n{report}"
    assert "Success: no issues found" in p.stdout, report
