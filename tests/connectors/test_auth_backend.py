"""connectors.auth_backends.ModelBackend: Django's, with the session's user row read through
prepared SQL. It must answer exactly as Django's own `get_user` does, and read the row every time."""

import pytest
from django.contrib.auth import backends
from django.contrib.auth.models import User
from django.test import Client

from connectors.auth_backends import ModelBackend


@pytest.fixture
def user(db):
    return User.objects.create_user("session-user", password="a-long-password-123", is_superuser=True)


def both(user_id):
    return ModelBackend().get_user(user_id), backends.ModelBackend().get_user(user_id)


@pytest.mark.django_db
def test_it_answers_as_djangos_backend_for_a_user_an_inactive_user_a_deleted_one_and_junk(user):
    inactive = User.objects.create_user("inactive-user", is_active=False)
    deleted = User.objects.create_user("deleted-user")
    deleted_pk = deleted.pk
    deleted.delete()

    ours, django = both(str(user.pk))
    assert ours == django == user
    assert both(str(inactive.pk)) == (None, None)
    assert both(str(deleted_pk)) == (None, None)
    assert ModelBackend().get_user("not-a-number") is None


@pytest.mark.django_db
def test_it_reads_the_row_on_every_call_so_a_deactivation_takes_effect_at_once(user):
    assert ModelBackend().get_user(str(user.pk)) == user
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert ModelBackend().get_user(str(user.pk)) is None


@pytest.mark.django_db
def test_a_session_logged_in_with_a_password_reaches_the_api_until_the_password_changes(user):
    browser = Client()
    assert browser.login(username="session-user", password="a-long-password-123")
    assert browser.session["_auth_user_backend"] == "connectors.auth_backends.ModelBackend"

    assert browser.get("/api/actions/connectors").status_code == 200

    # Django's check around get_user still runs: a new password ends the sessions made with the old one.
    user.set_password("another-long-password-456")
    user.save()
    assert browser.get("/api/actions/connectors").status_code == 401
