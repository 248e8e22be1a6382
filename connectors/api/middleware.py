"""API-wide rules: the `/s/{space}` prefix, the `kbn-xsrf` header, and Kibana's envelope for answers
no view gives (an unknown path or method is a JSON 404, an unexpected error a JSON 500 that tells
nothing about the error; a 503 when the database or Redis is unavailable), and the 400 for a body that
ended before its Content-Length (found by connectors_project.wsgi, answered here)."""

import logging
import re

from django.core.exceptions import BadRequest

from connectors.api.errors import error_response
from connectors.models import SPACE_ID_RE

# The space segment may hold anything, a slash too (`/s/a%2Fb/api/...` is decoded before routing): no
# route matches such a path, and it answers the JSON 404 as any other unknown API path does.
API_PATH = re.compile(r"^(?:/s/(?P<space>.*?))?/(?:api|internal)/", re.DOTALL)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SPACE_PREFIX = "/s/"
logger = logging.getLogger("connectors.api")
# Set in the WSGI environ by connectors_project.wsgi.ChunkedBodies when a body ended before its
# Content-Length ("<received> of <declared> bytes"); the body Django sees is then empty.
SHORT_BODY = "connectors.short_body"


class KibanaApiMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = API_PATH.match(request.path_info)
        short = request.META.get(SHORT_BODY)
        if short:
            # Nothing is done with a body that did not all arrive. hapi fails the same read with
            # "Payload stream closed prematurely"; a client's fault, so 400 (the admin too).
            message = f"Payload stream closed prematurely: {short} received"
            if match:
                return error_response(400, message)
            raise BadRequest(message)
        if match:
            request.kibana_api = True
            space = match.group("space")
            request.space_id = "default" if space is None else space
            problem = _nul_problem(request)
            if problem:
                return error_response(400, problem)
            if space is not None and not SPACE_ID_RE.fullmatch(space):
                # Kibana takes the space only from `/s/([a-z0-9_-]+)`: with any other segment the
                # path stays unrouted, and hapi answers 404 whatever the route, method or caller.
                return error_response(404, "Not Found")
            if request.method not in SAFE_METHODS and not (
                "kbn-xsrf" in request.headers or "kbn-version" in request.headers
            ):
                # Kibana checks the header after authentication (an onPostAuth handler): a caller
                # whose credentials (or lack of them) do not authenticate hears 401 first.
                refused = _unauthenticated_answer(request)
                if refused is not None:
                    return refused
                # A custom header is CSRF protection by itself while CORS stays closed, so API calls
                # from the admin's session need only this header, as in Kibana.
                return error_response(400, "Request must contain a kbn-xsrf header.")
            request._dont_enforce_csrf_checks = True
        response = self.get_response(request)
        if (
            (match or request.path_info.startswith(SPACE_PREFIX))
            and response.status_code in (404, 405)
            and not _is_json(response)
        ):
            # hapi answers an unknown path, or a method the path does not have, with a JSON 404;
            # under `/s/` too, where only API routes are mounted (not the probes, not the admin).
            return error_response(404, "Not Found")
        return response

    def process_exception(self, request, exception):
        if not getattr(request, "kibana_api", False):
            return None
        if _backing_service_down(exception):
            # The database or Redis is restarting or unreachable: nothing was done (the transaction
            # rolled back), and the same request will work once it is back. Say so: 503, not 500.
            logger.warning(
                "%s %s: a backing service is unavailable (%s)",
                request.method,
                request.path,
                type(exception).__name__,
            )
            response = error_response(503, "Service Unavailable")
            response["Retry-After"] = "1"
            return response
        logger.exception("Unexpected error answering %s %s", request.method, request.path)
        return error_response(500, "An internal server error occurred.")


def _nul_problem(request) -> str | None:
    """U+0000 in the path (`%00`) or the query: PostgreSQL cannot even look it up (see
    `schemas.unstorable_problem`), so it is refused here, on every database alike."""
    from connectors.schemas import NUL_MESSAGE

    if "\x00" in request.path_info:
        return f"[request params]: {NUL_MESSAGE}"
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return f"[request query.{key.replace(chr(0), '')}]: {NUL_MESSAGE}"
    return None


def _backing_service_down(exception) -> bool:
    import redis
    from django.db import InterfaceError, OperationalError

    return isinstance(
        exception,
        OperationalError | InterfaceError | redis.exceptions.ConnectionError | redis.exceptions.TimeoutError,
    )


def _unauthenticated_answer(request):
    """The 401 (or the login limiter's 429) a request without `kbn-xsrf` gets when it does not
    authenticate as the view would authenticate it (Basic, ApiKey, then the session); None when
    it does. Only requests missing the header pay for this here. The session is read directly:
    this middleware runs before AuthenticationMiddleware, so DRF's session class sees no user."""
    from django.conf import settings
    from django.contrib.auth import get_user
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework.request import Request

    from connectors.api.authentication import ApiKeyAuthentication, BasicAuthentication
    from connectors.api.errors import KibanaError

    if request.headers.get("Authorization"):
        try:
            user = Request(request, authenticators=[BasicAuthentication(), ApiKeyAuthentication()]).user
        except KibanaError as exc:
            return error_response(exc.status_code, exc.message)
        except AuthenticationFailed:
            user = None
        if user is not None:
            return None
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        user = get_user(request)
        if user.is_authenticated and user.is_active:
            return None
    response = error_response(401, "Unauthorized")
    response["WWW-Authenticate"] = 'Basic realm="connectors", ApiKey'
    return response


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def bad_request(request, exception=None):
    """Django's `handler400`: what answers a SuspiciousOperation no view caught, a Host header outside
    ALLOWED_HOSTS above all (raised before any view, so the envelope above never applies). Kibana's
    JSON envelope on API paths, Django's page elsewhere."""
    if API_PATH.match(request.path_info):
        return error_response(400, "Bad Request")
    from django.views.defaults import bad_request as django_bad_request

    return django_bad_request(request, exception)
