"""Callback handlers as objects (events as methods), a logging one, a trace file for bug reports,
and a LangChain-style config on invoke/batch/stream."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nodeflow import Executor, Graph, ParameterError, Registry
from nodeflow.callbacks import CallbackHandler, LoggingHandler, TraceHandler, handlers, scrub
from tests.nodeflow.stubs import ALL, gain, split


@pytest.fixture
def reg():
    r = Registry()
    r.load_pack("stubs", lambda reg: reg.add_all(ALL), "1.0")
    return r


def chain_graph(reg, fail=False) -> Graph:
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("test.fail" if fail else "test.gain", id="second")
    g.connect("tone", "second")
    return g


class Recorder(CallbackHandler):
    def __init__(self):
        self.seen = []

    def on_started(self, event):
        self.seen.append(("started", event.node_id))

    def on_finished(self, event):
        self.seen.append(("finished", event.node_id))

    def on_failed(self, event):
        self.seen.append(("failed", event.node_id))


def test_events_arrive_as_methods_and_several_handlers_share_a_run(reg):
    a, b = Recorder(), Recorder()
    broken = lambda event: 1 / 0       # noqa: E731 - a broken handler does not silence the others
    Executor(disk_cache=None).run(chain_graph(reg), on_event=handlers(a, broken, b))
    assert a.seen == b.seen == [("started", "tone"), ("finished", "tone"), ("started", "second"),
                                ("finished", "second")]


@pytest.mark.parametrize("how", ["failure", "stop"])
def test_every_queued_node_ends_with_an_event_when_a_run_fails_or_stops(reg, how):
    """QA: after a failure or a Stop, the nodes queued after it got no last event, so a progress view
    built on callbacks showed them queued for ever.  They end ``skipped``, the message saying why."""
    import threading
    from nodeflow.errors import Cancelled, ExecutionError
    g = Graph(reg)
    g.add("test.tone", id="tone")
    g.add("test.fail" if how == "failure" else "test.slow", id="first", **({} if how == "failure" else
                                                                           {"steps": 400}))
    g.add("test.gain", id="after")
    g.add("test.gain", id="last")
    g.connect("tone", "first")
    g.connect("first", "after")
    g.connect("after", "last")
    events, stop = [], threading.Event()

    def seen(e):
        events.append((e.kind, e.node_id, e.message))
        if e.kind == "progress" and e.node_id == "first" and e.done >= 3:
            stop.set()
    with pytest.raises(ExecutionError if how == "failure" else Cancelled):
        Executor(disk_cache=None).run(g, on_event=seen, cancel_event=stop)
    queued = [n for k, n, _ in events if k == "queued"]
    ends = {n: (k, m) for k, n, m in events if k in ("finished", "cached", "failed", "cancelled", "skipped")}
    assert sorted(queued) == ["after", "first", "last", "tone"] and sorted(ends) == sorted(queued), events
    why = "not run: node 'first' failed" if how == "failure" else "not run: the run was stopped"
    assert ends["after"] == ends["last"] == ("skipped", why), ends
    assert ends["first"][0] == ("failed" if how == "failure" else "cancelled")


def test_logging_handler(reg, caplog):
    with caplog.at_level(logging.INFO, logger="audiochain.run"):
        with pytest.raises(Exception):
            Executor(disk_cache=None).run(chain_graph(reg, fail=True), on_event=LoggingHandler())
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "audiochain.run"]
    assert ("INFO", "run    tone") in lines
    assert any(level == "ERROR" and msg.startswith("failed second:") for level, msg in lines)


def test_trace_file_for_a_bug_report(reg, tmp_path):
    private = tmp_path / "my secret project"
    private.mkdir()
    trace_path = tmp_path / "run.trace.jsonl"
    with TraceHandler(trace_path, private=[private]) as trace:
        with pytest.raises(Exception):
            Executor(disk_cache=None).run(chain_graph(reg, fail=True), on_event=trace, base_dir=private)
    lines = [json.loads(l) for l in trace_path.read_text().splitlines()]
    head = lines[0]
    assert head["trace"] == "audiochain" and head["audiochain"] and head["python"] and "numpy" in head["packages"]
    kinds = [(l["kind"], l["node"]) for l in lines[1:]]
    assert ("failed", "second") in kinds and kinds.index(("started", "tone")) < kinds.index(("failed", "second"))
    failed = next(l for l in lines if l.get("kind") == "failed")
    assert failed["error"]["type"] == "ExecutionError" and "Traceback" in failed["error"]["traceback"]
    assert all(b >= a for a, b in zip([l["t"] for l in lines[1:]], [l["t"] for l in lines[2:]]))
    text = trace_path.read_text()
    assert str(private) not in text and os.path.expanduser("~") + os.sep not in text
    with pytest.raises(ParameterError, match="the file exists, and a trace never replaces a file; give a new name, "
                                             r"or TraceHandler\(..., append=True\)"):
        TraceHandler(trace_path)                         # never replaces a file
    assert trace_path.read_text() == text


def test_a_script_run_again_appends_its_trace_and_leaves_no_file_open(tmp_path):
    """QA54: the README's ``TraceHandler("run.jsonl")`` in a script run twice failed the second time with
    a raw FileExistsError, and the first warned "ResourceWarning: unclosed file"."""
    script = tmp_path / "s.py"
    script.write_text("from nodeflow import Graph, Executor\n"
                      "from nodeflow.callbacks import TraceHandler\n"
                      "trace = TraceHandler('run.jsonl', append=True)\n"
                      "Executor(disk_cache=None).run(Graph(), on_event=trace)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for _ in range(2):
        p = subprocess.run([sys.executable, "-W", "error::ResourceWarning", "-X", "dev", str(script)], cwd=tmp_path,
                           capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 0 and "ResourceWarning" not in p.stderr, p.stderr
    heads = [l for l in (tmp_path / "run.jsonl").read_text().splitlines() if l.startswith('{"trace": "audiochain"')]
    assert len(heads) == 2
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with pytest.raises(ParameterError, match="is not an AudioChain trace, so append=True does not add to it"):
        TraceHandler(notes, append=True)
    assert notes.read_text() == "my notes"


def test_scrub():
    home = os.path.expanduser("~")
    assert scrub(f"{home}/music/take.wav and /data/p/x.wav", ["/data/p"]) == "~/music/take.wav and <folder 1>/x.wav"
    # a short folder name is replaced where it stands as a path, never inside other words (QA: with
    # `-o o` a trace read {"trace": "audi<folder 4>chain", "pyth<folder 4>n": ...})
    doc = '{"trace": "audiochain", "python": "3.11", "torch": "2", "wrote": "o/take.wav", "out": "o", "x": "o.wav"}'
    assert scrub(doc, ["o"]) == ('{"trace": "audiochain", "python": "3.11", "torch": "2", "wrote": "<folder 1>/take.wav", '
                                 '"out": "<folder 1>", "x": "o.wav"}')
    assert scrub(f"{home}x/a.wav {home}", []) == f"{home}x/a.wav ~"


def test_cli_trace(tmp_path):
    import subprocess
    import sys

    import soundfile as sf

    from nodeflow import save
    sf.write(tmp_path / "in.wav", np.zeros((4410, 2), np.float32), 44100)
    g = Graph()
    g.path = tmp_path / "g.msgpack"
    g.add("io.load", id="load", path="in.wav")
    g.add("io.export", id="export", path="out.wav", loudness_lufs=None)
    g.connect("load", "export")
    save(g, g.path)
    p = subprocess.run([sys.executable, "-c", "import sys; from nodeflow.cli import main; sys.exit(main())", "run",
                        str(g.path), "-o", str(tmp_path / "o"), "-q", "--trace", str(tmp_path / "t.jsonl")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "t.jsonl").read_text()
    assert '"kind": "finished", "node": "export"' in text and str(tmp_path) not in text
    p = subprocess.run([sys.executable, "-c", "import sys; from nodeflow.cli import main; sys.exit(main())", "run",
                        str(g.path), "-o", str(tmp_path / "o"), "--trace", str(tmp_path / "t.jsonl")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode != 0 and "the file exists" in p.stderr and len(p.stderr.strip().splitlines()) == 1

    def cli(*argv: str) -> tuple[int, str]:
        from nodeflow.cli import main
        import contextlib
        import io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(list(argv))
        return code, err.getvalue()
    # QA: a folder not made yet was 'a file or folder vanished'; with a sweep it was ignored; a refused run's
    # trace held its header alone
    code, err = cli("run", str(g.path), "-o", str(tmp_path / "o2"), "-q", "--trace", str(tmp_path / "new" / "t.jsonl"))
    assert code == 0 and '"kind": "finished"' in (tmp_path / "new" / "t.jsonl").read_text(), err
    code, err = cli("run", str(g.path), "-o", str(tmp_path / "o3"), "-q", "--sweep", "export.peak_db=-3,-1",
                    "--trace", str(tmp_path / "s.jsonl"))
    assert code == 1 and "--trace" in err and "records one run, and a sweep runs many" in err
    assert not (tmp_path / "s.jsonl").exists() and not (tmp_path / "o3").exists()
    code, err = cli("run", str(g.path), "-o", str(tmp_path / "o4"), "-q", "--set", "load.path=gone.wav",
                    "--trace", str(tmp_path / "r.jsonl"))
    assert code == 1
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"kind": "refused"' in lines[1] and "gone.wav" in lines[1], lines


def test_config_on_invoke_batch_and_stream():
    rec = Recorder()
    chain = gain(gain_db=-6.0)
    x = (np.ones(8), 8000)
    out = chain.invoke(x, config={"callbacks": [rec], "cache": False, "device": "cpu"})
    assert out.frames == 8 and ("finished", "gain") in rec.seen
    rec.seen.clear()
    chain.invoke(x, config={"callbacks": rec, "cache": False})         # nothing cached: it runs again
    assert ("finished", "gain") in rec.seen
    assert len(chain.batch([x, x], config={"cache": "memory", "max_workers": 1})) == 2
    pieces = list((split(parts=2) | gain()).stream(x, config={"cache": False}))
    assert len(pieces) == 2
    with pytest.raises(ParameterError, match="unknown key.*'callback'"):
        chain.invoke(x, config={"callback": rec})


def test_a_callback_that_cannot_be_called_is_refused_before_the_run(caplog):
    """QA68 D8: ``callbacks=["my_handler"]`` ran, and logged a TypeError traceback at every event."""
    from tests.nodeflow.stubs import CALLS
    chain = gain(gain_db=-6.0)
    x = (np.ones(8), 8000)
    before = CALLS["gain"]
    for given, said in ((["my_handler"], "'my_handler'"), ([Recorder(), 3], "3"), ("my_handler", "'my_handler'")):
        with pytest.raises(ParameterError, match=rf"^config: callbacks(: |=){said} is not callable; give a "
                                                 r"CallbackHandler or a function"):
            chain.invoke(x, config={"callbacks": given, "cache": False})
        with pytest.raises(ParameterError, match=r"^config: callbacks"):
            chain.batch([x], config={"callbacks": given})
        with pytest.raises(ParameterError, match=r"^config: callbacks"):
            list(chain.stream(x, config={"callbacks": given}))
    assert CALLS["gain"] == before and not caplog.records        # nothing ran, nothing was logged
    rec = Recorder()
    chain.invoke(x, config={"callbacks": (rec,), "cache": False})   # a tuple is a list of handlers too
    assert ("finished", "gain") in rec.seen


@pytest.mark.parametrize("config, said", [
    ({"max_workers": 0}, "config: max_workers=0; expected a whole number of at least 1"),
    ({"max_workers": "many"}, "config: max_workers='many'"),
    ({"device": "tpu"}, "config: device='tpu': 'tpu' is not a device"),
])
def test_a_config_the_cli_would_refuse_is_refused(config, said):
    """QA: these were accepted without a word (the CLI refuses --jobs 0 and --device tpu)."""
    with pytest.raises(ParameterError) as e:
        gain().invoke((np.ones(8), 8000), config=config)
    assert str(e.value).startswith(said), str(e.value)


def test_an_executor_refuses_no_workers_and_an_empty_output_folder(tmp_path, monkeypatch):
    from nodeflow import Executor, Graph
    with pytest.raises(ParameterError, match="max_workers=0"):
        Executor(max_workers=0)
    monkeypatch.chdir(tmp_path)
    g = Graph()
    g.add("io.export", id="e", path="x.wav")
    with pytest.raises(ParameterError, match='output_dir="": empty output folder'):
        Executor(disk_cache=None).run(g, output_dir="", inputs={"e.audio": (np.ones(8), 8000)})
    assert not list(tmp_path.iterdir())            # it wrote x.wav into the current folder


def test_a_config_that_an_executor_given_too_would_ignore_is_refused(reg):
    """QA: config={"cache": False} with executor= ran from the executor's cache, silently."""
    from nodeflow.chain import Chain, Step
    chain = Chain.start(Step(reg["test.tone"], {}))
    for config in ({"cache": False}, {"max_workers": 2}, {"cache": "memory"}):
        with pytest.raises(ParameterError, match="sets up an executor of its own, but executor= was given too"):
            chain.invoke(config=config, executor=Executor(disk_cache=None))
    chain.invoke(config={"cache": True}, executor=Executor(disk_cache=None))
