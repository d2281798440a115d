"""The Lambda artifact, built as `make package` builds it and run by a bare Python 3.12.

Every test here needs an interpreter of Lambda's Python (3.12) to compile the artifact's bytecode
and to run it; without one they are skipped, saying so. Each architecture's artifact is built once
per session (~15 s each) and shared by every module here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from image_service.deploy.package import PackageError, find_python

# API Gateway's events and the check of the handler's answers are the Lambda tests' own.
sys.path.insert(0, str(Path(__file__).parents[1] / "lambda"))

from package_helpers import Built, bare_python, build, host_arch

LAMBDA_PYTHON = "3.12"


@pytest.fixture(scope="session")
def target_python() -> Path:
    try:
        return find_python(LAMBDA_PYTHON)
    except PackageError as exc:
        pytest.skip(f"no Python {LAMBDA_PYTHON} to build and run the Lambda artifact with: {exc}")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, target_python: Path) -> Built:
    """The artifact for this machine's architecture, unzipped: the one a bare Python here can run."""
    return build(tmp_path_factory, host_arch())


@pytest.fixture(scope="session")
def arm64(tmp_path_factory: pytest.TempPathFactory, target_python: Path) -> Built:
    """The artifact as shipped (arm64, the default), unzipped, whatever machine builds it."""
    return build(tmp_path_factory, "arm64")


@pytest.fixture(scope="session")
def python(tmp_path_factory: pytest.TempPathFactory, target_python: Path) -> Path:
    """A new venv of Python 3.12 with nothing installed in it."""
    return bare_python(target_python, tmp_path_factory.mktemp("lambda-venv") / "venv")
