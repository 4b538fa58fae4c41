"""After a crash, the work it left is offered wherever the user goes for it: started without a file
(the newest left for any graph), or opening the graph as File > Open recent does.  Recover or Discard
by real clicks; either way the file left behind is gone after."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    from nodeflow.editor.files import state_dir
    folder = (app.state_dir or state_dir()) / "recovery"
    left = lambda: sorted(p.name for p in folder.glob("chain-*.msgpack"))   # noqa: E731
    drv.frames(5)
    out = {"at_start": bool(app.dpg.is_item_shown("recovery")), "start_text": app.dpg.get_value("recovery::text"),
           "left_before": left()}
    if os.environ.get("RECOVER_HOW") == "open":
        app.files.open(tmp / "chain.msgpack")             # what Open recent does
        drv.frames(5)
        out["on_open"] = bool(app.dpg.is_item_shown("recovery"))
        out["open_text"] = app.dpg.get_value("recovery::text")
        drv.click_item("recovery::yes")
    else:
        drv.click_item("recovery::no")
    drv.frames(5)
    app.autosaver.flush()
    out["offer_closed"] = not app.dpg.is_item_shown("recovery")
    out["left_after"] = left()
    out["own"] = f"{os.getpid()}"
    drv.dump(out)
