"""CORS on the self-hosted server: the origins of IMAGE_SERVICE_CORS_ORIGINS may call every route
from a browser (preflights answered, credential headers allowed, useful headers exposed); any other
origin, and every origin when the setting is empty, gets no CORS header at all.

CORS is the app's, the same on either backend: the server with the setting runs on local only.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_helpers import png, unique
from api_server import Server, start_server

pytestmark = pytest.mark.api

ALLOWED = "https://app.example.com"
OTHER_ALLOWED = "http://127.0.0.1:5173"
STRANGER = "https://evil.example.net"
# What a browser asks before an upload with a key, a retry key and a JSON body.
CREDENTIAL_HEADERS = "authorization,x-api-key,idempotency-key,content-type,range,if-none-match"
ROUTES = [
    ("POST", "/images"),
    ("GET", "/images"),
    ("DELETE", "/images"),
    ("GET", "/images/some-id"),
    ("PATCH", "/images/some-id"),
    ("DELETE", "/images/some-id"),
    ("GET", "/images/some-id/content"),
    ("POST", "/images/uploads"),
    ("POST", "/images/some-id/complete"),
    ("GET", "/cat42.png"),
    ("GET", "/health"),
    ("POST", "/api/v1/images"),
    ("POST", "/upload"),
]


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory, "cors", "local", IMAGE_SERVICE_CORS_ORIGINS=f"{ALLOWED}, {OTHER_ALLOWED}"
    )
    yield srv
    srv.stop()


def preflight(server: Server, origin: str, method: str, path: str) -> httpx.Response:
    return httpx.options(
        f"{server.base_url}{path}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": CREDENTIAL_HEADERS,
        },
    )


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def listed(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",")}


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_preflight_from_an_allowed_origin_is_answered(cors_server: Server, method: str, path: str) -> None:
    for origin in (ALLOWED, OTHER_ALLOWED):
        response = preflight(cors_server, origin, method, path)
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == origin
        assert method.lower() in listed(response.headers["access-control-allow-methods"])
        assert listed(CREDENTIAL_HEADERS) <= listed(response.headers["access-control-allow-headers"])
        assert "access-control-allow-credentials" not in response.headers, "keys, not cookies"
        assert int(response.headers["access-control-max-age"]) > 0


def test_a_request_from_an_allowed_origin_may_read_the_answer_and_its_headers(cors_server: Server) -> None:
    key = cors_server.admin_key
    assert key
    headers = {"Origin": ALLOWED, "x-api-key": key}
    with httpx.Client(base_url=cors_server.base_url, headers=headers) as client:
        created = client.post(
            "/images",
            files={"file": ("c.png", png(), "image/png")},
            data={"name": f"{unique('cors')}.png"},
            headers={"Idempotency-Key": unique("idem")},
        )
        assert created.status_code == 201, created.text
        assert created.headers["access-control-allow-origin"] == ALLOWED
        exposed = listed(created.headers["access-control-expose-headers"])
        assert {"etag", "content-range", "x-request-id", "content-disposition", "location"} <= exposed
        content = client.get(f"/images/{created.json()['metadata']['image_id']}/content")
        assert content.status_code == 200 and content.headers["access-control-allow-origin"] == ALLOWED
        assert "origin" in listed(content.headers["vary"]), "a cache keeps one answer per origin"
        # Errors are readable too: a page can show the {"error"} body.
        missing = client.get("/images/nope")
        assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == ALLOWED


@pytest.mark.parametrize(("method", "path"), ROUTES[:4])
def test_another_origin_gets_no_cors_header(cors_server: Server, method: str, path: str) -> None:
    for origin in (STRANGER, f"{ALLOWED}.evil.net", ALLOWED.replace("https", "http")):
        assert cors_headers(preflight(cors_server, origin, method, path)) == {}
        answer = httpx.request(method, f"{cors_server.base_url}{path}", headers={"Origin": origin})
        assert cors_headers(answer) == {}
        assert "origin" in listed(answer.headers["vary"])


def test_without_the_setting_no_origin_gets_cors_headers(server: Server) -> None:
    for origin in (ALLOWED, STRANGER):
        assert cors_headers(preflight(server, origin, "POST", "/images")) == {}
        assert cors_headers(httpx.get(f"{server.base_url}/health", headers={"Origin": origin})) == {}
