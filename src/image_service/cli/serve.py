"""`image-service serve`: the API over HTTP (uvicorn), on either backend or on the emulators."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from image_service.bootstrap import bootstrap, build_app
from image_service.cli.emulate import emulators
from image_service.cli.errors import fail
from image_service.cli.options import Backend, DataDir, settings_for
from image_service.domain.models import utcnow
from image_service.ports import BlobInventory
from image_service.services.direct_uploads import sweep_expired
from image_service.services.keys import ensure_admin_key
from image_service.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("image_service.cli")


def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    data_dir: DataDir = None,
    backend: Backend = None,
    auth: Annotated[str | None, typer.Option(help="api-key | none")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each with its own connections)")] = 1,
    emulate: Annotated[
        bool, typer.Option("--emulate", help="With --backend aws: run on local DynamoDB Local + moto S3")
    ] = False,
) -> None:
    """Start the HTTP server."""
    if not emulate:
        _serve(host, port, data_dir, backend, auth, workers)
        return
    if (backend or os.environ.get("IMAGE_SERVICE_BACKEND", "aws")) != "aws":
        fail("--emulate runs the aws backend; drop --backend local")
    with emulators() as started:
        os.environ.update(started.env())
        os.environ.pop("IMAGE_SERVICE_ADMIN_KEY")  # the usual first-start admin key, printed below
        _serve(host, port, data_dir, "aws", auth, workers)


def _serve(
    host: str, port: int, data_dir: Path | None, backend: str | None, auth: str | None, workers: int
) -> None:
    import uvicorn

    from image_service import logs
    from image_service.api.connection_limits import connection_limits, http_protocol

    settings = settings_for(data_dir, backend=backend, auth=auth)
    # From here on, everything the server says on stderr is a JSON log line (logs.py).
    logs.configure(settings.log_level)
    try:
        limits = connection_limits(settings.header_timeout, settings.body_timeout, settings.max_connections)
    except ValueError as exc:
        fail(f"invalid configuration: {exc}")
    ctx = bootstrap(settings)
    sweep_expired(ctx, limit=10_000)
    if settings.auth == "none":
        log.warning("IMAGE_SERVICE_AUTH=none: no authentication, trusted networks only")
    else:
        token = ensure_admin_key(ctx.keys, utcnow())
        if token is not None:
            log.warning(
                "no API keys existed, so an admin key was created: it is the last line of stdout, "
                "shown only this once"
            )
            print(token, flush=True)
    options = {
        "host": host,
        "port": port,
        "access_log": False,
        # uvicorn applies it in every worker process: its own records become JSON lines too.
        "log_config": logs.logging_config(settings.log_level),
        "server_header": False,
        # Deadlines for slow clients and a bound on open connections, which uvicorn lacks; it
        # pickles, so the workers of the multi-worker path below get it too.
        "http": http_protocol(limits),
    }
    if workers == 1:
        uvicorn.run(with_accel(build_app(settings, ctx=ctx), settings), **options)  # type: ignore[arg-type]
        return
    # Workers are separate processes that rebuild the app from the environment.
    os.environ.update(
        IMAGE_SERVICE_DATA_DIR=str(settings.data_dir.resolve()),  # aws workers read their env as is
        IMAGE_SERVICE_BACKEND=settings.backend,
        IMAGE_SERVICE_AUTH=settings.auth,
    )
    uvicorn.run("image_service.cli.serve:app_from_env", factory=True, workers=workers, **options)  # type: ignore[arg-type]


def with_accel(app: FastAPI, settings: Settings) -> FastAPI:
    """With IMAGE_SERVICE_ACCEL_REDIRECT, the content routes hand the bytes to nginx (api/accel.py):
    the location of an object is its path under the data dir's blobs/, where nginx's internal
    location points."""
    from image_service.api.accel import AccelRedirect

    if settings.accel_redirect:
        blobs = app.state.context.blobs
        if not isinstance(blobs, BlobInventory):
            fail("IMAGE_SERVICE_ACCEL_REDIRECT needs a blob store of files (the local backend)")
        app.state.accel = AccelRedirect(settings.accel_redirect, blobs.ref)
    return app


def app_from_env() -> FastAPI:
    """The app of one worker process of a multi-worker server (uvicorn's factory)."""
    settings = Settings()
    return with_accel(build_app(settings), settings)
