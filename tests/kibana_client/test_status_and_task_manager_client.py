"""kibana-py's `client.status` and `client.task_manager` against our live server."""

import pytest
from kibana import Kibana
from kibana.exceptions import BadRequestError, NotFoundError


def test_it_reads_the_status_in_kibanas_v8_format(kibana):
    status = kibana.status.get_status()
    assert status["status"]["overall"]["level"] == "available"
    assert status["version"]["number"]
    assert kibana.server_version() == status["version"]["number"]


def test_it_reads_the_legacy_v7_status_when_asked(kibana):
    status = kibana.status.get_status(v7format=True)
    assert status["status"]["overall"]["state"] == "green"


def test_asking_for_both_status_formats_is_a_bad_request_error(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.status.get_status(v7format=True, v8format=True)
    assert raised.value.message == "[request query]: provide only one format option: v7format or v8format"


def test_it_reads_the_stats(kibana):
    stats = kibana.status.get_stats()
    assert {"kibana", "process"} <= set(stats.body)


def test_it_reads_the_extended_stats_in_the_legacy_form_metricbeat_asks_for(kibana):
    stats = kibana.status.get_stats(extended=True, legacy=True, exclude_usage=True)
    assert stats["usage"] == {}
    assert "clusterUuid" in stats.body


def test_it_reads_the_task_manager_health(kibana):
    health = kibana.task_manager.health()
    assert health["status"] in {"OK", "warn", "error"}
    assert "stats" in health.body


def test_the_features_api_is_not_served(kibana):
    with pytest.raises(NotFoundError):
        kibana.status.get_features()


def test_an_anonymous_client_gets_the_redacted_status(kibana, live_server):
    anonymous = Kibana(live_server.url)
    status = anonymous.status.get_status()
    assert status.body == {"status": {"overall": {"level": "available"}}}
