"""services/access_counts.py: grouped access counts on the in-memory catalog, and the services
that read counts (view, list, PATCH) seeing every access the process acknowledged."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from fakes import Clock

from image_service.adapters.memory import InMemoryImageCatalog
from image_service.domain.errors import BackendUnavailable
from image_service.domain.models import Caller, Image
from image_service.ports import Accesses
from image_service.services.access_counts import GroupedAccessCounts
from image_service.services.context import Context
from image_service.services.images import count_access, update_image, view_image
from image_service.services.listing import list_images, make_filters
from image_service.services.uploads import UploadDraft, upload_images

ALICE = Caller(user_id="alice")
NEVER = 3600.0  # an interval no test waits for: only reads, a full buffer or close() write
WAIT = 10.0  # the most a test waits for the background thread before it fails


class RecordingCatalog(InMemoryImageCatalog):
    """The in-memory catalog, keeping each batch it was asked to record; the first ``failures``
    batches fail as an unavailable backend would (nothing recorded), and the ``partly`` next
    ones record all but their first image."""

    def __init__(self, failures: int = 0, partly: int = 0) -> None:
        super().__init__()
        self.batches: list[dict[str, tuple[int, datetime]]] = []
        self.failures, self.partly = failures, partly
        self.called = threading.Condition()

    def record_accesses(self, accesses: Accesses) -> dict[str, tuple[int, datetime]]:
        with self.called:
            try:
                self.batches.append(dict(accesses))
                if self.failures:
                    self.failures -= 1
                    raise BackendUnavailable("catalog is unavailable")
                left: dict[str, tuple[int, datetime]] = {}
                if self.partly:
                    self.partly -= 1
                    first = next(iter(accesses))
                    left = {first: accesses[first]}
                super().record_accesses({k: v for k, v in accesses.items() if k not in left})
                return left
            finally:
                self.called.notify_all()

    def wait_until(self, done: Callable[[], bool]) -> None:
        """Until ``done()`` holds after a call (made by the background thread)."""
        with self.called:
            assert self.called.wait_for(done, timeout=WAIT), self.batches

    def wait_for_batches(self, n: int) -> None:
        self.wait_until(lambda: len(self.batches) >= n)


@pytest.fixture
def catalog() -> RecordingCatalog:
    return RecordingCatalog()


@pytest.fixture
def counts(catalog: RecordingCatalog) -> Iterator[GroupedAccessCounts]:
    counts = GroupedAccessCounts(catalog, interval=NEVER)
    yield counts
    counts.close()


@pytest.fixture
def grouped(
    context_on: Callable[..., Context], catalog: RecordingCatalog, counts: GroupedAccessCounts
) -> Context:
    return dataclasses.replace(context_on(catalog=catalog), access_counts=counts)


@pytest.fixture
def image(grouped: Context, png: Callable[..., bytes]) -> Image:
    [uploaded] = upload_images(grouped, ALICE, [UploadDraft(data=png(), visibility="public")])
    return uploaded


def test_accesses_wait_in_memory_and_a_read_writes_them_in_one_batch(
    grouped: Context, catalog: RecordingCatalog, clock: Clock, image: Image
) -> None:
    for _ in range(5):
        clock.advance(1)
        count_access(grouped, image)
    assert catalog.get(image.image_id).access_count == 0  # nothing written yet
    viewed = view_image(grouped, ALICE, image.image_id).image
    assert (viewed.access_count, viewed.last_accessed_at) == (5, clock())
    assert catalog.batches == [{image.image_id: (5, clock())}]


def test_an_idle_buffer_costs_a_read_nothing(
    grouped: Context, catalog: RecordingCatalog, image: Image
) -> None:
    view_image(grouped, ALICE, image.image_id)
    count_access(grouped, image)
    view_image(grouped, ALICE, image.image_id)
    view_image(grouped, ALICE, image.image_id)
    assert len(catalog.batches) == 1


def test_list_and_patch_answers_show_every_acknowledged_access(grouped: Context, image: Image) -> None:
    count_access(grouped, image)
    [listed] = list_images(grouped, ALICE, make_filters(user_id="alice")).page.images
    assert listed.access_count == 1
    count_access(grouped, image)
    assert update_image(grouped, ALICE, image.image_id, {"title": "new"}).access_count == 2


def test_counts_from_threads_are_exact(grouped: Context, image: Image, counts: GroupedAccessCounts) -> None:
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for _ in range(250):
            count_access(grouped, image)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts.pending == 2000
    assert view_image(grouped, ALICE, image.image_id).image.access_count == 2000


def test_the_background_thread_writes_within_the_interval(catalog: RecordingCatalog, clock: Clock) -> None:
    catalog.add(_image("a", clock))
    counts = GroupedAccessCounts(catalog, interval=0.01)
    try:
        counts.add("a", clock())
        counts.add("a", clock())
        catalog.wait_until(lambda: catalog.images["a"].access_count == 2)  # no read asked for it
        assert sum(n for batch in catalog.batches for n, _ in batch.values()) == 2
    finally:
        counts.close()


def test_a_full_buffer_is_written_without_waiting_for_the_interval(
    catalog: RecordingCatalog, clock: Clock
) -> None:
    counts = GroupedAccessCounts(catalog, interval=NEVER, max_pending=3)
    try:
        for name in ("a", "b", "c"):
            catalog.add(_image(name, clock))
            counts.add(name, clock())
        catalog.wait_for_batches(1)
        assert sorted(catalog.batches[0]) == ["a", "b", "c"]
    finally:
        counts.close()


def test_a_failing_write_is_retried_at_the_next_interval_and_nothing_is_lost(clock: Clock) -> None:
    catalog = RecordingCatalog(failures=2)
    catalog.add(_image("a", clock))
    counts = GroupedAccessCounts(catalog, interval=0.01)
    try:
        counts.add("a", clock())  # never raises, though the catalog is down
        catalog.wait_for_batches(2)  # two failed attempts, in the background
        counts.add("a", clock())
        catalog.wait_until(lambda: catalog.images["a"].access_count == 2)
        assert catalog.batches[:2] == [{"a": (1, clock())}] * 2  # the same access, tried again
        assert counts.pending == 0
    finally:
        counts.close()


def test_a_read_goes_on_when_the_write_before_it_fails(
    grouped: Context, catalog: RecordingCatalog, counts: GroupedAccessCounts, image: Image
) -> None:
    count_access(grouped, image)
    catalog.failures = 1
    assert view_image(grouped, ALICE, image.image_id).image.access_count == 0  # the read is served
    assert counts.pending == 1  # and the access kept for the next write
    assert view_image(grouped, ALICE, image.image_id).image.access_count == 1


def test_a_partly_written_batch_keeps_only_the_rest(clock: Clock) -> None:
    catalog = RecordingCatalog(partly=1)
    for name in ("a", "b"):
        catalog.add(_image(name, clock))
    counts = GroupedAccessCounts(catalog, interval=NEVER)
    counts.add("a", clock())
    counts.add("b", clock())
    counts.settle()
    assert counts.pending == 1  # "a" was left out: it alone is written next, "b" not again
    counts.close()
    assert (catalog.get("a").access_count, catalog.get("b").access_count) == (1, 1)
    assert catalog.batches[-1] == {"a": (1, clock())}


def test_an_image_deleted_with_accesses_pending_is_skipped(
    grouped: Context, catalog: RecordingCatalog, counts: GroupedAccessCounts, image: Image, clock: Clock
) -> None:
    other = _image("other", clock)
    catalog.add(other)
    count_access(grouped, image)
    count_access(grouped, other)
    catalog.remove(image.image_id)
    counts.settle()
    assert counts.pending == 0
    assert catalog.get("other").access_count == 1


def test_close_writes_everything_and_later_accesses_are_written_at_once(
    catalog: RecordingCatalog, clock: Clock
) -> None:
    catalog.add(_image("a", clock))
    counts = GroupedAccessCounts(catalog, interval=NEVER)
    counts.add("a", clock())
    counts.add("a", clock())
    counts.close()
    assert catalog.get("a").access_count == 2
    counts.add("a", clock())
    assert catalog.get("a").access_count == 3
    counts.close()  # again: nothing left, nothing raised
    assert [sum(n for n, _ in b.values()) for b in catalog.batches] == [2, 1]


def test_counts_from_threads_are_exact_with_the_writer_and_reads_racing(clock: Clock) -> None:
    catalog = RecordingCatalog()
    catalog.add(_image("a", clock))
    counts = GroupedAccessCounts(catalog, interval=0.001)
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for n in range(250):
            counts.add("a", clock())
            if n % 10 == 0:
                counts.settle()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts.settle()
    assert catalog.get("a").access_count == 2000
    counts.close()
    assert catalog.get("a").access_count == 2000
    assert sum(n for batch in catalog.batches for n, _ in batch.values()) == 2000


class WritesSomeThenFails(RecordingCatalog):
    """A catalog with a bug: it records the first image of a batch, then raises."""

    def record_accesses(self, accesses: Accesses) -> dict[str, tuple[int, datetime]]:
        self.batches.append(dict(accesses))
        first = next(iter(accesses))
        InMemoryImageCatalog.record_accesses(self, {first: accesses[first]})
        raise RuntimeError("a bug after a partial write")


def test_a_batch_failing_with_a_bug_is_dropped_once_never_counted_again(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = WritesSomeThenFails()
    for name in ("a", "b"):
        catalog.add(_image(name, clock))
    counts = GroupedAccessCounts(catalog, interval=NEVER)
    for name in ("a", "a", "a", "b", "b"):
        counts.add(name, clock())
    with caplog.at_level(logging.ERROR):
        counts.settle()  # the read goes on
        counts.close()
    assert counts.pending == 0
    assert len(catalog.batches) == 1  # never retried
    assert (catalog.get("a").access_count, catalog.get("b").access_count) == (3, 0)  # not 3 x n
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.getMessage() == "access counts lost: 5 accesses of 2 images (a bug)"


class BlockingCatalog(RecordingCatalog):
    """Its writes wait until ``release`` is set, as a slow backend's would."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def record_accesses(self, accesses: Accesses) -> dict[str, tuple[int, datetime]]:
        self.entered.set()
        assert self.release.wait(WAIT)
        return super().record_accesses(accesses)


def test_a_read_waits_for_a_slow_write_only_so_long_and_warns_once(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = BlockingCatalog()
    catalog.add(_image("a", clock))
    counts = GroupedAccessCounts(catalog, interval=NEVER, settle_wait=0.05)
    counts.add("a", clock())
    writer = threading.Thread(target=counts.flush)
    writer.start()
    try:
        assert catalog.entered.wait(WAIT)
        counts.add("a", clock())
        with caplog.at_level(logging.WARNING):
            began = time.monotonic()
            for _ in range(3):
                counts.settle()  # each gives up after settle_wait, the write still in flight
            waited = time.monotonic() - began
        assert 0.15 <= waited < WAIT
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == ["accesses still being written after 0.05 s: a read may show fewer"]
        assert counts.pending == 2
    finally:
        catalog.release.set()
        writer.join()
    counts.close()
    assert catalog.get("a").access_count == 2


def test_a_failing_backend_is_retried_less_and_less_often_even_with_a_full_buffer(clock: Clock) -> None:
    catalog = RecordingCatalog(failures=3)
    times: list[float] = []
    recorded = catalog.record_accesses

    def timed(accesses: Accesses) -> dict[str, tuple[int, datetime]]:
        times.append(time.monotonic())
        return recorded(accesses)

    catalog.record_accesses = timed  # type: ignore[method-assign]
    for name in ("a", "b"):
        catalog.add(_image(name, clock))
    counts = GroupedAccessCounts(catalog, interval=0.02, max_pending=1)  # every add hurries
    try:
        counts.add("a", clock())
        catalog.wait_for_batches(1)
        counts.add("b", clock())  # a full buffer: ignored while backing off
        catalog.wait_until(lambda: catalog.images["b"].access_count == 1)
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert len(gaps) == 3
        for failures, gap in enumerate(gaps, start=1):
            assert gap >= counts.backoff(failures)  # 0.04, 0.08, 0.16 s
        assert counts.backoff(10) == 5.0  # capped
        assert catalog.images["a"].access_count == 1
    finally:
        counts.close()


class BrokenAtExit(RecordingCatalog):
    def record_accesses(self, accesses: Accesses) -> dict[str, tuple[int, datetime]]:
        raise KeyError("cannot schedule new futures after interpreter shutdown")


def test_close_logs_what_it_loses_whatever_the_failure(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    counts = GroupedAccessCounts(BrokenAtExit(), interval=NEVER)
    counts.add("a", clock())
    counts.add("a", clock())
    with caplog.at_level(logging.ERROR):
        counts.close()  # raises nothing, though the catalog does
    assert "2 accesses of 1 images" in caplog.text


def _image(image_id: str, clock: Clock) -> Image:
    return Image(
        image_id=image_id, user_id="alice", name=f"{image_id}.png", filename="a.png",
        content_type="image/png", format="PNG", width=3, height=2, size=10, checksum_sha256="ab" * 32,
        blob_key=f"alice/{image_id}", created_at=clock(), updated_at=clock(),
    )  # fmt: skip
