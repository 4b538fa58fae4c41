"""Open a graph from another machine: what is missing is marked on the nodes; re-point the input file
by typing its new path (real keyboard) after checking the '...' button opens the file dialog."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(6)
    nodes = list(app.doc.graph.nodes)
    out = {"opened_status": app.status_text, "opened_error": app.status_error, "status_tip": dpg.get_value("status_tip"),
           "status_shown": dpg.get_value("status"),
           "status_room": [dpg.get_text_size(dpg.get_value("status"))[0],
                           dpg.get_viewport_client_width() - dpg.get_item_rect_min("status")[0]],
           "problem_text": {n: dpg.get_value(f"problem::{n}") for n in nodes},
           "problem_tip": {n: dpg.get_value(f"problemtip::{n}") for n in nodes},
           "problem_shown": {n: bool(dpg.is_item_shown(f"problem::{n}")) for n in nodes},
           "verb_ports": [t for t in ("attr::in::verb::audio", "attr::out::verb::out") if dpg.does_item_exist(t)],
           "drawn_links": sorted(str(l) for l in app.view.links),
           "broken_theme": {n: dpg.get_item_theme(app.view.node_tag(n)) == app.view.node_theme("broken") for n in nodes}}
    drv.screenshot(tmp / "shared.png")
    app.validate()                                          # Graph > Validate
    drv.frames(2)
    out["validate_listed"] = [dpg.get_value(i) for i in dpg.get_item_children("problems::list", 1)]
    dpg.hide_item("problems")
    drv.click_item("browse::vox::path")
    drv.frames(2)
    out["dialog_open"] = bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))
    dpg.hide_item("filedialog")
    drv.frames(3)
    new = tmp / "received" / "vox3.wav"
    drv.click_item("param::vox::path")
    out["selected_while_typing"] = app.view.selected_nodes()
    drv.key("BackSpace")                                    # edits the text, never deletes the node
    drv.key("Delete")
    out["nodes_while_typing"] = sorted(app.doc.graph.nodes)
    drv.key("ctrl+a")
    drv.type_text(str(new))
    drv.key("Return")
    drv.frames(5)
    out["vox_box"] = dpg.get_value("param::vox::path")      # the file name shows; the tooltip has the path
    out["vox_tip"] = dpg.get_value("pathtip::vox::path")
    out["after_problem_vox"] = dpg.get_value("problem::vox")
    out["after_shown_vox"] = bool(dpg.is_item_shown("problem::vox"))
    out["vox_broken_after"] = dpg.get_item_theme(app.view.node_tag("vox")) == app.view.node_theme("broken")
    out["bundled"] = app.files.bundle(tmp / "gift")          # File > Save as bundle... after the dialog
    out["bundle_status"] = app.status_text
    # a long one-line message keeps its fix in view, the cut made before it (QA62 D11)
    app.say("no audio output device (PortAudio: Error querying device -1: " + "no device; " * 20 + "and more); "
            "start a sound server (pulseaudio --start), or choose an output with Player(device=...)", error=True)
    drv.frames(3)
    out["long_status"] = [dpg.get_value("status"), dpg.get_text_size(dpg.get_value("status"))[0],
                          dpg.get_viewport_client_width() - dpg.get_item_rect_min("status")[0]]
    drv.screenshot(tmp / "long_status.png")
    from nodeflow.editor.audiodevice import _no_device_hint     # the player's own fix, longer than the bar (QA65)
    app.say(f"no audio output device (PortAudio: Error querying device -1); {_no_device_hint()}", error=True)
    drv.frames(3)
    out["device_status"] = [dpg.get_value("status"), dpg.get_text_size(dpg.get_value("status"))[0],
                            dpg.get_viewport_client_width() - dpg.get_item_rect_min("status")[0]]
    drv.dump(out)
