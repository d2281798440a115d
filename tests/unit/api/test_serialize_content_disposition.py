"""api/serialize.content_disposition: a safe header for any file name, with the exact name kept."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from image_service.domain.disposition import content_disposition

HEADER = re.compile(
    r"(inline|attachment); filename=\"([^\"\\]*)\"(?:; filename\*=UTF-8''([A-Za-z0-9%._~-]*))?"
)


def parse(header: str) -> tuple[str, str, str | None]:
    match = HEADER.fullmatch(header)
    assert match, header
    return match[1], match[2], match[3]


@pytest.mark.parametrize(
    ("filename", "fallback"),
    [
        ('a"b.jpg', "a_b.jpg"),
        ("back\\slash.png", "back_slash.png"),
        ("evil\r\nSet-Cookie: x=1", "evil__Set-Cookie: x=1"),
        ("tab\there", "tab_here"),
        ("naïve café.jpg", "na_ve caf_.jpg"),
        ("猫.png", "_.png"),
        ("\x7f", "_"),
        ("", "image"),
    ],
)
def test_unsafe_names_get_a_fallback_and_the_exact_name(filename: str, fallback: str) -> None:
    kind, plain, exact = parse(content_disposition(filename, download=True))
    assert kind == "attachment"
    assert plain == fallback
    assert exact is not None
    assert unquote(exact, errors="strict") == filename


@pytest.mark.parametrize("filename", ["IMG_0042.JPG", "my photo (1).png", "a'b.gif", "x;y=z.png"])
def test_plain_ascii_names_are_sent_as_is(filename: str) -> None:
    assert content_disposition(filename, download=False) == f'inline; filename="{filename}"'


@given(st.text(), st.booleans())
@example('"\r\n\\', True)
@example("\u2028\u0085\x00", False)
@example("%41", True)
def test_any_name_gives_a_safe_header_that_round_trips(filename: str, download: bool) -> None:
    header = content_disposition(filename, download=download)
    assert header.isascii()
    assert not any(c in header for c in "\r\n\x00")
    assert all(32 <= ord(c) < 127 for c in header)
    kind, plain, exact = parse(header)  # no raw quote or backslash inside the quoted name
    assert kind == ("attachment" if download else "inline")
    if exact is None:
        assert plain == filename
    else:
        assert unquote(exact, errors="strict") == filename
