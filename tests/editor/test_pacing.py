"""The paced loop's waits without a window (:class:`nodeflow.editor.pacing.FramePacer`), GLFW's wait
replaced by a recorder: idle, it waits up to ``idle_s`` or until what the app must show next; active,
the rest of the frame's budget."""
from __future__ import annotations

import time

from nodeflow.editor.pacing import FramePacer


class Wait:
    """GLFW's ``glfwWaitEventsTimeout``, recorded; an event comes after ``event_after`` seconds."""

    def __init__(self, event_after: float = 1e9):
        self.asked: list[float] = []
        self.event_after = event_after

    def glfwWaitEventsTimeout(self, seconds: float) -> None:
        self.asked.append(seconds)
        time.sleep(min(seconds, self.event_after))


def pacer(event_after: float = 1e9) -> tuple[FramePacer, Wait]:
    p, w = FramePacer(idle_s=2.0, linger_s=0.05), Wait(event_after)
    p.lib = w
    p.last_input -= 1.0                   # no input for a second: idle
    return p, w


def test_idle_it_waits_two_seconds_or_until_what_must_show_next():
    p, w = pacer(event_after=0.0)         # (an event at once: the test does not sleep 2 s)
    p.wait()
    assert w.asked == [2.0]
    p, w = pacer()
    p.wait(within=0.03)                   # a held problem line is due in 30 ms
    assert w.asked == [0.03] and p.timeouts == 1 and p.woken == 0
    p.wait(within=-0.5)                   # already due: no wait at all
    assert w.asked[-1] == 0.0


def test_an_event_ends_an_idle_wait_and_makes_the_window_active():
    p, w = pacer(event_after=0.01)
    assert not p.active()
    p.wait(within=1.0)
    assert p.woken == 1 and p.active() and w.asked == [1.0]


def test_active_it_sleeps_the_rest_of_the_frame_budget_and_never_waits_for_events(monkeypatch):
    from nodeflow.editor import pacing
    p, w = pacer()
    slept: list[float] = []
    monkeypatch.setattr(pacing.time, "sleep", slept.append)
    p.last_frame = time.monotonic()
    p.wait(busy=True)                     # a run: frames at up to 60 a second
    assert w.asked == [] and len(slept) == 1 and 0.0 < slept[0] <= 1 / 60
    p.last_frame = time.monotonic()
    p.wait(busy=True, within=0.0)         # something due now: no sleep
    assert slept[1:] in ([], [0.0])


def test_idle_with_a_box_that_has_the_keyboard_a_frame_comes_for_its_cursor_to_blink():
    """QA113 D4: idle, a frame every 2 s left a box's text cursor hidden for 2 s."""
    from nodeflow.editor.pacing import CURSOR_BLINK_S
    p, w = pacer(event_after=0.0)
    asked: list[bool] = []
    p.wait(typing=lambda: asked.append(True) or True)
    assert w.asked == [CURSOR_BLINK_S] and asked == [True]
    p, w = pacer(event_after=0.0)
    p.wait(within=0.1, typing=lambda: True)       # something due sooner: that
    assert w.asked == [0.1]
    p, w = pacer(event_after=0.0)
    p.wait(busy=True, typing=lambda: asked.append(True) or True)      # active: not asked (the walk costs)
    assert w.asked == [] and asked == [True]
