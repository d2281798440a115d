"""The machines Lambda runs, and the check that an artifact's compiled files are for one of them.

pip installs a wheel for the wrong machine or Python without complaint (``--platform`` is only a
preference among the wheels it finds), and the mistake shows only as an ImportError on Lambda. So
every ELF file is read: its header names the machine it runs on, and an extension module's file
name carries the Python ABI it was built for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Target:
    platforms: tuple[str, ...]  # pip --platform tags, most compatible first
    elf_machine: int  # e_machine in an ELF header
    multiarch: str  # the triplet in an extension module's file name


Arch = Literal["arm64", "x86_64"]
TARGETS: dict[Arch, Target] = {
    # Lambda's python3.12 and later runtimes run on Amazon Linux 2023 (glibc 2.34), so wheels for
    # manylinux_2_28 load there as well as manylinux2014 (glibc 2.17) ones.
    "arm64": Target(("manylinux2014_aarch64", "manylinux_2_28_aarch64"), 0xB7, "aarch64-linux-gnu"),
    "x86_64": Target(("manylinux2014_x86_64", "manylinux_2_28_x86_64"), 0x3E, "x86_64-linux-gnu"),
}

ELF_MAGIC = b"\x7fELF"
# auditwheel puts the shared libraries a wheel's extensions link against in <package>.libs/
# (pillow.libs/libjpeg-<hash>.so.62): machine code, but not Python modules, so no ABI tag.
VENDORED_LIBS_SUFFIX = ".libs"


class PlatformMismatch(RuntimeError):
    """A compiled file in the artifact is for another machine or another Python."""


def elf_machine(path: Path) -> int | None:
    """The e_machine of an ELF file, or None if ``path`` is not one."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != ELF_MAGIC:
        return None
    byteorder: Literal["little", "big"] = "little" if header[5] == 1 else "big"  # EI_DATA
    return int.from_bytes(header[18:20], byteorder)


def is_shared_object(path: Path) -> bool:
    return path.name.endswith(".so") or ".so." in path.name


def check_extensions(root: Path, target: Target, python_version: str) -> int:
    """Raise PlatformMismatch unless every shared object under ``root`` is an ELF file for
    ``target``'s machine, and every extension module among them is tagged for ``python_version``
    (``.cpython-312-<triplet>.so``) or the stable ABI (``.abi3.so``); returns how many were checked."""
    own_abi = f".cpython-{python_version.replace('.', '')}-{target.multiarch}.so"
    problems: list[str] = []
    checked = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and is_shared_object(p)):
        checked += 1
        name = path.relative_to(root).as_posix()
        machine = elf_machine(path)
        if machine != target.elf_machine:
            found = "not an ELF file" if machine is None else f"e_machine {machine:#x}"
            problems.append(f"{name}: {found}, expected {target.elf_machine:#x}")
        elif not path.parent.name.endswith(VENDORED_LIBS_SUFFIX) and not (
            path.name.endswith(own_abi) or path.name.endswith(".abi3.so")
        ):
            problems.append(f"{name}: not tagged {own_abi} or .abi3.so")
    if problems:
        raise PlatformMismatch(
            f"{len(problems)} compiled file(s) are not for {target.multiarch} and Python {python_version}: "
            + "; ".join(problems[:10])
        )
    return checked
