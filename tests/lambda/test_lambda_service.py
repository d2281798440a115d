"""The handler on both payload versions: /health, the error contract through API Gateway, and the
parts of real events the service does not use (cookies, multi-value headers) doing no harm."""

from __future__ import annotations

import pytest
from api_helpers import b64, noise_png, png, unique
from apigw import HttpRequest, LambdaClient, Version, http_api_event, rest_api_event
from lambda_helpers import Stack, assert_error, upload

from image_service.bootstrap import LAMBDA_MAX_INLINE


def test_health(anon: LambdaClient, version: Version) -> None:
    reply = anon.get("/health")
    assert reply.status == 200, reply.text
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    assert reply.is_base64 is False
    body = reply.json()
    assert set(body) == {"status", "service", "version", "backend"}
    assert (body["status"], body["backend"]) == ("healthy", "aws")
    if version == "v1":
        assert reply.result["multiValueHeaders"] == {}
    else:
        assert "cookies" not in reply.result  # the request's cookies are not echoed back


def test_deep_health_reaches_s3_and_dynamodb(anon: LambdaClient) -> None:
    reply = anon.get("/health", params={"deep": "true"})
    assert reply.status == 200, reply.text
    assert reply.json()["checks"] == {"storage": "ok", "catalog": "ok"}


def test_sample_events_carry_what_api_gateway_sends() -> None:
    """The builders keep the sample payloads' shape: the v1 event has both header maps and
    both query maps, the v2 event has cookies apart from the headers and a raw query string."""
    request = HttpRequest("GET", "/images", [("tag", "a"), ("tag", "b")], [("Accept", "application/json")])
    v1 = rest_api_event(request)
    assert v1["resource"] == "/{proxy+}" and v1["pathParameters"] == {"proxy": "images"}
    assert v1["requestContext"]["path"] == "/Prod/images"
    assert v1["queryStringParameters"] == {"tag": "b"}
    assert v1["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert v1["multiValueHeaders"]["Cookie"] == ["session=8f14e45fceea167a5a36dedd4bea2543", "theme=dark"]
    assert v1["headers"]["Accept"] == "application/json" and v1["body"] is None
    v2 = http_api_event(request)
    assert v2["version"] == "2.0" and v2["rawPath"] == "/images"
    assert v2["rawQueryString"] == "tag=a&tag=b"
    assert v2["queryStringParameters"] == {"tag": "a,b"}
    assert v2["cookies"] and "cookie" not in v2["headers"]
    assert "body" not in v2 and v2["requestContext"]["http"]["method"] == "GET"


def test_default_inline_limit_fits_lambda(stack: Stack) -> None:
    """make_handler caps inline bodies (base64 makes them 4/3 larger) under the 6 MB response."""
    assert stack.handler.app.state.context.limits.max_inline_bytes == LAMBDA_MAX_INLINE
    assert LAMBDA_MAX_INLINE * 4 / 3 + 64 * 1024 < 6 * 1024 * 1024


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "abc"},
        {"limit": "101"},
        {"cursor": "not-a-cursor"},
        {"created_after": "soon"},
    ],
)
def test_bad_list_parameters_are_400(anon: LambdaClient, params: dict[str, str]) -> None:
    assert_error(anon.get("/images", params=params), 400)


def test_bad_base64_is_400(alice: LambdaClient) -> None:
    reply = alice.post("/images", json_body={"user_id": "alice", "image_data": "%%% not base64 %%%"})
    assert_error(reply, 400)


def test_malformed_json_is_400(alice: LambdaClient) -> None:
    reply = alice.post(
        "/images",
        content=b'{"user_id": "alice", "image_data": ',
        headers={"Content-Type": "application/json"},
    )
    assert_error(reply, 400)


def test_upload_without_a_key_is_401(anon: LambdaClient) -> None:
    reply = anon.post("/images", json_body={"user_id": "alice", "image_data": b64(png())})
    assert_error(reply, 401)
    assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["x-api-key", "Authorization"])
def test_wrong_key_is_401(anon: LambdaClient, header: str) -> None:
    value = "isk_0000_wrong" if header == "x-api-key" else "Bearer isk_0000_wrong"
    reply = anon.get("/images", headers={header: value})
    assert_error(reply, 401)


def test_bearer_key_is_accepted(stack: Stack, version: Version) -> None:
    client = LambdaClient(stack.handler, version)
    reply = client.get(
        "/images", headers={"Authorization": f"Bearer {stack.keys['alice']}"}, params={"user_id": "alice"}
    )
    assert reply.status == 200, reply.text


@pytest.mark.parametrize(
    "path",
    ["/images/00000000-0000-4000-8000-000000000000", "/images/nope/content", "/no-such-name.png", "/a/b/c"],
)
def test_unknown_is_404(anon: LambdaClient, path: str) -> None:
    assert_error(anon.get(path), 404)


def test_private_image_is_404_to_others(
    stack: Stack, alice: LambdaClient, bob: LambdaClient, anon: LambdaClient
) -> None:
    meta = upload(alice, png(), visibility="private", name=f"{unique('secret')}.png")
    for path in (f"/images/{meta['image_id']}", f"/images/{meta['image_id']}/content", f"/{meta['name']}"):
        assert alice.get(path).status == 200, path
        for other in (anon, bob):
            assert_error(other.get(path), 404)
    listed = bob.get("/images", params={"user_id": "alice", "limit": "100"}).json()["images"]
    assert meta["image_id"] not in {i["image_id"] for i in listed}
    # alice's two content reads (by id and by name) counted; the refused ones did not.
    assert stack.stored(meta["image_id"]).access_count == 2


def test_not_an_image_is_415(alice: LambdaClient) -> None:
    reply = alice.post(
        "/images", json_body={"user_id": "alice", "image_data": b64(b"just some text, no image")}
    )
    assert_error(reply, 415)


def test_unsupported_body_type_is_415(alice: LambdaClient) -> None:
    reply = alice.post("/images", content=png(), headers={"Content-Type": "image/png"})
    assert_error(reply, 415)


def test_over_max_image_size_is_413(stack: Stack, version: Version) -> None:
    small = stack.handler_with(MAX_IMAGE_SIZE="20000")
    client = stack.client(version, "alice", handler=small)
    ok = client.post("/images", json_body={"user_id": "alice", "image_data": b64(png())})
    assert ok.status == 201, ok.text
    data = noise_png(100, 100)
    assert len(data) > 20000
    assert_error(client.post("/images", json_body={"user_id": "alice", "image_data": b64(data)}), 413)
    reply = client.post("/images", files=[("file", ("big.png", data, "image/png"))])
    assert_error(reply, 413)


def test_error_from_a_v1_event_without_optional_maps(stack: Stack) -> None:
    """REST API sends null for absent maps (headers too, from some test consoles)."""
    event = rest_api_event(HttpRequest("GET", "/images/nope"))
    event.update(headers=None, multiValueHeaders=None, pathParameters=None, stageVariables=None)
    reply = stack.handler(event, None)
    assert reply["statusCode"] == 404
    assert reply["isBase64Encoded"] is False and '"error"' in reply["body"]


# -- parts of real events the service ignores --------------------------------------------------


def test_multi_value_headers_are_read(alice: LambdaClient, anon: LambdaClient, version: Version) -> None:
    """A header sent twice reaches the app with both values (v1: multiValueHeaders, v2: joined)."""
    meta = upload(alice, png())
    path = f"/images/{meta['image_id']}/content"
    etag = anon.get(path).headers["etag"]
    reply = anon.get(path, headers=[("If-None-Match", '"other"'), ("If-None-Match", etag)])
    if version == "v1":
        assert reply.event["multiValueHeaders"]["If-None-Match"] == ['"other"', etag]
        assert reply.event["headers"]["If-None-Match"] == etag
    else:
        assert reply.event["headers"]["if-none-match"] == f'"other",{etag}'
    assert reply.status == 304, reply.text


def test_cookies_do_not_get_in_the_way(
    stack: Stack, alice: LambdaClient, anon: LambdaClient, version: Version
) -> None:
    """Browsers send cookies to the API's domain; the API key, not a cookie, says who calls."""
    jar = "session=abc; theme=dark"
    body = {"user_id": "alice", "image_data": b64(png())}
    reply = alice.post("/images", json_body=body, headers={"Cookie": jar})
    assert reply.status == 201, reply.text
    assert reply.json()["metadata"]["user_id"] == "alice"
    if version == "v1":
        assert reply.event["multiValueHeaders"]["Cookie"] == [jar]
    else:
        assert reply.event["cookies"] == ["session=abc", "theme=dark"]
        assert "cookie" not in reply.event["headers"]
    assert_error(
        anon.post("/images", json_body=body, headers={"Cookie": f"x-api-key={stack.keys['alice']}"}), 401
    )


def test_configured_inline_limit_is_kept(stack: Stack) -> None:
    handler = stack.handler_with(IMAGE_SERVICE_MAX_INLINE_BYTES="1234")
    assert handler.app.state.context.limits.max_inline_bytes == 1234


def test_openapi_and_docs_are_text(anon: LambdaClient) -> None:
    spec = anon.get("/openapi.json")
    assert spec.status == 200 and spec.is_base64 is False
    assert "/images/{image_id}/content" in spec.json()["paths"]
    docs = anon.get("/docs")
    assert docs.status == 200 and docs.is_base64 is False
    assert docs.headers["content-type"].startswith("text/html")


def test_docs_assets_are_served_as_text(anon: LambdaClient) -> None:
    """The docs pages' scripts come from the function itself (they work offline), as text: API
    Gateway passes them on as they are, not base64."""
    for page, assets in (
        ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
        ("/redoc", ("redoc.standalone.js",)),
    ):
        html = anon.get(page).text
        for asset in assets:
            assert f'"/docs/assets/{asset}"' in html, html
            reply = anon.get(f"/docs/assets/{asset}")
            assert reply.status == 200 and reply.is_base64 is False, asset
            assert reply.headers["content-type"].startswith(("text/javascript", "text/css"))
            assert len(reply.body) > 100_000
        assert "cdn." not in html


def test_docs_behind_a_base_path(stack: Stack, version: Version) -> None:
    """Behind a custom domain's base path (stripped by Mangum), the pages and the document's
    `servers` carry it, so the browser fetches /v1/openapi.json and "Try it out" calls /v1/..."""
    client = stack.client(version, handler=stack.handler_with(IMAGE_SERVICE_BASE_PATH="/v1"))
    docs = client.get("/v1/docs")
    assert docs.status == 200
    assert "'/v1/openapi.json'" in docs.text and '"/v1/docs/assets/swagger-ui-bundle.js"' in docs.text
    assert client.get("/v1/docs/assets/swagger-ui-bundle.js").status == 200
    assert '"/v1/openapi.json"' in client.get("/v1/redoc").text
    spec = client.get("/v1/openapi.json").json()
    assert spec["servers"] == [{"url": "/v1"}]


def test_method_not_allowed_is_json(anon: LambdaClient) -> None:
    reply = anon.request("PUT", "/images")
    assert_error(reply, 405)
    assert reply.headers["allow"] == "DELETE, GET, POST"
