import pytest
from django.test import Client

from connectors.models import SpacePrivilege


@pytest.fixture
def staff_user(db, django_user_model):
    """A staff user whose connector rights come only from SpacePrivilege rows."""

    def make(username: str, **grants: str):
        user = django_user_model.objects.create_user(username, "", "a-password-123", is_staff=True)
        for space_id, privilege in grants.items():
            SpacePrivilege.objects.create(space_id=space_id, user=user, privilege=privilege)
        return user

    return make


@pytest.fixture
def admin_client(db, default_space, superuser):
    client = Client()
    client.force_login(superuser)
    return client
