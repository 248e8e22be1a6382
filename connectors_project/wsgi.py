import io
import os
import sys
import tempfile

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectors_project.settings")


class ChunkedBodies:
    """Request bodies are read here, before Django, in two cases gunicorn leaves to the application.

    A body sent with `Transfer-Encoding: chunked` has no Content-Length; gunicorn decodes it into
    `wsgi.input` (and says so with `wsgi.input_terminated`), but Django reads only Content-Length
    bytes, so every such body arrived empty ("[request body.name]: expected value …"). Kibana's Node
    server reads them, and curl, Go and Java clients send streamed bodies that way.

    A body that ends before its Content-Length (the client disconnected, or declared more than it
    sent) reaches Django as the short read gunicorn gives it, and valid JSON or a form as far as it
    went was processed. It is refused instead: the body is replaced by nothing and
    `KibanaApiMiddleware` answers 400 (hapi's "Payload stream closed prematurely").

    The body is read up to one byte past the largest body any route accepts (the import file limit
    or DATA_UPLOAD_MAX_MEMORY_SIZE, plus room for a multipart envelope), into a file spooled to disk
    past FILE_UPLOAD_MAX_MEMORY_SIZE (a declared body of at most 1 MiB, as every API call but an
    import, straight into memory: ~8 us instead of ~75); a chunked body's length becomes
    Content-Length. The routes' own limits then answer 413 as they do for a declared length; a body
    declared longer than that is left to them unread (they refuse it by its declared length, and
    Django's multipart parser drops a file part cut short)."""

    READ_SIZE = 65536
    IN_MEMORY = MULTIPART_ROOM = 1 << 20

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        declared = environ.get("CONTENT_LENGTH")
        if not declared:
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and environ.get(
                "wsgi.input_terminated"
            ):
                self._buffer(environ, None)
        elif declared.isdigit():
            length = int(declared)
            if 0 < length <= self.IN_MEMORY:
                self._read_small(environ, length)
            elif length > self.IN_MEMORY and length <= self._cap():
                self._buffer(environ, length)
        return self.application(environ, start_response)

    def _cap(self) -> int:
        from django.conf import settings

        from connectors.saved_objects import max_import_payload_bytes

        limit = max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0, max_import_payload_bytes())
        return limit + self.MULTIPART_ROOM + 1

    def _read_small(self, environ, declared: int) -> None:
        stream, parts, size = environ["wsgi.input"], [], 0
        while size < declared:
            chunk = stream.read(declared - size)
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        self._replace(environ, io.BytesIO(b"".join(parts)), size, declared)

    def _buffer(self, environ, declared: int | None) -> None:
        from django.conf import settings

        cap = self._cap() if declared is None else declared
        spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115 - Django reads it after this returns
        stream, size = environ["wsgi.input"], 0
        while size < cap:
            chunk = stream.read(min(self.READ_SIZE, cap - size))
            if not chunk:
                break
            spool.write(chunk)
            size += len(chunk)
        spool.seek(0)
        self._replace(environ, spool, size, declared)

    @staticmethod
    def _replace(environ, body, size: int, declared: int | None) -> None:
        if declared is not None and size < declared:
            from connectors.api.middleware import SHORT_BODY

            body.close()
            environ[SHORT_BODY] = f"{size} of {declared} bytes"
            body, size = io.BytesIO(), 0
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(size)


try:
    application = ChunkedBodies(get_wsgi_application())
except ImproperlyConfigured as exc:
    # One line instead of a traceback per worker; exit code 4 is gunicorn's "App failed to load",
    # which stops the master instead of booting workers forever.
    print(f"Configuration error: {exc}", file=sys.stderr)  # noqa: T201
    sys.exit(4)
