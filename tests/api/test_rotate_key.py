"""`POST /api/encrypted_saved_objects/_rotate_key`: superusers only, Kibana's messages, real rotation."""

import pytest
from cryptography.fernet import Fernet

from connectors.api import encrypted_saved_objects
from connectors.models import Connector
from tests.api.conftest import client_for, create_connector, error, grant, make_user

ROTATE = "/api/encrypted_saved_objects/_rotate_key"


@pytest.fixture
def admin(spaces):
    return client_for(make_user("root", superuser=True), "basic")


@pytest.fixture
def two_keys(settings):
    old_key = settings.FIELD_ENCRYPTION_KEY[0]
    new_key = Fernet.generate_key().decode()
    return lambda: setattr(settings, "FIELD_ENCRYPTION_KEY", [new_key, old_key])


def test_rotation_re_encrypts_secrets_under_the_primary_key_and_counts_them(admin, two_keys, settings):
    connector = create_connector("default")
    connector.set_secrets({"token": "s3cret"})
    connector.save()
    create_connector("marketing")  # other spaces too: the route is not space-scoped
    two_keys()

    response = admin.post(ROTATE)

    assert response.status_code == 200
    assert response.json() == {"total": 2, "successful": 2, "failed": 0}
    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY[:1]  # the old key is gone
    assert Connector.objects.get(pk=connector.pk).get_secrets() == {"token": "s3cret"}
    assert admin.post(ROTATE).status_code == 400  # one key: nothing to rotate from


def test_a_secret_no_configured_key_opens_is_skipped_not_counted_as_failed(admin, two_keys, settings):
    # Kibana's rotation tries the decryption-only keys and silently skips what they cannot open;
    # `failed` counts re-encryptions that could not be written.
    readable = create_connector("default", name="readable")
    readable.set_secrets({"token": "s3cret"})
    readable.save()
    configured = settings.FIELD_ENCRYPTION_KEY
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    unknown = create_connector("default", name="sealed elsewhere")
    unknown.set_secrets({"token": "under a key nobody configured"})
    unknown.save()
    settings.FIELD_ENCRYPTION_KEY = configured
    sealed = Connector.objects.get(pk=unknown.pk).secrets_sealed
    two_keys()

    assert admin.post(ROTATE).json() == {"total": 2, "successful": 1, "failed": 0}
    assert Connector.objects.get(pk=unknown.pk).secrets_sealed == sealed  # left exactly as it was


def test_a_single_key_is_kibanas_not_configured_400(admin):
    assert admin.post(ROTATE).json() == error(400, encrypted_saved_objects.NOT_CONFIGURED)


def test_a_rotation_already_running_is_a_429(admin, two_keys):
    two_keys()
    with encrypted_saved_objects._rotation_lock:
        response = admin.post(ROTATE)

    assert response.json() == error(429, encrypted_saved_objects.IN_PROGRESS)


def test_only_superusers_may_rotate(spaces, two_keys):
    user = make_user("space-admin")
    grant(user, "default", "all")
    two_keys()

    response = client_for(user, "basic").post(f"{ROTATE}?batch_size=5")

    assert response.json() == error(
        403,
        f"API [POST {ROTATE}?batch_size=5] is unauthorized for user, "
        "this action is granted by the Kibana privileges [superuser]",
    )


def test_the_403_under_a_space_names_the_path_without_the_space_prefix(spaces, two_keys):
    user = make_user("space-admin")
    grant(user, "marketing", "all")

    response = client_for(user, "basic").post(f"/s/marketing{ROTATE}?type=action")

    assert response.json() == error(
        403,
        f"API [POST {ROTATE}?type=action] is unauthorized for user, "
        "this action is granted by the Kibana privileges [superuser]",
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("batch_size=0", "[request query.batch_size]: Value must be equal to or greater than [1]."),
        ("batch_size=10001", "[request query.batch_size]: Value must be equal to or lower than [10000]."),
    ],
)
def test_batch_size_is_validated_with_kibanas_messages(admin, query, message):
    assert admin.post(f"{ROTATE}?{query}").json() == error(400, message)


def test_an_unregistered_type_rotates_nothing(admin, two_keys):
    create_connector("default")
    two_keys()

    assert admin.post(f"{ROTATE}?type=dashboard").json() == {"total": 0, "successful": 0, "failed": 0}
    assert admin.post(f"{ROTATE}?type=action").json()["successful"] == 1


def test_the_route_needs_kbn_xsrf_and_works_under_a_space(spaces, two_keys):
    two_keys()
    root = make_user("root", superuser=True)
    assert client_for(root, "basic", xsrf=False).post(ROTATE).status_code == 400
    assert client_for(root, "basic").post(f"/s/marketing{ROTATE}").status_code == 200


def test_the_privilege_is_checked_before_the_query_as_kibanas_route_authorization(spaces):
    user = make_user("space-admin")
    grant(user, "default", "all")

    response = client_for(user, "basic").post(f"{ROTATE}?batch_size=0")

    assert response.status_code == 403
