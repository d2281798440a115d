"""`image-service emulate`: DynamoDB Local and moto S3 on loopback (devtools/emulator.py), and the
way every command starts them (`serve --emulate` too)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from image_service.cli.errors import err, fail

if TYPE_CHECKING:
    from image_service.devtools.emulator import Emulators


def emulate(
    bucket: Annotated[str, typer.Option(help="Bucket to create")] = "image-service-local",
    table: Annotated[str, typer.Option(help="Table to create")] = "image-service-local",
) -> None:
    """Run AWS locally without Docker: DynamoDB Local and moto's S3 on 127.0.0.1, with the bucket
    and table created. Prints the environment that points `image-service` (or any AWS SDK) at
    them, then runs until interrupted. Data lives in memory only."""
    with emulators(bucket=bucket, table=table) as started:
        err.print("[green]DynamoDB Local and moto S3 are running.[/green] Point a shell at them with:")
        for name, value in started.env().items():
            print(f"export {name}={value}", flush=True)
        err.print("then `image-service serve`. Ctrl-C stops the emulators.")
        try:
            _stop_on_signals()
            while all(p.poll() is None for p in started.processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both stop the emulators, as they stop `serve` (uvicorn sets its own
    handlers too). Set explicitly: a shell that starts a background job without job control
    makes it ignore SIGINT, and the child would otherwise inherit that and never stop."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)


@contextmanager
def emulators(**kwargs: Any) -> Iterator[Emulators]:
    """The emulators, said on stderr; if they cannot start, one line and exit status 2."""
    from image_service.devtools.emulator import EmulatorError, running_emulators

    err.print("starting DynamoDB Local and moto S3 on 127.0.0.1 ...")
    try:
        with running_emulators(**kwargs) as started:
            yield started
    except EmulatorError as exc:  # only starting raises it
        fail(f"cannot start the emulators: {exc}")
