"""nodeflow/ type-checks strictly, the editor included: mypy, as configured in pyproject.toml
([tool.mypy]: ``strict`` on all of nodeflow/, nothing excluded), reports no error.  Run by hand with
``.venv/bin/mypy`` from the repo root.

mypy keeps its incremental cache in ``.mypy_cache/`` at the repo root (git ignores it): a first run
takes ~30 s, later ones a few seconds."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _loosened(settings: dict) -> dict:
    """The strict checks these settings switch back off."""
    return {k: v for k, v in settings.items()
            if (k.startswith(("disallow_", "warn_", "check_", "strict_", "no_implicit_")) and v is False)
            or (k.startswith(("allow_", "implicit_")) and v is True)
            or (k == "ignore_errors" and v is True) or (k == "follow_imports" and v in ("skip", "silent"))}


def test_all_of_nodeflow_is_checked_strictly():
    """The configuration the test below runs: strict, on all of nodeflow/, nothing excluded or loosened
    (no ``exclude``, no per-module override that turns checks off, no ``# mypy:`` file comment)."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert cfg.get("strict") is True, f"[tool.mypy] must set strict = true; it has {cfg}"
    assert cfg.get("files") == ["nodeflow"], cfg
    assert not cfg.get("exclude"), f"nothing in nodeflow/ may be left out of mypy (the editor included): {cfg}"
    assert not _loosened(cfg), f"strict is switched back off in part: {_loosened(cfg)}"
    for o in cfg.get("overrides", []):
        modules = o.get("module")
        modules = [modules] if isinstance(modules, str) else list(modules or [])
        ours = [m for m in modules if m.split(".")[0] in ("nodeflow", "*")]
        assert not (ours and _loosened(o)), f"[[tool.mypy.overrides]] for {ours} leaves them out in part: {o}"
    comments = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in sorted((ROOT / "nodeflow").rglob("*.py"))
                for m in re.finditer(r"^#\s*mypy:.*$", p.read_text(encoding="utf-8"), re.M)]
    assert not comments, f"a '# mypy:' file comment changes the strict settings: {comments}"


@pytest.mark.slow
def test_mypy_strict_reports_no_error_on_nodeflow():
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    p = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = (p.stdout + p.stderr)[-6000:]
    assert p.returncode == 0, f"mypy --strict found errors (fix them; see pyproject.toml [tool.mypy]):\n{report}"
    assert "Success: no issues found" in p.stdout, report
    # every module of nodeflow/ (the editor's too) was among those checked, however it was left out
    checked = int(re.search(r"in (\d+) source files?", p.stdout).group(1))
    ours = len(list((ROOT / "nodeflow").rglob("*.py")))
    assert checked >= ours, f"mypy checked {checked} files but nodeflow/ has {ours}: some are left out\n{report}"
