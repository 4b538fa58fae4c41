"""The text a node shows in one line, and what its tooltip keeps whole: a run state or a
computed value cut to the node's width, a problem's headline with the command that fixes it,
paths as their file names.  No dearpygui: the view (:mod:`.view`, :mod:`.outputs`) sets these
strings on its items.
"""
from __future__ import annotations

import re
from typing import Any, Callable

__all__ = ["STATE_CHARS", "file_names", "fit_line", "headline", "one_line", "path_shown", "path_typed", "problem_line",
           "refused_line", "serious", "status_line",
           "without_node", "wrap"]

STATE_CHARS = 30    # a state that does not fit one line shows its start; the tooltip has all of it
PROBLEM_CHARS = 32  # a problem's line, then cut to the node's width where the font can be measured


def one_line(text: str, tail: bool = False, chars: int = STATE_CHARS) -> str:
    """A state or value as one line of the node (the tooltip shows the rest); ``tail`` keeps the end
    (a path's file name) instead of the start."""
    first = text.splitlines()[0] if text else ""
    if len(first) <= chars and first == text:
        return first
    return "..." + first[-(chars - 3):] if tail else first[:chars - 3].rstrip() + "..."


def status_line(text: str) -> str:
    """A message as the status bar's one line: its lines joined (``; `` between them, a space after
    a heading's colon), list bullets dropped from a message of several lines (a one-line message is
    kept as written: "- 3 dB" is not a list); the tooltip keeps it as written.  Only the first line
    was shown: an A/B switch's second line, a refused run's problems were hidden.

    >>> status_line("now B (take 2): level-matched\\nthe take starts from its beginning")
    'now B (take 2): level-matched; the take starts from its beginning'
    >>> status_line("cannot run: 2 problems:\\n  - node 'a': x\\n  - -6 dB is too loud\\n")
    "cannot run: 2 problems: node 'a': x; -6 dB is too loud"
    >>> status_line("- 3 dB quieter than the file")
    '- 3 dB quieter than the file'
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1:
        lines = [re.sub(r"^[-*\u2022]\s+", "", ln) for ln in lines]
    out = ""
    for line in lines:
        if line:
            out += ("" if not out else " " if out.endswith(":") else "; ") + line
    return out


def refused_line(text: str) -> str:
    """The status line of a run refused with ``text`` (a :class:`~nodeflow.GraphError`'s message: a
    heading, then one problem a line): its first problem that is not an unlinked input (an
    incomplete branch never stops a run on its own, so naming one hid what did: QA50, a missing
    input file behind "node 'loose' ... is not connected (and 1 more)"), then how many more.

    >>> refused_line("g.msgpack: 2 problems:\\n  - node 'loose' (dsp.gain): required input 'audio' (Audio) is not "
    ...              "connected\\n  - node 'load' (io.load): path='take.wav': file not found")
    "cannot run: node 'load' (io.load): path='take.wav': file not found (and 1 more: Graph > Validate lists them)"
    >>> refused_line("node 'a' (dsp.gain): gain_db=99 is out of range")
    "cannot run: node 'a' (dsp.gain): gain_db=99 is out of range"
    """
    lines = [ln.strip().removeprefix("- ") for ln in text.splitlines() if ln.strip()]
    problems = sorted(lines[1:], key=lambda p: "is not connected" in p) or lines[:1]
    more = len(problems) - 1
    return "cannot run: " + problems[0] + (f" (and {more} more: Graph > Validate lists them)" if more > 0 else "")


def fit_line(line: str, width: float, width_of: Callable[[str], float | None], keep_fix: bool = False) -> str:
    """``line`` cut to ``width`` pixels with ``...`` (``width_of`` measures a text; None: it cannot
    yet, and the line is left whole).  The status bar cut a long message at the window's edge with
    nothing to say there was more (its tooltip has all of it).  ``keep_fix``: the line is one message,
    whose last clause, after its last ``; ``, is what to do: it is kept whole where it takes at most
    60% of the width, the cut made before it (QA62 D11: "... start a sound server, or choose an output
    with Pl..."); a longer one keeps its start, after 40% of the width for the message.

    >>> fit_line("opened song.msgpack: 3 problem(s)", 140, lambda t: 7 * len(t))
    'opened song.msgpa...'
    >>> fit_line("saved", 140, lambda t: 7 * len(t))
    'saved'
    >>> fit_line("no audio output device (PortAudio: Error querying device -1); start a sound server", 420,
    ...          lambda t: 7 * len(t), keep_fix=True)
    'no audio output device (...; start a sound server'
    >>> fit_line("no audio output device (PortAudio); start a sound server, connect a sound card, or choose an "
    ...          "output with Player(device=...)", 420, lambda t: 7 * len(t), keep_fix=True)
    'no audio output devi...; start a sound server, connect ...'
    """
    full = width_of(line)
    if full is None or full <= width:
        return line
    tail = "; " + line.rsplit("; ", 1)[1] if keep_fix and "; " in line else ""
    if not tail:
        return _cut(line, width, width_of)
    head, tail_w = line[:len(line) - len(tail)], width_of(tail) or 0.0
    if tail_w <= 0.6 * width:                       # the fix whole, the message cut before it
        return _cut(head, width - tail_w, width_of) + tail
    head = _cut(head, 0.4 * width, width_of)        # a long fix: 40% for the message, then as much of the
    return head + _cut(tail, width - (width_of(head) or 0.0), width_of)   # fix as fits (QA65: it was all cut)


def _cut(text: str, width: float, width_of: Callable[[str], float | None]) -> str:
    """The longest start of ``text`` that fits ``width`` pixels with ``...`` after it (``text`` whole
    where it fits)."""
    if (width_of(text) or 0.0) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        w = width_of(text[:mid].rstrip() + "...")
        if w is not None and w <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "..."


def without_node(problem: str, nid: str) -> str:
    """A problem without its "node 'x' (type):" prefix (it is shown on that node)."""
    prefix = f"node '{nid}'"
    p = problem[len(prefix):] if problem.startswith(prefix) else problem
    if p.startswith(" (") and "): " in p:
        p = p.split("): ", 1)[1]
    return p.lstrip(": ")


_START = r"(?:(?<![\w])[A-Za-z]:|(?<![\w:/.]))[/\\]"          # a drive or a root, not inside a URL
_QUOTED = re.compile(r"(?<=['\"])" + _START + r"(?:[^'\"/\\]*[/\\])+([^'\"/\\]+)(?=['\"])")
_BARE = re.compile(_START + r"(?:[^\s'\",;/\\]*[/\\])+([^\s'\",;/\\]+)")


def file_names(text: str) -> str:
    """Paths in a node's one-line text as their file names (the tooltip has them whole): a line cut
    to the node's width showed the start of a long folder, never the file (and ImGui wraps a line
    after a '.', so '.../name' broke after its first dot).

    >>> file_names("failed: [Errno 2] No such file: '/home/ana/takes/vox (final).wav'")
    "failed: [Errno 2] No such file: 'vox (final).wav'"
    >>> file_names(r"C:\\Users\\ana\\x.wav, https://example.org/a/b, takes/vox.wav")
    'x.wav, https://example.org/a/b, takes/vox.wav'
    """
    return _BARE.sub(lambda m: m.group(1), _QUOTED.sub(lambda m: m.group(1), text))


_BRACKETED_PATH = re.compile(r" \((?:/|~/|[A-Za-z]:[\\/])[^()]*\)")     # " (/home/ana/ckpt)": a bare path


def headline(problem: str) -> str:
    """The first clause of a problem (the node shows it, paths as their names; the tooltip has
    the whole message), and the command that fixes it when the message names one (``audiochain
    models pull NAME``).  A quoted value is never cut (a file named ``take (final).wav``).

    A path in brackets is left out rather than cut at, so the clause goes on to say what is wrong:

    >>> headline("input file path='/a/b/take (final) v2.wav' not found (looked at /a/b); put it there")
    "input file path='take (final) v2.wav' not found"
    >>> headline("checkpoint 'no-config' (/home/ana/ckpt) has no config.json (transformers layout)")
    "checkpoint 'no-config' has no config.json"
    """
    problem = _BRACKETED_PATH.sub("", problem)
    outside = re.sub(r"'[^']*'", lambda m: "x" * len(m.group(0)), problem)      # quotes masked
    cut = min((i for i in (outside.find("; "), outside.find(" (")) if i > 0), default=len(problem))
    fix = re.search(r"`(audiochain [^`]+)`", problem[cut:])
    return file_names(problem[:cut]) + (f"\n  fix: {fix.group(1)}" if fix else "")


_SUBJECT_PATH = re.compile(r"((?:/|~/|[A-Za-z]:[\\/])[^:\n]*?): (.+)", re.S)    # "/a/b/take (1).wav: not ..."


def problem_line(problems: list[str], nid: str = "", chars: int = PROBLEM_CHARS) -> str:
    """A node's problems as the one line it shows in its state line's place (the tooltip has them
    whole): the first one's reason first, a quoted name shortened to its end before the reason is cut,
    ``(+N)`` for more.  A problem that wrapped over 5 lines grew the node over its neighbour, and one
    that came or went moved every row under the pointer (QA40).

    >>> problem_line(["node 'vox': input file path='../takes/My Band - Take 17 (final).flac' not found; put it"])
    "! not found: '...7 (final).flac'"
    >>> problem_line(["/home/ana/My Band - Take 17 (final mix).wav: not a readable audio file: neither ..."])
    '! not a readable audio file'
    >>> problem_line(["checkpoint 'no-config' (/home/ana/c) has no config.json (transformers layout)"])
    '! checkpoint has no config.json'
    >>> problem_line(["required input 'audio' (Audio) is not connected", "b"])
    "! required input 'audio' (+1)"
    """
    if not problems:
        return ""
    first = without_node(problems[0], nid) if nid else _ON_NODE.sub("", problems[0])
    if m := _SUBJECT_PATH.fullmatch(first):              # a path as the subject: the reason first, not the path
        first = m.group(2).split(": ")[0]
    text = headline(first).split("\n")[0]
    if m := re.fullmatch(r"input file \w+=('[^']*') not found", text):
        text = f"not found: {m.group(1)}"
    text, more = "! " + text, f" (+{len(problems) - 1})" if len(problems) > 1 else ""
    over = len(text) + len(more) - chars
    quoted = max(re.findall(r"'[^']*'", text), key=len, default="")
    if over > 0 and len(quoted) - over - 5 >= 4:            # keep the quoted name's end
        text = text.replace(quoted, "'..." + quoted[1:-1][-(len(quoted) - over - 5):] + "'", 1)
    elif over > 0 and re.match(r"! \w[\w ]* '[^']*' \w", text):   # "checkpoint 'x' has ...": the reason
        text = re.sub(r" '[^']*'", "", text, count=1)          # (the name is in the node's own field)
    if len(text) + len(more) > chars:
        text = text[:chars - len(more) - 3].rstrip() + "..."
    return text + more


_ON_NODE = re.compile(r"^node '[^']*'(?: \([^)]*\))?: ")       # the "node 'x' (type): " a problem starts with
# what this machine lacks to run a node: a file, a package or extra, a node type, a checkpoint to pull
_LACKS = ("not found", "not installed", "unknown node type", "pull", "could not check what it needs")


def serious(problems: list[str]) -> bool:
    """Whether a node's problems mean it cannot run on this machine as it is (drawn *broken*, not
    just marked): an input file, package or node type it lacks, a check that crashed, or any
    problem with its checkpoint.  Every message of the checkpoint checks (``nodeflow.checkpoints``,
    the model layer's preflight) names the checkpoint first, so the rule is that, not its
    wording; tests/editor/test_downloads.py reads each such message from the code.

    >>> serious(["node 'gen' (acme.gen): checkpoint '/a/mine': no folder /a/mine, and not a hub id"])
    True
    >>> serious(["node 'gen' (acme.gen): checkpoint 'mine' (/a/mine) has no config.json (transformers layout)"])
    True
    >>> serious(["node 'export' (io.export): required input 'audio' (Audio) is not connected; link it"])
    False
    """
    return any(any(w in p for w in _LACKS) or _ON_NODE.sub("", p).startswith("checkpoint ") for p in problems)


def wrap(text: str, width: int = 40) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width)[:8])


def path_shown(value: Any) -> str:
    """A path as its box shows it: the file name, after ``.../`` when it lies in a folder (a narrow
    box showed the start of a long path, never the name).

    >>> path_shown("/home/ana/takes/vox3.wav"), path_shown("tone.wav"), path_shown(None)
    ('.../vox3.wav', 'tone.wav', '')
    """
    text = str(value or "")
    name = text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return text if not name or name == text else f".../{name}"


def path_typed(text: str, full: str) -> str:
    """What a path box means after an edit: unchanged when it still shows ``full``; ``.../new.wav``
    is ``new.wav`` in ``full``'s folder; anything else is the path typed.

    >>> path_typed(".../vox3.wav", "/a/vox3.wav"), path_typed(".../vox4.wav", "/a/vox3.wav"), path_typed("/b/x.wav", "/a/y")
    ('/a/vox3.wav', '/a/vox4.wav', '/b/x.wav')
    """
    text = str(text).strip()
    if text == path_shown(full):
        return full
    if text.startswith(".../") and "/" in full.replace("\\", "/"):
        return full.replace("\\", "/").rsplit("/", 1)[0] + "/" + text[4:]
    return text
