"""Every API module is mounted twice: at the root (the `default` space) and under `/s/{space_id}/`."""

from django.contrib import admin
from django.urls import include, path

API_MODULES = [
    "connectors.api.urls",
    "connectors.api.saved_objects_urls",
    "actions.api.urls",
    "eventlog.api.urls",
]

urlpatterns = [
    path("admin/saved-objects/", include("connectors.admin.saved_objects")),
    path("admin/", admin.site.urls),
    *[path("", include(module)) for module in API_MODULES],
    *[path("s/<str:space_id>/", include(module)) for module in API_MODULES],
]
