"""Connector life cycle, shared by the API, the admin and saved-object import: one place validates."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from django.db import IntegrityError, transaction

from connectors import extensions, registry
from connectors.conf import get_config
from connectors.exceptions import ActionTypeDisabled
from connectors.models import Connector, Space
from connectors.preconfigured import get_preconfigured, is_preconfigured, preconfigured_connectors


class ConnectorNotFound(Exception):
    def __init__(self, connector_id: str):
        super().__init__(f"Saved object [action/{connector_id}] not found")
        self.connector_id = connector_id


class ConnectorConflict(Exception):
    def __init__(self, connector_id: str):
        super().__init__(f"Saved object [action/{connector_id}] conflict")


class PreconfiguredConflict(Exception):
    """Create with a preconfigured id, or update/delete of a preconfigured connector (HTTP 400)."""


# Kibana sets no limit; a name is shown in lists and menus, and a 5 MB one made every page heavy.
CONNECTOR_NAME_MAX_LENGTH = 255


def find_connector(space_id: str, connector_id: str) -> Connector:
    """A preconfigured connector (any space) or a row of this space. Another space's row is 'not found'."""
    preconfigured = get_preconfigured(connector_id)
    if preconfigured is not None:
        preconfigured.run_space_id = space_id
        return preconfigured
    try:
        # get(), not first(): a primary-key lookup needs no ORDER BY (first() would sort by name).
        return Connector.objects.get(pk=connector_id, space_id=space_id)
    except Connector.DoesNotExist:
        raise ConnectorNotFound(connector_id) from None


def ensure_type_enabled(type_id: str) -> None:
    if not registry.is_enabled_in_config(type_id, get_config()):
        raise ActionTypeDisabled(type_id)


def validate_connector(type_id: str, config, secrets) -> tuple[dict, dict]:
    """Validate config and secrets with the type's schemas; raises ConfigurationError."""
    connector_type = registry.get(type_id)  # raises UnknownConnectorType
    settings = get_config()
    cleaned_config = connector_type.validate_config(config, settings)
    cleaned_secrets = connector_type.validate_secrets(secrets, settings)
    connector_type.validate_connector(cleaned_config, cleaned_secrets)
    return cleaned_config, cleaned_secrets


def create_connector(
    space: Space,
    *,
    name: str,
    type_id: str,
    config: dict,
    secrets: dict,
    connector_id: str | None = None,
    user: str = "",
) -> Connector:
    # Kibana's order: the system type, the preconfigured id, the type, its config and secrets, and
    # only then whether the type is enabled (a disabled type with a bad config is a 400, not a 403).
    if registry.is_system_action_type(type_id):
        raise PreconfiguredConflict(f"System action creation is forbidden. Action type: {type_id}.")
    if connector_id and is_preconfigured(connector_id):
        raise PreconfiguredConflict(f"This {connector_id} already exists in a preconfigured action.")
    cleaned_config, cleaned_secrets = validate_connector(type_id, config, secrets)
    ensure_type_enabled(type_id)
    connector = Connector(
        space=space,
        name=name,
        connector_type_id=type_id,
        config=cleaned_config,
        created_by=user,
        updated_by=user,
    )
    if connector_id:
        connector.id = connector_id
    connector.set_secrets(cleaned_secrets)
    try:
        with transaction.atomic():
            if Connector.objects.filter(pk=connector.id).exists():
                raise ConnectorConflict(connector.id)
            connector.save(force_insert=True)
    except IntegrityError:
        raise ConnectorConflict(connector.id) from None
    return connector


def update_connector(
    connector: Connector, *, name: str, config: dict, secrets: dict, user: str = ""
) -> Connector:
    """Secrets are replaced wholesale; the connector is no longer missing secrets; tokens are dropped."""
    if connector.is_preconfigured:
        raise PreconfiguredConflict(f"Preconfigured action {connector.id} is not allowed to update.")
    cleaned_config, cleaned_secrets = validate_connector(connector.connector_type_id, config, secrets)
    ensure_type_enabled(connector.connector_type_id)  # after validation, as in create
    connector.name = name
    connector.config = cleaned_config
    connector.set_secrets(cleaned_secrets)
    connector.is_missing_secrets = False
    connector.updated_by = user
    with transaction.atomic():
        connector.save()
        connector.tokens.all().delete()
    return connector


def delete_connector(connector: Connector) -> None:
    if connector.is_preconfigured:
        raise PreconfiguredConflict(f"Preconfigured action {connector.id} is not allowed to delete.")
    connector.delete()


@dataclass(slots=True)
class ConnectorSummary:
    """A stored connector as a list shows it: only the columns the API reads, and no model instance
    (building 100,000 model instances, with four timestamp conversions each, was most of the time of
    a 100,000-connector list). `connector_to_api` reads it as it reads a Connector."""

    id: str
    name: str
    connector_type_id: str
    config: dict
    is_missing_secrets: bool
    last_run_at: datetime | None = None
    last_outcome: str = ""
    last_error: str = ""

    is_preconfigured: ClassVar[bool] = False
    is_system_action: ClassVar[bool] = False

    @property
    def pk(self) -> str:
        return self.id


SUMMARY_COLUMNS = ("id", "name", "connector_type_id", "config", "is_missing_secrets")
HEALTH_COLUMNS = ("last_run_at", "last_outcome", "last_error")


# ICU's root order of the ASCII characters that are not digits or letters (spaces, punctuation,
# symbols, then currency): what `localeCompare` puts before "0".
_ASCII_BEFORE_DIGITS = {c: i for i, c in enumerate("\t\n\v\f\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$")}


def _unit(character: str) -> str:
    """One character's primary weight as two characters (its group, then its place in the group), so
    a name's weights compare as one string."""
    if character in _ASCII_BEFORE_DIGITS:
        return "\x01" + chr(1 + _ASCII_BEFORE_DIGITS[character])
    group = {"Z": 1, "P": 1, "C": 1, "S": 2, "N": 3}.get(unicodedata.category(character)[0], 4)
    return chr(group + 1) + character


def _key_of_any(name: str) -> tuple[str, str, str, str]:
    primary, secondary, tertiary = [], [], []
    for character in unicodedata.normalize("NFD", name):
        if unicodedata.combining(character) and primary:
            secondary[-1] += character
            continue
        folded = character.casefold()
        for base in folded:
            primary.append(_unit(base))
            secondary.append("")
            tertiary.append("1" if folded != character else "0")
    # Each element's accents end with "\x00", below every mark: unaccented sorts first.
    return "".join(primary), "".join(mark + "\x00" for mark in secondary), "".join(tertiary), name


# An ASCII name has no accents and folds one character to one: its key is two table lookups per
# character (the list API sorts 100,000 names per request; `_key_of_any` costs ~20 µs a name).
_ASCII_PRIMARY = {i: _unit(chr(i).casefold()) for i in range(128)}
_ASCII_TERTIARY = {i: "1" if chr(i).casefold() != chr(i) else "0" for i in range(128)}


@functools.lru_cache(maxsize=65536)
def locale_compare_key(name: str) -> tuple[str, str, str, str]:
    """A sort key that orders names as Kibana's `a.name.localeCompare(b.name)` (ICU, root order):
    spaces and punctuation, then symbols, digits and letters; letters compared without accents and
    case first (ß as ss), then accents (unaccented first), then case (lower first); code points last."""
    if name.isascii():
        return name.translate(_ASCII_PRIMARY), "\x00" * len(name), name.translate(_ASCII_TERTIARY), name
    return _key_of_any(name)


def list_connectors(space_id: str, *, with_health: bool = False) -> list[Connector | ConnectorSummary]:
    """The space's connectors (as summaries, with the health columns if asked) and every
    preconfigured one, sorted by name as Kibana sorts them."""
    columns = SUMMARY_COLUMNS + (HEALTH_COLUMNS if with_health else ())
    # No ORDER BY: the merged list is sorted here anyway, with Kibana's key.
    rows = Connector.objects.filter(space_id=space_id).order_by().values_list(*columns)
    merged = list(preconfigured_connectors().values()) + [ConnectorSummary(*row) for row in rows]
    return sorted(merged, key=lambda c: locale_compare_key(c.name))


def referenced_by_counts(space_id: str, connector_ids: list[str]) -> dict[str, int]:
    """How many rules reference each connector (0 for preconfigured, as in Kibana)."""
    return extensions.rule_reference_counts(space_id, connector_ids)
