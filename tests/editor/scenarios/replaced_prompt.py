"""A model's prompt box is greyed while its ``text`` input is linked (that link replaces the prompt),
and plain again once the link goes: what is typed into the greyed box is refused, saying why (QA: it
stayed editable and what was typed there was silently ignored)."""


def main(app, drv):
    dpg, doc = app.dpg, app.doc
    doc.add_node("text.prompt_template", (40, 60), node_id="words")
    doc.add_node("models.musicgen", (420, 60), node_id="gen")
    drv.frames(8)
    tag = "param::gen::prompt"
    greyed = lambda: dpg.get_item_theme(tag) in ("theme::greyed", dpg.get_alias_id("theme::greyed")) \
        if dpg.does_alias_exist("theme::greyed") else False  # noqa: E731
    out = {"before": greyed(), "rect_before": app.view.node_rect("gen")}
    doc.connect("words", "out", "gen", "text")
    drv.frames(4)
    out["linked"] = greyed()
    out["rect_linked"] = app.view.node_rect("gen")
    prompt = doc.graph.nodes["gen"].params.get("prompt")
    (x0, y0), (x1, y1) = dpg.get_item_rect_min(tag), dpg.get_item_rect_max(tag)
    drv.click(((x0 + x1) / 2, (y0 + y1) / 2))
    drv.type_text("ignored words")
    drv.key("Return")
    drv.frames(3)
    out["typed_while_linked"] = doc.graph.nodes["gen"].params.get("prompt") == prompt
    out["status"] = app.status_text
    drv.screenshot(app_tmp() / "replaced_prompt.png")
    doc.undo()                                  # the link goes
    drv.frames(4)
    out["unlinked"] = greyed()
    drv.dump(out)


def app_tmp():
    import os
    from pathlib import Path
    return Path(os.environ["AUDIOCHAIN_TEST_TMP"])
