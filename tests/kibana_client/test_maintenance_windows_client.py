"""kibana-py's `client.maintenance_windows` against our live server (Kibana 9.1+ public routes)."""

from datetime import UTC, datetime, timedelta

import pytest
from kibana.exceptions import AuthorizationException, BadRequestError, NotFoundError

from connectors.models import Space

FUTURE = {"custom": {"start": "2030-01-05T00:00:00.000Z", "duration": "1h"}}


def test_create_returns_the_window_and_get_reads_it_back(kibana):
    created = kibana.maintenance_windows.create(title="Weekend maintenance", schedule=FUTURE).body
    assert created["title"] == "Weekend maintenance" and created["enabled"] is True
    assert created["status"] == "upcoming"
    assert created["schedule"]["custom"]["start"] == "2030-01-05T00:00:00.000Z"
    assert created["schedule"]["custom"]["duration"] == "1h"
    assert created["created_by"] == "elastic"
    fetched = kibana.maintenance_windows.get(id=created["id"]).body
    assert fetched["id"] == created["id"] and fetched["title"] == "Weekend maintenance"


def test_create_keeps_a_recurring_schedule_and_a_kql_scope(kibana):
    schedule = {
        "custom": {
            "start": "2030-01-01T00:00:00.000Z",
            "duration": "4h",
            "timezone": "UTC",
            "recurring": {"every": "1M", "onMonthDay": [1]},
        }
    }
    scope = {"alerting": {"query": {"kql": 'tags: "maintenance"'}}}
    created = kibana.maintenance_windows.create(
        title="Monthly patch window", schedule=schedule, scope=scope, enabled=False
    ).body
    assert created["enabled"] is False and created["status"] == "disabled"
    assert created["schedule"]["custom"]["recurring"]["every"] == "1M"
    assert created["schedule"]["custom"]["recurring"]["onMonthDay"] == [1]
    assert created["scope"] == scope


def test_create_with_an_invalid_duration_is_a_bad_request(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.maintenance_windows.create(
            title="bad", schedule={"custom": {"start": "2030-01-05T00:00:00.000Z", "duration": "soon"}}
        )
    assert raised.value.meta.status == 400 and raised.value.body["message"]


def test_a_read_only_user_gets_a_403_when_creating_a_window(kibana, reader_kibana):
    with pytest.raises(AuthorizationException) as raised:
        reader_kibana.maintenance_windows.create(title="no", schedule=FUTURE)
    assert raised.value.meta.status == 403


def test_get_of_an_unknown_window_is_a_not_found_error(kibana):
    with pytest.raises(NotFoundError):
        kibana.maintenance_windows.get(id="nope")


def test_find_filters_by_title_status_and_pages(kibana):
    kibana.maintenance_windows.create(title="alpha", schedule=FUTURE)
    kibana.maintenance_windows.create(title="beta", schedule=FUTURE, enabled=False)
    everything = kibana.maintenance_windows.find().body
    assert everything["total"] == 2 and everything["page"] == 1 and everything["per_page"] == 10
    assert len(everything["maintenanceWindows"]) == 2
    by_title = kibana.maintenance_windows.find(title="alpha").body
    assert [w["title"] for w in by_title["maintenanceWindows"]] == ["alpha"]
    disabled = kibana.maintenance_windows.find(status="disabled").body
    assert [w["title"] for w in disabled["maintenanceWindows"]] == ["beta"]
    both = kibana.maintenance_windows.find(status=["disabled", "upcoming"]).body
    assert both["total"] == 2
    by_creator = kibana.maintenance_windows.find(created_by="elastic", per_page=1, page=2).body
    assert by_creator["total"] == 2 and len(by_creator["maintenanceWindows"]) == 1
    assert by_creator["page"] == 2 and by_creator["per_page"] == 1


def test_find_with_an_unknown_status_is_a_bad_request(kibana):
    with pytest.raises(BadRequestError):
        kibana.maintenance_windows.find(status="sometimes")


def test_update_changes_only_the_given_fields(kibana):
    created = kibana.maintenance_windows.create(title="Weekend maintenance", schedule=FUTURE).body
    updated = kibana.maintenance_windows.update(id=created["id"], enabled=False).body
    assert updated["enabled"] is False and updated["status"] == "disabled"
    assert updated["title"] == "Weekend maintenance"
    renamed = kibana.maintenance_windows.update(
        id=created["id"],
        title="Patch night",
        schedule={"custom": {"start": "2030-02-01T00:00:00.000Z", "duration": "2h"}},
    ).body
    assert renamed["title"] == "Patch night" and renamed["schedule"]["custom"]["duration"] == "2h"
    assert kibana.maintenance_windows.get(id=created["id"]).body["title"] == "Patch night"


def test_update_of_an_unknown_window_is_a_not_found_error(kibana):
    with pytest.raises(NotFoundError):
        kibana.maintenance_windows.update(id="nope", title="x")


def test_archive_and_unarchive_change_the_status(kibana):
    # Unarchive regenerates the events up to a year from now (Kibana's rule), so the window starts
    # within that year; one in 2030 would come back `finished`, as in Kibana.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    created = kibana.maintenance_windows.create(
        title="Weekend maintenance", schedule={"custom": {"start": tomorrow, "duration": "1h"}}
    ).body
    archived = kibana.maintenance_windows.archive(id=created["id"]).body
    assert archived["status"] == "archived"
    assert kibana.maintenance_windows.find(status="archived").body["total"] == 1
    restored = kibana.maintenance_windows.unarchive(id=created["id"]).body
    assert restored["status"] == "upcoming"
    with pytest.raises(NotFoundError):
        kibana.maintenance_windows.archive(id="nope")
    with pytest.raises(NotFoundError):
        kibana.maintenance_windows.unarchive(id="nope")


def test_delete_answers_an_empty_204_and_the_window_is_gone(kibana):
    created = kibana.maintenance_windows.create(title="Weekend maintenance", schedule=FUTURE).body
    response = kibana.maintenance_windows.delete(id=created["id"])
    assert response.meta.status == 204 and not response.body
    with pytest.raises(NotFoundError):
        kibana.maintenance_windows.get(id=created["id"])
    with pytest.raises(NotFoundError):
        kibana.maintenance_windows.delete(id=created["id"])


def test_windows_live_in_the_space_the_client_names(kibana):
    Space.objects.create(id="marketing", name="Marketing")
    created = kibana.maintenance_windows.create(title="m", schedule=FUTURE, space_id="marketing").body
    assert kibana.maintenance_windows.get(id=created["id"], space_id="marketing").body["title"] == "m"
    with pytest.raises(NotFoundError):
        kibana.maintenance_windows.get(id=created["id"])
    assert kibana.maintenance_windows.find(space_id="marketing").body["total"] == 1
    assert kibana.maintenance_windows.find().body["total"] == 0


def test_a_read_only_user_reads_windows_but_gets_a_403_for_every_change(kibana, reader_kibana):
    created = kibana.maintenance_windows.create(title="Weekend maintenance", schedule=FUTURE).body
    assert reader_kibana.maintenance_windows.get(id=created["id"]).body["title"] == "Weekend maintenance"
    assert reader_kibana.maintenance_windows.find().body["total"] == 1
    changes = {
        f"PATCH /api/maintenance_window/{created['id']}": lambda: reader_kibana.maintenance_windows.update(
            id=created["id"], title="x"
        ),
        f"DELETE /api/maintenance_window/{created['id']}": lambda: reader_kibana.maintenance_windows.delete(
            id=created["id"]
        ),
        f"POST /api/maintenance_window/{created['id']}/_archive": lambda: (
            reader_kibana.maintenance_windows.archive(id=created["id"])
        ),
    }
    for route, change in changes.items():
        with pytest.raises(AuthorizationException) as raised:
            change()
        assert raised.value.body["message"] == (
            f"API [{route}] is unauthorized for user, this action is granted by the Kibana privileges "
            "[write-maintenance-window]"
        )


def test_update_of_an_archived_window_is_a_bad_request_with_kibanas_message(kibana):
    created = kibana.maintenance_windows.create(title="Weekend maintenance", schedule=FUTURE).body
    kibana.maintenance_windows.archive(id=created["id"])
    with pytest.raises(BadRequestError) as raised:
        kibana.maintenance_windows.update(id=created["id"], title="z")
    assert raised.value.body["message"] == (
        f"Failed to update maintenance window by id: {created['id']}, Error: Cannot edit archived maintenance windows"
    )


def test_find_with_more_than_a_hundred_per_page_is_a_bad_request(kibana):
    with pytest.raises(BadRequestError) as raised:
        kibana.maintenance_windows.find(per_page=101)
    assert (
        raised.value.body["message"]
        == "[request query.per_page]: Value must be equal to or lower than [100]."
    )


def test_a_window_that_started_ten_minutes_ago_is_found_as_running(kibana):
    start = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    created = kibana.maintenance_windows.create(
        title="now", schedule={"custom": {"start": start, "duration": "1h"}}
    ).body
    assert created["status"] == "running"
    running = kibana.maintenance_windows.find(status="running").body
    assert [w["id"] for w in running["maintenanceWindows"]] == [created["id"]]
    assert kibana.maintenance_windows.find(status="upcoming").body["total"] == 0
