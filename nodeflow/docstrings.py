"""Reading a node function's numpydoc docstring: each port and parameter is described once, in
the ``Parameters`` section, and that text becomes its ``doc`` (shown by ``audiochain nodes``, the
editor's tooltips and ``help()``).

>>> doc = '''Change the level.
...
... Parameters
... ----------
... audio : Audio
...     The clip.
... gain_db : float, dB
...     Level change in decibels;
...     +6 dB is about twice the amplitude.
...
... Examples
... --------
... >>> 1 + 1
... 2
... '''
>>> parameter_docs(doc)
{'audio': 'The clip.', 'gain_db': 'Level change in decibels; +6 dB is about twice the amplitude.'}
"""
from __future__ import annotations

import re

__all__ = ["parameter_docs"]


_ENTRY = re.compile(r"^\*{0,2}\w+(\s*,\s*\*{0,2}\w+)*\s*(:(\s.*)?)?$")


def _is_rule(line: str) -> bool:
    s = line.strip()
    return len(s) >= 3 and set(s) == {"-"}


def parameter_docs(doc: str) -> dict[str, str]:
    """``{name: description}`` from the ``Parameters`` section of a cleaned docstring (as
    :func:`inspect.getdoc` gives it).  ``a, b : type`` describes both; a description's lines are
    joined with spaces, its paragraphs with a newline; an entry without one maps to ``""``."""
    if "Parameters" not in doc:
        return {}
    lines = doc.splitlines()
    n = len(lines)
    start = next((i + 2 for i in range(n - 1) if lines[i].strip() == "Parameters" and _is_rule(lines[i + 1])), None)
    if start is None:
        return {}
    out: dict[str, str] = {}
    names: list[str] = []
    paragraphs: list[list[str]] = []

    def flush() -> None:
        text = "\n".join(" ".join(p) for p in paragraphs if p)
        for name in names:
            out[name] = text

    i = start
    while i < n:
        line = lines[i]
        if i + 1 < n and line.strip() and not line[:1].isspace() and _is_rule(lines[i + 1]):
            break                                          # the next section's title
        if line.strip() and not line[:1].isspace():        # "name : type" (or "a, b : type")
            if not _ENTRY.match(line):
                break                                      # prose after the section ("Example::")
            flush()
            head = line.split(" : ", 1)[0].rstrip(":").strip()
            names = [h.strip().lstrip("*") for h in head.split(",") if h.strip()]
            paragraphs = [[]]
        elif not line.strip():
            if paragraphs and paragraphs[-1]:
                paragraphs.append([])
        elif names:
            paragraphs[-1].append(line.strip())
        i += 1
    flush()
    return out
