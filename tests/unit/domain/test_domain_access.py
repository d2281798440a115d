"""domain/access.py: who may upload for whom."""

from __future__ import annotations

import pytest

from image_service.domain.access import owner_for
from image_service.domain.errors import Forbidden, InvalidInput, Unauthenticated
from image_service.domain.models import ADMIN, ANONYMOUS, Caller

ALICE = Caller(user_id="alice")


@pytest.mark.parametrize(
    ("caller", "requested", "owner"),
    [
        (ALICE, None, "alice"),
        (ALICE, "alice", "alice"),
        (Caller(user_id="root", is_admin=True), "bob", "bob"),
        (Caller(user_id="root", is_admin=True), None, "root"),
        (ADMIN, "bob", "bob"),
        (Caller(user_id="alice", trusted=True), "bob", "bob"),
        (Caller(trusted=True), "bob", "bob"),
        (Caller(trusted=True), None, "anonymous"),  # IMAGE_SERVICE_AUTH=none, an older client
    ],
)
def test_owner_for_allowed(caller: Caller, requested: str | None, owner: str) -> None:
    assert owner_for(caller, requested) == owner


@pytest.mark.parametrize(
    ("caller", "requested", "error"),
    [
        (ANONYMOUS, None, Unauthenticated),
        (ANONYMOUS, "alice", Unauthenticated),
        (ALICE, "bob", Forbidden),
        (ADMIN, None, InvalidInput),  # an admin key without a user must name the owner
        (ALICE, "not a user id", InvalidInput),
    ],
)
def test_owner_for_refused(caller: Caller, requested: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        owner_for(caller, requested)
