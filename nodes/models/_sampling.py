"""Seeded sampling, per-step progress and cancel for model nodes: part of the public model layer
(:mod:`nodes.models.layer` exports every name here).

:func:`seeded` serialises users of torch's global generators; :func:`sampler` draws with a
generator of its own, so that generations on different models run side by side and still repeat
exactly; :func:`step_criterion` and :func:`step_progress` report each step and stop a cancelled run
within one.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator

from nodeflow.node import Context

__all__ = ["seeded", "sampler", "step_criterion", "step_progress"]

_GLOBAL_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded(seed: int, device: str) -> Iterator[None]:
    """Reproducible sampling from torch's *global* generators: forked, seeded with ``seed`` and
    restored.  Two users of the global generators cannot interleave their draws, so everything
    inside is serialised process-wide (Bark needs it: its fine stage samples with
    ``torch.multinomial`` itself).  A family that samples with :func:`sampler` instead runs
    generations on different models or devices concurrently.
    """
    import torch
    kind = device.split(":", 1)[0]
    fork_devices = [torch.device(device).index or 0] if kind == "cuda" else []
    with _GLOBAL_RNG_LOCK, torch.inference_mode():
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(int(seed))
            yield


def sampler(seed: int, device: str, *, temperature: float, top_k: int | None, top_p: float | None,
            batch: int = 1):
    """Sampling with a generator of its own: a ``LogitsProcessorList`` for ``generate(logits_processor=...)``.

    Its last processor applies temperature, top-k and top-p (as transformers' own warpers do, in
    that order, after classifier-free guidance) and draws the token from ``torch.Generator(device)``
    seeded with ``seed``; it then leaves only that token possible, so ``generate``'s own draw from
    the global generator picks it whatever state that generator is in.  The draws are those a
    global generator seeded with ``seed`` would make, and concurrent generations cannot disturb
    each other.  Pass ``do_sample=True``, ``temperature=1.0`` and no ``top_k``/``top_p`` to
    ``generate`` (they are applied here).  Processors ``generate`` appends (e.g. guidance) go before
    the sampler; one of a type already present replaces it, so the list can serve several
    ``generate`` calls (windows).  With ``batch`` items generated together, each item's rows
    (``rows / batch`` of them, e.g. its codebooks) draw from a generator of its own seeded with
    ``seed``: each item gets the draws it would get alone.
    """
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    gens = []
    for _ in range(max(1, int(batch))):
        gen = torch.Generator(device=device)
        gen.manual_seed(int(seed))
        gens.append(gen)
    warpers: list = []
    if temperature is not None and float(temperature) != 1.0:
        warpers.append(TemperatureLogitsWarper(float(temperature)))
    if top_k:
        warpers.append(TopKLogitsWarper(top_k=int(top_k), min_tokens_to_keep=1))
    if top_p is not None and float(top_p) < 1.0:
        warpers.append(TopPLogitsWarper(top_p=float(top_p), min_tokens_to_keep=1))

    class _Draw(LogitsProcessor):
        def __call__(self, input_ids, scores):
            for w in warpers:
                scores = w(input_ids, scores)
            probs = torch.nn.functional.softmax(scores, dim=-1)
            if len(gens) == 1:
                chosen = torch.multinomial(probs, num_samples=1, generator=gens[0])
            else:                      # each item's rows from its own generator, as if alone
                per = probs.shape[0] // len(gens)
                chosen = torch.cat([torch.multinomial(probs[i * per:(i + 1) * per], num_samples=1, generator=g)
                                    for i, g in enumerate(gens)])
            only = torch.full_like(scores, float("-inf"))
            return only.scatter_(1, chosen, 0.0)

    class _DrawLast(LogitsProcessorList):
        def append(self, processor):
            for i, p in enumerate(self[:-1]):
                if type(p) is type(processor):
                    self[i] = processor
                    return
            self.insert(len(self) - 1, processor)

    return _DrawLast([_Draw()])


def step_criterion(on_step: Callable[[Any], None]):
    """A transformers StoppingCriteria calling ``on_step(input_ids)`` after every generated token
    (the full sequence so far); it never stops generation itself: ``on_step`` raises to cancel."""
    import torch
    from transformers import StoppingCriteria

    class _Steps(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            on_step(input_ids)
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return _Steps()


def step_progress(ctx: Context, total_steps: int, message: str = "") -> Callable[..., None]:
    """An ``on_step`` that reports step ``k`` of ``total_steps`` to ``ctx`` (which raises to cancel
    a cancelled run, within one step): for :func:`step_criterion`, a diffusers pipeline's
    ``callback_on_step_end`` (return its ``kwargs``' tensors) or a loop of your own."""
    done = [0]

    def on_step(*_args: Any, **_kwargs: Any) -> Any:
        done[0] += 1
        ctx.progress(min(done[0], total_steps), total_steps, message)
        return _args[-1] if _args and isinstance(_args[-1], dict) else None

    return on_step
