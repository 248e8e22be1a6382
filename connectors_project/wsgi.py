import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectors_project.settings")
try:
    application = get_wsgi_application()
except ImproperlyConfigured as exc:
    # One line instead of a traceback per worker; exit code 4 is gunicorn's "App failed to load",
    # which stops the master instead of booting workers forever.
    print(f"Configuration error: {exc}", file=sys.stderr)  # noqa: T201
    sys.exit(4)
