"""The KeyStore contract, for every adapter (see conftest.KEY_STORES)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from image_service.domain.errors import NotFound
from image_service.domain.models import ApiKey
from image_service.ports import KeyStore

At = Callable[[int], datetime]


def key(key_id: str, created_at: datetime, *, user_id: str = "alice", is_admin: bool = False) -> ApiKey:
    return ApiKey(
        key_id=key_id, user_id=user_id, key_hash=f"hash-of-{key_id}", is_admin=is_admin, created_at=created_at
    )


def test_added_key_is_found_by_its_hash(key_store: KeyStore, at: At) -> None:
    admin = key("k1", at(1), user_id="root", is_admin=True)
    plain = key("k2", at(2))
    key_store.add_key(admin)
    key_store.add_key(plain)
    assert key_store.find_key("hash-of-k1") == admin
    assert key_store.find_key("hash-of-k2") == plain
    assert key_store.find_key("hash-of-nothing") is None
    assert key_store.find_key("k1") is None


def test_list_keys_holds_every_key_oldest_first(key_store: KeyStore, at: At) -> None:
    assert key_store.list_keys() == []
    keys = [key("b", at(2)), key("a", at(3)), key("c", at(1))]
    for each in keys:
        key_store.add_key(each)
    assert [k.key_id for k in key_store.list_keys()] == ["c", "b", "a"]


def test_revoked_key_is_not_found_but_still_listed(key_store: KeyStore, at: At) -> None:
    key_store.add_key(key("k1", at(1)))
    key_store.add_key(key("k2", at(2)))
    key_store.revoke_key("k1", at(5))
    assert key_store.find_key("hash-of-k1") is None
    assert key_store.find_key("hash-of-k2") is not None
    listed = {k.key_id: k for k in key_store.list_keys()}
    assert listed["k1"].revoked_at == at(5)
    assert listed["k2"].revoked_at is None


def test_revoking_an_unknown_key_is_not_found(key_store: KeyStore, at: At) -> None:
    with pytest.raises(NotFound):
        key_store.revoke_key("nope", at(1))
