"""Build the example graphs in this folder from code (the .msgpack files are committed).

    python graphs/build.py          # rewrites every example graph

Paths inside the graphs are relative to this folder, so they work from any checkout.
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
                  "description": "An 8-second melody is cut into 2-bar windows sized for MusicGen, each window "
                                 "is transposed along a progression (0, +5, -2, +7 semitones) with Rubber Band, "
                                 "the variations are stitched with short equal-power fades, and the original "
                                 "crossfades into them: a ~20 s piece, offline, in seconds."}
    g.add("io.load", id="melody", path="../assets/melody.flac")
    g.add("dsp.resample", id="to_model_rate", profile="musicgen", quality="high")
    g.add("time.tokenize_window", id="bars", profile="musicgen", unit="bars", size=2.0, overlap=1.0,
          bpm=120.0, beats_per_bar=4, last="keep")
    g.add("dsp.variation", id="vary", pattern_semitones="0 5 -2 7")
    g.add("time.stitch", id="stitch", fade_s=0.25, curve="equal_power")
    g.add("dsp.crossfade", id="into_variations", duration_s=1.0, curve="equal_power")
    g.add("io.export", id="export", path="demo.wav", format="wav", bit_depth="pcm24", loudness_lufs=-16.0,
          peak_db=-1.0)
    g.connect("melody", "to_model_rate")
    g.connect("to_model_rate", "bars")
    g.connect("bars", "vary")
    g.connect("vary", "stitch")
    g.connect("to_model_rate.out", "into_variations.a")
    g.connect("stitch.out", "into_variations.b")
    g.connect("into_variations", "export")
    _layout(g, {"melody": (20, 40), "to_model_rate": (220, 40), "bars": (440, 40), "vary": (660, 40),
                "stitch": (880, 40), "into_variations": (880, 260), "export": (1100, 260)})
    return g


def _layout(g: Graph, positions: dict[str, tuple[float, float]]) -> None:
    g.editor["positions"] = {k: [float(x), float(y)] for k, (x, y) in positions.items()}


GRAPHS = {"demo.msgpack": demo}


def main() -> None:
    for name, build in GRAPHS.items():
        g = build()
        problems = g.problems(base_dir=HERE)
        if problems:
            raise SystemExit(f"{name}: " + "; ".join(problems))
        save(g, HERE / name)
        print(f"wrote graphs/{name}")


if __name__ == "__main__":
    main()
