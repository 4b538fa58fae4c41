import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodeflow import FileFormatError, Graph
from nodeflow import fileformat as ff
from tests.nodeflow.stubs import registry

REG = registry()


def sample_graph() -> Graph:
    g = Graph(REG)
    g.add("test.tone", id="tone", freq_hz=330.0, shape="square")
    g.add("test.split", id="split", parts=3)
    g.add("test.gain", id="gain", gain_db=-3.5)
    g.add("test.join", id="join")
    g.connect("tone", "split")
    g.connect("split", "gain")
    g.connect("gain", "join")
    g.metadata = {"title": "Demo", "description": "a test graph ♪"}
    g.editor = {"positions": {"tone": [10.0, 20.0], "gain": [200.0, 20.0]}}
    return g


def test_roundtrip_equal(tmp_path):
    g = sample_graph()
    path = ff.save(g, tmp_path / "g.msgpack")
    g2 = ff.load(path, REG)
    assert g2 == g
    assert g2.path == path and g2.saved_by["packs"] == {"stubs": "1.0"}
    assert g2.problems() == []


def test_header_and_layout():
    doc = msgpack.unpackb(ff.dumps(sample_graph()))
    assert doc["format"] == "audiochain.graph" and doc["version"] == ff.VERSION
    assert doc["nodes"][0] == {"id": "tone", "type": "test.tone", "version": 1,
                               "params": {"freq_hz": 330.0, "duration_s": 1.0, "sample_rate": 8000, "shape": "square"}}
    assert {"from": ["tone", "out"], "to": ["split", "audio"]} in doc["links"]


def test_save_is_atomic_and_leaves_no_temp(tmp_path):
    p = tmp_path / "g.msgpack"
    ff.save(sample_graph(), p)
    before = p.read_bytes()
    g = sample_graph()
    g.metadata["bad"] = object()  # cannot be serialised
    with pytest.raises(FileFormatError, match="cannot be saved"):
        ff.save(g, p)
    assert p.read_bytes() == before
    assert [x.name for x in tmp_path.iterdir()] == ["g.msgpack"]


def test_saved_graphs_are_readable_by_others_like_any_file_and_keep_a_replaced_files_mode(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        p = ff.save(sample_graph(), tmp_path / "shared.msgpack")
        assert p.stat().st_mode & 0o777 == 0o644, "a new graph file gets 0o666 less the umask (was 0o600)"
        p.chmod(0o640)
        ff.save(sample_graph(), p)
        assert p.stat().st_mode & 0o777 == 0o640, "saving over a file keeps its permissions"
        os.umask(0o077)
        assert ff.save(sample_graph(), tmp_path / "private.msgpack").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_saving_a_graph_over_its_own_input_file_is_refused_and_the_file_kept(tmp_path):
    audio = tmp_path / "take.flac"
    audio.write_bytes(b"fLaC not really, but the user's")
    g = Graph()
    g.add("io.load", id="vox", path=str(audio))
    with pytest.raises(FileFormatError, match="refusing to save the graph over its own input file .*node 'vox'"):
        ff.save(g, tmp_path / "take.flac")        # e.g. chain.save() given the clip's name by mistake
    assert audio.read_bytes() == b"fLaC not really, but the user's"
    assert ff.save(g, tmp_path / "take.msgpack").is_file()


def doc_bytes(mutate):
    doc = msgpack.unpackb(ff.dumps(sample_graph()))
    mutate(doc)
    return msgpack.packb(doc)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="other"), "not an AudioChain graph"),
    (lambda d: d.update(version=99), "newer AudioChain"),
    (lambda d: d.update(version="1"), "header.version: expected int"),
    (lambda d: d.update(nodes="x"), "graph.nodes: expected list"),
    (lambda d: d["nodes"].append(5), "nodes[4]: expected a map"),
    (lambda d: d["nodes"][0].pop("type"), "nodes[0]: missing field 'type'"),
    (lambda d: d["nodes"][1].update(id="tone"), "duplicate node id 'tone'"),
    (lambda d: d["nodes"][0].update(id="../../etc"), "not a valid node id"),
    (lambda d: d["nodes"][0]["params"].update(freq_hz=[1, 2]), "must be single values"),
    (lambda d: d["links"].append({"from": ["a"], "to": ["b", "c"]}), "expected [node, port]"),
    (lambda d: d.update(metadata={"x": float("nan")}), "not finite"),
])
def test_malformed_documents_give_one_clear_error(mutate, message):
    with pytest.raises(FileFormatError) as e:
        ff.loads(doc_bytes(mutate), "shared.msgpack", REG)
    assert str(e.value).startswith("shared.msgpack: ") and message in str(e.value)


DEEP: list = [1]
for _ in range(30):
    DEEP = [DEEP]


def test_truncated_trailing_nested_and_huge():
    good = ff.dumps(sample_graph())
    for bad, msg in [(good[:-7], "truncated"), (good + b"\x00", "unexpected data after"), (b"", "empty"),
                     (b"\x91" * 100_000 + b"\x00", "nested too deeply"),
                     (msgpack.packb({"format": "audiochain.graph", "version": 1, "nodes": [],
                                     "metadata": {"a": DEEP}}), "nested deeper"),
                     (b"\xc7\x01\x05x", "not a valid graph file"),
                     (b"RIFF....WAVE", "audio file")]:
        with pytest.raises(FileFormatError, match=msg):
            ff.loads(bad, "f", REG)
    with pytest.raises(FileFormatError, match="limited to 16 MiB"):
        ff.loads(b"\x00" * (ff.MAX_FILE_BYTES + 1), "f", REG)


def test_unknown_type_and_bad_param_load_but_validation_reports_all():
    def mutate(d):
        d["nodes"][0]["type"] = "fx.reverb"
        d["nodes"][2]["params"]["gain_db"] = 500.0
    g = ff.loads(doc_bytes(mutate), "f", REG)
    problems = "\n".join(g.problems())
    assert "unknown node type 'fx.reverb'" in problems and "gain_db=500" in problems
    again = ff.loads(ff.dumps(g), "f", REG)  # unknown nodes survive a save
    assert again.nodes["tone"].type == "fx.reverb" and again.nodes["tone"].params["freq_hz"] == 330.0


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        ff.load(tmp_path / "missing.msgpack", REG)
    with pytest.raises(FileFormatError, match="is a folder"):
        ff.load(tmp_path, REG)


def test_node_version_migration_upgrades_params():
    from typing import Annotated
    from nodeflow import Range, Registry, node
    from nodeflow.audio import Audio

    @node("test.vol", version=2)
    def vol(audio: Audio, *, gain_db: Annotated[float, Range(-60, 24, unit="dB")] = 0.0) -> Audio:
        """v2 takes dB; v1 took a linear factor 'factor'."""
        return audio

    reg = Registry()
    reg.add(vol)
    import math
    reg.add_migration("test.vol", 1, lambda p: {"gain_db": 20 * math.log10(p.pop("factor"))})
    doc = {"format": "audiochain.graph", "version": 1,
           "nodes": [{"id": "v", "type": "test.vol", "version": 1, "params": {"factor": 0.5}}], "links": []}
    g = ff.loads(msgpack.packb(doc), "old.msgpack", reg)
    assert g.nodes["v"].params == {"gain_db": pytest.approx(-6.0206, abs=1e-3)}
    assert msgpack.unpackb(ff.dumps(g))["nodes"][0]["version"] == 2


def test_format_migration_chain(monkeypatch):
    monkeypatch.setattr(ff, "VERSION", 2)
    monkeypatch.setitem(ff.MIGRATIONS, 1, lambda d: {**d, "version": 2, "metadata": {**d.get("metadata", {}), "migrated": True}})
    g = ff.loads(ff.dumps(sample_graph()).replace(b"\xa7version\x02", b"\xa7version\x01"), "f", REG)
    assert g.metadata["migrated"] is True


names = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8)


@st.composite
def graphs(draw):
    g = Graph(REG)
    n = draw(st.integers(1, 8))
    ids = []
    for i in range(n):
        nid = f"n{i}"
        if draw(st.booleans()):
            g.add("test.tone", id=nid, freq_hz=draw(st.floats(1.0, 20000.0)), shape=draw(st.sampled_from(["sine", "square"])))
        else:
            g.add("test.gain", id=nid, gain_db=draw(st.floats(-60.0, 24.0)))
            if ids:
                g.connect(f"{draw(st.sampled_from(ids))}.out", f"{nid}.audio", check=False)
        ids.append(nid)
    g.metadata = draw(st.dictionaries(names, st.one_of(st.text(max_size=20), st.integers(-10**9, 10**9), st.booleans()), max_size=4))
    g.editor = {"positions": {i: [draw(st.floats(-1e4, 1e4)), draw(st.floats(-1e4, 1e4))] for i in ids}}
    return g


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_property_save_load_equality(g):
    assert ff.loads(ff.dumps(g), "p", REG) == g


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_property_random_bytes_only_file_format_error(data):
    try:
        ff.loads(data, "fuzz", REG)
    except FileFormatError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_property_mutated_files_only_file_format_error(data):
    good = bytearray(ff.dumps(sample_graph()))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(good) - 1))
        good[i] = data.draw(st.integers(0, 255))
    try:
        g = ff.loads(bytes(good), "fuzz", REG)
        g.problems()  # whatever loads must also validate without crashing
    except FileFormatError:
        pass


@pytest.mark.parametrize("mutate, said", [
    (lambda d: d["nodes"][0]["params"].update(freq_hz=b"\x00\x01\x02"), "it holds raw bytes where a graph has only"),
    (lambda d: d["nodes"][0]["params"].update(freq_hz=msgpack.ExtType(5, b"x")), "a msgpack extension value"),
    (lambda d: d["metadata"].update({3: "x"}), "a map whose keys are not text"),
    (lambda d: d["metadata"].update(note="x" * (2 << 20)), "a text longer than the 1 MiB a graph file allows"),
])
def test_what_msgpack_refuses_is_said_in_a_graph_files_terms(mutate, said):
    """QA: 'not a valid graph file (ValueError: 3 exceeds max_bin_len(0))' named neither the problem nor a fix."""
    doc = msgpack.unpackb(ff.dumps(sample_graph()))
    mutate(doc)
    with pytest.raises(FileFormatError) as e:
        ff.loads(msgpack.packb(doc), "shared.msgpack", REG)
    text = str(e.value)
    assert text.startswith("shared.msgpack: not a valid graph file: ") and said in text, text
    assert "max_" not in text and "strict_map_key" not in text and text.endswith("ask for the graph again")


def test_a_strangers_odd_node_says_what_is_odd_and_what_fits(tmp_path):
    """QA: version -1 was taken silently; 'unknown parameter' did not list the node's parameters; a file named
    .acbundle that is no zip was 'not an AudioChain graph'."""
    doc = msgpack.unpackb(ff.dumps(sample_graph()))
    doc["nodes"][0]["version"] = -1
    doc["nodes"][2]["params"]["bogus"] = 1
    problems = ff.loads(msgpack.packb(doc), "shared.msgpack", REG).problems()
    assert "node 'tone': version -1 is no node version (they count from 1)" in " ".join(problems)
    assert any("unknown parameter 'bogus'; its parameters are: gain_db" in p for p in problems), problems
    fake = tmp_path / "gift.acbundle"
    fake.write_bytes(b"\x00" * 100)
    with pytest.raises(FileFormatError, match=r"gift\.acbundle: not a valid bundle: it is not a zip archive"):
        ff.load(fake, REG)


def test_an_export_path_typed_whole_inside_the_graphs_folder_keeps_its_subfolder(tmp_path):
    """QA62: an export to <project>/out/session.wav, saved as <project>/session.msgpack, was stored as
    'session.wav' and the next run wrote beside the graph, not in out/.  A path inside the graph's
    folder is stored relative to it; one outside it still by its name (no path of this machine)."""
    from nodeflow import Graph, load, save
    g = Graph()
    g.add("io.export", id="inside", path=str(tmp_path / "out" / "session.wav"))
    g.add("io.export", id="outside", path=str(tmp_path.parent / "elsewhere" / "other.wav"))
    save(g, tmp_path / "session.msgpack")
    back = load(tmp_path / "session.msgpack")
    assert back.nodes["inside"].params["path"] == "out/session.wav"
    assert back.nodes["outside"].params["path"] == "other.wav"
