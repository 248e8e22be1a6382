"""API-wide rules that come before any view: the `/s/{space}` prefix and the `kbn-xsrf` header."""

import re

from connectors.api.errors import error_response

API_PATH = re.compile(r"^(?:/s/(?P<space>[^/]+))?/(?:api|internal)/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class KibanaApiMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = API_PATH.match(request.path_info)
        if match:
            request.kibana_api = True
            request.space_id = match.group("space") or "default"
            if request.method not in SAFE_METHODS and not (
                "kbn-xsrf" in request.headers or "kbn-version" in request.headers
            ):
                # Kibana checks the header after authentication: a caller with no credentials at
                # all hears 401 first.
                if not _has_credentials(request):
                    return error_response(401, "Unauthorized")
                # A custom header is CSRF protection by itself while CORS stays closed, so API calls
                # from the admin's session need only this header, as in Kibana.
                return error_response(400, "Request must contain a kbn-xsrf header.")
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)


def _has_credentials(request) -> bool:
    from django.conf import settings

    return bool(request.headers.get("Authorization")) or settings.SESSION_COOKIE_NAME in request.COOKIES
