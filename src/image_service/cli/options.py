"""What the commands share: the --data-dir option and the settings a command runs with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from image_service.settings import Settings

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $IMAGE_SERVICE_DATA_DIR or ./data)"),
]
Backend = Annotated[str | None, typer.Option(help="local | aws")]


def settings_for(data_dir: Path | None = None, **overrides: object) -> Settings:
    """The environment's settings with the command's options; invalid ones end the command with
    one line (cli/errors.py)."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings.with_fields(**values)
