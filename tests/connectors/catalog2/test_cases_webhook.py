"""`.cases-webhook` against a local server playing a case-management REST API."""

import base64

import pytest

from connectors import registry
from connectors.exceptions import ConfigurationError

SECRET = "cases-hook-password-marker-0a9f"
SECRET_HEADER = "cases-hook-header-marker-4b2c"


def config(server, **extra):
    return {
        "createIncidentUrl": server.url_for("/rest/api/2/issue"),
        "createIncidentMethod": "post",
        "createIncidentJson": '{"fields": {"summary": {{{case.title}}}, "description": {{{case.description}}}, "labels": {{{case.tags}}}, "project": {"key": "ROC"}}}',
        "createIncidentResponseKey": "id",
        "getIncidentUrl": server.url_for("/rest/api/2/issue/{{{external.system.id}}}"),
        "getIncidentResponseExternalTitleKey": "key",
        "viewIncidentUrl": server.url_for("/browse/{{{external.system.title}}}"),
        "updateIncidentUrl": server.url_for("/rest/api/2/issue/{{{external.system.id}}}"),
        "updateIncidentMethod": "put",
        "updateIncidentJson": '{"fields": {"summary": {{{case.title}}}, "id": {{{external.system.id}}}}}',
        "createCommentUrl": server.url_for("/rest/api/2/issue/{{{external.system.id}}}/comment"),
        "createCommentMethod": "post",
        "createCommentJson": '{"body": {{{case.comment}}}}',
        "headers": {"X-Team": "soc"},
        "hasAuth": True,
        **extra,
    }


def hook(make_connector, server, **extra):
    return make_connector(
        ".cases-webhook",
        config(server, **extra),
        {"user": "elastic", "password": SECRET, "secretHeaders": {"X-Secret": SECRET_HEADER}},
    )


FIXTURE_PARAMS = {
    "subAction": "pushToService",
    "subActionParams": {
        "comments": [{"commentId": 1, "comment": "A comment about the incident."}],
        "incident": {
            "title": 'Case "title"',
            "description": "Description of the incident.",
            "tags": ["tag1", "tag2"],
            "severity": "low",
            "status": "open",
            "id": "caseID",
        },
    },
}


def test_it_creates_a_case_from_the_json_template_and_comments(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json(
        {"id": 100665, "key": "TEST-29034"}
    )
    httpserver.expect_request("/rest/api/2/issue/100665", method="GET").respond_with_json(
        {"id": 100665, "key": "TEST-29034"}
    )
    httpserver.expect_request("/rest/api/2/issue/100665/comment", method="POST").respond_with_json(
        {"id": "c"}
    )

    result = run(hook(make_connector, httpserver), FIXTURE_PARAMS, secrets=[SECRET, SECRET_HEADER])

    assert result.status == "ok", result
    assert result.data["id"] == "100665"
    assert result.data["title"] == "TEST-29034"
    assert result.data["url"] == httpserver.url_for("/browse/TEST-29034")
    assert result.data["comments"] == [{"commentId": 1, "pushedDate": result.data["pushedDate"]}]
    create = httpserver.log[0][0]
    assert create.get_json() == {
        "fields": {
            "summary": 'Case "title"',
            "description": "Description of the incident.",
            "labels": ["tag1", "tag2"],
            "project": {"key": "ROC"},
        }
    }
    assert create.headers["Content-Type"] == "application/json"
    assert create.headers["X-Team"] == "soc"
    assert create.headers["X-Secret"] == SECRET_HEADER
    assert (
        create.headers["Authorization"] == "Basic " + base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    )
    assert httpserver.log[2][0].get_json() == {"body": "A comment about the incident."}


def test_it_updates_a_case_with_the_external_id(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue/T 1", method="PUT").respond_with_data("", status=204)
    httpserver.expect_request("/rest/api/2/issue/T 1", method="GET").respond_with_json({"key": "T-1"})
    result = run(
        hook(make_connector, httpserver, createCommentUrl=None),
        {
            "subAction": "pushToService",
            "subActionParams": {
                "incident": {"title": "t", "externalId": "T 1"},
                "comments": [{"comment": "x", "commentId": "1"}],
            },
        },
    )
    assert result.status == "ok", result
    assert result.data["id"] == "T 1"
    assert "comments" not in result.data  # no comment URL: comments are skipped silently
    assert httpserver.log[0][0].get_json() == {"fields": {"summary": "t", "id": "T 1"}}


def test_a_missing_response_key_is_an_error(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json({"key": "X"})
    result = run(hook(make_connector, httpserver), FIXTURE_PARAMS)
    assert result.message == "an error occurred while running the action"
    assert result.service_message == (
        "[Action][Webhook - Case Management]: Unable to create case. Error: Response is missing the expected field: id.  "
    )


def test_a_missing_content_type_is_reported(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_data(
        '{"id": 1}', content_type=""
    )
    result = run(hook(make_connector, httpserver), FIXTURE_PARAMS)
    assert "Error: Missing content type header in post " in result.service_message


def test_an_http_error_carries_the_body_and_status_text(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json(
        {"errors": {"summary": "required"}}, status=400
    )
    result = run(hook(make_connector, httpserver), FIXTURE_PARAMS, secrets=[SECRET, SECRET_HEADER])
    assert result.service_message == (
        "[Action][Webhook - Case Management]: Unable to create case. Error: Request failed with status code 400. "
        '{"errors":{"summary":"required"}} Reason: BAD REQUEST'
    )


def test_a_template_that_is_not_json_is_rejected(make_connector, run, httpserver):
    connector = hook(make_connector, httpserver, createIncidentJson='{"summary": "{{{case.title}}}"}')
    result = run(connector, FIXTURE_PARAMS)
    assert result.service_message == (
        "[Action][Webhook - Case Management]: Unable to create case. Error: JSON Error: Create case JSON body must be valid JSON.  "
    )
    assert len(httpserver.log) == 0


def test_config_urls_must_be_allowed(kibana_settings, httpserver):
    settings = kibana_settings.set({"xpack.actions.allowedHosts": ["example.com"]})
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".cases-webhook").validate_config(config(httpserver), settings)
    assert caught.value.message.startswith(
        "error validating action type config: error configuring cases webhook action: "
    )


def test_only_push_to_service_is_accepted(make_connector, run, httpserver):
    result = run(hook(make_connector, httpserver), {"subAction": "getFields", "subActionParams": {}})
    assert result.message == (
        "error validating action params: types that failed validation:\n"
        "- [0.subAction]: expected value to equal [pushToService]"
    )


def test_a_failed_get_after_create_nests_the_messages_as_kibana_does(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json({"id": "123"})
    connector = hook(
        make_connector,
        httpserver,
        getIncidentMethod="post",
        getIncidentUrl=httpserver.url_for("/rest/api/2/issue"),
        getIncidentJson='{"id": "{{{external.system.id}}}" }',
    )
    result = run(connector, FIXTURE_PARAMS)
    assert result.service_message == (
        "[Action][Webhook - Case Management]: Unable to create case. Error: [Action][Webhook - Case Management]: "
        "Unable to get case with id 123. Error: JSON Error: Get case JSON body must be valid JSON.  .  "
    )
    assert result.retry is True


def test_a_bad_url_protocol_is_reported_before_any_request(make_connector, run, httpserver):
    connector = hook(make_connector, httpserver, createIncidentUrl="https" + httpserver.url_for("/x"))
    result = run(connector, FIXTURE_PARAMS)
    assert result.service_message == (
        "[Action][Webhook - Case Management]: Unable to create case. Error: Invalid Create case URL: Error: Invalid protocol.  "
    )
    assert len(httpserver.log) == 0


def test_auth_without_secrets_is_rejected(httpserver):
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".cases-webhook").validate_connector(config(httpserver), {})
    assert (
        caught.value.message == "error validating action type connector: must specify a secrets configuration"
    )


def test_get_case_by_post_sends_the_rendered_json(make_connector, run, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST", json={"title": "t"}).respond_with_json(
        {"id": "9"}
    )
    httpserver.expect_request("/search", method="POST", json={"id": "9"}).respond_with_json(
        {"data": {"key": ["K-9"]}}
    )
    connector = hook(
        make_connector,
        httpserver,
        createIncidentJson='{"title": {{{case.title}}}}',
        getIncidentMethod="post",
        getIncidentUrl=httpserver.url_for("/search"),
        getIncidentJson='{"id": {{{external.system.id}}}}',
        getIncidentResponseExternalTitleKey="data.key[0]",
        createCommentUrl=None,
    )
    result = run(connector, {"subAction": "pushToService", "subActionParams": {"incident": {"title": "t"}}})
    assert result.status == "ok", result
    assert result.data["title"] == "K-9"
    assert result.data["url"] == httpserver.url_for("/browse/K-9")
