"""CoalescingTransport: a response's small head goes out with its body in one write, and nothing
the connection writes ever overtakes what waits."""

from __future__ import annotations

import asyncio
from typing import Any

from image_service.api.connection_limits import COALESCE_BELOW, CoalescingTransport


class RecordingTransport(asyncio.Transport):
    """A transport that keeps every write call (a call to writelines is one call)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[bytes]] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.calls.append([bytes(data)])

    def writelines(self, chunks: Any) -> None:
        self.calls.append([bytes(c) for c in chunks])

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


def run(steps: Any) -> list[list[bytes]]:
    async def main() -> list[list[bytes]]:
        raw = RecordingTransport()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())
        steps(transport, raw)
        await asyncio.sleep(0)  # the end of this turn of the loop
        return raw.calls

    return asyncio.run(main())


BODY = b"x" * COALESCE_BELOW


def test_a_head_and_a_large_body_are_one_write() -> None:
    calls = run(lambda t, raw: (t.write(b"HTTP/1.1 200 OK\r\n\r\n"), t.write(BODY)))
    assert calls == [[b"HTTP/1.1 200 OK\r\n\r\n", BODY]]


def test_small_writes_go_out_together_at_the_end_of_the_turn() -> None:
    def steps(t: CoalescingTransport, raw: RecordingTransport) -> None:
        t.write(b"head")
        t.write(b"body")
        assert raw.calls == []  # nothing yet: the turn has not ended

    assert run(steps) == [[b"head", b"body"]]


def test_nothing_waits_past_another_call_on_the_transport() -> None:
    def steps(t: CoalescingTransport, raw: RecordingTransport) -> None:
        t.write(b"408")
        assert t.get_write_buffer_size() == 0 and raw.calls == [[b"408"]]
        t.write(b"last")
        t.close()
        assert raw.calls == [[b"408"], [b"last"]] and raw.closed

    assert run(steps) == [[b"408"], [b"last"]]


def test_an_aborted_connection_drops_what_waits() -> None:
    def steps(t: CoalescingTransport, raw: RecordingTransport) -> None:
        t.write(b"head")
        t.abort()

    assert run(steps) == []
