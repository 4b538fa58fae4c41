"""Model checkpoints: the Hugging Face hub cache (safetensors only) or a local folder.

A checkpoint is named by a hub id (``org/model``, optionally ``@revision``) or a local folder
(absolute, or relative to the graph file) in the transformers layout (``config.json``), the
diffusers layout (``model_index.json``) or a layout a registered model family checks itself
(:mod:`nodeflow.families`); its weights are safetensors.  :func:`resolve` turns the name into a
local folder plus a revision (the hub snapshot's commit hash, or a digest of a local folder's
files) without touching the network when the checkpoint is cached.  With ``HF_HUB_OFFLINE=1`` a
missing checkpoint is one clear error naming it and the command that fetches it.  What a checkpoint folder
must hold, and its digests, are :mod:`nodeflow.checkpointfiles`'s.

``audiochain models list | pull NAME | rm NAME | info NAME`` manage the cache (:mod:`nodeflow.cli_models`).
huggingface_hub is imported only inside the functions that need it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .checkpointfiles import (TOKENIZER_FILES, _check_folder, folder_digest, require_tokenizer, safetensors_whole,
                              tokenizer_files, weights_digest)
from .errors import NodeflowError, ParameterError, install_hint
from .timebase import ModelProfile

if TYPE_CHECKING:   # huggingface_hub is imported where the cache is read
    from huggingface_hub import HFCacheInfo

__all__ = ["CheckpointError", "NotDownloaded", "DownloadFailed", "WrongModelError", "Resolved", "ALLOW_PATTERNS", "MODEL_PACKAGES", "resolve", "fingerprint", "folder_digest", "weights_digest",
           "pull", "remove", "list_cached", "offline", "info", "profile_from_config", "hub_cache_dir",
           "TOKENIZER_FILES", "tokenizer_files", "safetensors_whole", "require_tokenizer", "names_folder"]

# Everything a transformers or diffusers audio checkpoint needs (subfolders included), and no pickles
# (.bin/.pt/.ckpt/.pth/.th are skipped).
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.npy", "*.npz", "*.yaml"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*(@[A-Za-z0-9_.\-/]+)?$")


class CheckpointError(NodeflowError):
    """A checkpoint is missing, unreadable or not in a format AudioChain loads."""


class NotDownloaded(CheckpointError):
    """A hub checkpoint that is not in the cache, or only partly (``audiochain models pull`` fetches it)."""


class DownloadFailed(CheckpointError):
    """A hub checkpoint that could not be downloaded (no network, no access, no such repository)."""


class WrongModelError(CheckpointError, ParameterError):
    """The checkpoint parameter names a model of another family than the node runs."""


MODEL_PACKAGES = ("huggingface_hub", "torch", "transformers")   # what the 'models' extra installs


def missing_model_packages(names: tuple[str, ...] = MODEL_PACKAGES) -> list[str]:
    """Which of the packages model nodes need are not installed (checked without importing them)."""
    import importlib.util
    out = []
    for n in names:
        if n in sys.modules:
            if sys.modules[n] is None:      # blocked on purpose
                out.append(n)
        elif importlib.util.find_spec(n) is None:
            out.append(n)
    return out


def require_model_packages(names: tuple[str, ...] = MODEL_PACKAGES, extra: str = "models") -> None:
    """One clear error when the packages of the pip extra ``extra`` are not installed (a core
    install, e.g. after ``make demo``)."""
    missing = missing_model_packages(names)
    if missing:
        raise CheckpointError(f"model nodes need the '{extra}' extra ({', '.join(missing)} not installed here): "
                              f"{install_hint(extra)}")


@dataclasses.dataclass(frozen=True)
class Resolved:
    name: str         # as the user wrote it
    path: Path        # local folder holding the configuration and the weights
    revision: str     # hub commit hash, or "local-<digest>"
    source: str       # "hub" | "local"


# ---------------------------------------------------------------------------------------- environment
def hub_cache_dir() -> Path:
    """The hub cache folder huggingface_hub itself uses, read from the environment at call time so
    that `models list`, the errors and the downloads name one folder.  The order mirrors
    ``huggingface_hub.constants`` (HF_HUB_CACHE, the older HUGGINGFACE_HUB_CACHE, HF_HOME/hub,
    $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub) without importing huggingface_hub,
    which the CLI must start without."""
    env = os.environ.get
    hub = env("HF_HUB_CACHE") or env("HUGGINGFACE_HUB_CACHE")
    if not hub:
        home = env("HF_HOME") or os.path.join(env("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface")
        hub = os.path.join(home, "hub")
    return Path(os.path.expandvars(os.path.expanduser(hub))).expanduser()


def offline() -> bool:
    """Whether HF_HUB_OFFLINE forbids downloads (read at call time)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _split(name: str) -> tuple[str, str | None]:
    repo, _, rev = name.partition("@")
    return repo, (rev or None)


def _missing_message(name: str, cache: Path, why: str) -> str:
    return (f"checkpoint '{name}' is not in the Hugging Face cache ({cache}) and {why}; on a machine with "
            f"internet run `audiochain models pull {name}` (and copy that cache here), or give a local folder")


# ---------------------------------------------------------------------------------------- resolution
def names_folder(name: str, base_dir: Path | None = None) -> bool:
    """Whether a checkpoint value names a folder on this machine, there or not, rather than a hub id:
    the rule :func:`resolve` reads it by (the editor shows a folder by its name, and marks only hub ids
    as not downloaded).

    >>> names_folder("/models/mine"), names_folder("./mine"), names_folder("org/model-name")
    (True, True, False)
    """
    try:
        return _local_candidate(name, base_dir) is not None
    except CheckpointError:
        return True                 # a path, only not there


def _local_candidate(name: str, base_dir: Path | None, example: str = "org/model") -> Path | None:
    """The folder ``name`` names, None for a hub id; a path that is neither is an error."""
    p = Path(name).expanduser()
    if not p.is_absolute() and base_dir is not None and (base_dir / p).is_dir():
        return base_dir / p
    if p.is_dir():
        return p
    where = Path(os.path.normpath(p if p.is_absolute() or base_dir is None else base_dir / p))
    if _HUB_ID.match(name):
        parent = where.parent
        if not (parent.name == p.parts[0] and parent.is_dir()):
            return None             # 'models/mine' where the graph has a models folder: a folder meant
        raise CheckpointError(f"checkpoint '{name}': no folder {where} (the folder {parent} is there, so this "
                              f"names a local folder, not a hub id); check the folder's name")
    from .bundle import is_extracted
    if base_dir is not None and is_extracted(base_dir):    # (QA: it named the run's private temp folder)
        raise CheckpointError(f"checkpoint '{name}': no folder {where} (a bundle carries audio and adapters, not "
                              "model weights: put the model folder there, beside the bundle, or set the checkpoint "
                              "to where it is, e.g. with --set)")
    raise CheckpointError(f"checkpoint '{name}': no folder {where}, and not a hub id like '{example}'")



def _cached_snapshot(repo: str, rev: str | None, cache: Path) -> Path | None:
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    ref = rev or "main"
    commit = None
    ref_file = repo_dir / "refs" / ref
    if ref_file.is_file():
        commit = ref_file.read_text().strip()
    elif re.fullmatch(r"[0-9a-f]{40}", ref):
        commit = ref
    if commit is None:
        return None
    snap = repo_dir / "snapshots" / commit
    return snap if snap.is_dir() and any(snap.iterdir()) else None


def _unfinished(snap: Path) -> list[str]:
    """What a cached hub snapshot lacks (empty: complete, as far as the cache can tell): weight shards
    a ``*.safetensors.index.json`` names that are not there, files whose blob is gone, and the
    weights themselves when only configurations arrived (a download stopped by the user, a lost
    connection or a full disk leaves exactly that: huggingface_hub links a file into the snapshot
    only once it is whole).  One walk over the snapshot: every cached hub checkpoint a run resolves
    passes here."""
    gaps: list[str] = []
    indexes: list[Path] = []
    weights = configs = pickles = False
    for p in snap.rglob("*"):
        if p.is_symlink() and not p.exists():
            gaps.append(str(p.relative_to(snap)))
        elif p.name.endswith(".safetensors.index.json"):
            indexes.append(p)
        weights = weights or p.suffix == ".safetensors"
        configs = configs or p.suffix == ".json"
        pickles = pickles or p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".th")
    gaps.sort()
    for index in sorted(indexes):
        weight_map = (_read_json(index).get("weight_map") or {}).values()
        gaps += sorted({str((index.parent / f).relative_to(snap)) for f in weight_map
                        if isinstance(f, str) and not (index.parent / f).is_file()})
    if not gaps and not weights and configs and not pickles:
        gaps.append("the .safetensors weights")
    return gaps


def resolve(name: str, *, base_dir: str | os.PathLike[str] | None = None, download: bool | None = None,
            cache_dir: str | os.PathLike[str] | None = None, family: Any = None, who: str = "this node") -> Resolved:
    """The local folder and revision of checkpoint ``name`` (hub id, ``id@revision`` or folder).

    A cached hub checkpoint resolves without the network.  A missing one is downloaded when
    ``download`` is true, or when it is ``None`` and ``HF_HUB_OFFLINE`` is not set; otherwise (or
    when the download fails) :class:`CheckpointError` names the checkpoint and
    ``audiochain models pull NAME``.  With ``family`` (a registered model family) the folder must
    be one of its checkpoints (its layout and model type; ``who`` names the node that needs it),
    and messages give the family's ``example`` checkpoint.
    """
    name = str(name).strip()
    example = getattr(family, "example", "") or "org/model"
    if not name:
        raise CheckpointError(f"checkpoint is empty; give a hub id like '{example}' or a local folder")
    local = _local_candidate(name, Path(base_dir) if base_dir else None, example)
    if local is not None:           # named by where it is (QA61 D8: by a path relative to the graph's folder,
        if base_dir is not None and not Path(name).expanduser().is_absolute():    # from wherever the user ran)
            name = os.path.normpath(local)
        _check_folder(name, local, family, who)
        return Resolved(name, local.resolve(), folder_digest(local), "local")
    repo, rev = _split(name)
    cache = Path(cache_dir) if cache_dir else hub_cache_dir()
    snap = _cached_snapshot(repo, rev, cache)
    gaps = _unfinished(snap) if snap is not None else []
    if snap is None or gaps:
        if download is None:
            download = not offline()
        if not download:
            why = "downloads are off (HF_HUB_OFFLINE=1)" if offline() else "downloading was not allowed here"
            if gaps:
                raise NotDownloaded(f"checkpoint '{name}' is only partly downloaded (missing {', '.join(gaps[:3])}"
                                    f"{' ...' if len(gaps) > 3 else ''}: an interrupted download?); {why}; run "
                                    f"`audiochain models pull {name}` to finish it")
            raise NotDownloaded(_missing_message(name, cache, why))
        snap = _download(name, repo, rev, cache, progress=False)
    _check_folder(name, snap, family, who, local=False)
    return Resolved(name, snap, snap.name, "hub")


def _download(name: str, repo: str, rev: str | None, cache: Path, progress: bool, pulling: bool = False,
              tqdm_class: Any = None, on_size: Callable[[int, int], None] | None = None) -> Path:
    require_model_packages(("huggingface_hub",))
    import huggingface_hub
    from huggingface_hub.hf_api import RepoFile
    from huggingface_hub.utils import (  # type: ignore[attr-defined]  # re-exported lazily, not explicitly
        disable_progress_bars, enable_progress_bars)
    if not progress:
        disable_progress_bars()
    from .hubnet import check_resolves, hub_host, no_connection
    try:
        check_resolves()                 # no network: said now, not after huggingface_hub's retries (23 s)
        listing = [f for f in huggingface_hub.list_repo_tree(repo, revision=rev, recursive=True)
                   if isinstance(f, RepoFile)]
        patterns = _patterns(huggingface_hub, repo, rev, cache, [f.path for f in listing])
        if on_size is not None:
            on_size(*_to_fetch(listing, patterns, cache, repo))
        path = huggingface_hub.snapshot_download(repo, revision=rev, cache_dir=str(cache), allow_patterns=patterns,
                                                 **({"tqdm_class": tqdm_class} if tqdm_class is not None else {}))
    except Exception as e:  # network, auth, unknown repo: one message naming the checkpoint
        offline = no_connection(e)
        if offline is not None:
            raise DownloadFailed(f"checkpoint '{name}' could not be downloaded: no connection to {hub_host()} "
                                 f"({offline}); connect and run again" + _pull_hint(name, pulling)) from e
        raise DownloadFailed(f"checkpoint '{name}' could not be downloaded ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}); check the name and the connection"
                             + _pull_hint(name, pulling)) from e
    finally:
        if not progress:
            enable_progress_bars()
    return Path(path)


def _pull_hint(name: str, pulling: bool) -> str:
    """The end of a failed download's message: the pull command, unless it is `models pull` failing."""
    return "" if pulling else f", or run `audiochain models pull {name}` on a machine with internet"


def _patterns(hub: Any, repo: str, rev: str | None, cache: Path, files: list[str]) -> list[str]:
    """What to fetch of ``repo`` (whose ``files`` are listed): :data:`ALLOW_PATTERNS`, or for a pipeline
    (diffusers layout, a top-level ``model_index.json``) only the index and the subfolders it names: such
    repos often carry other copies of the weights beside them (a single-file checkpoint of several GB)."""
    if "model_index.json" not in files:
        return ALLOW_PATTERNS
    index = json.loads(Path(hub.hf_hub_download(repo, "model_index.json", revision=rev,
                                                cache_dir=str(cache))).read_text(encoding="utf-8"))
    parts = sorted(k for k, v in index.items() if not k.startswith("_") and isinstance(v, list))
    return ["model_index.json"] + [f"{part}/{p}" for part in parts for p in ALLOW_PATTERNS]


def _to_fetch(listing: list[Any], patterns: list[str], cache: Path, repo: str) -> tuple[int, int]:
    """``(bytes, files)`` a download of ``patterns`` brings: the bytes of the matching files whose blob
    the cache does not hold yet, and how many files match.  Known from the listing before the first
    byte, so a progress bar's total does not grow as each file starts (the editor showed "100% of
    10.4 KiB" while only the small files had started)."""
    from huggingface_hub.file_download import repo_folder_name
    from huggingface_hub.utils import filter_repo_objects  # type: ignore[attr-defined]  # re-exported lazily
    blobs = cache / repo_folder_name(repo_id=repo, repo_type="model") / "blobs"
    wanted = list(filter_repo_objects(listing, allow_patterns=patterns, key=lambda f: f.path))
    missing = (f.size for f in wanted if not (blobs / (f.lfs.sha256 if f.lfs is not None else f.blob_id)).is_file())
    return sum(missing), len(wanted)


def fingerprint(name: str, base_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """What identifies ``name``'s weights, for cache keys; never raises and never downloads
    (a missing checkpoint fingerprints as ``missing`` and fails with its message when run)."""
    try:
        r = resolve(name, base_dir=base_dir, download=False)
        # a local folder by its name and digest, as the README says: the path as typed is relative to the
        # graph's folder and meant nothing in a file's tags elsewhere (QA: a render's iXML said '../ckpt/<folder>')
        return {"checkpoint": r.path.name if r.source == "local" else name, "revision": r.revision}
    except Exception as e:  # noqa: BLE001 - reported when the node runs
        return {"checkpoint": name, "revision": f"unresolved:{type(e).__name__}"}


# ---------------------------------------------------------------------------------------- profiles
def profile_from_config(config: dict[str, Any], generation: dict[str, Any] | None = None,
                        name: str | None = None) -> ModelProfile | None:
    """The time base of a checkpoint from its configuration, read by the registered model family
    that accepts it (:func:`nodeflow.families.profile_from_config`); None when none does."""
    from . import families
    return families.profile_from_config(config, generation, name)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------------------------- cache management
def _scan(cache: Path) -> HFCacheInfo | None:
    require_model_packages(("huggingface_hub",))
    import huggingface_hub
    if not cache.is_dir():
        return None
    return huggingface_hub.scan_cache_dir(cache)


def list_cached(cache_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Cached model repos: id, size, revisions (commit hashes with their refs, and whether a
    download of it stopped half way) and model type."""
    cache = Path(cache_dir) if cache_dir else hub_cache_dir()
    scanned = _scan(cache)
    out = []
    for repo in sorted(scanned.repos if scanned else (), key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        revs = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
        kind = _model_type(revs[0].snapshot_path) if revs else "?"
        out.append({"name": repo.repo_id, "bytes": repo.size_on_disk, "model_type": kind,
                    "revisions": [{"commit": r.commit_hash, "refs": sorted(r.refs),
                                   "partial": bool(_unfinished(Path(r.snapshot_path)))} for r in revs]})
    return out


def pull(name: str, *, cache_dir: str | os.PathLike[str] | None = None, progress: bool = True,
         tqdm_class: Any = None, on_size: Callable[[int, int], None] | None = None) -> Resolved:
    """Download (or update) hub checkpoint ``name`` into the cache, safetensors and configs only;
    ``tqdm_class`` (huggingface_hub's ``snapshot_download`` hook) receives the progress instead of
    the terminal's bars, and ``on_size`` the bytes left to fetch and the files, once listed (the
    editor's download button)."""
    repo, rev = _split(name)
    if not _HUB_ID.match(name):
        raise CheckpointError(f"'{name}' is not a hub id like 'org/model'")
    if offline():
        raise CheckpointError(f"cannot pull '{name}': HF_HUB_OFFLINE=1 is set; unset it on a machine with internet")
    cache = Path(cache_dir) if cache_dir else hub_cache_dir()
    snap = _download(name, repo, rev, cache, progress=progress, pulling=True, tqdm_class=tqdm_class,
                     on_size=on_size)
    _check_folder(name, snap)
    return Resolved(name, snap, snap.name, "hub")


def remove(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Delete every cached revision of ``name``; returns the bytes freed."""
    repo_id, _ = _split(name)
    cache = Path(cache_dir) if cache_dir else hub_cache_dir()
    scanned = _scan(cache)
    repos = scanned.repos if scanned else ()
    repo = next((r for r in repos if r.repo_id == repo_id and r.repo_type == "model"), None)
    if repo is None or scanned is None:
        raise CheckpointError(f"checkpoint '{repo_id}' is not in the cache ({cache}); see `audiochain models list`")
    strategy = scanned.delete_revisions(*[r.commit_hash for r in repo.revisions])
    freed = strategy.expected_freed_size
    strategy.execute()
    return freed


def _model_type(path: Path) -> str:
    """The checkpoint's model type, or for a layout of a family's own (no configuration) that family's name."""
    from . import families
    cfg = families.read_config(path)
    if cfg is None:
        fam = families.for_folder(path)
        return fam.name if fam is not None else "?"
    return str(cfg.get("model_type") or cfg.get("_class_name") or "?")


def info(name: str, *, base_dir: str | os.PathLike[str] | None = None,
         cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What a checkpoint is: where, which revision, size, model type, the registered family that
    runs it, its time base and what else the family describes (e.g. voice presets)."""
    from . import families
    r = resolve(name, base_dir=base_dir, download=False, cache_dir=cache_dir)
    files = sorted(p for p in r.path.rglob("*") if p.is_file())
    out: dict[str, Any] = {"name": name, "path": str(r.path), "revision": r.revision, "source": r.source,
                           "bytes": sum(p.stat().st_size for p in files), "files": len(files),
                           "model_type": _model_type(r.path)}
    found = families.all_for_folder(r.path)
    fam = found[0] if found else None
    out["family"] = fam.name if fam is not None else "? (no installed model family runs it)"
    if len(found) > 1:          # (QA57: a plug-in's family took the built-in one's checkpoints, unsaid)
        out["also_run_by"] = [f.name for f in found[1:]]
    cfg = families.read_config(r.path)
    prof = fam.profile_of(cfg, _read_json(r.path / "generation_config.json")) if fam is not None and cfg else None
    if prof is not None:
        out.update(sample_rate=prof.sample_rate, tokens_per_s=float(prof.frame_rate), window_s=float(prof.window_s),
                   channels=prof.channels)
    if fam is not None and getattr(fam, "describe", None) is not None:
        out.update(fam.describe(r.path))
    return out
