"""Shared machinery of the transformers model nodes: loading through the model cache, device and
precision, seeds, progress/cancellation inside ``generate`` and audio in the model's format.

Everything heavy (torch, transformers, soxr) is imported inside functions.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from nodeflow import checkpoints, devices
from nodeflow.audio import Audio
from nodeflow.errors import ParameterError
from nodeflow.modelcache import ModelKey, default_cache
from nodeflow.node import Context
from nodeflow.timebase import ModelProfile
from nodeflow.types import ChoiceEnum

__all__ = ["Device", "Precision", "MusicgenPrecision", "Loaded", "using", "model_fingerprint", "checkpoint_preflight", "seeded",
           "sampler", "step_criterion", "profile_of", "to_model_audio", "EXPECTED_TYPES"]


class Device(ChoiceEnum):
    """Where the model runs; ``auto`` = CUDA, then Apple MPS, then CPU (a run's ``--device`` wins)."""
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"


class Precision(ChoiceEnum):
    """Weights' dtype; ``auto`` = float16 on CUDA, float32 elsewhere; ``bfloat16`` on the CPU
    generates MusicGen about 2x faster than float32 (see bench/bench_models.py)."""
    AUTO = "auto"
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"


class MusicgenPrecision(ChoiceEnum):
    """Weights' dtype; ``auto`` = float16 on CUDA, float32 elsewhere; on the CPU ``bfloat16`` is about
    2x faster than float32 and ``int8`` (8-bit decoder weights) faster still, each with a measured
    change in the model's arithmetic (see bench/bench_models.py)."""
    AUTO = "auto"
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    INT8 = "int8"


EXPECTED_TYPES = {"musicgen": "musicgen", "musicgen_melody": "musicgen_melody", "bark": "bark"}


@dataclasses.dataclass(eq=False)
class Loaded:
    """A loaded checkpoint: the model, its tokenizer, its time base and where it came from.

    ``lock`` is held by whoever runs the model (:func:`using`): one loaded model, on one device in
    one dtype, is never used by two threads at once; other models and devices run concurrently."""
    model: Any
    tokenizer: Any
    profile: ModelProfile
    checkpoint: str
    revision: str
    path: Path
    device: str
    dtype: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    lock: Any = dataclasses.field(default_factory=threading.RLock, repr=False, compare=False)


def profile_of(model, name: str | None = None) -> ModelProfile:
    """The time base of a *loaded* model, read from its own config (not from constants)."""
    prof = checkpoints.profile_from_config(model.config.to_dict(), model.generation_config.to_dict(), name)
    if prof is None:
        raise ParameterError(f"no time base for model type {model.config.model_type!r}")
    return prof


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _load(kind: str, res: checkpoints.Resolved, device: str, dtype: str) -> Loaded:
    import transformers
    cls = {"musicgen": transformers.MusicgenForConditionalGeneration,
           "musicgen_melody": transformers.MusicgenMelodyForConditionalGeneration,
           "bark": transformers.BarkModel}[kind]
    model = cls.from_pretrained(str(res.path), local_files_only=True, use_safetensors=True,
                                dtype=devices.torch_dtype(dtype))
    model = model.to(device).eval()
    if kind != "bark" and device == "cpu" and dtype == "float32":   # guidance decodes 2 rows a step
        from ._cpu import skinny_products
        skinny_products(model.decoder)
    if dtype == "int8":
        if kind == "bark":
            raise ParameterError("precision=int8 is for MusicGen; use float32 or bfloat16 for Bark")
        from ._cpu import int8_products
        int8_products(model.decoder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(res.path), local_files_only=True)
    extra: dict[str, Any] = {}
    if kind == "musicgen_melody":  # the feature extractor needs torchaudio: read its settings only
        pre = _read_json(res.path / "preprocessor_config.json")
        extra["chroma"] = {"n_fft": int(pre.get("n_fft", 16384)), "hop_length": int(pre.get("hop_length", 4096))}
    if kind == "bark":
        extra["voices"] = _read_json(res.path / "speaker_embeddings_path.json")
    return Loaded(model, tokenizer, profile_of(model, kind), res.name, res.revision, res.path, device, dtype, extra)


def _placement(device_param: Any, precision: Any, ctx: Context) -> tuple[str, str]:
    device = devices.pick_device(device_param, getattr(ctx, "device", "auto"))
    return device, devices.resolve_dtype(precision, device)


@contextlib.contextmanager
def using(kind: str, checkpoint: str, ctx: Context, device: Any = "auto", precision: Any = "auto",
          adapter: str = "") -> Iterator[Loaded]:
    """The loaded checkpoint from the process-wide model cache, pinned while the node uses it.

    With ``adapter`` (a LoRA adapter from ``audiochain finetune``) the adapted model is its own
    cache entry, keyed by the adapter's content digest: base and adapted models never mix."""
    checkpoints.require_model_packages()
    res = checkpoints.resolve(checkpoint, base_dir=ctx.base_dir)
    found = _read_json(res.path / "config.json").get("model_type")
    if found != EXPECTED_TYPES[kind]:
        raise ParameterError(f"checkpoint '{checkpoint}' is a {found!r} model; this node needs a "
                             f"{EXPECTED_TYPES[kind]!r} checkpoint")
    dev, dtype = _placement(device, precision, ctx)
    key = ModelKey(kind, str(res.path), res.revision, dev, dtype)
    loader: Callable[[], Loaded] = lambda: _load(kind, res, dev, dtype)
    if adapter:
        if dtype == "int8":
            raise ParameterError("precision=int8 cannot carry a LoRA adapter (its weights are merged into float "
                                 "weights); use float32 or bfloat16 with adapter=")
        from .finetune.adapter import read_adapter, with_adapter
        lora = read_adapter(adapter, ctx.base_dir)
        key = dataclasses.replace(key, kind=f"{kind}+lora", revision=f"{res.revision}+{lora.digest}")
        loader = lambda: with_adapter(_load(kind, res, dev, dtype), lora)
    with default_cache().use(key, loader) as loaded, loaded.lock, _threads_for(dev):
        yield loaded


@contextlib.contextmanager
def _threads_for(device: str) -> Iterator[None]:
    if device != "cpu":
        yield
        return
    with devices.torch_threads(devices.generation_threads()):
        yield


def _version(pkg: str) -> str:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def model_fingerprint(params: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Cache-key data the parameters do not pin down: the checkpoint's resolved revision, the
    device and dtype it will run on, and the library versions that do the maths."""
    fp: dict[str, Any] = checkpoints.fingerprint(params.get("checkpoint", ""), getattr(ctx, "base_dir", None))
    try:
        fp["device"], fp["dtype"] = _placement(params.get("device", "auto"), params.get("precision", "auto"), ctx)
    except Exception as e:  # noqa: BLE001 - an unavailable device fails with its message when the node runs
        fp["device"] = f"unavailable:{e}"
    fp["torch"], fp["transformers"] = _version("torch"), _version("transformers")
    if params.get("adapter"):
        from .finetune.adapter import fingerprint as adapter_fingerprint
        fp["adapter"] = adapter_fingerprint(params["adapter"], getattr(ctx, "base_dir", None))
        fp["peft"] = _version("peft")
    return fp


def checkpoint_preflight(params: dict[str, Any], base_dir: Path) -> list[str]:
    """What this machine lacks to run the node: a checkpoint that is neither a usable local folder
    nor in the hub cache (when it cannot be downloaded now, i.e. HF_HUB_OFFLINE is set), or the
    'models' extra itself."""
    try:
        checkpoints.require_model_packages()
    except checkpoints.CheckpointError as e:
        return [str(e)]
    try:
        checkpoints.resolve(params.get("checkpoint", ""), base_dir=base_dir, download=False)
    except checkpoints.CheckpointError as e:
        if checkpoints.offline() or "not in the Hugging Face cache" not in str(e):
            return [str(e)]
    return []


# ---------------------------------------------------------------------------------------- sampling
_GLOBAL_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded(seed: int, device: str) -> Iterator[None]:
    """Reproducible sampling from torch's *global* generators: forked, seeded with ``seed`` and
    restored.  Two users of the global generators cannot interleave their draws, so everything
    inside is serialised process-wide; Bark needs it (its fine stage samples with
    ``torch.multinomial`` itself).  MusicGen samples with :func:`sampler` instead, so MusicGen
    generations on different models or devices run concurrently.
    """
    import torch
    kind = device.split(":", 1)[0]
    fork_devices = [torch.device(device).index or 0] if kind == "cuda" else []
    with _GLOBAL_RNG_LOCK, torch.inference_mode():
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(int(seed))
            yield


def sampler(seed: int, device: str, *, temperature: float, top_k: int | None, top_p: float | None,
            batch: int = 1):
    """Sampling with a generator of its own: a ``LogitsProcessorList`` for ``generate(logits_processor=...)``.

    Its last processor applies temperature, top-k and top-p (as transformers' own warpers do, in
    that order, after classifier-free guidance) and draws the token from ``torch.Generator(device)``
    seeded with ``seed``; it then leaves only that token possible, so ``generate``'s own draw from
    the global generator picks it whatever state that generator is in.  The draws are those a
    global generator seeded with ``seed`` would make, so the music is the same as sampling from
    it, and concurrent generations cannot disturb each other.  Pass ``do_sample=True``,
    ``temperature=1.0`` and no ``top_k``/``top_p`` to ``generate`` (they are applied here).
    Processors ``generate`` appends (MusicGen appends its guidance) go before the sampler; one of
    a type already present replaces it, so the list can serve several ``generate`` calls (windows).
    With ``batch`` items generated together, each item's rows (``rows / batch`` of them, e.g. its
    codebooks) draw from a generator of its own seeded with ``seed``: each item gets the draws it
    would get alone.
    """
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    gens = []
    for _ in range(max(1, int(batch))):
        gen = torch.Generator(device=device)
        gen.manual_seed(int(seed))
        gens.append(gen)
    warpers: list = []
    if temperature is not None and float(temperature) != 1.0:
        warpers.append(TemperatureLogitsWarper(float(temperature)))
    if top_k:
        warpers.append(TopKLogitsWarper(top_k=int(top_k), min_tokens_to_keep=1))
    if top_p is not None and float(top_p) < 1.0:
        warpers.append(TopPLogitsWarper(top_p=float(top_p), min_tokens_to_keep=1))

    class _Draw(LogitsProcessor):
        def __call__(self, input_ids, scores):
            for w in warpers:
                scores = w(input_ids, scores)
            probs = torch.nn.functional.softmax(scores, dim=-1)
            if len(gens) == 1:
                chosen = torch.multinomial(probs, num_samples=1, generator=gens[0])
            else:                      # each item's rows from its own generator, as if alone
                per = probs.shape[0] // len(gens)
                chosen = torch.cat([torch.multinomial(probs[i * per:(i + 1) * per], num_samples=1, generator=g)
                                    for i, g in enumerate(gens)])
            only = torch.full_like(scores, float("-inf"))
            return only.scatter_(1, chosen, 0.0)

    class _DrawLast(LogitsProcessorList):
        def append(self, processor):
            for i, p in enumerate(self[:-1]):
                if type(p) is type(processor):
                    self[i] = processor
                    return
            self.insert(len(self) - 1, processor)

    return _DrawLast([_Draw()])


def step_criterion(on_step: Callable[[Any], None]):
    """A transformers StoppingCriteria calling ``on_step(input_ids)`` after every generated token
    (the full sequence so far); it never stops generation itself: ``on_step`` raises to cancel."""
    import torch
    from transformers import StoppingCriteria

    class _Steps(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            on_step(input_ids)
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return _Steps()


# ---------------------------------------------------------------------------------------- audio
def to_model_audio(audio: Audio, sample_rate: int, channels: int) -> np.ndarray:
    """``audio`` as float32 ``[channels, frames]`` at the model's rate: resampled with soxr (HQ),
    downmixed to mono by averaging, mono duplicated for stereo models."""
    x = audio.samples
    if x.shape[0] != channels:
        mono = x.mean(axis=0, keepdims=True)
        x = mono if channels == 1 else np.repeat(mono, channels, axis=0)
    if audio.sample_rate != sample_rate:
        import soxr
        x = soxr.resample(np.ascontiguousarray(x.T), audio.sample_rate, sample_rate, quality="HQ").T
    return np.ascontiguousarray(x, dtype=np.float32)
