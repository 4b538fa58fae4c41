"""The dsp.* and time.* node types as graph files and the editor see them: ids, ports, parameters, docs."""
from __future__ import annotations

import doctest
import importlib

import pytest

from nodeflow.errors import ParameterError
from nodeflow.node import NodeSpec
from nodeflow.registry import Registry

# id -> (input ports and their types, output type, parameter names); graph files depend on these
A, AA = {"audio": "Audio"}, {"a": "Audio", "b": "Audio"}
EXPECTED = {
    "dsp.resample": (A, "Audio", ["rate_hz", "profile", "quality"]),
    "dsp.crossfade": (AA, "Audio", ["duration_s", "curve"]),
    "dsp.variation": (A, "Audio", ["semitones", "pattern_semitones", "stretch_ratio", "reverse", "octave_blend",
                                   "preserve_formants"]),
    "dsp.gain": (A, "Audio", ["gain_db"]),
    "dsp.fade": (A, "Audio", ["fade_in_s", "fade_out_s", "curve"]),
    "dsp.trim": (A, "Audio", ["start_s", "end_s"]),
    "dsp.concat": (AA, "Audio", ["gap_s"]),
    "dsp.mix": (AA, "Audio", ["gain_a_db", "gain_b_db"]),
    "dsp.channels": (A, "Audio", ["mode"]),
    "time.tokenize_window": (A, "list[Audio]", ["profile", "custom_rate_hz", "custom_tokens_per_s",
                                                "custom_window_tokens", "unit", "size", "overlap", "bpm",
                                                "beats_per_bar", "note_value", "last"]),
    "time.stitch": ({"windows": "list[Audio]"}, "Audio", ["fade_s", "curve"]),
}
MODULES = ["nodes.dsp.basic", "nodes.dsp.crossfade", "nodes.dsp.resample", "nodes.dsp.variation",
           "nodes.timing.window", "nodes.timing.stitch"]
HELPERS = ["nodes.dsp._conform", "nodes.dsp._curves"]


@pytest.fixture(scope="module")
def registry() -> Registry:
    """Only this family's modules, so a broken module elsewhere in the pack does not hide these results."""
    reg = Registry()
    for name in MODULES:
        reg.add_all(obj for obj in vars(importlib.import_module(name)).values() if isinstance(obj, NodeSpec))
    return reg


@pytest.mark.parametrize("type_id", sorted(EXPECTED))
def test_node_type_is_registered_with_its_ports_and_parameters(registry, type_id):
    inputs, out_type, params = EXPECTED[type_id]
    spec = registry[type_id]
    assert {name: port.type_name for name, port in spec.inputs.items()} == inputs
    assert {name: port.type_name for name, port in spec.outputs.items()} == {"out": out_type}
    assert list(spec.params) == params
    assert spec.tooltip and not spec.tooltip.endswith(",")


def test_enum_choices_are_the_documented_values(registry):
    def values(type_id, param):
        return [m.value for m in registry[type_id].params[param].choices]
    from nodeflow import families
    # profiles: every registered model family's nominal time base (by name), then custom
    assert values("dsp.resample", "profile") == values("time.tokenize_window", "profile") == \
        [*families.profile_names(), "custom"]
    assert {"musicgen", "musicgen_melody", "bark", "stable_audio"} <= set(values("dsp.resample", "profile"))
    assert values("dsp.resample", "quality") == ["quick", "low", "medium", "high", "very_high"]
    assert values("time.tokenize_window", "unit") == ["seconds", "bars", "beats", "tokens", "model_window"]
    assert values("time.tokenize_window", "last") == ["keep", "pad", "drop"]
    assert values("time.stitch", "curve") == values("dsp.crossfade", "curve") == ["linear", "equal_power"]
    assert values("dsp.channels", "mode") == ["mono", "stereo", "left", "right", "swap"]


@pytest.mark.parametrize("type_id, param, value, needle", [
    ("dsp.crossfade", "duration_s", 90.0, "duration_s=90 is out of range (from 0 to 60 s)"),
    ("dsp.gain", "gain_db", 30.0, "gain_db=30 is out of range (from -60 to 24 dB)"),
    ("dsp.resample", "rate_hz", 500, "rate_hz=500 is out of range (from 1000 to 384,000 Hz)"),
    ("dsp.variation", "semitones", -30.0, "semitones=-30 is out of range (from -24 to 24 st)"),
    ("dsp.variation", "stretch_ratio", 8.0, "stretch_ratio=8 is out of range (from 0.25 to 4 x)"),
    ("time.tokenize_window", "last", "trim", "last='trim': expected one of keep, pad, drop"),
])
def test_out_of_range_parameters_print_the_range_with_its_unit(registry, type_id, param, value, needle):
    with pytest.raises(ParameterError) as info:
        registry[type_id].params[param].coerce(value)
    assert needle in str(info.value)


@pytest.mark.parametrize("module_name", MODULES + HELPERS)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(module)
    for name, obj in vars(module).items():
        if getattr(obj, "fn", None) is not None and getattr(obj, "doc", ""):
            tests.append(doctest.DocTestParser().get_doctest(obj.doc, dict(vars(module)), obj.id, module_name, 0))
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0
