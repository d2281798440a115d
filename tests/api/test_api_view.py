"""GET /images/{id}: metadata plus a signed URL that works without credentials until it expires.

On local the URL is our own signed content route, and the tests alter and outwait it; on aws it is
an S3 presigned GET, and moto (the S3 here) checks neither signature nor expiry, so there the tests
check what the service signs (X-Amz-Expires, the signature, the disposition override) and that the
URL serves exactly the stored bytes.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from api_helpers import assert_error, assert_expires_in, jpeg, png, url_query
from api_server import MOTO_EXPIRY, MOTO_SIGNATURES, Server, Upload

S3_URL_PARAMETERS = "S3 presigned URL parameters (local URLs: the altered and expired URL tests)"

pytestmark = pytest.mark.api


def with_query(url: str, **changes: str) -> str:
    """The URL with some query values replaced (or removed when the value is "")."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value:
            query[key] = value
        else:
            query.pop(key, None)
    return urlunsplit(parts._replace(query=urlencode(query)))


def view(client: httpx.Client, image_id: str, **params: object) -> dict[str, object]:
    response = client.get(f"/images/{image_id}", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_view_answer_shape(server: Server, alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, filename="pic.png")
    before = time.time()
    response = alice.get(f"/images/{meta['image_id']}")
    issued = (before, time.time())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"image_id", "metadata", "presigned_url", "url", "expires_in"}
    assert body["image_id"] == meta["image_id"]
    assert body["metadata"] == meta
    assert body["presigned_url"] == body["url"]
    assert body["url"].partition("?")[0] == server.view_url_path(meta)
    assert body["expires_in"] == 3600
    assert_expires_in(body["url"], 3600, issued)


def test_signed_url_returns_exactly_the_stored_bytes_without_credentials(
    alice: httpx.Client, upload: Upload
) -> None:
    data = jpeg(33, 21)
    meta = upload(alice, data, visibility="private")
    url = str(view(alice, meta["image_id"])["url"])
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    assert response.content == data
    assert response.headers["content-type"] == "image/jpeg"
    assert int(response.headers["content-length"]) == len(data)
    assert "attachment" not in response.headers.get("content-disposition", "")


def test_download_url_is_an_attachment(alice: httpx.Client, upload: Upload) -> None:
    data = png()
    meta = upload(alice, data, filename="holiday-2026.png")
    url = str(view(alice, meta["image_id"], download="true")["url"])
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    assert response.content == data
    assert response.headers["content-disposition"] == 'attachment; filename="holiday-2026.png"'


def test_expires_in_is_honoured(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice)
    for expires_in in (1, 60, 604800):
        before = time.time()
        body = view(alice, meta["image_id"], expires_in=expires_in)
        issued = (before, time.time())
        assert body["expires_in"] == expires_in
        assert_expires_in(str(body["url"]), expires_in, issued)
    assert httpx.get(str(body["url"])).status_code == 200


@pytest.mark.only_backend("aws", reason=S3_URL_PARAMETERS)
def test_the_presigned_get_signs_expiry_and_disposition(alice: httpx.Client, upload: Upload) -> None:
    # moto enforces neither the expiry nor the signature: check what the service asks S3 for.
    data = png()
    meta = upload(alice, data, filename="holiday.png", visibility="private")
    for expires_in, download in ((1, False), (3600, True), (604800, False)):
        url = str(view(alice, meta["image_id"], expires_in=expires_in, download=str(download).lower())["url"])
        query = url_query(url)
        assert query["X-Amz-Expires"] == str(expires_in)
        assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
        assert len(query["X-Amz-Signature"]) == 64
        assert query["response-content-type"] == "image/png"
        kind = "attachment" if download else "inline"
        assert query["response-content-disposition"] == f'{kind}; filename="holiday.png"'
        response = httpx.get(url)
        assert response.status_code == 200 and response.content == data
        assert response.headers["content-disposition"] == f'{kind}; filename="holiday.png"'


@pytest.mark.parametrize("expires_in", ["0", "604801", "-5", "abc", "1.5"])
def test_bad_expires_in_is_400(alice: httpx.Client, upload: Upload, expires_in: str) -> None:
    meta = upload(alice)
    assert_error(alice.get(f"/images/{meta['image_id']}", params={"expires_in": expires_in}), 400)


def altered_urls(url: str, other_url: str) -> dict[str, str]:
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    signature, expires = query["signature"], int(query["expires"])
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    other_signature = parse_qs(urlsplit(other_url).query)["signature"][0]
    return {
        "flipped signature": with_query(url, signature=flipped),
        "shortened signature": with_query(url, signature=signature[:-2]),
        "signature of another image": with_query(url, signature=other_signature),
        "later expires": with_query(url, expires=str(expires + 1000)),
        "earlier expires": with_query(url, expires=str(expires - 1)),
        "download switched on": with_query(url, download="true"),
    }


@pytest.mark.only_backend("local", reason=MOTO_SIGNATURES)
def test_altered_url_is_refused(alice: httpx.Client, upload: Upload) -> None:
    meta, other = upload(alice, visibility="private"), upload(alice, visibility="private")
    url = str(view(alice, meta["image_id"])["url"])
    other_url = str(view(alice, other["image_id"])["url"])
    assert httpx.get(url).status_code == 200
    for label, bad in altered_urls(url, other_url).items():
        response = httpx.get(bad)
        assert response.status_code == 403, label
        assert_error(response, 403)


@pytest.mark.only_backend("local", reason=MOTO_SIGNATURES)
def test_url_with_half_a_signature_is_refused(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, visibility="private")
    url = str(view(alice, meta["image_id"])["url"])
    assert_error(httpx.get(with_query(url, signature="")), (400, 403))
    assert_error(httpx.get(with_query(url, expires="")), (400, 403))
    assert_error(httpx.get(with_query(url, expires="soon")), (400, 403))


@pytest.mark.only_backend("local", reason=MOTO_SIGNATURES)
def test_url_with_a_non_ascii_signature_is_refused(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, visibility="private")
    url = str(view(alice, meta["image_id"])["url"])
    assert_error(httpx.get(with_query(url, signature="\u00e9" * 32)), 403)


@pytest.mark.only_backend("local", reason=MOTO_EXPIRY)
def test_expired_url_is_refused(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, visibility="private")
    url = str(view(alice, meta["image_id"], expires_in=1)["url"])
    time.sleep(2.1)
    assert_error(httpx.get(url), 403)


@pytest.mark.parametrize("signature", ["A" * 43, "\u00e9" * 32])
def test_the_signed_content_route_refuses_a_signature_it_did_not_make(
    anon: httpx.Client, alice: httpx.Client, upload: Upload, signature: str
) -> None:
    # On aws view URLs are S3's: our own signed route must refuse every signature (verify).
    meta = upload(alice, visibility="private")
    params = {"expires": int(time.time()) + 3600, "signature": signature}
    assert_error(anon.get(f"/images/{meta['image_id']}/content", params=params), 403)


def test_private_image_of_another_user_is_not_found(
    alice: httpx.Client, bob: httpx.Client, anon: httpx.Client, admin: httpx.Client, upload: Upload
) -> None:
    meta = upload(alice, visibility="private")
    image_id, name = meta["image_id"], meta["name"]
    for client in (bob, anon):
        for path in (f"/images/{image_id}", f"/image/{image_id}", f"/images/{image_id}/content", f"/{name}"):
            message = assert_error(client.get(path), 404)
            assert "private" not in message.lower()
    assert view(admin, image_id)["metadata"] == meta
    assert admin.get(f"/images/{image_id}/content").status_code == 200


def test_unknown_image_is_404(anon: httpx.Client) -> None:
    assert_error(anon.get("/images/00000000-0000-4000-8000-000000000000"), 404)
    assert_error(anon.get("/images/no-such-image"), 404)
    assert_error(anon.get("/images/no-such-image/content"), 404)


def test_image_alias_route(alice: httpx.Client, anon: httpx.Client, upload: Upload) -> None:
    meta = upload(alice)
    response = anon.get(f"/image/{meta['image_id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["metadata"] == meta and body["url"] == body["presigned_url"]
    assert httpx.get(body["url"]).status_code == 200
