"""The artifact as shipped (arm64, the default): its compiled files are for aarch64 and CPython
3.12 whatever machine builds it (libvips, the imaging engine, included, as in the x86_64 one), it is
the same bytes every time, it is within the size budget, and it carries only the botocore models
the service uses and none of the development tools."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest
from package_helpers import Built

from image_service.deploy.archive import ZIP_EPOCH
from image_service.deploy.package import (
    BOTOCORE_SERVICES,
    LAMBDA_UNZIPPED_LIMIT,
    LAMBDA_ZIPPED_LIMIT,
    UNZIPPED_BUDGET,
    ZIPPED_BUDGET,
    PackageError,
    build_lambda_package,
    find_python,
    runtime_requirements,
    trim,
)
from image_service.deploy.targets import (
    TARGETS,
    PlatformMismatch,
    check_extensions,
    elf_machine,
    is_shared_object,
)

EM_AARCH64 = 0xB7


def test_compiled_files_are_for_aarch64_and_cpython_312(arm64: Built) -> None:
    with zipfile.ZipFile(arm64.report.zip_path) as archive:
        compiled = [n for n in archive.namelist() if is_shared_object(Path(n))]
        for name in compiled:
            header = archive.read(name)[:20]
            assert header[:4] == b"\x7fELF", name
            assert header[4] == 2 and header[5] == 1, f"{name}: not 64-bit little-endian"
            assert int.from_bytes(header[18:20], "little") == EM_AARCH64, name
    extensions = {n for n in compiled if not Path(n).parent.name.endswith(".libs")}
    assert extensions and all(
        n.endswith((".cpython-312-aarch64-linux-gnu.so", ".abi3.so")) for n in extensions
    )
    assert "pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so" in extensions
    assert "PIL/_imaging.cpython-312-aarch64-linux-gnu.so" in extensions
    assert {"_libvips.abi3.so", "_cffi_backend.cpython-312-aarch64-linux-gnu.so"} <= extensions
    assert arm64.report.extensions == len(compiled)


@pytest.mark.parametrize("artifact", ["arm64", "built"])
def test_the_imaging_engine_is_in_both_artifacts_for_their_machine(
    artifact: str, request: pytest.FixtureRequest
) -> None:
    """pyvips-binary's binding and the libvips it bundles (everything libvips links, in one .so)
    are in the zip of each architecture, for that machine: the arm64 one and this machine's."""
    built: Built = request.getfixturevalue(artifact)
    machine = TARGETS[built.report.arch].elf_machine
    root = built.task_root
    libvips = sorted((root / "pyvips_binary.libs").glob("libvips-*.so.*"))
    assert len(libvips) == 1, libvips
    for binary in (root / "_libvips.abi3.so", *libvips, *root.glob("_cffi_backend.cpython-312-*.so")):
        assert elf_machine(binary) == machine, binary
    assert (root / "pyvips" / "__init__.py").is_file()
    assert not list(root.glob("pyvips/*.so")), "pyvips itself is pure Python: its wheel was built compiled"


@pytest.mark.parametrize("artifact", ["arm64", "built"])
def test_the_json_upload_parsers_are_in_both_artifacts_for_their_machine(
    artifact: str, request: pytest.FixtureRequest
) -> None:
    """orjson and pybase64 (api/upload_parsing.py, aws/model_files.py) are compiled: each zip has
    them for its own machine, or every JSON upload and every AWS client fails at import."""
    built: Built = request.getfixturevalue(artifact)
    machine = TARGETS[built.report.arch].elf_machine
    for package in ("orjson", "pybase64"):
        (binary,) = (built.task_root / package).glob("*.cpython-312-*.so")
        assert elf_machine(binary) == machine, binary


def test_the_check_refuses_a_bundled_library_for_another_machine(arm64: Built, tmp_path: Path) -> None:
    """A vendored library (``<package>.libs/``) carries no ABI tag, but its machine is checked all
    the same: libvips for x86_64 in an arm64 artifact is refused."""
    (libvips,) = (arm64.task_root / "pyvips_binary.libs").glob("libvips-*.so.*")
    tree = tmp_path / "tree"
    (tree / libvips.parent.name).mkdir(parents=True)
    header = bytearray(libvips.read_bytes()[:64])
    header[18:20] = TARGETS["x86_64"].elf_machine.to_bytes(2, "little")
    (tree / libvips.parent.name / libvips.name).write_bytes(bytes(header))
    with pytest.raises(PlatformMismatch, match=rf"{libvips.name}: e_machine 0x3e, expected 0xb7"):
        check_extensions(tree, TARGETS["arm64"], "3.12")
    assert check_extensions(tree, TARGETS["x86_64"], "3.12") == 1


def test_the_check_refuses_another_machine_or_python(arm64: Built) -> None:
    with pytest.raises(PlatformMismatch, match="e_machine 0xb7, expected 0x3e"):
        check_extensions(arm64.task_root, TARGETS["x86_64"], "3.12")
    with pytest.raises(PlatformMismatch, match=r"not tagged \.cpython-313-aarch64-linux-gnu\.so"):
        check_extensions(arm64.task_root, TARGETS["arm64"], "3.13")


def test_the_zip_is_the_same_bytes_every_time(arm64: Built, tmp_path: Path) -> None:
    again = build_lambda_package(tmp_path, arch="arm64")
    assert again.zip_path.read_bytes() == arm64.report.zip_path.read_bytes()
    with zipfile.ZipFile(arm64.report.zip_path) as archive:
        entries = archive.infolist()
    assert [e.filename for e in entries] == sorted(e.filename for e in entries)
    for entry in entries:
        assert entry.date_time == ZIP_EPOCH, entry
        mode = entry.external_attr >> 16
        assert mode == (stat.S_IFDIR | 0o755 if entry.is_dir() else stat.S_IFREG | 0o644), entry
        assert entry.compress_type == (zipfile.ZIP_STORED if entry.is_dir() else zipfile.ZIP_DEFLATED)


def test_sizes_are_within_the_budget(arm64: Built) -> None:
    report = arm64.report
    with zipfile.ZipFile(report.zip_path) as archive:
        unzipped = sum(e.file_size for e in archive.infolist())
        files = sum(1 for e in archive.infolist() if not e.is_dir())
    assert (report.unzipped_bytes, report.files) == (unzipped, files)
    assert report.zipped_bytes == report.zip_path.stat().st_size <= ZIPPED_BUDGET < LAMBDA_ZIPPED_LIMIT
    assert report.unzipped_bytes <= UNZIPPED_BUDGET < LAMBDA_UNZIPPED_LIMIT
    assert report.trimmed_bytes > 10 * 1024 * 1024  # botocore's models of ~400 services


def test_only_the_botocore_models_the_service_uses_are_kept(arm64: Built) -> None:
    data = arm64.task_root / "botocore" / "data"
    assert {p.name for p in data.iterdir() if p.is_dir()} == BOTOCORE_SERVICES
    files = {p.name for p in data.iterdir() if p.is_file()}
    assert {"endpoints.json", "partitions.json", "sdk-default-configuration.json", "_retry.json"} <= files
    assert {p.name for p in (arm64.task_root / "boto3" / "data").iterdir()} <= BOTOCORE_SERVICES
    assert not (arm64.task_root / "bin").exists()


def test_the_development_tools_are_left_out(arm64: Built) -> None:
    """The emulator runner (devtools/) is for development and tests: the function never imports it."""
    package = arm64.task_root / "image_service"
    assert (package / "lambda_handler.py").is_file() and (package / "aws" / "table.py").is_file()
    assert not (package / "devtools").exists()
    assert not list(package.rglob("emulator*"))


def test_trimming_removes_the_development_tools_and_keeps_the_runtime(tmp_path: Path) -> None:
    for name in ("image_service/devtools/__init__.py", "image_service/devtools/emulator.py",
                 "image_service/aws/table.py", "image_service/lambda_handler.py"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    assert trim(tmp_path) == 2 * len("x = 1\n")  # the two files of devtools/
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.py")) == [
        "image_service/aws/table.py",
        "image_service/lambda_handler.py",
    ]


def test_runtime_requirements_leave_out_the_server_and_the_cli(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["fastapi>=0.115", "uvicorn[standard]>=0.32", "Typer>=0.15",'
        ' "rich", "pydantic_settings>=2", "Rich-Click>=1"]\n'
    )
    assert runtime_requirements(tmp_path) == ["fastapi>=0.115", "pydantic_settings>=2", "Rich-Click>=1"]


def test_no_interpreter_of_the_version_is_a_clear_error() -> None:
    with pytest.raises(PackageError, match=r"no Python 3\.99 found"):
        find_python("3.99")
