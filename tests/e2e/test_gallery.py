"""The gallery page at `/`, in a real browser against real servers on both backends: browsing,
search and filters in the URL, sign-in, drag-and-drop and direct uploads (to S3 itself on aws),
the image dialog (edit, delete), bulk delete, infinite scroll, and screenshots at phone and
desktop widths (build/screenshots/, not committed).

Each test works under a tag of its own, so the images other tests leave on the shared server
never show up in its grid. Every page also fails its test on a script error or a refused
Content-Security-Policy (the console says so)."""

from __future__ import annotations

import base64
import colorsys
import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import unique, upload_image
from api_server import Server
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect
from playwright.sync_api import Error as PlaywrightError

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
TIMEOUT_MS = 10_000
EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")


def picture(index: int, size: tuple[int, int] = (240, 180), fmt: str = "JPEG") -> bytes:
    """A small picture with a hue of its own, so that screenshots show distinct tiles."""
    hue = (index * 0.13) % 1.0
    top = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.95))
    bottom = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.08) % 1.0, 0.8, 0.55))
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(size[1]):
        t = y / size[1]
        draw.line(
            [(0, y), (size[0], y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    draw.ellipse([size[0] * 0.55, size[1] * 0.15, size[0] * 0.8, size[1] * 0.45], fill=(255, 244, 214))
    out = io.BytesIO()
    img.save(out, format=fmt, quality=85)
    return out.getvalue()


@pytest.fixture(scope="module")
def owner(server: Server) -> tuple[str, str]:
    """A user of this module (user id, key): owner filters and "mine" see only its images."""
    user = unique("gal")
    return user, server.create_key(user)


@pytest.fixture(scope="module")
def other_key(server: Server) -> str:
    return server.create_key(unique("other"))


def put(
    server: Server, key: str, tag: str, title: str, *, visibility: str = "public", index: int = 0
) -> dict[str, Any]:
    return upload_image(
        server.client(key),
        picture(index),
        multipart=f"{title.lower().replace(' ', '-')}.jpg",
        title=title,
        tags=tag,
        visibility=visibility,
    )


@pytest.fixture
def gallery(browser: Browser) -> Iterator[Page]:
    """A page whose console must stay free of errors (a script error, a CSP refusal)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A 4xx answer is logged by the browser too; the tests that cause one check what the page shows.
        if message.type == "error" and not EXPECTED_4XX.match(message.text):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert not problems, problems


# wait_for_function would evaluate its predicate as a string, which the page's CSP forbids. An
# evaluated promise has no Playwright timeout: each wait here ends after TIMEOUT_MS at the latest.
LOADED = """([images, ms]) => Promise.race([
    Promise.all(images.map((img) => img.complete ? null : new Promise((done) => {
        img.addEventListener("load", done);
        img.addEventListener("error", done);
    }))),
    new Promise((_, fail) => setTimeout(() => fail(new Error(`images still loading after ${ms} ms`)), ms)),
]).then(() => images.map((img) => img.naturalWidth))"""


def loaded_widths(page: Page, selector: str) -> list[int]:
    """Once every image of ``selector`` has loaded (or failed): their natural widths (0 for a
    failure); a script error after TIMEOUT_MS."""
    images = page.locator(selector).element_handles()
    widths: list[int] = page.evaluate(LOADED, [images, TIMEOUT_MS])
    return widths


def thumbnails_loaded(page: Page) -> list[int]:
    return loaded_widths(page, "#grid img")


def full_size_width(page: Page) -> int:
    """The viewer shows the thumbnail first, then the full-size image: the latter's width, loaded."""
    full = page.locator("#viewer-image")
    expect(full).not_to_have_attribute("src", re.compile(r"[?&]w=256"))
    (width,) = loaded_widths(page, "#viewer-image")
    return width


def open_gallery(page: Page, server: Server, query: str = "") -> None:
    page.goto(f"{server.base_url}/{query}")
    expect(page.locator("body[data-ready=true]")).to_be_attached()


def tiles(page: Page) -> Any:
    return page.locator("#grid .tile")


def titles(page: Page) -> list[str]:
    expect(page.locator("#grid")).to_have_attribute("aria-busy", "false")
    return sorted(page.locator("#grid .tile .title").all_inner_texts())


def sign_in(page: Page, key: str) -> None:
    page.click("#sign-in-open")
    page.fill("#sign-in-form input[name=key]", key)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#sign-out")).to_be_visible()
    # Signing in lists again, as the user (the reset is in the same task that shows #sign-out):
    # until that list is in, the tiles on screen are the anonymous ones and about to be replaced.
    expect(page.locator("#grid")).to_have_attribute("aria-busy", "false")


def test_anonymous_visitors_see_the_public_thumbnails(
    server: Server, owner: tuple[str, str], gallery: Page
) -> None:
    user, key = owner
    tag = unique("browse")
    for i, title in enumerate(("Old harbour", "New bridge")):
        put(server, key, tag, title, index=i)
    put(server, key, tag, "Secret garden", visibility="private")
    response = gallery.goto(f"{server.base_url}/?tag={tag}")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(tiles(gallery)).to_have_count(2)
    assert gallery.locator("#grid .title").all_inner_texts() == ["New bridge", "Old harbour"]  # newest first
    images = gallery.locator("#grid img")
    assert all(width > 0 for width in thumbnails_loaded(gallery))
    assert all("w=256" in src for src in images.evaluate_all("l => l.map(i => i.src)"))
    assert sorted(images.evaluate_all("l => l.map(i => i.alt)")) == ["New bridge", "Old harbour"]
    facts = gallery.locator("#grid .facts").first.inner_text()
    assert user in facts and re.search(r"\d+ views?", facts)
    expect(gallery.locator("#sign-in-open")).to_be_visible()
    expect(gallery.locator("#upload-open")).to_be_hidden()


def test_search_narrows_the_grid_as_one_types(server: Server, owner: tuple[str, str], gallery: Page) -> None:
    _, key = owner
    tag = unique("search")
    for i, title in enumerate(("Red fox in snow", "Blue whale", "Fox cubs playing")):
        put(server, key, tag, title, index=i)
    open_gallery(gallery, server, f"?tag={tag}")
    expect(tiles(gallery)).to_have_count(3)
    gallery.locator("input[name=q]").press_sequentially("fox", delay=30)
    expect(tiles(gallery)).to_have_count(2)
    assert titles(gallery) == ["Fox cubs playing", "Red fox in snow"]
    gallery.locator("input[name=q]").press_sequentially(" cu", delay=30)  # the last word as a prefix
    expect(tiles(gallery)).to_have_count(1)
    assert "q=fox+cu" in gallery.url


def test_an_answer_to_an_older_search_is_ignored(
    server: Server, owner: tuple[str, str], gallery: Page
) -> None:
    """The answer to "alpha" is let through first, then the one to "beta", typed after it: only
    beta's images show (the page cancels or drops the older answer)."""
    _, key = owner
    tag = unique("stale")
    put(server, key, tag, "Alpha one")
    put(server, key, tag, "Beta two")
    held: dict[str, Route] = {}

    def hold_searches(route: Route) -> None:
        found = re.search(r"[?&]q=(\w+)", route.request.url)
        if found:
            held[found.group(1)] = route
        else:
            route.continue_()

    gallery.route(re.compile(r"/images\?"), hold_searches)
    open_gallery(gallery, server, f"?tag={tag}")
    expect(tiles(gallery)).to_have_count(2)
    search = gallery.locator("input[name=q]")
    for word in ("alpha", "beta"):
        with gallery.expect_request(lambda r, word=word: f"q={word}" in r.url):
            search.fill(word)
    with contextlib.suppress(PlaywrightError):  # the page may have cancelled it already
        held["alpha"].continue_()
        held["alpha"].request.response()
    held["beta"].continue_()
    expect(gallery.locator("#status")).to_have_text("1 image")
    assert gallery.locator("#grid .title").all_inner_texts() == ["Beta two"]
    assert "q=beta" in gallery.url


def test_sign_in_shows_private_images_and_mine(
    server: Server, owner: tuple[str, str], other_key: str, gallery: Page
) -> None:
    user, key = owner
    tag = unique("private")
    put(server, key, tag, "Shared view")
    put(server, key, tag, "Family photo", visibility="private")
    put(server, other_key, tag, "Someone else's")
    open_gallery(gallery, server, f"?tag={tag}")
    expect(tiles(gallery)).to_have_count(2)
    sign_in(gallery, key)
    expect(tiles(gallery)).to_have_count(3)
    assert "Family photo" in titles(gallery)
    expect(gallery.locator("#who")).to_have_text(user)
    assert key not in gallery.url
    assert gallery.evaluate("Object.values(sessionStorage)") == [key]
    assert all(width > 0 for width in thumbnails_loaded(gallery))  # the private one's signed URL too
    gallery.check("input[name=mine]")
    expect(tiles(gallery)).to_have_count(2)
    assert "Someone else's" not in titles(gallery) and "mine=1" in gallery.url
    gallery.click("#sign-out")
    expect(tiles(gallery)).to_have_count(2)
    assert "Family photo" not in titles(gallery)
    assert gallery.evaluate("sessionStorage.length") == 0


def test_a_wrong_key_is_refused_in_the_servers_words(server: Server, gallery: Page) -> None:
    open_gallery(gallery, server)
    gallery.click("#sign-in-open")
    gallery.fill("#sign-in-form input[name=key]", "isk_not_a_key")
    gallery.click("#sign-in-form button[type=submit]")
    expect(gallery.locator("#sign-in-error")).to_have_text("That key is not valid.")
    assert gallery.evaluate("sessionStorage.length") == 0
    asked: list[str] = []
    gallery.on("request", lambda r: asked.append(r.url) if "/gallery/me" in r.url else None)
    gallery.fill("#sign-in-form input[name=key]", "   ")
    gallery.click("#sign-in-form button[type=submit]")
    expect(gallery.locator("#sign-in-error")).to_have_text("Enter a key.")
    assert asked == []  # a blank key is refused before any request


def test_only_a_401_at_start_up_signs_out(server: Server, owner: tuple[str, str], browser: Browser) -> None:
    """A stored key that the server cannot check now (a 503) is kept for the next load. (Its own
    page: the browser logs the 503 as an error, which the ``gallery`` fixture refuses.)"""
    _, key = owner
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_gallery(page, server)
    sign_in(page, key)
    me = re.compile(r"/gallery/me$")
    page.route(me, lambda route: route.fulfill(status=503, json={"error": "the service is unavailable"}))
    page.reload()
    expect(page.locator("body[data-ready=true]")).to_be_attached()
    assert page.evaluate("Object.values(sessionStorage)") == [key]
    page.unroute(me)
    page.reload()
    expect(page.locator("#sign-out")).to_be_visible()  # signed in again, with the kept key
    page.route(me, lambda route: route.fulfill(status=401, json={"error": "invalid API key"}))
    page.reload()
    expect(page.locator("body[data-ready=true]")).to_be_attached()
    expect(page.locator("#sign-in-open")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    context.close()
    assert errors == []


DROP = """(zone, files) => {
    const transfer = new DataTransfer();
    for (const [name, data] of files) {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
    }
    for (const type of ["dragenter", "dragover", "drop"]) {
        zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
}"""


def test_drag_and_drop_of_three_files_makes_three_tiles(
    server: Server, owner: tuple[str, str], gallery: Page
) -> None:
    user, key = owner
    tag = unique("drop")
    open_gallery(gallery, server, f"?tag={tag}")
    sign_in(gallery, key)
    expect(gallery.locator("#status")).to_have_text("No images match.")
    gallery.click("#upload-open")
    gallery.fill("#upload-form input[name=tags]", f"{tag}, holiday")
    gallery.select_option("#upload-form select[name=visibility]", "private")
    gallery.fill("#upload-form input[name=category]", "Travel")
    files = [(f"beach-{i}.jpg", base64.b64encode(picture(i)).decode()) for i in range(3)]
    gallery.locator("#drop-zone").evaluate(DROP, files)
    expect(gallery.locator("#upload-list li.done")).to_have_count(3)
    expect(gallery.locator("#upload-list progress")).to_have_count(3)
    assert gallery.locator("#upload-list progress").evaluate_all("l => l.map(p => p.value)") == [1, 1, 1]
    gallery.keyboard.press("Escape")
    expect(gallery.locator("#upload")).not_to_be_visible()
    expect(tiles(gallery)).to_have_count(3)
    assert titles(gallery) == ["beach-0.jpg", "beach-1.jpg", "beach-2.jpg"]
    listed = server.client(key).get("/images", params={"tag": tag}).json()["images"]
    assert len(listed) == 3
    for image in listed:
        assert (image["user_id"], image["visibility"], image["category"]) == (user, "private", "travel")
        assert set(image["tags"]) == {tag, "holiday"}


def test_an_upload_error_is_shown_in_the_servers_words(
    server: Server, owner: tuple[str, str], gallery: Page
) -> None:
    _, key = owner
    open_gallery(gallery, server, f"?tag={unique('bad')}")
    sign_in(gallery, key)
    gallery.click("#upload-open")
    gallery.set_input_files(
        "#file-picker", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image"}]
    )
    failed = gallery.locator("#upload-list li.failed .state")
    expect(failed).to_have_count(1)
    # The server's words for the same file, as its API answers them.
    refused = server.client(key).post("/images", files={"file": ("notes.png", b"not an image", "image/png")})
    assert refused.status_code == 415
    expect(failed).to_contain_text(refused.json()["error"])
    expect(gallery.locator("#upload-list li.done")).to_have_count(0)


def test_a_large_file_goes_through_the_direct_flow(
    server: Server, owner: tuple[str, str], gallery: Page
) -> None:
    _, key = owner
    tag = unique("direct")
    data = picture(7, size=(640, 480), fmt="PNG")
    # inline_limit lowers the server's limit for this page: this file is "large".
    open_gallery(gallery, server, f"?tag={tag}&inline_limit={len(data) // 2}")
    sign_in(gallery, key)
    gallery.click("#upload-open")
    gallery.fill("#upload-form input[name=tags]", tag)
    gallery.fill("#upload-form input[name=title]", "Big picture")
    # Where the bytes go: our signed PUT (local), the bucket (aws); the part before the image id.
    upload_target = server.upload_url_path("ID").split("ID")[0]
    with (
        gallery.expect_request(lambda r: r.url.endswith("/images/uploads") and r.method == "POST") as started,
        gallery.expect_request(lambda r: r.url.startswith(upload_target) and r.method != "OPTIONS") as sent,
        gallery.expect_request(lambda r: r.url.endswith("/complete")) as completed,
    ):
        gallery.set_input_files(
            "#file-picker", files=[{"name": "big.png", "mimeType": "image/png", "buffer": data}]
        )
    assert started.value.post_data_json["size"] == len(data)
    assert sent.value.method == server.traits.upload_method
    assert "x-api-key" not in sent.value.all_headers()  # the key never goes to storage's URL
    assert started.value.all_headers()["x-api-key"] == key
    assert completed.value.method == "POST"
    expect(gallery.locator("#upload-list li.done")).to_have_count(1)
    gallery.keyboard.press("Escape")
    expect(tiles(gallery)).to_have_count(1)
    assert titles(gallery) == ["Big picture"]
    (image,) = server.client(key).get("/images", params={"tag": tag}).json()["images"]
    assert image["size"] == len(data) and (image["width"], image["height"]) == (640, 480)


def test_edit_and_delete_in_the_image_dialog(server: Server, owner: tuple[str, str], gallery: Page) -> None:
    _, key = owner
    tag = unique("edit")
    meta = put(server, key, tag, "Draft title")
    open_gallery(gallery, server, f"?tag={tag}")
    sign_in(gallery, key)
    gallery.locator("#grid .thumb").first.click()
    dialog = gallery.locator("#viewer")
    expect(dialog).to_be_visible()
    assert full_size_width(gallery) == 240
    expect(gallery.locator("#viewer-meta [data-field=size]")).to_contain_text("240 \u00d7 180")
    gallery.fill("#edit-form input[name=name]", "docs")
    gallery.click("#edit-form button[type=submit]")
    expect(gallery.locator("#viewer-error")).to_contain_text("reserved")  # the server's own words
    new_name = f"{unique('final')}.jpg"
    gallery.fill("#edit-form input[name=name]", new_name)
    gallery.fill("#edit-form input[name=title]", "Final title")
    gallery.fill("#edit-form textarea[name=description]", "Taken at dawn")
    gallery.select_option("#edit-form select[name=visibility]", "private")
    gallery.click("#edit-form button[type=submit]")
    expect(gallery.locator("#viewer-title")).to_have_text("Final title")
    stored = server.client(key).get(f"/images/{meta['image_id']}").json()["metadata"]
    assert stored["name"] == new_name
    assert (stored["title"], stored["description"], stored["visibility"]) == (
        "Final title",
        "Taken at dawn",
        "private",
    )
    expect(gallery.locator("#grid .title")).to_have_text(["Final title"])
    # Now private: the tile's thumbnail is a signed URL (the public one would be a 404 to the <img>).
    expect(gallery.locator("#grid img")).to_have_attribute("src", re.compile(r"[?&]signature="))
    assert all(width > 0 for width in thumbnails_loaded(gallery))
    gallery.click("#link-copy")
    link = gallery.locator("#link-output")
    expect(link).to_be_visible()
    assert (
        httpx.get(link.input_value()).content
        == server.client(key).get(f"/images/{meta['image_id']}/content").content
    )
    with gallery.expect_download() as download:
        gallery.click("#download")
    assert download.value.suggested_filename == meta["filename"]
    assert (
        download.value.path().read_bytes()
        == server.client(key).get(f"/images/{meta['image_id']}/content").content
    )
    gallery.once("dialog", lambda d: d.accept())
    gallery.click("#delete")
    expect(dialog).not_to_be_visible()
    expect(tiles(gallery)).to_have_count(0)
    assert server.client(key).get(f"/images/{meta['image_id']}").status_code == 404


def test_escape_closes_the_dialog_and_gives_the_focus_back(
    server: Server, owner: tuple[str, str], gallery: Page
) -> None:
    _, key = owner
    tag = unique("keys")
    put(server, key, tag, "Keyboard")
    open_gallery(gallery, server, f"?tag={tag}")
    thumb = gallery.locator("#grid .thumb").first
    thumb.focus()
    gallery.keyboard.press("Enter")
    expect(gallery.locator("#viewer")).to_be_visible()
    gallery.keyboard.press("Escape")
    expect(gallery.locator("#viewer")).not_to_be_visible()
    expect(thumb).to_be_focused()


def test_bulk_delete_of_selected_tiles(server: Server, owner: tuple[str, str], gallery: Page) -> None:
    _, key = owner
    tag = unique("bulk")
    kept = put(server, key, tag, "Keep me", index=1)
    doomed = [put(server, key, tag, f"Remove {i}", index=i + 2) for i in range(2)]
    open_gallery(gallery, server, f"?tag={tag}")
    sign_in(gallery, key)
    expect(tiles(gallery)).to_have_count(3)
    for image in doomed:
        gallery.locator(f"#grid .tile[data-id='{image['image_id']}'] .pick").check()
    expect(gallery.locator("#selection-count")).to_have_text("2 selected")
    # An edit rebuilds the tile: still selected, as the count says.
    first = gallery.locator(f"#grid .tile[data-id='{doomed[0]['image_id']}']")
    first.locator(".thumb").click()
    gallery.fill("#edit-form input[name=title]", "Remove 0 (renamed)")
    gallery.click("#edit-form button[type=submit]")
    expect(first.locator(".title")).to_have_text("Remove 0 (renamed)")
    gallery.keyboard.press("Escape")
    expect(first.locator(".pick")).to_be_checked()
    expect(first).to_have_class(re.compile(r"\bselected\b"))
    expect(gallery.locator("#selection-count")).to_have_text("2 selected")
    gallery.once("dialog", lambda d: d.accept())
    with gallery.expect_request(lambda r: r.url.endswith("/images") and r.method == "DELETE") as request:
        gallery.click("#bulk-delete")
    assert sorted(request.value.post_data_json["image_ids"]) == sorted(i["image_id"] for i in doomed)
    expect(tiles(gallery)).to_have_count(1)
    assert titles(gallery) == ["Keep me"]
    listed = server.client(key).get("/images", params={"tag": tag}).json()["images"]
    assert [i["image_id"] for i in listed] == [kept["image_id"]]


def test_a_filtered_url_reloads_to_the_same_view(
    server: Server, owner: tuple[str, str], gallery: Page
) -> None:
    user, key = owner
    tag = unique("url")
    put(server, key, tag, "Mountain lake", index=3)
    put(server, key, tag, "Mountain hut", index=4)
    put(server, key, tag, "City night", index=5)
    open_gallery(gallery, server)
    gallery.fill("input[name=tag]", tag)
    gallery.fill("input[name=user_id]", user)
    gallery.select_option("select[name=visibility]", "public")
    gallery.fill("input[name=q]", "mountain")
    expect(tiles(gallery)).to_have_count(2)
    url = gallery.url
    assert (
        f"tag={tag}" in url
        and "q=mountain" in url
        and "visibility=public" in url
        and f"user_id={user}" in url
    )
    gallery.reload()
    expect(tiles(gallery)).to_have_count(2)
    assert titles(gallery) == ["Mountain hut", "Mountain lake"]
    assert gallery.input_value("input[name=q]") == "mountain"
    assert gallery.input_value("select[name=visibility]") == "public"
    # A shared link opens the same view in another browser.
    other = gallery.context.browser.new_page() if gallery.context.browser else None
    assert other is not None
    other.goto(url)
    expect(other.locator("#grid .tile")).to_have_count(2)
    other.close()


def test_scrolling_loads_the_next_pages(server: Server, owner: tuple[str, str], gallery: Page) -> None:
    _, key = owner
    tag = unique("scroll")
    client = server.client(key)
    for batch in (range(20), range(20, 30)):
        files = [("files", (f"p{i}.jpg", picture(i, size=(48, 36)), "image/jpeg")) for i in batch]
        assert client.post("/images", files=files, data={"tags": tag}).status_code == 201
    # Phone width: two columns, so the first page is far taller than the screen and the margin
    # the page loads ahead (600 px): the second page can only come from scrolling.
    gallery.set_viewport_size({"width": 390, "height": 700})
    open_gallery(gallery, server, f"?tag={tag}")
    expect(gallery.locator("#status")).to_have_text("24 images, more below")
    sentinel_top = gallery.locator("#more").evaluate("(e) => e.getBoundingClientRect().top")
    assert sentinel_top > 700 + 600 + 1000, sentinel_top
    expect(tiles(gallery)).to_have_count(24)
    gallery.locator("#grid .tile").last.scroll_into_view_if_needed()
    expect(tiles(gallery)).to_have_count(30)
    ids = gallery.locator("#grid .tile").evaluate_all("l => l.map(t => t.dataset.id)")
    assert len(set(ids)) == 30
    expect(gallery.locator("#status")).to_have_text("30 images")


SHOWCASE = ["Harbour at dawn", "Sunset over dunes", "Forest trail", "Old town", "Lake cabin", "Night market",
            "Snowy peak", "Fishing boats"]  # fmt: skip


@pytest.fixture(scope="module")
def showcase(server: Server, owner: tuple[str, str]) -> str:
    """The tag of a few pictures to photograph, one of them private."""
    tag = unique("shots")
    for i, title in enumerate(SHOWCASE):
        put(server, owner[1], tag, title, index=i, visibility="private" if i == 2 else "public")
    return tag


@pytest.mark.parametrize("width", [390, 1280])
def test_screenshots(
    server: Server, owner: tuple[str, str], showcase: str, browser: Browser, width: int
) -> None:
    _, key = owner
    tag, names = showcase, SHOWCASE
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 500 else 844})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    open_gallery(page, server, f"?tag={tag}")
    sign_in(page, key)
    expect(tiles(page)).to_have_count(len(names))
    assert all(width > 0 for width in thumbnails_loaded(page))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    grid_shot = SCREENSHOTS / f"gallery-{server.backend}-{width}.png"
    page.screenshot(path=grid_shot)
    page.locator("#grid .thumb").first.click()
    assert full_size_width(page) == 240
    page.screenshot(path=SCREENSHOTS / f"gallery-{server.backend}-{width}-image.png")
    page.keyboard.press("Escape")
    page.click("#upload-open")
    page.screenshot(path=SCREENSHOTS / f"gallery-{server.backend}-{width}-upload.png")
    context.close()
    print(f"screenshots: {SCREENSHOTS}")
    assert grid_shot.stat().st_size > 10_000
