"""Authorization comes with the lookup: the one way a view gets a connector by id.

`connector_for(privilege, connector_id, space_id=..., need=...)` returns the connector only when the
privilege allows `need` in that space; otherwise it raises `AccessDenied`, or `ConnectorNotFound`
when the space holds no such connector. The check comes first, so someone without the privilege
never learns whether an id exists. The API (`KibanaView.connector`) turns the two into Kibana's 403
and 404 envelopes, the admin (`connectors.admin.views`) into its refusal pages. As in healthchecks
(`_get_check_for_user`), a view cannot forget the check: there is no other path from an id to a
connector in the views (tests/connectors/test_access.py reads the view modules to make sure).

`need` is a Kibana operation (`get`, `update`, `delete`, `execute`, ...; see `connectors.privileges`)
or a privilege: `read` or `all`.
"""

from __future__ import annotations

from connectors import privileges
from connectors.models import Connector
from connectors.preconfigured import get_preconfigured
from connectors.prepared import PreparedGet
from connectors.services import ConnectorNotFound

_connector_in_space = PreparedGet(lambda pk, space_id: Connector.objects.filter(pk=pk, space_id=space_id))


class AccessDenied(Exception):
    """The privilege does not allow the operation in the space."""

    def __init__(self, need: str):
        super().__init__(f"Unauthorized to {need}")
        self.need = need


def allows(privilege: str, need: str) -> bool:
    """Whether a privilege (`all`, `read`, `none`) allows `need` (an operation, or `read`/`all`)."""
    return privileges.allows(privilege, "update" if need == privileges.ALL else need)


def connector_for(
    privilege: str,
    connector_id: str,
    *,
    space_id: str | None,
    need: str,
    preconfigured: bool = True,
) -> Connector:
    """The connector `connector_id` of the space, if `privilege` allows `need` there.

    Raises `AccessDenied` first, then `ConnectorNotFound` (Kibana's not-found message). A
    preconfigured connector belongs to every space (its `run_space_id` is set to this one) unless
    `preconfigured=False`, for operations that only stored connectors have. Another space's
    connector is "not found".
    """
    if space_id is None or not allows(privilege, need):
        raise AccessDenied(need)
    found = get_preconfigured(connector_id)
    if found is not None:
        if not preconfigured:
            raise ConnectorNotFound(connector_id)
        found.run_space_id = space_id
        return found
    # The row through SQL built once (connectors.prepared): every connector request comes here.
    found = _connector_in_space(pk=connector_id, space_id=space_id)
    if found is None:
        raise ConnectorNotFound(connector_id)
    return found


def connectors_for(privilege: str, connector_ids, *, space_id: str | None, need: str):
    """The stored connectors of the space among `connector_ids` (a queryset), if `privilege` allows
    `need` there; raises `AccessDenied` otherwise. Ids of other spaces are left out."""
    if space_id is None or not allows(privilege, need):
        raise AccessDenied(need)
    return Connector.objects.filter(space_id=space_id, pk__in=list(connector_ids))
