"""A read-only event list: filter by space, connector, event type, outcome and time.

Everything follows the space privileges: the list, the space filter and the connector filter offer
only the spaces the user may read (and their connectors), never the names of others (issue 16)."""

import json
from datetime import UTC, datetime, timedelta

from django.contrib import admin
from django.utils.html import format_html

from connectors import privileges
from connectors.models import Connector, Space
from eventlog.models import Event


def readable_space_ids(request) -> list[str]:
    """The spaces the user may read (cached on the request: the filters and the list all ask)."""
    if not hasattr(request, "_eventlog_readable_spaces"):
        request._eventlog_readable_spaces = privileges.readable_space_ids(request.user)
    return request._eventlog_readable_spaces


class SpaceFilter(admin.SimpleListFilter):
    title = "space"
    parameter_name = "space"

    def lookups(self, request, model_admin):
        spaces = Space.objects.filter(id__in=readable_space_ids(request)).order_by("name")
        return [(space.id, space.name) for space in spaces]

    def queryset(self, request, queryset):
        return queryset.filter(space_id=self.value()) if self.value() else queryset


class ConnectorFilter(admin.SimpleListFilter):
    """Connectors by name (from the connector table, so the list stays short on a big log)."""

    title = "connector"
    parameter_name = "connector"

    def lookups(self, request, model_admin):
        space = request.GET.get("space")
        connectors = Connector.objects.filter(space_id__in=readable_space_ids(request)).order_by("name")
        if space:
            connectors = connectors.filter(space_id=space)
        return [(c.id, f"{c.name} ({c.connector_type_id})") for c in connectors[:200]]

    def queryset(self, request, queryset):
        return queryset.filter(connector_id=self.value()) if self.value() else queryset


class PeriodFilter(admin.SimpleListFilter):
    title = "time"
    parameter_name = "period"
    PERIODS = {
        "1h": timedelta(hours=1),
        "24h": timedelta(days=1),
        "7d": timedelta(days=7),
        "30d": timedelta(days=30),
    }

    def lookups(self, request, model_admin):
        return [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days")]

    def queryset(self, request, queryset):
        period = self.PERIODS.get(self.value() or "")
        return queryset.filter(timestamp__gte=datetime.now(UTC) - period) if period else queryset


class ChoiceFilter(admin.SimpleListFilter):
    """A fixed list of values: no SELECT DISTINCT over the whole log to build the sidebar."""

    field = ""
    values: tuple[tuple[str, str], ...] = ()

    def lookups(self, request, model_admin):
        return self.values

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class ActionFilter(ChoiceFilter):
    title = "event type"
    parameter_name = "action"
    field = "action"
    values = (
        ("execute-start", "execute-start"),
        ("execute", "execute"),
        ("execute-timeout", "execute-timeout"),
    )


class OutcomeFilter(ChoiceFilter):
    title = "outcome"
    parameter_name = "outcome"
    field = "outcome"
    values = (("success", "success"), ("failure", "failure"), ("warning", "warning"))


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = (
        "timestamp",
        "action",
        "outcome",
        "space_id",
        "connector",
        "short_message",
        "duration_ms",
        "attempt",
    )
    list_filter = (SpaceFilter, ConnectorFilter, ActionFilter, OutcomeFilter, PeriodFilter)
    search_fields = ("message", "execution_uuid", "=connector_id")
    ordering = ("-id",)  # insertion order: newest first without sorting the whole log
    show_full_result_count = False  # no second COUNT(*) over a large log
    list_per_page = 50
    fields = (
        "timestamp",
        "action",
        "outcome",
        "space_id",
        "connector_id",
        "connector_type_id",
        "execution_uuid",
        "source",
        "rule_id",
        "attempt",
        "duration_ms",
        "message",
        "pretty_document",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request).defer("document")  # the list never shows it
        if request.user.is_superuser:
            return queryset
        return queryset.filter(space_id__in=readable_space_ids(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="connector", ordering="connector_id")
    def connector(self, obj):
        return f"{obj.connector_type_id}:{obj.connector_id}" if obj.connector_id else "-"

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"

    @admin.display(description="duration (ms)", ordering="duration_ns")
    def duration_ms(self, obj):
        return round(obj.duration_ns / 1e6, 1) if obj.duration_ns is not None else "-"

    @admin.display(description="document")
    def pretty_document(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.document, indent=2, sort_keys=True))
