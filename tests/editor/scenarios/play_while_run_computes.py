"""Play pressed on a node the run is computing (QA70 D3): the node's line goes on telling the run's
truth, "running for N s" and then "done in N s", while the preview waits for that value."""
from tests.editor._graphs import add_slow_node


def main(app, drv):
    add_slow_node(app, quiet=True, steps=60)           # one long call, no progress (as Rubber Band)
    drv.frames(5)
    drv.key("F5")
    drv.until(lambda: (st := app.runner.states.get("slow")) is not None and st.kind == "running",
              20, "slow to run")
    before = app.runner.states["slow"].kind
    drv.click_item("play::slow::out")
    seen = []
    def note():
        text = app.dpg.get_value("status::slow")
        if not seen or seen[-1] != text:
            seen.append(text)
        return not app.runner.jobs
    drv.until(note, 30, "the run and the preview to end")
    drv.until(lambda: app.audition.now == ("slow", "out"), 10, "slow to play")
    drv.frames(3)
    note()
    drv.dump({"before": before, "labels": seen, "kind_after": app.runner.states["slow"].kind})
    return 0
