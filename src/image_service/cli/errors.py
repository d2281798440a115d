"""How every command reports a user's mistake: one line on stderr and exit status 2, never a
traceback. Tracebacks are for bugs.

A mistake is a setting that cannot work (pydantic's ValidationError of Settings, the bootstrap's
ConfigurationError), an invalid argument (a domain error such as InvalidInput), a file that is
not there, or a command whose optional extra is not installed. A backend that does not answer is
no mistake of the user's, but no bug either: one line too, with status 1; so is a client command's
request that the server refused or never answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from image_service.bootstrap import ConfigurationError
from image_service.client.errors import ClientError
from image_service.domain.errors import BackendUnavailable, ImageServiceError

USAGE = 2  # click's own status for a bad option or argument
FAILED = 1

err = Console(stderr=True)
# The modules of the optional extras (pyproject.toml), for the hint when one is missing.
EXTRA_OF_MODULE = {"moto": "emulate", "yaml": "deploy", "samtranslator": "deploy"}


class UserError(Exception):
    """A mistake a command finds itself; its message is the line shown."""


def say_error(message: str) -> None:
    """One line, as written: never wrapped at the terminal's width, brackets kept (no markup)."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)


def fail(message: str, code: int = USAGE) -> NoReturn:
    say_error(message)
    raise typer.Exit(code)


def describe(exc: BaseException) -> tuple[str, int] | None:
    """The line and exit status for an error a user can fix; None for a bug."""
    match exc:
        case UserError():
            return str(exc), USAGE
        case ValidationError():
            return f"invalid configuration: {settings_problems(exc)}", USAGE
        case ConfigurationError():
            return f"invalid configuration: {exc}", USAGE
        case BackendUnavailable():
            return f"{exc.message} ({exc.__cause__ or 'no detail'})", FAILED
        case ImageServiceError():
            return exc.message, USAGE
        case ClientError():  # a client command's request: the server's error text and status
            return str(exc), FAILED
        case ModuleNotFoundError(name=str(name)) if name.split(".")[0] in EXTRA_OF_MODULE:
            extra = EXTRA_OF_MODULE[name.split(".")[0]]
            return f"{name} is not installed: pip install 'image-service[{extra}]'", USAGE
        case FileNotFoundError() | NotADirectoryError() | IsADirectoryError() | PermissionError():
            return f"{exc.filename}: {exc.strerror}", USAGE
    return None


def settings_problems(exc: ValidationError) -> str:
    """Each invalid variable and why, in one line; never the value (it may be a secret)."""
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        problems.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


@contextmanager
def reported() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        described = describe(exc)
        if described is None:
            raise
        message, code = described
        say_error(message)
        raise SystemExit(code) from None


class Cli(typer.Typer):
    """The command group whose every command reports user errors as ``reported`` does."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with reported():
            return super().__call__(*args, **kwargs)
