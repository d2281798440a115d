"""What the client raises: one tree, so that ``except ClientError`` catches every failure.

    ClientError
     ├── ApiError        the server answered with an error status: its status and ``error`` text
     └── TransportError  no answer: the server could not be reached, or it did not answer in time

This module imports nothing heavy (no httpx), so that a command can name these classes without
paying for the HTTP stack.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Any failure of a request made by ``image_service.client``."""


class ApiError(ClientError):
    """An error answer: ``status`` and the server's ``error`` text (``message``)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        request_id: str | None = None,
        details: list[Any] | None = None,
    ) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.request_id = request_id
        self.details = details or []

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status})"


class TransportError(ClientError):
    """The request got no answer; ``url`` is where it went (its query left out: signed URLs carry
    their signature there) and ``reason`` what went wrong."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot reach {self.url}: {self.reason}"
