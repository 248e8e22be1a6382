from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from connectors import checks, registry  # noqa: F401 -- registers the system checks

        registry.load_from_settings()
