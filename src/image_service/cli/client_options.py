"""What the client commands share: the server (--url / IMAGE_SERVICE_URL) and the API key
(--key / IMAGE_SERVICE_KEY). Only these commands read the two variables; the server never does.

    def command(..., url: Url = DEFAULT_URL, key: Key = None) -> None:  # client.defaults
        with connect(url, key) as client: ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from image_service.client import Client

Url = Annotated[
    str,
    typer.Option("--url", envvar="IMAGE_SERVICE_URL", help="The server", rich_help_panel="Server"),
]
Key = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="IMAGE_SERVICE_KEY",
        help="An API key (isk_...); without one, only public images are seen",
        show_default=False,
        rich_help_panel="Server",
    ),
]


def connect(url: str, key: str | None) -> Client:
    """The client of the commands (imported here: httpx only loads for a client command)."""
    from image_service.client import Client

    return Client(url, key or None)
