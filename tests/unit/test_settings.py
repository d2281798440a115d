"""Settings read only the documented variable names (API.md, Configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_service.settings import Settings

FIELDS = sorted(Settings.model_fields)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in {*FIELDS, *(f.upper() for f in FIELDS), *documented_names()}:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def documented_names() -> list[str]:
    names = []
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        names.extend(getattr(alias, "choices", [alias]))
    return [str(n) for n in names]


def bare_names() -> list[str]:
    """Each field's name as it is and upper-cased, unless that is itself documented (BUCKET_NAME)."""
    documented = set(documented_names())
    return [n for f in FIELDS for n in sorted({f, f.upper()}) if n not in documented]


@pytest.mark.parametrize("name", bare_names())
def test_a_bare_field_name_in_the_environment_has_no_effect(clean_env: pytest.MonkeyPatch, name: str) -> None:
    # "7" is either invalid for the field (a read would raise) or a value unlike its default.
    defaults = Settings().model_dump()
    clean_env.setenv(name, "7")
    assert Settings().model_dump() == defaults


def test_auth_none_needs_its_documented_name(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AUTH", "none")
    clean_env.setenv("BACKEND", "aws")
    assert (Settings().auth, Settings().backend) == ("api-key", "local")
    clean_env.setenv("IMAGE_SERVICE_AUTH", "none")
    assert Settings().auth == "none"


def test_documented_names_are_case_sensitive(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("image_service_auth", "none")
    assert Settings().auth == "api-key"


def test_documented_names_are_read(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("IMAGE_SERVICE_DATA_DIR", "/srv/images")
    clean_env.setenv("S3_BUCKET_NAME", "pictures")
    clean_env.setenv("MAX_IMAGE_SIZE", "1234")
    settings = Settings()
    assert (settings.data_dir, settings.bucket_name, settings.max_image_size) == (
        Path("/srv/images"),
        "pictures",
        1234,
    )


def test_fields_given_by_python_name_win_over_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("IMAGE_SERVICE_BACKEND", "aws")
    settings = Settings.with_fields(backend="local", data_dir=Path("/tmp/x"))
    assert (settings.backend, settings.data_dir) == ("local", Path("/tmp/x"))


def test_a_field_given_by_python_name_to_the_constructor_is_not_taken(clean_env: pytest.MonkeyPatch) -> None:
    assert Settings(auth="none").auth == "api-key"  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", ()),
        ("https://app.example.com", ("https://app.example.com",)),
        (
            " https://a.example.com , http://127.0.0.1:5173,",
            ("https://a.example.com", "http://127.0.0.1:5173"),
        ),
        ("*", ("*",)),
    ],
)
def test_cors_origins_are_a_comma_separated_list(value: str, origins: tuple[str, ...]) -> None:
    assert Settings(IMAGE_SERVICE_CORS_ORIGINS=value).cors_origins == origins  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["https://app.example.com/", "app.example.com", "https://a.example.com/x"])
def test_a_cors_origin_with_a_path_or_no_scheme_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        Settings(IMAGE_SERVICE_CORS_ORIGINS=value)  # type: ignore[call-arg]


def test_the_accel_redirect_prefix_is_a_location_on_the_local_backend(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("IMAGE_SERVICE_ACCEL_REDIRECT", "/_accel/")
    assert Settings().accel_redirect == "/_accel/"
    clean_env.setenv("IMAGE_SERVICE_ACCEL_REDIRECT", "")
    assert Settings().accel_redirect is None
    for bad in ("_accel", "/_accel", "/a b/", "/x?y/", "http://h/x/"):
        clean_env.setenv("IMAGE_SERVICE_ACCEL_REDIRECT", bad)
        with pytest.raises(ValueError, match="location prefix"):
            Settings()
    clean_env.setenv("IMAGE_SERVICE_ACCEL_REDIRECT", "/_accel/")
    clean_env.setenv("IMAGE_SERVICE_BACKEND", "aws")
    with pytest.raises(ValueError, match="local backend"):
        Settings()
