import pytest

from nodeflow import Graph, GraphError, ParameterError
from tests.nodeflow.stubs import registry


@pytest.fixture
def reg():
    return registry()


def test_add_connect_and_validate(reg):
    g = Graph(reg)
    t = g.add("test.tone", freq_hz=220.0)
    s = g.add("test.gain", gain_db=-6.0)
    g.connect(t.out, s.audio)
    assert g.problems() == []
    assert g.nodes["gain"].params["gain_db"] == -6.0


def test_connect_by_name_and_replace_occupied_input(reg):
    g = Graph(reg)
    g.add("test.tone", id="a")
    g.add("test.tone", id="b")
    g.add("test.gain", id="g")
    g.connect("a.out", "g.audio")
    g.connect("b", "g")  # first output -> first input: replaces the old link
    assert [str(l) for l in g.links] == ["b.out -> g.audio"]


def test_type_mismatch_names_both_ends_and_fix(reg):
    g = Graph(reg)
    g.add("test.stats", id="st")
    g.add("test.gain", id="g")
    g.add("test.tone", id="t")
    g.connect("t.out", "st.audio")
    with pytest.raises(GraphError) as e:
        g.connect("st.peak", "g.audio")
    msg = str(e.value)
    assert "st.peak" in msg and "g.audio" in msg and "float" in msg and "Audio" in msg


def test_cycle_is_refused_on_connect(reg):
    g = Graph(reg)
    g.add("test.tone", id="t")
    g.add("test.gain", id="a")
    g.add("test.gain", id="b")
    g.connect("t.out", "a.audio")
    g.connect("a.out", "b.audio")
    with pytest.raises(GraphError, match="cycle"):
        g.connect("b.out", "a.audio")


def test_parameter_range_error_names_node_value_range_unit(reg):
    g = Graph(reg)
    g.add("test.gain", id="g")
    with pytest.raises(ParameterError) as e:
        g.set("g", "gain_db", 99.0)
    assert str(e.value) == "g (test.gain): gain_db=99 is out of range (from -60 to 24 dB)"
    with pytest.raises(ParameterError, match="no parameter 'gian_db'"):
        g.set("g", "gian_db", 1.0)
    with pytest.raises(ParameterError, match="one of sine, square"):
        g.add("test.tone", shape="triangle")


def test_problems_reports_everything_at_once(reg):
    g = Graph(reg)
    g.add("test.tone", id="t")
    g.add("test.gain", id="a")
    g.add("test.gain", id="b")
    g.add("test.stats", id="dangling")
    g.add("test.number", id="n")
    g.connect("t.out", "a.audio")
    # written straight into the data, as a hostile or broken file would
    from nodeflow.graph import Link, NodeInstance
    g.links.append(Link("a", "out", "b", "audio"))
    g.links.append(Link("b", "out", "a", "audio"))          # cycle (and a second link into a.audio)
    g.links.append(Link("t", "out", "n", "x"))              # Audio into float
    g.nodes["ghost"] = NodeInstance("ghost", "fx.reverb", {})
    g.nodes["a"].params["gain_db"] = 1000.0
    problems = g.problems()
    text = "\n".join(problems)
    assert "unknown node type 'fx.reverb'" in text
    assert "cycle" in text
    assert "type mismatch" in text
    assert "required input 'audio' (Audio) is not connected" in text  # dangling
    assert "gain_db=1000 is out of range" in text
    assert len(problems) >= 5
    with pytest.raises(GraphError) as e:
        g.check()
    assert len(e.value.problems) == len(problems)


def test_list_output_maps_over_item_input(reg):
    g = Graph(reg)
    g.add("test.tone", id="t")
    g.add("test.split", id="s")
    g.add("test.gain", id="g")
    g.add("test.join", id="j")
    g.connect("t", "s")
    g.connect("s", "g")
    g.connect("g", "j")
    types = g.output_types()
    assert str(types[("g", "out")]) == "list[nodeflow.audio.Audio]"
    assert g.problems() == []


def test_remove_node_drops_its_links(reg):
    g = Graph(reg)
    g.add("test.tone", id="t")
    g.add("test.gain", id="g")
    g.connect("t", "g")
    g.remove("t")
    assert g.links == [] and "t" not in g.nodes


def test_missing_input_file_is_a_problem(reg, tmp_path):
    g = Graph(reg)
    g.add("test.read", id="r", path=str(tmp_path / "nope.txt"))
    assert any("input file path=" in p and "not found" in p for p in g.problems())


@pytest.mark.parametrize("metadata, said", [
    ({"bpm": -5}, "graph metadata bpm=-5: expected a tempo between 1 and 999"),
    ({"bpm": 1e308}, "graph metadata bpm=1e+308"),
    ({"meter": "0/0"}, "graph metadata meter='0/0': expected beats/note value"),
    ({"sample_rate": 10**9}, "graph metadata sample_rate=1000000000: expected a project sample rate"),
    ({"sample_rate": "x"}, "graph metadata sample_rate='x'"),
    ({"artist": ["Ana", "Ben"]}, "graph metadata artist=['Ana', 'Ben']: expected text (the exports write it as a tag)"),
    ({"comment": {"a": 1}}, "graph metadata comment={'a': 1}: expected text"),           # QA79 D7: dropped unsaid
    ({"title": True}, "graph metadata title=True: expected text")])
def test_graph_metadata_no_run_can_use_is_a_problem_before_anything_runs(tmp_path, metadata, said):
    """QA: metadata bpm=-5 or meter 0/0 passed validate; the run wrote its file, then failed on the tempo."""
    import numpy as np
    import soundfile as sf

    from nodeflow.errors import GraphError
    from nodeflow.executor import Executor
    sf.write(tmp_path / "a.wav", np.zeros((4800, 1), np.float32), 48000)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "a.wav"))
    g.add("io.export", id="export", path="o.wav")
    g.connect("load", "export")
    g.metadata.update(metadata)
    assert [p for p in g.problems() if said in p and p.endswith("fix it in the graph's metadata, or remove it")]
    with pytest.raises(GraphError):
        Executor(disk_cache=None).run(g, output_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()
    g.metadata.update({"bpm": 93.7, "meter": [7, 8], "sample_rate": 44100, "artist": "Ana", "comment": "take 3",
                       "title": 5})                 # a number is written as its text
    assert g.problems() == []


def test_validate_says_an_export_would_overwrite_a_file_the_graph_loads(tmp_path):
    """QA: a graph loading g2/prev.wav and exporting prev.wav, run with -o g2, passed validate; run refused
    as it wrote.  A hard link to the input is the same file."""
    import os

    import numpy as np
    import soundfile as sf
    (tmp_path / "g2").mkdir()
    sf.write(tmp_path / "g2" / "prev.wav", np.zeros((4800, 1), np.float32) + 0.1, 48000)
    os.link(tmp_path / "g2" / "prev.wav", tmp_path / "g2" / "alias.wav")
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "g2" / "prev.wav"))
    g.add("io.export", id="export", path="prev.wav")
    g.connect("load", "export")
    for path in ("prev.wav", "alias.wav"):
        g.set("export", "path", path)
        said = [p for p in g.problems(output_dir=tmp_path / "g2") if "would overwrite an input file" in p]
        assert said and "which load.path reads" in said[0], g.problems(output_dir=tmp_path / "g2")
    assert not [p for p in g.problems(output_dir=tmp_path / "g3") if "overwrite" in p]
