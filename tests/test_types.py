"""The engine type-checks strictly: mypy, as configured in pyproject.toml ([tool.mypy]: ``strict`` on
nodeflow/ without the editor), reports no error.  Run by hand with ``.venv/bin/mypy`` from the repo root.

mypy keeps its incremental cache in ``.mypy_cache/`` at the repo root (git ignores it): a first run
takes ~30 s, later ones a few seconds."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_engine_is_checked_strictly():
    """The configuration the test below runs: strict, on nodeflow/, with only the editor left out."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert cfg.get("strict") is True, f"[tool.mypy] must set strict = true; it has {cfg}"
    assert cfg.get("files") == ["nodeflow"], cfg
    assert cfg.get("exclude") in (None, [], ["^nodeflow/editor/"]), f"only the editor may be left out: {cfg}"
    loosened = {k: v for k, v in cfg.items()
                if (k.startswith(("disallow_", "warn_", "check_", "strict_", "no_implicit_")) and v is False)
                or (k.startswith(("allow_", "implicit_")) and v is True)}
    assert not loosened, f"strict is switched back off in part: {loosened}"


@pytest.mark.slow
def test_mypy_strict_reports_no_error_on_the_engine():
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    p = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = (p.stdout + p.stderr)[-6000:]
    assert p.returncode == 0, f"mypy --strict found errors (fix them; see pyproject.toml [tool.mypy]):\n{report}"
    assert "Success: no issues found" in p.stdout, report
