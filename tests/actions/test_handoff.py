"""The hand-off gathers committed run ids into few django-q2 tasks (actions.queue._Handoff)."""

import threading

from actions import queue


class Recorder:
    def __init__(self):
        self.pushed: list[list[int]] = []
        self.arrived = threading.Event()

    def __call__(self, ids):
        self.pushed.append(list(ids))
        self.arrived.set()


def test_the_window_grows_while_runs_keep_coming_and_is_short_again_once_idle():
    window = queue.HANDOFF_WINDOW
    seen = []
    for _ in range(5):
        window = queue.next_handoff_window(window, still_busy=True)
        seen.append(window)
    assert seen == sorted(seen) and seen[0] > queue.HANDOFF_WINDOW
    assert seen[-1] == queue.HANDOFF_WINDOW_MAX
    assert queue.next_handoff_window(window, still_busy=False) == queue.HANDOFF_WINDOW


def test_ids_added_within_the_window_travel_in_one_task(monkeypatch):
    monkeypatch.setattr(queue, "HANDOFF_WINDOW", 2.0)
    recorder = Recorder()
    handoff = queue._Handoff(push=recorder)
    handoff.add([1])
    handoff.add([2, 3])
    handoff.add([4])
    assert recorder.arrived.wait(30)
    assert recorder.pushed == [[1, 2, 3, 4]]


def test_a_full_task_goes_at_once_without_waiting_for_the_window(monkeypatch):
    monkeypatch.setattr(queue, "HANDOFF_WINDOW", 600.0)  # a task that waited for it would never come
    recorder = Recorder()
    handoff = queue._Handoff(push=recorder)
    handoff.add(list(range(queue.TASK_BATCH)))
    assert recorder.arrived.wait(30)
    assert recorder.pushed == [list(range(queue.TASK_BATCH))]
