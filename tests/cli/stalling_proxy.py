"""An HTTP proxy in front of a real server that goes silent after a number of uploads.

It forwards every request; once ``answered`` uploads (``POST /images``, 201) have been passed
back, it forwards the next one too, so the server stores it, but keeps the answer: the client
waits, as it would for a server that crashed or a network that dropped, until the test kills it.
That is the worst moment for an interruption (stored, not acknowledged), the one an
Idempotency-Key exists for.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

# Hop-by-hop headers, and the ones httpx has already applied (it decodes content-encoding).
NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "host",
    "content-length",
    "content-encoding",
}


class StallingProxy:
    def __init__(self, upstream: str, answered: int) -> None:
        self.upstream = upstream
        self.answered = answered
        self.uploads = 0
        self.stalled = threading.Event()  # set once an upload's answer is held back
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=upstream, timeout=30.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> StallingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response | None:
        """The server's answer, or None when it must be held back."""
        response = self._http.request(method, path, headers=headers, content=body)
        if method == "POST" and path.split("?")[0] == "/images" and response.status_code == 201:
            with self._lock:
                self.uploads += 1
                hold = self.uploads > self.answered
            if hold:
                self.stalled.set()
                self._release.wait(timeout=60)
                return None
        return response

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                assert "chunked" not in self.headers.get("transfer-encoding", ""), "not supported here"
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
                response = proxy._forward(self.command, self.path, headers, body)
                if response is None:
                    self.close_connection = True
                    return
                self.send_response(response.status_code)
                for name, value in response.headers.multi_items():
                    if name.lower() not in NOT_FORWARDED:
                        self.send_header(name, value)
                self.send_header("content-length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
