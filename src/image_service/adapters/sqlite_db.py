"""One SQLite database file shared by the embedded adapters: a connection per thread, WAL mode,
and the two ways in: ``errors()`` for reads and ``write()`` for a BEGIN IMMEDIATE transaction.

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


class SqliteDatabase:
    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # One writer at a time inside this process: threads queue on this lock instead of in
        # SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and gave GETs that
        # count an access a long latency tail under load. Other processes still wait in SQLite.
        self._write_lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    @contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except UnicodeEncodeError as exc:  # lone surrogates cannot be stored as UTF-8
            raise InvalidInput("text is not valid Unicode") from exc
        except sqlite3.IntegrityError as exc:
            raise Conflict("name is already taken") from exc
        except sqlite3.Error as exc:
            raise BackendUnavailable("catalog is unavailable") from exc

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        with self.errors(), self._write_lock:
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
