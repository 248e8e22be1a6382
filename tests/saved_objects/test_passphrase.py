"""Beyond Kibana: with a passphrase, secrets travel encrypted in the export and come back on import."""

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from connectors.models import Connector
from tests.saved_objects.conftest import export, export_lines, upload

SECRET = "passphrase-marker-c4e2"
PASSPHRASE = "correct horse battery staple"


def make_hook(api, url):
    response = api.post(
        "/api/actions/connector",
        {
            "name": "hook",
            "connector_type_id": ".webhook",
            "config": {"url": url, "hasAuth": True},
            "secrets": {"user": "elastic", "password": SECRET},
        },
        format="json",
    )
    return response.json()["id"]


def test_secrets_travel_encrypted_and_an_import_with_the_passphrase_restores_them(api, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook_id = make_hook(api, httpserver.url_for("/hook"))

    exported = export(api, {"type": "action", "passphrase": PASSPHRASE})
    text = exported.content.decode()
    assert SECRET not in text
    assert base64.b64encode(SECRET.encode()).decode() not in text
    [line, _summary] = export_lines(exported)
    assert line["attributes"]["secrets"] == {}  # what Kibana reads: as without a passphrase
    assert line["attributes"]["isMissingSecrets"] is True
    assert line["encryptedSecrets"]["kdf"]["name"] == "scrypt"

    api.delete(f"/api/actions/connector/{hook_id}")
    body = upload(api, exported.content, passphrase=PASSPHRASE).json()

    assert body["success"] is True
    assert body["warnings"] == []  # nothing left to fix
    connector = Connector.objects.get(pk=hook_id)
    assert connector.is_missing_secrets is False
    assert connector.get_secrets()["password"] == SECRET
    run = api.post(f"/api/actions/connector/{hook_id}/_execute", {"params": {"body": "x"}}, format="json")
    assert run.json()["status"] == "ok"
    expected = "Basic " + base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    assert httpserver.log[0][0].headers["Authorization"] == expected


def test_without_the_passphrase_the_import_is_kibanas(api):
    hook_id = make_hook(api, "https://example.com/hook")
    exported = export(api, {"type": "action", "passphrase": PASSPHRASE})
    api.delete(f"/api/actions/connector/{hook_id}")

    body = upload(api, exported.content).json()

    assert body["success"] is True
    assert body["warnings"][0]["message"] == "1 connector has sensitive information that require updates."
    connector = Connector.objects.get(pk=hook_id)
    assert connector.is_missing_secrets is True
    assert connector.get_secrets() == {}


def test_a_wrong_passphrase_is_a_per_object_error_and_writes_nothing(api):
    hook_id = make_hook(api, "https://example.com/hook")
    exported = export(api, {"type": "action", "passphrase": PASSPHRASE})
    api.delete(f"/api/actions/connector/{hook_id}")

    body = upload(api, exported.content, passphrase="wrong passphrase").json()

    assert body["successCount"] == 0
    [error] = body["errors"]
    assert error["error"]["type"] == "unknown"
    assert "passphrase does not open" in error["error"]["message"]
    assert SECRET not in json.dumps(body)
    assert not Connector.objects.filter(pk=hook_id).exists()


def test_encrypted_secrets_moved_onto_another_object_are_refused(api):
    hook_id = make_hook(api, "https://example.com/hook")
    [line, _] = export_lines(export(api, {"type": "action", "passphrase": PASSPHRASE}))
    api.delete(f"/api/actions/connector/{hook_id}")
    line["id"] = "0dd0dd00-0000-4000-8000-000000000000"

    body = upload(api, (json.dumps(line) + "\n").encode(), passphrase=PASSPHRASE).json()

    assert body["errors"][0]["error"]["type"] == "unknown"
    assert not Connector.objects.exists()


def test_connectors_without_secrets_export_no_envelope(api):
    api.post("/api/actions/connector", {"name": "log", "connector_type_id": ".server-log"}, format="json")
    [line, _] = export_lines(export(api, {"type": "action", "passphrase": PASSPHRASE}))
    assert "encryptedSecrets" not in line


def test_neither_secrets_nor_the_passphrase_reach_the_logs(api, caplog):
    caplog.set_level("DEBUG")
    hook_id = make_hook(api, "https://example.com/hook")
    exported = export(api, {"type": "action", "passphrase": PASSPHRASE})
    api.delete(f"/api/actions/connector/{hook_id}")
    upload(api, exported.content, passphrase=PASSPHRASE)
    upload(api, exported.content, passphrase="wrong one")

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged
    assert PASSPHRASE not in logged and "wrong one" not in logged


def seal_with_cost(secrets: dict, aad: str, *, n, r, p, salt: bytes | None = None) -> dict:
    """An envelope as a hand-made file could carry it: real scrypt and AES-GCM, parameters of its choosing."""
    salt = salt or os.urandom(16)
    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(PASSPHRASE.encode())
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, json.dumps(secrets).encode(), aad.encode())
    return {
        "v": 1,
        "kdf": {"name": "scrypt", "n": n, "r": r, "p": p, "salt": base64.b64encode(salt).decode()},
        "alg": "AES-256-GCM",
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


@pytest.mark.parametrize(
    ("n", "r", "p"),
    [(2**16, 8, 1), (2**15, 8, 2), (2**14, 8, 1), ("32768", "8", "1")],
)
def test_an_import_refuses_scrypt_parameters_the_exporter_does_not_write(api, n, r, p):
    # Before: any n up to 2^20 and r up to 32 was derived (4 GiB per derivation, once per salt).
    hook_id = make_hook(api, "https://example.com/hook")
    [line, _] = export_lines(export(api, {"type": "action", "passphrase": PASSPHRASE}))
    api.delete(f"/api/actions/connector/{hook_id}")
    secrets = {"user": "elastic", "password": SECRET}
    envelope = seal_with_cost(secrets, f"action:{hook_id}:.webhook", n=int(n), r=int(r), p=int(p))
    envelope["kdf"].update(n=n, r=r, p=p)  # as written in the file (the exporter writes numbers)
    line["encryptedSecrets"] = envelope

    body = upload(api, (json.dumps(line) + "\n").encode(), passphrase=PASSPHRASE).json()

    assert body["successCount"] == 0
    [error] = body["errors"]
    assert error["id"] == hook_id
    assert error["error"]["type"] == "unknown"
    assert "scrypt parameters this server does not accept" in error["error"]["message"]
    assert not Connector.objects.filter(pk=hook_id).exists()


def test_an_import_accepts_one_salt_per_file_and_refuses_objects_sealed_under_another(api):
    # Before: every distinct salt cost one more derivation; a file of N lines could cost N.
    first_id = make_hook(api, "https://example.com/one")
    [first, _] = export_lines(export(api, {"type": "action", "passphrase": PASSPHRASE}))
    api.delete(f"/api/actions/connector/{first_id}")
    second_id = make_hook(api, "https://example.com/two")
    [second, _] = export_lines(export(api, {"type": "action", "passphrase": PASSPHRASE}))
    api.delete(f"/api/actions/connector/{second_id}")
    assert first["encryptedSecrets"]["kdf"]["salt"] != second["encryptedSecrets"]["kdf"]["salt"]

    body = upload(
        api, (json.dumps(first) + "\n" + json.dumps(second) + "\n").encode(), passphrase=PASSPHRASE
    ).json()

    assert body["successCount"] == 1
    assert [result["id"] for result in body["successResults"]] == [first_id]
    [error] = body["errors"]
    assert error["id"] == second_id
    assert error["error"]["type"] == "unknown"
    assert "one salt per file" in error["error"]["message"]
    assert Connector.objects.get(pk=first_id).get_secrets()["password"] == SECRET
    assert not Connector.objects.filter(pk=second_id).exists()
