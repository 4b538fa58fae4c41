"""Time <-> model tokens: the "token to time conversion" shared by tokenize-window and model nodes.

A :class:`ModelProfile` says how a model sees time: its audio rate, its codec frame rate
(tokens per second) and its context window.  All maths is exact (``fractions.Fraction``) and
positions are computed from absolute indices, never accumulated, so an hour of windows lands
on exactly the same samples as the first minute.  Profiles come from the model families
(:mod:`nodeflow.families`): ``PROFILES[name]`` is the nominal time base family ``name`` declares,
and a node's ``profile`` parameter typed with a :class:`ProfileChoice` offers every registered
family's (plug-ins' included) beside its own choices such as ``custom``.

>>> p = ModelProfile("codec32k", 32000, 50, 1503, delay_tokens=3)   # 4 delayed codebooks, 30 s
>>> p.seconds_to_tokens(1.0), p.generation_tokens(1.0), p.tokens_to_seconds(1500)
(50, 53, Fraction(30, 1))
>>> bars_to_seconds(4, bpm=120)
Fraction(8, 1)
"""
from __future__ import annotations

import dataclasses
import decimal
import enum
import math
import re
import threading
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any, cast

from .errors import ParameterError
from .types import ChoiceEnum

__all__ = ["ModelProfile", "PROFILES", "ProfileChoice", "profile_named", "bars_to_seconds", "beats_to_seconds", "grid_frame", "seconds_to_tokens",
           "tokens_to_seconds", "profile_from_rates", "parse_meter", "bar_label", "bar_label_time", "NOTE_VALUES", "exact_time"]


def exact_time(x: float | int | Fraction) -> Fraction:
    """A time, tempo or rate as an exact fraction: a float as the nearest fraction with a denominator up to
    10**9, which is the decimal typed (0.1 -> 1/10) and the fraction computed (60 / 97.5 * 4 -> 32/13).

    >>> exact_time(0.1), exact_time(60 / 97.5 * 4), exact_time(3)
    (Fraction(1, 10), Fraction(32, 13), Fraction(3, 1))
    """
    return x if isinstance(x, Fraction) else Fraction(x).limit_denominator(10**9) if isinstance(x, float) else Fraction(x)


@dataclasses.dataclass(frozen=True)
class ModelProfile:
    """How a model sees time.

    ``window_tokens`` is the most tokens one generate call produces, *including* ``delay_tokens``
    (a codec language model's delay pattern adds ``num_codebooks - 1`` tokens that carry no audio of their own).
    """
    name: str
    sample_rate: int
    frame_rate: Fraction          # tokens per second
    window_tokens: int
    delay_tokens: int = 0
    channels: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame_rate", exact_time(self.frame_rate))
        if self.sample_rate <= 0 or self.frame_rate <= 0 or self.window_tokens <= self.delay_tokens:
            raise ParameterError(f"profile {self.name}: rate {self.sample_rate} Hz, {self.frame_rate} tokens/s and "
                                 f"window {self.window_tokens} tokens must all be positive")

    @property
    def hop(self) -> Fraction:
        """Audio samples per token (640 for a 32 kHz codec at 50 tokens per second)."""
        return Fraction(self.sample_rate) / self.frame_rate

    @property
    def audio_window_tokens(self) -> int:
        return self.window_tokens - self.delay_tokens

    @property
    def window_s(self) -> Fraction:
        """Longest audio one generate call makes."""
        return self.tokens_to_seconds(self.audio_window_tokens)

    def tokens_to_seconds(self, tokens: int) -> Fraction:
        return Fraction(tokens) / self.frame_rate

    def seconds_to_tokens(self, seconds: float | Fraction, rounding: str = "nearest") -> int:
        exact = exact_time(seconds) * self.frame_rate
        if rounding == "ceil":
            return math.ceil(exact)
        if rounding == "floor":
            return math.floor(exact)
        return round(exact)

    def stride_refusal(self, extend_stride_s: float, stride: int, goal: str, unit: str = "token",
                       least_s: float = 0.0) -> str:
        """Why ``extend_stride_s`` (``stride`` tokens, as the family rounds it) cannot chain windows
        ``goal`` ("to generate 2 s"): in tokens, and the seconds accepted (from ``least_s``, the
        parameter's own minimum, or one token).  A refusal in rounded seconds alone read as a
        contradiction ("0.99 must be shorter than the window of 1 s", where 0.99 s is the window's 50 tokens)."""
        window = self.audio_window_tokens
        what = (f"the model's whole window ({window} {unit}s, {float(self.window_s):.6g} s)" if stride == window else
                f"longer than the model's window of {window} {unit}s ({float(self.window_s):.6g} s)"
                if stride > window else "")
        one_ms = float(1000 / self.frame_rate)
        least = max(exact_time(least_s), self.tokens_to_seconds(1))
        return (f"extend_stride_s={extend_stride_s:g} is {stride} {unit}{'' if stride == 1 else 's'} of {one_ms:.3g} ms"
                + (f", {what}" if what else "") + f"; {goal} it must be from {_digits(least, up=True)} to "
                f"{_digits(self.tokens_to_seconds(window - 1))} s (at most {window - 1} {unit}s)")

    def tokens_to_frames(self, tokens: int, sample_rate: int | None = None) -> int:
        """Sample index of a token boundary at ``sample_rate`` (default: the model's)."""
        rate = sample_rate or self.sample_rate
        return round(Fraction(tokens) * rate / self.frame_rate)

    def frames_to_tokens(self, frames: int, sample_rate: int | None = None) -> int:
        """Tokens needed to cover ``frames`` samples (rounded up)."""
        rate = sample_rate or self.sample_rate
        return math.ceil(Fraction(frames) * self.frame_rate / rate)

    def generation_tokens(self, seconds: float | Fraction) -> int:
        """``max_new_tokens`` for ``seconds`` of audio: ``tokens + delay`` (53 for 1 s at 50 tokens/s, delay 3)."""
        return self.seconds_to_tokens(seconds) + self.delay_tokens


def _digits(x: Fraction, up: bool = False) -> str:
    """``x`` in six digits, rounded towards zero (or ``up``): a bound that stays within the range it
    writes, whichever way the family rounds seconds to tokens."""
    with decimal.localcontext(prec=6, rounding=decimal.ROUND_CEILING if up else decimal.ROUND_FLOOR):
        d = decimal.Decimal(x.numerator) / decimal.Decimal(x.denominator)
    return format(d.normalize(), "f")


class _Profiles(Mapping[str, ModelProfile]):
    """The nominal time bases the registered model families declare, by family name (read-only)."""

    def __getitem__(self, name: str) -> ModelProfile:
        from . import families
        try:
            return families.profile(name)
        except ParameterError as e:
            raise KeyError(str(e)) from None

    def __iter__(self) -> Iterator[str]:
        from . import families
        return iter(families.profile_names())

    def __len__(self) -> int:
        from . import families
        return len(families.profile_names())


PROFILES: Mapping[str, ModelProfile] = _Profiles()


class _FamilyProfiles(enum.EnumMeta):
    """The metaclass of :class:`ProfileChoice`: before its members are listed or a value is looked
    up, the members follow the registered model families (one per family with a nominal time base)."""

    def _sync(cls) -> None:
        if "_member_map_" not in cls.__dict__:      # still being created
            return
        from . import families
        names = families.profile_names()
        with _SYNC_LOCK:
            added = _ADDED.setdefault(cls, {})
            declared = [n for n in cls._member_names_ if n not in added]
            taken = {cls._member_map_[n].value for n in declared}
            for name in [n for n, m in added.items() if m.value not in names]:      # unregistered since
                gone = added.pop(name)
                del cls._value2member_map_[gone.value], cls._member_map_[name]
            for value in names:
                if value not in taken and value.upper() not in cls._member_map_:
                    member: Any = str.__new__(cast("type[str]", cls), value)
                    member._name_, member._value_, member.__objclass__ = value.upper(), value, cls
                    member._sort_order_ = len(cls._member_map_)
                    added[member._name_] = cls._member_map_[member._name_] = cls._value2member_map_[value] = member
            order = {value: i for i, value in enumerate(names)}
            cls._member_names_[:] = sorted(declared + list(added),
                                           key=lambda n: order.get(cls._member_map_[n].value, len(order)))

    def __iter__(cls) -> Iterator[Any]:
        cls._sync()
        return super().__iter__()

    def __len__(cls) -> int:
        cls._sync()
        return super().__len__()


_SYNC_LOCK = threading.RLock()
_ADDED: dict[type, dict[str, Any]] = {}


class ProfileChoice(ChoiceEnum, metaclass=_FamilyProfiles):
    """Base of a ``profile`` parameter's choices: the members a node declares (``custom``) plus the
    nominal time base of every registered model family, built-in or plug-in, listed first (by
    name).  A value no family declares is one :class:`ParameterError` naming the known ones and
    the fix; :func:`profile_named` gives a member's :class:`ModelProfile`."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        cls._sync()
        if isinstance(value, str) and value in cls._value2member_map_:
            return cls._value2member_map_[value]
        raise ParameterError(f"profile={value!r}: expected one of {', '.join(m.value for m in cls)}; "
                             + cls.describe_unknown(value))

    @classmethod
    def describe_unknown(cls, value: object) -> str:
        """The fix for a profile no registered family declares (the end of the validation message)."""
        return (f"no installed model family declares a time base named {value!r}: install the node pack that "
                "does (`audiochain nodes` lists the packs), or use profile=custom with your model's rates")


def profile_from_rates(sample_rate: int, frame_rate: float | Fraction, window_tokens: int, name: str = "custom",
                       delay_tokens: int = 0) -> ModelProfile:
    """A custom profile (e.g. read off a loaded model's config)."""
    return ModelProfile(name, int(sample_rate), exact_time(frame_rate), int(window_tokens), int(delay_tokens))


NOTE_VALUES = (1, 2, 4, 8, 16, 32)


def bars_to_seconds(bars: float | Fraction, bpm: float, beats_per_bar: int = 4, note_value: int = 4) -> Fraction:
    """Duration of ``bars`` bars at ``bpm`` beats per minute, exact (``bpm=97.5`` is 195/2).

    A bar holds ``beats_per_bar`` notes of ``note_value`` (the meter: 6/8 is six eighths), and the
    tempo counts quarter notes, as DAWs and DAWproject count it: a 6/8 bar at 100 bpm is three
    quarter notes, 1.8 s.

    >>> bars_to_seconds(1, bpm=128)
    Fraction(15, 8)
    >>> bars_to_seconds(1, bpm=100, beats_per_bar=6, note_value=8)
    Fraction(9, 5)
    """
    if bpm <= 0 or beats_per_bar <= 0:
        raise ParameterError(f"bpm={bpm} and beats_per_bar={beats_per_bar} must be positive")
    if note_value not in NOTE_VALUES:
        raise ParameterError(f"note_value={note_value}: expected one of {', '.join(map(str, NOTE_VALUES))} "
                             "(the meter's lower number)")
    return exact_time(bars) * beats_per_bar * Fraction(4, note_value) * 60 / exact_time(bpm)


def beats_to_seconds(beats: float | Fraction, bpm: float, note_value: int = 4) -> Fraction:
    """Duration of ``beats`` notes of ``note_value`` at ``bpm`` quarter notes per minute, exact.

    >>> beats_to_seconds(3, bpm=90)
    Fraction(2, 1)
    """
    return bars_to_seconds(beats, bpm, 1, note_value)


def grid_frame(position_s: Fraction, sample_rate: int) -> int:
    """The sample a grid position falls on: ``round(position_s * sample_rate)``, exact (no float drift).

    Every window start, seam and marker on the bar grid goes through here, from its *absolute*
    position: bar 10,000 at 133 bpm lands where ``10000 * bar`` says, with no accumulated error.

    >>> grid_frame(64 * bars_to_seconds(1, bpm=128), 32000)
    3840000
    """
    return round(Fraction(position_s) * sample_rate)


def bar_label(frame: int, sample_rate: int, bpm: float, beats_per_bar: int = 4, note_value: int = 4) -> str:
    """Where ``frame`` falls on the bar grid, for cue markers: ``"bar N"`` on a bar line (counted
    from 1), else ``"bar N beat B"`` (``B`` counted from 1 in the meter's notes, with two decimals
    between beats).  Bars are as :func:`bars_to_seconds` counts them.

    >>> bar_label(96000, 48000, bpm=120)
    'bar 2'
    >>> bar_label(72000, 48000, bpm=120), bar_label(50400, 48000, bpm=100, beats_per_bar=6, note_value=8)
    ('bar 1 beat 4', 'bar 1 beat 4.5')
    """
    beat_frames = float(beats_to_seconds(1, bpm, note_value)) * sample_rate
    beats = round(frame / beat_frames, 2)             # to a hundredth of a beat: a grid point is one
    bar, beat = divmod(beats, beats_per_bar)
    if abs(beat) < 1e-9:
        return f"bar {int(bar) + 1}"
    beat = round(beat + 1, 2)
    return f"bar {int(bar) + 1} beat {int(beat) if beat.is_integer() else f'{beat:.2f}'.rstrip('0')}"


def bar_label_time(label: str, bpm: float, beats_per_bar: int = 4, note_value: int = 4) -> Fraction | None:
    """Where a marker labelled as :func:`bar_label` labels one lies on the grid, in exact seconds from
    bar 1; None for any other label.

    >>> bar_label_time("bar 2", bpm=120), bar_label_time("bar 1 beat 4.5", bpm=100, beats_per_bar=6, note_value=8)
    (Fraction(2, 1), Fraction(21, 20))
    >>> bar_label_time("Chorus", bpm=120) is None
    True
    """
    m = re.fullmatch(r"bar (\d{1,7})(?: beat (\d{1,3}(?:\.\d{1,2})?))?", label)
    if m is None or int(m.group(1)) < 1:
        return None
    beat = Fraction(m.group(2) or "1") - 1
    return beats_to_seconds((int(m.group(1)) - 1) * beats_per_bar + beat, bpm, note_value)


def parse_meter(meter: str) -> tuple[int, int]:
    """``"3/4"`` -> ``(3, 4)``; raises :class:`ParameterError` with the expected form otherwise.

    >>> parse_meter("6/8")
    (6, 8)
    """
    m = re.fullmatch(r"\s*([0-9]{1,2})\s*/\s*([0-9]{1,2})\s*", str(meter), flags=re.ASCII)
    if m is None or m.group(1).startswith("0") or m.group(2).startswith("0"):   # written as tags write it
        raise ParameterError(f"meter={meter!r}: expected beats/note value such as 4/4, 3/4 or 6/8")
    num, den = int(m.group(1)), int(m.group(2))
    if not (1 <= num <= 64 and den in NOTE_VALUES):
        raise ParameterError(f"meter={meter!r}: expected 1-64 beats over a note value of 1, 2, 4, 8, 16 or 32")
    return num, den


def profile_named(profile: str | ModelProfile) -> ModelProfile:
    """``profile`` itself, or the nominal time base of the model family it names."""
    if isinstance(profile, ModelProfile):
        return profile
    from . import families
    return families.profile(str(getattr(profile, "value", profile)))


def seconds_to_tokens(seconds: float, profile: str | ModelProfile) -> int:
    return profile_named(profile).seconds_to_tokens(seconds)


def tokens_to_seconds(tokens: int, profile: str | ModelProfile) -> Fraction:
    return profile_named(profile).tokens_to_seconds(tokens)
