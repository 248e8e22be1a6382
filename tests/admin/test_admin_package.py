"""The connectors admin is one package, `connectors.admin`, registered on the one `admin.site`."""

from django.contrib import admin

from connectors.admin.model_admins import ConnectorAdmin
from connectors.admin.site import ConnectorsAdminSite, default_site
from connectors.models import ApiKey, Connector, Space, SpacePrivilege


def test_the_default_admin_site_is_the_connectors_site_with_its_model_admins_registered():
    assert isinstance(admin.site._wrapped, ConnectorsAdminSite)
    assert admin.site._wrapped is default_site()
    for model in (Space, Connector, ApiKey, SpacePrivilege):
        assert admin.site.is_registered(model), model
    assert isinstance(admin.site._registry[Connector], ConnectorAdmin)


def test_django_asking_for_the_default_site_again_gets_the_same_instance():
    assert default_site() is default_site()
