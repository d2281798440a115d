"""S3UrlSigner: presigned S3 URLs, so clients fetch and upload bytes from S3, not through us.

- View: a presigned GET; ``download`` adds ``ResponseContentDisposition: attachment`` with a
  filename that is safe in a header (ASCII fallback plus RFC 5987 ``filename*``).
- Direct upload: a presigned POST whose policy pins the key, the exact content type and a
  ``content-length-range`` of 1..declared size, so S3 itself refuses anything else. The
  service still decodes the stored bytes on completion (emulators do not enforce policies).

S3 checks these signatures, so ``verify`` and ``verify_upload`` never accept anything: the
service's own signed-URL routes are for the embedded backend only.
"""

from __future__ import annotations

from datetime import datetime

from image_service.aws.clients import AwsClients
from image_service.domain.disposition import content_disposition
from image_service.domain.models import Image, PendingUpload, UploadTarget


class S3UrlSigner:
    def __init__(self, clients: AwsClients, bucket: str) -> None:
        self._clients = clients
        self.bucket = bucket

    def presign(self, image: Image, *, expires_in: int, download: bool, now: datetime) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": image.blob_key,
            "ResponseContentType": image.content_type,
            "ResponseContentDisposition": content_disposition(image.filename, download=download),
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
