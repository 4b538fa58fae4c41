"""An untitled graph's exports (issue: 'an export of an unsaved graph goes to the folder the editor
was started from', e.g. /work/main/out.wav inside a git repository, and Save as later moved the
target and left that file behind without a word)."""
from __future__ import annotations


def test_an_untitled_graphs_export_goes_to_its_own_folder_and_save_as_says_what_stays(editor):
    st = editor.run("untitled_export")
    victim = editor.tmp.parent / f"{editor.tmp.name}-victim"
    runs = sorted((editor.state_dir / "unsaved").iterdir())    # one for the untitled graph that exported there;
    assert len(runs) == 1 and all(p.name.startswith("untitled-") for p in runs), runs    # none for one whose
    # export was typed as a whole path (QA65: an empty folder was made for it)
    first = next(p for p in runs if (p / "out.wav").exists())
    u = st["untitled"]
    assert u["status"].startswith("run finished") and u["status"].endswith(
        f"; the graph is not saved: exports in {first}"), u["status"]
    assert u["file"] == str(first / "out.wav") and "out.wav" in u["line"]
    assert "out.wav" not in st["start_folder"], "nothing written into the folder the editor started in"
    assert st["saved"] == (f"saved {editor.tmp / 'songs' / 'song.msgpack'}; the exports of its runs before it was "
                           f"saved stay in {first} (Run, F5, writes them beside the graph)")
    assert (first / "out.wav").exists(), "Save as moves nothing"
    s = st["saved_run"]
    assert s["file"] == str(editor.tmp / "songs" / "out.wav") and "not saved" not in s["status"], s
    assert st["songs"] == ["out.wav", "song.msgpack"]
    assert st["outside_shown"] and f"node 'export': {victim / 'x.wav'}" in st["outside_text"]
    assert st["allowed"]["written"] and st["allowed"]["status"].startswith("run finished"), st["allowed"]
    assert "exports in" not in st["allowed"]["status"], st["allowed"]    # (QA62 D6: named the unused scratch)
    assert (victim / "x.wav").exists() and not (editor.tmp / "x.wav").exists()
