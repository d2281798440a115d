"""domain/signing.py: HMAC signatures per purpose, refusing anything that is not ours."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from image_service.domain.signing import Signer

SIGNER = Signer(b"s" * 32)


def test_a_signature_verifies_for_its_purpose_and_message_only() -> None:
    signature = SIGNER.sign("cursor", "message")
    assert len(signature) == 32
    assert signature.isascii()
    assert SIGNER.verify("cursor", "message", signature)
    assert not SIGNER.verify("url", "message", signature)
    assert not SIGNER.verify("cursor", "message2", signature)
    assert not Signer(b"t" * 32).verify("cursor", "message", signature)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        Signer(b"x" * 15)


@pytest.mark.parametrize("signature", ["", "é" * 32, "\ud800", "ü", "A" * 31 + "é", "\x00" * 32])
def test_foreign_signatures_are_false_not_errors(signature: str) -> None:
    assert SIGNER.verify("cursor", "message", signature) is False


@given(st.text(), st.text())
def test_verify_never_raises(message: str, signature: str) -> None:
    assert SIGNER.verify("p", message, signature) is (signature == SIGNER.sign("p", message))
