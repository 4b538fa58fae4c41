"""Autosave (issue 4): the recovery file is replaced atomically on every change, never rewritten in
place, so a crash (or a reader) at any moment finds either the previous or the new graph whole."""
from __future__ import annotations

import os

from nodeflow.editor.document import Document
from nodeflow.editor.files import Autosaver, find_recovery, open_graph, recovery_path

from ._graphs import chain_graph


def test_every_change_replaces_the_recovery_file_whole_and_leaves_no_temporary_files(tmp_path):
    g, path = open_graph(chain_graph(tmp_path))
    doc = Document(g, path)
    state = tmp_path / "state"
    saver = Autosaver(state)
    held = []
    try:
        rec = recovery_path(path, state)
        for gain_db in (-20.0, -14.0, -9.5):
            doc.set_param("gain", "gain_db", gain_db)
            saver.changed(doc.graph, doc.path)
            saver.flush()
            found = find_recovery(path, state)
            assert found is not None and found.graph.nodes["gain"].params["gain_db"] == gain_db
            with open(rec, "rb") as f:
                content = f.read()
            held.append((open(rec, "rb"), content))        # a reader that opened this version
        # each version is a new file renamed over the previous one: a reader (or a crash) half-way
        # through never sees a truncated or mixed file; an in-place rewrite would change what the
        # earlier readers read
        inodes = {os.fstat(f.fileno()).st_ino for f, _ in held}
        assert len(inodes) == 3
        for f, content in held:
            assert f.read() == content
        assert len({c for _, c in held}) == 3
        assert sorted(p.name for p in rec.parent.iterdir()) == [rec.name], "temporary files left behind"
    finally:
        for f, _ in held:
            f.close()
        saver.close()


def test_each_window_has_its_own_recovery_file_and_only_a_dead_windows_is_offered(tmp_path):
    """Two editors on one graph used to share one recovery file (one window's edit was lost)."""
    import shutil
    import subprocess
    import sys

    g, path = open_graph(chain_graph(tmp_path))
    state = tmp_path / "state"
    saver = Autosaver(state)
    try:
        doc = Document(g, path)
        doc.set_param("gain", "gain_db", -20.0)
        saver.changed(doc.graph, doc.path)
        saver.flush()
        mine = recovery_path(path, state)
        other_live = recovery_path(path, state, pid=os.getppid())          # another window, still open
        shutil.copy(mine, other_live)
        assert mine != other_live and mine.exists() and other_live.exists()
        saver.discard(doc.path)                                             # this window saved: its file goes
        assert not mine.exists() and other_live.exists()
        assert find_recovery(path, state) is None                           # a live window's work is its own
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
        other_live.rename(recovery_path(path, state, pid=int(gone)))       # that window crashed
        found = find_recovery(path, state)
        assert found is not None and found.graph.nodes["gain"].params["gain_db"] == -20.0
    finally:
        saver.close()
