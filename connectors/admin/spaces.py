"""The admin's current space: chosen with `?space=`, remembered in the session, never one the user
may not read."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.http import urlencode

from connectors import privileges
from connectors.models import DEFAULT_SPACE_ID, Space

SESSION_KEY = "connectors_admin_space"


@dataclass
class SpaceAccess:
    space: Space | None
    privilege: str
    readable: list[Space]

    @property
    def can_read(self) -> bool:
        return self.space is not None and self.privilege != privileges.NONE

    @property
    def can_write(self) -> bool:
        return self.space is not None and self.privilege == privileges.ALL


def readable_spaces(user) -> list[Space]:
    """The spaces the switcher offers: exactly `connectors.privileges.readable_space_ids`."""
    return list(Space.objects.filter(id__in=privileges.readable_space_ids(user)))


def space_access(request) -> SpaceAccess:
    """Resolve (and cache on the request) the space the admin pages show."""
    cached = getattr(request, "_connectors_space_access", None)
    if cached is not None:
        return cached
    readable = readable_spaces(request.user)
    by_id = {space.id: space for space in readable}
    wanted = request.GET.get("space") or request.session.get(SESSION_KEY) or DEFAULT_SPACE_ID
    space = by_id.get(wanted) or by_id.get(DEFAULT_SPACE_ID) or (readable[0] if readable else None)
    if space is not None and request.session.get(SESSION_KEY) != space.id:
        request.session[SESSION_KEY] = space.id
    privilege = privileges.privilege_for(request.user, space.id) if space else privileges.NONE
    access = SpaceAccess(space=space, privilege=privilege, readable=readable)
    request._connectors_space_access = access
    return access


def in_space(url: str, space_id: str, **query) -> str:
    """`url` naming its space (`?space=`, which the pages read first): what links and forms of a
    per-space page point to, so a space switch in another tab meanwhile neither 404s the click or
    the submit (losing what was typed, secrets included) nor lands or writes in another space."""
    query = {"space": space_id, **{k: v for k, v in query.items() if v not in (None, "")}}
    return f"{url}?{urlencode(query)}"


def here_in_space(request, space_id: str) -> str:
    """This page's URL naming its space: where its forms post (see `in_space`)."""
    return in_space(request.path, space_id)
