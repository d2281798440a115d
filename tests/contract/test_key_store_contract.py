"""The KeyStore contract, for every catalog that keeps API keys (see conftest.CATALOGS)."""

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


def test_added_key_is_found_by_its_hash(catalog: KeyStore, at: At) -> None:
    admin = key("k1", at(1), user_id="root", is_admin=True)
    plain = key("k2", at(2))
    catalog.add_key(admin)
    catalog.add_key(plain)
    assert catalog.find_key("hash-of-k1") == admin
    assert catalog.find_key("hash-of-k2") == plain
    assert catalog.find_key("hash-of-nothing") is None
    assert catalog.find_key("k1") is None


def test_list_keys_holds_every_key_oldest_first(catalog: KeyStore, at: At) -> None:
    assert catalog.list_keys() == []
    keys = [key("b", at(2)), key("a", at(3)), key("c", at(1))]
    for each in keys:
        catalog.add_key(each)
    assert [k.key_id for k in catalog.list_keys()] == ["c", "b", "a"]


def test_revoked_key_is_not_found_but_still_listed(catalog: KeyStore, at: At) -> None:
    catalog.add_key(key("k1", at(1)))
    catalog.add_key(key("k2", at(2)))
    catalog.revoke_key("k1", at(5))
    assert catalog.find_key("hash-of-k1") is None
    assert catalog.find_key("hash-of-k2") is not None
    listed = {k.key_id: k for k in catalog.list_keys()}
    assert listed["k1"].revoked_at == at(5)
    assert listed["k2"].revoked_at is None


def test_revoking_an_unknown_key_is_not_found(catalog: KeyStore, at: At) -> None:
    with pytest.raises(NotFound):
        catalog.revoke_key("nope", at(1))
