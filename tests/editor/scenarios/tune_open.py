"""`audiochain edit TUNE_FOLDER`: what the window opened with."""


def main(app, drv):
    drv.frames(5)
    drv.dump({"doc_path": str(app.doc.path), "rows": len(app.tune.rows),
              "panel_shown": app.dpg.is_item_shown("tune"), "folder": app.dpg.get_value("tune::folder")})
