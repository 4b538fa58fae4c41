"""Open a graph that carries no positions: the editor lays it out without overlaps."""


def main(app, drv):
    drv.frames(8)
    rects = {n: app.view.node_rect(n) for n in app.view.nodes}
    drv.dump({"rects": rects})
