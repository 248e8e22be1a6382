"""Admin for who may do what: API keys and per-space privileges."""

from django.contrib import admin

from connectors.models import ApiKey, SpacePrivilege


@admin.register(SpacePrivilege)
class SpacePrivilegeAdmin(admin.ModelAdmin):
    list_display = ("space", "user", "group", "privilege")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "user", "created_at", "expires_at", "revoked_at")
    exclude = ("key_hash",)
