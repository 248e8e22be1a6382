"""`.swimlane` against a local server playing Swimlane's record API."""

TOKEN = "swimlane-token-marker-2f7a"


def mapping(fid, key, field_type="text"):
    return {"id": fid, "key": key, "name": key.title(), "fieldType": field_type}


def swimlane(make_connector, server, api_suffix=""):
    return make_connector(
        ".swimlane",
        {
            "apiUrl": server.url_for("/") + api_suffix,
            "appId": "aNcL2xniGHGpa2AHb",
            "connectorType": "all",
            "mappings": {
                "caseIdConfig": mapping("f-case", "case-id"),
                "caseNameConfig": mapping("f-name", "case-name"),
                "severityConfig": mapping("f-sev", "severity", "numeric"),
                "descriptionConfig": mapping("f-desc", "description"),
                "commentsConfig": mapping("f-comments", "comments", "comments"),
            },
        },
        {"apiToken": TOKEN},
    )


FIXTURE_PARAMS = {
    "subAction": "pushToService",
    "subActionParams": {
        "comments": [{"commentId": 1, "comment": "A comment about the incident."}],
        "incident": {
            "caseId": "1000",
            "caseName": "Case name",
            "description": "Description of the incident.",
            "severity": "high",
        },
    },
}


def test_it_creates_a_record_with_mapped_values_and_comments(make_connector, run, httpserver):
    httpserver.expect_request("/api/app/aNcL2xniGHGpa2AHb/record", method="POST").respond_with_json(
        {"id": "aKPmBHWzmdRQtx6Mx", "name": "TEST-457", "createdDate": "2022-09-08T16:52:27.866Z"}
    )
    httpserver.expect_request(
        "/api/app/aNcL2xniGHGpa2AHb/record/aKPmBHWzmdRQtx6Mx/f-comments/comment", method="POST"
    ).respond_with_json({})

    result = run(swimlane(make_connector, httpserver), FIXTURE_PARAMS, secrets=[TOKEN])

    assert result.status == "ok", result
    assert result.data["id"] == "aKPmBHWzmdRQtx6Mx"
    assert result.data["title"] == "TEST-457"
    assert result.data["url"] == httpserver.url_for("/record/aNcL2xniGHGpa2AHb/aKPmBHWzmdRQtx6Mx")
    assert result.data["pushedDate"] == "2022-09-08T16:52:27.866Z"
    assert result.data["comments"][0]["commentId"] == 1
    create = httpserver.log[0][0]
    assert create.headers["Private-Token"] == TOKEN
    assert create.get_json() == {
        "applicationId": "aNcL2xniGHGpa2AHb",
        "values": {
            "f-case": "1000",
            "f-name": "Case name",
            "f-sev": 0,
            "f-desc": "Description of the incident.",
        },
    }
    comment = httpserver.log[1][0].get_json()
    assert comment["fieldId"] == "f-comments"
    assert comment["isRichText"] is True
    assert comment["message"] == "A comment about the incident."


def test_it_updates_a_record_without_doubling_api(make_connector, run, httpserver):
    httpserver.expect_request("/api/app/aNcL2xniGHGpa2AHb/record/r1", method="PATCH").respond_with_json(
        {"id": "r1", "name": "TEST-1", "modifiedDate": "2022-09-09T10:00:00.000Z"}
    )
    result = run(
        swimlane(make_connector, httpserver, api_suffix="api"),
        {
            "subAction": "pushToService",
            "subActionParams": {"incident": {"externalId": "r1", "severity": "3"}},
        },
    )
    assert result.status == "ok", result
    assert httpserver.log[0][0].get_json() == {
        "applicationId": "aNcL2xniGHGpa2AHb",
        "id": "r1",
        "values": {"f-sev": 3},
    }
    assert result.data["pushedDate"] == "2022-09-09T10:00:00.000Z"


def test_a_swimlane_error_names_argument_and_code(make_connector, run, httpserver):
    httpserver.expect_request("/api/app/aNcL2xniGHGpa2AHb/record").respond_with_json(
        {"ErrorCode": 1051, "Argument": "Invalid value"}, status=400
    )
    result = run(swimlane(make_connector, httpserver), FIXTURE_PARAMS, secrets=[TOKEN])
    assert result.service_message == (
        "[Action][Swimlane]: Unable to create record in application with id aNcL2xniGHGpa2AHb. Status: 400. "
        "Error: Request failed with status code 400. Reason: Invalid value (1051)"
    )


def test_a_response_missing_fields_is_rejected(make_connector, run, httpserver):
    httpserver.expect_request("/api/app/aNcL2xniGHGpa2AHb/record").respond_with_json({"id": "x"})
    result = run(swimlane(make_connector, httpserver), FIXTURE_PARAMS)
    assert result.service_message == (
        "[Action][Swimlane]: Unable to create record in application with id aNcL2xniGHGpa2AHb. Status: 500. "
        "Error: Response is missing at least one of the expected fields: id,name,createdDate. Reason: unknown"
    )
