"""A read-only event list: filter by kind of run, outcome, connector, space and time. Rows name
the connector (or rule), badge the outcome and show a failed run's error; the detail page lays the
event out in sections, with the raw document folded away.

Everything follows the space privileges: the list, the space filter and the connector filter offer
only the spaces the user may read (and their connectors), never the names of others (issue 16)."""

import json
from datetime import UTC, datetime, timedelta

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import OuterRef, Subquery
from django.db.models.fields.json import KT
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from connectors import privileges
from connectors.models import Connector, Space
from connectors.preconfigured import preconfigured_connectors
from eventlog.models import Event

PROVIDERS = {"actions": "Connector run", "alerting": "Rule run"}


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
    values = (("success", "Succeeded"), ("failure", "Failed"), ("warning", "Warning"))


class ProviderFilter(ChoiceFilter):
    title = "kind"
    parameter_name = "provider"
    field = "provider"
    values = tuple(PROVIDERS.items())


def with_names(queryset):
    """Each event with its connector's name and its rule's name, read for the rows shown only."""
    # The connector of the event's own space: an id deleted in one space can be taken in another.
    names = Connector.objects.filter(pk=OuterRef("connector_id"), space_id=OuterRef("space_id")).values(
        "name"
    )[:1]
    return queryset.annotate(connector_name=Subquery(names), rule_name=KT("document__rule__name"))


class EventChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        return with_names(super().get_queryset(request, exclude_parameters))


def connector_label(event) -> str:
    name = getattr(event, "connector_name", None)
    if not name and event.connector_id:
        preconfigured = preconfigured_connectors().get(event.connector_id)
        name = preconfigured.name if preconfigured else event.connector_id
    return name or ""


def connector_url(event) -> str:
    if not event.connector_id:
        return ""
    try:
        return reverse("admin:connectors_connector_view", args=[event.connector_id]) + (
            f"?space={event.space_id}" if event.space_id else ""
        )
    except NoReverseMatch:
        return ""


def outcome_badge(outcome: str):
    words = {"success": "Succeeded", "failure": "Failed", "warning": "Warning"}
    if not outcome:
        return mark_safe('<span class="cx-muted">–</span>')
    css = {"success": "ok", "failure": "danger", "warning": "warn"}.get(outcome, "info")
    return format_html('<span class="cx-badge cx-badge--{}">{}</span>', css, words.get(outcome, outcome))


def duration_text(duration_ns) -> str:
    if duration_ns is None:
        return "–"
    ms = duration_ns / 1e6
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    # no space column: the space filter and the detail page say it, and the columns fit 1366 px
    list_display = ("when", "kind", "outcome_badge", "subject", "what_happened", "duration")
    list_display_links = ("when",)
    list_filter = (ProviderFilter, OutcomeFilter, ConnectorFilter, SpaceFilter, ActionFilter, PeriodFilter)
    search_fields = ("message", "execution_uuid", "=connector_id")
    ordering = ("-id",)  # insertion order: newest first without sorting the whole log
    show_full_result_count = False  # no second COUNT(*) over a large log
    list_per_page = 50

    def get_queryset(self, request):
        queryset = super().get_queryset(request).defer("document")  # the list never shows it
        if request.user.is_superuser:
            return queryset
        return queryset.filter(space_id__in=readable_space_ids(request))

    def get_changelist(self, request, **kwargs):
        return EventChangeList

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="time", ordering="timestamp")
    def when(self, obj):
        return obj.timestamp.strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="kind", ordering="provider")
    def kind(self, obj):
        label = PROVIDERS.get(obj.provider, obj.provider)
        return label if obj.action in ("execute", "execute-action") else f"{label} ({obj.action})"

    @admin.display(description="outcome", ordering="outcome")
    def outcome_badge(self, obj):
        return outcome_badge(obj.outcome)

    @admin.display(description="connector or rule")
    def subject(self, obj):
        name = connector_label(obj)
        if name:
            url = connector_url(obj)
            link = format_html('<a href="{}" title="{}">{}</a>', url, name, name) if url else name
            return format_html('<span class="cx-ellipsis">{}</span>', link)
        rule = getattr(obj, "rule_name", None) or obj.rule_id
        return format_html('<span class="cx-ellipsis" title="{}">{}</span>', rule, rule) if rule else "–"

    @admin.display(description="message")
    def what_happened(self, obj):
        text = obj.error_message if obj.outcome == "failure" and obj.error_message else obj.message
        css = "cx-clamp" + (" cx-danger-text" if obj.outcome == "failure" else "")
        return format_html(
            '<span class="{}">{}</span>', css, text
        )  # two lines at most; all of it on the detail page

    @admin.display(description="duration", ordering="duration_ns")
    def duration(self, obj):
        return duration_text(obj.duration_ns)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The event in sections (what ran, how it went, where), then the raw document folded."""
        event = self.get_object(request, object_id)
        if event is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        event = with_names(Event.objects.filter(pk=event.pk)).get()
        document = event.document or {}
        error = (document.get("error") or {}).get("message") or event.error_message
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{PROVIDERS.get(event.provider, event.provider)} at {event.timestamp:%Y-%m-%d %H:%M:%S}",
            "event": event,
            "kind": PROVIDERS.get(event.provider, event.provider),
            "outcome": outcome_badge(event.outcome),
            "connector_name": connector_label(event),
            "connector_url": connector_url(event),
            "rule_name": event.rule_name or "",
            "duration": duration_text(event.duration_ns),
            "delay": duration_text(event.schedule_delay_ns),
            "error": error,
            "document": json.dumps(document, indent=2, sort_keys=True),
        }
        return TemplateResponse(request, "admin/eventlog/event/detail.html", context)
