"""The on-disk value cache: entries survive a new process, corrupt or truncated entries are recomputed,
two processes share one folder safely, LRU eviction keeps the bound, `cache info|clear`, `--no-cache`."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Audio, FilePath, Graph, load, save
from nodeflow.cli import main
from nodeflow.diskcache import DiskCache, decode, encode, worth_keeping
from nodeflow.executor import Executor


from .stubs import CALLS, registry

REGISTRY = registry()

ROOT = Path(__file__).resolve().parents[2]
RATE = 22050


def tone(seconds=0.5, rate=RATE, channels=2, seed=0) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio(rng.uniform(-0.5, 0.5, (channels, round(seconds * rate))), rate, start_frame=7, index=2,
                 tokens=11, overlap_frames=3, info=(("bpm", "120"), ("title", "täst")), markers=((5, "seam 1"),),
                 edges="0f" * 12, exact_start=Fraction(22, 3 * rate),           # a third of a sample after frame 7,
                 exact_end=Fraction(3 * (7 + round(seconds * rate)) - 1, 3 * rate),  # a third before its end
                 marker_times=(Fraction(3 * 12 + 1, 3 * rate),))                    # marker 5: frame 12 and a third


def same_audio(a: Audio, b: Audio) -> bool:
    return (a == b and a.start_frame == b.start_frame and a.index == b.index and a.tokens == b.tokens
            and a.overlap_frames == b.overlap_frames and a.info == b.info and a.markers == b.markers
            and a.edges == b.edges and a.exact_start == b.exact_start and a.exact_end == b.exact_end
            and a.marker_times == b.marker_times)


# ---------------------------------------------------------------------------------------- format
def test_values_round_trip_through_an_entry():
    a, b = tone(seed=1), tone(0.1, 8000, 1, seed=2)
    outs = {"out": a, "parts": [a, b], "peak": 0.5, "n": 3, "ok": True, "none": None, "name": "x",
            "pair": (1.5, "s"), "nan": float("nan"), "arr": np.arange(6, dtype=np.int16).reshape(2, 3),
            "d": {"k": [1, 2]}}
    key = "ab" * 20
    back = decode(b"".join(bytes(c) for c in encode(key, outs, "test.x")), key)
    assert a.exact_start is not None and a.exact_end is not None and a.marker_times  # (kept: between samples)
    assert same_audio(back["out"], a) and same_audio(back["parts"][1], b) and len(back["parts"]) == 2
    assert back["peak"] == 0.5 and back["n"] == 3 and back["ok"] is True and back["none"] is None
    assert back["pair"] == (1.5, "s") and np.isnan(back["nan"]) and back["d"] == {"k": [1, 2]}
    assert back["arr"].dtype == np.int16 and back["arr"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_values_of_other_types_are_not_stored(tmp_path):
    dc = DiskCache(tmp_path, 1 << 30)
    assert dc.put("cd" * 20, {"out": object()}) is False
    assert dc.put("cd" * 20, {"out": Path("x")}) is False
    assert dc.info()["entries"] == 0


# ---------------------------------------------------------------------------------------- damage
@pytest.mark.parametrize("damage", ["flip_payload", "flip_header", "truncate", "empty"])
def test_a_damaged_entry_is_a_miss_removed_and_recomputed(tmp_path, damage, monkeypatch):
    dc = DiskCache(tmp_path / "values", 1 << 30)
    g = Graph(REGISTRY)
    g.add("test.tone", id="t", duration_s=0.5)
    g.add("test.gain", id="g", gain_db=-6.0)
    g.connect("t", "g")
    monkeypatch.setenv("AUDIOCHAIN_CACHE_MIN_S", "0")      # keep every value
    first = Executor(disk_cache=dc).run(g, keep="all")
    key = first.cache_keys["g"]
    p = dc.path(key)
    data = bytearray(p.read_bytes())
    if damage == "flip_payload":
        data[-100] ^= 0xFF
    elif damage == "flip_header":
        data[60] ^= 0x01
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray()
    p.write_bytes(bytes(data))
    CALLS.clear()
    second = Executor(disk_cache=dc).run(g)
    assert second.ran == {"g"} and second.cached == {"t"}
    assert CALLS["gain"] == 1 and dc.stats.corrupt == 1
    assert second["g"]["out"] == first["g"]["out"]
    assert decode(p.read_bytes(), key)["out"] == first["g"]["out"]     # replaced by a whole entry


# ---------------------------------------------------------------------------------------- policy
def test_policy_models_always_exports_never_fast_dsp_not(monkeypatch):
    monkeypatch.delenv("AUDIOCHAIN_CACHE_MIN_S", raising=False)
    spec = REGISTRY["test.gain"]
    assert not worth_keeping(spec, 0.001, 1 << 20)          # 1 ms for a MiB: reading back costs as much
    assert worth_keeping(spec, 2.0, 1 << 20)
    assert not worth_keeping(spec, 0.15, 100 << 20)         # 0.15 s for 100 MiB: not worth the disk
    model = type("S", (), {"side_effect": False, "persist": None, "category": "models"})
    export = type("S", (), {"side_effect": True, "persist": True, "category": "io"})
    never = type("S", (), {"side_effect": False, "persist": False, "category": "models"})
    assert worth_keeping(model, 0.0, 1 << 30) and not worth_keeping(export, 99.0, 1)
    assert not worth_keeping(never, 99.0, 1)
    # an hour's resample (1.2 GiB, 40 s on a busy machine): the next run streams it again in blocks,
    # where the entry read back would be held whole (QA: 1.4-3.8 GiB instead of 127 MiB, no faster)
    from nodeflow import default_registry
    resample = default_registry()["dsp.resample"]
    assert resample.stream is not None
    assert not worth_keeping(resample, 40.0, 1200 << 20) and worth_keeping(resample, 40.0, 100 << 20)


def test_fast_nodes_stay_in_memory_only(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIOCHAIN_CACHE_MIN_S", raising=False)
    dc = DiskCache(tmp_path, 1 << 30)
    g = Graph(REGISTRY)
    g.add("test.tone", id="t", duration_s=0.01)
    Executor(disk_cache=dc).run(g)
    assert dc.info()["entries"] == 0


# ---------------------------------------------------------------------------------------- eviction
def test_lru_eviction_keeps_the_folder_under_its_bound(tmp_path):
    one = tone(0.5, RATE, 2)                      # ~86 KiB per entry
    size = len(b"".join(bytes(c) for c in encode("00" * 20, {"out": one})))
    dc = DiskCache(tmp_path, budget_bytes=10 * size)
    keys = [f"{i:040x}" for i in range(30)]
    for i, k in enumerate(keys):
        assert dc.put(k, {"out": one})
        if i == 3:
            os.utime(dc.path(keys[0]), (1e9, 1e9))   # used long ago...
        if i >= 4:
            assert dc.get(keys[1]) is not None      # ...while keys[1] keeps being read
        assert dc.info()["bytes"] <= dc.budget_bytes
    assert dc.get(keys[0]) is None and dc.get(keys[1]) is not None and dc.get(keys[-1]) is not None
    assert dc.stats.evictions >= 20
    assert dc.put("ff" * 20, {"out": tone(6.0)}) is False      # alone larger than the bound


def test_the_folder_stays_under_its_bound_while_an_entry_is_written(tmp_path, monkeypatch):
    """QA71: a sweep's cache folder reached 293 MB under its 256 MiB bound: an entry was written first
    and older ones evicted afterwards.  Room is made before the write."""
    import contextlib
    from nodeflow import diskcache
    one = tone(0.5, RATE, 2)
    size = len(b"".join(bytes(c) for c in encode("00" * 20, {"out": one})))
    dc = DiskCache(tmp_path, budget_bytes=10 * size + size // 2)
    seen: list[int] = []
    real = diskcache.atomic_path

    @contextlib.contextmanager
    def watched(path):
        with real(path) as tmp:
            yield tmp
            seen.append(sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file()))   # written, not yet moved
    monkeypatch.setattr(diskcache, "atomic_path", watched)
    for i in range(30):
        assert dc.put(f"{i:040x}", {"out": one})
    assert len(seen) == 30 and max(seen) <= dc.budget_bytes, (max(seen), dc.budget_bytes)
    assert dc.get(f"{29:040x}") is not None


# ---------------------------------------------------------------------------------------- processes
WRITER = textwrap.dedent("""
    import sys, numpy as np
    from nodeflow import Audio
    from nodeflow.diskcache import DiskCache
    dc = DiskCache(sys.argv[1], budget_bytes=int(sys.argv[2]))
    bad = 0
    for round in range(15):
        for i in range(12):
            key = f"{i:040x}"
            want = Audio(np.full((2, 4000 + i), i / 100, np.float32), 8000, index=i)
            if (round + i) % 2:
                dc.put(key, {"out": want, "i": i})
            got = dc.get(key)
            if got is not None and not (got["out"] == want and got["i"] == i and got["out"].index == i):
                bad += 1
    print("bad", bad, "corrupt", dc.stats.corrupt, "hits", dc.stats.hits)
""")


def test_two_processes_share_one_folder_consistently(tmp_path):
    budget = 8 * 2 * 4100 * 4          # room for 8 of the 12 entries: both processes also evict
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(budget)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        words = out.split()
        assert words[1] == "0" and words[3] == "0", out       # every hit whole and right, nothing corrupt
        assert int(words[5]) > 0, out
    assert not [p for p in tmp_path.rglob(".*.tmp")]           # no temp file left behind
    assert DiskCache(tmp_path, budget).info()["bytes"] <= budget * 1.2


# ---------------------------------------------------------------------------------------- CLI
@pytest.fixture
def chain_file(tmp_path) -> Path:
    """load -> gain a -> gain b -> export."""
    t = np.arange(RATE) / RATE
    sf.write(tmp_path / "in.wav", 0.5 * np.sin(2 * np.pi * 440 * t), RATE, subtype="FLOAT")
    g = Graph()
    g.path = tmp_path / "song.msgpack"
    g.add("io.load", id="load", path="in.wav")
    g.add("dsp.gain", id="a", gain_db=-6.0)
    g.add("dsp.gain", id="b", gain_db=-1.0)
    g.add("io.export", id="export", path="take.wav", bit_depth="float32")
    g.connect("load", "a")
    g.connect("a", "b")
    g.connect("b", "export")
    return save(g, g.path)


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, AUDIOCHAIN_CACHE_MIN_S="0", **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", "import sys; from nodeflow.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_a_new_process_reruns_only_the_changed_node(chain_file, tmp_path):
    out = tmp_path / "o"
    first = _cli("run", str(chain_file), "-o", str(out))
    assert first.returncode == 0, first.stderr
    assert "ran 4 node(s), 0 from cache" in first.stderr
    second = _cli("run", str(chain_file), "-o", str(out), "--set", "b.gain_db=-3")
    assert second.returncode == 0, second.stderr
    assert "ran 2 node(s), 1 from cache" in second.stderr     # b and the export; a from disk
    assert "cached a" in second.stderr and "load" not in second.stderr      # a's input is not even looked up
    assert abs(20 * np.log10(np.abs(sf.read(out / "take.wav")[0]).max()) - (-6 - 3 - 6.02)) < 0.01
    no_cache = _cli("run", str(chain_file), "-o", str(out), "--set", "b.gain_db=-3", "--no-cache")
    assert no_cache.returncode == 0, no_cache.stderr
    assert "ran 4 node(s), 0 from cache" in no_cache.stderr
    off = _cli("run", str(chain_file), "-o", str(out), env_extra={"AUDIOCHAIN_CACHE": "off"})
    assert "ran 4 node(s), 0 from cache" in off.stderr


def test_the_graph_saved_into_another_folder_finds_its_results(chain_file, tmp_path):
    # Save as elsewhere rewrites the input's path ("in.wav" -> "../in.wav"): same file, same results
    out = tmp_path / "o"
    assert _cli("run", str(chain_file), "-o", str(out)).returncode == 0
    moved = save(load(chain_file), tmp_path / "elsewhere" / "song.msgpack")
    assert load(moved).nodes["load"].params["path"] == "../in.wav"
    again = _cli("run", str(moved), "-o", str(out), "--set", "b.gain_db=-3")
    assert again.returncode == 0, again.stderr
    assert "ran 2 node(s), 1 from cache" in again.stderr and "cached a" in again.stderr
    # another file under the old name is another input: everything after it runs again
    t = np.arange(RATE) / RATE
    sf.write(tmp_path / "in.wav", 0.25 * np.sin(2 * np.pi * 330 * t), RATE, subtype="FLOAT")
    changed = _cli("run", str(moved), "-o", str(out), "--set", "b.gain_db=-3")
    assert "ran 4 node(s), 0 from cache" in changed.stderr, changed.stderr


def test_cache_info_and_clear(chain_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUDIOCHAIN_CACHE_MIN_S", "0")
    folder = Path(os.environ["AUDIOCHAIN_CACHE_DIR"])
    assert main(["run", str(chain_file), "-o", str(tmp_path / "o"), "-q"]) == 0
    capsys.readouterr()
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert f"folder:  {folder}" in out and "entries: 3" in out and "of 10.00 GiB" in out
    sizes = sorted(p.stat().st_size for p in folder.rglob("*.acv"))
    monkeypatch.setenv("AUDIOCHAIN_CACHE_GB", str((sum(sizes) - 1) / 2**30))     # lowered below what it holds
    assert main(["cache", "info"]) == 0        # (QA48: it said "47.6 MiB of 10.2 MiB" and left it so)
    out = capsys.readouterr().out
    assert "trimmed: " in out and "least recently used" in out and "entries: 3" not in out
    assert sum(p.stat().st_size for p in folder.rglob("*.acv")) <= (sum(sizes) - 1)
    monkeypatch.delenv("AUDIOCHAIN_CACHE_GB")
    left = len(list(folder.rglob("*.acv")))
    assert main(["cache", "clear"]) == 0
    assert f"removed {left} entr" in capsys.readouterr().out
    assert main(["cache", "info"]) == 0
    assert "entries: 0" in capsys.readouterr().out and not list(folder.rglob("*.acv"))


def test_a_cache_clear_that_cannot_remove_entries_says_so(chain_file, tmp_path, capsys, monkeypatch):
    """QA38: run by a user who cannot write the folder (a shared cache), `cache clear` said "removed 0
    entries" and exited 0 while every entry stayed."""
    import errno
    monkeypatch.setenv("AUDIOCHAIN_CACHE_MIN_S", "0")
    assert main(["run", str(chain_file), "-o", str(tmp_path / "o"), "-q"]) == 0
    real_unlink = os.unlink

    def refused(p, *a, **kw):
        if str(p).endswith(".acv"):
            raise PermissionError(errno.EACCES, "Permission denied", str(p))
        return real_unlink(p, *a, **kw)
    monkeypatch.setattr(os, "unlink", refused)
    capsys.readouterr()
    assert main(["cache", "clear"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "could not clear" in err and "3 entries are left (0 removed)" in err
    assert "permission denied" in err and "AUDIOCHAIN_CACHE_DIR" in err
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert len(DiskCache(os.environ["AUDIOCHAIN_CACHE_DIR"]).entries()) == 3


def test_default_folder_follows_the_environment(monkeypatch, tmp_path):
    from nodeflow.diskcache import default_budget_bytes, default_dir
    monkeypatch.delenv("AUDIOCHAIN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_dir() == tmp_path / "audiochain" / "values"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_dir() == Path.home() / ".cache" / "audiochain" / "values"
    monkeypatch.setenv("AUDIOCHAIN_CACHE_GB", "0.5")
    assert default_budget_bytes() == 1 << 29
    monkeypatch.setenv("AUDIOCHAIN_CACHE", "off")
    assert Executor().disk_cache is None





@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "huge", "folder"])
def test_an_entry_that_is_no_file_is_removed_not_read(tmp_path, kind):
    """A FIFO in the cache folder hung every run; a link to /dev/zero, or a 40 GB file, read until memory
    ran out."""
    dc = DiskCache(tmp_path, 1 << 20)
    key = "ef" * 20
    p = dc.path(key)
    p.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "huge":          # 40 GB (sparse): read up to the budget before
        with open(p, "wb") as f:
            f.truncate(40 << 30)
    elif kind == "folder":        # QA: said corrupt on every lookup, and never removed
        (p / "inner").mkdir(parents=True)
        (p / "inner" / "x").write_bytes(b"x")
    else:
        os.symlink("/dev/zero", p)
    bad = 0 if kind == "huge" else 1                    # over the budget: evicted, not called corrupt
    assert dc.get(key) is None and not os.path.lexists(p) and dc.stats.corrupt == bad
    assert dc.get(key) is None and dc.stats.corrupt == bad      # then simply missing


def test_a_budget_lowered_to_zero_keeps_nothing_and_calls_nothing_corrupt(tmp_path, caplog):
    """QA: with AUDIOCHAIN_CACHE_GB=0 ("0 keeps nothing on disk") a run warned of 'corrupt' entries (they
    were only larger than the new budget) and left three entries behind."""
    one = tone(0.5, RATE, 2)
    big = DiskCache(tmp_path, budget_bytes=1 << 30)
    for i in range(4):
        assert big.put(f"{i:040x}", {"out": one})
    zero = DiskCache(tmp_path, budget_bytes=0)
    with caplog.at_level("WARNING"):
        assert zero.get(f"{0:040x}") is None           # read: a miss, removed
        assert zero.put("ab" * 20, {"out": one}) is False       # written: nothing, and the rest goes
    assert zero.info()["entries"] == 0 and zero.stats.corrupt == 0
    assert "corrupt" not in caplog.text


def _scale_session(tmp_path: Path, then: str = "") -> str:
    """A Python session (``python -c``) that runs ``my.scale`` of ``tmp_path/mynodes.py`` once with the
    disk cache ``tmp_path/cache`` and prints its value and what came from the cache; then ``then``."""
    return textwrap.dedent(f"""
        import os, sys
        sys.path[:0] = [{str(tmp_path)!r}, {str(Path(__file__).resolve().parents[2])!r}]
        from pathlib import Path
        from nodeflow import Executor, Graph, Registry
        import mynodes
        reg = Registry()
        reg.add(mynodes.scale)
        g = Graph(reg)
        g.add("my.scale", id="s")
        ex = Executor(disk_cache={str(tmp_path / "cache")!r})
        res = ex.run(g)
        print(float(res["s"]["out"].samples.max()), sorted(res.cached))
        """) + textwrap.dedent(then)


def test_a_node_whose_code_changed_is_computed_again_in_the_next_process(tmp_path):
    """QA: a node edited from x0.5 to x0.25 (same id and version) kept giving x0.5 from the disk cache
    in every later process.  A node's key holds its code (its module's source, AudioChain's own
    sources for built-in nodes, and the installed package's version)."""
    module = tmp_path / "mynodes.py"
    script = _scale_session(tmp_path)

    def run(factor: str) -> str:
        module.write_text(textwrap.dedent(f'''
            from nodeflow import Audio, node
            import numpy as np

            @node("my.scale", version=1, persist=True)
            def scale() -> Audio:
                """Scale a constant."""
                return Audio(np.full((1, 8), {factor}, np.float32), 8000)
            '''))
        p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    assert run("0.5") == "0.5 []"
    assert run("0.5") == "0.5 ['s']"          # the same code: from the cache
    assert run("0.25") == "0.25 []"           # edited: computed again


def test_a_node_whose_own_helper_module_changed_is_computed_again(tmp_path):
    """QA: a node module reading ``from helper import FACTOR`` kept its cached values after
    helper.py changed.  The key holds every module of the user's own that the node's module
    imports, at any depth (here a package's relative import, then an absolute one)."""
    pkg = tmp_path / "mine"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nodes.py").write_text(textwrap.dedent('''
        import numpy as np
        from nodeflow import Audio, node
        from .helper import factor

        @node("my.helped", version=1, persist=True)
        def helped() -> Audio:
            """A constant scaled by the helper."""
            return Audio(np.full((1, 8), factor(), np.float32), 8000)
        '''))
    (pkg / "helper.py").write_text("from deeper import FACTOR\n\ndef factor():\n    return FACTOR\n")
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}, {str(Path(__file__).resolve().parents[2])!r}]
        from nodeflow import Executor, Graph, Registry
        from mine.nodes import helped
        reg = Registry()
        reg.add(helped)
        g = Graph(reg)
        g.add("my.helped", id="s")
        res = Executor(disk_cache={str(tmp_path / "cache")!r}).run(g)
        print(float(res["s"]["out"].samples.max()), sorted(res.cached))
        """)

    def run(factor: str) -> str:
        (tmp_path / "deeper.py").write_text(f"FACTOR = {factor}\n")
        p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    assert run("0.5") == "0.5 []"
    assert run("0.5") == "0.5 ['s']"
    assert run("0.25") == "0.25 []"           # two imports away: computed again
    # the same digest whatever this process has imported (a Ray worker recomputed the driver's values)
    digest = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}, {str(Path(__file__).resolve().parents[2])!r}]
        from nodeflow.cache import code_digest
        from mine.nodes import helped
        if sys.argv[1:] == ["forget"]:
            for name in ("mine.helper", "deeper"):
                sys.modules.pop(name)
        print(code_digest(helped.fn))
        """)
    got = {subprocess.run([sys.executable, "-c", digest, *arg], capture_output=True, text=True, timeout=120).stdout
           for arg in ([], ["forget"])}
    assert len(got) == 1 and got != {""}, got


def test_a_plugin_edited_while_a_session_runs_keys_its_values_by_the_code_that_runs(tmp_path):
    """QA85's left note: a plug-in module edited while a session ran was keyed by the edited file, and
    computed by the function imported before the edit: the session filed x0.5 under the x0.25 code's key,
    and every later process got x0.5 from the cache.  A node's digest is taken as it is declared."""
    module = tmp_path / "mynodes.py"
    source = textwrap.dedent('''
        from nodeflow import Audio, node
        import numpy as np

        @node("my.scale", version=1, persist=True)
        def scale() -> Audio:
            """Scale a constant."""
            return Audio(np.full((1, 8), FACTOR, np.float32), 8000)
        ''')
    script = _scale_session(tmp_path, f"""
        if sys.argv[1:] == ["edit"]:            # the module edited while this session runs
            Path({str(module)!r}).write_text(Path({str(module)!r}).read_text().replace("0.5", "0.25"))
            os.utime({str(module)!r}, (1, 1))
            g = Graph(reg)                      # a graph made again: its keys are worked out again
            g.add("my.scale", id="s")
            res = ex.run(g)
            print(float(res["s"]["out"].samples.max()), sorted(res.cached))
        """)

    def run(*args: str) -> str:
        p = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    module.write_text("FACTOR = 0.5\n" + source)
    assert run("edit").splitlines() == ["0.5 []", "0.5 ['s']"]    # the code running is still x0.5: its value
    assert run() == "0.25 []"                  # a new session runs the edited code, and computes it


def test_a_worker_running_code_edited_since_the_session_began_caches_nothing(tmp_path, monkeypatch):
    """QA85 D1: AudioChain's sources are digested once per process; a worker started after an edit ran the
    edited variation (x0.5) while the session filed its windows under the digest taken before, and later runs
    of the unedited code got half-level takes from the cache.  A worker whose code is not the one the session
    keys by refuses, and nothing is kept.  (The session's digest taken before an edit is stood in for here.)"""
    from nodeflow import cache
    from nodeflow.errors import NodeflowError
    from nodes.dsp.variation import INLINE_SAMPLES
    x = Audio(np.random.default_rng(1).standard_normal((2, INLINE_SAMPLES)).astype(np.float32) * 0.1, 48000)
    g = Graph()
    g.add("dsp.variation", id="var", semitones=4.5)
    store = DiskCache(tmp_path / "cache")
    assert Executor(disk_cache=store).run(g, inputs={"var.audio": x})["var"]["out"].frames == INLINE_SAMPLES
    kept = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    monkeypatch.setattr(cache, "_own_code", ["0" * 20])
    g.set("var", "semitones", 4.0)
    with pytest.raises(NodeflowError, match="AudioChain's code changed since this session started: a new worker "
                                            "process runs the edited code"):
        Executor(disk_cache=store).run(g, inputs={"var.audio": x})
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()) == kept


@pytest.mark.parametrize("name,value,expected", [("AUDIOCHAIN_CACHE", "disabled", "expected on or off"),
                                                 ("AUDIOCHAIN_CACHE", "never", "expected on or off"),
                                                 ("AUDIOCHAIN_CACHE_MIN_S", "x", "expected a number of seconds"),
                                                 ("AUDIOCHAIN_CACHE_MIN_S", "-1", "expected a number of seconds"),
                                                 ("AUDIOCHAIN_CACHE_MIN_S", "nan", "expected a number of seconds")])
def test_a_bad_cache_setting_is_refused_where_the_cache_opens(name, value, expected, monkeypatch):
    """QA: AUDIOCHAIN_CACHE=disabled (or none, never) silently left the disk cache on; a cache floor
    of 'x', -1 or nan was taken silently."""
    from nodeflow import Executor
    from nodeflow.errors import ParameterError
    monkeypatch.setenv(name, value)
    with pytest.raises(ParameterError, match=rf"{name}='{value}': {expected}.*fix or unset it"):
        Executor()
    for ok in ("off", "OFF", "on", "1", "no"):
        monkeypatch.setenv("AUDIOCHAIN_CACHE", ok)
        if name == "AUDIOCHAIN_CACHE":
            Executor()


@pytest.mark.parametrize("value", ["foo", "-1", "nan", "inf"])
def test_a_bad_cache_size_is_refused_in_one_line_as_the_other_limits_are(value, monkeypatch, capsys):
    """QA: AUDIOCHAIN_CACHE_GB=foo only warned and kept 10 GiB; -1 was silently 0 ('510 MiB of 0 B')."""
    from nodeflow.diskcache import default_budget_bytes
    from nodeflow.errors import ParameterError
    monkeypatch.setenv("AUDIOCHAIN_CACHE_GB", value)
    with pytest.raises(ParameterError, match=rf"AUDIOCHAIN_CACHE_GB='{value}': expected a size in GiB, 0 or more"):
        default_budget_bytes()
    assert main(["cache", "info"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: AUDIOCHAIN_CACHE_GB=") and err.count("\n") == 1
    monkeypatch.setenv("AUDIOCHAIN_CACHE_GB", "0")
    assert default_budget_bytes() == 0


def test_a_cache_folder_that_is_a_file_is_said_once(tmp_path, monkeypatch, capsys, caplog):
    """QA: with AUDIOCHAIN_CACHE_DIR naming a file, run warned once per node and cache info reported a
    healthy empty cache (rc 0)."""
    import logging
    (tmp_path / "afile").write_text("not a folder")
    monkeypatch.setenv("AUDIOCHAIN_CACHE_DIR", str(tmp_path / "afile"))
    assert main(["cache", "info"]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
    g = Graph(registry())
    g.add("test.tone", id="t")
    for i in range(3):
        g.add("test.gain", id=f"g{i}", gain_db=-1.0 * i)
        g.connect("t" if i == 0 else f"g{i - 1}", f"g{i}")
    monkeypatch.setenv("AUDIOCHAIN_CACHE_MIN_S", "0")
    with caplog.at_level(logging.WARNING):
        Executor(disk_cache=DiskCache(tmp_path / "afile")).run(g)
    said = [r for r in caplog.records if "could not store" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]


def test_a_folder_a_node_reads_counts_by_what_is_in_it(tmp_path):
    """QA (high): a CLAP search served the ranking it made before files were added to its folder: a
    folder parameter counted by its path alone.  It counts by its listing (every entry under it, by
    name, size, times and inode): a file added, changed or renamed in a subfolder computes it again."""
    from nodeflow import Registry, node

    @node("t.listing", persist=True)
    def listing(*, folder: Annotated[str, FilePath(mode="read", folder=True)] = "") -> str:
        """The files under a folder."""
        return ",".join(sorted(p.name for p in Path(folder).rglob("*") if p.is_file()))

    reg = Registry()
    reg.add(listing)
    lib = tmp_path / "lib"
    (lib / "sub").mkdir(parents=True)
    (lib / "a.wav").write_bytes(b"a")
    g = Graph(reg)
    g.add("t.listing", id="ls", folder=str(lib))

    def run() -> tuple[str, bool]:
        res = Executor(disk_cache=DiskCache(tmp_path / "values")).run(g)     # a new process, as far as caches go
        return res["ls"]["out"], "ls" in res.cached

    assert run() == ("a.wav", False)
    assert run() == ("a.wav", True)
    (lib / "sub" / "b.wav").write_bytes(b"b")
    assert run() == ("a.wav,b.wav", False)
    (lib / "sub" / "b.wav").write_bytes(b"B")               # the same size, rewritten
    assert run() == ("a.wav,b.wav", False)
    (lib / "sub" / "b.wav").rename(lib / "sub" / "c.wav")
    assert run() == ("a.wav,c.wav", False)
    assert run() == ("a.wav,c.wav", True)


def test_a_checkpoint_folder_counts_new_weights_of_the_same_size_and_time(tmp_path):
    """QA: new weights of the same size copied over a local checkpoint's, their old time put back
    (``touch -r``), were served the old weights' takes: its digest now has each file's inode and change
    time too, as an input file's has."""
    from nodeflow.checkpoints import folder_digest
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "config.json").write_text("{}")
    w = ck / "model.safetensors"
    w.write_bytes(b"\0" * 64)
    before = folder_digest(ck)
    st = w.stat()
    new = tmp_path / "new.safetensors"
    new.write_bytes(b"\1" * 64)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    new.replace(w)
    assert w.stat().st_size == st.st_size and w.stat().st_mtime_ns == st.st_mtime_ns
    assert folder_digest(ck) != before
    assert folder_digest(ck) == folder_digest(ck)


def test_a_corrupt_entry_that_cannot_be_removed_and_a_folder_that_cannot_be_written_say_the_fix(tmp_path, monkeypatch,
                                                                                                 capsys, caplog):
    """QA85 D3: a corrupt entry in a read-only cache was "removing corrupt entry" on every run, and stayed;
    cache info said "free the disk" of a folder it may not write; a store that failed ended in "-> None"."""
    import errno
    import logging
    import tempfile
    from nodeflow.atomic import _as_path
    dc = DiskCache(tmp_path / "c")
    assert dc.put("ab" * 16, {"out": 1.0})
    p = dc.path("ab" * 16)
    p.write_bytes(b"\0" * 64)
    real_unlink = os.unlink

    def refuse(path, *a, **kw):
        if Path(path) == p:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_unlink(path, *a, **kw)
    monkeypatch.setattr(os, "unlink", refuse)
    with caplog.at_level(logging.WARNING, logger="nodeflow"):
        assert dc.get("ab" * 16) is None and dc.get("ab" * 16) is None
    said = [r.getMessage() for r in caplog.records if "corrupt entry" in r.getMessage()]
    assert len(said) == 1 and "removing" not in said[0] and said[0].endswith(
        "it cannot be removed (Permission denied): computed again; make the cache folder writable, or audiochain "
        "cache clear"), said
    monkeypatch.setattr(os, "unlink", real_unlink)

    def no_write(*a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "c" / ".probe-x.tmp"))
    monkeypatch.setattr(tempfile, "mkstemp", no_write)
    monkeypatch.setenv("AUDIOCHAIN_CACHE_DIR", str(tmp_path / "c"))
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "values cannot be kept here: Permission denied" in out and "; make the folder writable, or set " \
        "AUDIOCHAIN_CACHE_DIR to a folder you can write" in out and "free" not in out, out
    e = _as_path(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".x.tmp"), None,
                                 str(tmp_path / "x")), tmp_path / "x")
    assert isinstance(e, PermissionError) and str(e) == f"[Errno 13] Permission denied: '{tmp_path / 'x'}'"


def test_cache_info_sweeps_what_a_killed_run_left_half_written_and_says_how_much(tmp_path, monkeypatch, capsys):
    """QA85 D4: a run killed while writing a 626 MiB entry left a 319 MiB temporary file; cache info said
    "1 entry, 65.9 MiB" (du: 371M) until the next write swept it."""
    import subprocess
    dc = DiskCache(tmp_path / "c")
    assert dc.put("ab" * 16, {"out": 1.0})
    dead = subprocess.Popen(["true"])        # a writer that is gone
    dead.wait()
    half = dc.path("cd" * 16).parent / f".{dc.path('cd' * 16).name}.{dead.pid}-k3p9d20.tmp"
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_bytes(b"\0" * (3 << 20))
    monkeypatch.setenv("AUDIOCHAIN_CACHE_DIR", str(tmp_path / "c"))
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "entries: 1\n" in out and "swept:   3.0 MiB of half-written entries that runs which were stopped left " \
        "behind" in out, out
    assert not half.exists() and dc.path("ab" * 16).exists()
    assert main(["cache", "info"]) == 0 and "swept" not in capsys.readouterr().out


def test_cache_info_says_why_no_value_can_be_kept(tmp_path, monkeypatch, capsys):
    """QA48: a run said "(audiochain cache info says why)", and cache info said "entries: 0", nothing
    more, for a cache folder under a file (a read-only or full disk the same)."""
    (tmp_path / "afile").write_text("not a folder")
    monkeypatch.setenv("AUDIOCHAIN_CACHE_DIR", str(tmp_path / "afile" / "cache"))
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "state:   values cannot be kept here: Not a directory" in out and "AUDIOCHAIN_CACHE_DIR" in out
    monkeypatch.setenv("AUDIOCHAIN_CACHE_DIR", str(tmp_path / "fine"))
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "state:" not in out and not [p for p in (tmp_path / "fine").iterdir()]    # the probe is gone
