"""Fuzz our own OpenAPI schema (`/api/schema/`) with schemathesis against a live server: for every
connectors operation (with and without the space prefix), generated requests never get a 5xx, and
every answer matches the schema's documented content type and response schema. Bounded: a few
examples per operation, derandomized."""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from connectors.models import Connector, Space
from tests.api.conftest import PASSWORD, create_connector, make_user

EXISTING_ID = "fuzz-target"
EXAMPLES = 4


def _operations(base_url):
    raw = requests.get(f"{base_url}/api/schema/?format=json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=base_url)
    return [r.ok() for r in schema.include(path_regex=r"/api/actions/").get_all_operations()]


def _fuzz(operation, session, path_parameters, failures, seen):
    @given(case=operation.as_strategy(path_parameters=path_parameters or None))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        if not Connector.objects.filter(pk=EXISTING_ID).exists():
            create_connector(path_parameters.get("space_id", "default"), name="target", id=EXISTING_ID)
        response = case.call(session=session, timeout=10)
        seen.append((operation.method, operation.path, response.status_code))
        if response.status_code >= 500:
            failures.append(
                (case.method, case.formatted_path, case.body, response.status_code, response.text[:200])
            )
            return
        try:
            case.validate_response(response, checks=[content_type_conformance, response_schema_conformance])
        except (Exception, BaseExceptionGroup) as exc:
            failures.append((case.method, case.formatted_path, response.status_code, str(exc)[:300]))

    return run


@pytest.mark.slow
def test_generated_requests_from_our_schema_never_break_the_server_or_the_schema(live_server, default_space):
    Space.objects.get_or_create(id="marketing", defaults={"name": "Marketing"})
    make_user("elastic", superuser=True)
    session = requests.Session()
    session.auth = ("elastic", PASSWORD)
    session.headers["kbn-xsrf"] = "true"
    operations = _operations(live_server.url)
    assert len(operations) >= 20, [f"{o.method} {o.path}" for o in operations]
    failures, seen = [], []
    for operation in operations:
        path_parameters = {}
        if "{space_id}" in operation.path:
            path_parameters["space_id"] = "marketing"
        if "{connector_id}" in operation.path:
            path_parameters["connector_id"] = EXISTING_ID
        _fuzz(operation, session, path_parameters, failures, seen)()
    session.close()
    assert not failures, "\n".join(map(str, failures))
    assert {status for *_, status in seen} & {200, 204}, "some generated requests succeeded"
    assert {status for *_, status in seen} & {400}, "some generated requests were refused as bad input"
