"""Small graphs and signals for the editor tests, written to a temp folder (real files, real codecs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from nodeflow import Graph, save

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
                             "export": [20.0, 330.0]}
    return save(g, folder / "chain.msgpack")


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
