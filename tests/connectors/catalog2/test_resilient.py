"""`.resilient` against a local server playing IBM Resilient's REST API."""

import base64

SECRET = "resilient-secret-marker-91c3"
AUTH = "Basic " + base64.b64encode(f"key-id:{SECRET}".encode()).decode()


def resilient(make_connector, server):
    return make_connector(
        ".resilient",
        {"apiUrl": server.url_for("/"), "orgId": "201"},
        {"apiKeyId": "key-id", "apiKeySecret": SECRET},
    )


def test_it_creates_an_incident_and_adds_comments(make_connector, run, httpserver):
    httpserver.expect_request(
        "/rest/orgs/201/incidents", method="POST", query_string="text_content_output_format=objects_convert"
    ).respond_with_json({"id": 1001, "name": "Disk", "create_date": 1700000000000})
    httpserver.expect_request("/rest/orgs/201/incidents/1001/comments", method="POST").respond_with_json(
        {"id": 5, "create_date": 1700000001000}
    )
    result = run(
        resilient(make_connector, httpserver),
        {
            "subAction": "pushToService",
            "subActionParams": {
                "incident": {
                    "name": "Disk",
                    "description": "full",
                    "incidentTypes": [17, 21],
                    "severityCode": 5,
                    "additionalFields": {"plan_status": "A"},
                },
                "comments": [{"comment": "note", "commentId": "c1"}],
            },
        },
        secrets=[SECRET],
    )
    assert result.status == "ok", result
    assert result.data == {
        "title": "1001",
        "id": "1001",
        "pushedDate": "2023-11-14T22:13:20.000Z",
        "url": httpserver.url_for("/#incidents/1001"),
        "comments": [{"commentId": "c1", "pushedDate": "2023-11-14T22:13:20.000Z"}],
    }
    create = httpserver.log[0][0]
    assert create.headers["Authorization"] == AUTH
    body = create.get_json()
    assert isinstance(body.pop("discovered_date"), int)
    assert body == {
        "name": "Disk",
        "description": {"format": "html", "content": "full"},
        "incident_type_ids": [{"id": 17}, {"id": 21}],
        "severity_code": {"id": 5},
        "plan_status": "A",
    }
    assert httpserver.log[1][0].get_json() == {"text": {"format": "text", "content": "note"}}


def test_it_updates_with_a_changes_diff(make_connector, run, httpserver):
    httpserver.expect_request("/rest/orgs/201/incidents/7", method="GET").respond_with_json(
        {"id": 7, "name": "Old", "severity_code": 4, "inc_last_modified_date": 1700000000000}
    )
    httpserver.expect_request("/rest/orgs/201/incidents/7", method="PATCH").respond_with_json(
        {"success": True}
    )
    result = run(
        resilient(make_connector, httpserver),
        {
            "subAction": "pushToService",
            "subActionParams": {"incident": {"name": "New", "severityCode": 6, "externalId": "7"}},
        },
    )
    assert result.status == "ok", result
    patch = next(r for r, _ in httpserver.log if r.method == "PATCH")
    assert patch.get_json() == {
        "changes": [
            {"field": {"name": "name"}, "old_value": {"text": "Old"}, "new_value": {"text": "New"}},
            {"field": {"name": "severity_code"}, "old_value": {"id": 4}, "new_value": {"id": 6}},
        ]
    }


def test_incident_types_and_severity_are_listed(make_connector, run, httpserver):
    httpserver.expect_request("/rest/orgs/201/types/incident/fields/incident_type_ids").respond_with_json(
        {"values": [{"value": 17, "label": "Malware"}]}
    )
    result = run(resilient(make_connector, httpserver), {"subAction": "incidentTypes", "subActionParams": {}})
    assert result.data == [{"id": "17", "name": "Malware"}]


def test_a_401_is_unauthorized(make_connector, run, httpserver):
    httpserver.expect_request("/rest/orgs/201/types/incident/fields").respond_with_json(
        {"message": "no"}, status=401
    )
    result = run(
        resilient(make_connector, httpserver),
        {"subAction": "getFields", "subActionParams": {}},
        secrets=[SECRET],
    )
    assert result.service_message == (
        "[Action][IBM Resilient]: Unable to get fields. Error: Status code: 401. Message: Unauthorized API Error."
    )


def test_other_errors_carry_the_message(make_connector, run, httpserver):
    httpserver.expect_request("/rest/orgs/201/types/incident/fields").respond_with_json(
        {"message": "Org not found"}, status=404
    )
    result = run(resilient(make_connector, httpserver), {"subAction": "getFields", "subActionParams": {}})
    assert result.service_message == (
        "[Action][IBM Resilient]: Unable to get fields. Error: Status code: 404. Message: API Error: Org not found."
    )


def test_an_update_the_service_refuses_is_an_error(make_connector, run, httpserver):
    httpserver.expect_request("/rest/orgs/201/incidents/7", method="GET").respond_with_json(
        {"id": 7, "name": "Old"}
    )
    httpserver.expect_request("/rest/orgs/201/incidents/7", method="PATCH").respond_with_json(
        {"success": False, "message": "field is read only"}
    )
    result = run(
        resilient(make_connector, httpserver),
        {"subAction": "pushToService", "subActionParams": {"incident": {"name": "New", "externalId": "7"}}},
    )
    assert result.message == "an error occurred while running the action"
    assert result.service_message == (
        "[Action][IBM Resilient]: Unable to update incident with id 7. Error: Error while updating incident: field is read only."
    )


def test_get_fields_keeps_kibanas_field_keys(make_connector, run, httpserver):
    httpserver.expect_request("/rest/orgs/201/types/incident/fields").respond_with_json(
        [
            {
                "name": "severity_code",
                "input_type": "select",
                "read_only": False,
                "required": "always",
                "text": "Severity",
                "prefix": None,
                "values": [],
                "uuid": "x",
            }
        ]
    )
    result = run(resilient(make_connector, httpserver), {"subAction": "getFields", "subActionParams": {}})
    assert result.data == [
        {
            "name": "severity_code",
            "input_type": "select",
            "read_only": False,
            "required": "always",
            "text": "Severity",
            "prefix": None,
            "values": [],
        }
    ]


def test_a_created_incident_without_an_id_fails_kibanas_response_schema(make_connector, run, httpserver):
    httpserver.expect_request("/rest/orgs/201/incidents", method="POST").respond_with_json(
        {"name": "Disk", "create_date": 1700000000000}
    )
    result = run(
        resilient(make_connector, httpserver),
        {"subAction": "pushToService", "subActionParams": {"incident": {"name": "Disk"}, "comments": []}},
        secrets=[SECRET],
    )
    assert result.message == "an error occurred while running the action"
    assert result.service_message == (
        "[Action][IBM Resilient]: Unable to create incident. Error: Response validation failed "
        "(Error: [id]: expected value of type [number] but got [undefined])."
    )
