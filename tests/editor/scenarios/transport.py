"""The transport on an audio output, through real clicks, with the null sink's monitor recorded:
run, click the waveform at its middle (seek), play/pause/resume, then play the export (its file), then
shift+click twice to loop a region."""
import os
import threading
import time
from pathlib import Path

import numpy as np


class Recorder:
    """The null sink's monitor, recorded in one stream per take."""

    def __init__(self, sd):
        self.sd, self.chunks, self.started = sd, [], threading.Event()

    def __enter__(self):
        def cb(indata, frames, time_info, status):
            self.chunks.append(indata.copy())
            self.started.set()
        self.stream = self.sd.InputStream(samplerate=48000, channels=2, dtype="float32", callback=cb)
        self.stream.start()
        assert self.started.wait(10), "no data from the null sink's monitor"
        return self

    def __exit__(self, *exc):
        self.stream.stop()
        self.stream.close()

    def data(self):
        return np.concatenate(self.chunks) if self.chunks else np.zeros((0, 2), np.float32)

    def silent_for(self, seconds):
        x = self.data()[:, 0]
        loud = np.flatnonzero(np.abs(x) > 1e-3)
        return len(loud) > 0 and len(x) - loud[-1] > seconds * 48000


def main(app, drv):
    import sounddevice as sd
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    out = {}
    decoded_on = out["decoded_on"] = []                # the threads that decode the export's file

    def on_thread(decode):
        def decoding(path):
            decoded_on.append(threading.current_thread().name)
            return decode(path)
        return decoding
    app.audition.files._decode = on_thread(app.audition.files._decode)     # every decode goes through it
    drv.frames(5)
    out["size_before"] = app.canvas.node_sizes()
    drv.key("F5")
    drv.until(lambda: not app.runner.jobs and "gain.out" in app.state()["previews"], 60, "the run")
    drv.frames(5)
    out["size_after_run"] = app.canvas.node_sizes()
    drv.screenshot(tmp / "transport_ran.png")

    def wait_end(rec):
        drv.until(lambda: app.audition.now is None, 30, "the preview to end")
        end = time.monotonic() + 30                    # the sound's tail reaches the monitor
        while time.monotonic() < end and not rec.silent_for(0.3):
            drv.frames(1)

    # 1. a click on the middle of gain's waveform plays from the middle
    from nodeflow.editor import items
    (x0, y0), (x1, y1) = items.rect("plot::gain::out")
    with Recorder(sd) as rec:
        drv.click(((x0 + x1) / 2, (y0 + y1) / 2 - 6))
        drv.until(lambda: app.audition.now == ("gain", "out"), 20, "the seek to play")
        out["seek_offset_s"] = app.audition.offset_s
        out["seek_status"] = app.status_text
        levels = []
        while app.audition.now is not None:
            drv.frames(1)
            if app.view.transport.get(("gain", "out"), (None, None))[1]:
                levels.append(app.view.transport[("gain", "out")][1])
        out["seek_levels"] = levels
        wait_end(rec)
    np.save(tmp / "seek.npy", rec.data())

    # 1b. the pointer moved onto the waveform and clicked at once (a flick, a pen, a touch screen):
    # the seek lands under the pointer (it went to the previous click's place: QA)
    drv.move((x0 - 150, y1 + 120))                       # off the waveform
    drv.frames(3)
    drv.xdo("mousemove", *drv.screen((x0 + (x1 - x0) * 0.25, (y0 + y1) / 2 - 6)), "click", "1", frames=3)
    drv.until(lambda: app.audition.now == ("gain", "out"), 20, "the flick's seek to play")
    out["flick_offset_s"] = app.audition.offset_s
    app.stop_audio()
    drv.frames(3)

    # 1c. a click on the waveform while it plays moves the sound there in the same stream (no gap)
    with Recorder(sd) as rec:
        drv.click_item("play::gain::out")
        drv.until(lambda: (app.audition.playhead() or (0, 0, 0))[2] > 0.3, 20, "0.3 s played")
        clicked = time.monotonic()
        drv.click((x0 + (x1 - x0) * 0.75, (y0 + y1) / 2 - 6))
        out["seek_playing_status"] = app.status_text
        end = time.monotonic() + app.audition.player().latency_s + 0.2
        while time.monotonic() < end:
            drv.frames(1)
        out["seek_playing_head"] = (app.audition.playhead() or (0, 0, 0))[2]
        out["seek_playing_waited"] = time.monotonic() - clicked     # a busy machine's frames run past `end`
        wait_end(rec)
    np.save(tmp / "seek_playing.npy", rec.data())

    # 2. play, pause at about 0.8 s, wait, resume: the clip goes on from where it stopped
    with Recorder(sd) as rec:
        drv.click_item("play::gain::out")
        drv.until(lambda: app.audition.now == ("gain", "out"), 20, "play")
        out["label_playing"] = dpg.get_item_label("play::gain::out")
        levels_first = []
        drv.until(lambda: (levels_first.append(app.view.transport.get(("gain", "out"), (0, None))[1]) or
                           (app.audition.playhead() or (0, 0, 0))[2] > 0.8), 20, "0.8 s played")
        drv.screenshot(tmp / "transport_playing.png")
        head_before = app.view.head_at.get(("gain", "out"))
        drv.frames(2)
        px = drv.screenshot()                           # a frame drawn between these two playheads
        out["shot_head_s"] = [head_before, app.view.head_at.get(("gain", "out"))]
        np.save(tmp / "playing_px.npy", np.round(px[..., :3] * 255).astype(np.uint8))
        out["shot_plot_rect"] = items.rect("plot::gain::out")
        out["shot_span"] = list(app.view.time_span[("gain", "out")])
        drv.click_item("play::gain::out")               # now labelled 'pause'
        out["paused"] = app.audition.paused
        out["label_paused"] = dpg.get_item_label("play::gain::out")
        out["playing_after_pause"] = app.audition.player().playing
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            drv.frames(1)
        drv.screenshot(tmp / "transport_paused.png")
        drv.click_item("play::gain::out")               # play again: resume
        drv.until(lambda: app.audition.now == ("gain", "out"), 20, "resume")
        out["resume_offset_s"] = app.audition.offset_s
        wait_end(rec)
    out["levels_first_half"] = [v for v in levels_first if v]
    np.save(tmp / "pause.npy", rec.data())

    # 3. the export's play plays the written file
    with Recorder(sd) as rec:
        drv.click_item("play::export::out")
        drv.until(lambda: app.audition.now == ("export", "out"), 20, "the export to play")
        out["export_status"] = app.status_text
        wait_end(rec)
    np.save(tmp / "export.npy", rec.data())
    out["export_path"] = app.runner.output(app.doc.graph, "export", "out")

    # 3b. the export's waveform (the file it wrote): a click at three quarters plays from there, metered
    out["export_wave_shown"] = bool(dpg.is_item_shown("plot::export::out"))
    out["export_span"] = list(app.view.time_span.get(("export", "out"), (None, None)))
    (ex0, ey0), (ex1, ey1) = items.rect("plot::export::out")
    with Recorder(sd) as rec:
        drv.click((ex0 + (ex1 - ex0) * 0.75, (ey0 + ey1) / 2 - 6))
        drv.until(lambda: app.audition.now == ("export", "out"), 20, "the export to play from the click")
        out["export_seek_offset_s"] = app.audition.offset_s
        levels = []
        while app.audition.now is not None:
            drv.frames(1)
            levels.append(app.view.transport.get(("export", "out"), (None, None))[1])
        out["export_levels"] = [v for v in levels if v]
        wait_end(rec)
    np.save(tmp / "export_seek.npy", rec.data())

    # 4. shift+click at a quarter and at three quarters of the waveform: that region loops
    def at(frac):
        return (x0 + (x1 - x0) * frac, (y0 + y1) / 2 - 6)
    with Recorder(sd) as rec:
        drv.xdo("keydown", "shift")
        drv.click(at(0.25))
        out["loop_mark"] = app.audition.loop_mark
        drv.click(at(0.75))
        drv.xdo("keyup", "shift")
        drv.frames(3)
        out["loop_set"] = {"now": app.audition.now, "status": app.status_text,      # set; the transport stays
                           "label": dpg.get_item_label("play::gain::out")}         # stopped, play still plays
        drv.click_item("play::gain::out")
        drv.until(lambda: app.audition.now == ("gain", "out"), 20, "the loop to play")
        out["loop"] = app.audition.loop
        out["loop_status"] = app.status_text
        heads = []
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            drv.frames(1)
            h = app.audition.playhead()
            heads.append(h[2] if h else None)
        drv.screenshot(tmp / "transport_loop.png")
        out["loop_heads"] = heads
        drv.click_item("stop::gain::out")
        out["loop_after_stop"] = app.audition.loop          # the region stays, as a DAW's does
        drv.frames(2)
        drv.click_item("stop::gain::out")                   # Stop again: cleared
        out["loop_after_second_stop"] = app.audition.loop
        end = time.monotonic() + 30
        while time.monotonic() < end and not rec.silent_for(0.3):
            drv.frames(1)
    np.save(tmp / "loop.npy", rec.data())
    drv.frames(3)
    out["status_after_loop_stop"] = app.status_text

    # 5. an edit to the node that plays: its old sound stops (its waveform is gone with it)
    with Recorder(sd) as rec:
        drv.click_item("play::gain::out")
        drv.until(lambda: app.audition.now == ("gain", "out"), 20, "play")
        drv.frames(10)
        app.doc.set_param("gain", "gain_db", app.doc.graph.nodes["gain"].params["gain_db"] - 6.0)
        drv.frames(3)
        out["edit_now"], out["edit_status"] = app.audition.now, app.status_text
        end = time.monotonic() + 30
        while time.monotonic() < end and not rec.silent_for(0.3):
            drv.frames(1)
        x = rec.data()
        out["edit_heard_s"] = float(len(x)) / 48000

    # 6. the same for the export's file: an edit upstream makes it out of date, and it stops
    drv.key("F5")
    drv.until(lambda: not app.runner.jobs and app.runner.output(app.doc.graph, "export", "out"), 60, "the rerun")
    drv.click_item("play::export::out")
    drv.until(lambda: app.audition.now == ("export", "out"), 20, "the export to play")
    drv.frames(10)
    app.doc.set_param("gain", "gain_db", app.doc.graph.nodes["gain"].params["gain_db"] + 6.0)
    drv.frames(3)
    out["export_edit_now"], out["export_edit_status"] = app.audition.now, app.status_text
    out["size_end"] = app.canvas.node_sizes()

    # 7. a node deleted while it plays (a real click on its title, then Delete): its sound stops
    drv.key("F5")
    drv.until(lambda: not app.runner.jobs and app.runner.output(app.doc.graph, "export", "out"), 60, "the rerun")
    drv.until(lambda: ("export", "out") in app.view.previews, 20, "the export's waveform")
    drv.click_item("play::gain::out")
    drv.until(lambda: app.audition.now == ("gain", "out"), 20, "play")

    def delete(nid):
        (x0, y0), _ = app.view.node_rect(nid)
        drv.click((x0 + 30, y0 + 6))
        drv.key("Delete")
        drv.frames(3)
    delete("gain")
    out["deleted_now"], out["deleted_status"] = app.audition.now, app.status_text
    drv.key("ctrl+z")
    drv.frames(3)
    # 8. the export deleted and brought back with Ctrl+Z: its file line and waveform come back with it
    delete("export")
    drv.key("ctrl+z")
    drv.frames(5)
    out["export_back"] = [app.view.values.get(("export", "out"), ("",))[0], ("export", "out") in app.view.previews,
                          app.state()["kinds"].get("export")]
    drv.dump(out)
