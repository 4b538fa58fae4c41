"""``time.detect_tempo``: find a clip's tempo and meter, so bar grids need not be typed.

The tempo and meter travel with the audio in its ``info`` (``bpm``, ``meter``): windows, stitches
and exports downstream use them (``bpm=auto`` in ``time.tokenize_window``, the BPM and meter
written into exported files, the tempo of a DAW project).  A file whose tags carry a BPM brings it
along from ``io.load`` the same way.

Tempo comes from librosa's beat tracker (an optional extra: ``pip install -e '.[tempo]'``),
refined by a straight line through the onsets on every beat; a result within 0.1 bpm of a whole
number is taken as that number when the onsets fit it as well, within the fit's error (produced music
is mostly at whole tempi, and 0.01 bpm off drifts the bar grid by samples every bar), so 174.9 stays
174.9.
The meter is estimated from where the music changes: bass notes and harmony tend to move on the
bar line, so the beat position (in groups of 2, 3 or 4 beats) at which the low-band spectrum and
the chroma change most recurs every bar; so does an accent, a first beat louder or brighter than the
others (a metronome's).  4/4 wins unless another grouping clearly stands out, its first beat standing
out in most of its bars, not on average alone (a grouping of two is read as 4/4: 2/4 is typed).  A clip
whose tracked beats start nothing (a held pad, a drone, noise) has no tempo to find: that is said, not
guessed.
Both can be overridden by parameters.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Annotated, TypeGuard

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError, install_hint
from nodeflow.node import Context, node
from nodeflow.timebase import NOTE_VALUES, parse_meter
from nodeflow.types import Auto, Range

__all__ = ["detect_tempo", "estimate_tempo", "audio_tempo", "typed_over_carried", "TEMPO_RANGE"]

TEMPO_RANGE = (40.0, 240.0)     # what the detector reports; octave errors are folded into it
_MIN_S = 4.0                     # shorter clips hold too few beats to say
_MAX_S = 240.0                   # beat tracking reads at most this much (from the start)
_ANALYSIS_RATE = 22050
_SNAP_BPM = 0.1                  # a tempo this close to a whole number is taken as that number, if the
_SNAP_ERRORS = 3.0               # onsets fit it as well: within this many of the fit's standard errors
                                 # (QA45: 174.9 bpm, a DAW tempo, was read right and reported as 175)
_CLEARLY = 1.15                  # how much more a 2- or 3-beat grouping must stand out to beat 4
_ODD_CLEARLY = 1.4               # and a 5- or 7-beat one to beat 2, 3 and 4
_MIN_BEATS = 4                   # tracked beats below which no tempo is said (a 2-bar loop tracks 7 of 8)
_FINE_HOP = 128                  # onsets timed on 5.8 ms frames for the tempo's fit
_FINE_OFFSETS = tuple(range(0, _FINE_HOP, _FINE_HOP // 4))   # samples: four framings of the onsets, averaged
_FINE_S = 60.0                   # over at most the first minute (dozens of beats: the fit is then exact)
_MIN_BARS = 3                    # a meter other than 4 is said only from at least this many of its bars
_AGREE = 0.5                     # ... and where its first beat changes most in at least this share of them
_ACCENT_AGREE = 2 / 3            # an accent decides the meter where it falls on one beat of this share of bars
_ACCENT_DB = 6.0                 # a beat this much louder than the clip's median beat counts as one change
_LOUDER_DB = 2.0                 # an accent: a beat at least this much louder than the median beat, or
_BRIGHTER = 0.3                  # at least this much brighter (octaves of its spectral centroid: a fourth is 0.42)
_ATTACK_LEAD = 2                 # a beat's attack: from this many of the beat tracker's frames before it (it
_ATTACK_FRAMES = 3               # tracks a few ms late, more as it drifts) to this many after
_LEVEL_CLEARLY = 1.05            # how much more the grid of 3/2 the tracked tempo must score to be the beat
_OFFBEAT_WEAK = 0.65             # off-beats this much weaker than the beats: the tracker counted eighths
_HALF_FROM = 70.0                # ... read as beats only where half the tempo is at least this
_LOW_HZ = 500.0                  # the band of kick and bass: eighth-note hats are not in it (QA76: 93.7 read 187.4)
_LOW_PRESENT = 0.25              # it decides where its onsets on the beat are this much of the whole band's
_MIN_CHANGE = 0.01               # bars whose sound changes less than this on their first beat give no meter
_MIN_BEAT_FLUX = 2.0             # the median onset strength (librosa's spectral flux, in dB of the clip's
                                 # loudest: level-free) at tracked beats below which no beat is there:
                                 # drums read 27, mixed music 12-15, a held pad 0.3, a static chord 0.03


def estimate_tempo(audio: Audio, *, start_bpm: float = 120.0, check=None) -> tuple[float, Fraction]:
    """``(bpm, bar)`` of ``audio`` (the first four minutes are analysed): the tempo in quarter notes
    a minute and the bar's length in quarter notes (``Fraction(7, 2)``: a bar of 7/8).

    With ``check`` (``ctx.check_cancelled``) the analysis runs in a worker process that ``check``
    can end (librosa's first beat tracking in a process compiles for seconds, uninterruptibly).
    Raises :class:`AudioError` for a clip too short or too quiet to hold a beat, and
    :class:`ParameterError` naming the extra to install when librosa is missing.
    """
    import importlib.util
    if importlib.util.find_spec("librosa") is None:
        raise ParameterError(f"bpm=auto needs librosa's beat tracker: {install_hint('tempo')}, "
                             "or type the tempo: bpm=120")
    from nodes.dsp._conform import resample_audio

    if audio.duration_s < _MIN_S:
        raise AudioError(f"detect_tempo: the clip is {audio.duration_s:.2f} s long; at least {_MIN_S:g} s are "
                         "needed to find a beat; type the tempo instead (bpm=...)")
    head = audio.replace(audio.samples[:, :round(_MAX_S * audio.sample_rate)])
    mono = resample_audio(head.replace(head.samples.mean(axis=0, keepdims=True)), _ANALYSIS_RATE,
                          check=check).samples[0]
    if float(np.sqrt(np.mean(np.square(mono, dtype=np.float64)))) < 1e-4:
        raise AudioError("detect_tempo: the clip is (nearly) silent, so it has no beat to find; "
                         "type the tempo instead (bpm=...)")
    if check is None:
        return _analyse(mono, start_bpm)
    from nodeflow.worker import call_in_worker
    return call_in_worker(_analyse, (mono, float(start_bpm)), check=check, what="time.detect_tempo")


def _analyse(mono: np.ndarray, start_bpm: float) -> tuple[float, Fraction]:
    """Beat tracking and meter of ``mono`` at ``_ANALYSIS_RATE`` (in this process or a worker's)."""
    import librosa

    hop = 512
    onset = librosa.onset.onset_strength(y=mono, sr=_ANALYSIS_RATE, hop_length=hop)
    tempo, beats = librosa.beat.beat_track(onset_envelope=onset, sr=_ANALYSIS_RATE, hop_length=hop,
                                           start_bpm=start_bpm, units="frames")
    bpm = float(np.atleast_1d(tempo)[0])
    if not np.isfinite(bpm) or bpm <= 0 or len(beats) < _MIN_BEATS:   # (QA: 2-bar loops of 8 beats were
        raise AudioError(f"detect_tempo: no steady beat found in the clip ({len(beats)} beat(s) tracked, at least "
                         f"{_MIN_BEATS} needed); type the tempo instead (bpm=...)")   # refused: 7 tracked)
    if float(np.median(onset[beats])) < _MIN_BEAT_FLUX:    # (QA: a held pad was given 143.55 bpm in 5/4)
        raise AudioError("detect_tempo: no steady beat found in the clip: nothing in it starts on a pulse (a held "
                         "pad, a drone, noise); type the tempo instead (bpm=...)")
    fines = [librosa.onset.onset_strength(y=mono[o:o + round(_FINE_S * _ANALYSIS_RATE)], sr=_ANALYSIS_RATE,
                                          hop_length=_FINE_HOP) for o in _FINE_OFFSETS]
    fine = fines[0]
    low = librosa.onset.onset_strength(y=mono[:round(_FINE_S * _ANALYSIS_RATE)], sr=_ANALYSIS_RATE,
                                       hop_length=_FINE_HOP, fmax=_LOW_HZ)
    bpm, error = _refine_all(fines, beats, hop, bpm)
    level, phase = _pulse_level(fine, bpm, low)
    if level != 1.0:                 # the beat's own onsets, fitted again (195.01 / 2 read 97.51 for 97.5)
        bpm *= level
        period = 60.0 / bpm * _ANALYSIS_RATE / _FINE_HOP
        grid = np.arange(phase, len(fine) - 1, period) * _FINE_HOP / hop
        bpm, error = _refine_all(fines, np.round(grid).astype(int), hop, bpm)
    per_beat = Fraction(1)           # quarter notes in a tracked beat: 1/2 where it tracked eighths
    while bpm < TEMPO_RANGE[0]:
        bpm, per_beat, error = bpm * 2, per_beat * 2, error * 2
    while bpm > TEMPO_RANGE[1]:
        bpm, per_beat, error = bpm / 2, per_beat / 2, error / 2
    if abs(bpm - round(bpm)) <= min(_SNAP_BPM, _SNAP_ERRORS * error):
        bpm = float(round(bpm))      # the fit reads 132.996 for 133: 0.004 bpm drifts 2 samples a bar
    bar = _meter(mono, beats, hop) * per_beat     # (QA: 7 tracked eighths at 262 were called 7/4 at 131)
    return round(bpm, 2), (Fraction(4) if bar == 2 else bar)


def _refine_all(fines: list[np.ndarray], beats: np.ndarray, hop: int, bpm: float) -> tuple[float, float]:
    """:func:`_refine` on the onsets framed from each of :data:`_FINE_OFFSETS`, averaged: a parabola
    times an onset with a bias that depends on where it falls in its frame, and a beat that is a
    whole number of frames long (97.5 bpm: 106.006) keeps its place in them, so the bias was
    the same on every beat but for a slow drift, which the line's slope took for tempo (97.4927 for
    97.5: QA63 D2).  Framed from four places a quarter frame apart, the biases average out."""
    fits = np.asarray([_refine(f, beats, hop, bpm) for f in fines])
    if np.any(fits[:, 1] == 0.0):
        return float(fits[0, 0]), float(fits[0, 1])
    middle = float(np.median(fits[:, 0]))      # a framing whose line went astray (one read 151.42 for 150)
    fits = fits[np.abs(fits[:, 0] - middle) <= max(3 * float(np.median(fits[:, 1])), 0.02)]
    return float(fits[:, 0].mean()), float(fits[:, 1].mean())


def _refine(fine: np.ndarray, beats: np.ndarray, hop: int, bpm: float) -> tuple[float, float]:
    """The tempo from a straight line through the onsets on the beat, each timed to a fraction of a
    :data:`_FINE_HOP` frame (the tempogram's bins are 2.3 bpm apart at 120 bpm: a 4-bar loop at 120
    read 117.45 and one at 140 read 143.55), and how far off it may be (bpm; 0: no fit).

    A first line goes through the onsets at the tracked beats (a beat the tracker skipped keeps its
    place in it); then every beat that line puts in the clip is timed again, within an eighth of a beat
    of it, and the line refitted, leaving out beats where nothing starts or an onset lies off the line
    (QA45: the tracker's last two beats at 141 bpm fell off the onsets, beyond where they were looked
    for, and read 141.23 on 16 s).  ``fine``: the onset strength on :data:`_FINE_HOP` frames."""
    frame_s = _FINE_HOP / _ANALYSIS_RATE
    per = hop // _FINE_HOP
    picks = [_peak(fine, int(b) * per - per, int(b) * per + per) for b in beats]
    times = np.asarray([t for t, _ in picks if t is not None]) * frame_s
    if len(times) < _MIN_BEATS:
        return bpm, 0.0
    steps = np.maximum(1, np.round(np.diff(times) / (60.0 / bpm)))     # 2 where a beat was skipped
    period, origin = np.polyfit(np.concatenate([[0.0], np.cumsum(steps)]), times, 1)
    spread = 0.0
    for _ in range(3):                # every beat of the line, timed again near it; the line refitted
        if not 0.5 * 60.0 / bpm < period < 2.0 * 60.0 / bpm:
            return bpm, 0.0
        k = np.arange(np.ceil((0.0 - origin) / period), np.floor((len(fine) * frame_s - origin) / period) + 1)
        reach = period / 8 / frame_s
        found = [(i, *_peak(fine, round((origin + i * period) / frame_s - reach),
                            round((origin + i * period) / frame_s + reach))) for i in k]
        kept = np.asarray([(i, t * frame_s, v) for i, t, v in found if t is not None])
        if len(kept) < _MIN_BEATS:
            return bpm, 0.0
        kept = kept[kept[:, 2] >= 0.25 * np.median(kept[:, 2])]        # beats where nothing starts
        off = kept[:, 1] - (origin + kept[:, 0] * period)
        deviation = 1.4826 * float(np.median(np.abs(off - np.median(off))))
        kept = kept[np.abs(off - np.median(off)) <= max(3 * deviation, 0.5 * frame_s)]   # onsets off the line
        if len(kept) < _MIN_BEATS:
            return bpm, 0.0
        (period, origin), residual = np.polyfit(kept[:, 0], kept[:, 1], 1, full=True)[:2]
        sigma = float(np.sqrt(residual[0] / max(1, len(kept) - 2))) if len(residual) else 0.0
        spread = sigma / float(np.sqrt(np.sum(np.square(kept[:, 0] - kept[:, 0].mean()))))   # the period's error
    fitted = 60.0 / period if period > 0 else bpm
    if abs(fitted - bpm) / bpm >= 0.04:
        return bpm, 0.0
    return float(fitted), float(fitted * spread / period)


def _pulse_level(fine: np.ndarray, bpm: float, low: np.ndarray | None = None) -> tuple[float, float]:
    """``(level, phase)``: the music's beat is ``level`` times ``bpm`` (3/2 where the tracker locked
    onto every third half-beat, 1/2 where it took the off-beats for beats, 1 otherwise), its first
    beat at frame ``phase`` of ``fine``.

    Each pulse is scored by the mean onset strength on its grid (``fine``, on :data:`_FINE_HOP`
    frames, at its best phase).  A pulse of 2/3 of the beat lands on beat, off-beat, beat... (QA58:
    a four-on-the-floor loop at 133 bpm, hats on the off-beats, read 88.67; 126, 150, 174 read 84,
    100, 116): the beat's own grid, every kick, scores higher, and wins by :data:`_LEVEL_CLEARLY`.  A
    beat at twice the tempo has every other beat weak: where the off-beat half of its grid scores
    under :data:`_OFFBEAT_WEAK` of the on-beat half, the on-beat half is the beat (QA58: 97.5 bpm read
    195.01), as long as that stays a tempo music is counted in (:data:`_HALF_FROM`).  Compound time
    keeps the tracker's level: a quarter-note grid in 6/8 lands on weak eighths and scores lower."""
    rate = _ANALYSIS_RATE / _FINE_HOP
    tracked = _grid_strength(fine, 60.0 / bpm * rate)
    if tracked is None:
        return 1.0, 0.0
    beat = _grid_strength(fine, 60.0 / (bpm * 1.5) * rate)
    if beat is not None and beat[0] > _LEVEL_CLEARLY * tracked[0] and bpm * 1.5 <= TEMPO_RANGE[1]:
        return 1.5, beat[1]
    half = _grid_strength(fine, 2 * 60.0 / bpm * rate)
    if half is not None and bpm / 2 >= _HALF_FROM:
        weak = _offbeats_weak(fine, bpm, half)
        if low is not None and (low_half := _grid_strength(low, 2 * 60.0 / bpm * rate)) is not None \
                and low_half[0] >= _LOW_PRESENT * half[0]:
            weak = _offbeats_weak(low, bpm, low_half)      # kick and bass say where the beat is, not the hats
        if weak:
            return 0.5, half[1]
    return 1.0, tracked[1]


def _offbeats_weak(strength: np.ndarray, bpm: float, half: tuple[float, float]) -> bool:
    """Whether the off-beat half of the ``bpm`` grid of ``strength`` scores under
    :data:`_OFFBEAT_WEAK` of its on-beat half (``half``: the grid of half the tempo)."""
    tracked = _grid_strength(strength, 60.0 / bpm * _ANALYSIS_RATE / _FINE_HOP)
    return tracked is not None and 2 * tracked[0] - half[0] < _OFFBEAT_WEAK * half[0]


def _grid_strength(fine: np.ndarray, period: float) -> tuple[float, float] | None:
    """``(strength, phase)``: the mean of ``fine`` (the strongest of each frame and its neighbours) on
    the grid of ``period`` frames at the phase where it is largest; None for fewer than
    :data:`_MIN_BEATS` grid points."""
    n = len(fine)
    count = int((n - period) // period) + 1
    if period <= 0 or count < _MIN_BEATS:
        return None
    wide = np.maximum(fine, np.maximum(np.roll(fine, 1), np.roll(fine, -1)))
    phases = np.arange(int(np.ceil(period)))
    idx = np.round(phases[:, None] + np.arange(count)[None, :] * period).astype(int)
    means = np.where(idx < n, wide[np.minimum(idx, n - 1)], np.nan)
    scores = np.nanmean(means, axis=1)
    best = int(np.nanargmax(scores))
    return float(scores[best]), float(phases[best])


def _peak(strength: np.ndarray, lo: int, hi: int) -> tuple[float | None, float]:
    """The strongest onset in frames ``[lo, hi]`` of ``strength``, timed to a fraction of a frame (a
    parabola through it and its neighbours), and its strength; ``(None, 0)`` where there is none."""
    lo, hi = max(lo, 1), min(hi, len(strength) - 2)
    if hi < lo:
        return None, 0.0
    k = lo + int(np.argmax(strength[lo:hi + 1]))
    a, m, z = strength[k - 1], strength[k], strength[k + 1]
    curve = a - 2 * m + z
    return k + (0.5 * (a - z) / curve if curve < 0 else 0.0), float(m)


def _meter(y: np.ndarray, beats: np.ndarray, hop: int) -> int:
    """Beats per bar (2, 3, 4, 5 or 7).  Where the beats carry an accent that recurs at one position of
    nearly every bar (a metronome's louder or higher click, a band's kick on the one), that grouping
    (:func:`_accents`); else where bass notes and harmony change, which tends to be on the bar line: the
    beat position where the low-band spectrum and the chroma change most recurs every bar."""
    import librosa

    if len(beats) < 12:
        return 4
    accents = np.zeros(len(beats) + 1)
    accents[1:] = _accents(y, beats, hop)
    if (by_accent := _grouping(accents, _ACCENT_AGREE)) is not None:
        return by_accent
    power = np.abs(librosa.stft(y, n_fft=4096, hop_length=hop)) ** 2
    freqs = librosa.fft_frequencies(sr=_ANALYSIS_RATE, n_fft=4096)
    novelty = np.zeros(len(beats) + 1)
    for feature in (power[(freqs > 25) & (freqs < 300)], librosa.feature.chroma_stft(S=power, sr=_ANALYSIS_RATE, tuning=0.0)):
        synced = librosa.util.sync(feature, beats, aggregate=np.mean)
        synced = synced / (np.linalg.norm(synced, axis=0, keepdims=True) + 1e-12)
        novelty[1:synced.shape[1]] += 1.0 - (synced[:, 1:] * synced[:, :-1]).sum(axis=0)
    return _grouping(novelty) or 4


def _grouping(novelty: np.ndarray, strict: float | None = None) -> int | None:
    """Beats per bar from ``novelty`` (how much changes, or how accented, at each beat: index ``k + 1`` for
    beat ``k``): the grouping whose first beat stands out; 4 where a grouping of 2 or 4 does, or nothing
    stands out clearly.  With ``strict`` (accents, present on a few beats only), a grouping stands out only
    where its first beat is accented and the most accented in at least that share of its bars, and None
    where none does."""
    if float(np.partition(novelty, -2)[-2]) < _MIN_CHANGE:     # (the largest but one: a clip's end is no change)
        return None if strict else 4    # nothing changes from beat to beat (a drum loop): no bar line (QA58: 7/4)
    scores = {}
    for group in (2, 3, 4, 5, 7):
        if group > 4 and len(novelty) < _MIN_BARS * group:   # (a 4/4 loop of 16 beats read 7/4: two bars of
            continue                                          # seven, a noisy max over seven positions)
        n = len(novelty) // group * group
        bars = novelty[:n].reshape(-1, group)
        means = bars.mean(axis=0)                                   # mean change at each beat position
        first = int(means.argmax())
        if strict is not None:
            agree = ((bars.argmax(axis=1) == first) & (bars[:, first] > 0)).mean()
            if agree < strict:
                continue
        elif group not in (2, 4) and (bars.argmax(axis=1) == first).mean() < _AGREE:    # (QA83 D2: a 4/4 click
            continue                                                                      # read 7/4 on noise)
        scores[group] = float(means.max() / (np.delete(means, first).mean() + 1e-9))
    if not scores:
        return None if strict else 4
    best = max(scores, key=scores.get)
    if best in (5, 7) and scores[best] < _ODD_CLEARLY * max((scores.get(g, 0.0) for g in (2, 3, 4)), default=0.0):
        best = max((g for g in (2, 3, 4) if g in scores), key=scores.get)   # an odd meter must stand out further
    if best in (2, 4) or scores[best] < _CLEARLY * scores.get(4, 0.0) or scores[best] < _CLEARLY:
        return 4          # 4/4 unless another grouping clearly stands out; accents on 1 and 3 are 4/4 too
    return best           # (QA: a 4/4 loop with its kick on 1 and 3 was read as 2/4: bars of half the length)


def _accents(y: np.ndarray, beats: np.ndarray, hop: int) -> np.ndarray:
    """How much each tracked beat is accented: its attack's energy over the clip's median beat (in units of
    :data:`_ACCENT_DB`, from :data:`_LOUDER_DB`) plus its brightness (spectral centroid, above the clip's
    median spectrum) over the median beat's, in octaves (from :data:`_BRIGHTER`); 0 for a beat no louder nor
    brighter (QA83 D2: a metronome's downbeat, a higher click, changes neither bass nor chroma, and accented
    4/4 clicks read 3/4, 5/4 or 7/4 depending on the sample rate).  The attack's energy is summed over frames
    that overlap by three quarters, so it does not depend on where a click falls between frames (QA84: read
    from the loudest frame, +3.5 dB downbeats read 0.4 to 3.9 dB over the median beat)."""
    import librosa

    fine = hop // 2                                  # Hann-squared frames at 1/4 of their length add up flat
    power = np.abs(librosa.stft(y, n_fft=4 * fine, hop_length=fine)) ** 2
    freqs = librosa.fft_frequencies(sr=_ANALYSIS_RATE, n_fft=4 * fine)
    floor = np.median(power, axis=1)                 # what sounds throughout (a hiss) is no beat's brightness
    energy, bright = np.zeros(len(beats)), np.zeros(len(beats))
    for k, b in enumerate(beats):
        frames = power[:, max(0, 2 * (int(b) - _ATTACK_LEAD)):2 * (int(b) + _ATTACK_FRAMES)]
        spectrum = frames.sum(axis=1)
        energy[k] = 10 * np.log10(float(spectrum.sum()) + 1e-20)
        struck = np.clip(spectrum - floor * frames.shape[1], 0, None)
        bright[k] = np.log2(max(float((freqs * struck).sum() / (struck.sum() + 1e-20)), 1.0))
    louder, brighter = energy - np.median(energy), bright - np.median(bright)
    # what a beat varies by on its own (a hat, a tracked beat a frame off) is no accent
    return np.where(louder >= _LOUDER_DB, louder / _ACCENT_DB, 0.0) + np.where(brighter >= _BRIGHTER, brighter, 0.0)


def audio_tempo(audio: Audio, bpm: float | None, beats_per_bar: int | None, note_value: int | None = 4,
                what: str = "node", check=None) -> tuple[float, int, int, dict[str, str]]:
    """The tempo, beats per bar and the beat's note value to use for ``audio``, and the ``info`` to
    give the result.

    ``None`` (or ``"auto"``) means auto: the value the audio carries (``info`` ``bpm`` / ``meter``),
    else detected (the note value: the carried meter's when its beats are the ones used, else 4).
    """
    bpm, beats_per_bar, note_value = (None if isinstance(v, str) and v.strip().lower() == "auto" else v
                                      for v in (bpm, beats_per_bar, note_value))
    info = dict(audio.info)
    carried_meter = _carried_meter(info)
    detected_bar: Fraction | None = None       # quarter notes a bar
    found_note = 4
    if bpm is None:
        carried = _number(info.get("bpm"))
        if carried is not None:
            bpm = carried
        else:
            bpm, detected_bar = estimate_tempo(audio, check=check)
    if isinstance(note_value, str) and note_value.strip().isdigit():
        note_value = int(note_value)
    if beats_per_bar is None:
        if carried_meter:
            beats_per_bar = carried_meter[0]
        elif detected_bar and isinstance(note_value, int):   # a detected bar counts quarter notes: 3 are 6 eighths
            beats_per_bar = max(1, round(detected_bar * note_value / 4))
        elif detected_bar:
            beats_per_bar, found_note = ((int(detected_bar), 4) if detected_bar.denominator == 1
                                         else (int(detected_bar * 2), 8))
        else:
            beats_per_bar = 4
    if note_value is None:
        note_value = carried_meter[1] if carried_meter and carried_meter[0] == beats_per_bar else found_note
    if not 20.0 <= bpm <= 400.0:
        raise ParameterError(f"{what}: bpm={bpm:g} is outside 20-400 bpm; set bpm explicitly")
    if why := note_value_problem(note_value):
        raise ParameterError(f"{what}: {why}")
    # the tempo in full: 87.31415 cut to "87.3141" put bpm=auto windows a frame off the typed grid (QA)
    return float(bpm), int(beats_per_bar), int(note_value), {"bpm": f"{bpm:.15g}", "meter": f"{beats_per_bar}/{note_value}"}


def typed_over_carried(audio: Audio, bpm: object, beats_per_bar: object, note_value: object = None) -> str:
    """What a typed bar grid overrides of the tempo and meter ``audio`` carries (a file's tag,
    ``time.detect_tempo``), as one line's clause with its fix, or '' where they agree or all is auto
    (QA91 D1: a loop tagged 97.5 cut at the default 120, re-tagged 120 on export, not a word).  The meter
    is the one the grid takes, as :func:`audio_tempo` makes it: a typed ``note_value`` under an auto
    ``beats_per_bar`` counts too, and the fix names each typed value that differs (QA94 D1).  A tag of
    whole bpm is a rounded tempo (ID3 keeps no fraction): 97.5 typed over 98 carried agrees."""
    info = dict(audio.info)
    said, fix = [], []
    carried = _number(info.get("bpm"))
    slack = 0.5 if carried is not None and carried == round(carried) else 0.005
    if _typed(bpm) and carried is not None and abs(bpm - carried) > slack:
        said.append(f"bpm={bpm:g} where the audio carries {carried:g} bpm")
        fix.append("bpm=auto")
    if (meter := _carried_meter(info)) is not None:
        beats = int(beats_per_bar) if _typed(beats_per_bar) else meter[0]
        note = int(note_value) if _typed(note_value) else meter[1] if beats == meter[0] else 4
        if (beats, note) != meter:
            said.append(f"bars of {beats}/{note} where it carries {meter[0]}/{meter[1]}")
            fix += [f"{name}=auto" for name, typed, theirs in (("beats_per_bar", beats_per_bar, meter[0]),
                                                                ("note_value", note_value, meter[1]))
                    if _typed(typed) and typed != theirs]
    if not said:
        return ""
    return (f"{' and '.join(said)} (its file's tag or time.detect_tempo): the bars are cut on the typed grid and "
            f"the result carries it to the export; set {' and '.join(fix)} to cut on the audio's, or type its values")


def _carried_meter(info: dict[str, str]) -> tuple[int, int] | None:
    """The meter ``info`` carries (``"6/8"``: (6, 8)), or None where it has none it can read."""
    try:
        return parse_meter(info["meter"]) if info.get("meter") else None
    except ParameterError:
        return None


def _typed(value: object) -> TypeGuard[float]:
    """Whether a grid parameter holds a typed number (not auto/None)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def note_value_problem(note_value: object) -> str:
    """Why ``note_value`` is no note value (one line, the node not named: the engine names it), or ''
    (``None``/``auto`` is fine: worked out)."""
    if note_value is None or (isinstance(note_value, str) and note_value.strip().lower() == "auto") \
            or note_value in NOTE_VALUES:
        return ""
    return (f"note_value={note_value} is not a note value; give one of {', '.join(map(str, NOTE_VALUES))} "
            "(the meter's lower number: 8 for 6/8)")


def _number(text: str | None) -> float | None:
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and 20.0 <= value <= 400.0 else None


def _estimate(inputs: dict, params: dict) -> dict:
    """The clip passes through; a note value that is none is refused before the run."""
    from nodeflow.costs import Shape
    a = inputs["audio"]
    return {"out": Shape(a.frames, a.channels, a.rate, problem=note_value_problem(params.get("note_value")))}


@node("time.detect_tempo", category="time", version=2, estimate=_estimate)
def detect_tempo(audio: Audio, *,
                 bpm: Annotated[float, Range(20.0, 400.0, unit="bpm"), Auto()] | None = None,
                 beats_per_bar: Annotated[int, Range(1, 32, step=1, unit="beats"), Auto()] | None = None,
                 note_value: Annotated[int, Range(1, 32, step=1), Auto()] | None = None,
                 ctx: Context | None = None) -> Audio:
    """Find the clip's tempo and meter and attach them to it (later nodes and exports use them).

    ``bpm`` and ``beats_per_bar`` override what is detected (``auto``: detect; a tempo the clip
    already carries, e.g. a source file's BPM tag, is re-detected only when it is missing).
    The samples pass through unchanged; the result's ``info`` holds ``bpm`` and ``meter``.

    Parameters
    ----------
    audio : Audio
        The clip whose tempo and meter to find; its samples pass through unchanged.
    bpm : float or auto, bpm
        The tempo to attach, 20-400 bpm; auto: the tempo the clip carries, else detected.
    beats_per_bar : int or auto
        Beats per bar (the meter's numerator), 1-32; auto: the clip's meter, else detected.
    note_value : int or auto
        The beat's note value (the meter's lower number: 8 for 6/8), 1, 2, 4, 8, 16 or 32; auto: the
        clip's meter, else 4.  The tempo counts quarter notes, as DAWs do.

    Examples
    --------
    >>> clip = Audio(np.zeros(44100 * 8), 44100).with_info(bpm="97.5")
    >>> dict(detect_tempo.fn(clip, beats_per_bar=3).info)
    {'bpm': '97.5', 'meter': '3/4'}
    """
    *_, tempo = audio_tempo(audio, bpm, beats_per_bar, note_value, what="detect_tempo",
                            check=ctx.check_cancelled if ctx is not None else None)
    return audio.with_info(**tempo)
