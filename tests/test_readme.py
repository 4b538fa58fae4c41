"""The README's Python snippets work verbatim, run from a folder laid out like the repo root."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent


def _python_snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def _run(code: str, cwd: Path) -> str:
    (cwd / "graphs").is_symlink() or (cwd / "graphs").symlink_to(ROOT / "graphs")     # the clips: graphs/assets/
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"README snippet failed:\n{code}\n{p.stderr[-3000:]}"
    return p.stdout


def test_the_readme_has_its_five_python_snippets():
    snippets = _python_snippets()
    assert len(snippets) == 5 and "chain.run()" in snippets[0] and "ex.run(g" in snippets[1]
    assert ".invoke(" in snippets[2] and ".batch(" in snippets[2]
    assert "} | mix()" in snippets[3] and ".stream()" in snippets[3] and ".astream()" in snippets[3]
    assert snippets[4].startswith("# acme_speech.py") and "layer.Family(" in snippets[4]


def test_the_chain_snippet_renders_its_file_and_saves_a_graph(tmp_path):
    code = _python_snippets()[0] + "\nprint(sorted(result.ran))\n"
    out = _run(code, tmp_path)
    assert "'export'" in out and "'variation'" in out
    info = sf.info(tmp_path / "out" / "melody-variations.flac")
    # 8 s melody -> two 2-bar windows at 120 bpm (4 s each) -> stitched back at their bars: still 8 s
    assert info.samplerate == 32000 and info.frames == 8 * 32000
    assert (tmp_path / "my.msgpack").stat().st_size > 100


def test_the_branch_and_merge_snippet_mixes_the_melody_with_the_loop(tmp_path):
    code = _python_snippets()[1] + "\nout = res.outputs[m.id]['out']\nprint(out.channels, out.sample_rate, sorted(res.ran))\n"
    out = _run(code, tmp_path).split()
    loop = sf.info(ROOT / "graphs" / "assets" / "loop.flac")
    # the mono melody is spread over the stereo loop's two channels
    assert out[:2] == [str(loop.channels), "44100"] and loop.channels == 2
    assert "'mix']" in out[-1]
    import nodeflow
    saved = nodeflow.load(tmp_path / "mix.msgpack")          # saved as the snippet shows, with the later setting
    assert saved.nodes[m_id(saved)].params["gain_b_db"] == -9.0 and len(saved.links) == 2


def m_id(g) -> str:
    return next(n for n, inst in g.nodes.items() if inst.type == "dsp.mix")


def test_the_values_snippet_takes_numpy_arrays_and_files_and_writes_nothing(tmp_path):
    code = _python_snippets()[2] + """
print(out.sample_rate, out.channels, out.frames, type(out.samples).__name__)
print([(t.sample_rate, t.frames) for t in takes])
print(round(float(20 * np.log10(np.abs(quieter.samples).max() / np.abs(out.samples).max())), 2))
"""
    lines = _run(code, tmp_path).splitlines()
    assert lines[0] == "48000 2 144000 ndarray"                    # 3 s of stereo at 48 kHz
    melody = sf.info(ROOT / "graphs" / "assets" / "melody.flac")
    assert lines[1] == str([(48000, 144000), (48000, round(melody.duration * 48000))])
    assert lines[2] == "-6.0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graphs"]   # values in, values out: no file written


def test_the_composition_snippet_mixes_streams_and_awaits(tmp_path):
    code = _python_snippets()[3] + """
print(both.channels, both.sample_rate, both.frames == again.frames)
print([p.index for p in pieces])
"""
    lines = _run(code, tmp_path).splitlines()
    melody = sf.info(ROOT / "graphs" / "assets" / "melody.flac")
    n = round(melody.duration / 2.0)
    assert lines[:n] == [f"{i} {i * 2 * melody.samplerate}" for i in range(n)]   # windows in order, as made
    assert lines[n] == "2 44100 True"
    assert lines[n + 1] == str(list(range(n)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graphs"]


def test_the_add_a_model_snippet_declares_a_family_whose_node_speaks(tmp_path):
    """The "Add a model" module, run as written, on a tiny random-weight VITS checkpoint (the full
    plug-in round trip, CLI, preflight and bundle, is tests/nodes/models/test_plugin_family.py)."""
    import pytest
    pytest.importorskip("transformers")
    code = _python_snippets()[4] + """
import sys
sys.path.insert(0, %r)
import tiny_vits
from nodeflow import families
ck = tiny_vits.build("tiny-vits")
from nodeflow.registry import default_registry
register(default_registry())          # what the entry point does when the package is installed
out = speak(prompt="hello", checkpoint=str(ck), device="cpu", seed=1).invoke()
print(families.get("acme_speech").name, out.sample_rate, out.frames %% 256, out.frames > 0)
""" % str(ROOT / "tests" / "fixtures")
    assert _run(code, tmp_path).split() == ["acme_speech", "16000", "0", "True"]
