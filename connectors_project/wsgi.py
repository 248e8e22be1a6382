import os
import sys
import tempfile

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectors_project.settings")


class ChunkedBodies:
    """A body sent with `Transfer-Encoding: chunked` has no Content-Length; gunicorn decodes it into
    `wsgi.input` (and says so with `wsgi.input_terminated`), but Django reads only Content-Length
    bytes, so every such body arrived empty ("[request body.name]: expected value …"). Kibana's Node
    server reads them, and curl, Go and Java clients send streamed bodies that way.

    The body is read here, up to one byte past the largest body any route accepts (the import file
    limit or DATA_UPLOAD_MAX_MEMORY_SIZE), into a file spooled to disk past
    FILE_UPLOAD_MAX_MEMORY_SIZE, and its length becomes Content-Length: the routes' own limits then
    answer 413 as they do for a declared length."""

    READ_SIZE = 65536

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if (
            not environ.get("CONTENT_LENGTH")
            and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
            and environ.get("wsgi.input_terminated")
        ):
            self._buffer(environ)
        return self.application(environ, start_response)

    def _buffer(self, environ) -> None:
        from django.conf import settings

        from connectors.saved_objects import max_import_payload_bytes

        cap = max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0, max_import_payload_bytes()) + 1
        spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115 - Django reads it after this returns
        stream, size = environ["wsgi.input"], 0
        while size < cap:
            chunk = stream.read(min(self.READ_SIZE, cap - size))
            if not chunk:
                break
            spool.write(chunk)
            size += len(chunk)
        spool.seek(0)
        environ["wsgi.input"] = spool
        environ["CONTENT_LENGTH"] = str(size)


try:
    application = ChunkedBodies(get_wsgi_application())
except ImproperlyConfigured as exc:
    # One line instead of a traceback per worker; exit code 4 is gunicorn's "App failed to load",
    # which stops the master instead of booting workers forever.
    print(f"Configuration error: {exc}", file=sys.stderr)  # noqa: T201
    sys.exit(4)
