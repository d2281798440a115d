"""Renditions over HTTP: the content routes with w, h, fit, format, quality, on both backends.

Sizes, fit, never enlarging, formats (by Accept, with Vary, or explicit), quality, orientation
and metadata are read back from the bytes with Pillow; caching, ranges, HEAD, downloads and the
access count as for the original. "Made once" is shown through storage, never timing: the
rendition object is counted under the image's rendition folder, the server's log says how many
times it rendered ("rendition made"), and a second request still answers after the original's
object is deleted, so it cannot have decoded it. Signed rendition URLs are the service's own on
both backends, so altering and outwaiting them is tested on aws too.
"""

from __future__ import annotations

import io
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from api_helpers import assert_error, unique, url_query
from api_server import Server, Upload
from PIL import Image
from stored import AwsStorage, FilesystemStorage

from image_service.adapters.filesystem_blobs import FilesystemBlobStore
from image_service.domain.renditions import rendition_prefix

pytestmark = pytest.mark.api

WEBP = "image/avif,image/webp,image/apng,*/*;q=0.8"  # a browser's Accept for images


def photo(width: int = 300, height: int = 200, *, exif: dict[int, Any] | None = None) -> bytes:
    """A JPEG with detail (so that quality shows in the bytes) and, optionally, EXIF tags."""
    img = Image.effect_noise((width, height), 60).convert("RGB")
    img.paste((random.randint(0, 255), 90, 30), (0, 0, width // 3, height // 3))
    out = io.BytesIO()
    tags = Image.Exif()
    for tag, value in (exif or {}).items():
        tags[tag] = value
    img.save(out, "JPEG", quality=90, exif=tags.tobytes())
    return out.getvalue()


def transparent_png(width: int = 120, height: int = 80) -> bytes:
    img = Image.new("RGBA", (width, height), (10, 200, 30, 128))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def content(meta: dict[str, Any]) -> str:
    return f"/images/{meta['image_id']}/content"


def get(client: httpx.Client, path: str, accept: str | None = None, **params: Any) -> httpx.Response:
    response = client.get(path, params=params, headers={"Accept": accept} if accept else None)
    assert response.status_code == 200, response.text
    return response


def access_count(client: httpx.Client, meta: dict[str, Any]) -> int:
    response = client.get(f"/images/{meta['image_id']}")
    assert response.status_code == 200, response.text
    return int(response.json()["metadata"]["access_count"])


def rendition_objects(server: Server, image_id: str) -> list[bytes]:
    """Every stored rendition object of one image, read from storage below the API."""
    storage = server.storage
    if isinstance(storage, AwsStorage):
        prefix = rendition_prefix(image_id)
        keys = sorted(k for k in storage.object_keys() if k.startswith(prefix))
        return [storage.read_blob(k) for k in keys]
    assert isinstance(storage, FilesystemStorage)
    folder = storage.root / FilesystemBlobStore(storage.root).folder_ref(rendition_prefix(image_id))
    return [p.read_bytes() for p in sorted(folder.glob("*")) if p.is_file()] if folder.is_dir() else []


def delete_original(server: Server, meta: dict[str, Any]) -> None:
    storage = server.storage
    if isinstance(storage, AwsStorage):
        storage.s3.delete_object(Bucket=storage.resources.bucket, Key=meta["s3_key"])
    else:
        assert isinstance(storage, FilesystemStorage)
        storage.path_for(meta["s3_key"]).unlink()
    assert not storage.has_blob(meta["s3_key"])


def renders_logged(server: Server, image_id: str) -> int:
    """How many times the server rendered a rendition of this image, from its JSON log lines."""
    count = 0
    for line in server.stderr().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("message") == "rendition made" and record.get("image_id") == image_id:
            count += 1
    return count


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value:
            query[key] = value
        else:
            query.pop(key, None)
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(scope="module")
def picture(alice: httpx.Client, upload: Upload) -> dict[str, Any]:
    """A public 300x200 JPEG, shared by the tests that only read it."""
    return upload(alice, photo(), filename="Holiday.JPG", name=f"{unique('holiday')}.jpg")


def test_an_allowed_size_is_a_rendition_and_any_other_is_400_listing_them(
    anon: httpx.Client, picture: dict[str, Any]
) -> None:
    response = get(anon, content(picture), w=128)
    assert response.headers["content-type"] == "image/jpeg"
    assert decoded(response.content).size == (128, 85)
    assert response.headers["etag"] != f'"{picture["checksum_sha256"][:32]}"'
    message = assert_error(anon.get(content(picture), params={"w": 100}), 400)
    assert "64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096" in message
    assert "64, 128" in assert_error(anon.get(content(picture), params={"h": 4097}), 400)


@pytest.mark.parametrize(
    "params",
    [
        {"w": "abc"},
        {"w": "-64"},
        {"w": ""},
        {"fit": "stretch", "w": 64},
        {"fit": "cover", "w": 64},
        {"quality": 0},
        {"quality": 101},
        {"quality": "high"},
        {"format": "gif"},
    ],
)
def test_bad_rendition_parameters_are_400(
    anon: httpx.Client, picture: dict[str, Any], params: dict[str, Any]
) -> None:
    assert_error(anon.get(content(picture), params=params), 400)


def test_fit_inside_and_cover(anon: httpx.Client, picture: dict[str, Any]) -> None:
    assert decoded(get(anon, content(picture), h=128).content).size == (192, 128)
    assert decoded(get(anon, content(picture), w=128, h=128).content).size == (128, 85)
    cover = get(anon, content(picture), w=128, h=128, fit="cover")
    assert decoded(cover.content).size == (128, 128)


def test_a_rendition_never_enlarges(
    server: Server, anon: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    meta = upload(alice, photo(100, 50))
    big = get(anon, content(meta), w=512)
    assert decoded(big.content).size == (100, 50)
    bigger = get(anon, content(meta), w=1024, h=4096)
    assert bigger.headers["etag"] == big.headers["etag"] and bigger.content == big.content
    assert decoded(get(anon, content(meta), w=256, h=256, fit="cover").content).size == (50, 50)
    assert len(rendition_objects(server, meta["image_id"])) == 2  # the image's size; the square crop


def test_auto_format_follows_accept_and_says_vary(
    anon: httpx.Client, alice: httpx.Client, upload: Upload, picture: dict[str, Any]
) -> None:
    webp = get(anon, content(picture), WEBP, w=64)
    assert webp.headers["content-type"] == "image/webp"
    assert decoded(webp.content).format == "WEBP"
    assert webp.headers["vary"] == "Accept"
    for accept in ("image/jpeg,*/*", "image/webp;q=0,image/*", "*/*", "image/avif"):
        plain = get(anon, content(picture), accept, w=64)
        assert plain.headers["content-type"] == "image/jpeg", accept
        assert plain.headers["vary"] == "Accept"
        assert plain.headers["etag"] != webp.headers["etag"]
    clear = upload(alice, transparent_png())
    png = get(anon, content(clear), "image/jpeg,*/*", w=64)
    assert png.headers["content-type"] == "image/png"
    assert decoded(png.content).mode in ("RGBA", "LA", "PA")


def test_an_explicit_format_is_that_format_with_no_vary(anon: httpx.Client, picture: dict[str, Any]) -> None:
    for fmt, content_type, pillow in (
        ("png", "image/png", "PNG"),
        ("webp", "image/webp", "WEBP"),
        ("avif", "image/avif", "AVIF"),
    ):
        response = get(anon, content(picture), WEBP, w=64, format=fmt)
        assert response.headers["content-type"] == content_type
        assert decoded(response.content).format == pillow
        assert "vary" not in response.headers
    assert get(anon, content(picture), WEBP, w=64, format="jpg").headers["content-type"] == "image/jpeg"


def test_quality_changes_the_bytes(anon: httpx.Client, picture: dict[str, Any]) -> None:
    low = get(anon, content(picture), w=256, format="jpeg", quality=20)
    high = get(anon, content(picture), w=256, format="jpeg", quality=95)
    assert len(low.content) < len(high.content)
    assert low.headers["etag"] != high.headers["etag"]


def test_orientation_is_applied_and_metadata_left_out(
    anon: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    # 300x200 stored pixels with orientation 6 (turn a quarter clockwise): upright 200x300.
    meta = upload(alice, photo(exif={0x0112: 6, 0x010F: "Camera Maker", 0x0131: "Editor 1.0"}))
    assert meta["orientation"] == 6 and (meta["width"], meta["height"]) == (300, 200)
    out = decoded(get(anon, content(meta), w=128).content)
    assert out.size == (128, 192)
    assert not out.getexif()
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(out.info)


def test_etag_and_304(anon: httpx.Client, alice: httpx.Client, picture: dict[str, Any]) -> None:
    first = get(anon, content(picture), w=64, format="jpeg")
    before = access_count(alice, picture)
    again = anon.get(
        content(picture), params={"w": 64, "format": "jpeg"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-type"] == "image/jpeg"
    assert access_count(alice, picture) == before
    # The original's validator is not the rendition's.
    original = anon.get(
        content(picture),
        params={"w": 64, "format": "jpeg"},
        headers={"If-None-Match": f'"{picture["checksum_sha256"][:32]}"'},
    )
    assert original.status_code == 200


def test_range_and_head(anon: httpx.Client, picture: dict[str, Any]) -> None:
    whole = get(anon, content(picture), w=128, format="webp")
    size = len(whole.content)
    part = anon.get(content(picture), params={"w": 128, "format": "webp"}, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == whole.content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{size}"
    assert part.headers["content-type"] == "image/webp"
    outside = anon.get(
        content(picture), params={"w": 128, "format": "webp"}, headers={"Range": f"bytes={size}-"}
    )
    assert_error(outside, 416)
    assert outside.headers["content-range"] == f"bytes */{size}"
    head = anon.head(content(picture), params={"w": 128, "format": "webp"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(size)
    for name in ("content-type", "etag", "cache-control", "last-modified", "accept-ranges"):
        assert head.headers[name] == whole.headers[name], name


def test_download_names_the_file_with_the_new_extension(anon: httpx.Client, picture: dict[str, Any]) -> None:
    response = get(anon, content(picture), WEBP, w=64, download="true")
    assert response.headers["content-disposition"] == 'attachment; filename="Holiday.webp"'
    inline = get(anon, content(picture), w=64, format="png")
    assert inline.headers["content-disposition"] == 'inline; filename="Holiday.png"'


def test_each_get_counts_one_access(anon: httpx.Client, alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, photo(80, 60))
    for expected in (1, 2, 3):
        get(anon, content(meta), w=64)
        assert access_count(alice, meta) == expected
    assert anon.head(content(meta), params={"w": 64}).status_code == 200
    assert access_count(alice, meta) == 3


def test_made_once_then_served_from_storage(
    server: Server, anon: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    meta = upload(alice, photo(120, 90))
    first = get(anon, content(meta), w=64)
    assert rendition_objects(server, meta["image_id"]) == [first.content]
    assert renders_logged(server, meta["image_id"]) == 1
    # Without the original, only the stored rendition can answer.
    delete_original(server, meta)
    second = get(anon, content(meta), w=64)
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert renders_logged(server, meta["image_id"]) == 1
    assert anon.get(content(meta)).status_code in (404, 503)


def test_concurrent_first_requests_render_once(
    server: Server, anon: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    meta = upload(alice, photo(400, 300))
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(
                lambda _: httpx.get(server.base_url + content(meta), params={"w": 256}, timeout=30), range(16)
            )
        )
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert len({a.headers["etag"] for a in answers}) == 1
    assert len(rendition_objects(server, meta["image_id"])) == 1
    assert renders_logged(server, meta["image_id"]) == 1
    assert access_count(alice, meta) == 16


def test_view_gives_a_signed_rendition_url(server: Server, alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, photo(), visibility="private", filename="secret.jpg")
    body = alice.get(f"/images/{meta['image_id']}", params={"w": 256, "format": "webp"}).json()
    url = str(body["url"])
    assert url == body["presigned_url"]
    # The service's own URL on every backend (on aws the rendition does not exist yet).
    assert url.startswith(f"{server.base_url}/images/{meta['image_id']}/content?")
    assert rendition_objects(server, meta["image_id"]) == []
    query = url_query(url)
    assert query["w"] == "256" and query["format"] == "webp"
    response = httpx.get(url)  # no credentials
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/webp"
    assert decoded(response.content).size == (256, 171)
    assert response.headers["cache-control"].startswith("private")
    signature = query["signature"]
    altered = {
        "another size": with_query(url, w="128"),
        "size removed": with_query(url, w=""),
        "another format": with_query(url, format="png"),
        "quality added": with_query(url, quality="10"),
        "download switched on": with_query(url, download="true"),
        "later expires": with_query(url, expires=str(int(query["expires"]) + 1000)),
        "flipped signature": with_query(
            url, signature=signature[:-1] + ("A" if signature[-1] != "A" else "B")
        ),
    }
    for label, bad in altered.items():
        refused = httpx.get(bad)
        assert refused.status_code == 403, label
        assert_error(refused, 403)
    # An original's signed URL does not pass for a rendition, nor the reverse.
    original_url = str(alice.get(f"/images/{meta['image_id']}").json()["url"])
    if server.traits.signs_own_urls:
        original_query = url_query(original_url)
        assert_error(
            httpx.get(
                with_query(
                    url,
                    signature=original_query["signature"],
                    expires=original_query["expires"],
                    download="false",
                )
            ),
            403,
        )
    download = alice.get(f"/images/{meta['image_id']}", params={"w": 64, "download": "true"}).json()["url"]
    assert httpx.get(download).headers["content-disposition"].startswith('attachment; filename="secret.')


def test_an_expired_rendition_url_is_refused(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, photo(80, 60), visibility="private")
    url = alice.get(f"/images/{meta['image_id']}", params={"w": 64, "expires_in": 1}).json()["url"]
    time.sleep(2.1)
    assert_error(httpx.get(url), 403)


def test_bad_rendition_parameters_on_view_are_400(alice: httpx.Client, picture: dict[str, Any]) -> None:
    assert_error(alice.get(f"/images/{picture['image_id']}", params={"w": 100}), 400)


def test_list_answers_carry_thumbnail_urls_that_load(
    server: Server, anon: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    tag = unique("thumb")
    public = upload(alice, photo(), tags=[tag])
    private = upload(alice, photo(), tags=[tag], visibility="private")
    images = {i["image_id"]: i for i in alice.get("/images", params={"tag": tag}).json()["images"]}
    assert set(images) == {public["image_id"], private["image_id"]}
    assert images[public["image_id"]]["thumbnail_url"] == f"{server.base_url}{content(public)}?w=256"
    assert "signature" in url_query(images[private["image_id"]]["thumbnail_url"])
    for image in images.values():
        response = httpx.get(image["thumbnail_url"], headers={"Accept": WEBP})  # as an <img> would
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/webp"
        assert decoded(response.content).size == (256, 171)
    # Listing again soon gives the same private URL, so a browser's cache holds.
    again = alice.get("/images", params={"tag": tag}).json()["images"]
    assert {i["thumbnail_url"] for i in again} == {i["thumbnail_url"] for i in images.values()}
    public_only = anon.get("/images", params={"tag": tag}).json()["images"]
    assert [i["image_id"] for i in public_only] == [public["image_id"]]


def test_by_name(anon: httpx.Client, picture: dict[str, Any]) -> None:
    by_name = get(anon, f"/{picture['name']}", w=128, format="jpeg")
    by_id = get(anon, content(picture), w=128, format="jpeg")
    assert by_name.content == by_id.content and by_name.headers["etag"] == by_id.headers["etag"]
    assert by_name.headers["cache-control"] == "public, max-age=60"
    assert anon.head(f"/{picture['name']}", params={"w": 128}).status_code == 200
    assert_error(anon.get(f"/{picture['name']}", params={"w": 100}), 400)


def test_unknown_query_parameters_are_ignored_on_content(anon: httpx.Client, picture: dict[str, Any]) -> None:
    plain = get(anon, content(picture), v="2")
    assert plain.headers["etag"] == f'"{picture["checksum_sha256"][:32]}"'


def test_private_rendition_is_404_to_others(
    anon: httpx.Client, bob: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    meta = upload(alice, photo(80, 60), visibility="private")
    assert_error(anon.get(content(meta), params={"w": 64}), 404)
    assert_error(bob.get(content(meta), params={"w": 64}), 404)
    assert get(alice, content(meta), w=64).headers["cache-control"].startswith("private")


def test_quality_steps_of_ten_and_a_repeated_parameter_is_400(
    anon: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    """quality rounds up to a step of 10, so one size has at most 10 qualities stored; a
    parameter given twice has no one meaning."""
    image = upload(alice, photo())
    path = f"/images/{image['image_id']}/content"
    one = anon.get(path, params={"w": 64, "format": "jpeg", "quality": 41})
    same = anon.get(path, params={"w": 64, "format": "jpeg", "quality": 50})
    other = anon.get(path, params={"w": 64, "format": "jpeg", "quality": 51})
    assert one.status_code == same.status_code == other.status_code == 200
    assert one.headers["etag"] == same.headers["etag"] != other.headers["etag"]
    assert one.content == same.content
    assert "w may be given once" in assert_error(anon.get(path, params=[("w", "64"), ("w", "128")]), 400)


def test_a_box_side_that_does_not_bind_names_the_same_rendition(
    anon: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    image = upload(alice, photo())
    path = f"/images/{image['image_id']}/content"
    etags = {
        anon.get(path, params=params).headers["etag"]
        for params in ({"w": 64}, {"w": 64, "h": 4096}, {"w": 64, "h": 512})
    }
    assert len(etags) == 1
    assert anon.get(path, params={"w": 256, "h": 64}).headers["etag"] not in etags  # now h binds


def test_a_304_of_a_format_chosen_by_transparency_says_the_type(
    anon: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    """format=auto without WebP in Accept is JPEG or PNG by the image's transparency, known only
    once made: the 304 reads the stored object's type rather than answering without one."""
    clear = upload(alice, transparent_png())
    first = get(anon, content(clear), "image/jpeg,*/*", w=64)
    assert first.headers["content-type"] == "image/png"
    again = anon.get(
        content(clear),
        params={"w": 64},
        headers={"Accept": "image/jpeg,*/*", "If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.headers["content-type"] == "image/png"
