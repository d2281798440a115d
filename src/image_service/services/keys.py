"""API keys: made here, shown once, stored only as a SHA-256 hash, resolved to a Caller.

Keys are 256-bit random tokens, so a fast hash is enough (no password-style stretching needed):
nothing about a key can be guessed from its hash faster than guessing the key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from image_service.domain import validation
from image_service.domain.errors import NotFound, Unauthenticated
from image_service.domain.models import ApiKey, Caller
from image_service.ports import KeyStore

PREFIX = "isk_"


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(store: KeyStore, user_id: str, *, is_admin: bool, now: datetime) -> tuple[ApiKey, str]:
    key_id = secrets.token_hex(6)
    token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        key_id=key_id,
        user_id=validation.user_id(user_id),
        key_hash=hash_key(token),
        is_admin=is_admin,
        created_at=now,
    )
    store.add_key(key)
    return key, token


def authenticate(store: KeyStore, token: str) -> Caller:
    # Keys made here start with PREFIX; a configured bootstrap admin key (the deploy template
    # generates one) may not, so any token is looked up by its hash.
    key = store.find_key(hash_key(token)) if token else None
    if key is None:
        raise Unauthenticated("invalid API key")
    return Caller(user_id=key.user_id, is_admin=key.is_admin)


def ensure_admin_key(store: KeyStore, now: datetime) -> str | None:
    """On a first start with no keys at all, make an admin key and return it (to print once)."""
    if store.list_keys():
        return None
    _, token = create_key(store, "admin", is_admin=True, now=now)
    return token


BOOTSTRAP_KEY_ID = "bootstrap"


class WithBootstrapAdmin:
    """A KeyStore that also accepts one admin key from configuration (Secrets Manager or the
    environment). That key is never stored; it is rotated where it is configured."""

    def __init__(self, store: KeyStore, admin_token: Callable[[], str | None]) -> None:
        self._store = store
        self._admin_token = admin_token

    def _bootstrap(self) -> ApiKey | None:
        token = self._admin_token()
        if not token:
            return None
        return ApiKey(BOOTSTRAP_KEY_ID, "admin", hash_key(token), True, datetime(1970, 1, 1, tzinfo=UTC))

    def add_key(self, key: ApiKey) -> None:
        self._store.add_key(key)

    def find_key(self, key_hash: str) -> ApiKey | None:
        bootstrap = self._bootstrap()
        if bootstrap is not None and hmac.compare_digest(bootstrap.key_hash, key_hash):
            return bootstrap
        return self._store.find_key(key_hash)

    def list_keys(self) -> list[ApiKey]:
        bootstrap = self._bootstrap()
        return [*([bootstrap] if bootstrap else []), *self._store.list_keys()]

    def revoke_key(self, key_id: str, at: datetime) -> None:
        if key_id == BOOTSTRAP_KEY_ID:
            raise NotFound("the bootstrap admin key comes from configuration; change it there")
        self._store.revoke_key(key_id, at)
