"""``audiochain run GRAPH -o -``: a node's audio as raw samples on standard output, piece by piece
as it is made, for another program to play or record (``| ffplay -f f32le ...``, ``| sox -t f32 ...``).

The samples are float32, little-endian, channels interleaved, at the node's rate; the format is
printed on standard error before the first sample.  Nothing is written to disk: exports do not run.
"""
from __future__ import annotations

import sys
from typing import Any, BinaryIO, Callable

import numpy as np

from .audio import Audio
from .errors import ExecutionError, ParameterError
from .graph import Graph
from .types import type_name

__all__ = ["pick_target", "pipe_audio", "format_line"]


def _audio_output(graph: Graph, nid: str) -> str | None:
    spec = graph.spec(nid)
    types = graph.output_types()
    return next((p for p in (spec.outputs if spec else ()) if types.get((nid, p)) is Audio), None)


def pick_target(graph: Graph, target: str | None) -> tuple[str, str]:
    """The node (and its audio output) ``-o -`` plays: ``--target``, else what the one export takes,
    else the one node whose audio nothing uses.  Raises :class:`ParameterError` naming the choices."""
    if target is not None:
        if target not in graph.nodes:
            raise ParameterError(f"--target {target}: {graph.no_node(target)}")
        spec = graph.spec(target)
        if spec is not None and spec.side_effect:
            feed = [l.src for l in graph.links if l.dst == target]
            raise ParameterError(f"-o -: '{target}' is an export (it writes a file); stream the audio it takes "
                                 f"instead: --target {feed[0] if feed else 'NODE'}")
        port = _audio_output(graph, target)
        if port is None:
            made = ", ".join(f"{p}: {type_name(t)}" for (n, p), t in graph.output_types().items() if n == target)
            raise ParameterError(f"-o -: node '{target}' makes no single Audio ({made or 'no outputs'}); stream a "
                                 "node that does (a list of windows: the node that stitches them)")
        return target, port
    exports = [n for n in graph.nodes if (s := graph.spec(n)) is not None and s.side_effect]
    feeds = {l.src for l in graph.links}
    if len(exports) == 1:
        src = [l.src for l in graph.links if l.dst == exports[0]]
        if len(src) == 1 and (port := _audio_output(graph, src[0])):
            return src[0], port
    ends = [n for n in graph.nodes if n not in feeds and _audio_output(graph, n)]
    if len(ends) == 1 and (port := _audio_output(graph, ends[0])):
        return ends[0], port
    choices = sorted({l.src for l in graph.links if l.dst in exports} | set(ends))
    raise ParameterError("-o -: which node should play? pass --target NODE"
                         + (f" (e.g. {', '.join(choices[:5])})" if choices else ""))


_WRITE = 8192          # frames per write (64 KiB of stereo float32, a pipe's buffer)


def format_line(audio: Audio) -> str:
    layout = {1: "mono", 2: "stereo"}.get(audio.channels, f"{audio.channels}c")
    return (f"streaming {audio.channels} channel(s) at {audio.sample_rate} Hz as raw float32 little-endian, "
            f"interleaved (e.g. | ffplay -f f32le -ar {audio.sample_rate} -ch_layout {layout} -)")


def pipe_audio(executor: Any, graph: Graph, target: str, port: str, out: BinaryIO | None = None,
               note: Callable[[str], None] | None = None, **run_kw: Any) -> tuple[int, bool]:
    """Write ``target``'s audio to ``out`` (default: standard output) as it is made; returns the frames
    written and whether the reader went away first (``| head``: the run ends quietly, and the CLI says
    so; QA: it said "streamed 256000 frame(s)" as if all had been read)."""
    out = out if out is not None else sys.stdout.buffer
    first: Audio | None = None
    frames, closed = 0, False
    pieces = executor.stream(graph, target, port, **run_kw)
    try:
        for piece in pieces:
            if not isinstance(piece, Audio):
                raise ExecutionError(target, f"-o -: output '{port}' gave {type(piece).__name__}, not audio")
            if first is None:
                first = piece
                if note is not None:
                    note(format_line(piece))
            elif (piece.sample_rate, piece.channels) != (first.sample_rate, first.channels):
                raise ExecutionError(target, f"-o -: a piece changed format ({piece.channels} ch at "
                                     f"{piece.sample_rate} Hz after {first.channels} ch at {first.sample_rate} Hz)")
            data = memoryview(np.ascontiguousarray(piece.samples.T, dtype="<f4").tobytes())
            step = _WRITE * piece.channels * 4
            for at in range(0, len(data), step):     # in pieces a pipe holds: a reader that leaves is seen
                out.write(data[at:at + step])
                out.flush()
                frames += min(_WRITE, piece.frames - at // (piece.channels * 4))
    except BrokenPipeError:              # the reader has all it wanted; closing the stream stops the run
        closed = True
        if out is getattr(sys.stdout, "buffer", None):
            import os                    # and Python's own flush at exit must not complain about it
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        pieces.close()
    return frames, closed
