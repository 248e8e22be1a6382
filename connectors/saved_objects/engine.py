"""Kibana saved-object export and import (NDJSON), the same way for every type a handler registers.

The engine does what is common to every type: parsing the file, the per-object errors
(`unsupported_type`, `conflict`, `ambiguous_conflict`, `missing_references`, `unknown`), the three
conflict modes, id regeneration and reference rewriting, the summary line, and one savepoint per
object so a failure never leaves half an object behind. What differs per type is a handler's
(connectors.saved_objects.contract).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from connectors.conf import get_config
from connectors.exceptions import SecretsUnreadable
from connectors.models import Space
from connectors.saved_objects.contract import (
    ExportContext,
    ImportContext,
    ImportedObject,
    ObjectError,
    SavedObjectHandler,
    SavedObjectsRequestError,
    handler_for,
    supported_types,
)
from connectors.saved_objects.passphrase import PassphraseBox
from connectors.schemas import may_hold_unstorable, unstorable_problem

logger = logging.getLogger("connectors.saved_objects")


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


def _references_any(handler: SavedObjectHandler, obj: Any, wanted: set[tuple[str, str]]) -> bool:
    if not wanted:
        return True
    return any((ref["type"], ref["id"]) in wanted for ref in handler.export_references(obj))


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
    has_reference: list[dict] | None = None,
) -> list[dict]:
    """The export lines (objects, then the summary unless excluded). Raises SavedObjectsRequestError.

    `has_reference` ({type, id} items) keeps, of an export by type, the objects that reference any of
    them (Kibana's default `OR`), as Kibana's `hasReference` does."""
    type_list = _as_type_list(types)
    objects = objects or []
    if not type_list and not objects:
        raise SavedObjectsRequestError("Either `type` or `objects` are required.")
    if type_list and objects:
        raise SavedObjectsRequestError('Can\'t specify both "types" and "objects" properties when exporting')
    if search is not None and objects:
        raise SavedObjectsRequestError('Can\'t specify both "search" and "objects" properties when exporting')
    if has_reference and objects:
        raise SavedObjectsRequestError(
            'Can\'t specify both "references" and "objects" properties when exporting'
        )
    wanted_references = {(ref["type"], ref["id"]) for ref in has_reference or []}
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
                (handler, obj)
                for obj in handler.find(space)
                if _matches(handler.title_of(obj), terms) and _references_any(handler, obj, wanted_references)
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
    unparsable: bool = False  # not JSON at all (Kibana's stream parser throws on it)


def parse_import_file(data: bytes) -> list[ParsedLine]:
    """NDJSON, one object per line; also a kbn_archiver file (pretty JSON objects one after another).
    A line that is not JSON becomes a ParsedLine with `problem`; parsing carries on after it."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [ParsedLine(line=1, problem="the file is not UTF-8 text", unparsable=True)]
    decoder = json.JSONDecoder()
    # U+0000 and lone surrogates cannot be stored; in JSON text they only arrive as escapes
    # (see unstorable_problem).
    may_hold_nul = may_hold_unstorable(text)
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
            parsed.append(ParsedLine(line=line_no, problem=problem, unparsable=True))
            continue
        rest_newline = text.find("\n", end)
        trailing = text[end : length if rest_newline == -1 else rest_newline]
        if trailing.strip():
            position = length if rest_newline == -1 else rest_newline + 1
            parsed.append(
                ParsedLine(line=line_no, problem="unexpected text after the JSON object", unparsable=True)
            )
            continue
        problem = unstorable_problem(value, "") if may_hold_nul else None
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

    With `retries` (Kibana's `_resolve_import_errors`, see connectors/saved_objects/resolve.py) only
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
        obj.ignore_missing_references = retry is not None and retry.ignore_missing_references
        for ref in [] if obj.ignore_missing_references else obj.references:
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
    order = {type_name: index for index, type_name in enumerate(supported_types())}
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
