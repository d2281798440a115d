"""The embedded backend's SQLite connections stay bounded across threadpool churn (issue 9).

AnyIO stops a worker thread that has been idle for ``WorkerThread.MAX_IDLE_TIME`` (10 s) when the
next job arrives, so every burst after a quiet spell runs on fresh threads. Connections kept per
thread were never closed with their thread: each burst leaked a connection per worker (its
database and -wal descriptors) until the server ran out of descriptors and every read was a 503
that never went away. The server here runs with a low descriptor limit, so a leak shows
within a few cycles.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from api_helpers import b64, png
from api_server import Server, start_server

from image_service.adapters.sqlite_db import MAX_CONNECTIONS

pytestmark = [pytest.mark.api, pytest.mark.slow]

# The server starts with about 20 descriptors; a burst adds its 30 sockets, and the pool at most
# 8 x 3. Connections kept per thread leaked 20-35 descriptors a burst here, so that server hit
# this limit in its second burst.
FD_LIMIT = 100
BURST = 30
# A full page of images, so a list request works long enough for a burst to spread over many
# worker threads (an empty list is answered before the next request arrives).
IMAGES = 100
CYCLES = 3
# At most: the database and its -wal per connection, and the -shm they share.
FDS_PER_CONNECTION = 3
# anyio's WorkerThread.MAX_IDLE_TIME is 10 s: a second more and the next burst gets new threads.
IDLE_SECONDS = 11.0


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory, "fd-limit", "local", IMAGE_SERVICE_AUTH="none")
    client = srv.client()
    for _ in range(IMAGES):
        response = client.post("/images", json={"image_data": b64(png()), "user_id": "alice"})
        assert response.status_code == 201, response.text
    _soft, hard = resource.prlimit(srv.process.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(srv.process.pid, resource.RLIMIT_NOFILE, (FD_LIMIT, hard))
    yield srv
    srv.stop()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def burst(base_url: str) -> list[int]:
    """BURST concurrent GET /images, each on its own connection; their status codes."""
    start = threading.Barrier(BURST)
    statuses: list[int] = []

    def get() -> None:
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            start.wait()
            try:
                statuses.append(client.get("/images", params={"limit": IMAGES}).status_code)
            except httpx.TransportError:
                statuses.append(0)  # the server could not even accept the connection

    threads = [threading.Thread(target=get) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_bursts_after_idle_spells_keep_descriptors_flat(limited_server: Server) -> None:
    pid = limited_server.process.pid
    counts = [open_fds(pid)]
    failures = []
    for cycle in range(1, CYCLES + 1):
        statuses = burst(limited_server.base_url)
        failures += [(cycle, s) for s in statuses if s != 200]
        time.sleep(IDLE_SECONDS)
        counts.append(open_fds(pid))
    print(f"open descriptors before the first burst and after each idle spell: {counts}")
    assert not failures, f"(cycle, status) of failed answers: {failures}; descriptors {counts}"
    # The bursts may open the pool's connections, a few at a time; nothing beyond them.
    assert max(counts) <= counts[0] + MAX_CONNECTIONS * FDS_PER_CONNECTION, counts
