"""The base of every Kibana-compatible API view: space from the `/s/{space}` prefix, privilege checks
with Kibana's 403 messages, and request-body validation with Kibana's messages."""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.utils.functional import cached_property
from rest_framework.views import APIView

from connectors import privileges, registry
from connectors.access import AccessDenied, connector_for
from connectors.api.errors import BadRequest, Forbidden, KibanaError, NotFound
from connectors.models import Connector, Space
from connectors.prepared import PreparedGet
from connectors.schemas import Boolean, Object, SchemaError
from connectors.services import ConnectorNotFound

_space_by_id = PreparedGet(lambda pk: Space.objects.filter(pk=pk))


class KibanaView(APIView):
    """A handler that works on one connector gets it with `self.connector(id, "update")`, which checks
    the privilege as it looks it up (connectors.access); handlers without one (list, create, find)
    call `self.require("get")` (or create/update/delete/execute) before touching data.

    `self.space` is the space of the `/s/{space}` prefix (`default` without one). A space that does
    not exist is a 404 for a caller who could read it (superusers) and a 403 from `require()` for
    everyone else, so nobody learns which spaces exist from a space they have no access to.
    """

    feature_noun = "actions"
    needs_space = True

    def initial(self, request, *args, **kwargs):
        kwargs.pop("space_id", None)
        super().initial(request, *args, **kwargs)
        self.space_id = (
            getattr(request._request, "space_id", None) or self.kwargs.get("space_id") or "default"
        )
        if self.needs_space and self.space is None and self.privilege != privileges.NONE:
            raise NotFound("Not Found")

    @cached_property
    def space(self) -> Space | None:
        # Read when a view needs the row (creating in it, or `needs_space`): a GET of one connector
        # needs only the id, and every query saved is a large part of a ~1 ms request.
        return _space_by_id(pk=self.space_id)

    def dispatch(self, request, *args, **kwargs):
        kwargs.pop("space_id", None)  # taken from the request by the middleware
        return super().dispatch(request, *args, **kwargs)

    @property
    def privilege(self) -> str:
        if not hasattr(self, "_privilege"):
            self._privilege = privileges.privilege_for(self.request.user, self.space_id)
        return self._privilege

    def require(self, operation: str, message: str | None = None) -> None:
        if not privileges.allows(self.privilege, operation):
            raise Forbidden(message or f"Unauthorized to {operation} {self.feature_noun}")

    def connector(
        self,
        connector_id: str,
        need: str,
        message: str | None = None,
        *,
        system_error: KibanaError | None = None,
        preconfigured: bool = True,
    ) -> Connector:
        """The connector of this space, if the caller may `need` (a Kibana operation) on it.

        Kibana's order: 403 (`message`, or "Unauthorized to <need> actions") before anything about
        the id; then `system_error` for a system connector's id, when the route refuses those; then
        404 "Saved object [action/<id>] not found". `preconfigured=False` for routes that only stored
        connectors have (a preconfigured id is then not found).
        """
        self.require(need, message)
        if system_error is not None and is_system_connector(connector_id):
            raise system_error
        try:
            return connector_for(
                self.privilege, connector_id, space_id=self.space_id, need=need, preconfigured=preconfigured
            )
        except AccessDenied:
            raise Forbidden(message or f"Unauthorized to {need} {self.feature_noun}") from None
        except ConnectorNotFound as exc:
            raise NotFound(str(exc)) from None

    def username(self) -> str:
        user = self.request.user
        return user.get_username() if user is not None else ""


SYSTEM_CONNECTOR_PREFIX = "system-connector-"


def is_system_connector(connector_id: str) -> bool:
    """Kibana gives each system action type an in-memory connector `system-connector-<typeId>`;
    the public API hides them."""
    if not connector_id.startswith(SYSTEM_CONNECTOR_PREFIX):
        return False
    return registry.is_system_action_type(connector_id[len(SYSTEM_CONNECTOR_PREFIX) :])


def api_unauthorized(request, privilege_names: str) -> Forbidden:
    """Kibana's route-authorization 403 (security's api_authorization): the method, then
    `request.url.pathname + search` as the route sees them, that is after the spaces plugin has
    rewritten the `/s/{space}` prefix away (FTR: `space_1_all at space2` reads `API [GET /api/...]`)."""
    path = request.path_info
    if path.startswith("/s/"):
        path = path[path.find("/", 3) :]
    query = request.META.get("QUERY_STRING", "")
    return Forbidden(
        f"API [{request.method} {path}{'?' + query if query else ''}] is unauthorized for user, "
        f"this action is granted by the Kibana privileges [{privilege_names}]"
    )


_QUERY_BOOLEAN = Boolean()


def query_boolean(query, name: str, default: bool | None) -> bool | None:
    """A config-schema boolean query parameter: `default` when absent, "true"/"false" in any case,
    and anything else (a bare `?name` too) Kibana's 400 `[request query.<name>]: expected value of
    type [boolean] but got [string]`."""
    value = query.get(name)
    if value is None:
        return default
    try:
        return _QUERY_BOOLEAN.validate(value, f"request query.{name}")
    except SchemaError as exc:
        raise BadRequest(str(exc)) from None


def refuse_unknown_query_keys(query, allowed) -> None:
    """Kibana's route schemas refuse a query key they do not define: 400
    `[request query.<key>]: definition for this key is missing`, naming the first unknown key in
    sorted order."""
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise BadRequest(f"[request query.{unknown[0]}]: definition for this key is missing")


def request_body(request) -> Any:
    """`request.data`, or None for a request with no body at all: hapi's payload is then null, so
    Kibana's route validation answers `[request body]: expected a plain object value, but found
    [null] instead.` (chunked bodies have their length set by connectors_project/wsgi.py)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return request.data if length > 0 else None


def validate_body(schema: Object, data: Any) -> dict:
    """Validate a JSON body; messages read `[request body.name]: expected value of type [string] ...`.
    The body is the route's `schema.object`, so what is not an object is worded as config-schema's
    object words it, and a body that is a JSON string is parsed as config-schema parses any string
    given for an object (`could not parse object value from json input` when it is not JSON)."""
    try:
        return schema.validate(data, "request body")
    except SchemaError as exc:
        raise BadRequest(str(exc)) from None


_collector_lock = threading.Lock()
_collector_pauses = 0
_collector_was_enabled = False
_collection_owed = False
# Tracked objects left behind by one pause above which the next pause starts with a full collection.
LARGE_PAUSE_OBJECTS = 50_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large answer is built.

    A 100,000-connector list allocates a few hundred thousand dicts that all stay alive until the
    answer is sent; the collector ran again and again over them and found nothing, which took about
    40% of the request's CPU. The collector is process-wide, so overlapping pauses (other threads of
    the worker) are counted and it comes back on when the last one ends.

    A pause also skips the collections that would have aged those objects into the oldest
    generation, and DRF keeps every answer in a reference cycle (view, request, response), so a
    large answer would wait for a full collection that rarely comes: a worker grew by 120 MB per
    100,000-connector list. So after a large pause, the next pause first runs one full collection,
    which frees the answer before: memory stays at about one large answer, as without pausing.
    """
    global _collector_pauses, _collector_was_enabled, _collection_owed
    with _collector_lock:
        if _collector_pauses == 0:
            if _collection_owed:
                gc.collect()
                _collection_owed = False
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_pauses += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_pauses -= 1
            if _collector_pauses == 0:
                _collection_owed = gc.get_count()[0] > LARGE_PAUSE_OBJECTS
                if _collector_was_enabled:
                    gc.enable()
