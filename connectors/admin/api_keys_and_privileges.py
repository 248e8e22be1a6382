"""Admin for who may do what: API keys and per-space privileges.

API keys: the admin generates the key, shows it once (as the `Authorization: ApiKey <encoded>`
value), and stores only its SHA-256 hash. A key can expire and can be revoked (revoking is
immediate and cannot be undone). Staff who are not superusers see and create only their own keys, so
nobody can mint a key that acts as someone with more rights.

Space privileges: `all` or `read` for a user or a group in one space; no row means `none`.
Superusers have `all` everywhere without rows, and only superusers may grant or change privileges.
"""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from connectors.api.authentication import encode_api_key, generate_api_key, hash_api_key
from connectors.models import ApiKey, SpacePrivilege


@admin.register(SpacePrivilege)
class SpacePrivilegeAdmin(admin.ModelAdmin):
    list_display = ("space", "user", "group", "privilege")
    list_filter = ("space", "privilege")
    search_fields = ("user__username", "group__name", "space__id", "space__name")
    fieldsets = (
        (
            None,
            {
                "fields": ("space", "user", "group", "privilege"),
                "description": (
                    "Grant a user or a group (not both) <b>all</b> (create, update, delete, run, read) or "
                    "<b>read</b> (read and run) on connectors in one space. Without a grant the privilege "
                    "is <b>none</b>. Superusers have <b>all</b> in every space."
                ),
            },
        ),
    )

    # Granting privileges is itself a privilege: only superusers may, whatever model permissions
    # a staff user holds, so nobody can raise their own access.
    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("name", "user", "expires_at")
        help_texts = {"expires_at": "Optional. The key stops working at this time."}


class ApiKeyChangeForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("name", "expires_at")


@admin.action(description="Revoke selected API keys")
def revoke_api_keys(modeladmin, request, queryset):
    count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    modeladmin.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "user", "created_at", "expires_at", "last_used_at", "status")
    list_filter = ("revoked_at",)
    search_fields = ("name", "id", "user__username")
    actions = [revoke_api_keys]
    readonly_fields = ("id", "user", "created_at", "last_used_at", "revoked_at", "status")

    @admin.display(description="Status")
    def status(self, obj):
        if obj.revoked_at:
            return "revoked"
        if obj.expires_at and obj.expires_at <= timezone.now():
            return "expired"
        return "active"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ApiKeyChangeForm if obj is not None else ApiKeyAddForm
        if obj is None and not request.user.is_superuser:
            kwargs["fields"] = ("name", "expires_at")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "user", "expires_at") if request.user.is_superuser else ("name", "expires_at")
        return ("id", "name", "user", "status", "created_at", "expires_at", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change):
        if not change:
            if not request.user.is_superuser:
                obj.user = request.user
            key_id, key = generate_api_key()
            obj.id = key_id
            obj.key_hash = hash_api_key(key)
            request._new_api_key = encode_api_key(key_id, key)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        encoded = getattr(request, "_new_api_key", None)
        if encoded is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "opts": self.model._meta,
            "api_key": obj,
            "encoded": encoded,
        }
        response = TemplateResponse(request, "admin/connectors/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response
