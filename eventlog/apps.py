from django.apps import AppConfig


class EventlogConfig(AppConfig):
    name = "eventlog"
    verbose_name = "Event log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from connectors import extensions
        from eventlog.admin_views import admin_home, render_connector_log
        from eventlog.services import ensure_retention_schedule, failures_last_24h

        # What the connectors app shows from the event log (connectors never imports eventlog).
        extensions.register(
            failures_last_24h=failures_last_24h,
            render_connector_log=render_connector_log,
            admin_home=admin_home,
        )
        extensions.register_bootstrap_step(ensure_retention_schedule)
