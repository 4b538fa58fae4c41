"""Every way a node declaration or a node pack can be wrong is a DefinitionError naming the node, the
argument and the fix (issue 15): one test per ``raise DefinitionError`` in nodeflow/."""
from __future__ import annotations

import inspect
from typing import Annotated

import pytest

from nodeflow import Audio, DefinitionError, FilePath, Graph, Range, Registry, node
from nodeflow.types import Auto

# ------------------------------------------------------------------ @node (nodeflow/node.py)


def test_a_node_id_must_be_category_dot_name():
    for bad in ("gain", "DSP.gain", "dsp.Gain", "dsp.gain.x", "1dsp.gain", "dsp.-gain"):
        with pytest.raises(DefinitionError, match=rf"node id '{bad}' must look like 'category.name'"):
            node(bad)


def test_an_export_cannot_run_in_a_worker_process():
    if "process" not in inspect.signature(node).parameters:
        pytest.skip("@node(process=...) is not in this version")
    with pytest.raises(DefinitionError, match="process=True is for computing nodes"):
        node("test.sink", side_effect=True, process=True)


def test_a_worker_process_node_must_be_importable_by_name(tmp_path):
    """QA68 D3: a ``process=True`` node declared in the script run as ``__main__`` failed at run time,
    once per list item, saying it "must be a module-level name" (it was one): a worker's own
    ``__main__`` is ``nodeflow.worker``.  It is refused where it is declared, saying why."""
    def heavy(audio: Audio, *, k: float = 0.5) -> Audio:
        return audio
    with pytest.raises(DefinitionError, match=r"^node test\.heavy: process=True, but heavy is defined inside a "
                                             r"function \(.*<locals>\.heavy\), which a worker process cannot find"):
        node("test.heavy", process=True)(heavy)
    heavy.__module__, heavy.__qualname__ = "__main__", "heavy"
    for process in (True, lambda inputs, params: True):
        with pytest.raises(DefinitionError, match=r"^node test\.heavy: process=True, but heavy is defined in the "
                                                 r"script run as __main__, which a worker process cannot import; "
                                                 r"move it into a module and import it"):
            node("test.heavy", process=process)(heavy)
    assert node("test.heavy")(heavy).process is False           # in the run's process: fine in a script
    import os
    import subprocess
    import sys
    from pathlib import Path
    script = tmp_path / "script.py"                             # as QA ran it: a script with a guard
    script.write_text("from nodeflow import node, Audio\n"
                      "@node('qa.heavy', process=True)\n"
                      "def heavy(audio: Audio) -> Audio:\n"
                      "    return audio\n"
                      "if __name__ == '__main__':\n"
                      "    print('ran')\n")
    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(root)})
    assert p.returncode == 1 and "ran" not in p.stdout
    assert p.stderr.strip().splitlines()[-1] == (
        "nodeflow.errors.DefinitionError: node qa.heavy: process=True, but heavy is defined in the script run as "
        "__main__, which a worker process cannot import; move it into a module and import it (or leave out "
        "process=True)")


def test_a_worker_process_node_made_by_hand_is_refused_before_a_worker_starts():
    import dataclasses

    import numpy as np

    from nodeflow import NodeflowError
    from tests.nodeflow.process_nodes import spin

    def here(audio: Audio) -> Audio:
        return audio
    here.__module__, here.__qualname__ = "__main__", "here"
    made = dataclasses.replace(spin, fn=here)
    with pytest.raises(NodeflowError, match=r"^proc\.spin: runs in a worker process, but here is defined in the "
                                            r"script run as __main__"):
        made.call({"audio": Audio(np.zeros((1, 8)), 8000)}, {})


def test_unresolvable_annotations():
    with pytest.raises(DefinitionError, match="node test.fwd: cannot resolve annotations"):
        @node("test.fwd")
        def fwd(audio: "NoSuchType") -> Audio:  # noqa: F821
            return audio


def test_every_argument_needs_an_annotation():
    with pytest.raises(DefinitionError, match="node test.bare: argument 'audio' needs a type annotation"):
        @node("test.bare")
        def bare(audio) -> Audio:
            return audio


def test_an_optional_input_defaults_to_none():
    with pytest.raises(DefinitionError, match="optional input 'b' must default to None"):
        @node("test.opt")
        def opt(a: Audio, b: Audio = 1) -> Audio:  # type: ignore[assignment]
            return a


def test_varargs_are_refused():
    with pytest.raises(DefinitionError, match=r"\*args/\*\*kwargs are not supported \('rest'\)"):
        @node("test.var")
        def var(a: Audio, *rest: Audio) -> Audio:
            return a
    with pytest.raises(DefinitionError, match=r"not supported \('kw'\)"):
        @node("test.kw")
        def kw(a: Audio, **kw: float) -> Audio:
            return a


def test_the_return_type_is_required():
    with pytest.raises(DefinitionError, match="node test.noret: annotate the return type"):
        @node("test.noret")
        def noret(a: Audio):
            return a
    with pytest.raises(DefinitionError, match="annotate the return type"):
        @node("test.none")
        def none(a: Audio) -> None:
            return None


# ------------------------------------------------------------------ parameters (nodeflow/types.py)
def _declare(annotation, default):
    def f(a, *, p=default):
        return a
    f.__annotations__ = {"a": Audio, "p": annotation, "return": Audio}   # not strings: this module defers them
    return node("test.param")(f)


@pytest.mark.parametrize("annotation, default, message", [
    (int | str, 1, r"parameter 'p' has an unsupported union type"),
    (Annotated[float | None, Auto()], 1.0, None),                                   # fine: optional + Auto
    (Annotated[float, Auto()], 1.0, r"Auto parameter 'p' must be optional \(None means auto\)"),
    (list, [], r"parameter 'p' has unsupported type .*use float, int, bool, str, an Enum"),
    (Annotated[int, FilePath()], 0, r"FilePath parameter 'p' must be a str"),
    (Annotated[str, Range(0, 1)], "", r"Range on non-numeric parameter 'p'"),
    (float, None, r"parameter 'p' has no default; parameters after '\*' need one"),
    (Annotated[float, Range(0, 1)], 2.0, r"default of 'p' is invalid: p=2 is out of range \(from 0 to 1\)"),
    (int, "three", r"default of 'p' is invalid: p='three': expected a whole number"),
])
def test_parameter_declarations(annotation, default, message):
    if message is None:
        assert _declare(annotation, default).params["p"].auto
        return
    with pytest.raises(DefinitionError, match="node test.param: " + message):
        _declare(annotation, default)


def test_a_keyword_parameter_without_default_is_caught():
    with pytest.raises(DefinitionError, match="parameter 'p' has no default"):
        @node("test.nodefault")
        def nodefault(a: Audio, *, p: float) -> Audio:
            return a


# ------------------------------------------------------------------ the registry (nodeflow/registry.py)
@node("test.one")
def one(a: Audio) -> Audio:
    """Pass through."""
    return a


def test_the_registry_takes_only_declared_nodes():
    reg = Registry()
    with pytest.raises(DefinitionError, match="registry.add expects a node declared with @node; got <function"):
        reg.add(one.fn)


def test_a_node_type_registered_twice_names_both_packs():
    reg = Registry()
    reg.add(one)
    reg.add(one)                           # the same declaration again is fine

    @node("test.one")
    def other(a: Audio) -> Audio:
        return a
    other.pack = "pack_b"
    with pytest.raises(DefinitionError, match=r"node type 'test.one' is registered twice \(by .*test_definitions\.one"
                                              r" in pack .* and .*other in pack pack_b\); give one of them another"):
        reg.add(other)
    g = Graph(reg)
    with pytest.raises(DefinitionError, match="registered twice"):       # a graph does not swap it silently
        g.add(other)


def test_a_node_declared_again_replaces_the_first_declaration(tmp_path, monkeypatch):
    """QA: a node edited and its module reloaded (a notebook) kept running its first version in
    chains and ``Graph.add``, the cache off too, while calling it directly ran the new one."""
    import importlib
    import sys

    import numpy as np

    from nodeflow import Executor
    from nodeflow.registry import default_registry
    src = ('from nodeflow import Audio, node\n\n@node("test.level_reloaded")\n'
           'def level(audio: Audio) -> Audio:\n    """Scales."""\n    return audio.replace(audio.samples * FACTOR)\n')
    (tmp_path / "my_level.py").write_text(src.replace("FACTOR", "0.5"))
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_level
    x = (np.full((1, 100), 0.5, np.float32), 8000)
    assert my_level.level().invoke(x, config={"cache": False}).samples[0, 0] == 0.25
    (tmp_path / "my_level.py").write_text(src.replace("FACTOR", "0.125"))
    importlib.reload(my_level)
    try:
        assert my_level.level().invoke(x, config={"cache": False}).samples[0, 0] == 0.0625
        g = Graph()
        g.add("test.level_reloaded", id="lv")                      # by name too: the newest declaration
        assert Executor(disk_cache=None).run(g, inputs=x)["lv"]["out"].samples[0, 0] == 0.0625
    finally:
        sys.modules.pop("my_level", None)
        default_registry()._specs.pop("test.level_reloaded", None)      # the process-wide registry as it was


def test_an_own_node_not_yet_added_is_named_with_the_way_to_add_it():
    with pytest.raises(DefinitionError, match=r"unknown node type 'mine\.thing'.*graph\.add\(my_node"):
        Graph().add("mine.thing")


def test_a_pack_without_register_is_reported_not_raised():
    import types
    reg = Registry()
    assert reg.load_pack("empty", types.ModuleType("empty_pack")) is False
    assert reg.failed_packs == {"empty": "DefinitionError: pack 'empty' has no register(registry) function"}


def test_an_unknown_node_type_suggests_the_close_one():
    reg = Registry()
    reg.add(one)
    with pytest.raises(DefinitionError, match=r"unknown node type 'test.on'; did you mean 'test.one'\?"):
        reg["test.on"]
    with pytest.raises(DefinitionError, match=r"unknown node type 'x.y'; is the node pack that provides it installed"):
        reg["x.y"]
    reg.failed_packs["broken"] = "ImportError: no"
    with pytest.raises(DefinitionError, match="these node packs failed to load: broken"):
        reg["x.y"]


def test_a_node_module_imported_first_is_still_in_the_default_registry():
    """Importing a node's module on its own, before anything else, built the default registry while
    that module was half-imported (its help text listed the model families, which loads the packs),
    and the registry went without it: "unknown node type 'dsp.resample'" (the suite's ordering flake:
    tests/nodes/test_dsp_streaming.py then tests/nodeflow/test_streaming.py)."""
    import subprocess
    import sys
    code = ("from nodes.dsp.resample import resample\n"
            "from nodeflow import Graph\n"
            "Graph().add('dsp.resample')\n"
            "assert 'Node dsp.resample v1' in resample.__doc__\n"
            "print('ok')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]


@node("test.returns_array")
def _returns_array(audio: Audio) -> Audio:
    """Declared Audio, returns its samples."""
    return audio.samples * 2


@node("test.returns_none_in_list")
def _returns_none_in_list(audio: Audio) -> list[Audio]:
    """Declared a list of Audio, holds None."""
    return [audio, None]


def test_a_node_returning_something_else_than_it_declares_is_named():
    """QA: a ``-> Audio`` node returning an ndarray (or None) passed unchecked, and the next node
    failed with a bare AttributeError, taking the blame."""
    import numpy as np

    from nodeflow import ExecutionError
    x = (np.full((1, 100), 0.25, np.float32), 8000)
    with pytest.raises(DefinitionError, match=r"test\.returns_array: its output 'out' is declared Audio but the "
                                              r"function returned ndarray; return an Audio"):
        _returns_array(x)
    with pytest.raises(ExecutionError, match=r"node 'returns_array': test\.returns_array: its output 'out' is "
                                             r"declared Audio but the function returned ndarray"):
        (_returns_array() | _returns_array()).invoke(x, config={"cache": False})
    with pytest.raises(DefinitionError, match=r"returned a list holding NoneType"):
        _returns_none_in_list(x)



@node("test.returns_text_for_float")
def _returns_text_for_float(audio: Audio) -> float:
    """Declared a number, returns text."""
    return "not a float"  # type: ignore[return-value]


def test_a_plain_output_of_another_type_is_named_too():
    """QA41: ``-> float`` returning text passed unchecked (Audio outputs were checked)."""
    import numpy as np
    with pytest.raises(DefinitionError, match=r"test\.returns_text_for_float: its output 'out' is declared float but "
                                              r"the function returned 'not a float'; return a float"):
        _returns_text_for_float((np.zeros((1, 10), np.float32), 8000))


def test_a_range_whose_min_is_more_than_its_max_says_so():
    """QA41: Range(5, 1) read "default of 'g' is invalid: g=3 is out of range (from 5 to 1)"."""
    with pytest.raises(DefinitionError, match=r"Range\(5, 1\): min is more than max; write Range\(min, max\)"):
        Range(5.0, 1.0)


def test_a_choice_of_numbers_takes_the_number_itself():
    """``export(sample_rate=48000)`` was refused with "expected one of keep, 44100, 48000, ..." (QA54):
    a choice written as a whole number is that choice, stored as the graph stores it."""
    from nodes.io.export import export
    from nodeflow.fileformat import dumps
    g = Graph()
    g.add("io.export", id="a", sample_rate=48000)
    g.add("io.export", id="b", sample_rate="48000")
    a, b = g.nodes["a"].params, g.nodes["b"].params
    assert a == b and str(a["sample_rate"]) == "48000"
    assert export(sample_rate=44100.0).params["sample_rate"] == "44100"
    assert export(sample_rate="96000.0").params["sample_rate"] == "96000"       # as --set spells it (QA56)
    assert dumps(g).count(b"48000") == 2
    with pytest.raises(Exception, match=r"sample_rate=48001: expected one of keep, 44100, 48000"):
        g.add("io.export", sample_rate=48001)
    with pytest.raises(Exception, match=r"sample_rate=True: expected one of"):
        g.add("io.export", sample_rate=True)


def test_a_pack_that_fails_to_load_leaves_no_family_and_says_where_in_its_code(tmp_path, monkeypatch):
    """QA93 D4, D5: a node pack that registered its model family and then raised at import was reported
    failed ("NameError: name 'undefined_name' is not defined", no file, no line), and its family stayed a
    ``profile`` choice that graphs validated and ran with.  A second pack taking a family's name is told
    which pack has it."""
    import sys

    from nodeflow import families

    def named(name):
        return next((f for f in families.families() if f.name == name), None)
    pack = tmp_path / "half_pack.py"
    pack.write_text("from nodeflow.families import FamilySpec, register\n"
                    "register(FamilySpec('half_fam', model_types=('vits',)))\n"
                    "undefined_name\n")
    (tmp_path / "good_pack.py").write_text("from nodeflow.families import FamilySpec, register\n"
                                           "register(FamilySpec('good_fam', model_types=('vits',)))\n"
                                           "def register_nodes(registry): pass\n"
                                           "register = register_nodes\n")
    (tmp_path / "twin_pack.py").write_text("from nodeflow.families import FamilySpec, register\n"
                                           "register(FamilySpec('good_fam', model_types=('encodec',)))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry()
    try:
        assert reg.load_pack("half", "half_pack") is False
        assert reg.failed_packs["half"] == f"NameError: name 'undefined_name' is not defined ({pack}, line 3)"
        assert named("half_fam") is None
        assert reg.load_pack("good", "good_pack") is True and named("good_fam") is not None
        assert reg.load_pack("twin", "twin_pack") is False
        assert reg.failed_packs["twin"].startswith("DefinitionError: model family 'good_fam' is registered twice "
                                                   "(first by node pack 'good'); give one of them another name")
        assert named("good_fam").model_types == ("vits",)
    finally:
        for name in ("half_fam", "good_fam"):
            families.unregister(name)
        for mod in ("half_pack", "good_pack", "twin_pack"):
            sys.modules.pop(mod, None)
