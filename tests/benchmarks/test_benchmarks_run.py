"""The benchmarks still run: `python -m benchmarks.run --quick` for the cheapest one (upload: a
local server and in-process uploads, no emulators, no wrk), so that a change to the service or to
benchmarks/common.py cannot break them unseen. Its numbers are not checked; `make bench` is for that."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_quick_upload_benchmark_runs(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--only", "upload", "--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    [result] = json.loads((tmp_path / "latest.json").read_text())["results"]
    assert (result["name"], result["status"]) == ("upload", "ok"), result["reason"]
    assert result["tables"] and all(table["rows"] for table in result["tables"])
