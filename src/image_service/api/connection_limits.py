"""Deadlines for slow clients and a bound on open connections, inside uvicorn's HTTP protocol.

uvicorn closes idle keep-alive connections, but once a request has begun it waits for the rest
of its headers and body forever. A few hundred clients that trickle a byte now and then
(slowloris) then hold as many sockets until the process reaches RLIMIT_NOFILE and can accept
nobody, its health checker included. So each connection here has one deadline at a time:

- headers: from the moment the connection opens, or the first byte of the next request on a
  keep-alive connection, until the headers are complete (``header_timeout``);
- body: from the end of the headers until the end of the body (``body_timeout``), a total and
  not an idle time, so a byte every few seconds does not keep it alive.

When one passes, the client gets a 408 ``{"error": ...}`` with ``Connection: close`` if nothing
has been sent on the connection for that request, and the connection is closed; the app, if it
is reading that body, receives ``http.disconnect``.

Open connections are bounded by ``max_connections`` per server (default: half the soft
RLIMIT_NOFILE, leaving the other half for the app's own files). A connection that arrives at the
bound is not refused but evicts, so that a health checker still gets through, the connection
that has waited longest for its request headers (a slowloris victim or an idle keep-alive
connection) or, when none is, the one that has been sending its body longest (a trickler, or the
upload nearest its own deadline). Only when every connection is waiting for the app's answer,
which an attacker cannot make last, is the newcomer closed.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import resource
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger("image_service.connections")

Phase = Literal["headers", "body"]
# With no soft RLIMIT_NOFILE at all, still a bound: epoll and memory have limits too.
UNLIMITED_FILES_MAX_CONNECTIONS = 32_768
# At most one "at the connection bound" warning per server in this many seconds: evictions come
# as fast as an attacker can connect, and each must not cost a log line.
BOUND_WARNING_INTERVAL = 10.0


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    max_connections: int


def open_files_limit() -> int | None:
    """The process's soft RLIMIT_NOFILE, or None when it has none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def connection_limits(
    header_timeout: float, body_timeout: float, max_connections: int | None
) -> ConnectionLimits:
    """The limits, with the connection bound derived from the open-files limit when not given;
    ValueError for a bound that the open-files limit would defeat."""
    files = open_files_limit()
    if max_connections is None:
        max_connections = UNLIMITED_FILES_MAX_CONNECTIONS if files is None else max(files // 2, 1)
    elif files is not None and max_connections >= files:
        raise ValueError(
            f"IMAGE_SERVICE_MAX_CONNECTIONS={max_connections} is not below this process's open-files "
            f"limit ({files}, ulimit -n): the server would run out of file descriptors first"
        )
    return ConnectionLimits(header_timeout, body_timeout, max_connections)


def http_protocol(limits: ConnectionLimits) -> Callable[..., asyncio.Protocol]:
    """What to pass as uvicorn's ``http=``. A partial of a module-level class, so that it pickles
    into the worker processes of a multi-worker server."""
    return functools.partial(GuardedHttpToolsProtocol, limits=limits)


@dataclass
class _Gate:
    """What the connections of one server share: those waiting for request headers and those
    sending a body, each oldest first (a dict keeps insertion order), and when the bound was
    last reported."""

    waiting: dict[GuardedHttpToolsProtocol, None] = field(default_factory=dict)
    receiving: dict[GuardedHttpToolsProtocol, None] = field(default_factory=dict)
    warned_at: float = float("-inf")

    def victim(self) -> GuardedHttpToolsProtocol | None:
        return next(iter(self.waiting), None) or next(iter(self.receiving), None)

    def forget(self, protocol: GuardedHttpToolsProtocol) -> None:
        self.waiting.pop(protocol, None)
        self.receiving.pop(protocol, None)


_gates: weakref.WeakKeyDictionary[ServerState, _Gate] = weakref.WeakKeyDictionary()


def _timeout_response(phase: Phase, seconds: float) -> bytes:
    body = json.dumps({"error": f"request {phase} not received within {seconds:g} s"}).encode()
    return b"".join(
        [
            b"HTTP/1.1 408 Request Timeout\r\n",
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (what it picks when httptools is installed, as it is with
    uvicorn[standard]) with the deadlines and the bound above."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.gate = _gates.setdefault(server_state, _Gate())
        self.deadline: asyncio.TimerHandle | None = None
        # True while the next bytes from the client belong to a request's headers.
        self.reading_headers = True

    # Connection events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        at_bound = len(self.connections) >= self.limits.max_connections
        super().connection_made(transport)
        # Every write of the connection goes through it, the protocol's and the responses', so
        # their order is kept.
        self.transport = cast(asyncio.Transport, CoalescingTransport(transport, self.loop))
        if at_bound:
            victim = self.gate.victim()
            self._warn_at_bound(evicting=victim is not None)
            if victim is None:
                transport.close()
                return
            victim._close()
        self.gate.waiting[self] = None
        self._arm("headers")

    def data_received(self, data: bytes) -> None:
        # Armed here and not in on_message_begin: llhttp skips the empty lines between requests
        # without starting a message, and a client sending only those must not stay forever.
        if self.reading_headers and self.deadline is None:
            self._arm("headers")
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.gate.forget(self)
        super().connection_lost(exc)

    # Parser callbacks

    def on_headers_complete(self) -> None:
        self.reading_headers = False
        self._disarm()
        self.gate.waiting.pop(self, None)
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):  # a WebSocket has no body
            # A pipelined request's body waits, unread, for the one before it to be answered, and
            # that time counts too: clients pipeline only bodiless requests in practice.
            self._arm("body")
            self.gate.receiving[self] = None

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self.gate.receiving.pop(self, None)
        self.reading_headers = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle on keep-alive: the next request's headers are awaited; uvicorn's keep-alive timeout
        # runs until its first byte, and this connection may be evicted meanwhile.
        if self.reading_headers and not self.pipeline and not self.transport.is_closing():
            self.gate.waiting.setdefault(self, None)

    # Deadlines

    def _arm(self, phase: Phase) -> None:
        self._disarm()
        seconds = self.limits.header_timeout if phase == "headers" else self.limits.body_timeout
        self.deadline = self.loop.call_later(seconds, self._expire, phase, seconds)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expire(self, phase: Phase, seconds: float) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        client = "{}:{} - ".format(*self.client) if self.client else ""
        log.info("%srequest %s not received within %g s: connection closed", client, phase, seconds)
        cycle = self.cycle
        # A 408 only where it answers this request: not after another response has begun, nor
        # ahead of pipelined requests still waiting for theirs.
        if phase == "headers":
            answerable = cycle is None or cycle.response_complete
        else:
            answerable = not cycle.response_started
        self._close(_timeout_response(phase, seconds) if answerable and not self.pipeline else None)

    def _close(self, response: bytes | None = None) -> None:
        self._disarm()
        self.gate.forget(self)
        if self.cycle is not None and not self.cycle.response_complete:
            # From now on the app's receive() says http.disconnect and its sends go nowhere.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if response is not None and not self.transport.get_write_buffer_size():
            self.transport.write(response)
        if self.transport.get_write_buffer_size():
            # close() would wait to flush to a client that is not reading, holding the socket.
            self.transport.abort()
        else:
            self.transport.close()

    def _warn_at_bound(self, *, evicting: bool) -> None:
        now = time.monotonic()
        if now - self.gate.warned_at < BOUND_WARNING_INTERVAL:
            return
        self.gate.warned_at = now
        log.warning(
            "%d connections open (IMAGE_SERVICE_MAX_CONNECTIONS): %s",
            len(self.connections) - 1,
            "closing the one waiting longest for its request"
            if evicting
            else "all wait for their answers, so new connections are closed",
        )


# Writes smaller than this wait for the rest of the response (see CoalescingTransport).
COALESCE_BELOW = 16 * 1024


class CoalescingTransport:
    """The connection's transport, with a response's head and body sent in one system call.

    uvicorn writes the status line and headers as soon as the app starts its response, then the
    body: two sends, and on loopback each send does the receiver's TCP work too. Measured under
    the serving benchmark, the head's send alone was 27 % of the process's time. Here a small write
    waits until the next write (sent together, ``writelines``: one writev on uvloop) or the end of
    the current turn of the event loop (``call_soon``), whichever comes first, so it never waits
    for the app's next await. Every other method sends what waits first, so nothing overtakes it.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._pending_size + len(data) < COALESCE_BELOW:
            if not self._pending:
                self._loop.call_soon(self.flush)
            self._pending.append(bytes(data))
            self._pending_size += len(data)
            return
        if self._pending:
            pending, self._pending, self._pending_size = self._pending, [], 0
            self._transport.writelines([*pending, data])
        else:
            self._transport.write(data)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending, self._pending_size = self._pending, [], 0
            if not self._transport.is_closing():
                self._transport.writelines(pending)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def get_write_buffer_size(self) -> int:
        self.flush()
        return self._transport.get_write_buffer_size()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending, self._pending_size = [], 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        # is_closing, get_extra_info, pause_reading, set_protocol...: the transport's own, once
        # what waits is sent.
        self.flush()
        return getattr(self._transport, name)
