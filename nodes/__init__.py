"""AudioChain's built-in node library, registered as the pack 'builtin'.

Every module under this package (one node or one small family per file) is imported and each
:class:`~nodeflow.node.NodeSpec` it defines at module level is registered.  Modules whose name
starts with ``_`` are helpers, not nodes.  Heavy imports (torch, transformers) happen inside
the node functions, so registering the pack stays fast and needs no torch.
"""
from __future__ import annotations

import importlib
import pkgutil

from nodeflow.node import NodeSpec
from nodeflow.registry import Registry


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(__path__, prefix=__name__ + "."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return sorted(names)


def register(registry: Registry) -> None:
    for name in _modules():
        mod = importlib.import_module(name)
        for obj in vars(mod).values():
            if isinstance(obj, NodeSpec):
                registry.add(obj)
