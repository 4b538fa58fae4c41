"""Each dsp node's streaming form gives the samples its whole-value function gives, bit for bit,
however the stream is cut into blocks (nodeflow.streaming)."""
from __future__ import annotations

import numpy as np
import pytest

from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.streaming import Stream
from nodes.dsp.basic import channels, fade, gain, trim
from nodes.dsp.resample import resample

BLOCKINGS = [[131072], [1000], [77777, 3, 4096]]


def _clip(frames: int, ch: int = 2, rate: int = 48000) -> Audio:
    x = np.random.default_rng(frames + ch).standard_normal((ch, frames)).astype(np.float32) * 0.2
    return Audio(x, rate, start_frame=1234, overlap_frames=500, markers=((10, "a"), (frames - 5, "b")),
                 info=(("bpm", "120"),))


def _stream(audio: Audio, sizes: list[int]) -> Stream:
    head = Stream.of(audio).head

    def blocks():
        a, k = 0, 0
        while a < audio.frames:
            n = sizes[k % len(sizes)]
            yield audio.samples[:, a:a + n]
            a, k = a + n, k + 1
    return Stream(head, blocks())


def _streamed(spec, audio: Audio, sizes: list[int], **params) -> Audio:
    p = {k: v.default for k, v in spec.params.items()}
    p.update(params)
    s = spec.stream({"audio": _stream(audio, sizes)}, p, None)
    blocks = list(s.blocks)
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((s.head.channels, 0), np.float32)
    assert x.shape == (s.head.channels, s.head.frames)
    return Audio(x, s.head.sample_rate, start_frame=s.head.start_frame, overlap_frames=s.head.overlap_frames,
                 markers=s.head.markers, info=s.head.info)


def _same(a: Audio, b: Audio) -> None:
    assert a == b                                    # rate, shape and every sample
    assert (a.start_frame, a.overlap_frames, a.markers, a.info) == (b.start_frame, b.overlap_frames, b.markers, b.info)


@pytest.mark.parametrize("sizes", BLOCKINGS)
@pytest.mark.parametrize("spec,params", [
    (gain, dict(gain_db=-7.5)), (gain, dict(gain_db=0.0)),
    (fade, dict(fade_in_s=1.3, fade_out_s=2.1, curve="equal_power")), (fade, dict(fade_in_s=4.0, fade_out_s=4.0)),
    (trim, dict(start_s=0.5)), (trim, dict(start_s=1.25, end_s=3.0)),
    (channels, dict(mode="mono")), (channels, dict(mode="swap")), (channels, dict(mode="left")),
    (channels, dict(mode="right")), (channels, dict(mode="stereo")),
    (resample, dict(rate_hz=44100)), (resample, dict(rate_hz=32000, quality="very_high")),
    (resample, dict(profile="bark")), (resample, dict(rate_hz=48000))])
def test_streamed_node_equals_whole_node(spec, params, sizes):
    audio = _clip(48000 * 5 + 17)
    whole = spec.fn(audio, **params)
    _same(_streamed(spec, audio, sizes, **params), whole)


@pytest.mark.parametrize("frames", [1, 999, 131072, 131073, 400_001])
@pytest.mark.parametrize("ch", [1, 2, 6])
def test_resampling_does_not_depend_on_how_the_stream_is_cut(frames, ch):
    """soxr's output is the same whatever the chunking and whether channels go together or apart:
    the streamed resampler equals the whole one (one soxr call, or channel by channel) exactly."""
    audio = _clip(frames, ch, 44100)
    whole = resample.fn(audio, rate_hz=48000)
    for sizes in ([frames], [997], [65536, 1, 4096]):
        _same(_streamed(resample, audio, sizes, rate_hz=48000), whole)


def test_mono_of_mono_and_stereo_of_mono_stream_too():
    mono = _clip(30000, 1)
    for mode in ("mono", "stereo", "left", "swap"):
        _same(_streamed(channels, mono, [7000], mode=mode), channels.fn(mono, mode=mode))


def test_streamed_forms_refuse_what_the_functions_refuse_before_a_block_flows():
    audio = _clip(48000)
    p = {k: v.default for k, v in fade.params.items()} | {"fade_in_s": 2.0}
    with pytest.raises(ParameterError, match="exceeds input length"):
        fade.stream({"audio": _stream(audio, [100])}, p, None)
    p = {k: v.default for k, v in trim.params.items()} | {"start_s": 5.0}
    with pytest.raises(ParameterError, match="at or beyond"):
        trim.stream({"audio": _stream(audio, [100])}, p, None)
    with pytest.raises(AudioError, match="mono or stereo"):
        channels.stream({"audio": _stream(_clip(1000, 6), [100])}, {"mode": "swap"}, None)
