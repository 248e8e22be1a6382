"""`GET /api/status` and `GET /api/stats`: Kibana's bodies, the redacted anonymous form, the 503 rule."""

import socket

import pytest
from rest_framework.test import APIClient

from eventlog.api.status import KIBANA_API_VERSION, own_version
from tests.api.conftest import client_for, error, make_user


@pytest.fixture
def user_client(spaces):
    return client_for(make_user("reader"), "basic")


def test_an_authenticated_caller_gets_kibanas_v8_body_with_both_versions(user_client):
    response = user_client.get("/api/status")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "connectors"
    assert body["version"]["number"] == KIBANA_API_VERSION
    assert body["version"]["build_flavor"] == "traditional"
    assert body["version"]["build_snapshot"] is False
    assert body["connectors"] == {"version": own_version()}
    assert body["status"]["overall"] == {"level": "available", "summary": "All services are available"}
    assert set(body["status"]["core"]) == {"elasticsearch", "savedObjects"}
    assert body["status"]["core"]["savedObjects"]["meta"] == {}
    assert body["metrics"]["collection_interval_in_millis"] == 5000


def test_an_unauthenticated_caller_gets_only_the_core_level(spaces):
    response = APIClient().get("/api/status")

    assert response.status_code == 200
    assert response.json() == {"status": {"overall": {"level": "available"}}}


def test_allow_anonymous_gives_unauthenticated_callers_the_full_body(spaces, kibana_settings):
    kibana_settings.set({"status.allowAnonymous": True})

    body = APIClient().get("/api/status").json()

    assert body["version"]["number"] == KIBANA_API_VERSION


def test_bad_credentials_are_a_401_not_the_redacted_body(spaces):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic bm9ib2R5Om5vcGU=")

    assert client.get("/api/status").status_code == 401


@pytest.mark.parametrize("query", ["v7format=true", "v8format=false"])
def test_the_legacy_v7_body_is_given_as_kibana_does(user_client, query):
    status = user_client.get(f"/api/status?{query}").json()["status"]

    assert status["overall"]["state"] == "green"
    assert status["overall"]["nickname"] == "Looking good"
    assert f"core:elasticsearch@{KIBANA_API_VERSION}" in [s["id"] for s in status["statuses"]]


def test_asking_for_both_formats_is_kibanas_400(user_client):
    response = user_client.get("/api/status?v7format=true&v8format=true")

    assert response.json() == error(
        400, "[request query]: provide only one format option: v7format or v8format"
    )


def test_format_flags_are_config_schema_booleans_in_any_case_and_an_empty_value_is_a_400(user_client):
    # config-schema booleans take "true"/"false" in any case; a bare `?v7format` is the string "".
    assert "state" in user_client.get("/api/status?v7format=TRUE").json()["status"]["overall"]
    assert "state" in user_client.get("/api/status?v8format=False").json()["status"]["overall"]
    assert user_client.get("/api/status?v7format").json() == error(
        400, "[request query.v7format]: expected value of type [boolean] but got [string]"
    )


def test_the_v8_metrics_carry_kibanas_elasticsearch_client_sockets(user_client):
    # Required by Kibana's status response schema and shown in its example; there is no
    # Elasticsearch client here, so no socket is ever open.
    metrics = user_client.get("/api/status").json()["metrics"]

    assert metrics["elasticsearch_client"] == {
        "totalActiveSockets": 0,
        "totalIdleSockets": 0,
        "totalQueuedRequests": 0,
    }


def test_the_status_route_is_also_served_under_a_space(user_client):
    assert user_client.get("/s/marketing/api/status").status_code == 200


def _dead_redis(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    q_cluster = {key: value for key, value in settings.Q_CLUSTER.items() if key != "orm"}
    settings.Q_CLUSTER = {**q_cluster, "redis": f"redis://:s3cret-pw@127.0.0.1:{port}/0"}
    from django_q.conf import Conf

    saved = Conf.REDIS, Conf.ORM
    Conf.REDIS, Conf.ORM = settings.Q_CLUSTER["redis"], None
    return saved


def test_an_unreachable_broker_is_unavailable_overall_but_not_a_503(user_client, settings):
    from django_q.conf import Conf

    saved = _dead_redis(settings)
    try:
        response = user_client.get("/api/status")
        anonymous = APIClient().get("/api/status")
    finally:
        Conf.REDIS, Conf.ORM = saved
    assert response.status_code == 200  # the core services (the database) answer
    body = response.json()
    assert body["status"]["overall"]["level"] == "unavailable"
    assert body["status"]["plugins"]["taskManager"]["level"] == "unavailable"
    assert "s3cret-pw" not in response.content.decode()
    assert anonymous.json() == {"status": {"overall": {"level": "available"}}}


def test_stats_need_authentication_by_default(spaces):
    assert APIClient().get("/api/stats").status_code == 401


def test_stats_answer_kibanas_shape_and_the_extended_legacy_cluster_key(user_client):
    plain = user_client.get("/api/stats").json()
    extended = user_client.get("/api/stats?extended=true&legacy=true&exclude_usage=true").json()

    assert plain["kibana"]["version"] == KIBANA_API_VERSION
    assert plain["kibana"]["status"] == "green"
    assert "usage" not in plain and "cluster_uuid" not in plain
    assert extended["usage"] == {}
    assert "clusterUuid" in extended and "cluster_uuid" not in extended
    assert "cluster_uuid" in user_client.get("/api/stats?extended").json()


def test_stats_flags_are_booleans_in_any_case(user_client):
    extended = user_client.get("/api/stats?extended=TRUE&legacy=True").json()

    assert extended["usage"] == {} and "clusterUuid" in extended
