"""Shared helpers: statistics, result tables, machine facts, test images and a server subprocess."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from image_service.devtools.emulator import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Config:
    """What the runner was asked for; each benchmark scales its work from it."""

    quick: bool = False
    list_size: int = 1_000_000
    rebuild: bool = False
    wrk_seconds: int = 10
    wrk_rounds: int = 3
    uploads: int = 30


# -- statistics ------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# -- result tables ---------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append(list(cells))

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "notes": self.notes}


@dataclass
class Target:
    what: str
    target: str
    measured: str
    met: bool

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "target": self.target, "measured": self.measured, "met": self.met}


@dataclass
class Result:
    name: str
    status: str = "ok"  # ok | skipped | error
    reason: str = ""
    seconds: float = 0.0
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "seconds": round(self.seconds, 1),
            "tables": [t.as_dict() for t in self.tables],
            "targets": [t.as_dict() for t in self.targets],
            "details": self.details,
        }


def cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if value is None:
        return "n/a"
    return str(value)


def render_text(table: dict[str, Any]) -> str:
    columns: list[str] = table["columns"]
    rows = [[cell(v) for v in row] for row in table["rows"]]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    lines = [table["title"], "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    lines.extend(f"  note: {n}" for n in table.get("notes", []))
    return "\n".join(lines)


def render_markdown(table: dict[str, Any]) -> str:
    columns: list[str] = table["columns"]
    lines = [f"**{table['title']}**", "", "| " + " | ".join(columns) + " |"]
    lines.append("|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(columns))) + "|")
    for row in table["rows"]:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    lines.extend(["", *[f"- {n}" for n in table.get("notes", [])]])
    return "\n".join(lines).rstrip() + "\n"


# -- machine ---------------------------------------------------------------------------------


def _command_version(args: list[str]) -> str | None:
    if shutil.which(args[0]) is None and not Path(args[0]).exists():
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return None
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0] if text else None


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    import PIL

    versions: dict[str, str | None] = {"pillow": PIL.__version__}
    for module in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "multipart"):
        try:
            versions[module] = str(__import__(module).__version__)
        except (ImportError, AttributeError):
            versions[module] = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": mem_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "nginx": _command_version([find_tool("nginx") or "nginx", "-v"]),
        "wrk": _command_version([find_tool("wrk") or "wrk", "-v"]),
        "packages": versions,
        "loadavg": os.getloadavg(),
    }


def find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    return None


# -- images ----------------------------------------------------------------------------------


def noisy_jpeg(target_bytes: int, *, seed: int = 1, quality: int = 90) -> bytes:
    """A JPEG of random noise close to ``target_bytes`` (noise does not compress, so size ~ pixels)."""
    from PIL import Image

    rng = random.Random(seed)

    def encode(side: int) -> bytes:
        pixels = rng.randbytes(side * side * 3)
        out = io.BytesIO()
        Image.frombytes("RGB", (side, side), pixels).save(out, "JPEG", quality=quality)
        return out.getvalue()

    low, high = 16, 4096
    best = encode(low)
    while low < high:
        side = (low + high) // 2
        data = encode(side)
        if abs(len(data) - target_bytes) < abs(len(best) - target_bytes):
            best = data
        if len(data) < target_bytes:
            low = side + 1
        else:
            high = side
    return best


# -- servers ---------------------------------------------------------------------------------


def wait_http(
    port: int, path: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on {LOOPBACK}:{port}{path} within {timeout:.0f}s")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


@dataclass
class ServiceProcess:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    token: str | None


@contextlib.contextmanager
def image_service(
    data_dir: Path, *, auth: str = "api-key", workers: int = 1, log_level: str = "INFO"
) -> Iterator[ServiceProcess]:
    """A real ``image-service serve`` on 127.0.0.1 (``--workers N`` when asked for more than one).

    stdout and stderr go to files in ``data_dir``'s parent (a pipe nobody reads could block the
    server); with api-key auth the admin key printed on a first start is read from stdout.
    """
    port = free_port()
    logs = data_dir.parent
    env = {
        **os.environ,
        "IMAGE_SERVICE_DATA_DIR": str(data_dir),
        "IMAGE_SERVICE_AUTH": auth,
        "IMAGE_SERVICE_LOG_LEVEL": log_level,
        "PYTHONUNBUFFERED": "1",
    }
    args = [str(VENV_BIN / "image-service"), "serve", "--host", LOOPBACK, "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    stdout_path = logs / f"server-{port}.out"
    stderr_path = logs / f"server-{port}.err"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=ROOT)
    try:
        wait_http(port, "/health", proc=proc)
        token = None
        if auth == "api-key":
            lines = stdout_path.read_text().split()
            token = lines[0] if lines else None
        yield ServiceProcess(proc, port, data_dir, token)
    finally:
        stop_process(proc)


@contextlib.contextmanager
def bare_asgi(file: Path, logs: Path) -> Iterator[tuple[int, int]]:
    """uvicorn (1 worker, the same loop and HTTP parser as ``image-service serve``) running
    ``benchmarks.bare_asgi``: serves ``file`` with no framework; yields (port, pid)."""
    port = free_port()
    args = [
        str(VENV_BIN / "uvicorn"), "--factory", "benchmarks.bare_asgi:app", "--host", LOOPBACK,
        "--port", str(port), "--no-access-log", "--no-server-header", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_BARE_FILE": str(file)}
    with open(logs / f"bare-{port}.err", "wb") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
    try:
        wait_http(port, "/", proc=proc)
        yield port, proc.pid
    finally:
        stop_process(proc)


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    """(user, system) CPU seconds a process has used so far, from /proc; None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / ticks, int(fields[12]) / ticks
    except (OSError, ValueError, IndexError):
        return None


def temp_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=f"image-service-bench-{prefix}-")


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
