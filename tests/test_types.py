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


def test_an_editable_install_is_a_path_type_checkers_read(tmp_path):
    """``pip install -e .`` (the Makefile's, the README's) puts the checkout on sys.path with a plain
    ``.pth`` line, which mypy and editors read; not setuptools' import hook, which only a running Python
    follows (QA68 D6: mypy on a user's script said ``Cannot find implementation or library stub for
    module named "nodes.dsp.basic"``).  Built offline with the setuptools at hand, as pip would."""
    import zipfile
    pytest.importorskip("setuptools")
    code = f"from setuptools import build_meta; print(build_meta.build_editable({str(tmp_path)!r}))"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    with zipfile.ZipFile(tmp_path / p.stdout.strip().splitlines()[-1]) as whl:
        names = whl.namelist()
        pths = {n: whl.read(n).decode().split() for n in names if n.endswith(".pth")}
    assert not [n for n in names if n.endswith(".py")], f"an import hook, which type checkers cannot see: {names}"
    assert list(pths.values()) == [[str(ROOT)]], f"expected one .pth naming {ROOT}: {pths}"


_USER_CODE_OK = '''\
from nodeflow.chain import Chain, Step
from nodes.dsp.basic import fade, gain

step: Step = gain(gain_db=-3)
chain: Chain = step | fade()
longer: Chain = chain | gain(gain_db=1.0) | (fade() | gain(gain_db=0.0))
merged: Chain = {"audio": chain} | gain(gain_db=-1.0)
named: Step = gain(gain_db=-3).named("quiet").into("audio")
'''

# each line marked `# error` is one mypy reports, and no other line
_USER_CODE_MISTAKES = '''\
from nodes.dsp.basic import fade, gain

a = gain(gain_db=-3) | 5  # error
b = 5 | gain(gain_db=-3)  # error
n: int = gain(gain_db=-3) | fade()  # error
s: str = gain(gain_db=-3)  # error
c = (gain(gain_db=-3) | fade()) | "fade"  # error
'''


@pytest.mark.slow
def test_user_code_sees_steps_and_chains(tmp_path):
    """A user's script type-checks against the API: a node called with parameters is a ``Step``, steps
    composed with ``|`` a ``Chain``, and composing with something else, or taking a chain for a number, is
    reported (QA68 D6: every one of them was ``Any``, no mistake flagged).  mypy as a user runs it: this
    checkout on its path (MYPYPATH, ahead of what is installed), its modules' own messages silent."""
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    (tmp_path / "ok_user.py").write_text(_USER_CODE_OK, encoding="utf-8")
    (tmp_path / "bad_user.py").write_text(_USER_CODE_MISTAKES, encoding="utf-8")
    import os
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "", "--follow-imports=silent",
                        "--cache-dir", str(ROOT / ".mypy_cache" / "user-code"), "ok_user.py", "bad_user.py"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    report = (p.stdout + p.stderr)[-6000:]
    flagged = {(m.group(1), int(m.group(2))) for m in re.finditer(r"^(\w+_user)\.py:(\d+): error:", p.stdout, re.M)}
    expected = {("bad_user", i) for i, line in enumerate(_USER_CODE_MISTAKES.splitlines(), 1) if line.endswith("# error")}
    assert flagged == expected, f"mypy flagged {sorted(flagged)}, expected {sorted(expected)}:\n{report}"
