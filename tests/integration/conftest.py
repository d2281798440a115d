"""Services and the HTTP app in-process on the real adapters of each backend.

``backend`` is a Context on filesystem + SQLite (``local``) or on a fresh bucket and table of the
session's DynamoDB Local + moto S3 (``aws``), wired by the real composition root.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_emulators import fresh_resources

from image_service.bootstrap import aws_context, local_context
from image_service.services.context import Context
from image_service.settings import Settings


def open_context(kind: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    if kind == "local":
        return local_context(Settings(IMAGE_SERVICE_DATA_DIR=directory))  # type: ignore[call-arg]
    resources = fresh_resources()
    for name, value in resources.env().items():
        monkeypatch.setenv(name, value)
    return aws_context(Settings(), resources.clients)


@pytest.fixture(params=["local", "aws"])
def ctx(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    yield open_context(request.param, tmp_path, monkeypatch)


@pytest.fixture
def aws_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    return open_context("aws", tmp_path, monkeypatch)
