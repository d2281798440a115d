"""Debian's nginx in front of a running ``image-service serve``, configured by the file the docs
ship (docs/nginx/image-service.conf, X-Accel-Redirect): for tests/e2e/test_nginx_front.py and the
serving benchmark, so that both run the configuration users copy.

The shipped file is an ``http {}`` include; only its three values marked ``(*)`` are replaced (the
service's address, nginx's, the data dir's blobs/), and a main configuration around it keeps
every path nginx writes (pid, logs, temp files) in a temp dir.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from image_service.devtools.emulator import free_port

# In a checkout: src/image_service/devtools/ -> the repository's docs/.
SHIPPED_CONF = Path(__file__).resolve().parents[3] / "docs" / "nginx" / "image-service.conf"
START_TIMEOUT = 10.0

MAIN_CONF = """\
daemon off;
# The service writes its files 0600: the workers read them as its user (see the shipped file).
user {user};
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    access_log {access_log};
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {site};
}}
"""


def find_nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def site_config(*, upstream_port: int, listen_port: int, blobs: Path, host: str = "127.0.0.1") -> str:
    """The shipped configuration with this machine's three values."""
    text = SHIPPED_CONF.read_text()
    for shipped, here in (
        ("server 127.0.0.1:8000;", f"server {host}:{upstream_port};"),
        ("listen 80;", f"listen {host}:{listen_port};"),
        ("alias /var/lib/image-service/blobs/;", f"alias {blobs.resolve()}/;"),
    ):
        if text.count(shipped) != 1:
            raise ValueError(f"{SHIPPED_CONF} no longer has exactly one {shipped!r}")
        text = text.replace(shipped, here)
    return text


@contextmanager
def nginx_front(
    binary: str, root: Path, *, upstream_port: int, blobs: Path, workers: str = "1", access_log: bool = True
) -> Iterator[int]:
    """nginx on a free loopback port in front of the service on ``upstream_port``; yields the port.
    ``root``: a new directory for its configuration, pid, logs and temp files."""
    port = free_port()
    root.mkdir(parents=True)
    site = root / "image-service.conf"
    site.write_text(site_config(upstream_port=upstream_port, listen_port=port, blobs=blobs))
    conf = root / "nginx.conf"
    conf.write_text(
        MAIN_CONF.format(
            user=getpass.getuser(),
            workers=workers,
            root=root,
            site=site,
            access_log=f"{root}/access.log combined" if access_log else "off",
        )
    )
    args = [binary, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")]
    with open(root / "stderr.log", "wb") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)  # noqa: S603 (our own args)
    try:
        _wait(proc, port, root)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait(proc: subprocess.Popen[bytes], port: int, root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}: {(root / 'stderr.log').read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # nginx answers (the service may not yet: its own start is the caller's)
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nginx did not answer on port {port}: {(root / 'error.log').read_text()}")
        time.sleep(0.05)
