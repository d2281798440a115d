"""Session-scoped servers (api-key, auth none, small limits), API keys and clients for tests/api.

Each server fixture is parametrised by backend through ``server_backend`` (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from api_helpers import stored_state, upload_image
from api_server import SMALL_MAX_BYTES, SMALL_MAX_PIXELS, NothingStored, Server, Upload, start_server


@pytest.fixture(scope="session")
def open_server(tmp_path_factory: pytest.TempPathFactory, server_backend: str) -> Iterator[Server]:
    """IMAGE_SERVICE_AUTH=none: the user_id in the request names the owner."""
    srv = start_server(tmp_path_factory, "auth-none", server_backend, IMAGE_SERVICE_AUTH="none")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def small_server(tmp_path_factory: pytest.TempPathFactory, server_backend: str) -> Iterator[Server]:
    """Tiny MAX_IMAGE_SIZE and MAX_IMAGE_PIXELS, for the 413 cases."""
    srv = start_server(
        tmp_path_factory,
        "small-limits",
        server_backend,
        MAX_IMAGE_SIZE=str(SMALL_MAX_BYTES),
        MAX_IMAGE_PIXELS=str(SMALL_MAX_PIXELS),
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def admin_key(server: Server) -> str:
    assert server.admin_key and server.admin_key.startswith("isk_"), server.stdout()
    return server.admin_key


@pytest.fixture(scope="session")
def alice_key(server: Server) -> str:
    return server.create_key("alice")


@pytest.fixture(scope="session")
def bob_key(server: Server) -> str:
    return server.create_key("bob")


@pytest.fixture(scope="session")
def anon(server: Server) -> httpx.Client:
    return server.client()


@pytest.fixture(scope="session")
def admin(server: Server, admin_key: str) -> httpx.Client:
    return server.client(admin_key)


@pytest.fixture(scope="session")
def alice(server: Server, alice_key: str) -> httpx.Client:
    return server.client(alice_key)


@pytest.fixture(scope="session")
def bob(server: Server, bob_key: str) -> httpx.Client:
    return server.client(bob_key, bearer=True)


@pytest.fixture(scope="session")
def upload() -> Upload:
    """upload(client, data=None, **fields) -> metadata, via JSON base64; asserts 201."""
    return upload_image


@pytest.fixture
def nothing_stored(server: Server, admin: httpx.Client) -> NothingStored:
    """`with nothing_stored(): ...` fails unless the catalog and the storage are unchanged (on aws:
    every S3 object key and every table item, pending uploads and API keys included)."""

    @contextmanager
    def _check() -> Iterator[None]:
        before = stored_state(admin, server.storage)
        yield
        assert stored_state(admin, server.storage) == before

    return _check
