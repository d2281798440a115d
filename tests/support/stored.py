"""What a test server holds below its API, read straight from its storage.

``FilesystemStorage`` looks at the embedded backend's blob files (its sharded layout); ``AwsStorage``
lists the S3 bucket and scans the DynamoDB table (a Scan is fine in a test, never in the service).
Tests ask "is this object there?", "what are its bytes?" and "did anything change?" through one
small interface, so the same test runs on both backends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable
from pathlib import Path
from typing import Protocol

from aws_emulators import AwsResources


class Storage(Protocol):
    def has_blob(self, key: str) -> bool:
        """Whether the object for this blob key (an image's ``blob_key``, wire ``s3_key``) exists."""
        ...

    def read_blob(self, key: str) -> bytes: ...

    def snapshot(self) -> Hashable:
        """Everything stored below the API, comparable with ``==`` before and after a request."""
        ...


class FilesystemStorage:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "blobs"

    def path_for(self, key: str) -> Path:
        """FilesystemBlobStore's layout: the key's SHA-256, two levels of shards."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / digest[:2] / digest[2:4] / digest

    def has_blob(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def read_blob(self, key: str) -> bytes:
        return self.path_for(key).read_bytes()

    def snapshot(self) -> frozenset[Path]:
        # The catalog's side is the SQLite file, compared through the API by stored_state.
        return frozenset(p for p in self.root.rglob("*") if p.is_file())


class AwsStorage:
    def __init__(self, resources: AwsResources) -> None:
        self.resources = resources
        self.s3 = resources.clients.s3
        self.dynamodb = resources.clients.dynamodb

    def has_blob(self, key: str) -> bool:
        listed = self.s3.list_objects_v2(Bucket=self.resources.bucket, Prefix=key)
        return any(obj["Key"] == key for obj in listed.get("Contents", []))

    def read_blob(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.resources.bucket, Key=key)["Body"].read()

    def object_keys(self) -> frozenset[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.resources.bucket)
        return frozenset(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def table_items(self) -> frozenset[str]:
        """Every item (images, names, tag entries, pending uploads, API keys) as canonical JSON."""
        paginator = self.dynamodb.get_paginator("scan")
        pages = paginator.paginate(TableName=self.resources.table, ConsistentRead=True)
        return frozenset(json.dumps(item, sort_keys=True) for page in pages for item in page["Items"])

    def snapshot(self) -> tuple[frozenset[str], frozenset[str]]:
        return self.object_keys(), self.table_items()
