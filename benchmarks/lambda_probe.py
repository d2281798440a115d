"""A Lambda cold start in one process: import the handler, answer one API Gateway event.

Run by path (``python benchmarks/lambda_probe.py EVENT.json``), not as ``-m benchmarks...``, so
that nothing but the handler is imported: this is what a fresh Lambda execution environment does
with ``image_service.lambda_handler.handler``. It exits non-zero unless the answer is a 200. With
``--timings`` it prints, as JSON, the seconds from the first line of this script to the end of
the import, to the end of the first answer, and for a second, warm answer to the same event;
``--record FILE`` appends the first two to FILE (one JSON line per run), so that the breakdown
comes from the very runs a timer measured.

Lambda freezes an execution environment after an answer and never tears the interpreter down
between requests, so the probe leaves with ``os._exit`` (no teardown; ~0.2 s of garbage
collection and module clean-up here) unless ``--teardown`` asks for a normal exit.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402 - after the clock starts, like everything else
import os  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


@dataclass
class Context:
    """What Lambda passes as the handler's context (Mangum only hands it on to the app)."""

    function_name: str = "image-service"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:image-service"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "bench"
    log_group_name: str = "/aws/lambda/image-service"
    log_stream_name: str = "bench"
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main(argv: list[str]) -> int:
    event = json.loads(Path(argv[1]).read_text())
    from image_service.lambda_handler import handler

    imported = time.perf_counter()
    response = handler(event, Context())
    answered = time.perf_counter()
    if response.get("statusCode") != 200:
        print(json.dumps(response)[:2000], file=sys.stderr)
        return 1
    timings = {"import": imported - STARTED, "first": answered - imported}
    if "--record" in argv:
        with open(argv[argv.index("--record") + 1], "a") as record:
            record.write(json.dumps(timings) + "\n")
    if "--timings" in argv:
        handler(event, Context())
        timings["second"] = time.perf_counter() - answered
        print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    status = main(sys.argv)
    if "--teardown" in sys.argv:
        sys.exit(status)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
