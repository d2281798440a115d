"""API Gateway proxy events for the Lambda handler, and the client's view of its answers.

Events start from the full sample payloads in ``events/``: a REST API proxy event
(``aws-proxy``, payload 1.0, stage ``Prod``, resource ``/{proxy+}``) and an HTTP API event
(payload 2.0, ``$default`` stage and route). The builders fill in method, path, query, headers
and body the way API Gateway does:

- REST API (v1): ``headers`` keeps the last value of each header and ``multiValueHeaders`` all
  of them; ``queryStringParameters`` the last value of each parameter and
  ``multiValueQueryStringParameters`` all of them (both ``null`` without a query string);
  ``path`` is the resource path without the stage, ``requestContext.path`` has the stage.
- HTTP API (v2): lower-case ``headers``, repeated ones joined with commas; ``rawQueryString``
  exactly as the client sent it, ``queryStringParameters`` comma-joined (absent when empty);
  the ``Cookie`` header moves into the ``cookies`` list; no ``body`` key without a body.
- Bodies of binary media types (images, multipart) arrive base64-encoded with
  ``isBase64Encoded: true``; text and JSON arrive as they are, unless a test asks otherwise.

``reply_from`` checks that the handler's result is a proxy response API Gateway accepts (else it
answers 502 "Malformed Lambda proxy response") and turns it into what the HTTP client gets.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

Version = Literal["v1", "v2"]
VERSIONS: tuple[Version, ...] = ("v1", "v2")
EVENTS = Path(__file__).parent / "events"
# A synchronous invocation's response payload may be at most 6 MB.
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
TEXT_MEDIA_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
Params = Mapping[str, str | int | Sequence[str]] | Sequence[tuple[str, str]]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    # None: as API Gateway decides (binary media types base64-encoded); True/False to force it.
    base64: bool | None = None

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Python runtime's context object."""

    function_name: str = "image-service-ImageFunction-x1Y2z3A4b5C6"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:image-service-ImageFunction-x1Y2z3A4b5C6"
    )
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/image-service-ImageFunction-x1Y2z3A4b5C6"
    log_stream_name: str = "2025/03/10/[$LATEST]0123456789abcdef0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@functools.cache
def _sample(name: str) -> str:
    return (EVENTS / name).read_text()


def sample_event(version: Version) -> dict[str, Any]:
    """A fresh copy of the sample payload."""
    event: dict[str, Any] = json.loads(_sample("rest_api_v1.json" if version == "v1" else "http_api_v2.json"))
    return event


def _body(request: HttpRequest) -> tuple[str | None, bool]:
    if request.body is None:
        return None, False
    encode = request.base64
    if encode is None:
        content_type = (request.header("content-type") or "").lower()
        encode = not any(content_type.startswith(t) for t in TEXT_MEDIA_TYPES)
    if encode:
        return base64.b64encode(request.body).decode(), True
    return request.body.decode(), False


def _grouped(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def _with_length(request: HttpRequest) -> list[tuple[str, str]]:
    headers = [(k, v) for k, v in request.headers if k.lower() != "content-length"]
    if request.body is not None:
        headers.append(("Content-Length", str(len(request.body))))
    return headers


def rest_api_event(request: HttpRequest) -> dict[str, Any]:
    """A REST API (payload 1.0) proxy event for ``ANY /{proxy+}`` (or ``/``) on stage Prod."""
    event = sample_event("v1")
    # The sample's headers, case-insensitively replaced by the request's.
    headers: dict[str, list[str]] = dict(event["multiValueHeaders"])
    for name, values in _grouped(_with_length(request)).items():
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = values
    event["headers"] = {name: values[-1] for name, values in headers.items()}
    event["multiValueHeaders"] = headers

    query = _grouped(request.query)
    event["queryStringParameters"] = {k: v[-1] for k, v in query.items()} or None
    event["multiValueQueryStringParameters"] = query or None

    resource = "/" if request.path == "/" else "/{proxy+}"
    stage = event["requestContext"]["stage"]
    event["resource"] = resource
    event["path"] = request.path
    event["httpMethod"] = request.method
    event["pathParameters"] = None if resource == "/" else {"proxy": request.path.lstrip("/")}
    event["requestContext"].update(
        resourcePath=resource,
        httpMethod=request.method,
        path=f"/{stage}{request.path}",
        requestId=str(uuid.uuid4()),
        requestTimeEpoch=int(time.time() * 1000),
    )
    event["body"], event["isBase64Encoded"] = _body(request)
    return event


def http_api_event(request: HttpRequest) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for the ``$default`` route on the ``$default`` stage."""
    event = sample_event("v2")
    headers: dict[str, str] = dict(event["headers"])
    for name, values in _grouped([(k.lower(), v) for k, v in _with_length(request)]).items():
        if name == "cookie":
            event["cookies"] = [c.strip() for v in values for c in v.split(";") if c.strip()]
        else:
            headers[name] = ",".join(values)
    if request.body is None:
        headers.pop("content-length", None)
    event["headers"] = headers

    event["rawPath"] = request.path
    event["rawQueryString"] = urlencode(request.query)
    query = _grouped(request.query)
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    event["requestContext"]["http"].update(method=request.method, path=request.path)
    event["requestContext"].update(requestId=uuid.uuid4().hex[:16], timeEpoch=int(time.time() * 1000))
    body, event["isBase64Encoded"] = _body(request)
    if body is not None:
        event["body"] = body
    return event


def build_event(version: Version, request: HttpRequest) -> dict[str, Any]:
    return rest_api_event(request) if version == "v1" else http_api_event(request)


@dataclass
class Reply:
    """The HTTP response a client of API Gateway gets from the handler's result."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    is_base64: bool
    event: dict[str, Any]
    result: dict[str, Any]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def _is_str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def reply_from(version: Version, event: dict[str, Any], result: dict[str, Any]) -> Reply:
    """Check that ``result`` is a valid proxy response for ``version`` and read it as API Gateway
    does."""
    assert isinstance(result, dict), result
    assert len(json.dumps(result)) <= LAMBDA_RESPONSE_LIMIT, "over Lambda's response limit"
    status = result["statusCode"]
    assert isinstance(status, int) and 100 <= status <= 599, result
    body = result.get("body", "")
    assert isinstance(body, str), result
    is_base64 = result.get("isBase64Encoded", False)
    assert isinstance(is_base64, bool), result
    headers: dict[str, str] = {}
    if version == "v1":
        assert set(result) <= {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
        assert _is_str_map(result.get("headers", {})), result
        multi = result.get("multiValueHeaders", {})
        assert isinstance(multi, dict), result
        assert all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in multi.values())
        headers.update({k.lower(): v for k, v in result.get("headers", {}).items()})
        headers.update({k.lower(): ", ".join(v) for k, v in multi.items()})
    else:
        assert set(result) <= {"statusCode", "headers", "cookies", "body", "isBase64Encoded"}, result
        assert _is_str_map(result.get("headers", {})), result
        cookies = result.get("cookies", [])
        assert isinstance(cookies, list) and all(isinstance(c, str) for c in cookies), result
        headers.update({k.lower(): v for k, v in result.get("headers", {}).items()})
        if cookies:
            headers["set-cookie"] = ", ".join(cookies)
    data = base64.b64decode(body, validate=True) if is_base64 else body.encode()
    return Reply(status, headers, data, is_base64, event, result)


def _query(params: Params | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in params.items():
            values = [value] if isinstance(value, str | int) else list(value)
            pairs.extend((key, str(v)) for v in values)
        return pairs
    return [(k, str(v)) for k, v in params]


class LambdaClient:
    """Requests through API Gateway to a handler, in the shape of one payload version."""

    def __init__(self, handler: Handler, version: Version, key: str | None = None) -> None:
        self.handler = handler
        self.version = version
        self.key = key

    def as_(self, key: str | None) -> LambdaClient:
        return LambdaClient(self.handler, self.version, key)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None,
        data: Mapping[str, str] | None = None,
        base64: bool | None = None,
    ) -> Reply:
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        if self.key is not None:
            pairs.insert(0, ("x-api-key", self.key))
        body = content
        if json_body is not None:
            body = json.dumps(json_body).encode()
            pairs.append(("Content-Type", "application/json"))
        elif files is not None or data is not None:
            # httpx writes the multipart body a browser or SDK would send.
            encoded = httpx.Request("POST", "https://example.invalid/", files=files, data=data)
            body = encoded.read()
            pairs.append(("Content-Type", encoded.headers["content-type"]))
        request = HttpRequest(method, path, _query(params), pairs, body, base64)
        event = build_event(self.version, request)
        # The handler gets its own copy, as Lambda hands it a freshly parsed payload.
        result = self.handler(copy.deepcopy(event), LambdaContext())
        return reply_from(self.version, event, result)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, **kwargs)
