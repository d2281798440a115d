"""The composition root: the one place that reads Settings and wires adapters into services."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from image_service.adapters.filesystem_blobs import FilesystemBlobStore
from image_service.adapters.local_urls import LocalUrlSigner
from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.adapters.sqlite_idempotency import SqliteIdempotencyStore
from image_service.adapters.sqlite_keys import SqliteKeyStore
from image_service.adapters.sqlite_pending import SqlitePendingUploads
from image_service.adapters.sqlite_schema import open_database
from image_service.domain.signing import Signer
from image_service.services.access_counts import GroupedAccessCounts
from image_service.services.context import Context, Limits
from image_service.services.keys import WithBootstrapAdmin
from image_service.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from image_service.aws.clients import AwsClients, AwsConfig
    from image_service.aws.secrets import ServiceSecrets


class ConfigurationError(RuntimeError):
    """Settings that cannot work; raised at start-up, before serving anything."""


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_image_bytes=settings.max_image_size,
        max_image_pixels=settings.max_image_pixels,
        default_url_expiry=settings.presigned_url_expiration,
        max_inline_bytes=settings.max_inline_bytes,
        max_image_frames=settings.max_image_frames,
        strip_metadata=settings.strip_metadata,
        rendition_sizes=settings.rendition_sizes,
        auto_avif=settings.auto_avif,
        pixel_budget=settings.pixel_budget,
    )


def bootstrap(settings: Settings | None = None) -> Context:
    settings = settings or Settings()
    match settings.backend:
        case "local":
            return local_context(settings)
        case "aws":
            return aws_context(settings)


def local_context(settings: Settings) -> Context:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(data_dir / "catalog.sqlite3")
    signer = Signer(read_or_create_secret(data_dir / "signing.key"))
    return Context(
        blobs=FilesystemBlobStore(data_dir / "blobs"),
        catalog=SqliteImageCatalog(db),
        keys=SqliteKeyStore(db),
        urls=LocalUrlSigner(signer, settings.public_url),
        signer=signer,
        idempotency=SqliteIdempotencyStore(db),
        pending=SqlitePendingUploads(db),
        limits=limits_from(settings),
    )


def aws_context(settings: Settings, clients: AwsClients | None = None) -> Context:
    """S3 + DynamoDB. Builds clients and adapters only: no network call happens here."""
    from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
    from image_service.adapters.dynamodb_idempotency import DynamoDBIdempotencyStore
    from image_service.adapters.dynamodb_keys import DynamoDBKeyStore
    from image_service.adapters.dynamodb_pending import DynamoDBPendingUploads
    from image_service.adapters.dynamodb_table import DynamoDBTable
    from image_service.adapters.s3_blobs import S3BlobStore
    from image_service.adapters.s3_urls import S3UrlSigner
    from image_service.aws.clients import AwsClients
    from image_service.aws.secrets import CachedSecrets

    if not settings.bucket_name or not settings.table_name:
        raise ConfigurationError("the aws backend needs BUCKET_NAME and TABLE_NAME")
    clients = clients or AwsClients(aws_config(settings))
    secrets = CachedSecrets(_secrets_fetcher(settings, clients), ttl=settings.secrets_ttl)
    table = DynamoDBTable(clients, settings.table_name)
    signer = Signer(lambda: secrets.get().signing_key)
    return Context(
        blobs=S3BlobStore(clients, settings.bucket_name),
        catalog=DynamoDBImageCatalog(table),
        keys=WithBootstrapAdmin(DynamoDBKeyStore(table), lambda: secrets.get().admin_key),
        urls=S3UrlSigner(clients, settings.bucket_name, settings.public_url),
        signer=signer,
        idempotency=DynamoDBIdempotencyStore(table),
        pending=DynamoDBPendingUploads(table),
        limits=limits_from(settings),
    )


def aws_config(settings: Settings) -> AwsConfig:
    from image_service.aws.clients import AwsConfig

    return AwsConfig(
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        service_endpoints={
            service: url
            for service, url in (
                ("s3", settings.aws_endpoint_url_s3),
                ("dynamodb", settings.aws_endpoint_url_dynamodb),
                ("secretsmanager", settings.aws_endpoint_url_secrets_manager),
            )
            if url
        },
        retry_mode=settings.aws_retry_mode,
        max_attempts=settings.aws_max_attempts,
    )


def _secrets_fetcher(settings: Settings, clients: AwsClients) -> Callable[[], ServiceSecrets]:
    from image_service.aws.secrets import parse_secrets, secrets_manager_fetcher

    if settings.secret_arn:
        return secrets_manager_fetcher(clients, settings.secret_arn)
    if settings.signing_key is None:
        raise ConfigurationError(
            "the aws backend needs IMAGE_SERVICE_SECRET_ARN (Secrets Manager) or IMAGE_SERVICE_SIGNING_KEY "
            "(hex, e.g. from `openssl rand -hex 32`): every instance must sign cursors with one key"
        )
    try:
        values = parse_secrets(
            settings.signing_key.get_secret_value(),
            settings.admin_key.get_secret_value() if settings.admin_key else None,
        )
    except ValueError as exc:
        raise ConfigurationError(f"IMAGE_SERVICE_SIGNING_KEY: {exc}") from None
    return lambda: values


def read_or_create_secret(path: Path) -> bytes:
    """The HMAC secret for URLs and cursors, made once (mode 0600) and kept in the data dir."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(32)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        # link() fails if another process won the race; then everyone uses the winner's secret.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text().strip())


# Where the app runs: behind uvicorn (`image-service serve`), or in Lambda behind API Gateway.
Runtime = Literal["server", "lambda"]

# Lambda caps a response at 6 MB, and binary bodies travel base64-encoded (4/3 larger), so about
# 4.5 MB of raw bytes fit; 4 MiB leaves room for the headers.
LAMBDA_MAX_INLINE = 4 * 1024 * 1024


def build_app(settings: Settings, *, runtime: Runtime = "server", ctx: Context | None = None) -> FastAPI:
    """The whole app from settings: the context and, beside it, auth, the backend's name, the
    CORS origins and where storage work runs. ``ctx``, if given, was bootstrapped from these
    settings (serve uses it first).

    On Lambda, content larger than ``LAMBDA_MAX_INLINE`` (or IMAGE_SERVICE_MAX_INLINE_BYTES) is
    answered with a redirect to a presigned URL, and the API Gateway base path that Mangum strips
    is the prefix clients see."""
    from image_service.api.app import create_app

    match runtime:
        case "server":
            base_path = ""
        case "lambda":
            if settings.max_inline_bytes is None:
                settings = settings.model_copy(update={"max_inline_bytes": LAMBDA_MAX_INLINE})
            base_path = settings.base_path
    ctx = bootstrap(settings) if ctx is None else ctx
    if runtime == "server" and ctx.access_counts is None:
        # A server process lives on between requests: it writes access counts in batches. Lambda
        # is frozen after each answer, so there every GET writes its own.
        ctx = dataclasses.replace(ctx, access_counts=GroupedAccessCounts(ctx.catalog))
    match settings.backend:
        case "local":
            inline_io = True  # SQLite and files on local disk: on the event loop (api.deps.run_io)
        case "aws":
            inline_io = False  # every call goes over the network: in the threadpool
    app = create_app(
        ctx,
        auth=settings.auth,
        backend=settings.backend,
        cors_origins=settings.cors_origins,
        base_path=base_path,
        inline_io=inline_io,
    )
    if ctx.access_counts is not None:
        _write_counts_at_shutdown(app, ctx.access_counts)
    return app


def _write_counts_at_shutdown(app: FastAPI, counts: GroupedAccessCounts) -> None:
    """The app's lifespan ends by writing every pending access count: uvicorn runs it on SIGTERM
    (or Ctrl-C) once the last request is answered, in each worker process."""
    from contextlib import asynccontextmanager

    from anyio import to_thread

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        try:
            async with inner(app) as state:
                yield state
        finally:
            await to_thread.run_sync(counts.close)  # blocking writes (DynamoDB: network calls)

    app.router.lifespan_context = lifespan


def app_from_env() -> FastAPI:
    """The ASGI app built from the environment: for `uvicorn --factory` and multi-worker serve."""
    return build_app(Settings())
