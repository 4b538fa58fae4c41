"""What a checkpoint folder must hold, and what it is: the layout a model family (or transformers,
diffusers) accepts, whole safetensors weights (only the header is read), a readable ``config.json``
and a tokenizer's vocabulary where text is read; and two identities of a local folder, a cheap one
from its files' names, sizes and times (:func:`folder_digest`, in cache keys) and one from their
bytes (:func:`weights_digest`: whether two folders hold the same model).

Resolving a name to a folder (a hub id or a local path) is :mod:`nodeflow.checkpoints`'s, whose
:class:`~nodeflow.checkpoints.CheckpointError` these checks raise; it re-exports these names.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

__all__ = ["TOKENIZER_FILES", "tokenizer_files", "safetensors_whole", "require_tokenizer", "folder_digest",
           "weights_digest"]

TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "tokenizer.model", "vocab.json", "vocab.txt",
                   "sentencepiece.bpe.model")       # any one of them holds a tokenizer's vocabulary


def tokenizer_files(path: Path) -> bool:
    """Whether the checkpoint folder ``path`` holds a tokenizer's vocabulary (transformers builds an
    empty tokenizer from a folder without one, and every word of a prompt becomes ``<unk>``)."""
    return any((Path(path) / f).is_file() for f in TOKENIZER_FILES)


_WHOLE: dict[tuple[str, int, int], bool] = {}


def safetensors_whole(path: Path) -> bool:
    """A well-formed safetensors header whose tensors fill the file exactly (not cut short, no
    trailing payload); only the header is read, once per file version.  Raises PermissionError for a
    file this user may not read (whole or not, nobody can tell: QA38, it was called damaged)."""
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key in _WHOLE:
            return _WHOLE[key]
        from .safeio import open_regular
        size, ok = st.st_size, False
        with open_regular(path) as f:        # (a FIFO named .safetensors never blocks)
            head = f.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            if 2 <= n <= min(size - 8, 100 << 20):
                header = json.loads(f.read(n))
                ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
                ok = isinstance(header, dict) and all(isinstance(e, int) for e in ends) and \
                    8 + n + max(ends, default=0) == size
        _WHOLE[key] = ok
        return ok
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM):     # a PermissionError, or open_regular's NotRegularFile
            raise PermissionError(errno.EACCES, "Permission denied", str(path)) from None
        return False
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error):
        return False


def _again(name: str, local: bool) -> str:
    """How to get a damaged checkpoint's files back: copy a folder again, pull a hub id again."""
    return "copy it again from where it came" if local else f"pull it again (audiochain models pull {name})"


def _check_folder(name: str, path: Path, family: Any = None, who: str = "this node", local: bool = True) -> None:
    """A usable checkpoint folder: a layout ``family`` (or, without one, any registered family or
    the transformers/diffusers layout) accepts, holding whole safetensors weights, a readable
    ``config.json`` and, for a family that reads text, its tokenizer's vocabulary."""
    from . import families
    from .checkpoints import CheckpointError, WrongModelError
    config = families.read_config(path)
    if config == {} and (path / "config.json").is_file():     # unread, or read as nothing: say why
        try:                                                  # (QA: "is a None model")
            json.loads((path / "config.json").read_text(encoding="utf-8"))
        except ValueError as e:
            raise CheckpointError(f"checkpoint '{name}': config.json is not valid JSON ({e}); restore the "
                                  f"checkpoint's own config.json, or {_again(name, local)}") from None
        except OSError:
            pass
    if family is not None:
        why = family.problem(config, path, who)
        if why:
            where = "" if Path(name).expanduser() == path else f" ({path})"
            raise WrongModelError(f"checkpoint '{name}'{where} {why}")
    elif config is None and families.for_folder(path) is None:
        raise CheckpointError(f"checkpoint '{name}': {path} has no config.json (transformers layout) or "
                              "model_index.json (diffusers layout), and no installed model family knows its layout")
    if not any(path.rglob("*.safetensors")):
        pickles = sorted(p.name for p in path.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".th"))
        extra = f" (found {', '.join(pickles)})" if pickles else ""
        raise CheckpointError(f"checkpoint '{name}' has no .safetensors weights{extra}; AudioChain loads safetensors "
                              "only because pickle files can run code; convert it or pull a revision that has them")
    for f in sorted(path.rglob("*.safetensors")):   # (QA: a cut-short file was a raw SafetensorError at run time)
        if not f.is_file():                          # (QA49 D7: a link to /dev/zero was "truncated or damaged")
            raise CheckpointError(f"checkpoint '{name}': {f.relative_to(path)} is not a regular file (a folder, "
                                  f"device, FIFO or socket); {_again(name, local)}")
        try:
            whole = safetensors_whole(f)
        except PermissionError:
            raise CheckpointError(f"checkpoint '{name}': {f.relative_to(path)} cannot be read by this user "
                                  f"(permission denied); make it readable (chmod a+r {f}) or ask its owner") from None
        if not whole:
            raise CheckpointError(f"checkpoint '{name}': {f.relative_to(path)} is truncated or damaged (its size does "
                                  f"not match its header); {_again(name, local)}")
    if getattr(family, "needs_tokenizer", False):
        require_tokenizer(name, path, local)


def require_tokenizer(name: str, path: Path, local: bool = True) -> None:
    """Refuse checkpoint ``name`` (its folder ``path``) in one line when it holds no tokenizer's
    vocabulary (see :func:`tokenizer_files`): checked before a run for a family that reads text, and
    by the model layer's loader for any other."""
    from .checkpoints import CheckpointError
    if not tokenizer_files(path):
        raise CheckpointError(f"checkpoint '{name}' has no tokenizer files ({', '.join(TOKENIZER_FILES[:4])}...): its "
                              "text would be read as unknown words; "
                              + ("copy them from the original checkpoint" if local else _again(name, local)))


def _folder_files(path: Path) -> list[Path]:
    """The files a checkpoint folder's digests cover, sorted (hidden files left out)."""
    return sorted(p for p in Path(path).rglob("*") if p.is_file() and not p.name.startswith("."))


def folder_digest(path: Path) -> str:
    """Cheap identity of a local checkpoint folder: config contents plus every file's name, size,
    modification and change times and inode, as :func:`~nodeflow.cache.file_stamp` names a file
    (weights are not read; QA: new weights of the same size copied in with the old time put back
    were served the old weights' takes)."""
    h = hashlib.blake2b(digest_size=10)
    for f in _folder_files(path):
        st = f.stat()
        h.update(f"{f.relative_to(path).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0"
                 f"{st.st_ctime_ns}\n".encode())
        if f.suffix == ".json" and f.parent == Path(path) and st.st_size < 1 << 20:
            h.update(f.read_bytes())
    return "local-" + h.hexdigest()


def weights_digest(path: Path, *, model_only: bool = False) -> str:
    """Content identity of a local checkpoint folder: every file's name and bytes (the weights are
    read: seconds for gigabytes).  :func:`folder_digest` (names, sizes, times) names a folder in cache
    keys at no cost; this says whether two folders hold the same model, a copy made without keeping
    file times too (QA: a ``cp -r`` of the base refused its own adapter as "other weights").

    ``model_only``: only what makes the network, ``config.json`` and the weights (an adapter's base
    is the same model when its generation defaults, tokenizer or README were edited; QA52)."""
    from .cache import file_digest
    h = hashlib.blake2b(digest_size=10)
    for f in _folder_files(path):
        if model_only and not (f.name == "config.json" or f.name.endswith((".safetensors", ".safetensors.index.json"))):
            continue
        digest = file_digest(f)
        if model_only and f.name == "config.json":      # its settings, not its layout (QA56: re-indented, refused)
            with contextlib.suppress(OSError, ValueError, RecursionError):
                digest = hashlib.sha256(json.dumps(json.loads(f.read_bytes()), sort_keys=True).encode()).hexdigest()
        h.update(f"{f.relative_to(path).as_posix()}\0{digest}\n".encode())
    return ("model-" if model_only else "weights-") + h.hexdigest()
