"""A model node with two checkpoints (QA86 D1: a SpeechT5 node's HiFi-GAN vocoder, a parameter of its
own, was outside the checkpoint handling: replacing the vocoder's weights served the old audio from
the cache, ``validate`` passed a broken vocoder folder that the run refused, a relative vocoder path
was saved unrebased, and a bundle unpacked elsewhere looked for it beside the wrong folder).

The plug-in below declares its second checkpoint with ``@FAMILY.node(..., checkpoints={"second": FAMILY})``
and is driven on two tiny random-weight VITS checkpoints saved to disk."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import tiny_vits
from nodeflow import families
from nodeflow.audio import Audio
from nodeflow.errors import DefinitionError
from nodeflow.executor import Executor
from nodeflow.fileformat import load, save
from nodeflow.graph import Graph
from nodeflow.node import Context
from nodeflow.registry import Registry

PLUGIN = '''
from nodeflow.audio import Audio
from nodeflow.node import Context
from nodes.models import layer

VOICE = layer.register(layer.Family("duet_voice", model_types=("vits",), model_class="VitsModel",
                                    processor="VitsTokenizer"))


@VOICE.node("duet.speak", category="models", checkpoints={"second": VOICE})
def speak(*, prompt: str = "hello there", checkpoint: str = "", second: str = "", ctx: Context) -> Audio:
    """One line in two voices, one after the other."""
    import numpy as np
    out = []
    for name in (checkpoint, second):
        with VOICE.using(name, ctx, "cpu") as m, layer.seeded(0, m.device):
            ids = m.tokenizer(prompt, return_tensors="pt")
            out.append(m.model(**ids).waveform[0].float().numpy())
    return Audio(np.concatenate(out)[None], m.profile.sample_rate if m.profile else 16000)


def register(registry):
    registry.add(speak)
'''


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("voices")
    return tiny_vits.build(root / "one", seed=0), tiny_vits.build(root / "two", seed=1)


@pytest.fixture()
def registry(tmp_path, monkeypatch) -> Registry:
    site = tmp_path / "site"
    site.mkdir()
    (site / "duet_pack.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    reg = Registry()
    reg.load_pack("builtin", "nodes")
    reg.load_pack("duet", "duet_pack")
    monkeypatch.setattr("nodeflow.registry._default", reg)     # as if installed: what unpacking loads with
    yield reg
    sys.modules.pop("duet_pack", None)
    families.unregister("duet_voice")


def test_the_node_declares_both_checkpoints(registry):
    assert registry["duet.speak"].checkpoint_params == ("checkpoint", "second")
    from nodes.models import layer
    def bad(*, checkpoint: str = "", ctx: Context) -> Audio:
        """A node without the parameter it declares."""
    with pytest.raises(DefinitionError, match="checkpoints names 'vocoder', which is not a str parameter"):
        layer.family("duet_voice").node("duet.bad", checkpoints={"vocoder": layer.family("duet_voice")})(bad)


def test_the_cache_key_follows_the_second_checkpoints_weights(registry, voices, tmp_path):
    one, two = voices
    second = tmp_path / "second"
    shutil.copytree(one, second)
    spec = registry["duet.speak"]
    ctx = Context("duet", base_dir=tmp_path)
    params = {"prompt": "hi", "checkpoint": str(one), "second": str(second)}
    before = spec.fingerprint(params, ctx)
    g = Graph(registry=registry)
    g.add("duet.speak", id="duet", **params)
    ex = Executor()
    a = ex.run(g).outputs["duet"]["out"]
    shutil.copy(two / "model.safetensors", second / "model.safetensors")     # other weights, same folder
    os.utime(second / "model.safetensors", (1, 1))
    assert spec.fingerprint(params, ctx) != before
    r = ex.run(g)
    assert set(r.ran) == {"duet"} and not r.cached           # before: served from the cache, the old voice
    b = r.outputs["duet"]["out"]
    half = a.frames // 2
    assert np.array_equal(a.samples[:, :half], b.samples[:, :half]) and not np.array_equal(a.samples, b.samples)


def test_validate_names_a_broken_second_checkpoint(registry, voices, tmp_path):
    one, _ = voices
    broken = tmp_path / "broken"
    shutil.copytree(one, broken)
    (broken / "model.safetensors").unlink()
    g = Graph(registry=registry)
    g.path = tmp_path / "duet.msgpack"
    g.add("duet.speak", id="duet", checkpoint=str(one), second=str(broken))
    problems = g.problems()
    assert len(problems) == 1 and str(broken) in problems[0]
    assert problems[0].startswith("node 'duet' (duet.speak): second: ")
    g.nodes["duet"].params["second"] = str(one)
    assert g.problems() == []


def test_a_relative_second_checkpoint_is_rebased_when_saved(registry, voices, tmp_path, monkeypatch):
    one, two = voices
    shutil.copytree(one, tmp_path / "ckpt" / "one")
    shutil.copytree(two, tmp_path / "ckpt" / "two")
    monkeypatch.chdir(tmp_path)
    g = Graph(registry=registry)
    g.add("duet.speak", id="duet", checkpoint="ckpt/one", second="ckpt/two")     # typed relative to here
    (tmp_path / "graphs").mkdir()
    save(g, tmp_path / "graphs" / "duet.msgpack")
    saved = load(tmp_path / "graphs" / "duet.msgpack", registry=registry)
    assert {k: saved.nodes["duet"].params[k] for k in ("checkpoint", "second")} == \
        {"checkpoint": "../ckpt/one", "second": "../ckpt/two"}


def test_both_checkpoints_are_the_folders_beside_a_bundle_unpacked_elsewhere(registry, voices, tmp_path):
    """The README's way to share a model graph: the bundle, and the model folders beside it (a bundle
    carries no weights); unpacked into a folder of its own, the graph finds both there."""
    one, two = voices
    song = tmp_path / "song"
    shutil.copytree(one, song / "one")
    shutil.copytree(two, song / "two")
    g = Graph(registry=registry)
    g.add("duet.speak", id="duet", checkpoint="one", second="two")
    save(g, song / "duet.msgpack")
    from nodeflow.bundle import pack, unpack
    pack(load(song / "duet.msgpack", registry=registry), song / "duet.acbundle")
    shared = tmp_path / "received"                    # on the other machine: the bundle and the folders
    shutil.copytree(song, shared, ignore=shutil.ignore_patterns("*.msgpack"))
    shutil.rmtree(song)
    out = load(unpack(shared / "duet.acbundle", tmp_path / "elsewhere" / "deep" / "song"), registry=registry)
    for name, folder in (("checkpoint", "one"), ("second", "two")):
        assert (out.base_dir() / out.nodes["duet"].params[name]).resolve() == shared / folder


def test_the_editors_folder_picker_checks_the_second_checkpoint_as_its_own(registry, voices, tmp_path):
    from nodeflow.editor.downloads import folder_problem
    from nodeflow.editor.models_panel import is_checkpoint_field
    one, _ = voices
    spec = registry["duet.speak"]
    assert is_checkpoint_field("second", spec.params["second"], spec)
    assert not is_checkpoint_field("prompt", spec.params["prompt"], spec)
    broken = tmp_path / "broken"
    shutil.copytree(one, broken)
    (broken / "model.safetensors").unlink()
    params = {"prompt": "hi", "checkpoint": str(broken), "second": str(one)}
    assert folder_problem(spec, params, one, tmp_path, "second") is None        # the first one's problem is not its
    why = folder_problem(spec, params, broken, tmp_path, "second")
    assert why is not None and why.startswith(f"checkpoint '{broken}'")
    assert folder_problem(spec, {**params, "second": str(broken)}, one, tmp_path) is None


def test_the_editors_download_row_offers_a_second_checkpoint_missing_from_the_hub_cache(registry, voices, tmp_path,
                                                                                         monkeypatch):
    from nodeflow.editor.downloads import missing_checkpoint
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    one, _ = voices
    spec = registry["duet.speak"]
    assert missing_checkpoint(spec, {"checkpoint": str(one), "second": "acme/missing-voice"}, tmp_path) == \
        "acme/missing-voice"
    assert missing_checkpoint(spec, {"checkpoint": "acme/first", "second": "acme/missing-voice"}, tmp_path) == \
        "acme/first"                       # the first first; once downloaded, the next
    assert missing_checkpoint(spec, {"checkpoint": str(one), "second": str(one)}, tmp_path) is None


def test_a_misdeclared_second_checkpoint_is_refused_where_the_node_is_declared(registry):
    """QA87 D2: a family's name, ``checkpoint`` itself or a list were taken, and failed at every
    validate and run ('str' object has no attribute 'preflight'), or refused good checkpoints."""
    from nodes.models import layer
    fam = layer.family("duet_voice")

    def two(*, checkpoint: str = "", second: str = "", ctx: Context) -> Audio:
        """Two voices."""
    for given, said in [({"second": "duet_voice"}, "the Family object that layer.register returned"),
                        ({"checkpoint": fam}, "names 'checkpoint', the family's own checkpoint parameter"),
                        (["second"], "maps each further checkpoint parameter to its family")]:
        with pytest.raises(DefinitionError, match=said):
            fam.node("duet.two", checkpoints=given)(two)


def test_a_nodes_own_fingerprint_keeps_the_second_checkpoint_in_the_key(registry, voices, tmp_path):
    from nodes.models import layer
    one, two_ = voices

    def two(*, checkpoint: str = "", second: str = "", ctx: Context) -> Audio:
        """Two voices."""
    spec = layer.family("duet_voice").node("duet.two", checkpoints={"second": layer.family("duet_voice")},
                                           fingerprint=lambda params, ctx: "mine")(two)
    ctx = Context("duet", base_dir=tmp_path)
    a = spec.fingerprint({"checkpoint": str(one), "second": str(one)}, ctx)
    b = spec.fingerprint({"checkpoint": str(one), "second": str(two_)}, ctx)
    assert a["node"] == "mine" and a != b
