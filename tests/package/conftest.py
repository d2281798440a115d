"""The Lambda artifact, built as `make package` builds it and run by a bare Python 3.12.

Every test here needs an interpreter of Lambda's Python (3.12) to compile the artifact's bytecode
and to run it; without one they are skipped, saying so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from image_service.deploy.package import PackageError, find_python

# API Gateway's events and the check of the handler's answers are the Lambda tests' own.
sys.path.insert(0, str(Path(__file__).parents[1] / "lambda"))

LAMBDA_PYTHON = "3.12"


@pytest.fixture(scope="session")
def target_python() -> Path:
    try:
        return find_python(LAMBDA_PYTHON)
    except PackageError as exc:
        pytest.skip(f"no Python {LAMBDA_PYTHON} to build and run the Lambda artifact with: {exc}")
