"""Issue 16, finding 7: preconfigured connectors' runs of other spaces.

The execution log lists a preconfigured connector's runs from every space (Kibana's space-agnostic
events), but only as rows without user or rule. The NDJSON export returns whole documents, so it
must cover the caller's spaces only.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from eventlog.services import iso, record
from tests.api.conftest import client_for, grant, make_user

LOGS = "/internal/actions/_global_connector_execution_logs"
EXPORT = "/internal/actions/_event_log/_export"
SECRET_USER = "marketing-alice"  # what the marketing run carries; the default run has its own
SECRET_RULE = "marketing-rule-7"
SECRET_ERROR = "marketing database password rejected"


def shared_log_run(space: str, connector_id: str = "shared-log") -> None:
    """An `execute` event as a rule run in `space` writes it: with the user and the rule."""
    at = datetime.now(UTC) - timedelta(minutes=5)
    record(
        {
            "@timestamp": iso(at),
            "event": {"action": "execute", "kind": "action", "outcome": "failure", "start": iso(at)},
            "message": f"action execution failure: .server-log:{connector_id}: Shared",
            "error": {"message": f"{space} database password rejected"},
            "user": {"name": f"{space}-alice"},
            "kibana": {
                "space_ids": [space],
                "saved_objects": [
                    {"rel": "primary", "type": "action", "id": connector_id, "type_id": ".server-log"},
                    {
                        "rel": "primary",
                        "type": "alert",
                        "id": f"{space}-rule-7",
                        "type_id": ".index-threshold",
                    },
                ],
                "action": {
                    "id": connector_id,
                    "name": "Shared",
                    "type_id": ".server-log",
                    "execution": {"uuid": f"uuid-{space}-{connector_id}", "source": "alert"},
                },
            },
        }
    )


@pytest.fixture
def shared_runs(db, default_space, other_space, kibana_settings):
    kibana_settings.set(
        {"xpack.actions.preconfigured": {"shared-log": {"actionTypeId": ".server-log", "name": "Shared"}}}
    )
    shared_log_run("marketing")
    shared_log_run("default", connector_id="default-own")


@pytest.fixture
def default_reader(shared_runs):
    user = make_user("default-reader")
    grant(user, "default", "read")
    return client_for(user, "basic")


def export_documents(client, **params) -> list[dict]:
    response = client.get(EXPORT, {"date_start": "1d", **params})
    assert response.status_code == 200
    return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


def test_the_export_leaves_out_preconfigured_runs_of_spaces_the_caller_did_not_ask_for(default_reader):
    documents = export_documents(default_reader)
    assert [d["kibana"]["action"]["id"] for d in documents] == ["default-own"]
    everything = json.dumps(documents)
    assert SECRET_USER not in everything and SECRET_RULE not in everything
    assert SECRET_ERROR not in everything


def test_the_export_of_every_readable_space_still_leaves_out_unreadable_ones(default_reader):
    documents = export_documents(default_reader, namespaces=json.dumps(["*"]))
    assert {d["kibana"]["space_ids"][0] for d in documents} == {"default"}


def test_the_execution_log_shows_other_spaces_preconfigured_runs_without_user_or_rule(default_reader):
    body = default_reader.post(LOGS, {"date_start": "1d"}, format="json").json()
    shared = [row for row in body["data"] if row["connector_id"] == "shared-log"]
    assert len(shared) == 1  # Kibana parity: the space-agnostic row is listed
    assert SECRET_USER not in json.dumps(shared) and SECRET_RULE not in json.dumps(shared)
