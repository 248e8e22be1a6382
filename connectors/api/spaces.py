"""Kibana's spaces API: `GET/POST /api/spaces/space`, `GET/PUT/DELETE /api/spaces/space/{id}`.

Bodies, codes and messages follow Kibana's spaces plugin. Who may do what:
- create, update and delete need the global "manage spaces" right, which only superusers have here
  (403 `Unauthorized to create spaces` / `... update spaces` / `... delete spaces` otherwise);
- list shows the spaces where the caller has any privilege (403 `Forbidden` when there are none);
- get needs a privilege in that space (403 `Unauthorized to get <id> space`), checked before the
  lookup, so an unprivileged caller cannot probe which spaces exist.
Deleting a space deletes everything in it (its connectors, privileges and other space-owned rows).
"""

import re

from django.db import IntegrityError, transaction
from rest_framework.response import Response

from connectors import privileges
from connectors.api import openapi as oas
from connectors.api.base import KibanaView, api_unauthorized, query_boolean, request_body, validate_body
from connectors.api.errors import BadRequest, Conflict, Forbidden, NotFound
from connectors.api.saved_objects_views import request_error_response
from connectors.copy_to_space import copy_into_spaces, export_for_copy
from connectors.models import Space
from connectors.saved_objects import ImportOptions, SavedObjectsRequestError
from connectors.saved_objects.resolve import parse_retries
from connectors.schemas import Any_, Array, Boolean, Enum, Object, Record, String, type_name

# `\Z`, not `$`: Python's `$` also matches before a final newline, JavaScript's (Kibana's) does not.
SPACE_ID_RE = re.compile(r"^[a-z0-9_\-]+\Z")
COLOR_RE = re.compile(r"^#[a-zA-Z0-9]{6}\Z")
MAX_SPACE_INITIALS = 2
# Kibana sets no length on these; our columns do (Space.id, Space.name): PostgreSQL refuses a longer
# value with a 500 and SQLite stores it, so the route says so first, the same on every database.
SPACE_ID_MAX_LENGTH = 255
SPACE_NAME_MAX_LENGTH = 1024
SOLUTIONS = ("security", "oblt", "es", "classic")
# `?purpose=`: which authorization check filters the list. `authorizedPurposes` also has findSavedObjects.
PURPOSES = ("any", "copySavedObjectsIntoSpace", "shareSavedObjectsIntoSpace")
AUTHORIZED_PURPOSES = ("any", "copySavedObjectsIntoSpace", "findSavedObjects", "shareSavedObjectsIntoSpace")
MAX_LEGACY_ALIASES = 1000


def _space_id_problem(value) -> str | None:
    if not isinstance(value, str):
        return f"expected value of type [string] but got [{type_name(value)}]"
    if not SPACE_ID_RE.match(value):
        return "must be lower case, a-z, 0-9, '_', and '-' are allowed"
    if len(value) > SPACE_ID_MAX_LENGTH:
        return (
            f"value has length [{len(value)}] but it must have a maximum length of [{SPACE_ID_MAX_LENGTH}]."
        )
    return None


def _color_problem(value) -> str | None:
    if not isinstance(value, str):
        return f"expected value of type [string] but got [{type_name(value)}]"
    if not COLOR_RE.match(value):
        return "must be a 6 digit hex color, starting with a #"
    return None


def _image_url_problem(value) -> str | None:
    if value != "" and not value.startswith("data:image"):
        return "must start with 'data:image'"
    return None


SPACE_BODY = Object(
    {
        "id": String(validator=_space_id_problem),
        "name": String(min_length=1, max_length=SPACE_NAME_MAX_LENGTH),
        "description": String(default=None),
        "initials": String(max_length=MAX_SPACE_INITIALS, default=None),
        "color": Any_(validator=_color_problem, default=None),
        "disabledFeatures": Array(String(), max_size=100, default=list),
        "_reserved": Boolean(default=None),
        "imageUrl": String(validator=_image_url_problem, default=None),
        "solution": Enum(SOLUTIONS, default=None),
    }
)


def space_to_api(space: Space) -> dict:
    """Kibana's transformSavedObjectToSpace: unset optional attributes are left out."""
    body = {"id": space.id, "name": space.name}
    for key, value in (
        ("description", space.description),
        ("color", space.color),
        ("initials", space.initials),
        ("imageUrl", space.image_url),
    ):
        if value:
            body[key] = value
    body["disabledFeatures"] = list(space.disabled_features or [])
    if space.is_default:
        body["_reserved"] = True
    if space.solution:
        body["solution"] = space.solution
    return body


OPTIONAL_ATTRIBUTES = (
    ("description", "description"),
    ("color", "color"),
    ("initials", "initials"),
    ("imageUrl", "image_url"),
    ("solution", "solution"),
)


def _apply(space: Space, body: dict, *, partial: bool = False) -> None:
    """Create sets every attribute. Update is Kibana's saved-object partial update: an omitted
    description, color, initials, imageUrl or solution keeps its stored value (send "" to blank one),
    while an omitted `disabledFeatures` is the schema's default `[]`, which re-enables every feature."""
    space.name = body["name"]
    for key, attribute in OPTIONAL_ATTRIBUTES:
        if partial and body.get(key) is None:
            continue
        setattr(space, attribute, body.get(key) or "")
    space.disabled_features = list(body.get("disabledFeatures") or [])


def _validate(data, action: str) -> dict:
    body = validate_body(SPACE_BODY, data)
    sent = SPACE_BODY.object_input(data, "request body")  # a body given as JSON text, as parsed
    if "solution" in sent and not body.get("solution"):
        raise BadRequest(f"Unable to {action} Space, solution property cannot be empty")
    return body


class SpaceViewBase(KibanaView):
    needs_space = False

    def require_manage(self, verb: str) -> None:
        if not self.request.user.is_superuser:
            raise Forbidden(f"Unauthorized to {verb} spaces")


class SpaceListView(SpaceViewBase):
    @oas.operation(
        "List spaces",
        response={"type": "array", "items": oas.SPACE},
        error_codes=(400, 403),
        parameters=[
            oas.OpenApiParameter("purpose", str, enum=PURPOSES),
            oas.OpenApiParameter("include_authorized_purposes", bool),
        ],
    )
    def get(self, request):
        purpose_given = "purpose" in request.query_params
        purpose = request.query_params.get("purpose", "any")
        if purpose not in PURPOSES:
            lines = "\n".join(
                f"- [request query.purpose.{i}]: expected value to equal [{p}]"
                for i, p in enumerate(PURPOSES)
            )
            raise BadRequest(f"[request query.purpose]: types that failed validation:\n{lines}")
        include = query_boolean(request.query_params, "include_authorized_purposes", False)
        if purpose_given and include:
            raise BadRequest(
                "[request query]: include_authorized_purposes can only be false when purpose is specified"
            )
        result = []
        for space in Space.objects.order_by("name"):
            privilege = privileges.privilege_for(request.user, space.id)
            if privilege == privileges.NONE:
                continue
            if purpose != "any" and privilege != privileges.ALL:
                continue  # copying or sharing into a space writes there
            body = space_to_api(space)
            if include:
                body["authorizedPurposes"] = {
                    "any": True,
                    "copySavedObjectsIntoSpace": privilege == privileges.ALL,
                    "findSavedObjects": True,
                    "shareSavedObjectsIntoSpace": privilege == privileges.ALL,
                }
            result.append(body)
        if not result and not request.user.is_superuser:
            raise Forbidden("Forbidden")
        return Response(result)

    @oas.operation(
        "Create a space", request=oas.SPACE, response=oas.SPACE, error_codes=(400, 403, 409), xsrf=True
    )
    def post(self, request):
        body = _validate(request_body(request), "create")
        self.require_manage("create")
        space = Space(id=body["id"])
        _apply(space, body)
        try:
            with transaction.atomic():
                if Space.objects.filter(pk=space.id).exists():
                    raise IntegrityError
                space.save(force_insert=True)
        except IntegrityError:
            raise Conflict(f"A space with the identifier {space.id} already exists.") from None
        return Response(space_to_api(space))


class SpaceView(SpaceViewBase):
    @oas.operation("Get a space", response=oas.SPACE, error_codes=(403, 404))
    def get(self, request, space_ref):
        if privileges.privilege_for(request.user, space_ref) == privileges.NONE:
            raise Forbidden(f"Unauthorized to get {space_ref} space")
        space = Space.objects.filter(pk=space_ref).first()
        if space is None:
            raise NotFound("Not Found")
        return Response(space_to_api(space))

    @oas.operation(
        "Update a space", request=oas.SPACE, response=oas.SPACE, error_codes=(400, 403, 404), xsrf=True
    )
    def put(self, request, space_ref):
        body = _validate(request_body(request), "update")
        self.require_manage("update")
        space = Space.objects.filter(pk=space_ref).first()
        if space is None:
            raise NotFound("Not Found")
        _apply(space, body, partial=True)
        space.save()
        return Response(space_to_api(space))

    @oas.operation("Delete a space and everything in it", status=204, error_codes=(400, 403, 404), xsrf=True)
    def delete(self, request, space_ref):
        self.require_manage("delete")
        space = Space.objects.filter(pk=space_ref).first()
        if space is None:
            raise NotFound("Not Found")
        if space.is_default:
            raise BadRequest(f"The {space.id} space cannot be deleted because it is reserved.")
        with transaction.atomic():
            # The space's connectors (and their tokens) and privileges go with it (foreign keys
            # cascade); connectors are deleted explicitly first so their own clean-up runs.
            for connector in space.connectors.all():
                connector.delete()
            space.delete()
        return Response(status=204)


def _space_id_item_problem(value) -> str | None:
    if not isinstance(value, str):
        return f"expected value of type [string] but got [{type_name(value)}]"
    if not SPACE_ID_RE.match(value):
        return 'lower case, a-z, 0-9, "_", and "-" are allowed'
    return None


LEGACY_ALIASES_BODY = Object(
    {
        "aliases": Array(
            Object(
                {
                    "targetSpace": Any_(validator=_space_id_problem),
                    "targetType": String(),
                    "sourceId": String(),
                }
            ),
            max_size=MAX_LEGACY_ALIASES,
        )
    }
)


class DisableLegacyUrlAliasesView(SpaceViewBase):
    """`POST /api/spaces/_disable_legacy_url_aliases` → 204. Kibana marks each
    `legacy-url-alias` `<targetSpace>:<targetType>:<sourceId>` disabled. This service never creates
    legacy URL aliases (a compatibilityMode import keeps ids instead), so after the same validation
    and privilege check (writing needs `all` in every target space) there is nothing to disable."""

    @oas.operation("Disable legacy URL aliases", status=204, error_codes=(400, 403), xsrf=True)
    def post(self, request):
        body = validate_body(LEGACY_ALIASES_BODY, request.data)
        for alias in body["aliases"]:
            if privileges.privilege_for(request.user, alias["targetSpace"]) != privileges.ALL:
                raise Forbidden("Unable to bulk_update legacy-url-alias")
        return Response(status=204)


def _unique_objects_problem(value) -> str | None:
    keys = [(o.get("type"), o.get("id")) for o in value]
    return "duplicate objects are not allowed" if len(set(keys)) != len(keys) else None


def _unique_spaces_problem(value) -> str | None:
    return "duplicate space ids are not allowed" if len(set(value)) != len(value) else None


COPY_OBJECTS = Array(Object({"type": String(), "id": String()}), validator=_unique_objects_problem)
COPY_BODY = Object(
    {
        "spaces": Array(Any_(validator=_space_id_item_problem), validator=_unique_spaces_problem),
        "objects": COPY_OBJECTS,
        "includeReferences": Boolean(default=False),
        "overwrite": Boolean(default=False),
        "createNewCopies": Boolean(default=True),
        "compatibilityMode": Boolean(default=False),
    }
)
RETRY_ITEM_KEYS = {"type", "id", "overwrite", "destinationId", "createNewCopy", "ignoreMissingReferences"}
RESOLVE_COPY_BODY = Object(
    {
        "retries": Record(Any_()),
        "objects": COPY_OBJECTS,
        "includeReferences": Boolean(default=False),
        "createNewCopies": Boolean(default=True),
        "compatibilityMode": Boolean(default=False),
    }
)


class CopyViewBase(KibanaView):
    """Both copy routes: the source is the space of the URL (`/s/{space}`), which the caller must be
    able to read (Kibana's `copySavedObjectsToSpaces` privilege); writing into each target space needs
    `all` there, checked per space (a space refused answers its own 403, the others go ahead)."""

    def require_copy(self) -> None:
        self.require("get", api_unauthorized(self.request, "copySavedObjectsToSpaces").message)

    def may_write(self, space_id: str) -> bool:
        return privileges.privilege_for(self.request.user, space_id) == privileges.ALL

    def copy(self, body: dict, space_ids: list[str], options: ImportOptions, retries=None) -> Response:
        try:
            # No objects is an empty export (Kibana's exportByObjects of []), not the export
            # route's "Either `type` or `objects` are required."
            objects = body["objects"]
            data = export_for_copy(self.space, objects, body["includeReferences"]) if objects else b""
            result = copy_into_spaces(
                data, space_ids, options, may_write=self.may_write, user=self.username(), retries=retries
            )
        except SavedObjectsRequestError as exc:
            return request_error_response(exc)
        return Response(result)


def _exclusive(body: dict, *, copy: bool = False) -> None:
    """The import routes' option rules, in the body. Kibana's copy route alone names the
    compatibility conflict the other way round (`[compatibilityMode] with [createNewCopies]`)."""
    if copy and body["compatibilityMode"] and body["createNewCopies"] and not body.get("overwrite"):
        raise BadRequest("[request body]: cannot use [compatibilityMode] with [createNewCopies]")
    options = ImportOptions(
        overwrite=body.get("overwrite", False),
        create_new_copies=body["createNewCopies"],
        compatibility_mode=body["compatibilityMode"],
    )
    try:
        options.check()
    except SavedObjectsRequestError as exc:
        raise BadRequest(exc.message.replace("[request query]", "[request body]")) from None


class CopySavedObjectsView(CopyViewBase):
    @oas.operation("Copy saved objects to spaces", error_codes=(400, 403, 404), xsrf=True)
    def post(self, request):
        self.require_copy()  # Kibana authorizes the route before it validates the body
        body = validate_body(COPY_BODY, request.data)
        _exclusive(body, copy=True)
        options = ImportOptions(
            overwrite=body["overwrite"],
            create_new_copies=body["createNewCopies"],
            compatibility_mode=body["compatibilityMode"],
        )
        return self.copy(body, body["spaces"], options)


class ResolveCopySavedObjectsErrorsView(CopyViewBase):
    @oas.operation("Resolve conflicts of a copy to spaces", error_codes=(400, 403, 404), xsrf=True)
    def post(self, request):
        self.require_copy()
        body = validate_body(RESOLVE_COPY_BODY, request.data)
        retries = {}
        for space_id, items in body["retries"].items():
            if not SPACE_ID_RE.match(space_id):
                raise BadRequest(f'[request body.retries.key("{space_id}")]: Invalid space id: {space_id}')
            try:
                retries[space_id] = parse_retries(items, f"request body.retries.{space_id}", RETRY_ITEM_KEYS)
            except SavedObjectsRequestError as exc:
                raise BadRequest(exc.message) from None
        _exclusive(body)
        options = ImportOptions(
            create_new_copies=body["createNewCopies"], compatibility_mode=body["compatibilityMode"]
        )
        return self.copy(body, list(retries), options, retries=retries)
