"""Text parameters a stranger's graph may hold: too long, or with a NUL byte, said in one line with
the value (shortened) and the fix (QA66 L3: no value, no fix)."""
from __future__ import annotations

import pytest

from nodeflow import Graph
from nodeflow.errors import ParameterError
from nodeflow.types import MAX_TEXT


def test_a_text_over_the_limit_says_how_long_the_limit_and_the_fix():
    g = Graph()
    g.add("speech.espeak", id="sp")
    with pytest.raises(ParameterError) as e:
        g.set("sp", "text", "word " * 30000)
    assert str(e.value).endswith("text: text is 150,000 characters long, over the 100,000 it takes; shorten it, "
                                 "or split it over several nodes"), e.value
    assert MAX_TEXT >= 100_000


def test_a_nul_byte_is_shown_where_it_is_and_the_fix_said():
    g = Graph()
    g.add("io.export", id="exp")
    with pytest.raises(ParameterError) as e:
        g.set("exp", "path", "mix\x00" + "x" * 100 + ".wav")
    said = str(e.value)
    assert "path='mix\\x00xxxx" in said and "...'" in said and len(said) < 220, said
    assert said.endswith("text contains a NUL character (\\x00), which no file name or prompt can hold; remove it")
