"""Task functions the scale-out tests enqueue on django-q2 (importable by a real worker cluster).

They run the real executor (`actions.services.execute`) on a stored connector, as a queued action
does. `execute_connector_labelled` adds the running cluster's label to the webhook body, so the
receiving server sees which cluster delivered each message.
"""

import json
import os

from actions.services import RunInfo, execute
from connectors.models import Connector


def execute_connector(connector_id: str, params: dict) -> str:
    connector = Connector.objects.get(pk=connector_id)
    return execute(connector, params, RunInfo(source="background_task")).status


def execute_connector_labelled(connector_id: str, params: dict) -> str:
    body = {**json.loads(params["body"]), "cluster": os.environ.get("SCALEOUT_CLUSTER_LABEL", "")}
    return execute_connector(connector_id, {**params, "body": json.dumps(body)})
