"""The function's log: the handler module (as Lambda imports it) writes each request as one JSON
line with the request log's fields, at the configured level (Lambda's root logger drops INFO)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from apigw import HttpRequest, http_api_event
from lambda_helpers import Stack, function_env
from settings_env import settings_variables

INVOKE = """
import json, sys
import image_service.lambda_handler as lambda_handler
for event in json.load(sys.stdin):
    lambda_handler.handler(event, None)
"""


def test_each_request_is_a_json_log_line(stack: Stack) -> None:
    inherited = {k: v for k, v in os.environ.items() if k not in settings_variables() and k != "AWS_PROFILE"}
    events = [http_api_event(HttpRequest("GET", "/health")), http_api_event(HttpRequest("GET", "/images/x"))]
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", INVOKE],
        input=json.dumps(events),
        env={**inherited, **function_env(stack.resources)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    records = [json.loads(line) for line in completed.stderr.splitlines() if line.strip()]
    assert all({"timestamp", "level", "logger", "message"} <= set(r) for r in records), records
    requests = [r for r in records if r["logger"] == "image_service.access"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/health", 200),
        ("GET", "/images/x", 404),
    ]
