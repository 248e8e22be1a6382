"""An admin form posted with more than DATA_UPLOAD_MAX_MEMORY_SIZE (say a 5 MB name pasted into
the connector form) made Django answer a bare "Bad Request (400)" page and log a traceback at
ERROR. This sends the person back to the same page, which says what was too large."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponseRedirect
from django.utils.http import urlencode

TOO_LARGE_PARAM = "too_large"
TOO_LARGE_MESSAGE = (
    "The form was too large to be read ({size} MB; the limit is {limit} MB). A connector name can "
    "have at most 255 characters."
)


def too_large_message(request) -> str | None:
    """The form error for a page reached through the redirect below."""
    size = request.GET.get(TOO_LARGE_PARAM, "")
    if not size.isdigit():
        return None
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return TOO_LARGE_MESSAGE.format(size=round(int(size) / 1e6, 1), limit=round(limit / 1e6, 1))


class OversizedAdminFormMiddleware:
    """Before the CSRF check, which would read the body first and fail the same way."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path.startswith("/admin/"):
            try:
                request.POST  # noqa: B018 - reading it is the check
            except RequestDataTooBig:
                query = request.GET.copy()
                query[TOO_LARGE_PARAM] = str(int(request.META.get("CONTENT_LENGTH") or 0))
                return HttpResponseRedirect(f"{request.path}?{urlencode(query, doseq=True)}")
        return self.get_response(request)
