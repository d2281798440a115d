"""How the client's requests travel: two httpx clients (the API's, with the key; a second one,
without, for the URLs the server hands out), the retry rule, and error answers raised.

Retries (``retries``, with a backoff of ``backoff`` seconds doubled each time) are only for
requests that cannot store anything twice: reads, the bytes of a direct upload (a PUT or POST to
the same object), and uploads sent with an ``Idempotency-Key``, which the server answers once
(docs/API.md "Retries"). They follow a lost connection, a 502/503/504 and, with a key, a 409
"still in progress".
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import IO, Any

import httpx

from image_service.client.answers import api_error, disposition_filename, transport_reason, worth_retrying
from image_service.client.errors import TransportError
from image_service.client.models import Download


class Transport:
    """Requests to one server (``url``, the key in the ``x-api-key`` header) and to signed URLs
    (never with the key). ``transport`` replaces httpx's (tests use ``httpx.MockTransport``)."""

    def __init__(
        self,
        url: str,
        key: str | None,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        headers = {"x-api-key": key} if key else {}
        self.api = httpx.Client(base_url=url, headers=headers, timeout=timeout, transport=transport)
        # Signed URLs carry their own authority; this client has no key to leak to them.
        self.signed = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self.api.close()
        self.signed.close()

    def call(self, method: str, path: str, **options: Any) -> Any:
        """A request to the API; its JSON answer."""
        return self.request(method, path, **options).json()

    def request(
        self,
        method: str,
        url: str,
        *,
        signed: bool = False,
        retry: bool | None = None,
        headers: Mapping[str, str] | None = None,
        **options: Any,
    ) -> httpx.Response:
        """One request (to a signed URL with ``signed``), retried only when a repeat cannot store
        anything twice (``retry``; by default: reads, and writes under an Idempotency-Key); an
        error answer raises ApiError, no answer TransportError."""
        http = self.signed if signed else self.api
        keyed = headers is not None and "Idempotency-Key" in headers
        if retry is None:
            retry = method in {"GET", "HEAD", "PUT"} or keyed
        request = http.build_request(method, url, headers=headers, **options)
        return self._send(http, request, retries=self.retries if retry else 0, keyed=keyed)

    def followed(self, response: httpx.Response) -> httpx.Response:
        """Behind Lambda, large content is a 302 to a presigned URL: fetched without the key."""
        if not response.is_redirect:
            return response
        return self.request("GET", response.headers["location"], signed=True)

    def stream_into(self, out: IO[bytes], path: str, params: dict[str, Any]) -> Download:
        """A GET of the API (or of the signed URL it redirects to) written into ``out`` as it comes."""
        request = self.api.build_request("GET", path, params=params)
        response = self._send(self.api, request, stream=True)
        try:
            if response.is_redirect:
                response.close()
                request = self.signed.build_request("GET", response.headers["location"])
                response = self._send(self.signed, request, stream=True)
            size = 0
            try:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    size += len(chunk)
            except httpx.RequestError as exc:  # the answer broke off mid-body
                raise TransportError(_where(response.request), transport_reason(exc)) from exc
        finally:
            response.close()
        return Download(
            content_type=response.headers.get("content-type", "application/octet-stream"),
            size=size,
            filename=disposition_filename(response.headers.get("content-disposition")),
        )

    def _send(
        self,
        http: httpx.Client,
        request: httpx.Request,
        *,
        retries: int | None = None,
        keyed: bool = False,
        stream: bool = False,
    ) -> httpx.Response:
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                response = http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if last:
                    raise TransportError(_where(request), transport_reason(exc)) from exc
            else:
                if not response.is_error:
                    return response
                if last or not worth_retrying(response, keyed):
                    if stream:
                        response.read()
                    raise api_error(response)
                response.close()
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _where(request: httpx.Request) -> str:
    """Where a request went, without its query: signed URLs carry their signature there."""
    return str(request.url.copy_with(query=None))
