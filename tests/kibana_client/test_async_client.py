"""kibana-py's `AsyncKibana` (aiohttp underneath) against our live server.

The sync client's tests cover the API; these prove a second HTTP stack (aiohttp's own request
framing, headers and connection reuse) gets the same answers. Each test drives the client in its
own event loop with `asyncio.run`.
"""

import asyncio

import pytest
from kibana import AsyncKibana
from kibana.exceptions import AuthenticationException, BadRequestError, NotFoundError

from actions.models import ActionRun
from connectors.models import Connector
from tests.api.conftest import PASSWORD, make_user


@pytest.fixture
def superuser(default_space):
    make_user("elastic", superuser=True)


def drive(live_server, scenario, *, auth=("elastic", PASSWORD)):
    async def run():
        client = AsyncKibana(live_server.url, basic_auth=auth)
        try:
            return await scenario(client)
        finally:
            await client.close()

    return asyncio.run(run())


def test_the_async_client_creates_runs_lists_and_deletes_a_connector(live_server, superuser):
    async def scenario(kibana):
        created = await kibana.connectors.create(name="Log", connector_type_id=".server-log")
        result = await kibana.connectors.execute(id=created["id"], params={"message": "hello"})
        listed = await kibana.connectors.get_all()
        await kibana.connectors.delete(id=created["id"])
        return created, result, listed

    created, result, listed = drive(live_server, scenario)
    assert created["connector_type_id"] == ".server-log"
    assert result["status"] == "ok"
    assert result["connector_id"] == created["id"]
    assert created["id"] in [connector["id"] for connector in listed]
    assert not Connector.objects.filter(id=created["id"]).exists()


def test_the_async_client_gets_kibanas_errors_as_its_exceptions(live_server, superuser):
    async def scenario(kibana):
        raised = []
        for call in (
            kibana.connectors.get(id="does-not-exist"),
            kibana.connectors.create(name="Hook", connector_type_id=".webhook", config={}),
        ):
            try:
                await call
            except (NotFoundError, BadRequestError) as error:
                raised.append(error)
        return raised

    missing, invalid = drive(live_server, scenario)
    assert isinstance(missing, NotFoundError)
    assert missing.message == "Saved object [action/does-not-exist] not found"
    assert isinstance(invalid, BadRequestError)
    assert invalid.message == (
        "error validating action type config: [url]: expected value of type [string] but got [undefined]"
    )


def test_the_async_client_with_a_wrong_password_is_refused(live_server, superuser):
    async def scenario(kibana):
        await kibana.connectors.get_all()

    with pytest.raises(AuthenticationException):
        drive(live_server, scenario, auth=("elastic", "not-the-password"))


def test_the_async_client_queues_many_runs_over_concurrent_requests(live_server, superuser):
    """aiohttp keeps several connections open at once: every one of the concurrent requests is
    accepted and queued exactly once."""

    async def scenario(kibana):
        created = await kibana.connectors.create(name="Log", connector_type_id=".server-log")
        await asyncio.gather(
            *(
                kibana.perform_request(
                    "POST",
                    f"/api/actions/connector/{created['id']}/_enqueue",
                    headers={
                        "kbn-xsrf": "true",
                        "content-type": "application/json",
                        "accept": "application/json",
                    },
                    body={"params": {"message": f"run {number}"}},
                )
                for number in range(20)
            )
        )
        return created

    created = drive(live_server, scenario)
    messages = sorted(run.params["message"] for run in ActionRun.objects.filter(connector_id=created["id"]))
    assert messages == sorted(f"run {number}" for number in range(20))
