"""models.musicgen_melody takes LoRA adapters (issue 13), and an adapter records its base: one trained
on another model type (MusicGen's on MusicGen-Melody) or on other weights of the same shape is refused
with one clear line instead of being merged silently.  Adapters are written in the format
`audiochain finetune` writes (safetensors; LoRA settings, base and decoder layout in the header) on
tiny random checkpoints of the real architectures."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from nodeflow import Audio, Executor, Graph, checkpoints
from nodeflow.errors import GraphError

from .helpers import sine

import tiny_models  # noqa: E402  (tests/fixtures, on the path from conftest)


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    return tiny_models.build_all(tmp_path_factory.mktemp("bases"), ("musicgen_melody_short", "musicgen_short"))


def make_adapter(base: Path, folder: Path, *, melody: bool, revision: str | None = None, seed: int = 1,
                 content: str = "model") -> Path:
    """A LoRA adapter on ``base``'s decoder attention with random non-zero weights, written as
    `audiochain finetune` writes it (base checkpoint, revision and model type in the header; its
    base's content: ``"model"`` its config and weights, ``"all"`` every file of the folder as
    adapters recorded before QA52, ``""`` none, as before that)."""
    import torch
    import transformers as tf
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file
    from nodes.models.finetune.adapter import ADAPTER_FILE, META_KEY, apply_lora, decoder_layout, lora_settings, \
        target_regex
    cls = tf.MusicgenMelodyForConditionalGeneration if melody else tf.MusicgenForConditionalGeneration
    model = cls.from_pretrained(str(base))
    torch.manual_seed(seed)
    pm = apply_lora(model, {"r": 2, "lora_alpha": 4.0, "lora_dropout": 0.0, "target_modules": target_regex("self_attn")})
    weights = {k: torch.randn_like(v) * 0.5 for k, v in get_peft_model_state_dict(pm).items()}
    res = checkpoints.resolve(str(base))
    meta = {"format": "audiochain.lora/1", "lora": lora_settings(pm), "layout": decoder_layout(model),
            "base": {"checkpoint": str(base), "revision": revision or res.revision,
                     "model_type": "musicgen_melody" if melody else "musicgen"}}
    if content:
        meta["base"]["weights"] = checkpoints.weights_digest(base, model_only=content == "model")
    folder.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(folder / ADAPTER_FILE), metadata={"format": "pt", META_KEY: json.dumps(meta)})
    return folder


def render(base: Path, adapter: str = "") -> Audio:
    g = Graph()
    g.add("models.musicgen_melody", id="m", checkpoint=str(base), prompt="jazz trio", duration_s=0.5, seed=3,
          adapter=adapter, device="cpu")
    m = Audio(sine(330.0, 1.0, 32000), 32000)
    return Executor(disk_cache=None).run(g, inputs={"m.melody": m})["m"]["out"]


def test_an_adapter_trained_on_the_melody_model_changes_its_music(bases, tmp_path):
    base = bases["musicgen_melody_short"]
    adapter = make_adapter(base, tmp_path / "melody-lora", melody=True)
    plain, tuned, again = render(base), render(base, str(adapter)), render(base, str(adapter))
    assert plain.frames == tuned.frames == 16000
    assert np.array_equal(tuned.samples, again.samples)          # same adapter and seed: the same music
    assert not np.allclose(plain.samples, tuned.samples, atol=1e-4)
    info = dict(tuned.info)
    assert info["adapter"] == "melody-lora" and info["adapter_base"].startswith(str(base))


def test_a_musicgen_adapter_is_refused_on_musicgen_melody(bases, tmp_path):
    """Refused before the run, from the adapter's header and the checkpoint's config.json (validate says
    it too; QA: on a plug-in family's model the run failed inside, on a config without a decoder)."""
    from nodeflow import GraphError
    from nodes.models.finetune.adapter import AdapterError, read_adapter, with_adapter
    from nodes.models.layer import family
    adapter = make_adapter(bases["musicgen_short"], tmp_path / "musicgen-lora", melody=False)
    said = (r"was trained on '.*musicgen_short', a 'musicgen' model; checkpoint '.*musicgen_melody_short' is a "
            r"'musicgen_melody' model: use the adapter with its base$")     # (fine-tuning MusicGen-Melody is not offered)
    with pytest.raises(GraphError, match=said):
        render(bases["musicgen_melody_short"], str(adapter))
    fam = family("musicgen_melody")
    loaded = fam._load(fam.resolve(str(bases["musicgen_melody_short"]), None), "cpu", "float32")
    with pytest.raises(AdapterError, match=said):          # the run's own check, before any layer is compared
        with_adapter(loaded, read_adapter(str(adapter)))


def test_an_adapter_of_other_weights_of_the_same_shape_is_refused(bases, tmp_path):
    base = bases["musicgen_melody_short"]
    adapter = make_adapter(base, tmp_path / "other-lora", melody=True, revision="0123456789abcdef0123",
                           content="")
    with pytest.raises(GraphError, match=r"revision 0123456789abcdef; checkpoint .* is revision local-.* "
                                             r"\(other weights, or the same files with other times: this adapter, "
                                             r"trained before .* cannot tell\): use the base it was trained on"):
        render(base, str(adapter))


def test_a_copy_of_the_base_is_its_base_and_other_bytes_are_not(bases, tmp_path):
    """QA: a `cp -r` of the base (new file times, the same bytes) or a `touch` of its weights refused
    the adapter trained on it as "other weights".  Its content is compared where its times differ."""
    import os
    import shutil
    base = bases["musicgen_melody_short"]
    adapter = str(make_adapter(base, tmp_path / "lora", melody=True))
    copy = Path(shutil.copytree(base, tmp_path / "copy", copy_function=shutil.copy))      # times not kept
    weights = next(copy.glob("*.safetensors"))
    os.utime(weights, ns=(1, 1))
    assert checkpoints.resolve(str(copy)).revision != checkpoints.resolve(str(base)).revision
    assert np.array_equal(render(copy, adapter).samples, render(base, adapter).samples)
    # its generation defaults edited: the same model (QA52: refused as "other weights", the weights identical)
    config = copy / "generation_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "max_length": 50}))
    model_config = copy / "config.json"                # re-indented, the same settings (QA56: refused too)
    model_config.write_text(json.dumps(json.loads(model_config.read_text()), indent=4, sort_keys=True))
    assert np.array_equal(render(copy, adapter).samples, render(base, adapter).samples)
    older = str(make_adapter(base, tmp_path / "older", melody=True, content="all"))   # recorded every file
    assert np.array_equal(render(base, older).samples, render(base, older).samples)
    with pytest.raises(GraphError, match=r"\(other weights\)"):
        render(copy, older)
    data = bytearray(weights.read_bytes())
    data[-4:] = bytes(4 - i for i in range(4))          # the last weight's last float: other weights
    weights.write_bytes(bytes(data))
    g = Graph()
    g.add("models.musicgen_melody", id="m", checkpoint=str(copy), adapter=adapter, device="cpu")
    said = r"\(other weights\): use the base it was trained on"
    assert any(re.search(said, p) for p in g.problems())      # validate says what the run refuses (QA52)
    with pytest.raises(GraphError, match=said):
        render(copy, adapter)


def test_validate_says_an_adapter_holds_nan_or_inf_weights_without_loading_a_model(bases, tmp_path, monkeypatch,
                                                                                   capsys):
    """QA: `audiochain validate` said ok of an adapter whose training diverged (NaN or infinite weights);
    only the run refused it, once the base checkpoint had loaded.  Validate now says the run's one line
    (node, file, tensor, fix) from the file's tensors, float32 or bfloat16, with no model loaded."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file
    from nodeflow.cli import main
    from nodeflow.errors import named
    from nodeflow.fileformat import save
    from nodes.models.finetune.adapter import ADAPTER_FILE, AdapterError, read_adapter, with_adapter
    from nodes.models.layer import Family, family
    base = bases["musicgen_short"]
    good = make_adapter(base, tmp_path / "good", melody=False) / ADAPTER_FILE
    with safe_open(str(good), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    names = sorted(tensors)
    first_b = next(k for k in names if "lora_B" in k)
    nan = dict(tensors, **{first_b: tensors[first_b].clone()})
    nan[first_b][0, 0] = float("nan")
    save_file(nan, str(tmp_path / "nan.safetensors"), metadata=meta)
    last = names[-1]
    inf = {k: v.to(torch.bfloat16) for k, v in tensors.items()}           # a half-precision file: no numpy type
    inf[last][-1, -1] = float("-inf")
    save_file(inf, str(tmp_path / "inf.safetensors"), metadata=meta)
    loads = []
    load = Family._load
    monkeypatch.setattr(Family, "_load", lambda *a, **k: loads.append(a) or load(*a, **k))
    g = Graph()
    g.path = tmp_path / "g.msgpack"
    g.add("models.musicgen", id="gen", checkpoint=str(base), prompt="jazz", duration_s=0.5, adapter="good",
          device="cpu")
    save(g, g.path)
    assert g.problems() == [] and main(["validate", str(g.path)]) == 0
    capsys.readouterr()
    for file, tensor in (("nan.safetensors", first_b), ("inf.safetensors", last)):
        line = named("node 'gen' (models.musicgen)",
                     f"adapter {tmp_path / file} holds NaN or infinite weights (tensor {tensor}): its training "
                     "diverged or the file is damaged; train it again (a lower --lr) or copy it again",
                     "models.musicgen")
        g.set("gen", "adapter", file)
        save(g, g.path)
        assert g.problems() == [line]
        assert main(["validate", str(g.path)]) == 1
        out = capsys.readouterr().out
        assert f"{g.path}: 1 problem(s):\n  - {line}\n" in out, out
        with pytest.raises(GraphError) as info:                      # the run: refused before it starts
            Executor(disk_cache=None).run(g)
        assert line in str(info.value)
    assert loads == []                                               # no model was loaded to say it
    fam = family("musicgen")                                         # the run's own check says the same
    loaded = fam._load(fam.resolve(str(base), None), "cpu", "float32")
    for file, tensor in (("nan.safetensors", first_b), ("inf.safetensors", last)):
        with pytest.raises(AdapterError, match=rf"^adapter {re.escape(str(tmp_path / file))} holds NaN or infinite "
                                               rf"weights \(tensor {re.escape(tensor)}\)"):
            with_adapter(loaded, read_adapter(str(tmp_path / file)))
