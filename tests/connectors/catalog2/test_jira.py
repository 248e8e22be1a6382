"""`.jira` against a local server playing Jira's REST API v2."""

import base64
import json

from pytest_httpserver import HTTPServer

SECRET = "jira-token-marker-5c1e"
AUTH = "Basic " + base64.b64encode(f"me@example.com:{SECRET}".encode()).decode()
ISSUE = {
    "id": "10001",
    "key": "SEC-7",
    "fields": {
        "created": "2024-05-01T10:00:00.000+0000",
        "updated": "2024-05-02T11:00:00.000+0000",
        "summary": "Disk",
    },
}


def jira(make_connector, server: HTTPServer):
    return make_connector(
        ".jira",
        {"apiUrl": server.url_for("/"), "projectKey": "SEC"},
        {"email": "me@example.com", "apiToken": SECRET},
    )


def test_it_creates_an_issue_with_the_first_issue_type_and_adds_comments(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue/createmeta/SEC/issuetypes", method="GET").respond_with_json(
        {"issueTypes": [{"id": "3", "name": "Task"}, {"id": "4", "name": "Bug"}]}
    )
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json({"id": "10001"})
    httpserver.expect_request("/rest/api/2/issue/10001", method="GET").respond_with_json(ISSUE)
    httpserver.expect_request("/rest/api/2/issue/10001/comment", method="POST").respond_with_json(
        {"id": "c1", "created": "2024-05-01T10:05:00.000+0000"}
    )

    result = run(
        jira(make_connector, httpserver),
        {
            "subAction": "pushToService",
            "subActionParams": {
                "incident": {
                    "summary": "  Disk full \n on db-1 ",
                    "description": "d",
                    "labels": ["disk", "prod"],
                    "priority": "High",
                    "otherFields": {"customfield_1": "x"},
                },
                "comments": [{"comment": "first", "commentId": "a"}, {"comment": "", "commentId": "b"}],
            },
        },
        secrets=[SECRET],
    )

    assert result.status == "ok", result
    assert result.data == {
        "title": "SEC-7",
        "id": "10001",
        "pushedDate": "2024-05-01T10:00:00.000Z",
        "url": httpserver.url_for("/browse/SEC-7"),
        "comments": [{"commentId": "a", "pushedDate": "2024-05-01T10:05:00.000Z"}],
    }
    create = next(r for r, _ in httpserver.log if r.method == "POST" and r.path == "/rest/api/2/issue")
    assert create.headers["Authorization"] == AUTH
    assert create.get_json() == {
        "fields": {
            "summary": "Disk full, on db-1",
            "project": {"key": "SEC"},
            "issuetype": {"id": "3"},
            "description": "d",
            "labels": ["disk", "prod"],
            "priority": {"name": "High"},
            "customfield_1": "x",
        }
    }
    comments = [r for r, _ in httpserver.log if r.path.endswith("/comment")]
    assert [c.get_json() for c in comments] == [{"body": "first"}]


def test_it_updates_an_existing_issue_without_null_fields(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue/SEC-7", method="PUT").respond_with_data("", status=204)
    httpserver.expect_request("/rest/api/2/issue/SEC-7", method="GET").respond_with_json(ISSUE)
    result = run(
        jira(make_connector, httpserver),
        {
            "subAction": "pushToService",
            "subActionParams": {"incident": {"summary": "s", "externalId": "SEC-7"}},
        },
    )
    assert result.status == "ok", result
    assert result.data["pushedDate"] == "2024-05-02T11:00:00.000Z"
    put = httpserver.log[0][0]
    assert put.get_json() == {"fields": {"summary": "s", "project": {"key": "SEC"}}}
    assert "comments" not in result.data


def test_a_jira_error_is_reported_with_its_reason(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json(
        {"errorMessages": [], "errors": {"summary": "Summary is required", "labels": "bad"}}, status=400
    )
    result = run(
        jira(make_connector, httpserver),
        {"subAction": "pushToService", "subActionParams": {"incident": {"summary": "s", "issueType": "3"}}},
        secrets=[SECRET],
    )
    assert result.status == "error"
    assert result.message == "an error occurred while running the action"
    assert result.service_message == (
        "[Action][Jira]: Unable to create incident. Error: Request failed with status code 400. "
        "Reason: Summary is required bad"
    )
    assert result.error_source == "framework"


def test_a_429_is_a_user_error(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue/createmeta/SEC/issuetypes").respond_with_json(
        {"errorMessages": ["Too many"], "errors": {}}, status=429
    )
    result = run(jira(make_connector, httpserver), {"subAction": "issueTypes", "subActionParams": {}})
    assert result.service_message == (
        "[Action][Jira]: Unable to get issue types. Error: Request failed with status code 429. Reason: Too many"
    )
    assert result.error_source == "user"


def test_a_non_json_answer_is_rejected(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue/SEC-1").respond_with_data("<html>", content_type="text/html")
    result = run(
        jira(make_connector, httpserver),
        {"subAction": "getIncident", "subActionParams": {"externalId": "SEC-1"}},
    )
    url = httpserver.url_for("/rest/api/2/issue/SEC-1")
    assert result.service_message == (
        f"[Action][Jira]: Unable to get incident with id SEC-1. Error: Unsupported content type: text/html in get {url}. "
        "Supported content types: application/json Reason: unknown: errorResponse was null"
    )


def test_issue_types_accept_the_data_center_shape(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue/createmeta/SEC/issuetypes").respond_with_json(
        {"values": [{"id": "1", "name": "Bug", "extra": True}]}
    )
    result = run(jira(make_connector, httpserver), {"subAction": "issueTypes", "subActionParams": {}})
    assert result.data == [{"id": "1", "name": "Bug"}]


def test_get_fields_keeps_the_fields_common_to_every_issue_type(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue/createmeta/SEC/issuetypes").respond_with_json(
        {"issueTypes": [{"id": "1", "name": "Bug"}, {"id": "2", "name": "Task"}]}
    )

    def field(fid, required=False):
        return {"fieldId": fid, "required": required, "schema": {"type": "string"}, "name": fid.title()}

    httpserver.expect_request("/rest/api/2/issue/createmeta/SEC/issuetypes/1").respond_with_json(
        {"fields": [field("summary", True), field("priority")]}
    )
    httpserver.expect_request("/rest/api/2/issue/createmeta/SEC/issuetypes/2").respond_with_json(
        {"fields": [field("summary", True), field("labels")]}
    )
    result = run(jira(make_connector, httpserver), {"subAction": "getFields", "subActionParams": {}})
    assert result.data == {
        "summary": {
            "required": True,
            "allowedValues": [],
            "defaultValue": {},
            "schema": {"type": "string"},
            "name": "Summary",
        }
    }


def test_issue_search_sends_escaped_jql(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/search/jql").respond_with_json(
        {"issues": [{"id": "1", "key": "SEC-1", "fields": {"summary": "Disk (db)"}}]}
    )
    result = run(
        jira(make_connector, httpserver), {"subAction": "issues", "subActionParams": {"title": 'Disk "(db)'}}
    )
    assert result.data == [{"id": "1", "key": "SEC-1", "title": "Disk (db)"}]
    request = httpserver.log[0][0]
    assert request.args["jql"] == 'project="SEC" and summary ~"Disk \\\\(db\\\\)"'
    assert request.args["fields"] == "summary,key"


def test_bad_params_fail_with_kibanas_union_message(make_connector, run, httpserver):
    result = run(
        jira(make_connector, httpserver), {"subAction": "pushToService", "subActionParams": {"incident": {}}}
    )
    assert result.status == "error"
    assert result.message.startswith(
        "error validating action params: types that failed validation:\n- [0.subAction]: expected value to equal [getFields]"
    )
    assert (
        "- [3.subActionParams.incident.summary]: expected value of type [string] but got [undefined]"
        in result.message
    )


def test_a_label_with_spaces_is_rejected(make_connector, run, httpserver):
    result = run(
        jira(make_connector, httpserver),
        {"subAction": "pushToService", "subActionParams": {"incident": {"summary": "s", "labels": ["a b"]}}},
    )
    assert (
        "- [3.subActionParams.incident.labels]: types that failed validation:\n"
        " - [subActionParams.incident.labels.0.0]: The label a b cannot contain spaces\n"
        " - [subActionParams.incident.labels.1]: expected value to equal [null]\n"
    ) in result.message


def test_a_refused_connection_is_reported_without_the_token(make_connector, run, httpserver):
    connector = jira(make_connector, httpserver)
    httpserver.stop()
    try:
        result = run(connector, {"subAction": "issue", "subActionParams": {"id": "SEC-1"}}, secrets=[SECRET])
    finally:
        httpserver.start()
    assert result.status == "error"
    assert result.service_message.startswith(
        "[Action][Jira]: Unable to get issue with id SEC-1. Error: connect ECONNREFUSED"
    )
    assert result.retry is True
    assert json.dumps(result.to_api(connector.id)).count(SECRET) == 0


def test_handshake_is_in_the_schema_but_not_implemented(make_connector, run, httpserver):
    result = run(jira(make_connector, httpserver), {"subAction": "handshake", "subActionParams": {}})
    assert result.message == "an error occurred while running the action"
    assert result.service_message == "[Action][ExternalService] subAction handshake not implemented."
    assert len(httpserver.log) == 0


def test_other_fields_sent_as_a_json_object_string_are_accepted_as_kibanas_jira_api_test_shows(
    make_connector, run, httpserver
):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json({"id": "10001"})
    httpserver.expect_request("/rest/api/2/issue/10001", method="GET").respond_with_json(ISSUE)
    result = run(
        jira(make_connector, httpserver),
        {
            "subAction": "pushToService",
            "subActionParams": {
                "incident": {"summary": "Disk", "issueType": "3", "otherFields": '{ "foo": "bar" }'},
                "comments": [],
            },
        },
        secrets=[SECRET],
    )
    assert result.status == "ok", result
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["fields"]["foo"] == "bar"
