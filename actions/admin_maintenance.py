"""Admin for maintenance windows of the current space (the switcher's, as on the connector pages):
list them with their computed status, create and edit them (validated by the API's schema, so the
messages are Kibana's), archive and unarchive. Registered from actions/admin.py."""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.http import HttpResponseRedirect
from django.utils import timezone

from actions import maintenance_windows as mw
from actions.models import MaintenanceWindow
from connectors.admin.spaces import here_in_space, space_access
from connectors.schemas import SchemaError


class MaintenanceWindowForm(forms.ModelForm):
    """The API's `schedule.custom` and `scope` as plain fields."""

    start = forms.CharField(help_text="ISO 8601 in UTC, e.g. 2030-03-01T08:00:00.000Z")
    duration = forms.CharField(help_text="e.g. 30m, 2h, 1d", initial="1h")
    schedule_timezone = forms.CharField(
        label="Timezone", required=False, help_text="IANA name, e.g. Europe/Amsterdam (default UTC)"
    )
    every = forms.CharField(required=False, help_text="Repeat every, e.g. 1d, 1w, 1M, 1y (empty: once)")
    on_week_day = forms.CharField(required=False, help_text="Comma-separated, e.g. MO,WE")
    occurrences = forms.IntegerField(required=False, min_value=1)
    end = forms.CharField(required=False, help_text="Repeat until (ISO 8601, in the future)")
    kql = forms.CharField(
        label="Scope (KQL)", required=False, help_text='Only alerts matching it, e.g. tags: "infra"'
    )

    class Meta:
        model = MaintenanceWindow
        fields = ["title", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        custom = (self.instance.schedule or {}).get("custom") or {}
        recurring = custom.get("recurring") or {}
        if custom:
            self.fields["start"].initial = custom.get("start")
            self.fields["duration"].initial = custom.get("duration")
            self.fields["schedule_timezone"].initial = custom.get("timezone")
            self.fields["every"].initial = recurring.get("every")
            self.fields["on_week_day"].initial = ",".join(recurring.get("onWeekDay") or [])
            self.fields["occurrences"].initial = recurring.get("occurrences")
            self.fields["end"].initial = recurring.get("end")
            self.fields["kql"].initial = mw.scope_kql(self.instance)

    def clean(self):
        from actions.api.maintenance_windows import CREATE_BODY

        cleaned = super().clean()
        if self.errors:
            return cleaned
        if not self.instance._state.adding and self.instance.expiration_date < timezone.now():
            raise forms.ValidationError("Cannot edit archived maintenance windows")
        custom = {"start": cleaned["start"], "duration": cleaned["duration"]}
        if cleaned.get("schedule_timezone"):
            custom["timezone"] = cleaned["schedule_timezone"]
        recurring = {
            "every": cleaned.get("every") or None,
            "onWeekDay": [d.strip() for d in (cleaned.get("on_week_day") or "").split(",") if d.strip()]
            or None,
            "occurrences": cleaned.get("occurrences"),
            "end": cleaned.get("end") or None,
        }
        recurring = {key: value for key, value in recurring.items() if value is not None}
        if recurring:
            custom["recurring"] = recurring
        body = {
            "title": cleaned["title"],
            "enabled": cleaned.get("enabled", True),
            "schedule": {"custom": custom},
        }
        if cleaned.get("kql"):
            body["scope"] = {"alerting": {"query": {"kql": cleaned["kql"]}}}
        try:
            self.body = CREATE_BODY.validate(body, "request body")
            if cleaned.get("kql"):
                mw.kql_problem(cleaned["kql"], "create")
        except SchemaError as exc:
            field, message = _field_of(str(exc))
            self.add_error(field, message)
        except mw.MaintenanceWindowError as exc:
            self.add_error("kql" if cleaned.get("kql") else None, exc.message)
        return cleaned


# The API body's paths (`[request body.schedule.custom.recurring.every]: …`) and their inputs.
BODY_FIELDS = {
    "title": "title",
    "enabled": "enabled",
    "schedule.custom.start": "start",
    "schedule.custom.duration": "duration",
    "schedule.custom.timezone": "schedule_timezone",
    "schedule.custom.recurring.every": "every",
    "schedule.custom.recurring.onWeekDay": "on_week_day",
    "schedule.custom.recurring.occurrences": "occurrences",
    "schedule.custom.recurring.end": "end",
    "scope": "kql",
}


def _field_of(message: str) -> tuple[str | None, str]:
    """The input a schema message is about and the message without its path, so it shows on that
    input; a path no input matches stays at the top of the form with its path."""
    match = re.match(r"^\[request body\.([^\]]+)\]: (.*)$", message, re.DOTALL)
    if match:
        path, rest = match.groups()
        for prefix in sorted(BODY_FIELDS, key=len, reverse=True):
            if path == prefix or path.startswith(f"{prefix}."):
                return BODY_FIELDS[prefix], rest
    return None, message


class _SpaceChangeList(ChangeList):
    def get_filters_params(self, params=None):
        # `?space=` names the page's space (space_access), it is no filter of the list
        lookup_params = super().get_filters_params(params)
        lookup_params.pop("space", None)
        return lookup_params


class MaintenanceWindowAdmin(admin.ModelAdmin):
    form = MaintenanceWindowForm
    list_display = ["title", "status", "current_or_next", "enabled", "created_by", "updated_at"]
    search_fields = ["title", "id"]
    readonly_fields = ["id", "status", "current_or_next", "created_by", "updated_by"]
    actions = ["archive_windows", "unarchive_windows"]

    def get_fieldsets(self, request, obj=None):
        schedule = ["start", "duration", "schedule_timezone", "every", "on_week_day", "occurrences", "end"]
        first = ["id", "title", "enabled", "status", "current_or_next"] if obj else ["title", "enabled"]
        return [(None, {"fields": first}), ("Schedule", {"fields": schedule}), ("Scope", {"fields": ["kql"]})]

    # ---- the current space decides -----------------------------------------------------------------

    def has_module_permission(self, request):
        return bool(space_access(request).readable)

    def has_view_permission(self, request, obj=None):
        access = space_access(request)
        return access.can_read and (obj is None or obj.space_id == access.space.id)

    def has_add_permission(self, request):
        return space_access(request).can_write

    def has_change_permission(self, request, obj=None):
        access = space_access(request)
        return access.can_write and (obj is None or obj.space_id == access.space.id)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def _form_url_in_space(self, request, form_url: str) -> str:
        access = space_access(request)
        if access.space is not None and not form_url:
            return here_in_space(request, access.space.id)
        return form_url

    def add_view(self, request, form_url="", extra_context=None):
        """The form posts to a URL naming its space, so a switch in another tab meanwhile does not
        move the new window to another space."""
        return super().add_view(request, self._form_url_in_space(request, form_url), extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Likewise: after a switch elsewhere the edit still finds its window (before, the window
        was "not found" in the other space and what was typed was lost)."""
        return super().change_view(
            request, object_id, self._form_url_in_space(request, form_url), extra_context
        )

    def _page_in_space(self, request) -> HttpResponseRedirect | None:
        """Django's delete confirmation and the list's action form post to the page's own URL: a GET
        of one that does not name its space is sent to the URL that does, so after a switch in another
        tab the delete or archive still finds its windows (before: "not found", "no items selected")."""
        access = space_access(request)
        if request.method != "GET" or access.space is None or "space" in request.GET:
            return None
        query = request.GET.copy()
        query["space"] = access.space.id
        return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")

    def delete_view(self, request, object_id, extra_context=None):
        return self._page_in_space(request) or super().delete_view(request, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        return self._page_in_space(request) or super().changelist_view(request, extra_context)

    def get_changelist(self, request, **kwargs):
        return _SpaceChangeList

    def get_queryset(self, request):
        access = space_access(request)
        queryset = super().get_queryset(request)
        return queryset.filter(space=access.space) if access.space else queryset.none()

    # ---- columns ---------------------------------------------------------------------------------------

    @admin.display(description="Status")
    def status(self, obj):
        return mw.date_and_status(obj)[0]

    @admin.display(description="Running or next occurrence")
    def current_or_next(self, obj):
        event = mw.date_and_status(obj)[1]
        return f"{event['gte']} → {event['lte']}" if event else "—"

    # ---- writes go through the same code as the API ------------------------------------------------

    def save_model(self, request, obj, form, change):
        user = request.user.get_username()
        if change:
            saved = mw.update_window(obj, form.body, user=user)
        else:
            saved = mw.create_window(space_access(request).space, form.body, user=user)
        obj.pk = saved.pk

    @admin.action(description="Archive selected maintenance windows", permissions=["change"])
    def archive_windows(self, request, queryset):
        for window in queryset:
            mw.archive_window(window, True, request.user.get_username())
        messages.success(request, f"Archived {queryset.count()} maintenance window(s).")

    @admin.action(description="Unarchive selected maintenance windows", permissions=["change"])
    def unarchive_windows(self, request, queryset):
        for window in queryset:
            mw.archive_window(window, False, request.user.get_username())
        messages.success(request, f"Unarchived {queryset.count()} maintenance window(s).")


def recent_runs_table(rule) -> str:
    """The rule page's execution log: its last runs (rule runs only; connector runs are on the
    connector's Logs tab), from the same code as `/internal/alerting/rule/{id}/_execution_log`."""
    from datetime import timedelta

    from django.utils.html import format_html, format_html_join

    from actions.rule_execution_log import execution_log

    if rule is None or not rule.pk:
        return "—"
    now = timezone.now()
    log = execution_log(rule, start=now - timedelta(days=30), end=now, per_page=20)
    if not log["data"]:
        return "No runs in the last 30 days."
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                row["timestamp"],
                row["status"],
                f"{row['duration_ms']:.0f} ms",
                f"{row['num_active_alerts']} / {row['num_new_alerts']} / {row['num_recovered_alerts']}",
                f"{row['num_triggered_actions']} ({row['num_errored_actions']} failed)",
                ", ".join(row["maintenance_window_ids"]) or "—",
                row["message"],
            )
            for row in log["data"]
        ),
    )
    return format_html(
        '<table class="recent-runs"><thead><tr><th>Time</th><th>Status</th><th>Duration</th>'
        "<th>Alerts active / new / recovered</th><th>Actions</th><th>Maintenance windows</th>"
        "<th>Message</th></tr></thead><tbody>{}</tbody></table><p>{} run(s) in the last 30 days.</p>",
        rows,
        log["total"],
    )


def register(site) -> None:
    site.register(MaintenanceWindow, MaintenanceWindowAdmin)
