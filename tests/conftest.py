"""Fixtures shared by the test tiers that need a real server (tests/api, tests/e2e).

Every test that uses a server runs once per backend: ``server_backend`` is a session-scoped
fixture with the params ``local`` (filesystem + SQLite) and ``aws`` (S3 + DynamoDB on DynamoDB
Local and moto), and every server fixture depends on it. pytest groups the tests by that param,
so all ``local`` tests run first against one set of servers, which stop before the ``aws`` set
starts: one process per (configuration, backend), at most three at a time.

A test that applies to one backend only says so with ``@pytest.mark.only_backend(name,
reason=...)``; it is skipped on the other backend at collection, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_server import BACKENDS, Server, start_server
from hypothesis import settings

# No per-example deadline: an example that meets a GC pause or a busy core (two JVMs share this
# machine's two cores with the suite) would fail as "unreliable timing", which says nothing about
# the code. Slow properties are still seen: the suite's time is watched as a whole.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "only_backend(name, reason): run a server test on this backend only; the reason says why "
        "the other backend cannot run it",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("only_backend")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None or "server_backend" not in callspec.params:
            continue
        (wanted,) = marker.args
        assert wanted in BACKENDS and marker.kwargs.get("reason"), f"{item.nodeid}: bad only_backend"
        if callspec.params["server_backend"] != wanted:
            item.add_marker(pytest.mark.skip(reason=f"{wanted} only: {marker.kwargs['reason']}"))


@pytest.fixture(scope="session", params=BACKENDS)
def server_backend(request: pytest.FixtureRequest) -> str:
    """The backend every server of this test runs on: "local" or "aws"."""
    return str(request.param)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, server_backend: str) -> Iterator[Server]:
    """The main server: a real `image-service serve`, IMAGE_SERVICE_AUTH=api-key, default limits."""
    srv = start_server(tmp_path_factory, "api-key", server_backend)
    yield srv
    srv.stop()
