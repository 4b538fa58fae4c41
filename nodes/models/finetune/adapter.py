"""LoRA adapters for MusicGen: which modules get one, the adapter file, and loading it onto a model.

An adapter is one safetensors file (``adapter_model.safetensors``) holding the LoRA weights
under peft's names; its header metadata carries the LoRA settings and the base checkpoint, so
the file alone is enough to use it.  ``audiochain finetune`` also writes peft's
``adapter_config.json`` beside it (so ``peft.PeftModel.from_pretrained`` loads the folder too)
and a ``manifest.json``.  Nothing here unpickles anything: configs are JSON, weights safetensors.

The adapter's identity is the content hash of its weights file (:func:`adapter_digest`, the same
digest the engine uses for input files): the model cache's key includes it, and a node's cache key
counts the adapter by the bytes of what it stands for (:func:`parts`), whether the graph names its
folder, its file or a copy.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

from .errors import AdapterError

__all__ = ["TARGETS", "DEFAULT_TARGETS", "target_regex", "Adapter", "read_adapter", "adapter_digest",
           "parts", "check_base", "with_adapter", "given_path", "label", "apply_lora", "ADAPTER_FILE", "CONFIG_FILE",
           "META_KEY", "nonfinite_problem"]

ADAPTER_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
META_KEY = "audiochain.lora"
FORMAT = "audiochain.lora/1"

_LAYER = r"decoder\.model\.decoder\.layers\.\d+\."
# Module groups of MusicGen's decoder (the T5 text encoder and EnCodec are never adapted).
TARGETS: dict[str, str] = {
    "self_attn": _LAYER + r"self_attn\.(q_proj|k_proj|v_proj|out_proj)",
    "cross_attn": _LAYER + r"encoder_attn\.(q_proj|k_proj|v_proj|out_proj)",
    "ffn": _LAYER + r"(fc1|fc2)",
    "heads": r"decoder\.lm_heads\.\d+",
}
ALIASES = {"attention": ("self_attn", "cross_attn"), "attn": ("self_attn", "cross_attn"),
           "feedforward": ("ffn",), "feed_forward": ("ffn",), "lm_heads": ("heads",)}
DEFAULT_TARGETS = ("self_attn", "cross_attn", "ffn", "heads")
_SAFE_CONFIG = ("r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "bias", "fan_in_fan_out")


def target_regex(targets: str | list[str] | tuple[str, ...] | None = None) -> str:
    """peft's ``target_modules`` regex for module groups (``self_attn``, ``cross_attn``, ``ffn``,
    ``heads``, or the aliases ``attention``, ``feedforward``) or ``re:REGEX`` for anything else.

    >>> target_regex(["heads"])
    '.*(?:decoder\\\\.lm_heads\\\\.\\\\d+)'
    """
    if targets is None:
        targets = DEFAULT_TARGETS
    if isinstance(targets, str):
        targets = [t for t in re.split(r"[,\s]+", targets) if t]
    parts: list[str] = []
    for t in targets:
        if t.startswith("re:"):
            try:
                re.compile(t[3:])
            except re.error as e:
                raise AdapterError(f"target_modules: {t!r} is not a valid regular expression ({e})") from None
            parts.append(t[3:])
            continue
        names = ALIASES.get(t, (t,))
        for n in names:
            if n not in TARGETS:
                raise AdapterError(f"target_modules: unknown module group {t!r}; use "
                                   f"{', '.join(list(TARGETS) + list(ALIASES))} or re:REGEX")
            if TARGETS[n] not in parts:
                parts.append(TARGETS[n])
    if not parts:
        raise AdapterError("target_modules is empty; name at least one module group, e.g. self_attn,ffn,heads")
    return ".*(?:" + "|".join(parts) + ")"


def decoder_layout(model) -> dict[str, int]:
    """What an adapter's shapes depend on."""
    d = model.config.decoder
    return {"hidden_size": int(d.hidden_size), "ffn_dim": int(d.ffn_dim), "num_hidden_layers": int(d.num_hidden_layers),
            "num_codebooks": int(d.num_codebooks), "vocab_size": int(d.vocab_size),
            "text_hidden_size": int(model.config.text_encoder.hidden_size)}


# peft reads transformers' deprecated ``is_gradient_checkpointing`` while wrapping a model: a two-line
# FutureWarning on every LoRA run and fine-tune, about two libraries' code, not the user's (QA)
warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)


def apply_lora(model, lora: dict[str, Any]):
    """``model`` wrapped by peft with LoRA layers from ``lora`` (plain settings: r, lora_alpha,
    lora_dropout, target_modules...).  A pattern matching no module is an :class:`AdapterError`."""
    from peft import LoraConfig, get_peft_model
    cfg = LoraConfig(**{k: v for k, v in lora.items() if k in _SAFE_CONFIG})
    try:
        return get_peft_model(model, cfg)
    except ValueError as e:
        if "not found" in str(e) or "target" in str(e).lower():
            raise AdapterError(f"target_modules {lora.get('target_modules')!r} match no layer of this model's "
                               f"decoder; use self_attn, cross_attn, ffn, heads or a regex that matches") from None
        raise


def lora_settings(peft_model) -> dict[str, Any]:
    cfg = peft_model.peft_config["default"]
    tm = cfg.target_modules
    return {"r": int(cfg.r), "lora_alpha": float(cfg.lora_alpha), "lora_dropout": float(cfg.lora_dropout),
            "target_modules": tm if isinstance(tm, str) else sorted(tm), "use_rslora": bool(cfg.use_rslora),
            "bias": str(cfg.bias)}


# ---------------------------------------------------------------------------------------- reading
@dataclasses.dataclass(frozen=True)
class Adapter:
    """An adapter file found on disk: its path, content digest, LoRA settings and base model."""
    path: Path
    digest: str
    lora: dict[str, Any]
    base: dict[str, Any]
    layout: dict[str, int] | None

    @property
    def name(self) -> str:
        """The name an output's ``adapter`` tag gives it (see :func:`label`)."""
        return label(self.path)


def label(path: Path) -> str:
    """What an output calls the adapter at ``path`` (its folder, or its file when not named
    ``adapter_model.safetensors``): the name as this run's graph gives it.  Not part of the adapter's
    identity (two copies are one adapter by content), so it is added per use, never cached with the
    model (QA72 M1: a file named the copy that first filled the cache)."""
    p = Path(os.path.abspath(path))
    return p.parent.name if p.name == ADAPTER_FILE else p.name


def given_path(value: str, base_dir: Path | None) -> Path:
    """The path a node's ``adapter`` value names (relative to ``base_dir``), as given: a folder or a file."""
    p = Path(str(value)).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(os.path.normpath(Path(base_dir) / p))     # said as a path, not 'g/../adapters/...'
    return p


def _file_of(value: str, base_dir: Path | None) -> Path:
    p = given_path(value, base_dir)
    step = p if p.is_dir() else p.parent
    if (step / "state.json").is_file() and (step / "state.safetensors").is_file():   # (QA52: "keep adapter_config
        final = step.parent.parent / ADAPTER_FILE                                    # .json beside it", never there)
        use = (f"use {final}" + ("" if final.is_file() else ", which finetune writes when the training ends (resume "
                                 "it to finish)")) if step.parent.name == "checkpoints" else \
            f"use the {ADAPTER_FILE} of the folder `audiochain finetune --out` wrote"     # (QA56: a copied step)
        raise AdapterError(f"adapter {p} is a training checkpoint (what `audiochain finetune --resume` goes on from), "
                           f"not an adapter; {use}")
    if p.is_dir():
        p = p / ADAPTER_FILE
        if not p.is_file():
            from .checkpoint import resume_hint
            hint = resume_hint(p.parent)           # (QA72 L5: an interrupted fine-tune's folder)
            raise AdapterError(f"adapter folder {p.parent} has no {ADAPTER_FILE}; " + (hint or (
                f"point at the folder `audiochain finetune --out` wrote, or at the .safetensors file itself")))
    elif not p.is_file():
        raise AdapterError(f"adapter {p} not found; give the folder `audiochain finetune --out` wrote "
                           f"or its {ADAPTER_FILE}")
    if p.suffix != ".safetensors":
        raise AdapterError(f"adapter {p} is not a .safetensors file; AudioChain loads adapters as safetensors "
                           "only (pickled .bin/.pt files can run code)")
    return p


def adapter_digest(path: Path) -> str:
    from nodeflow.cache import file_digest
    return file_digest(path)


_HEADERS: dict[Any, tuple[dict[str, str], list[str]]] = {}     # file stamp -> (metadata, tensor names)


def _header(path: Path) -> tuple[dict[str, str], list[str]]:
    """A safetensors file's metadata and tensor names (its header only; no tensor is read, no torch
    imported), memoised on its file stamp as file digests are: a plan's keys and a run's checks ask
    again and again.  Raises what safetensors raises for a damaged or foreign file."""
    from nodeflow.cache import file_stamp
    stamp = file_stamp(path)
    if stamp is not None and stamp in _HEADERS:
        return _HEADERS[stamp]
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as f:
        found = (dict(f.metadata() or {}), list(f.keys()))
    if stamp is not None:
        if len(_HEADERS) >= 256:
            _HEADERS.clear()
        _HEADERS[stamp] = found
    return found


def read_adapter(value: str, base_dir: Path | None = None) -> Adapter:
    """The adapter ``value`` names (its folder or its .safetensors file), checked but not loaded."""
    path = _file_of(value, base_dir)
    try:
        meta, keys = _header(path)
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file
        raise AdapterError(f"adapter {path} is not a readable safetensors file ({e}); re-run "
                           "`audiochain finetune` or copy the file again") from None
    if not keys or not all(".lora_" in k for k in keys):
        raise AdapterError(f"adapter {path} holds no LoRA weights (tensors like '...lora_A.weight'); "
                           "is it a LoRA adapter?")
    if META_KEY in meta:
        try:
            info = json.loads(meta[META_KEY])
            lora, base, layout = dict(info["lora"]), dict(info.get("base", {})), info.get("layout")
        except (ValueError, KeyError, TypeError) as e:
            raise AdapterError(f"adapter {path}: its header's {META_KEY} entry is malformed ({e})") from None
    else:  # a plain peft adapter folder
        cfg_file = path.parent / CONFIG_FILE
        try:
            cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise AdapterError(f"adapter {path} has no LoRA settings in its header and {cfg_file} is missing "
                               f"or not JSON ({e}); keep adapter_config.json beside it") from None
        if str(cfg.get("peft_type", "LORA")).upper() != "LORA":
            raise AdapterError(f"adapter {path} is a {cfg.get('peft_type')} adapter; only LoRA is supported")
        lora = {k: cfg[k] for k in _SAFE_CONFIG if k in cfg}
        base, layout = {"checkpoint": cfg.get("base_model_name_or_path") or "?"}, None
    if not isinstance(lora.get("r"), int) or not isinstance(lora.get("target_modules"), (str, list)):
        raise AdapterError(f"adapter {path}: LoRA settings lack a rank 'r' or 'target_modules'")
    return Adapter(path, adapter_digest(path), lora, base, layout)


def parts(path: Path) -> dict[str, Path]:
    """What an adapter path stands for, by role (``FilePath.content``: the node's cache key is their
    bytes, however the path is spelled): the weights file, and the adapter_config.json beside it where
    the weights' header carries no LoRA settings (a plain peft adapter); empty where no weights are
    found (the run says why).  Reads the file's header only; never raises."""
    try:
        weights = _file_of(str(path), None)
    except (AdapterError, OSError, ValueError):
        return {}
    found = {"weights": weights}
    config = weights.parent / CONFIG_FILE
    if config.is_file():
        try:
            own = META_KEY in _header(weights)[0]
        except Exception:  # noqa: BLE001 - a damaged file: the run refuses it in its words
            own = False
        if not own:
            found["settings"] = config
    return found


def same_weights(base: dict, folder: Path | None) -> bool:
    """Whether local checkpoint ``folder`` holds the weights ``base`` (an adapter's or a training
    checkpoint's record of its base) was trained on, by content (False where either is unknown)."""
    if not base.get("weights") or folder is None or not Path(folder).is_dir():
        return False
    from nodeflow.checkpoints import weights_digest     # what the adapter recorded: its base's model files
    model_only = str(base["weights"]).startswith("model-")       # (or, before QA52, every file of its folder)
    return weights_digest(Path(folder), model_only=model_only) == base["weights"]


def other_model_type(adapter: Adapter, have: str | None, checkpoint: str) -> str:
    """Why ``adapter`` does not go on a checkpoint whose model type is ``have`` ('' where it does, or where
    either type is unknown): the run's check and validate's (from the checkpoint's config.json)."""
    want = adapter.base.get("model_type")
    if not want or not have or want == have:
        return ""
    train = (f", or train one on this checkpoint (audiochain finetune --base {checkpoint})" if have == "musicgen"
             else "")              # (QA: the command offered for a MusicGen-Melody checkpoint was then refused)
    return (f"adapter {adapter.path} was trained on '{adapter.base.get('checkpoint', '?')}', a {want!r} model; "
            f"checkpoint '{checkpoint}' is a {have!r} model: use the adapter with its base{train}")


def check_base(adapter: Adapter, model_type: str | None, checkpoint: str, revision: str,
               folder: Path | None = None) -> None:
    """Refuse ``adapter`` on a model other than the one it was trained on.

    ``audiochain finetune`` records its base's model type and revision; an adapter on another
    model type (MusicGen's on MusicGen-Melody) or on other weights of the same shape (another
    revision, a fine-tuned copy) would be merged silently and change the music in ways nobody
    trained for.  Adapters made elsewhere record neither and are checked by shape only.  A local
    base's revision names its files' times too: where it differs, the folder's content is compared
    with the ``weights`` digest the adapter records (``folder``: the checkpoint's), so a copy of the
    base is its base."""
    base = adapter.base
    want = base.get("model_type")
    trained_on = f"'{base.get('checkpoint', '?')}'"
    if why := other_model_type(adapter, model_type, checkpoint):
        raise AdapterError(why)
    if want and base.get("revision") and base["revision"] != revision and not same_weights(base, folder):
        what = "other weights" if base.get("weights") or not str(revision).startswith("local-") else \
            ("other weights, or the same files with other times: this adapter, trained before adapters recorded their "
             "base's content, cannot tell")         # (QA: a copy of the base was said to hold other weights)
        raise AdapterError(f"adapter {adapter.path} was trained on {trained_on} revision {str(base['revision'])[:16]}; "
                           f"checkpoint '{checkpoint}' is revision {str(revision)[:16]} ({what}): use the "
                           "base it was trained on, or train an adapter on this checkpoint")


def nonfinite_said(path: Path, tensor: str) -> str:
    """The one line that refuses the adapter at ``path`` for NaN or infinite values in ``tensor``: the
    run's (:func:`_finite_weights`) and validate's (:func:`nonfinite_problem`)."""
    return (f"adapter {path} holds NaN or infinite weights (tensor {tensor}): its training diverged or the file "
            "is damaged; train it again (a lower --lr) or copy it again")


# The bits that make a value NaN or infinite, by safetensors dtype, for the floats numpy has no type
# for (bfloat16, float8): every exponent bit set (float8 e4m3fn has no infinity; NaN is S.1111.111).
_NONFINITE_BITS: dict[str, tuple[str, int]] = {"BF16": ("<u2", 0x7F80), "F8_E5M2": ("u1", 0x7C),
                                               "F8_E4M3": ("u1", 0x7F)}
_FLOATS = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}
_FINITE: dict[Any, str | None] = {}     # file stamp -> the first tensor with NaN or inf (None: none)


def nonfinite_tensor(path: Path) -> str | None:
    """The first tensor (by name) of the safetensors file ``path`` holding a NaN or infinite value,
    None where none does, or where the file cannot be read as safetensors (:func:`read_adapter` says
    why).  Reads the tensors with numpy through a memory map, no torch imported, memoised on the
    file's stamp (validate and the editor's preflight ask on every check): milliseconds for an adapter."""
    import mmap
    import numpy as np
    from nodeflow.cache import file_stamp
    stamp = file_stamp(path)
    if stamp is not None and stamp in _FINITE:
        return _FINITE[stamp]
    found: str | None = None
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            n = int.from_bytes(m[:8], "little")
            header = json.loads(m[8:8 + n])
            for name in sorted(k for k in header if k != "__metadata__"):
                dtype = header[name]["dtype"]
                begin, end = (8 + n + int(o) for o in header[name]["data_offsets"])
                kind = _FLOATS.get(dtype) or _NONFINITE_BITS.get(dtype, ("", 0))[0]
                if not kind:
                    continue            # integers, bools: always finite
                if not 8 + n <= begin <= end <= len(m):
                    raise ValueError(f"tensor {name}'s data lie outside the file")
                x = np.frombuffer(m, dtype=kind, count=(end - begin) // np.dtype(kind).itemsize, offset=begin)
                if dtype in _FLOATS:
                    bad = not bool(np.isfinite(x).all())
                else:
                    bits = _NONFINITE_BITS[dtype][1]
                    bad = bool(((x & bits) == bits).any())
                del x                   # (the map cannot close while a view of it lives)
                if bad:
                    found = name
                    break
    except (OSError, ValueError, KeyError, TypeError, IndexError, BufferError):
        return None                     # a damaged file: read_adapter, and the run, say so in their words
    if stamp is not None:
        if len(_FINITE) >= 256:
            _FINITE.clear()
        _FINITE[stamp] = found
    return found


def nonfinite_problem(adapter: Adapter) -> str:
    """Why the run would refuse ``adapter`` for NaN or infinite weights ('' where it would not): said by
    validate before the model is loaded (QA: validate said ok; the run refused at load, after the base)."""
    name = nonfinite_tensor(adapter.path)
    return "" if name is None else nonfinite_said(adapter.path, name)


def _finite_weights(adapter: Adapter) -> dict[str, Any]:
    """The adapter's tensors, refused where one holds NaN or infinite values (a diverged training, a
    damaged file): merged, they made every sampled token fail with torch's 'probability tensor contains
    either inf, nan or element < 0' (QA72 L3), naming neither the file nor the tensor.  Validate says
    the same line first (:func:`nonfinite_problem`)."""
    import torch
    from safetensors.torch import load_file
    weights = load_file(str(adapter.path), device="cpu")
    for name in sorted(weights):
        t = weights[name]
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise AdapterError(nonfinite_said(adapter.path, name))
    return weights


def _misfit(adapter: Adapter, peft_model, weights: dict[str, Any], checkpoint: str) -> str:
    """Why ``weights`` do not go into ``peft_model`` (the checkpoint with the adapter's LoRA settings),
    by the first tensor whose shape differs: '' where all fit.  torch's own message was cut to its
    heading ('Error(s) in loading state_dict for PeftModel:') and sent the user to the checkpoint
    already in use (QA72 L2).  Where the adapter records its base's layout (checked first) and it
    matches, the file disagrees with its own settings: it is damaged, not on the wrong base."""
    have = {k.replace(".default.", "."): tuple(v.shape) for k, v in peft_model.state_dict().items() if ".lora_" in k}
    bad = next(((k, tuple(t.shape), have[k]) for k, t in weights.items() if k in have and tuple(t.shape) != have[k]),
               None)
    if bad is None:
        return ""
    name, got, need = bad
    trained = adapter.base.get("checkpoint", "?")
    said = (f"adapter {adapter.path} does not fit checkpoint '{checkpoint}': its tensor {name} is {list(got)}, the "
            f"layer with its settings (rank {adapter.lora.get('r')}) needs {list(need)}; ")
    if adapter.layout is not None:
        return said + ("it records the decoder of this checkpoint, so the file itself is damaged or edited: copy it "
                       "again or re-run `audiochain finetune`")
    if trained not in ("?", checkpoint):
        return said + f"it was trained on '{trained}': use that checkpoint, or train an adapter for this one"
    return said + (f"it was trained on another checkpoint: use that one, or train an adapter for this one "
                   f"(audiochain finetune --base {checkpoint})")


def with_adapter(loaded, adapter: Adapter):
    """``loaded`` (a :class:`nodes.models.layer.Loaded` MusicGen) with ``adapter`` merged into its
    decoder weights; the result is an ordinary transformers model again.  What its content fixes
    (digest, base) goes to ``loaded.extra['info']`` for the output audio's metadata; the adapter's
    name is the using run's (:meth:`Family.using` adds it), as the loaded model is shared by copies."""
    import torch
    from peft import set_peft_model_state_dict
    model = loaded.model
    check_base(adapter, getattr(model.config, "model_type", None), loaded.checkpoint, loaded.revision,
               loaded.path)                                         # first: another model type has
    if adapter.layout is not None:                                  # no decoder to compare (QA: AttributeError)
        have = decoder_layout(model)
        diff = {k: (v, have.get(k)) for k, v in adapter.layout.items() if have.get(k) != v}
        if diff:
            what = ", ".join(f"{k} {a} vs {b}" for k, (a, b) in diff.items())
            raise AdapterError(f"adapter {adapter.path} was trained on {adapter.base.get('checkpoint', '?')}, whose "
                               f"decoder differs from checkpoint '{loaded.checkpoint}' ({what}); use that base "
                               "checkpoint or train an adapter for this one")
    weights = _finite_weights(adapter)
    dtype = next(model.parameters()).dtype
    peft_model = apply_lora(model, adapter.lora)
    if why := _misfit(adapter, peft_model, weights, loaded.checkpoint):
        raise AdapterError(why)
    result = set_peft_model_state_dict(peft_model, weights)
    unexpected = [k for k in getattr(result, "unexpected_keys", []) if ".lora_" in k]
    missing = [k for k in getattr(result, "missing_keys", []) if ".lora_" in k]
    if missing:
        raise AdapterError(f"adapter {adapter.path} lacks weights its settings call for (e.g. {missing[0]}); "
                           "the file is incomplete: copy it again or re-run `audiochain finetune`")
    if unexpected:
        raise AdapterError(f"adapter {adapter.path} has weights for layers checkpoint '{loaded.checkpoint}' lacks "
                           f"(e.g. {unexpected[0]}); use the base checkpoint it was trained on")
    with torch.no_grad():
        merged = peft_model.merge_and_unload()
    merged.to(dtype).eval()
    loaded.model = merged
    base = f"{adapter.base.get('checkpoint', '?')}@{adapter.base.get('revision', '?')}"
    loaded.extra["info"] = {"adapter_digest": adapter.digest, "adapter_base": base}
    loaded.extra["adapter"] = adapter
    return loaded
