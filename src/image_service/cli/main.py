"""The `image-service` command: the group, --version, and its commands, one module each."""

from __future__ import annotations

from typing import Annotated

import typer

from image_service import __version__
from image_service.cli import (
    client_images,
    client_upload,
    deploy,
    emulate,
    fsck,
    keys,
    package,
    reindex,
    serve,
)
from image_service.cli.errors import Cli

app = Cli(help="image-service: an image API on filesystem + SQLite or S3 + DynamoDB.", no_args_is_help=True)


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


app.add_typer(keys.app, name="keys")
app.command()(serve.serve)
app.command("fsck")(fsck.fsck_command)
app.command("reindex")(reindex.reindex_command)
app.command()(emulate.emulate)
app.command("package")(package.package_command)
deploy.register(app)
# The client commands: they talk to a running server (--url, --key).
app.command("upload")(client_upload.upload_command)
app.command("ls")(client_images.ls_command)
app.command("get")(client_images.get_command)
app.command("rm")(client_images.rm_command)
app.command("edit")(client_images.edit_command)

if __name__ == "__main__":
    app()
