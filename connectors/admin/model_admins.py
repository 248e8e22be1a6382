"""The ModelAdmins of spaces and connectors: Kibana's Stack Management > Connectors on top of the
Django admin.

`ConnectorAdmin` keeps the Django admin's URL names (changelist, add, change, delete) but serves
Kibana-like pages from `connectors.admin.views`. What a user may see and do comes from the
per-space privileges (`connectors.privileges`), not from Django model permissions.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path

from connectors.admin import views
from connectors.admin.spaces import space_access
from connectors.models import Connector, Space


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "description")
    search_fields = ("id", "name")


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    """Connectors of the current space, with the type grid, schema-built forms and Test/Logs/Rules tabs."""

    # ---- permissions: the space privilege decides -------------------------------------------

    def has_module_permission(self, request):
        return bool(space_access(request).readable)

    def has_view_permission(self, request, obj=None):
        return space_access(request).can_read

    def has_add_permission(self, request):
        return space_access(request).can_write

    def has_change_permission(self, request, obj=None):
        return space_access(request).can_write

    def has_delete_permission(self, request, obj=None):
        return space_access(request).can_write

    # ---- pages ---------------------------------------------------------------------------------

    def get_urls(self):
        def page(route, view, name):
            def wrapper(request, *args, **kwargs):
                try:
                    return view(request, self, *args, **kwargs)
                except (PermissionDenied, Http404) as exc:
                    return views.refusal(request, self, exc)

            return path(route, self.admin_site.admin_view(wrapper), name=f"connectors_connector_{name}")

        return [
            page("", views.connector_list, "changelist"),
            page("add/", views.connector_add, "add"),
            page("delete/", views.connector_bulk_delete, "bulk_delete"),
            page("export/", views.connector_bulk_export, "bulk_export"),
            page("<str:connector_id>/", views.connector_view, "view"),
            page("<str:connector_id>/change/", views.connector_change, "change"),
            page("<str:connector_id>/fix/", views.connector_fix, "fix"),
            page("<str:connector_id>/test/", views.connector_test, "test"),
            page("<str:connector_id>/logs/", views.connector_logs, "logs"),
            page("<str:connector_id>/rules/", views.connector_rules, "rules"),
            page("<str:connector_id>/delete/", views.connector_delete, "delete"),
        ]
