"""services/keys.py: API keys are shown once and stored only as a hash."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from image_service.adapters.memory import InMemoryKeyStore
from image_service.domain.errors import InvalidInput, Unauthenticated
from image_service.domain.models import ApiKey, Caller
from image_service.services.keys import PREFIX, authenticate, create_key, ensure_admin_key, hash_key

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class RecordingKeyStore:
    """A KeyStore that keeps, besides the keys, every argument it was ever handed."""

    def __init__(self) -> None:
        self.inner = InMemoryKeyStore()
        self.seen: list[Any] = []

    def add_key(self, key: ApiKey) -> None:
        self.seen.append(key)
        self.inner.add_key(key)

    def find_key(self, key_hash: str) -> ApiKey | None:
        self.seen.append(key_hash)
        return self.inner.find_key(key_hash)

    def list_keys(self) -> list[ApiKey]:
        return self.inner.list_keys()

    def revoke_key(self, key_id: str, at: datetime) -> None:
        self.seen.append(key_id)
        self.inner.revoke_key(key_id, at)


@pytest.fixture
def store() -> RecordingKeyStore:
    return RecordingKeyStore()


def test_the_store_never_sees_the_token(store: RecordingKeyStore) -> None:
    key, token = create_key(store, "alice", is_admin=False, now=NOW)
    assert token.startswith(PREFIX)
    assert len(token) > 40
    assert key.key_hash == hashlib.sha256(token.encode()).hexdigest() == hash_key(token)
    assert (key.user_id, key.is_admin, key.created_at, key.revoked_at) == ("alice", False, NOW, None)
    assert authenticate(store, token) == Caller(user_id="alice")
    secret_part = token.rsplit("_", 1)[1]
    for value in store.seen:
        assert token not in repr(value)
        assert secret_part not in repr(value)
    assert store.list_keys() == [key]


def test_tokens_and_ids_are_unique(store: RecordingKeyStore) -> None:
    made = [create_key(store, "alice", is_admin=False, now=NOW) for _ in range(20)]
    assert len({token for _, token in made}) == 20
    assert len({key.key_id for key, _ in made}) == 20


def test_an_admin_key_authenticates_as_admin(store: RecordingKeyStore) -> None:
    _, token = create_key(store, "root", is_admin=True, now=NOW)
    assert authenticate(store, token) == Caller(user_id="root", is_admin=True)


@pytest.mark.parametrize("token", ["", "isk_", "isk_nope_nope", "Bearer isk_x", "not-a-key"])
def test_unknown_tokens_are_unauthenticated(store: RecordingKeyStore, token: str) -> None:
    create_key(store, "alice", is_admin=False, now=NOW)
    with pytest.raises(Unauthenticated):
        authenticate(store, token)


def test_a_token_is_refused_once_revoked(store: RecordingKeyStore) -> None:
    key, token = create_key(store, "alice", is_admin=False, now=NOW)
    _, other = create_key(store, "alice", is_admin=False, now=NOW)
    store.revoke_key(key.key_id, NOW + timedelta(hours=1))
    with pytest.raises(Unauthenticated):
        authenticate(store, token)
    assert authenticate(store, other).user_id == "alice"


def test_only_the_exact_token_authenticates(store: RecordingKeyStore) -> None:
    _, token = create_key(store, "alice", is_admin=False, now=NOW)
    with pytest.raises(Unauthenticated):
        authenticate(store, token.upper())
    with pytest.raises(Unauthenticated):
        authenticate(store, hash_key(token))


def test_create_key_validates_the_user(store: RecordingKeyStore) -> None:
    with pytest.raises(InvalidInput):
        create_key(store, "no spaces", is_admin=False, now=NOW)
    assert store.list_keys() == []


def test_first_start_makes_one_admin_key(store: RecordingKeyStore) -> None:
    token = ensure_admin_key(store, NOW)
    assert token is not None
    assert authenticate(store, token) == Caller(user_id="admin", is_admin=True)
    assert ensure_admin_key(store, NOW) is None
    assert len(store.list_keys()) == 1


def test_no_admin_key_is_made_when_keys_exist(store: RecordingKeyStore) -> None:
    create_key(store, "alice", is_admin=False, now=NOW)
    assert ensure_admin_key(store, NOW) is None
