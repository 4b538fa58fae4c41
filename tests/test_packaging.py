"""What a packager and a newcomer look for (issue 15): a LICENSE matching the package's license, the
version written in one place (``nodeflow.__version__``, which pyproject reads), ``py.typed``."""
from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import nodeflow

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_license_file_is_the_mit_license_pyproject_declares():
    assert PYPROJECT["project"]["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 AudioChain contributors" in text
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_the_version_is_written_once():
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nodeflow.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", nodeflow.__version__)
    written = [p.relative_to(ROOT).as_posix() for p in [*ROOT.glob("nodeflow/**/*.py"), *ROOT.glob("nodes/**/*.py")]
               if re.search(r"^\s*__version__\s*=", p.read_text(encoding="utf-8"), re.M)]
    assert written == ["nodeflow/__init__.py"]
    try:   # an installed (or editable) copy reports the same version, once it was (re)installed
        installed = importlib.metadata.version("audiochain")
    except importlib.metadata.PackageNotFoundError:
        return
    assert installed == nodeflow.__version__


def test_the_packages_are_marked_typed():
    for package in ("nodeflow", "nodes"):
        assert (ROOT / package / "py.typed").is_file()
        assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"][package]
