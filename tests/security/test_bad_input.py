"""Bad input gets a clear error in Kibana's envelope and loses nothing: oversized, malformed and
deeply nested bodies; property-based tests for the settings-file parser and the NDJSON importer."""

import io
import json
import string

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.models import Connector, Space
from connectors.saved_objects import (
    ImportOptions,
    SavedObjectsRequestError,
    import_objects,
    parse_import_file,
)
from connectors.settings_file import SETTINGS, parse_byte_size, parse_config_dict, parse_duration

ENVELOPE_KEYS = {"statusCode", "error", "message"}


def _envelope(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= ENVELOPE_KEYS and body["statusCode"] == status
    return body["message"]


# ---- bodies -----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/api/actions/connector", "/api/actions/action", "/api/saved_objects/_export", "/api/spaces/space"],
)
def test_a_body_over_the_upload_limit_is_a_413_in_kibanas_envelope(api, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    big = json.dumps({"name": "x" * (100 * 1024), "connector_type_id": ".server-log"})
    message = _envelope(api.post(path, big, content_type="application/json"), 413)
    assert message == "Payload content length greater than maximum allowed: 65536"
    assert Connector.objects.count() == 0


@pytest.mark.django_db
def test_an_oversized_execute_body_is_a_413_and_nothing_runs(api, settings, default_space):
    from tests.api.conftest import create_connector

    connector = create_connector("default")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps({"params": {"message": "x" * (100 * 1024)}})
    _envelope(
        api.post(f"/api/actions/connector/{connector.id}/_execute", body, content_type="application/json"),
        413,
    )
    connector.refresh_from_db()
    assert connector.last_run_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "Invalid request payload JSON format"),
        ("", None),
        (b"\xff\xfe\x00{", "Invalid request payload JSON format"),
        ("[" * 50_000 + "]" * 50_000, "Invalid request payload JSON format"),
        ('{"name": "a"} trailing', "Invalid request payload JSON format"),
        ("[1, 2]", "[request body]: expected a plain object value, but found [Array] instead."),
        ('"just a string"', "[request body]: could not parse object value from json input"),
        ("null", None),
        ('{"name": 1e999, "connector_type_id": ".server-log"}', None),
        ('{"name": "n", "connector_type_id": ".server-log", "config": ' + "[" * 900 + "]" * 900 + "}", None),
    ],
    ids=[
        "broken",
        "empty",
        "not utf-8",
        "nested 50000 deep",
        "trailing text",
        "array",
        "string",
        "null",
        "huge number",
        "nested 900 deep in config",
    ],
)
def test_a_malformed_create_body_is_a_clear_400_and_creates_nothing(api, body, message):
    response = api.post("/api/actions/connector", body, content_type="application/json")
    got = _envelope(response, 400)
    if message:
        assert got == message
    assert Connector.objects.count() == 0


@pytest.mark.django_db
def test_a_form_encoded_body_is_refused_in_the_envelope(api):
    _envelope(
        api.post("/api/actions/connector", "name=x", content_type="application/x-www-form-urlencoded"), 415
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/actions/connector/" + "a" * 5000,
        "/api/actions/connector/%00",
        "/api/actions/connector/..%2f..%2fetc",
        "/s/" + "x" * 300 + "/api/actions/connectors",
        "/s/%E2%80%AE/api/actions/connectors",
    ],
)
def test_odd_paths_are_answered_in_the_envelope_never_500(api, path):
    response = api.get(path)
    # A space that does not exist holds no connectors: superusers get the (preconfigured-only) list.
    allowed = (200, 404) if path.startswith("/s/") else (400, 403, 404)
    assert response.status_code in allowed, (path, response.status_code)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("run_id", ["%C2%B2", "%D9%A3", "9" * 40])  # "²", Arabic-Indic 3, past int64
def test_a_run_id_that_is_not_a_plain_number_is_not_found_never_500(api, default_space, run_id):
    hook = api.post(
        "/api/actions/connector",
        {"name": "h", "connector_type_id": ".server-log", "config": {}, "secrets": {}},
        format="json",
    ).json()
    message = _envelope(api.get(f"/api/actions/connector/{hook['id']}/_enqueue/{run_id}"), 404)
    assert message.startswith("Saved object [action_run/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("5", "[request query.has_reference]: expected a plain object value, but found [number] instead."),
        ('["x"]', "[request query.has_reference]: expected a plain object value, but found [Array] instead."),
        ("null", "[request query.has_reference]: expected a plain object value, but found [null] instead."),
        (
            '{"type": "action", "id": {"a": 1}}',
            "[request query.has_reference.id]: expected value of type [string] but got [Object]",
        ),
    ],
)
def test_a_has_reference_that_is_not_a_reference_object_is_a_400(api, default_space, reference, message):
    response = api.get("/api/alerting/rules/_find", {"has_reference": reference})
    assert _envelope(response, 400) == message


@pytest.mark.django_db
def test_a_deeply_nested_import_line_is_one_per_object_error_and_the_other_lines_import(api, default_space):
    good = {
        "type": "action",
        "id": "good-one",
        "attributes": {"actionTypeId": ".server-log", "name": "kept", "config": {}, "secrets": {}},
        "references": [],
    }
    data = (json.dumps(good) + "\n" + "[" * 50_000 + "]" * 50_000 + "\n").encode()
    handle = io.BytesIO(data)
    handle.name = "export.ndjson"
    response = api.post("/api/saved_objects/_import", {"file": handle}, format="multipart")
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["successCount"] == 1
    assert [e["meta"]["title"] for e in body["errors"]] == ["Line 2"]
    assert Connector.objects.filter(pk="good-one", name="kept").exists()


# ---- the settings file --------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(SETTINGS)), value=_values)
def test_any_value_for_a_known_key_either_parses_or_fails_naming_the_key(key, value):
    try:
        parse_config_dict({key: value}, source="<fuzz>")
    except ImproperlyConfigured as exc:
        assert key in str(exc) or "<fuzz>" in str(exc)


@settings(max_examples=200, deadline=None)
@given(
    tree=st.dictionaries(
        st.text(alphabet=string.ascii_letters + ".", min_size=1, max_size=30), _values, max_size=4
    )
)
def test_any_tree_either_parses_or_is_an_improperly_configured_error(tree):
    try:
        parse_config_dict(tree, source="<fuzz>")
    except ImproperlyConfigured:
        pass


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["ms", "s", "m", "h", "d", "w"]))
def test_durations_read_as_kibana_writes_them(amount, unit):
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{amount}{unit}") == pytest.approx(amount * factor)
    assert parse_duration(amount) == pytest.approx(amount / 1000)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["b", "kb", "mb", "gb", "KB", "Mb"]))
def test_byte_sizes_read_as_kibana_writes_them(amount, unit):
    factor = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}[unit.lower()]
    assert parse_byte_size(f"{amount}{unit}") == amount * factor


@given(st.dictionaries(st.sampled_from(sorted(SETTINGS)), st.just(None), min_size=1, max_size=3))
def test_nested_and_dotted_spellings_of_the_same_keys_agree(keys):
    """`a.b.c: v` and `a: {b: {c: v}}` are the same setting."""
    values = {key: SETTINGS[key].default for key in keys}
    values = {k: v for k, v in values.items() if isinstance(v, bool | int | float | str)}
    if not values:
        return
    nested: dict = {}
    for key, value in values.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return
        node[leaf] = value
    try:
        flat = parse_config_dict(values)
        tree = parse_config_dict(nested)
    except ImproperlyConfigured:
        return
    for key in values:
        assert flat[key] == tree[key]


# ---- the NDJSON importer ------------------------------------------------------------------------------

_line_objects = st.one_of(
    _values,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["action", "alert", "index-pattern", ""]),
            "id": st.text(max_size=40),
            "attributes": _values,
        },
        optional={
            "references": _values,
            "coreMigrationVersion": st.text(max_size=8),
            "migrationVersion": _values,
        },
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_the_import_parser_reads_any_bytes_without_raising(data):
    for entry in parse_import_file(data):
        assert entry.line >= 1
        assert (entry.problem is None) or isinstance(entry.problem, str)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.lists(st.one_of(_line_objects.map(json.dumps), st.text(max_size=30)), max_size=5))
def test_garbage_lines_never_break_an_import_and_the_valid_line_always_lands(junk, default_space):
    Connector.objects.all().delete()
    good = {
        "type": "action",
        "id": "valid-line",
        "attributes": {"actionTypeId": ".server-log", "name": "kept", "config": {}, "secrets": {}},
        "references": [],
    }
    lines = [*junk, json.dumps(good)]
    data = "\n".join(line.replace("\n", " ") for line in lines).encode()
    try:
        result = import_objects(Space.objects.get(pk="default"), data, ImportOptions())
    except SavedObjectsRequestError:
        return  # a whole-request refusal (e.g. too many objects) is allowed, in the envelope
    assert Connector.objects.filter(pk="valid-line", name="kept").exists() or any(
        e["id"] == "valid-line" for e in result.get("errors", [])
    ), result
    json.dumps(result)  # the answer is serialisable
