"""What a chain's run is asked for beside its inputs: LangChain's ``config`` (callbacks, device,
cache, max_workers) and the run keywords, made into the executor and keywords of
:meth:`Executor.run <nodeflow.executor.Executor.run>`; one executor per configuration, kept for the
process, so what it computed is remembered from one call to the next."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Iterable

from .errors import ParameterError

if TYPE_CHECKING:
    from .executor import RunResult

__all__ = ["CONFIG_KEYS", "RUN_KEYWORDS", "EXECUTOR_RUN_KEYWORDS", "configured", "warned"]

CONFIG_KEYS = ("callbacks", "device", "cache", "max_workers")
RUN_KEYWORDS = ("base_dir", "output_dir", "device", "on_event", "cancel_event", "allow_outside", "keep", "on_output")
# what Chain.run passes on to Executor.run besides (invoke feeds inputs itself)
EXECUTOR_RUN_KEYWORDS = ("inputs", "keep_going", "skips")


def configured(config: dict[str, Any] | None, executor: Any, run_kw: dict[str, Any],
                takes: tuple[str, ...] = RUN_KEYWORDS) -> tuple[Any, dict[str, Any]]:
    """The executor and run keywords a ``config`` asks for (see :meth:`Chain.invoke`); ``takes``: the
    run keywords the caller may give."""
    unknown = sorted(set(run_kw) - set(takes))
    if unknown:
        import difflib
        near = [m for k in unknown for m in difflib.get_close_matches(k, takes + ("config", "executor"), 1)]
        raise ParameterError(f"unknown keyword(s) {', '.join(map(repr, unknown))}"
                             f"{' (did you mean ' + ', '.join(map(repr, near)) + '?)' if near else ''}; a run takes "
                             f"{', '.join(takes)}, executor=, plus config={{{', '.join(CONFIG_KEYS)}}}")
    run_kw = dict(run_kw)
    config = dict(config or {})
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ParameterError(f"config: unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(CONFIG_KEYS)}")
    callbacks = config.get("callbacks")
    if callbacks is not None:
        from .callbacks import handlers
        if callable(callbacks):
            callbacks = [callbacks]
        if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
            raise ParameterError(f"config: callbacks={callbacks!r} is not callable; give a CallbackHandler or a "
                                 "function (taking an Event), or a list of them")
        callbacks = list(callbacks)
        for h in callbacks:     # refused now, not logged as a failed handler at every event (QA68 D8)
            if not callable(h):
                raise ParameterError(f"config: callbacks: {h!r} is not callable; give a CallbackHandler or a "
                                     "function (taking an Event)")
        if callbacks:
            run_kw["on_event"] = handlers(*callbacks, run_kw.get("on_event"))
    if config.get("device") is not None:       # spelling checked here, presence by the run (as the CLI does)
        from .devices import parse_device_list
        try:
            run_kw["device"] = ",".join(parse_device_list(str(config["device"])))
        except ParameterError as e:
            raise ParameterError(f"config: {str(e).replace('--device ', 'device=', 1)}") from None
    if config.get("max_workers") is not None and (isinstance(config["max_workers"], bool)
                                                  or not isinstance(config["max_workers"], int)
                                                  or config["max_workers"] < 1):
        raise ParameterError(f"config: max_workers={config['max_workers']!r}; expected a whole number of at least 1")
    cache, workers = config.get("cache", True), config.get("max_workers")
    if cache not in (True, False, "memory", "disk"):
        raise ParameterError(f"config: cache={cache!r}; expected True or 'disk' (memory and disk), 'memory' or False")
    if executor is not None and (cache is not True or workers):     # (QA: silently ignored)
        asked = ", ".join(f"{k}={config[k]!r}" for k in ("cache", "max_workers") if k in config)
        raise ParameterError(f"config: {asked} sets up an executor of its own, but executor= was given too; "
                             "give them to Executor(...) or leave out executor=")
    if executor is None and cache is False:        # nothing kept: a fresh one each time
        from .executor import Executor
        executor = Executor(max_workers=workers, disk_cache=None, cache_bytes=0)
    elif executor is None and (cache is not True or workers):
        executor = _configured_executor("memory" if cache == "memory" else "disk", workers)
    return (executor if executor is not None else _shared_executor()), run_kw


_CONFIGURED: dict[tuple[str, int | None], Any] = {}      # one executor per config, kept across calls
_CONFIGURED_LOCK = threading.Lock()


def _configured_executor(cache: str, workers: int | None) -> Any:
    """The process-wide executor for ``config={"cache": cache, "max_workers": workers}``: made once, so
    what it computed is remembered from one call to the next (QA68: ``cache="memory"`` remembered
    nothing; every call made a new executor)."""
    from .executor import Executor
    with _CONFIGURED_LOCK:
        key = (cache, workers)
        if key not in _CONFIGURED:
            _CONFIGURED[key] = Executor(max_workers=workers, disk_cache=None if cache == "memory" else "default",
                                        cache_bytes=2 << 30)
        return _CONFIGURED[key]


def _shared_executor() -> Any:
    """The process-wide executor :func:`nodeflow.executor.run` uses (made now if needed)."""
    from . import executor as _ex
    if _ex._default_executor is None:
        _ex._default_executor = _ex.Executor()
    return _ex._default_executor


def warned(res: RunResult) -> RunResult:
    """``res``, its nodes' warnings said as Python warnings (a chain's caller sees no events)."""
    if res.warnings:
        import warnings

        from .errors import AudioChainWarning
        for nid, said in res.warnings.items():
            for message in said:
                warnings.warn(f"node '{nid}': {message}", AudioChainWarning, stacklevel=3)
    return res
