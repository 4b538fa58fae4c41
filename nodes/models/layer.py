"""The public model layer: how a model family is declared, loaded and run (built-in or plug-in).

A family is declared in one module with :class:`Family` and :func:`register`; its nodes use the
family's :meth:`Family.node` decorator (device/precision choice in cache keys, preflight marks in
the editor) and :meth:`Family.using` (load once through the process-wide model cache, on a device
at a precision, optionally with a LoRA adapter, locked while a node generates).  Once registered,
``audiochain models list|pull|info|rm``, the editor's preflight, bundles (adapters are packed:
declare the parameter as :data:`AdapterPath`) and the model cache work for the family with no
further code.  A plug-in node pack (entry point ``audiochain.nodes``) uses exactly these names.

Everything here is importable without torch; torch, transformers and diffusers are imported when
a model is loaded or run.

Declaring a family (transformers layout; ``model_class`` is a transformers class name, or
``"diffusers.SomePipeline"`` for the diffusers layout with ``pipelines=``)::

    from nodes.models.layer import Device, Family, ModelProfile, Precision, register, seeded

    def time_base(config, generation):        # read from the checkpoint's own config.json
        return ModelProfile("speech", config["sampling_rate"], 86, 4096)

    SPEECH = register(Family("speech", model_types=("vits",), model_class="VitsModel", time_base=time_base))

    @SPEECH.node("models.speech", category="models", version=1)
    def speech(*, text: str = "hello", checkpoint: str = "org/model", seed: int = 0,
               device: Device = Device.AUTO, precision: Precision = Precision.AUTO, ctx: Context) -> Audio:
        with SPEECH.using(checkpoint, ctx, device, precision) as loaded, seeded(seed, loaded.device):
            ...

The README's "Add a model" section is a complete worked example.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import importlib.metadata
import json
import threading
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Mapping

import numpy as np

from nodeflow import checkpoints, devices, families
from nodeflow.audio import Audio
from nodeflow.checkpoints import Resolved as Checkpoint
from nodeflow.errors import ParameterError
from nodeflow.families import FamilySpec
from nodeflow.modelcache import ModelKey, default_cache
from nodeflow.node import Context, NodeSpec, node
from nodeflow.timebase import ModelProfile, profile_from_rates
from nodeflow.types import ChoiceEnum, FilePath

from ._sampling import sampler, seeded, step_criterion, step_progress
from ._preflight import checkpoint_preflight, class_problems
from .placement import place, placed_like, placement

__all__ = ["Family", "register", "family", "families_registered", "Loaded", "Checkpoint", "Device", "Precision",
           "AdapterPath", "ParamCheck", "ModelProfile", "profile_from_rates", "pretrained", "read_json", "config_value",
           "seeded", "sampler",
           "step_criterion", "step_progress", "to_model_audio", "estimate_token_decode", "loading",
           "placed_like", "placement", "place", "source_tags", "quiet_transformers"]


#: A node's check of its parameters against the checkpoint's configuration (see :meth:`Family.node`).
ParamCheck = Callable[[dict[str, Any], Checkpoint], None]


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


def _adapter_parts(path: Path) -> dict[str, Path]:
    from .finetune.adapter import parts
    return parts(path)


#: The type of a node's ``adapter`` parameter: a LoRA adapter from ``audiochain finetune`` (its folder
#: or ``adapter_model.safetensors``); bundles pack it, the editor offers a file picker.  It counts in
#: cache keys by the bytes of its weights (and settings), whichever of the two the graph names.
AdapterPath = Annotated[str, FilePath(mode="read", exts=(".safetensors",), folder=True, content=_adapter_parts)]


@dataclasses.dataclass(eq=False)
class Loaded:
    """A loaded checkpoint: the model, its tokenizer or processor, its time base and where it came from.

    ``lock`` is held by whoever runs the model (:meth:`Family.using`): one loaded model, on one
    device in one dtype, is never used by two threads at once; other models and devices run
    concurrently.  ``extra`` holds what a family's loader reads besides (voices, feature settings)."""
    model: Any
    tokenizer: Any
    profile: Any            # ModelProfile, or None for a family without a time base
    checkpoint: str
    revision: str
    path: Path
    device: str
    dtype: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    lock: Any = dataclasses.field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def processor(self) -> Any:
        return self.tokenizer

    def tags(self) -> dict[str, str]:
        """What an output says about where it came from (see :func:`source_tags`)."""
        return source_tags(self.checkpoint, self.revision, self.path)


def source_tags(checkpoint: str, revision: str, path: Path) -> dict[str, str]:
    """What an output says about the checkpoint it came from: a hub checkpoint by its id, a local one
    by its folder's name and digest, never a path (QA: a render's iXML said '../ckpt/<folder>', as
    typed; QA57: Demucs, with its own loader, still did)."""
    local = revision.startswith("local-")
    return {"checkpoint": Path(path).name if local else checkpoint, "revision": revision}


def read_json(path: Path) -> dict:
    """A JSON object from ``path`` ({} when missing or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def config_value(ck: Checkpoint, key: str, config_class: str) -> Any:
    """``key`` of the checkpoint's config.json; where it is missing, the default that the run's
    configuration class (``"EncodecConfig"``) gives it, so that a check reads what the run reads."""
    config = read_json(ck.path / "config.json")
    return config[key] if key in config else getattr(_class(config_class)(), key)


def _class(name: str) -> Any:
    """``"VitsModel"`` (transformers) or ``"diffusers.StableAudioPipeline"`` / ``"pkg.mod.Class"``."""
    mod, _, cls = name.rpartition(".")
    return getattr(importlib.import_module(mod or "transformers"), cls)


def pretrained(model_class: str | Any, checkpoint: Checkpoint, device: str, dtype: str, **kwargs: Any) -> Any:
    """``model_class.from_pretrained`` on the checkpoint's folder: local files only, safetensors only,
    in ``dtype`` on ``device``, in eval mode (a diffusers pipeline is moved to the device).  Weights
    that do not fit the checkpoint's ``config.json``, or that cannot be read, are one
    :class:`~nodeflow.checkpoints.CheckpointError` naming the checkpoint (transformers' own report of
    the load, dozens of lines, is not printed)."""
    from ._loaderrors import load_error, missing_weights, tells_what_loaded
    with quiet_transformers():
        cls = _class(model_class) if isinstance(model_class, str) else model_class     # (its module imported here)
        told = tells_what_loaded(cls)
        try:
            model = cls.from_pretrained(str(checkpoint.path), local_files_only=True, use_safetensors=True,
                                        **{("torch_dtype" if "diffusers" in cls.__module__ else "dtype"):
                                           devices.torch_dtype(dtype)}, **({"output_loading_info": True} if told
                                                                          else {}), **kwargs)
        except Exception as e:   # noqa: BLE001 - said in the user's terms where known, else as it was
            raise load_error(checkpoint, e) from e
    if told:
        model, info = model
        if (refused := missing_weights(checkpoint, cls, info)) is not None:     # (QA93 D1: noise or NaN)
            raise refused
    model = model.to(device)
    return model.eval() if hasattr(model, "eval") else model


def tokenizer(checkpoint: Checkpoint, class_name: str = "AutoTokenizer") -> Any:
    """The checkpoint's tokenizer (or processor, ``class_name``), refused in one line when the folder
    holds no vocabulary: transformers then builds an empty one, and every word of a prompt would be
    read as ``<unk>`` (QA: two prompts rendered the same music, and the run said nothing)."""
    from nodeflow.checkpoints import require_tokenizer
    require_tokenizer(checkpoint.name, checkpoint.path)
    with quiet_transformers():
        return _class(class_name).from_pretrained(str(checkpoint.path), local_files_only=True)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' warnings and load reports off while a checkpoint loads (loads are one at a time:
    :func:`loading`), or while a family calls into transformers: the real musicgen-small config alone
    printed three 'may result in unexpected behavior' lines on every run, and a mismatched config a
    30-line table before the error."""
    import logging
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    # transformers' model modules ask the `kernels` package for hub flash-attention kernels as they are
    # imported; offline it says "Skipping publisher trust check ..." three times (QA49 D8)
    kernels, kernels_level = logging.getLogger("kernels"), logging.getLogger("kernels").level
    before, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()           # ("Loading weights: 100%|####| 193/193" on every run)
    kernels.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)
        kernels.setLevel(kernels_level)
        if bars:
            hf_logging.enable_progress_bar()


@functools.lru_cache(maxsize=None)
def _version(pkg: str) -> str:
    """An installed package's version, read once per process (importlib.metadata scans every
    distribution: ~1-2 ms a package, on every run of a model node)."""
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _placement(device_param: Any, precision: Any, ctx: Any, auto_dtype: str = "") -> tuple[str, str]:
    device = devices.pick_device(device_param, getattr(ctx, "device", "auto"))
    if auto_dtype and str(getattr(precision, "value", precision) or "auto") == "auto":
        precision = auto_dtype
    return device, devices.resolve_dtype(precision, device)


@contextlib.contextmanager
def _threads_for(device: str) -> Iterator[None]:
    if device != "cpu":
        yield
        return
    with devices.torch_threads(devices.generation_threads()):
        yield


@dataclasses.dataclass(frozen=True, eq=False)
class Family(FamilySpec):
    """A model family: the checkpoints it accepts, its time base and how it loads.

    Parameters
    ----------
    name : str
        Registry key (an identifier), the model cache's kind and what ``profile=NAME`` names.
    model_types : tuple of str
        ``config.json`` ``model_type`` values accepted (transformers layout).
    pipelines : tuple of str
        ``model_index.json`` ``_class_name`` values accepted (diffusers layout).
    layout : callable, optional
        ``layout(folder) -> None | why not``: the family's own check, for checkpoints in neither layout.
    time_base : callable, optional
        ``time_base(config, generation) -> ModelProfile`` from the checkpoint's ``config.json`` (for
        the diffusers layout ``model_index.json`` with each component's config under its name) and
        ``generation_config.json``.
    nominal : ModelProfile, optional
        The time base of the family's usual checkpoints, for graphs naming the family as a profile.
    packages : tuple of str
        Python packages the family needs (checked before loading and in preflight).
    extra : str
        The pip extra that installs ``packages`` (the message when one is missing names it).
    describe : callable, optional
        ``describe(folder) -> dict``: extra lines for ``audiochain models info``.
    example : str
        A checkpoint of the family (hub id) that messages suggest.
    model_class : str
        Class loaded by the default loader (``"VitsModel"``, ``"diffusers.StableAudioPipeline"``).
    processor : str
        Tokenizer/processor class loaded beside it (``"AutoTokenizer"``; ``""`` for none).
    tokenizer : bool, optional
        Whether the checkpoint must hold a tokenizer's vocabulary (checked before a run, and by
        ``validate``); default: with a ``processor`` and the default loader.
    load : callable, optional
        ``load(checkpoint, device, dtype) -> Loaded``, replacing the default loader.
    auto_dtype : str
        What ``precision=auto`` means: ``""`` float16 on CUDA and float32 elsewhere, or a dtype
        name (``"float32"`` for a model that loses accuracy in half precision).

    A node's parameters that only the checkpoint's configuration can refuse (a bit rate, a
    language, a stride past the window) are checked by ``validate`` through :meth:`node`'s ``check``.
    """
    model_class: str = ""
    processor: str = "AutoTokenizer"
    load: Callable[[Checkpoint, str, str], Any] | None = None
    auto_dtype: str = ""
    tokenizer: bool | None = None

    @property
    def needs_tokenizer(self) -> bool:
        return bool(self.processor) and self.load is None if self.tokenizer is None else self.tokenizer

    # ------------------------------------------------------------------ loading
    def read_profile(self, path: Path) -> ModelProfile | None:
        """The time base of the checkpoint folder ``path``, from its own configuration."""
        config = families.read_config(path)
        return self.profile_of(config, read_json(Path(path) / "generation_config.json")) if config else None

    def loaded_profile(self, model: Any) -> ModelProfile:
        """The time base of a *loaded* transformers model, from its own config, named after the family."""
        gen = getattr(model, "generation_config", None)
        prof = self.profile_of(model.config.to_dict(), gen.to_dict() if gen is not None else {})
        if prof is None:
            raise ParameterError(f"model family '{self.name}' declares no time base (time_base=)")
        return dataclasses.replace(prof, name=self.name)

    def _load(self, ck: Checkpoint, device: str, dtype: str) -> Any:
        with _LOAD_LOCK:        # one load at a time in the process (see _LOAD_LOCK)
            return self._load_unlocked(ck, device, dtype)

    def _load_unlocked(self, ck: Checkpoint, device: str, dtype: str) -> Any:
        if self.load is not None:
            return self.load(ck, device, dtype)
        if not self.model_class:
            raise ParameterError(f"model family '{self.name}' declares neither model_class nor load")
        said = class_problems(self)
        if said:
            raise ParameterError(said[0])
        model = pretrained(self.model_class, ck, device, dtype)
        tok = tokenizer(ck, self.processor) if self.processor else None
        return Loaded(model, tok, self.read_profile(ck.path), ck.name, ck.revision, ck.path, device, dtype)

    def resolve(self, checkpoint: str, base_dir: Path | None, download: bool | None = None) -> Checkpoint:
        """The checkpoint's local folder and revision, checked to be one of this family's."""
        checkpoints.require_model_packages(self.packages, self.extra)
        return checkpoints.resolve(checkpoint, base_dir=base_dir, download=download, family=self)

    @contextlib.contextmanager
    def using(self, checkpoint: str, ctx: Context, device: Any = "auto", precision: Any = "auto",
              adapter: str = "", who: str = "this node") -> Iterator[Any]:
        """The loaded checkpoint from the process-wide model cache, pinned and locked while used.

        A checkpoint of another family is one :class:`ParameterError` naming what it is and what
        ``who`` needs.  With ``adapter`` (a LoRA adapter from ``audiochain finetune``) the adapted
        model is its own cache entry, keyed by the adapter's content digest, shared by copies of the
        adapter; what is yielded is a view of it whose ``info`` names the adapter as this use gives it."""
        checkpoints.require_model_packages(self.packages, self.extra)
        res = checkpoints.resolve(checkpoint, base_dir=ctx.base_dir, family=self, who=who)
        dev, dtype = _placement(device, precision, ctx, self.auto_dtype)
        key = ModelKey(self.name, str(res.path), res.revision, dev, dtype)
        loader: Callable[[], Any] = lambda: self._load(res, dev, dtype)
        if adapter:
            if dtype == "int8":
                raise ParameterError("precision=int8 cannot carry a LoRA adapter (its weights are merged into float "
                                     "weights); use float32 or bfloat16 with adapter=")
            from .finetune.adapter import read_adapter, with_adapter
            lora = read_adapter(adapter, ctx.base_dir)
            key = dataclasses.replace(key, kind=f"{self.name}+lora", revision=f"{res.revision}+{lora.digest}")
            loader = lambda: _locked(lambda: with_adapter(self._load(res, dev, dtype), lora))
        with default_cache().use(key, loader) as loaded, getattr(loaded, "lock", contextlib.nullcontext()), \
                _threads_for(dev):
            if adapter:         # (QA72 M1: the name of the copy that loaded it first)
                info = dict(loaded.extra.get("info", {}), adapter=lora.name)
                loaded = dataclasses.replace(loaded, extra=dict(loaded.extra, info=info))
            yield loaded

    # ------------------------------------------------------------------ what nodes declare
    def fingerprint(self, params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        """Cache-key data the parameters do not pin down (see :func:`model_fingerprint`)."""
        return model_fingerprint(params, ctx, self.packages, self.auto_dtype)

    def preflight(self, params: dict[str, Any], base_dir: Path, check: ParamCheck | None = None) -> list[str]:
        """What this machine lacks to run the node, and what ``check`` refuses in its parameters
        (see :func:`checkpoint_preflight`)."""
        return checkpoint_preflight(params, base_dir, self, check)

    def node(self, type_id: str, *, check: ParamCheck | None = None, checkpoints: Mapping[str, Family] | None = None,
             **kwargs: Any) -> Callable[[Callable[..., Any]], NodeSpec]:
        """``@node(type_id, ...)`` with this family's ``fingerprint`` and ``preflight``.

        ``checkpoints={"vocoder": VOCODER}``: the node's other parameters that name a checkpoint, each
        with its family (a vocoder, a feature extractor from another repository).  Each counts in the
        cache key by its revision (a local folder by its content), is checked by ``validate`` and the
        editor as ``checkpoint`` is (by its family's checks), and is rebased with the graph's file and
        set beside an unpacked bundle (see :attr:`~nodeflow.node.NodeSpec.checkpoint_params`).

        ``check(params, checkpoint)``: what the run refuses in the node's parameters once it has read
        the checkpoint's own configuration (a bit rate, a language, a window the checkpoint does not
        have), raised as the run raises it (:class:`ParameterError`, by the very function the run
        calls), so that ``validate`` and the editor say it in the run's words before any model loads.
        It is called with the checkpoint resolved on this machine (:class:`Checkpoint`: its ``name``
        as the graph gives it, its folder ``path``); it reads the configuration from the folder and
        returns quietly when it cannot (the run, or the checkpoint checks, say why)."""
        fingerprint: Callable[[dict[str, Any], Any], Any] = kwargs.pop("fingerprint", self.fingerprint)
        preflight: Callable[[dict[str, Any], Path], list[str]] | None = kwargs.pop(
            "preflight", functools.partial(self.preflight, check=check) if check else self.preflight)
        from ._more_checkpoints import declared, more_fingerprints, more_preflights
        more = declared(type_id, checkpoints, Family)
        if more:               # a node's own fingerprint or preflight counts them too (QA87 D2)
            fingerprint = functools.partial(more_fingerprints, fingerprint, more)
            preflight = functools.partial(more_preflights, preflight, more)
        return node(type_id, fingerprint=fingerprint, preflight=preflight, checkpoints=tuple(more), **kwargs)


def model_fingerprint(params: dict[str, Any], ctx: Any, packages: tuple[str, ...] = checkpoints.MODEL_PACKAGES,
                      auto_dtype: str = "") -> dict[str, Any]:
    """Cache-key data the parameters do not pin down: the checkpoint's resolved revision, the
    device and dtype it will run on (``auto_dtype``: see :class:`Family`), and the versions of
    the ``packages`` that do the maths."""
    fp: dict[str, Any] = checkpoints.fingerprint(params.get("checkpoint", ""), getattr(ctx, "base_dir", None))
    try:
        fp["device"], fp["dtype"] = _placement(params.get("device", "auto"), params.get("precision", "auto"), ctx,
                                               auto_dtype)
    except Exception as e:  # noqa: BLE001 - an unavailable device fails with its message when the node runs
        fp["device"] = f"unavailable:{e}"
    for pkg in packages:
        if pkg != "huggingface_hub":
            fp[pkg] = _version(pkg)
    if params.get("adapter"):     # the adapter itself counts as an input, by content (AdapterPath);
        from .finetune.adapter import given_path, label    # its name, which the output's tags say,
        fp["peft"] = _version("peft")                        # as this graph gives it (QA72 M1)
        fp["adapter_name"] = label(given_path(str(params["adapter"]), getattr(ctx, "base_dir", None)))
    return fp


def register(fam: Family) -> Family:
    """Register ``fam`` (at import of its module) and return it; see :mod:`nodeflow.families`."""
    return families.register(fam)


def family(name: str) -> Family:
    """The registered family ``name`` (loading installed node packs if needed)."""
    return families.get(name)


def families_registered() -> list[Family]:
    """Every registered family, by name."""
    return families.families()


# ---------------------------------------------------------------------------------------- loading
# Loading is one at a time in the process (generation still runs side by side): transformers'
# from_pretrained is not thread-safe across models (its lazy module gave "module 'transformers' has
# no attribute 'AutoTokenizer'", and a MusicGen loaded beside a CLAP kept weights on the meta device:
# "Cannot copy out of meta tensor"; QA, 6 of 6 with transformers alone).  Reentrant: an adapter's
# load loads its base.
_LOAD_LOCK = threading.RLock()


def loading() -> threading.RLock:
    """The process-wide lock every model load takes (``with loading(): ...from_pretrained(...)``):
    code that loads a model outside :meth:`Family.using` (fine-tuning's base model) takes it too."""
    return _LOAD_LOCK


def _locked(load: Callable[[], Any]) -> Any:
    with _LOAD_LOCK:
        return load()


# ---------------------------------------------------------------------------------------- audio
def to_model_audio(audio: Audio, sample_rate: int, channels: int) -> np.ndarray:
    """``audio`` as float32 ``[channels, frames]`` at the model's rate: resampled by the node
    library's one resampler (soxr HQ; a window in the context of its ends), downmixed to mono by
    averaging, mono duplicated for stereo models.  The array is the caller's own (writable: QA93 D5,
    ``torch.from_numpy`` of an Audio's read-only samples warned in the middle of a run's output)."""
    x = audio.samples
    if x.shape[0] != channels:
        mono = x.mean(axis=0, keepdims=True)
        x = mono if channels == 1 else np.repeat(mono, channels, axis=0)
    if audio.sample_rate != sample_rate:
        from nodes.dsp._conform import resample_audio
        x = resample_audio(audio.replace(np.ascontiguousarray(x, np.float32)), sample_rate).samples
    return np.require(x, dtype=np.float32, requirements=("C", "W"))


def estimate_token_decode(inputs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A codec decoder's cost estimate (``estimate=`` of a family's node): the audio has the shape
    the ``tokens`` input's estimate carries; about 0.05 s of work per second, plus a second."""
    from nodeflow.costs import Shape
    t = inputs.get("tokens")
    if t is None or not t.rate:
        return {}
    return {"out": Shape(t.frames, t.channels, t.rate, work_s=0.05 * t.seconds + 1.0)}
