"""What a browser posts to the rule editor (actions/admin_rule_editor.py) for an API rule body."""

import re
from urllib.parse import urlencode

UNIT_RE = re.compile(r"^(\d+)([smhd])$")


def editor_url(body: dict, space: str = "default") -> str:
    return "/admin/actions/rule/add/?" + urlencode({"rule_type": body["rule_type_id"], "space": space})


def _text(value) -> str:
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return str(value)


def editor_form(body: dict, space: str = "default", **overrides) -> dict:
    """The editor's fields for an API body: details, `rule-params__*` and `action-N-*`."""
    value, unit = UNIT_RE.match(body["schedule"]["interval"]).groups()
    data = {
        "space": space,
        "rule_type": body.get("rule_type_id", ""),
        "name": body["name"],
        "tags": ", ".join(body.get("tags", [])),
        "schedule_value": value,
        "schedule_unit": unit,
        "_save": "1",
    }
    for key, param in body.get("params", {}).items():
        data[f"rule-params__{key}"] = _text(param)
    indices = []
    for index, action in enumerate(body.get("actions", [])):
        indices.append(str(index))
        frequency = action.get("frequency") or {}
        throttle = UNIT_RE.match(frequency.get("throttle") or "")
        prefix = f"action-{index}-"
        data.update(
            {
                prefix + "connector": action["id"],
                prefix + "uuid": action.get("uuid", ""),
                prefix + "group": action.get("group", ""),
                prefix + "summary": "true" if frequency.get("summary") else "false",
                prefix + "notify_when": frequency.get("notify_when", "onActionGroupChange"),
                prefix + "throttle_value": throttle.group(1) if throttle else "",
                prefix + "throttle_unit": throttle.group(2) if throttle else "h",
            }
        )
        for key, param in action.get("params", {}).items():
            data[f"{prefix}params__{key}"] = _text(param)
    data["actions"] = indices
    data.update(overrides)
    return {key: item for key, item in data.items() if item is not None}
