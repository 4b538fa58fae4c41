"""The example graphs in graphs/: each is what build.py makes, validates, names the checkpoints it
needs, and runs: the offline ones as they are, the model ones on tiny checkpoints of the same
architectures (their checkpoint parameters overridden, the way `audiochain run --set` would)."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodeflow import Executor, audiometa, fileformat
from nodeflow.cli import apply_sets

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "graphs"
sys.path.insert(0, str(ROOT / "graphs"))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

import build  # noqa: E402  (graphs/build.py)

# graph -> checkpoints it needs pulled once (none: runs offline on any machine)
NEEDS = {"demo.msgpack": [], "speech_offline.msgpack": [], "longform.msgpack": ["facebook/musicgen-small"],
         "melody_variations.msgpack": ["facebook/musicgen-melody"], "bark_vocals.msgpack": ["suno/bark-small"],
         "stems.msgpack": ["adefossez/HTDemucs"],
         "speech_languages.msgpack": ["facebook/mms-tts-deu", "facebook/mms-tts-fra"],
         "transcribe_and_speak.msgpack": ["openai/whisper-small", "facebook/mms-tts-eng"],
         "codec_tokens.msgpack": ["facebook/encodec_24khz"], "dac_tokens.msgpack": ["descript/dac_44khz"],
         "text_to_audio.msgpack": ["stabilityai/stable-audio-open-1.0"]}


def test_every_graph_file_is_listed_and_built_from_code():
    assert sorted(p.name for p in GRAPHS.glob("*.msgpack")) == sorted(NEEDS) == sorted(build.GRAPHS)
    for name, make in build.GRAPHS.items():
        saved = fileformat.load(GRAPHS / name)
        assert saved == make(), f"graphs/{name} is stale: run python graphs/build.py"
        # byte for byte too: a file saved by older node versions loads equal (migrated), yet is stale (QA73 D5)
        assert (GRAPHS / name).read_bytes() == fileformat.dumps(make(), GRAPHS), \
            f"graphs/{name} was saved by older node versions: run python graphs/build.py"
        assert saved.metadata["title"] and saved.metadata["description"]


def test_graph_files_in_the_repository_carry_no_local_path():
    """Shared graphs name their inputs relative to their folder and keep no sender's paths (an old
    save recorded ``saved_by.inputs`` as /work/main/assets/...: where the author's checkout was)."""
    import ntpath

    import msgpack

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from strings(k)
                yield from strings(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from strings(v)

    for path in sorted(GRAPHS.glob("*.msgpack")):
        doc = msgpack.unpackb(path.read_bytes(), raw=False)
        local = [s for s in strings(doc) if s.startswith(("/", "~")) or ntpath.isabs(s)]
        assert local == [], f"graphs/{path.name} holds local paths: {local}; run python graphs/build.py"


def _demo_command() -> list[str]:
    """The audiochain command line of the Makefile's `demo` target (`audiochain run graphs/demo.msgpack -o out`)."""
    recipe = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].splitlines()[1:]
    line = next(line.strip() for line in recipe if "/bin/audiochain " in line)
    return line.split("/bin/audiochain ", 1)[1].split()


def test_make_demo_renders_offline_without_a_notice_of_reads_outside_its_folder(tmp_path):
    """D10: the demo a newcomer runs first read ../assets/melody.flac, outside graphs/, and `make demo`
    greeted them with 'reads outside its folder: ...', the notice meant for a stranger's graph.  The
    examples' inputs are now in their own folder (graphs/assets/), so the demo renders (headless,
    offline) and says nothing of the kind."""
    args = _demo_command()
    assert args[:2] == ["run", "graphs/demo.msgpack"] and args[2:] == ["-o", "out"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "AUDIOCHAIN_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("DISPLAY", None)
    p = subprocess.run([sys.executable, "-m", "nodeflow.cli", *args[:2], "-o", str(tmp_path / "out")], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "outside" not in p.stdout + p.stderr, p.stderr
    import soundfile as sf
    assert sf.info(str(tmp_path / "out" / "demo.wav")).duration == pytest.approx(14.0, abs=1e-3)


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_every_example_reads_only_files_in_its_own_folder(name):
    """The shipped examples are self-contained (D10): neither `validate` nor `run` lists a read outside
    their folder, so the notice keeps its meaning for graphs from elsewhere."""
    g = fileformat.load(GRAPHS / name)
    assert g.external_reads() == []
    assert all(GRAPHS in p.resolve().parents for p in g.input_files().values())
    from nodeflow.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["validate", str(GRAPHS / name)])
    assert "outside" not in out.getvalue(), out.getvalue()


def test_a_strangers_graph_that_reads_outside_its_folder_is_still_flagged(tmp_path):
    """The other side of D10: the demo as a stranger might send it, reading ../assets/melody.flac from
    the folder it was saved in, is listed by validate and by run (stderr, with -q too)."""
    (tmp_path / "assets").mkdir()
    shutil.copy(GRAPHS / "assets" / "melody.flac", tmp_path / "assets" / "melody.flac")
    g = fileformat.load(GRAPHS / "demo.msgpack")
    g.set("melody", "path", str(tmp_path / "assets" / "melody.flac"))
    (tmp_path / "inbox").mkdir()
    graph_file = fileformat.save(g, tmp_path / "inbox" / "demo.msgpack")
    assert fileformat.load(graph_file).nodes["melody"].params["path"] == "../assets/melody.flac"    # as sent
    notice = f"reads outside its folder: melody.path -> {(tmp_path / 'assets' / 'melody.flac').resolve()}"
    from nodeflow.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["validate", str(graph_file)]) == 0
    assert notice in out.getvalue().splitlines()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", str(graph_file), "-q", "--no-cache", "-o", str(tmp_path / "out")]) == 0
    assert notice in err.getvalue().splitlines()


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_every_graph_validates(name, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)          # online: checkpoints download when run
    g = fileformat.load(GRAPHS / name)
    assert g.problems() == []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")                     # offline: each missing checkpoint, by name
    problems = g.problems()
    assert all("audiochain models pull" in p for p in problems)     # every family's checkpoints, one command
    assert {ck for ck in NEEDS[name] if any(f"audiochain models pull {ck}`" in p for p in problems)} == set(NEEDS[name])
    assert g.metadata.get("checkpoints", []) == NEEDS[name] or name == "demo.msgpack"


@pytest.mark.parametrize("name,seconds", [("speech_offline.msgpack", 3.0), ("demo.msgpack", 13.9)])
def test_offline_graphs_render(name, seconds, tmp_path):
    g = fileformat.load(GRAPHS / name)
    res = Executor().run(g, output_dir=tmp_path)
    written = Path(res["export"]["out"])
    assert written.parent == tmp_path
    import soundfile as sf
    assert sf.info(str(written)).duration > seconds


def test_the_demo_is_what_its_description_says(tmp_path):
    g = fileformat.load(GRAPHS / "demo.msgpack")
    res = Executor().run(g, output_dir=tmp_path, keep=["bars"])
    desc = g.metadata["description"]
    windows = res["bars"]["out"]
    assert "four 1-bar windows" in desc and len(windows) == 4
    assert [w.start_frame for w in windows] == [0, 64000, 128000, 192000]      # 2 s bars at 32 kHz
    import soundfile as sf
    # every step of the pattern is taken; the variations keep the melody's 8 s: 8 + 8 - a 2 s (1-bar) crossfade
    assert "a 14 s piece" in desc and sf.info(res["export"]["out"]).duration == pytest.approx(14.0, abs=1e-3)
    from nodeflow.audiometa import read_metadata
    meta = read_metadata(res["export"]["out"])
    assert (meta.title, meta.artist, meta.bpm, meta.meter) == (g.metadata["title"], "AudioChain demo", 120.0, "4/4")
    assert list(meta.markers) == [(k * 64000, f"bar {k + 1}") for k in (4, 5, 6)]   # seams on bars 5-7 of the piece


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import tiny_models
    built = tiny_models.build_all(tmp_path_factory.mktemp("tiny"), ("musicgen_short", "musicgen_melody_short", "bark"))
    if importlib.util.find_spec("demucs") is not None:
        import tiny_demucs
        built["demucs"] = tiny_demucs.build(tmp_path_factory.mktemp("tiny") / "demucs")
    import tiny_mms
    built["mms"] = tiny_mms.build(tmp_path_factory.mktemp("tiny") / "mms")
    import tiny_whisper
    built["whisper"] = tiny_whisper.build(tmp_path_factory.mktemp("tiny") / "whisper")
    import tiny_encodec
    built["encodec"] = tiny_encodec.build(tmp_path_factory.mktemp("tiny") / "encodec")
    import tiny_dac
    built["dac"] = tiny_dac.build(tmp_path_factory.mktemp("tiny") / "dac")
    if importlib.util.find_spec("diffusers") is not None and importlib.util.find_spec("torchsde") is not None:
        import tiny_stable_audio
        built["stable_audio"] = tiny_stable_audio.build(tmp_path_factory.mktemp("tiny") / "stable_audio")
    return built


MODEL_RUNS = {
    "longform.msgpack": ("musicgen_short", ["music.duration_s=2.6", "music.extend_stride_s=0.5",
                                            "fade.fade_out_s=0.5"], 2.6),
    "melody_variations.msgpack": ("musicgen_melody_short", ["jazz.duration_s=1.2", "strings.duration_s=1.2",
                                                            "jazz.extend_stride_s=0.5", "strings.extend_stride_s=0.5",
                                                            "join.duration_s=0.4"], 2.0),
    "bark_vocals.msgpack": ("bark", ["vocals.voice=v2/en_speaker_0", "vocals.max_sentence_s=0.3"], 1.0),
    "stems.msgpack": ("demucs", [], 4.0),
    "speech_languages.msgpack": ("mms", ["german.pause_s=0.1"], 1.0),
    # a graph of two families: the tiny checkpoint of each model node by node id (the export's audio from the last)
    "transcribe_and_speak.msgpack": ({"asr": "whisper", "speak": "mms"}, [], 0.5),
    "codec_tokens.msgpack": ("encodec", [], 3.0),
    "dac_tokens.msgpack": ("dac", [], 3.0),
    # the tiny model's window is 46 ms: 0.45 s (the export's loudness needs 0.4 s) is 13 chained windows
    "text_to_audio.msgpack": ("stable_audio", ["sound.duration_s=0.45", "sound.extend_stride_s=0.035", "sound.steps=3",
                                               "fade.fade_in_s=0.01", "fade.fade_out_s=0.05"], 0.45),
}


@pytest.mark.parametrize("name", sorted(MODEL_RUNS))
def test_model_graphs_run_on_tiny_checkpoints(name, tiny_checkpoints, tmp_path):
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # tiny models: one thread is fastest on a shared machine
    try:
        tinies, sets, seconds = MODEL_RUNS[name]
        g = fileformat.load(GRAPHS / name)
        model_nodes = [n for n, inst in g.nodes.items() if inst.type.startswith("models.")]
        by_node = tinies if isinstance(tinies, dict) else {n: tinies for n in model_nodes}
        tiny = list(by_node.values())[-1]
        if any(t not in tiny_checkpoints for t in by_node.values()):
            pytest.skip(f"{tiny} needs its extra installed")
        apply_sets(g, sets + [f"{n}.checkpoint={tiny_checkpoints[by_node[n]]}" for n in model_nodes])
        res = Executor().run(g, output_dir=tmp_path, device="cpu")
    finally:
        torch.set_num_threads(threads)
    out = Path(res["export"]["out"])
    import soundfile as sf
    assert sf.info(str(out)).duration >= seconds
    tags = audiometa.read_tags(out)        # a local checkpoint by folder name and content digest, never its path
    assert tags["checkpoint"] == tiny_checkpoints[tiny].name and tags["revision"].startswith("local-")
    assert str(tmp_path.parent).encode() not in out.read_bytes()
