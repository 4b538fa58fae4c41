"""A slider's value is kept as the slider shows it: a click at a quarter of the gain slider sets a
value with one decimal (the slider's "%.1f dB"), not its float32 neighbour, in the graph and in the
status bar."""


def main(app, drv):
    drv.frames(6)
    tag = "param::gain::gain_db"
    (x0, y0), (x1, y1) = app.dpg.get_item_rect_min(tag), app.dpg.get_item_rect_max(tag)
    drv.click((x0 + (x1 - x0) * 0.25, (y0 + y1) / 2))
    drv.frames(3)
    drv.dump({"gain": app.doc.graph.nodes["gain"].params["gain_db"], "status": app.status_text})
