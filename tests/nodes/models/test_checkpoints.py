"""Checkpoints: the hub cache laid out as huggingface_hub does, offline resolution, the missing-checkpoint
message, `audiochain models list|info|rm`, safetensors only, and the revision in cache keys and files."""
from __future__ import annotations

import json
import shutil

import pytest

import tiny_models
from nodeflow import Executor, Graph, audiometa, checkpoints, cli
from nodeflow.errors import ExecutionError, GraphError
from nodeflow.timebase import PROFILES
from nodes.models.layer import family

from .helpers import model_graph, run_graph

REPO = "facebook/musicgen-small"
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


@pytest.fixture()
def cached_small(tiny, hub_cache):
    """The tiny 1 s-window MusicGen installed in the hub cache as facebook/musicgen-small."""
    tiny_models.install_in_hub_cache(tiny["musicgen_short"], hub_cache, REPO, COMMIT_A)
    return hub_cache


def test_hub_id_resolves_offline_to_the_cached_snapshot(cached_small):
    r = checkpoints.resolve(REPO)
    assert (r.source, r.revision) == ("hub", COMMIT_A)
    assert r.path == cached_small / "models--facebook--musicgen-small" / "snapshots" / COMMIT_A
    assert checkpoints.resolve(f"{REPO}@{COMMIT_A}").path == r.path


def test_missing_checkpoint_names_it_and_the_pull_command_offline(hub_cache, tmp_path):
    g = Graph()
    g.add("models.musicgen", id="music", checkpoint="facebook/musicgen-medium", duration_s=1.0)
    problems = g.problems()
    assert len(problems) == 1
    msg = problems[0]
    assert "node 'music'" in msg and "'facebook/musicgen-medium'" in msg
    assert "`audiochain models pull facebook/musicgen-medium`" in msg and "HF_HUB_OFFLINE=1" in msg
    with pytest.raises(GraphError) as e:               # nothing runs: one message before any work
        Executor().run(g)
    assert "audiochain models pull facebook/musicgen-medium" in str(e.value)


@pytest.mark.parametrize("cut", ["weights never arrived", "blob gone", "shard missing"])
def test_a_partly_downloaded_checkpoint_is_not_taken_for_a_whole_one(cached_small, cut, capsys, monkeypatch):
    """A download stopped half way (Cancel in the editor, Ctrl+C, a lost connection) leaves the files
    that finished linked into the snapshot; that snapshot is not a checkpoint: offline it is one
    line naming what is missing and the pull command that finishes it; the graph is refused."""
    snap = cached_small / "models--facebook--musicgen-small" / "snapshots" / COMMIT_A
    weights = snap / "model.safetensors"
    if cut == "weights never arrived":
        weights.unlink()
    elif cut == "blob gone":
        (weights.parent / weights.readlink()).unlink()          # the link stays, its blob does not
    else:                                                        # sharded weights: one shard of two here
        weights.rename(snap / "model-00001-of-00002.safetensors")
        (snap / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": {
            "a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}}))
    with pytest.raises(checkpoints.CheckpointError) as e:
        checkpoints.resolve(REPO)
    msg = str(e.value)
    assert "'facebook/musicgen-small' is only partly downloaded" in msg and "\n" not in msg
    assert {"weights never arrived": "the .safetensors weights", "blob gone": "model.safetensors",
            "shard missing": "model-00002-of-00002.safetensors"}[cut] in msg
    assert msg.endswith("run `audiochain models pull facebook/musicgen-small` to finish it")
    g = Graph()
    g.add("models.musicgen", id="music", checkpoint=REPO, duration_s=1.0)
    assert any("only partly downloaded" in p and "node 'music'" in p for p in g.problems())
    assert cli.main(["models", "info", REPO]) == 1
    assert "only partly downloaded" in capsys.readouterr().err
    from nodeflow.editor.downloads import missing_checkpoint
    spec = g.registry["models.musicgen"]
    assert missing_checkpoint(spec, g.nodes["music"].params, None) == REPO      # the editor offers Download
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert g.problems() == []                 # online, validation lets it through: the run fetches the rest
    if cut != "blob gone":        # huggingface_hub's cache scan skips a repo with a dangling link
        assert cli.main(["models", "list"]) == 0
        assert "aaaaaaaaaa (main) partly downloaded: pull again" in capsys.readouterr().out


def test_online_a_missing_checkpoint_is_fetched_when_run_and_a_failed_fetch_says_how(hub_cache, monkeypatch):
    """Without HF_HUB_OFFLINE validation passes (it would download); a download that fails is one
    error naming the checkpoint and the pull command.  huggingface_hub itself is kept offline (its
    own switch), so the attempt fails at once without touching the network."""
    import huggingface_hub.constants
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    g = Graph()
    g.add("models.musicgen", id="music", checkpoint="facebook/musicgen-medium", duration_s=1.0)
    assert g.problems() == []
    with pytest.raises(ExecutionError) as e:
        Executor().run(g)
    msg = str(e.value)
    assert "node 'music'" in msg and "could not be downloaded" in msg
    assert "audiochain models pull facebook/musicgen-medium" in msg


def test_with_no_network_a_download_says_so_at_once_without_the_hub_library_s_retries(hub_cache, monkeypatch):
    """QA: with no network a download said "no connection" after 25 s (huggingface_hub's five retries
    and their back-off), and a run then waited as long again.  A host name that does not resolve (for
    real: the .invalid domain never does) now fails before huggingface_hub is asked at all."""
    import huggingface_hub
    import huggingface_hub.constants
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://huggingface.invalid")
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    asked = []
    monkeypatch.setattr(huggingface_hub, "list_repo_tree", lambda *a, **k: asked.append("list") or [])
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: asked.append("snapshot"))
    with pytest.raises(checkpoints.DownloadFailed) as e:
        checkpoints.resolve("facebook/musicgen-medium")
    assert asked == []
    assert str(e.value).startswith("checkpoint 'facebook/musicgen-medium' could not be downloaded: no connection "
                                   "to huggingface.invalid (") and "; connect and run again, or run `audiochain " \
        "models pull facebook/musicgen-medium` on a machine with internet" in str(e.value)


def test_models_list_info_rm_on_a_hub_cache(cached_small, tiny, capsys):
    tiny_models.install_in_hub_cache(tiny["bark"], cached_small, "suno/bark-small", COMMIT_B)
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == [REPO, "suno/bark-small"]
    assert "musicgen" in out[0] and COMMIT_A[:10] in out[0] and "(main)" in out[0]

    assert cli.main(["models", "info", REPO, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["revision"] == COMMIT_A and info["model_type"] == "musicgen"
    assert (info["sample_rate"], info["tokens_per_s"], info["window_s"], info["channels"]) == (32000, 50.0, 1.0, 1)
    assert cli.main(["models", "info", "suno/bark-small"]) == 0
    assert "v2/en_speaker_0, v2/en_speaker_1" in capsys.readouterr().out

    assert cli.main(["models", "rm", REPO]) == 0
    assert "removed facebook/musicgen-small" in capsys.readouterr().out
    assert not (cached_small / "models--facebook--musicgen-small" / "snapshots").exists() or \
        not any((cached_small / "models--facebook--musicgen-small" / "snapshots").iterdir())
    assert [r["name"] for r in checkpoints.list_cached()] == ["suno/bark-small"]
    assert cli.main(["models", "rm", REPO]) == 1
    assert capsys.readouterr().err.startswith("error: checkpoint 'facebook/musicgen-small' is not in the cache")


def test_the_hub_cache_is_the_folder_huggingface_hub_uses_under_xdg_cache_home(tiny, tmp_path, capsys, monkeypatch):
    """QA73 D4: with only XDG_CACHE_HOME set, huggingface_hub keeps checkpoints in
    $XDG_CACHE_HOME/huggingface/hub, but `models list` looked in ~/.cache/huggingface/hub."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    hub = tmp_path / "xdg" / "huggingface" / "hub"
    assert cli.main(["models", "list"]) == 0
    assert capsys.readouterr().out == f"no checkpoints cached in {hub}\n"
    tiny_models.install_in_hub_cache(tiny["musicgen_short"], hub, REPO, COMMIT_A)
    assert cli.main(["models", "list"]) == 0
    assert capsys.readouterr().out.split()[0] == REPO


def test_models_pull_offline_is_one_clear_error(hub_cache, capsys):
    assert cli.main(["models", "pull", REPO]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: cannot pull 'facebook/musicgen-small'")
    assert "HF_HUB_OFFLINE" in err


def test_a_failed_pull_does_not_tell_the_user_to_run_pull(hub_cache, capsys, monkeypatch):
    import huggingface_hub.constants
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)   # fails at once, no network
    assert cli.main(["models", "pull", "facebook/musicgen-medium"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint 'facebook/musicgen-medium' could not be downloaded" in err
    assert err.rstrip().endswith("check the name and the connection") and "models pull" not in err


@pytest.mark.parametrize("files,want", [
    (["config.json", "model.safetensors", "generation_config.json"], checkpoints.ALLOW_PATTERNS),
    (["model_index.json", "model.safetensors", "model.ckpt", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
      "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json"],
     ["model_index.json"] + [f"{d}/{p}" for d in ("scheduler", "transformer", "vae") for p in checkpoints.ALLOW_PATTERNS]),
])
def test_a_pipeline_repo_fetches_only_the_folders_its_index_names(tmp_path, monkeypatch, files, want):
    """A diffusers repo (model_index.json) often holds a single-file copy of the weights beside its
    folders (several GB): pull fetches the index and the folders it names, nothing at the top."""
    import fnmatch

    import huggingface_hub
    index = tmp_path / "model_index.json"
    index.write_text(json.dumps({"_class_name": "StableAudioPipeline", "_diffusers_version": "0.42.1",
                                 "vae": ["diffusers", "AutoencoderOobleck"], "transformer": ["diffusers", "X"],
                                 "scheduler": ["diffusers", "Y"]}))
    asked = {}
    from huggingface_hub.hf_api import RepoFile
    listing = [RepoFile(path=f, size=1, oid="0") for f in files]
    monkeypatch.setattr(huggingface_hub, "list_repo_tree", lambda repo, revision=None, recursive=False: listing)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo, name, revision=None, cache_dir=None: str(index))

    def snapshot(repo, revision=None, cache_dir=None, allow_patterns=None):
        asked["patterns"] = allow_patterns
        return str(tmp_path)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    monkeypatch.setattr("nodeflow.hubnet.check_resolves", lambda: None)     # the hub is this test's
    checkpoints._download("org/pipe", "org/pipe", None, tmp_path, progress=False)
    assert asked["patterns"] == want
    fetched = [f for f in files if any(fnmatch.fnmatch(f, p) for p in want)]
    assert ("model.safetensors" in fetched) == ("model_index.json" not in files)


def test_info_of_a_missing_checkpoint_says_how_to_get_it(hub_cache, capsys):
    assert cli.main(["models", "info", "suno/bark"]) == 1
    assert "audiochain models pull suno/bark" in capsys.readouterr().err


def test_pickle_only_checkpoints_are_refused(tiny, tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    shutil.copy(tiny["musicgen_short"] / "config.json", folder / "config.json")
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(checkpoints.CheckpointError, match="no .safetensors weights \\(found pytorch_model.bin\\)"):
        checkpoints.resolve(str(folder))
    with pytest.raises(checkpoints.CheckpointError, match="not a hub id"):
        checkpoints.resolve(str(tmp_path / "nowhere"))


def test_relative_folder_resolves_against_the_graph_folder(tiny, tmp_path):
    shutil.copytree(tiny["musicgen_short"], tmp_path / "models" / "mine")
    r = checkpoints.resolve("models/mine", base_dir=tmp_path)
    assert r.source == "local" and r.path == (tmp_path / "models" / "mine").resolve()


def test_a_missing_folder_beside_the_graph_is_not_taken_for_a_hub_id(tmp_path, monkeypatch):
    # 'models/mine' reads like 'org/name'; with a models folder beside the graph it means that folder.
    # It was taken for a hub id: 'not downloaded', and a download of a repo that does not exist.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "models").mkdir()
    with pytest.raises(checkpoints.CheckpointError) as e:
        checkpoints.resolve("models/mine", base_dir=tmp_path)
    assert not isinstance(e.value, checkpoints.NotDownloaded)
    assert str(e.value) == (f"checkpoint 'models/mine': no folder {tmp_path / 'models' / 'mine'} (the folder "
                            f"{tmp_path / 'models'} is there, so this names a local folder, not a hub id); "
                            "check the folder's name")
    with pytest.raises(checkpoints.NotDownloaded):        # no such folder: a hub id as before
        checkpoints.resolve("facebook/musicgen-small", base_dir=tmp_path, cache_dir=tmp_path / "hub")


def test_revision_is_in_the_cache_key_and_in_exported_files(tiny, cached_small, tmp_path):
    g = Graph()
    m = g.add("models.musicgen", id="model", checkpoint=REPO, duration_s=0.5, seed=1)
    e = g.add("io.export", id="export", path=str(tmp_path / "take.flac"))
    g.connect(m.out, e.audio)
    ex = Executor()
    key_a = ex.keys(g)["model"]
    out, res = run_graph(g, executor=ex)
    tags = audiometa.read_tags(res["export"]["out"])
    assert tags["checkpoint"] == REPO and tags["revision"] == COMMIT_A
    # the hub moves main to another commit: a new key, so the old output is not served from the cache
    tiny_models.install_in_hub_cache(tiny["musicgen_short"], cached_small, REPO, COMMIT_B)
    key_b = ex.keys(g)["model"]
    assert key_b != key_a
    _, res2 = run_graph(g, executor=ex)
    assert "model" in res2.ran
    assert audiometa.read_tags(res2["export"]["out"])["revision"] == COMMIT_B
    g.set("model", "checkpoint", f"{REPO}@{COMMIT_A}")            # pinning a revision: that one again
    assert ex.keys(g)["model"] != key_b


def test_profiles_read_from_checkpoints_match_the_shared_time_base(tiny):
    """tokenize-window's profiles and the model nodes' timing agree for the real architectures."""
    import transformers
    mg = transformers.MusicgenForConditionalGeneration.from_pretrained(str(tiny["musicgen"]))
    bark = transformers.BarkModel.from_pretrained(str(tiny["bark"]))
    for model, name in ((mg, "musicgen"), (bark, "bark")):
        got, want = family(name).loaded_profile(model), PROFILES[name]
        assert (got.sample_rate, got.frame_rate, got.window_tokens, got.delay_tokens) == \
            (want.sample_rate, want.frame_rate, want.window_tokens, want.delay_tokens)


def test_a_core_install_without_the_models_extra_says_which_extra_to_install(cached_small, tmp_path, capsys, monkeypatch):
    """`make demo` installs the core only: `models list` was a traceback, a model graph validated 'ok'
    and failed with 'ModuleNotFoundError'.  Blocked imports stand in for the packages not installed."""
    monkeypatch.setitem(__import__("sys").modules, "huggingface_hub", None)
    assert cli.main(["models", "list"]) == 1
    err = capsys.readouterr().err
    assert err == ("error: model nodes need the 'models' extra (huggingface_hub not installed here): "
                   "pip install -e '.[models]' (run in the AudioChain folder)\n")     # QA73 D12: one form of hint
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    g = Graph()
    g.add("models.musicgen", id="music", checkpoint=REPO, duration_s=1.0)
    problems = g.problems()
    assert len(problems) == 1 and "'models' extra (huggingface_hub, torch not installed here)" in problems[0]
    with pytest.raises(GraphError, match="pip install -e '.\\[models\\]'"):
        Executor().run(g)


def _damaged(tiny, tmp_path, kind: str):
    folder = tmp_path / kind
    shutil.copytree(tiny["musicgen_short"], folder)
    weights = folder / "model.safetensors"
    if kind == "no-tokenizer":
        for f in folder.glob("tokenizer*"):
            f.unlink()
    elif kind == "cut-short":
        data = weights.read_bytes()
        weights.write_bytes(data[:len(data) // 2])
    elif kind == "bad-json":
        (folder / "config.json").write_text('{"model_type": "musicgen", ')
    elif kind == "fifo-config":
        import os
        (folder / "config.json").unlink()
        os.mkfifo(folder / "config.json")
    elif kind == "device-weights":
        weights.unlink()
        weights.symlink_to("/dev/zero")
    elif kind == "missing-tensors":       # two of its tensors gone (QA93 D1: loaded, audio from untrained parts)
        from safetensors.torch import load_file, save_file
        tensors = load_file(str(weights))
        for name in sorted(tensors)[:2]:
            del tensors[name]
        save_file(tensors, str(weights), metadata={"format": "pt"})
    elif kind in ("mismatch", "bad-value"):
        config = json.loads((folder / "config.json").read_text())
        if kind == "mismatch":
            config["decoder"]["hidden_size"] *= 2
        else:
            config["decoder"]["hidden_size"] = "wide"
        (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("kind, said, before_the_run", [
    ("no-tokenizer", "has no tokenizer files (tokenizer.json, spiece.model, tokenizer.model, vocab.json...): its text "
                     "would be read as unknown words; copy them from the original checkpoint", True),
    ("cut-short", "model.safetensors is truncated or damaged (its size does not match its header); copy it again "
                  "from where it came", True),
    ("bad-json", "config.json is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 28 "
                 "(char 27)); restore the checkpoint's own config.json, or copy it again from where it came", True),
    ("mismatch", "its config.json does not match its weights (tensor shapes differ); restore the checkpoint's own "
                 "config.json, or get the checkpoint again", False),
    ("fifo-config", "has a config.json that is not a regular file (a folder, FIFO, device or socket); restore the "
                    "checkpoint's own config.json", True),         # (QA49 D7: "has no config.json"; never read:
    ("device-weights", "model.safetensors is not a regular file (a folder, device, FIFO or socket); copy it again "
                       "from where it came", True),                # a FIFO would hang, /dev/zero never ends)
    ("missing-tensors", "; it would run with those untrained and make noise: get the checkpoint again, or use one "
                        "made for this model", False),
    ("bad-value", "its config.json has a value the model cannot take (TypeError: Field 'hidden_size' expected int, "
                  "got str (value: 'wide')); restore the checkpoint's own config.json, or get the checkpoint again",
     False),     # (QA49 D2: transformers' raw exception, a literal \n in it)
])
def test_a_damaged_checkpoint_is_one_line_naming_it_and_the_fix(tiny, tmp_path, capfd, kind, said, before_the_run):
    """QA: without tokenizer files MusicGen ran and rendered the same music for every prompt (each word
    read as <unk>); a weights file cut short, a config.json that is not JSON ("a None model") or that
    does not fit the weights (30 lines of transformers' report) were raw library errors at run time.
    validate finds the first three without loading anything."""
    folder = _damaged(tiny, tmp_path, kind)
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(folder), duration_s=0.2)
    capfd.readouterr()
    problems = g.problems()
    assert bool(problems) == before_the_run and (not problems or problems[0].endswith(said)), problems
    with pytest.raises((ExecutionError, GraphError)) as e:
        Executor(disk_cache=None).run(g)
    assert str(e.value).endswith(said) and f"'{folder}'" in str(e.value)
    if kind == "missing-tensors":      # how many, and one by name
        assert f"'{folder}': 2 of the weights a MusicgenForConditionalGeneration needs are not in it (e.g. " \
            in str(e.value), str(e.value)
    assert capfd.readouterr().err == ""        # no load report, warning or progress bar of transformers


def test_debug_shows_where_a_node_failed(tiny, tmp_path, capsys):
    """`run --debug` adds the traceback of a node's failure, the one line after it (QA49 D3: node
    failures came back already reported, and --debug added nothing)."""
    from nodeflow import cli, fileformat
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(_damaged(tiny, tmp_path, "bad-value")), duration_s=0.2)
    fileformat.save(g, tmp_path / "g.msgpack")
    for flags, traced in (([], False), (["--debug"], True)):
        capsys.readouterr()
        assert cli.main(["run", str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out"), "-q", *flags]) == 1
        err = capsys.readouterr().err
        assert ("Traceback (most recent call last)" in err) == traced
        assert ("StrictDataclassFieldValidationError" in err) == traced       # the library's own, with --debug
        # the checkpoint named where it is, not as the saved graph has it, relative to its folder (QA61 D8)
        assert [line for line in err.splitlines() if line.startswith("error: ")] == [
            f"error: node 'model': checkpoint '{tmp_path / 'bad-value'}': its config.json has a value the model cannot "
            "take (TypeError: Field 'hidden_size' expected int, got str (value: 'wide')); restore the checkpoint's own "
            "config.json, or get the checkpoint again"]


def test_weights_this_user_cannot_read_are_not_called_damaged(tiny, tmp_path, monkeypatch):
    """QA38: model.safetensors of mode 0600 owned by another user was 'truncated or damaged ... copy it
    again' (gigabytes downloaded again for a permission)."""
    import errno
    import os

    from nodeflow import safeio
    folder = tmp_path / "private"
    shutil.copytree(tiny["musicgen_short"], folder)
    weights = folder / "model.safetensors"
    weights.chmod(0)
    if os.geteuid() == 0:             # root reads any file: refuse it as the kernel would another user
        real = os.open

        def refused(path, *a, **kw):
            if os.fspath(path) == os.fspath(weights):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real(path, *a, **kw)
        monkeypatch.setattr(safeio.os, "open", refused)
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(folder), duration_s=0.2)
    problems = g.problems()
    assert len(problems) == 1 and problems[0].endswith(
        f"model.safetensors cannot be read by this user (permission denied); make it readable (chmod a+r {weights}) "
        "or ask its owner"), problems
    assert "damaged" not in problems[0]


def test_a_healthy_checkpoint_loads_without_a_word_from_transformers(tiny, tmp_path, capfd):
    """The real musicgen-small config made transformers print three 'may result in unexpected behavior'
    lines and a 'Loading weights' bar on every run."""
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=0.2)
    capfd.readouterr()
    Executor(disk_cache=None).run(g)
    assert capfd.readouterr().err == ""
