"""Ctrl+L at 80% on a chain too long to show whole even in full-size bands, then Home: the graph is
fitted in compact bands.  Every link's two pins are read from the window as drawn."""


def main(app, drv):
    drv.frames(10)
    app.canvas.zoom(-1)                     # 80%
    drv.frames(6)
    app.dpg.clear_selected_nodes("canvas")
    drv.move((700, 700))
    for key in ("ctrl+l", "Home"):
        drv.key(key)
        drv.frames(10)
        drv.until(lambda: not app.canvas.busy, what=f"the fit after {key}")
        drv.frames(6)
    view = app.view
    drv.dump({"zoom": view.zoom.scale, "compact": view.compact, "canvas": app.wiring.canvas_rect(),
              "links": [[k.src, k.dst, view.pin_pos(k.src, k.src_port, "out"), view.pin_pos(k.dst, k.dst_port, "in")]
                        for k in app.doc.graph.links]})
