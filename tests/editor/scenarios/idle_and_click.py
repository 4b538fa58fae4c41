"""The editor's own paced loop: frames and CPU while nothing happens, while the mouse moves, while a
preview plays; then a real click on play while the window is idle, and the frames until the first
buffer reaches the sound device."""
import os
import subprocess
import threading
import time


def main(app, drv):
    from nodeflow.editor import items
    drv.frames(10)
    app.run()
    drv.until(lambda: not app.runner.jobs and app.runner.output(app.doc.graph, "gain", "out") is not None, 60,
              "the run")
    out = {}
    app.pump(timeout=1.5)                                    # the run's last states drawn, then nothing
    # ------------------------------------------------------------------ idle vs active
    c0 = time.process_time()
    out["idle_frames"] = app.pump(timeout=3.0)
    out["idle_cpu_s"] = time.process_time() - c0
    ox, oy = drv.window_origin()
    mover = subprocess.Popen(["bash", "-c", f"for i in $(seq 120); do xdotool mousemove $(({ox} + 400 + i % 40 * 5)) "
                                            f"$(({oy} + 650)); sleep 0.025; done"])
    c0 = time.process_time()
    out["active_frames"] = app.pump(timeout=3.0)
    out["active_cpu_s"] = time.process_time() - c0
    mover.wait(30)
    out["pacer"] = {"woken": app.pacer.woken, "timeouts": app.pacer.timeouts}
    # ------------------------------------------------------------------ click to sound, from idle
    r = items.rect("play::gain::out")
    x, y = drv.screen(((r[0][0] + r[1][0]) / 2, (r[0][1] + r[1][1]) / 2))
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)
    app.pump(timeout=2.0)                                    # hover drawn, then idle again
    out["idle_before_click"] = not app.pacer.active(app.busy())
    player = app.audition.player()
    player.stop()
    clicked = {}

    def click():
        time.sleep(0.3)
        subprocess.run(["xdotool", "mousedown", "1"], check=True)   # play acts on the press
        clicked["t"], clicked["frame"] = time.perf_counter(), app.frame_count
        time.sleep(0.12)                                             # a finger's click: release later
        subprocess.run(["xdotool", "mouseup", "1"], check=True)

    th = threading.Thread(target=click)
    f0 = app.frame_count
    th.start()
    app.pump(until=lambda: "t" in clicked and player.first_buffer_s is not None and app.audition.now, timeout=15)
    th.join()
    first = player._session.first_buffer_at if player._session else None
    out["frames_waiting_for_click"] = clicked.get("frame", -1) - f0
    out["frames_click_to_sound"] = app.frame_count - clicked.get("frame", app.frame_count)
    out["click_to_first_buffer_ms"] = None if first is None else (first - clicked["t"]) * 1e3
    out["playing"] = app.audition.now
    out["frames_while_playing"] = app.pump(timeout=1.0)
    app.stop_audio()
    drv.screenshot(os.environ["AUDIOCHAIN_TEST_TMP"] + "/idle.png")
    drv.dump(out)
