"""Short jobs are not mostly imports: `import nodeflow`, `audiochain --help`, `validate` and `nodes`
load only what they use (issue 12).  Each check runs in a fresh interpreter and reads ``sys.modules``."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Imported inside the functions that need them; none is needed to start, list nodes or validate.
HEAVY = ["scipy", "networkx", "pedalboard", "torch", "transformers", "librosa", "soxr", "pyrubberband",
         "numba", "dearpygui", "safetensors", "pyloudnorm", "demucs"]

_PROBE = """
import contextlib, io, json, sys
args = json.loads(sys.argv[1])
if args is None:
    import nodeflow
else:
    from nodeflow import cli
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = cli.main(args)
        except SystemExit as e:
            code = e.code
    if code not in (0, None):
        sys.exit(f"audiochain {args} exited {code}")
print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))
"""


def loaded_after(args: list[str] | None) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [None, ["--help"], ["nodes"], ["validate", "graphs/demo.msgpack"]],
                         ids=["import", "help", "nodes", "validate"])
def test_starting_imports_nothing_heavy(args):
    loaded = loaded_after(args)
    assert not loaded & set(HEAVY), f"{args or 'import nodeflow'} imported {sorted(loaded & set(HEAVY))}"
    assert "nodeflow" in loaded


@pytest.mark.parametrize("args", [None, ["--help"], ["nodes"]], ids=["import", "help", "nodes"])
def test_soundfile_only_where_files_are_read(args):
    # validate reads the input files' headers (length, rate) with soundfile: that is intended there only
    assert "soundfile" not in loaded_after(args)
