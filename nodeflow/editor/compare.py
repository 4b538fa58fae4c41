"""Level-matched A/B between takes of a list (sweep variants, tune candidates).

*A/B* switches between two takes at the same position in the clip, the way one compares takes,
and plays both at the same integrated loudness: the quieter one's (measured once per take with the
export's meter), so nothing is made louder than it was and nothing clips, and the louder take does
not win by being louder.  A take's own *play* is at its own level.  A take's value is anything the
editor's auditioner plays (audio, a list of clips, a written file's path).  This module does not
import dearpygui.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .app import App

__all__ = ["ABCompare", "db"]

TAIL_S = 0.25      # a switch to a take with less than this left after the position starts it from the beginning


def db(gain: float) -> str:
    """A gain in dB as the A/B line shows it, signed, never ``-0.0``.

    >>> db(-0.04), db(-0.0), db(-12.04), db(3.0)
    ('+0.0', '+0.0', '-12.0', '+3.0')
    """
    return f"{round(gain, 1) + 0.0:+.1f}"


class ABCompare:
    """A and B among takes ``0..n-1``; ``name_of(i)`` and ``value_of(i)`` describe take ``i``.

    Parameters
    ----------
    app
        The editor (its ``audition`` plays).
    source
        What the auditioner shows as the node while a take plays (``"sweep"``, ``"tune"``).
    context
        Loudness is measured once per take and context (the sweep panel's listened output).
    """

    def __init__(self, app: App, source: str, name_of: Callable[[int], str], value_of: Callable[[int], Any],
                 context: Callable[[], str] = lambda: ""):
        self.app, self.source = app, source
        self.name_of, self.value_of, self.context = name_of, value_of, context
        self.ab: dict[str, int | None] = {"A": None, "B": None}
        self._lufs: dict[tuple[int, str], float] = {}
        self._length: dict[tuple[int, str], float] = {}

    def reset(self) -> None:
        self.ab = {"A": None, "B": None}
        self._lufs, self._length = {}, {}

    def play(self, i: int, start_s: float = 0.0, gain_db: float = 0.0) -> None:
        """Play take ``i`` at its own level (``gain_db`` louder for a level-matched A/B)."""
        self.app.audition.play_value((self.source, self.name_of(i)), self.value_of(i), start_s, gain_db)

    def loudness(self, i: int) -> float:
        """Take ``i``'s integrated loudness (LUFS, the export's meter), measured once per context."""
        key = (i, self.context())
        if key not in self._lufs:
            from .playback import loudness_lufs
            try:
                a = self.app.audition.playable(self.value_of(i))
            except OSError:
                a = None
            self._lufs[key] = loudness_lufs(a) if a is not None and a.frames else float("-inf")
            self._length[key] = a.duration_s if a is not None else 0.0
        return self._lufs[key]

    def length_s(self, i: int) -> float:
        """Take ``i``'s length in seconds (0 when it does not play)."""
        self.loudness(i)
        return self._length.get((i, self.context()), 0.0)

    def matched_gains(self) -> tuple[dict[str, float], float] | None:
        """Gains (dB) that bring A and B to the same integrated loudness, the quieter one's, and that
        loudness; None when one is silent."""
        lufs = {s: self.loudness(i) for s, i in self.ab.items() if i is not None}
        if len(lufs) < 2 or any(v == float("-inf") or v != v for v in lufs.values()):
            return None
        target = min(lufs.values())
        return {s: target - v for s, v in lufs.items()}, target

    def toggle(self) -> tuple[str, str] | None:
        """Switch between A and B at the same position in the clip (start with A), or from the other
        take's beginning when it is shorter than that (the status says so); returns the side now
        playing and a line saying how they are matched, or None when A or B is not picked."""
        if self.ab["A"] is None or self.ab["B"] is None:
            return None
        head = self.app.audition.playhead()
        names = {s: self.name_of(i) for s, i in self.ab.items() if i is not None}
        playing = head[1] if head and head[0] == self.source else None
        side = "B" if playing == names["A"] else "A"
        matched = self.matched_gains()
        gains, note = ({"A": 0.0, "B": 0.0}, "A/B is not level-matched: one of them is silent") if matched is None \
            else (matched[0], f"A/B level-matched at {matched[1]:.1f} LUFS (A {db(matched[0]['A'])} dB, "
                              f"B {db(matched[0]['B'])} dB)")
        i = self.ab[side]
        assert i is not None
        at = head[2] if playing and head else 0.0
        length = self.length_s(i)
        if at > 0 and at >= length - TAIL_S:
            self.play(i, 0.0, gains[side])
            other = "A" if side == "B" else "B"
            line = f"{side} ({names[side]}) is {length:.1f} s long, {other} was at {at:.1f} s: playing {side} from the start"
            self.app.audition.messages.append((line, False))    # after its own 'playing ...' (shown in order)
        else:
            self.play(i, at, gains[side])
        return side, note
