"""Kibana's `_resolve_import_errors` retries: parsing and validating the `retries` field, then the
engine's import restricted to them (`import_objects(..., retries=...)`).

Kibana's rules (src/core/.../import/lib/validate_retries.ts, resolve_import_errors.ts):
- only the objects named in `retries` are read from the file; everything else is ignored;
- each retry carries its own `overwrite`, `destinationId`, `replaceReferences` (rewritten before the
  missing-reference check), `createNewCopy` and `ignoreMissingReferences`;
- a `type:id` named twice is `Non-unique retry objects: [...]`, two retries writing the same
  `(type, destinationId)` is `Non-unique retry destinations: [...]`, both a 400 before anything runs.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from connectors.models import Space
from connectors.saved_objects import (
    ImportOptions,
    ImportRetry,
    SavedObjectsRequestError,
    import_objects,
    parse_import_file,
)
from connectors.schemas import MISSING, type_name

MAX_RETRIES = 10_000
MAX_REPLACE_REFERENCES = 100
RETRY_KEYS = {
    "type",
    "id",
    "overwrite",
    "destinationId",
    "replaceReferences",
    "createNewCopy",
    "ignoreMissingReferences",
}


def _fail(where: str, message: str) -> SavedObjectsRequestError:
    return SavedObjectsRequestError(f"[{where}]: {message}")


def _expect(value: Any, kind: type, name: str, where: str) -> None:
    if not isinstance(value, kind):
        raise _fail(where, f"expected value of type [{name}] but got [{type_name(value)}]")


def parse_retries(
    raw: Any, where: str = "request body.retries", keys: set[str] = RETRY_KEYS
) -> dict[tuple[str, str], ImportRetry]:
    """`retries` as sent (a JSON string in multipart, or a list) -> retries by `(type, id)`."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise _fail(where, "could not parse array value from json input") from None
    _expect(raw, list, "array", where)
    if len(raw) > MAX_RETRIES:
        raise _fail(where, f"array size is [{len(raw)}], but cannot be greater than [{MAX_RETRIES}]")
    retries: list[ImportRetry] = []
    for index, item in enumerate(raw):
        here = f"{where}.{index}"
        if not isinstance(item, dict):
            raise _fail(here, f"expected a plain object value, but found [{type_name(item)}] instead.")
        for key in item:
            if key not in keys:
                raise _fail(f"{here}.{key}", "definition for this key is missing")
        for key in ("type", "id"):
            if key not in item:
                raise _fail(f"{here}.{key}", "expected value of type [string] but got [undefined]")
            _expect(item[key], str, "string", f"{here}.{key}")
        for key in ("overwrite", "createNewCopy", "ignoreMissingReferences"):
            if key in item:
                _expect(item[key], bool, "boolean", f"{here}.{key}")
        if "destinationId" in item:
            _expect(item["destinationId"], str, "string", f"{here}.destinationId")
        replacements = item.get("replaceReferences", [])
        _expect(replacements, list, "array", f"{here}.replaceReferences")
        if len(replacements) > MAX_REPLACE_REFERENCES:
            raise _fail(
                f"{here}.replaceReferences",
                f"array size is [{len(replacements)}], but cannot be greater than [{MAX_REPLACE_REFERENCES}]",
            )
        for r_index, replacement in enumerate(replacements):
            r_here = f"{here}.replaceReferences.{r_index}"
            if not isinstance(replacement, dict):
                raise _fail(
                    r_here, f"expected a plain object value, but found [{type_name(replacement)}] instead."
                )
            for key in replacement:
                if key not in ("type", "from", "to"):
                    raise _fail(f"{r_here}.{key}", "definition for this key is missing")
            for key in ("type", "from", "to"):
                _expect(replacement.get(key, MISSING), str, "string", f"{r_here}.{key}")
        retries.append(
            ImportRetry(
                type=item["type"],
                id=item["id"],
                overwrite=item.get("overwrite", False),
                destination_id=item.get("destinationId"),
                replace_references=[{k: r[k] for k in ("type", "from", "to")} for r in replacements],
                create_new_copy=item.get("createNewCopy", False),
                ignore_missing_references=item.get("ignoreMissingReferences", False),
            )
        )
    validate_retries(retries)
    return {(retry.type, retry.id): retry for retry in retries}


def _non_unique(keys: list[str]) -> list[str]:
    counts = Counter(keys)
    return [key for key in counts if counts[key] > 1]


def validate_retries(retries: list[ImportRetry]) -> None:
    objects = _non_unique([f"{r.type}:{r.id}" for r in retries])
    if objects:
        raise SavedObjectsRequestError(f"Non-unique retry objects: [{','.join(objects)}]")
    destinations = _non_unique([f"{r.type}:{r.destination_id}" for r in retries if r.destination_id])
    if destinations:
        raise SavedObjectsRequestError(f"Non-unique retry destinations: [{','.join(destinations)}]")


def resolve_import_errors(
    space: Space,
    data: bytes,
    retries: dict[tuple[str, str], ImportRetry],
    *,
    create_new_copies: bool = False,
    compatibility_mode: bool = False,
    passphrase: str | None = None,
    user: str = "",
) -> dict:
    """Write the retried objects of `data` into `space`; Kibana's response body (as `_import`'s)."""
    options = ImportOptions(
        create_new_copies=create_new_copies, compatibility_mode=compatibility_mode, passphrase=passphrase
    )
    options.check()
    # Kibana's route parses the whole stream before anything else: text that is not JSON is a 400,
    # on any line (`_import` here answers per-line errors instead: docs/reliability.md).
    for entry in parse_import_file(data):
        if entry.unparsable:
            raise SavedObjectsRequestError(f"Unexpected token in JSON at line {entry.line}: {entry.problem}")
    if not retries:
        return {"successCount": 0, "success": True, "warnings": []}
    return import_objects(space, data, options, user=user, retries=retries)
