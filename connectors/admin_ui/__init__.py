"""Kibana's Stack Management > Connectors, built on the Django admin (see docs/admin.md)."""
