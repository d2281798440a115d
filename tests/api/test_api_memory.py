"""The server's memory under hostile but legal load (issue 15): it stays bounded, and comes back.

A 49-megapixel PNG of one flat colour is ~150 KB on the wire and 150-200 MB decoded. Sixteen of
them uploaded at once took the server to 2.86 GB resident, and it stayed at 525 MB minutes later.
The upload gate now checks such an image with libvips a strip at a time, never holding the whole
of it; the pixel budget (``IMAGE_SERVICE_PIXEL_BUDGET``, 100 M pixels by default) bounds what
decodes may hold at once, and a ``malloc_trim`` when it goes idle gives the freed pages back.
Memory is read from ``/proc/<pid>/status``: ``VmHWM``, the highest resident size the process ever
had (so nothing between two samples is missed), and ``VmRSS``, the current one.

An animation of 400,000 1x1 frames is small too (~6 MB) and is refused from its header (413)
before a frame is decoded (``MAX_IMAGE_FRAMES``, 1000 by default).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from api_helpers import assert_error
from api_server import Server, start_server

pytestmark = [pytest.mark.api, pytest.mark.slow]

MB = 1024 * 1024
SIDE = 7000  # 7000 x 7000 = 49 M pixels, within MAX_IMAGE_PIXELS (50 M)
BURST = 16
# Measured on this machine (2 cores, libvips 8.18, Pillow 13), `image-service serve`, local
# backend, 59 MB idle. Sixteen uploads at once: 2.86 GB peak before the budget (issue 15); 2.4-2.7
# GB with the budget admitting two decodes at a time, as each worker thread's malloc arena kept
# its freed pixel blocks; 137-180 MB now that a single-frame PNG, JPEG or WebP is checked by
# libvips a strip at a time (imaging/inspect.py). The bound catches any of the former.
PEAK_BOUND = 500 * MB
# Measured 80-89 MB seconds after that burst (200-390 MB with the arenas above, 525 MB before the
# budget's malloc_trim).
SETTLED_BOUND = 150 * MB
SETTLE_WAIT = 10.0  # seconds the server has after the burst to get back under SETTLED_BOUND
FRAMES = 400_000
MAX_FRAMES = 1000


def memory(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of ``pid``, in bytes."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            amount, unit = value.split()
            assert unit == "kB", line
            fields[name] = int(amount) * 1024
    return fields


def flat_png(side: int) -> bytes:
    """A ``side`` x ``side`` RGB PNG of one colour (libvips makes it in a fraction of a second)."""
    import pyvips

    image = pyvips.Image.black(side, side).new_from_image([200, 30, 30]).cast("uchar")
    data: bytes = image.pngsave_buffer(compression=9)
    return data


def many_frames_gif(frames: int) -> bytes:
    """A 1x1 GIF with ``frames`` frames: each an image descriptor and its 1-pixel LZW stream."""
    header = b"GIF89a" + (1).to_bytes(2, "little") * 2 + bytes([0x80, 0, 0]) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + bytes(4) + (1).to_bytes(2, "little") * 2 + b"\x00" + b"\x02\x02\x44\x01\x00"
    return header + frame * frames + b"\x3b"


@pytest.fixture(scope="module")
def big_png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    cached = tmp_path_factory.mktemp("memory-images") / f"flat-{SIDE}.png"
    if not cached.exists():
        cached.write_bytes(flat_png(SIDE))
    return cached.read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh server of its own, so that its VmHWM is this module's doing alone."""
    srv = start_server(tmp_path_factory, "memory", "local", IMAGE_SERVICE_AUTH="none")
    yield srv
    srv.stop()


def concurrent_uploads(base_url: str, data: bytes, count: int) -> list[int]:
    """``count`` multipart uploads of ``data`` at once, each on its own connection; their statuses."""
    start = threading.Barrier(count)
    statuses: list[int] = []

    def upload(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=300.0) as client:
            start.wait()
            try:
                response = client.post(
                    "/images",
                    files={"file": (f"flat-{index}.png", data, "image/png")},
                    data={"user_id": "alice"},
                )
                statuses.append(response.status_code)
            except httpx.TransportError:
                statuses.append(0)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@dataclass(frozen=True)
class Burst:
    statuses: list[int]
    idle: int  # VmRSS before it
    peak: int  # VmHWM right after it: the highest resident size so far
    settled: int  # VmRSS once under SETTLED_BOUND, or at SETTLE_WAIT seconds after it
    stored: int  # 49-megapixel images the server lists afterwards


@pytest.fixture(scope="module")
def burst(server: Server, big_png: bytes) -> Burst:
    """BURST concurrent uploads of the 49-megapixel PNG to the fresh server, measured."""
    pid = server.process.pid
    idle = memory(pid)["VmRSS"]
    statuses = concurrent_uploads(server.base_url, big_png, BURST)
    after = memory(pid)
    deadline = time.monotonic() + SETTLE_WAIT
    settled = after["VmRSS"]
    while settled > SETTLED_BOUND and time.monotonic() < deadline:
        time.sleep(0.5)
        settled = memory(pid)["VmRSS"]
    listed = httpx.get(f"{server.base_url}/images", params={"user_id": "alice", "limit": 100}).json()
    stored = sum(1 for image in listed["images"] if image["width"] == SIDE)
    return Burst(statuses, idle, after["VmHWM"], settled, stored)


def test_sixteen_49_megapixel_uploads_all_succeed(burst: Burst) -> None:
    assert burst.statuses == [201] * BURST
    assert burst.stored == BURST
    assert burst.idle < PEAK_BOUND / 4  # the bound is about the burst, not the start-up


def test_sixteen_49_megapixel_uploads_stay_under_the_peak_bound(burst: Burst) -> None:
    assert burst.peak <= PEAK_BOUND, f"peak {burst.peak / MB:.0f} MB (idle {burst.idle / MB:.0f} MB)"


def test_memory_comes_back_after_the_burst(burst: Burst) -> None:
    assert burst.settled <= SETTLED_BOUND, (
        f"still {burst.settled / MB:.0f} MB resident {SETTLE_WAIT:.0f} s after, peak {burst.peak / MB:.0f} MB"
    )


def test_a_gif_of_400000_frames_is_refused_from_its_header(server: Server) -> None:
    def upload(data: bytes) -> httpx.Response:
        return httpx.post(
            f"{server.base_url}/images",
            files={"file": ("frames.gif", data, "image/gif")},
            data={"user_id": "alice"},
            timeout=60.0,
        )

    # The same construction at the limit is a valid animation, accepted.
    assert upload(many_frames_gif(MAX_FRAMES)).status_code == 201
    data = many_frames_gif(FRAMES)
    before = memory(server.process.pid)["VmRSS"]
    message = assert_error(upload(data), 413)
    assert "frames" in message, message
    assert f"{MAX_FRAMES}" in message, message
    # Refused without decoding: the server holds little more than the request's bytes.
    assert memory(server.process.pid)["VmRSS"] - before < 50 * MB
