"""domain/validation.py: every rule for client-set metadata, at its bounds."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from image_service.domain import validation
from image_service.domain.errors import InvalidInput
from image_service.domain.models import Visibility, format_time


@pytest.mark.parametrize(
    "name", ["a", "cat42.jpg", "_x", "-x", "A-Z_a.z-09", "x..y", "a" * 128, "7" + "." * 127]
)
def test_valid_names(name: str) -> None:
    assert validation.name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".hidden", "..", "a" * 129, "a b", "a/b", "../x", "a\\b", "ü.jpg", "a\n", "a\x00", "a%2e", "a?b"],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="name"):
        validation.name(name)


@pytest.mark.parametrize("user", ["alice", "a", "a.b@c-d_e", "U" * 128])
def test_valid_user_ids(user: str) -> None:
    assert validation.user_id(user) == user


@pytest.mark.parametrize("user", ["", "a b", "a/b", "u" * 129, "ü", "a\n", "a:b"])
def test_invalid_user_ids(user: str) -> None:
    with pytest.raises(InvalidInput, match="user_id"):
        validation.user_id(user)


def test_title_and_description_limits() -> None:
    assert validation.title("  t  ") == "t"
    assert validation.title("t" * 200) == "t" * 200
    assert validation.title(" " + "t" * 200 + " ") == "t" * 200  # counted after stripping
    with pytest.raises(InvalidInput, match="title"):
        validation.title("t" * 201)
    assert validation.description("d" * 5000) == "d" * 5000
    assert validation.description("line\n\tindented") == "line\n\tindented"
    with pytest.raises(InvalidInput, match="description"):
        validation.description("d" * 5001)


@pytest.mark.parametrize("bad", ["a\x00b", "a\rb", "a\x1bb", "\x07", "bad \ud800 half", "\udfff"])
def test_text_refuses_controls_and_lone_surrogates(bad: str) -> None:
    with pytest.raises(InvalidInput, match="title"):
        validation.title(bad)
    with pytest.raises(InvalidInput, match="description"):
        validation.description(bad)


def test_text_keeps_any_real_unicode() -> None:
    assert validation.title("Ünïcødé 猫 🐈") == "Ünïcødé 猫 🐈"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("   ", None), ("Pets", "pets"), ("  Travel Photos ", "travel photos")],
)
def test_category(value: str | None, expected: str | None) -> None:
    assert validation.category(value) == expected


def test_category_limit() -> None:
    assert validation.category("c" * 50) == "c" * 50
    with pytest.raises(InvalidInput, match="category"):
        validation.category("c" * 51)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        ("", ()),
        ("cat", ("cat",)),
        (" Cat, SUNSET ,cat,, ", ("cat", "sunset")),
        (["B", "a", "b", " A "], ("b", "a")),
        (("x", ""), ("x",)),
        (["two words"], ("two words",)),
    ],
)
def test_tags_are_normalised(value: object, expected: tuple[str, ...]) -> None:
    assert validation.tags(value) == expected  # type: ignore[arg-type]


def test_tag_limits() -> None:
    twenty = [f"t{n}" for n in range(20)]
    assert validation.tags(twenty) == tuple(twenty)
    assert validation.tags([*twenty, "T0", "t1"]) == tuple(twenty)  # counted after de-duplication
    with pytest.raises(InvalidInput, match="20"):
        validation.tags([*twenty, "t20"])
    assert validation.tags(["x" * 50]) == ("x" * 50,)
    with pytest.raises(InvalidInput, match="50"):
        validation.tags(["x" * 51])


@pytest.mark.parametrize("bad", [[1], ["ok", None], ["a\x00"], "a\tb", ["\ud800"]])
def test_invalid_tags(bad: object) -> None:
    with pytest.raises(InvalidInput, match="tag"):
        validation.tags(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Visibility.PUBLIC),
        ("public", Visibility.PUBLIC),
        ("PRIVATE", Visibility.PRIVATE),
        (Visibility.PRIVATE, Visibility.PRIVATE),
    ],
)
def test_visibility(value: str | None, expected: Visibility) -> None:
    assert validation.visibility(value) is expected


@pytest.mark.parametrize("bad", ["", "secret", "publics", " public"])
def test_invalid_visibility(bad: str) -> None:
    with pytest.raises(InvalidInput, match="visibility"):
        validation.visibility(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "fallback.png"),
        ("", "fallback.png"),
        ("IMG_0042.JPG", "IMG_0042.JPG"),
        ("C:\\Users\\me\\IMG.JPG", "IMG.JPG"),
        ("/etc/passwd", "passwd"),
        ("../../secret.png", "secret.png"),
        ("dir/", "fallback.png"),
        ("a\r\nb.jpg", "ab.jpg"),
        ("a\x00\x7fb.jpg", "ab.jpg"),
        ("  spaced.png  ", "spaced.png"),
        ('quo"te.png', 'quo"te.png'),  # quoting is Content-Disposition's job
        ("half\ud800.png", "half.png"),
        ("猫.png", "猫.png"),
        ("x" * 300, "x" * 255),
        ("\u202egpj.exe", "gpj.exe"),
        ("IMG\u200e_1\u200f\u200b.jpg", "IMG_1.jpg"),
        ("\u2067x\u2069\u061c\ufeff.png", "x.png"),
        ("line\u2028sep\u2029.png", "linesep.png"),
        ("c1\x85\x9b.png", "c1.png"),
        ("\u202e", "fallback.png"),
    ],
)
def test_filename(value: str | None, expected: str) -> None:
    assert validation.filename(value, "fallback.png") == expected


@given(st.text())
def test_filename_never_holds_a_path_or_control(value: str) -> None:
    result = validation.filename(value, "fallback.png")
    assert result
    assert len(result) <= validation.MAX_FILENAME
    assert "/" not in result
    assert "\\" not in result
    assert all(ord(c) >= 32 and c != "\x7f" for c in result)
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in result)
    result.encode("utf-8")  # always storable


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01", "2026-01-01T00:00:00.000Z"),
        ("2026-01-01T12:30", "2026-01-01T12:30:00.000Z"),
        ("2026-01-01T12:30:15.5Z", "2026-01-01T12:30:15.500Z"),
        ("2026-01-01 12:30:15,25+02:00", "2026-01-01T10:30:15.250Z"),
    ],
)
def test_time_reads_iso_8601(value: str, expected: str) -> None:
    assert format_time(validation.time("created_after", value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        "1" * 40,
        "20260101",
        "2026-01-01T12",
        "2026-1-1",
        "2026-01-01T12:00:00+0100",
        "",
        "0001-01-01T00:00+01:00",
    ],
)
def test_time_refuses_what_is_not_iso_8601(value: str) -> None:
    with pytest.raises(InvalidInput, match="created_after must be an ISO 8601 time"):
        validation.time("created_after", value)
