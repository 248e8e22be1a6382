"""Kibana's copy to space (`_copy_saved_objects`, `_resolve_copy_saved_objects_errors`): as Kibana
does it, an export from the source space followed by an import into each target space, through the
saved-objects engine and its handler registry (connectors, and rules registered by `actions`).

The export is made without a passphrase, so copied connectors arrive without their secrets and are
flagged `isMissingSecrets` exactly as a file import flags them; they must be given secrets again in
the target space. Per space the answer is `{success, successCount, successResults?, errors?}`.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.models import Space
from connectors.saved_objects import (
    ImportOptions,
    ImportRetry,
    SavedObjectsRequestError,
    export_objects,
    import_objects,
    to_ndjson,
)


class SourceObjectsNotFound(SavedObjectsRequestError):
    def __init__(self, objects: list[dict]):
        super().__init__("Saved objects not found", 404, {"objects": objects})


def export_for_copy(source: Space, objects: list[dict], include_references: bool) -> bytes:
    """The NDJSON the target spaces import: the objects (and what they use, on request), no secrets."""
    try:
        lines = export_objects(
            source, objects=objects, include_references_deep=include_references, exclude_export_details=True
        )
    except SavedObjectsRequestError as exc:
        fetch_errors = (exc.attributes or {}).get("objects")
        if fetch_errors:
            raise SourceObjectsNotFound([{"id": o["id"], "type": o["type"]} for o in fetch_errors]) from None
        raise
    return to_ndjson(lines).encode()


def space_failure(status_code: int, error: str, message: str) -> dict:
    return {
        "success": False,
        "successCount": 0,
        "errors": [{"statusCode": status_code, "error": error, "message": message}],
    }


def copy_into_spaces(
    data: bytes,
    space_ids: list[str],
    options: ImportOptions,
    *,
    may_write: Callable[[str], bool],
    user: str = "",
    retries: dict[str, dict[tuple[str, str], ImportRetry]] | None = None,
) -> dict:
    """Import `data` into each space; a space the caller may not write to (or that does not exist,
    which such a caller must not learn) fails on its own, the others go ahead."""
    result = {}
    for space_id in space_ids:
        if not may_write(space_id):
            result[space_id] = space_failure(403, "Forbidden", "Unable to bulk_create action")
            continue
        target = Space.objects.filter(pk=space_id).first()
        if target is None:
            result[space_id] = space_failure(404, "Not Found", f"Saved object [space/{space_id}] not found")
            continue
        space_retries = retries.get(space_id) if retries is not None else None
        if retries is not None and not space_retries:
            result[space_id] = {"success": True, "successCount": 0}
            continue
        body = import_objects(target, data, options, user=user, retries=space_retries)
        answer = {"success": body["success"], "successCount": body["successCount"]}
        for key in ("successResults", "errors"):
            if body.get(key):
                answer[key] = body[key]
        result[space_id] = answer
    return result
