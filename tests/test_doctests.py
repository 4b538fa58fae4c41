"""The examples in docstrings run (issue 15): every module of ``nodeflow`` and ``nodes`` with
``>>>`` examples, node functions' docstrings included (a node's ``__wrapped__`` function is what
doctest finds), each module one test, run from an empty folder."""
from __future__ import annotations

import doctest
import importlib
import io
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    names = []
    for package in ("nodeflow", "nodes"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if ">>>" in path.read_text(encoding="utf-8"):
                rel = path.relative_to(ROOT).with_suffix("")
                parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
                names.append(".".join(parts))
    return names


MODULES = _modules()


def test_the_examples_are_found():
    assert len(MODULES) >= 40 and "nodes.dsp.basic" in MODULES and "nodeflow.chain" in MODULES
    from nodes.dsp import basic
    names = {t.name for t in doctest.DocTestFinder().find(basic) if t.examples}
    assert "nodes.dsp.basic.gain" in names and "nodes.dsp.basic.fade" in names   # node functions too


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    if name.startswith("nodeflow.editor."):
        pytest.importorskip("dearpygui", reason="the editor extra is not installed")
    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder().find(module):
        if test.examples:
            runner.run(test, out=out.write)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, out.getvalue()[-6000:]
