"""`.thehive` against a local server playing TheHive 5's API."""

API_KEY = "thehive-key-marker-44d1"


def thehive(make_connector, server, **config):
    return make_connector(".thehive", {"url": server.url_for("/"), **config}, {"apiKey": API_KEY})


def test_it_creates_a_case_with_defaults_and_comments(make_connector, run, httpserver):
    httpserver.expect_request("/api/v1/case", method="POST").respond_with_json(
        {"_id": "~123", "title": "Disk", "_createdAt": 1700000000000}
    )
    httpserver.expect_request("/api/v1/case/~123/comment", method="POST").respond_with_json({"_id": "c"})
    result = run(
        thehive(make_connector, httpserver, organisation="soc"),
        {
            "subAction": "pushToService",
            "subActionParams": {
                "incident": {"title": "Disk", "description": "full"},
                "comments": [{"comment": "hi", "commentId": "1"}],
            },
        },
        secrets=[API_KEY],
    )
    assert result.status == "ok", result
    assert result.data == {
        "id": "~123",
        "title": "Disk",
        "url": httpserver.url_for("/cases/~123/details"),
        "pushedDate": "2023-11-14T22:13:20.000Z",
        "comments": [{"commentId": "1", "pushedDate": "2023-11-14T22:13:20.000Z"}],
    }
    create = httpserver.log[0][0]
    assert create.headers["Authorization"] == f"Bearer {API_KEY}"
    assert create.headers["X-Organisation"] == "soc"
    assert create.get_json() == {
        "title": "Disk",
        "description": "full",
        "severity": 2,
        "tlp": 2,
        "tags": None,
    }
    assert httpserver.log[1][0].get_json() == {"message": "hi"}


def test_it_updates_a_case(make_connector, run, httpserver):
    httpserver.expect_request("/api/v1/case/~9", method="PATCH").respond_with_data("", status=204)
    result = run(
        thehive(make_connector, httpserver),
        {
            "subAction": "pushToService",
            "subActionParams": {
                "incident": {"title": "t", "description": "d", "externalId": "~9", "severity": 4}
            },
        },
    )
    assert result.status == "ok", result
    assert result.data["id"] == "~9"
    assert "X-Organisation" not in httpserver.log[0][0].headers
    assert httpserver.log[0][0].get_json() == {
        "title": "t",
        "description": "d",
        "severity": 4,
        "tlp": 2,
        "tags": None,
    }


def test_create_alert_merges_the_body_over_the_fields(make_connector, run, httpserver):
    httpserver.expect_request("/api/v1/alert", method="POST").respond_with_json({"_id": "a"})
    result = run(
        thehive(make_connector, httpserver),
        {
            "subAction": "createAlert",
            "subActionParams": {
                "title": "t",
                "description": "d",
                "type": "external",
                "source": "elastic",
                "sourceRef": "r1",
                "template": 1,
                "body": '{"title": "from body", "customFields": {"a": 1}}',
            },
        },
    )
    assert result.status == "ok", result
    assert httpserver.log[0][0].get_json() == {
        "title": "from body",
        "description": "d",
        "type": "external",
        "source": "elastic",
        "sourceRef": "r1",
        "severity": 2,
        "tlp": 2,
        "template": 1,
        "tags": None,
        "customFields": {"a": 1},
    }


def test_errors_name_type_and_message(make_connector, run, httpserver):
    httpserver.expect_request("/api/v1/case").respond_with_json(
        {"type": "AuthenticationError", "message": "Authentication failure"}, status=401
    )
    result = run(
        thehive(make_connector, httpserver),
        {"subAction": "pushToService", "subActionParams": {"incident": {"title": "t", "description": "d"}}},
        secrets=[API_KEY],
    )
    assert (
        result.service_message
        == "Status code: 401. Message: API Error: AuthenticationError - Authentication failure"
    )


def test_severity_outside_1_to_4_is_rejected(make_connector, run, httpserver):
    result = run(
        thehive(make_connector, httpserver),
        {
            "subAction": "pushToService",
            "subActionParams": {"incident": {"title": "t", "description": "d", "severity": 9}},
        },
    )
    assert result.service_message.startswith("Request validation failed (Error: [incident.severity]")
