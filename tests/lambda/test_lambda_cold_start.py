"""A cold start, as Lambda does it: a fresh interpreter imports `image_service.lambda_handler` with
the function's environment and calls the module-level `handler`.

An audit hook counts every `socket.connect` and `socket.getaddrinfo`: importing must make none
(no boto3 calls, no `describe_table`, no secret fetched), so a cold start costs no round trip and
an unreachable backend cannot break the import. With S3 and DynamoDB pointed at a closed port the
import still succeeds, /health still answers, and requests that need storage get a clean 503.

Nor do the import and the plain reads (health, list, view, the original's content) load an
imaging library: pyvips (and libvips with it) or Pillow. Only a rendition or an upload needs one,
and a cold start that loads them pays for it on every GET (bench_coldstart.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from api_helpers import b64, jpeg, png, unique
from apigw import HttpRequest, Reply, http_api_event, reply_from, rest_api_event
from lambda_helpers import Stack, assert_error, function_env, upload
from settings_env import settings_variables

from image_service.devtools.emulator import free_port

COLD_START = """
import gc, json, sys

network = []

def audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        network.append(f"{event} {args[1:]!r}")

sys.addaudithook(audit)
import image_service.lambda_handler as lambda_handler

def imaging():
    return sorted({m.partition(".")[0] for m in sys.modules} & {"pyvips", "_libvips", "PIL"})

def boto3_loaded():
    return sorted({m.partition(".")[0] for m in sys.modules} & {"boto3", "s3transfer"})

at_import = list(network)
imaging_at_import = imaging()
gc_at_import = gc.isenabled()
events = json.load(sys.stdin)
results = []
for event in events:
    before = len(network)
    result = lambda_handler.handler(event, None)
    results.append({"result": result, "network": len(network) - before, "imaging": imaging(),
                    "boto3": boto3_loaded(), "gc": gc.isenabled()})
print(json.dumps({"at_import": at_import, "imaging_at_import": imaging_at_import, "results": results,
                  "gc_at_import": gc_at_import}))
"""


@dataclass(frozen=True)
class ColdStart:
    at_import: list[str]  # the network calls the import made
    replies: list[tuple[Reply, int]]  # each event's reply, and the network calls it made
    imaging_at_import: list[str]  # the imaging libraries (pyvips, _libvips, PIL) the import loaded
    imaging: list[list[str]]  # ... and loaded by the end of each event
    boto3: list[list[str]]  # boto3 and s3transfer, if loaded by the end of each event
    gc_at_import: bool  # whether the cyclic garbage collector ran after the import
    gc: list[bool]  # ... and after each event


def run_cold(env: dict[str, str], events: list[dict[str, Any]]) -> ColdStart:
    """Import the handler in a new interpreter (warnings are errors there too) and invoke it once
    per event."""
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
    results = output["results"]
    return ColdStart(
        output["at_import"],
        replies,
        output["imaging_at_import"],
        [r["imaging"] for r in results],
        [r["boto3"] for r in results],
        output["gc_at_import"],
        [r["gc"] for r in results],
    )


def cold_start(
    env: dict[str, str], events: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[Reply, int]]]:
    """The network calls made by the import, and each reply with its call count."""
    run = run_cold(env, events)
    return run.at_import, run.replies


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


def test_plain_reads_load_no_imaging_library(stack: Stack) -> None:
    data = jpeg(32, 24)
    name = f"{unique('cold')}.jpg"
    image_id = upload(stack.client("v2", "admin"), data, user_id="alice", name=name)["image_id"]
    admin = [("x-api-key", stack.admin_key)]
    # A rendition made (and stored) by a warm handler: reading it back cold loads no engine.
    made = stack.client("v2", "admin").get(f"/images/{image_id}/content", params={"w": "64"})
    assert made.status == 200, made.text
    reads = [
        http_api_event(HttpRequest("GET", "/health")),
        rest_api_event(HttpRequest("GET", "/images", [("limit", "5")], admin)),
        http_api_event(HttpRequest("GET", f"/images/{image_id}", headers=admin)),
        http_api_event(HttpRequest("GET", f"/images/{image_id}/content", headers=admin)),
        rest_api_event(HttpRequest("GET", f"/{name}")),
        http_api_event(HttpRequest("GET", f"/images/{image_id}/content", [("w", "64")], admin)),
    ]
    upload_event = http_api_event(
        HttpRequest(
            "POST",
            "/images",
            headers=[*admin, ("content-type", "application/json")],
            body=json.dumps({"user_id": "alice", "image_data": b64(png(12, 10))}).encode(),
        )
    )
    run = run_cold(function_env(stack.resources), [*reads, upload_event])
    *read_replies, (created, _) = run.replies
    assert [reply.status for reply, _ in read_replies] == [200] * len(reads), [
        reply.text for reply, _ in read_replies
    ]
    assert read_replies[3][0].body == data
    assert run.imaging_at_import == []
    assert run.imaging[: len(reads)] == [[]] * len(reads)
    # The check can fail: the upload, which inspects the image, does load an imaging library.
    assert created.status == 201, created.text
    assert run.imaging[-1] != []


def test_a_cold_read_makes_its_clients_with_botocore_alone_and_collects_after_it(stack: Stack) -> None:
    """boto3 (and s3transfer, its S3 transfers) would add ~20 ms to a cold start and give the
    adapters nothing: the clients are botocore's (aws/clients.py). The garbage collector is off
    through the import and the first answer (lambda_handler.py), and on for every answer after."""
    admin = [("x-api-key", stack.admin_key)]
    image_id = upload(stack.client("v2", "admin"), png(8, 8), user_id="alice")["image_id"]
    view = http_api_event(HttpRequest("GET", f"/images/{image_id}", headers=admin))
    run = run_cold(function_env(stack.resources), [http_api_event(HttpRequest("GET", "/health")), view, view])
    assert [reply.status for reply, _ in run.replies] == [200, 200, 200]
    assert run.replies[1][0].json()["url"].startswith(stack.resources.emulators.s3_url)  # presigned
    assert run.boto3 == [[], [], []]
    assert run.gc_at_import is False
    assert run.gc == [True, True, True]
