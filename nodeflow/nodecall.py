"""One node called in a run: its inputs gathered from the values upstream (a list fed to a port
that takes one item is mapped: the node is called per item, up to the executor's worker count at a
time, or once with all items when it computes them together), the events it sends (``started``,
``progress``, ``chunk``, ``finished``, ``failed``, ``cancelled``) and errors that name the node.
:mod:`nodeflow.scheduler` calls :func:`call_node` for each node a run computes.
"""
from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from typing import Any

from .errors import Cancelled, ExecutionError, NodeflowError
from .graph import Graph
from .context import ItemProgress
from .node import Context, NodeSpec
from .planning import Plan
from .runtypes import Emit

__all__ = ["call_node"]


def call_node(graph: Graph, nid: str, plan: Plan, values: dict[str, dict[str, Any]], emit: Emit,
              cancel: threading.Event, ctx_kw: dict[str, Any], workers: int = 1) -> dict[str, Any]:
    """Call node ``nid`` on its inputs (from ``values``) and return its outputs; ``ctx_kw``: the
    :class:`~nodeflow.node.Context` a node that asks for one gets; ``workers``: list items at a time."""
    spec = plan.specs[nid]
    if cancel.is_set():
        emit("cancelled", nid)
        raise Cancelled(f"node '{nid}' cancelled")
    emit("started", nid)
    t0 = time.perf_counter()
    wants_ctx = spec.wants_ctx or spec.process   # a Context only for nodes that declare one (or run in a worker: Stop)
    try:
        args: dict[str, Any] = {}
        mapped: dict[str, list[Any]] = {}
        for (port, src, src_port, mode) in plan.inputs[nid]:
            v = values[src][src_port]
            if mode == "map":
                mapped[port] = list(v)
            elif mode == "wrap":
                args[port] = [v]
            else:
                args[port] = v
        params = dict(graph.nodes[nid].params)
        if not mapped:
            outputs = spec.call(args, params, Context(nid, **ctx_kw) if wants_ctx else None)
        else:
            lengths = {p: len(v) for p, v in mapped.items()}
            if len(set(lengths.values())) > 1:
                raise ExecutionError(nid, "lists of different lengths feed one node: " +
                                     ", ".join(f"{p}={n}" for p, n in lengths.items()))
            from .costs import shortest_item_problem
            if why := shortest_item_problem(spec, args, mapped, params):      # refused before any item runs
                raise ExecutionError(nid, why)
            outputs = _map_items(spec, nid, args, mapped, params, ctx_kw if wants_ctx else None,
                                 emit, cancel, workers)
    except Cancelled as e:
        emit("cancelled", nid)
        _let_go(e)
        raise e
    except ExecutionError as e:
        _let_go(e)
        emit("failed", nid, error=e, message=str(e))
        raise
    except NodeflowError as e:
        _let_go(e)
        err = ExecutionError(nid, str(e))
        err.__cause__ = e                # listeners (a trace) see the cause and its traceback
        emit("failed", nid, error=err, message=str(err))
        raise err from e
    except Exception as e:
        _let_go(e)
        err = ExecutionError(nid, failed_text(spec, e))
        err.__cause__ = e
        emit("failed", nid, error=err, message=str(err))
        raise err from e
    emit("finished", nid, elapsed_s=time.perf_counter() - t0)
    return outputs


def _let_go(e: BaseException) -> None:
    """Free the locals of the frames a node's failure went through (its tracebacks, causes included, keep
    their lines for a trace): a result holds its errors, and a decode stopped at its limit held 4 GiB
    through one (QA79 D4: three such loads kept 14.5 GB after each had given up)."""
    import traceback
    seen: set[int] = set()
    err: BaseException | None = e
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        traceback.clear_frames(err.__traceback__)
        err = err.__cause__ or err.__context__


def failed_text(spec: NodeSpec, e: BaseException) -> str:
    """What a node's own exception (not AudioChain's) says: its node type, the exception's type and
    text, and a hint for numpy's "read-only" (QA: the bare numpy words, no reason given)."""
    text = f"{spec.id} failed: {type(e).__name__}: {e}"
    if isinstance(e, ValueError) and "read-only" in str(e):
        text += ("; a node gets its inputs read-only (other nodes and the cache share them): make a new array "
                 "(audio.samples * 0.5) or .copy() it before writing into it")
    return text


def _map_items(spec: NodeSpec, nid: str, args: dict[str, Any], mapped: dict[str, list[Any]],
               params: dict[str, Any], ctx_kw: dict[str, Any] | None, emit: Emit, cancel: threading.Event,
               workers: int) -> dict[str, list[Any]]:
    """Call ``spec`` once per list item, up to ``workers`` items at a time (numpy, soxr, worker
    processes and model nodes on other devices release the GIL; a model locks itself per model and
    device).  Outputs keep the items' order; ``progress`` counts finished items and a ``chunk``
    event hands each item's outputs on in item order (what :meth:`Executor.stream
    <nodeflow.executor.Executor.stream>` yields); the first error (in item order) stops the node
    and no new item starts; Stop starts no new item.  An export (a side-effect node) writes every
    item it can, whatever the number of workers: a failing item stops no other, and the node's error
    (the first failure, counting the others) holds what the rest wrote as ``written`` (None where an
    item failed), so the run lists those files (QA47: which windows were left on disk, unlisted, depended on ``--jobs``)."""
    n = len(next(iter(mapped.values())))
    results: list[dict[str, Any] | None] = [None] * n
    if spec.batch_fn is not None and n > 1:      # the node computes its items together (one generate)
        if cancel.is_set():
            raise Cancelled(f"node '{nid}' cancelled")
        items = [{**args, **{p: v[i] for p, v in mapped.items()}} for i in range(n)]
        outs = spec.batch_fn(items, params, Context(nid, **ctx_kw) if ctx_kw is not None else Context(nid))
        if len(outs) != n:
            raise ExecutionError(nid, f"{spec.id} batch gave {len(outs)} results for {n} items")
        for i, res in enumerate(outs):
            results[i] = res
            emit("chunk", nid, value=res, done=i + 1, total=n)
        emit("progress", nid, done=n, total=n)
        return {name: [res[name] for res in outs] for name in spec.outputs}

    progress = ItemProgress(nid, n, emit)

    def one(i: int) -> dict[str, Any]:
        if cancel.is_set():
            raise Cancelled(f"node '{nid}' cancelled")
        item_args = dict(args)
        item_args.update({p: v[i] for p, v in mapped.items()})
        ctx = None
        if ctx_kw is not None:
            ctx = Context(nid, item=(i, n), **ctx_kw)
            ctx.items = progress
        try:
            return spec.call(item_args, params, ctx)
        except NodeflowError as e:      # which item (QA: the 5th window's failure read as the whole node's)
            if isinstance(e, (Cancelled, ExecutionError)) or n == 1:
                raise
            raise NodeflowError(f"item {i + 1} of {n}: {e}") from e
        except Exception as e:          # a node's own error too (QA41: only ctx.warn said the item)
            if n == 1:
                raise
            raise ExecutionError(nid, f"item {i + 1} of {n}: {failed_text(spec, e)}") from e

    workers = max(1, min(workers, n))
    if spec.side_effect:
        return _every_item(spec, nid, n, one, progress, workers)
    if workers == 1:
        for i in range(n):
            results[i] = one(i)
            progress.report(i, 1.0)
            emit("chunk", nid, value=results[i], done=i + 1, total=n)
    else:
        failed = threading.Event()
        order_lock, sent = threading.Lock(), [0]

        def stream_ready() -> None:       # chunks leave in item order, as soon as the next item is done
            with order_lock:
                while sent[0] < n and results[sent[0]] is not None:
                    emit("chunk", nid, value=results[sent[0]], done=sent[0] + 1, total=n)
                    sent[0] += 1

        def guarded(i: int) -> dict[str, Any] | None:
            if failed.is_set():
                return None          # an earlier item failed: start nothing new
            try:
                results[i] = one(i)
            except BaseException:
                failed.set()
                raise
            stream_ready()
            return results[i]

        with cf.ThreadPoolExecutor(workers, thread_name_prefix=f"nodeflow-{nid}") as pool:
            futures = [pool.submit(guarded, i) for i in range(n)]
            index = {fut: i for i, fut in enumerate(futures)}
            for fut in cf.as_completed(futures):
                if fut.exception() is None:
                    progress.report(index[fut], 1.0)
            for i, fut in enumerate(futures):      # the first failure in item order is the node's error
                results[i] = fut.result()
    gathered: dict[str, list[Any]] = {name: [] for name in spec.outputs}
    for item in results:
        for name, val in (item or {}).items():
            gathered[name].append(val)
    return gathered


def _every_item(spec: NodeSpec, nid: str, n: int, one: Any, progress: ItemProgress,
                workers: int) -> dict[str, list[Any]]:
    """Each item of an export through ``one``, every one tried (Stop still stops them): the outputs
    in item order, or an :class:`ExecutionError` for the first failure whose ``written`` holds them
    with None for each item that failed."""
    def tried(i: int) -> dict[str, Any] | BaseException:
        try:
            res: dict[str, Any] = one(i)
        except Cancelled:
            raise
        except Exception as e:      # noqa: BLE001 - each item's own failure, named by its item
            return e
        progress.report(i, 1.0)
        return res

    if workers == 1:
        results = [tried(i) for i in range(n)]
    else:
        with cf.ThreadPoolExecutor(workers, thread_name_prefix=f"nodeflow-{nid}") as pool:
            results = list(pool.map(tried, range(n)))
    failed = [r for r in results if isinstance(r, BaseException)]
    written = {name: [None if isinstance(r, BaseException) else r[name] for r in results] for name in spec.outputs}
    if not failed:
        return written
    first = failed[0]
    text = str(first) if isinstance(first, NodeflowError) else failed_text(spec, first)
    more = f" (and {len(failed) - 1} more of the {n} items failed)" if len(failed) > 1 else ""
    err = ExecutionError(nid, text.removeprefix(f"node '{nid}': ") + more)
    err.__cause__ = first
    setattr(err, "written", written)
    raise err
