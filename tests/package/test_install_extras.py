"""What each install brings (pyproject.toml, Makefile): `make run` the runtime only, the `test` extra
everything by reusing the other extras, and package data that exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

ROOT = Path(__file__).parents[2]
TEST_TOOLS = {"pytest", "playwright", "moto", "mypy", "ruff", "hypothesis", "cfn-lint"}


def project() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return dict(tomllib.load(handle))


def names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def test_the_runtime_has_no_test_tool_and_no_second_starlette() -> None:
    runtime = names(project()["project"]["dependencies"])
    assert not runtime & TEST_TOOLS
    assert "starlette" not in runtime, "Starlette comes with FastAPI, in FastAPI's range"
    assert "orjson" in runtime, "the log lines and JSON uploads use orjson"


def test_the_test_extra_reuses_the_other_extras() -> None:
    extras = project()["project"]["optional-dependencies"]
    test = extras["test"]
    (itself,) = [Requirement(r) for r in test if Requirement(r).name == "image-service"]
    assert itself.extras == set(extras) - {"test"}
    for extra in set(extras) - {"test"}:
        assert not names(extras[extra]) & names(test), f"{extra}'s requirements repeated in test"


def test_package_data_names_only_files_that_exist() -> None:
    package = ROOT / "src" / "image_service"
    for pattern in project()["tool"]["setuptools"]["package-data"]["image_service"]:
        assert list(package.glob(pattern)), pattern


def test_make_run_installs_the_runtime_only() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (run,) = re.findall(r"^run:(.*)$", makefile, re.MULTILINE)
    assert run.split() == ["$(RUN_STAMP)"]
    (install,) = re.findall(r"^\$\(RUN_STAMP\):.*\n\t(.*)$", makefile, re.MULTILINE)
    assert install.endswith("pip install --quiet -e .")
    for target in ("test", "lint", "typecheck"):
        (line,) = re.findall(rf"^{target}:(.*)$", makefile, re.MULTILINE)
        assert {"install", "lint", "typecheck"} & set(line.split()), (target, line)
