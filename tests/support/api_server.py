"""A real `image-service serve` process per configuration, and the CLI on its data directory.

Each server gets its own data directory and free port; its stdout and stderr go to files next to
(not inside) the data directory, so tests can read the bootstrap admin key and the request log.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

EXE = Path(sys.executable).with_name("image-service")
START_TIMEOUT = 30.0
# The small-limits server's MAX_IMAGE_SIZE and MAX_IMAGE_PIXELS (a 100x100 image is just allowed).
SMALL_MAX_BYTES = 20_000
SMALL_MAX_PIXELS = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    admin_key: str | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, key: str | None = None, *, bearer: bool = False) -> httpx.Client:
        headers = {}
        if key is not None:
            headers = {"Authorization": f"Bearer {key}"} if bearer else {"x-api-key": key}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0)
        self.clients.append(client)
        return client

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `image-service` CLI on this server's data directory (they share the SQLite file)."""
        return subprocess.run(
            [str(EXE), *args, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def create_key(self, user: str, *, admin: bool = False) -> str:
        result = self.cli("keys", "create", "--user", user, *(["--admin"] if admin else []))
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(tmp_path_factory: pytest.TempPathFactory, label: str, **env: str) -> Server:
    root = tmp_path_factory.mktemp(label)
    data_dir = root / "data"
    port = free_port()
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("IMAGE_SERVICE_", "MAX_IMAGE_", "PRESIGNED_URL_"))
    }
    full_env = {**clean, "IMAGE_SERVICE_AUTH": "api-key", "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **env}
    stdout_path, stderr_path = root / "stdout.log", root / "stderr.log"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(
            [str(EXE), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out,
            stderr=err,
            env=full_env,
        )
    server = Server(f"http://127.0.0.1:{port}", data_dir, full_env, process, stdout_path, stderr_path)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server {label} exited with {process.returncode}:\n{server.stderr()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server {label} did not answer /health:\n{server.stderr()}")
        time.sleep(0.1)
    lines = server.stdout().strip().splitlines()
    server.admin_key = lines[-1].strip() if lines else None
    return server


Upload = Callable[..., dict[str, Any]]
NothingStored = Callable[[], AbstractContextManager[None]]
