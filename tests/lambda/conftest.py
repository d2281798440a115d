"""The Lambda handler on the aws backend (DynamoDB Local + moto S3), driven with API Gateway events.

Each test module gets a fresh bucket and table, the environment a deployed function would have
(``AwsResources.env()``), a handler made by ``lambda_app.make_handler(Settings())`` from that
environment, and API keys for alice and bob. The ``version`` fixture runs a test once with REST
API (payload 1.0) events and once with HTTP API (payload 2.0) events.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apigw import VERSIONS, LambdaClient, Version
from aws_emulators import fresh_resources
from lambda_helpers import Stack, function_env, use_function_env

from image_service.lambda_app import make_handler
from image_service.services.keys import create_key
from image_service.settings import Settings

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `lambda` is a keyword, so `pytest.mark.lambda` cannot be written: mark by name instead.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker("lambda")


@pytest.fixture(scope="package", autouse=True)
def event_loop_for_mangum() -> Iterator[None]:
    """Mangum runs requests on the thread's event loop and makes one if there is none, never
    closing it. Give it one that is closed afterwards, so no loop (and its self-pipe sockets)
    outlives these tests to be reported unclosed at the end of the session."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    resources = fresh_resources()
    with pytest.MonkeyPatch.context() as mp:
        use_function_env(mp, function_env(resources))
        handler = make_handler(Settings())
        store = resources.keys()
        now = datetime.now(UTC)
        keys = {user: create_key(store, user, is_admin=False, now=now)[1] for user in ("alice", "bob")}
        # boto3 reads credentials when a client is first used: the environment stays for the module.
        yield Stack(resources, handler, os.environ["IMAGE_SERVICE_ADMIN_KEY"], keys)


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> Version:
    value: Version = request.param
    return value


@pytest.fixture
def anon(stack: Stack, version: Version) -> LambdaClient:
    return stack.client(version)


@pytest.fixture
def admin(stack: Stack, version: Version) -> LambdaClient:
    return stack.client(version, "admin")


@pytest.fixture
def alice(stack: Stack, version: Version) -> LambdaClient:
    return stack.client(version, "alice")


@pytest.fixture
def bob(stack: Stack, version: Version) -> LambdaClient:
    return stack.client(version, "bob")
