"""The server's log: every line it writes to stderr, uvicorn's included, from start-up to shutdown,
is one JSON object with timestamp, level, logger and message; request lines keep their fields."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime
from typing import Any

import pytest
from api_helpers import unique
from api_server import Server, start_server

pytestmark = pytest.mark.api


def records(server: Server) -> list[dict[str, Any]]:
    lines = [line for line in server.stderr().splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    parsed = []
    for line in lines:
        record = json.loads(line)  # fails on any line that is not JSON
        assert isinstance(record, dict), line
        assert {"timestamp", "level", "logger", "message"} <= set(record), line
        datetime.fromisoformat(record["timestamp"])
        assert record["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, line
        parsed.append(record)
    return parsed


def test_every_line_of_the_log_is_a_json_object(
    tmp_path_factory: pytest.TempPathFactory, server_backend: str
) -> None:
    server = start_server(tmp_path_factory, "json-logs", server_backend)
    request_id = unique("logs")
    try:
        assert server.admin_key and server.admin_key.startswith("isk_"), "stdout still ends with the key"
        client = server.client(server.admin_key)
        assert client.get("/images", headers={"X-Request-ID": request_id}).status_code == 200
        assert client.get("/images/nope").status_code == 404
        assert client.post("/images", json={"image_data": "not base64!"}).status_code == 400
        # Bytes that are no HTTP at all: uvicorn says so in its own log.
        host, port = server.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(b"\x16\x03\x01 not http\r\n\r\n")
            raw.recv(1024)
        time.sleep(0.2)
    finally:
        server.stop()
    logged = records(server)
    messages = [r["message"] for r in logged]
    assert any(m.startswith("Uvicorn running on") for m in messages), messages
    assert "Application startup complete." in messages
    assert any(r["logger"].startswith("uvicorn") and r["level"] == "WARNING" for r in logged), messages
    assert any(r["logger"] == "image_service.cli" and "admin key" in r["message"] for r in logged)
    (line,) = [r for r in logged if r.get("request_id") == request_id]
    assert line["logger"] == "image_service.access" and line["level"] == "INFO"
    assert (line["method"], line["path"], line["status"], line["user"]) == ("GET", "/images", 200, "admin")
    assert isinstance(line["duration_ms"], int | float)
    statuses = {r["status"] for r in logged if r["logger"] == "image_service.access"}
    assert {200, 404, 400} <= statuses
    assert "color_message" not in json.dumps(logged), "no terminal colour codes in the log"


def test_auth_none_warns_in_the_log(open_server: Server) -> None:
    (warning,) = [r for r in records(open_server) if "IMAGE_SERVICE_AUTH=none" in r["message"]]
    assert warning["level"] == "WARNING" and "trusted networks" in warning["message"]
