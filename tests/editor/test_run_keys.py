"""The editor's idea of each node's content key (Runner.current_keys) follows everything the keys
depend on, not only the graph's revision: the graph's folder (Save as elsewhere rebases relative
input paths and moves the base folder without an edit), the input files on disk, and which graph it
is.  A stale memo made a run's results invisible (no waveform, no file line, A/B refused) until the
first edit."""
from __future__ import annotations

import os

from nodeflow import Graph
from nodeflow.editor.files import save_graph
from nodeflow.editor.runner import Runner

from ._graphs import tone_file


def _chain(folder) -> Graph:
    tone_file(folder)
    g = Graph()
    g.add("io.load", id="load", path="tone.wav")
    g.add("dsp.gain", id="gain", gain_db=-6.0)
    g.add("io.export", id="export", path="out.wav")
    g.connect("load.out", "gain.audio")
    g.connect("gain.out", "export.audio")
    return g


def test_a_run_after_save_as_elsewhere_shows_its_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    g = _chain(tmp_path)
    r = Runner()
    try:
        assert r.current_keys(g)                      # the editor drew the untitled graph once
        (tmp_path / "songs").mkdir()
        save_graph(g, tmp_path / "songs" / "song")    # Save as: no edit, a new folder
        r.run(g)
        assert r.wait()[0].startswith("run finished")
        out = r.output(g, "export", "out")
        assert out is not None and os.path.exists(out), "the export's file line is shown"
        assert r.output(g, "gain", "out") is not None, "the waveform is shown"
        assert r.current_keys(g) == r.executor.keys(g)
        assert r.forget_stale(g) == set() and {st.kind for st in r.states.values()} == {"done"}
    finally:
        r.close()


def test_an_input_file_changed_on_disk_then_run_shows_the_new_results(tmp_path):
    g = _chain(tmp_path)
    g.path = tmp_path / "song.msgpack"
    r = Runner()
    try:
        r.run(g)
        r.wait()
        first = r.output(g, "gain", "out")
        assert first is not None
        st = os.stat(tmp_path / "tone.wav")
        tone_file(tmp_path, freq_hz=880.0, seconds=1.0)     # re-recorded outside the editor: no edit
        os.utime(tmp_path / "tone.wav", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        r.run(g)
        assert r.wait()[0].startswith("run finished")
        second = r.output(g, "gain", "out")
        assert second is not None and second.duration_s != first.duration_s
        assert r.forget_stale(g) == set()
    finally:
        r.close()



def test_save_as_then_run_shows_the_results_and_ab_plays(editor):
    """The QA steps: no file, load -> gain -> export, Ctrl+S into a new folder, F5, A/B."""
    st = editor.run("save_as_run")
    assert st["dialog"] and st["saved"][0] == str(editor.tmp / "songs" / "song.msgpack")
    assert st["status"].startswith("run finished") and "3 node(s) ran" in st["status"], st["status"]
    assert all(s.startswith("done") for s in st["states"].values()), st["states"]
    assert st["export_out"] == str(editor.tmp / "songs" / "out.wav")
    assert "out.wav" in st["file_line"] and st["gain_wave"]
    assert st["selected"] == ["export", "gain"]
    assert not st["ab"][1] and st["ab"][2] in (["gain", "out"], ["export", "out"]), st["ab"]


def test_a_node_stopped_or_failed_last_run_shows_queued_as_soon_as_the_next_run_starts(tmp_path):
    """QA108 D3: after Stop, F5 left the stopped node "cancelled" for 3-5 s (while the run looked its inputs
    up), the status bar saying "running"."""
    from nodeflow.editor.runstate import NodeState
    g = _chain(tmp_path)
    g.path = tmp_path / "song.msgpack"
    r = Runner()
    try:
        keys = r.current_keys(g)
        r.states["gain"] = NodeState("cancelled", keys["gain"], message="stopped")
        r.states["export"] = NodeState("failed", keys["export"], message="disk full")
        r.states["load"] = NodeState("blocked", None, message="not found: 'tone.wav'")    # (QA111: made since)
        r.run(g)
        assert {n: r.states[n].kind for n in ("load", "gain", "export")} == dict.fromkeys(("load", "gain", "export"),
                                                                                            "queued")
        assert r.wait()[0].startswith("run finished")
        assert {st.kind for st in r.states.values()} == {"done"}
    finally:
        r.close()
