"""The one registry of node types.

The built-in pack (``nodes``) and third-party packs register the same way: a pack is a module
(or callable) exposing ``register(registry)``; third-party packs are found through the Python
entry-point group ``audiochain.nodes``.  A pack that fails to import is recorded in
:attr:`Registry.failed_packs` and reported by the CLI, never hidden.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import threading
from typing import Any, Callable, Iterable, Iterator

from .errors import DefinitionError
from .node import NodeSpec

__all__ = ["Registry", "default_registry", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "audiochain.nodes"

# A migration upgrades one node's stored parameters from `from_version` to `from_version + 1`.
Migration = Callable[[dict[str, Any]], dict[str, Any]]


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, NodeSpec] = {}
        self._migrations: dict[tuple[str, int], Migration] = {}
        self.packs: dict[str, str] = {}          # pack name -> version
        self.dists: dict[str, str] = {}          # pack name -> the Python package (distribution) installing it
        self.failed_packs: dict[str, str] = {}   # pack name -> error message
        self._current_pack = ""

    # ---------------------------------------------------------------- registration
    def add(self, spec: NodeSpec) -> NodeSpec:
        if not isinstance(spec, NodeSpec):
            raise DefinitionError(f"registry.add expects a node declared with @node; got {spec!r}")
        old = self._specs.get(spec.id)
        if old is not None and old.fn is not spec.fn and not _redefined(old, spec):
            raise DefinitionError(f"node type '{spec.id}' is registered twice "
                                  f"(by {_origin(old)} and {_origin(spec)}); give one of them another id")
        if self._current_pack:
            spec.pack = self._current_pack
        self._specs[spec.id] = spec
        return spec

    def add_all(self, specs: Iterable[NodeSpec]) -> None:
        for s in specs:
            self.add(s)

    def add_migration(self, type_id: str, from_version: int, fn: Migration) -> None:
        """Register how to upgrade a node's params saved at ``from_version`` to the next version."""
        self._migrations[(type_id, from_version)] = fn

    def load_pack(self, name: str, target: object, version: str = "") -> bool:
        """Register a pack given as a module name, a module or a ``register`` callable."""
        from .families import loading
        self._current_pack = name
        try:
            with loading(name):           # a pack that fails leaves no family of its registered
                if isinstance(target, str):
                    target = importlib.import_module(target)
                register = target if callable(target) and not hasattr(target, "register") else \
                    getattr(target, "register", None)
                if register is None:
                    raise DefinitionError(f"pack '{name}' has no register(registry) function")
                register(self)
            self.packs[name] = version
            return True
        except Exception as e:  # a broken pack must not take the app down; it is reported instead
            self.failed_packs[name] = _failure(e)
            return False
        finally:
            self._current_pack = ""

    def load_entry_points(self) -> None:
        try:
            eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        except Exception as e:  # pragma: no cover - broken metadata
            self.failed_packs["<entry points>"] = str(e)
            return
        for ep in eps:
            if ep.name in self.packs:
                continue
            from .families import loading
            try:
                with loading(ep.name):      # its module registers its families as it is imported
                    obj = ep.load()
            except Exception as e:
                self.failed_packs[ep.name] = _failure(e)
                continue
            version = ep.dist.version if ep.dist is not None else ""
            if self.load_pack(ep.name, obj, version) and ep.dist is not None and ep.dist.name:
                self.dists[ep.name] = ep.dist.name

    # ---------------------------------------------------------------- lookup
    def get(self, type_id: str) -> NodeSpec | None:
        return self._specs.get(type_id)

    def __getitem__(self, type_id: str) -> NodeSpec:
        spec = self._specs.get(type_id)
        if spec is None:
            raise DefinitionError(f"unknown node type '{type_id}'" + self._hint(type_id))
        return spec

    def __contains__(self, type_id: str) -> bool:
        return type_id in self._specs

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.id))

    def __len__(self) -> int:
        return len(self._specs)

    def categories(self) -> dict[str, list[NodeSpec]]:
        out: dict[str, list[NodeSpec]] = {}
        for s in self:
            out.setdefault(s.category, []).append(s)
        return out

    def _hint(self, type_id: str) -> str:
        import difflib
        close = difflib.get_close_matches(type_id, list(self._specs), n=1)
        if close:
            return f"; did you mean '{close[0]}'?"
        if self.failed_packs:
            return f"; these node packs failed to load: {', '.join(self.failed_packs)}"
        return ("; is the node pack that provides it installed? (see `audiochain nodes`); a node declared in your "
                "own code is added by its function: graph.add(my_node, ...)")

    def migrate_params(self, type_id: str, from_version: int, params: dict[str, Any]) -> dict[str, Any]:
        """Upgrade stored params to the registered node version through registered migrations."""
        spec = self[type_id]
        v = from_version
        while v < spec.version:
            fn = self._migrations.get((type_id, v))
            if fn is not None:
                params = fn(dict(params))
            v += 1
        return params


_default: Registry | None = None
_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry: the built-in pack, then every installed plug-in pack."""
    global _default
    with _lock:
        if _default is None:
            reg = Registry()
            version = ""
            try:
                version = importlib.metadata.version("audiochain")
            except importlib.metadata.PackageNotFoundError:
                pass
            reg.load_pack("builtin", "nodes", version)
            reg.load_entry_points()
            _default = reg
        return _default


def _redefined(old: NodeSpec, new: NodeSpec) -> bool:
    """``new`` is ``old`` declared again by the same code (a module reloaded, a notebook cell run
    again): the newer declaration replaces the older, as Python's own names do (QA: an edited and
    reloaded node kept running its first version)."""
    return (getattr(old.fn, "__module__", None) == getattr(new.fn, "__module__", None)
            and getattr(old.fn, "__qualname__", None) == getattr(new.fn, "__qualname__", None))


def _origin(spec: NodeSpec) -> str:
    name = f"{getattr(spec.fn, '__module__', '?')}.{getattr(spec.fn, '__qualname__', '?')}"
    return f"{name} in pack {spec.pack}" if spec.pack else name


def _failure(e: BaseException) -> str:
    """A pack's failure to load, with the place in its own code where it happened (QA93 D5: "NameError:
    name 'undefined_name' is not defined" named neither file nor line)."""
    import os
    import traceback
    engine = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "importlib" not in f.filename
              and not f.filename.startswith(("<", engine + os.sep))]       # the pack's own code
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return f"{type(e).__name__}: {e}{where}"
