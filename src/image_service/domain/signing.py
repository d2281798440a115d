"""HMAC signatures for tokens the service hands out and must recognise later (cursors, URLs)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable


class Signer:
    """Signs messages with a secret; each ``purpose`` gets its own derived key, so a signature
    made for a cursor can never be replayed as a URL signature."""

    def __init__(self, secret: bytes | Callable[[], bytes]) -> None:
        """``secret`` is the key, or a function that returns it (a cached secret fetched on first
        use, so that building a Signer never touches the network)."""
        if isinstance(secret, bytes):
            _check(secret)
            self._secret: Callable[[], bytes] = lambda: secret
        else:
            self._secret = secret

    def sign(self, purpose: str, message: str) -> str:
        key = hmac.new(_check(self._secret()), purpose.encode(), hashlib.sha256).digest()
        digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")

    def verify(self, purpose: str, message: str, signature: str) -> bool:
        # compare_digest raises TypeError on non-ASCII str; a signature we made is always ASCII.
        return signature.isascii() and hmac.compare_digest(self.sign(purpose, message), signature)


def _check(secret: bytes) -> bytes:
    if len(secret) < 16:
        raise ValueError("signing secret must be at least 16 bytes")
    return secret
