"""Grouped access counts: a server process counts GETs in memory and writes them in batches.

One write per GET was a tenth of a GET's CPU on the embedded backend (a SQLite commit) and one
UpdateItem each on DynamoDB. Here ``add`` only bumps an in-process tally (image id -> how many,
the latest time); a background thread writes the tally every ``FLUSH_INTERVAL`` (sooner once
``MAX_PENDING_IMAGES`` images wait) with ``ImageCatalog.record_accesses``: one transaction and
one commit on SQLite, one UpdateItem per image on DynamoDB, however many GETs each stands for.

What a count promises, once ``add`` returned (the GET's answer is sent after it):

- this process shows them all: a metadata read calls ``settle`` first, which writes what is
  pending (or waits for the write in flight), and costs a lock-free check when nothing is. The
  one exception: a write in flight for more than ``SETTLE_WAIT`` (a slow backend) is not waited
  for further, so that no reader thread queues behind it; that read may show fewer;
- a clean shutdown loses nothing: the app's lifespan calls ``close`` (uvicorn runs it on SIGTERM
  after the last request), and an ``atexit`` hook covers a server run without a lifespan;
- a crash (SIGKILL, power cut) loses at most the last window of counts;
- a write the backend refused (``BackendUnavailable``, any ``ImageServiceError``: the port's
  contract says nothing of it was written) loses nothing: its tally goes back into the buffer and
  is retried, less and less often while the backend fails (up to ``MAX_BACKOFF``); no request
  ever sees that error. Any other exception may come after part of the batch was written, so the
  batch is dropped with one error log saying how many accesses were lost: retrying it could
  count them again, each interval, without end.

Other processes (``serve --workers 2``, other instances) see this process's counts up to one
window late. Lambda does not use this (the function is frozen between invocations, so nothing
may run after a response): there every GET writes its own count (``services.images``).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from datetime import datetime

from image_service.domain.errors import BackendUnavailable, ImageServiceError
from image_service.ports import ImageCatalog

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.2  # seconds: the window a crash may lose and other processes lag by
MAX_PENDING_IMAGES = 1000  # distinct images waiting that cut the window short
SETTLE_WAIT = 0.5  # seconds a read waits for a write in flight before it reads anyway
MAX_BACKOFF = 5.0  # seconds: the longest wait between attempts while the backend fails
SLOW_LOG_EVERY = 60.0  # seconds: a read's "not written" warning at most this often


class GroupedAccessCounts:
    def __init__(
        self,
        catalog: ImageCatalog,
        *,
        interval: float = FLUSH_INTERVAL,
        max_pending: int = MAX_PENDING_IMAGES,
        settle_wait: float = SETTLE_WAIT,
    ) -> None:
        self.catalog = catalog
        self.interval = interval
        self.max_pending = max_pending
        self.settle_wait = settle_wait
        self._pending: dict[str, tuple[int, datetime]] = {}
        self._in_flight: dict[str, tuple[int, datetime]] = {}  # the batch being written
        self._lock = threading.Lock()  # guards _pending, _flusher and _closed
        # One write at a time. Held from taking the tally until it is written or put back, so a
        # reader that finds the buffer empty while a write is in flight waits for that write.
        self._writing = threading.Lock()
        self._waiting = threading.Event()  # set while something is pending
        self._hurry = threading.Event()  # cuts the window short: buffer full, or closing
        self._closing = threading.Event()  # cuts a back-off short (a full buffer does not)
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._failures = 0
        self._warned_at = -SLOW_LOG_EVERY  # time.monotonic() of a read's last warning

    @property
    def pending(self) -> int:
        """Accesses counted and not yet written (a write in flight included)."""
        with self._lock:
            return sum(count for count, _ in (*self._pending.values(), *self._in_flight.values()))

    def add(self, image_id: str, at: datetime) -> None:
        """Count one access; it is written within the window. After ``close``, written at once."""
        with self._lock:
            closed = self._closed
            if not closed:
                if not self._pending:
                    self._waiting.set()  # only here: the flusher clears it with the buffer
                count, latest = self._pending.get(image_id, (0, at))
                self._pending[image_id] = (count + 1, max(latest, at))
                if len(self._pending) >= self.max_pending:
                    self._hurry.set()
                if self._flusher is None:
                    self._start()
        if closed:
            self.catalog.record_accesses({image_id: (1, at)})

    def settle(self) -> None:
        """Write what is pending before a metadata read, so that it shows every access this
        process acknowledged. Nothing to do (no lock taken) when the buffer is idle. A write in
        flight is waited for ``settle_wait`` at most (a slow backend must not hold every reader's
        thread); then, as after a failing write, the read goes on, with a warning at most every
        ``SLOW_LOG_EVERY`` seconds (not one per request)."""
        if not self._pending and not self._writing.locked():
            return
        if not self._writing.acquire(timeout=self.settle_wait):
            self._warn("accesses still being written after %g s: a read may show fewer", self.settle_wait)
            return
        try:
            self._write()
        except ImageServiceError as exc:
            self._warn("accesses not written before a read: the read may show fewer: %s", exc)
        finally:
            self._writing.release()

    def flush(self) -> None:
        """Write everything pending now. If the catalog refused it (an ImageServiceError) it stays
        pending and the error is raised; any other failure drops it (``_write``)."""
        with self._writing:
            self._write()

    def _write(self) -> None:
        """The write itself, under ``_writing``."""
        with self._lock:
            batch, self._pending = self._pending, {}
            self._in_flight = batch
            if not self._closed:  # close() sets it to wake the writer: a clear now would strand it
                self._waiting.clear()
        if not batch:
            return
        accesses = sum(count for count, _ in batch.values())
        try:
            left = self.catalog.record_accesses(batch)
        except ImageServiceError:
            self._put_back(batch)  # the port's contract: nothing of it was written
            raise
        except Exception:
            # Perhaps written in part: once lost beats counted again at every retry.
            self._put_back({})
            log.exception("access counts lost: %d accesses of %d images (a bug)", accesses, len(batch))
            return
        except BaseException:
            self._put_back(batch)  # KeyboardInterrupt and friends: close() will try again
            raise
        self._put_back(left)
        if left:
            raise PartlyWritten(len(left), len(batch))
        log.debug("access counts written: %d accesses of %d images", accesses, len(batch))

    def _warn(self, message: str, *args: object) -> None:
        """A reader's warning, at most once every SLOW_LOG_EVERY seconds: a slow or failing
        backend would otherwise log once per request."""
        now = time.monotonic()
        with self._lock:
            if now - self._warned_at < SLOW_LOG_EVERY:
                return
            self._warned_at = now
        log.warning(message, *args)

    def close(self) -> None:
        """Stop the background writer and write everything pending (a clean shutdown); later
        accesses are written one by one. Safe to call more than once."""
        with self._lock:
            self._closed = True
            flusher, self._flusher = self._flusher, None
        if flusher is not None:
            atexit.unregister(self.close)
            self._closing.set()
            self._hurry.set()
            self._waiting.set()
            flusher.join()
        try:
            self.flush()
        except Exception:  # at exit (atexit) a backend may fail in any way: say what is lost
            log.exception("access counts lost at shutdown: %d accesses", self.pending)

    def _put_back(self, unwritten: dict[str, tuple[int, datetime]]) -> None:
        """End the write in flight: what it did not write is pending again."""
        with self._lock:
            self._in_flight = {}
            for image_id, (count, at) in unwritten.items():
                mine, latest = self._pending.get(image_id, (0, at))
                self._pending[image_id] = (mine + count, max(latest, at))
            if unwritten:
                self._waiting.set()

    def _start(self) -> None:
        """Called under the lock by the first ``add``: a process that never serves a GET (the CLI,
        a test) never gets the thread, and a fork before it (uvicorn workers) copies none."""
        self._flusher = threading.Thread(target=self._run, name="access-counts", daemon=True)
        self._flusher.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while True:
            self._waiting.wait()
            if self._failures:
                # Backing off: a full buffer does not hurry a write to a failing backend.
                self._closing.wait(self.backoff(self._failures))
            else:
                # The window: accesses of the next ``interval`` join this batch.
                self._hurry.wait(self.interval)
            self._hurry.clear()
            if self._closed:
                return  # close() writes the rest
            try:
                self.flush()
            except ImageServiceError as exc:  # kept for the next attempt
                self._failures += 1
                if self._failures == 1:
                    log.warning("access counts not written, retrying (backing off): %s", exc)
                continue
            except Exception:  # the thread must live on
                log.exception("access counts: the background writer failed")
                continue
            if self._failures:
                log.info("access counts written again after %d failed attempts", self._failures)
                self._failures = 0

    def backoff(self, failures: int) -> float:
        """The wait before the next attempt after ``failures`` failed ones in a row: doubling
        from the interval, capped at MAX_BACKOFF (or the interval, if longer)."""
        return min(self.interval * 2.0**failures, max(self.interval, MAX_BACKOFF))


class PartlyWritten(BackendUnavailable):
    """The catalog wrote the accesses of some images of a batch; the rest are pending again."""

    def __init__(self, left: int, of: int) -> None:
        super().__init__(f"accesses of {left} of {of} images not written")
