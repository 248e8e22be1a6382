"""Which rules reference which connectors (for `referenced_by_count` and delete confirmations)."""


def referenced_by_counts(space_id: str, connector_ids: list[str]) -> dict[str, int]:
    """Rules arrive with the rules issue; until then no saved object references a connector."""
    return dict.fromkeys(connector_ids, 0)
