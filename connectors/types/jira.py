"""`.jira`: push incidents (create/update plus comments) to Jira and read its metadata."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from connectors.base import ExecutionContext
from connectors.remote import RemoteCallFailed, call
from connectors.schemas import Any_, Object, Record, String
from connectors.types.case_management import (
    NullableArray,
    UnionSubActionType,
    action_error,
    comments_schema,
    ensure_valid_response,
    iso,
    push_comments,
    sub_action_union,
)
from connectors.types.url_checks import check_connector_url

NAME = "Jira"
INCIDENT_KEYS = (
    "summary",
    "description",
    "externalId",
    "issueType",
    "priority",
    "labels",
    "parent",
    "otherFields",
)
MAX_OTHER_FIELDS = 20
JQL_SPECIAL = re.compile(r"[-!^+&*()\[\]/{}|:?~]")


def _label(value: str) -> str | None:
    return f"The label {value} cannot contain spaces" if re.search(r"\s", value) else None


def _other_fields(value: dict) -> str | None:
    if len(value) > MAX_OTHER_FIELDS:
        return f"A maximum of {MAX_OTHER_FIELDS} otherFields can be defined at a time."
    clashes = [key for key in value if key in INCIDENT_KEYS]
    if clashes:
        return f"The following properties cannot be defined inside otherFields: {', '.join(clashes)}."
    return None


INCIDENT = Object(
    {
        "summary": String(label="Summary"),
        "description": String(nullable=True, default=None, label="Description", widget="textarea"),
        "externalId": String(nullable=True, default=None, label="Issue key (update)"),
        "issueType": String(nullable=True, default=None, label="Issue type id"),
        "priority": String(nullable=True, default=None, label="Priority"),
        "labels": NullableArray(String(validator=_label), label="Labels"),
        "parent": String(nullable=True, default=None, label="Parent issue key"),
        "otherFields": Record(
            Any_(), nullable=True, default=None, validator=_other_fields, label="Additional fields (JSON)"
        ),
    }
)
PUSH_PARAMS = Object({"incident": INCIDENT, "comments": comments_schema()})


def escape_jql(text: str) -> str:
    text = text.replace('"', "").replace("\\", "\\\\").replace("'", "\\\\'")
    return JQL_SPECIAL.sub(lambda m: "\\\\" + m.group(0), text)


def single_line(text: str) -> str:
    """Kibana's trimAndRemoveNewlines: lines trimmed, empty ones dropped, joined with ", "."""
    return ", ".join(part.strip() for part in re.split(r"[\r\n]", text) if part.strip())


def jira_reason(body: Any) -> str:
    """`errorMessages` joined with ", ", else the values of `errors` joined with " "."""
    if body is None:
        return "unknown: errorResponse was null"
    if not isinstance(body, dict) or body.get("errors") is None:
        return "unknown: errorResponse.errors was null"
    messages = body.get("errorMessages")
    if isinstance(messages, list) and messages:
        return ", ".join(str(m) for m in messages)
    errors = body["errors"]
    values = errors.values() if isinstance(errors, dict) else []
    return " ".join(str(v) for v in values).strip()


class JiraConnector(UnionSubActionType):
    type_id = ".jira"
    name = "Jira"
    description = "Push to Jira Cloud or Jira Data Center."
    icon = "ticket"
    minimum_license = "gold"
    supported_feature_ids = ("alerting", "cases", "uptime", "siem")
    config_schema = Object({"apiUrl": String(label="URL"), "projectKey": String(label="Project key")})
    secrets_schema = Object(
        {
            "email": String(label="Email address or username"),
            "apiToken": String(secret=True, label="API token or password"),
        }
    )
    params_schema = sub_action_union(
        {
            "getFields": None,
            "getIncident": Object({"externalId": String()}),
            "handshake": None,
            "pushToService": PUSH_PARAMS,
            "issueTypes": None,
            "fieldsByIssueType": Object({"id": String()}),
            "issues": Object({"title": String()}),
            "issue": Object({"id": String()}),
        }
    )
    test_params_schema = Object(
        {"subAction": String(default="pushToService", widget="hidden"), "subActionParams": PUSH_PARAMS}
    )
    rule_params_schema = test_params_schema  # the admin rule editor asks for these inputs too
    escape = "none"
    handlers = {
        "pushToService": "push_to_service",
        "getIncident": "get_incident_action",
        "getFields": "get_fields",
        "issueTypes": "issue_types",
        "fieldsByIssueType": "fields_by_issue_type",
        "issues": "issues",
        "issue": "issue",
    }

    def check_config(self, config, settings):
        return check_connector_url(config["apiUrl"], settings)

    # ---- plumbing -----------------------------------------------------------------------------

    @staticmethod
    def _url(ctx: ExecutionContext) -> str:
        return ctx.config["apiUrl"].rstrip("/")

    def _base(self, ctx: ExecutionContext) -> str:
        return f"{self._url(ctx)}/rest/api/2"

    def _request(
        self, ctx: ExecutionContext, what: str, method: str, url: str, json=None, required=(), stop="."
    ) -> Any:
        try:
            response = call(
                ctx,
                method,
                url,
                json=json,
                headers={"Content-Type": "application/json"} if json is not None else None,
                auth=(ctx.secrets["email"], ctx.secrets["apiToken"]),
            )
            return ensure_valid_response(response, method.lower(), url, required)
        except RemoteCallFailed as exc:
            raise action_error(
                NAME,
                f"{what}. Error: {exc.message}{stop} Reason: {jira_reason(exc.body())}",
                status_code=exc.status_code,
                cause=exc,
            ) from None

    # ---- sub-actions ----------------------------------------------------------------------------

    def get_incident(self, ctx: ExecutionContext, incident_id: str) -> dict:
        body = self._request(
            ctx,
            f"Unable to get incident with id {incident_id}",
            "get",
            f"{self._base(ctx)}/issue/{incident_id}",
            required=("id", "key"),
            stop="",  # Kibana's getIncident message has no full stop after the error
        )
        fields = body.get("fields") or {}
        return {
            "id": body["id"],
            "key": body["key"],
            "created": fields.get("created"),
            "updated": fields.get("updated"),
            **fields,
        }

    def get_incident_action(self, ctx, params):
        return self.get_incident(ctx, params["externalId"])

    def _fields(self, ctx: ExecutionContext, incident: dict) -> dict:
        fields: dict[str, Any] = {
            "summary": single_line(incident["summary"]),
            "project": {"key": ctx.config["projectKey"]},
        }
        if incident.get("issueType"):
            fields["issuetype"] = {"id": incident["issueType"]}
        if incident.get("description"):
            fields["description"] = incident["description"]
        if incident.get("labels"):
            fields["labels"] = incident["labels"]
        if incident.get("priority"):
            fields["priority"] = {"name": incident["priority"]}
        if incident.get("parent"):
            fields["parent"] = {"key": incident["parent"]}
        if incident.get("otherFields"):
            fields.update(incident["otherFields"])
        return fields

    def create_incident(self, ctx: ExecutionContext, incident: dict) -> dict:
        incident = dict(incident)
        if not incident.get("issueType"):
            types = self.issue_types(ctx, {})
            incident["issueType"] = types[0]["id"] if types else None
        body = self._request(
            ctx,
            "Unable to create incident",
            "post",
            f"{self._base(ctx)}/issue",
            json={"fields": self._fields(ctx, incident)},
            required=("id",),
        )
        created = self.get_incident(ctx, body["id"])
        return {
            "title": created["key"],
            "id": created["id"],
            "pushedDate": iso(created["created"]),
            "url": f"{self._url(ctx)}/browse/{created['key']}",
        }

    def update_incident(self, ctx: ExecutionContext, incident_id: str, incident: dict) -> dict:
        present = {key: value for key, value in incident.items() if value is not None}
        self._request(
            ctx,
            f"Unable to update incident with id {incident_id}",
            "put",
            f"{self._base(ctx)}/issue/{incident_id}",
            json={"fields": self._fields(ctx, present)},
        )
        updated = self.get_incident(ctx, incident_id)
        return {
            "title": updated["key"],
            "id": updated["id"],
            "pushedDate": iso(updated["updated"]),
            "url": f"{self._url(ctx)}/browse/{updated['key']}",
        }

    def create_comment(self, ctx: ExecutionContext, incident_id: str, comment: dict) -> dict:
        body = self._request(
            ctx,
            f"Unable to create comment at incident with id {incident_id}",
            "post",
            f"{self._base(ctx)}/issue/{incident_id}/comment",
            json={"body": comment["comment"]},
            required=("id", "created"),
        )
        return {
            "commentId": comment["commentId"],
            "externalCommentId": body["id"],
            "pushedDate": iso(body["created"]),
        }

    def push_to_service(self, ctx, params):
        incident = {key: value for key, value in params["incident"].items() if key != "externalId"}
        external_id = params["incident"].get("externalId")
        if external_id:
            result = self.update_incident(ctx, external_id, incident)
        else:
            result = self.create_incident(ctx, incident)
        comments = push_comments(params.get("comments"), lambda c: self.create_comment(ctx, result["id"], c))
        if comments is not None:
            result["comments"] = comments
        return result

    def issue_types(self, ctx, params):
        body = self._request(
            ctx,
            "Unable to get issue types",
            "get",
            f"{self._base(ctx)}/issue/createmeta/{ctx.config['projectKey']}/issuetypes",
        )
        types = body.get("issueTypes") if body.get("issueTypes") is not None else body.get("values")
        return [{"id": t.get("id"), "name": t.get("name")} for t in types or []]

    def fields_by_issue_type(self, ctx, params):
        issue_type = params["id"]
        body = self._request(
            ctx,
            "Unable to get fields",
            "get",
            f"{self._base(ctx)}/issue/createmeta/{ctx.config['projectKey']}/issuetypes/{issue_type}",
        )
        fields = body.get("fields") if body.get("fields") is not None else body.get("values")
        return {
            field["fieldId"]: {
                "required": field.get("required"),
                "allowedValues": field.get("allowedValues") or [],
                "defaultValue": field.get("defaultValue") or {},
                "schema": field.get("schema"),
                "name": field.get("name"),
            }
            for field in fields or []
            if "fieldId" in field
        }

    def get_fields(self, ctx, params):
        merged: dict = {}
        for issue_type in self.issue_types(ctx, {}):
            fields = self.fields_by_issue_type(ctx, {"id": issue_type["id"]})
            merged = fields if not merged else {key: merged[key] for key in merged if key in fields}
        return merged

    def issues(self, ctx, params):
        jql = f'project="{ctx.config["projectKey"]}" and summary ~"{escape_jql(params["title"])}"'
        query = "jql=" + quote(jql, safe="!*'()") + "&fields=summary,key"
        body = self._request(ctx, "Unable to get issues", "get", f"{self._base(ctx)}/search/jql?{query}")
        return [
            {"id": i.get("id"), "key": i.get("key"), "title": (i.get("fields") or {}).get("summary")}
            for i in body.get("issues") or []
        ]

    def issue(self, ctx, params):
        issue_id = params["id"]
        body = self._request(
            ctx, f"Unable to get issue with id {issue_id}", "get", f"{self._base(ctx)}/issue/{issue_id}"
        )
        return {
            "id": body.get("id"),
            "key": body.get("key"),
            "title": (body.get("fields") or {}).get("summary"),
        }
