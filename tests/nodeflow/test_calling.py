"""Values in, values out (issue 15): a node function called on audio runs on it, with its parameters
checked as in a graph; ``invoke``/``batch`` on nodes and chains take Audio, ``(array, rate)`` pairs,
file paths or text."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Audio, Chain, Executor, Graph, ParameterError, Registry, Step, node
from nodeflow.errors import ExecutionError, GraphError
from nodeflow.types import Range
from nodes.dsp.basic import fade, gain
from nodes.dsp.resample import resample
from nodes.timing.stitch import stitch
from nodes.timing.window import tokenize_window

ROOT = Path(__file__).resolve().parents[2]
MELODY = ROOT / "graphs" / "assets" / "melody.flac"


def _noise(channels: int = 2, seconds: float = 2.0, rate: int = 44100) -> np.ndarray:
    return np.random.default_rng(7).uniform(-0.5, 0.5, (channels, round(seconds * rate))).astype(np.float32)


# ------------------------------------------------------------------ calling a node on values
def test_calling_a_node_on_audio_runs_its_function():
    x = Audio(_noise(), 44100)
    got = gain(x, gain_db=-6.0)
    assert isinstance(got, Audio)
    np.testing.assert_array_equal(got.samples, gain.fn(x, gain_db=-6.0).samples)
    # the same by name, and from a (numpy array, rate) pair
    np.testing.assert_array_equal(gain(audio=x, gain_db=-6.0).samples, got.samples)
    np.testing.assert_array_equal(gain((x.samples, 44100), gain_db=-6.0).samples, got.samples)
    # defaults fill the parameters not given
    assert gain(x) is x


def test_parameters_are_checked_as_in_a_graph():
    x = (_noise(1, 0.1), 8000)
    with pytest.raises(ParameterError, match=r"dsp.gain: gain_db=100 is out of range \(from -60 to 24 dB\)"):
        gain(x, gain_db=100)
    with pytest.raises(ParameterError, match="no parameter or input 'gian_db'.*parameters are: gain_db"):
        gain(x, gian_db=1)
    with pytest.raises(ParameterError, match="gain_db='loud': expected a number"):
        gain(x, gain_db="loud")
    with pytest.raises(ParameterError, match="takes 1 input"):
        gain(x, x)
    with pytest.raises(ParameterError, match="input 'audio' given twice"):
        gain(x, audio=x)
    with pytest.raises(ParameterError, match="input 'audio': takes audio.*got int"):
        gain(3, gain_db=1)
    with pytest.raises(ParameterError, match="input 'a' needs a value"):
        from nodes.dsp.basic import mix
        mix(b=x)


def test_parameters_only_still_make_a_chain_step():
    step = gain(gain_db=-3)
    assert isinstance(step, Step) and step.params == {"gain_db": -3.0}
    chain = step | fade(fade_in_s=0.5)
    assert isinstance(chain, Chain) and [n.type for n in chain.graph.nodes.values()] == ["dsp.gain", "dsp.fade"]


def test_a_file_path_is_read_as_io_load_reads_it(tmp_path):
    got = gain(MELODY, gain_db=0.0)
    data, rate = sf.read(MELODY, dtype="float32", always_2d=True)
    assert got.sample_rate == rate and got.frames == data.shape[0]
    np.testing.assert_array_equal(gain(str(MELODY)).samples, got.samples)


def test_a_list_fed_to_a_one_clip_input_maps_the_node():
    x = Audio(_noise(2, 4.0, 8000), 8000)
    windows = tokenize_window(x, unit="seconds", size=1.0)
    assert len(windows) == 4
    quieter = gain(windows, gain_db=-6.0)
    assert isinstance(quieter, list) and len(quieter) == 4
    for w, q in zip(windows, quieter):
        np.testing.assert_array_equal(q.samples, gain.fn(w, gain_db=-6.0).samples)
        assert q.start_frame == w.start_frame
    back = stitch(quieter)          # a node with ctx gets one made for it
    assert back.frames == x.frames


# ------------------------------------------------------------------ invoke / batch
def test_notebook_style_numpy_in_numpy_out_touches_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDIOCHAIN_CACHE", "off")
    x = _noise()
    chain = gain(gain_db=-6.0) | resample(rate_hz=32000) | fade(fade_out_s=0.5)
    out = chain.invoke((x, 44100), executor=Executor(disk_cache=None))
    assert isinstance(out.samples, np.ndarray) and out.samples.dtype == np.float32
    assert out.sample_rate == 32000 and out.channels == 2 and out.frames == 64000
    # the same numbers as calling the functions one after another
    want = fade.fn(resample.fn(gain.fn(Audio(x, 44100), gain_db=-6.0), rate_hz=32000), fade_out_s=0.5)
    np.testing.assert_array_equal(out.samples, want.samples)
    assert os.listdir(tmp_path) == []


def test_invoke_equals_running_the_same_graph():
    x = Audio(_noise(1, 2.0, 16000), 16000)
    ex = Executor(disk_cache=None)
    chain = gain(gain_db=-3.0) | fade(fade_in_s=0.25)
    got = chain.invoke(x, executor=ex)
    assert got.frames == x.frames
    np.testing.assert_array_equal(got.samples, fade.fn(gain.fn(x, gain_db=-3.0), fade_in_s=0.25).samples)
    # a path goes through an io.load node: the same as the graph that loads it
    from_file = chain.invoke(str(MELODY), executor=ex)
    g = Graph()
    a = g.add("io.load", path=str(MELODY))
    b = g.add("dsp.gain", gain_db=-3.0)
    c = g.add("dsp.fade", fade_in_s=0.25)
    g.connect(a.out, b.audio)
    g.connect(b.out, c.audio)
    np.testing.assert_array_equal(from_file.samples, ex.run(g)[c.id]["out"].samples)


def test_invoking_again_on_the_same_audio_is_served_from_the_cache():
    ex = Executor(disk_cache=None)
    events: list = []
    chain = gain(gain_db=-3.0) | fade(fade_in_s=0.25)
    x = _noise(1, 1.0, 8000)
    first = chain.invoke((x, 8000), executor=ex)
    again = chain.invoke((x.copy(), 8000), executor=ex, on_event=events.append)
    np.testing.assert_array_equal(first.samples, again.samples)
    assert {e.node_id for e in events if e.kind == "cached"} >= {"fade"}
    assert not [e for e in events if e.kind == "started"]
    other = chain.invoke((x * 0.5, 8000), executor=ex)      # other audio: computed, not a stale hit
    np.testing.assert_allclose(other.samples, first.samples * 0.5, atol=1e-7)


def test_invoke_takes_named_inputs_and_says_which_are_open():
    x, y = Audio(_noise(1, 1.0, 8000), 8000), Audio(np.ones(8000, np.float32) * 0.25, 8000)
    from nodes.dsp.basic import mix
    step = mix(gain_b_db=0.0)
    got = step.invoke({"a": x, "mix.b": (y.samples, 8000)}, executor=Executor(disk_cache=None))
    np.testing.assert_allclose(got.samples, x.samples + 0.25, atol=1e-6)
    with pytest.raises(GraphError, match=r"2 open inputs \(mix.a, mix.b\); pass a dict by name"):
        step.invoke(x)
    with pytest.raises(GraphError, match="no open input 'c'; open inputs are: mix.a, mix.b"):
        step.invoke({"c": x})
    with pytest.raises(GraphError, match=r"^invoke: input .mix\.b. is not fed; give every required input, "
                                         r"e\.g\. \{.a.: \.\.\., .b.: \.\.\.\}$"):
        step.invoke({"a": x})


def test_invoke_takes_text_and_nodes_without_inputs():
    reg = Registry()

    @node("test.say")
    def say(text: str, *, times: Annotated[int, Range(1, 10)] = 1) -> str:
        """Repeat the text."""
        return " ".join([text] * times)

    chain = Chain.start(say(times=2), Graph(reg))
    assert chain.invoke("la", executor=Executor(disk_cache=None)) == "la la"
    assert say("la", times=3) == "la la la"
    loaded = fade(fade_in_s=0.1).invoke(MELODY, executor=Executor(disk_cache=None))
    assert loaded.frames == sf.info(MELODY).frames
    from nodes.io.load import load
    assert load(path=str(MELODY)).invoke(executor=Executor(disk_cache=None)).frames == loaded.frames


def test_batch_returns_results_in_order():
    ex = Executor(disk_cache=None)
    clips = [(_noise(1, s, 8000), 8000) for s in (0.5, 1.0, 1.5, 2.0)]
    chain = gain(gain_db=-6.0) | fade(fade_in_s=0.25)
    got = chain.batch(clips, executor=ex, max_concurrency=3)
    assert [a.frames for a in got] == [4000, 8000, 12000, 16000]
    for (x, rate), a in zip(clips, got):
        np.testing.assert_array_equal(a.samples, chain.invoke((x, rate), executor=ex).samples)
    assert gain.batch(clips[:2], executor=ex)[1].frames == 8000        # a node with default parameters
    assert [a.frames for a in chain.batch(clips[:2])] == [4000, 8000]   # the process-wide executor
    for bad in (0, -1, 2.5, "4", True):     # (QA: 0, -1 and 2.5 were taken, "4" raised a bare TypeError)
        with pytest.raises(ParameterError, match=rf"batch: max_concurrency={bad!r}; expected a whole number"):
            chain.batch(clips[:2], executor=ex, max_concurrency=bad)


def test_run_takes_one_node_id_as_a_string_and_names_an_unknown_kept_node():
    """QA: keep=['gian'] (a typo) was silently ignored, keep='gain' raised a bare ValueError and
    targets='gain' was read letter by letter ("no node named 'g'")."""
    g = (gain(gain_db=-3.0) | fade(fade_in_s=0.1)).graph
    ex, x = Executor(disk_cache=None), (_noise(1, 0.5, 8000), 8000)
    assert set(ex.run(g, "gain", inputs=x).outputs) == {"gain"}
    assert set(ex.run(g, keep="gain", inputs=x).outputs) == {"gain", "fade"}
    with pytest.raises(GraphError, match=r"keep: no node named 'gian' in the graph; nodes are: fade, gain"):
        ex.run(g, keep=["gian"], inputs=x)
    for kw, bad in ((dict(keep=5), "5"), (dict(targets=["gain", 3]), "3")):    # (QA41: bare TypeErrors)
        with pytest.raises(ParameterError, match=rf"{next(iter(kw))}: expected node ids \(a name or a list of names, "
                                                 rf"e.g. {next(iter(kw))}=\['gain'\]\); got {bad}"):
            ex.run(g, inputs=x, **kw)
    chain = gain(gain_db=-3.0) | fade(fade_in_s=0.1)
    res = chain.run(executor=ex, inputs=x)       # as invoke, batch and stream take one (QA41: a TypeError)
    assert set(res.outputs) == {"fade"} and "fade" in res.cached


def test_numpy_scalars_are_numbers_as_parameters():
    """QA41: np.float32(-3.0) was "expected a number" and np.int64(48000) "expected a whole number",
    while np.float64 passed: values taken from arrays or np.linspace sweeps are numpy scalars."""
    x = (_noise(1, 0.2, 8000), 8000)
    want = gain(x, gain_db=-3.0).samples
    for v in (np.float32(-3.0), np.float64(-3.0), np.int16(-3), -3):
        np.testing.assert_array_equal(gain(x, gain_db=v).samples, want)
    g = Graph()
    n = g.add("dsp.resample", rate_hz=np.int64(16000))
    assert g.nodes[n.id].params["rate_hz"] == 16000 and type(g.nodes[n.id].params["rate_hz"]) is int
    assert resample(x, rate_hz=np.float32(16000.0)).sample_rate == 16000
    with pytest.raises(ParameterError, match=r"rate_hz=np.True_: expected a whole number"):
        resample(x, rate_hz=np.bool_(True))
    with pytest.raises(ParameterError, match=r"rate_hz=np.float64\(16000.5\): expected a whole number"):
        resample(x, rate_hz=np.float64(16000.5))


def test_a_pair_whose_rate_no_audio_has_is_refused():
    """QA41: (x, 7) was taken as 7 Hz (resampled to 48 kHz: 2.25 GiB); (x, 48) is a rate in kHz."""
    from nodeflow.errors import AudioError
    for rate in (7, 48, 800000):
        with pytest.raises(AudioError, match=rf"a sample rate of {rate:g} Hz is outside 1000-768000 Hz; give the rate "
                                             r"in Hz \(48000, not 48\) as the pair's second item: \(samples, rate\)"):
            resample.invoke((_noise(1, 0.01, 8000), rate))
    x = _noise(1, 0.01, 8000)          # QA42: numpy rates are rates; a rate that is no number says so
    assert gain((x, np.float32(22050))).sample_rate == 22050 and gain((x, np.int32(8000))).sample_rate == 8000
    with pytest.raises(AudioError, match=r"sample_rate must be a positive integer; got nan$"):
        gain((x, float("nan")))
    with pytest.raises(AudioError, match=r"sample_rate must be a positive integer; got inf$"):
        gain((x, float("inf")))
    with pytest.raises(ExecutionError, match=r"resample: the audio is at 7 Hz, outside 1000-768000 Hz; make it "
                                             r"with its rate in Hz \(Audio\(samples, 48000\), not 48\)"):
        resample(rate_hz=48000).invoke(Audio(x, 7), executor=Executor(disk_cache=None))    # (2.25 GiB before)


def test_a_pair_whose_samples_are_no_array_names_what_they_are():
    torch = pytest.importorskip("torch")
    with pytest.raises(ParameterError, match=r"got a pair whose samples are torch.Tensor, not a numpy array; pass "
                                             r"tensor.numpy\(\) \(after .cpu\(\) on a GPU\)"):
        gain((torch.zeros(1, 100), 8000))
    with pytest.raises(ParameterError, match=r"got a pair whose samples are numpy.float32, not a numpy array$"):
        gain((np.float32(0.1), 8000))


def test_invoke_leaves_the_chain_and_the_default_registry_alone():
    from nodeflow import default_registry
    chain = gain(gain_db=-6.0) | fade(fade_in_s=0.25)
    before = (dict(chain.graph.nodes), list(chain.graph.links), len(default_registry()))
    chain.invoke((_noise(1, 0.5, 8000), 8000), executor=Executor(disk_cache=None))
    assert (dict(chain.graph.nodes), list(chain.graph.links), len(default_registry())) == before
    assert not any(s.id.startswith("input.") for s in default_registry())


def test_changing_an_array_in_place_is_never_a_stale_cache_hit():
    ex = Executor(disk_cache=None)
    chain = gain(gain_db=0.0) | fade(fade_in_s=0.0)
    x = np.full((1, 800), 0.5, np.float32)
    first = chain.invoke((x, 8000), executor=ex)
    x[:] = 0.25                                    # the caller's array is still theirs to change
    again = chain.invoke((x, 8000), executor=ex)
    assert float(first.samples.max()) == 0.5 and float(again.samples.max()) == 0.25


def test_the_samples_digest_of_an_immutable_clip_is_remembered_while_it_lives():
    import gc

    from nodeflow import chain as chain_module
    memo = chain_module._sample_digests

    def remembered(root_id: int) -> list:          # memo keys start with the id of the array viewed
        return [k for k in memo if k[0] == root_id]
    clip = Audio(np.random.default_rng(1).uniform(-1, 1, (1, 4000)).astype(np.float32), 8000)
    digest = chain_module._samples_digest(clip.samples)
    assert [memo[k][1] for k in remembered(id(clip.samples))] == [digest]
    assert chain_module._samples_digest(clip.samples) == digest
    writable = np.zeros(10, np.float32)
    chain_module._samples_digest(writable)
    assert not remembered(id(writable))            # it may change: hashed every time
    key = id(clip.samples)
    del clip
    gc.collect()
    assert not remembered(key)


def test_a_list_of_clips_may_hold_file_paths():
    """QA: invoke([clip, path]) was refused with "takes audio (an Audio, a (numpy array, sample rate)
    pair or a file path); got str", while invoke(path) and batch([clip, path]) took it."""
    x = (_noise(1, 0.5, 8000), 8000)
    got = gain(gain_db=-6.0).invoke([x, str(MELODY), MELODY], executor=Executor(disk_cache=None))
    assert [a.frames for a in got] == [4000, sf.info(MELODY).frames, sf.info(MELODY).frames]


def test_a_step_names_its_node_type_in_a_parameter_error():
    """QA: in ``a | b | c``, ``gain(gain_db=100)`` said "gain_db=100 is out of range" without the node,
    and a misspelled parameter was a GraphError on a step but a ParameterError on data."""
    with pytest.raises(ParameterError, match=r"^dsp\.gain: gain_db=100 is out of range \(from -60 to 24 dB\)"):
        gain(gain_db=100)
    with pytest.raises(ParameterError, match=r"^dsp\.gain: no parameter 'gaindb'; parameters are: gain_db"):
        gain(gaindb=1)


def test_steps_chains_and_graphs_go_to_other_processes():
    """QA: a Step, a Chain and a Graph could not be pickled (PicklingError: the function behind a node
    is not the module's attribute), which stops multiprocessing and joblib.  Node types pickle by name."""
    import pickle
    chain = gain(gain_db=-6.0) | fade(fade_in_s=0.1)
    x = (_noise(1, 0.5, 8000), 8000)
    ex = Executor(disk_cache=None)
    here = chain.invoke(x, executor=ex)                 # run first: what a run leaves on the graph pickles too
    back = pickle.loads(pickle.dumps(chain))
    assert back.graph.spec("gain") is gain and np.array_equal(back.invoke(x, executor=ex).samples, here.samples)
    assert pickle.loads(pickle.dumps(gain(gain_db=-3.0))).params == {"gain_db": -3.0}
    import subprocess
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as d:             # another process unpickles and runs it
        (Path(d) / "job.pickle").write_bytes(pickle.dumps((chain, x)))
        code = ("import pickle, sys; chain, x = pickle.loads(open(sys.argv[1], 'rb').read()); "
                "open(sys.argv[2], 'wb').write(pickle.dumps(chain.invoke(x, config={'cache': False}).samples))")
        p = subprocess.run([sys.executable, "-c", code, str(Path(d) / "job.pickle"), str(Path(d) / "out.pickle")],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert p.returncode == 0, p.stderr
        there = pickle.loads((Path(d) / "out.pickle").read_bytes())
    assert np.array_equal(there, here.samples)


def test_a_clip_over_a_buffer_its_caller_refills_is_never_served_the_old_result():
    """QA38 (high): blocks read into one preallocated buffer, each invoked as ``Audio(buf, rate)``
    (a 1-D buffer: the clip views it, the buffer stays writable), came back with the first block's
    result: the digest was remembered by the buffer.  It is remembered only for memory nobody can
    write."""
    buf = np.empty(8000, np.float32)
    step = gain(gain_db=0.0) | gain(gain_db=-6.0)
    ex = Executor(disk_cache=None)
    for level in (0.0, 0.5, 0.1):
        buf[:] = level * np.sin(np.arange(8000) / 10.0)
        out = step.invoke(Audio(buf, 8000), executor=ex)
        assert float(np.abs(out.samples).max()) == pytest.approx(float(np.abs(buf).max()) * 10 ** (-6 / 20), abs=1e-6)
