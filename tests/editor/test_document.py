"""The editor's document model without a window: edits, undo/redo, link rules, clipboard, files, runs."""
from __future__ import annotations

import os
import threading
import time
from typing import Annotated

import msgpack
import pytest

from nodeflow import Audio, Context, FileFormatError, Graph, Range, load, node
from nodeflow.editor import clipboard
from nodeflow.editor.document import Document, EditRefused
from nodeflow.editor.files import (Autosaver, RecentFiles, find_recovery, open_graph, recovery_path,
                                   save_graph)
from nodeflow.editor.palette import search
from nodeflow.editor.runner import Runner

from ._graphs import chain_graph


@pytest.fixture
def doc(tmp_path):
    g, path = open_graph(chain_graph(tmp_path))
    return Document(g, path)


def test_link_into_occupied_input_replaces_it_and_undo_restores(doc):
    before = sorted(map(str, doc.graph.links))
    doc.connect("gain", "out", "fade", "audio")
    assert "gain.out -> fade.audio" in map(str, doc.graph.links)
    assert "load.out -> fade.audio" not in map(str, doc.graph.links)
    assert doc.undo() == "connect gain.out -> fade.audio"
    assert sorted(map(str, doc.graph.links)) == before
    doc.redo()
    assert "gain.out -> fade.audio" in map(str, doc.graph.links)


def test_type_mismatch_is_refused_with_both_ends_named(doc):
    n = len(doc.history)
    with pytest.raises(EditRefused, match=r"type mismatch: 'export.out' gives str but 'gain.audio' takes Audio"):
        doc.connect("export", "out", "gain", "audio")
    assert len(doc.history) == n and not doc.dirty


def test_cycle_is_refused(doc):
    doc.connect("gain", "out", "fade", "audio")
    with pytest.raises(EditRefused, match="cycle"):
        doc.connect("fade", "out", "gain", "audio")


def test_slider_drag_is_one_undo_step_and_bad_values_are_refused(doc):
    for v in (-5.0, -4.0, -3.0):
        doc.set_param("gain", "gain_db", v)
    assert doc.graph.nodes["gain"].params["gain_db"] == -3.0
    doc.undo()
    assert doc.graph.nodes["gain"].params["gain_db"] == -6.0 and not doc.dirty
    with pytest.raises(EditRefused, match=r"gain_db=99 is out of range \(from -60 to 24 dB\)"):
        doc.set_param("gain", "gain_db", 99.0)
    assert doc.graph.nodes["gain"].params["gain_db"] == -6.0


def test_each_typed_value_is_its_own_undo_step_a_drag_one(doc):
    """QA: fade-out typed 5, then 1e9 (held at 600), then -3 (held at 0): one Ctrl+Z went back to
    0 (the merged step even vanished, 0 -> 0).  Leaving the widget ends the gesture."""
    for v in (5.0, 600.0, 0.0):
        doc.set_param("fade", "fade_out_s", v)
        doc.end_gesture()                      # Enter / the box left
    for v in (1.0, 2.0, 3.0):                  # one drag
        doc.set_param("fade", "fade_out_s", v)
    doc.end_gesture()
    undone = []
    while doc.undo():
        undone.append(doc.graph.nodes["fade"].params["fade_out_s"])
    assert undone == [0.0, 600.0, 5.0, 0.0]


def test_delete_several_and_move_are_undoable(doc):
    doc.move({"gain": (500, 500), "fade": (10, 10)})
    doc.remove(["gain", "fade"])
    assert set(doc.graph.nodes) == {"load", "export"} and len(doc.graph.links) == 0
    doc.undo()
    assert {"gain", "fade"} <= set(doc.graph.nodes) and len(doc.graph.links) == 2
    assert doc.graph.editor["positions"]["gain"] == [500.0, 500.0]
    doc.undo()
    assert doc.graph.editor["positions"]["gain"] == [300.0, 40.0]


def test_copy_paste_duplicate_keep_params_and_inner_links(doc):
    doc.set_param("gain", "gain_db", -12.0)
    doc.connect("gain", "out", "fade", "audio")
    clip = clipboard.from_text(clipboard.to_text(clipboard.copy_nodes(doc.graph, ["gain", "fade"])))
    new = clipboard.paste(doc, clip)
    assert new == ["gain_2", "fade_2"]
    assert doc.graph.nodes["gain_2"].params["gain_db"] == -12.0
    assert "gain_2.out -> fade_2.audio" in map(str, doc.graph.links)
    assert doc.graph.editor["positions"]["gain_2"] == [340.0, 80.0]
    doc.undo()
    assert "gain_2" not in doc.graph.nodes
    assert clipboard.duplicate(doc, ["load"]) == ["load_2"]


def test_a_second_export_gets_a_file_of_its_own_however_it_is_added(doc):
    """QA: a second export (find-and-wire, palette) got the default out.wav of the first: marked at
    once and left not run.  Added, pasted or duplicated, an export writes a file no other node writes."""
    doc.connect("gain", "out", "export", "audio")
    new = doc.add_node("io.export", (0, 0), link=("fade", "out"))       # a link dropped, export picked
    g = doc.graph
    assert g.nodes[new].params["path"] == "out-2.wav"
    assert doc.undo() == "add export linked to fade.out" and new not in g.nodes      # one step, as before
    new = doc.add_node("io.export", (0, 0), link=("fade", "out"))
    assert g.nodes[new].params["path"] == "out-2.wav"
    assert not [p for p in g.problems(base_dir=doc.path.parent) if "writes too" in p]
    third = doc.add_node("io.export", (0, 0))                              # the palette
    assert g.nodes[third].params["path"] == "out-3.wav"
    copies = clipboard.duplicate(doc, ["export", new])
    assert [g.nodes[n].params["path"] for n in copies] == ["out-4.wav", "out-5.wav"]   # (out-2 -> the next free)
    assert g.nodes["export"].params["path"] == "out.wav" and g.nodes[new].params["path"] == "out-2.wav"
    doc.undo()
    clip = clipboard.copy_nodes(g, [third])
    assert [g.nodes[n].params["path"] for n in clipboard.paste(doc, clip)] == ["out-4.wav"]
    # the folder and the extension (the format) stay; a path asked for, or naming a folder, is left alone
    doc.set_param("export", "path", "mixes/take.flac")
    assert g.nodes[doc.add_node("io.export", (0, 0))].params["path"] == "out.wav"     # no other writes it now
    clip = clipboard.copy_nodes(g, ["export"])
    assert [g.nodes[n].params["path"] for n in clipboard.paste(doc, clip)] == ["mixes/take-2.flac"]
    assert g.nodes[doc.add_node("io.export", (0, 0), path="out-2.wav")].params["path"] == "out-2.wav"
    doc.set_param("export", "path", "mixes/")
    clip = clipboard.copy_nodes(g, ["export"])
    assert [g.nodes[n].params["path"] for n in clipboard.paste(doc, clip)] == ["mixes/"]


def test_a_node_deleted_or_edited_and_brought_back_keeps_its_run_state(doc):
    """QA: after a run, a node deleted and brought back with Ctrl+Z kept its result but lost its
    state (no 'done', a grey title) while its neighbours kept theirs."""
    r = Runner()
    r.run(doc.graph, targets=["gain", "fade"])
    r.wait()
    ran = {n: r.states[n] for n in ("load", "gain", "fade")}
    assert {n: st.kind for n, st in ran.items()} == {"load": "done", "gain": "done", "fade": "done"}
    doc.remove(["gain"])
    assert "gain" in r.forget_stale(doc.graph) and "gain" not in r.states
    doc.undo()
    r.forget_stale(doc.graph)
    assert r.states.get("gain") == ran["gain"] and r.output(doc.graph, "gain", "out") is not None
    assert {n: r.states[n] for n in ("load", "fade")} == {"load": ran["load"], "fade": ran["fade"]}
    doc.set_param("gain", "gain_db", -3.0)                 # an edit: its state goes, and comes back on undo
    assert r.forget_stale(doc.graph) == {"gain"} and "gain" not in r.states
    doc.undo()
    r.forget_stale(doc.graph)
    assert r.states["gain"] == ran["gain"]
    doc.set_param("gain", "gain_db", -3.0)                 # not when its result is no longer at hand
    r.forget_stale(doc.graph)
    r.executor.cache.clear()
    doc.undo()
    r.forget_stale(doc.graph)
    assert "gain" not in r.states
    r.close()


def test_palette_search_ranks_names_first():
    reg = Graph().registry
    assert search(reg, "gain")[0].id == "dsp.gain"
    assert search(reg, "cross")[0].id == "dsp.crossfade"
    assert {s.id for s in search(reg, "music")} >= {"models.musicgen", "models.musicgen_melody"}
    assert search(reg, "no such node at all") == []


@pytest.mark.parametrize("query, first, also", [
    ("loudness", "io.export", ()),                  # the export's loudness_lufs parameter
    ("normalize", "io.export", ()),                 # American spelling of the docs' "normalised"
    ("vocal", "models.demucs", ("models.bark",)),   # the vocals stem; singing voices
    ("pitch", "dsp.variation", ()),                 # its transpose, before espeak's voice pitch
    ("volume", "dsp.gain", ()),
    ("stems", "models.demucs", ()),
    ("text to speech", "models.mms_tts", ("speech.espeak",)),   # QA: Whisper (speech to text) came first
    ("read text aloud", "models.mms_tts", ("speech.espeak",)),
    ("speech to text", "models.whisper", ()),
    ("lyrics", "models.whisper", ()),
    ("dc offset", "dsp.highpass", ()), ("rumble", "dsp.highpass", ()), ("low cut", "dsp.highpass", ()),
    ("filter", "dsp.highpass", ()),
])
def test_palette_search_finds_nodes_by_synonyms_and_parameter_docs(query, first, also):
    hits = [s.id for s in search(Graph().registry, query)]
    assert hits and hits[0] == first, hits
    assert set(also) <= set(hits)


@pytest.mark.parametrize("query, said", [("echo", "echo or delay"), ("eq", "EQ"), ("noise", "noise generator or "
                                         "denoiser"), ("reverb", "reverb"), ("compress", "compressor"),
                                         ("compression", "compressor"), ("reverbs", "reverb"), ("echoes", "echo or delay"),
                                         ("equalize", "EQ"), ("denoising", "denoiser")])
def test_an_effect_no_node_does_finds_nothing_and_says_so(query, said):
    """QA: "echo" found only the prompt template, "eq" the crossfade (its docs' "equal power"), "noise"
    MMS-TTS (its noise_scale); "reverb" found nothing without a word."""
    from nodeflow.editor.palette import missing
    assert search(Graph().registry, query) == [] and missing(query) == f"AudioChain has no {said} node yet"
    assert [s.id for s in search(Graph().registry, "limiter")][:1] == ["io.export"] and missing("limiter") == ""


def test_search_after_a_link_drop_offers_only_types_that_fit_and_the_new_node_is_linked(doc):
    from nodeflow import Audio
    offered = {s.id for s in search(doc.graph.registry, "", limit=100, fits_type=Audio)}
    assert {"dsp.gain", "dsp.fade", "io.export"} <= offered and not {"io.load", "models.bark"} & offered
    feeds_text = {s.id for s in search(doc.graph.registry, "", limit=100, fits_type=str, direction="out")}
    assert "text.prompt_template" in feeds_text and "dsp.gain" not in feeds_text
    nid = doc.add_node("dsp.fade", (500, 300), link=("gain", "out"))
    assert f"gain.out -> {nid}.audio" in [str(l) for l in doc.graph.links]
    doc.undo()
    assert nid not in doc.graph.nodes and len(doc.graph.links) == 2, "node and link are one undo step"
    nid = doc.add_node("dsp.gain", (500, 300), link=("export", "audio"))     # dropped from an input pin
    assert f"{nid}.out -> export.audio" in [str(l) for l in doc.graph.links]
    with pytest.raises(EditRefused, match="no port that fits gain.audio"):
        doc.add_node("text.prompt_template", (0, 0), link=("gain", "audio"))


def test_autosave_recovery_round_trip_and_discard(tmp_path, doc):
    state = tmp_path / "state"
    saver = Autosaver(state)
    doc.set_param("gain", "gain_db", -20.0)
    saver.changed(doc.graph, doc.path)
    saver.flush()
    rec = find_recovery(doc.path, state)
    assert rec is not None and rec.of == doc.path.resolve()
    assert rec.graph.nodes["gain"].params["gain_db"] == -20.0
    assert not [p for p in rec.graph.problems() if "not found" in p], "input paths must still resolve"
    on_disk = load(doc.path)
    assert on_disk.nodes["gain"].params["gain_db"] == -6.0      # the graph file itself is untouched
    saver.discard(doc.path)
    assert find_recovery(doc.path, state) is None
    recovery_path(None, state).parent.mkdir(parents=True, exist_ok=True)
    recovery_path(None, state).write_bytes(b"\x00garbage")
    assert find_recovery(None, state) is None and not recovery_path(None, state).exists()
    saver.close()


def test_open_exported_audio_restores_graph_but_never_saves_over_it(tmp_path, doc):
    from nodeflow import Executor
    doc.connect("gain", "out", "export", "audio")
    out = tmp_path / "render"
    Executor().run(doc.graph, output_dir=out)
    wav = out / "out.wav"
    g, save_path = open_graph(wav)
    assert save_path is None and set(g.nodes) == set(doc.graph.nodes)
    with pytest.raises(Exception, match="is an audio file"):
        save_graph(g, wav)
    assert save_graph(g, tmp_path / "restored").name == "restored.msgpack"


@pytest.mark.parametrize("name, data", [("notaudio.wav", b"not audio\n"), ("garbage.msgpack", b"hello"),
                                        ("list.msgpack", b"\x92\x01\x02")])
def test_opening_a_file_that_is_no_graph_says_so_in_one_line_naming_it(tmp_path, name, data):
    """QA: a text file named .wav, or a .msgpack holding 'hello', was 'not an AudioChain graph file
    (it decodes to a number, not a graph document)'."""
    (tmp_path / name).write_bytes(data)
    with pytest.raises(FileFormatError) as e:
        open_graph(tmp_path / name)
    assert str(e.value) == (f"{tmp_path / name}: not an AudioChain graph (not a msgpack graph document; "
                            "a corrupt or different file?)")


def test_recent_files_newest_first(tmp_path):
    r = RecentFiles(tmp_path)
    for name in ("a.msgpack", "b.msgpack", "a.msgpack"):
        r.add(tmp_path / name)
    assert [os.path.basename(p) for p in r.list()] == ["a.msgpack", "b.msgpack"]


def test_runner_states_cache_and_staleness(doc):
    r = Runner()
    r.run(doc.graph, targets=["gain"])
    (said,) = r.wait()
    assert said.startswith("run finished") and said.kind == "info", said
    assert r.states["load"].kind == "done" and r.states["gain"].kind == "done"
    assert "fade" not in r.states, "only what the target needs runs"
    assert r.output(doc.graph, "gain", "out").samples.shape[1] == 72000
    r.run(doc.graph, targets=["gain"])
    r.wait()
    assert r.states["gain"].kind == "cached"
    doc.set_param("gain", "gain_db", -3.0)
    assert r.forget_stale(doc.graph) == {"gain"}
    assert r.output(doc.graph, "gain", "out") is None and r.output(doc.graph, "load", "out") is not None
    r.close()


def test_runner_reports_failure_with_the_error_text(tmp_path, doc):
    import numpy as np
    import soundfile as sf
    doc.set_param("load", "path", "tone.flac")        # damaged in its middle: validation passes, decoding fails
    sf.write(tmp_path / "tone.flac", np.random.default_rng(1).uniform(-0.5, 0.5, (44100, 2)).astype(np.float32), 44100)
    data = (tmp_path / "tone.flac").read_bytes()
    (tmp_path / "tone.flac").write_bytes(data[:len(data) * 2 // 5] + bytes(len(data) // 5) + data[len(data) * 3 // 5:])
    r = Runner()
    r.run(doc.graph, targets=["gain"])
    msgs = r.wait()
    assert r.states["load"].kind == "failed"
    assert "tone.flac" in r.states["load"].message
    assert msgs and msgs[0].startswith("run failed: node 'load'") and msgs[0].kind == "error"
    r.close()


def test_runner_runs_what_can_run_and_marks_the_incomplete_branch(doc):
    from nodeflow.errors import GraphError
    doc.add_node("dsp.gain", (0, 0), node_id="tail")
    r = Runner()
    job = r.run(doc.graph)                      # export's audio input is open
    (said,) = r.wait()
    assert said.kind == "warn" and said.endswith("not run: export, tail (marked on the nodes)"), said
    assert job.blocked == {"export": "'audio' not linked", "tail": "'audio' not linked"}
    assert {n: r.states[n].kind for n in ("load", "gain", "fade")} == {"load": "done", "gain": "done", "fade": "done"}
    assert r.states["export"].describe() == "not run: 'audio' not linked"
    only = Document()
    only.add_node("io.export", (0, 0), node_id="export", path="out.wav")
    with pytest.raises(GraphError, match="required input 'audio'"):
        r.run(only.graph)                       # nothing can run: refused as before
    r.close()


def test_a_node_edited_while_the_run_ran_is_not_left_showing_the_old_result(doc, monkeypatch):
    """QA (high): gain edited to -12 dB while it was still queued; after the run gain and the export
    showed "done" (green), and the file held the old -3 dB.  Nor is it shown "done" while the run
    goes on after it."""
    gates = {1: threading.Event(), 2: threading.Event()}

    @node("test.hold")
    def hold(audio: Audio, *, n: Annotated[int, Range(1, 9)] = 1, ctx: Context) -> Audio:
        """Wait until the test opens gate ``n``."""
        gates[n].wait(20)
        return audio
    monkeypatch.setitem(doc.graph.registry._specs, "test.hold", hold)    # (the default registry: not kept)
    doc.add_node("test.hold", (0, 0), node_id="hold")
    doc.add_node("test.hold", (0, 0), node_id="hold2", n=2)
    doc.connect("load", "out", "hold", "audio")
    doc.connect("hold", "out", "gain", "audio")
    doc.connect("gain", "out", "hold2", "audio")
    doc.connect("hold2", "out", "export", "audio")
    r = Runner()
    r.run(doc.graph)
    deadline = time.monotonic() + 20
    said = []

    def poll_until(cond):
        while not cond() and time.monotonic() < deadline:
            said.extend(r.poll(doc.graph))
            time.sleep(0.01)
    poll_until(lambda: (st := r.states.get("hold")) is not None and st.kind == "running")
    assert r.states["gain"].kind == "queued"
    doc.set_param("gain", "gain_db", -12.0)           # while gain waits for hold
    r.forget_stale(doc.graph)                          # (the editor's refresh after an edit)
    gates[1].set()
    poll_until(lambda: (st := r.states.get("hold2")) is not None and st.kind == "running")
    assert "gain" not in r.states, r.states.get("gain")     # it ran with -6 dB: not "done" for -12 dB
    gates[2].set()
    poll_until(lambda: not r.jobs)
    said.extend(r.poll(doc.graph))
    assert len(said) == 1 and said[0].kind == "warn", said
    assert said[0].endswith("; changed while it ran, so not up to date: export, gain, hold2 (Run, F5, updates "
                            "them)"), said
    assert r.states["hold"].kind == "done" and not {"gain", "hold2", "export"} & set(r.states)
    assert r.output(doc.graph, "gain", "out") is None                # the -6 dB result is not shown as -12 dB's
    r.close()


def test_time_left_is_estimated_from_progress_so_far():
    from nodeflow.editor.runstate import NodeState
    st = NodeState("running", done=25, total=100, started=10.0, now=14.0)
    assert st.describe() == "running 25%, 12 s left"
    assert NodeState("running", done=1, total=100, started=10.0, now=10.2).describe() == "running 1%"
    # a model that loads for 17 s, then tells 4 % at 18.9 s and 18 % at 21 s: the rate since the first
    # report (6.7 % a second), not since the start (QA: "1 min 36 s left" where 14.5 s were)
    st = NodeState("running", done=18, total=100, started=0.0, now=21.0, first=(18.9, 0.04))
    assert st.describe() == "running 18%, 12 s left"
    # steps that take longer as it goes (an autoregressive model: 10 s + 10 s more per unit of progress,
    # t(f) = 10 f + 10 f^2): the average rate says 9 s left at 38 %, the real time left is 14.8 s
    t = lambda f: 10 * f + 10 * f * f           # noqa: E731
    marks = [(t(f / 100), f / 100) for f in range(1, 39)]
    st = NodeState("running", done=38, total=100, started=0.0, now=t(0.38), first=marks[0], marks=marks)
    assert st.eta_s() == pytest.approx(t(1.0) - t(0.38), rel=0.1), st.eta_s()
    steady = [(f / 10, f / 100) for f in range(1, 39)]                    # the same pace throughout: as before
    assert NodeState("running", done=38, total=100, now=3.8, first=steady[0], marks=steady).eta_s() == \
        pytest.approx(6.2, rel=0.02)


def test_edit_without_a_display_says_so_and_exits_1(tmp_path):
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    p = subprocess.run([sys.executable, "-m", "nodeflow.cli", "edit", "graphs/demo.msgpack"], env=env,
                       capture_output=True, text=True, timeout=60,
                       cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith("error: no display: the editor needs a graphical session and DISPLAY is not set")
    p = subprocess.run([sys.executable, "-m", "nodeflow.cli", "edit", str(tmp_path / "nope.msgpack")],
                       env=dict(env, DISPLAY=":1234"), capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.startswith("error: no X server answers on DISPLAY=:1234")


def test_keeping_a_sweep_in_the_graph_is_an_undoable_edit(doc, tmp_path):
    sweep = {"mode": "grid", "axes": [{"param": "gain.gain_db", "values": [-6.0, 0.0]}]}
    doc.set_sweep(sweep)
    assert doc.graph.sweep == sweep and doc.dirty
    save_graph(doc.graph, tmp_path / "swept.msgpack")
    assert load(tmp_path / "swept.msgpack").sweep == sweep
    doc.undo()
    assert doc.graph.sweep == {}


def test_layout_puts_columns_in_link_order_without_overlaps(doc):
    from nodeflow.editor.layout import arrange
    doc.connect("gain", "out", "export", "audio")
    sizes = {n: (180.0, 120.0 + 40 * i) for i, n in enumerate(doc.graph.nodes)}
    pos = arrange(doc.graph, sizes)
    assert pos["load"][0] < pos["gain"][0] < pos["export"][0] and pos["gain"][0] == pos["fade"][0]
    boxes = [(x, y, x + sizes[n][0], y + sizes[n][1]) for n, (x, y) in pos.items()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_layout_wraps_into_bands_that_fit_the_window_and_fit_leaves_a_visible_layout_alone(doc):
    from nodeflow.editor.layout import arrange, bounds, fit
    doc.connect("gain", "out", "export", "audio")
    sizes = {n: (300.0, 150.0) for n in doc.graph.nodes}
    pos = arrange(doc.graph, sizes, max_width=700)
    assert bounds(pos, sizes)[2] <= 700, "no column ends past the window's width"
    assert pos["load"][0] < pos["gain"][0] and pos["export"][1] > pos["load"][1], "the third column wraps below"
    assert fit(doc.graph, pos, sizes, (700, 600)) is None, "a layout that shows whole is not touched"
    # saved on a wider screen: moved (not rearranged) when it fits as a whole, arranged when it does not
    far = {n: [p[0] + 2000.0, p[1]] for n, p in pos.items()}
    assert fit(doc.graph, far, sizes, (700, 600)) == pos
    wide = {n: [i * 400.0, 40.0] for i, n in enumerate(doc.graph.nodes)}
    new = fit(doc.graph, wide, sizes, (700, 600))
    x0, y0, x1, y1 = bounds(new, sizes)
    assert x0 >= 0 and y0 >= 0 and x1 <= 700 and y1 <= 600
    assert fit(doc.graph, wide, sizes, (250, 150)) is None, "nothing fits: left for the user to pan"


def test_parameter_labels_drop_the_unit_suffix_they_show_as_a_unit():
    from nodeflow.editor.paramtext import display_name          # no window, no dearpygui
    specs = Graph().registry["dsp.gain"].params, Graph().registry["dsp.fade"].params
    assert display_name(specs[0]["gain_db"]) == "gain"
    assert display_name(specs[1]["fade_in_s"]) == "fade in"


def test_every_setting_that_applies_only_with_another_s_value_says_so_in_the_editor_s_form():
    """QA: resample's rate stayed shown with profile=musicgen and a typed 44.1k was ignored: its
    documentation said "used when ``profile`` is ``custom``", which the editor did not read."""
    import re
    from nodeflow.editor.paramtext import applies, applies_when
    reg = Graph().registry
    rate = reg["dsp.resample"].params["rate_hz"]
    assert applies_when(rate) == ("profile", ("custom",))
    assert not applies(rate, {"profile": "musicgen"}) and applies(rate, {"profile": "custom"})
    other_form = re.compile(r"(used|only|applies) (when|if) ``\w+`` is", re.I)
    loose = [(s.id, n) for s in reg for n, p in s.params.items() if other_form.search(p.doc or "")]
    assert loose == [], f"write these as 'With ``param=value``: ...' so the editor hides them: {loose}"


def test_long_parameter_names_are_abbreviated_by_words_not_cut_mid_word():
    from nodeflow.editor.paramtext import MAX_LABEL, display_name
    reg = Graph().registry
    names = {(s.id, n): display_name(p) for s in reg for n, p in s.params.items()}
    assert names[("time.tokenize_window", "custom_window_tokens")] == "custom window"   # was "custom windo."
    assert names[("time.tokenize_window", "custom_tokens_per_s")] == "custom tok/s"     # was "custom token."
    assert names[("dsp.variation", "preserve_formants")] == "keep formants"             # was "preserve for."
    assert names[("models.musicgen", "guidance_scale")] == "guidance scale"             # was "guidance sca."
    assert names[("models.bark", "waveform_temperature")] == "waveform temp."
    assert all(len(d) <= MAX_LABEL for d in names.values())
    assert [k for k, d in names.items() if d.endswith(".") and not d.endswith("temp.")] == []


def test_optional_numbers_show_their_unit_in_the_box_and_read_back_with_or_without_it():
    from nodeflow.editor.paramtext import boxed as _boxed
    from nodeflow.editor.typein import parse_typed
    export, trim = Graph().registry["io.export"].params, Graph().registry["dsp.trim"].params
    loud, end = export["loudness_lufs"], trim["end_s"]
    assert _boxed(loud, -16.0) == "-16.0 LUFS" and _boxed(end, 2.5) == "2.5 s" and _boxed(end, None) == ""
    for typed, value in (("-14.0 LUFS", -14.0), ("-14", -14.0), (" -9.5 lufs ", -9.5)):
        assert parse_typed(loud, typed, "LUFS") == value
    assert end.parse("") is None          # emptied: back to none
    assert _boxed(export["path"], "a.wav") == "a.wav"        # not a number: no unit added



def test_runner_shows_what_a_node_warned_of_on_the_node_and_in_the_status(tmp_path, monkeypatch):
    """A node's warning (an export raising a near-silent take by 45 dB) stays on the node after it
    finished, in the run's status line, and again when a node's value comes from the cache."""
    import numpy as np
    import soundfile as sf
    from tests.nodeflow.test_warnings import warns
    hiss = np.random.default_rng(0).standard_normal(44100 * 10) * 1e-5
    hiss[220500:229320] += 0.001 * np.sin(2 * np.pi * 440 * np.arange(8820) / 44100)
    sf.write(tmp_path / "quiet.wav", hiss.astype(np.float32), 44100, subtype="PCM_24")
    g = Graph()
    monkeypatch.setitem(g.registry._specs, "test.warns", warns)         # (the default registry: not kept)
    g.path = tmp_path / "g.msgpack"
    g.add("io.load", id="load", path="quiet.wav")
    g.add("test.warns", id="w", said="a warning of a value kept in the cache")
    g.add("io.export", id="export", path="m.wav", loudness_lufs=-23.0)
    g.connect("load.out", "w.audio")
    g.connect("w.out", "export.audio")
    runner = Runner()
    try:
        for _ in range(2):          # the second run takes w from the cache: its warning is said again
            runner.run(g)
            messages = runner.wait(60)
            text = runner.states["export"].describe()
            assert text.startswith("done in ") and "; warning: raised by 45 dB to reach loudness_lufs=-23" in text
            assert runner.states["w"].describe().endswith("; warning: a warning of a value kept in the cache")
            assert "warning" not in runner.states["load"].describe()
            assert messages[0].kind == "warn" and "; warning: export: raised by 45 dB" in messages[0]
        assert runner.states["w"].kind == "cached"
    finally:
        runner.close()
