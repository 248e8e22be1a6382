"""Small builders shared by the rules and actions tests."""

import json
from datetime import UTC, datetime

from connectors.models import Connector, IndexDocument

SECRET = "hook-secret-marker-7f3a"


def make_webhook(space, url, *, name="Hook", secrets=None, connector_id=None):
    connector = Connector(
        space=space,
        name=name,
        connector_type_id=".webhook",
        config={"url": url, "method": "post", "hasAuth": True},
    )
    if connector_id:
        connector.id = connector_id
    connector.set_secrets(secrets if secrets is not None else {"user": "elastic", "password": SECRET})
    connector.save()
    return connector


def add_documents(index: str, documents: list[dict], at: datetime | None = None) -> None:
    at = at or datetime.now(UTC)
    start = IndexDocument.objects.filter(index=index).count()
    IndexDocument.objects.bulk_create(
        IndexDocument(
            index=index,
            doc_id=f"{index}-{start + i}",
            seq_no=start + i,
            document={"@timestamp": at.isoformat().replace("+00:00", "Z"), **doc},
        )
        for i, doc in enumerate(documents)
    )


def threshold_rule_body(connector_id, *, threshold=2, frequency=None, group_by=None, message=None, **extra):
    params = {
        "index": ["metrics"],
        "timeField": "@timestamp",
        "aggType": "count",
        "thresholdComparator": ">",
        "threshold": [threshold],
        "timeWindowSize": 5,
        "timeWindowUnit": "m",
    }
    if group_by:
        params.update({"groupBy": "top", "termField": group_by, "termSize": 10})
    action = {
        "group": "threshold met",
        "id": connector_id,
        "params": {"body": message or '{"text": "{{context.message}}", "rule": "{{rule.name}}"}'},
        "frequency": frequency or {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
    }
    body = {
        "name": "cpu high",
        "rule_type_id": ".index-threshold",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "params": params,
        "actions": [action],
        "tags": ["cpu"],
    }
    body.update(extra)
    return body


def bodies(httpserver) -> list:
    """The JSON bodies the local HTTP server received, in order."""
    return [json.loads(request.get_data(as_text=True)) for request, _ in httpserver.log]
