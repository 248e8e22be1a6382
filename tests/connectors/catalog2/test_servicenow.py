"""`.servicenow`, `.servicenow-sir` and `.servicenow-itom` against a local server playing ServiceNow."""

import base64
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors import registry
from connectors.exceptions import ConfigurationError
from connectors.models import ConnectorToken

SECRET = "sn-password-marker-77aa"
CLIENT_SECRET = "sn-client-secret-marker-31bd"
AUTH = "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()
INCIDENT = {
    "sys_id": "abc",
    "number": "INC001",
    "sys_created_on": "2024-03-10 12:24:20",
    "sys_updated_on": "2024-03-11 08:00:00",
}


def itsm(make_connector, server, type_id=".servicenow", **config):
    return make_connector(
        type_id,
        {
            "apiUrl": server.url_for("/"),
            **({"usesTableApi": False} if type_id != ".servicenow-itom" else {}),
            **config,
        },
        {"username": "admin", "password": SECRET},
    )


def push(incident, comments=None):
    return {"subAction": "pushToService", "subActionParams": {"incident": incident, "comments": comments}}


def test_itsm_creates_through_the_import_set_api_and_adds_work_notes(make_connector, run, httpserver):
    httpserver.expect_request("/api/x_elas2_inc_int/elastic_api/health").respond_with_json(
        {"result": {"name": "Elastic", "scope": "x_elas2_inc_int", "version": "1.0.0"}}
    )
    httpserver.expect_request(
        "/api/now/import/x_elas2_inc_int_elastic_incident", method="POST"
    ).respond_with_json(
        {"import_set": "ISET1", "result": [{"sys_id": "abc", "status": "inserted", "table": "incident"}]}
    )
    httpserver.expect_request("/api/now/v2/table/incident/abc", method="GET").respond_with_json(
        {"result": INCIDENT}
    )

    result = run(
        itsm(make_connector, httpserver),
        push(
            {"short_description": "Disk full", "urgency": "1", "additional_fields": '{"u_custom": "x"}'},
            [{"comment": "note", "commentId": "c1"}],
        ),
        secrets=[SECRET],
    )

    assert result.status == "ok", result
    assert result.data == {
        "title": "INC001",
        "id": "abc",
        "pushedDate": "2024-03-10T12:24:20.000Z",
        "url": httpserver.url_for("/nav_to.do?uri=incident.do?sys_id=abc"),
        "comments": [{"commentId": "c1", "pushedDate": "2024-03-11T08:00:00.000Z"}],
    }
    posts = [r for r, _ in httpserver.log if r.method == "POST"]
    assert posts[0].headers["Authorization"] == AUTH
    assert posts[0].get_json() == {
        "u_short_description": "Disk full",
        "u_description": None,
        "u_category": None,
        "u_subcategory": None,
        "u_correlation_id": "{{rule.id}}:{{alert.id}}",
        "u_correlation_display": None,
        "u_severity": None,
        "u_urgency": "1",
        "u_impact": None,
        "u_caller_id": "admin",
        "u_opened_by": "admin",
        "u_custom": "x",
    }
    assert posts[1].get_json()["u_work_notes"] == "note"
    assert posts[1].get_json()["elastic_incident_id"] == "abc"


def test_a_deprecated_connector_uses_the_table_api(make_connector, run, httpserver):
    httpserver.expect_request("/api/now/v2/table/incident", method="POST").respond_with_json(
        {"result": INCIDENT}
    )
    httpserver.expect_request("/api/now/v2/table/incident/abc", method="GET").respond_with_json(
        {"result": INCIDENT}
    )
    connector = itsm(make_connector, httpserver, usesTableApi=True)
    result = run(connector, push({"short_description": "x"}))
    assert result.status == "ok", result
    assert httpserver.log[0][0].get_json()["short_description"] == "x"
    assert httpserver.log[0][0].get_json()["caller_id"] == "admin"

    rejected = run(connector, push({"short_description": "x", "additional_fields": {"a": 1}}))
    assert (
        rejected.service_message
        == "ServiceNow additional fields are not supported for deprecated connectors."
    )


def test_an_import_set_error_is_reported(make_connector, run, httpserver):
    httpserver.expect_request("/api/x_elas2_inc_int/elastic_api/health").respond_with_json(
        {"result": {"version": "1"}}
    )
    httpserver.expect_request("/api/now/import/x_elas2_inc_int_elastic_incident").respond_with_json(
        {"result": [{"status": "error", "error_message": "Bad field"}]}
    )
    result = run(itsm(make_connector, httpserver), push({"short_description": "x"}))
    assert result.service_message == (
        "[Action][ServiceNow]: Unable to create incident. Error: Bad field [status=200] [method=post] [endpoint=import_set]"
    )


def test_an_http_error_carries_servicenows_message_and_detail(make_connector, run, httpserver):
    httpserver.expect_request("/api/now/v2/table/incident/nope").respond_with_json(
        {"error": {"message": "No Record found", "detail": "Record doesn't exist"}, "status": "failure"},
        status=404,
    )
    result = run(
        itsm(make_connector, httpserver),
        {"subAction": "getIncident", "subActionParams": {"externalId": "nope"}},
        secrets=[SECRET],
    )
    assert result.service_message == (
        "[Action][ServiceNow]: Unable to get incident with id nope. Error: Request failed with status code 404 "
        "Reason: No Record found: Record doesn't exist [status=404] [method=get] [endpoint=table]"
    )


def test_an_answer_without_result_points_at_the_instance(make_connector, run, httpserver):
    httpserver.expect_request("/api/now/table/sys_dictionary").respond_with_json({})
    result = run(itsm(make_connector, httpserver), {"subAction": "getFields", "subActionParams": {}})
    assert result.service_message.startswith(
        "[Action][ServiceNow]: Unable to get fields. Error: There is an issue with your Service Now Instance. Please check localhost."
    )


def test_close_incident_finds_by_correlation_id_and_closes(make_connector, run, httpserver):
    httpserver.expect_request("/api/now/v2/table/incident", method="GET").respond_with_json(
        {"result": [{**INCIDENT, "state": "2"}]}
    )
    httpserver.expect_request("/api/now/v2/table/incident/abc", method="PATCH").respond_with_json(
        {"result": INCIDENT}
    )
    httpserver.expect_request("/api/now/v2/table/incident/abc", method="GET").respond_with_json(
        {"result": INCIDENT}
    )
    result = run(
        itsm(make_connector, httpserver, usesTableApi=True),
        {"subAction": "closeIncident", "subActionParams": {"incident": {"correlation_id": "r1:a1"}}},
    )
    assert result.status == "ok", result
    assert httpserver.log[0][0].args["sysparm_query"] == "ORDERBYDESCsys_created_on^correlation_id=r1:a1"
    assert httpserver.log[1][0].get_json() == {
        "state": "7",
        "close_code": "Closed/Resolved by Caller",
        "close_notes": "Closed by Caller",
    }


def test_close_incident_with_no_match_returns_empty_data(make_connector, run, httpserver):
    httpserver.expect_request("/api/now/v2/table/incident").respond_with_json({"result": []})
    result = run(
        itsm(make_connector, httpserver),
        {"subAction": "closeIncident", "subActionParams": {"incident": {"correlation_id": "r1:a1"}}},
    )
    assert result.status == "ok"
    assert result.data == {}


def test_get_choices_queries_sys_choice(make_connector, run, httpserver):
    choices = [{"dependent_value": "", "element": "severity", "label": "Critical", "value": "1"}]
    httpserver.expect_request("/api/now/table/sys_choice").respond_with_json({"result": choices})
    result = run(
        itsm(make_connector, httpserver, type_id=".servicenow-itom"),
        {"subAction": "getChoices", "subActionParams": {"fields": ["severity", "urgency"]}},
    )
    assert result.data == choices
    assert httpserver.log[0][0].args["sysparm_query"] == (
        "name=task^ORname=em_event^element=severity^ORelement=urgency^language=en"
    )
    assert httpserver.log[0][0].args["sysparm_fields"] == "label,value,dependent_value,element"


def test_itom_adds_an_event(make_connector, run, httpserver):
    httpserver.expect_request("/api/global/em/jsonv2", method="POST").respond_with_json(
        {"result": {"Default Bulk Endpoint": "1 events were inserted"}}
    )
    result = run(
        itsm(make_connector, httpserver, type_id=".servicenow-itom"),
        {
            "subAction": "addEvent",
            "subActionParams": {
                "source": "Elastic",
                "severity": "1",
                "node": "db-1",
                "time_of_event": "1634122304000",
            },
        },
    )
    assert result.status == "ok", result
    assert result.data == {}
    assert httpserver.log[0][0].get_json() == {
        "records": [
            {
                "source": "Elastic",
                "severity": "1",
                "node": "db-1",
                "message_key": "{{rule.id}}:{{alert.id}}",
                "time_of_event": "2021-10-13 10:51:44",
            }
        ]
    }


def test_secops_posts_observables_after_the_import(make_connector, run, httpserver):
    httpserver.expect_request("/api/x_elas2_sir_int/elastic_api/health").respond_with_json(
        {"result": {"version": "1"}}
    )
    httpserver.expect_request("/api/now/import/x_elas2_sir_int_elastic_si_incident").respond_with_json(
        {"result": [{"sys_id": "abc", "status": "inserted"}]}
    )
    httpserver.expect_request("/api/now/v2/table/sn_si_incident/abc").respond_with_json({"result": INCIDENT})
    httpserver.expect_request(
        "/api/x_elas2_sir_int/elastic_api/incident/abc/observables/bulk"
    ).respond_with_json({"result": []})
    result = run(
        itsm(make_connector, httpserver, type_id=".servicenow-sir"),
        push(
            {
                "short_description": "x",
                "dest_ip": "10.0.0.1, 10.0.0.2",
                "source_ip": ["10.0.0.1"],
                "malware_hash": "aaa|bbb",
                "malware_url": "https://evil.example",
                "priority": "1",
            }
        ),
    )
    assert result.status == "ok", result
    created = httpserver.log[1][0].get_json()
    assert created["u_dest_ip"] is None and created["u_priority"] == "1"
    assert httpserver.log[3][0].get_json() == [
        {"value": "10.0.0.1", "type": "ipv4-addr"},
        {"value": "10.0.0.2", "type": "ipv4-addr"},
        {"value": "aaa", "type": "SHA256"},
        {"value": "bbb", "type": "SHA256"},
        {"value": "https://evil.example", "type": "URL"},
    ]


# ---- OAuth JWT bearer ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"key-pass"),
    ).decode()
    return key, pem


def oauth_connector(make_connector, server, pem):
    return make_connector(
        ".servicenow",
        {
            "apiUrl": server.url_for("/"),
            "usesTableApi": True,
            "isOAuth": True,
            "clientId": "client-1",
            "userIdentifierValue": "elastic@example.com",
            "jwtKeyId": "kid-9",
        },
        {"clientSecret": CLIENT_SECRET, "privateKey": pem, "privateKeyPassword": "key-pass"},
    )


def test_oauth_mints_a_jwt_assertion_and_caches_the_token(make_connector, run, httpserver, rsa_key):
    key, pem = rsa_key
    httpserver.expect_request("/oauth_token.do", method="POST").respond_with_json(
        {"access_token": "tok-1", "token_type": "Bearer", "expires_in": 1800}
    )
    httpserver.expect_request("/api/now/v2/table/incident/abc").respond_with_json({"result": INCIDENT})
    connector = oauth_connector(make_connector, httpserver, pem)
    params = {"subAction": "getIncident", "subActionParams": {"externalId": "abc"}}

    first = run(connector, params, secrets=[CLIENT_SECRET, "key-pass"])
    second = run(connector, params, secrets=[CLIENT_SECRET, "key-pass"])

    assert first.status == second.status == "ok"
    token_requests = [r for r, _ in httpserver.log if r.path == "/oauth_token.do"]
    assert len(token_requests) == 1
    form = parse_qs(token_requests[0].get_data(as_text=True))
    assert token_requests[0].headers["Content-Type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    assert form["client_id"] == ["client-1"]
    assert form["client_secret"] == [CLIENT_SECRET]
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assertion = form["assertion"][0]
    assert jwt.get_unverified_header(assertion)["kid"] == "kid-9"
    claims = jwt.decode(assertion, key.public_key(), algorithms=["RS256"], audience="client-1")
    assert claims["iss"] == "client-1" and claims["sub"] == "elastic@example.com"
    assert claims["exp"] - claims["iat"] == 3600
    calls = [r for r, _ in httpserver.log if r.path.startswith("/api/")]
    assert all(r.headers["Authorization"] == "Bearer tok-1" for r in calls)


def test_a_4xx_drops_the_cached_token(make_connector, run, httpserver, rsa_key):
    _, pem = rsa_key
    httpserver.expect_request("/oauth_token.do").respond_with_json(
        {"access_token": "tok-1", "token_type": "Bearer"}
    )
    httpserver.expect_request("/api/now/v2/table/incident/abc").respond_with_json(
        {"error": {"message": "expired", "detail": "x"}}, status=401
    )
    connector = oauth_connector(make_connector, httpserver, pem)
    result = run(connector, {"subAction": "getIncident", "subActionParams": {"externalId": "abc"}})
    assert (
        "Error: Request failed with status code 401 Reason: expired: x [status=401]" in result.service_message
    )
    assert not ConnectorToken.objects.filter(connector_id=connector.id).exists()


def test_a_refused_token_request_names_the_connector(make_connector, run, httpserver, rsa_key):
    _, pem = rsa_key
    httpserver.expect_request("/oauth_token.do").respond_with_json({"error": "invalid_client"}, status=401)
    connector = oauth_connector(make_connector, httpserver, pem)
    result = run(connector, {"subAction": "getFields", "subActionParams": {}}, secrets=[CLIENT_SECRET])
    assert result.service_message == (
        f"[Action][ServiceNow]: Unable to get fields. Error: Unable to retrieve access token for connectorId: {connector.id} "
        "[status=none] [method=get] [endpoint=table]"
    )


REFUSED = "which is not a public address"


def test_a_token_request_the_egress_policy_refuses_says_why_and_is_not_retried(
    make_connector, run, httpserver, rsa_key, kibana_settings, caplog
):
    _, pem = rsa_key
    kibana_settings.set({"connectors.network.allowPrivateAddresses": False})
    connector = oauth_connector(make_connector, httpserver, pem)

    result = run(connector, {"subAction": "getFields", "subActionParams": {}}, secrets=[CLIENT_SECRET])

    assert result.status == "error"
    assert result.service_message.startswith(
        "[Action][ServiceNow]: Unable to get fields. Error: Unable to retrieve access token for "
        f"connectorId: {connector.id} Reason: target "
    )
    assert REFUSED in result.service_message
    assert result.retry is False
    assert result.error_source == "user"
    assert any(
        REFUSED in r.getMessage() and "token request refused" in r.getMessage() for r in caplog.records
    )
    assert httpserver.log == []


def test_a_basic_auth_call_the_egress_policy_refuses_is_not_retried(
    make_connector, run, httpserver, kibana_settings
):
    kibana_settings.set({"connectors.network.allowPrivateAddresses": False})
    connector = itsm(make_connector, httpserver)

    result = run(connector, {"subAction": "getFields", "subActionParams": {}})

    assert REFUSED in result.service_message
    assert result.retry is False
    assert result.error_source == "user"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"isOAuth": True, "clientId": "c", "jwtKeyId": "k"},
            "userIdentifierValue must be provided when isOAuth = true",
        ),
        ({"clientId": "c"}, "clientId should not be provided with isOAuth = false"),
    ],
)
def test_config_rules_for_oauth(config, message, kibana_settings):
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".servicenow").validate_config(
            {"apiUrl": "https://x.example", **config}, kibana_settings.set({})
        )
    assert caught.value.message == f"error validating action type config: {message}"


def test_secrets_must_come_in_pairs(kibana_settings):
    with pytest.raises(ConfigurationError) as caught:
        registry.get(".servicenow").validate_secrets({"username": "a"}, kibana_settings.set({}))
    assert (
        caught.value.message
        == "error validating action type secrets: username and password must both be specified"
    )


def test_a_comment_without_id_fails_with_the_nested_union_message(make_connector, run, httpserver):
    result = run(itsm(make_connector, httpserver), push({"short_description": "x"}, [{"comment": "boo"}]))
    assert result.message == (
        "error validating action params: types that failed validation:\n"
        "- [0.subAction]: expected value to equal [getFields]\n"
        "- [1.subAction]: expected value to equal [getIncident]\n"
        "- [2.subAction]: expected value to equal [handshake]\n"
        "- [3.subActionParams.comments]: types that failed validation:\n"
        " - [subActionParams.comments.0.0.commentId]: expected value of type [string] but got [undefined]\n"
        " - [subActionParams.comments.1]: expected value to equal [null]\n"
        "- [4.subAction]: expected value to equal [getChoices]\n"
        "- [5.subAction]: expected value to equal [closeIncident]"
    )


def test_get_choices_without_fields_names_the_missing_array(make_connector, run, httpserver):
    result = run(itsm(make_connector, httpserver), {"subAction": "getChoices", "subActionParams": {}})
    assert (
        "- [4.subActionParams.fields]: expected value of type [array] but got [undefined]" in result.message
    )


def test_secops_on_the_table_api_sends_observables_as_strings(make_connector, run, httpserver):
    httpserver.expect_request("/api/now/v2/table/sn_si_incident", method="POST").respond_with_json(
        {"result": INCIDENT}
    )
    httpserver.expect_request("/api/now/v2/table/sn_si_incident/abc").respond_with_json({"result": INCIDENT})
    result = run(
        itsm(make_connector, httpserver, type_id=".servicenow-sir", usesTableApi=True),
        push(
            {
                "short_description": "x",
                "dest_ip": ["10.0.0.1", "10.0.0.2"],
                "malware_url": "https://a|https://b",
            }
        ),
    )
    assert result.status == "ok", result
    sent = httpserver.log[0][0].get_json()
    assert sent["dest_ip"] == "10.0.0.1,10.0.0.2"
    assert sent["malware_url"] == "https://a|https://b"
    assert sent["source_ip"] is None
    assert all("observables" not in r.path for r, _ in httpserver.log)


def test_an_oversized_answer_is_a_user_error(make_connector, run, httpserver, kibana_settings):
    kibana_settings.set({"xpack.actions.maxResponseContentLength": "1kb"})
    httpserver.expect_request("/api/now/table/sys_dictionary").respond_with_json({"result": ["x" * 2000]})
    result = run(itsm(make_connector, httpserver), {"subAction": "getFields", "subActionParams": {}})
    assert result.service_message.startswith(
        "[Action][ServiceNow]: Unable to get fields. Error: maxContentLength size of 1024 exceeded"
    )
    assert result.error_source == "user"
