"""Every parameter's widget as dearpygui built it (its kind and settings), then a real click on a
path parameter's "..." button."""


def main(app, drv):
    dpg = app.dpg
    drv.frames(4)
    widgets = {}
    for nid in sorted(app.doc.graph.nodes):
        for name in app.doc.graph.spec(nid).params:
            tag = f"param::{nid}::{name}"
            if not dpg.does_item_exist(tag):
                widgets[f"{nid}.{name}"] = None
                continue
            cfg = dpg.get_item_configuration(tag)
            widgets[f"{nid}.{name}"] = {
                "type": dpg.get_item_type(tag).split("::")[-1],
                **{k: cfg[k] for k in ("min_value", "max_value", "format", "multiline", "items") if k in cfg},
                "browse": dpg.does_item_exist(f"browse::{nid}::{name}")}
    shown_before = bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))
    drv.click_item("browse::load::path")
    drv.frames(3)
    shown_after = bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))
    drv.dump({"widgets": widgets, "dialog_before": shown_before, "dialog_after_click": shown_after})
