"""HMAC signatures for tokens the service hands out and must recognise later (cursors, URLs)."""

from __future__ import annotations

import base64
import hashlib
import hmac


class Signer:
    """Signs messages with a secret; each ``purpose`` gets its own derived key, so a signature
    made for a cursor can never be replayed as a URL signature."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("signing secret must be at least 16 bytes")
        self._secret = secret

    def sign(self, purpose: str, message: str) -> str:
        key = hmac.new(self._secret, purpose.encode(), hashlib.sha256).digest()
        digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")

    def verify(self, purpose: str, message: str, signature: str) -> bool:
        # compare_digest raises TypeError on non-ASCII str; a signature we made is always ASCII.
        return signature.isascii() and hmac.compare_digest(self.sign(purpose, message), signature)
