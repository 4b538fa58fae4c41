"""The editor plays a node while it is still being generated (issue 15): real clicks, real chunk
events from a node that streams a tone in 0.25 s pieces, the PulseAudio null sink recorded."""
from __future__ import annotations

import numpy as np
import pytest

from .conftest import sound_skip_reason


def _silent_runs(x: np.ndarray, min_frames: int, level: float = 1e-3) -> list[tuple[int, int]]:
    quiet = np.concatenate([[0], (np.abs(x) < level).astype(np.int8), [0]])
    d = np.diff(quiet)
    return [(a, b) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)) if b - a >= min_frames]


def test_play_while_generating_grows_waits_without_a_click_and_ends_on_the_result(editor):
    reason = sound_skip_reason()
    if reason:
        pytest.skip(reason)
    st = editor.run("live_play", None, timeout=150)
    assert st["state_at_press"].startswith("running") and st["status_at_press"].startswith("playing ")
    assert "as it is generated" in st["status_at_press"]
    assert st["heard_while"] == "running"                 # the sink sounded while the node was held
    assert st["waiting_state"] == "running" and st["waits"] >= 1
    assert 1.0 <= st["preview_s_held"] <= 2.0 < st["preview_s_caught_up"] <= 3.5 < st["preview_s_done"] == 5.0
    assert st["clip_is_result"] and st["preview_is_result"]
    assert st["underflows"] == 0, st["status"]
    # play on a node that has not run: the audition's pieces play while the node is held
    assert "as it is generated" in st["audition_status"] and st["audition_state"] == "running"
    assert st["audition_clip_s"] == 3.0

    res = np.load(editor.tmp / "result.npy")[0]
    rec = np.fromfile(editor.tmp / "live.f32", dtype="<f4").reshape(-1, 2)
    left, right = rec[:, 0], rec[:, 1]
    np.testing.assert_allclose(left, right, atol=1e-6)     # mono on both sides
    loud = np.flatnonzero(np.abs(left) > 1e-3)
    x = left[loud[0] - 2000:loud[-1] + 2000]
    # the one pause: where playback caught up with generation (at 3.5 s, held 0.6 s and more)
    gaps = _silent_runs(x[2000:-2000], 480)
    assert len(gaps) == 1, gaps
    a, b = (g + 2000 for g in gaps[0])
    assert b - a >= int(0.3 * 48000)
    # before the pause: the result sample for sample from where it was pressed (8 pieces, the wait at
    # the gate, 6 more); PulseAudio may lose up to 80 ms of the head as the stream starts
    fade, win = 240, 4800
    probe = x[2000 + win:2000 + 2 * win]
    s0 = min(range(0, 8000), key=lambda k: float(np.max(np.abs(probe - res[k:k + win]))))
    o = 2000 + win - s0                                    # where the result's frame 0 is in the recording
    assert s0 - win <= int(0.08 * 48000) and o <= 2000 + 480, (s0, o)
    head = x[2000:a - fade]
    ref = res[2000 - o:2000 - o + len(head)]
    assert 2000 - o + len(head) >= int(3.4 * 48000)
    err = float(np.max(np.abs(head - ref)))
    assert err < 2e-3, err
    # after the pause: the rest of the result to its end, from 5 ms before the pause (faded in)
    tail = x[b + fade:]
    tail = tail[:np.flatnonzero(np.abs(tail) > 1e-3)[-1] + 1]
    cut = 2000 - o + len(head)
    k = min(range(cut - fade, cut + 4 * fade), key=lambda k: float(np.max(np.abs(tail[:win] - res[k:k + win]))))
    assert k <= cut + fade + 48, (k, cut)       # it went on from where it faded out: nothing lost
    assert k + len(tail) >= len(res) - 480                    # and played to the end (the last 10 ms fade out)
    err = float(np.max(np.abs(tail[:len(res) - k] - res[k:k + len(tail)])))
    assert err < 2e-3, err
    # no click: no step between samples larger than the tone's own (fades are 5 ms long); the first
    # sound is left out (where PulseAudio lost the head, the recording starts mid-wave)
    steps = float(np.max(np.abs(np.diff(x[2000:]))))
    assert steps <= 1.1 * float(np.max(np.abs(np.diff(res)))) + 1e-3, steps


# ---------------------------------------------------------------------------------------- without a window
def test_the_runner_gathers_espeaks_streamed_pieces_into_the_result_before_it_lands():
    """speech.espeak hands on a piece every 0.25 s (real chunk events): the runner's growing clip
    has pieces while the run is on, and once the node is done it is the result sample for sample."""
    import shutil

    from nodeflow import Graph
    from nodeflow.editor.runner import Runner
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    g = Graph()
    g.add("speech.espeak", id="say", text="Streaming speech. " * 12)
    r = Runner()
    seen: list[tuple[int, bool]] = []
    listener = r.live.on_event

    def spy(ev, key):                     # what the clip holds after each event, as the player sees it
        listener(ev, key)
        c = r.live.clips.get(("say", "out"))
        if c is not None:
            seen.append((c.frames, c.final))
    r.live.on_event = spy
    try:
        r.run(g)
        assert r.wait(60) and not r.jobs
        res = r.output(g, "say", "out")
        frames = [n for n, final in seen if not final]
        assert len(set(frames)) >= 4 and frames[0] < res.frames     # it grew, piece by piece
        assert seen[-1] == (res.frames, True)
        assert r.live.clips == {}                                   # the result is the value now
        assert "chunk" not in {s.kind for s in r.states.values()}
    finally:
        r.close()


def test_a_live_reader_hands_over_every_sample_in_order_and_fades_only_where_it_waits():
    from nodeflow import Audio
    from nodeflow.editor.live import FADE_S, LiveClip
    rate = 8000
    x = (0.5 * np.sin(2 * np.pi * 50 * np.arange(4 * rate) / rate)).astype(np.float32)
    clip = LiveClip("k", rate, 1)
    reader = clip.make_reader(rate, None)
    out, heard = np.zeros((256, 1), np.float32), []
    fed = 0
    for step in range(400):               # 0.5 s pieces, one every 8 blocks of 256 (faster than played)
        if step % 8 == 0 and fed < len(x):
            clip.append(Audio(x[fed:fed + rate // 2], rate))
            fed += rate // 2
        if fed >= len(x):
            clip.finish(Audio(x, rate))
        k = reader.read(out)
        heard.append(out[:, 0].copy())
        if k < len(out) and not reader.waiting:
            break
    y = np.concatenate(heard)
    assert reader.waits == 0
    np.testing.assert_array_equal(y[:len(x)], x)
    assert not np.any(y[len(x):])
    # starved: a piece every 40 blocks (slower than played): it waits, fading out and back in
    clip, fed, heard = LiveClip("k", rate, 1), 0, []
    reader = clip.make_reader(rate, None)
    for step in range(1200):
        if step % 40 == 0 and fed < len(x):
            clip.append(Audio(x[fed:fed + rate // 2], rate))
            fed += rate // 2
            if fed >= len(x):
                clip.finish()
        k = reader.read(out)
        heard.append(out[:, 0].copy())
        if k < len(out) and not reader.waiting:
            break
    y = np.concatenate(heard)
    assert reader.waits >= 3
    assert np.max(np.abs(np.diff(y))) <= np.max(np.abs(np.diff(x))) + 0.5 / (FADE_S * rate)
    assert np.count_nonzero(y) >= np.count_nonzero(x)           # nothing lost (the faded ms are replayed)


def test_a_mapped_nodes_items_grow_one_clip_equal_to_its_list_played_end_to_end():
    """A node mapped over a list hands each item on as it is done (chunk events): the items make
    one growing clip, which is the list as the editor plays it (items one after another)."""
    from nodeflow import Executor, Graph, Registry
    from nodeflow.editor.playback import as_audio
    from nodeflow.editor.runner import Runner
    from tests.nodeflow.stubs import ALL
    reg = Registry()
    reg.load_pack("stubs", lambda r: r.add_all(ALL), "1.0")
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("test.split", id="split", parts=4)
    g.add("test.gain", id="gain", gain_db=-6.0)
    g.connect("tone", "split")
    g.connect("split", "gain")
    r = Runner(Executor(disk_cache=None))
    grown: list[int] = []
    kept: list = []
    on_event, settle = r.live.on_event, r.live.settle

    def spy(ev, key):
        on_event(ev, key)
        c = r.live.clips.get(("gain", "out"))
        if c is not None and not c.final:
            grown.append(c.pieces)

    def spy_settle(nid, outs):                 # the clip as it was when the result landed
        kept.extend(c for k, c in r.live.clips.items() if nid == "gain" and k == ("gain", "out"))
        settle(nid, outs)
    r.live.on_event, r.live.settle = spy, spy_settle
    try:
        r.run(g)
        r.wait(60)
        items = r.output(g, "gain", "out")
        assert isinstance(items, list) and len(items) == 4
        assert sorted(set(grown)) == [1, 2, 3, 4]                 # one piece per item, in order
        [clip] = kept
        assert clip.final and r.live.clips == {}
        np.testing.assert_array_equal(clip.samples, as_audio(items).samples)
    finally:
        r.close()


def test_overlapping_windows_grow_and_play_as_long_as_their_source_on_its_time_axis():
    """QA50: 2-bar windows overlapping by half a bar played back to back (every overlap twice: 16.2 s
    for a 14.4 s song under its bar axis).  Each plays where it starts in the source, the next taking
    over where it begins, in the finished list and in the clip that grows as they arrive."""
    from nodeflow.editor.live import LiveClip
    from nodeflow.editor.playback import as_audio
    from nodes.timing.window import tokenize_window
    from tests.nodes._signals import music

    song = music(133.0, 4, 14.4, 44100, seed=3, channels=2)
    wins = tokenize_window.fn(song, unit="bars", size=2, overlap=0.5, bpm=133.0)
    assert sum(w.frames for w in wins) > song.frames * 1.2           # played end to end: 20 % too long
    whole = as_audio(wins)
    assert whole.frames == song.frames and np.array_equal(whole.samples, song.samples)
    clip = LiveClip("k", 44100, 2)
    for w in wins:
        clip.append(w)
    assert clip.frames == song.frames and np.array_equal(clip.samples, song.samples)
    clip.finish(whole)
    assert clip.frames == song.frames and np.array_equal(clip.samples, song.samples)


def test_playing_a_clip_as_it_is_generated_says_nothing_that_goes_stale():
    """QA70 D4: the status said "(7.2 s so far)" once, at the press, and kept saying it while the node
    generated a minute more and finished.  What it says now stays true as the clip grows."""
    from nodeflow import Audio
    from nodeflow.editor.live import LiveClip
    from nodeflow.editor.playback import Auditioner

    class Player:
        playing, error, position_s, underflows = True, None, 0.0, 0

        def play(self, *a, **kw):
            pass
    au = Auditioner(None, player=Player)
    clip = LiveClip("k", 48000, 2)
    clip.append(Audio(np.zeros((2, 48000 * 7), np.float32), 48000))
    au._play_clip("vary", "out", clip, 0.0)
    said = au.messages[-1][0]
    assert said.startswith("playing vary.out as it is generated"), said
    clip.append(Audio(np.zeros((2, 48000 * 50), np.float32), 48000))
    clip.finish()
    au.tick()
    assert f"{7.0:.1f}" not in said and "so far" not in said, f"{said!r} after 57 s were generated"
