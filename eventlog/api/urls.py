from django.urls import path

from eventlog.api import probes, status, views

# The process's own probes (Kibana has none): mounted at the root only (connectors_project/urls.py),
# since no space can be more or less healthy than the process answering.
probe_urlpatterns = [
    path("metrics", probes.metrics_view, name="metrics"),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
]

urlpatterns = [
    path(
        "internal/actions/_global_connector_execution_logs",
        views.ExecutionLogView.as_view(),
        name="global-execution-logs",
    ),
    path(
        "internal/actions/_global_connector_execution_kpi",
        views.ExecutionKpiView.as_view(),
        name="global-execution-kpi",
    ),
    path(
        "internal/actions/connector/<str:connector_id>/_execution_logs",
        views.ExecutionLogView.as_view(),
        name="connector-execution-logs",
    ),
    path(
        "internal/actions/connector/<str:connector_id>/_execution_kpi",
        views.ExecutionKpiView.as_view(),
        name="connector-execution-kpi",
    ),
    path("internal/actions/_event_log/_export", views.EventExportView.as_view(), name="event-log-export"),
    path("api/task_manager/_health", probes.TaskManagerHealthView.as_view(), name="task-manager-health"),
    path("api/status", status.StatusView.as_view(), name="status"),
    path("api/stats", status.StatsView.as_view(), name="stats"),
]
