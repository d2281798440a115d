"""A cold start, as Lambda does it: a fresh interpreter imports `image_service.lambda_handler` with
the function's environment and calls the module-level `handler`.

An audit hook counts every `socket.connect` and `socket.getaddrinfo`: importing must make none
(no boto3 calls, no `describe_table`, no secret fetched), so a cold start costs no round trip and
an unreachable backend cannot break the import. With S3 and DynamoDB pointed at a closed port the
import still succeeds, /health still answers, and requests that need storage get a clean 503.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from api_helpers import b64, png, unique
from apigw import HttpRequest, Reply, http_api_event, reply_from, rest_api_event
from lambda_helpers import Stack, assert_error, function_env
from settings_env import settings_variables

from image_service.devtools.emulator import free_port

COLD_START = """
import json, sys

network = []

def audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        network.append(f"{event} {args[1:]!r}")

sys.addaudithook(audit)
import image_service.lambda_handler as lambda_handler

at_import = list(network)
events = json.load(sys.stdin)
results = []
for event in events:
    before = len(network)
    results.append({"result": lambda_handler.handler(event, None), "network": len(network) - before})
print(json.dumps({"at_import": at_import, "results": results}))
"""


def cold_start(
    env: dict[str, str], events: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[Reply, int]]]:
    """Import the handler in a new interpreter (warnings are errors there too) and invoke it once
    per event; the network calls made by the import, and each reply with its call count."""
    inherited = {k: v for k, v in os.environ.items() if k not in settings_variables() and k != "AWS_PROFILE"}
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", COLD_START],
        input=json.dumps(events),
        env={**inherited, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = json.loads(completed.stdout.strip().splitlines()[-1])
    replies = [
        (reply_from("v2" if "version" in event else "v1", event, r["result"]), r["network"])
        for event, r in zip(events, output["results"], strict=True)
    ]
    return output["at_import"], replies


def test_import_makes_no_network_call_then_serves(stack: Stack) -> None:
    admin = [("x-api-key", stack.admin_key)]
    data = png(12, 10)
    name = f"{unique('cold')}.png"
    upload = json.dumps({"user_id": "alice", "image_data": b64(data), "name": name}).encode()
    events = [
        http_api_event(HttpRequest("GET", "/health")),
        rest_api_event(HttpRequest("GET", "/images", [("limit", "5")])),
        http_api_event(
            HttpRequest(
                "POST", "/images", headers=[*admin, ("content-type", "application/json")], body=upload
            )
        ),
        rest_api_event(HttpRequest("GET", f"/{name}")),
    ]
    at_import, replies = cold_start(function_env(stack.resources), events)
    assert at_import == []
    (health, health_calls), (listed, list_calls), (created, _), (content, _) = replies
    assert health.status == 200 and health.json()["backend"] == "aws"
    assert health_calls == 0  # /health without deep=true needs no backend either
    assert listed.status == 200, listed.text
    assert list_calls > 0  # the hook does see the requests that reach DynamoDB
    assert created.status == 201, created.text
    assert content.status == 200 and content.is_base64 and content.body == data
    assert stack.stored(created.json()["image_id"]).name == name


def test_unreachable_backend_fails_requests_not_the_import(stack: Stack) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    env = function_env(
        stack.resources, AWS_ENDPOINT_URL_S3=closed, AWS_ENDPOINT_URL_DYNAMODB=closed, AWS_MAX_ATTEMPTS="2"
    )
    events = [
        http_api_event(HttpRequest("GET", "/health")),
        http_api_event(HttpRequest("GET", "/images")),
        rest_api_event(HttpRequest("GET", "/images/00000000-0000-4000-8000-000000000000/content")),
        rest_api_event(HttpRequest("GET", "/health", [("deep", "true")])),
    ]
    at_import, replies = cold_start(env, events)
    assert at_import == []
    (health, _), (listed, list_calls), (content, _), (deep, _) = replies
    assert health.status == 200
    assert list_calls > 0  # it did try
    assert_error(listed, 503)
    assert_error(content, 503)
    assert deep.status == 503
    assert deep.json()["status"] != "healthy"
