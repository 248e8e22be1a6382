"""Show the action queue, and optionally run what is due in this process (no worker cluster needed)."""

from django.core.management.base import BaseCommand
from django.db.models import Count
from django.utils import timezone

from actions.models import ActionRun


class Command(BaseCommand):
    help = "Show queued, running, retrying and finished action runs; --run-due runs due runs here."

    def add_arguments(self, parser):
        parser.add_argument("--run-due", action="store_true", help="run every due queued run in this process")

    def handle(self, *args, run_due, **options):
        if run_due:
            from actions import worker

            worker.recover_expired()
            done = worker.run_pending()
            self.stdout.write(f"ran {done} due run(s)")
        counts = dict(
            ActionRun.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        )
        waiting = ActionRun.objects.filter(status=ActionRun.QUEUED, attempts__gt=0).count()
        due = ActionRun.objects.filter(status=ActionRun.QUEUED, due_at__lte=timezone.now()).count()
        for status in (ActionRun.QUEUED, ActionRun.RUNNING, ActionRun.SUCCEEDED, ActionRun.FAILED):
            self.stdout.write(f"{status:>10}: {counts.get(status, 0)}")
        self.stdout.write(f"{'retrying':>10}: {waiting} (queued after a failed attempt)")
        self.stdout.write(f"{'due now':>10}: {due}")
