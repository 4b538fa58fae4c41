"""Every parameter documented once (issue 15): the numpydoc ``Parameters`` section of a node
function is each port's and parameter's description, shown by ``audiochain nodes`` (text and
JSON), the editor's tooltip and ``help()``; a built-in parameter without one fails here."""
from __future__ import annotations

import inspect
import json
import pydoc
from typing import Annotated

import pytest

from nodeflow import Audio, DefinitionError, Range, default_registry, node
from nodeflow.cli import main
from nodeflow.docstrings import parameter_docs


def _builtin():
    reg = default_registry()
    assert not reg.failed_packs, reg.failed_packs
    specs = [s for s in reg if s.pack == "builtin"]
    assert len(specs) >= 19
    return specs


def test_every_builtin_parameter_has_a_description():
    missing = [f"{s.id}.{n}" for s in _builtin() for n, p in s.params.items() if not p.doc.strip()]
    assert not missing, f"write these in the node's docstring (numpydoc 'Parameters' section): {missing}"
    assert sum(len(s.params) for s in _builtin()) >= 90


def test_every_builtin_input_port_has_a_description():
    missing = [f"{s.id}.{n}" for s in _builtin() for n, p in s.inputs.items() if not p.doc.strip()]
    assert not missing, f"describe these inputs in the node's docstring: {missing}"


def test_descriptions_are_short_and_say_something():
    for s in _builtin():
        for n, p in s.params.items():
            assert 10 <= len(p.doc) <= 300, (s.id, n, p.doc)
            assert p.doc.strip() != n


# ------------------------------------------------------------------ the parser
def test_the_parameters_section_is_read():
    doc = inspect.cleandoc('''Summary line.

    Longer text that mentions gain_db : not an entry.

    Parameters
    ----------
    a, b : Audio
        The two clips.
    gain_db : float, dB
        Level change in dB,
        on two lines.

        A second paragraph.
    flag
    *args
        Extra.

    Returns
    -------
    Audio
        Not a parameter.
    ''')
    assert parameter_docs(doc) == {"a": "The two clips.", "b": "The two clips.",
                                   "gain_db": "Level change in dB, on two lines.\nA second paragraph.",
                                   "flag": "", "args": "Extra."}
    assert parameter_docs("No sections at all.") == {}
    assert parameter_docs("Parameters are mentioned but not as a section.") == {}
    # prose after the section ends it (an rst "Example::" block, as the model nodes have)
    assert parameter_docs("S.\n\nParameters\n----------\nx : int\n    X.\n\nExample::\n\n    g.add(...)\n") == {"x": "X."}


def test_a_node_gets_its_descriptions_from_its_docstring():
    @node("test.documented")
    def documented(audio: Audio, *, gain_db: Annotated[float, Range(-60, 24, unit="dB")] = 0.0,
                   label: Annotated[str, "A label set in the annotation."] = "") -> Audio:
        """Change the level.

        Parameters
        ----------
        audio : Audio
            The clip.
        gain_db : float
            Level change, -60 to +24 dB.
        """
        return audio

    assert documented.params["gain_db"].doc == "Level change, -60 to +24 dB."
    assert documented.inputs["audio"].doc == "The clip."
    assert documented.params["label"].doc == "A label set in the annotation."   # the older way still works
    assert documented.tooltip == "Change the level."


def test_describing_a_parameter_the_function_does_not_take_is_a_definition_error():
    with pytest.raises(DefinitionError, match=r"node test.stale: the docstring describes 'gain', which the "
                                              r"function does not take; its ports and parameters are: audio, gain_db"):
        @node("test.stale")
        def stale(audio: Audio, *, gain_db: float = 0.0) -> Audio:
            """Gain.

            Parameters
            ----------
            gain : float
                Renamed since.
            """
            return audio


def test_describing_a_parameter_twice_is_a_definition_error():
    with pytest.raises(DefinitionError, match="parameter 'gain_db' is described twice"):
        @node("test.twice")
        def twice(audio: Audio, *, gain_db: Annotated[float, "Gain in dB."] = 0.0) -> Audio:
            """Gain.

            Parameters
            ----------
            gain_db : float
                Level change.
            """
            return audio


# ------------------------------------------------------------------ where descriptions show
def test_audiochain_nodes_shows_the_descriptions(capsys):
    assert main(["nodes", "dsp.gain"]) == 0
    out = capsys.readouterr().out
    assert "gain_db (float) = 0.0  [-60, 24] dB" in out
    assert "Level change, -60 to +24 dB: -6 dB halves the amplitude" in out
    assert main(["nodes", "--json", "io.export"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["params"]["loudness_lufs"]["doc"].startswith("Integrated loudness target")
    assert doc["inputs"]["audio"]["doc"]
    assert all(p["doc"] for p in doc["params"].values())


def test_help_shows_the_docstring_ports_and_parameters():
    from nodes.dsp.basic import gain
    text = pydoc.render_doc(gain, renderer=pydoc.plaintext)
    assert "Change the level by `gain_db` decibels" in text
    assert "Level change, -60 to +24 dB" in text
    assert "Node dsp.gain v1" in text and "gain_db (float) = 0.0  [-60, 24] dB" in text
    assert str(inspect.signature(gain)) == str(inspect.signature(gain.fn))
    assert gain.__name__ == "gain" and gain.__module__ == "nodes.dsp.basic"


def test_the_editor_tooltip_shows_the_description():
    from nodeflow.editor.paramtext import tooltip
    from nodes.io.export import export
    tip = tooltip(export.params["peak_db"])
    assert tip.splitlines()[0] == "peak_db" and "True-peak ceiling" in tip and "from -60 to 0 dBTP" in tip
    assert tip.endswith("leave empty for none")          # (an empty peak_db: no limiter)


def test_editor_tooltips_read_without_the_docstrings_markup():
    """QA46: 23 of 170 parameter tooltips showed reStructuredText ("With ``profile=custom``: the
    target rate", "Play `b` after `a`"); every built-in node's and parameter's tooltip reads plain."""
    from nodeflow.editor.paramtext import readable, tooltip
    marked = [f"{spec.id}.{p.name}" for spec in default_registry() for p in spec.params.values() if "`" in p.doc]
    assert len(marked) > 10                              # the docstrings keep their markup (help(), the docs)
    for spec in default_registry():
        for text in [readable(spec.tooltip)] + [tooltip(p) for p in spec.params.values()]:
            assert "`" not in text and ":func:" not in text and ":class:" not in text, f"{spec.id}: {text}"
    from nodes.dsp.resample import resample
    assert "With profile=custom: the target rate" in tooltip(resample.params["rate_hz"])
