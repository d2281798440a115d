"""The memory budget: how many decoded pixels the process may hold at once, shared by every thread.

Decoding is where an image service's memory goes (a 50-megapixel PNG is 150 MB of RGB), and on a
small instance two or three such decodes at the same moment are an out-of-memory kill. Each decode
or rendition ``hold``s the pixels it is about to allocate; a request that does not fit waits.

Fairness is first come, first served: a waiter is admitted only when it is at the head of the
queue and fits, so a stream of small images cannot starve a large one queued before them. An image
larger than the whole limit waits until nothing else is held, then runs alone.

When the budget goes idle after a burst the allocator is asked to give its free pages back to the
OS (glibc ``malloc_trim``): libvips and Pillow allocate large pixel buffers with ``malloc``, and
without a trim the resident size of a worker stays at its highest point for ever.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["PixelBudget", "process_budget"]


@functools.cache
def _malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, looked up on first use (not at import: a cold start that
    never decodes pays nothing); None where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols, libc's among them
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class PixelBudget:
    """At most ``limit`` pixels held at once (an oversized request alone); thread-safe, FIFO."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the pixel budget must be positive")
        self.limit = limit
        self._held = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[object] = deque()

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        """Block until ``pixels`` fit (or, larger than the limit, until nothing else is held)."""
        pixels = max(0, pixels)
        ticket = object()
        with self._changed:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or not self._fits(pixels):
                    self._changed.wait()
            finally:
                self._queue.remove(ticket)
                # The next in line may fit now (or may be the new head after a cancelled wait).
                self._changed.notify_all()
            self._held += pixels
        try:
            yield
        finally:
            with self._changed:
                self._held -= pixels
                idle = self._held == 0 and not self._queue
                self._changed.notify_all()
            if idle and pixels and (trim := _malloc_trim()) is not None:
                trim()

    def _fits(self, pixels: int) -> bool:
        return self._held == 0 or self._held + pixels <= self.limit


_BUDGETS: dict[int, PixelBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def process_budget(limit: int) -> PixelBudget:
    """The one budget of this process for ``limit`` (the same object on every call)."""
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get(limit)
        if budget is None:
            budget = _BUDGETS[limit] = PixelBudget(limit)
        return budget
