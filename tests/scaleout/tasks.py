"""Task functions the scale-out tests enqueue on django-q2 (importable by a real worker cluster).

They run the real executor (`actions.services.execute`) on a stored connector, as a queued action
does, and return which cluster ran them so a test can see that work was shared.
"""

import os

from actions.services import RunInfo, execute
from connectors.models import Connector


def execute_connector(connector_id: str, params: dict) -> dict:
    connector = Connector.objects.get(pk=connector_id)
    result = execute(connector, params, RunInfo(source="background_task"))
    return {"status": result.status, "cluster": os.environ.get("SCALEOUT_CLUSTER_LABEL", "")}
