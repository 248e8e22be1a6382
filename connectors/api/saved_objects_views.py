"""Kibana's saved-objects export and import routes, for the types `connectors.saved_objects` handles.

Privileges (Kibana's saved-objects management asks the type's own privileges): export needs `read`
in the space (`all` when a passphrase asks for the secrets too, since that hands them over);
import needs `all` (it creates and may overwrite). See docs/saved-objects.md.
"""

from typing import Any

from django.http import HttpResponse, JsonResponse
from rest_framework.parsers import FormParser, MultiPartParser

from connectors.api.base import KibanaView, query_boolean, refuse_unknown_query_keys
from connectors.api.errors import BadRequest, envelope
from connectors.api.parsers import JSONParser
from connectors.saved_objects import (
    ImportOptions,
    SavedObjectsRequestError,
    export_objects,
    import_objects,
    payload_too_large,
    to_ndjson,
)
from connectors.saved_objects.resolve import parse_retries, resolve_import_errors
from connectors.schemas import MISSING, Boolean, Object, SchemaError, type_name

EXPORT_KEYS = {
    "type",
    "objects",
    "hasReference",
    "includeReferencesDeep",
    "excludeExportDetails",
    "search",
    "passphrase",
}
# The export body's own checks follow (Kibana's keys and words); this only reads what is an object.
EXPORT_BODY = Object({}, strict=False)
IMPORT_QUERY_KEYS = {"overwrite", "createNewCopies", "compatibilityMode"}
IMPORT_EXTENSIONS = (".ndjson", ".json")


def request_error_response(exc: SavedObjectsRequestError) -> JsonResponse:
    body = envelope(exc.status_code, exc.message)
    if exc.attributes is not None:
        body["attributes"] = exc.attributes
    return JsonResponse(body, status=exc.status_code)


def ndjson_response(text: str, filename: str = "export.ndjson") -> HttpResponse:
    response = HttpResponse(text, content_type="application/ndjson")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _boolean(body: dict, key: str, where: str = "request body") -> bool:
    """`schema.boolean({defaultValue: false})`, coercing "true"/"false" as config-schema does."""
    try:
        return Boolean(default=False).validate(body.get(key, MISSING), f"{where}.{key}")
    except SchemaError as exc:
        raise BadRequest(str(exc)) from None


def parse_export_body(body: Any) -> dict:
    try:  # config-schema's object: a string is JSON-parsed, anything else not an object refused
        body = EXPORT_BODY.object_input(body, "request body")
    except SchemaError as exc:
        raise BadRequest(str(exc)) from None
    for key in body:
        if key not in EXPORT_KEYS:
            raise BadRequest(f"[request body.{key}]: definition for this key is missing")
    types = body.get("type")
    if types is not None:
        if isinstance(types, str):
            types = [types]
        elif not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise BadRequest(
                f"[request body.type]: expected value of type [string] or [array] of strings "
                f"but got [{type_name(body.get('type'))}]"
            )
    objects = body.get("objects")
    if objects is not None:
        if not isinstance(objects, list):
            raise BadRequest(
                f"[request body.objects]: expected value of type [array] but got [{type_name(objects)}]"
            )
        for index, item in enumerate(objects):
            if not isinstance(item, dict):
                raise BadRequest(
                    f"[request body.objects.{index}]: expected a plain object value, but found "
                    f"[{type_name(item)}] instead."
                )
            for key in ("type", "id"):
                if not isinstance(item.get(key), str):
                    raise BadRequest(
                        f"[request body.objects.{index}.{key}]: expected value of type [string] but got "
                        f"[{type_name(item.get(key, None)) if key in item else 'undefined'}]"
                    )
            extra = set(item) - {"type", "id"}
            if extra:
                raise BadRequest(
                    f"[request body.objects.{index}.{sorted(extra)[0]}]: definition for this key is missing"
                )
    search = body.get("search")
    if search is not None and not isinstance(search, str):
        raise BadRequest(
            f"[request body.search]: expected value of type [string] but got [{type_name(search)}]"
        )
    has_reference = _references(body.get("hasReference"))
    passphrase = body.get("passphrase")
    if passphrase is not None and (not isinstance(passphrase, str) or not passphrase):
        raise BadRequest("[request body.passphrase]: expected a non-empty string")
    return {
        "types": types,
        "objects": objects,
        "include_references_deep": _boolean(body, "includeReferencesDeep"),
        "exclude_export_details": _boolean(body, "excludeExportDetails"),
        "passphrase": passphrase,
        "search": search,
        "has_reference": has_reference,
    }


def _references(value: Any) -> list[dict] | None:
    """Kibana's `hasReference`: one `{type, id}` or an array of them."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    for item in items:
        if (
            not isinstance(item, dict)
            or set(item) != {"type", "id"}
            or not all(isinstance(item[key], str) for key in ("type", "id"))
        ):
            raise BadRequest(
                "[request body.hasReference]: expected a {type, id} object or an array of them "
                f"but got [{type_name(value)}]"
            )
    return [{"type": item["type"], "id": item["id"]} for item in items]


class SavedObjectsExportView(KibanaView):
    parser_classes = [JSONParser]

    def post(self, request):
        options = parse_export_body(request.data)
        if options["passphrase"]:
            self.require(
                "update", "Unable to export action secrets: exporting secrets needs the `all` privilege"
            )
        else:
            self.require("get", "Unable to export action")
        try:
            lines = export_objects(
                self.space,
                types=options["types"],
                objects=options["objects"],
                include_references_deep=options["include_references_deep"],
                exclude_export_details=options["exclude_export_details"],
                passphrase=options["passphrase"],
                search=options["search"],
                has_reference=options["has_reference"],
            )
        except SavedObjectsRequestError as exc:
            return request_error_response(exc)
        return ndjson_response(to_ndjson(lines))


class SavedObjectsImportView(KibanaView):
    parser_classes = [MultiPartParser, FormParser]
    query_keys = IMPORT_QUERY_KEYS
    extensions = IMPORT_EXTENSIONS

    def options(self, request) -> ImportOptions:
        refuse_unknown_query_keys(request.query_params, self.query_keys)
        return ImportOptions(
            overwrite=query_boolean(request.query_params, "overwrite", False),
            create_new_copies=query_boolean(request.query_params, "createNewCopies", False),
            compatibility_mode=query_boolean(request.query_params, "compatibilityMode", False),
        )

    def uploaded_file(self, request) -> bytes:
        """The `file` field's bytes, after Kibana's checks (size, extension); raises the 4xx."""
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        too_large = payload_too_large(declared)
        if too_large:
            raise too_large
        upload = request.data.get("file") if hasattr(request.data, "get") else None
        if upload is None or not hasattr(upload, "read"):
            raise BadRequest("[request body.file]: expected value of type [Stream] but got [undefined]")
        name = (upload.name or "").lower()
        if not name.endswith(self.extensions):
            extension = "." + name.rsplit(".", 1)[1] if "." in name else ""
            raise BadRequest(f"Invalid file extension {extension}")
        too_large = payload_too_large(upload.size or 0)
        if too_large:
            raise too_large
        return upload.read()

    def passphrase(self, request) -> str | None:
        passphrase = request.data.get("passphrase") or None
        return passphrase if isinstance(passphrase, str) else None

    def post(self, request):
        options = self.options(request)
        try:
            options.check()
            self.require("create", "Unable to bulk_create action")
            data = self.uploaded_file(request)
            options.passphrase = self.passphrase(request)
            body = import_objects(self.space, data, options, user=self.username())
        except SavedObjectsRequestError as exc:
            return request_error_response(exc)
        return JsonResponse(body)


class SavedObjectsResolveImportErrorsView(SavedObjectsImportView):
    """`POST /api/saved_objects/_resolve_import_errors`: the `_import` file again, plus `retries`
    (connectors/saved_objects/resolve.py). No `overwrite` query parameter: overwrite is per retry."""

    query_keys = IMPORT_QUERY_KEYS - {"overwrite"}
    extensions = (".ndjson",)  # Kibana's route takes nothing else

    def post(self, request):
        options = self.options(request)
        try:
            options.check()
            self.require("create", "Unable to bulk_create action")
            data = self.uploaded_file(request)
            raw = request.data.get("retries") if hasattr(request.data, "get") else None
            if raw is None:
                raise BadRequest("[request body.retries]: expected value of type [array] but got [undefined]")
            retries = parse_retries(raw)
            body = resolve_import_errors(
                self.space,
                data,
                retries,
                create_new_copies=options.create_new_copies,
                compatibility_mode=options.compatibility_mode,
                passphrase=self.passphrase(request),
                user=self.username(),
            )
        except SavedObjectsRequestError as exc:
            return request_error_response(exc)
        return JsonResponse(body)
