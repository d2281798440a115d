"""SqliteDatabase's connection pool: bounded however many threads come and go, the warm
connection reused, a borrower waiting (then a 503) when all are lent, broken connections
discarded, and recovery by itself after the process ran out of descriptors."""

from __future__ import annotations

import errno
import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import pytest

from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.adapters.sqlite_db import MAX_CONNECTIONS, SqliteDatabase
from image_service.adapters.sqlite_schema import open_database
from image_service.domain.errors import BackendUnavailable, Conflict
from image_service.domain.models import Image, ImageQuery

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# At most: each connection holds the database and its -wal open, and shares the -shm.
FDS_PER_CONNECTION = 3


def image(image_id: str) -> Image:
    return Image(
        image_id=image_id, user_id="alice", name=f"{image_id}.png", filename="a.png",
        content_type="image/png", format="PNG", width=1, height=1, size=1,
        checksum_sha256="ab" * 32, blob_key=f"alice/{image_id}", created_at=T0, updated_at=T0,
        tags=("cat",),
    )  # fmt: skip


def descriptors() -> list[str]:
    """What each open descriptor of this process points at."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        with suppress(FileNotFoundError):  # the directory listing's own descriptor, closed since
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
    return targets


def database_descriptors(path: Path) -> list[str]:
    return [t for t in descriptors() if t in (str(path), f"{path}-wal", f"{path}-shm")]


@contextmanager
def no_free_descriptors() -> Iterator[None]:
    """Every descriptor number this process may use is taken until the block ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
    fillers = []
    try:
        while True:
            try:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as exc:
                assert exc.errno == errno.EMFILE
                break
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SqliteImageCatalog]:
    db = open_database(tmp_path / "c.db")
    yield SqliteImageCatalog(db)
    db.close()


def test_short_lived_threads_leave_a_bounded_number_of_connections(
    catalog: SqliteImageCatalog, tmp_path: Path
) -> None:
    # As the server's threadpool does after each idle spell: the threads that did the work are
    # gone, and new ones do the next burst.
    before = len(descriptors())
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            catalog.add(image(f"img-{n:04d}"))
            catalog.get(f"img-{n:04d}")
            catalog.record_access(f"img-{n:04d}", T0)
            catalog.find(ImageQuery(tags=("cat",)), 10)
        except BaseException as exc:
            failures.append(exc)

    for wave in range(10):
        threads = [threading.Thread(target=work, args=(wave * 20 + i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert not failures
    assert len(catalog.find(ImageQuery(), 100).images) == 100
    bound = MAX_CONNECTIONS * FDS_PER_CONNECTION
    assert len(database_descriptors(tmp_path / "c.db")) <= bound
    assert len(descriptors()) - before <= bound + 5


def test_the_warm_connection_is_reused(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "c.db")
    with db.read() as first, db.read() as second:
        pass  # second is given back, then first
    with db.read() as again:
        assert again is first
    with db.write() as writer:
        assert writer is first
    with db.read() as a, db.read() as b:
        assert {a, b} == {first, second}  # nothing more was opened
    db.close()


def test_a_borrower_waits_for_a_connection_given_back(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "c.db", max_connections=2)
    borrowed: list[object] = []
    with ExitStack() as lent:
        held = [lent.enter_context(db.read()) for _ in range(2)]

        def borrow() -> None:
            with db.read() as conn:
                borrowed.append(conn)

        waiter = threading.Thread(target=borrow)
        waiter.start()
        time.sleep(0.05)
        assert not borrowed  # both connections are lent
    waiter.join(timeout=5)
    assert borrowed and borrowed[0] in held
    db.close()


def test_a_borrower_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "c.db", busy_timeout_ms=200, max_connections=2)
    with db.read(), db.read():
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="catalog is unavailable"), db.read():
            pass
        assert time.monotonic() - started >= 0.2
    db.close()


def test_a_connection_that_failed_is_discarded_and_a_refused_row_is_not(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "c.db")
    db.script("CREATE TABLE t (k TEXT PRIMARY KEY)")
    with db.write() as conn:
        conn.execute("INSERT INTO t VALUES ('a')")
    with pytest.raises(Conflict), db.write() as conn:
        conn.execute("INSERT INTO t VALUES ('a')")
    with db.read() as same:
        assert same is conn
        assert not same.in_transaction
    with pytest.raises(BackendUnavailable), db.read() as failed:
        failed.execute("SELECT * FROM no_such_table")
    with db.read() as fresh:
        assert fresh is not failed
        assert fresh.execute("SELECT k FROM t").fetchall() == [("a",)]
    db.close()


def test_a_connection_is_never_lent_again_at_synchronous_normal(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "c.db")
    with db.write(durable=False) as conn:
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    with db.read() as same:
        assert same is conn
        assert same.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    db.close()


def test_the_pool_recovers_by_itself_after_running_out_of_descriptors(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "c.db", busy_timeout_ms=200, max_connections=2)
    db.script("CREATE TABLE t (k TEXT)")
    db.close()  # no connection left open: the next borrower has to open one
    with no_free_descriptors():
        for _ in range(5):  # more failures than the pool has places: none may keep one
            with pytest.raises(BackendUnavailable), db.read() as conn:
                conn.execute("SELECT * FROM t").fetchall()
    with db.read() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    db.close()


def test_close_closes_every_connection(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "c.db")
    with db.read(), db.read(), db.write():
        pass
    assert len(database_descriptors(db.path)) > 0
    db.close()
    assert database_descriptors(db.path) == []
