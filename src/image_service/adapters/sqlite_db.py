"""One SQLite database file shared by the embedded adapters: a small pool of connections, WAL
mode, and the ways in: ``read()`` for one read, ``write()`` for a BEGIN IMMEDIATE transaction,
``script()`` for the schema.

Connections are lent for one read or one transaction, not kept per thread: the server's threads
come and go (AnyIO stops a worker that has been idle for 10 s), and a connection kept per thread
outlived its thread, holding its descriptors (the database and its -wal) until the process ran
out of them and every read failed for good. Idle connections are a stack, so the warm one (its
page cache, its prepared statements) is reused first; at most ``max_connections`` exist, and a
borrower that finds them all lent waits up to the busy timeout. A connection whose statement
failed with anything but a constraint error is closed rather than put back, so after a fault
such as running out of descriptors the next borrower opens a fresh one and the service recovers
by itself.

WAL lets readers run beside the single writer. Writes commit with ``synchronous=FULL`` unless
the caller asks for ``durable=False`` (access counts: durable across a process crash, cheap
enough for every GET, but the last few may be lost on power loss).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from image_service.domain.errors import BackendUnavailable, Conflict, InvalidInput

# Reads take microseconds, so a few connections serve the whole threadpool; each costs two
# descriptors (the database and its -wal; the -shm is shared) and its own page cache.
MAX_CONNECTIONS = 8


class SqliteDatabase:
    def __init__(
        self, path: Path, *, busy_timeout_ms: int = 10_000, max_connections: int = MAX_CONNECTIONS
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = busy_timeout_ms
        self._max_connections = max_connections
        self._idle: list[sqlite3.Connection] = []  # newest last: pop() takes the warmest
        self._open: set[sqlite3.Connection] = set()  # idle and lent
        # The lock alone on the way in and out (a borrow is a pop under it, every GET takes
        # two); the condition only when a borrower has to wait.
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)
        self._waiting = 0
        # One writer at a time inside this process: threads queue on this lock instead of in
        # SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and gave GETs that
        # count an access a long latency tail under load. Other processes still wait in SQLite.
        # Taken before a connection is borrowed, so queued writers hold no connection.
        self._write_lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for conn in self._open:
                conn.close()
            self._open.clear()
            self._idle.clear()
            self._returned.notify_all()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection for one read (autocommit); fetch the rows inside the block."""
        # The error mapping is written out here and in write(), not a shared context manager:
        # every GET reads and counts an access, and a nested one costs as much as the borrow.
        try:
            conn = self._borrow()
            try:
                yield conn
            except BaseException as exc:
                self._give_back(conn, reusable=_reusable(exc))
                raise
            self._give_back(conn)
        except (UnicodeEncodeError, sqlite3.Error) as exc:
            raise _domain_error(exc) from exc

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        try:
            with self._write_lock:
                conn = self._borrow()
                try:
                    if not durable:
                        conn.execute("PRAGMA synchronous = NORMAL")
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                        try:
                            yield conn
                        except BaseException:
                            conn.execute("ROLLBACK")
                            raise
                        conn.execute("COMMIT")
                    finally:
                        if not durable:
                            conn.execute("PRAGMA synchronous = FULL")
                except BaseException as exc:
                    # A failed ROLLBACK or PRAGMA raises here too, so a connection left inside a
                    # transaction or at synchronous=NORMAL is never lent again.
                    self._give_back(conn, reusable=_reusable(exc))
                    raise
                self._give_back(conn)
        except (UnicodeEncodeError, sqlite3.Error) as exc:
            raise _domain_error(exc) from exc

    def script(self, sql: str) -> None:
        """Run a schema script (executescript: it commits any open transaction first)."""
        with self.read() as conn:
            conn.executescript(sql)

    def _borrow(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            if len(self._open) >= self._max_connections:
                self._waiting += 1
                try:
                    available = self._returned.wait_for(
                        lambda: bool(self._idle) or len(self._open) < self._max_connections,
                        timeout=self._busy_timeout_ms / 1000,
                    )
                finally:
                    self._waiting -= 1
                if not available:
                    raise BackendUnavailable("catalog is unavailable")
                if self._idle:
                    return self._idle.pop()
            # Opened under the lock, so the count is exact; it happens max_connections times in
            # a healthy process, and again only after a connection was discarded.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA foreign_keys = ON")
            except BaseException:
                conn.close()
                raise
            self._open.add(conn)
            return conn

    def _give_back(self, conn: sqlite3.Connection, *, reusable: bool = True) -> None:
        with self._lock:
            if conn not in self._open:  # close() closed it while it was lent
                return
            if self._waiting:
                self._returned.notify()
            if reusable and not conn.in_transaction:
                self._idle.append(conn)
                return
            self._open.discard(conn)
        conn.close()


def _domain_error(exc: UnicodeEncodeError | sqlite3.Error) -> Exception:
    if isinstance(exc, UnicodeEncodeError):  # lone surrogates cannot be stored as UTF-8
        return InvalidInput("text is not valid Unicode")
    if isinstance(exc, sqlite3.IntegrityError):
        return Conflict("name is already taken")
    return BackendUnavailable("catalog is unavailable")


def _reusable(exc: BaseException) -> bool:
    """Whether a connection whose block raised ``exc`` can be lent again: yes unless SQLite itself
    failed (a refused constraint leaves the connection as it was)."""
    return not isinstance(exc, sqlite3.Error) or isinstance(exc, sqlite3.IntegrityError)
