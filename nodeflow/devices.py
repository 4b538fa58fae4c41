"""Where models run: device and precision choice.

``auto`` picks CUDA, then Apple MPS, then the CPU.  Half precision is used only where it is safe:
float16 on CUDA GPUs of compute capability 6.0 or newer (the audio language models' and codecs'
weights were published for and run fine in float16 there); MPS and CPU stay in float32.

On the CPU, token-by-token generation reads every weight once per step: it is bound by memory
bandwidth, and oversubscribed cores make it far slower (measured here: two torch threads on a busy
2-core machine took 5x the time of one).  :func:`generation_threads` picks the thread count from the
cores that are idle; :func:`torch_threads` applies it for the duration of a generation.

torch is imported only when a function needs it, so importing this module stays cheap.

>>> resolve_device("cpu")
'cpu'
>>> resolve_dtype("auto", "cpu")
'float32'
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, Iterator

from .errors import ParameterError, install_hint

if TYPE_CHECKING:   # torch is imported inside the functions that need it
    import torch

__all__ = ["DEVICES", "PRECISIONS", "pick_device", "resolve_device", "device_problem", "placement_problem", "resolve_dtype",
           "torch_dtype", "describe", "parse_device_list", "generation_threads", "idle_threads", "torch_threads"]

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "float32", "float16", "bfloat16", "int8")   # int8: 8-bit decoder weights on the CPU


# A CUDA (or ROCm) GPU needs its driver's device files; without any, the answer is known without
# importing torch (about 2 s: a cached re-run of a model graph must not pay it to learn "cpu")
GPU_DEVICE_FILES = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def _no_gpu_driver() -> bool:
    """True when this machine certainly has no CUDA/ROCm GPU (macOS; Linux without driver files)."""
    if sys.platform == "darwin":
        return True
    return sys.platform.startswith("linux") and not any(os.path.exists(p) for p in GPU_DEVICE_FILES)


def _cuda_ok() -> bool:
    if _no_gpu_driver():
        return False
    import torch
    return bool(torch.cuda.is_available())


def _mps_ok() -> bool:
    if sys.platform != "darwin":       # Apple's Metal exists only on macOS
        return False
    import torch
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _base(name: str) -> str:
    return name.split(":", 1)[0]


def resolve_device(name: str = "auto") -> str:
    """A concrete torch device string for ``name`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``).

    Raises :class:`ParameterError` (naming the alternatives) when the requested device is absent.
    """
    name = (str(name or "auto")).strip().lower()
    if "," in name:
        raise ParameterError(f"device={name!r}: a device list is for sweeps (each variant takes the next device); "
                             "a single run takes one device, e.g. --device cuda:0")
    base = _base(name)
    if base not in DEVICES:
        raise ParameterError(f"device={name!r}: expected one of {', '.join(DEVICES)} (or cuda:N)")
    if base == "auto":
        if _cuda_ok():
            return "cuda"
        if _mps_ok():
            return "mps"
        return "cpu"
    if base == "cuda":
        if not _cuda_ok():
            raise ParameterError(f"device={name!r}: CUDA is not available on this machine; "
                                 "use device 'auto' or 'cpu' (or `--device cpu`)")
        if ":" in name:
            import torch
            idx = name.split(":", 1)[1]
            if not idx.isdigit() or int(idx) >= torch.cuda.device_count():
                raise ParameterError(f"device={name!r}: this machine has {torch.cuda.device_count()} CUDA "
                                     "device(s); use cuda:0 .. cuda:N-1")
        return name
    if base == "mps":
        if not _mps_ok():
            raise ParameterError(f"device={name!r}: Apple MPS is not available on this machine; "
                                 "use device 'auto' or 'cpu'")
        return "mps"
    return "cpu"


def parse_device_list(text: str, *, option: str = "--device") -> list[str]:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or a comma-separated list of them, checked
    for spelling only (whether a device exists on this machine is :func:`device_problem`'s job).

    >>> parse_device_list("cuda:0, cuda:1")
    ['cuda:0', 'cuda:1']
    >>> parse_device_list("cpu")
    ['cpu']
    """
    items = [t.strip().lower() for t in str(text or "").split(",")]
    if not any(items):
        return ["auto"]
    for item in items:
        base, _, idx = item.partition(":")
        if base not in DEVICES or (idx and (base != "cuda" or not idx.isdigit())) or item.endswith(":"):
            raise ParameterError(f"{option} {text!r}: {item!r} is not a device; expected auto, cpu, cuda, cuda:N "
                                 "or mps, or a comma-separated list such as cuda:0,cuda:1")
    if len(items) > 1 and any(i in ("auto",) for i in items):
        raise ParameterError(f"{option} {text!r}: 'auto' cannot be part of a device list; name the devices "
                             "(cuda:0,cuda:1) or give 'auto' alone")
    return items


def device_problem(name: str = "auto") -> str | None:
    """Why ``name`` cannot be used on this machine (None: it can), without running anything.

    ``auto`` and ``cpu`` never import torch; other devices need it to be checked.
    """
    name = str(getattr(name, "value", name) or "auto").strip().lower()
    if "," in name:                       # a sweep's device list: every device must be usable
        try:
            items = parse_device_list(name)
        except ParameterError as e:
            return str(e)
        return next((p for p in map(device_problem, dict.fromkeys(items)) if p), None)
    if _base(name) in ("auto", "cpu") and name in ("auto", "cpu"):
        return None
    try:
        resolve_device(name)
    except ParameterError as e:
        return str(e)
    except ImportError:
        return f"device={name!r}: torch is not installed, so no GPU can be used; {install_hint('models')}"
    return None


def placement_problem(device: str = "auto", precision: Any = "auto") -> str | None:
    """Why a model node cannot run on ``device`` at ``precision`` on this machine (None: it can), as
    the run would say it: :func:`device_problem`, then :func:`resolve_dtype`'s refusal (float16 on the
    CPU, int8 on a GPU).  ``auto`` precision is never refused and imports nothing."""
    why = device_problem(device)
    precision = str(getattr(precision, "value", precision) or "auto").lower()
    if why or precision == "auto" or "," in str(device):
        return why
    try:
        resolve_dtype(precision, resolve_device(str(getattr(device, "value", device) or "auto")))
    except ParameterError as e:
        return str(e)
    except ImportError:
        return None
    return None


def pick_device(node_device: str = "auto", run_device: str = "auto") -> str:
    """The device a model node uses: the run-wide ``--device`` wins when it is not ``auto``
    (so a graph saved with ``device=cuda`` still runs with ``--device cpu`` elsewhere), then the
    node's own parameter, then ``auto``."""
    run = str(getattr(run_device, "value", run_device) or "auto")
    own = str(getattr(node_device, "value", node_device) or "auto")
    return resolve_device(run if run != "auto" else own)


def resolve_dtype(precision: str, device: str) -> str:
    """The dtype name for ``precision`` on ``device``; ``auto`` = float16 on capable CUDA GPUs,
    float32 elsewhere.  Asking for a half type the device cannot run is a :class:`ParameterError`."""
    precision = str(getattr(precision, "value", precision) or "auto").lower()
    if precision not in PRECISIONS:
        raise ParameterError(f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}")
    base = _base(device)
    if precision == "auto":
        if base == "cuda":
            import torch
            major, _ = torch.cuda.get_device_capability(device)
            return "float16" if major >= 6 else "float32"
        return "float32"
    if precision == "int8" and base != "cpu":
        raise ParameterError(f"precision=int8 (8-bit weights) runs on the CPU only, not on {device}; use float16 "
                             "or bfloat16 there")
    if precision == "float16" and base == "cpu":
        raise ParameterError("precision=float16 is not supported for generation on the CPU; use float32 or bfloat16")
    if precision == "bfloat16" and base == "cuda":
        import torch
        if not torch.cuda.is_bf16_supported():
            raise ParameterError(f"precision=bfloat16: this GPU ({device}) does not support bfloat16; use float16")
    return precision


def torch_dtype(name: str) -> torch.dtype:
    """The ``torch.dtype`` for a dtype name from :func:`resolve_dtype` (``int8`` models load in
    float32 and are quantized after loading)."""
    import torch
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
            "int8": torch.float32}[name]


def describe() -> dict[str, Any]:
    """What this machine offers (for ``audiochain models info`` and bug reports)."""
    import torch
    out: dict[str, Any] = {"torch": torch.__version__, "cuda": _cuda_ok(), "mps": _mps_ok(), "auto": resolve_device("auto")}
    if out["cuda"]:
        out["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return out


# ---------------------------------------------------------------------------------------- CPU threads
def generation_threads() -> int:
    """Torch threads for a generation on the CPU: ``AUDIOCHAIN_TORCH_THREADS`` when set, else the
    cores this process may use minus those other processes keep busy (the 1-minute load average
    less this process's own recent CPU use), at least one and at most torch's own setting.

    Token-by-token decoding is bound by memory bandwidth; a thread that has to wait for a busy
    core stalls every step (measured on a loaded 2-core machine: 2 threads 41 s, 1 thread 8 s for
    the same 28 tokens of a small text-to-music model)."""
    env = os.environ.get("AUDIOCHAIN_TORCH_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ParameterError(f"AUDIOCHAIN_TORCH_THREADS={env!r}: expected a whole number of threads >= 1; "
                                 "unset it to let AudioChain choose")
        return int(env)
    with _pin_lock:
        pin = _pins[-1] if _pins else None
        if pin is not None and pin.count is not None:
            return pin.count
        n = _idle_now()
        if pin is not None:
            pin.count = n
        return n


@dataclasses.dataclass
class ThreadPin:
    """The torch thread count every CPU generation inside :func:`one_thread_count` uses (None until
    the first one chose it)."""
    count: int | None = None


_pins: list[ThreadPin] = []
_pin_lock = threading.Lock()


@contextlib.contextmanager
def one_thread_count(count: int | None = None) -> Iterator[ThreadPin]:
    """Within: every generation on the CPU uses one torch thread count, ``count`` or the first one
    chosen (from the load then), so the variants of a sweep or a tune compute alike and a rerun with
    the recorded count gives a row's audio bit for bit (float sums differ in their last bits with the
    thread count; QA: one tune candidate of five runs differed by 2 LSB at 24 bits).  A pin inside
    another is the same pin.  ``AUDIOCHAIN_TORCH_THREADS`` still decides where set."""
    with _pin_lock:
        pin = _pins[-1] if _pins else ThreadPin(count)
        if pin.count is None and count is not None:
            pin.count = count
        _pins.append(pin)
    try:
        yield pin
    finally:
        with _pin_lock:
            _pins.pop()


def _idle_now() -> int:
    import torch
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return idle_threads(cores, load, _own_cpu_rate(), torch.get_num_threads())


def idle_threads(cores: int, load: float, own: float, cap: int) -> int:
    """Threads that fit the cores others leave idle: ``cores - (load - own)`` rounded, in
    ``[1, cap]`` (``own``: this process's share of ``load``, in busy cores).

    >>> idle_threads(2, 6.0, 1.0, 2), idle_threads(2, 1.1, 1.0, 2), idle_threads(16, 3.0, 0.0, 8)
    (1, 2, 8)
    """
    others = max(0.0, load - own)
    return max(1, min(cap, cores - int(others + 0.5)))


_own_last: tuple[float, float] | None = None


def _own_cpu_rate() -> float:
    """Busy cores this process used since the last call (within the last minute; else 0): its
    part of the load average, which must not count against its own next generation."""
    global _own_last
    import time
    now = (time.monotonic(), time.process_time())
    last, _own_last = _own_last, now
    if last is None or not 0.5 < now[0] - last[0] < 60.0:
        return 0.0
    return max(0.0, (now[1] - last[1]) / (now[0] - last[0]))


_threads_lock = threading.Lock()
_threads_users = 0
_threads_before: int | None = None


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """torch's intra-op threads set to ``n`` while any caller is inside (torch's setting is
    process-wide: the first caller sets it, concurrent callers share it, the last one restores the
    count found before).  Yields the count in force.

    The count is set again on every entry, also when it is already in force: OpenMP keeps a count
    per thread, and a node running in an executor's worker thread otherwise computed with OpenMP's
    default (every core; measured 1.6x slower on 2 busy cores)."""
    global _threads_users, _threads_before
    import torch
    with _threads_lock:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(int(n))
        else:
            torch.set_num_threads(torch.get_num_threads())    # binds the count to this thread
        _threads_users += 1
        current = torch.get_num_threads()
    try:
        yield current
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0 and _threads_before is not None:
                if torch.get_num_threads() != _threads_before:
                    torch.set_num_threads(_threads_before)
                _threads_before = None
