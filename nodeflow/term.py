"""Text from files, shown in a terminal: control characters escaped.

A graph, bundle or audio file from elsewhere can hold text (node parameters, metadata, paths) with
terminal escape sequences that would move the cursor, recolour or hide what follows, e.g. an export
path hidden behind ``ESC[8m``.  Everything the CLI prints that came from a file goes through
:func:`printable`.

>>> printable("out.wav\\x1b[8m/home/victim/master.wav")
'out.wav\\\\x1b[8m/home/victim/master.wav'
>>> printable("two\\nlines", keep_newlines=True)
'two\\nlines'
"""
from __future__ import annotations

import re

__all__ = ["printable", "format_bytes"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: object, keep_newlines: bool = False, *, limit: int | None = None) -> str:
    """``text`` with C0/C1 control characters (and bidirectional overrides) shown as ``\\xNN``
    escapes; tabs stay, newlines too when ``keep_newlines`` (multi-line listings).  ``limit``: a text
    longer than that keeps its start and its end (where a message says the fix) around a note of what
    was left out (QA53: a 900,000-character value made a 1.8 MB error line).

    >>> printable("x=" + "9" * 5000 + ": expected a number", limit=60)
    'x=9999999999999999999999 ... (4977 characters left out) ... 9: expected a number'
    """
    s = str(text)
    if limit is not None and len(s) > limit:
        head, tail = limit * 2 // 5, limit // 3
        s = f"{s[:head]} ... ({len(s) - head - tail} characters left out) ... {s[-tail:]}"
    return _CONTROL.sub(_escape, s if keep_newlines else s.replace("\n", "\\n"))


ERROR_LIMIT = 2000      # characters of one error line (see printable's limit)


def format_bytes(n: float) -> str:
    """A size for people: ``512 B``, ``10.2 MiB``, ``10.00 GiB`` (binary units).

    >>> format_bytes(10 * 2**30), format_bytes(0.01 * 2**30), format_bytes(512)
    ('10.00 GiB', '10.2 MiB', '512 B')
    """
    for unit, decimals in (("B", 0), ("KiB", 1), ("MiB", 1)):
        if n < 1024:
            return f"{n:.{decimals}f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"
