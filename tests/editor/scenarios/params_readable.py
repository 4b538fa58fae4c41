"""Parameters people can read, with real events: formats per unit, a gentle 50 px drag on a fade
(declared up to 600 s), a long drag bounded by the 1.5 s clip (its length known from the file's
header, after a run and after an edit upstream), a start typed past the clip's end refused, and
settings that apply only with ``profile=custom`` hidden until the profile is custom (and again
after Ctrl+Z)."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(8)
    out = {"formats": {t: dpg.get_item_configuration(f"param::{t}").get("format")
                       for t in ("gain::gain_db", "fade::fade_out_s", "window::size", "window::custom_tokens_per_s")},
           "types": {t: dpg.get_item_type(f"param::{t}").split("::")[-1] for t in ("gain::gain_db", "fade::fade_out_s")}}
    shown = lambda: {n: bool(dpg.is_item_shown(f"pattr::window::{n}"))             # noqa: E731
                     for n in ("custom_rate_hz", "custom_tokens_per_s", "custom_window_tokens", "size")}
    out["shown_musicgen"] = shown()
    out["window_h_musicgen"] = app.view.node_rect("window")[1][1] - app.view.node_rect("window")[0][1]
    drv.screenshot(tmp / "params_before.png")
    # a real 50 px drag on the fade-out (0..600 s): a small change, not a jump to minutes
    (x0, y0), (x1, y1) = app.dpg.get_item_state("param::fade::fade_out_s")["rect_min"], \
        app.dpg.get_item_state("param::fade::fade_out_s")["rect_max"]
    mid = ((x0 + x1) / 2, (y0 + y1) / 2)
    drv.drag(mid, (mid[0] + 50, mid[1]), steps=10)
    out["fade_after_50px"] = app.doc.graph.nodes["fade"].params["fade_out_s"]
    out["max_before_run"] = dpg.get_item_configuration("param::fade::fade_out_s")["max_value"]
    # after a run the input's length (1.5 s) bounds it: a long drag stops at the clip's end
    drv.click_item("run_button")
    drv.until(lambda: not app.runner.jobs, 30, "the run to finish")
    drv.frames(4)
    out["max_after_run"] = dpg.get_item_configuration("param::fade::fade_out_s")["max_value"]
    drv.drag(mid, (mid[0] + 400, mid[1]), steps=20)
    out["fade_after_400px"] = app.doc.graph.nodes["fade"].params["fade_out_s"]
    app.doc.set_param("gain", "gain_db", -7.0)        # an edit upstream: the run's output is out of date
    drv.frames(4)
    out["max_after_upstream_edit"] = dpg.get_item_configuration("param::fade::fade_out_s")["max_value"]
    def type_into(typed: str, key: str, box: str, nid: str) -> None:
        """Real keys into a parameter: a box clicked, a slider double-clicked (a box opens over it)."""
        tag = f"param::{nid}::{box}"
        if dpg.get_item_type(tag).endswith("InputText"):
            drv.click_item(tag)
        else:
            (x0, y0), (x1, y1) = dpg.get_item_rect_min(tag), dpg.get_item_rect_max(tag)
            drv.double_click(((x0 + x1) / 2, (y0 + y1) / 2))
            drv.frames(2)
        drv.key("ctrl+a")
        drv.type_text(typed)
        drv.key("Return")
        drv.frames(4)
        out[key] = {"value": app.doc.graph.nodes[nid].params[box], "status": app.status_text,
                    "error": app.status_error}
    for typed, key, box, nid in (("5", "trim_typed_5", "start_s", "trim"), ("0.5", "trim_typed_half", "start_s", "trim"),
                                 ("9", "trim_end_9", "end_s", "trim"),      # trim's start and end: text boxes
                                 ("1:30", "load_typed_90", "start_s", "load")):   # the load's, by its file (QA95 D2)
        type_into(typed, key, box, nid)
    drv.click_item("run_button")                       # the trim's output now known (its start set)
    drv.until(lambda: not app.runner.jobs, 30, "the run to finish")
    drv.frames(4)
    type_into("9999", "xfade_typed_9999", "duration_s", "xfade")        # a slider: typed in
    type_into("9999", "stitch_typed_9999", "fade_s", "stitch")          # a box (an optional value)
    from nodeflow.editor.paramtext import tooltip
    out["start_tip"] = tooltip(app.doc.graph.spec("trim").params["start_s"])
    # the window's tempo, meter and note value grid bars and beats: greyed while it cuts in seconds
    tempo = ("bpm", "beats_per_bar", "note_value")
    greyed = lambda: {n: dpg.get_item_theme(f"param::window::{n}") in ("theme::greyed",       # noqa: E731
                                                                       dpg.get_alias_id("theme::greyed"))
                      for n in tempo + ("size",)}
    out["greyed_seconds"] = greyed()
    app.doc.set_param("window", "unit", "bars")
    drv.frames(4)
    out["greyed_bars"] = greyed()
    app.doc.undo()
    drv.frames(4)
    out["greyed_after_undo"] = greyed()
    # profile=custom shows the custom settings; undo hides them again
    app.doc.set_param("window", "profile", "custom")
    drv.frames(4)
    out["shown_custom"] = shown()
    drv.screenshot(tmp / "params_custom.png")
    dpg.clear_selected_nodes("canvas")
    drv.click((700, 740))                     # empty canvas: the keyboard goes to the canvas, not a box
    drv.key("ctrl+z")
    drv.frames(3)
    out["profile_after_undo"] = str(app.doc.graph.nodes["window"].params["profile"])
    out["shown_after_undo"] = shown()
    drv.screenshot(tmp / "params_after.png")
    drv.dump(out)
