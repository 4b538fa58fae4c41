"""The public layer loads a diffusers-layout checkpoint as it loads a transformers one: a family
declared with ``pipelines=`` and ``model_class="diffusers.…"`` on a tiny random-weight
``AutoencoderOobleck`` (Stable Audio Open's VAE, the real architecture) saved with save_pretrained
(``config.json`` with ``_class_name``, safetensors): time base from its config, device and
precision, one cache entry per precision, ``audiochain models info``."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nodeflow import checkpoints, families
from nodeflow.node import Context

diffusers = pytest.importorskip("diffusers")

from nodes.models import layer  # noqa: E402

HOP = 2 * 4                                     # the tiny VAE's downsampling ratios


def _time_base(config: dict, generation: dict) -> layer.ModelProfile:
    rate = int(config["sampling_rate"])
    return layer.profile_from_rates(rate, rate / math.prod(config["downsampling_ratios"]), 1024, "stub_vae")


@pytest.fixture(scope="module")
def vae(tmp_path_factory):
    import torch
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-oobleck")
    diffusers.AutoencoderOobleck(encoder_hidden_size=8, downsampling_ratios=[2, 4], channel_multiples=[1, 2],
                                 decoder_channels=8, decoder_input_channels=4, audio_channels=2,
                                 sampling_rate=44100).save_pretrained(folder)
    return folder


@pytest.fixture()
def family():
    fam = layer.register(layer.Family("stub_vae", pipelines=("AutoencoderOobleck",), processor="",
                                      model_class="diffusers.AutoencoderOobleck", time_base=_time_base))
    yield fam
    families.unregister("stub_vae")


def test_a_diffusers_model_loads_on_the_precision_asked_for_and_round_trips_audio(vae, family, tmp_path,
                                                                                fresh_model_cache):
    import torch
    x = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (1, 2, 64 * HOP)).astype(np.float32))
    ctx = Context("vae", base_dir=tmp_path)
    with family.using(str(vae), ctx, "cpu", "float32") as m, torch.inference_mode():
        assert m.profile.sample_rate == 44100 and m.profile.frame_rate == 44100 / HOP
        latents = m.model.encode(x).latent_dist.mean
        y = m.model.decode(latents).sample
    assert latents.shape[-1] == 64 and y.shape == x.shape
    with family.using(str(vae), ctx, "cpu", "bfloat16") as m:
        assert next(m.model.parameters()).dtype == torch.bfloat16
    assert sorted(k.dtype for k in fresh_model_cache.keys()) == ["bfloat16", "float32"]


def test_models_info_names_the_diffusers_family(vae, family):
    info = checkpoints.info(str(vae))
    assert (info["family"], info["model_type"], info["sample_rate"], info["tokens_per_s"]) == \
        ("stub_vae", "AutoencoderOobleck", 44100, 44100 / HOP)
