"""The JSON upload body (api/upload_parsing.py): orjson and pybase64 in place of json and base64.

The faster parser and decoder must accept what the standard library accepted and give the same
bytes, refuse what it refused (with the same 4xx), and differ only where they are stricter: "="
after a complete group of four, and what RFC 8259 refuses (a byte order mark, UTF-16, NaN).
"""

from __future__ import annotations

import base64
import binascii
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from image_service.api.upload_parsing import decode_base64, drafts_from_json
from image_service.domain.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

MAX = 1024 * 1024
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def standard(text: str) -> bytes | None:
    """What base64.b64decode(validate=True), the decoder before pybase64, made of ``text``."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def ours(text: str) -> bytes | None:
    try:
        return decode_base64(text, MAX)
    except InvalidInput:
        return None


@given(st.binary(min_size=1, max_size=3000))
def test_any_encoded_image_decodes_to_its_bytes(data: bytes) -> None:
    encoded = base64.b64encode(data).decode()
    assert decode_base64(encoded, MAX) == data
    assert decode_base64(f"data:image/png;base64,{encoded}", MAX) == data
    wrapped = "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))  # MIME lines
    assert decode_base64(wrapped, MAX) == data


@given(st.text(alphabet=ALPHABET + " *-_é", max_size=24))
def test_what_it_accepts_the_standard_decoder_accepts_alike(text: str) -> None:
    decoded = ours(text)
    if decoded is not None and not any(c.isspace() for c in text):
        assert standard(text) == decoded


@given(st.binary(min_size=1, max_size=300), st.sampled_from(["!", "*", "-", "_", "é", "\x00"]), st.data())
def test_a_character_outside_the_alphabet_is_refused(data: bytes, bad: str, draw: st.DataObject) -> None:
    encoded = base64.b64encode(data).decode()
    at = draw.draw(st.integers(0, len(encoded)))
    with pytest.raises(InvalidInput, match="not valid base64"):
        decode_base64(encoded[:at] + bad + encoded[at:], MAX)


@pytest.mark.parametrize("text", ["abcde", "abc", "a", "ab=", "a===", "ab=c", "====", "ab==ab=="])
def test_bad_lengths_and_padding_are_refused_as_before(text: str) -> None:
    assert standard(text) is None
    assert ours(text) is None


@pytest.mark.parametrize("text", ["abcd=", "abcd====", "YWJj=="])
def test_padding_after_a_complete_group_is_refused(text: str) -> None:
    """The one input the standard decoder took and this one does not: no encoder writes it."""
    assert standard(text) is not None
    assert ours(text) is None


def test_sizes_and_data_urls_keep_their_statuses() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_base64(base64.b64encode(b"x" * 2000).decode(), 1000)
    with pytest.raises(UnsupportedMediaType):
        decode_base64("data:text/html;base64,PGh0bWw+", MAX)
    with pytest.raises(InvalidInput, match="empty"):
        decode_base64("", MAX)


def test_a_body_gives_one_draft_with_its_metadata() -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    body = json.dumps(
        {
            "image_file": base64.b64encode(data).decode(),
            "title": "Caf\u00e9 \\/ \U0001f600",
            "tags": ["a", "b"],
        }
    ).encode()
    (draft,) = drafts_from_json(body, MAX)
    assert draft.data == data
    assert draft.title == "Caf\u00e9 \\/ \U0001f600"
    assert draft.tags == ["a", "b"]


def test_escaped_slashes_in_the_base64_are_json_and_decode() -> None:
    """JSON encoders may write "/" as "\\/" (PHP's json_encode does): the parser unescapes it."""
    data = bytes([0xFF, 0xFF, 0xFF, 0xFE]) * 10
    encoded = base64.b64encode(data).decode()
    assert "/" in encoded
    body = b'{"image_data": "' + encoded.replace("/", "\\/").encode() + b'"}'
    assert drafts_from_json(body, MAX)[0].data == data


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{this is not json",
        b'{"image_data": "\xff\xfe"}',  # not UTF-8
        b'\xef\xbb\xbf{"image_data": "AAAA"}',  # a byte order mark: RFC 8259 says MUST NOT
        '{"image_data": "AAAA"}'.encode("utf-16"),
        b'{"image_data": "AAAA", "width": NaN}',
        b'{"image_data": "\\ud800"}',  # a lone surrogate
        b'{"image_data": "AAAA"} trailing',
        b'{"image_data": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    ],
    ids=["empty", "not-json", "not-utf8", "bom", "utf16", "nan", "surrogate", "trailing", "nested"],
)
def test_what_is_not_json_is_a_400(body: bytes) -> None:
    with pytest.raises(InvalidInput, match="not valid JSON"):
        drafts_from_json(body, MAX)


@pytest.mark.parametrize("body", [b"[]", b'"image_data"', b"12", b"null"])
def test_json_that_is_not_an_object_is_a_400(body: bytes) -> None:
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        drafts_from_json(body, MAX)
