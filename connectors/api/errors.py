"""Kibana's error envelope: `{"statusCode": 400, "error": "Bad Request", "message": "..."}`.

Views raise KibanaError (or one of its named subclasses); one handler renders every error, DRF's
own included, in that envelope.
"""

import traceback
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response


class KibanaError(Exception):
    status_code = 400

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BadRequest(KibanaError):
    status_code = 400


class Unauthorized(KibanaError):
    status_code = 401


class Forbidden(KibanaError):
    status_code = 403


class NotFound(KibanaError):
    status_code = 404


class Conflict(KibanaError):
    status_code = 409


class PayloadTooLarge(KibanaError):
    status_code = 413


def envelope(status_code: int, message: str) -> dict:
    return {"statusCode": status_code, "error": HTTPStatus(status_code).phrase, "message": message}


def error_response(status_code: int, message: str) -> JsonResponse:
    """For code outside DRF views (middleware)."""
    return JsonResponse(envelope(status_code, message), status=status_code)


def not_found_message(connector_id: str, saved_object_type: str = "action") -> str:
    return f"Saved object [{saved_object_type}/{connector_id}] not found"


def _from_json_decoder(exc: BaseException) -> bool:
    return any(
        frame.f_code.co_filename.replace("\\", "/").endswith(("/json/decoder.py", "/json/__init__.py"))
        for frame, _line in traceback.walk_tb(exc.__traceback__)
    )


def kibana_exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        # hapi's answer to a body over its maxPayload, with our limit (DATA_UPLOAD_MAX_MEMORY_SIZE).
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            envelope(413, f"Payload content length greater than maximum allowed: {limit}"), status=413
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response(envelope(400, str(exc)), status=400)
    if isinstance(exc, RecursionError) and _from_json_decoder(exc):
        # A body nested deeper than the JSON decoder goes is not a JSON payload we can read.
        return Response(envelope(400, "Invalid request payload JSON format"), status=400)
    if isinstance(exc, KibanaError):
        return Response(envelope(exc.status_code, exc.message), status=exc.status_code)
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return Response(
            envelope(401, "Unauthorized"),
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="connectors", ApiKey'},
        )
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return Response(envelope(403, str(exc.detail)), status=403)
    if isinstance(exc, Http404 | drf_exceptions.NotFound):
        return Response(envelope(404, "Not Found"), status=404)
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        # hapi has no route for that method and path: a 404, as for an unknown path.
        return Response(envelope(404, "Not Found"), status=404)
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return Response(envelope(415, "Unsupported Media Type"), status=415)
    if isinstance(exc, drf_exceptions.ParseError):
        # hapi's answer to a body that is not JSON.
        return Response(envelope(400, "Invalid request payload JSON format"), status=400)
    if isinstance(exc, drf_exceptions.Throttled):
        return Response(envelope(429, str(exc.detail)), status=429)
    if isinstance(exc, drf_exceptions.APIException):
        return Response(envelope(exc.status_code, str(exc.detail)), status=exc.status_code)
    return None
