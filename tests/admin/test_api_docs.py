"""The API docs page (`/api/schema/docs/`) groups every operation under a tag a person would look
for, gives each one a summary, and generating it reports no "unable to guess serializer" errors."""

from drf_spectacular.drainage import GENERATOR_STATS

TAGS = {"connectors", "rules", "spaces", "saved objects", "event log", "health"}


def schema(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method.upper(), path, operation


def test_every_operation_has_one_of_the_six_tags_and_a_summary(db, client):
    document = schema(client)

    for method, path, operation in operations(document):
        assert operation["tags"] and set(operation["tags"]) <= TAGS, (method, path, operation["tags"])
        assert operation.get("summary") and not operation["summary"].startswith("`"), (method, path)
    assert [tag["name"] for tag in document["tags"]] == [
        "connectors",
        "rules",
        "spaces",
        "saved objects",
        "event log",
        "health",
    ]


def test_routes_are_grouped_where_a_person_looks_for_them(db, client):
    tags = {(method, path): operation["tags"][0] for method, path, operation in operations(schema(client))}

    assert tags[("POST", "/api/actions/connector")] == "connectors"
    assert tags[("GET", "/internal/actions/_global_connector_execution_logs")] == "event log"
    assert (
        tags[("GET", "/s/{space_id}/internal/actions/connector/{connector_id}/_execution_logs")]
        == "event log"
    )
    assert tags[("GET", "/api/alerting/rules/_find")] == "rules"
    assert tags[("GET", "/api/spaces/space")] == "spaces"
    assert tags[("POST", "/api/saved_objects/_import")] == "saved objects"
    assert tags[("GET", "/api/task_manager/_health")] == "health"


def test_generating_the_docs_reports_no_serializer_guessing_errors(db, client):
    GENERATOR_STATS.reset()

    schema(client)

    errors = [message for message in GENERATOR_STATS._error_cache if "unable to guess serializer" in message]
    assert errors == []
