"""Level-matched A/B between takes: sweep variants, tune candidates, and any two nodes' outputs.

*A/B* switches between two takes at the same position in the clip, the way one compares takes,
and plays both at the same integrated loudness: the quieter one's (measured once per take with the
export's meter), so nothing is made louder than it was and nothing clips, and the louder take does
not win by being louder.  A take's own *play* is at its own level.  A take's value is anything the
editor's auditioner plays (audio, a list of clips, a written file's path).  :class:`NodeAB` compares
the outputs of two nodes on the canvas (select two, *View > A/B selected nodes*, Ctrl+B).  This
module does not import dearpygui.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from . import items

if TYPE_CHECKING:
    from .app import App

__all__ = ["ABCompare", "NodeAB", "db"]

TAIL_S = 0.25      # a switch to a take with less than this left after the position starts it from the beginning


class Take(NamedTuple):
    """What A/B knows of a take, measured once per context (see :meth:`ABCompare.take`)."""
    lufs: float              # integrated loudness (-inf: silent, or it does not play)
    length_s: float          # 0 when it does not play
    mono_file: bool          # a written mono file: played on both channels, 3 LU over its file's meter


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
    key_of
        What the auditioner plays take ``i`` as (default ``(source, name_of(i))``); a node's own
        ``(node, port)`` shows the playhead and meter on that node.
    """

    def __init__(self, app: App, source: str, name_of: Callable[[int], str], value_of: Callable[[int], Any],
                 context: Callable[[], str] = lambda: "",
                 key_of: Callable[[int], tuple[str, str]] | None = None):
        self.app, self.source = app, source
        self.name_of, self.value_of, self.context = name_of, value_of, context
        self.key_of = key_of or (lambda i: (self.source, self.name_of(i)))
        self.ab: dict[str, int | None] = {"A": None, "B": None}
        self._takes: dict[tuple[int, str], Take] = {}

    def reset(self) -> None:
        self.ab = {"A": None, "B": None}
        self._takes = {}

    def play(self, i: int, start_s: float = 0.0, gain_db: float = 0.0) -> None:
        """Play take ``i`` at its own level (``gain_db`` louder for a level-matched A/B)."""
        self.app.audition.play_value(self.key_of(i), self.value_of(i), start_s, gain_db)

    def take(self, i: int) -> Take:
        """Take ``i``'s loudness (LUFS, the export's meter), length and kind, measured once per context."""
        key = (i, self.context())
        if key not in self._takes:
            from .levels import loudness_lufs
            try:
                a = self.app.audition.playable(self.value_of(i))
            except OSError:
                a = None
            self._takes[key] = Take(loudness_lufs(a) if a is not None and a.frames else float("-inf"),
                                    a.duration_s if a is not None else 0.0,
                                    a is not None and a.channels == 1 and isinstance(self.value_of(i), str))
        return self._takes[key]

    def loudness(self, i: int) -> float:
        """Take ``i``'s integrated loudness (LUFS, the export's meter)."""
        return self.take(i).lufs

    def length_s(self, i: int) -> float:
        """Take ``i``'s length in seconds (0 when it does not play)."""
        return self.take(i).length_s

    def matched_gains(self) -> tuple[dict[str, float], float] | None:
        """Gains (dB) that bring A and B to the same integrated loudness, the quieter one's, and that
        loudness; None when one is silent."""
        lufs = {s: self.loudness(i) for s, i in self.ab.items() if i is not None}
        if len(lufs) < 2 or any(v == float("-inf") or v != v for v in lufs.values()):
            return None
        target = min(lufs.values())
        return {s: target - v for s, v in lufs.items()}, target

    def _heard(self) -> str:
        """What the match line adds where A or B is a mono file: its loudness is as heard, on both channels, not as
        its file's meter reads it (QA108: a sweep of mono exports at -14 and -20 LUFS read "level-matched at
        -17.0 LUFS")."""
        from .levels import MONO_PLAYED_DB
        mono = any(self.take(i).mono_file for i in self.ab.values() if i is not None)
        return f", as heard: mono on both channels, {MONO_PLAYED_DB:.0f} LU over its file's meter" if mono else ""

    def toggle(self) -> tuple[str, str] | None:
        """Switch between A and B at the same position in the clip (start with A), or from the other
        take's beginning when it is shorter than that (the status says so); returns the side now
        playing and a line saying how they are matched, or None when A or B is not picked."""
        if self.ab["A"] is None or self.ab["B"] is None:
            return None
        head = self.app.audition.playhead()
        names = {s: self.name_of(i) for s, i in self.ab.items() if i is not None}
        keys = {s: self.key_of(i) for s, i in self.ab.items() if i is not None}
        playing = head[:2] if head and head[:2] in keys.values() else None     # one of these two takes
        side = "B" if playing == keys["A"] else "A"
        matched = self.matched_gains()
        gains, note = ({"A": 0.0, "B": 0.0}, "A/B is not level-matched: one of them is silent") if matched is None \
            else (matched[0], f"A/B level-matched at {matched[1]:.1f} LUFS (A {db(matched[0]['A'])} dB, "
                              f"B {db(matched[0]['B'])} dB)" + self._heard())
        i = self.ab[side]
        assert i is not None
        at = head[2] if playing is not None and head else 0.0
        length = self.length_s(i)
        if at > 0 and at >= length - TAIL_S:
            self.play(i, 0.0, gains[side])
            other = "A" if side == "B" else "B"
            line = f"{side} ({names[side]}) is {length:.1f} s long, {other} was at {at:.1f} s: playing {side} from the start"
            self.app.audition.messages.append((line, False))    # after its own 'playing ...' (shown in order)
        elif playing is None or not self.app.audition.switch(self.key_of(i), self.value_of(i), gains[side]):
            self.play(i, at, gains[side])         # (a switch goes on in the same stream: no gap, no skip)
        return side, note


class NodeAB:
    """Level-matched A/B between the outputs of two nodes on the canvas.

    Select two nodes (Ctrl+click) and press Ctrl+B (*View > A/B selected nodes*): A is the one on
    the left (the upper one when they line up), and each press switches between them at the same
    place in the clip, both at the quieter one's loudness, the way :class:`ABCompare` compares takes.
    A node plays what its play button plays: its first audio output, or the file an export wrote.
    The pair stays until two other nodes are selected, so a press with nothing selected switches
    again.  Outputs not computed yet are computed first (only what they need).
    """

    def __init__(self, app: App):
        self.app = app
        self.pair: list[tuple[str, str]] = []        # (node, port) of A and B
        self._marked: dict[str, tuple[str, str]] = {}    # node -> the mark wanted, and the title it got
        self.waiting: tuple[tuple[str, str], ...] | None = None    # a run computing them, then A/B
        self.compare = ABCompare(app, "", lambda i: f"{self.pair[i][0]}.{self.pair[i][1]}", self._value,
                                 context=self._context, key_of=lambda i: self.pair[i])

    def _value(self, i: int) -> Any:
        return self.app.runner.output(self.app.doc.graph, *self.pair[i])

    def tick(self) -> None:
        """Mark the pair on the canvas, once a frame: ``gain  [A]`` and ``export  [B]`` in the nodes'
        titles (the one playing last: ``[A >]``), a title put back once its node leaves the pair.  A
        title too long for its node with the mark is cut (``a_very_lo...  [A]``): a node keeps its size."""
        view, now = self.app.view, self.app.audition.now
        want = {nid: f"  [{side}{' >' if now == self.pair[i] else ''}]"
                for side, i in self.compare.ab.items() if i is not None and i < len(self.pair)
                for nid in [self.pair[i][0]] if nid in view.nodes}
        for nid in [n for n in self._marked if n not in want]:
            items.configure(view.node_tag(nid), label=nid)
            del self._marked[nid]
        for nid, mark in want.items():
            tag = view.node_tag(nid)
            if self._marked.get(nid, ("", ""))[0] == mark and items.call(self.app.dpg.get_item_label, tag) \
                    == self._marked[nid][1]:
                continue
            label = self._fitted(nid, mark)
            if label is None:
                continue                          # not laid out yet: the next frame
            self._marked[nid] = (mark, label)
            items.configure(tag, label=label)

    def _fitted(self, nid: str, mark: str) -> str | None:
        """``nid + mark``, the id cut (``...``) until it fits the node's width; None before it is drawn."""
        rect = self.app.view.node_rect(nid)
        if rect is None:
            return None
        width = rect[1][0] - rect[0][0]
        for label in [nid + mark] + [nid[:k] + "..." + mark for k in range(len(nid) - 1, 0, -1)]:
            size = self.app.dpg.get_text_size(label)
            if not size:
                return None
            if size[0] <= width:
                return label
        return nid[:1] + "..." + mark

    def _context(self) -> str:
        keys = self.app.runner.current_keys(self.app.doc.graph) or {}
        return "|".join(str(keys.get(nid)) for nid, _ in self.pair)     # what they are now: remeasured after edits

    def _picked(self) -> list[tuple[str, str]] | str:
        """The two selected nodes' outputs, A first; or why they cannot be compared."""
        from .audition import playable_port
        g = self.app.doc.graph
        ids = self.app.view.selected_nodes()
        if len(ids) != 2:
            which = f"{len(ids)} nodes are selected" if len(ids) > 2 else \
                f"only '{ids[0]}' is selected" if ids else "no node is selected"
            return f"A/B: {which}; select two nodes with audio (Ctrl+click the second), then Ctrl+B"
        ports = {nid: playable_port(g, nid) for nid in ids}
        if silent := [nid for nid, port in ports.items() if port is None]:
            return f"cannot A/B: node '{silent[0]}' has no audio output to play; select two nodes with audio"
        from .document import positions
        pos = positions(g)
        a, b = sorted(ids, key=lambda nid: (round((pos.get(nid) or [0.0])[0]), (pos.get(nid) or [0.0, 0.0])[1], nid))
        return [(a, ports[a] or ""), (b, ports[b] or "")]

    def press(self) -> None:
        """Ctrl+B: pick the selected pair (when two nodes are selected) and switch between A and B."""
        app = self.app
        picked = self._picked()
        if isinstance(picked, list):
            if picked != self.pair:
                self.pair = picked
                self.compare.reset()
                self.compare.ab = {"A": 0, "B": 1}
        elif not self.pair or app.view.selected_nodes():
            return app.say(picked, True)
        elif gone := [nid for nid, _ in self.pair if nid not in app.doc.graph.nodes]:
            return app.say(f"cannot A/B: '{gone[0]}' was deleted (Ctrl+Z brings it back); or select two other "  # the pair stays
                           "nodes with audio, then Ctrl+B", True)
        missing = [nid for i, (nid, _) in enumerate(self.pair) if self._value(i) is None]
        if missing:
            return self._compute(missing)
        self._toggle()

    def _compute(self, missing: list[str]) -> None:
        from ..errors import NodeflowError
        app = self.app
        if app.runner.running:
            return app.say(f"A/B: {', '.join(missing)} not computed yet; wait for the run to finish "
                           "(or stop it) and press A/B again", True)
        try:
            app.runner.run(app.doc.graph, missing, kind="audition", on_done=self._computed)
        except NodeflowError as e:
            return app.say(f"cannot A/B: {str(e).splitlines()[0]}", True)
        self.waiting = tuple(self.pair)
        app.say(f"computing {', '.join(missing)} to A/B them...")

    def _computed(self, result: Any, err: BaseException | None) -> None:
        pair, self.waiting = self.waiting, None
        if pair != tuple(self.pair):
            return           # another pair was picked meanwhile
        if err is not None:
            return self.app.say(f"cannot A/B: {str(err).splitlines()[0]}", True)
        if any(self._value(i) is None for i in range(2)):
            return self.app.say("cannot A/B: the graph changed while computing; press Ctrl+B again", True)
        self._toggle()

    def _toggle(self) -> None:
        """Switch, and say so in one status line (the player's own lines go to its tooltip)."""
        messages = self.app.audition.messages
        before = len(messages)
        done = self.compare.toggle()
        said = messages[before:]
        if done is None or any(err for _, err in said):
            return           # e.g. no sound device: the player's error stays the last word
        side, note = done
        del messages[before:]
        name = self.compare.name_of(self.compare.ab[side] or 0)
        if len(said) < 2:
            first, rest = f"now {side} ({name}): {note}", said
        else:                   # the take starts from its beginning: that line first, said once
            first, rest = f"now {said[-1][0]}; {note}", said[:-1]
        messages.append(("\n".join([first] + [text for text, _ in rest]), False))
