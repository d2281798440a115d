"""Slow clients against a real `image-service serve`: 300 connections that trickle their request
headers or body a byte at a time are cut off at their deadlines, the number of open connections
stays bounded below the open-files limit, and /health answers throughout.

Each test starts its own server with short deadlines and its own RLIMIT_NOFILE (set in the child
with preexec_fn), on the local backend: connection handling does not depend on the backend.
"""

from __future__ import annotations

import errno
import os
import resource
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from api_server import EXE, START_TIMEOUT

from image_service.devtools.emulator import free_port

pytestmark = [pytest.mark.api, pytest.mark.slow]

SLOW_CLIENTS = 300
# Long enough for all of them to be open at once: the first header deadline runs from the first
# accept, and opening the 300 (15 MiB of multipart among them) takes up to half a second on a
# loaded machine.
HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 4.0
# Every wait below polls until this bound; none sleeps for a deadline to pass.
PATIENCE = 15.0
TRICKLE_INTERVAL = 0.1
# /health must answer, not be fast: without the bound it is refused outright. Generous, because
# the machine may be busy with the rest of the suite.
HEALTH_BOUND = 5.0
# The server runs on uvloop, whose timers count whole milliseconds of libuv's clock (the same
# CLOCK_MONOTONIC as time.monotonic(), but truncated): a deadline can pass up to 1 ms before
# time.monotonic() says it has (2 ms where libuv reads the coarse clock). The only allowance.
CLOCK_SLACK = 0.002
# The server's descriptors are settled when two readings this far apart agree.
FDS_SETTLED = 0.2


@dataclass
class SlowServer:
    process: subprocess.Popen[bytes]
    port: int
    files_limit: int
    data_dir: Path
    tmp_dir: Path
    stderr_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def settled_fds(self) -> int:
        """The number of open descriptors once it stops changing: the connections of the requests
        just answered (the readiness probe's, say) are closed on the server's side a moment after
        the client has its answer."""
        deadline = time.monotonic() + PATIENCE
        before = self.fds()
        while True:
            time.sleep(FDS_SETTLED)
            now = self.fds()
            if now == before:
                return now
            assert time.monotonic() < deadline, f"{now} fds, {before} {FDS_SETTLED} s before: never settled"
            before = now

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


StartServer = Callable[..., SlowServer]


@dataclass
class SlowClient:
    """A raw socket that sends ``opening`` at once, then one byte of ``trickle`` per round, and
    never finishes its request."""

    sock: socket.socket
    trickle: bytes
    # Taken before connect(), so before the server's clock for this connection starts: at its
    # accept for the headers, at the end of the headers for the body.
    opened_at: float
    received: bytes = b""
    closed_at: float | None = None
    sent: int = 0

    @classmethod
    def open(cls, port: int, opening: bytes, trickle: bytes) -> SlowClient:
        opened_at = time.monotonic()
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(opening)
        sock.setblocking(False)
        return cls(sock, trickle, opened_at)

    def step(self) -> None:
        """Read what the server sent (noticing a close), then send one more byte."""
        if self.closed_at is not None:
            return
        try:
            while chunk := self.sock.recv(65536):
                self.received += chunk
            self._closed()
            return
        except BlockingIOError:
            pass
        except OSError:
            self._closed()
            return
        try:
            self.sock.send(self.trickle[self.sent % len(self.trickle) : self.sent % len(self.trickle) + 1])
            self.sent += 1
        except BlockingIOError:
            pass
        except OSError as exc:
            assert exc.errno in (errno.EPIPE, errno.ECONNRESET), exc
            self._closed()

    def _closed(self) -> None:
        self.closed_at = time.monotonic()
        self.sock.close()


def slow_headers(port: int) -> SlowClient:
    """A request line and headers that never end (one header value growing by a byte a round)."""
    return SlowClient.open(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", b"a")


def slow_body(port: int) -> SlowClient:
    """Complete headers of an upload, then its JSON body a byte a round, never all of it."""
    head = (
        b"POST /images HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    return SlowClient.open(port, head + b'{"user_id": "mallory", "image_data": "', b"A")


def slow_multipart_body(port: int) -> SlowClient:
    """A multipart upload whose file part passes the size at which Starlette spools it to a
    temporary file (1 MiB) at once, and then trickles."""
    form = (
        b'--XX\r\nContent-Disposition: form-data; name="user_id"\r\n\r\nmallory\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG" + b"a" * (1024 * 1024 + 1)
    )
    head = (
        b"POST /images HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XX\r\n"
        b"Content-Length: 3000000\r\n\r\n"
    )
    return SlowClient.open(port, head + form, b"a")


def slow_client(port: int, i: int) -> SlowClient:
    """Half trickle their headers, half their body (one in ten of those a spooled multipart)."""
    if i % 2 == 0:
        return slow_headers(port)
    return slow_multipart_body(port) if i % 20 == 1 else slow_body(port)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartServer]:
    servers: list[SlowServer] = []

    def _start(files_limit: int, **env: str) -> SlowServer:
        root = tmp_path / f"server{len(servers)}"
        data_dir, tmp_dir = root / "data", root / "tmp"
        tmp_dir.mkdir(parents=True)
        port = free_port()
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("IMAGE_SERVICE_", "MAX_IMAGE_"))},
            "IMAGE_SERVICE_BACKEND": "local",
            "IMAGE_SERVICE_AUTH": "none",
            "TMPDIR": str(tmp_dir),  # where Starlette would spool an upload: must stay empty
            **env,
        }
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

        def limit_files() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (files_limit, hard))

        stderr_path = root / "stderr.log"
        with open(root / "stdout.log", "wb") as out, open(stderr_path, "wb") as err:
            process = subprocess.Popen(
                [str(EXE), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
                stdout=out,
                stderr=err,
                env=full_env,
                preexec_fn=limit_files,
            )
        server = SlowServer(process, port, files_limit, data_dir, tmp_dir, stderr_path)
        servers.append(server)
        wait_until(lambda: healthy(server), START_TIMEOUT, lambda: f"no /health:\n{server.stderr()}")
        return server

    yield _start
    for server in servers:
        server.process.terminate()
        server.process.wait(timeout=10)


@pytest.fixture
def clients() -> Iterator[list[SlowClient]]:
    """The test's slow clients, closed at the end whatever happened."""
    opened: list[SlowClient] = []
    yield opened
    for client in opened:
        client.sock.close()


def healthy(server: SlowServer) -> bool:
    assert server.process.poll() is None, server.stderr()
    try:
        return httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(
    condition: Callable[[], bool],
    bound: float,
    why: Callable[[], str],
    *,
    clients: Sequence[SlowClient] = (),
    interval: float = TRICKLE_INTERVAL,
) -> None:
    """Poll ``condition`` every ``interval`` (trickling ``clients`` meanwhile) until it holds; fail
    after ``bound``."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(why())
        for client in clients:
            client.step()
        time.sleep(interval)


NETLINK_SOCK_DIAG = 4  # linux/netlink.h
SOCK_DIAG_BY_FAMILY = 20  # linux/sock_diag.h
NLMSG_ERROR = 2
LOOPBACK = socket.inet_aton("127.0.0.1").ljust(16, b"\0")


def tcp_queues(local_port: int, remote_port: int) -> tuple[int, int] | None:
    """The bytes sent and not yet acknowledged, and those received and not yet read, of the
    loopback TCP socket from ``local_port`` to ``remote_port`` (either end of a connection, accepted
    or not), or None when there is none: the kernel's answer to an exact sock_diag lookup, as
    ``ss`` gets it (/proc/net/tcp, with every TIME_WAIT of the suite in it, is far slower)."""
    sockid = struct.pack("!HH16s16s", local_port, remote_port, LOOPBACK, LOOPBACK)
    sockid += struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF)  # any interface, no cookie
    request = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
    header = struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, 1, 0, 0)  # NLM_F_REQUEST
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as netlink:
        netlink.send(header + request)
        answer = netlink.recv(65536)
    if struct.unpack_from("=H", answer, 4)[0] == NLMSG_ERROR:
        (error,) = struct.unpack_from("=i", answer, 16)
        assert error == -errno.ENOENT, os.strerror(-error)
        return None
    # struct inet_diag_msg: 4 bytes, the socket id (48), expires, rqueue, wqueue.
    unread, unacknowledged = struct.unpack_from("=II", answer, 16 + 56)
    return unacknowledged, unread


def wait_until_read(server: SlowServer, client: SlowClient) -> None:
    """Until the server process has read all that ``client`` sent: the server's kernel has
    acknowledged it all, and its side of the connection holds none of it unread (or is closed)."""
    port = client.sock.getsockname()[1]

    def unread() -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        return tcp_queues(port, server.port), tcp_queues(server.port, port)

    def read() -> bool:
        ours, theirs = unread()
        return (ours is None or ours[0] == 0) and (theirs is None or theirs[1] == 0)

    wait_until(
        read,
        PATIENCE,
        lambda: f"client port {port}: (unacknowledged, unread) bytes at each end {unread()}",
        interval=0.001,
    )


def timed_health(server: SlowServer) -> float:
    started = time.monotonic()
    response = httpx.get(f"{server.base_url}/health", timeout=5.0)
    assert response.status_code == 200, response.text
    return time.monotonic() - started


def test_slow_headers_and_bodies_are_cut_off_at_their_deadlines(
    start: StartServer, clients: list[SlowClient]
) -> None:
    server = start(
        1024,
        IMAGE_SERVICE_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        IMAGE_SERVICE_BODY_TIMEOUT=str(BODY_TIMEOUT),
    )
    baseline = server.settled_fds()
    clients += [slow_client(server.port, i) for i in range(SLOW_CLIENTS)]
    headers, bodies = clients[0::2], clients[1::2]

    # All of them are open at once (the bound, 512, is not reached) and the server still answers.
    wait_until(
        lambda: server.fds() >= baseline + SLOW_CLIENTS,
        PATIENCE,
        lambda: f"{server.fds()} fds, {baseline} before",
        interval=0.01,
    )
    during = server.fds()
    assert during < server.files_limit // 2, during
    assert max(timed_health(server) for _ in range(5)) < HEALTH_BOUND

    wait_until(
        lambda: all(c.closed_at is not None for c in clients),
        PATIENCE,
        lambda: f"{sum(c.closed_at is None for c in clients)} slow clients still open",
        clients=clients,
    )
    for group, seconds, phase in ((headers, HEADER_TIMEOUT, "headers"), (bodies, BODY_TIMEOUT, "body")):
        for client in group:
            assert client.closed_at is not None
            # Never before its deadline, which the server started after `opened_at`.
            assert client.closed_at - client.opened_at >= seconds - CLOCK_SLACK
            if client.received:  # a reset may have overtaken the 408 (we were still sending)
                head, _, body = client.received.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 408 "), client.received
                assert b"connection: close" in head.lower()
                assert body == b'{"error": "request %s not received within %g s"}' % (phase.encode(), seconds)
        # A reset can overtake the 408 whenever the client was mid-send: some must have it.
        assert any(c.received for c in group)

    wait_until(
        lambda: server.fds() <= baseline + 2, PATIENCE, lambda: f"{server.fds()} fds, {baseline} before"
    )
    # The uploads cut off left nothing: no image, no spooled or temporary file (open or not).
    listing = httpx.get(f"{server.base_url}/images", params={"user_id": "mallory"}, timeout=5).json()
    assert listing["images"] == [], listing
    assert list(server.tmp_dir.iterdir()) == []
    assert not [p for p in server.data_dir.rglob("*") if p.is_file() and "tmp" in p.name.lower()]
    assert "Traceback" not in server.stderr(), "a cut-off request is no error of the service's"


def test_open_connections_stay_bounded_below_the_files_limit(
    start: StartServer, clients: list[SlowClient]
) -> None:
    files_limit = 256  # the default bound is half of it: 128 connections
    server = start(files_limit, IMAGE_SERVICE_HEADER_TIMEOUT="60", IMAGE_SERVICE_BODY_TIMEOUT="60")
    baseline = server.settled_fds()
    peak = baseline
    for i in range(SLOW_CLIENTS):
        clients.append(slow_client(server.port, i))
        if i % 2:
            # A body's headers parsed before the next client arrives: until then it is, for the
            # server, one more connection waiting for its headers, and evicted as one.
            wait_until_read(server, clients[-1])
        if i % 25 == 0:
            peak = max(peak, server.fds())
            assert timed_health(server) < HEALTH_BOUND  # the health checker's connection evicts a slow one
    for _ in range(10):
        for client in clients:
            client.step()
        peak = max(peak, server.fds())
        assert timed_health(server) < HEALTH_BOUND
    open_clients = [c for c in clients if c.closed_at is None]
    assert len(open_clients) <= 128
    # Of each kind, those evicted were those that had waited longest: the open ones are the latest.
    for group in (clients[0::2], clients[1::2]):
        still_open = [c.closed_at is None for c in group]
        assert still_open == sorted(still_open), still_open
    # 128 connections, the temporary files of the multipart uploads among them, a few in flight.
    assert peak < baseline + 128 + 32 < files_limit * 3 // 4, (peak, baseline)
    assert "Too many open files" not in server.stderr()
