"""Kibana saved-object export and import (NDJSON), for every importable type through one registry.

- `engine`: what every type shares (parsing, per-object errors, conflict modes, id regeneration,
  reference rewriting, the summary line, one savepoint per object): `export_objects`,
  `import_objects`, `parse_import_file`, `to_ndjson`.
- `contract`: the handler a type implements, the registry of handlers, and the two errors.
- `action_handler`: the `action` type (connectors) and its 7.x migrations.
- `passphrase`: beyond Kibana, secrets sealed with a passphrase in an export (`encryptedSecrets`).
- `resolve`: `_resolve_import_errors` retries, on top of the engine's import.

Types: `action` (connectors, registered here) and `alert` (rules: `actions.saved_objects.RuleHandler`,
registered from the actions app's `ready()`). Any other type is reported as `unsupported_type`, as
Kibana reports a type it cannot import.
"""

from connectors.saved_objects import action_handler  # noqa: F401 -- registers the `action` type
from connectors.saved_objects.contract import (
    ExportContext,
    ImportContext,
    ImportedObject,
    ObjectError,
    SavedObjectHandler,
    SavedObjectsRequestError,
    attributes_of,
    check_fields,
    checked,
    handler_for,
    register,
    supported_types,
    unregister,
)
from connectors.saved_objects.engine import (
    ImportOptions,
    ImportRetry,
    ParsedLine,
    export_objects,
    import_objects,
    max_import_export_size,
    max_import_payload_bytes,
    parse_import_file,
    payload_too_large,
    to_ndjson,
)

__all__ = [
    "ExportContext",
    "ImportContext",
    "ImportOptions",
    "ImportRetry",
    "ImportedObject",
    "ObjectError",
    "ParsedLine",
    "SavedObjectHandler",
    "SavedObjectsRequestError",
    "attributes_of",
    "check_fields",
    "checked",
    "export_objects",
    "handler_for",
    "import_objects",
    "max_import_export_size",
    "max_import_payload_bytes",
    "parse_import_file",
    "payload_too_large",
    "register",
    "supported_types",
    "to_ndjson",
    "unregister",
]
