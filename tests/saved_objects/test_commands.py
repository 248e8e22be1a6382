"""`manage.py export_saved_objects` and `import_saved_objects`: the API's options from the shell."""

import json

import pytest
from django.core.management import CommandError, call_command

from connectors.models import Connector
from tests.saved_objects.conftest import EXPORT_714, connector_line, ndjson

SECRET = "cli-marker-88d1"


@pytest.fixture
def hook(default_space):
    connector = Connector(
        space=default_space,
        name="hook",
        connector_type_id=".webhook",
        config={"url": "https://example.com", "hasAuth": True},
    )
    connector.set_secrets({"user": "u", "password": SECRET})
    connector.save()
    return connector


def test_export_then_import_through_the_commands(hook, tmp_path, capsys):
    target = tmp_path / "out.ndjson"
    call_command("export_saved_objects", "--type", "action", "--output", str(target))
    text = target.read_text()
    assert SECRET not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["id"] == hook.id and lines[-1]["exportedCount"] == 1

    hook_id = hook.id
    hook.delete()
    capsys.readouterr()
    call_command("import_saved_objects", str(target))
    result = json.loads(capsys.readouterr().out)

    assert result["success"] is True and result["successCount"] == 1
    assert Connector.objects.get(pk=hook_id).is_missing_secrets is True


def test_the_export_command_writes_to_stdout_and_takes_objects(hook, capsys):
    call_command("export_saved_objects", "--object", f"action:{hook.id}", "--exclude-export-details")
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [hook.id]


def test_a_passphrase_file_carries_secrets_through_the_commands(hook, tmp_path, capsys):
    passphrase = tmp_path / "pass"
    passphrase.write_text("a long passphrase\n")
    target = tmp_path / "out.ndjson"
    call_command(
        "export_saved_objects", "--type", "action", "-o", str(target), "--passphrase-file", str(passphrase)
    )
    assert SECRET not in target.read_text()
    hook_id = hook.id
    hook.delete()

    call_command("import_saved_objects", str(target), "--passphrase-file", str(passphrase))

    restored = Connector.objects.get(pk=hook_id)
    assert restored.get_secrets()["password"] == SECRET
    assert restored.is_missing_secrets is False


def test_the_import_command_exits_1_when_objects_fail(default_space, tmp_path, capsys, fixture_types):
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_saved_objects", str(EXPORT_714))
    assert exit_info.value.code == 1
    result = json.loads(capsys.readouterr().out)
    assert result["successCount"] == 15  # 14 connectors and the index threshold rule
    assert {e["error"]["type"] for e in result["errors"]} == {"unsupported_type"}


def test_the_import_command_honours_the_conflict_options(default_space, tmp_path, capsys):
    source = tmp_path / "one.ndjson"
    source.write_bytes(ndjson(connector_line("dddddddd-0000-4000-8000-000000000001", name="v1")))
    call_command("import_saved_objects", str(source))
    source.write_bytes(ndjson(connector_line("dddddddd-0000-4000-8000-000000000001", name="v2")))

    with pytest.raises(SystemExit):
        call_command("import_saved_objects", str(source))
    call_command("import_saved_objects", str(source), "--overwrite")
    call_command("import_saved_objects", str(source), "--create-new-copies")

    names = sorted(Connector.objects.values_list("name", flat=True))
    assert names == ["v2", "v2"]
    with pytest.raises(CommandError, match=r"cannot use \[overwrite\] with \[createNewCopies\]"):
        call_command("import_saved_objects", str(source), "--overwrite", "--create-new-copies")


def test_commands_refuse_an_unknown_space_and_a_missing_file(default_space, tmp_path):
    with pytest.raises(CommandError, match="Space 'nope' does not exist"):
        call_command("export_saved_objects", "--type", "action", "--space", "nope")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_saved_objects", str(tmp_path / "missing.ndjson"))
