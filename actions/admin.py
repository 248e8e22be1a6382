"""Admin for rules (validated by the same code as the API) and a read-only view of action runs.

Both follow the per-space privileges (`connectors.privileges`) on top of Django's model permissions:
lists, filters, searches and object pages show only the spaces the user may read, and changing
anything (the form, delete, enable/disable/run soon, re-queueing a run) needs `all` in the object's
space. Bulk actions skip the selected objects of spaces where the user has only `read` (issue 16).
"""

import json

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html

from actions import admin_maintenance, queue, rule_types
from actions.models import ActionRun, Alert, Rule
from actions.rules import NOTIFY_WHEN, RuleError, disable_rule, enable_rule, iso, prepare
from connectors import privileges
from connectors.models import Space
from connectors.schemas import unstorable_problem


def readable_space_ids(request) -> set[str]:
    """The spaces whose rules and runs the user may see (cached on the request)."""
    if not hasattr(request, "_actions_readable_spaces"):
        request._actions_readable_spaces = set(privileges.readable_space_ids(request.user))
    return request._actions_readable_spaces


def writable_space_ids(request) -> set[str]:
    """The spaces where the user has `all` (cached on the request)."""
    if not hasattr(request, "_actions_writable_spaces"):
        request._actions_writable_spaces = {
            space_id
            for space_id in readable_space_ids(request)
            if privileges.privilege_for(request.user, space_id) == privileges.ALL
        }
    return request._actions_writable_spaces


class SpaceScopedAdmin(admin.ModelAdmin):
    """Django's model permission and the space privilege must both allow; `space_field` names the
    model's space column."""

    space_field = "space_id"

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(**{f"{self.space_field}__in": readable_space_ids(request)})
        )

    def has_module_permission(self, request):
        return super().has_module_permission(request) and bool(readable_space_ids(request))

    def has_view_permission(self, request, obj=None):
        if obj is not None and getattr(obj, self.space_field) not in readable_space_ids(request):
            return False
        return super().has_view_permission(request, obj) and bool(readable_space_ids(request))

    def may_write(self, request, obj=None) -> bool:
        if obj is None:
            return bool(writable_space_ids(request))
        return getattr(obj, self.space_field) in writable_space_ids(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.may_write(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.may_write(request, obj)

    def writable(self, request, queryset):
        """The part of a bulk selection the user may change, and how many were left out."""
        allowed = queryset.filter(**{f"{self.space_field}__in": writable_space_ids(request)})
        skipped = queryset.count() - allowed.count()
        if skipped:
            messages.warning(request, f"Skipped {skipped} of the selected in spaces you may only read.")
        return allowed


def _rule_type_choices():
    return [(t.type_id, f"{t.name} ({t.type_id})") for t in rule_types.all_types()]


class RuleForm(forms.ModelForm):
    rule_type_id = forms.ChoiceField(label="Rule type", choices=_rule_type_choices)
    schedule_interval = forms.CharField(label="Check every", help_text="e.g. 10s, 1m, 1h, 1d", initial="1m")
    notify_when = forms.ChoiceField(
        required=False,
        choices=[("", "— per action (frequency) —"), *[(v, v) for v in NOTIFY_WHEN]],
        help_text="Legacy rule-level frequency; leave empty and give each action a frequency.",
    )
    params = forms.JSONField(
        help_text="Rule-type params, e.g. for Index threshold: index, timeField, aggType, thresholdComparator, "
        "threshold, timeWindowSize, timeWindowUnit.",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 90, "class": "rx-json"}),
    )
    actions = forms.JSONField(
        required=False,
        help_text='Kibana\'s actions[]: [{"group": "threshold met", "id": "<connector id>", "params": {...}, '
        '"frequency": {"summary": false, "notify_when": "onActiveAlert", "throttle": null}}]',
        widget=forms.Textarea(attrs={"rows": 10, "cols": 90, "class": "rx-json"}),
    )
    tags = forms.JSONField(required=False, help_text='A JSON list, e.g. ["cpu"]')

    class Meta:
        model = Rule
        fields = [
            "name",
            "space",
            "rule_type_id",
            "consumer",
            "schedule_interval",
            "enabled",
            "params",
            "actions",
            "tags",
            "notify_when",
            "throttle",
        ]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        from actions.rules import duration_problem

        problem = duration_problem(cleaned.get("schedule_interval"))
        if problem:
            self.add_error("schedule_interval", problem)
            return cleaned
        body = {
            "name": cleaned["name"],
            "schedule": {"interval": cleaned["schedule_interval"]},
            "params": cleaned.get("params") or {},
            "actions": cleaned.get("actions") or [],
            "tags": cleaned.get("tags") or [],
            "notify_when": cleaned.get("notify_when") or None,
            "throttle": cleaned.get("throttle") or None,
        }
        problem = unstorable_problem(body, "")  # `\u0000` or `\ud800` in the JSON fields: unstorable
        if problem:
            raise forms.ValidationError(problem)
        rule_type_id = (
            self.instance.rule_type_id if not self.instance._state.adding else cleaned["rule_type_id"]
        )
        consumer = self.instance.consumer if not self.instance._state.adding else cleaned["consumer"]
        try:
            self.prepared = prepare(
                cleaned["space"].id, body, rule_type_id=rule_type_id, consumer=consumer, operation="create"
            )
        except RuleError as exc:
            raise forms.ValidationError(exc.message) from None
        return cleaned


class AlertInline(admin.TabularInline):
    model = Alert
    extra = 0
    can_delete = False
    fields = [
        "alert_id",
        "status",
        "action_group",
        "last_scheduled_group",
        "active_since",
        "consecutive_matches",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Rule)
class RuleAdmin(SpaceScopedAdmin):
    form = RuleForm
    list_display = [
        "name",
        "rule_type_id",
        "space",
        "enabled",
        "status_badge",
        "schedule_interval",
        "next_run_at",
    ]
    list_filter = ["enabled", "rule_type_id", ("space", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "id"]
    readonly_fields = [
        "id",
        "status_badge",
        "execution_status_json",
        "last_run_json",
        "next_run_at",
        "revision",
        "recent_runs",
    ]
    inlines = [AlertInline]
    actions = ["enable_rules", "disable_rules", "run_soon"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "name",
                    "space",
                    "rule_type_id",
                    "consumer",
                    "schedule_interval",
                    "enabled",
                    "tags",
                ]
            },
        ),
        ("Definition", {"fields": ["params", "actions", "notify_when", "throttle"]}),
        (
            "Last run",
            {"fields": ["status_badge", "execution_status_json", "last_run_json", "next_run_at", "revision"]},
        ),
        ("Execution log", {"fields": ["recent_runs"]}),
    ]

    def get_urls(self):
        from actions import admin_rule_editor  # the rule editor serves add/ and <id>/change/

        return admin_rule_editor.urls(self) + super().get_urls()

    def get_readonly_fields(self, request, obj=None):
        fixed = ["rule_type_id", "consumer", "space"] if obj else []
        return [*self.readonly_fields, *fixed]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self.may_write(request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "space":  # a new rule goes only where the user has `all`
            kwargs["queryset"] = Space.objects.filter(id__in=writable_space_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Status")
    def status_badge(self, obj):
        status = (obj.execution_status or {}).get("status", "pending")
        # a class, not a style attribute: the admin's CSP has no 'unsafe-inline' (admin.css colours it)
        tone = {"ok": "ok", "active": "bad", "error": "bad", "warning": "warn"}.get(status, "none")
        return format_html('<strong class="rx-status-badge rx-status-badge--{}">{}</strong>', tone, status)

    @admin.display(description="Execution status")
    def execution_status_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.execution_status, indent=2))

    @admin.display(description="Last run")
    def last_run_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.last_run, indent=2))

    @admin.display(description="Recent runs")
    def recent_runs(self, obj):
        from actions.admin_maintenance import recent_runs_table

        return recent_runs_table(obj)

    def save_model(self, request, obj, form, change):
        for key, value in form.prepared.items():
            setattr(obj, key, value)
        user = request.user.get_username()
        obj.updated_by = user
        if not change:
            obj.created_by = user
            obj.execution_status = {"status": "pending", "last_execution_date": iso(timezone.now())}
        if obj.enabled:
            obj.api_key_owner = user
            if not obj.next_run_at:
                obj.next_run_at = timezone.now()
        else:
            obj.next_run_at = None
        if change and "schedule_interval" in form.changed_data and obj.enabled:
            obj.next_run_at = timezone.now()
        obj.save()

    @admin.action(description="Enable selected rules", permissions=["change"])
    def enable_rules(self, request, queryset):
        rules = list(self.writable(request, queryset))
        for rule in rules:
            enable_rule(rule, request.user.get_username())
        messages.success(request, f"Enabled {len(rules)} rule(s).")

    @admin.action(description="Disable selected rules", permissions=["change"])
    def disable_rules(self, request, queryset):
        rules = list(self.writable(request, queryset))
        for rule in rules:
            disable_rule(rule, request.user.get_username())
        messages.success(request, f"Disabled {len(rules)} rule(s).")

    @admin.action(description="Run selected rules soon", permissions=["change"])
    def run_soon(self, request, queryset):
        count = 0
        with transaction.atomic():
            for rule in self.writable(request, queryset).filter(enabled=True):
                queue.queue_rule_run(rule.id)
                count += 1
        messages.success(request, f"{count} rule(s) will run soon (disabled rules are skipped).")


@admin.register(ActionRun)
class ActionRunAdmin(SpaceScopedAdmin):
    list_display = [
        "id",
        "space_id",
        "connector_id",
        "connector_type_id",
        "status",
        "attempts",
        "max_attempts",
        "due_at",
        "rule_id",
    ]
    list_filter = ["status", "connector_type_id", "source"]
    search_fields = ["connector_id", "rule_id", "execution_uuid"]
    readonly_fields = [f.name for f in ActionRun._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # runs are read-only; re-queueing is the `retry` permission below

    def has_retry_permission(self, request):
        """Re-queueing changes a run (status, due time, max_attempts): Django's change permission on
        runs and `all` in some space; the action then keeps only the runs of those spaces."""
        return request.user.has_perm("actions.change_actionrun") and self.may_write(request)

    @admin.action(description="Run selected failed or waiting runs now", permissions=["retry"])
    def retry_now(self, request, queryset):
        queryset = self.writable(request, queryset)
        runs = list(queryset.filter(status__in=[ActionRun.FAILED, ActionRun.QUEUED]))
        with transaction.atomic():
            for run in runs:
                ActionRun.objects.filter(pk=run.pk).update(
                    status=ActionRun.QUEUED,
                    due_at=timezone.now(),
                    max_attempts=max(run.max_attempts, run.attempts + 1),
                )
            transaction.on_commit(lambda: queue.queue_tasks([r.pk for r in runs]))
        messages.success(request, f"{len(runs)} run(s) queued.")


admin_maintenance.register(admin.site)
