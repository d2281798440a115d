"""The pixel budget with real threads: who may hold pixels, who waits, and in which order.

Threads signal with events; a wait is bounded (``WAIT``) only so that a bug fails the test
instead of hanging the suite; no assertion depends on timing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from image_service.imaging.budget import PixelBudget, process_budget

WAIT = 10.0


@dataclass
class Holder:
    """A thread that holds ``pixels`` of the budget until released."""

    budget: PixelBudget
    pixels: int
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> Holder:
        def run() -> None:
            with self.budget.hold(self.pixels):
                self.entered.set()
                self.release.wait(WAIT)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def finish(self) -> None:
        self.release.set()
        assert self.thread is not None
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


def queued(budget: PixelBudget, count: int) -> None:
    """Wait until ``count`` holders are queued in ``budget``."""
    pause = threading.Event()
    for _ in range(int(WAIT / 0.005)):
        if budget.waiting >= count:
            return
        pause.wait(0.005)
    raise AssertionError(f"{count} holders never queued")


def started(budget: PixelBudget, pixels: int) -> Holder:
    holder = Holder(budget, pixels).start()
    assert holder.entered.wait(WAIT)
    return holder


def test_holds_that_fit_run_together() -> None:
    budget = PixelBudget(10)
    first, second = started(budget, 4), started(budget, 6)
    assert budget.held == 10
    first.finish()
    second.finish()
    assert budget.held == 0


def test_a_hold_that_does_not_fit_waits_for_a_release() -> None:
    budget = PixelBudget(10)
    first = started(budget, 7)
    second = Holder(budget, 4).start()
    queued(budget, 1)
    assert not second.entered.is_set()
    first.finish()
    assert second.entered.wait(WAIT)
    assert budget.held == 4
    second.finish()


def test_first_come_first_served_a_small_one_does_not_overtake() -> None:
    budget = PixelBudget(10)
    first = started(budget, 6)
    large = Holder(budget, 8).start()
    queued(budget, 1)
    small = Holder(budget, 2).start()  # would fit beside the first, but the large one was first
    queued(budget, 2)
    assert not large.entered.is_set() and not small.entered.is_set()
    first.finish()
    assert large.entered.wait(WAIT) and small.entered.wait(WAIT)  # 8 + 2 fit together
    large.finish()
    small.finish()


def test_larger_than_the_limit_runs_alone_once_nothing_is_held() -> None:
    budget = PixelBudget(10)
    first = started(budget, 3)
    huge = Holder(budget, 50).start()
    queued(budget, 1)
    later = Holder(budget, 1).start()
    queued(budget, 2)
    assert not huge.entered.is_set()
    first.finish()
    assert huge.entered.wait(WAIT)
    assert budget.held == 50 and not later.entered.is_set()  # alone: nobody joins it
    huge.finish()
    assert later.entered.wait(WAIT)
    later.finish()
    assert budget.held == 0 and budget.waiting == 0


def test_an_error_inside_releases_the_pixels() -> None:
    budget = PixelBudget(10)
    with pytest.raises(RuntimeError), budget.hold(10):
        raise RuntimeError("decode failed")
    assert budget.held == 0
    with budget.hold(10):
        assert budget.held == 10


def test_process_budget_is_one_per_limit() -> None:
    assert process_budget(123_456) is process_budget(123_456)
    assert process_budget(123_456) is not process_budget(654_321)
    assert process_budget(123_456).limit == 123_456


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        PixelBudget(0)
