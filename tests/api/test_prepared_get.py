"""`connectors.prepared.PreparedGet`: the ORM's answer, with the SQL built once per thread."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from connectors.models import ApiKey, Connector
from connectors.prepared import PreparedGet
from tests.actions.helpers import make_webhook


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.fixture
def connector(default_space):
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    Connector.objects.filter(pk=hook.pk).update(last_run_at=timezone.now(), is_missing_secrets=True)
    return hook


def test_it_answers_what_the_orm_answers_with_every_value_converted(connector):
    lookup = PreparedGet(lambda pk, space_id: Connector.objects.filter(pk=pk, space_id=space_id))

    found = lookup(pk=connector.pk, space_id="default")

    expected = Connector.objects.get(pk=connector.pk)
    assert field_values(found) == field_values(expected)
    assert found.is_missing_secrets is True and isinstance(found.config, dict)
    assert found.get_secrets() == expected.get_secrets()
    assert found._state.adding is False and found._state.db == "default"


def test_it_reads_the_row_again_on_every_call(connector):
    lookup = PreparedGet(lambda pk: Connector.objects.filter(pk=pk))
    assert lookup(pk=connector.pk).name == "Hook"

    Connector.objects.filter(pk=connector.pk).update(name="Renamed")

    assert lookup(pk=connector.pk).name == "Renamed"


def test_it_answers_none_for_no_row_and_keeps_the_other_filters(connector):
    lookup = PreparedGet(lambda pk, space_id: Connector.objects.filter(pk=pk, space_id=space_id))

    assert lookup(pk="missing", space_id="default") is None
    assert lookup(pk=connector.pk, space_id="marketing") is None
    assert lookup(pk=connector.pk, space_id="default") is not None


def test_constant_filters_stay_in_the_statement(db):
    user = User.objects.create_user("someone", "", "a-password-123")
    lookup = PreparedGet(lambda pk: User.objects.filter(pk=pk, is_active=True))
    assert lookup(pk=user.pk) == user

    User.objects.filter(pk=user.pk).update(is_active=False)

    assert lookup(pk=user.pk) is None


def test_select_related_rows_come_with_the_lookup(db, django_assert_num_queries):
    user = User.objects.create_superuser("owner", "", "a-password-123")
    ApiKey.objects.create(id="k1", name="key", user=user, key_hash="0" * 64, expires_at=timezone.now())
    lookup = PreparedGet(lambda pk: ApiKey.objects.select_related("user").filter(pk=pk))
    lookup(pk="k1")

    with django_assert_num_queries(1):
        key = lookup(pk="k1")
        assert key.user.username == "owner" and key.user.is_superuser is True

    assert field_values(key) == field_values(ApiKey.objects.get(pk="k1"))
    assert field_values(key.user) == field_values(user)


def test_datetime_values_compare_as_the_orm_compares_them(db):
    session = SessionStore()
    session["x"] = 1
    session.create()
    lookup = PreparedGet(
        lambda session_key, now: Session.objects.filter(session_key=session_key, expire_date__gt=now)
    )

    assert lookup(session_key=session.session_key, now=timezone.now()) is not None
    assert lookup(session_key=session.session_key, now=timezone.now() + timedelta(days=365)) is None


def test_a_value_of_another_type_than_compiled_is_refused(connector):
    lookup = PreparedGet(lambda pk: Connector.objects.filter(pk=pk))
    lookup(pk=connector.pk)

    with pytest.raises(TypeError):
        lookup(pk=12)
