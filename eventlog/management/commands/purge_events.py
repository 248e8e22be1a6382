"""`manage.py purge_events`: delete events older than `connectors.eventLog.retention` now."""

from django.core.management.base import BaseCommand

from eventlog import services


class Command(BaseCommand):
    help = "Delete event-log events older than connectors.eventLog.retention (default 90 days)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="Also register the hourly django-q2 retention schedule if it is missing.",
        )

    def handle(self, *args, **options):
        if options["schedule"] and services.ensure_retention_schedule():
            self.stdout.write("Registered the event-log retention schedule.")
        deleted = services.purge_expired_events()
        days = services.retention_seconds() / 86400
        self.stdout.write(f"Deleted {deleted} events older than {days:g} days.")
