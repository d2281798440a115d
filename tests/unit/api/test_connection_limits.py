"""The deadlines and the connection bound of api/connection_limits.py, case by case: a tiny ASGI
app on a real uvicorn server in a thread with the guarded protocol, driven over raw sockets.

No test sleeps for something to happen: each waits for a condition, the app's or the server's
(``Served.waiting`` and ``Served.receiving``, the protocol's own bookkeeping), and a deadline a
test does not measure is ``LONG``, so that a loaded machine cannot make one pass by accident.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from image_service.api.connection_limits import (
    ConnectionLimits,
    _gates,
    connection_limits,
    http_protocol,
)
from image_service.devtools.emulator import free_port

HEADER_TIMEOUT = 0.3
BODY_TIMEOUT = 0.5
# The header deadline of the tests that need a request's headers, sent right after connect(), to
# arrive in time while they measure the header deadline itself: room for a loaded machine.
ROOMY_HEADER_TIMEOUT = 1.0
# A deadline that no test reaches: for the deadlines a test is not about.
LONG = 30.0
# uvicorn runs on uvloop here, whose timers count whole milliseconds of libuv's clock (the same
# CLOCK_MONOTONIC as time.monotonic(), but truncated): a deadline can pass up to 1 ms before
# time.monotonic() says it has (2 ms where libuv reads the coarse clock). asyncio's own loop
# never fires early; this is the only allowance.
CLOCK_SLACK = 0.002
PATIENCE = 10.0
OK = b"HTTP/1.1 200 OK"


@dataclass
class RecordingApp:
    """Answers 200 "ok"; /upload reads the whole body first, /busy waits until released, and
    /early answers without reading its body. Records what /upload's receive() returned and how
    many requests entered /busy."""

    received: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    busy: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/upload":
            while True:
                message = await receive()
                self.received.append(message["type"])
                if message["type"] == "http.disconnect":
                    return
                if not message.get("more_body"):
                    break
        elif scope["path"] == "/busy":
            self.busy += 1
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


def wait_for(condition: Callable[[], bool], why: Callable[[], object]) -> None:
    """Poll ``condition`` until it holds; fail after PATIENCE."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, why()
        time.sleep(0.005)


@dataclass
class Served:
    """A running server: its port, the client sockets opened to it, and what its connections
    are doing, as the guarded protocol itself keeps count."""

    port: int
    state: ServerState
    sockets: list[socket.socket] = field(default_factory=list)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=PATIENCE)
        self.sockets.append(sock)
        return sock

    def connections(self) -> int:
        return len(self.state.connections)

    def waiting(self) -> int:
        """Connections waiting for request headers."""
        gate = _gates.get(self.state)  # created with the first connection
        return 0 if gate is None else len(gate.waiting)

    def receiving(self) -> int:
        """Connections whose request body is being received."""
        gate = _gates.get(self.state)
        return 0 if gate is None else len(gate.receiving)

    def shows(self, *, connections: int, waiting: int, receiving: int) -> None:
        """Wait until the server has accepted exactly this many connections, with this many
        waiting for headers and receiving a body."""
        wait_for(
            lambda: (
                (self.connections(), self.waiting(), self.receiving()) == (connections, waiting, receiving)
            ),
            lambda: (
                f"{self.connections()} connections, {self.waiting()} waiting, {self.receiving()} receiving"
            ),
        )


@contextmanager
def serving(
    app: RecordingApp,
    max_connections: int = 100,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
) -> Iterator[Served]:
    port = free_port()
    limits = ConnectionLimits(header_timeout, body_timeout, max_connections)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=http_protocol(limits),  # type: ignore[arg-type]
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_keep_alive=60,  # longer than every deadline: it is not what closes connections here
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + PATIENCE
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    served = Served(port, server.server_state)
    try:
        yield served
    finally:
        # First the clients: uvicorn's shutdown waits for connections still receiving a request.
        for sock in served.sockets:
            sock.close()
        app.release.set()
        server.should_exit = True
        thread.join(timeout=PATIENCE)


@pytest.fixture
def app() -> RecordingApp:
    return RecordingApp()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as a close)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def read_response(sock: socket.socket) -> bytes:
    """One response of RecordingApp (its body is two bytes)."""
    received = b""
    while not received.endswith(b"\r\n\r\nok"):
        chunk = sock.recv(65536)
        assert chunk, received
        received += chunk
    return received


def is_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))  # b"": closed
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        sock.setblocking(True)


def wait_until_closed(sock: socket.socket) -> None:
    wait_for(lambda: not is_open(sock), lambda: "still open")


def timeout_response(phase: str, seconds: float) -> bytes:
    body = b'{"error": "request %s not received within %g s"}' % (phase.encode(), seconds)
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
    )


def test_incomplete_headers_get_a_408_at_the_header_deadline(app: RecordingApp) -> None:
    with serving(app, body_timeout=LONG) as server:
        started = time.monotonic()  # before connect(): the server's clock starts at its accept
        sock = server.connect()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert read_until_closed(sock) == timeout_response("headers", HEADER_TIMEOUT)
        assert time.monotonic() - started >= HEADER_TIMEOUT - CLOCK_SLACK


def test_a_connection_that_sends_nothing_is_closed_at_the_header_deadline(app: RecordingApp) -> None:
    with serving(app, body_timeout=LONG) as server:
        started = time.monotonic()
        sock = server.connect()
        assert read_until_closed(sock) == timeout_response("headers", HEADER_TIMEOUT)
        assert time.monotonic() - started >= HEADER_TIMEOUT - CLOCK_SLACK


def test_the_header_deadline_restarts_for_each_request_on_a_keep_alive_connection(
    app: RecordingApp,
) -> None:
    timeout = ROOMY_HEADER_TIMEOUT
    with serving(app, header_timeout=timeout, body_timeout=LONG) as server:
        sock = server.connect()
        # Each request at once (the first right after connect(): the connection's deadline is
        # running), with pauses between them that together pass the deadline: idle time on
        # keep-alive is not the headers' (uvicorn's keep-alive timeout is for that).
        for i in range(4):
            if i:
                time.sleep(timeout * 0.4)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock).startswith(OK)
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert read_until_closed(sock) == timeout_response("headers", timeout)
        assert time.monotonic() - started >= timeout - CLOCK_SLACK  # from this request's first byte


def test_empty_lines_between_requests_do_not_keep_a_connection_open(app: RecordingApp) -> None:
    with serving(app, header_timeout=ROOMY_HEADER_TIMEOUT, body_timeout=LONG) as server:
        sock = server.connect()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock).startswith(OK)
        deadline = time.monotonic() + PATIENCE
        while is_open(sock):  # the keep-alive timeout (60 s) is reset by every byte; ours is not
            assert time.monotonic() < deadline, "still open"
            try:
                sock.sendall(b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(ROOMY_HEADER_TIMEOUT / 10)  # a pace, not a wait


def test_a_trickled_body_reaches_the_app_as_a_disconnect_and_the_client_gets_a_408(
    app: RecordingApp,
) -> None:
    with serving(app, header_timeout=LONG) as server:
        sock = server.connect()
        started = time.monotonic()  # before sendall(): the server's clock starts at the headers' end
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        assert read_until_closed(sock) == timeout_response("body", BODY_TIMEOUT)
        assert time.monotonic() - started >= BODY_TIMEOUT - CLOCK_SLACK
        wait_for(lambda: "http.disconnect" in app.received, lambda: app.received)
        assert app.received == ["http.request", "http.disconnect"]


def test_a_body_past_its_deadline_after_the_answer_is_closed_without_a_second_answer(
    app: RecordingApp,
) -> None:
    with serving(app, header_timeout=LONG) as server:
        sock = server.connect()
        sock.sendall(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        received = read_until_closed(sock)
        assert received.startswith(OK) and received.endswith(b"\r\n\r\nok"), received


def test_a_body_in_time_is_served(app: RecordingApp) -> None:
    with serving(app, header_timeout=LONG, body_timeout=LONG) as server:
        sock = server.connect()
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
        wait_for(lambda: app.received == ["http.request"], lambda: app.received)  # the app has "abc"
        time.sleep(BODY_TIMEOUT)  # the rest comes later, still well within the deadline
        sock.sendall(b"def")
        assert read_response(sock).startswith(OK)
        assert app.received == ["http.request", "http.request"]


# The eviction tests are about who is evicted, not about deadlines: theirs are LONG.


def test_at_the_bound_a_newcomer_evicts_the_connection_waiting_longest_for_its_headers(
    app: RecordingApp,
) -> None:
    with serving(app, max_connections=3, header_timeout=LONG, body_timeout=LONG) as server:
        busy = server.connect()
        busy.sendall(b"GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")  # in the app's hands: never evicted
        wait_for(lambda: app.busy == 1, lambda: "/busy not entered")
        server.shows(connections=1, waiting=0, receiving=0)
        older = server.connect()
        server.shows(connections=2, waiting=1, receiving=0)
        newer = server.connect()
        server.shows(connections=3, waiting=2, receiving=0)
        older.sendall(b"GET / HTTP/1.1\r\n")
        newer.sendall(b"GET / HTTP/1.1\r\n")
        newcomer = server.connect()
        newcomer.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(newcomer).startswith(OK)
        wait_until_closed(older)
        assert is_open(newer) and is_open(busy)
        app.release.set()
        assert read_response(busy).startswith(OK)


def test_at_the_bound_a_newcomer_evicts_the_oldest_body_when_none_waits_for_headers(
    app: RecordingApp,
) -> None:
    with serving(app, max_connections=2, header_timeout=LONG, body_timeout=LONG) as server:
        older, newer = server.connect(), server.connect()
        for receiving, sock in enumerate((older, newer), start=1):
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\na")
            server.shows(connections=2, waiting=2 - receiving, receiving=receiving)
        newcomer = server.connect()
        newcomer.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(newcomer).startswith(OK)
        wait_until_closed(older)
        assert is_open(newer)


def test_at_the_bound_with_every_connection_in_the_apps_hands_the_newcomer_is_closed(
    app: RecordingApp,
) -> None:
    with serving(app, max_connections=2, header_timeout=LONG, body_timeout=LONG) as server:
        busy = [server.connect(), server.connect()]
        for sock in busy:
            sock.sendall(b"GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: app.busy == 2, lambda: f"{app.busy} requests in /busy")
        server.shows(connections=2, waiting=0, receiving=0)
        newcomer = server.connect()
        assert read_until_closed(newcomer) == b""
        app.release.set()
        for sock in busy:
            assert read_response(sock).startswith(OK)


def test_the_default_bound_is_half_the_open_files_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft != resource.RLIM_INFINITY
    assert connection_limits(10, 60, None) == ConnectionLimits(10, 60, soft // 2)
    assert connection_limits(10, 60, soft - 1).max_connections == soft - 1
    with pytest.raises(ValueError, match="IMAGE_SERVICE_MAX_CONNECTIONS"):
        connection_limits(10, 60, soft)
