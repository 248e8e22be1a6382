"""Kibana saved-object export and import (NDJSON), for every importable type through one registry.

A *handler* per Kibana saved-object type knows how to find its objects in a space, write one export
line, check and write one imported line, and which import warnings to give. The engine here does the
rest the same way for every type: parsing the file, the per-object errors (`unsupported_type`,
`conflict`, `ambiguous_conflict`, `missing_references`, `unknown`), the three conflict modes, id
regeneration and reference rewriting, the summary line, and one savepoint per object so a failure
never leaves half an object behind.

Types: `action` (connectors, here) and `alert` (rules: `actions.saved_objects.RuleHandler`, registered
from the actions app's `ready()`). Any other type is reported as `unsupported_type`, as Kibana reports
a type it cannot import.

Secrets never leave: an export carries `secrets: {}` and Kibana's `isMissingSecrets`. Beyond Kibana,
an export made with a passphrase also carries each connector's secrets encrypted (scrypt-derived key,
AES-256-GCM, bound to the object's type, id and connector type) under the top-level key
`encryptedSecrets`, which Kibana ignores; an import with the same passphrase restores them.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.db import transaction

from connectors import registry
from connectors.conf import get_config
from connectors.exceptions import ConfigurationError, SecretsUnreadable, UnknownConnectorType
from connectors.models import Connector, Space, validate_connector_id
from connectors.preconfigured import is_preconfigured
from connectors.schemas import nul_problem

logger = logging.getLogger("connectors.saved_objects")

# What an 8.8+ export line says about its format (the kbn_archiver fixture's values).
CORE_MIGRATION_VERSION = "8.8.0"
ENCRYPTED_SECRETS_KEY = "encryptedSecrets"
CONNECTORS_ACTION_PATH = "/app/management/insightsAndAlerting/triggersActionsConnectors"


# ---- errors --------------------------------------------------------------------------------------


class SavedObjectsRequestError(Exception):
    """The whole request is refused (bad options, file too large). `attributes` extends the envelope."""

    def __init__(self, message: str, status_code: int = 400, attributes: dict | None = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.attributes = attributes


class ObjectError(Exception):
    """One object is refused; `error` is Kibana's import error body (`{"type": ..., ...}`)."""

    def __init__(self, error: dict):
        super().__init__(error.get("message") or error["type"])
        self.error = error

    @classmethod
    def unknown(cls, message: str, status_code: int = 400) -> ObjectError:
        return cls({"type": "unknown", "message": message, "statusCode": status_code})


# ---- passphrase encryption (beyond Kibana) -------------------------------------------------------

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
# The only cost an import accepts: the one the exporter writes (32 MiB and a fraction of a second per
# derivation). A file must not choose its own (n=2^20, r=32 would be 4 GiB per derivation).
ACCEPTED_SCRYPT_PARAMETERS = frozenset({(SCRYPT_N, SCRYPT_R, SCRYPT_P)})
SALT_BYTES = 16
NONCE_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text.encode(), validate=True)


class PassphraseBox:
    """Seals and opens secrets with a key derived from a passphrase (scrypt), AES-256-GCM.

    One salt per export file; the derived key is cached so a file of many connectors costs one
    derivation. Opening accepts only the exporter's scrypt parameters and the first salt it meets,
    so one import file costs at most one derivation whatever it says. The AAD binds the ciphertext
    to `<saved-object type>:<id>:<connector type>`.
    """

    def __init__(self, passphrase: str):
        if not passphrase:
            raise ValueError("an empty passphrase cannot protect secrets")
        self._passphrase = passphrase.encode()
        self._keys: dict[tuple[bytes, int, int, int], bytes] = {}
        self._salt: bytes | None = None

    def __repr__(self) -> str:
        return "<PassphraseBox>"

    def _key(self, salt: bytes, n: int, r: int, p: int) -> bytes:
        cache_key = (salt, n, r, p)
        if cache_key not in self._keys:
            self._keys[cache_key] = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(self._passphrase)
        return self._keys[cache_key]

    def seal(self, secrets: dict, aad: str) -> dict:
        if self._salt is None:
            self._salt = os.urandom(SALT_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        key = self._key(self._salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        plaintext = json.dumps(secrets, sort_keys=True).encode()
        return {
            "v": 1,
            "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(self._salt)},
            "alg": "AES-256-GCM",
            "nonce": _b64(nonce),
            "ciphertext": _b64(AESGCM(key).encrypt(nonce, plaintext, aad.encode())),
        }

    def open(self, envelope: Any, aad: str) -> dict:
        """The secrets, or ValueError with a sentence that names no secret."""
        try:
            kdf = envelope["kdf"]
            if envelope.get("v") != 1 or kdf.get("name") != "scrypt" or envelope.get("alg") != "AES-256-GCM":
                raise ValueError
            n, r, p = kdf["n"], kdf["r"], kdf["p"]
            salt, nonce, ciphertext = (
                _unb64(kdf["salt"]),
                _unb64(envelope["nonce"]),
                _unb64(envelope["ciphertext"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("the encrypted secrets in the file are malformed") from None
        if any(type(value) is not int for value in (n, r, p)) or (n, r, p) not in ACCEPTED_SCRYPT_PARAMETERS:
            raise ValueError(
                f"the encrypted secrets use scrypt parameters this server does not accept "
                f"(only n={SCRYPT_N}, r={SCRYPT_R}, p={SCRYPT_P}, as its exports write)"
            )
        if self._salt is None:
            self._salt = salt
        elif salt != self._salt:
            raise ValueError(
                "the encrypted secrets use a different salt from the file's first ones (one salt per file)"
            )
        try:
            plaintext = AESGCM(self._key(salt, n, r, p)).decrypt(nonce, ciphertext, aad.encode())
        except (InvalidTag, ValueError):
            raise ValueError(
                "the passphrase does not open the encrypted secrets of this object "
                "(wrong passphrase, or the line was altered)"
            ) from None
        secrets = json.loads(plaintext)
        if not isinstance(secrets, dict):
            raise ValueError("the encrypted secrets in the file are malformed")
        return secrets


# ---- the handler contract ------------------------------------------------------------------------


@dataclass
class ImportedObject:
    """One line that passed its handler's checks and awaits writing."""

    line: int
    type: str
    id: str
    title: str
    attributes: dict
    references: list[dict]
    raw: dict
    managed: bool = False
    origin_id: str | None = None
    extra: dict = field(default_factory=dict)  # handler-private (e.g. restored secrets)
    destination_id: str | None = None
    overwrite: bool = False
    create_new_copy: bool = False


@dataclass
class ImportContext:
    space: Space
    user: str = ""
    passphrase_box: PassphraseBox | None = None


@dataclass
class ExportContext:
    space: Space
    exported_at: datetime
    passphrase_box: PassphraseBox | None = None


class SavedObjectHandler:
    """Import and export for one Kibana saved-object type. Subclass, set `type`, implement the methods.

    Export: `find()`, `get()`, `to_export_line()`. Import: `prepare()` checks one parsed line and raises
    ObjectError; `locate()`/`find_by_origin()` feed the conflict checks; `write()` stores it (inside a
    savepoint the engine opens); `import_warnings()` summarises what was written.
    """

    type: ClassVar[str]
    display_name: ClassVar[str] = ""
    icon: ClassVar[str | None] = None

    # -- export --
    def find(self, space: Space) -> Iterable[Any]:
        raise NotImplementedError(".find() must be overridden")

    def get(self, space: Space, object_id: str) -> Any | None:
        raise NotImplementedError(".get() must be overridden")

    def to_export_line(self, obj: Any, ctx: ExportContext) -> dict:
        raise NotImplementedError(".to_export_line() must be overridden")

    def export_references(self, obj: Any) -> list[dict]:
        return []

    def title_of(self, obj: Any) -> str:
        """What `search` matches."""
        return str(getattr(obj, "name", "") or "")

    def import_title(self, attributes: Any) -> str | None:
        """`meta.title` in import results: Kibana's management `getTitle`, else `attributes.title`."""
        title = attributes.get("title") if isinstance(attributes, dict) else None
        return title if isinstance(title, str) else None

    # -- import --
    def prepare(self, raw: dict, line: int, ctx: ImportContext) -> ImportedObject:
        raise NotImplementedError(".prepare() must be overridden")

    def check_id(self, object_id: str) -> None:
        """Raise ObjectError when an object may not keep this id (not called for new copies)."""

    def locate(self, space: Space, object_id: str) -> str | None:
        """`"here"` when the id exists in `space`, `"elsewhere"` when in another space, else None."""
        raise NotImplementedError(".locate() must be overridden")

    def find_by_origin(self, space: Space, origin_id: str) -> list[dict]:
        """Objects of `space` copied from `origin_id` (`[{id, title, updatedAt}]`). Without origin
        tracking there are none; a handler that stores origins returns them."""
        return []

    def write(self, obj: ImportedObject, ctx: ImportContext) -> None:
        """Create (or, when `obj.overwrite`, replace) `obj` under `obj.destination_id or obj.id`."""
        raise NotImplementedError(".write() must be overridden")

    def import_warnings(self, written: list[ImportedObject]) -> list[dict]:
        return []


_handlers: dict[str, SavedObjectHandler] = {}


def register(handler: SavedObjectHandler) -> SavedObjectHandler:
    _handlers[handler.type] = handler
    return handler


def unregister(type_name: str) -> None:
    _handlers.pop(type_name, None)


def handler_for(type_name: str) -> SavedObjectHandler | None:
    return _handlers.get(type_name)


def supported_types() -> list[str]:
    return list(_handlers)


# ---- the `action` handler (connectors) -----------------------------------------------------------


def iso_ms(moment: datetime | None) -> str:
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
        attributes = raw.get("attributes")
        if not isinstance(attributes, dict):
            raise ObjectError.unknown("[attributes]: expected value of type [object]")
        migration = raw.get("migrationVersion")
        from_version = _parse_version(migration.get(self.type)) if isinstance(migration, dict) else None
        if from_version is not None and from_version < (8, 0, 0):
            attributes = _migrate_7x(attributes, from_version)
        name = attributes.get("name")
        type_id = attributes.get("actionTypeId")
        if not isinstance(name, str) or not name.strip():
            raise ObjectError.unknown("[attributes.name]: expected a non-empty string")
        if not isinstance(type_id, str) or not type_id:
            raise ObjectError.unknown("[attributes.actionTypeId]: expected a non-empty string")
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
            raise ObjectError.unknown("[attributes.secrets]: expected value of type [object]")
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
            origin_id=raw.get("originId") if isinstance(raw.get("originId"), str) else None,
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
            for c in Connector.objects.filter(space=space, origin_id=origin_id).order_by("id")
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


# ---- limits --------------------------------------------------------------------------------------


def max_import_payload_bytes() -> int:
    return get_config()["savedObjects.maxImportPayloadBytes"]


def max_import_export_size() -> int:
    return get_config()["savedObjects.maxImportExportSize"]


def payload_too_large(size: int) -> SavedObjectsRequestError | None:
    limit = max_import_payload_bytes()
    if size > limit:
        return SavedObjectsRequestError(
            f"Payload content length greater than maximum allowed: {limit}", status_code=413
        )
    return None


# ---- export --------------------------------------------------------------------------------------


def _as_type_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _search_terms(search: str | None) -> list[str]:
    """Kibana's `search` is a simple_query_string on the title; we match each word (a trailing `*`
    is a prefix, as there) case-insensitively against the words of the title."""
    if not search:
        return []
    return [t.strip('"').lower() for t in search.split() if t.strip('"*')]


def _matches(title: str, terms: list[str]) -> bool:
    if not terms:
        return True
    words = title.lower().split()
    for term in terms:
        if term.endswith("*"):
            if not any(word.startswith(term.rstrip("*")) for word in words):
                return False
        elif term not in words:
            return False
    return True


def export_objects(
    space: Space,
    *,
    types: Any = None,
    objects: list[dict] | None = None,
    include_references_deep: bool = False,
    exclude_export_details: bool = False,
    passphrase: str | None = None,
    search: str | None = None,
) -> list[dict]:
    """The export lines (objects, then the summary unless excluded). Raises SavedObjectsRequestError."""
    type_list = _as_type_list(types)
    objects = objects or []
    if not type_list and not objects:
        raise SavedObjectsRequestError("Either `type` or `objects` are required.")
    if type_list and objects:
        raise SavedObjectsRequestError('Can\'t specify both "types" and "objects" properties when exporting')
    if search is not None and objects:
        raise SavedObjectsRequestError('Can\'t specify both "search" and "objects" properties when exporting')
    limit = max_import_export_size()
    ctx = ExportContext(
        space=space,
        exported_at=datetime.now(UTC),
        passphrase_box=PassphraseBox(passphrase) if passphrase else None,
    )
    roots: list[tuple[SavedObjectHandler, Any]] = []
    if objects:
        if len(objects) > limit:
            raise SavedObjectsRequestError(f"Can't export more than {limit} objects")
        invalid = [o for o in objects if handler_for(o["type"]) is None]
        if invalid:
            names = ", ".join(f"{o['type']}:{o['id']}" for o in invalid)
            raise SavedObjectsRequestError(f"Trying to export object(s) with non-exportable types: {names}")
        fetch_errors = []
        for requested in objects:
            handler = handler_for(requested["type"])
            found = handler.get(space, requested["id"])
            if found is None:
                fetch_errors.append(
                    {
                        "id": requested["id"],
                        "type": requested["type"],
                        "error": {
                            "statusCode": 404,
                            "error": "Not Found",
                            "message": f"Saved object [{requested['type']}/{requested['id']}] not found",
                        },
                    }
                )
            else:
                roots.append((handler, found))
        if fetch_errors:
            raise SavedObjectsRequestError(
                "Error fetching objects to export", attributes={"objects": fetch_errors}
            )
    else:
        if "*" in type_list:
            type_list = supported_types()
        invalid_types = [t for t in type_list if handler_for(t) is None]
        if invalid_types:
            raise SavedObjectsRequestError(
                f"Trying to export non-exportable type(s): {', '.join(invalid_types)}"
            )
        terms = _search_terms(search)
        for type_name in dict.fromkeys(type_list):
            handler = handler_for(type_name)
            roots.extend(
                (handler, obj) for obj in handler.find(space) if _matches(handler.title_of(obj), terms)
            )
            if len(roots) > limit:
                raise SavedObjectsRequestError(
                    f"Can't export more than {limit} objects. If your server has enough memory, this limit "
                    'can be increased by adjusting the "savedObjects.maxImportExportSize" setting.'
                )

    lines: list[dict] = []
    seen: set[tuple[str, str]] = set()
    missing: list[dict] = []
    queue = list(roots)
    while queue:
        handler, obj = queue.pop(0)
        try:
            line = handler.to_export_line(obj, ctx)
        except SecretsUnreadable as exc:
            raise SavedObjectsRequestError(
                f"Unable to export the secrets of [{handler.type}/{getattr(obj, 'id', '')}]: {exc.message}"
            ) from None
        key = (line["type"], line["id"])
        if key in seen:
            continue
        seen.add(key)
        lines.append(line)
        if include_references_deep:
            for ref in handler.export_references(obj):
                ref_key = (ref["type"], ref["id"])
                if ref_key in seen:
                    continue
                ref_handler = handler_for(ref["type"])
                found = ref_handler.get(space, ref["id"]) if ref_handler else None
                if found is None:
                    if {"id": ref["id"], "type": ref["type"]} not in missing:
                        missing.append({"id": ref["id"], "type": ref["type"]})
                else:
                    queue.append((ref_handler, found))
    if not exclude_export_details:
        lines.append(
            {
                "excludedObjects": [],
                "excludedObjectsCount": 0,
                "exportedCount": len(lines),
                "missingRefCount": len(missing),
                "missingReferences": missing,
            }
        )
    return lines


def to_ndjson(lines: Iterable[dict]) -> str:
    """One compact JSON object per line, keys sorted as Kibana's exports show them."""
    return "".join(
        json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines
    )


# ---- import --------------------------------------------------------------------------------------


@dataclass
class ImportOptions:
    overwrite: bool = False
    create_new_copies: bool = False
    compatibility_mode: bool = False
    passphrase: str | None = None

    def check(self) -> None:
        if self.overwrite and self.create_new_copies:
            raise SavedObjectsRequestError("[request query]: cannot use [overwrite] with [createNewCopies]")
        if self.create_new_copies and self.compatibility_mode:
            raise SavedObjectsRequestError(
                "[request query]: cannot use [createNewCopies] with [compatibilityMode]"
            )


@dataclass
class ImportRetry:
    """One entry of `_resolve_import_errors`' `retries`: how to write one object of the file again."""

    type: str
    id: str
    overwrite: bool = False
    destination_id: str | None = None
    replace_references: list[dict] = field(default_factory=list)
    create_new_copy: bool = False
    ignore_missing_references: bool = False


@dataclass
class ParsedLine:
    line: int
    value: Any = None
    problem: str | None = None


def parse_import_file(data: bytes) -> list[ParsedLine]:
    """NDJSON, one object per line; also a kbn_archiver file (pretty JSON objects one after another).
    A line that is not JSON becomes a ParsedLine with `problem`; parsing carries on after it."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [ParsedLine(line=1, problem="the file is not UTF-8 text")]
    decoder = json.JSONDecoder()
    # PostgreSQL cannot store U+0000; in JSON text it can only arrive as the escape (see nul_problem).
    may_hold_nul = "\\u0000" in text
    parsed: list[ParsedLine] = []
    position, length = 0, len(text)
    # Line numbers are counted as we go: counting from the start for every object is quadratic.
    line_no, counted_to = 1, 0
    while position < length:
        while position < length and text[position] in " \t\r\n":
            position += 1
        if position >= length:
            break
        line_no += text.count("\n", counted_to, position)
        counted_to = position
        try:
            value, end = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError) as exc:
            next_newline = text.find("\n", position)
            position = length if next_newline == -1 else next_newline + 1
            problem = (
                f"{exc.msg} (column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else "nested too deeply to read"
            )
            parsed.append(ParsedLine(line=line_no, problem=problem))
            continue
        rest_newline = text.find("\n", end)
        trailing = text[end : length if rest_newline == -1 else rest_newline]
        if trailing.strip():
            position = length if rest_newline == -1 else rest_newline + 1
            parsed.append(ParsedLine(line=line_no, problem="unexpected text after the JSON object"))
            continue
        problem = nul_problem(value, "") if may_hold_nul else None
        parsed.append(ParsedLine(line=line_no, value=None if problem else value, problem=problem))
        position = end
    return parsed


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_export_summary(value: Any) -> bool:
    return isinstance(value, dict) and "exportedCount" in value and "type" not in value


def _error_entry(obj_type: str, obj_id: str, title: str | None, error: dict, **extra) -> dict:
    meta = {"title": title} if title else {}
    return {"id": obj_id, "type": obj_type, "meta": meta, **extra, "error": error}


def import_objects(
    space: Space,
    data: bytes,
    options: ImportOptions,
    *,
    user: str = "",
    retries: dict[tuple[str, str], ImportRetry] | None = None,
) -> dict:
    """Import an export file into `space`; returns Kibana's import response body.

    Raises SavedObjectsRequestError only for what Kibana refuses as a whole (options that exclude each
    other, a file over the size limits); every problem with one object is an entry in `errors`.

    With `retries` (Kibana's `_resolve_import_errors`, see connectors/saved_objects_resolve.py) only
    the objects named there are read from the file, each written as its retry says: `overwrite`,
    `destinationId`, `replaceReferences`, `ignoreMissingReferences`; the global `overwrite` is unused.
    """
    options.check()
    too_large = payload_too_large(len(data))
    if too_large:
        raise too_large
    parsed = [p for p in parse_import_file(data) if not _is_export_summary(p.value)]
    limit = max_import_export_size()
    if len(parsed) > limit:
        raise SavedObjectsRequestError(f"Can't import more than {limit} objects")
    ctx = ImportContext(
        space=space,
        user=user,
        passphrase_box=PassphraseBox(options.passphrase) if options.passphrase else None,
    )

    # (position, entry) so the response lists errors in file order.
    errors: list[tuple[int, dict]] = []
    candidates: list[tuple[ParsedLine, SavedObjectHandler]] = []
    for entry in parsed:
        if entry.problem is not None:
            errors.append(
                (
                    entry.line,
                    _error_entry(
                        "",
                        "",
                        f"Line {entry.line}",
                        {
                            "type": "unknown",
                            "message": f"Line {entry.line} is not a valid saved object: {entry.problem}",
                            "statusCode": 400,
                        },
                    ),
                )
            )
            continue
        value = entry.value
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("type"), str)
            or not isinstance(value.get("id"), str)
            or not value["id"]
        ):
            errors.append(
                (
                    entry.line,
                    _error_entry(
                        _text(value.get("type")) if isinstance(value, dict) else "",
                        _text(value.get("id")) if isinstance(value, dict) else "",
                        f"Line {entry.line}",
                        {
                            "type": "unknown",
                            "message": f"Line {entry.line} is not a saved object: it needs a string `type` and `id`",
                            "statusCode": 400,
                        },
                    ),
                )
            )
            continue
        handler = handler_for(value["type"])
        if handler is None:
            attributes = value.get("attributes") if isinstance(value.get("attributes"), dict) else {}
            title = attributes.get("title")
            errors.append(
                (
                    entry.line,
                    _error_entry(
                        value["type"],
                        value["id"],
                        title if isinstance(title, str) else None,
                        {"type": "unsupported_type"},
                    ),
                )
            )
            continue
        candidates.append((entry, handler))

    if retries is not None:
        # Only the retried objects exist for this call; everything else in the file is ignored.
        candidates = [(e, h) for e, h in candidates if (e.value["type"], e.value["id"]) in retries]
        errors = [(line, err) for line, err in errors if (err["type"], err["id"]) in retries]

    # Duplicates inside the file: no copy is imported, since none can be told to be the right one.
    counts = Counter((entry.value["type"], entry.value["id"]) for entry, _ in candidates)
    prepared: list[ImportedObject] = []
    handlers: dict[str, SavedObjectHandler] = {}
    for entry, handler in candidates:
        raw = entry.value
        key = (raw["type"], raw["id"])
        if counts[key] > 1:
            errors.append(
                (
                    entry.line,
                    _error_entry(
                        raw["type"],
                        raw["id"],
                        handler.import_title(raw.get("attributes")),
                        {
                            "type": "unknown",
                            "message": f"Non-unique import objects detected: [{raw['type']}:{raw['id']}]",
                            "statusCode": 400,
                        },
                    ),
                )
            )
            continue
        try:
            obj = handler.prepare(raw, entry.line, ctx)
        except ObjectError as exc:
            title = handler.import_title(raw.get("attributes"))
            errors.append((entry.line, _error_entry(raw["type"], raw["id"], title, exc.error)))
            continue
        retry = retries.get((obj.type, obj.id)) if retries is not None else None
        if retry is not None and retry.replace_references:
            obj.references = [_replaced(ref, retry.replace_references) for ref in obj.references]
        prepared.append(obj)
        handlers[obj.type] = handler

    # Missing references: neither in the file nor in this space.
    in_file = {(obj.type, obj.id) for obj in prepared}
    ready: list[ImportedObject] = []
    for obj in prepared:
        missing = []
        retry = retries.get((obj.type, obj.id)) if retries is not None else None
        for ref in [] if retry is not None and retry.ignore_missing_references else obj.references:
            ref_key = (ref.get("type"), ref.get("id"))
            if ref_key in in_file:
                continue
            ref_handler = handler_for(ref.get("type"))
            if ref_handler is not None and ref_handler.locate(space, ref.get("id")) == "here":
                continue
            missing.append({"type": ref.get("type"), "id": ref.get("id")})
        if missing:
            errors.append(
                (
                    obj.line,
                    _error_entry(
                        obj.type, obj.id, obj.title, {"type": "missing_references", "references": missing}
                    ),
                )
            )
            continue
        ready.append(obj)

    # Conflicts and destinations.
    to_write: list[ImportedObject] = []
    for obj in ready:
        handler = handlers[obj.type]
        retry = retries.get((obj.type, obj.id)) if retries is not None else None
        overwrite = retry.overwrite if retry is not None else options.overwrite
        chosen_id = retry.destination_id if retry is not None and retry.destination_id != obj.id else None
        if options.create_new_copies and not chosen_id:
            obj.destination_id = str(uuid.uuid4())
            to_write.append(obj)
            continue
        if chosen_id:
            # A retry names the id to write (the UI's "overwrite the copy" or "create a new copy").
            obj.destination_id = chosen_id
            obj.create_new_copy = bool(retry.create_new_copy)
        target_id = obj.destination_id or obj.id
        try:
            handler.check_id(target_id)
        except ObjectError as exc:
            errors.append((obj.line, _error_entry(obj.type, obj.id, obj.title, exc.error)))
            continue
        where = handler.locate(space, target_id)
        if where == "here":
            if overwrite:
                obj.overwrite = True
                to_write.append(obj)
            else:
                error = {"type": "conflict", **({"destinationId": chosen_id} if chosen_id else {})}
                errors.append((obj.line, _error_entry(obj.type, obj.id, obj.title, error)))
            continue
        if chosen_id and where is None:
            to_write.append(obj)
            continue
        # A copy made earlier (same origin) is a conflict, also when the id itself lives in another
        # space: that is how a second copy to a space finds the first (Kibana's checkOriginConflicts).
        if not options.compatibility_mode and not chosen_id:
            origins = handler.find_by_origin(space, obj.origin_id or obj.id)
            if len(origins) > 1:
                errors.append(
                    (
                        obj.line,
                        _error_entry(
                            obj.type,
                            obj.id,
                            obj.title,
                            {"type": "ambiguous_conflict", "destinations": origins},
                        ),
                    )
                )
                continue
            if len(origins) == 1:
                if overwrite:
                    obj.destination_id = origins[0]["id"]
                    obj.overwrite = True
                    to_write.append(obj)
                else:
                    errors.append(
                        (
                            obj.line,
                            _error_entry(
                                obj.type,
                                obj.id,
                                obj.title,
                                {"type": "conflict", "destinationId": origins[0]["id"]},
                            ),
                        )
                    )
                continue
        if where == "elsewhere":
            # The id belongs to another space and cannot be overwritten from here: a new id, as Kibana.
            obj.destination_id = str(uuid.uuid4())
            obj.create_new_copy = True
        to_write.append(obj)

    # Kibana's originId: an object written under a new id remembers where it came from, unless it
    # was asked to be a new copy (createNewCopies, or a retry's createNewCopy).
    for obj in to_write:
        retry = retries.get((obj.type, obj.id)) if retries is not None else None
        if obj.destination_id and obj.destination_id != obj.id:
            omit = options.create_new_copies or (retry is not None and retry.create_new_copy)
            obj.origin_id = None if omit else (obj.origin_id or obj.id)

    # References between objects of this file follow their new ids.
    new_ids = {(obj.type, obj.id): obj.destination_id for obj in to_write if obj.destination_id}
    for obj in to_write:
        obj.references = [
            {**ref, "id": new_ids.get((ref.get("type"), ref.get("id")), ref.get("id"))}
            for ref in obj.references
        ]

    # Write: one savepoint per object, so a failure leaves nothing of that object behind, inside one
    # transaction for the file (one commit; a crash half-way leaves nothing of the import).
    success_results: list[dict] = []
    written: list[ImportedObject] = []
    # Types are written in registration order (connectors before the rules that reference them).
    order = {type_name: index for index, type_name in enumerate(_handlers)}
    to_write.sort(key=lambda obj: (order.get(obj.type, len(order)), obj.line))
    with transaction.atomic():
        _write_all(to_write, handlers, ctx, errors, success_results, written)

    warnings: list[dict] = []
    for type_name, handler in handlers.items():
        warnings.extend(handler.import_warnings([obj for obj in written if obj.type == type_name]))

    ordered_errors = [entry for _, entry in sorted(errors, key=lambda pair: pair[0])]
    body: dict = {
        "successCount": len(success_results),
        "success": not ordered_errors,
        "warnings": warnings,
    }
    if success_results:
        body["successResults"] = success_results
    if ordered_errors:
        body["errors"] = ordered_errors
    return body


def _replaced(ref: dict, replacements: list[dict]) -> dict:
    for replacement in replacements:
        if ref.get("type") == replacement["type"] and ref.get("id") == replacement["from"]:
            return {**ref, "id": replacement["to"]}
    return ref


def _write_all(to_write, handlers, ctx, errors, success_results, written) -> None:
    for obj in to_write:
        handler = handlers[obj.type]
        try:
            with transaction.atomic():
                handler.write(obj, ctx)
        except ObjectError as exc:
            errors.append((obj.line, _error_entry(obj.type, obj.id, obj.title, exc.error)))
            continue
        except SecretsUnreadable as exc:
            errors.append(
                (obj.line, _error_entry(obj.type, obj.id, obj.title, ObjectError.unknown(exc.message).error))
            )
            continue
        except Exception:
            logger.exception("import of %s/%s failed", obj.type, obj.id)
            errors.append(
                (
                    obj.line,
                    _error_entry(
                        obj.type,
                        obj.id,
                        obj.title,
                        {"type": "unknown", "message": "An internal error occurred", "statusCode": 500},
                    ),
                )
            )
            continue
        written.append(obj)
        meta = {"title": obj.title}
        if handler.icon:
            meta["icon"] = handler.icon
        result: dict = {"type": obj.type, "id": obj.id, "meta": meta}
        if obj.overwrite:
            result["overwrite"] = True
        if obj.destination_id:
            result["destinationId"] = obj.destination_id
        if obj.create_new_copy:
            result["createNewCopy"] = True
        result["managed"] = obj.managed
        success_results.append(result)
