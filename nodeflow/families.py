"""The registry of model families: the engine's only knowledge of models is what families declare.

A *family* is a kind of model (one architecture and the way to run it).  Node packs declare
families (the public way is :class:`nodes.models.layer.Family`; any object with the fields of
:class:`FamilySpec` registers) and :func:`register` them when their module is imported.  The
engine then serves every registered family the same way, with no code of its own per family:

* which checkpoint folders a family accepts (:meth:`FamilySpec.problem`): the transformers layout
  (``config.json`` whose ``model_type`` is one of ``model_types``), the diffusers layout
  (``model_index.json`` whose ``_class_name`` is one of ``pipelines``), or the family's own
  ``layout`` check (a function of the folder, for checkpoints with neither file; the hub cache, a
  download, ``audiochain models pull``, the offline message and a local folder's fingerprint are
  the same for every layout); safetensors weights only, always;
* the Python packages it needs (``packages``) and the pip ``extra`` that installs them;
* its time base (sample rate, tokens per second, context window) read from the checkpoint's own
  configuration (``time_base(config, generation)``), and a ``nominal`` one that graphs may name
  (a tokenize-window node with ``profile=NAME``; :func:`profile`);
* ``audiochain models list|info`` (:func:`for_folder`), the editor's preflight marks and bundle
  packing (through the family's nodes).

Node types the engine needs a default for (the scorer of ``audiochain tune``) are declared by the
node pack with :func:`declare_default`, never named here.

>>> from nodeflow.timebase import ModelProfile
>>> fam = FamilySpec("demo_codec", model_types=("demo_codec",),
...                  nominal=ModelProfile("demo_codec", 24000, 75, 1125))
>>> register(fam) is fam, get("demo_codec").nominal.hop
(True, Fraction(320, 1))
>>> fam.problem({"model_type": "other"}, None)
"is an 'other' model; this node needs a 'demo_codec' checkpoint"
>>> unregister("demo_codec")
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from .checkpoints import MODEL_PACKAGES
from .errors import DefinitionError, ParameterError
from .timebase import ModelProfile

__all__ = ["FamilySpec", "register", "unregister", "get", "families", "for_folder", "all_for_folder", "profile", "profile_names",
           "profile_from_config", "read_config", "declare_default", "default_for", "MODEL_PACKAGES"]

TimeBase = Callable[[dict[str, Any], dict[str, Any]], "ModelProfile | None"]


@dataclasses.dataclass(frozen=True)
class FamilySpec:
    """What the engine knows of a model family (see the module docstring for each field's use)."""
    name: str
    model_types: tuple[str, ...] = ()
    pipelines: tuple[str, ...] = ()
    layout: Callable[[Path], str | None] | None = None   # own check: None when usable, else why not
    time_base: TimeBase | None = None
    nominal: ModelProfile | None = None
    packages: tuple[str, ...] = MODEL_PACKAGES
    extra: str = "models"                 # the pip extra that installs ``packages`` (named when one is missing)
    describe: Callable[[Path], dict[str, Any]] | None = None   # extra `models info` lines
    example: str = ""                     # a checkpoint messages suggest, e.g. "org/model"

    def problem(self, config: dict[str, Any] | None, path: Path | None, who: str = "this node") -> str | None:
        """Why the checkpoint (its :func:`read_config`, and its folder for a ``layout`` check) is not
        one of this family's, or None when it is; ``who`` names the node in the message."""
        if config is None or not (self.model_types or self.pipelines):
            if self.layout is not None and path is not None:
                return self.layout(path)
            if config is None:
                odd = [n for n in ("config.json", "model_index.json")
                       if path is not None and os.path.lexists(path / n) and not (path / n).is_file()]
                if odd:     # (QA49 D7: a FIFO named config.json was "has no config.json")
                    return (f"has a {odd[0]} that is not a regular file (a folder, FIFO, device or socket); "
                            f"restore the checkpoint's own {odd[0]}")
                return "has no config.json (transformers layout) or model_index.json (diffusers layout)"
        config = config or {}
        found = config.get("model_type") if "_class_name" not in config else config["_class_name"]
        wanted = self.pipelines if "_class_name" in config else self.model_types
        if found in wanted:
            return _missing_component(config, path) if "_class_name" in config else None
        want = " or ".join(repr(w) for w in (self.model_types + self.pipelines)) or repr(self.name)
        if not isinstance(found, str):      # (QA57: a config.json that is a list was "a None model")
            return f"has a config.json without a model_type; {who} needs {_a(want)} {want} checkpoint"
        return f"is {_a(found)} {found!r} model; {who} needs {_a(want)} {want} checkpoint"

    def profile_of(self, config: dict[str, Any], generation: dict[str, Any] | None = None) -> ModelProfile | None:
        """The time base of a checkpoint from its configuration; None for a family without one."""
        if self.time_base is None:
            return None
        try:
            return self.time_base(config, generation or {})
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
            why = f"it has no {e.args[0]!r}" if isinstance(e, KeyError) and e.args else f"{type(e).__name__}: {e}"
            file = config.get("_file", "config.json") if isinstance(config, dict) else "config.json"
            raise ParameterError(f"model family '{self.name}' cannot read its time base from this checkpoint's "
                                 f"{file} ({why}); restore the checkpoint's own {file}, or use a checkpoint of family "
                                 f"'{self.name}' (where the {file} is the checkpoint's own, the family's time_base "
                                 "must give what it leaves out the default the model gives it)") from None


_families: dict[str, Any] = {}
_defaults: dict[str, str] = {}
_owners: dict[str, str] = {}      # family name -> the node pack that registered it, while loading one
_pack = ""                        # the node pack loading now (see :func:`loading`)
_lock = threading.Lock()


def _missing_component(index: dict[str, Any], path: Path | None) -> str | None:
    """Why a diffusers-layout checkpoint (its ``model_index.json``) lacks a component it names (a
    folder per component: ``vae/``...), or None (QA57: a copy without ``vae/`` passed validate and the
    run said diffusers' "no file named config.json found in directory <the checkpoint>")."""
    if path is None or not (Path(path) / "model_index.json").is_file():
        return None             # one model's own config.json (no components)
    for comp, what in index.items():
        folder = Path(path) / comp
        if isinstance(what, dict) and not comp.startswith("_") and not next(folder.glob("*.safetensors"), None):
            return (f"lacks the weights of its '{comp}' component: {comp}/ has its config.json and no "
                    ".safetensors file; download the whole checkpoint again (audiochain models pull)")
        if comp.startswith("_") or not (isinstance(what, list) and len(what) == 2 and all(
                isinstance(w, str) for w in what)):
            continue    # a setting, a component it does without ([null, null]), or one whose config.json was read
        if not any(next(folder.glob(pattern), None) for pattern in ("*.json", "*.model", "*.txt")):
            return (f"lacks its '{comp}' component: model_index.json names it, and {comp}/ "
                    f"{'has none of its files' if folder.is_dir() else 'is not there'}; "
                    "download the whole checkpoint again (audiochain models pull), or copy its folder whole")
    return None


def _a(word: str) -> str:
    """The article before ``word`` (quoted or not): "an 'apple'", "a 'pear'"."""
    return "an" if word.strip("'\"")[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def register(family: Any) -> Any:
    """Add ``family`` (a :class:`FamilySpec` or an object with its fields) under ``family.name``;
    registering the same object again is a no-op, another one under a taken name an error."""
    name = getattr(family, "name", "")
    if not isinstance(name, str) or not name.isidentifier():
        raise DefinitionError(f"a model family needs a name that is an identifier (letters, digits, _); got {name!r}")
    with _lock:
        old = _families.get(name)
        if old is not None and old is not family and old != family:
            first = f" (first by node pack '{_owners[name]}')" if _owners.get(name) else ""   # (QA93 D5)
            raise DefinitionError(f"model family '{name}' is registered twice{first}; give one of them another name")
        _families[name] = family
        if _pack and name not in _owners:
            _owners[name] = _pack
    return family


def unregister(name: str) -> None:
    with _lock:
        _families.pop(name, None)
        _owners.pop(name, None)


@contextlib.contextmanager
def loading(pack: str) -> Iterator[None]:
    """While node pack ``pack`` is imported and registered: the families it registers are its own, and a
    pack that fails to load leaves none of them registered (QA93 D4: a pack that raised after registering
    its family was reported failed, and its family still a ``profile`` choice graphs came to use)."""
    global _pack
    with _lock:
        before, outer, _pack = set(_families), _pack, pack
    try:
        yield
    except BaseException:
        with _lock:
            for name in set(_families) - before:
                _families.pop(name, None)
                _owners.pop(name, None)
        raise
    finally:
        with _lock:
            _pack = outer


def _loaded() -> None:
    """Import the installed node packs (built-in and entry points): they register their families.
    While the packs are being loaded (a pack's module asking at import time) what is registered so
    far is used: waiting for the loading would wait for itself."""
    from . import registry
    if not registry._lock.locked():
        registry.default_registry()


def get(name: str) -> Any:
    """The family registered as ``name``; an unknown name is a :class:`ParameterError` listing the known ones."""
    fam = _families.get(name)
    if fam is None:
        _loaded()
        fam = _families.get(name)
    if fam is None:
        raise ParameterError(f"no model family '{name}' is registered (known: {', '.join(sorted(_families)) or 'none'}); "
                             "is the node pack that declares it installed? (see `audiochain nodes`)")
    return fam


def families() -> list[Any]:
    """Every registered family, by name (after loading the installed node packs)."""
    _loaded()
    return [_families[k] for k in sorted(_families)]


def profile_names() -> list[str]:
    """Names of the families that declare a nominal time base (what ``profile=NAME`` may name)."""
    return [f.name for f in families() if getattr(f, "nominal", None) is not None]


def profile(name: str) -> ModelProfile:
    """The nominal time base of family ``name`` (for graphs that name a model's profile)."""
    fam = get(name)
    if getattr(fam, "nominal", None) is None:
        raise ParameterError(f"model family '{name}' declares no time base; give the rate, tokens per second and "
                             f"window yourself (profile=custom), or one of: {', '.join(profile_names())}")
    nominal: ModelProfile = fam.nominal
    return nominal


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def read_config(path: Path) -> dict[str, Any] | None:
    """A checkpoint folder's configuration: ``config.json`` (transformers layout), or
    ``model_index.json`` (diffusers layout) with each component's ``config.json`` under its name
    (and ``"_file"``, the file it was read from, for messages); None when the folder has neither."""
    path = Path(path)
    if (path / "config.json").is_file():
        return _read_json(path / "config.json")
    if (path / "model_index.json").is_file():
        index = _read_json(path / "model_index.json")
        out: dict[str, Any] = {**index, "_file": "model_index.json"}
        for comp in index:
            if not comp.startswith("_") and (path / comp / "config.json").is_file():
                out[comp] = {"_class": index[comp], **_read_json(path / comp / "config.json")}
        return out
    return None


def _in_order() -> list[Any]:
    """Every registered family in the order they were registered (the built-in node pack loads before
    installed ones): where two accept one checkpoint, the first one describes it."""
    _loaded()
    return list(_families.values())


def all_for_folder(path: Path) -> list[Any]:
    """Every registered family whose checkpoints look like the folder ``path`` (several when a node pack
    runs an architecture another family runs too), the first registered first."""
    config = read_config(path)
    return [fam for fam in _in_order()
            if (config is not None or getattr(fam, "layout", None) is not None) and fam.problem(config, path) is None]


def for_folder(path: Path) -> Any | None:
    """The registered family whose checkpoints look like the folder ``path`` (the first registered, see
    :func:`all_for_folder`), or None."""
    found = all_for_folder(path)
    return found[0] if found else None


def profile_from_config(config: dict[str, Any], generation: dict[str, Any] | None = None,
                        name: str | None = None) -> ModelProfile | None:
    """The time base a checkpoint's configuration gives, through the family that accepts it
    (``name`` renames the profile); None when no registered family accepts it or has one."""
    for fam in _in_order():
        if fam.problem(config, None) is None:
            prof: ModelProfile | None = fam.profile_of(config, generation)
            return dataclasses.replace(prof, name=name) if prof is not None and name else prof
    return None


def declare_default(role: str, node_type: str) -> None:
    """A node pack names the node type serving ``role`` (e.g. ``"scorer"`` for ``audiochain tune``);
    the first declaration wins."""
    with _lock:
        _defaults.setdefault(role, node_type)


def default_for(role: str) -> str | None:
    """The node type declared for ``role`` by an installed node pack, or None."""
    if role not in _defaults:
        _loaded()
    return _defaults.get(role)
