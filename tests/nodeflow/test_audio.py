"""The Audio value: validated once where it is made, in bounded memory; copies share checked samples."""
import tracemalloc

import numpy as np
import pytest

from nodeflow import Audio
from nodeflow.audio import _CHECK_BLOCK
from nodeflow.errors import AudioError


@pytest.mark.parametrize("where", [0, _CHECK_BLOCK - 1, _CHECK_BLOCK, 3 * _CHECK_BLOCK + 5])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_sample_in_any_block_is_refused(where, bad):
    x = np.zeros((2, (3 * _CHECK_BLOCK + 6) // 2), np.float32)
    x.reshape(-1)[where] = bad
    with pytest.raises(AudioError, match="NaN or infinite"):
        Audio(x, 48000)


def test_finiteness_check_needs_no_full_size_temporary():
    x = np.zeros((2, 8 * _CHECK_BLOCK), np.float32)        # 64 MiB of float32: a full bool mask is 16 MiB
    tracemalloc.start()
    try:
        Audio(x, 48000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * _CHECK_BLOCK                           # one block's mask, not x.size bytes


def test_replace_with_the_same_samples_shares_them_and_keeps_fields():
    a = Audio(np.ones((2, 100), np.float32) * 0.5, 8000, start_frame=40, index=2, info=(("bpm", "120"),))
    for b in (a.replace(index=5), a.replace(a.samples, index=5), a.with_info(key="C"), a.replace()):
        assert b.samples is a.samples and b.sample_rate == 8000 and b.start_frame == 40
    assert a.replace(index=5).index == 5 and dict(a.with_info(key="C").info) == {"bpm": "120", "key": "C"}
    with pytest.raises(TypeError, match="no field"):
        a.replace(frames=3)
    with pytest.raises(AudioError, match="sample_rate"):
        a.replace(sample_rate=0)
    c = a.replace(a.samples * 2)                             # new samples are validated and made read-only
    assert c.samples is not a.samples and not c.samples.flags.writeable
    with pytest.raises(AudioError, match="NaN"):
        a.replace(np.full((2, 100), np.nan))


def test_samples_that_cannot_change_are_checked_once_while_they_live(monkeypatch):
    """Wrapping checked, read-only samples again (replace, with_info, the same clip given to invoke
    again) is not another pass over them; samples that can still change are checked every time."""
    import gc

    from nodeflow import audio as audio_mod
    seen: list[int] = []
    real = audio_mod.check_finite
    monkeypatch.setattr(audio_mod, "check_finite", lambda x: (seen.append(id(x)), real(x))[1])
    a = Audio(np.ones((2, 100), np.float32), 8000)
    a.replace(index=3), a.with_info(key="C"), Audio(a.samples, 8000)
    assert len(seen) == 1
    view = np.ones((2, 100), np.float32)[:, ::2]        # copied to contiguous: a new array, checked
    Audio(view, 8000)
    assert len(seen) == 2
    free = np.zeros((2, 10), np.float32)
    free.setflags(write=False)
    shared = free[:1]                                     # a read-only view: its base could still change
    Audio(shared, 8000), Audio(shared, 8000)
    assert len(seen) == 4
    del a
    gc.collect()
    assert not audio_mod._FINITE or all(r() is not None for r in audio_mod._FINITE.values())


def test_integer_pcm_is_scaled_to_full_scale():
    """int16/int32 from scipy.io.wavfile or soundfile(dtype='int16'), unsigned 8-bit WAV: full scale
    becomes 1.0 (taken as floats they were ~84 dB too hot, silently)."""
    import numpy as np

    from nodeflow import Audio
    assert Audio(np.array([[-32768, 16384, 32767]], np.int16), 8000).samples.tolist() == [[-1.0, 0.5, 32767 / 32768]]
    assert Audio(np.array([-(2 ** 31), 2 ** 30], np.int32), 8000).samples.tolist() == [[-1.0, 0.5]]
    assert Audio(np.array([0, 128, 192], np.uint8), 8000).samples.tolist() == [[-1.0, 0.0, 0.5]]
    with pytest.raises(Exception, match="real numbers"):
        Audio(np.array([True, False]), 8000)
    # numpy's default int (QA: np.round(x * 16000).astype(int) came out at -295 dBFS, silently)
    pcm = np.round(np.sin(np.arange(100) / 5) * 16000).astype(int)
    with pytest.raises(AudioError, match=r"dtype int64 have no full scale .* x\.astype\(np\.int16\)"):
        Audio(pcm, 8000)
    from nodes.dsp.basic import gain
    with pytest.raises(AudioError, match=r"^dsp\.gain: input 'audio': audio samples of dtype int64"):
        gain((pcm, 8000), gain_db=0.0)


def test_a_bad_sample_is_found_and_the_message_says_where_and_what_to_do():
    """QA: "audio contains NaN or infinite samples" named no node, no place and no fix."""
    from nodes.dsp.basic import gain
    x = np.zeros((2, 1000), np.float32)
    x[1, 700] = np.inf
    with pytest.raises(AudioError, match=r"^dsp.gain: input 'audio': audio contains NaN or infinite samples \(the "
                                         r"first at frame 700\); replace them, e\.g\. with numpy\.nan_to_num"):
        gain((x, 8000), gain_db=-3.0)
