"""text.prompt_template: fields filled from parameters and variables, clear errors, no format tricks."""
from __future__ import annotations

import pytest

from nodeflow import Executor, Graph
from nodeflow.errors import GraphError, ParameterError
from nodes.text.prompt import parse_variables, prompt_template

fill = prompt_template.fn


def test_default_template_uses_every_musical_field():
    assert fill() == "lo-fi hip hop track with piano, relaxed mood, 90 bpm, in A minor"
    assert fill(genre="dub", bpm=70, key="E minor", instrument="melodica", mood="dark") == \
        "dub track with melodica, dark mood, 70 bpm, in E minor"


def test_variables_add_and_override_fields():
    got = fill(template="{genre} from the {era}, {feel}", variables="era = 1970s; feel=laid back\ngenre=funk")
    assert got == "funk from the 1970s, laid back"
    assert parse_variables("a=1;\n b = two words ") == {"a": "1", "b": "two words"}


@pytest.mark.parametrize("text, said", [
    ("2bad=x", "variables: '2bad' in '2bad=x' is not a name a template can use: a name starts with a letter or _"),
    ("era 1970s", "variables: 'era 1970s' is not a name=value pair"),
])
def test_a_bad_variables_line_says_what_is_wrong_with_it(text, said):
    """QA64: '2bad=x' was called "not a name=value pair"; it is one, with a name no template field can have."""
    with pytest.raises(ParameterError) as e:
        parse_variables(text)
    assert str(e.value).startswith(said), str(e.value)


def test_missing_variable_is_a_clear_error_naming_it():
    with pytest.raises(ParameterError) as e:
        fill(template="{genre} with {tempo_feel}")
    msg = str(e.value)
    assert "no value for {tempo_feel}" in msg and "tempo_feel=..." in msg and "genre" in msg


@pytest.mark.parametrize("template,words", [
    ("{genre.__class__}", "not allowed"), ("{genre[0]}", "not allowed"), ("{genre!r}", "not allowed"),
    ("{genre:>99999}", "not allowed"), ("{}", "positional"), ("{0}", "positional"), ("{genre", "literal brace"),
])
def test_only_plain_fields_are_allowed(template, words):
    with pytest.raises(ParameterError, match=words):
        fill(template=template)


def test_braces_and_whitespace():
    assert fill(template="{{not a field}}   {genre}\n\n now", genre="ambient") == "{not a field} ambient now"


@pytest.mark.parametrize("variables", ["just words", "1abc=x", "a=1; a=2"])
def test_bad_variables_are_clear_errors(variables):
    with pytest.raises(ParameterError, match="variables"):
        fill(variables=variables)


def test_in_a_graph_a_missing_field_names_the_node():
    g = Graph()
    g.add("text.prompt_template", id="prompt", template="{genre} in {scale}")
    with pytest.raises(GraphError, match=r"node 'prompt' \(text.prompt_template\): template: no value for {scale}"):
        Executor().run(g)                  # refused before anything runs, as validate refuses it
    g.set("prompt", "variables", "scale=dorian")
    assert Executor().run(g)["prompt"]["out"] == "lo-fi hip hop in dorian"


def test_a_fractional_tempo_is_written_as_the_musician_typed_it():
    """A track at 97.5 bpm asks for 97.5 bpm (QA57: the int parameter refused the graph)."""
    g = Graph()
    g.add("text.prompt_template", id="prompt", template="{genre} at {bpm} bpm", bpm=97.5)
    assert Executor().run(g)["prompt"]["out"] == "lo-fi hip hop at 97.5 bpm"
    assert fill(template="{bpm}", bpm=90) == fill(template="{bpm}", bpm=90.0) == "90"
    assert fill(template="{bpm}", bpm=133.25) == "133.25"
    assert fill(template="{bpm}", bpm=33.333333333) == "33.333333333"     # (QA61: '33.3333')
