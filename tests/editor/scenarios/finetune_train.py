"""Tools > Fine-tune MusicGen: open it with real clicks, fill it, train, use the adapter; stop and continue."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(4)
    out = {"tools_loaded": list(app.tools.loaded), "failed": dict(app.tools.failed)}
    # real clicks: the menu bar's Tools menu, then its one item (menus report a position, not a rect:
    # the label sits at pos + text size; the open popup's height is its rect_size, below the menu bar)
    (x, y), (w, h) = dpg.get_item_state("menu_tools")["pos"], dpg.get_text_size("Tools")
    drv.click((x + w / 2 + 6, y + h / 2 + 3))
    popup = drv.until(lambda: dpg.get_item_state("menu_tools").get("rect_size", [0, 0])[1], 5, "the Tools menu")
    drv.click((x + 40, y + h + 7 + popup / 2))
    dlg = app.tools.instances["finetune"]
    drv.frames(3)
    out["opened"] = dlg.state()["shown"]
    out["default_out"] = dpg.get_value("finetune::out")
    out["default_base"] = dpg.get_value("finetune::base")

    # Browse opens the folder dialog at the nearest existing folder of what the box holds; a real
    # click on its OK button puts that folder in the box
    dpg.set_value("finetune::data", str(tmp / "recordings" / "not-yet"))
    drv.click_item("finetune::data::browse")
    drv.frames(3)
    out["browse_shown"] = bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))
    drv.click_item("filedialog::ok")
    drv.frames(2)
    out["data_field"] = dpg.get_value("finetune::data")
    dpg.set_value("finetune::base", str(tmp / "tiny-musicgen"))
    dpg.set_value("finetune::out", str(tmp / "adapters" / "mine"))
    drv.click_item("finetune::prompt")
    drv.type_text("calm piano")
    drv.click_item("finetune::steps")
    drv.key("ctrl+a")
    drv.type_text("24")
    drv.key("Return")
    dpg.set_value("finetune::rank", 4)
    dpg.set_value("finetune::alpha", 8.0)
    dpg.set_value("finetune::lr", 1e-2)
    dpg.set_value("finetune::batch", 2)
    drv.frames(2)
    out["typed"] = [dpg.get_value("finetune::prompt"), dpg.get_value("finetune::steps")]

    seen = []                                            # what the dialog showed, frame by frame

    def watch(cond):
        def f():
            st = dlg.state()
            seen.append((st["phase"], round(st["progress"], 4), st["overlay"], st["loss_text"]))
            return cond(st)
        return f
    drv.click_item("finetune::start")
    drv.until(watch(lambda st: not st["running"] and st["phase"] in ("finished", "failed", "stopped")), 120,
              "the fine-tuning to finish")
    st = dlg.state()
    out["run1"] = {k: st[k] for k in ("phase", "progress", "overlay", "loss_text", "message", "use_shown")}
    out["run1_events"] = st["events"]
    out["seen_train"] = [s for s in seen if s[0] == "train"]
    out["seen_data"] = [s for s in seen if s[0] == "data"]
    out["adapter"] = str(dlg.result.adapter) if dlg.result else None
    out["status_after_run"] = app.status_text
    drv.frames(3)
    drv.screenshot(tmp / "finetune_done.png")

    drv.click_item("finetune::use")                      # Use in graph: one undoable edit
    drv.frames(3)
    out["nodes_after_use"] = {n: {"type": i.type, "params": {k: getattr(v, "value", v) for k, v in i.params.items()}}
                              for n, i in app.doc.graph.nodes.items()}
    out["undo_label"] = app.doc.history.undo_label
    out["drawn_after_use"] = sorted(app.view.nodes)
    app.undo()
    drv.frames(2)
    out["nodes_after_undo"] = sorted(app.doc.graph.nodes)
    app.redo()
    drv.frames(2)
    out["nodes_after_redo"] = sorted(app.doc.graph.nodes)

    # Stop: a long run, stopped after a few steps, saves a checkpoint; 'continue' goes on from it
    dpg.set_value("finetune::out", str(tmp / "adapters" / "stopped"))
    dpg.set_value("finetune::steps", 100000)
    drv.click_item("finetune::start")
    drv.until(lambda: dlg.phase == "train" and dlg.events and dlg.events[-1].step >= 3, 120, "training steps")
    (x0, y0), (x1, y1) = dpg.get_item_state("finetune::stop")["rect_min"], dpg.get_item_state("finetune::stop")["rect_max"]
    drv.move(((x0 + x1) / 2, (y0 + y1) / 2))           # a real click on Stop, read in the frame it lands
    drv.xdo("mousedown", 1, frames=1)
    drv.xdo("mouseup", 1, frames=0)
    drv.until(lambda: dlg._cancel.is_set(), 5, "the Stop click")
    out["stopping_overlay"] = dlg.state()["overlay"]
    drv.until(lambda: not dlg.running and dlg.phase != "train", 60, "the run to stop")
    st = dlg.state()
    out["stop"] = {k: st[k] for k in ("phase", "overlay", "message", "resume", "use_shown")}
    out["stopped_step"] = dlg.result.step
    out["checkpoints"] = sorted(p.name for p in (tmp / "adapters" / "stopped" / "checkpoints").iterdir())
    dpg.set_value("finetune::steps", dlg.result.step + 3)
    drv.click_item("finetune::start")                    # 'continue' was ticked by the stop
    drv.until(lambda: not dlg.running and dlg.phase in ("finished", "failed"), 120, "the continued run")
    st = dlg.state()
    out["continued"] = {"phase": st["phase"], "steps": [e[1] for e in st["events"] if e[0] == "train"],
                        "message": st["message"]}
    drv.dump(out)
