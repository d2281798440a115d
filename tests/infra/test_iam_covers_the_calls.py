"""The function's role allows every AWS call the service makes, and nothing it does not make.

moto does not enforce IAM, so the deployed stack cannot show a missing permission. Instead every
API route runs on the emulators through the app the Lambda handler serves, with the keys from
Secrets Manager, while botocore's ``before-parameter-build`` event records each operation and
its parameters. Each operation is mapped to the IAM actions AWS checks for it, and the result is
compared with the template's policy. Presigned URLs are signed with the role's credentials too,
so the actions they carry count as used.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import png
from app_thread import serving
from aws_emulators import emulators, fresh_resources

from image_service.aws.clients import AwsClients
from image_service.bootstrap import build_app
from image_service.deploy import template as templates
from image_service.settings import Settings

TEMPLATE = Path(__file__).parents[2] / "infra" / "template.yaml"
ADMIN_KEY = "Q7wLm2Zr9Xc4Vb8Nt1Ky6Hd3Jf5Gs0Pa2Ue4Wi7Ro9"
# Operations whose IAM action has another name (AWS's Service Authorization Reference).
ACTIONS = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    # generate_presigned_post builds its URL from the CreateBucket model; the POST is a PutObject.
    ("s3", "CreateBucket"): "s3:PutObject",
}
# TransactWriteItems is authorised item by item.
TRANSACTION_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
PREFIXES = {"s3": "s3", "dynamodb": "dynamodb", "secrets-manager": "secretsmanager"}
# What presigned URLs let their holder do as the role: view or download (GET), direct upload (POST).
PRESIGNED = {"s3:GetObject", "s3:PutObject"}


def granted() -> set[str]:
    role = templates.load(TEMPLATE.read_text())["Resources"]["ImageFunctionRole"]["Properties"]
    actions: set[str] = set()
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            listed = statement["Action"]
            actions |= set(listed) if isinstance(listed, list) else {listed}
    return actions - {"logs:CreateLogStream", "logs:PutLogEvents"}  # Lambda's own log delivery


def iam_actions(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    if operation == "TransactWriteItems":
        return {TRANSACTION_ITEMS[kind] for item in params["TransactItems"] for kind in item}
    prefix = PREFIXES[service]
    return {ACTIONS.get((prefix, operation), f"{prefix}:{operation}")}


def recording(clients: AwsClients, calls: set[str]) -> None:
    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.update(iam_actions(model.service_model.service_id.hyphenize(), model.name, params))

    for client in (clients.s3, clients.dynamodb, clients.secretsmanager):
        client.meta.events.register("before-parameter-build.*.*", record)


def drive(client: httpx.Client) -> None:
    """Every route, as a user would call it, each answer checked."""

    def ok(response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json() if "json" in response.headers.get("content-type", "") else None

    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    ok(client.get("/health", params={"deep": "true"}))
    files = {"file": ("a.png", png(40, 30), "image/png")}
    first = ok(
        client.post("/images", headers=admin, files=files, data={"name": "a.png", "tags": "cat,sun"}), 201
    )
    image_id = first["metadata"]["image_id"]
    json_upload = {"image_data": base64.b64encode(png()).decode(), "tags": ["dog"], "category": "pets"}
    keyed = {**admin, "Idempotency-Key": "iam-upload"}  # claimed, answered, then replayed
    second = ok(client.post("/images", headers=keyed, json=json_upload), 201)["metadata"]["image_id"]
    assert ok(client.post("/images", headers=keyed, json=json_upload), 201)["metadata"]["image_id"] == second
    # A list page is its Queries; text search reads the vocabulary and its page's images with
    # BatchGetItem.
    for query in ({}, {"tag": "cat"}, {"category": "pets"}, {"user_id": "admin"}, {"visibility": "public"}):
        ok(client.get("/images", params={"limit": 1, **query}, headers=admin))
    ok(client.get("/images", params={"limit": 1, "q": "sunset cat"}, headers=admin))
    ok(client.get(f"/images/{image_id}", params={"download": "true"}))
    assert client.get(f"/images/{image_id}/content", follow_redirects=False).status_code == 302  # > 100 B
    assert client.get("/a.png", follow_redirects=False).status_code == 302
    ok(client.patch(f"/images/{image_id}", headers=admin, json={"title": "t", "tags": ["cat"]}))
    start = {"filename": "b.png", "content_type": "image/png", "size": len(png())}
    started = ok(
        client.post("/images/uploads", headers={**admin, "Idempotency-Key": "iam-start"}, json=start), 201
    )
    target = started["upload"]
    sent = httpx.post(target["url"], data=target["fields"], files={"file": ("b", png(), "image/png")})
    assert sent.status_code == 204, sent.text
    ok(client.post(f"/images/{started['image_id']}/complete", headers=admin), 201)
    ok(client.delete(f"/images/{second}", headers=admin))
    ok(
        client.request(
            "DELETE", "/images", headers=admin, json={"image_ids": [image_id, started["image_id"]]}
        )
    )


@pytest.fixture(scope="module")
def recorded() -> set[str]:
    stack = fresh_resources()
    calls: set[str] = set()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in stack.env().items():
            mp.setenv(name, value)
        mp.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", emulators().s3_url)  # moto serves it too
        secret = stack.clients.secretsmanager.create_secret(
            Name=f"{stack.table}-service", SecretString=json.dumps({"admin_key": ADMIN_KEY})
        )["ARN"]
        mp.setenv("IMAGE_SERVICE_SECRET_ARN", secret)
        mp.setenv("IMAGE_SERVICE_AUTH", "api-key")
        mp.setenv("IMAGE_SERVICE_MAX_INLINE_BYTES", "100")  # the 302 to a presigned URL as well
        mp.delenv("IMAGE_SERVICE_SIGNING_KEY", raising=False)
        mp.delenv("IMAGE_SERVICE_ADMIN_KEY", raising=False)
        settings = Settings()
        # The app lambda_app.make_handler wraps, without Mangum (whose event loop would outlive this).
        app = build_app(settings, runtime="lambda")
        recording(app.state.context.catalog.table.clients, calls)
        with serving(app) as client:
            drive(client)
    return calls


def test_every_call_the_service_makes_is_allowed(recorded: set[str]) -> None:
    assert recorded <= granted(), sorted(recorded - granted())


def test_nothing_is_allowed_that_the_service_does_not_use(recorded: set[str]) -> None:
    assert "secretsmanager:GetSecretValue" in recorded, "the keys came from Secrets Manager"
    assert granted() <= recorded | PRESIGNED, sorted(granted() - recorded - PRESIGNED)
