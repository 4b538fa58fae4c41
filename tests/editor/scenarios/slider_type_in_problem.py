"""A double-click to type a crossfade's duration, through real clicks and keys, where the double-click's
first click lands far right on the slider: that value is past the inputs' length, a problem the node
shows.  QA: the problem line grew the node by a line as the first click landed, the slider moved down,
the second click missed it, no box opened and the typed '750 ms' was lost.  The node keeps its size
through the double-click; the box opens on the old value; what is typed is set."""
import time

SLOW_S = 0.2        # a first click and the frames after it that took longer may miss ImGui's 0.3 s


def main(app, drv):
    dpg = app.dpg
    drv.frames(10)
    tag = "param::into_variations::duration_s"
    out = {"rect_before": app.view.node_rect("into_variations")}

    def duration():
        return app.doc.graph.nodes["into_variations"].params.get("duration_s")

    (x0, y0), (x1, y1) = dpg.get_item_rect_min(tag), dpg.get_item_rect_max(tag)
    drv.move((x0 + (x1 - x0) * 0.3, (y0 + y1) / 2))     # on the slider (its rect holds the label too)
    out["gaps"] = []
    for _ in range(4):      # a try whose presses came too far apart on a loaded machine is no double-click
        t0 = time.monotonic()
        drv.xdo("mousedown", "1", frames=1)    # the first click: its value makes a problem, frames go by
        drv.xdo("mouseup", "1", frames=5)
        out["after_first"] = app.view.node_rect("into_variations")
        out["value_after_first"] = duration()
        out["gaps"].append(round(time.monotonic() - t0, 3))
        drv.xdo("mousedown", "1", frames=1)    # the second, within ImGui's double-click time (0.3 s)
        drv.xdo("mouseup", "1", frames=4)
        drv.frames(2)
        out["typing"] = dpg.does_item_exist("typein::" + tag) and bool(dpg.is_item_active("typein::" + tag))
        if out["typing"] or out["gaps"][-1] < SLOW_S:
            break
        drv.wait(0.7)       # past the double-click time: the next try's first click is a click of its own
    out["rect_typing"] = app.view.node_rect("into_variations")
    out["opened_on"] = duration()
    drv.key("ctrl+a")
    drv.type_text("750 ms")
    drv.key("Return")
    drv.frames(3)
    out["typed"] = duration()
    out["undo"] = app.doc.history.undo_label
    drv.wait(0.7)
    drv.frames(3)
    out["problem_after"] = dpg.get_value("problem::into_variations")
    out["rect_after"] = app.view.node_rect("into_variations")
    semis = "param::vary::semitones"           # a typed value reads as typed (QA: 3.25 st read 3.2 st)
    drv.double_click(drv.across(semis, 0.3))
    drv.frames(2)
    drv.key("ctrl+a")
    drv.type_text("3.25")
    drv.key("Return")
    drv.frames(3)
    out["semitones"] = app.doc.graph.nodes["vary"].params["semitones"]
    out["semitones_shown"] = dpg.get_item_configuration(semis)["format"] % dpg.get_value(semis)
    drv.dump(out)
