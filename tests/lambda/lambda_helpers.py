"""The stack the Lambda tests run on, and assertions and uploads they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from api_helpers import upload_json
from apigw import LambdaClient, Reply, Version
from aws_emulators import AwsResources
from mangum import Mangum
from settings_env import settings_variables

from image_service.domain.models import Image
from image_service.lambda_app import make_handler
from image_service.settings import Settings


def function_env(resources: AwsResources, **extra: str) -> dict[str, str]:
    """The environment of a deployed function: the bucket, the table, keys, api-key auth."""
    return {**resources.env(), "IMAGE_SERVICE_AUTH": "api-key", **extra}


def use_function_env(mp: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Exactly ``env`` for everything Settings reads (nothing inherited from the shell)."""
    for name in settings_variables() | {"AWS_PROFILE", "AWS_SESSION_TOKEN"}:
        mp.delenv(name, raising=False)
    for name, value in env.items():
        mp.setenv(name, value)


@dataclass
class Stack:
    """One bucket and table, the handler made from their environment, and API keys."""

    resources: AwsResources
    handler: Mangum
    admin_key: str
    keys: dict[str, str]

    def client(
        self, version: Version, user: str | None = None, *, handler: Mangum | None = None
    ) -> LambdaClient:
        key = None if user is None else self.admin_key if user == "admin" else self.keys[user]
        return LambdaClient(handler or self.handler, version, key)

    def handler_with(self, **env: str) -> Mangum:
        """Another handler on the same bucket and table, made with extra environment variables."""
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            return make_handler(Settings())

    def stored(self, image_id: str) -> Image:
        return self.resources.catalog().get(image_id)


def assert_error(reply: Reply, status: int) -> str:
    """The contract's error shape, as the API Gateway client sees it: a JSON {"error": ...} body
    sent as text (not base64), no stack trace, no vendor text."""
    assert reply.status == status, (reply.status, reply.body[:500])
    assert reply.headers["content-type"] == "application/json; charset=utf-8", reply.headers
    assert reply.is_base64 is False, reply.result
    body = reply.json()
    assert isinstance(body, dict) and set(body) <= {"error", "details"}, body
    assert isinstance(body["error"], str) and body["error"], body
    for leak in ("Traceback", 'File "', "botocore", "ClientError", "127.0.0.1", "Endpoint"):
        assert leak not in reply.text, reply.text
    assert reply.headers.get("x-request-id")
    return str(body["error"])


def upload(client: LambdaClient, data: bytes, **meta: Any) -> dict[str, Any]:
    """A JSON upload (base64 image_data), as alice unless ``user_id`` says; the new image's metadata.
    Over HTTP: ``api_helpers.upload_image``."""
    body = upload_json(data, user_id=meta.pop("user_id", "alice"), **meta)
    reply = client.post("/images", json_body=body)
    assert reply.status == 201, (reply.status, reply.text)
    metadata: dict[str, Any] = reply.json()["metadata"]
    return metadata
