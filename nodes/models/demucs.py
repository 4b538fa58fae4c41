"""``models.demucs`` and ``models.demucs_6s``: split a song into stems with Demucs v4 (HTDemucs).

``models.demucs`` always gives the four stems every Demucs model knows (drums, bass, other,
vocals; with a 6-source checkpoint ``other`` also holds guitar and piano, so the four still add
up to the mix) plus ``stems``, every source the checkpoint separates, in its order.
``models.demucs_6s`` gives the six of ``htdemucs_6s`` as named ports.  Checkpoints, loading and
the segmenting maths live in :mod:`nodes.models._demucs`.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Callable, NamedTuple

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodeflow.types import Range

from . import _demucs as engine
from .layer import Device, Family, Precision, register, source_tags

__all__ = ["demucs", "demucs_6s", "Stems", "Stems6", "separate_audio", "checked_segment", "require_sources"]

FOUR = ("drums", "bass", "other", "vocals")
SIX = FOUR + ("guitar", "piano")
_SEGMENT_S = 7.8        # HTDemucs' training length: the segment each model call separates, at the least
_CPU_S_PER_S = 1.5      # HTDemucs on one CPU core, per second of audio and per shift (a GPU is far faster)

# Demucs checkpoints: AudioChain's folder (config.json with model_type demucs) or demucs's own hub
# export (NAME.yaml + SIG.safetensors, the family's `layout` check); resolved, pulled, cached,
# fingerprinted and preflighted by the model layer like any family's.  Precision `auto` is float32
# everywhere (Demucs's spectrograms lose accuracy in half precision; float16/bfloat16 run under autocast).
DEMUCS = register(Family("demucs", model_types=("demucs",), layout=engine.layout_problem, packages=engine.PACKAGES,
                         extra="separation", load=engine.load, describe=engine.describe, auto_dtype="float32",
                         example="adefossez/HTDemucs"))


class Stems(NamedTuple):
    drums: Audio
    bass: Audio
    other: Audio
    vocals: Audio
    stems: list[Audio]


class Stems6(NamedTuple):
    drums: Audio
    bass: Audio
    other: Audio
    vocals: Audio
    guitar: Audio
    piano: Audio
    stems: list[Audio]


def _estimate_for(names: tuple[str, ...]):
    def estimate(inputs: dict, params: dict) -> dict:
        from nodeflow.costs import Shape
        a = inputs.get("audio")
        if a is None or not a.rate:
            return {}
        # each model call separates one segment padded to the model's own length (HTDemucs' 7.8 s): short
        # segments cost as many full calls (QA60: segment_s=0.01 ran 4.7x the default, estimated alike)
        seg = float(params.get("segment_s") or 0.0) or _SEGMENT_S
        calls = math.ceil(a.seconds / max(seg * (1.0 - float(params.get("overlap", 0.25))), 1e-3))
        work = _CPU_S_PER_S * calls * max(seg, _SEGMENT_S) * max(1, int(params.get("shifts", 1)))
        one = Shape(a.frames, a.channels, a.rate, work_s=work / len(names) + 0.5)
        return {**{n: one for n in names}, "stems": Shape(a.frames, a.channels, a.rate, items=len(names), work_s=0.0)}
    return estimate


def checked_segment(segment_s: float, own_s: float, max_s: float, rate: int) -> float:
    """The segment a separation uses: ``segment_s``, or the model's own ``own_s`` for 0; longer than
    the model allows (``max_s``) or under two samples at ``rate`` is one :class:`ParameterError`."""
    seg = float(segment_s) if segment_s else own_s
    if seg > max_s + 1e-9:
        raise ParameterError(f"segment_s={segment_s:g} exceeds what this model was trained on "
                             f"({max_s:g} s); use at most that, or 0 for the model's own")
    if int(seg * rate) < 2:
        raise ParameterError(f"segment_s={segment_s:g} is shorter than two samples at {rate} Hz")
    return seg


def require_sources(checkpoint: str, sources: tuple[str, ...], who: str) -> None:
    """Refuse a checkpoint without the sources ``who`` gives as ports (models.demucs_6s: six, else four)."""
    six = who == "models.demucs_6s"
    missing = [n for n in (SIX if six else FOUR) if n not in sources]
    if missing and six:
        raise ParameterError(f"checkpoint '{checkpoint}' separates {', '.join(sources)}; models.demucs_6s needs six "
                             f"sources (missing {', '.join(missing)}): use models.demucs for it")
    if missing:
        raise ParameterError(f"checkpoint '{checkpoint}' separates {', '.join(sources)}; {who} needs "
                             f"{', '.join(FOUR)} (missing {', '.join(missing)})")


def _check_for(who: str) -> Callable[[dict[str, Any], Any], None]:
    """validate's :func:`checked_segment` and :func:`require_sources` for node ``who``, against the
    checkpoint's layout (:func:`nodes.models._demucs.limits`), before any model loads."""
    def check(params: dict[str, Any], ck: Any) -> None:
        lim = engine.limits(ck)
        checked_segment(params["segment_s"], lim.segment_s, lim.max_segment_s, lim.sample_rate)
        require_sources(ck.name, lim.sources, who)
    return check


def separate_audio(audio: Audio, *, checkpoint: str, shifts: int, overlap: float, segment_s: float, seed: int,
                   residual: bool, device: Any, precision: Any, ctx: Context,
                   ports: Callable[[tuple[str, ...]], dict[str, tuple[str, ...]]] | None = None,
                   who: str = "models.demucs") -> dict[str, Audio]:
    """Every source of ``checkpoint`` in ``audio``, by name, in the checkpoint's order: each exactly
    ``audio.frames`` long at ``audio``'s rate with its channels (mono is separated as two identical
    channels and averaged back), its placement and info kept, tagged ``stem``, ``checkpoint`` and
    ``revision``.  With ``residual`` the ``other`` source is the input minus every other source,
    so the sources add up to the input exactly.  ``ports(sources)`` (output port -> the sources added
    into it): each port's audio is handed on (``ctx.chunk``) stretch by stretch as the segments finish."""
    if audio.channels > 2:
        raise ParameterError(f"Demucs separates mono or stereo; this audio has {audio.channels} channels: "
                             "fold it down first with dsp.channels")
    if not 0.0 <= overlap < 1.0:
        raise ParameterError(f"overlap={overlap:g} must be at least 0 and below 1")
    with DEMUCS.using(checkpoint, ctx, device, precision, who=who) as loaded:
        seg = checked_segment(segment_s, loaded.segment_s, loaded.max_segment_s, loaded.sample_rate)
        require_sources(checkpoint, loaded.sources, who)
        x = _to_model(audio, loaded.sample_rate, loaded.audio_channels, ctx)
        pieces = _Pieces(audio, loaded.sources, loaded.sample_rate, residual, ports(loaded.sources) if ports else {}, ctx)
        engine.separate(loaded, x, shifts=shifts, overlap=overlap, segment_s=seg, seed=seed,
                        progress=lambda d, t: ctx.progress(d, t, f"segment {d}/{t}"),
                        check=ctx.check_cancelled, final=pieces.add)
        stems = pieces.finish()
        tags = source_tags(loaded.checkpoint, loaded.revision, loaded.path)
    return {name: audio.replace(s).with_info(stem=name, **tags) for name, s in stems.items()}


def port_sum(parts: list[np.ndarray]) -> np.ndarray:
    """Sources added into one output, left to right (the same sum whole or piece by piece)."""
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


class _Pieces:
    """The separation's finished stretches (at the model's rate and channels) turned into the
    stems: channels folded back, the rate brought back (one :class:`~nodes.dsp._conform.Resampler`
    per source), the input's exact length, the residual ``other``; each output port's stretch is
    handed on (``ctx.chunk``) as it is made, and the stems are those stretches put together, so
    the pieces are the result to the sample."""

    def __init__(self, like: Audio, sources: tuple[str, ...], rate: int, residual: bool,
                 ports: dict[str, tuple[str, ...]], ctx: Context):
        from nodes.dsp._conform import Resampler

        self.like, self.sources, self.rate, self.residual, self.ports, self.ctx = like, sources, rate, residual, ports, ctx
        placed = like.start_frame or like.overlap_frames or like.edges or like.exact_start is not None \
            or like.exact_end is not None       # the stems are placed as the input (nodeflow.relay: not said)
        self.total = None if placed else like.frames
        self.resamplers = ([Resampler(rate, like.sample_rate, like.channels) for _ in sources]
                           if rate != like.sample_rate else None)
        self.model_frames = self.sent = 0
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in sources}

    def add(self, start: int, region: np.ndarray) -> None:
        self.model_frames += region.shape[-1]
        self._take([self._fold(region[i]) for i in range(len(self.sources))], last=False)

    def _fold(self, stem: np.ndarray) -> np.ndarray:
        return stem.mean(axis=0, keepdims=True) if self.like.channels != stem.shape[0] else stem

    def _take(self, stems: list[np.ndarray], last: bool) -> None:
        if self.resamplers is not None:
            stems = [rs.push(s) if not last else np.concatenate([rs.push(s), rs.finish(self.model_frames)], axis=1)
                     for rs, s in zip(self.resamplers, stems)]
        n = min(stems[0].shape[1], self.like.frames - self.sent)
        if last and self.sent + n < self.like.frames:      # the input's exact length
            pad = self.like.frames - self.sent - n
            stems = [np.concatenate([s[:, :n], np.zeros((s.shape[0], pad), np.float32)], axis=1) for s in stems]
            n += pad
        if n <= 0:
            return
        got = {name: np.ascontiguousarray(s[:, :n], np.float32) for name, s in zip(self.sources, stems)}
        if self.residual and "other" in got:
            rest = port_sum([s for name, s in got.items() if name != "other"])
            got["other"] = self.like.samples[:, self.sent:self.sent + n] - rest
        for name, s in got.items():
            self.parts[name].append(s)
        for port, names in self.ports.items():
            self.ctx.chunk(Audio(port_sum([got[n] for n in names if n in got]), self.like.sample_rate,
                                 start_frame=self.sent), port, total_frames=self.total)
        self.sent += n

    def finish(self) -> dict[str, np.ndarray]:
        self._take([np.zeros((self.like.channels, 0), np.float32) for _ in self.sources], last=True)
        return {name: np.concatenate(p, axis=1) if p else np.zeros((self.like.channels, 0), np.float32)
                for name, p in self.parts.items()}


def _to_model(audio: Audio, rate: int, channels: int, ctx: Context) -> np.ndarray:
    from nodes.dsp._conform import resample_audio
    x = audio.samples
    if x.shape[0] != channels:
        x = np.repeat(x.mean(axis=0, keepdims=True), channels, axis=0) if channels > 1 else x.mean(0, keepdims=True)
    if audio.sample_rate != rate:
        x = resample_audio(Audio(x, audio.sample_rate), rate, "HQ", ctx.check_cancelled).samples
    return x


_PARAMS_DOC = """
    Parameters
    ----------
    audio : Audio
        The mix to separate: mono or stereo, any rate and length.
    checkpoint : str
        Demucs checkpoint: a hub id of demucs's safetensors export ({hub}) or a local folder (see the README).
    shifts : int
        Random time shifts (up to 0.5 s) averaged, 0-20: each costs one more pass and improves separation a little (0: off).
    overlap : float
        How much neighbouring segments overlap, 0-0.9; seams are cross-faded over it (0.25 is Demucs's default).
    segment_s : float, seconds
        Length of the pieces the song is cut into, up to the model's training length (7.8 s for HTDemucs); 0: the model's own.
    seed : int
        Seed of the random shifts, 0 to 2^31-1: the same seed and settings give the same stems.
    residual : bool
        Make `other` the input minus every other stem, so the stems add up to the input exactly (off: the model's own estimate).
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device wins.
    precision : Precision
        Arithmetic: auto (float32), float32, float16 (GPU) or bfloat16, the last two under autocast.
"""



def _four_ports(sources: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """models.demucs's outputs: the four stems, ``other`` with any further sources added."""
    if not set(FOUR) <= set(sources):
        return {}
    return {"drums": ("drums",), "bass": ("bass",), "other": ("other", *(n for n in sources if n not in FOUR)),
            "vocals": ("vocals",)}


def _demucs(audio: Audio, *, checkpoint: str = "adefossez/HTDemucs",
            shifts: Annotated[int, Range(0, 20)] = 1,
            overlap: Annotated[float, Range(0.0, 0.9)] = 0.25,
            segment_s: Annotated[float, Range(0.0, 60.0, unit="s")] = 0.0,
            seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
            residual: bool = False,
            device: Device = Device.AUTO,
            precision: Precision = Precision.AUTO,
            ctx: Context) -> Stems:
    """Split a song into drums, bass, other and vocals with Demucs v4 (HTDemucs), any length.

    The song is cut into overlapping segments the model's length, each separated and cross-faded
    into the next (progress per segment, Stop within one).  Every stem has exactly the input's
    length, rate and channels, and keeps its place (window placement, tags).  With a 6-source
    checkpoint ``other`` also holds guitar and piano; ``stems`` lists every source the checkpoint
    separates, in its order, each tagged ``stem=<name>``.
"""
    got = separate_audio(audio, checkpoint=checkpoint, shifts=shifts, overlap=overlap, segment_s=segment_s, seed=seed,
                         residual=residual, device=device, precision=precision, ctx=ctx, ports=_four_ports)
    other = got["other"]
    extra = [got[n] for n in got if n not in FOUR]
    if extra:
        other = other.replace(port_sum([other.samples, *(e.samples for e in extra)])).with_info(
            stem="other+" + "+".join(n for n in got if n not in FOUR))
    return Stems(got["drums"], got["bass"], other, got["vocals"], list(got.values()))


_demucs.__doc__ += _PARAMS_DOC.format(hub="adefossez/HTDemucs, adefossez/HTDemucs-ft") + """
    Example::

        g = Graph(); song = g.add("io.load", path="song.flac"); sep = g.add("models.demucs", shifts=2)
        g.connect(song.out, sep.audio)      # sep.vocals, sep.drums, ... feed the rest of the graph
"""
demucs = DEMUCS.node("models.demucs", category="models", version=1, estimate=_estimate_for(FOUR),
                     check=_check_for("models.demucs"))(_demucs)


def _demucs_6s(audio: Audio, *, checkpoint: str = "adefossez/HTDemucs-6s",
               shifts: Annotated[int, Range(0, 20)] = 1,
               overlap: Annotated[float, Range(0.0, 0.9)] = 0.25,
               segment_s: Annotated[float, Range(0.0, 60.0, unit="s")] = 0.0,
               seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
               residual: bool = False,
               device: Device = Device.AUTO,
               precision: Precision = Precision.AUTO,
               ctx: Context) -> Stems6:
    """Split a song into drums, bass, other, vocals, guitar and piano with Demucs v4 (htdemucs_6s).

    As ``models.demucs``, for checkpoints that separate guitar and piano too; ``stems`` lists
    the six in the checkpoint's order.
"""
    got = separate_audio(audio, checkpoint=checkpoint, shifts=shifts, overlap=overlap, segment_s=segment_s, seed=seed,
                         residual=residual, device=device, precision=precision, ctx=ctx,
                         ports=lambda sources: {n: (n,) for n in SIX} if set(SIX) <= set(sources) else {},
                         who="models.demucs_6s")
    return Stems6(*(got[n] for n in SIX), list(got.values()))


_demucs_6s.__doc__ += _PARAMS_DOC.format(hub="adefossez/HTDemucs-6s")
demucs_6s = DEMUCS.node("models.demucs_6s", category="models", version=1, estimate=_estimate_for(SIX),
                        check=_check_for("models.demucs_6s"))(_demucs_6s)
