"""text.prompt_template: fill a prompt from named musical fields, safely.

Only plain ``{name}`` fields are allowed: no attribute or index access (``{x.__class__}``,
``{x[0]}``), no conversions (``{x!r}``) and no format specs (``{x:>99999}``), so a template from
a shared graph file can neither reach into Python objects nor blow up memory.  The template is
parsed with :class:`string.Formatter` and the text assembled by hand; ``str.format`` is never
called.  ``{{`` and ``}}`` are literal braces.
"""
from __future__ import annotations

import re
import string
from typing import Annotated

from nodeflow.errors import ParameterError
from nodeflow.node import node
from nodeflow.types import Range, Text

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_TEMPLATE = "{genre} track with {instrument}, {mood} mood, {bpm} bpm, in {key}"


def _estimate(inputs: dict, params: dict) -> dict:
    """The prompt's length; a template the node would refuse (a field without a value, a field that
    is not allowed, variables that are not pairs) is refused before anything runs (QA: validate said
    ok, the run then failed)."""
    from nodeflow.costs import Shape
    problem = ""
    try:
        prompt_template.fn(**{k: v for k, v in params.items() if k in prompt_template.params})
    except ParameterError as e:
        problem = str(e)
    return {"out": Shape(chars=sum(len(str(v)) for v in params.values()), work_s=0.0, problem=problem)}


@node("text.prompt_template", category="text", version=1, estimate=_estimate)
def prompt_template(*, template: Annotated[str, Text(multiline=True)] = DEFAULT_TEMPLATE,
                    genre: str = "lo-fi hip hop",
                    mood: str = "relaxed",
                    bpm: Annotated[float, Range(20, 300, unit="bpm")] = 90,
                    key: str = "A minor",
                    instrument: str = "piano",
                    variables: Annotated[str, Text(multiline=True)] = "") -> str:
    """Fill a text prompt template from genre, mood, bpm, key, instrument and extra variables.

    ``variables`` adds (or overrides) fields as ``name=value`` pairs separated by ``;`` or new
    lines.  The result has its whitespace collapsed to single spaces.

    Parameters
    ----------
    template : str
        The prompt with {fields} to fill: {genre}, {mood}, {bpm}, {key}, {instrument} and any name
        from `variables`.
    genre : str
        Fills {genre}, e.g. lo-fi hip hop, dub, string quartet.
    mood : str
        Fills {mood}, e.g. relaxed, tense, euphoric.
    bpm : float, bpm
        Fills {bpm}: the tempo to ask for, 20-300 bpm, written as typed (90, 97.5).
    key : str
        Fills {key}, e.g. A minor.
    instrument : str
        Fills {instrument}, e.g. piano, analog synths.
    variables : str
        More fields as name=value pairs, separated by ; or new lines; they override the ones above.

    Examples
    --------
    >>> prompt_template.fn(template="{genre} at {bpm} bpm with {fx}", genre="dub", bpm=70,
    ...                    variables="fx = tape echo")
    'dub at 70 bpm with tape echo'
    """
    values = {"genre": genre, "mood": mood, "bpm": f"{float(bpm):.12g}", "key": key, "instrument": instrument}
    values.update(parse_variables(variables))
    out: list[str] = []
    for literal, field, spec, conversion in _parse(template):
        out.append(literal)
        if field is None:
            continue
        if not _NAME.match(field) or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ParameterError(f"template: field {shown} is not allowed; use plain {{name}} fields "
                                 "(letters, digits and _), without '.', '[]', '!' or ':'")
        if field not in values:
            raise ParameterError(f"template: no value for {{{field}}}; available: {', '.join(sorted(values))}; "
                                 f"add it to variables as '{field}=...'")
        out.append(values[field])
    return " ".join("".join(out).split())


def parse_variables(text: str) -> dict[str, str]:
    """``"a=1; b = two"`` (or one pair per line) -> ``{"a": "1", "b": "two"}``."""
    pairs: dict[str, str] = {}
    for item in re.split(r"[;\n]", text):
        if not item.strip():
            continue
        name, eq, value = item.partition("=")
        name = name.strip()
        if eq and name and not _NAME.match(name):     # (QA64: '2bad=x' was "not a name=value pair")
            raise ParameterError(f"variables: {name!r} in {item.strip()!r} is not a name a template can use: a name "
                                 "starts with a letter or _ and holds letters, digits and _ (e.g. 'era=1970s')")
        if not eq or not _NAME.match(name):
            raise ParameterError(f"variables: {item.strip()!r} is not a name=value pair; write pairs like "
                                 "'tempo_feel=laid back; era=1970s'")
        if name in pairs:
            raise ParameterError(f"variables: '{name}' is given twice")
        pairs[name] = value.strip()
    return pairs


def _parse(template: str) -> list[tuple[str, str | None, str, str | None]]:
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ParameterError(f"template: {e}; write {{{{ or }}}} for a literal brace") from None
    for _, field, _, _ in parts:
        if field == "" or (field is not None and field.isdigit()):
            raise ParameterError("template: positional fields like {} or {0} are not allowed; name the field, "
                                 "e.g. {genre}")
    return parts
