"""A link dragged from gain's output (gain near the canvas' right edge) and dropped near that edge,
then "fade" typed in the search and Enter: where the new node is drawn."""
from tests.editor._graphs import add_by_link_drop


def main(app, drv):
    drv.frames(8)
    load_before = app.view.node_rect("load")
    a = app.view.pin_pos("gain", "out", "out")
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    new = add_by_link_drop(app, drv, a, (cx1 - 30, a[1] - 150), "fade")
    drv.dump({"new": new, "canvas": [[cx0, cy0], [cx1, cy1]], "gain": app.view.node_rect("gain"),
              "rect": app.view.node_rect(new[0]) if new else None, "links": sorted(app.state()["links"]),
              "positions": app.doc.graph.editor["positions"], "undo": app.doc.history.undo_label,
              **undone(app, drv, load_before)})


def undone(app, drv, load_before) -> dict:
    """Ctrl+Z takes the node and the pan back (QA62 D10: the view stayed panned, the sources cut
    off); Ctrl+Shift+Z (redo) shows the node again where it was added."""
    panned = app.view.node_rect("load")
    drv.key("ctrl+z")
    drv.frames(4)
    after_undo = app.view.node_rect("load")
    drv.key("ctrl+shift+z")
    drv.frames(4)
    after_redo, nodes_after_redo = app.view.node_rect("load"), sorted(app.doc.graph.nodes)
    drv.move((400, 400))
    drv.key("ctrl+minus")                       # zoomed since: undo leaves the view where it is (QA65 D2)
    drv.frames(4)
    zoomed = app.view.node_rect("load")
    drv.key("ctrl+z")
    drv.frames(4)
    return {"load_before": load_before, "load_panned": panned, "load_after_undo": after_undo,
            "load_after_redo": after_redo, "nodes_after_redo": nodes_after_redo,
            "zoomed": [zoomed, app.view.node_rect("load")], "nodes_after_zoomed_undo": sorted(app.doc.graph.nodes)}
