"""The `action` saved-object type: connectors as Kibana exports them, and the 7.x migrations an old
export line still needs on import. Secrets never leave: an export carries `secrets: {}` and Kibana's
`isMissingSecrets`; with a passphrase, also `encryptedSecrets` (connectors.saved_objects.passphrase).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q

from connectors import registry
from connectors.base import iso_ms as base_iso_ms
from connectors.conf import get_config
from connectors.exceptions import ConfigurationError, UnknownConnectorType
from connectors.models import Connector, validate_connector_id
from connectors.preconfigured import is_preconfigured
from connectors.saved_objects.contract import (
    ExportContext,
    ImportContext,
    ImportedObject,
    ObjectError,
    SavedObjectHandler,
    attributes_of,
    check_fields,
    checked,
    register,
)
from connectors.saved_objects.passphrase import _b64
from connectors.schemas import MISSING, Any_, Boolean, Record, String
from connectors.services import CONNECTOR_NAME_MAX_LENGTH

# What an 8.8+ export line says about its format (the kbn_archiver fixture's values).
CORE_MIGRATION_VERSION = "8.8.0"
ENCRYPTED_SECRETS_KEY = "encryptedSecrets"
ORIGIN_ID_MAX_LENGTH = Connector._meta.get_field("origin_id").max_length
CONNECTORS_ACTION_PATH = "/app/management/insightsAndAlerting/triggersActionsConnectors"


def iso_ms(moment: datetime | None) -> str:
    """`connectors.base.iso_ms`, now when there is no date."""
    return base_iso_ms(moment or datetime.now(UTC))


def _version_token(moment: datetime | None) -> str:
    """Kibana's `version` is base64 of `[seq_no, primary_term]`; ours encodes the update time."""
    stamp = int((moment or datetime.now(UTC)).timestamp() * 1000)
    return _b64(json.dumps([stamp, 1], separators=(",", ":")).encode())


def _parse_version(value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, str):
        return None
    try:
        return tuple(int(part) for part in value.split(".")[:3])
    except ValueError:
        return None


def is_missing_secrets_for_export(connector: Connector) -> bool:
    """Kibana's rule: secrets required by the type's schema → true; else `config.hasAuth ?? false`."""
    try:
        connector_type = registry.get(connector.connector_type_id)
    except UnknownConnectorType:
        return connector.is_missing_secrets
    try:
        connector_type.validate_secrets({}, get_config())
    except ConfigurationError:
        return True
    has_auth = (connector.config or {}).get("hasAuth")
    return bool(has_auth) if has_auth is not None else False


# 7.x migrations of the `action` type that still change a 7.x line on import (Kibana's
# actions_migrations: 7.10/7.11 set email/webhook `hasAuth` from secrets, 7.11 drops the old cases
# fields, 7.14 adds `isMissingSecrets: false`, 7.16 adds ServiceNow `usesTableApi: true` and email
# `service: "other"`). They apply only to lines that say which 7.x version wrote them.
def _migrate_7x(attributes: dict, from_version: tuple[int, ...]) -> dict:
    attributes = dict(attributes)
    config = dict(attributes.get("config") or {})
    type_id = attributes.get("actionTypeId")
    secrets = attributes.get("secrets") if isinstance(attributes.get("secrets"), dict) else {}
    if from_version < (7, 11, 0):
        # 7.10 renamed `casesConfiguration` to `incidentConfiguration`; 7.11 dropped both.
        config.pop("casesConfiguration", None)
        config.pop("isCaseOwned", None)
        config.pop("incidentConfiguration", None)
        if type_id in (".email", ".webhook"):
            config["hasAuth"] = bool(secrets.get("user") or secrets.get("password"))
    if from_version < (7, 14, 0):
        attributes["isMissingSecrets"] = False
    if from_version < (7, 16, 0):
        if type_id in (".servicenow", ".servicenow-sir"):
            config["usesTableApi"] = True
        if type_id == ".email" and config.get("service") is None:
            config["service"] = "other"
    attributes["config"] = config
    return attributes


class ConnectorHandler(SavedObjectHandler):
    type = "action"
    display_name = "connector"

    def find(self, space):
        return Connector.objects.filter(space=space).order_by("name", "id")

    def get(self, space, object_id):
        return Connector.objects.filter(space=space, pk=object_id).first()

    def to_export_line(self, connector: Connector, ctx: ExportContext) -> dict:
        line = {
            "attributes": {
                "actionTypeId": connector.connector_type_id,
                "config": connector.config or {},
                "isMissingSecrets": is_missing_secrets_for_export(connector),
                "name": connector.name,
                "secrets": {},
            },
            "coreMigrationVersion": CORE_MIGRATION_VERSION,
            "created_at": iso_ms(connector.created_at),
            "id": connector.id,
            "managed": False,
            "references": [],
            "type": self.type,
            "typeMigrationVersion": "10.1.0",
            "updated_at": iso_ms(connector.updated_at),
            "version": _version_token(connector.updated_at),
        }
        if connector.origin_id:
            line["originId"] = connector.origin_id
        if ctx.passphrase_box is not None and connector.has_secrets:
            secrets = connector.get_secrets()  # SecretsUnreadable propagates: the export fails loudly
            if secrets:
                line[ENCRYPTED_SECRETS_KEY] = ctx.passphrase_box.seal(
                    secrets, self._aad(connector.id, connector.connector_type_id)
                )
        return line

    def import_title(self, attributes):
        name = attributes.get("name") if isinstance(attributes, dict) else None
        return f"Connector: [{name}]" if isinstance(name, str) else None

    def _aad(self, object_id: str, type_id: str) -> str:
        return f"{self.type}:{object_id}:{type_id}"

    def prepare(self, raw: dict, line: int, ctx: ImportContext) -> ImportedObject:
        attributes = attributes_of(raw)
        migration = raw.get("migrationVersion")
        from_version = _parse_version(migration.get(self.type)) if isinstance(migration, dict) else None
        if from_version is not None and from_version < (8, 0, 0):
            attributes = _migrate_7x(attributes, from_version)
        # rawConnectorSchema's actionTypeId and name are schema.string() (a wrong type in its words);
        # an empty one is refused as well, which Kibana's saved-object schema lets through
        type_id = checked("attributes.actionTypeId", attributes.get("actionTypeId", MISSING), String())
        name = checked("attributes.name", attributes.get("name", MISSING), String())
        if not name.strip():
            raise ObjectError.unknown("[attributes.name]: expected a non-empty string")
        if not type_id:
            raise ObjectError.unknown("[attributes.actionTypeId]: expected a non-empty string")
        origin_id = raw.get("originId") if isinstance(raw.get("originId"), str) else None
        check_fields(
            [
                ("attributes.name", name, String(max_length=CONNECTOR_NAME_MAX_LENGTH)),
                ("originId", origin_id, String(nullable=True, max_length=ORIGIN_ID_MAX_LENGTH)),
                # Kibana's connector attributes schema: a boolean when present (7.x files have none).
                (
                    "attributes.isMissingSecrets",
                    attributes.get("isMissingSecrets", MISSING),
                    Boolean(optional=True),
                ),
            ]
        )
        try:
            connector_type = registry.get(type_id)
        except UnknownConnectorType as exc:
            raise ObjectError.unknown(str(exc)) from None
        if connector_type.is_system_action_type:
            raise ObjectError.unknown(f"System action creation is forbidden. Action type: {type_id}.")
        config = attributes.get("config", {})
        if config is None:
            config = {}
        file_secrets = attributes.get("secrets") or {}
        if not isinstance(file_secrets, dict):
            # rawConnectorSchema's secrets: a schema.recordOf
            file_secrets = checked("attributes.secrets", file_secrets, Record(Any_()))
        secrets: dict | None = file_secrets or None  # plaintext secrets a person wrote into the file
        envelope = raw.get(ENCRYPTED_SECRETS_KEY)
        if envelope is not None and ctx.passphrase_box is not None:
            try:
                secrets = ctx.passphrase_box.open(envelope, self._aad(str(raw["id"]), type_id))
            except ValueError as exc:
                raise ObjectError.unknown(f"Unable to restore the connector's secrets: {exc}") from None
        settings = get_config()
        try:
            cleaned_config = connector_type.validate_config(config, settings)
            if secrets is not None:
                cleaned_secrets = connector_type.validate_secrets(secrets, settings)
                connector_type.validate_connector(cleaned_config, cleaned_secrets)
                secrets = cleaned_secrets
        except ConfigurationError as exc:
            raise ObjectError.unknown(exc.message) from None
        if secrets is not None and envelope is not None and ctx.passphrase_box is not None:
            missing = False  # restored with the passphrase: ready to run
        elif isinstance(attributes.get("isMissingSecrets"), bool):
            missing = attributes["isMissingSecrets"]
        elif secrets is not None:
            missing = False  # secrets written into the file, and no flag saying otherwise
        else:
            probe = Connector(connector_type_id=type_id, config=cleaned_config)
            missing = is_missing_secrets_for_export(probe)
        return ImportedObject(
            line=line,
            type=self.type,
            id=str(raw["id"]),
            title=self.import_title(attributes),
            attributes={
                "actionTypeId": type_id,
                "config": cleaned_config,
                "isMissingSecrets": missing,
                "name": name,
            },
            references=[],
            raw=raw,
            managed=bool(raw.get("managed", False)),
            origin_id=origin_id,
            extra={"secrets": secrets},
        )

    def check_id(self, object_id: str) -> None:
        """Ids we keep must be valid connector ids; a preconfigured id is never overwritten."""
        try:
            validate_connector_id(object_id)
        except Exception as exc:
            raise ObjectError.unknown(exc.messages[0]) from None
        if is_preconfigured(object_id):
            raise ObjectError.unknown(f"This {object_id} already exists in a preconfigured action.")

    def find_by_origin(self, space, origin_id):
        return [
            {"id": c.id, "title": c.name, "updatedAt": iso_ms(c.updated_at)}
            for c in Connector.objects.filter(Q(origin_id=origin_id) | Q(pk=origin_id), space=space).order_by(
                "id"
            )
        ]

    def locate(self, space, object_id):
        space_id = Connector.objects.filter(pk=object_id).values_list("space_id", flat=True).first()
        if space_id is None:
            return None
        return "here" if space_id == space.id else "elsewhere"

    def write(self, obj: ImportedObject, ctx: ImportContext) -> None:
        target_id = obj.destination_id or obj.id
        attrs = obj.attributes
        connector = Connector.objects.select_for_update().filter(pk=target_id, space=ctx.space).first()
        if connector is None:
            connector = Connector(id=target_id, space=ctx.space, created_by=ctx.user)
            creating = True
        else:
            creating = False
        connector.name = attrs["name"]
        connector.connector_type_id = attrs["actionTypeId"]
        connector.config = attrs["config"]
        connector.is_missing_secrets = attrs["isMissingSecrets"]
        connector.origin_id = obj.origin_id or ""
        connector.updated_by = ctx.user
        connector.set_secrets(obj.extra.get("secrets") or {})
        if creating:
            connector.save(force_insert=True)
        else:
            connector.save()
            connector.tokens.all().delete()

    def import_warnings(self, written):
        count = sum(1 for obj in written if obj.attributes["isMissingSecrets"])
        if not count:
            return []
        verb = "connector has" if count == 1 else "connectors have"
        return [
            {
                "type": "action_required",
                "message": f"{count} {verb} sensitive information that require updates.",
                "actionPath": CONNECTORS_ACTION_PATH,
                "buttonLabel": "Go to connectors",
            }
        ]


register(ConnectorHandler())
