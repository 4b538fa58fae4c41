"""models.demucs / models.demucs_6s on a tiny random-weight HTDemucs of the real architecture (depth 4,
nfft 4096, 44.1 kHz; 4 channels, 1 transformer layer, 1 s segments), saved as safetensors + config.json
and loaded through the same path as a real checkpoint; plus demucs's own hub export layout.

A random model does not separate, and HTDemucs does not constrain its sources to add up to the mix,
so reconstruction is tested where it is guaranteed: ``residual=True`` (exact by construction) and the
path around the model (normalisation, resampling, segments, shifts) with a stand-in model whose
sources add up to its input by construction."""
from __future__ import annotations

import json
import random
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("demucs")

from nodeflow import Audio, Executor, Graph  # noqa: E402
from nodeflow.checkpoints import CheckpointError  # noqa: E402
from nodeflow.errors import Cancelled, GraphError, ParameterError  # noqa: E402
from nodes.models import _demucs as engine  # noqa: E402
from nodes.models.demucs import DEMUCS, demucs, demucs_6s  # noqa: E402

from .helpers import write_clip  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_demucs  # noqa: E402

FOUR = ("drums", "bass", "other", "vocals")


@pytest.fixture(scope="module")
def ck(tmp_path_factory) -> Path:
    return tiny_demucs.build(tmp_path_factory.mktemp("demucs") / "tiny-htdemucs")


@pytest.fixture(scope="module")
def ck6(tmp_path_factory) -> Path:
    return tiny_demucs.build(tmp_path_factory.mktemp("demucs6") / "tiny-htdemucs-6s", sources=tiny_demucs.SIX)


def mix(seconds: float, rate: int, channels: int = 2, seed: int = 0, frames: int | None = None,
        noise: float = 0.02, swell: bool = False, freq_hz: float = 220.0) -> np.ndarray:
    """A sine per channel plus a little seeded noise (``swell``: rising from 0.2 to 0.8 of full level,
    so every segment is louder than the last): [channels, frames]."""
    n = frames if frames is not None else round(seconds * rate)
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    level = 0.2 + 0.6 * t / max(t[-1], 1e-9) if swell else 0.3
    x = [level * np.sin(2 * np.pi * freq_hz * (1 + c / 2) * t) + noise * rng.standard_normal(n) for c in range(channels)]
    return np.asarray(x, np.float32)


def sep(x: np.ndarray, rate: int, ck: Path, **kw):
    return demucs(Audio(x, rate), checkpoint=str(ck), device="cpu", **kw)


def four_sum(out) -> np.ndarray:
    return sum(getattr(out, n).samples for n in FOUR)


# ---------------------------------------------------------------------------------------- lengths, rates, layout
@pytest.mark.parametrize("rate", [44100, 48000, 22050])
@pytest.mark.parametrize("frames", [0, 1, 1001, 2 * 44100 + 37])
def test_every_stem_is_exactly_the_input_length_rate_and_channels(ck, rate, frames):
    a = Audio(mix(0, rate, frames=frames), rate, start_frame=12345, index=3).with_info(title="song")
    out = demucs(a, checkpoint=str(ck), device="cpu", shifts=0)
    assert len(out.stems) == 4
    for name, s in zip(FOUR, out.stems):
        assert (s.frames, s.sample_rate, s.channels) == (frames, rate, 2)
        assert (s.start_frame, s.index) == (12345, 3)                 # placement kept
        info = dict(s.info)
        assert info["stem"] == name and info["title"] == "song" and info["revision"].startswith("local-")
        assert getattr(out, name) is s


def test_mono_in_gives_mono_stems_the_same_as_two_identical_channels(ck):
    x = mix(1.3, 48000, channels=1)
    mono = sep(x, 48000, ck, shifts=0)
    dual = sep(np.repeat(x, 2, axis=0), 48000, ck, shifts=0)
    for n in FOUR:
        assert getattr(mono, n).channels == 1
        np.testing.assert_allclose(getattr(mono, n).samples[0], getattr(dual, n).samples.mean(0), atol=1e-6)


def test_more_than_two_channels_is_refused_with_the_fix(ck):
    with pytest.raises(ParameterError, match="6 channels: fold it down first with dsp.channels"):
        sep(mix(0.2, 44100, channels=6), 44100, ck)


# ---------------------------------------------------------------------------------------- reconstruction
def test_residual_makes_the_stems_add_up_to_the_input_exactly(ck):
    x = mix(2.2, 48000)
    plain = sep(x, 48000, ck, shifts=1)
    exact = sep(x, 48000, ck, shifts=1, residual=True)
    err = np.abs(four_sum(exact) - x).max()
    assert err < 1e-6                                                  # float32 rounding of the subtraction
    for n in ("drums", "bass", "vocals"):                              # only `other` changes
        assert np.array_equal(getattr(plain, n).samples, getattr(exact, n).samples)
    # the random model's own estimate is not constrained to add up (HTDemucs does not guarantee it):
    # measured here as large as the mix itself, which is what residual=True is for
    rel = np.sqrt(((four_sum(plain) - x) ** 2).mean() / (x ** 2).mean())
    assert rel > 0.1


class _Splitter:
    """A stand-in Demucs model whose four sources add up to its input by construction: each is the
    input times a softmax weight that depends on the segment's level (so segments differ, and a
    seam without a crossfade shows as a step)."""

    @staticmethod
    def loaded(sample_rate: int = 44100, segment: float = 1.0):
        import torch

        class Splitter(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.sources, self.samplerate, self.audio_channels, self.segment = list(FOUR), sample_rate, 2, segment
                self.k = torch.nn.Parameter(torch.tensor([0.0, 1.0, 2.0, 3.0]))

            def forward(self, x):
                level = x.abs().mean(dim=(1, 2))[:, None] * 2                      # [batch, 1]
                w = torch.softmax(level * self.k[None], dim=1)                        # [batch, 4]
                return w[:, :, None, None] * x[:, None]

        from demucs.apply import BagOfModels
        bag = BagOfModels([Splitter()])
        return engine.Loaded(bag, tuple(FOUR), sample_rate, 2, segment, float("inf"), "splitter", "r1", "cpu",
                             "float32")


@pytest.fixture()
def splitter(monkeypatch, fresh_model_cache):
    import dataclasses

    import nodes.models.demucs as module
    monkeypatch.setattr(module, "DEMUCS", dataclasses.replace(DEMUCS, load=lambda res, dev, dtype: _Splitter.loaded()))


@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_the_path_around_the_model_preserves_the_mix(ck, splitter, rate):
    """Normalisation, resampling in and out, 1 s segments with overlap and two random shifts: with a
    model whose sources add up to its input, the stems add up to the input as the model's 44.1 kHz
    carries it: the input itself at 44.1 kHz, its soxr round trip through 44.1 kHz at other rates
    (48 kHz loses the noise above 22.05 kHz; the round trip is compared, not the input)."""
    from nodes.dsp._conform import resample_audio
    x = mix(3.3, rate)
    there_and_back = resample_audio(resample_audio(Audio(x, rate), 44100), rate).samples[:, :x.shape[1]]
    assert there_and_back.shape == x.shape
    out = sep(x, rate, ck, shifts=2, overlap=0.25, seed=5)
    assert np.abs(four_sum(out) - there_and_back).max() < 2e-6


# ---------------------------------------------------------------------------------------- seams
def _seams(n: int, rate: int, overlap: float, segment_s: float = 1.0) -> list[int]:
    seg = int(segment_s * rate)
    stride = int((1 - overlap) * seg)
    return sorted({o for o in range(stride, n, stride)} | {o + seg for o in range(0, n, stride) if o + seg < n})


def _step_at_seams(y: np.ndarray, seams: list[int]) -> tuple[float, float]:
    """Largest sample-to-sample jump at the seams, and away from them (a step shows in the first)."""
    d = np.abs(np.diff(y, axis=1)).max(axis=0)
    near = np.zeros(d.size, bool)
    for s in seams:
        near[max(0, s - 2):s + 2] = True
    return float(d[near].max()), float(d[~near].max())


def test_segment_seams_are_crossfaded_not_stepped(ck, splitter):
    rate = 44100
    x = mix(4.0, rate, noise=0.0, swell=True, freq_hz=2.7)            # slow, and louder every segment
    cut = sep(x, rate, ck, shifts=0, overlap=0.0)                     # no overlap: segments simply abut
    at, away = _step_at_seams(cut.vocals.samples, _seams(x.shape[1], rate, 0.0))
    assert at > 10 * away                                             # the test sees a step when there is one
    faded = sep(x, rate, ck, shifts=0, overlap=0.25)
    at, away = _step_at_seams(faded.vocals.samples, _seams(x.shape[1], rate, 0.25))
    assert at <= 1.05 * away


def test_seams_of_the_real_architecture_stand_out_nowhere(ck):
    rate = 44100
    x = mix(4.0, rate)
    out = sep(x, rate, ck, shifts=0, overlap=0.25)
    for s in out.stems:
        at, away = _step_at_seams(s.samples, _seams(x.shape[1], rate, 0.25))
        assert at <= away


# ---------------------------------------------------------------------------------------- seeds
def test_the_same_seed_gives_the_same_stems_whatever_else_uses_random(ck):
    x = mix(1.5, 44100)
    random.seed(1)
    a = sep(x, 44100, ck, shifts=2, seed=7)
    random.seed(99)
    b = sep(x, 44100, ck, shifts=2, seed=7)
    c = sep(x, 44100, ck, shifts=2, seed=8)
    for n in FOUR:
        assert np.array_equal(getattr(a, n).samples, getattr(b, n).samples)
    assert not np.array_equal(a.vocals.samples, c.vocals.samples)


# ---------------------------------------------------------------------------------------- graph: progress, cancel
def _graph(tmp_path: Path, x: np.ndarray, rate: int, ck: Path, **params) -> Graph:
    g = Graph()
    src = g.add("io.load", id="load", path=str(write_clip(tmp_path / "song.wav", x, rate)))
    m = g.add("models.demucs", id="sep", checkpoint=str(ck), **params)
    g.connect(src.out, m.audio)
    return g


def test_progress_once_per_segment_through_the_engine(ck, tmp_path):
    x = mix(3.0, 44100)
    g = _graph(tmp_path, x, 44100, ck, shifts=2, overlap=0.25, seed=3)
    seen = []
    res = Executor(disk_cache=None).run(g, device="cpu", on_event=seen.append, keep="all")
    progress = [(e.done, e.total) for e in seen if e.kind == "progress" and e.node_id == "sep"]
    loaded = engine.load(DEMUCS.resolve(str(ck), None), "cpu", "float32")
    _, calls = engine.plan(loaded, x.shape[1], shifts=2, overlap=0.25, segment_s=1.0, seed=3)
    assert progress == [(k, calls) for k in range(1, calls + 1)] and calls >= 10
    assert res["sep"]["vocals"].frames == x.shape[1] and len(res["sep"]["stems"]) == 4


def test_cancel_stops_within_one_segment(ck, tmp_path):
    x = mix(4.0, 44100)
    g = _graph(tmp_path, x, 44100, ck, shifts=1)
    cancel, seen = threading.Event(), []

    def on_event(ev):
        seen.append(ev)
        if ev.kind == "progress" and ev.node_id == "sep" and ev.done == 2:
            cancel.set()

    with pytest.raises(Cancelled):
        Executor(disk_cache=None).run(g, device="cpu", on_event=on_event, cancel_event=cancel)
    progress = [ev for ev in seen if ev.kind == "progress" and ev.node_id == "sep"]
    assert [p.done for p in progress] == [1, 2] and progress[-1].total >= 6   # not one more segment
    assert [ev.kind for ev in seen if ev.node_id == "sep"][-1] == "cancelled"


@pytest.mark.parametrize("rate,channels,params", [(44100, 2, dict(shifts=1, overlap=0.25)),
                                                   (32000, 1, dict(shifts=2, overlap=0.5, residual=True))])
def test_stems_stream_segment_by_segment_and_the_pieces_are_the_stems(ck, tmp_path, rate, channels, params):
    """stream() hands on each stem's finished stretch while later segments are still separated
    (also at another rate and for mono: resampled and folded on the way); the pieces are the stems
    to the sample, and the same as separating without streaming (the engine's segment order is
    demucs's apply_model arithmetic, checked bit for bit in test_the_segment_loop_is_demucs_own)."""
    x = mix(4.0, rate, channels=channels, seed=4)
    g = _graph(tmp_path, x, rate, ck, seed=5, **params)
    kinds: list[str] = []
    pieces = list(Executor(disk_cache=None).stream(g, "sep", "vocals", device="cpu",
                                                   on_event=lambda ev: kinds.append(ev.kind) if ev.node_id == "sep" else None))
    whole = Executor(disk_cache=None).run(g, device="cpu", keep="all")["sep"]
    assert len(pieces) >= 3
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), whole["vocals"].samples)
    assert [p.start_frame for p in pieces] == list(np.cumsum([0] + [p.frames for p in pieces[:-1]]))
    first_chunk = kinds.index("chunk")
    assert "progress" in kinds[first_chunk:]                     # handed on before the last segment ran
    direct = demucs(Audio(x, rate), checkpoint=str(ck), device="cpu", seed=5, **params)
    for name in FOUR:
        np.testing.assert_array_equal(getattr(direct, name).samples, whole[name].samples)


def test_a_stem_streams_on_through_the_gain_after_it_while_later_segments_are_separated(ck, tmp_path):
    """A stem's stretches go on through the block nodes after it (a gain) as they are separated
    (nodeflow.relay): the pieces are the whole run's output to the sample."""
    x = mix(4.0, 44100, channels=2, seed=4)
    g = _graph(tmp_path, x, 44100, ck, seed=5, shifts=1, overlap=0.25)
    g.add("dsp.gain", id="louder", gain_db=2.0)
    g.connect("sep.vocals", "louder")
    kinds: list[str] = []
    pieces = []
    for p in Executor(disk_cache=None).stream(g, "louder", device="cpu",
                                              on_event=lambda ev: kinds.append(ev.kind) if ev.node_id == "sep" else None):
        pieces.append((p, len(kinds)))
    whole = Executor(disk_cache=None).run(g, ["louder"], device="cpu")["louder"]["out"]
    assert len(pieces) >= 3
    np.testing.assert_array_equal(np.concatenate([p.samples for p, _ in pieces], axis=1), whole.samples)
    assert "progress" in kinds[pieces[0][1]:]                    # handed on before the last segment ran


def test_stems_of_a_clip_placed_in_a_longer_one_stream_exactly_through_a_resample(ck):
    """The stems keep the input's place (a clip from 0.28 s of a song): Demucs does not say their
    length up front, so the resample after them (which places its output by it) runs on the whole,
    and what is streamed is exactly what a run returns."""
    x = mix(3.0, 44100, channels=2, seed=6)[:, :132295]   # placed at 12004, it resamples to one frame less
    g = Graph()
    g.add("models.demucs", id="sep", checkpoint=str(ck), seed=5, shifts=1, overlap=0.25)
    g.add("dsp.resample", id="rs", rate_hz=48000)
    g.connect("sep.vocals", "rs")
    clip = Audio(x, 44100, start_frame=12004)
    pieces = list(Executor(disk_cache=None).stream(g, "rs", device="cpu", inputs={"sep.audio": clip}))
    whole = Executor(disk_cache=None).run(g, ["rs"], device="cpu", inputs={"sep.audio": clip})["rs"]["out"]
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), whole.samples)


def test_the_segment_loop_is_demucs_own(ck):
    """The engine runs demucs's per-segment model calls in output-time order; the result is what
    demucs.apply.apply_model gives for the same shifts, to the bit (a bag of two weighted models)."""
    import random

    import torch
    from demucs.apply import BagOfModels, TensorChunk, apply_model

    loaded = engine.load(DEMUCS.resolve(str(ck), None), "cpu", "float32")
    other = engine.load(DEMUCS.resolve(str(tiny_demucs.build(ck.parent / "second", seed=1)), None), "cpu", "float32")
    loaded.bag = BagOfModels([loaded.bag.models[0], other.bag.models[0]], [[1.0, 0.5, 2.0, 1.0], [0.5, 1.0, 1.0, 3.0]])
    x = mix(2.5, 44100, seed=6)
    stretches: list[tuple[int, np.ndarray]] = []
    got = engine.separate(loaded, x, shifts=2, overlap=0.25, segment_s=1.0, seed=7, progress=lambda d, t: None,
                          check=lambda: None, final=lambda a, r: stretches.append((a, r.copy())))
    assert len(stretches) >= 4 and [a for a, _ in stretches][0] == 0
    np.testing.assert_array_equal(np.concatenate([r for _, r in stretches], axis=-1), got)
    t = torch.tensor(x)[None]
    ref = t.mean(1)
    mean, std = float(ref.mean()), float(ref.std())
    t = (t - mean) / std
    rng, max_shift = random.Random(7), 22050
    padded = TensorChunk(t).padded(t.shape[-1] + 2 * max_shift)
    want = 0.0
    with torch.inference_mode():
        for offset in [rng.randint(0, max_shift) for _ in range(2)]:
            shifted = TensorChunk(padded, offset, t.shape[-1] + max_shift - offset)
            want = want + apply_model(loaded.bag, shifted, shifts=0, split=True, overlap=0.25, segment=1.0)[..., max_shift - offset:]
    want = (want / 2)[0].float() * std + mean / 4
    np.testing.assert_array_equal(got, want.numpy())


# ---------------------------------------------------------------------------------------- checkpoints
def test_the_model_loads_once_for_many_runs(ck, fresh_model_cache):
    x = mix(0.5, 44100)
    sep(x, 44100, ck, shifts=0)
    sep(x, 48000, ck, shifts=0)
    assert fresh_model_cache.loads() == 1


def _hub_export(folder: Path, ck: Path, name: str = "htdemucs", klass: str = "demucs.htdemucs.HTDemucs") -> Path:
    """demucs 4.1's hub layout (tools/export_hf.py): NAME.yaml naming the bag's model signatures,
    and SIG.safetensors with the class and constructor arguments as metadata."""
    from safetensors.torch import load_file, save_file
    cfg = json.loads((ck / "config.json").read_text())["models"][0]
    folder.mkdir(parents=True, exist_ok=True)
    save_file(load_file(str(ck / "model.safetensors")), str(folder / "955717e8.safetensors"),
              metadata={"klass": klass, "args": json.dumps(cfg["args"]), "kwargs": json.dumps(cfg["kwargs"])})
    (folder / f"{name}.yaml").write_text("models: ['955717e8']\n")
    return folder


def test_demucs_hub_export_loads_from_the_hub_cache_offline(ck, tmp_path, monkeypatch, fresh_model_cache):
    cache = tmp_path / "hub"
    repo = cache / "models--adefossez--HTDemucs"
    commit = "a" * 40
    _hub_export(repo / "snapshots" / commit, ck)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    x = mix(1.2, 44100)
    hub = demucs(Audio(x, 44100), device="cpu", shifts=0)               # the default: adefossez/HTDemucs
    local = sep(x, 44100, ck, shifts=0)
    assert np.array_equal(hub.vocals.samples, local.vocals.samples)
    assert dict(hub.vocals.info)["revision"] == commit
    assert demucs.preflight({"checkpoint": "adefossez/HTDemucs"}, tmp_path) == []


def test_missing_checkpoints_say_what_to_fetch_in_one_line(ck, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (msg,) = demucs.preflight({"checkpoint": "adefossez/HTDemucs"}, tmp_path)
    assert "not in the Hugging Face cache" in msg and "`audiochain models pull adefossez/HTDemucs`" in msg and "\n" not in msg
    (msg,) = demucs.preflight({"checkpoint": str(tmp_path / "stems" / "htdemucs")}, tmp_path)
    assert msg == f"checkpoint '{tmp_path / 'stems' / 'htdemucs'}': no folder {tmp_path / 'stems' / 'htdemucs'}, " \
                  "and not a hub id like 'adefossez/HTDemucs'"
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "955717e8-8726e21a.th").write_bytes(b"not loaded")
    (msg,) = demucs.preflight({"checkpoint": str(pickled)}, tmp_path)
    assert "955717e8-8726e21a.th: torch pickles, which AudioChain never loads" in msg
    monkeypatch.delenv("HF_HUB_OFFLINE")                                # online: the node will download it
    assert demucs.preflight({"checkpoint": "adefossez/HTDemucs"}, tmp_path) == []


def test_models_pull_list_info_rm_serve_demucs_as_any_family(ck, tmp_path, monkeypatch, capsys):
    """demucs's hub export (no config.json) goes through the layer's one path: `models pull` fetches
    safetensors and yaml (no pickles) into the hub cache, `list`/`info` name the family and its
    sources, the node runs it offline, `rm` removes it and preflight then names the pull command."""
    import huggingface_hub
    import tiny_models

    from nodeflow import cli
    cache, commit = tmp_path / "hub", "c" * 40
    export = _hub_export(tmp_path / "export", ck)
    (export / "955717e8.th").write_bytes(b"a pickle pull must not fetch")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    asked: dict = {}

    def snapshot(repo, revision=None, cache_dir=None, allow_patterns=None):
        import fnmatch
        import shutil
        asked["patterns"] = allow_patterns
        fetched = tmp_path / "fetched"
        fetched.mkdir()
        for f in export.iterdir():
            if any(fnmatch.fnmatch(f.name, p) for p in allow_patterns):
                shutil.copy(f, fetched / f.name)
        return str(tiny_models.install_in_hub_cache(fetched, Path(cache_dir), repo, commit))
    from huggingface_hub.hf_api import RepoFile
    listing = [RepoFile(path=f.name, size=f.stat().st_size, oid="0") for f in export.iterdir()]
    monkeypatch.setattr(huggingface_hub, "list_repo_tree", lambda repo, revision=None, recursive=False: listing)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    assert cli.main(["models", "pull", "adefossez/HTDemucs"]) == 0
    snap = cache / "models--adefossez--HTDemucs" / "snapshots" / commit
    assert sorted(f.name for f in snap.iterdir()) == ["955717e8.safetensors", "htdemucs.yaml"]

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    capsys.readouterr()
    assert cli.main(["models", "list"]) == 0
    (row,) = capsys.readouterr().out.splitlines()
    assert row.split()[0] == "adefossez/HTDemucs" and row.split()[3] == "demucs" and commit[:10] in row
    assert cli.main(["models", "info", "adefossez/HTDemucs", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["family"], info["model_type"], info["revision"]) == ("demucs", "demucs", commit)
    assert (info["sources"], info["models"]) == ("drums, bass, other, vocals", 1)
    assert demucs.preflight({"checkpoint": "adefossez/HTDemucs"}, tmp_path) == []
    out = demucs(Audio(mix(0.3, 44100), 44100), device="cpu", shifts=0)
    assert dict(out.vocals.info)["revision"] == commit and out.vocals.frames == round(0.3 * 44100)

    assert cli.main(["models", "rm", "adefossez/HTDemucs"]) == 0
    assert capsys.readouterr().out.startswith("removed adefossez/HTDemucs")
    (msg,) = demucs.preflight({"checkpoint": "adefossez/HTDemucs"}, tmp_path)
    assert "`audiochain models pull adefossez/HTDemucs`" in msg
    assert cli.main(["models", "info", str(ck), "--json"]) == 0           # AudioChain's own layout, a folder
    assert json.loads(capsys.readouterr().out)["family"] == "demucs"


def test_a_checkpoint_naming_a_foreign_class_is_refused(ck, tmp_path):
    folder = _hub_export(tmp_path / "evil", ck, klass="os.system")
    with pytest.raises(CheckpointError, match="names model class os.system; only demucs's HTDemucs, HDemucs, Demucs"):
        sep(mix(0.2, 44100), 44100, folder)


# ---------------------------------------------------------------------------------------- six sources
def test_six_sources(ck, ck6):
    x = mix(1.1, 32000)
    six = demucs_6s(Audio(x, 32000), checkpoint=str(ck6), device="cpu", shifts=0)
    assert [dict(s.info)["stem"] for s in six.stems] == list(tiny_demucs.SIX)
    assert six.guitar.frames == six.piano.frames == x.shape[1]
    four = demucs(Audio(x, 32000), checkpoint=str(ck6), device="cpu", shifts=0)
    assert len(four.stems) == 6 and dict(four.other.info)["stem"] == "other+guitar+piano"
    np.testing.assert_allclose(four.other.samples, six.other.samples + six.guitar.samples + six.piano.samples,
                               atol=1e-6)
    assert np.array_equal(four.vocals.samples, six.vocals.samples)
    exact = demucs_6s(Audio(x, 32000), checkpoint=str(ck6), device="cpu", shifts=0, residual=True)
    assert np.abs(sum(s.samples for s in exact.stems) - x).max() < 1e-6
    with pytest.raises(ParameterError, match="separates drums, bass, other, vocals; models.demucs_6s needs six"):
        demucs_6s(Audio(x, 32000), checkpoint=str(ck), device="cpu")


# ---------------------------------------------------------------------------------------- device, precision
def test_precision_and_device(ck, tmp_path):
    x = mix(1.0, 44100)
    f32 = sep(x, 44100, ck, shifts=0)
    bf16 = sep(x, 44100, ck, shifts=0, precision="bfloat16")
    peak = np.abs(f32.vocals.samples).max()
    assert 0 < np.abs(bf16.vocals.samples - f32.vocals.samples).max() < 0.05 * peak
    with pytest.raises(ParameterError, match="float16 is not supported .* on the CPU"):
        sep(x, 44100, ck, precision="float16")
    g = _graph(tmp_path, x, 44100, ck, device="cuda")
    with pytest.raises(GraphError, match="node 'sep' \\(models.demucs\\): device='cuda': CUDA is not available"):
        Executor(disk_cache=None).run(g)                             # refused before anything runs
    assert Executor(disk_cache=None).run(g, device="cpu")["sep"]["drums"].frames == x.shape[1]   # --device wins
    from nodeflow.node import Context
    fp = demucs.fingerprint({"checkpoint": str(ck), "precision": "bfloat16"}, Context(device="cpu"))
    assert (fp["device"], fp["dtype"], fp["revision"][:6]) == ("cpu", "bfloat16", "local-")


def test_precision_auto_is_float32_on_a_gpu_too(ck, monkeypatch):
    """The family declares auto_dtype=float32: on CUDA, where other families' auto is float16."""
    import torch

    from nodeflow import devices
    from nodeflow.node import Context
    from nodes.models.encodec import encodec_encode
    monkeypatch.setattr(devices, "pick_device", lambda node_device="auto", run_device="auto": "cuda")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    ctx = Context(device="auto")
    assert demucs.fingerprint({"checkpoint": str(ck)}, ctx)["dtype"] == "float32"
    assert demucs.fingerprint({"checkpoint": str(ck), "precision": "float16"}, ctx)["dtype"] == "float16"
    assert encodec_encode.fingerprint({"checkpoint": str(ck)}, ctx)["dtype"] == "float16"


def test_the_work_estimate_counts_the_model_calls_short_segments_make():
    """QA60: segment_s=0.01 ran 4.7x the default's time and was estimated alike (each model call
    separates a segment padded to the model's own length): the estimate and the hours limit missed it."""
    from nodeflow.costs import Shape
    from nodes.models.demucs import demucs

    def work(**params) -> float:
        full = {**{k: p.default for k, p in demucs.params.items()}, **params}
        return demucs.estimate({"audio": Shape(60 * 44100, 2, 44100)}, full)["vocals"].work_s
    default = work()
    assert work(segment_s=0.5) > 10 * default
    assert work(segment_s=0.01) > 500 * default
    assert work(shifts=4) > 3 * default
