"""``Client``: the whole HTTP API (docs/API.md) as typed methods, on httpx.

    with Client("http://127.0.0.1:8000", key="isk_...") as client:
        done = client.upload_file("cat.jpg", title="My cat", tags=["cat"])
        for image in client.iter_images(tag="cat"):
            print(image.name, image.access_count)
        client.download("cat.webp", done.image.image_id, w=256, format="webp")

Every error answer raises ``ApiError`` (status and the server's ``error`` text); no answer at all
raises ``TransportError``. The key travels in the ``x-api-key`` header, never in a URL, and never
to a URL the server hands out (signed upload and content URLs, S3's): those are fetched by a
second httpx client that has no key.

Requests travel through ``client.transport``, which holds the retry rule (default 2 retries,
only where a repeat cannot store anything twice).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Unpack
from urllib.parse import quote

import httpx

from image_service.client.answers import replayed, uploaded
from image_service.client.defaults import DEFAULT_URL, INLINE_LIMIT
from image_service.client.errors import ApiError
from image_service.client.files import Source, content_type_of, read_source
from image_service.client.models import (
    BulkDeleted,
    Changes,
    DirectUpload,
    Download,
    Health,
    Image,
    ListedImage,
    Metadata,
    Page,
    Rendition,
    Uploaded,
    View,
    Visibility,
)
from image_service.client.transport import Transport

BULK_DELETE_MAX = 100  # ids per DELETE /images (docs/API.md, Delete)
BACKOFF = 0.25  # seconds before the first retry; doubled for each next one


class Client:
    """A client of one image-service server. ``key`` is an API key (``isk_...``), or None for
    anonymous reads (public images only). ``timeout`` is per request (seconds); ``retries`` and
    ``backoff`` (seconds, doubled each time) as above; ``transport`` replaces httpx's (tests use
    ``httpx.MockTransport``). Use it as a context manager, or call ``close``. One instance may be
    shared by threads."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = BACKOFF,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = Transport(
            self.url, key, timeout=timeout, retries=retries, backoff=backoff, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # The service

    def health(self, *, deep: bool = False) -> Health:
        """``GET /health``; with ``deep``, storage and catalog must answer too (else ApiError 503)."""
        return Health.model_validate(
            self._http.call("GET", "/health", params={"deep": "true"} if deep else None)
        )

    # Uploads

    def upload(
        self, source: Source, *, idempotency_key: str | None = None, **metadata: Unpack[Metadata]
    ) -> Uploaded:
        """Upload one image in the request body (multipart): ``source`` is its bytes or a path.
        With ``idempotency_key``, a retry (also by a later run) stores nothing twice."""
        data, filename = read_source(source, metadata.get("filename"))
        files = {"file": (filename, data, content_type_of(data, filename))}
        response = self._http.request(
            "POST", "/images", files=files, data=_form(metadata), headers=_keyed(idempotency_key)
        )
        return uploaded(response)

    def start_direct_upload(
        self,
        content_type: str,
        size: int,
        *,
        idempotency_key: str | None = None,
        **metadata: Unpack[Metadata],
    ) -> DirectUpload:
        """``POST /images/uploads``: where to send ``size`` bytes of ``content_type`` (the file
        name is ``metadata["filename"]``)."""
        body = {"filename": "upload", **metadata, "content_type": content_type, "size": size}
        response = self._http.request("POST", "/images/uploads", json=body, headers=_keyed(idempotency_key))
        return DirectUpload.model_validate({**response.json(), "replayed": replayed(response)})

    def send_upload_bytes(self, started: DirectUpload, data: bytes) -> None:
        """Send the bytes of a started direct upload where the server said: a signed PUT with its
        headers, or S3's presigned POST (the form's fields, then the file)."""
        target = started.upload
        if target.method == "PUT":
            self._http.request("PUT", target.url, signed=True, content=data, headers=target.headers)
            return
        fields = target.fields or {}
        files = {"file": ("upload", data, fields.get("Content-Type", "application/octet-stream"))}
        # A repeat writes the same object again: safe to retry.
        self._http.request("POST", target.url, signed=True, retry=True, data=fields, files=files)

    def complete_upload(self, image_id: str) -> Uploaded:
        """``POST /images/{id}/complete``: the server validates the sent bytes and stores the image."""
        response = self._http.request("POST", f"/images/{_segment(image_id)}/complete", retry=False)
        return uploaded(response).model_copy(update={"direct": True})

    def upload_direct(
        self,
        source: Source,
        *,
        content_type: str | None = None,
        idempotency_key: str | None = None,
        **metadata: Unpack[Metadata],
    ) -> Uploaded:
        """The direct-upload flow in one call: start, send the bytes, complete. Under an
        ``idempotency_key`` whose start is replayed, an image already completed is answered as it
        is (``replayed``), and an upload left unfinished is finished."""
        data, filename = read_source(source, metadata.get("filename"))
        named: Metadata = {**metadata, "filename": filename}
        started = self.start_direct_upload(
            content_type or content_type_of(data, filename),
            len(data),
            idempotency_key=idempotency_key,
            **named,
        )
        if started.replayed and (image := self._image_if_any(started.image_id)) is not None:
            return Uploaded(image=image, replayed=True, direct=True)
        self.send_upload_bytes(started, data)
        return self.complete_upload(started.image_id)

    def upload_file(
        self,
        source: Source,
        *,
        inline_limit: int = INLINE_LIMIT,
        idempotency_key: str | None = None,
        **metadata: Unpack[Metadata],
    ) -> Uploaded:
        """``upload`` for files up to ``inline_limit`` bytes, ``upload_direct`` above it."""
        data, filename = read_source(source, metadata.get("filename"))
        named: Metadata = {**metadata, "filename": filename}
        if len(data) > inline_limit:
            return self.upload_direct(data, idempotency_key=idempotency_key, **named)
        return self.upload(data, idempotency_key=idempotency_key, **named)

    # Lists

    def list_images(
        self,
        *,
        user_id: str | None = None,
        tag: str | Iterable[str] | None = None,
        category: str | None = None,
        visibility: Visibility | None = None,
        q: str | None = None,
        title: str | None = None,
        description: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page:
        """One page of ``GET /images``, newest first; every filter combines (docs/API.md, List).
        ``tag`` repeated: every tag must match. ``q``: words in the title or description."""
        params: dict[str, Any] = {
            "user_id": user_id,
            "tag": [tag] if isinstance(tag, str) else list(tag or []),
            "category": category,
            "visibility": visibility,
            "q": q,
            "title": title,
            "description": description,
            "created_after": _time(created_after),
            "created_before": _time(created_before),
            "limit": limit,
            "cursor": cursor,
        }
        params = {k: v for k, v in params.items() if v is not None and v != []}
        return Page.model_validate(self._http.call("GET", "/images", params=params))

    def iter_images(self, *, page_size: int = 100, **filters: Any) -> Iterator[ListedImage]:
        """Every image ``list_images`` finds for these filters, following ``next_cursor``."""
        cursor: str | None = None
        while True:
            page = self.list_images(limit=page_size, cursor=cursor, **filters)
            yield from page.images
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # One image

    def view(
        self,
        image_id: str,
        *,
        expires_in: int | None = None,
        download: bool = False,
        **rendition: Unpack[Rendition],
    ) -> View:
        """``GET /images/{id}``: metadata and a signed URL of the bytes (of a rendition, given any
        of ``w``, ``h``, ``fit``, ``format``, ``quality``) valid for ``expires_in`` seconds."""
        params: dict[str, Any] = {**rendition}
        if expires_in is not None:
            params["expires_in"] = expires_in
        if download:
            params["download"] = "true"
        return View.model_validate(self._http.call("GET", f"/images/{_segment(image_id)}", params=params))

    def get_image(self, image_id: str) -> Image:
        """An image's metadata."""
        return self.view(image_id).metadata

    def content(
        self, image_id: str | None = None, *, name: str | None = None, **rendition: Unpack[Rendition]
    ) -> bytes:
        """The bytes, by id or by unique ``name``, of the original or of a rendition. Each call
        counts one access."""
        response = self._http.request("GET", _content_path(image_id, name), params=dict(rendition))
        return self._http.followed(response).content

    def download(
        self,
        dest: str | os.PathLike[str] | IO[bytes],
        image_id: str | None = None,
        *,
        name: str | None = None,
        **rendition: Unpack[Rendition],
    ) -> Download:
        """``content`` streamed into ``dest``: a binary file object, or a path, which appears only
        once complete (written beside it, then renamed)."""
        path = _content_path(image_id, name)
        if not isinstance(dest, str | os.PathLike):
            return self._http.stream_into(dest, path, dict(rendition))
        target = Path(dest)
        partial = target.with_name(f".{target.name}.part")
        try:
            with partial.open("wb") as out:
                done = self._http.stream_into(out, path, dict(rendition))
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return done

    def update(self, image_id: str, **changes: Unpack[Changes]) -> Image:
        """``PATCH /images/{id}``: change metadata (owner or admin)."""
        body = self._http.call("PATCH", f"/images/{_segment(image_id)}", json=changes, retry=False)
        return Image.model_validate(body["metadata"])

    def delete(self, image_id: str) -> None:
        """``DELETE /images/{id}``: the image, its bytes and its renditions."""
        self._http.request("DELETE", f"/images/{_segment(image_id)}", retry=False)

    def delete_many(self, image_ids: Iterable[str]) -> BulkDeleted:
        """Bulk delete, 100 ids a request: which were deleted and why the others were not."""
        ids = list(dict.fromkeys(image_ids))
        deleted: list[str] = []
        failed: list[Any] = []
        for start in range(0, len(ids), BULK_DELETE_MAX):
            chunk = ids[start : start + BULK_DELETE_MAX]
            body = self._http.call("DELETE", "/images", json={"image_ids": chunk}, retry=False)
            deleted.extend(body["deleted"])
            failed.extend(body["failed"])
        return BulkDeleted.model_validate({"deleted": deleted, "failed": failed})

    def _image_if_any(self, image_id: str) -> Image | None:
        try:
            return self.get_image(image_id)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise


def _keyed(idempotency_key: str | None) -> dict[str, str] | None:
    return None if idempotency_key is None else {"Idempotency-Key": idempotency_key}


def _form(metadata: Metadata) -> dict[str, Any]:
    """Metadata as multipart text fields (``tags`` repeated); the file name travels with the file."""
    fields: dict[str, Any] = {k: v for k, v in metadata.items() if k != "filename" and v is not None}
    if "tags" in fields:
        fields["tags"] = list(fields["tags"]) or None
    return {k: v for k, v in fields.items() if v is not None}


def _time(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _segment(value: str) -> str:
    return quote(value, safe="")


def _content_path(image_id: str | None, name: str | None) -> str:
    if (image_id is None) == (name is None):
        raise ValueError("give either image_id or name")
    return f"/images/{_segment(image_id)}/content" if image_id is not None else f"/{_segment(name or '')}"
