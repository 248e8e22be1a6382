from django.apps import AppConfig
from django.contrib.admin import (
    apps as admin_apps,
)  # a module: Django picks an app's AppConfig among the classes here


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"
    default_auto_field = "django.db.models.BigAutoField"
    default = True  # the config of `"connectors"` in INSTALLED_APPS; ConnectorsAdminConfig is not

    def ready(self):
        from django.db.backends.signals import connection_created

        from connectors import checks, registry  # noqa: F401 -- registers the system checks
        from connectors.db_functions import register_sqlite_functions

        registry.load_from_settings()
        connection_created.connect(register_sqlite_functions, dispatch_uid="connectors-sqlite-functions")


class ConnectorsAdminConfig(admin_apps.AdminConfig):
    """`django.contrib.admin` with our site as the default `admin.site` (INSTALLED_APPS names it in
    place of `django.contrib.admin`). It lives here, not in `connectors.admin`, because that package
    imports models, which cannot be imported while INSTALLED_APPS is read."""

    default = False
    default_site = "connectors.admin.site.default_site"
