"""A reproducible zip: the same tree gives the same bytes, whenever and wherever it is built.

Entries are sorted by name and carry ZIP_EPOCH rather than the files' times, files are 0644 and
directories 0755 whatever the umask, and every entry says it was made on Unix, the one system
whose file modes (the high bits of ``external_attr``) unzip tools read. An artifact that did not
change then hashes the same, and CloudFormation has nothing to redeploy.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

# Zip's earliest date (its timestamps count from 1980).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_UNIX = 3
MSDOS_DIRECTORY = 0x10


def write_zip(root: Path, destination: Path) -> None:
    """Every file and directory under ``root``, deflated."""
    entries = sorted((_entry_name(root, p), p) for p in root.rglob("*"))
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            if path.is_dir():
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 | MSDOS_DIRECTORY
                data = b""
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                data = path.read_bytes()
            info.create_system = ZIP_UNIX
            archive.writestr(info, data)


def _entry_name(root: Path, path: Path) -> str:
    name = path.relative_to(root).as_posix()
    return f"{name}/" if path.is_dir() else name
