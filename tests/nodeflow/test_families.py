"""The engine's registry of model families: checkpoint layouts (transformers, diffusers, a family's
own), time bases read from a checkpoint's configuration, and no model family named in nodeflow/.
Engine tests: stub families and folders of JSON, no torch."""
from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from nodeflow import checkpoints, families
from nodeflow.errors import DefinitionError, ParameterError
from nodeflow.timebase import PROFILES, ModelProfile, ProfileChoice, profile_named, seconds_to_tokens
from tests._weights import write_weights

ROOT = Path(__file__).resolve().parents[2]
KNOWN = re.compile(r"musicgen|bark|demucs|clap|encodec|whisper|vits|mms|stable.?audio|audioldm", re.I)


def _time_base(config: dict, generation: dict) -> ModelProfile:
    return ModelProfile("stub", config["vae"]["sampling_rate"], Fraction(config["vae"]["sampling_rate"], 2048),
                        int(generation.get("window", 1024)))


@pytest.fixture
def stub_families():
    diffusion = families.register(families.FamilySpec(
        "stub_diffusion", pipelines=("StubAudioPipeline",), time_base=_time_base,
        nominal=ModelProfile("stub_diffusion", 44100, Fraction(44100, 2048), 1024)))
    own = families.register(families.FamilySpec(
        "stub_own", layout=lambda p: None if any(p.glob("*.yaml")) else "has no .yaml bag file"))
    yield diffusion, own
    families.unregister("stub_diffusion")
    families.unregister("stub_own")


def _diffusers_folder(root: Path, pipeline: str = "StubAudioPipeline") -> Path:
    root.mkdir(parents=True)
    (root / "model_index.json").write_text(json.dumps({"_class_name": pipeline, "vae": ["diffusers", "AutoencoderOobleck"],
                                                       "scheduler": ["diffusers", "Stub"]}))
    (root / "vae").mkdir()
    (root / "vae" / "config.json").write_text(json.dumps({"sampling_rate": 44100}))
    write_weights(root / "vae" / "diffusion_pytorch_model.safetensors")
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps({"_class_name": "Stub"}))
    return root


def test_no_model_family_is_named_in_the_engine():
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in sorted((ROOT / "nodeflow").rglob("*.py"))
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if KNOWN.search(line)]
    assert hits == [], "model family names belong in the family's own module (nodes/models/layer.py):\n" + "\n".join(hits)


def test_a_diffusers_layout_resolves_and_is_claimed_by_its_family(stub_families, tmp_path):
    diffusion, _ = stub_families
    folder = _diffusers_folder(tmp_path / "stub-pipe")
    res = checkpoints.resolve(str(folder), download=False, family=diffusion)
    assert res.path == folder.resolve() and res.revision.startswith("local-")
    assert families.for_folder(folder) is diffusion
    config = families.read_config(folder)
    assert config["_class_name"] == "StubAudioPipeline" and config["vae"]["sampling_rate"] == 44100
    info = checkpoints.info(str(folder))
    assert (info["family"], info["model_type"], info["sample_rate"], info["tokens_per_s"]) == \
        ("stub_diffusion", "StubAudioPipeline", 44100, 44100 / 2048)
    other = _diffusers_folder(tmp_path / "other-pipe", "OtherPipeline")
    with pytest.raises(checkpoints.CheckpointError,
                       match="is an 'OtherPipeline' model; this node needs a 'StubAudioPipeline' checkpoint"):
        checkpoints.resolve(str(other), download=False, family=diffusion)


def test_a_family_may_check_a_layout_of_its_own(stub_families, tmp_path):
    _, own = stub_families
    bag = tmp_path / "bag"
    bag.mkdir()
    write_weights(bag / "x.safetensors")
    with pytest.raises(checkpoints.CheckpointError, match="has no .yaml bag file"):
        checkpoints.resolve(str(bag), download=False, family=own)
    (bag / "bag.yaml").write_text("models: [x]\n")
    assert checkpoints.resolve(str(bag), download=False, family=own).path == bag.resolve()
    assert checkpoints.resolve(str(bag), download=False).path == bag.resolve()      # any family's layout counts
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    with pytest.raises(checkpoints.CheckpointError, match="no config.json .* or model_index.json .* and no "
                                                          "installed model family knows its layout"):
        checkpoints.resolve(str(nothing), download=False)


def test_profiles_are_the_families_nominal_time_bases(stub_families):
    assert PROFILES["stub_diffusion"].hop == 2048 and "stub_diffusion" in list(PROFILES)
    assert seconds_to_tokens(2048 / 44100 * 10, "stub_diffusion") == 10
    with pytest.raises(KeyError, match="no model family 'nope' is registered"):
        PROFILES["nope"]
    with pytest.raises(ParameterError, match="model family 'stub_own' declares no time base"):
        families.profile("stub_own")
    with pytest.raises(ParameterError) as e:       # a config.json without the field: named, with the fix (QA49 D2)
        stub_families[0].profile_of({"_class_name": "StubAudioPipeline"})
    assert str(e.value) == ("model family 'stub_diffusion' cannot read its time base from this checkpoint's "
                            "config.json (it has no 'vae'); restore the checkpoint's own config.json, or use "
                            "a checkpoint of family 'stub_diffusion' (where the config.json is the checkpoint's "
                            "own, the family's time_base must give what it leaves out the default the model "
                            "gives it)")
    with pytest.raises(ParameterError, match=r"this checkpoint's model_index.json \(it has no 'vae'\); restore the "
                                             r"checkpoint's own model_index.json"):     # the file read (QA61)
        stub_families[0].profile_of({"_class_name": "StubAudioPipeline", "_file": "model_index.json"})


class _Choice(ProfileChoice):
    CUSTOM = "custom"


def test_a_profile_parameter_offers_every_registered_familys_time_base(stub_families):
    """A ``profile`` parameter's choices follow the registry: a family registered later (a plug-in)
    is offered, validated and pickled like a declared member; an unregistered one is gone."""
    import pickle

    from nodeflow.types import ParamSpec
    spec = ParamSpec.from_annotation("profile", _Choice, _Choice.CUSTOM, "stub.node")
    assert "stub_diffusion" in spec.describe_range() and spec.describe_range().endswith(", custom")
    member = spec.coerce("stub_diffusion")
    assert member is _Choice("stub_diffusion") and member.value == "stub_diffusion"
    assert pickle.loads(pickle.dumps(member)) is member and profile_named(member).hop == 2048
    assert "stub_own" not in spec.describe_range()                   # no nominal time base: not a profile
    families.unregister("stub_diffusion")
    assert "stub_diffusion" not in [m.value for m in _Choice]
    with pytest.raises(ParameterError) as e:
        spec.coerce("stub_diffusion")
    assert str(e.value).startswith("profile='stub_diffusion': expected one of ") and ", custom; no installed " \
        "model family declares a time base named 'stub_diffusion': install the node pack" in str(e.value)
    with pytest.raises(ParameterError, match="expected one of .*custom; no installed model family"):
        _Choice("stub_diffusion")


def test_a_family_name_is_taken_once():
    fam = families.register(families.FamilySpec("stub_once", model_types=("a",)))
    try:
        assert families.register(fam) is fam
        with pytest.raises(DefinitionError, match="model family 'stub_once' is registered twice"):
            families.register(families.FamilySpec("stub_once", model_types=("b",)))
        with pytest.raises(DefinitionError, match="needs a name that is an identifier"):
            families.register(families.FamilySpec("not a name"))
    finally:
        families.unregister("stub_once")


def test_the_tune_scorer_is_what_a_node_pack_declares():
    from nodeflow.tune import default_scorer
    assert default_scorer() == families.default_for("scorer") and default_scorer() is not None


def test_a_local_checkpoint_is_fingerprinted_by_its_folder_name_not_the_path_typed(stub_families, tmp_path):
    """QA: a render's iXML named the checkpoint '../ckpt/musicgen_melody', the path as typed relative to
    the graph's folder; the README says local checkpoints are named by folder name and digest."""
    folder = _diffusers_folder(tmp_path / "ckpt" / "stub-pipe")
    (tmp_path / "graphs").mkdir()
    fp = checkpoints.fingerprint("../ckpt/stub-pipe", base_dir=tmp_path / "graphs")
    assert fp["checkpoint"] == "stub-pipe" and fp["revision"] == checkpoints.folder_digest(folder)
    assert checkpoints.fingerprint("org/some-model")["checkpoint"] == "org/some-model"      # a hub id as typed
