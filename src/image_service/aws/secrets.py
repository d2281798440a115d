"""The URL/cursor signing key and the bootstrap admin key, from Secrets Manager or the environment.

With ``IMAGE_SERVICE_SECRET_ARN`` set, the secret's JSON (``{"signing_key": "<hex>",
"admin_key": "isk_..."}``) is fetched on first use and cached for ``ttl`` seconds, so a rotated
secret reaches every warm Lambda within that time without a call per request. Otherwise the two
values come from ``IMAGE_SERVICE_SIGNING_KEY`` and ``IMAGE_SERVICE_ADMIN_KEY``.

A secret may hold only ``admin_key``: the signing key is then derived from it (HMAC-SHA256 with a
fixed label). That is what the deploy template creates, because CloudFormation can generate one
random value per secret; whoever reads the secret holds the admin key anyway, so deriving the
signing key from it gives nothing away.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from image_service.aws.clients import AwsClients
from image_service.aws.errors import aws_errors
from image_service.domain.errors import BackendUnavailable


@dataclass(frozen=True, slots=True)
class ServiceSecrets:
    signing_key: bytes
    admin_key: str | None = None


SIGNING_KEY_LABEL = b"image-service/url-and-cursor-signing/v1"


def derived_signing_key(admin_key: str) -> str:
    """The signing key (hex) of a secret that holds only an admin key."""
    return hmac.new(admin_key.encode(), SIGNING_KEY_LABEL, hashlib.sha256).hexdigest()


def parse_secrets(signing_key_hex: str, admin_key: str | None) -> ServiceSecrets:
    try:
        key = bytes.fromhex(signing_key_hex.strip())
    except ValueError:
        raise ValueError("the signing key must be hex (for example: openssl rand -hex 32)") from None
    if len(key) < 16:
        raise ValueError("the signing key must be at least 16 bytes (32 hex digits)")
    return ServiceSecrets(key, admin_key or None)


class CachedSecrets:
    """Fetch once, reuse for ``ttl`` seconds; concurrent first uses fetch only once."""

    def __init__(
        self,
        fetch: Callable[[], ServiceSecrets],
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._value: ServiceSecrets | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> ServiceSecrets:
        value = self._value
        if value is not None and self._clock() - self._fetched_at < self._ttl:
            return value
        with self._lock:
            if self._value is None or self._clock() - self._fetched_at >= self._ttl:
                try:
                    self._value = self._fetch()
                    self._fetched_at = self._clock()
                except BackendUnavailable:
                    if self._value is None:
                        raise
                    # Keep serving with the last good value while Secrets Manager is unreachable.
            return self._value


def secrets_manager_fetcher(clients: AwsClients, secret_id: str) -> Callable[[], ServiceSecrets]:
    def fetch() -> ServiceSecrets:
        with aws_errors("the service secret"):
            response = clients.secretsmanager.get_secret_value(SecretId=secret_id)
        try:
            values = json.loads(response["SecretString"])
            admin_key = values.get("admin_key")
            if "signing_key" not in values and admin_key:
                return parse_secrets(derived_signing_key(admin_key), admin_key)
            return parse_secrets(values["signing_key"], admin_key)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(f"the service secret is malformed: {exc.__class__.__name__}") from None

    return fetch
