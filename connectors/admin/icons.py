"""Connector-type icons: the type's own `icon` name when we have a drawing of it, else a drawing
chosen by type id, else a plug."""

from functools import cache

from django.contrib.staticfiles import finders
from django.templatetags.static import static

DEFAULT_ICON = "plug"
BY_TYPE_ID = {
    ".email": "mail",
    ".slack": "chat",
    ".slack_api": "chat",
    ".teams": "chat",
    ".pagerduty": "bell",
    ".opsgenie": "bell",
    ".xmatters": "bell",
    ".jira": "ticket",
    ".jira-service-management": "ticket",
    ".servicenow": "ticket",
    ".servicenow-sir": "shield",
    ".servicenow-itom": "server",
    ".cases-webhook": "ticket",
    ".swimlane": "ticket",
    ".resilient": "shield",
    ".thehive": "shield",
    ".xsoar": "shield",
    ".d3security": "shield",
    ".tines": "bolt",
    ".torq": "bolt",
    ".gen-ai": "sparkles",
    ".bedrock": "sparkles",
    ".gemini": "sparkles",
    ".inference": "sparkles",
    ".webhook": "globe",
    ".index": "database",
    ".server-log": "list",
}


@cache
def _exists(name: str) -> bool:
    return bool(name) and finders.find(f"connectors/icons/{name}.svg") is not None


def icon_name(type_id: str, declared: str = "") -> str:
    if _exists(declared):
        return declared
    by_id = BY_TYPE_ID.get(type_id, "")
    return by_id if _exists(by_id) else DEFAULT_ICON


def icon_url(type_id: str, declared: str = "") -> str:
    return static(f"connectors/icons/{icon_name(type_id, declared)}.svg")
