"""The `image-service` command: serve the API and manage API keys."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from image_service import __version__
from image_service.bootstrap import bootstrap
from image_service.cli import deploy as deploy_commands
from image_service.cli.errors import Cli, fail
from image_service.deploy.targets import Arch
from image_service.domain.errors import NotFound
from image_service.domain.models import format_time, utcnow
from image_service.services.direct_uploads import sweep_expired
from image_service.services.keys import create_key, ensure_admin_key
from image_service.settings import Settings

if TYPE_CHECKING:
    from image_service.aws.emulator import Emulators

app = Cli(help="image-service: an image API on filesystem + SQLite or S3 + DynamoDB.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys (shown once, stored only as hashes).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
err = Console(stderr=True)
log = logging.getLogger("image_service.cli")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $IMAGE_SERVICE_DATA_DIR or ./data)"),
]


def _version(value: bool) -> None:
    if value:
        print(f"image-service {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """image-service: an image API on filesystem + SQLite or S3 + DynamoDB."""


def _settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    """The environment's settings with the command's options; invalid ones end the command with
    one line (cli/errors.py)."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings.with_fields(**values)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    data_dir: DataDir = None,
    backend: Annotated[str | None, typer.Option(help="local | aws")] = None,
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
    with _emulators() as emulators:
        os.environ.update(emulators.env())
        os.environ.pop("IMAGE_SERVICE_ADMIN_KEY")  # the usual first-start admin key, printed below
        _serve(host, port, data_dir, "aws", auth, workers)


def _serve(
    host: str, port: int, data_dir: Path | None, backend: str | None, auth: str | None, workers: int
) -> None:
    import uvicorn

    from image_service import logs
    from image_service.api.app import create_app
    from image_service.api.connection_limits import connection_limits, http_protocol

    settings = _settings(data_dir, backend=backend, auth=auth)
    # From here on, everything the server says on stderr is a JSON log line (logs.py).
    logs.configure(settings.log_level)
    try:
        limits = connection_limits(settings.header_timeout, settings.body_timeout, settings.max_connections)
    except ValueError as exc:
        fail(f"invalid configuration: {exc}")
    ctx = bootstrap(settings)
    if ctx.pending is not None:
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
        api = create_app(
            ctx, auth=settings.auth, backend=settings.backend, cors_origins=settings.cors_origins
        )
        uvicorn.run(api, **options)  # type: ignore[arg-type]
        return
    # Workers are separate processes that rebuild the app from the environment.
    os.environ.update(
        IMAGE_SERVICE_DATA_DIR=str(settings.data_dir.resolve()),  # aws workers read their env as is
        IMAGE_SERVICE_BACKEND=settings.backend,
        IMAGE_SERVICE_AUTH=settings.auth,
    )
    uvicorn.run("image_service.bootstrap:app_from_env", factory=True, workers=workers, **options)  # type: ignore[arg-type]


@app.command("fsck")
def fsck_command(
    repair: Annotated[
        bool, typer.Option("--repair", help="Delete what is found, not just report it")
    ] = False,
    grace: Annotated[
        int, typer.Option(min=0, help="Seconds an unreferenced object is spared (uploads in flight)")
    ] = 3600,
    data_dir: DataDir = None,
    backend: Annotated[str | None, typer.Option(help="local | aws")] = None,
) -> None:
    """Find objects without metadata, metadata without objects and stale pending uploads (on
    either backend); with --repair, remove them. Exits 1 if damage was found and left in place."""
    from datetime import timedelta

    from image_service.services.fsck import fsck

    ctx = bootstrap(_settings(data_dir, backend=backend))
    report = fsck(ctx, repair=repair, grace=timedelta(seconds=grace))
    verb = "removed" if repair else "found"
    print(f"checked {report.images} images and {report.objects} objects")
    for label, items in (
        ("objects without metadata", report.orphan_objects),
        ("images without their object", report.missing_objects),
        ("stale pending uploads", report.stale_pending),
    ):
        print(f"{verb} {len(items)} {label}")
        for item in items:
            print(f"  {item}")
    if report.young_unreferenced:
        print(
            f"spared {report.young_unreferenced} objects without metadata younger than the grace period "
            f"({grace} s): they may be uploads in flight. With no server running (after a crash), "
            "check them with --grace 0"
        )
    if not report.clean and not repair:
        raise typer.Exit(1)


@app.command()
def emulate(
    bucket: Annotated[str, typer.Option(help="Bucket to create")] = "image-service-local",
    table: Annotated[str, typer.Option(help="Table to create")] = "image-service-local",
) -> None:
    """Run AWS locally without Docker: DynamoDB Local and moto's S3 on 127.0.0.1, with the bucket
    and table created. Prints the environment that points `image-service` (or any AWS SDK) at
    them, then runs until interrupted. Data lives in memory only."""
    with _emulators(bucket=bucket, table=table) as emulators:
        err.print("[green]DynamoDB Local and moto S3 are running.[/green] Point a shell at them with:")
        for name, value in emulators.env().items():
            print(f"export {name}={value}", flush=True)
        err.print("then `image-service serve`. Ctrl-C stops the emulators.")
        try:
            while all(p.poll() is None for p in emulators.processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


@contextmanager
def _emulators(**kwargs: Any) -> Iterator[Emulators]:
    from image_service.aws.emulator import EmulatorError, start_emulators

    err.print("starting DynamoDB Local and moto S3 on 127.0.0.1 ...")
    try:
        emulators = start_emulators(**kwargs)
    except EmulatorError as exc:
        fail(f"cannot start the emulators: {exc}")
    try:
        yield emulators
    finally:
        emulators.stop()


@app.command("package")
def package_command(
    arch: Annotated[Arch, typer.Option(help="The function's architecture")] = "arm64",
    python: Annotated[str, typer.Option("--python", help="The function's Python runtime")] = "3.12",
    out: Annotated[Path, typer.Option(help="Directory to write the zip to")] = Path("build"),
) -> None:
    """Build the Lambda zip from manylinux wheels for the function's architecture and Python:
    trimmed, precompiled, checked against Lambda's limits. Prints the zip's path last."""
    from image_service.deploy import package

    err.print(f"building the Lambda package for {arch}, Python {python} ...")
    try:
        report = package.build_lambda_package(out, arch=arch, python_version=python)
    except package.PackageError as exc:
        fail(f"cannot package: {exc}", code=1)

    def mb(size: int) -> str:
        return f"{size / package.MB:.1f} MB"

    sizes = Table("", "size", "our budget", "Lambda's limit", title=report.zip_path.name)
    sizes.add_row(
        "zipped", mb(report.zipped_bytes), mb(package.ZIPPED_BUDGET), mb(package.LAMBDA_ZIPPED_LIMIT)
    )
    sizes.add_row(
        "unzipped", mb(report.unzipped_bytes), mb(package.UNZIPPED_BUDGET), mb(package.LAMBDA_UNZIPPED_LIMIT)
    )
    largest = Table("largest top-level entries", "unzipped")
    for name, size in report.largest:
        largest.add_row(name, mb(size))
    console = Console()
    console.print(sizes, largest)
    console.print(
        f"{report.files} files; {report.extensions} compiled files checked for {arch} and Python {python}; "
        f"{mb(report.trimmed_bytes)} trimmed; built in {report.seconds:.1f} s"
    )
    print(report.zip_path)


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
        fail(f"no key with id {key_id}", code=1)
    err.print(f"revoked key {key_id}")


deploy_commands.register(app)

if __name__ == "__main__":
    app()
