"""`image-service keys create | list | revoke`: API keys, shown once and stored only as hashes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from image_service.bootstrap import bootstrap
from image_service.cli.errors import err, fail
from image_service.cli.options import DataDir, settings_for
from image_service.domain.errors import NotFound
from image_service.domain.models import format_time, utcnow
from image_service.services.keys import create_key

app = typer.Typer(help="Manage API keys (shown once, stored only as hashes).", no_args_is_help=True)


@app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="The user the key acts as")],
    admin: Annotated[bool, typer.Option("--admin", help="An admin key sees and changes everything")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a key; the secret is the last line of output and is never shown again."""
    ctx = bootstrap(settings_for(data_dir))
    key, token = create_key(ctx.keys, user, is_admin=admin, now=utcnow())
    err.print(f"created key {key.key_id} for user {key.user_id}{' (admin)' if admin else ''}")
    print(token)


@app.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """List keys: id, user, admin, created, revoked. Never the secret."""
    ctx = bootstrap(settings_for(data_dir))
    table = Table("key_id", "user", "admin", "created", "revoked")
    for key in ctx.keys.list_keys():
        table.add_row(
            key.key_id, key.user_id, "yes" if key.is_admin else "no", format_time(key.created_at),
            format_time(key.revoked_at) if key.revoked_at else "",
        )  # fmt: skip
    Console().print(table)


@app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke a key by its id; requests with it are refused from then on."""
    ctx = bootstrap(settings_for(data_dir))
    try:
        ctx.keys.revoke_key(key_id, utcnow())
    except NotFound:
        fail(f"no key with id {key_id}", code=1)
    err.print(f"revoked key {key_id}")
