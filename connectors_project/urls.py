"""Every API module is mounted twice: at the root (the `default` space) and under `/s/{space_id}/`.
The probes (`/healthz`, `/readyz`, `/metrics`) belong to the process, not to a space: root only."""

from django.contrib import admin
from django.urls import include, path

from eventlog.api.urls import probe_urlpatterns

# actions.api.urls first: its `_enqueue` and `_bulk_enqueue` are the busiest routes, and Django tries
# the patterns in order (about 35 us of a ~0.9 ms `_enqueue` went to trying the others first). No
# route matches another's paths, so the order decides nothing else (tests/api/test_routes.py).
API_MODULES = [
    "actions.api.urls",
    "connectors.api.urls",
    "connectors.api.saved_objects_urls",
    "eventlog.api.urls",
]

handler400 = "connectors.api.middleware.bad_request"

urlpatterns = [
    path("admin/saved-objects/", include("connectors.admin.saved_objects")),
    path("admin/", admin.site.urls),
    *[path("", include(module)) for module in API_MODULES],
    *probe_urlpatterns,
    *[path("s/<str:space_id>/", include(module)) for module in API_MODULES],
]
