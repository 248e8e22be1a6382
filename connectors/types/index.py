"""`.index`: writes documents into the local document store, answering like Elasticsearch's bulk API."""

import time
import uuid
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Max

from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import ConnectorError
from connectors.models import IndexDocument
from connectors.schemas import Any_, Array, Boolean, Object, Record, String

ALERT_HISTORY_PREFIX = "kibana-alert-history-"
ALERT_HISTORY_CONNECTOR_ID = "preconfigured-alert-history-es-index"
ALERT_HISTORY_DEFAULT_INDEX = "kibana-alert-history-default"


def _index_override_rule(value):
    if value is not None and not value.startswith(ALERT_HISTORY_PREFIX):
        return f'index must start with "{ALERT_HISTORY_PREFIX}"'
    return None


class IndexConnector(ConnectorType):
    type_id = ".index"
    name = "Index"
    description = "Index data into the local document store."
    icon = "database"
    minimum_license = "basic"
    config_schema = Object(
        {
            "index": String(label="Index", help="The index to write documents to."),
            "refresh": Boolean(default=False, label="Refresh index"),
            "executionTimeField": String(
                nullable=True,
                default=None,
                label="Time field",
                help="Set this field to the time of the run on each document.",
            ),
        }
    )
    params_schema = Object(
        {
            "documents": Array(Record(Any_()), label="Documents", help="A JSON array of documents to index."),
            "indexOverride": String(nullable=True, default=None, validator=_index_override_rule),
        }
    )

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        index = ctx.params.get("indexOverride") or ctx.config["index"]
        time_field = (ctx.config.get("executionTimeField") or "").strip()
        started = time.monotonic()
        try:
            items = self._bulk_create(index, ctx.params["documents"], time_field)
        except Exception as exc:
            raise ConnectorError("error indexing documents", service_message=str(exc)) from exc
        return ExecutionResult.success(
            {"errors": False, "took": int((time.monotonic() - started) * 1000), "items": items}
        )

    @staticmethod
    def _bulk_create(index: str, documents: list[dict], time_field: str) -> list[dict]:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        items = []
        with transaction.atomic():
            seq = IndexDocument.objects.filter(index=index).aggregate(m=Max("seq_no"))["m"]
            seq = -1 if seq is None else seq
            rows = []
            for document in documents:
                document = dict(document)
                if time_field:
                    document[time_field] = now
                seq += 1
                doc_id = uuid.uuid4().hex[:20]
                rows.append(IndexDocument(index=index, doc_id=doc_id, seq_no=seq, document=document))
                items.append(
                    {
                        "create": {
                            "_index": index,
                            "_id": doc_id,
                            "_version": 1,
                            "result": "created",
                            "_shards": {"total": 2, "successful": 1, "failed": 0},
                            "_seq_no": seq,
                            "_primary_term": 1,
                            "status": 201,
                        }
                    }
                )
            IndexDocument.objects.bulk_create(rows)
        return items
