"""Adding a model family is one module plus its tiny test checkpoint (issue 13's "done when").

The module is the README's "Add a model" example, taken from the README verbatim and installed as
a plug-in package in a temporary folder (the module and a ``.dist-info`` whose ``entry_points.txt``
names it in the ``audiochain.nodes`` group, found on ``sys.path``/``PYTHONPATH`` like any installed
distribution).  It declares the family with the public layer only (:mod:`nodes.models.layer`) and
runs on a tiny random-weight ``VitsModel`` saved to disk: through ``audiochain run`` (a subprocess),
the editor's preflight (``Graph.problems``), a bundle (``audiochain pack``, its LoRA adapter inside,
then ``audiochain run`` on the bundle) and ``audiochain models info``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import tiny_vits
from nodeflow import families
from nodeflow.audio import Audio
from nodeflow.errors import Cancelled, ParameterError
from nodeflow.fileformat import save
from nodeflow.graph import Graph
from nodeflow.node import Context
from nodeflow.registry import Registry

ROOT = Path(__file__).resolve().parents[3]
HOP = 256            # the tiny VITS's HiFi-GAN upsampling, 8 * 8 * 2 * 2, as in the real MMS-TTS


def plugin_source() -> str:
    """The README's plug-in module (the python snippet that starts with ``# acme_speech.py``)."""
    snippets = re.findall(r"```python\n(# acme_speech\.py.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(snippets) == 1, "the README's 'Add a model' section lost its acme_speech.py example"
    return snippets[0]


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    """A folder holding the plug-in as an installed distribution: ``acme_speech.py`` and its dist-info."""
    site = tmp_path_factory.mktemp("site")
    (site / "acme_speech.py").write_text(plugin_source(), encoding="utf-8")
    dist = site / "acme_speech-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-speech\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[audiochain.nodes]\nacme = acme_speech\n", encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def vits(tmp_path_factory) -> Path:
    return tiny_vits.build(tmp_path_factory.mktemp("tiny-vits"))


@pytest.fixture(scope="module")
def adapter(vits, tmp_path_factory) -> Path:
    return tiny_vits.lora_adapter(vits, tmp_path_factory.mktemp("adapter") / "acme-lora")


@pytest.fixture()
def registry(plugin, monkeypatch) -> Registry:
    """A registry with the built-in pack and the installed plug-in packs (entry points), as the CLI loads them."""
    monkeypatch.syspath_prepend(str(plugin))
    reg = Registry()
    reg.load_pack("builtin", "nodes")
    reg.load_entry_points()
    yield reg
    sys.modules.pop("acme_speech", None)
    families.unregister("acme_speech")


def run_cli(args: list[str], cwd: Path, plugin: Path | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUDIOCHAIN_TORCH_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(str(p) for p in ([plugin] if plugin else []) + [ROOT])}
    code = "import sys; from nodeflow.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def speak(registry, vits, tmp_path, **params):
    spec = registry["acme.speak"]
    events: list[tuple] = []
    ctx = Context("speak", base_dir=tmp_path, emit=lambda kind, nid, **kw: events.append((kind, kw)))
    return spec.fn(checkpoint=str(vits), prompt="hello there", device="cpu", ctx=ctx, **params), events


# ---------------------------------------------------------------------------------------- in process
def test_the_plugin_registers_its_node_and_its_family(registry):
    assert registry.packs.get("acme") == "0.1" and not registry.failed_packs
    spec = registry["acme.speak"]
    fam = families.get("acme_speech")
    assert spec.pack == "acme" and fam.model_types == ("vits",)
    assert spec.preflight == fam.preflight and spec.fingerprint == fam.fingerprint
    assert spec.params["adapter"].path is not None        # a file parameter: bundles pack it
    assert "nodes.models.layer" in plugin_source() and "_hf" not in plugin_source()


def test_a_checkpoint_whose_config_leaves_out_a_default_runs_as_the_built_in_family_runs_it(registry, vits,
                                                                                          tmp_path):
    """QA93 D2: the README's time_base read config["upsample_rates"], so a VITS config.json without it
    (transformers fills in [8, 8, 2, 2]) failed after the model loaded, where models.mms_tts ran it."""
    import json
    import shutil
    folder = Path(shutil.copytree(vits, tmp_path / "no-upsample"))
    config = json.loads((folder / "config.json").read_text())
    assert config.pop("upsample_rates") == [8, 8, 2, 2]
    (folder / "config.json").write_text(json.dumps(config))
    out, _ = speak(registry, folder, tmp_path, seed=3)
    ref, _ = speak(registry, vits, tmp_path, seed=3)
    assert out.sample_rate == 16000 and np.array_equal(out.samples, ref.samples)


def test_it_runs_seeded_on_the_device_and_precision_asked_for_through_the_model_cache(registry, vits, tmp_path,
                                                                                     fresh_model_cache):
    a, events = speak(registry, vits, tmp_path, seed=3)
    b, _ = speak(registry, vits, tmp_path, seed=3)
    c, _ = speak(registry, vits, tmp_path, seed=4)
    assert a.sample_rate == 16000 and a.channels == 1 and a.frames % HOP == 0 and a.frames > 0
    assert np.array_equal(a.samples, b.samples) and not np.array_equal(a.samples, c.samples)
    assert dict(a.info)["checkpoint"] == vits.name          # a local folder by its name, never its path
    assert [e[1]["done"] for e in events if e[0] == "progress"] == [0, 1]
    half, _ = speak(registry, vits, tmp_path, seed=3, precision="bfloat16")
    assert half.frames == a.frames and np.abs(half.samples - a.samples).max() > 0
    kinds = sorted((k.kind, k.device, k.dtype) for k in fresh_model_cache.keys())
    assert kinds == [("acme_speech", "cpu", "bfloat16"), ("acme_speech", "cpu", "float32")]
    assert fresh_model_cache.loads() == 2                 # four runs, two loads: one per precision


def test_a_cancelled_run_stops_before_the_model_runs(registry, vits, tmp_path):
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        registry["acme.speak"].fn(checkpoint=str(vits), device="cpu", ctx=Context("speak", cancel_event=stop))


def test_an_adapter_changes_the_voice_and_is_its_own_cache_entry(registry, vits, adapter, tmp_path,
                                                                 fresh_model_cache):
    base, _ = speak(registry, vits, tmp_path, seed=3)
    tuned, _ = speak(registry, vits, tmp_path, seed=3, adapter=str(adapter))
    again, _ = speak(registry, vits, tmp_path, seed=3, adapter=str(adapter))
    assert np.array_equal(tuned.samples, again.samples)
    assert tuned.frames != base.frames or not np.array_equal(tuned.samples, base.samples)
    assert sorted(k.kind for k in fresh_model_cache.keys()) == ["acme_speech", "acme_speech+lora"]


def test_the_editors_preflight_marks_what_the_machine_lacks(registry, vits, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    other = tmp_path / "other"             # a checkpoint of another model type
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bark"}))
    shutil.copy(vits / "model.safetensors", other / "model.safetensors")
    g = Graph(registry=registry)
    g.path = tmp_path / "speak.msgpack"
    g.add("acme.speak", id="ok", checkpoint=str(vits))
    g.add("acme.speak", id="hub", checkpoint="acme/missing-tts")
    g.add("acme.speak", id="wrong", checkpoint=str(other))
    g.add("acme.speak", id="gone", checkpoint="no-such-folder/")
    marks = {p.split("'")[1]: p for p in g.problems()}
    assert sorted(marks) == ["gone", "hub", "wrong"]
    assert "`audiochain models pull acme/missing-tts`" in marks["hub"]
    assert marks["wrong"].endswith("is a 'bark' model; this node needs a 'vits' checkpoint")
    assert "no-such-folder/" in marks["gone"] and "no folder" in marks["gone"]
    with pytest.raises(ParameterError, match=f"checkpoint '{other}' is a 'bark' model; this node needs a 'vits'"):
        registry["acme.speak"].fn(checkpoint=str(other), device="cpu", ctx=Context("speak", base_dir=tmp_path))


def test_a_misspelt_model_class_is_named_by_validate_and_the_run(registry, vits, tmp_path):
    """QA68 D9: a family whose ``model_class`` is misspelt registered and validated, and the run failed
    inside the layer with "AttributeError: module transformers has no attribute VitsModle"."""
    from nodes.models import layer
    fam = layer.register(layer.Family("acme_typo", model_types=("vits",), model_class="VitsModle",
                                      processor="VitsTokenizer"))
    try:
        @fam.node("acme.typo", category="models", version=1)
        def typo(*, checkpoint: str = "", ctx: Context) -> Audio:
            """Load the model."""
            with fam.using(checkpoint, ctx, "cpu"):
                pass
            return Audio(np.zeros((1, 16000), np.float32), 16000)
        registry.add(typo)
        g = Graph(registry=registry)
        g.add("acme.typo", id="typo", checkpoint=str(vits))
        said = "model family 'acme_typo': model_class='VitsModle' cannot be loaded: transformers has no class " \
               "'VitsModle' (did you mean 'VitsModel'"
        assert any(said in p and "'typo'" in p for p in g.problems()), g.problems()
        with pytest.raises(ParameterError, match=re.escape(said)):
            typo.fn(checkpoint=str(vits), ctx=Context("typo", base_dir=tmp_path))
    finally:
        families.unregister("acme_typo")


# ---------------------------------------------------------------------------------------- the CLI and a bundle
def test_the_cli_runs_it_bundles_it_and_describes_its_checkpoint(registry, plugin, vits, adapter, tmp_path):
    g = Graph(registry=registry)
    g.path = tmp_path / "speak.msgpack"
    g.add("acme.speak", id="speak", checkpoint=str(vits), prompt="a plug-in speaks", seed=7, device="cpu",
          adapter=str(adapter))
    g.add("io.export", id="export", path="speech.wav", bit_depth="float32")
    g.connect("speak", "export")
    save(g, g.path)

    p = run_cli(["run", str(g.path), "-o", str(tmp_path / "out")], tmp_path, plugin)
    assert p.returncode == 0, p.stderr
    first, rate = sf.read(tmp_path / "out" / "speech.wav", dtype="float32")
    assert rate == 16000 and first.size % HOP == 0 and first.size > 0

    p = run_cli(["pack", str(g.path), "-o", str(tmp_path / "speak.acbundle"), "--include-outside"], tmp_path, plugin)
    assert p.returncode == 0, p.stderr
    import zipfile
    names = zipfile.ZipFile(tmp_path / "speak.acbundle").namelist()
    assert "files/acme-lora/adapter_model.safetensors" in names      # the plug-in's adapter travels
    p = run_cli(["run", str(tmp_path / "speak.acbundle"), "-o", str(tmp_path / "from-bundle")], tmp_path, plugin)
    assert p.returncode == 0, p.stderr
    again, _ = sf.read(tmp_path / "from-bundle" / "speech.wav", dtype="float32")
    assert np.array_equal(first, again)

    p = run_cli(["models", "info", str(vits), "--json"], tmp_path, plugin)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    # the built-in family registered first describes it, and says the plug-in's runs it too (QA57 D9:
    # the plug-in's took it over, with its own time base, and nothing said two families claim 'vits')
    assert (info["family"], info["also_run_by"], info["model_type"]) == ("mms_tts", ["acme_speech"], "vits")
    p = run_cli(["models", "info", str(vits)], tmp_path, plugin)
    assert p.returncode == 0 and "also run by  acme_speech" in p.stdout, p.stdout

    p = run_cli(["run", str(g.path), "-o", str(tmp_path / "without")], tmp_path, None)    # plug-in not installed
    assert p.returncode != 0 and "acme.speak" in p.stderr and "Traceback" not in p.stderr
    # its Python package by the name pip knows, not the entry point's (QA98 D2: "pip install acme")
    assert "node pack 'acme' 0.1, which is not installed here; install it (pip install acme-speech) and open the " \
        "graph again" in p.stderr, p.stderr


# ---------------------------------------------------------------------------------------- its time base as a profile
def test_its_time_base_is_a_profile_of_resample_and_tokenize_window(registry):
    """The plug-in's nominal time base (16 kHz, 62.5 frames/s) is offered beside the built-in ones."""
    from nodeflow.audio import Audio
    for node_type in ("dsp.resample", "time.tokenize_window"):
        choices = registry[node_type].params["profile"].describe_range()
        assert "acme_speech" in choices and "musicgen" in choices and "custom" in choices, choices
    clip = Audio(np.zeros((1, 44100), np.float32), 44100)
    assert registry["dsp.resample"].fn(clip, profile="acme_speech").sample_rate == 16000
    wins = registry["time.tokenize_window"].fn(clip, profile="acme_speech", unit="tokens", size=25, overlap=5)
    # 25 tokens of 256 samples at 16 kHz = 0.4 s = 17640 samples at 44.1 kHz; a hop of 20 tokens = 14112
    assert [(w.start_frame, w.frames, w.tokens) for w in wins] == \
        [(0, 17640, 25), (14112, 17640, 25), (28224, 15876, 23)]


def _profile_graph(registry, tmp_path: Path) -> Path:
    """io.load -> dsp.resample(profile=acme_speech) -> export, and the same clip cut by
    time.tokenize_window(profile=acme_speech) and stitched back."""
    sf.write(tmp_path / "clip.wav", np.sin(np.arange(44100) / 20.0).astype(np.float32) * 0.5, 44100, subtype="FLOAT")
    g = Graph(registry=registry)
    g.path = tmp_path / "profiles.msgpack"
    g.add("io.load", id="clip", path="clip.wav")
    g.add("dsp.resample", id="rate", profile="acme_speech")
    g.add("io.export", id="resampled", path="resampled.wav", bit_depth="float32")
    g.add("time.tokenize_window", id="cut", profile="acme_speech", unit="model_window", overlap=0.0)
    g.add("time.stitch", id="join")
    g.add("io.export", id="stitched", path="stitched.wav", bit_depth="float32")
    for a, b in (("clip", "rate"), ("rate", "resampled"), ("clip", "cut"), ("cut", "join"), ("join", "stitched")):
        g.connect(a, b)
    save(g, g.path)
    return g.path


def test_the_cli_lists_validates_and_runs_the_plugins_profile(registry, plugin, tmp_path):
    p = run_cli(["nodes", "dsp.resample"], tmp_path, plugin)
    assert p.returncode == 0 and re.search(r"profile \(enum\) = 'custom'  one of .*acme_speech", p.stdout), p.stdout
    p = run_cli(["nodes", "time.tokenize_window"], tmp_path, plugin)
    assert p.returncode == 0 and "acme_speech" in p.stdout
    graph = _profile_graph(registry, tmp_path)
    p = run_cli(["run", str(graph), "-o", str(tmp_path / "out")], tmp_path, plugin)
    assert p.returncode == 0, p.stderr
    resampled, rate = sf.read(tmp_path / "out" / "resampled.wav", dtype="float32")
    assert (rate, resampled.shape[0]) == (16000, 16000)
    stitched, rate = sf.read(tmp_path / "out" / "stitched.wav", dtype="float32")
    assert (rate, stitched.shape[0]) == (44100, 44100)          # one 65.5 s model window holds the whole second

    p = run_cli(["nodes", "dsp.resample"], tmp_path, None)             # the plug-in not installed: not offered
    assert p.returncode == 0 and "acme_speech" not in p.stdout and "musicgen" in p.stdout
    p = run_cli(["run", str(graph), "-o", str(tmp_path / "without")], tmp_path, None)
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    lines = {line.split("'")[1]: line for line in p.stderr.splitlines() if line.strip().startswith("- node '")}
    assert sorted(lines) == ["cut", "rate"], p.stderr                  # one line per node naming the profile
    for node_id, node_type in (("rate", "dsp.resample"), ("cut", "time.tokenize_window")):
        line = lines[node_id]
        assert f"node '{node_id}' ({node_type}): profile='acme_speech': expected one of bark, musicgen" in line
        assert line.rstrip().endswith("install the node pack that does (`audiochain nodes` lists the packs), "
                                      "or use profile=custom with your model's rates"), line


def test_text_it_cannot_speak_is_one_line_from_validate_and_run(registry, plugin, vits, tmp_path):
    """QA57 D8: the README's pack, used as printed, failed on an empty prompt and on text with no
    letter of the checkpoint's vocabulary with torch's ``narrow(): length must be non-negative``."""
    g = Graph(registry=registry)
    g.path = tmp_path / "say.msgpack"
    g.add("acme.speak", id="speak", checkpoint=str(vits), prompt="", device="cpu")
    g.add("io.export", id="export", path="speech.wav")
    g.connect("speak", "export")
    save(g, g.path)
    for verb in ("validate", "run"):            # refused before the model loads, in run's own words
        p = run_cli([verb, str(g.path), "-o", str(tmp_path / "out")] if verb == "run" else [verb, str(g.path)],
                    tmp_path, plugin)
        said = p.stdout + p.stderr
        assert p.returncode == 1 and "Traceback" not in said and "narrow" not in said, said
        assert "'speak'" in said and "text is empty" in said, said
    p = run_cli(["run", str(g.path), "-o", str(tmp_path / "out"), "--set", "speak.prompt=你好"], tmp_path, plugin)
    assert p.returncode == 1 and "Traceback" not in p.stderr and "narrow" not in p.stderr, p.stderr
    assert "'speak'" in p.stderr and "no letter this checkpoint can speak" in p.stderr, p.stderr
    assert not (tmp_path / "out" / "speech.wav").exists()


@pytest.mark.parametrize("rate, channels", [(16000, 1), (16000, 2), (22050, 1)])
def test_the_models_audio_is_the_callers_own_to_hand_to_torch_without_a_warning(rate, channels):
    """QA93 D5: ``layer.to_model_audio`` gave a read-only array (the Audio's own samples, or a resampler's
    view), and ``torch.from_numpy`` of it printed PyTorch's "not writable" warning in a run's output."""
    import warnings

    import torch

    from nodes.models import layer
    clip = Audio(np.random.default_rng(0).uniform(-0.3, 0.3, (2, 16000)).astype(np.float32), 16000)
    x = layer.to_model_audio(clip, rate, channels)
    assert x.flags.writeable and x.dtype == np.float32 and x.shape[0] == channels
    assert not np.shares_memory(x, clip.samples)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.from_numpy(x)


def test_a_time_base_the_checkpoint_cannot_give_is_said_by_validate_before_any_model_loads(registry, vits, tmp_path):
    """QA93 D2: a family whose time_base cannot read a checkpoint's config.json was told so by the run,
    after the model had loaded; validate said ok.  The node's preflight (validate, the editor's marks)
    reads the time base from the folder now."""
    import json
    import shutil
    folder = Path(shutil.copytree(vits, tmp_path / "no-rate"))
    config = json.loads((folder / "config.json").read_text())
    config["upsample_rates"] = []                 # a product of 1: the README's time_base, 16000 frames a second
    config["sampling_rate"] = "fast"              # not a number
    (folder / "config.json").write_text(json.dumps(config))
    said = registry["acme.speak"].preflight({"checkpoint": str(folder), "adapter": ""}, tmp_path)
    assert any("model family 'acme_speech' cannot read its time base from this checkpoint's config.json" in s
               for s in said), said
