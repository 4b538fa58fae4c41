"""The sweep panel: define a sweep, run it in the background, audition the variants A/B.

Axes use the CLI's syntax, one per line (``vary.semitones=0,5,7``, ``gen.seed=1..8``); the mode is
grid (every combination) or zip (paired values).  The sweep runs through :func:`nodeflow.sweep.run_sweep`
on the editor's own executor, so upstream work is shared with the editor's runs and between
variants; each variant lands in its own folder and ``manifest.json``/``manifest.csv`` are written
at the end.  The results list has *play* per variant and an A/B pair, level-matched
(:class:`~.compare.ABCompare`: the same place in the clip, the quieter one's loudness; the panel
says so).  A variant's own *play* is at its own level.
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NodeflowError, ParameterError
from ..manifest import SweepReport, write_manifest
from ..sweep import Axis, VariantResult, expand, parse_axis, run_sweep
from .compare import ABCompare

if TYPE_CHECKING:
    from ..graph import Graph
    from .app import App

__all__ = ["SweepPanel", "parse_axes"]

AB_NOTE = "A/B plays both at the same loudness (the quieter one's)"


def parse_axes(text: str, graph: Graph) -> list[Axis]:
    """The panel's axes, one per line, parsed as the CLI's ``--sweep``; an error names the axis line
    in the panel's words (the CLI's own say ``--sweep '...'``)."""
    axes = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            axes.append(parse_axis(line, graph))
        except NodeflowError as e:
            raise ParameterError(axis_error(n, line, e)) from None
    return axes


def axis_error(n: int, line: str, e: Exception) -> str:
    """The CLI's error about ``--sweep LINE`` as the panel says it, naming axis line ``n``.

    >>> axis_error(2, "gain.db=1", ValueError("--sweep 'gain.db=1': node 'gain' has no parameter 'db'"))
    "axis line 2 (gain.db=1): node 'gain' has no parameter 'db'"
    """
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    msg = msg.removeprefix(f"--sweep {line!r}: ")
    if line.partition("=")[2].count("="):        # two axes typed without a line break
        msg += "; two axes on one line? write one axis per line"
    return f"axis line {n} ({line.strip()}): {msg}"


def error_line(error: str, chars: int = 120) -> str:
    """A variant's error as its row shows it: the first line, the node named as in the graph.

    >>> error_line("node 'export': bit_depth=float32: flac stores 16- or 24-bit integers\\nmore")
    'export: bit_depth=float32: flac stores 16- or 24-bit integers'
    """
    first = error.splitlines()[0] if error else ""
    first = re.sub(r"^node '([^']+)'(?: \([^)]*\))?: ", r"\1: ", first)
    return first if len(first) <= chars else first[:chars - 3].rstrip() + "..."


def _file_length(value: object) -> str:
    """The length of the file a variant's export wrote (its header read: QA111, the column was blank), or ""."""
    from .filedecode import written_files
    files = written_files(value) if isinstance(value, (list, tuple)) else [value] if isinstance(value, str) else []
    try:
        import soundfile as sf
        info = sf.info(str(files[0]))
        return f"{info.frames / info.samplerate:.1f} s"
    except (IndexError, RuntimeError, OSError, ZeroDivisionError):
        return ""


class SweepPanel:
    def __init__(self, app: App):
        self.app, self.dpg = app, app.dpg
        self.results: list[VariantResult] = []
        self.compare = ABCompare(app, "sweep", lambda i: self.results[i].variant.name,
                                 lambda i: self._value(self.results[i]),
                                 context=lambda: self.dpg.get_value("sweep::listen") or "")
        self._picked = False             # A/B chosen by hand (else the first two variants)
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._incoming: list[VariantResult] = []     # finished variants (from the sweep's thread)
        self._done: tuple[str, bool] | None = None
        self.out_dir: Path | None = None
        dpg = self.dpg
        with dpg.window(label="Sweep", tag="sweep", show=False, width=720, height=460, pos=[300, 80],
                        no_saved_settings=True):
            dpg.add_text("One axis per line: NODE.PARAM=v1,v2,v3  or  NODE.PARAM=1..8", color=(180, 180, 200))
            dpg.add_input_text(tag="sweep::axes", multiline=True, height=60, width=-1)
            with dpg.group(horizontal=True):
                dpg.add_combo(["grid", "zip"], default_value="grid", tag="sweep::mode", width=70, label="mode")
                dpg.add_combo([], tag="sweep::listen", width=200, label="listen to")
            dpg.add_input_text(tag="sweep::out", width=-80, label="folder")
            with dpg.group(horizontal=True):
                dpg.add_button(label="Run sweep", tag="sweep::run", callback=self.run)
                dpg.add_button(label="Stop", tag="sweep::stop", callback=self.stop)
                dpg.add_button(label="Keep in graph", tag="sweep::keep", callback=self.keep)
                dpg.add_button(label="A/B", tag="sweep::ab", callback=self.toggle_ab)
            # lines of their own, wrapped at the panel's edge: variant names are long (they were cut off)
            dpg.add_text("", tag="sweep::abtext", wrap=0)
            dpg.add_text(AB_NOTE, tag="sweep::abmatch", wrap=0, color=(170, 200, 170))
            dpg.add_text("", tag="sweep::status", wrap=600)
            with dpg.table(tag="sweep::table", header_row=True, borders_innerH=True, resizable=True,
                           scrollY=True, height=-1):
                for name, w in (("variant", 3.0), ("status", 1.0), ("length", 0.8), ("", 1.6)):
                    dpg.add_table_column(label=name, init_width_or_weight=w)
        app.fitter.add("sweep", 720, 460)

    # ------------------------------------------------------------------ open
    def open(self) -> None:
        g = self.app.doc.graph
        dpg = self.dpg
        if not dpg.get_value("sweep::axes") and g.sweep:
            lines = [f"{ax['param']}=" + ",".join(str(v) for v in ax.get("values", [])) for ax in g.sweep.get("axes", [])]
            dpg.set_value("sweep::axes", "\n".join(lines))
            dpg.set_value("sweep::mode", g.sweep.get("mode", "grid"))
        audio, files = self.audio_outputs()
        dpg.configure_item("sweep::listen", items=audio + files)
        if dpg.get_value("sweep::listen") not in audio + files:
            dpg.set_value("sweep::listen", (audio or files or [""])[-1])
        if not dpg.get_value("sweep::out"):
            out = self.app.runner.output_dir(g) / "out"          # beside the graph; an untitled one's own folder
            dpg.set_value("sweep::out", str(out / f"sweep-{self.app.doc.title.split('.')[0]}"))
        dpg.configure_item("sweep", show=True)
        self.app.fitter.fit("sweep")

    def audio_outputs(self) -> tuple[list[str], list[str]]:
        """What the sweep can listen to: every audio output, and every file an export writes (played from the
        file each variant wrote, as the node's play button does; QA108: an export could not be listened to)."""
        from .audition import plays_file
        from .view import is_audio_type
        g = self.app.doc.graph
        types = g.output_types()
        return ([f"{n}.{p}" for (n, p), t in types.items() if is_audio_type(t)],
                [f"{n}.{p}" for (n, p), t in types.items() if (spec := g.spec(n)) is not None and plays_file(spec, t)])

    def keep(self) -> None:
        """Save the sweep in the graph file (an undoable edit), so `audiochain run` can run it too."""
        g = self.app.doc.graph
        try:
            axes = parse_axes(self.dpg.get_value("sweep::axes"), g)
        except NodeflowError as e:
            return self._say(str(e), True)
        doc = {"mode": self.dpg.get_value("sweep::mode") or "grid",
               "axes": [{"param": a.name, "values": [getattr(v, "value", v) for v in a.values]} for a in axes]}
        self.app.doc.set_sweep(doc if axes else {})
        self._say(f"the sweep ({len(axes)} axes) is kept in the graph; save the graph to keep it in the file")

    # ------------------------------------------------------------------ run
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        if self.running:
            return self._say("a sweep is running; Stop it first", True)
        dpg, g = self.dpg, self.app.doc.graph
        try:
            axes = parse_axes(dpg.get_value("sweep::axes"), g)
            if not axes:
                raise NodeflowError("write at least one axis, e.g. gain.gain_db=-12,-6,0")
            variants = expand(axes, dpg.get_value("sweep::mode") or "grid")
            blocked = self._blocked(g, axes)
        except NodeflowError as e:
            text = str(e).replace("--zip needs", "zip mode needs").replace("use --zip", "use zip mode")
            return self._say(text.splitlines()[0] if "\n" not in text else text.splitlines()[1].strip(" -"), True)
        self.out_dir = out_dir = Path(dpg.get_value("sweep::out")).expanduser()
        self.axes_doc = [{"param": a.name, "values": [getattr(v, "value", v) for v in a.values]} for a in axes]
        self.mode = dpg.get_value("sweep::mode") or "grid"
        self.results, self._picked = [], False
        self.compare.reset()
        dpg.set_value("sweep::abmatch", AB_NOTE)         # the last sweep's match is not these variants'
        dpg.delete_item("sweep::table", children_only=True, slot=1)
        self._cancel.clear()
        snapshot, executor = g.copy(), self.app.runner.executor
        for nid in blocked:                      # as Run does: the rest runs, these are named
            snapshot.remove(nid)
        from .runstate import blocked_list
        not_run = "; not run: " + blocked_list(blocked) if blocked else ""
        from ..manifest import keep_earlier      # an earlier sweep's takes stay described (QA64 D7)
        kept = keep_earlier(out_dir, {v.name for v in variants})[1]
        kept = f"; the earlier sweep's manifest there is kept as {kept}" if kept else ""
        self._say(f"running {len(variants)} variants into {self.out_dir} ...{not_run}{kept}")

        def body() -> None:
            t0 = time.perf_counter()
            try:
                res = run_sweep(snapshot, variants, out_dir, executor=executor, keep_values=True,
                                on_variant=self._incoming.append, cancel_event=self._cancel)
                report = SweepReport(str(snapshot.path or ""), self.mode, self.axes_doc, res)
                write_manifest(report, out_dir, snapshot)
                bad = len(report.failed)
                self._done = (f"sweep finished in {time.perf_counter() - t0:.1f} s: {len(res) - bad} ok, {bad} "
                              f"failed or stopped; manifest in {out_dir}{not_run}{kept}", bad > 0)
            except (NodeflowError, OSError) as e:
                said = str(e)          # a refusal names its variants "sweep v002 ..." (QA: "sweep failed: sweep v002")
                self._done = (said if said.startswith("sweep") else f"nothing rendered: {said}", True)
        self._thread = threading.Thread(target=body, name="audiochain-sweep", daemon=True)
        self._thread.start()

    def _blocked(self, g: Any, axes: list[Axis]) -> dict[str, str]:
        """The nodes a sweep cannot run, as for Run (a node with a problem and every node after it:
        ``{node: why}``); raises when what the sweep changes or listens to is among them, or when
        nothing could run."""
        from ..errors import GraphError
        from .runner import Runner
        try:
            g.check()
            return {}
        except GraphError as e:
            blocked = Runner.blocked_nodes(g, e.problems)
            if not blocked or len(blocked) == len(g.nodes):
                raise
        listen = (self.dpg.get_value("sweep::listen") or "").partition(".")[0]
        for nid in [a.node for a in axes] + [listen]:
            if nid in blocked:
                why = blocked[nid]
                raise GraphError(f"the sweep needs node '{nid}', which cannot run: "
                                 + (f"it comes after {why[6:]}, which cannot run" if why.startswith("after ") else why)
                                 + "; fix that node, or sweep and listen to another")
        return blocked

    def stop(self) -> None:
        self._cancel.set()
        self.app.stop_audio()

    def tick(self) -> None:
        """Per frame: add rows for finished variants, report the end of the sweep."""
        while self._incoming:
            self._add_row(self._incoming.pop(0))
        if self._done is not None and not self.running:
            text, err = self._done
            self._done = None
            self._say(text, err)

    def _say(self, text: str, error: bool = False) -> None:
        self.dpg.set_value("sweep::status", text)
        self.dpg.configure_item("sweep::status", color=(255, 110, 110) if error else (210, 210, 210))
        self.app.say(text, error)

    # ------------------------------------------------------------------ results
    @property
    def ab(self) -> dict[str, int | None]:
        return self.compare.ab

    @ab.setter
    def ab(self, value: dict[str, int | None]) -> None:
        self.compare.ab = value

    def shown(self) -> list[VariantResult]:
        """The results in the order the table shows them: by variant, however they finished."""
        return sorted(self.results, key=lambda r: r.variant.name)

    def _add_row(self, r: VariantResult) -> None:
        """A finished variant's row, in variant order (variants run concurrently and finish in any
        order); until A and B are picked by hand they are the first two variants that played."""
        dpg = self.dpg
        i = len(self.results)
        self.results.append(r)
        later = [k for k, o in enumerate(self.results[:-1]) if o.variant.name > r.variant.name]
        before = min(later, key=lambda k: self.results[k].variant.name) if later else None
        length = ""
        value = self._value(r)
        if value is not None:
            from .clips import as_audio
            a = as_audio(value)
            length = f"{a.samples.shape[1] / a.sample_rate:.1f} s" if a is not None else _file_length(value)
        with dpg.table_row(parent="sweep::table", tag=f"sweep::row::{i}",
                           **({"before": f"sweep::row::{before}"} if before is not None else {})):
            dpg.add_text(r.variant.name)
            dpg.add_text(r.status, color=(150, 230, 150) if r.status == "ok" else (255, 120, 120))
            dpg.add_text(length)
            with dpg.group():
                if value is not None:    # also when a later node failed (an export): it was made
                    with dpg.group(horizontal=True):
                        dpg.add_button(label="play", tag=f"sweep::play::{i}", small=True, callback=lambda: self.play(i))
                        dpg.add_button(label="A", tag=f"sweep::A::{i}", small=True, callback=lambda: self.pick("A", i))
                        dpg.add_button(label="B", tag=f"sweep::B::{i}", small=True, callback=lambda: self.pick("B", i))
                if r.error:              # wrapped at the panel's edge; the tooltip has all of it
                    dpg.add_text(error_line(r.error), tag=f"sweep::error::{i}", wrap=0, color=(255, 120, 120))
                    with dpg.tooltip(f"sweep::error::{i}"):
                        dpg.add_text(r.error, wrap=500)
        if not self._picked:
            ok = sorted((k for k, o in enumerate(self.results) if o.status == "ok" and self._value(o) is not None),
                        key=lambda k: self.results[k].variant.name)
            self.ab = {"A": ok[0] if ok else None, "B": ok[1] if len(ok) > 1 else None}
        self._show_ab()

    def _value(self, r: VariantResult) -> Any:
        listen = self.dpg.get_value("sweep::listen") or ""
        node, _, port = listen.partition(".")
        if r.values is None or node not in r.values:
            return None
        return r.values[node].get(port)

    def play(self, i: int, start_s: float = 0.0, gain_db: float = 0.0) -> None:
        """Play variant ``i`` at its own level (``gain_db`` louder for a level-matched A/B)."""
        self.compare.play(i, start_s, gain_db)

    def pick(self, side: str, i: int) -> None:
        self._picked = True
        self.ab[side] = i
        self._show_ab()

    def _show_ab(self) -> None:
        names = {s: (self.results[i].variant.name if i is not None else "-") for s, i in self.ab.items()}
        self.dpg.set_value("sweep::abtext", f"A = {names['A']}   B = {names['B']}")

    def toggle_ab(self) -> None:
        """Switch between A and B at the same position in the clip (start with A), level-matched."""
        done = self.compare.toggle()
        if done is None:
            return self._say("pick an A and a B in the list first", True)
        side, note = done
        names = {s: self.results[i].variant.name for s, i in self.ab.items() if i is not None}
        self.dpg.set_value("sweep::abtext", f"A = {names['A']}   B = {names['B']}   now: {side}")
        self.dpg.set_value("sweep::abmatch", note)
