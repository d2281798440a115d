"""Grouped access counts over a real `image-service serve`: every GET it answered is counted,
whether the counts are read back through the API at once or after a clean shutdown."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_helpers import png
from api_server import EXE, Server, Upload, start_server

from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.adapters.sqlite_schema import open_database
from image_service.devtools.emulator import free_port
from image_service.ports import ImageCatalog


def test_a_list_right_after_concurrent_gets_counts_every_one(
    server: Server, admin: httpx.Client, upload: Upload
) -> None:
    meta = upload(admin, png(21, 21), tags=["counted-list"])
    start = threading.Barrier(8)

    def fetch(_: int) -> list[int]:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            start.wait()
            return [client.get(f"/images/{meta['image_id']}/content").status_code for _ in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for batch in pool.map(fetch, range(8)) for s in batch]
    assert statuses == [200] * 40
    viewed = admin.get(f"/images/{meta['image_id']}").json()["metadata"]
    assert viewed["access_count"] == 40
    [listed] = admin.get("/images", params={"tag": "counted-list"}).json()["images"]
    if server.backend == "local":
        assert listed["access_count"] == 40
    else:
        # On AWS a list shows the copy of the counters refreshed at most once a minute (the
        # first flush made it, the later ones within the minute count on the image alone:
        # docs/API.md); the view above is the exact count.
        assert 1 <= listed["access_count"] <= 40


@pytest.fixture
def doomed(tmp_path_factory: pytest.TempPathFactory, server_backend: str) -> Iterator[Server]:
    """A server of its own: the test stops it."""
    srv = start_server(tmp_path_factory, "shutdown", server_backend)
    yield srv
    srv.stop()


def stored_catalog(server: Server) -> ImageCatalog:
    """The server's catalog, opened from outside the (stopped) server as the next start would."""
    if server.backend == "local":
        return SqliteImageCatalog(open_database(server.data_dir / "catalog.sqlite3"))
    return server.storage.resources.catalog()  # type: ignore[attr-defined,no-any-return]


def test_sigterm_right_after_gets_loses_no_count(doomed: Server, upload: Upload) -> None:
    """The GETs' counts are still in the server's buffer (its window is 200 ms) when SIGTERM
    arrives; the graceful shutdown writes them."""
    client = doomed.client(doomed.admin_key)
    meta = upload(client, png(22, 22))
    for _ in range(25):
        assert client.get(f"/images/{meta['image_id']}/content").status_code == 200
    doomed.process.terminate()
    doomed.process.wait(timeout=20)  # uvicorn re-raises SIGTERM once shut down: no exit code to check
    assert stored_catalog(doomed).get(meta["image_id"]).access_count == 25
    assert "access counts lost" not in doomed.stderr()


def serve_again(server: Server, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """`image-service serve` on the stopped ``server``'s storage, with ``options``; its URL."""
    port = free_port()
    command = [
        str(EXE),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(server.data_dir),
    ]
    process = subprocess.Popen([*command, *options], env=server.env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the server did not answer /health")
        time.sleep(0.05)  # polling for the start, not waiting out a race


def test_sigterm_to_two_workers_loses_no_count(
    tmp_path_factory: pytest.TempPathFactory, upload: Upload
) -> None:
    """Each worker keeps its own buffer; SIGTERM to the parent stops both, each writing its own."""
    first = start_server(tmp_path_factory, "workers", "local")
    assert first.admin_key
    key = {"x-api-key": first.admin_key}
    meta = upload(first.client(first.admin_key), png(23, 23))
    first.stop()
    workers, url = serve_again(first, "--workers", "2")
    try:
        for _ in range(40):  # a new connection each: both workers serve some
            assert httpx.get(f"{url}/images/{meta['image_id']}/content", headers=key).status_code == 200
        workers.terminate()
        workers.wait(timeout=30)
    finally:
        if workers.poll() is None:
            workers.kill()
            workers.wait()
    again, url = serve_again(first)
    try:
        viewed = httpx.get(f"{url}/images/{meta['image_id']}", headers=key).json()["metadata"]
        assert viewed["access_count"] == 40
    finally:
        again.terminate()
        again.wait(timeout=30)
