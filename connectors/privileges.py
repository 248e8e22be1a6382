"""Per-space privileges for the "Actions and Connectors" feature: `all`, `read` or `none`.

Operations (Kibana's actions_authorization): create/update/delete need `all`; get, find, the
execution log and execute need `read` (Kibana lets `read` execute). An operation named nowhere here
is refused to everyone: a new route must say which list it belongs to (fail closed, not open).
"""

ALL = "all"
READ = "read"
NONE = "none"

OPERATIONS_NEEDING_ALL = {"create", "update", "delete"}
OPERATIONS_NEEDING_READ = {"get", "find", "execute", "read"}


def privilege_for(user, space_id: str) -> str:
    """The user's privilege in a space. Superusers have `all` everywhere."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NONE
    if user.is_superuser:
        return ALL
    from connectors.models import SpacePrivilege

    return SpacePrivilege.effective_privilege(user, space_id)


def allows(privilege: str, operation: str) -> bool:
    if operation in OPERATIONS_NEEDING_READ:
        return privilege in (ALL, READ)
    if operation in OPERATIONS_NEEDING_ALL:
        return privilege == ALL
    return False


def readable_space_ids(user) -> list[str]:
    from connectors.models import Space

    return [space.id for space in Space.objects.all() if privilege_for(user, space.id) != NONE]
