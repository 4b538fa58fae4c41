"""A generic hook the model layer lacks (reported to its owner): bind torch's CPU thread count to
the thread that runs the model.

torch's count is process-wide, but OpenMP keeps one per thread, and
:func:`nodeflow.devices.torch_threads` (which :meth:`nodes.models.layer.Family.using` applies) sets
it only when the count asked for differs from the count already set.  A node running in an
executor's worker thread then computed with OpenMP's default (every core) whenever the policy's
count equalled the main thread's (measured on tiny VITS, 1 thread asked, 2 cores: 1.6x the time of
the same call on the main thread).  Setting the count again binds it to the calling thread.
"""
from __future__ import annotations

__all__ = ["bind_threads"]


def bind_threads(device: str) -> None:
    """Call inside ``Family.using``: on the CPU, this thread computes with the count in force."""
    if str(device).split(":", 1)[0] == "cpu":
        import torch
        torch.set_num_threads(torch.get_num_threads())
