"""Sweeps on Ray: variants become Ray tasks, with the same results and manifest as a local run.

Work shared by every variant (nodes whose content key is the same in all of them) is computed
once on the driver and shipped to the tasks through Ray's object store, so a cluster does not
repeat it per variant.  Each task rebuilds the graph from its file bytes, applies its overrides
and runs it with the ordinary :class:`~nodeflow.executor.Executor`: the code path is the local
one.  Tasks whose worker dies are retried by Ray (``max_retries``); a variant whose node fails is
reported as failed in the manifest, never dropped.  Output folders must be on storage every
worker sees (always true on a single machine).

Needs the optional extra: ``pip install -e '.[distributed]'`` (from the checkout).
"""
from __future__ import annotations

import importlib
import os
import time
import types
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import NodeflowError, install_hint
from .graph import Graph
from .manifest import OutputSummary
from .sweep import Variant, VariantResult, apply_overrides

__all__ = ["run_sweep_ray", "shared_nodes", "task_resources"]


def _ray() -> types.ModuleType:
    try:
        import ray
    except ImportError:
        raise NodeflowError(f"the Ray executor needs Ray: {install_hint('distributed')}") from None
    return ray


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a wrong ``host:port`` (``ray.init`` would wait for it for minutes)."""
    import socket
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return   # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise NodeflowError(f"--address {address}: no Ray cluster answers there ({e.strerror or e}); check the "
                            "address (`ray status` on the head node prints it) or omit --address to start a "
                            "local Ray") from None


def shared_nodes(graph: Graph, variants: Sequence[Variant]) -> set[str]:
    """Non-sink nodes whose content key is identical in every variant."""
    from .executor import Executor
    probe = Executor()
    keys = [probe.keys(apply_overrides(graph, v.overrides)) for v in variants]
    first = keys[0]
    return {n for n, k in first.items() if all(ks.get(n) == k for ks in keys[1:])
            and not getattr(graph.spec(n), "side_effect", False)}


def task_resources(graph: Graph, cluster: dict[str, float]) -> dict[str, float]:
    """What one variant's task asks Ray for: a CPU, and a GPU when the graph has model nodes and
    the cluster has GPUs (so model variants spread over the GPUs, one each)."""
    uses_models = any(getattr(graph.spec(n), "category", "") == "models" for n in graph.nodes)
    return {"num_cpus": 1, "num_gpus": 1 if uses_models and cluster.get("GPU", 0) >= 1 else 0}


def _variant_task(graph_bytes: bytes, graph_path: str | None, overrides: tuple[tuple[str, Any], ...], index: int, out_dir: str,
                  device: str, shared: dict[str, Any], packs: tuple[str, ...], base_dir: str,
                  named: str = "") -> dict[str, Any]:
    """Runs in a Ray worker: one variant, through the ordinary executor."""
    from .errors import Cancelled
    from .executor import Executor
    from .fileformat import loads
    from .registry import default_registry
    reg = default_registry()
    for name in packs:
        if name not in reg.packs:
            reg.load_pack(name, importlib.import_module(name))
    g = loads(graph_bytes, graph_path or "<sweep>", reg)
    g.path = Path(graph_path) if graph_path else None
    v = Variant(index, tuple(overrides), named=named)    # named as the driver names it (sweepaxes.told_apart)
    vdir = Path(out_dir) / v.name
    from .outputs import linked_folder
    if why := linked_folder(vdir, "a sweep variant's folder"):
        return {"status": "failed", "error": why, "elapsed_s": 0.0, "pid": os.getpid()}
    ex = Executor()
    for key, outputs in shared.items():
        ex.cache.put(key, outputs)
    t0 = time.perf_counter()
    try:
        gv = apply_overrides(g, v.overrides)
        summary = OutputSummary(gv)
        res = ex.run(gv, base_dir=base_dir, output_dir=vdir, device=device,   # the driver's base, not the worker's cwd
                     on_output=summary)
    except (NodeflowError, Cancelled) as e:
        return {"status": "failed", "error": str(e), "elapsed_s": time.perf_counter() - t0, "pid": os.getpid()}
    files, durations, prov = summary.merged(res.cache_keys)
    return {"status": "ok", "outputs": files, "durations_s": durations, "provenance": prov,
            "ran": sorted(res.ran), "elapsed_s": time.perf_counter() - t0, "pid": os.getpid(), "warnings": res.warnings}


def run_sweep_ray(graph: Graph, variants: Sequence[Variant], out_dir: str | os.PathLike[str], *,
                  address: str | None = None, device: str = "auto", max_retries: int = 3,
                  num_cpus: int | None = None, on_variant: Callable[[VariantResult], None] | None = None,
                  packs: Sequence[str] = (), ray_init_kwargs: dict[str, Any] | None = None) -> list[VariantResult]:
    """Run ``variants`` as Ray tasks; results come back in variant order.

    ``address`` joins an existing cluster; without it a local Ray is started (and shut down after).
    ``packs`` names extra node-pack modules the workers must register (plug-ins not installed
    through entry points).
    """
    from .executor import Executor
    from .fileformat import dumps
    ray = _ray()
    from .sweep import check_variants
    out = Path(out_dir).resolve()
    check_variants(graph, variants, out)
    started_here = False
    if not ray.is_initialized():
        kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if address:
            _check_reachable(address)
            kw["address"] = address
        elif num_cpus:
            kw["num_cpus"] = num_cpus
        kw.update(ray_init_kwargs or {})
        try:
            ray.init(**kw)
        except Exception as e:  # noqa: BLE001 - ConnectionError, OSError, RuntimeError, ValueError...
            where = f"join the Ray cluster at {address}" if address else "start a local Ray"
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            fix = ("check the address (`ray status` on the head node prints it)" if address else
                   "point RAY_TMPDIR at a short, writable folder")
            raise NodeflowError(f"could not {where}: {type(e).__name__}: {first}; {fix}") from e
        started_here = True
    try:
        # shared upstream work, once, on the driver
        shared = shared_nodes(graph, variants) if len(variants) > 1 else set()
        shipped: dict[str, Any] = {}
        if shared:
            ex = Executor()
            res = ex.run(graph, targets=sorted(shared), output_dir=out)
            shipped = {res.cache_keys[n]: res.outputs[n] for n in shared if n in res.outputs}
        shared_ref = ray.put(shipped)
        task = ray.remote(**task_resources(graph, ray.cluster_resources()), max_retries=max_retries)(_variant_task)
        data = dumps(graph)
        gpath = str(Path(graph.path).resolve()) if graph.path else None
        base = str(graph.base_dir())
        refs = {task.remote(data, gpath, tuple(v.overrides), v.index, str(out), device, shared_ref, tuple(packs),
                            base, v.name): v for v in variants}
        results: dict[int, VariantResult] = {}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                v = refs[ref]
                vdir = str(out / v.name)
                try:
                    r = ray.get(ref)
                except Exception as e:  # retries exhausted (worker died every time) or task error
                    vr = VariantResult(v, "failed", vdir, error=f"ray task failed: {type(e).__name__}: {e}")
                else:
                    vr = VariantResult(v, r["status"], vdir, r.get("outputs", []), r.get("durations_s", {}),
                                       r.get("provenance", {}), r["elapsed_s"], r.get("error", ""), r.get("ran", []),
                                       warnings=r.get("warnings", {}))
                results[v.index] = vr
                if on_variant is not None:
                    on_variant(vr)
        return [results[v.index] for v in variants]
    finally:
        if started_here:
            ray.shutdown()
