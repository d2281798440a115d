"""S3UrlSigner: presigned S3 URLs, so clients fetch and upload bytes from S3, not through us.

- View: a presigned GET; ``download`` adds ``ResponseContentDisposition: attachment`` with a
  filename that is safe in a header (ASCII fallback plus RFC 5987 ``filename*``).
- Direct upload: a presigned POST whose policy pins the key, the exact content type and a
  ``content-length-range`` of 1..declared size, so S3 itself refuses anything else. The
  service still decodes the stored bytes on completion (emulators do not enforce policies).

- A stored object by key (a rendition too big for a Lambda response): a presigned GET with the
  content type and disposition given.

S3 checks these signatures, so ``verify`` and ``verify_upload`` never accept anything: the
service's own signed-URL routes are for the embedded backend only (and for renditions, which
the service signs itself on both backends: services/rendition_urls.py). ``base_url`` is where
the service itself answers, for its own URLs; empty, the API makes them absolute per request.
"""

from __future__ import annotations

from datetime import datetime

from image_service.aws.clients import AwsClients
from image_service.domain.disposition import content_disposition
from image_service.domain.models import Image, PendingUpload, UploadTarget


class S3UrlSigner:
    def __init__(self, clients: AwsClients, bucket: str, base_url: str = "") -> None:
        self._clients = clients
        self.bucket = bucket
        self._base_url = base_url.rstrip("/")

    def presign(self, image: Image, *, expires_in: int, download: bool, now: datetime) -> str:
        disposition = content_disposition(image.filename, download=download)
        return self._presigned_get(image.blob_key, image.content_type, disposition, expires_in)

    def presign_blob(self, key: str, *, content_type: str, disposition: str, expires_in: int) -> str | None:
        return self._presigned_get(key, content_type, disposition, expires_in)

    def service_url(self, path: str) -> str:
        return f"{self._base_url}{path}"

    def _presigned_get(self, key: str, content_type: str, disposition: str, expires_in: int) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition,
        }
        # Signing is local computation: no request is made here.
        return self._clients.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def verify(self, image_id: str, *, expires: int, download: bool, signature: str, now: datetime) -> bool:
        return False

    def presign_upload(self, pending: PendingUpload, *, now: datetime) -> UploadTarget:
        expires_in = max(1, int((pending.expires_at - now).total_seconds()))
        post = self._clients.s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=pending.blob_key,
            Fields={"Content-Type": pending.content_type},
            Conditions=[
                {"Content-Type": pending.content_type},
                ["content-length-range", 1, pending.size],
            ],
            ExpiresIn=expires_in,
        )
        return UploadTarget(url=post["url"], method="POST", fields=dict(post["fields"]))

    def verify_upload(self, image_id: str, *, expires: int, signature: str, now: datetime) -> bool:
        return False
