"""``models.clap_search``: find the clips in a folder that sound most like a text or a clip (CLAP).

The audio counterpart of a retriever: every audio file under ``folder`` is embedded with CLAP
(:mod:`nodes.models.clap`) and ranked by cosine similarity to ``text`` and/or the ``reference``
clip.  Embeddings are kept in an index on disk, one ``.npy`` per file *content* (blake2b of the
bytes) and checkpoint revision, device and dtype, beside the value cache
(``$AUDIOCHAIN_CACHE_DIR/clap-index``): a second search, in any process, embeds only files it has
not seen; a renamed or moved file is found by its content.  ``AUDIOCHAIN_CACHE=off`` leaves the
index alone.  The order is deterministic: score, then the file's path within the folder.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Annotated, NamedTuple

import numpy as np

from nodeflow.atomic import write_atomic
from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context
from nodeflow.types import FilePath, Range, Text

from .clap import CLAP, DEFAULT_CHECKPOINT, ClapLoaded, audio_embedding, text_embedding, using_clap
from .layer import Device, Precision

__all__ = ["clap_search", "ClapMatches", "rank_folder", "index_dir"]


class ClapMatches(NamedTuple):
    clips: list[Audio]        # the best `top_k` files, best first (info: path, clap_score)
    ranking: str              # one line per match: score, a tab, the path within the folder


def index_dir() -> Path | None:
    """Where embeddings are kept: ``clap-index`` in the value cache's folder (``AUDIOCHAIN_CACHE_DIR``),
    beside its entries, which the value cache alone counts and clears; None when ``AUDIOCHAIN_CACHE=off``."""
    from nodeflow import diskcache
    if not diskcache.enabled_by_default():
        return None
    return diskcache.default_dir() / "clap-index"


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    from nodes.io.load import AUDIO_EXTS
    exts = {e.lower() for e in AUDIO_EXTS}
    return sorted((p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and p.suffix.lower() in exts),
                  key=lambda p: p.relative_to(folder).as_posix())


def _embedding(loaded: ClapLoaded, file: Path, where: Path | None, ctx: Context) -> np.ndarray:
    cached = where / f"{_digest(file)}.npy" if where is not None else None
    if cached is not None and cached.is_file():
        try:
            vec = np.load(cached, allow_pickle=False)
            if vec.ndim == 1 and vec.dtype == np.float64 and np.all(np.isfinite(vec)):
                return vec
        except (OSError, ValueError):
            pass                                  # a damaged entry is recomputed and replaced
    from nodes.io.load import load
    vec = audio_embedding(loaded, load.fn(path=str(file), ctx=ctx), ctx, what=str(file.name))
    if cached is not None:
        buf = io.BytesIO()
        np.save(buf, vec, allow_pickle=False)
        write_atomic(cached, buf.getvalue(), fsync=False)
    return vec


def rank_folder(loaded: ClapLoaded, folder: Path, *, text: str = "", reference: Audio | None = None,
                ctx: Context) -> list[tuple[float, Path]]:
    """Every audio file under ``folder`` with its score (the mean of the text and reference
    similarities asked for), best first; ties by path."""
    files = _files(folder)
    if not files:
        raise ParameterError(f"clap_search: no audio files under {folder}")
    root = index_dir()
    where = None
    if root is not None:
        ident = f"{loaded.checkpoint}\0{loaded.revision}\0{loaded.device}\0{loaded.dtype}"
        where = root / hashlib.blake2b(ident.encode(), digest_size=10).hexdigest()
        where.mkdir(parents=True, exist_ok=True)
    queries = ([text_embedding(loaded, text, ctx)] if text else []) + \
        ([audio_embedding(loaded, reference, ctx, what="reference")] if reference is not None else [])
    scored, skipped = [], []
    for i, f in enumerate(files):
        ctx.check_cancelled()
        ctx.progress(i, len(files), f.name)
        try:
            emb = _embedding(loaded, f, where, ctx)
        except AudioError as e:     # one damaged or empty file in a library stops no search (QA57, QA60)
            skipped.append((f, str(e)))
            continue
        scored.append((round(float(np.mean([np.dot(emb, q) for q in queries])), 9), f))
    if skipped:
        names = ", ".join(f.relative_to(folder).as_posix() for f, _ in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        said = f"{len(skipped)} of {len(files)} audio files under {folder} could not be read ({names}{more}): " \
               f"{skipped[0][1]}"
        if not scored:
            raise AudioError(f"clap_search: {said}; put readable audio files in the folder")
        ctx.warn(f"clap_search: searched without them: {said}; repair or remove them")
    return sorted(scored, key=lambda t: (-t[0], t[1].relative_to(folder).as_posix()))


def _estimate(inputs: dict, params: dict) -> dict:
    """``top_k`` clips at most (their lengths are the files', not known before the search); validate
    says what run would refuse of the parameters (QA60: no estimate, so the files limit let a top_k of
    10000 through, and show said the built-in node lacked one)."""
    from nodeflow.costs import Shape
    k = int(params.get("top_k", 10))
    nothing = not str(params.get("text", "")).strip() and inputs.get("reference") is None
    return {"clips": Shape(items=k, guess=True, note="clip lengths are the found files'",
                           problem="nothing to search for; give text= (a description) or connect a reference clip"
                           if nothing else ""),
            "ranking": Shape(chars=80 * k)}


@CLAP.node("models.clap_search", category="models", version=1, estimate=_estimate)
def clap_search(reference: Audio | None = None, *,
                folder: Annotated[str, FilePath(mode="read", folder=True)] = "",
                text: Annotated[str, Text(multiline=True)] = "",
                top_k: Annotated[int, Range(1, 10000)] = 10,
                checkpoint: str = DEFAULT_CHECKPOINT,
                device: Device = Device.AUTO,
                precision: Precision = Precision.AUTO,
                ctx: Context) -> ClapMatches:
    """Find the clips in a folder that sound most like a text and/or a reference clip (CLAP).

    Parameters
    ----------
    reference : Audio, optional
        Clip the matches should sound like.
    folder : str
        Folder of audio files, searched with its subfolders.
    text : str
        Description the matches should fit, e.g. dusty vinyl drum break; empty: the reference only.
    top_k : int
        How many of the best matches to return, 1-10000.
    checkpoint : str
        CLAP checkpoint: a Hugging Face hub id (laion/clap-htsat-unfused) or a local folder.
    device : Device
        Where the model runs: auto (CUDA, then MPS, then CPU), cpu, cuda or mps; a run's --device
        wins.
    precision : Precision
        Weight precision: auto (float16 on CUDA, float32 elsewhere), float32, float16 or bfloat16.
    """
    text = text.strip()
    if not text and reference is None:
        raise ParameterError("clap_search: nothing to search for; give text= (a description) or connect a "
                             "reference clip")
    root = ctx.resolve_input(folder)
    if not root.is_dir():
        raise ParameterError(f"clap_search: folder={folder!r} is not a folder ({root})")
    from nodes.io.load import load
    with using_clap(checkpoint, ctx, device, precision) as loaded:
        ranked = rank_folder(loaded, root, text=text, reference=reference, ctx=ctx)[:top_k]
    clips = [load.fn(path=str(f), ctx=ctx).with_info(path=f.relative_to(root).as_posix(), clap_score=f"{s:.6f}")
             for s, f in ranked]
    return ClapMatches(clips, "\n".join(f"{s:.6f}\t{f.relative_to(root).as_posix()}" for s, f in ranked))
