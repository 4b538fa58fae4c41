"""Demucs for ``models.demucs`` / ``models.demucs_6s``: checkpoint layouts, loading without pickles,
and separation in overlapping segments with a seed, progress and cancellation.

Two checkpoint layouts load, both safetensors only (never the ``.th`` torch pickles demucs's own
``pretrained`` module reads):

- **demucs's hub export** (demucs 4.1, ``adefossez/HTDemucs``, ``adefossez/HTDemucs-6s``,
  ``adefossez/HTDemucs-ft``...): ``NAME.yaml`` (the bag: model signatures, per-source weights,
  segment) plus one ``SIG.safetensors`` per model whose metadata holds the model class and its
  constructor arguments.  A hub id resolves as any family's checkpoint does (the model layer: the
  Hugging Face cache, ``audiochain models pull``, safetensors only); a folder holding a copy works too.
- **AudioChain's folder**: ``config.json`` ``{"model_type": "demucs", "models": [{"class":
  "HTDemucs", "args": [], "kwargs": {...}, "file": "model.safetensors"}], "weights": null,
  "segment": null}`` plus the weights (:func:`save_folder` writes one from a model in memory).

Only the architectures the ``demucs`` package defines are built (``HTDemucs``, ``HDemucs``,
``Demucs``); a checkpoint naming any other class is refused, so a file cannot make us import code.
torch, demucs, safetensors and yaml are imported inside the functions that need them.
"""
from __future__ import annotations

import dataclasses
import json
import random
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nodeflow import devices
from nodeflow.checkpoints import CheckpointError, Resolved
from nodeflow.errors import ParameterError

__all__ = ["CLASSES", "Loaded", "Limits", "layout_problem", "describe", "load", "limits", "save_folder", "separate",
           "PACKAGES"]

PACKAGES = ("torch", "demucs", "safetensors", "yaml")
CLASSES = {"HTDemucs": ("demucs.htdemucs", "HTDemucs"), "HDemucs": ("demucs.hdemucs", "HDemucs"),
           "Demucs": ("demucs.demucs", "Demucs")}
_CONFIG = "config.json"
_MODEL_TYPE = "demucs"


# ---------------------------------------------------------------------------------------- checkpoints
def layout_problem(path: Path) -> str | None:
    """The Demucs family's own layout check (:class:`nodes.models.layer.Family` ``layout=``), for a
    folder without ``config.json``: demucs's hub export; None when usable, else why not.  Hub ids,
    the cache, ``audiochain models pull`` and the offline message are the layer's, as for any family."""
    if any(path.glob("*.yaml")) and any(path.glob("*.safetensors")):
        return None
    pickles = sorted(p.name for p in path.glob("*") if p.suffix in (".th", ".pt", ".pth", ".bin", ".ckpt"))
    found = f" (found {', '.join(pickles[:4])}: torch pickles, which AudioChain never loads because they can run code)" \
        if pickles else ""
    return ("holds neither demucs's safetensors export (NAME.yaml + SIG.safetensors, as on the hub in "
            f"adefossez/HTDemucs) nor AudioChain's layout (config.json + .safetensors){found}")


def describe(path: Path) -> dict[str, Any]:
    """``audiochain models info`` lines: the sources a checkpoint separates and how many models it bags."""
    try:
        entries, _, _ = _entries(Resolved(str(path), Path(path), "", "local"))
        args, kwargs = _decode(entries[0].get("args") or []), _decode(entries[0].get("kwargs") or {})
        sources = kwargs.get("sources") or (args[0] if args and isinstance(args[0], list) else [])
    except Exception:  # noqa: BLE001 - info describes what it can; loading reports a bad checkpoint
        return {}
    return {"sources": ", ".join(map(str, sources)), "models": len(entries)}


# ---------------------------------------------------------------------------------------- loading
@dataclasses.dataclass(eq=False)
class Loaded:
    """A loaded bag of Demucs models on a device; ``lock`` is held while it separates."""
    bag: Any
    sources: tuple[str, ...]
    sample_rate: int
    audio_channels: int
    segment_s: float          # the pieces it separates by default (its training length)
    max_segment_s: float      # the longest it may be given (HTDemucs: its training length; others: any)
    checkpoint: str
    revision: str
    device: str
    dtype: str
    path: Path = Path()       # the checkpoint's folder (outputs name a local one by its folder's name)
    lock: Any = dataclasses.field(default_factory=threading.RLock, repr=False)


def _decode(value: Any) -> Any:
    """demucs's JSON for constructor arguments: fractions as ``{"_type": "fraction", ...}``."""
    if isinstance(value, dict):
        if value.get("_type") == "fraction":
            return Fraction(int(value["numerator"]), int(value["denominator"]))
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _entries(res: Resolved) -> tuple[list[dict[str, Any]], Any, Any]:
    """``[{class, args, kwargs, file}]``, per-source weights and segment, from either layout."""
    cfg_path = res.path / _CONFIG
    if cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        if cfg.get("model_type") != _MODEL_TYPE:
            raise CheckpointError(f"checkpoint '{res.name}' is a {cfg.get('model_type')!r} model; this node needs "
                                  f"a {_MODEL_TYPE!r} checkpoint")
        return list(cfg.get("models") or []), cfg.get("weights"), cfg.get("segment")
    import yaml
    from safetensors import safe_open
    bags = sorted(res.path.glob("*.yaml"))
    usable = []
    for f in bags:
        bag = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        if all((res.path / f"{sig}.safetensors").is_file() for sig in bag.get("models", [])):
            usable.append(bag)
    if len(usable) != 1:
        raise CheckpointError(f"checkpoint '{res.name}': expected one bag .yaml whose models' .safetensors are all "
                              f"present in {res.path}; found {len(usable)} of {len(bags)}")
    entries = []
    for sig in usable[0]["models"]:
        with safe_open(str(res.path / f"{sig}.safetensors"), framework="pt") as fh:
            meta = fh.metadata() or {}
        if "structure" in meta:
            raise CheckpointError(f"checkpoint '{res.name}': {sig}.safetensors is a quantized (diffq) model; "
                                  "use an unquantized one such as adefossez/HTDemucs")
        klass = str(meta.get("klass", ""))
        entries.append({"class": klass.rsplit(".", 1)[-1], "module": klass.rsplit(".", 1)[0],
                        "args": json.loads(meta.get("args", "[]")), "kwargs": json.loads(meta.get("kwargs", "{}")),
                        "file": f"{sig}.safetensors"})
    return entries, usable[0].get("weights"), usable[0].get("segment")


def _build(res: Resolved, entry: dict[str, Any]):
    import importlib
    import inspect

    from safetensors.torch import load_file
    name = entry.get("class")
    if name not in CLASSES or entry.get("module", CLASSES[name][0]) != CLASSES[name][0]:
        raise CheckpointError(f"checkpoint '{res.name}' names model class {entry.get('module', '')}.{name}; "
                              f"only demucs's {', '.join(CLASSES)} are built")
    klass = getattr(importlib.import_module(CLASSES[name][0]), CLASSES[name][1])
    kwargs = {k: v for k, v in _decode(entry.get("kwargs") or {}).items() if k in inspect.signature(klass).parameters}
    model = klass(*_decode(entry.get("args") or []), **kwargs)
    model.load_state_dict(load_file(str(res.path / entry["file"])))
    return model.eval()


def load(res: Resolved, device: str, dtype: str) -> Loaded:
    """Build the bag of models from ``res`` on ``device`` (weights stay float32; see :func:`separate`)."""
    from demucs.apply import BagOfModels
    entries, weights, segment = _entries(res)
    if not entries:
        raise CheckpointError(f"checkpoint '{res.name}' lists no models")
    bag = BagOfModels([_build(res, e) for e in entries], weights, _decode(segment))
    bag.to(device).eval()
    own = float(min(m.segment for m in bag.models))
    return Loaded(bag, tuple(bag.sources), int(bag.samplerate), int(bag.audio_channels), own,
                  float(bag.max_allowed_segment), res.name, res.revision, device, dtype, Path(res.path))


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a checkpoint separates and the segments it takes, as :func:`load` would give them."""
    sources: tuple[str, ...]
    sample_rate: int
    segment_s: float          # :attr:`Loaded.segment_s`
    max_segment_s: float      # :attr:`Loaded.max_segment_s`


def limits(res: Resolved) -> Limits:
    """:class:`Limits` of ``res`` read from its layout (each model's constructor arguments, with the
    class's defaults, and the bag's segment), without building a model or reading its weights: what
    ``validate`` checks a node's parameters against.  A class outside :data:`CLASSES` or arguments
    that do not fit it raise (the run says what is wrong)."""
    import importlib
    import inspect
    entries, _, segment = _entries(res)
    bag_segment = _decode(segment)
    sources, rates, own, most = [], [], [], [float("inf")]
    for entry in entries:
        name = entry["class"]
        klass = getattr(importlib.import_module(CLASSES[name][0]), CLASSES[name][1])
        sig = inspect.signature(klass)
        kwargs = {k: v for k, v in _decode(entry.get("kwargs") or {}).items() if k in sig.parameters}
        bound = sig.bind(*_decode(entry.get("args") or []), **kwargs)
        bound.apply_defaults()
        seg, ht = bound.arguments["segment"], name == "HTDemucs"
        if bag_segment is not None and (not ht or bag_segment <= seg):     # as demucs's BagOfModels sets it
            seg = bag_segment
        sources.append(tuple(bound.arguments["sources"]))
        rates.append(int(bound.arguments["samplerate"]))
        own.append(float(seg))
        if ht:
            most.append(float(seg))
    if not entries:
        raise CheckpointError(f"checkpoint '{res.name}' lists no models")
    return Limits(sources[0], rates[0], min(own), min(most))


def save_folder(model, folder: Path | str, *, args: tuple = (), kwargs: dict[str, Any]) -> Path:
    """Write ``model`` (a demucs model built as ``klass(*args, **kwargs)``) as AudioChain's layout:
    ``config.json`` with its class and constructor arguments and ``model.safetensors``."""
    from safetensors.torch import save_file
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = type(model).__name__
    if name not in CLASSES:
        raise ParameterError(f"save_folder: {name} is not one of {', '.join(CLASSES)}")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    cfg = {"model_type": _MODEL_TYPE, "models": [{"class": name, "args": _encode(list(args)),
                                                  "kwargs": _encode(dict(kwargs)), "file": "model.safetensors"}],
           "weights": None, "segment": None}
    (folder / _CONFIG).write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------------------- separation
def plan(loaded: Loaded, frames: int, *, shifts: int, overlap: float, segment_s: float, seed: int) -> tuple[list[int], int]:
    """The random shift offsets (from ``seed``) and the number of model calls (segments) a
    separation of ``frames`` makes: the progress total."""
    max_shift = int(0.5 * loaded.sample_rate)
    rng = random.Random(int(seed))
    offsets = [rng.randint(0, max_shift) for _ in range(shifts)]
    seg = int(loaded.sample_rate * segment_s)
    stride = max(1, int((1 - overlap) * seg))
    lengths = [frames + max_shift - o for o in offsets] if shifts else [frames]
    calls = sum(len(range(0, n, stride)) for n in lengths) * len(loaded.bag.models)
    return offsets, calls


def separate(loaded: Loaded, mix: np.ndarray, *, shifts: int, overlap: float, segment_s: float, seed: int,
             progress: Callable[[int, int], None], check: Callable[[], None],
             final: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
    """Sources ``[n_sources, channels, frames]`` of ``mix`` (float32 ``[channels, frames]`` at the
    model's rate and channel count), as demucs's own ``separate`` does it: the mix normalised by
    its mono mean and deviation, cut into ``segment_s`` pieces overlapping by ``overlap`` and
    cross-faded with demucs's triangular weights (as ``demucs.apply.apply_model``), averaged over
    the bag's models (their per-source weights) and ``shifts`` random time shifts of up to 0.5 s
    drawn from ``random.Random(seed)`` (demucs draws them from the process-wide ``random``, which
    would make results depend on other code).

    Every model call goes through ``apply_model`` (padding to the model's length, trimming back);
    the segments of all passes (model x shift) run in the order of the output time they cover, so
    the output becomes final from the start on: ``final(start, sources)`` gets each finished
    stretch as soon as no later segment touches it (the stretches follow one another and make the
    whole).  ``check()`` runs before each segment and ``progress(done, total)`` after it; either
    may raise to stop within one segment."""
    import torch

    n_src = len(loaded.sources)
    if mix.shape[-1] == 0:
        return np.zeros((n_src, *mix.shape), np.float32)
    x = torch.tensor(np.asarray(mix, np.float32))[None]     # a copy: Audio's samples are read-only
    ref = x.mean(1)
    mean, std = float(ref.mean()), float(ref.std()) if x.shape[-1] > 1 else 0.0
    std = std if np.isfinite(std) and std > 1e-8 else 1.0
    x = (x - mean) / std
    frames = x.shape[-1]
    offsets, total = plan(loaded, frames, shifts=shifts, overlap=overlap, segment_s=segment_s, seed=seed)
    passes = _passes(loaded, x, offsets, segment_s, overlap)
    out = np.empty((n_src, x.shape[1], frames), np.float32)
    done, sent = 0, 0
    autocast = (torch.autocast(device_type=loaded.device.split(":")[0], dtype=devices.torch_dtype(loaded.dtype))
                if loaded.dtype != "float32" else torch.autocast(device_type="cpu", enabled=False))
    with torch.inference_mode(), autocast:
        while True:
            ready = min(p.final for p in passes)
            if ready > sent:
                out[..., sent:ready] = _combine(loaded, passes, sent, ready, len(offsets)) * std + mean / n_src
                if final is not None:
                    final(sent, out[..., sent:ready])
                sent = ready
            if sent >= frames:
                break
            step = min((p for p in passes if p.next < len(p.starts)), key=lambda p: p.final)
            check()
            step.run(loaded.device)
            done += 1
            progress(done, total)
    check()
    # demucs's own `separate` adds the mix's offset to every source, so they add up to it S times;
    # here each source gets 1/S of it, so a model whose sources add up to its input gives stems that do
    return out


class _Pass:
    """One model over one (shifted) copy of the mix, segment by segment: demucs's split loop
    (``apply_model(split=True)``) taken one segment at a time.  ``delay``: output frame ``f`` is
    this pass's frame ``f + delay``; :attr:`final` is the first output frame a later segment of
    this pass still changes."""

    def __init__(self, model: Any, mix: Any, channels: int, length: int, delay: int, frames: int, segment: float,
                 overlap: float):
        import torch

        self.model, self.mix, self.length, self.delay, self.frames, self.segment = model, mix, length, delay, frames, segment
        seg = int(model.samplerate * segment)
        self.seg, self.starts, self.next = seg, list(range(0, length, max(1, int((1 - overlap) * seg)))), 0
        weight = torch.cat([torch.arange(1, seg // 2 + 1), torch.arange(seg - seg // 2, 0, -1)])
        self.weight = (weight / weight.max()) ** 1.0      # apply_model's transition_power of 1
        self.acc = torch.zeros(1, len(model.sources), channels, length)
        self.sum = torch.zeros(length)

    @property
    def final(self) -> int:
        upto = self.starts[self.next] if self.next < len(self.starts) else self.length
        return max(0, min(self.frames, upto - self.delay))

    def run(self, device: str) -> None:
        from demucs.apply import TensorChunk, apply_model

        start = self.starts[self.next]
        chunk = apply_model(self.model, TensorChunk(self.mix, start, self.seg), shifts=0, split=False, device=device,
                            segment=self.segment)
        n = chunk.shape[-1]
        self.acc[..., start:start + self.seg] += (self.weight[:n] * chunk).to(self.acc.device)
        self.sum[start:start + self.seg] += self.weight[:n]
        self.next += 1

    def result(self, a: int, b: int) -> Any:
        """This pass's separation of output frames ``[a, b)`` (final ones)."""
        return self.acc[..., a + self.delay:b + self.delay] / self.sum[a + self.delay:b + self.delay]


def _passes(loaded: Loaded, x: Any, offsets: list[int], segment: float, overlap: float) -> list[_Pass]:
    """The passes of a separation: every model of the bag, over the mix or each shifted copy."""
    from demucs.apply import TensorChunk

    frames = x.shape[-1]
    copies: list[tuple[Any, int, int]] = [(x, frames, 0)]
    if offsets:
        max_shift = int(0.5 * loaded.sample_rate)
        padded = TensorChunk(x).padded(frames + 2 * max_shift)
        copies = [(TensorChunk(padded, o, frames + max_shift - o), frames + max_shift - o, max_shift - o) for o in offsets]
    passes = []
    for mix, length, delay in copies:
        passes.extend(_Pass(model, mix, x.shape[1], length, delay, frames, segment, overlap) for model in loaded.bag.models)
    return passes


def _combine(loaded: Loaded, passes: list[_Pass], a: int, b: int, shifts: int) -> np.ndarray:
    """Output frames ``[a, b)``: the bag's models weighted per source, averaged over the shifts,
    in demucs's order of operations (``apply_model`` for a bag, then the shifts' mean)."""
    models, weights = loaded.bag.models, loaded.bag.weights
    per_copy = len(models)
    out: Any = 0.0
    for c in range(0, len(passes), per_copy):
        estimates: Any = 0.0
        totals = [0.0] * len(loaded.sources)
        for p, model_weights in zip(passes[c:c + per_copy], weights):
            res = p.result(a, b).clone()
            for k, inst_weight in enumerate(model_weights):
                res[:, k, :, :] *= inst_weight
                totals[k] += inst_weight
            estimates = estimates + res
        for k in range(estimates.shape[1]):
            estimates[:, k, :, :] /= totals[k]
        out = out + estimates
    if shifts:
        out = out / shifts
    return out[0].float().numpy()
