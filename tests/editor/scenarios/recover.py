"""Start after a crash: the recovery offer is shown; click Recover with the mouse."""


def main(app, drv):
    drv.frames(5)
    out = {"offered": bool(app.dpg.is_item_shown("recovery")), "offer_text": app.dpg.get_value("recovery::text"),
           "before": sorted(app.state()["links"])}
    drv.click_item("recovery::yes")
    drv.frames(5)
    out["offer_closed"] = not app.dpg.is_item_shown("recovery")
    out["drawn_links"] = sorted(str(l) for l in app.view.links)
    drv.screenshot(__import__("os").environ["AUDIOCHAIN_TEST_TMP"] + "/recovered.png")
    drv.dump(out)
