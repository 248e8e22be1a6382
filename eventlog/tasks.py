"""django-q2 tasks of the event log (thin: they call the service)."""

from eventlog import services


def purge_expired_events() -> int:
    """Scheduled by `services.ensure_retention_schedule()` (run by `manage.py bootstrap`)."""
    return services.purge_expired_events()
