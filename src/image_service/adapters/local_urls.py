"""Signed URLs for the embedded backend: the service signs them and serves them itself.

The URL is the content route with ``expires`` (Unix time), ``download`` and an HMAC over the
image id and both values; changing any of them, or waiting past ``expires``, breaks it. (Signed
rendition URLs are the service's own on every backend: services/rendition_urls.py.)
"""

from __future__ import annotations

import math
from datetime import datetime
from urllib.parse import urlencode

from image_service.domain.models import Image, PendingUpload, UploadTarget
from image_service.domain.signing import Signer

PURPOSE = "content-url"
UPLOAD_PURPOSE = "upload-url"


class LocalUrlSigner:
    def __init__(self, signer: Signer, base_url: str = "") -> None:
        self._signer = signer
        self._base_url = base_url.rstrip("/")

    def presign(self, image: Image, *, expires_in: int, download: bool, now: datetime) -> str:
        # Rounded up: a URL lives at least ``expires_in`` seconds (rounded down, an expires_in=1
        # URL made at x.999 would expire a millisecond later).
        expires = math.ceil(now.timestamp()) + expires_in
        signature = self._signer.sign(PURPOSE, _message(image.image_id, expires, download))
        query = urlencode({"expires": expires, "download": str(download).lower(), "signature": signature})
        return f"{self._base_url}/images/{image.image_id}/content?{query}"

    def verify(self, image_id: str, *, expires: int, download: bool, signature: str, now: datetime) -> bool:
        if expires < now.timestamp():
            return False
        return self._signer.verify(PURPOSE, _message(image_id, expires, download), signature)

    def presign_upload(self, pending: PendingUpload, *, now: datetime) -> UploadTarget:
        expires = int(pending.expires_at.timestamp())
        signature = self._signer.sign(UPLOAD_PURPOSE, f"{pending.image_id}\n{expires}")
        query = urlencode({"expires": expires, "signature": signature})
        return UploadTarget(
            url=f"{self._base_url}/images/uploads/{pending.image_id}/data?{query}",
            method="PUT",
            headers={"Content-Type": pending.content_type},
        )

    def verify_upload(self, image_id: str, *, expires: int, signature: str, now: datetime) -> bool:
        if expires < now.timestamp():
            return False
        return self._signer.verify(UPLOAD_PURPOSE, f"{image_id}\n{expires}", signature)

    def service_url(self, path: str) -> str:
        return f"{self._base_url}{path}"

    def presign_blob(self, key: str, *, content_type: str, disposition: str, expires_in: int) -> str | None:
        return None  # files have no URL of their own: the service serves them


def _message(image_id: str, expires: int, download: bool) -> str:
    return f"{image_id}\n{expires}\n{int(download)}"
