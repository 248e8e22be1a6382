"""`/healthz`, `/readyz` and `/metrics` are ours (Kibana has none of them) and belong to the process,
not to a space: a load balancer pointed at `/s/<space>/healthz` must not be told the service is
healthy, whatever the segment names. Anything under `/s/` that is no route answers as Kibana does
once its spaces plugin has taken the prefix off: hapi's JSON 404."""

import pytest
from django.test import Client

NOT_FOUND = {"statusCode": 404, "error": "Not Found", "message": "Not Found"}


@pytest.mark.django_db
@pytest.mark.parametrize("probe", ["healthz", "readyz", "metrics"])
@pytest.mark.parametrize("space", ["default", "marketing", "no-such-space", "A%2Fb", "..", "%00"])
def test_a_probe_behind_a_space_prefix_is_not_found(default_space, other_space, space, probe):
    response = Client().get(f"/s/{space}/{probe}")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/s/marketing/nothing", "/s/no-such-space/", "/s/x/admin/"])
def test_any_other_unrouted_path_under_a_space_prefix_is_kibanas_json_404(default_space, other_space, path):
    response = Client().get(path)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.django_db
def test_the_probes_still_answer_at_the_root(default_space):
    client = Client()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
