"""S3BlobStore: image bytes as S3 objects, one per storage key (``<owner>/<image_id>``).

Writes send a SHA-256 checksum that S3 verifies before it stores the object (a corrupted body is
refused, not stored); S3 PUTs are atomic, so a reader never sees part of an object. ``put_new``
is S3's conditional write (``If-None-Match: *``), decided by S3 itself, so it holds across
processes and Lambda instances.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from image_service.aws.clients import AwsClients
from image_service.aws.errors import aws_errors, error_code
from image_service.domain.errors import BackendUnavailable, NotFound
from image_service.domain.models import StoredBlob

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

# 412: an object exists under the key. 409: a concurrent operation on the key (a delete that
# finished while our write ran) left the outcome open, and AWS's answer to it is "retry": the
# retry then stores (True) or finds the other writer's object (412, False).
EXISTS_CODES = {"PreconditionFailed"}
CONFLICT_CODES = {"ConditionalRequestConflict"}
CONFLICT_ATTEMPTS = 3
DELETE_BATCH = 1000  # DeleteObjects' limit, and ListObjectsV2's page size


class S3BlobStore:
    def __init__(self, clients: AwsClients, bucket: str) -> None:
        self._clients = clients
        self.bucket = bucket

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with aws_errors("image storage"):
            self._clients.s3.put_object(**self._put_args(key, data, content_type))

    def put_new(self, key: str, data: bytes, content_type: str) -> bool:
        args = self._put_args(key, data, content_type)
        with aws_errors("image storage"):
            for _ in range(CONFLICT_ATTEMPTS):
                try:
                    self._clients.s3.put_object(**args, IfNoneMatch="*")
                except ClientError as error:
                    code = error_code(error)
                    if code in EXISTS_CODES:
                        return False
                    if code not in CONFLICT_CODES:
                        raise
                else:
                    return True
        raise BackendUnavailable("image storage is busy; retry later (ConditionalRequestConflict)")

    def _put_args(self, key: str, data: bytes, content_type: str) -> dict[str, Any]:
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        return {
            "Bucket": self.bucket,
            "Key": key,
            "Body": data,
            "ContentType": content_type,
            "ChecksumSHA256": checksum,
        }

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

    def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("an empty prefix would name every object")
        deleted = 0
        paginator = self._clients.s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": DELETE_BATCH}
        )
        with aws_errors("image storage"):
            # Deleting what a page listed does not disturb the next page: the continuation token
            # resumes after the last key listed, whether it still exists or not.
            for page in pages:
                batch: list[ObjectIdentifierTypeDef] = [
                    {"Key": item["Key"]} for item in page.get("Contents", [])
                ]
                if not batch:
                    continue
                answer = self._clients.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
                if failed := answer.get("Errors", []):
                    raise BackendUnavailable(
                        f"image storage kept {len(failed)} objects ({failed[0].get('Code', '')})"
                    )
                deleted += len(batch)
        return deleted

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

    def folder_ref(self, prefix: str) -> str:
        return prefix

    def inventory(self) -> Iterator[StoredBlob]:
        paginator = self._clients.s3.get_paginator("list_objects_v2")
        with aws_errors("image storage"):
            for page in paginator.paginate(Bucket=self.bucket):
                for item in page.get("Contents", []):
                    yield StoredBlob(ref=item["Key"], modified=item["LastModified"], size=item["Size"])

    def delete_ref(self, ref: str) -> None:
        self.delete(ref)
