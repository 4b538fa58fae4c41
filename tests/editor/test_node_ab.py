"""Level-matched A/B between any two nodes (issue 14), through real X events with the null sink
recorded by parec: select two nodes, Ctrl+B switches between them at the same place in the clip,
both at the quieter one's loudness.  The graph is gain (the two-tone clip at its own level, about
20 dB louder) -> export (the file normalised to -30 LUFS).  What is asserted is what was heard."""
from __future__ import annotations

import numpy as np
import pytest

from ._graphs import transport_graph
from ._sound import RATE

HALF_S = 2.0       # the clip: 440 Hz for HALF_S, then 1 kHz (see _graphs.two_tone_file)


@pytest.fixture(scope="module")
def node_ab(tmp_path_factory):
    from .conftest import sound_editor
    tmp = tmp_path_factory.mktemp("node_ab")
    st = sound_editor(tmp).run("node_ab", transport_graph(tmp, 2 * HALF_S), timeout=180)
    x = np.fromfile(st["recording"], dtype="<f4").reshape(-1, 2)[:, 0].astype(np.float64)
    return st, x


def _blocks(x: np.ndarray, ms: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """RMS (dBFS) and dominant frequency (Hz) of each ``ms`` block of the recording."""
    n = RATE * ms // 1000
    b = x[: len(x) // n * n].reshape(-1, n)
    rms = 20 * np.log10(np.sqrt(np.mean(b ** 2, axis=1)) + 1e-12)
    freq = np.fft.rfftfreq(n, 1 / RATE)[np.abs(np.fft.rfft(b * np.hanning(n), axis=1)).argmax(axis=1)]
    return rms, freq


@pytest.mark.gui
def test_one_selected_node_says_what_to_do_and_plays_nothing(node_ab):
    st, _ = node_ab
    text, error, now, pending = st["one_selected"]
    assert error and "only 'gain' is selected" in text and "select two nodes" in text and "Ctrl+B" in text
    assert now is None and pending is None
    assert st["menu"] == "Ctrl+B"


@pytest.mark.gui
def test_ctrl_b_computes_both_and_plays_a_level_matched_to_the_quieter_b(node_ab):
    st, _ = node_ab
    assert st["selected"] == ["export", "gain"]
    assert st["computing"].startswith("computing ") and "gain" in st["computing"] and "export" in st["computing"]
    text, error = st["a_status"]
    assert not error and text.startswith("now A (gain.out): A/B level-matched at -30.0 LUFS"), text
    gain_a = float(text.split("(A ")[1].split(" dB")[0])
    assert -25 < gain_a < -15, text                   # gain.out is about 20 dB louder than the file
    assert "B +0.0 dB" in text
    from nodeflow.editor.nodetext import status_line       # every line of it in the status bar, not the first alone
    assert st["a_shown"] == status_line(text) and all(line.strip() in st["a_shown"] for line in text.splitlines())


@pytest.mark.gui
def test_the_pair_is_marked_on_the_canvas_and_the_side_playing_too(node_ab):
    """QA: nothing on the canvas said which node was A and which B."""
    st, _ = node_ab
    width = {n: w for n, (_, w) in st["marks_before"].items()}
    assert {n: t for n, (t, _) in st["marks_before"].items()} == {"gain": "gain", "export": "export", "load": "load"}
    assert {n: t for n, (t, _) in st["marks_a"].items()} == {"gain": "gain  [A >]", "export": "export  [B]",
                                                            "load": "load"}
    assert {n: t for n, (t, _) in st["marks_b"].items()} == {"gain": "gain  [A]", "export": "export  [B >]",
                                                            "load": "load"}
    assert {n: t for n, (t, _) in st["marks_stopped"].items()} == {"gain": "gain  [A]", "export": "export  [B]",
                                                                  "load": "load"}
    for key in ("marks_a", "marks_b", "marks_stopped"):
        assert {n: w for n, (_, w) in st[key].items()} == width, (key, st[key], width)


@pytest.mark.gui
def test_each_switch_goes_on_at_the_same_place_in_the_clip(node_ab):
    st, x = node_ab
    # the playhead goes on through each switch as the clock does (a restart or a skip would move it)
    assert st["b_head"] - st["a_head_at_switch"] == pytest.approx(st["b_after_s"], abs=0.15), st
    assert st["a2_head"] - st["b_head_at_switch"] == pytest.approx(st["a2_after_s"], abs=0.15), st
    assert st["b_status"][0].startswith("now B (export.out)") and not st["b_status"][1]
    assert st["b_transport"][0] == "pause"           # B's own node shows it playing
    assert st["selected_after_click"] == [] and st["a2_status"].startswith("now A (gain.out)")
    rms, freq = _blocks(x)
    heard = np.flatnonzero(rms > -60)
    first, last = heard[0], heard[-1]
    high = np.flatnonzero((freq > 900) & (freq < 1100) & (rms > -60))
    # one pass through the clip, never back to its start: 440 Hz for HALF_S from the first sound, then
    # 1 kHz to the end (a switch that restarted a take would bring 440 Hz back, or start 1 kHz late)
    assert (high[0] - first) * 0.02 == pytest.approx(HALF_S, abs=0.25)
    # each switch goes on in the same stream: no gap, nothing skipped (it was ~30 ms of silence and
    # ~0.1 s skipped per switch, a new stream each time)
    assert (last - first + 1) * 0.02 == pytest.approx(2 * HALF_S, abs=0.12)
    from ._sound import dropouts
    assert dropouts(x[first * RATE // 50:(last + 1) * RATE // 50])["count"] == 0
    assert not np.any((freq[high[0] + 5:last - 2] > 400) & (freq[high[0] + 5:last - 2] < 480))


@pytest.mark.gui
def test_a_and_b_are_heard_at_the_same_level(node_ab):
    st, x = node_ab
    rms, freq = _blocks(x)
    heard = rms > -60
    for lo, hi in ((400, 480), (900, 1100)):     # each tone, across the switches between A and B
        tone = np.flatnonzero(heard & (freq > lo) & (freq < hi))
        low, high = np.percentile(rms[tone], [10, 90])   # not the fades, nor a block a switch cut short
        assert high - low < 1.0, (lo, low, high)
    # at the file's level: the 440 Hz half of a -30 LUFS two-tone clip is far below the node's -6 dBFS
    tone = np.flatnonzero(heard & (freq > 400) & (freq < 480))
    assert np.median(rms[tone]) < -20


@pytest.mark.gui
def test_an_edit_or_a_deleted_node_says_how_to_compare_again(node_ab):
    st, _ = node_ab
    assert st["edit_status"] == "stopped gain.out: an edit changed it; Ctrl+B compares the new versions", st
    text, error, exists = st["deleted_status"]        # the pair was forgotten: 'no node is selected'
    assert error and not exists and text.startswith("cannot A/B: 'export' was deleted (Ctrl+Z brings it back)"), text
    text, now = st["after_undo"]
    assert now == ["gain", "out"] and text.startswith("now A (gain.out)"), st["after_undo"]


def test_a_node_plays_its_first_audio_output_or_the_file_an_export_wrote():
    """What Ctrl+B compares is what the node's play button plays (no window needed)."""
    from nodeflow import Graph
    from nodeflow.editor.audition import playable_port
    g = Graph()
    g.add("io.load", id="load", path="x.wav")
    g.add("dsp.gain", id="gain")
    g.add("io.export", id="export", path="out.wav")
    g.add("text.prompt_template", id="prompt")
    g.connect("load.out", "gain.audio")
    g.connect("gain.out", "export.audio")
    assert [playable_port(g, n) for n in ("load", "gain", "export", "prompt", "nope")] == \
        ["out", "out", "out", None, None]


def test_a_switch_to_a_shorter_take_says_once_that_it_starts_from_the_beginning():
    """QA: the status said 'B (short.out) is 1.0 s long, ... playing B from the start' twice (the
    first line, and again among the player's lines).  No window: the app's parts are stand-ins."""
    from types import SimpleNamespace

    import numpy as np

    from nodeflow import Audio
    from nodeflow.editor.compare import NodeAB

    rate = 8000
    takes = {("long", "out"): Audio(np.full((1, 5 * rate), 0.1, np.float32), rate),
             ("short", "out"): Audio(np.full((1, rate), 0.3, np.float32), rate)}

    class Audition:
        def __init__(self):
            self.messages = []
            self.head = ("long", "out", 3.0)          # B (the 5 s take) plays at 3 s

        def playhead(self):
            return self.head

        def playable(self, value):
            return value

        def play_value(self, key, value, start_s=0.0, gain_db=0.0):
            self.messages.append((f"playing {key[0]}.{key[1]} ({value.duration_s:.1f} s)", False))
            self.head = (*key, start_s)

    app = SimpleNamespace(audition=Audition(), doc=SimpleNamespace(graph=None),
                          runner=SimpleNamespace(output=lambda g, nid, port: takes[(nid, port)],
                                                 current_keys=lambda g: {}))
    ab = NodeAB(app)
    ab.pair = [("short", "out"), ("long", "out")]
    ab.compare.ab = {"A": 0, "B": 1}
    ab._toggle()
    (text, error), = app.audition.messages
    lines = text.splitlines()
    assert not error and lines[0].startswith("now A (short.out) is 1.0 s long, B was at 3.0 s: playing A from "
                                             "the start; A/B level-matched at"), lines
    assert sum("from the start" in line for line in lines) == 1, lines


def test_a_long_node_id_is_cut_to_fit_its_ab_mark():
    """QA: a node named 'a_very_long_node_identifier_for_vocals_take_3' got no [A] at all."""
    from types import SimpleNamespace

    from nodeflow.editor.compare import NodeAB

    long_id = "a_very_long_node_identifier_for_vocals_take_3"
    view = SimpleNamespace(node_rect=lambda nid: ([0, 0], [180, 200]))         # a node 180 px wide
    dpg = SimpleNamespace(get_text_size=lambda text: [7 * len(text), 13])     # 7 px a character
    ab = NodeAB.__new__(NodeAB)
    ab.app = SimpleNamespace(view=view, dpg=dpg)
    assert ab._fitted("gain", "  [A]") == "gain  [A]"
    cut = ab._fitted(long_id, "  [A >]")
    assert cut.endswith("...  [A >]") and long_id.startswith(cut[:-len("...  [A >]")]) and 7 * len(cut) <= 180, cut
    assert len(cut) == 180 // 7
