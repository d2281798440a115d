"""The client's own rules, on httpx's MockTransport (a transport httpx ships for this): which
requests are retried, how error answers read, and that the key never travels to a signed URL.
The same client against real servers on both backends: tests/cli/test_cli_client.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from client_answers import image_json

from image_service.client import ApiError, Client, TransportError

KEY = "isk_test"
API = "http://api.test"
STORAGE = "http://storage.test/bucket"
Handler = Callable[[httpx.Request], httpx.Response]


def uploaded(image_id: str = "img-1", **headers: str) -> httpx.Response:
    body = {"message": "Image uploaded successfully", "image_id": image_id, "metadata": image_json(image_id)}
    return httpx.Response(201, json=body, headers=headers)


class Recorder:
    """A MockTransport that answers from a list of handlers in turn and keeps every request."""

    def __init__(self, *answers: httpx.Response | Handler | Exception) -> None:
        self.answers: Iterator[httpx.Response | Handler | Exception] = iter(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = next(self.answers)
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    def client(self, key: str | None = KEY, retries: int = 2) -> Client:
        return Client(API, key, retries=retries, backoff=0, transport=httpx.MockTransport(self))


def test_an_error_answer_is_api_error_with_the_servers_text() -> None:
    answer = httpx.Response(404, json={"error": "image not found"}, headers={"x-request-id": "r1"})
    with Recorder(answer).client() as client, pytest.raises(ApiError) as raised:
        client.get_image("nope")
    assert (raised.value.status, raised.value.message, raised.value.request_id) == (
        404,
        "image not found",
        "r1",
    )
    assert str(raised.value) == "image not found (HTTP 404)"


def test_s3s_xml_error_is_read_too() -> None:
    xml = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    start = {
        "image_id": "img-1",
        "upload": {"url": STORAGE, "method": "POST", "fields": {}},
        "expires_in": 60,
    }
    recorder = Recorder(httpx.Response(201, json=start), httpx.Response(403, text=xml))
    with recorder.client() as client, pytest.raises(ApiError) as raised:
        client.upload_direct(b"\x89PNG\r\n\x1a\nrest")
    assert str(raised.value) == "Request has expired (HTTP 403)"


def test_reads_are_retried_after_a_503_or_a_lost_connection() -> None:
    recorder = Recorder(
        httpx.Response(503, json={"error": "busy"}),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"status": "healthy", "service": "s", "version": "1", "backend": "local"}),
    )
    with recorder.client() as client:
        assert client.health().status == "healthy"
    assert len(recorder.requests) == 3


def test_an_upload_without_a_key_is_never_retried() -> None:
    recorder = Recorder(httpx.Response(503, json={"error": "busy"}), uploaded())
    with recorder.client() as client, pytest.raises(ApiError) as raised:
        client.upload(b"\x89PNG\r\n\x1a\n")
    assert raised.value.status == 503 and len(recorder.requests) == 1
    recorder = Recorder(httpx.ReadTimeout("slow"), uploaded())
    with recorder.client() as client, pytest.raises(TransportError) as lost:
        client.upload(b"\x89PNG\r\n\x1a\n")
    assert str(lost.value) == f"cannot reach {API}/images: no answer in time"


def test_an_upload_with_a_key_is_retried_until_it_is_answered() -> None:
    in_progress = httpx.Response(
        409, json={"error": "a request with this Idempotency-Key is still in progress"}
    )
    recorder = Recorder(httpx.ReadTimeout("slow"), in_progress, uploaded(**{"Idempotent-Replayed": "true"}))
    with recorder.client() as client:
        done = client.upload(b"\x89PNG\r\n\x1a\n", idempotency_key="k1", title="t", tags=["a", "b"])
    assert done.replayed and done.image.image_id == "img-1"
    assert [r.headers["idempotency-key"] for r in recorder.requests] == ["k1"] * 3
    body = recorder.requests[0].content
    assert b'name="tags"\r\n\r\na\r\n' in body and b'name="tags"\r\n\r\nb\r\n' in body
    assert b'name="title"\r\n\r\nt\r\n' in body


def test_a_conflict_other_than_in_progress_is_not_retried() -> None:
    used = httpx.Response(
        409, json={"error": "this Idempotency-Key was already used for a different request"}
    )
    recorder = Recorder(used, uploaded())
    with recorder.client() as client, pytest.raises(ApiError):
        client.upload(b"x", idempotency_key="k1")
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_a_direct_upload_sends_the_bytes_without_the_key(method: str) -> None:
    target = {"url": f"{STORAGE}?sig=1", "method": method}
    target |= (
        {"headers": {"Content-Type": "image/png"}}
        if method == "PUT"
        else {"fields": {"key": "k", "policy": "p"}}
    )
    start = httpx.Response(201, json={"image_id": "img-1", "upload": target, "expires_in": 3600})
    recorder = Recorder(start, httpx.Response(200 if method == "PUT" else 204), uploaded())
    data = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    with recorder.client() as client:
        done = client.upload_file(data, inline_limit=50, title="big")
    assert done.direct and not done.replayed
    started, sent, completed = recorder.requests
    assert json.loads(started.content) == {
        "filename": "upload", "title": "big", "content_type": "image/png", "size": len(data),
    }  # fmt: skip
    assert (sent.method, str(sent.url)) == (method, f"{STORAGE}?sig=1")
    assert "x-api-key" not in sent.headers
    if method == "PUT":
        assert sent.content == data and sent.headers["content-type"] == "image/png"
    else:
        assert b'name="policy"\r\n\r\np\r\n' in sent.content and data in sent.content
    assert completed.url.path == "/images/img-1/complete" and completed.headers["x-api-key"] == KEY


def test_a_replayed_direct_start_of_a_completed_upload_sends_nothing_again() -> None:
    target = {"url": STORAGE, "method": "PUT", "headers": {}}
    start = httpx.Response(
        201,
        json={"image_id": "img-1", "upload": target, "expires_in": 60},
        headers={"Idempotent-Replayed": "true"},
    )
    view = {"image_id": "img-1", "metadata": image_json(), "url": "u", "presigned_url": "u", "expires_in": 1}
    recorder = Recorder(start, httpx.Response(200, json=view))
    with recorder.client() as client:
        done = client.upload_direct(b"\x89PNG\r\n\x1a\n", idempotency_key="k")
    assert done.replayed and done.direct
    assert [r.method for r in recorder.requests] == ["POST", "GET"]


def test_content_behind_a_redirect_is_fetched_without_the_key(tmp_path: Any) -> None:
    moved = httpx.Response(302, headers={"location": f"{STORAGE}/obj?X-Amz-Signature=s"})
    recorder = Recorder(moved, httpx.Response(200, content=b"bytes", headers={"content-type": "image/png"}))
    with recorder.client() as client:
        done = client.download(tmp_path / "out.png", "img-1", w=256)
    assert (tmp_path / "out.png").read_bytes() == b"bytes" and done.size == 5
    first, second = recorder.requests
    assert first.url.params["w"] == "256" and first.headers["x-api-key"] == KEY
    assert second.url.host == "storage.test" and "x-api-key" not in second.headers


def test_a_failed_download_leaves_no_file(tmp_path: Any) -> None:
    recorder = Recorder(httpx.Response(404, json={"error": "image not found"}))
    with recorder.client() as client, pytest.raises(ApiError):
        client.download(tmp_path / "out.png", name="cat.png")
    assert list(tmp_path.iterdir()) == []
    assert recorder.requests[0].url.path == "/cat.png"


class BrokenBody(httpx.SyncByteStream):
    """A body whose connection drops after the first chunk."""

    def __iter__(self) -> Iterator[bytes]:
        yield b"first bytes"
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


def test_a_download_broken_off_mid_body_is_a_transport_error(tmp_path: Any) -> None:
    recorder = Recorder(httpx.Response(200, stream=BrokenBody(), headers={"content-type": "image/png"}))
    with recorder.client() as client, pytest.raises(TransportError) as raised:
        client.download(tmp_path / "out.png", "img-1", w=256)
    assert raised.value.url == f"{API}/images/img-1/content"  # no query: signed URLs carry secrets
    assert "peer closed connection" in raised.value.reason
    assert list(tmp_path.iterdir()) == []


def test_bulk_delete_sends_100_ids_a_request() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)["image_ids"]
        return httpx.Response(
            200, json={"deleted": ids[1:], "failed": [{"image_id": ids[0], "reason": "not_found"}]}
        )

    recorder = Recorder(answer, answer, answer)
    ids = [f"id-{i}" for i in range(250)]
    with recorder.client() as client:
        result = client.delete_many([*ids, "id-0"])
    assert [len(json.loads(r.content)["image_ids"]) for r in recorder.requests] == [100, 100, 50]
    assert len(result.deleted) == 247 and [f.image_id for f in result.failed] == ["id-0", "id-100", "id-200"]


def test_list_filters_and_iteration_follow_the_cursor() -> None:
    def page(images: list[str], cursor: str | None) -> httpx.Response:
        listed = [{**image_json(i), "thumbnail_url": f"{API}/t", "future_field": 1} for i in images]
        body = {"images": listed, "count": len(images), "has_more": cursor is not None, "next_cursor": cursor}
        return httpx.Response(200, json={**body, "last_evaluated_key": cursor})

    recorder = Recorder(page(["a", "b"], "c1"), page(["c"], None))
    with recorder.client(key=None) as client:
        found = [
            i.image_id for i in client.iter_images(page_size=2, tag=["x", "y"], q="sun", visibility="public")
        ]
    assert found == ["a", "b", "c"]
    first, second = recorder.requests
    assert first.url.params.get_list("tag") == ["x", "y"] and "cursor" not in first.url.params
    assert (first.url.params["q"], first.url.params["limit"]) == ("sun", "2")
    assert second.url.params["cursor"] == "c1"
    assert "x-api-key" not in first.headers


def test_an_image_reads_and_writes_the_apis_json() -> None:
    """Every field of the image resource, times as the API writes them; unknown fields ignored."""
    from image_service.client import ListedImage

    wire = {**image_json(last_accessed_at="2026-01-02T00:00:00.500Z"), "thumbnail_url": "t"}
    image = ListedImage.model_validate({**wire, "added_later": True})
    assert image.created_at.microsecond == 123000 and image.last_accessed_at is not None
    assert image.model_dump(mode="json") == wire


def test_the_client_knows_every_field_the_server_sends() -> None:
    from image_service.api.schemas import ImageOut, ListedImageOut
    from image_service.client import Image, ListedImage

    assert list(Image.model_fields) == list(ImageOut.model_fields)
    assert list(ListedImage.model_fields) == list(ListedImageOut.model_fields)
    assert set(image_json()) == set(ImageOut.model_fields)
