"""Kibana's alerting routes plus our `_enqueue` and `_alerts` extensions. Paths are full (`api/...`)."""

from django.urls import path

from actions.api import maintenance_windows as mw_views
from actions.api import maintenance_windows_internal as mw_internal
from actions.api import views

urlpatterns = [
    # The hot routes first: Django tries the patterns in order (no route matches another's paths;
    # tests/api/test_routes.py checks that every route is reached by its own paths).
    path(
        "api/actions/connector/<str:connector_id>/_enqueue",
        views.EnqueueView.as_view(),
        name="connector-enqueue",
    ),
    path("api/actions/_bulk_enqueue", views.BulkEnqueueView.as_view(), name="bulk-enqueue"),
    path("api/alerting/rule", views.RuleCreateView.as_view(), name="rule-create"),
    path("api/alerting/rule/<str:rule_id>", views.RuleDetailView.as_view(), name="rule"),
    path(
        "api/alerting/rule/<str:rule_id>/_enable",
        views.RuleActionView.as_view(operation="enable"),
        name="rule-enable",
    ),
    path(
        "api/alerting/rule/<str:rule_id>/_disable",
        views.RuleActionView.as_view(operation="disable"),
        name="rule-disable",
    ),
    path(
        "api/alerting/rule/<str:rule_id>/_mute_all",
        views.RuleActionView.as_view(operation="muteAll"),
        name="rule-mute-all",
    ),
    path(
        "api/alerting/rule/<str:rule_id>/_unmute_all",
        views.RuleActionView.as_view(operation="unmuteAll"),
        name="rule-unmute-all",
    ),
    path(
        "api/alerting/rule/<str:rule_id>/alert/<str:alert_id>/_mute",
        views.AlertMuteView.as_view(mute=True),
        name="rule-alert-mute",
    ),
    path(
        "api/alerting/rule/<str:rule_id>/alert/<str:alert_id>/_unmute",
        views.AlertMuteView.as_view(mute=False),
        name="rule-alert-unmute",
    ),
    path("api/alerting/rule/<str:rule_id>/snooze_schedule", views.SnoozeView.as_view(), name="rule-snooze"),
    path(
        "api/alerting/rule/<str:rule_id>/snooze_schedule/<str:schedule_id>",
        views.UnsnoozeView.as_view(),
        name="rule-unsnooze",
    ),
    path(
        "api/alerting/rule/<str:rule_id>/_alerts", views.ReportAlertsView.as_view(), name="rule-report-alerts"
    ),
    path("api/alerting/rules/_find", views.RuleFindView.as_view(), name="rule-find"),
    path("api/alerting/rule_types", views.RuleTypesView.as_view(), name="rule-types"),
    path("api/alerting/_health", views.HealthView.as_view(), name="alerting-health"),
    path("internal/alerting/rule/<str:rule_id>/_run_soon", views.RunSoonView.as_view(), name="rule-run-soon"),
    path(
        "api/alerting/rule/<str:rule_id>/_update_api_key",
        views.UpdateApiKeyView.as_view(),
        name="rule-update-api-key",
    ),
    path(
        "internal/alerting/rule/<str:rule_id>/_execution_log",
        views.RuleExecutionLogView.as_view(),
        name="rule-execution-log",
    ),
    path(
        "internal/alerting/rule/<str:rule_id>/_execution_kpi",
        views.RuleExecutionKpiView.as_view(),
        name="rule-execution-kpi",
    ),
    path(
        "api/alerting/rules/backfill/_schedule",
        views.BackfillScheduleView.as_view(),
        name="backfill-schedule",
    ),
    path("api/alerting/rules/backfill/_find", views.BackfillFindView.as_view(), name="backfill-find"),
    path(
        "api/alerting/rules/backfill/<str:backfill_id>", views.BackfillDetailView.as_view(), name="backfill"
    ),
    # Kibana registers each backfill route twice from one builder: public (9.4) and internal.
    path(
        "internal/alerting/rules/backfill/_schedule",
        views.BackfillScheduleView.as_view(),
        name="backfill-schedule-internal",
    ),
    path(
        "internal/alerting/rules/backfill/_find",
        views.BackfillFindView.as_view(),
        name="backfill-find-internal",
    ),
    path(
        "internal/alerting/rules/backfill/<str:backfill_id>",
        views.BackfillDetailView.as_view(),
        name="backfill-internal",
    ),
    path("api/maintenance_window", mw_views.MaintenanceWindowCreateView.as_view(), name="mw-create"),
    path("api/maintenance_window/_find", mw_views.MaintenanceWindowFindView.as_view(), name="mw-find"),
    path("api/maintenance_window/<str:window_id>", mw_views.MaintenanceWindowDetailView.as_view(), name="mw"),
    path(
        "api/maintenance_window/<str:window_id>/_archive",
        mw_views.MaintenanceWindowArchiveView.as_view(archive=True),
        name="mw-archive",
    ),
    path(
        "api/maintenance_window/<str:window_id>/_unarchive",
        mw_views.MaintenanceWindowArchiveView.as_view(archive=False),
        name="mw-unarchive",
    ),
    # The older internal maintenance-window routes (Kibana's UI); reserved names before `{id}`.
    path(
        "internal/alerting/rules/maintenance_window",
        mw_internal.InternalCreateView.as_view(),
        name="mw-internal-create",
    ),
    path(
        "internal/alerting/rules/maintenance_window/_find",
        mw_internal.InternalFindView.as_view(),
        name="mw-internal-find",
    ),
    path(
        "internal/alerting/rules/maintenance_window/_active",
        mw_internal.InternalActiveView.as_view(),
        name="mw-internal-active",
    ),
    path(
        "internal/alerting/rules/maintenance_window/_bulk_get",
        mw_internal.InternalBulkGetView.as_view(),
        name="mw-internal-bulk-get",
    ),
    path(
        "internal/alerting/rules/maintenance_window/<str:window_id>",
        mw_internal.InternalDetailView.as_view(),
        name="mw-internal",
    ),
    path(
        "internal/alerting/rules/maintenance_window/<str:window_id>/_archive",
        mw_internal.InternalArchiveView.as_view(),
        name="mw-internal-archive",
    ),
    path(
        "internal/alerting/rules/maintenance_window/<str:window_id>/_finish",
        mw_internal.InternalFinishView.as_view(),
        name="mw-internal-finish",
    ),
    path(
        "api/actions/connector/<str:connector_id>/_enqueue/<str:run_id>",
        views.EnqueuedRunView.as_view(),
        name="connector-enqueued-run",
    ),
]
