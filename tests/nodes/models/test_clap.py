"""models.clap_score on a tiny random-weight ClapModel of the real architecture (HTS-AT audio tower,
RoBERTa text tower, the real feature extractor's 48 kHz / 64 mel / 10 s settings), saved with
save_pretrained (safetensors) and loaded through the path laion/clap-htsat-unfused takes.

A random model's scores mean nothing musically, so what is tested is what the node promises whatever
the weights: the same inputs give the same score; a clip scores exactly 1 against itself; what the
model hears (mono at 48 kHz, the project's resampler, long clips as equal windows) is exactly defined
for any rate, length and channel layout; a missing checkpoint is one line naming the pull command."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from nodeflow import Audio, Executor, Graph
from nodeflow.checkpoints import CheckpointError
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodes.dsp._conform import resample_audio
from nodes.models import clap
from nodes.models.clap import ClapScores, audio_embedding, clap_score, model_input, using_clap, windows

from .helpers import write_clip

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_clap  # noqa: E402
import tiny_models  # noqa: E402

RATE = 48000


@pytest.fixture(scope="module")
def ck(tmp_path_factory) -> Path:
    return tiny_clap.build(tmp_path_factory.mktemp("clap") / "tiny-clap")


@pytest.fixture(scope="module")
def ck_fused(tmp_path_factory) -> Path:
    return tiny_clap.build(tmp_path_factory.mktemp("clap-fused") / "tiny-clap-fused", seed=1, fusion=True)


def tone(freq: float, seconds: float, rate: int = RATE, channels: int = 1, seed: int = 0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    noise = np.random.default_rng(seed).standard_normal(t.size) * 0.02
    x = 0.3 * np.sin(2 * np.pi * freq * t) * np.minimum(1.0, 20 * t) + noise
    return np.repeat(x[None], channels, axis=0).astype(np.float32)


def score(ck: Path, samples: np.ndarray, rate: int = RATE, **kw) -> ClapScores:
    return clap_score.fn(Audio(samples, rate), kw.pop("reference", None), checkpoint=str(ck),
                         text=kw.pop("text", "a warm lo-fi piano loop"), device="cpu", ctx=Context("clap"), **kw)


def embed(ck: Path, audio: Audio) -> np.ndarray:
    ctx = Context("clap", device="cpu")
    with using_clap(str(ck), ctx, "cpu") as loaded:
        return audio_embedding(loaded, audio, ctx)


def test_scores_are_deterministic_in_a_graph_and_across_executors(ck, tmp_path):
    f = write_clip(tmp_path / "clip.wav", tone(440, 2.0), RATE)
    g = Graph()
    src = g.add("io.load", id="load", path=str(f))
    s = g.add("models.clap_score", id="clap", checkpoint=str(ck), text="a warm lo-fi piano loop", device="cpu")
    g.connect(src.out, s.audio)
    first = Executor(disk_cache=None).run(g)["clap"]
    second = Executor(disk_cache=None).run(g)["clap"]
    assert first == second
    assert set(first) == {"score", "text_score", "reference_score"}
    assert -1.0 <= first["score"] <= 1.0 and first["score"] == first["text_score"]
    assert first["reference_score"] == 0.0
    other = score(ck, tone(440, 2.0), text="dark techno with loud drums")
    assert other.text_score != first["text_score"]          # the text matters


def test_a_clip_scores_one_against_itself_and_the_score_is_the_mean(ck):
    x = tone(330, 3.0)
    both = score(ck, x, reference=Audio(x, RATE))
    assert both.reference_score == pytest.approx(1.0, abs=1e-6)
    assert both.score == pytest.approx((both.text_score + both.reference_score) / 2, abs=1e-8)
    only_ref = score(ck, x, reference=Audio(x, RATE), text="")
    assert (only_ref.score, only_ref.text_score) == (only_ref.reference_score, 0.0)
    far = score(ck, tone(2000, 3.0, seed=5), reference=Audio(x, RATE), text="")
    assert far.reference_score < 1.0 - 1e-4


def test_nothing_to_compare_with_is_refused(ck):
    with pytest.raises(ParameterError, match="give text="):
        score(ck, tone(440, 1.0), text="  ")


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_what_the_model_hears_at_any_rate_and_channel_count(rate, channels):
    x = tone(440, 1.2345, rate, channels)
    y = model_input(Audio(x, rate), RATE)
    assert y.dtype == np.float32 and y.ndim == 1
    assert y.size == round(x.shape[1] * RATE / rate)                       # exact length, any rate
    mono = Audio(x.mean(axis=0, keepdims=True), rate)
    np.testing.assert_array_equal(y, resample_audio(mono, RATE, "HQ").samples[0])   # the project's resampler


def test_stereo_is_scored_as_its_mono_downmix_and_any_rate_as_its_48k_version(ck):
    left, right = tone(440, 2.0)[0], tone(660, 2.0, seed=3)[0]
    stereo = np.stack([left, right])
    mono = ((left.astype(np.float64) + right) / 2).astype(np.float32)[None]
    assert score(ck, stereo) == score(ck, mono)
    assert score(ck, np.repeat(mono, 2, axis=0)) == score(ck, mono)
    at_44k = tone(440, 2.0, 44100)
    resampled = resample_audio(Audio(at_44k, 44100), RATE, "HQ").samples
    assert score(ck, at_44k, 44100) == score(ck, resampled)


def test_long_clips_are_equal_windows_whose_embeddings_are_averaged(ck):
    assert [len(w) for w in windows(np.zeros(25), 10)] == [9, 8, 8]
    assert [len(w) for w in windows(np.zeros(10), 10)] == [10]
    n = 10 * RATE
    assert [len(w) for w in windows(np.zeros(2 * n + 1), n)] == [n // 3 * 2 + 1, n // 3 * 2, n // 3 * 2]
    x = tone(440, 21.0)                                      # 21 s: three 7 s windows
    parts = [embed(ck, Audio(p[None], RATE)) for p in windows(x[0], n)]
    mean = np.mean(parts, axis=0)
    np.testing.assert_allclose(embed(ck, Audio(x, RATE)), mean / np.linalg.norm(mean), atol=1e-7)
    assert score(ck, x) == score(ck, x)


@pytest.mark.parametrize("frames", [1, 7, 480, 480_001])
def test_odd_lengths_score_deterministically(ck, frames):
    x = tone(440, 11.0)[:, :frames]
    a, b = score(ck, x), score(ck, x)
    assert a == b and np.isfinite(a.score)


def test_empty_or_broken_audio_is_one_clear_error(ck):
    with pytest.raises(ParameterError, match="empty"):
        score(ck, np.zeros((1, 0), np.float32))


def test_a_fused_checkpoint_is_deterministic_too(ck_fused):
    for seconds in (2.0, 12.5):
        x = tone(440, seconds)
        assert score(ck_fused, x) == score(ck_fused, x)


def test_the_real_hub_id_resolves_offline_to_the_cached_snapshot(ck, hub_cache):
    tiny_models.install_in_hub_cache(ck, hub_cache, clap.DEFAULT_CHECKPOINT, "c" * 40)
    from_hub = clap_score.fn(Audio(tone(440, 1.0), RATE), text="piano", device="cpu", ctx=Context("clap"))
    assert from_hub == score(ck, tone(440, 1.0), text="piano")


def test_missing_checkpoint_is_one_line_naming_the_pull_command(hub_cache):
    g = Graph()
    src = g.add("io.load", id="load", path="nowhere.wav")
    s = g.add("models.clap_score", id="clap", text="piano")
    g.connect(src.out, s.audio)
    problems = [p for p in g.problems() if "clap" in p and "checkpoint" in p]
    assert len(problems) == 1 and "\n" not in problems[0]
    assert "`audiochain models pull laion/clap-htsat-unfused`" in problems[0]
    with pytest.raises(CheckpointError, match="audiochain models pull laion/clap-htsat-unfused"):
        clap_score.fn(Audio(tone(440, 1.0), RATE), text="piano", ctx=Context("clap"))


def test_a_checkpoint_of_another_model_is_refused_by_name(tmp_path):
    folder = tmp_path / "not-clap"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "musicgen"}))
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(ParameterError, match="'musicgen' model; models.clap_score needs a 'clap' checkpoint"):
        score(folder, tone(440, 1.0))


# ---------------------------------------------------------------------------------------- tune with CLAP
@pytest.fixture(scope="module")
def tiny_musicgen(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mg") / "musicgen-short"
    model, tok = tiny_models.musicgen(window=tiny_models.SHORT_WINDOW)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_tune_a_tiny_musicgen_graph_with_clap_is_deterministic_and_rows_rerun(ck, tiny_musicgen, tmp_path, capsys):
    """prompt template -> tiny MusicGen (0.3 s) -> export, scored by the tiny CLAP against a text and a
    reference clip: template slots and the model's seed are explored, the ranking repeats, a row reruns."""
    import soundfile as sf

    from nodeflow import save
    from nodeflow.cli import main
    g = Graph()
    p = g.add("text.prompt_template", id="prompt", template="{genre} with {instrument}")
    m = g.add("models.musicgen", id="music", checkpoint=str(tiny_musicgen), duration_s=0.3, device="cpu")
    e = g.add("io.export", id="export", path="take.wav", bit_depth="float32")
    g.connect(p.out, m.text)
    g.connect(m.out, e.audio)
    path = save(g, tmp_path / "g.msgpack")
    ref = write_clip(tmp_path / "ref.wav", tone(440, 1.0, 44100, 2), 44100)
    runs = []
    for out in ("a", "b"):
        assert main(["tune", str(path), "--target", "a warm lo-fi piano loop", "--reference", str(ref), "--budget", "5",
                     "--population", "3", "--scorer-set", f"checkpoint={ck}", "--device", "cpu", "-q", "--no-cache",
                     "-o", str(tmp_path / out)]) == 0
        runs.append(json.loads((tmp_path / out / "manifest.json").read_text()))
    capsys.readouterr()
    a, b = runs
    assert [(r["index"], r["params"], r["score"]) for r in a["variants"]] == \
        [(r["index"], r["params"], r["score"]) for r in b["variants"]]
    assert {d["param"] for d in a["space"]} == {"prompt.genre", "prompt.instrument", "music.seed"}
    best = a["variants"][0]
    threads = {r["torch_threads"] for r in a["variants"]}      # one count for every candidate, which a rerun takes
    assert len(threads) == 1 and isinstance(threads.pop(), int)
    assert best["score"] == pytest.approx((best["scores"]["text_score"] + best["scores"]["reference_score"]) / 2)
    assert best["prompt"] == f"{best['params']['prompt.genre']} with {best['params']['prompt.instrument']}"
    assert main(["rerun", str(tmp_path / "a" / "manifest.json"), str(best["index"]), "-o", str(tmp_path / "again"),
                 "--device", "cpu"]) == 0
    np.testing.assert_array_equal(sf.read(tmp_path / "again" / best["name"] / "take.wav")[0],
                                  sf.read(tmp_path / "a" / best["outputs"][0])[0])


# ---------------------------------------------------------------------------------------- search a folder
def test_searching_a_folder_ranks_deterministically_and_reuses_the_index(ck, tmp_path, monkeypatch):
    """models.clap_search: the same folder and text give the same order (score, then path); a second
    search, even in a fresh executor with nothing in the value cache, embeds only new content."""
    from nodeflow import Executor
    lib = tmp_path / "samples"
    for i, (freq, rate, ch) in enumerate([(220, 44100, 2), (440, 48000, 1), (880, 22050, 1), (330, 32000, 2)]):
        write_clip(lib / ("sub" if i % 2 else "") / f"clip{i}.wav", tone(freq, 1.5, rate, ch, seed=i), rate)
    (lib / "notes.txt").write_text("not audio")
    embedded: list[str] = []
    real = clap.audio_embedding

    def counting(loaded, audio, ctx=None, *, what="audio"):
        embedded.append(what)
        return real(loaded, audio, ctx, what=what)

    import nodes.models.clap_search as search
    monkeypatch.setattr(search, "audio_embedding", counting)

    def run():
        g = Graph()
        g.add("models.clap_search", id="find", folder=str(lib), text="a warm lo-fi piano loop", top_k=3,
              checkpoint=str(ck), device="cpu")
        return Executor(disk_cache=None).run(g)["find"]

    first = run()
    assert sorted(embedded) == ["clip0.wav", "clip1.wav", "clip2.wav", "clip3.wav"]
    lines = [line.split("\t") for line in first["ranking"].splitlines()]
    assert len(lines) == 3 and len(first["clips"]) == 3
    scores = [float(s) for s, _ in lines]
    assert scores == sorted(scores, reverse=True)
    assert [dict(c.info)["path"] for c in first["clips"]] == [p for _, p in lines]
    embedded.clear()
    again = run()
    assert embedded == [] and again["ranking"] == first["ranking"]             # the index answered
    (lib / "sub" / "clip1.wav").rename(lib / "moved.wav")                       # same content, new place
    write_clip(lib / "new.wav", tone(660, 1.0, 48000, 1, seed=9), 48000)
    run()
    assert embedded == ["new.wav"]


def test_a_search_finds_files_added_to_its_folder_through_the_value_cache(ck, tmp_path):
    """QA (high): with the value cache on, a search after files were added served the ranking made
    before them (the folder counted by its path); its key now covers the folder's listing."""
    from nodeflow import Executor
    from nodeflow.diskcache import DiskCache
    lib = tmp_path / "samples"
    for i, freq in enumerate((220, 440, 880)):
        write_clip(lib / f"clip{i}.wav", tone(freq, 1.0, 32000, 1, seed=i), 32000)

    def run():
        g = Graph()
        g.add("models.clap_search", id="find", folder=str(lib), text="a sine tone", top_k=10,
              checkpoint=str(ck), device="cpu")
        res = Executor(disk_cache=DiskCache(tmp_path / "values")).run(g)
        return sorted(p for _, p in (line.split("\t") for line in res["find"]["ranking"].splitlines())), res.cached

    assert run() == (["clip0.wav", "clip1.wav", "clip2.wav"], set())
    assert run() == (["clip0.wav", "clip1.wav", "clip2.wav"], {"find"})
    write_clip(lib / "clip_new.wav", tone(660, 1.0, 32000, 1, seed=7), 32000)
    assert run() == (["clip0.wav", "clip1.wav", "clip2.wav", "clip_new.wav"], set())


def test_searching_needs_something_to_search_for_and_audio_files(ck, tmp_path):
    from nodes.models.clap_search import clap_search
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParameterError, match="no audio files under"):
        clap_search.fn(folder=str(tmp_path / "empty"), text="x", checkpoint=str(ck), device="cpu", ctx=Context("s"))
    with pytest.raises(ParameterError, match="nothing to search for"):
        clap_search.fn(folder=str(tmp_path / "empty"), checkpoint=str(ck), ctx=Context("s"))


def test_two_families_loading_at_once_both_load_whole(ck, tmp_path, monkeypatch):
    """QA (high): a graph with a CLAP score and a MusicGen branch failed 3 of 3 runs ("module
    'transformers' has no attribute 'AutoTokenizer'", "Cannot copy out of meta tensor"): transformers'
    loading is not thread-safe across models.  The layer loads one at a time; both come whole."""
    from nodeflow import modelcache
    from nodes.models.musicgen import MUSICGEN
    gen_ck = tiny_models.build_all(tmp_path / "tiny")["musicgen_short"]
    for attempt in range(3):
        monkeypatch.setattr(modelcache, "_default", modelcache.ModelCache())     # each attempt loads afresh
        got, errors = {}, []

        def load(name, family, checkpoint):
            try:
                with family.using(str(checkpoint), Context(name, device="cpu"), "cpu") as loaded:
                    got[name] = [n for n, p in loaded.model.named_parameters() if p.is_meta]
            except Exception as e:  # noqa: BLE001 - the test reports it
                errors.append(f"{name}: {type(e).__name__}: {e}")
        threads = [threading.Thread(target=load, args=("clap", clap.CLAP, ck)),
                   threading.Thread(target=load, args=("gen", MUSICGEN, gen_ck))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == [] and got == {"clap": [], "gen": []}, (attempt, errors, got)


def test_one_damaged_or_empty_file_in_a_library_stops_no_search(ck, tmp_path):
    """QA57, QA60: one empty or damaged .wav anywhere in the folder failed the whole search (after every
    other file was embedded).  The search ranks what it can read and says which it could not."""
    from nodeflow import Executor
    from nodeflow.errors import ExecutionError
    lib = tmp_path / "samples"
    for i, freq in enumerate((220, 440)):
        write_clip(lib / f"clip{i}.wav", tone(freq, 1.0, 32000, 1, seed=i), 32000)
    (lib / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    (lib / "empty.wav").write_bytes(b"")

    def run(folder):
        g = Graph()
        g.add("models.clap_search", id="find", folder=str(folder), text="a sine tone", top_k=10,
              checkpoint=str(ck), device="cpu")
        return Executor(disk_cache=None).run(g)

    res = run(lib)
    assert sorted(line.split("\t")[1] for line in res["find"]["ranking"].splitlines()) == ["clip0.wav", "clip1.wav"]
    (said,) = [w for w in res.warnings["find"] if "could not be read" in str(w)]
    assert "2 of 4 audio files" in str(said) and "broken.wav" in str(said) and "empty.wav" in str(said)
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "empty.wav").write_bytes(b"")
    with pytest.raises(ExecutionError, match=r"1 of 1 audio files under .* could not be read .*; put readable"):
        run(only_bad)


def test_a_description_longer_than_the_model_reads_is_said_where_it_is_cut(ck, tmp_path):
    """QA57 D5: the end of a long description changed nothing, and nothing said so."""
    f = write_clip(tmp_path / "clip.wav", tone(440, 1.0), RATE)
    head = "warm piano and soft drums " * 6                    # 156 characters: a byte-level token each
    g = Graph()
    g.add("io.load", id="load", path=str(f))
    g.add("models.clap_score", id="clap", checkpoint=str(ck), text=head + "then a techno drop", device="cpu")
    g.connect("load.out", "clap.audio")
    res = Executor(disk_cache=None).run(g)
    said = res.warnings["clap"]
    assert len(said) == 1 and "176 tokens" in said[0] and "reads 128" in said[0], res.warnings
    assert "drums warm piano and" in said[0] and "shorten" in said[0]
    g.set("clap", "text", head + "then a string quartet")
    assert Executor(disk_cache=None).run(g)["clap"]["score"] == res["clap"]["score"]     # cut there indeed
    g.set("clap", "text", "then a techno drop")
    assert not Executor(disk_cache=None).run(g).warnings


def test_the_search_index_lives_in_the_cache_folder_chosen(ck, tmp_path, monkeypatch):
    """QA57 D7: with AUDIOCHAIN_CACHE_DIR=<dir> the index was written to <dir>/../clap-index, outside
    the folder the user gave; it is kept inside it now, beside the value cache's entries, which it
    does not disturb (the cache counts and clears its own entries)."""
    from nodeflow import Executor
    from nodeflow.diskcache import DiskCache
    lib, cache = tmp_path / "samples", tmp_path / "my-cache"
    write_clip(lib / "a.wav", tone(220, 1.0), RATE)
    write_clip(lib / "b.wav", tone(440, 1.0), RATE)
    monkeypatch.setenv("AUDIOCHAIN_CACHE_DIR", str(cache))
    monkeypatch.delenv("AUDIOCHAIN_CACHE", raising=False)
    g = Graph()
    g.add("models.clap_search", id="find", folder=str(lib), text="piano", top_k=2, checkpoint=str(ck), device="cpu")
    Executor().run(g)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-cache", "samples"]
    index = list((cache / "clap-index").rglob("*.npy"))
    assert len(index) == 2
    store = DiskCache(cache)
    assert all(p.parent.parent == cache and len(p.parent.name) == 2 for _, _, p in store.entries())
    store.clear()
    assert list((cache / "clap-index").rglob("*.npy")) == index


def test_validate_refuses_a_score_with_nothing_to_compare_with_as_run_does(ck, tmp_path):
    """QA61: validate said ok for clap_score with empty text and no reference; run refused."""
    f = write_clip(tmp_path / "clip.wav", tone(440, 1.0), RATE)
    g = Graph()
    g.add("io.load", id="load", path=str(f))
    g.add("models.clap_score", id="clap", checkpoint=str(ck), text=" ", device="cpu")
    g.connect("load.out", "clap.audio")
    assert any("nothing to compare with" in p for p in g.problems()), g.problems()
    g.connect("load.out", "clap.reference")
    assert not [p for p in g.problems() if "nothing to compare" in p]


def test_a_search_graph_packs_its_library_and_runs_from_the_bundle_elsewhere(ck, tmp_path, monkeypatch, capsys):
    """QA61: pack refused every clap_search graph ("holds no safetensors adapter" about the library).
    The library's audio files travel (documents and links left out); the checkpoint does not (model
    weights), and a run without it beside the bundle says so, naming that folder, not a temp one."""
    import shutil
    import zipfile

    from nodeflow.cli import main
    from nodeflow.fileformat import save
    lib = tmp_path / "proj" / "lib"
    write_clip(lib / "a.wav", tone(220, 1.0), RATE)
    write_clip(lib / "sub" / "b.wav", tone(880, 1.0), RATE)
    (lib / "notes.txt").write_text("my private notes")
    shutil.copytree(ck, tmp_path / "proj" / "clapck")
    g = Graph()
    g.path = tmp_path / "proj" / "g.msgpack"
    g.add("models.clap_search", id="search", folder="lib", text="piano", top_k=2, checkpoint="clapck", device="cpu")
    g.add("io.export", id="exp", path="match.wav")
    g.connect("search.clips", "exp.audio")
    save(g, tmp_path / "proj" / "g.msgpack")
    (tmp_path / "share").mkdir()
    assert main(["pack", str(tmp_path / "proj" / "g.msgpack"), "-o", str(tmp_path / "proj" / "search.acbundle")]) == 0
    bundle = tmp_path / "share" / "search.acbundle"             # sent on its own, as bundles are
    shutil.copy(tmp_path / "proj" / "search.acbundle", bundle)
    names = zipfile.ZipFile(bundle).namelist()
    assert "files/lib/a.wav" in names and "files/lib/sub/b.wav" in names and not any("notes" in n for n in names)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["run", str(bundle), "-o", str(tmp_path / "o1")]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "share" / "clapck") in err and "audiochain-bundle" not in err, err
    shutil.copytree(ck, tmp_path / "share" / "clapck")            # the model beside the bundle: it runs
    assert main(["run", str(bundle), "-o", str(tmp_path / "o2")]) == 0
    assert sorted(p.name for p in (tmp_path / "o2").glob("match_*.wav")) == ["match_1.wav", "match_2.wav"]
