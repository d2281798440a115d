"""Fixtures shared by the test tiers that need a real server (tests/api, tests/e2e)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_server import Server, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The main server: a real `image-service serve`, IMAGE_SERVICE_AUTH=api-key, default limits."""
    srv = start_server(tmp_path_factory, "api-key")
    yield srv
    srv.stop()
