"""One DynamoDB Local + moto S3 pair for the whole test session, started on first use.

Each test that needs AWS gets its own table and bucket (unique names) on these servers, so tests
never see each other's data and no reset is needed. The processes stop when the session ends.
"""

from __future__ import annotations

import atexit
import functools
import uuid
from dataclasses import dataclass

from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
from image_service.adapters.dynamodb_idempotency import DynamoDBIdempotencyStore
from image_service.adapters.dynamodb_keys import DynamoDBKeyStore
from image_service.adapters.dynamodb_pending import DynamoDBPendingUploads
from image_service.adapters.dynamodb_table import DynamoDBTable
from image_service.adapters.s3_blobs import S3BlobStore
from image_service.aws.clients import AwsClients, AwsConfig
from image_service.devtools.emulator import REGION, Emulators, create_resources, start_emulators


@functools.cache
def emulators() -> Emulators:
    started = start_emulators()
    atexit.register(started.stop)
    return started


@dataclass
class AwsResources:
    emulators: Emulators
    clients: AwsClients
    bucket: str
    table: str

    def env(self) -> dict[str, str]:
        return {**self.emulators.env(), "BUCKET_NAME": self.bucket, "TABLE_NAME": self.table}

    def dynamodb_table(self) -> DynamoDBTable:
        return DynamoDBTable(self.clients, self.table)

    def catalog(self) -> DynamoDBImageCatalog:
        return DynamoDBImageCatalog(self.dynamodb_table())

    def keys(self) -> DynamoDBKeyStore:
        return DynamoDBKeyStore(self.dynamodb_table())

    def pending(self) -> DynamoDBPendingUploads:
        return DynamoDBPendingUploads(self.dynamodb_table())

    def idempotency(self) -> DynamoDBIdempotencyStore:
        return DynamoDBIdempotencyStore(self.dynamodb_table())

    def blobs(self) -> S3BlobStore:
        return S3BlobStore(self.clients, self.bucket)


def clients_for(emu: Emulators, dynamodb_url: str | None = None) -> AwsClients:
    """Clients on the emulators; ``dynamodb_url`` overrides DynamoDB Local (with moto's, say)."""
    import os

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    endpoints = {"s3": emu.s3_url, "dynamodb": dynamodb_url or emu.dynamodb_url}
    return AwsClients(AwsConfig(region=REGION, service_endpoints=endpoints))


def fresh_resources() -> AwsResources:
    """A new, empty bucket and table on the session's emulators."""
    emu = emulators()
    name = f"t-{uuid.uuid4().hex[:16]}"
    create_resources(emu.dynamodb_url, emu.s3_url, name, name)
    return AwsResources(emu, clients_for(emu), name, name)
