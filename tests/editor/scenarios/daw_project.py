"""Run the demo from the Run button, then File > Export DAW project...: the dialog opens, and the
project written from the run's export has the music's tempo and meter."""
import os
import shutil
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(5)
    out = {"before_run": app.files.daw(tmp / "early")}      # nothing rendered yet: one clear line
    out["before_status"] = app.status_text
    drv.click_item("run_button")
    drv.until(lambda: app.runner.states.get("export") and app.runner.states["export"].kind == "done", 60,
              "the demo's export to finish")
    drv.frames(3)
    app.files.ask_daw()                                     # File > Export DAW project...
    drv.frames(2)
    out["dialog_open"] = bool(app.dpg.does_item_exist("filedialog") and app.dpg.is_item_shown("filedialog"))
    app.dpg.hide_item("filedialog")
    out["written"] = app.files.daw(tmp / "demo-project")
    out["status"] = app.status_text
    out["exported"] = app.runner.outputs["export"][1]["out"]
    shutil.copy(out["exported"], tmp / "exported-copy.wav")
    drv.dump(out)
