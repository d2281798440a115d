"""A user's mistake on the command line: one clear line on stderr and exit status 2, never a
traceback; and `--version`. Each case runs the installed `image-service` as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from image_service import __version__

EXE = Path(sys.executable).with_name("image-service")


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("IMAGE_SERVICE_", "AWS_", "BUCKET", "TABLE", "S3_", "DYNAMODB_"))
    }
    # A narrow terminal: the one line must not be wrapped at its width either.
    full_env = {**clean, "COLUMNS": "40", "HOME": str(tmp_path), **env}
    return subprocess.run(
        [str(EXE), *args],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr and "│" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("keys", "create", "--user", "bad user!"), {}, "user_id must be 1-128 characters"),
        (("keys", "list"), {"IMAGE_SERVICE_BACKEND": "aws"}, "needs BUCKET_NAME and TABLE_NAME"),
        (("template",), {}, "no template at infra/template.yaml: run this in a checkout"),
        (("keys", "list"), {"IMAGE_SERVICE_BACKEND": "gcp"}, "IMAGE_SERVICE_BACKEND: Input should be"),
        (
            ("keys", "list"),
            {"IMAGE_SERVICE_CORS_ORIGINS": "https://app.example.com/"},
            "IMAGE_SERVICE_CORS_ORIGINS: 'https://app.example.com/' is not an origin",
        ),
        (("serve", "--auth", "basic"), {}, "IMAGE_SERVICE_AUTH: Input should be 'api-key' or 'none'"),
        (("deploy", "--template", "t.yaml", "--region", "eu-west-3"), {}, "no template at t.yaml"),
    ],
)
def test_a_mistake_is_one_line_and_status_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    result = run(tmp_path, *args, **env)
    assert result.returncode == 2, result.stderr
    assert says in one_clear_line(result)


def test_a_secret_in_an_invalid_setting_is_not_shown(tmp_path: Path) -> None:
    result = run(tmp_path, "keys", "list", IMAGE_SERVICE_SECRETS_TTL="s3cr3t-not-a-number")
    assert result.returncode == 2
    line = one_clear_line(result)
    assert "IMAGE_SERVICE_SECRETS_TTL" in line and "s3cr3t" not in line


def test_the_install_hint_keeps_its_brackets(tmp_path: Path) -> None:
    """Without moto (a package on the path that refuses to import stands in for its absence), the
    emulators cannot start and the hint names the extra, `[emulate]` included (not rich markup)."""
    hidden = tmp_path / "hidden"
    (hidden / "moto").mkdir(parents=True)
    (hidden / "moto" / "__init__.py").write_text("raise ImportError('moto is hidden by this test')\n")
    result = run(tmp_path, "emulate", PYTHONPATH=str(hidden))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "pip install 'image-service[emulate]'" in result.stderr


def test_version(tmp_path: Path) -> None:
    result = run(tmp_path, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"image-service {__version__}"
