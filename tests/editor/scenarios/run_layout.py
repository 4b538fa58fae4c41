"""Run the opened graph (F5) to the end and report where each node is drawn: a run adds a status
line and a waveform preview to every node, so the nodes grow."""


def main(app, drv):
    drv.frames(10)
    drv.key("F5")
    drv.frames(5)
    drv.until(lambda: not app.runner.running, 120, "the run to end")
    drv.frames(20)
    drv.dump({"rects": {n: app.view.node_rect(n) for n in app.view.nodes},
              "states": {n: (app.runner.states[n].kind if n in app.runner.states else None) for n in app.view.nodes}})
