"""New model families (issue 13) through their nodes vs the bare library call, on random-weight
checkpoints of the real architectures, runs alternated (paired A/B, best of 5 each).

    python -m bench.bench_families                      # tiny checkpoints, CPU, one thread (make bench)
    python -m bench.bench_families --real-size          # the real checkpoints' sizes (random weights)
    python -m bench.bench_families --real-size --device cuda

For each family: seconds of audio per second through the node (``invoke`` on a clip held in memory: a
graph, the model cache, seeding, progress and cancellation checks, the Audio/text values; what invoke
costs to take a fresh numpy array, copied and hashed, is bench_api's ``invoke_numpy_...`` line) and
through the bare transformers call on the same loaded model with the same settings; ``<family>_node_vs_bare`` is the wall-time
ratio (goal <= 1.1) and ``..._cpu`` the CPU-time ratio.

- ``mms_tts``: 12 sentences of text -> speech (VitsModel per sentence, seeded noise); real size: MMS's
  ~36 M parameters (transformers' VitsConfig defaults).
- ``whisper``: 60 s of audio -> text and word timestamps (two 30 s windows, greedy, token timestamps);
  real size: whisper-tiny's 4+4 layers, d_model 384 and 51865-token vocabulary.
- ``encodec``: 20 s of 24 kHz audio -> codes -> audio (encode + decode at 6 kbps); real size:
  encodec_24khz's widths.
- ``bark``: 4 sentences through ``models.bark`` vs transformers' ``BarkModel.generate(do_sample=True)``
  per sentence, the same take (tests/nodes/models/test_bark.py checks it is); tiny only.
- ``dac``: 20 s of 44.1 kHz audio -> codes (9 codebooks) -> audio through ``models.dac_encode`` |
  ``models.dac_decode`` vs transformers' ``DacModel`` encode + decode (tiny only).
- ``clap``: 30 s of 48 kHz audio scored against a text through ``models.clap_score`` vs transformers'
  ``ClapModel`` text and audio features per 10 s window and their cosine (tiny only).
- ``stable_audio``: one full window of text -> audio (StableAudioPipeline, guided with a negative
  prompt; tiny: 2048 frames at 20 steps, real size: stable-audio-open-1.0's 47.55 s at 50 steps, its
  ~1.2 B parameters); needs the 'diffusion' extra.

The tiny models make the node's fixed costs (graph, cache key, events, value conversion) as large a
share as they can be; at real size the model's own time dwarfs them.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from bench._util import report
from nodeflow import Audio

ROOT = Path(__file__).resolve().parent.parent


def paired_times(a: Callable[[], float], b: Callable[[], float], repeat: int = 5) -> tuple[tuple[float, float, float], ...]:
    """(wall, cpu, audio seconds) of the best of ``repeat`` alternated runs of ``a`` and ``b``;
    each returns the seconds of audio it handled."""
    best: list[tuple[float, float, float]] = [(float("inf"), float("inf"), 0.0)] * 2
    for _ in range(repeat):
        for i, fn in enumerate((a, b)):
            w, c = time.perf_counter(), time.process_time()
            seconds = fn()
            w, c = time.perf_counter() - w, time.process_time() - c
            if w < best[i][0]:
                best[i] = (w, min(c, best[i][1]), seconds)
            else:
                best[i] = (best[i][0], min(c, best[i][1]), best[i][2])
    return tuple(best)


class Run:
    """Where and at what size this run benchmarks; names the figures accordingly."""

    def __init__(self, real_size: bool, device: str, repeat: int):
        self.real_size, self.device, self.repeat = real_size, device, repeat
        self.size = "real_size" if real_size else "tiny"

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch
            torch.cuda.synchronize(self.device)

    def report(self, name: str, node: tuple[float, float, float], bare: tuple[float, float, float], what: str) -> None:
        node_rate, bare_rate = node[2] / node[0], bare[2] / bare[0]
        tag = "" if not self.real_size and self.device == "cpu" else f"_{self.size}_{self.device.split(':')[0]}"
        report(f"{name}{tag}_node_vs_bare", bare_rate / node_rate, "goal <= 1.1", "{:.3f}x")
        report(f"{name}{tag}_node_vs_bare_cpu", (node[1] / node[2]) / (bare[1] / bare[2]),
               "CPU time per audio second, goal <= 1.1", "{:.3f}x")
        report(f"{name}_{self.size}_audio_s_per_s", node_rate, f"{what}, {self.device}, through the node", "{:.1f}")
        report(f"{name}_{self.size}_audio_s_per_s_bare", bare_rate, "the bare library call, same run", "{:.1f}")


def _held(checkpoint: Path):
    from nodeflow.modelcache import default_cache
    (key,) = [k for k in default_cache().keys() if k.checkpoint == str(checkpoint.resolve())]
    return default_cache().get(key, lambda: None)


def bench_mms(tmp: Path, run: Run) -> None:
    import torch
    import tiny_mms
    from nodeflow import Executor
    from nodes.models.bark import split_text
    from nodes.models.mms_tts import mms_tts
    ck = tiny_mms.build(tmp / "mms", real_size=run.real_size)
    text = " ".join(f"This is sentence number {i}, spoken for the benchmark." for i in range(12))
    ex, seed = Executor(disk_cache=None), [0]

    def node() -> float:
        seed[0] += 1                     # a new seed each time: never served from the output cache
        out = mms_tts(prompt=text, checkpoint=str(ck), seed=seed[0], pause_s=0.0, device=run.device).invoke(executor=ex)
        return out.duration_s

    node()
    held = _held(ck)

    def bare() -> float:
        seed[0] += 1
        torch.manual_seed(seed[0])
        frames = 0
        with torch.inference_mode():
            for s in split_text(text):
                enc = held.processor(s, return_tensors="pt").to(held.model.device)
                o = held.model(**enc)
                frames += int(o.sequence_lengths[0])
        run.sync()
        return frames / held.model.config.sampling_rate

    bare()
    n, b = paired_times(node, bare, run.repeat)
    run.report("mms_tts", n, b, f"{run.size} VITS, 12 sentences")


def bench_whisper(tmp: Path, run: Run) -> None:
    import numpy as np
    import torch
    import tiny_whisper
    from nodeflow import Executor
    from nodes.models.whisper import whisper
    ck = tiny_whisper.build(tmp / "whisper", real_size=run.real_size)
    rate, seconds = 16000, 60.0
    x = (0.1 * np.random.default_rng(0).standard_normal((1, round(seconds * rate)))).astype(np.float32)
    clip = Audio(x.copy(), rate)   # a clip held in memory: validated and hashed once (bench_api: numpy in)

    def node() -> float:                 # a fresh executor: never served from the output cache
        whisper(checkpoint=str(ck), language="en", device=run.device).invoke(clip, executor=Executor(disk_cache=None))
        return seconds

    node()
    held = _held(ck)
    limit = int(held.model.config.max_target_positions) - 5

    def bare() -> float:
        for k in range(0, x.shape[1], 480000):
            f = held.processor(x[0, k:k + 480000], sampling_rate=rate, return_tensors="pt", return_attention_mask=True)
            with torch.inference_mode():
                out = held.model.generate(f["input_features"].to(held.model.device, held.model.dtype),
                                          attention_mask=f["attention_mask"].to(held.model.device), language="en",
                                          task="transcribe", max_new_tokens=limit, return_token_timestamps=True,
                                          return_dict_in_generate=True)
            held.processor.tokenizer.decode(out["sequences"][0].cpu(), skip_special_tokens=True)
        return seconds

    bare()
    n, b = paired_times(node, bare, run.repeat)
    run.report("whisper", n, b, f"{run.size} Whisper, 60 s in two 30 s windows")


def bench_encodec(tmp: Path, run: Run) -> None:
    import numpy as np
    import torch
    import tiny_encodec
    from nodeflow import Executor
    from nodes.models.encodec import encodec_decode, encodec_encode
    ck = tiny_encodec.build(tmp / "encodec", real_size=run.real_size)
    rate, seconds = 24000, 20.0
    x = (0.1 * np.random.default_rng(0).standard_normal((1, round(seconds * rate)))).astype(np.float32)
    clip = Audio(x.copy(), rate)   # a clip held in memory: validated and hashed once (bench_api: numpy in)
    chain = encodec_encode(checkpoint=str(ck), device=run.device) | encodec_decode(checkpoint=str(ck), device=run.device)

    def node() -> float:                 # a fresh executor: never served from the output cache
        return chain.invoke(clip, executor=Executor(disk_cache=None)).duration_s

    node()
    held = _held(ck)

    def bare() -> float:
        m = held.model
        with torch.inference_mode():
            e = m.encode(torch.from_numpy(x)[None].to(m.device, m.dtype), bandwidth=6.0)
            y = m.decode(e.audio_codes, e.audio_scales,
                         padding_mask=torch.ones(1, x.shape[1], dtype=torch.bool, device=m.device))
            y.audio_values.float().cpu()
        return x.shape[1] / rate

    bare()
    n, b = paired_times(node, bare, run.repeat)
    run.report("encodec", n, b, f"{run.size} EnCodec 24 kHz, 20 s encoded at 6 kbps and decoded")


def bench_dac(tmp: Path, run: Run) -> None:
    import numpy as np
    import torch
    import tiny_dac
    from nodeflow import Executor
    from nodes.models.dac import dac_decode, dac_encode
    if run.real_size:
        print("dac_real_size: skipped (no real-size configuration here; the tiny model has dac_44khz's rates)")
        return
    ck = tiny_dac.build(tmp / "dac")
    rate, seconds, hop = 44100, 20.0, 512
    x = (0.1 * np.random.default_rng(0).standard_normal((1, round(seconds * rate)))).astype(np.float32)
    clip = Audio(x.copy(), rate)   # a clip held in memory: validated and hashed once (bench_api: numpy in)
    chain = dac_encode(checkpoint=str(ck), device=run.device) | dac_decode(checkpoint=str(ck), device=run.device)

    def node() -> float:                 # a fresh executor: never served from the output cache
        return chain.invoke(clip, executor=Executor(disk_cache=None)).duration_s

    node()
    held = _held(ck)

    def bare() -> float:                 # transformers' DacModel: encode all codebooks, decode, trim
        m = held.model
        padded = np.pad(x, ((0, 0), (0, -x.shape[1] % hop)))
        with torch.inference_mode():
            e = m.encode(torch.from_numpy(padded)[None].to(m.device, m.dtype))
            y = m.decode(audio_codes=e.audio_codes).audio_values
            y.float().cpu()[..., :x.shape[1]]
        return x.shape[1] / rate

    bare()
    n, b = paired_times(node, bare, run.repeat)
    run.report("dac", n, b, f"{run.size} DAC 44.1 kHz, 20 s encoded (9 codebooks) and decoded")


def bench_clap(tmp: Path, run: Run) -> None:
    import numpy as np
    import torch
    import tiny_clap
    from nodeflow import Executor
    from nodes.models.clap import clap_score, windows
    if run.real_size:
        print("clap_real_size: skipped (no real-size configuration here)")
        return
    ck = tiny_clap.build(tmp / "clap")
    rate, seconds, calls = 48000, 30.0, [0]
    x = (0.1 * np.random.default_rng(0).standard_normal((1, round(seconds * rate)))).astype(np.float32)
    clip = Audio(x.copy(), rate)   # a clip held in memory: validated and hashed once (bench_api: numpy in)

    def node() -> float:                 # a new text each time: neither side reuses a text embedding
        calls[0] += 1
        chain = clap_score(text=f"a warm lo-fi piano loop, take {calls[0]}", checkpoint=str(ck), device=run.device)
        chain.invoke(clip, executor=Executor(disk_cache=None))
        return seconds

    node()
    held = _held(ck)

    def bare() -> float:                 # transformers: features per 10 s window, embeddings, cosine
        calls[0] += 1
        m, fx, tok = held.model, held.features, held.tokenizer
        with torch.inference_mode():
            enc = tok([f"a warm lo-fi piano loop, take {calls[0]}"], return_tensors="pt", padding=True)
            t = torch.nn.functional.normalize(m.get_text_features(**enc).pooler_output, dim=-1)
            embs = []
            for w in windows(x[0], int(fx.nb_max_samples)):
                f = fx(w.astype(np.float64), sampling_rate=rate, truncation="rand_trunc", padding="repeatpad",
                       return_tensors="np")
                a = m.get_audio_features(input_features=torch.from_numpy(f["input_features"]),
                                         is_longer=torch.from_numpy(f["is_longer"])).pooler_output
                embs.append(torch.nn.functional.normalize(a, dim=-1)[0])
            a = torch.nn.functional.normalize(torch.stack(embs).mean(0), dim=-1)
            float(a @ t[0])
        return seconds

    bare()
    n, b = paired_times(node, bare, run.repeat)
    run.report("clap", n, b, f"{run.size} CLAP, 30 s (three 10 s windows) scored against a text")


def bench_stable_audio(tmp: Path, run: Run) -> None:
    import importlib.util
    if importlib.util.find_spec("diffusers") is None or importlib.util.find_spec("torchsde") is None:
        print("bench_families: stable_audio skipped (pip install -e '.[diffusion]')")
        return
    import torch
    import tiny_stable_audio
    from nodeflow import Executor
    from nodes.models.stable_audio import STABLE_AUDIO, stable_audio
    ck = tiny_stable_audio.build(tmp / "stable_audio", real_size=run.real_size)
    steps = 50 if run.real_size else 20
    ex, seed = Executor(disk_cache=None), [0]
    kw = dict(prompt="rain on a tin roof", negative_prompt="low quality", steps=steps, guidance_scale=7.0)

    def node() -> float:
        seed[0] += 1                     # a new seed each time: never served from the output cache
        return stable_audio(**kw, duration_s=seconds, seed=seed[0], checkpoint=str(ck),
                            device=run.device).invoke(executor=ex).duration_s

    prof = STABLE_AUDIO.read_profile(ck)
    seconds = float(prof.window_tokens * prof.hop / prof.sample_rate)     # one full window
    node()
    held = _held(ck)

    def bare() -> float:
        seed[0] += 1
        gen = torch.Generator(device=held.device).manual_seed(seed[0])
        audio = held.model(kw["prompt"], negative_prompt=kw["negative_prompt"], audio_end_in_s=seconds,
                           num_inference_steps=steps, guidance_scale=7.0, generator=gen).audios
        audio.float().cpu()
        run.sync()
        return audio.shape[-1] / prof.sample_rate

    bare()
    n, b = paired_times(node, bare, run.repeat)
    run.report("stable_audio", n, b, f"{run.size} Stable Audio Open, one {seconds:.2f} s window, {steps} steps")


def bench_bark(tmp: Path, run: Run) -> None:
    import torch
    import tiny_models
    from nodes.models.bark import bark, load_voice, split_text
    from nodeflow import Executor
    if run.real_size:
        print("bark_real_size: skipped (no real-size configuration here; bench_models covers the transformer)")
        return
    ck = tiny_models.build_all(tmp / "bark-models", names=("bark",))["bark"]
    text = " ".join(f"Sentence {i} of the benchmark." for i in range(4))
    max_s = 0.4                          # random weights never end a sentence: capped as the tests do
    ex, seed = Executor(disk_cache=None), [0]

    def node() -> float:
        seed[0] += 1
        out = bark(prompt=text, checkpoint=str(ck), seed=seed[0], pause_s=0.0, max_sentence_s=max_s,
                   voice="v2/en_speaker_0", device=run.device).invoke(executor=ex)
        return out.duration_s

    node()
    held = _held(ck)
    rate_hz = float(held.model.generation_config.semantic_config.get("semantic_rate_hz", 49.9))
    voice = {k: torch.as_tensor(v) for k, v in load_voice(held, "v2/en_speaker_0").items()}

    def bare() -> float:             # transformers' BarkModel.generate, sentence by sentence, same voice
        seed[0] += 1
        torch.manual_seed(seed[0])
        frames = 0
        with torch.inference_mode():
            for s in split_text(text):
                enc = held.tokenizer(s, padding="max_length", max_length=256, truncation=True,     # as BarkProcessor
                                     add_special_tokens=False, return_attention_mask=True, return_tensors="pt")
                wave = held.model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                           history_prompt=voice, semantic_max_new_tokens=max(2, round(max_s * rate_hz)),
                                           semantic_temperature=0.7, coarse_temperature=0.7,
                                           do_sample=True)   # the node samples; without it transformers is greedy
                frames += wave.shape[-1]
        run.sync()
        return frames / held.profile.sample_rate

    bare()
    n, b = paired_times(node, bare, run.repeat)
    run.report("bark", n, b, f"{run.size} Bark, 4 sentences of {max_s} s")


BENCHES = [bench_mms, bench_whisper, bench_encodec, bench_dac, bench_clap, bench_stable_audio, bench_bark]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_families", description=__doc__.split("\n")[0])
    ap.add_argument("--real-size", action="store_true", help="the real checkpoints' sizes (random weights)")
    ap.add_argument("--device", default="cpu", help="cpu (one thread, default), cuda or cuda:N")
    ap.add_argument("--repeat", type=int, default=5, help="alternated runs of each (default 5)")
    args = ap.parse_args([] if argv is None else argv)
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"bench_families: skipped ({e.name} not installed; pip install -e '.[models]')")
        return
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    os.environ.setdefault("AUDIOCHAIN_TORCH_THREADS", "1")   # the node's CPU thread policy: one, as the bare call
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    run = Run(args.real_size, args.device, args.repeat)
    try:
        with tempfile.TemporaryDirectory(prefix="audiochain-bench-") as tmp:
            for bench in BENCHES:
                bench(Path(tmp), run)
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main(sys.argv[1:])
