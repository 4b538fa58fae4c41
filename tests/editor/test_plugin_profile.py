"""A plug-in model family's time base is a choice of the editor's profile combo boxes (issue 13):
the README's plug-in pack installed beside the editor (a module and its dist-info on PYTHONPATH),
a graph whose dsp.resample names the plug-in's profile opens, and both profile parameters' combo
boxes list it beside the built-in families' and custom (without the plug-in they do not)."""
from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path

import pytest

import nodeflow
from nodeflow import Graph, families
from nodeflow.timebase import ModelProfile

from ._graphs import tone_file

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


def _install_plugin(site: Path) -> None:
    (snippet,) = re.findall(r"```python\n(# acme_speech\.py.*?)```", (ROOT / "README.md").read_text(), re.S)
    site.mkdir()
    (site / "acme_speech.py").write_text(snippet, encoding="utf-8")
    dist = site / "acme_speech-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-speech\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[audiochain.nodes]\nacme = acme_speech\n", encoding="utf-8")


def test_a_plugin_familys_profile_is_in_the_editors_choice_lists(editor):
    _install_plugin(editor.tmp / "site")
    editor.env["PYTHONPATH"] = str(editor.tmp / "site") + os.pathsep + editor.env["PYTHONPATH"]
    tone_file(editor.tmp)
    # this process has no plug-in: a stand-in family of the same name lets the graph be written
    families.register(families.FamilySpec("acme_speech", nominal=ModelProfile("acme_speech", 16000, Fraction(125, 2),
                                                                              4096)))
    try:
        g = Graph()
        g.path = editor.tmp / "profiles.msgpack"
        g.add("io.load", id="load", path="tone.wav")
        g.add("dsp.resample", id="rate", profile="acme_speech")
        g.add("time.tokenize_window", id="cut")
        g.connect("load.out", "rate.audio")
        g.connect("rate.out", "cut.audio")
        g.editor["positions"] = {"load": [20.0, 40.0], "rate": [300.0, 40.0], "cut": [600.0, 40.0]}
        nodeflow.save(g, g.path)
    finally:
        families.unregister("acme_speech")
    st = editor.run("widgets", g.path)
    for param in ("rate.profile", "cut.profile"):
        items = st["widgets"][param]["items"]
        assert {"acme_speech", "musicgen", "bark"} <= set(items) and items[-1] == "custom", items
