from django.contrib import admin

from connectors import admin_access  # noqa: F401 -- API keys and privileges live there
from connectors.models import Connector, Space


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "description")
    search_fields = ("id", "name")


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ("name", "connector_type_id", "space", "last_run_at", "last_outcome")
    list_filter = ("connector_type_id", "space")
    search_fields = ("name", "connector_type_id")
    exclude = ("secrets_sealed",)
    readonly_fields = ("last_run_at", "last_outcome", "last_error", "created_at", "updated_at")
