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
from connectors.api.base import KibanaView, validate_body
from connectors.api.errors import BadRequest, Conflict, Forbidden, NotFound
from connectors.models import Space
from connectors.schemas import Any_, Array, Boolean, Enum, Object, String, type_name

SPACE_ID_RE = re.compile(r"^[a-z0-9_\-]+$")
COLOR_RE = re.compile(r"^#[a-zA-Z0-9]{6}$")
MAX_SPACE_INITIALS = 2
SOLUTIONS = ("security", "oblt", "es", "classic")
PURPOSES = ("any", "copySavedObjectsIntoSpace", "findSavedObjects", "shareSavedObjectsIntoSpace")


def _space_id_problem(value) -> str | None:
    if not isinstance(value, str):
        return f"expected value of type [string] but got [{type_name(value)}]"
    if not SPACE_ID_RE.match(value):
        return "must be lower case, a-z, 0-9, '_', and '-' are allowed"
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
        "id": Any_(validator=_space_id_problem),
        "name": String(min_length=1),
        "description": String(default=None),
        "initials": String(max_length=MAX_SPACE_INITIALS, default=None),
        "color": Any_(validator=_color_problem, default=None),
        "disabledFeatures": Array(String(), default=list),
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


def _apply(space: Space, body: dict) -> None:
    space.name = body["name"]
    space.description = body.get("description") or ""
    space.color = body.get("color") or ""
    space.initials = body.get("initials") or ""
    space.image_url = body.get("imageUrl") or ""
    space.disabled_features = list(body.get("disabledFeatures") or [])
    space.solution = body.get("solution") or ""


def _validate(data, action: str) -> dict:
    body = validate_body(SPACE_BODY, data)
    if "solution" in data and not body.get("solution"):
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
        purpose = request.query_params.get("purpose", "any")
        if purpose not in PURPOSES:
            lines = "\n".join(
                f"- [request query.purpose.{i}]: expected value to equal [{p}]"
                for i, p in enumerate(PURPOSES)
            )
            raise BadRequest(f"[request query.purpose]: types that failed validation:\n{lines}")
        include = request.query_params.get("include_authorized_purposes", "false")
        if include not in ("true", "false"):
            raise BadRequest(
                f"[request query.include_authorized_purposes]: expected value of type [boolean] but got [{include}]"
            )
        result = []
        for space in Space.objects.order_by("name"):
            privilege = privileges.privilege_for(request.user, space.id)
            if privilege == privileges.NONE:
                continue
            body = space_to_api(space)
            if include == "true":
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
        body = _validate(request.data, "create")
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
        body = _validate(request.data, "update")
        self.require_manage("update")
        space = Space.objects.filter(pk=space_ref).first()
        if space is None:
            raise NotFound("Not Found")
        _apply(space, body)
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
