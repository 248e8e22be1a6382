"""Admin pages for saved objects: Import (file, conflict mode, passphrase → per-object results) and
Export (space, types, passphrase → NDJSON download), plus `export_connectors_response()` for the
connector list's "Export" bulk action. Mounted at `admin/saved-objects/` behind the admin login; the
same per-space privileges as the API apply (import needs `all`, export `read`, secrets `all`).
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import UTC, datetime

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.debug import sensitive_post_parameters

from connectors import privileges
from connectors.admin.spaces import in_space
from connectors.fields import open_sealed, seal
from connectors.models import Connector, Space
from connectors.saved_objects import (
    ExportContext,
    ImportOptions,
    ImportRetry,
    SavedObjectsRequestError,
    export_objects,
    import_objects,
    payload_too_large,
    supported_types,
    to_ndjson,
)
from connectors.saved_objects.action_handler import ConnectorHandler
from connectors.saved_objects.passphrase import PassphraseBox
from connectors.saved_objects.resolve import resolve_import_errors

MODES = [
    ("check", "Check for existing objects: report conflicts, import nothing over them"),
    ("overwrite", "Check for existing objects and overwrite them"),
    ("copies", "Create new objects with random IDs"),
]


def export_connectors_response(connectors, passphrase: str | None = None) -> HttpResponse:
    """An NDJSON download of these connectors (any spaces), Kibana's export format, with the summary
    line. With a passphrase their secrets travel encrypted; without one, as in Kibana, never."""
    handler = ConnectorHandler()
    ctx = ExportContext(
        space=None,
        exported_at=datetime.now(UTC),
        passphrase_box=PassphraseBox(passphrase) if passphrase else None,
    )
    lines = [
        handler.to_export_line(c, ctx)
        for c in sorted(connectors, key=lambda c: (c.name, c.id))
        if not getattr(c, "is_preconfigured", False)
    ]
    lines.append(
        {
            "excludedObjects": [],
            "excludedObjectsCount": 0,
            "exportedCount": len(lines),
            "missingRefCount": 0,
            "missingReferences": [],
        }
    )
    response = HttpResponse(to_ndjson(lines), content_type="application/ndjson")
    response["Content-Disposition"] = 'attachment; filename="export.ndjson"'
    return response


def _spaces_with(user, minimum: str) -> list[Space]:
    wanted = {"all"} if minimum == "all" else {"all", "read"}
    return [s for s in Space.objects.order_by("name") if privileges.privilege_for(user, s.id) in wanted]


class ImportForm(forms.Form):
    file = forms.FileField(help_text="An .ndjson export from Kibana or from here.")
    space = forms.ChoiceField()
    mode = forms.ChoiceField(choices=MODES, initial="check", widget=forms.RadioSelect)
    compatibility_mode = forms.BooleanField(
        required=False, help_text="Kibana's compatibilityMode; cannot be combined with new copies."
    )
    passphrase = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput,
        help_text="Only if the file was exported with a passphrase: restores the connectors' secrets.",
    )

    def __init__(self, *args, spaces, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["space"].choices = [(s.id, f"{s.name} ({s.id})") for s in spaces]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("mode") == "copies" and cleaned.get("compatibility_mode"):
            raise forms.ValidationError("Compatibility mode cannot be combined with new copies.")
        return cleaned


class ExportForm(forms.Form):
    space = forms.ChoiceField()
    types = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    include_references_deep = forms.BooleanField(required=False, label="Include related objects")
    passphrase = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput,
        help_text="Optional. With a passphrase the connectors' secrets travel in the file, encrypted; "
        "without one they stay here, as in Kibana. Needs the `all` privilege.",
    )

    def __init__(self, *args, spaces, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["space"].choices = [(s.id, f"{s.name} ({s.id})") for s in spaces]
        self.fields["types"].choices = [(t, t) for t in supported_types()]
        self.fields["types"].initial = supported_types()


def _connector_url(connector_id: str, space_id: str) -> str | None:
    """The imported connector's page, naming the space it was imported into (not always the header's)."""
    try:
        return in_space(reverse("admin:connectors_connector_change", args=[connector_id]), space_id)
    except NoReverseMatch:
        return None


def _connectors_list_url(space_id: str | None = None) -> str | None:
    try:
        url = reverse("admin:connectors_connector_changelist")
    except NoReverseMatch:
        return None
    return in_space(url, space_id) if space_id else url


def _rule_types(data: bytes) -> dict[str, str]:
    """Rule id -> its rule type (`alertTypeId`), read from the uploaded NDJSON, so an unsupported
    rule can be named by its type (`.geo-containment`), which is what the person can act on."""
    types = {}
    for line in data.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("type") == "alert":
            attributes = value.get("attributes") if isinstance(value.get("attributes"), dict) else {}
            if isinstance(attributes.get("alertTypeId"), str):
                types[str(value.get("id"))] = attributes["alertTypeId"]
    return types


def _rows(result: dict, space_id: str, data: bytes = b"") -> list[dict]:
    """Per-object rows for the results table."""
    rows = []
    rule_types = _rule_types(data) if result.get("errors") else {}
    for item in result.get("successResults", []):
        target = item.get("destinationId") or item["id"]
        rows.append(
            {
                "ok": True,
                "type": item["type"],
                "id": item["id"],
                "title": item.get("meta", {}).get("title", ""),
                "outcome": "Overwritten" if item.get("overwrite") else "Created",
                "destination_id": item.get("destinationId", ""),
                "url": _connector_url(target, space_id) if item["type"] == "action" else None,
            }
        )
    for item in result.get("errors", []):
        error = item["error"]
        if error["type"] == "unsupported_type" and item["id"] in rule_types:
            detail = f"Unsupported type: rule type {rule_types[item['id']]} is not available here."
        elif error["type"] == "unsupported_type":
            detail = f"Unsupported type: {item['type']} objects cannot be imported here."
        elif error["type"] == "conflict":
            detail = "Conflict: an object with this id already exists" + (
                f" ({error['destinationId']})." if error.get("destinationId") else "."
            )
        elif error["type"] == "ambiguous_conflict":
            detail = "Ambiguous conflict: several objects were copied from this one."
        elif error["type"] == "missing_references":
            refs = ", ".join(f"{r['type']}/{r['id']}" for r in error["references"])
            detail = f"Missing references: {refs}"
        else:
            detail = error.get("message", "")
        rows.append(
            {
                "ok": False,
                "type": item["type"],
                "id": item["id"],
                "title": item.get("meta", {}).get("title", ""),
                "outcome": error["type"],
                "detail": detail,
            }
        )
    return rows


# ---- conflicts: choose per object instead of importing the whole file again ------------------------
#
# After an import with conflicts the page lists them with a choice each (overwrite / new copy /
# skip) and resolves them with the engine's `_resolve_import_errors` path, which writes only the
# objects chosen. The file is kept for that second step in the user's session, sealed with the
# secrets keys (it may hold plaintext secrets) and bound to a random token; the passphrase is not
# kept and is asked again when the file carries encrypted secrets.

PENDING_SESSION_KEY = "saved_objects_pending_import"
CONFLICT_TYPES = ("conflict", "ambiguous_conflict")


def _keep_pending(request, data: bytes, space: Space, options: ImportOptions, result: dict) -> dict | None:
    conflicts = [e for e in result.get("errors", []) if e["error"]["type"] in CONFLICT_TYPES]
    if not conflicts:
        request.session.pop(PENDING_SESSION_KEY, None)
        return None
    token = secrets.token_urlsafe(16)
    request.session[PENDING_SESSION_KEY] = {
        "token": token,
        "space": space.id,
        "create_new_copies": options.create_new_copies,
        "compatibility_mode": options.compatibility_mode,
        "file": seal({"file": base64.b64encode(data).decode()}, connector_id=token, type_id="admin-import"),
        "conflicts": [
            {
                "type": e["type"],
                "id": e["id"],
                "title": e.get("meta", {}).get("title", ""),
                "destinationId": e["error"].get("destinationId"),
                "destinations": [
                    {"id": d["id"], "title": d.get("title", "")} for d in e["error"].get("destinations", [])
                ],
            }
            for e in conflicts
        ],
        "encrypted": b'"encryptedSecrets"' in data,
    }
    stored = request.session[PENDING_SESSION_KEY]
    return {"token": token, "conflicts": stored["conflicts"], "encrypted": stored["encrypted"]}


def _choice_field(index: int) -> str:
    return f"conflict-{index}"


def _retries_from_choices(post, conflicts: list[dict]) -> dict[tuple[str, str], ImportRetry]:
    """Kibana's UI: an overwrite names the object it replaces; a new copy gets a fresh id; a skipped
    object is simply not sent."""
    retries = {}
    for index, conflict in enumerate(conflicts):
        choice = post.get(_choice_field(index), "skip")
        key = (conflict["type"], conflict["id"])
        if choice == "copy":
            retries[key] = ImportRetry(*key, destination_id=str(uuid.uuid4()), create_new_copy=True)
        elif choice.startswith("overwrite"):
            destination = choice.partition(":")[2] or conflict.get("destinationId")
            allowed = {d["id"] for d in conflict["destinations"]} | {conflict.get("destinationId")}
            retries[key] = ImportRetry(
                *key, overwrite=True, destination_id=destination if destination in allowed else None
            )
    return retries


def _resolve_pending(request, context: dict) -> TemplateResponse | None:
    pending = request.session.get(PENDING_SESSION_KEY)
    if not pending or request.POST.get("pending") != pending["token"]:
        return None
    space = Space.objects.filter(pk=pending["space"]).first()
    if space is None or privileges.privilege_for(request.user, space.id) != "all":
        raise PermissionDenied("Importing saved objects needs the `all` privilege in the space.")
    data = base64.b64decode(
        open_sealed(pending["file"], connector_id=pending["token"], type_id="admin-import")["file"]
    )
    retries = _retries_from_choices(request.POST, pending["conflicts"])
    options = ImportOptions(
        create_new_copies=pending["create_new_copies"], compatibility_mode=pending["compatibility_mode"]
    )
    result = resolve_import_errors(
        space,
        data,
        retries,
        create_new_copies=options.create_new_copies,
        compatibility_mode=options.compatibility_mode,
        passphrase=request.POST.get("passphrase") or None,
        user=request.user.get_username(),
    )
    skipped = len(pending["conflicts"]) - len(retries)
    context.update(
        {
            "result": result,
            "rows": _rows(result, space.id, data),
            "connectors_url": _connectors_list_url(space.id),
            "space": space,
            "resolved": True,
            "skipped": skipped,
            "pending": _keep_pending(request, data, space, options, result),
        }
    )
    return None


@sensitive_post_parameters("passphrase")
def import_view(request):
    spaces = _spaces_with(request.user, "all")
    if not spaces:
        raise PermissionDenied("Importing saved objects needs the `all` privilege in a space.")
    context = {
        **admin.site.each_context(request),
        "title": "Import saved objects",
        "connectors_url": _connectors_list_url(),
    }
    if request.method == "POST" and "_resolve" in request.POST:
        _resolve_pending(request, context)
        context["form"] = ImportForm(spaces=spaces)
        if "result" not in context:
            context["resolve_error"] = "That import is no longer pending; upload the file again."
        return TemplateResponse(request, "admin/saved_objects/import.html", context)
    form = ImportForm(request.POST or None, request.FILES or None, spaces=spaces)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        space = Space.objects.get(pk=form.cleaned_data["space"])
        mode = form.cleaned_data["mode"]
        options = ImportOptions(
            overwrite=mode == "overwrite",
            create_new_copies=mode == "copies",
            compatibility_mode=form.cleaned_data["compatibility_mode"],
            passphrase=form.cleaned_data["passphrase"] or None,
        )
        problem = payload_too_large(upload.size or 0)
        if problem is None:
            data = upload.read()
            try:
                result = import_objects(space, data, options, user=request.user.get_username())
            except SavedObjectsRequestError as exc:
                problem = exc
        if problem is not None:
            form.add_error("file", problem.message)
        else:
            context.update(
                {
                    "result": result,
                    "rows": _rows(result, space.id, data),
                    "connectors_url": _connectors_list_url(space.id),
                    "space": space,
                    "pending": _keep_pending(request, data, space, options, result),
                }
            )
    context["form"] = form
    return TemplateResponse(request, "admin/saved_objects/import.html", context)


class SelectionExportForm(forms.Form):
    passphrase = ExportForm.base_fields["passphrase"]


def export_selection_url(connectors) -> str:
    """The Export page for these connectors (for a bulk action that wants the passphrase option)."""
    ids = ",".join(c.id for c in connectors)
    return reverse("saved_objects:export") + f"?ids={ids}"


def _selection_view(request, ids: list[str], spaces: list[Space]):
    readable = {s.id for s in spaces}
    selection = list(Connector.objects.filter(pk__in=ids, space_id__in=readable).order_by("name", "id"))
    form = SelectionExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        passphrase = form.cleaned_data["passphrase"] or None
        if passphrase and any(privileges.privilege_for(request.user, c.space_id) != "all" for c in selection):
            form.add_error(
                "passphrase", "Exporting secrets needs the `all` privilege in every space involved."
            )
        else:
            return export_connectors_response(selection, passphrase=passphrase)
    context = {
        **admin.site.each_context(request),
        "title": "Export selected connectors",
        "form": form,
        "selection": selection,
    }
    return TemplateResponse(request, "admin/saved_objects/export.html", context)


@sensitive_post_parameters("passphrase")
def export_view(request):
    spaces = _spaces_with(request.user, "read")
    if not spaces:
        raise PermissionDenied("Exporting saved objects needs the `read` privilege in a space.")
    ids = [i for i in request.GET.get("ids", "").split(",") if i]
    if ids:
        return _selection_view(request, ids, spaces)
    form = ExportForm(request.POST or None, spaces=spaces)
    if request.method == "POST" and form.is_valid():
        space = Space.objects.get(pk=form.cleaned_data["space"])
        passphrase = form.cleaned_data["passphrase"] or None
        if passphrase and privileges.privilege_for(request.user, space.id) != "all":
            form.add_error("passphrase", "Exporting secrets needs the `all` privilege in this space.")
        else:
            try:
                lines = export_objects(
                    space,
                    types=form.cleaned_data["types"],
                    include_references_deep=form.cleaned_data["include_references_deep"],
                    passphrase=passphrase,
                )
            except SavedObjectsRequestError as exc:
                form.add_error(None, exc.message)
            else:
                response = HttpResponse(to_ndjson(lines), content_type="application/ndjson")
                response["Content-Disposition"] = 'attachment; filename="export.ndjson"'
                return response
    context = {
        **admin.site.each_context(request),
        "title": "Export saved objects",
        "form": form,
        "connector_count": Connector.objects.filter(space_id__in=[s.id for s in spaces]).count(),
    }
    return TemplateResponse(request, "admin/saved_objects/export.html", context)


app_name = "saved_objects"
urlpatterns = [
    path("import/", admin.site.admin_view(import_view), name="import"),
    path("export/", admin.site.admin_view(export_view), name="export"),
]
