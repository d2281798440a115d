"""The composition root: the one place that reads Settings and wires adapters into services."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from image_service.adapters.filesystem_blobs import FilesystemBlobStore
from image_service.adapters.local_urls import LocalUrlSigner
from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.adapters.sqlite_pending import SqlitePendingUploads
from image_service.domain.signing import Signer
from image_service.services.context import Context, Limits
from image_service.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


class ConfigurationError(RuntimeError):
    """Settings that cannot work; raised at start-up, before serving anything."""


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_image_bytes=settings.max_image_size,
        max_image_pixels=settings.max_image_pixels,
        default_url_expiry=settings.presigned_url_expiration,
    )


def bootstrap(settings: Settings | None = None) -> Context:
    settings = settings or Settings()
    match settings.backend:
        case "local":
            return local_context(settings)
        case "aws":
            raise ConfigurationError("the aws backend is not available in this release yet")


def local_context(settings: Settings) -> Context:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    catalog = SqliteImageCatalog(data_dir / "catalog.sqlite3")
    signer = Signer(read_or_create_secret(data_dir / "signing.key"))
    return Context(
        blobs=FilesystemBlobStore(data_dir / "blobs"),
        catalog=catalog,
        keys=catalog,
        urls=LocalUrlSigner(signer, settings.public_url),
        signer=signer,
        limits=limits_from(settings),
        pending=SqlitePendingUploads(catalog),
        inline_io=True,
    )


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


def app_from_env() -> FastAPI:
    """The ASGI app built from the environment: for `uvicorn --factory` and multi-worker serve."""
    from image_service.api.app import create_app

    settings = Settings()
    return create_app(bootstrap(settings), auth=settings.auth, backend=settings.backend)
