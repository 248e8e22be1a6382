from django.contrib import admin

from connectors.models import ApiKey, Connector, Space, SpacePrivilege


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


@admin.register(SpacePrivilege)
class SpacePrivilegeAdmin(admin.ModelAdmin):
    list_display = ("space", "user", "group", "privilege")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "user", "created_at", "expires_at", "revoked_at")
    exclude = ("key_hash",)
