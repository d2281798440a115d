"""Reading the server's answers: error answers as ApiError, the replay header, the retry rule,
and what a failed connection or a Content-Disposition says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from image_service.client.errors import ApiError
from image_service.client.models import Image, Uploaded

RETRY_STATUSES = frozenset({502, 503, 504})
REPLAYED = "idempotent-replayed"  # a replay of the first answer under an Idempotency-Key
_S3_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.DOTALL)


def worth_retrying(response: httpx.Response, keyed: bool) -> bool:
    if response.status_code in RETRY_STATUSES:
        return True
    # The first attempt under this key is still running (a retry after a lost answer, or after a
    # killed run): the server answers it once done.
    return keyed and response.status_code == 409 and "in progress" in error_text(response)


def api_error(response: httpx.Response) -> ApiError:
    body = _json_or_none(response)
    details = body.get("details") if isinstance(body, dict) else None
    return ApiError(
        response.status_code,
        error_text(response),
        request_id=response.headers.get("x-request-id"),
        details=details if isinstance(details, list) else None,
    )


def error_text(response: httpx.Response) -> str:
    """The server's ``error`` text; S3's ``<Message>``; else the status's reason phrase."""
    body = _json_or_none(response)
    if isinstance(body, dict):
        text = body.get("error") or body.get("status")
        if isinstance(text, str) and text:
            return text
    if match := _S3_MESSAGE.search(response.text[:4096]):
        return match.group(1).strip()
    return response.reason_phrase or "error"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def transport_reason(exc: httpx.RequestError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})" if str(exc) else "cannot connect"
    return str(exc) or type(exc).__name__


def uploaded(response: httpx.Response) -> Uploaded:
    body = response.json()
    return Uploaded(
        image=Image.model_validate(body["metadata"]),
        replayed=replayed(response),
        unindexed_words=body.get("unindexed_words", 0),
    )


def replayed(response: httpx.Response) -> bool:
    value: str = response.headers.get(REPLAYED, "")
    return value.lower() == "true"


def disposition_filename(header: str | None) -> str | None:
    """The plain ``filename`` of a Content-Disposition, as a bare name (no path parts)."""
    if not header:
        return None
    match = re.search(r'filename="([^"]*)"', header)
    name = Path(match.group(1)).name if match else ""
    return name or None
