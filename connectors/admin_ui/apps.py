from django.contrib.admin.apps import AdminConfig


class ConnectorsAdminConfig(AdminConfig):
    """`django.contrib.admin` with our site as the default `admin.site`."""

    default_site = "connectors.admin_ui.site.ConnectorsAdminSite"
