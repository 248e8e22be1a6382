"""Which rules reference which connectors (for `referenced_by_count` and delete confirmations)."""

from collections import Counter


def referenced_by_counts(space_id: str, connector_ids: list[str]) -> dict[str, int]:
    """How many rules of the space reference each connector (a rule counts once per connector)."""
    from actions.models import Rule

    wanted = set(connector_ids)
    counts: Counter = Counter()
    for actions in Rule.objects.filter(space_id=space_id).values_list("actions", flat=True):
        for connector_id in {action.get("id") for action in actions or []} & wanted:
            counts[connector_id] += 1
    return {connector_id: counts.get(connector_id, 0) for connector_id in connector_ids}


def rules_referencing(space_id: str, connector_id: str) -> list:
    from actions.models import Rule

    return [
        rule
        for rule in Rule.objects.filter(space_id=space_id)
        if any(action.get("id") == connector_id for action in rule.actions or [])
    ]
