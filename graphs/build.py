"""Build the example graphs in this folder from code (the .msgpack files are committed).

    python graphs/build.py          # rewrites every example graph

Paths inside the graphs are relative to this folder, so they work from any checkout, and every file
they read is in it (their clips are in assets/ here, made by ``python graphs/assets/make_assets.py``):
a graph that reads outside its own folder is listed as doing so by `validate` and `run` (``reads
outside its folder: ...``, meant for graphs from elsewhere), and the project's own examples must not be.
"""
from __future__ import annotations

from pathlib import Path

from nodeflow import Graph, save

HERE = Path(__file__).resolve().parent


def demo() -> Graph:
    """Melody -> windows of 2 bars -> each transposed along a progression -> stitched -> export."""
    g = Graph()
    g.path = HERE / "demo.msgpack"  # input paths below are relative to this folder
    g.metadata = {"title": "Melody variations (demo)",
                  "description": "An 8-second melody at 120 bpm is cut into four 1-bar windows on the bar grid, "
                                 "sized for MusicGen; each window is transposed by the next step of the pattern 0, +5, "
                                 "-2, +7 semitones with Rubber Band; the variations are stitched back on the bar grid "
                                 "with 50 ms equal-power crossfades centred on each bar line, and the original "
                                 "crossfades into them over its last bar, so the variations start on bar 4: a 14 s "
                                 "piece on the bar grid, offline, in seconds.",
                  "artist": "AudioChain demo"}
    g.add("io.load", id="melody", path="assets/melody.flac")
    g.add("dsp.resample", id="to_model_rate", profile="musicgen", quality="high")
    g.add("time.tokenize_window", id="bars", profile="musicgen", unit="bars", size=1.0, overlap=0.0,
          bpm=120.0, beats_per_bar=4, last="keep")
    g.add("dsp.variation", id="vary", pattern_semitones="0 5 -2 7")
    g.add("time.stitch", id="stitch", fade_s=0.05, curve="equal_power")
    g.add("dsp.crossfade", id="into_variations", duration_s=2.0, curve="equal_power")
    g.add("io.export", id="export", path="demo.wav", format="wav", bit_depth="pcm24", loudness_lufs=-16.0,
          peak_db=-1.0)
    g.connect("melody", "to_model_rate")
    g.connect("to_model_rate", "bars")
    g.connect("bars", "vary")
    g.connect("vary", "stitch")
    g.connect("to_model_rate.out", "into_variations.a")
    g.connect("stitch.out", "into_variations.b")
    g.connect("into_variations", "export")
    # fits 1280x800 also after a run, when each audio node has grown a waveform preview
    _layout(g, {"melody": (20, 20), "to_model_rate": (20, 290), "bars": (240, 20), "vary": (470, 20),
                "stitch": (695, 20), "into_variations": (470, 360), "export": (695, 290)})
    return g


def longform() -> Graph:
    """A prompt template -> MusicGen for 75 s (several 30 s windows chained) -> fades -> export."""
    g = Graph()
    g.path = HERE / "longform.msgpack"
    g.metadata = {"title": "Long-form music from a prompt",
                  "description": "A prompt template (genre, mood, bpm, key, instrument) drives MusicGen-small for "
                                 "75 s: past its 30 s window it continues itself, each window prompted with the last "
                                 "12 s, the seams decoded together so they do not click. Faded and exported at "
                                 "-14 LUFS. Needs `audiochain models pull facebook/musicgen-small` once.",
                  "checkpoints": ["facebook/musicgen-small"]}
    g.add("text.prompt_template", id="prompt", genre="lo-fi hip hop", mood="warm, nostalgic", bpm=84,
          key="D minor", instrument="dusty rhodes piano, soft drums and upright bass")
    g.add("models.musicgen", id="music", checkpoint="facebook/musicgen-small", duration_s=75.0,
          extend_stride_s=18.0, seed=7, top_k=250, temperature=1.0, guidance_scale=3.0)
    g.add("dsp.fade", id="fade", fade_in_s=0.5, fade_out_s=4.0, curve="equal_power")
    g.add("io.export", id="export", path="longform.wav", format="wav", bit_depth="pcm24", loudness_lufs=-14.0,
          peak_db=-1.0)
    g.connect("prompt.out", "music.text")
    g.connect("music", "fade")
    g.connect("fade", "export")
    _layout(g, {"prompt": (20, 40), "music": (290, 40), "fade": (580, 40), "export": (800, 40)})
    return g


def melody_variations() -> Graph:
    """assets/melody.flac -> two MusicGen-Melody arrangements of it -> crossfaded -> export."""
    g = Graph()
    g.path = HERE / "melody_variations.msgpack"
    g.metadata = {"title": "Variations of your own melody (MusicGen-Melody)",
                  "description": "The 8 s melody in assets/ conditions MusicGen-Melody through its chroma (looped "
                                 "under 16 s): once as a jazz trio, once as a string orchestra, crossfaded into "
                                 "each other. Needs `audiochain models pull facebook/musicgen-melody` once.",
                  "checkpoints": ["facebook/musicgen-melody"]}
    g.add("io.load", id="melody", path="assets/melody.flac")
    g.add("models.musicgen_melody", id="jazz", checkpoint="facebook/musicgen-melody", duration_s=16.0, seed=1,
          prompt="jazz trio, brushed drums, walking upright bass, piano, 120 bpm")
    g.add("models.musicgen_melody", id="strings", checkpoint="facebook/musicgen-melody", duration_s=16.0, seed=2,
          prompt="cinematic string orchestra with warm cellos and harp, 120 bpm")
    g.add("dsp.crossfade", id="join", duration_s=2.0, curve="equal_power")
    g.add("io.export", id="export", path="melody_variations.wav", format="wav", bit_depth="pcm24",
          loudness_lufs=-14.0, peak_db=-1.0)
    g.connect("melody.out", "jazz.melody")
    g.connect("melody.out", "strings.melody")
    g.connect("jazz.out", "join.a")
    g.connect("strings.out", "join.b")
    g.connect("join", "export")
    _layout(g, {"melody": (20, 120), "jazz": (268, 20), "strings": (543, 20), "join": (818, 20),
                "export": (818, 292)})
    return g


def bark_vocals() -> Graph:
    """Bark speaks an intro and sings two lines in one voice -> export."""
    g = Graph()
    g.path = HERE / "bark_vocals.msgpack"
    g.metadata = {"title": "Vocals with Bark",
                  "description": "Bark-small speaks two sentences and sings two lines (between \u266a marks) in "
                                 "one voice preset, sentence by sentence, joined with short pauses. Needs "
                                 "`audiochain models pull suno/bark-small` once.",
                  "checkpoints": ["suno/bark-small"]}
    g.add("models.bark", id="vocals", checkpoint="suno/bark-small", voice="v2/en_speaker_6", seed=3,
          prompt="Good evening, and welcome back. This next one is about the sea. "
                 "\u266a Oh the waves roll in, and the night is long \u266a "
                 "\u266a Sing me home with an old sea song \u266a",
          pause_s=0.3)
    g.add("io.export", id="export", path="bark_vocals.wav", format="wav", bit_depth="pcm24", loudness_lufs=-16.0,
          peak_db=-1.0)
    g.connect("vocals", "export")
    _layout(g, {"vocals": (20, 40), "export": (280, 40)})
    return g


def speech_offline() -> Graph:
    """espeak-ng speech over the drum loop: renders on any machine, no weights."""
    g = Graph()
    g.path = HERE / "speech_offline.msgpack"
    g.metadata = {"title": "Offline speech over a loop (espeak-ng)",
                  "description": "espeak-ng speaks a line (no model, no download), made stereo and mixed over the "
                                 "drum loop in assets/ at -14 dB, faded out and exported. Runs offline anywhere "
                                 "espeak-ng is installed.",
                  "checkpoints": []}
    g.add("speech.espeak", id="speech", voice="en-us", speed_wpm=150, pitch=45,
          text="Welcome to AudioChain. Load a clip, cut it into windows, vary every window, and stitch it back "
               "together.")
    g.add("dsp.channels", id="stereo", mode="stereo")
    g.add("io.load", id="loop", path="assets/loop.flac")
    g.add("dsp.mix", id="mix", gain_a_db=0.0, gain_b_db=-14.0)
    g.add("dsp.fade", id="fade", fade_in_s=0.0, fade_out_s=0.5)
    g.add("io.export", id="export", path="speech_offline.wav", format="wav", bit_depth="pcm16", loudness_lufs=-16.0,
          peak_db=-1.0)
    g.connect("speech", "stereo")
    g.connect("stereo.out", "mix.a")
    g.connect("loop.out", "mix.b")
    g.connect("mix", "fade")
    g.connect("fade", "export")
    _layout(g, {"speech": (20, 20), "stereo": (270, 20), "loop": (270, 250), "mix": (495, 60),
                "fade": (720, 60), "export": (700, 320)})      # room for the waveforms a run adds
    return g


def stems() -> Graph:
    """A song (voice over the loop) -> Demucs stems -> the vocal varied -> mixed back with the band -> export."""
    g = Graph()
    g.path = HERE / "stems.msgpack"
    g.metadata = {"title": "Variations of your own vocals (Demucs stems)",
                  "description": "The spoken line and the drum loop in assets/ are mixed into a song, which "
                                 "HTDemucs splits into drums, bass, other and vocals (every stem the song's exact "
                                 "length; with residual on, the stems add up to the song exactly). The vocal is "
                                 "moved up a fourth with its formants kept and mixed back over drums, bass and "
                                 "other. Needs demucs's safetensors export adefossez/HTDemucs once (downloaded on "
                                 "the first online run, or `audiochain models pull adefossez/HTDemucs`).",
                  "checkpoints": ["adefossez/HTDemucs"]}
    g.add("io.load", id="voice", path="assets/voice.flac")
    g.add("io.load", id="loop", path="assets/loop.flac")
    g.add("dsp.mix", id="song", gain_a_db=0.0, gain_b_db=-6.0)
    g.add("models.demucs", id="stems", checkpoint="adefossez/HTDemucs", shifts=1, overlap=0.25, seed=0,
          residual=True)
    g.add("dsp.variation", id="vary", semitones=5.0, preserve_formants=True)
    g.add("dsp.mix", id="rhythm")
    g.add("dsp.mix", id="band")
    g.add("dsp.mix", id="remix", gain_a_db=0.0, gain_b_db=0.0)
    g.add("io.export", id="export", path="stems.wav", format="wav", bit_depth="pcm24", loudness_lufs=-16.0,
          peak_db=-1.0)
    g.connect("voice.out", "song.a")
    g.connect("loop.out", "song.b")
    g.connect("song.out", "stems.audio")
    g.connect("stems.vocals", "vary.audio")
    g.connect("stems.drums", "rhythm.a")
    g.connect("stems.bass", "rhythm.b")
    g.connect("rhythm.out", "band.a")
    g.connect("stems.other", "band.b")
    g.connect("band.out", "remix.a")
    g.connect("vary.out", "remix.b")
    g.connect("remix", "export")
    _layout(g, {"voice": (20, 20), "loop": (20, 272), "song": (268, 130), "stems": (498, 20), "vary": (763, 20),
                "rhythm": (763, 352), "band": (996, 352), "remix": (996, 20), "export": (996, 624)})
    g.editor["view"] = {"zoom": 0.67}    # opens whole at 1280x800 (QA: the Demucs node, taller than the window at
    return g                             # 100 %, and the right column were past the edges)


def speech_languages() -> Graph:
    """MMS-TTS says a greeting in German, then in French (one checkpoint per language) -> export."""
    g = Graph()
    g.path = HERE / "speech_languages.msgpack"
    g.metadata = {"title": "Speech in two languages (MMS-TTS)",
                  "description": "MMS-TTS speaks a greeting in German and the same in French, each language its "
                                 "own checkpoint picked by the language parameter, at the model's 16 kHz; the two "
                                 "are joined with a 0.2 s crossfade and exported. Needs `audiochain models pull "
                                 "facebook/mms-tts-deu` and `audiochain models pull facebook/mms-tts-fra` once.",
                  "checkpoints": ["facebook/mms-tts-deu", "facebook/mms-tts-fra"]}
    g.add("models.mms_tts", id="german", language="deu", seed=1, speaking_rate=1.0,
          prompt="Guten Abend und willkommen. Heute hören wir Musik aus dem ganzen Land.")
    g.add("models.mms_tts", id="french", language="fra", seed=1, speaking_rate=1.0,
          prompt="Bonsoir et bienvenue. Ce soir, nous écoutons de la musique de tout le pays.")
    g.add("dsp.crossfade", id="join", duration_s=0.2, curve="equal_power")
    g.add("io.export", id="export", path="speech_languages.wav", format="wav", bit_depth="pcm24",
          loudness_lufs=-16.0, peak_db=-1.0)
    g.connect("german.out", "join.a")
    g.connect("french.out", "join.b")
    g.connect("join", "export")
    _layout(g, {"german": (20, 20), "french": (295, 20), "join": (570, 160), "export": (800, 160)})
    return g


def transcribe_and_speak() -> Graph:
    """A spoken line -> Whisper (text and word times) -> MMS-TTS speaks the transcript -> export."""
    g = Graph()
    g.path = HERE / "transcribe_and_speak.msgpack"
    g.metadata = {"title": "Transcribe a voice and speak it again (Whisper, MMS-TTS)",
                  "description": "Whisper-small transcribes the spoken line in assets/ (in 30 s windows, with the "
                                 "time of every word on its second output); MMS-TTS speaks the transcript again in "
                                 "its English voice, exported at the model's 16 kHz. Needs `audiochain models pull "
                                 "openai/whisper-small` and `audiochain models pull facebook/mms-tts-eng` once.",
                  "checkpoints": ["openai/whisper-small", "facebook/mms-tts-eng"]}
    g.add("io.load", id="voice", path="assets/voice.flac")
    g.add("models.whisper", id="asr", checkpoint="openai/whisper-small", language="en", task="transcribe")
    g.add("models.mms_tts", id="speak", language="eng", seed=0)
    g.add("io.export", id="export", path="transcribe_and_speak.wav", format="wav", bit_depth="pcm24",
          loudness_lufs=-16.0, peak_db=-1.0)
    g.connect("voice.out", "asr.audio")
    g.connect("asr.text", "speak.text")
    g.connect("speak", "export")
    _layout(g, {"voice": (20, 20), "asr": (260, 20), "speak": (500, 20), "export": (740, 20)})
    return g


def codec_tokens() -> Graph:
    """The melody -> EnCodec tokens (JSON text, viewable and editable) -> decoded back -> export."""
    g = Graph()
    g.path = HERE / "codec_tokens.msgpack"
    g.metadata = {"title": "Audio as codec tokens (EnCodec)",
                  "description": "The melody in assets/ is encoded by EnCodec 24 kHz at 6 kbps into tokens (8 "
                                 "codebooks x 75 tokens per second, as JSON text to read or edit) and decoded back "
                                 "into audio of exactly the encoded length, the sound of the tokens MusicGen "
                                 "generates. Needs `audiochain models pull facebook/encodec_24khz` once.",
                  "checkpoints": ["facebook/encodec_24khz"]}
    g.add("io.load", id="melody", path="assets/melody.flac")
    g.add("models.encodec_encode", id="encode", checkpoint="facebook/encodec_24khz", bandwidth_kbps=6.0)
    g.add("models.encodec_decode", id="decode", checkpoint="facebook/encodec_24khz")
    g.add("io.export", id="export", path="codec_tokens.wav", format="wav", bit_depth="pcm24")
    g.connect("melody.out", "encode.audio")
    g.connect("encode.out", "decode.tokens")
    g.connect("decode", "export")
    _layout(g, {"melody": (20, 20), "encode": (260, 20), "decode": (500, 20), "export": (740, 20)})
    return g


def dac_tokens() -> Graph:
    """The melody -> DAC tokens at 4 of 9 codebooks (JSON text) -> decoded back -> export."""
    g = Graph()
    g.path = HERE / "dac_tokens.msgpack"
    g.metadata = {"title": "Audio as codec tokens (DAC)",
                  "description": "The melody in assets/ is encoded by the Descript Audio Codec at 44.1 kHz into "
                                 "tokens of 4 of its 9 codebooks (86 tokens per second, about 3.4 kbps, as JSON text "
                                 "to read or edit) and decoded back into audio of exactly the encoded length: hear "
                                 "what fewer codebooks keep. Needs `audiochain models pull descript/dac_44khz` once.",
                  "checkpoints": ["descript/dac_44khz"]}
    g.add("io.load", id="melody", path="assets/melody.flac")
    g.add("models.dac_encode", id="encode", checkpoint="descript/dac_44khz", codebooks=4)
    g.add("models.dac_decode", id="decode", checkpoint="descript/dac_44khz")
    g.add("io.export", id="export", path="dac_tokens.wav", format="wav", bit_depth="pcm24")
    g.connect("melody.out", "encode.audio")
    g.connect("encode.out", "decode.tokens")
    g.connect("decode", "export")
    _layout(g, {"melody": (20, 20), "encode": (260, 20), "decode": (500, 20), "export": (740, 20)})
    return g


def text_to_audio() -> Graph:
    """A prompt template -> Stable Audio Open for 75 s (two 47.55 s windows chained) -> fades -> export."""
    g = Graph()
    g.path = HERE / "text_to_audio.msgpack"
    g.metadata = {"title": "Sound from a prompt (Stable Audio Open)",
                  "description": "A prompt template (genre, mood, bpm, key, instrument) drives Stable Audio Open, a "
                                 "latent diffusion model, for 75 s of 44.1 kHz stereo: 100 denoising steps per window, "
                                 "guided away from a negative prompt; past its 47.55 s window a second window "
                                 "continues the first over their shared 17.6 s and the two crossfade there. Faded "
                                 "and exported at -14 LUFS. Needs `audiochain models pull "
                                 "stabilityai/stable-audio-open-1.0` once (a gated model: accept its licence on the "
                                 "hub and log in first) and the 'diffusion' extra.",
                  "checkpoints": ["stabilityai/stable-audio-open-1.0"]}
    g.add("text.prompt_template", id="prompt", genre="ambient", mood="calm, slowly evolving", bpm=90,
          key="A minor", instrument="warm analog synth pads, soft rain and a distant piano")
    g.add("models.stable_audio", id="sound", checkpoint="stabilityai/stable-audio-open-1.0", duration_s=75.0,
          extend_stride_s=30.0, steps=100, guidance_scale=7.0, seed=7, negative_prompt="low quality, distorted, vocals")
    g.add("dsp.fade", id="fade", fade_in_s=0.5, fade_out_s=4.0, curve="equal_power")
    g.add("io.export", id="export", path="text_to_audio.wav", format="wav", bit_depth="pcm24", loudness_lufs=-14.0,
          peak_db=-1.0)
    g.connect("prompt.out", "sound.text")
    g.connect("sound", "fade")
    g.connect("fade", "export")
    _layout(g, {"prompt": (20, 40), "sound": (290, 40), "fade": (580, 40), "export": (800, 40)})
    return g


def _layout(g: Graph, positions: dict[str, tuple[float, float]]) -> None:
    """The editor's positions: 30 px or more between nodes as drawn today (a model node with its
    Download row is 600-750 px tall); tests/editor/test_gui.py opens every example and checks."""
    g.editor["positions"] = {k: [float(x), float(y)] for k, (x, y) in positions.items()}


GRAPHS = {"demo.msgpack": demo, "longform.msgpack": longform, "melody_variations.msgpack": melody_variations,
          "bark_vocals.msgpack": bark_vocals, "speech_offline.msgpack": speech_offline, "stems.msgpack": stems,
          "speech_languages.msgpack": speech_languages, "transcribe_and_speak.msgpack": transcribe_and_speak,
          "codec_tokens.msgpack": codec_tokens, "dac_tokens.msgpack": dac_tokens, "text_to_audio.msgpack": text_to_audio}


def main() -> None:
    for name, build in GRAPHS.items():
        g = build()
        # a checkpoint not pulled yet, or a pip extra not installed, is fine here: the graph says what it needs
        problems = [p for p in g.problems(base_dir=HERE) if "audiochain models pull" not in p and "pip install" not in p]
        if problems:
            raise SystemExit(f"{name}: " + "; ".join(problems))
        if outside := g.external_reads(HERE):     # self-contained: no "reads outside its folder" (D10)
            raise SystemExit(f"{name}: reads outside graphs/: " + "; ".join(f"{n}.{p} -> {f}" for n, p, f in outside))
        save(g, HERE / name)
        print(f"wrote graphs/{name}")


if __name__ == "__main__":
    main()
