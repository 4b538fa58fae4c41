"""Small graphs and signals for the editor tests, written to a temp folder (real files, real codecs),
and steps the scenarios share.  Scenarios run inside the editor process (``--script``, see
conftest.py), whose PYTHONPATH holds the repository root: they import these as
``from tests.editor._graphs import ...``."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Callable

import numpy as np
import soundfile as sf

from nodeflow import Audio, Context, Graph, Range, node, save

RATE = 48000          # the PulseAudio null sink's rate: no resampling between node and recording


def tone_file(folder: Path, name: str = "tone.wav", freq_hz: float = 440.0, seconds: float = 1.5,
              amp: float = 0.5) -> Path:
    """A mono sine with 20 ms fades, as 24-bit WAV."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = amp * np.sin(2 * np.pi * freq_hz * t)
    ramp = np.linspace(0, 1, int(0.02 * RATE))
    x[: len(ramp)] *= ramp
    x[-len(ramp):] *= ramp[::-1]
    path = folder / name
    sf.write(path, x.astype(np.float32), RATE, subtype="PCM_24")
    return path


def chain_graph(folder: Path, *, link_fade_to_load: bool = True) -> Path:
    """load -> gain, load -> fade (fade's input occupied), and an export: laid out left to right."""
    tone_file(folder)
    g = Graph()
    g.path = folder / "chain.msgpack"
    g.add("io.load", id="load", path="tone.wav")
    g.add("dsp.gain", id="gain", gain_db=-6.0)
    g.add("dsp.fade", id="fade", fade_in_s=0.0, fade_out_s=0.0)
    g.add("io.export", id="export", path="out.wav")
    g.connect("load.out", "gain.audio")
    if link_fade_to_load:
        g.connect("load.out", "fade.audio")
    g.editor["positions"] = {"load": [20.0, 40.0], "gain": [300.0, 40.0], "fade": [600.0, 260.0],
                             "export": [20.0, 290.0]}        # the export, with its file's waveform, fits 800 px
    return save(g, folder / "chain.msgpack")


def pair_graph(folder: Path, name: str, second: tuple[str, str, dict], positions: dict[str, list[float]]) -> Path:
    """A tone loaded (``load``) and linked into one node ``second = (type, id, params)``, at ``positions``."""
    tone_file(folder)
    g = Graph()
    g.add("io.load", id="load", path=str(folder / "tone.wav"))
    g.add(second[0], id=second[1], **second[2])
    g.connect("load.out", f"{second[1]}.audio")
    g.editor["positions"] = positions
    return save(g, folder / name)


def long_chain(folder: Path, name: str, place: Callable[[int], list[float]], gains: int = 39) -> Path:
    """A tone loaded and run through ``gains`` gains in a chain, node ``k`` (the load 0) at ``place(k)``."""
    tone_file(folder)
    g = Graph()
    g.add("io.load", id="load", path="tone.wav")
    prev = "load"
    for i in range(1, gains + 1):
        g.add("dsp.gain", id=f"gain_{i}")
        g.connect(f"{prev}.out", f"gain_{i}.audio")
        prev = f"gain_{i}"
    g.editor["positions"] = {n: place(k) for k, n in enumerate(g.nodes)}
    return save(g, folder / name)


def shared_graph(folder: Path) -> Path:
    """A graph from another machine: a missing input file, a node type from a pack that is not
    installed (linked in the middle of the chain) and a model checkpoint that is not on disk."""
    import msgpack

    from nodeflow.fileformat import to_document
    g = Graph()
    g.add("io.load", id="vox", path="takes/vox3.wav")
    g.add("dsp.gain", id="gain")
    g.add("models.musicgen", id="gen", checkpoint="acme/musicgen-none")
    g.editor["positions"] = {"vox": [20.0, 40.0], "verb": [300.0, 40.0], "gain": [560.0, 40.0], "gen": [20.0, 300.0]}
    doc = to_document(g)
    doc["nodes"].append({"id": "verb", "type": "acme.reverb", "version": 1, "params": {"room": 0.7}})
    doc["links"] = [{"from": ["vox", "out"], "to": ["verb", "audio"]}, {"from": ["verb", "out"], "to": ["gain", "audio"]}]
    doc["saved_by"]["node_packs"] = {"acme.reverb": "acme-verbs"}
    doc["saved_by"]["packs"]["acme-verbs"] = "1.2.0"
    doc["saved_by"]["inputs"] = {"vox.path": "/home/ana/takes/vox3.wav"}
    path = folder / "shared.msgpack"
    path.write_bytes(msgpack.packb(doc, use_bin_type=True))
    return path


def play_graph(folder: Path, seconds: float = 1.5) -> Path:
    """load (a steady 440 Hz tone of ``seconds``, 20 ms fades) -> gain (-6 dB): something to play."""
    tone_file(folder, "play.wav", seconds=seconds)
    g = Graph()
    g.path = folder / "play.msgpack"
    g.add("io.load", id="load", path="play.wav")
    g.add("dsp.gain", id="gain", gain_db=-6.0)
    g.connect("load.out", "gain.audio")
    g.editor["positions"] = {"load": [20.0, 40.0], "gain": [300.0, 40.0]}
    return save(g, folder / "play.msgpack")


def two_tone_file(folder: Path, name: str = "halves.wav", seconds: float = 3.0) -> Path:
    """First half 440 Hz at 0.5 (-6 dBFS), second half 1 kHz at 0.25 (-12 dBFS), stereo 24-bit WAV:
    which half is heard, and the level meter's reading, say where playback is in the clip."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    x = np.where(t < seconds / 2, 0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 1000 * t))
    ramp = np.linspace(0, 1, int(0.01 * RATE))
    x[: len(ramp)] *= ramp
    x[-len(ramp):] *= ramp[::-1]
    path = folder / name
    sf.write(path, np.stack([x, x], axis=1).astype(np.float32), RATE, subtype="PCM_24")
    return path


def transport_graph(folder: Path, seconds: float = 3.0, loudness_lufs: float = -30.0) -> Path:
    """load (two halves, see :func:`two_tone_file`) -> gain (0 dB) -> export (normalised to
    ``loudness_lufs``, so the written file is quieter than the node before it)."""
    two_tone_file(folder, seconds=seconds)
    g = Graph()
    g.path = folder / "transport.msgpack"
    g.add("io.load", id="load", path="halves.wav")
    g.add("dsp.gain", id="gain", gain_db=0.0)
    g.add("io.export", id="export", path="out.wav", loudness_lufs=loudness_lufs)
    g.connect("load.out", "gain.audio")
    g.connect("gain.out", "export.audio")
    g.editor["positions"] = {"load": [20.0, 40.0], "gain": [300.0, 40.0], "export": [600.0, 40.0]}
    return save(g, folder / "transport.msgpack")


# ---------------------------------------------------------------------------------------- in the editor
def add_slow_node(app, node_id: str = "slow", pos: tuple[float, float] = (300, 330), *, source: str = "gain",
                  sink: str = "export", type_id: str = "test.slow", steps: int = 40, quiet: bool = False) -> None:
    """Register a node type ``type_id`` that takes a while (``steps`` steps of 0.05 s, reporting progress
    after each unless ``quiet``) on the open graph, and add one at ``pos`` between ``source``'s out and
    ``sink``'s audio."""
    @node(type_id)
    def slow(audio: Audio, *, steps: Annotated[int, Range(1, 1000)] = steps, ctx: Context) -> Audio:
        """Take a while (0.05 s a step), reporting progress (none with ``quiet``: one long call)."""
        for i in range(steps):
            time.sleep(0.05)
            if not quiet:
                ctx.progress(i + 1, steps)
        return audio

    app.doc.graph.registry.add(slow)
    app.doc.add_node(type_id, pos, node_id=node_id)
    app.doc.connect(source, "out", node_id, "audio")
    app.doc.connect(node_id, "out", sink, "audio")


def run_with_slow_node(app, drv, node_id: str = "slow") -> None:
    """Add a slow node ``node_id`` (40 steps, 2 s) between gain and export (:func:`add_slow_node`),
    press F5 (Run) and wait until that node runs and has reported two steps."""
    def going():
        st = app.runner.states.get(node_id)
        return st is not None and st.kind == "running" and (st.done or 0) >= 2
    add_slow_node(app, node_id)
    drv.frames(5)
    drv.key("F5")
    drv.until(going, 20, f"{node_id} to run")


def open_sweep_panel(app, drv, out_dir: Path, listen: str = "gain.out") -> list[str]:
    """Link gain to the export, open the Sweep panel, listen to ``listen`` and write the variants to
    ``out_dir``; returns the choices the panel's listen list offered."""
    dpg = app.dpg
    app.doc.connect("gain", "out", "export", "audio")
    drv.frames(5)
    app.sweep.open()
    drv.frames(3)
    offered = dpg.get_item_configuration("sweep::listen")["items"]
    dpg.set_value("sweep::listen", listen)
    dpg.set_value("sweep::out", str(out_dir))
    return offered


def type_sweep_axes(app, drv, text: str) -> None:
    """Empty the panel's axes field, click into it and type ``text`` (real key events)."""
    app.dpg.set_value("sweep::axes", "")
    drv.frames(2)
    drv.click_item("sweep::axes")
    drv.type_text(text)
    drv.frames(2)


def run_sweep(app, drv, variants: int = 2) -> dict:
    """Press the panel's Run and wait for its ``variants`` results; returns the panel's status line
    (``status``) and its A/B line (``ab``)."""
    drv.click_item("sweep::run")
    drv.until(lambda: len(app.sweep.results) == variants and not app.sweep.running, 60, "the sweep")
    drv.frames(3)
    return {"status": app.dpg.get_value("sweep::status"), "ab": app.dpg.get_value("sweep::abtext")}


def type_sweep(app, drv, axes: str, out_dir: Path, listen: str = "gain.out") -> None:
    """Open the sweep panel (View > Sweep...), listen to ``listen``, write into ``out_dir`` and type
    ``axes`` into its axes box (real keys); the caller presses its Run."""
    dpg = app.dpg
    drv.frames(5)
    app.sweep.open()
    drv.frames(3)
    dpg.set_value("sweep::listen", listen)
    dpg.set_value("sweep::out", str(out_dir))
    drv.click_item("sweep::axes")
    drv.type_text(axes)
    drv.frames(2)


def add_by_link_drop(app, drv, pin: tuple[float, float], drop: tuple[float, float], typed: str) -> list[str]:
    """Drag a link off ``pin`` and release it at ``drop`` on empty canvas, type ``typed`` in the search
    that opens and press Enter; returns the nodes that were added."""
    before = set(app.doc.graph.nodes)
    drv.drag(pin, drop, steps=10)               # off the pin, released on empty canvas
    drv.frames(1)
    drv.type_text(typed)
    drv.frames(3)
    drv.key("Return")
    drv.frames(8)
    return [n for n in app.doc.graph.nodes if n not in before]


def covered_by(app, nid: str) -> list[str]:
    """The nodes whose rectangles the node ``nid`` covers, as drawn."""
    r = app.view.node_rect(nid)
    out = []
    for other in app.view.nodes:
        q = app.view.node_rect(other)
        if other != nid and r is not None and q is not None and r[0][0] < q[1][0] and q[0][0] < r[1][0] \
                and r[0][1] < q[1][1] and q[0][1] < r[1][1]:
            out.append(other)
    return out
