"""A model node's further checkpoints (``@FAMILY.node(..., checkpoints={"vocoder": VOCODER})``, see
:meth:`nodes.models.layer.Family.node`): checked as declared, and counted in the node's cache key and
its preflight beside its own ``checkpoint``."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from nodeflow import checkpoints
from nodeflow.errors import DefinitionError

__all__ = ["declared", "more_fingerprints", "more_preflights"]


def declared(type_id: str, checkpoints: Any, family_class: type) -> dict[str, Any]:
    """``checkpoints=`` of :meth:`~nodes.models.layer.Family.node` checked as it is declared: a mapping
    of the node's other checkpoint parameters to their registered families (QA87 D2: a family's name,
    ``checkpoint`` itself or a list were taken, and failed at every run or refused good checkpoints)."""
    if not checkpoints:
        return {}
    how = "checkpoints= maps each further checkpoint parameter to its family, e.g. {'vocoder': VOCODER}"
    if not isinstance(checkpoints, Mapping):
        raise DefinitionError(f"node {type_id}: {how}; got {type(checkpoints).__name__} {checkpoints!r}")
    for name, fam in checkpoints.items():
        if name == "checkpoint":
            raise DefinitionError(f"node {type_id}: checkpoints names 'checkpoint', the family's own checkpoint "
                                  "parameter; name the node's other ones, e.g. {'vocoder': VOCODER}")
        if not isinstance(fam, family_class):
            raise DefinitionError(f"node {type_id}: checkpoints={{{name!r}: {fam!r}}}: {how}, the Family object "
                                  "that layer.register returned")
    return dict(checkpoints)


def more_fingerprints(own: Callable[[dict[str, Any], Any], Any] | None, more: dict[str, Any],
                      params: dict[str, Any], ctx: Any) -> Any:
    """``own``'s cache-key data, and each further checkpoint's resolved revision (QA86 D1: a vocoder's
    weights replaced in its folder served the old vocoder's audio from the cache)."""
    base = getattr(ctx, "base_dir", None)
    fp = {f"{name}:checkpoint": checkpoints.fingerprint(str(params.get(name) or ""), base) for name in more}
    mine = own(params, ctx) if own is not None else {}
    return {**mine, **fp} if isinstance(mine, dict) else {"node": mine, **fp}


def more_preflights(own: Callable[[dict[str, Any], Path], list[str]] | None, more: dict[str, Any],
                    params: dict[str, Any], base_dir: Path) -> list[str]:
    """``own``'s problems, and each further checkpoint's as its family checks it, said by its parameter."""
    said = own(params, base_dir) if own is not None else []
    for name, fam in more.items():
        said += [f"{name}: {why}" for why in fam.preflight({"checkpoint": params.get(name) or ""}, base_dir)]
    return said
