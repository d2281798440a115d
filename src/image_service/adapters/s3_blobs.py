"""S3BlobStore: image bytes as S3 objects, one per storage key (``<owner>/<image_id>``).

Writes send a SHA-256 checksum that S3 verifies before it stores the object (a corrupted body is
refused, not stored); S3 PUTs are atomic, so a reader never sees part of an object.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

from image_service.aws.clients import AwsClients
from image_service.aws.errors import aws_errors
from image_service.domain.errors import NotFound
from image_service.domain.models import StoredBlob


class S3BlobStore:
    def __init__(self, clients: AwsClients, bucket: str) -> None:
        self._clients = clients
        self.bucket = bucket

    def put(self, key: str, data: bytes, content_type: str) -> None:
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        with aws_errors("image storage"):
            self._clients.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ChecksumSHA256=checksum,
            )

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        with aws_errors("image object"):
            if start is None:
                response = self._clients.s3.get_object(Bucket=self.bucket, Key=key)
            else:
                byte_range = f"bytes={start}-{'' if end is None else end}"
                response = self._clients.s3.get_object(Bucket=self.bucket, Key=key, Range=byte_range)
            body = response["Body"]
            try:
                return body.read()
            finally:
                body.close()

    def delete(self, key: str) -> None:
        with aws_errors("image storage"):
            self._clients.s3.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        try:
            with aws_errors("image object"):
                self._clients.s3.head_object(Bucket=self.bucket, Key=key)
        except NotFound:
            return False
        return True

    def ping(self) -> None:
        with aws_errors("image storage"):
            self._clients.s3.head_bucket(Bucket=self.bucket)

    # -- fsck ------------------------------------------------------------------------------
    def ref(self, key: str) -> str:
        return key

    def inventory(self) -> Iterator[StoredBlob]:
        paginator = self._clients.s3.get_paginator("list_objects_v2")
        with aws_errors("image storage"):
            for page in paginator.paginate(Bucket=self.bucket):
                for item in page.get("Contents", []):
                    yield StoredBlob(ref=item["Key"], modified=item["LastModified"], size=item["Size"])

    def delete_ref(self, ref: str) -> None:
        self.delete(ref)
