"""What a saved-object type plugs into the engine: the handler contract, the registry of handlers,
and the two errors (a refused request, a refused object)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from connectors.models import Space
from connectors.saved_objects.passphrase import PassphraseBox
from connectors.schemas import Field, Object, SchemaError

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


def check_fields(checks: Iterable[tuple[str, Any, Field]]) -> None:
    """`(path, value, field)`: each value as the routes check it (`MISSING` when the key is absent),
    for what a handler stores in a column of limited length. A longer value is the routes' maxLength
    message for this object alone, where PostgreSQL would refuse the write (an internal error and a
    logged traceback) and SQLite would store it."""
    for path, value, schema in checks:
        checked(path, value, schema)


def checked(path: str, value: Any, schema: Field) -> Any:
    """`value` as `schema` reads it; a failure is this object's error, in config-schema's words."""
    try:
        return schema.validate(value, path)
    except SchemaError as exc:
        raise ObjectError.unknown(str(exc)) from None


# Kibana validates an imported object against its type's saved-object schema, whose `attributes`
# is a schema.object (rawConnectorSchema, rawRuleSchema): only its object-ness is read here.
_ATTRIBUTES = Object({}, strict=False)


def attributes_of(raw: dict) -> dict:
    """The object's `attributes` as config-schema's object reads them: absent is {}, JSON text is
    parsed, and what is not an object is refused in its words (`expected a plain object value ...`)."""
    attributes = raw.get("attributes", {})
    if isinstance(attributes, dict):
        return attributes
    try:
        return _ATTRIBUTES.object_input(attributes, "attributes")
    except SchemaError as exc:
        raise ObjectError.unknown(str(exc)) from None


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
    # A retry's `ignoreMissingReferences`: written even if what it references is not here.
    ignore_missing_references: bool = False


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
        """Objects of `space` that are `origin_id` itself or were copied from it (`[{id, title,
        updatedAt}]`, by id), as Kibana's origin check searches both `id` and `originId`: a copy
        imported back into its source space then meets the original. Without origin tracking there
        are none; a handler that stores origins returns them."""
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
