"""The `image-service` command: serve the API and manage API keys."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from image_service.bootstrap import ConfigurationError, bootstrap
from image_service.domain.errors import NotFound
from image_service.domain.models import format_time, utcnow
from image_service.services.direct_uploads import sweep_expired
from image_service.services.keys import create_key, ensure_admin_key
from image_service.settings import Settings

app = typer.Typer(
    help="image-service: an image API on filesystem + SQLite or S3 + DynamoDB.", no_args_is_help=True
)
keys_app = typer.Typer(help="Manage API keys (shown once, stored only as hashes).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $IMAGE_SERVICE_DATA_DIR or ./data)"),
]


def _settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    data_dir: DataDir = None,
    backend: Annotated[str | None, typer.Option(help="local | aws")] = None,
    auth: Annotated[str | None, typer.Option(help="api-key | none")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each with its own connections)")] = 1,
) -> None:
    """Start the HTTP server."""
    import uvicorn

    from image_service.api.app import create_app

    settings = _settings(data_dir, backend=backend, auth=auth)
    _configure_logging(settings.log_level)
    try:
        ctx = bootstrap(settings)
    except ConfigurationError as exc:
        err.print(f"[red]cannot start:[/red] {exc}")
        raise typer.Exit(2) from None
    if ctx.pending is not None:
        sweep_expired(ctx, limit=10_000)
    if settings.auth == "none":
        err.print(
            "[yellow]WARNING: IMAGE_SERVICE_AUTH=none: no authentication, trusted networks only.[/yellow]"
        )
    else:
        token = ensure_admin_key(ctx.keys, utcnow())
        if token is not None:
            err.print("No API keys existed, so an admin key was created. It is shown only this once:")
            print(token, flush=True)
    options = {"host": host, "port": port, "access_log": False, "log_config": None, "server_header": False}
    if workers == 1:
        uvicorn.run(create_app(ctx, auth=settings.auth, backend=settings.backend), **options)  # type: ignore[arg-type]
        return
    # Workers are separate processes that rebuild the app from the environment.
    os.environ.update(
        IMAGE_SERVICE_DATA_DIR=str(settings.data_dir.resolve()),
        IMAGE_SERVICE_BACKEND=settings.backend,
        IMAGE_SERVICE_AUTH=settings.auth,
    )
    uvicorn.run("image_service.bootstrap:app_from_env", factory=True, workers=workers, **options)  # type: ignore[arg-type]


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="The user the key acts as")],
    admin: Annotated[bool, typer.Option("--admin", help="An admin key sees and changes everything")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a key; the secret is the last line of output and is never shown again."""
    ctx = bootstrap(_settings(data_dir))
    key, token = create_key(ctx.keys, user, is_admin=admin, now=utcnow())
    err.print(f"created key {key.key_id} for user {key.user_id}{' (admin)' if admin else ''}")
    print(token)


@keys_app.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """List keys: id, user, admin, created, revoked. Never the secret."""
    ctx = bootstrap(_settings(data_dir))
    table = Table("key_id", "user", "admin", "created", "revoked")
    for key in ctx.keys.list_keys():
        table.add_row(
            key.key_id, key.user_id, "yes" if key.is_admin else "no", format_time(key.created_at),
            format_time(key.revoked_at) if key.revoked_at else "",
        )  # fmt: skip
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke a key by its id; requests with it are refused from then on."""
    ctx = bootstrap(_settings(data_dir))
    try:
        ctx.keys.revoke_key(key_id, utcnow())
    except NotFound:
        err.print(f"[red]no key with id {key_id}[/red]")
        raise typer.Exit(1) from None
    err.print(f"revoked key {key_id}")


if __name__ == "__main__":
    app()
