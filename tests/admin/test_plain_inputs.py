"""The admin asks for lists and key/value pairs in plain inputs, not JSON: Slack's allowed channels,
the webhook's OAuth additional fields, the ITSM types' comments and PagerDuty's links. What a page
shows is what saving it again stores, and a value the input cannot take is an error on its field."""

from html.parser import HTMLParser

from django.urls import reverse

from connectors.admin.forms import specs_for
from connectors.models import Connector
from connectors.registry import get as get_type
from connectors.services import create_connector

SECRET = "marker-secret-91c0de"  # must never appear in any page


def url(name, *args):
    return reverse(f"admin:connectors_connector_{name}", args=args)


class FormReader(HTMLParser):
    """What a browser would submit from a page's form, unchanged (buttons left out)."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.data, self.textarea, self.select = form_id, False, {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or ("name" not in attrs and tag != "option"):
            return
        if tag == "input" and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") != "checkbox" or "checked" in attrs:
                self.data[attrs["name"]] = attrs.get("value", "on" if attrs.get("type") == "checkbox" else "")
        elif tag == "textarea":
            self.textarea = attrs["name"]
            self.data[self.textarea] = ""
        elif tag == "select":
            self.select = attrs["name"]
        elif tag == "option" and self.select and "selected" in attrs:
            self.data[self.select] = attrs.get("value", "")

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            if self.data[self.textarea].startswith("\n"):  # the newline after <textarea> is not content
                self.data[self.textarea] = self.data[self.textarea][1:]
            self.textarea = None
        elif tag == "select":
            self.select = None
        elif tag == "form":
            self.inside = False


def submitted(page: str, form_id="cx-connector-form") -> dict:
    reader = FormReader(form_id)
    reader.feed(page)
    return reader.data


def kinds(type_id, schema="config_schema", nested=False):
    return {
        spec.key: spec.input for spec in specs_for(getattr(get_type(type_id), schema), "x", nested=nested)
    }


# ---- which input each one gets ----------------------------------------------------------------


def test_none_of_the_lists_and_pairs_is_asked_for_as_json():
    assert kinds(".slack_api")["allowedChannels"] == "rows"
    assert kinds(".webhook")["additionalFields"] == "pairs"  # the headers' input
    assert kinds(".pagerduty", "params_schema")["links"] == "rows"
    for type_id in (".servicenow", ".jira", ".servicenow-sir", ".resilient", ".cases-webhook"):
        assert kinds(type_id, "test_params_schema", nested=True)["subActionParams.comments"] == "rows", (
            type_id
        )
    # Kibana edits these two with a JSON editor too
    assert kinds(".pagerduty", "params_schema")["customDetails"] == "json"
    assert kinds(".index", "params_schema")["documents"] == "json"


# ---- Slack API: allowed channels --------------------------------------------------------------


def slack_form(**channels):
    data = {"type": ".slack_api", "name": "Ops Slack", "secrets__token": SECRET}
    for index, (channel_id, name) in enumerate(channels.items()):
        data[f"config__allowedChannels__{index}__id"] = channel_id
        data[f"config__allowedChannels__{index}__name"] = name
    return data


def test_allowed_channels_are_typed_one_per_row(admin_client, default_space):
    data = slack_form(C0123ABCD="#general", C0456EFGH="ops-alerts")
    data["config__allowedChannels__2__id"] = ""  # the blank row a page offers is left out
    data["config__allowedChannels__2__name"] = " "

    response = admin_client.post(url("add") + "?type=.slack_api", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Connector.objects.get(name="Ops Slack").config["allowedChannels"] == [
        {"id": "C0123ABCD", "name": "#general"},
        {"id": "C0456EFGH", "name": "ops-alerts"},
    ]


def test_a_slack_connector_saved_unchanged_keeps_its_channels(admin_client, default_space):
    channels = [{"id": "C0123ABCD", "name": "general"}, {"id": None, "name": "legacy"}]
    connector = create_connector(
        default_space,
        name="Ops Slack",
        type_id=".slack_api",
        config={"allowedChannels": channels},
        secrets={"token": SECRET},
    )
    stored = Connector.objects.get(pk=connector.pk).config

    page = admin_client.get(url("change", connector.id)).content.decode()
    data = submitted(page)
    response = admin_client.post(url("change", connector.id), {**data, "_save": "1"})

    assert data["config__allowedChannels__0__id"] == "C0123ABCD"
    assert data["config__allowedChannels__1__name"] == "legacy"
    assert "[{" not in page.split('id="cx-connector-form"')[1]  # no JSON in the form
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Connector.objects.get(pk=connector.pk).config == stored
    assert SECRET not in page


def test_a_channel_row_without_a_name_is_an_error_on_the_field(admin_client, default_space):
    data = slack_form(C0123ABCD="")

    response = admin_client.post(url("add") + "?type=.slack_api", data)
    page = response.content.decode()

    assert response.status_code == 400
    field = page.split('id="id_config__allowedChannels__0__id"')[1]
    assert "Row 1: enter the channel name." in field.split("cx-help")[0]
    assert "Traceback" not in page and SECRET not in page
    assert not Connector.objects.exists()


# ---- webhook: OAuth additional fields ---------------------------------------------------------


def oauth_webhook_form(additional):
    return {
        "type": ".webhook",
        "name": "OAuth hook",
        "config__url": "http://127.0.0.1:9/hook",
        "config__method": "post",
        "config__hasAuth": "on",
        "config__authType": "webhook-oauth2-client-credentials",
        "config__accessTokenUrl": "http://127.0.0.1:9/token",
        "config__clientId": "client-1",
        "config__additionalFields": additional,
        "secrets__clientSecret": SECRET,
    }


def test_oauth_additional_fields_are_name_value_lines(admin_client, default_space):
    response = admin_client.post(
        url("add") + "?type=.webhook",
        oauth_webhook_form("audience: https://api.example.com\nresource: orders\n"),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    stored = Connector.objects.get(name="OAuth hook").config["additionalFields"]
    assert stored == '{"audience": "https://api.example.com", "resource": "orders"}'


def test_a_webhook_saved_unchanged_keeps_its_additional_fields_text(admin_client, default_space):
    for text in ('{"audience":"https://api.example.com","resource":"orders"}', '{"tenant": 7, "beta": true}'):
        connector = create_connector(
            default_space,
            name=f"OAuth hook {len(text)}",
            type_id=".webhook",
            config={
                "url": "http://127.0.0.1:9/hook",
                "authType": "webhook-oauth2-client-credentials",
                "accessTokenUrl": "http://127.0.0.1:9/token",
                "clientId": "client-1",
                "additionalFields": text,
            },
            secrets={"clientSecret": SECRET},
        )
        stored = Connector.objects.get(pk=connector.pk).config

        page = admin_client.get(url("change", connector.id)).content.decode()
        data = submitted(page)
        response = admin_client.post(url("change", connector.id), {**data, "_save": "1"})

        assert response.status_code == 302, response.content.decode()[:3000]
        saved = Connector.objects.get(pk=connector.pk).config
        assert saved["additionalFields"] == text
        # (the form sends the hidden certificate choice as null, as Kibana's flyout does)
        assert {k: v for k, v in saved.items() if v is not None} == {
            k: v for k, v in stored.items() if v is not None
        }
        if "7" not in text:  # text values read as lines; other JSON stays JSON so it comes back the same
            assert data["config__additionalFields"] == "audience: https://api.example.com\nresource: orders"


def test_a_line_without_a_colon_is_an_error_on_the_additional_fields(admin_client, default_space):
    response = admin_client.post(url("add") + "?type=.webhook", oauth_webhook_form("audience\nresource: x"))
    page = response.content.decode()

    assert response.status_code == 400
    assert "Line 1: write a name, a colon and the value" in page.split('id="id_config__additionalFields"')[1]
    assert "Traceback" not in page and SECRET not in page


# ---- the Test tab: comments and links; JSON errors on their field ----------------------------


def test_jira_comments_are_typed_one_per_row_on_the_test_tab(admin_client, default_space, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json(
        {"id": "10", "key": "OPS-1"}
    )
    httpserver.expect_request("/rest/api/2/issue/10", method="GET").respond_with_json(
        {
            "id": "10",
            "key": "OPS-1",
            "fields": {"created": "2024-01-01T00:00:00Z", "updated": "2024-01-01T00:00:00Z"},
        }
    )
    httpserver.expect_request("/rest/api/2/issue/10/comment", method="POST").respond_with_json(
        {"id": "c1", "created": "2024-01-01T00:00:00Z"}
    )
    connector = create_connector(
        default_space,
        name="Jira",
        type_id=".jira",
        config={"apiUrl": httpserver.url_for("/"), "projectKey": "OPS"},
        secrets={"email": "bot@example.com", "apiToken": SECRET},
    )

    page = admin_client.post(
        url("test", connector.id),
        {
            "params__subAction": "pushToService",
            "params__subActionParams__incident__summary": "Disk full",
            "params__subActionParams__incident__issueType": "10001",
            "params__subActionParams__comments__0__comment": "First look: /var is full.\nCleaning up.",
            "params__subActionParams__comments__1__comment": "Done.",
            "params__subActionParams__comments__2__comment": "",
        },
    ).content.decode()

    assert "Test was successful" in page, page[:4000]
    bodies = [request.get_json() for request, _ in httpserver.log if request.path.endswith("/comment")]
    assert [body["body"] for body in bodies] == ["First look: /var is full.\nCleaning up.", "Done."]


def pagerduty(default_space, httpserver):
    return create_connector(
        default_space,
        name="Paging",
        type_id=".pagerduty",
        config={"apiUrl": httpserver.url_for("/enqueue")},
        secrets={"routingKey": SECRET},
    )


def test_pagerduty_links_are_typed_as_address_and_text_rows(admin_client, default_space, httpserver):
    httpserver.expect_request("/enqueue", method="POST").respond_with_json({"status": "success"}, status=202)
    connector = pagerduty(default_space, httpserver)

    page = admin_client.post(
        url("test", connector.id),
        {
            "params__eventAction": "trigger",
            "params__summary": "Disk full",
            "params__links__0__href": "https://runbooks.example.com/disk",
            "params__links__0__text": "Runbook",
            "params__links__1__href": "",
            "params__links__1__text": "",
        },
    ).content.decode()

    assert "Test was successful" in page, page[:4000]
    (request, _), *_ = httpserver.log
    assert request.get_json()["links"] == [{"href": "https://runbooks.example.com/disk", "text": "Runbook"}]


def test_custom_details_that_are_not_an_object_get_a_plain_error_on_their_field(
    admin_client, default_space, httpserver
):
    connector = pagerduty(default_space, httpserver)

    for text, expected in (
        ("[1, 2]", "Enter a JSON object, not a list."),
        ("{oops", "This is not valid JSON"),
    ):
        page = admin_client.post(
            url("test", connector.id),
            {"params__eventAction": "trigger", "params__summary": "Disk", "params__customDetails": text},
        ).content.decode()
        field = page.split('id="id_params__customDetails"')[1].split("cx-help")[0]
        assert expected in field, text
        assert "Traceback" not in page and "error validating" not in page
    assert httpserver.log == []


def test_index_documents_that_are_not_objects_get_a_plain_error_on_their_field(admin_client, default_space):
    connector = create_connector(
        default_space, name="Docs", type_id=".index", config={"index": "docs"}, secrets={}
    )

    for text, expected in (
        ('{"a": 1}', "Enter a list, not a JSON object."),
        ('[{"a": 1}, "b"]', "Item 2: Enter a JSON object, not text."),
        ("[", "This is not valid JSON"),
    ):
        page = admin_client.post(url("test", connector.id), {"params__documents": text}).content.decode()
        field = page.split('id="id_params__documents"')[1].split("cx-help")[0]
        assert expected in field, (text, field[:600])
        assert "Traceback" not in page and "error validating" not in page


def test_the_read_only_page_says_channels_and_pairs_without_json(admin_client, default_space, staff_user):
    from django.test import Client

    slack = create_connector(
        default_space,
        name="Ops Slack",
        type_id=".slack_api",
        config={"allowedChannels": [{"id": "C0123ABCD", "name": "#general"}, {"name": "ops-alerts"}]},
        secrets={"token": SECRET},
    )
    reader = Client()
    reader.force_login(staff_user("reader", default="read"))

    page = reader.get(url("view", slack.id)).content.decode()

    assert "C0123ABCD #general; ops-alerts" in page
    assert "[{" not in page and "&quot;name&quot;" not in page


def test_an_error_inside_a_list_item_names_the_item_and_its_key():
    from connectors.admin.forms import split_error

    assert split_error(
        "error validating action params: [links.0.href]: expected value of type [string] but got [undefined]"
    ) == ("links", "Item 1, href: This field is required.")
    assert split_error(
        "error validating action params: [documents.1]: could not parse object value from json input"
    ) == (
        "documents",
        "Item 2: Enter a JSON object, not text.",
    )


def test_a_rules_pagerduty_action_takes_its_links_as_rows_and_shows_them_again(admin_client, default_space):
    from actions.models import Rule
    from tests.actions.test_admin_rule_editor import add_url, threshold_form

    paging = create_connector(
        default_space,
        name="Paging",
        type_id=".pagerduty",
        config={"apiUrl": "http://127.0.0.1:9/enqueue"},
        secrets={"routingKey": SECRET},
    )
    data = threshold_form(paging.id)
    del data["action-0-params__body"]
    data.update(
        {
            "action-0-params__eventAction": "trigger",
            "action-0-params__summary": "{{context.message}}",
            "action-0-params__links__0__href": "https://runbooks.example.com/{{rule.id}}",
            "action-0-params__links__0__text": "Runbook",
            "action-0-params__links__1__href": "",
            "action-0-params__links__1__text": "",
        }
    )

    response = admin_client.post(add_url(), data)

    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = Rule.objects.get()
    links = [{"href": "https://runbooks.example.com/{{rule.id}}", "text": "Runbook"}]
    assert rule.actions[0]["params"]["links"] == links
    page = admin_client.get(f"/admin/actions/rule/{rule.id}/change/").content.decode()
    assert (
        'name="action-0-params__links__0__href" id="id_action-0-params__links__0__href" value="https://runbooks.example.com/{{rule.id}}"'
        in page
    )
