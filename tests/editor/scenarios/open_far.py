"""Open a graph too big to fit whose nodes all lie far from the view; count the nodes drawn in view."""


def main(app, drv):
    drv.frames(12)
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    seen = []
    for n in app.doc.graph.nodes:
        r = app.view.node_rect(n)
        if r is not None and n not in app.culler.hidden and r[0][0] >= cx0 and r[1][0] <= cx1 \
                and r[0][1] >= cy0 and r[1][1] <= cy1:
            seen.append(n)
    drv.dump({"seen": seen, "status": app.status_text, "dirty": app.doc.dirty,
              "first": list(app.doc.graph.editor["positions"]["n0"])})
