"""The environment variables the service's Settings read, from the model itself."""

from __future__ import annotations

from pydantic import AliasChoices

from image_service.settings import Settings


def settings_variables() -> set[str]:
    """Every environment variable Settings reads."""
    names: set[str] = set()
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(a for a in alias.choices if isinstance(a, str))
    return names
