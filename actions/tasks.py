"""django-q2 tasks: thin functions that take ids. The rows hold everything else."""

from actions import worker


def run_actions(run_ids: list[int]) -> int:
    """Claim the queued runs and start them on this worker process's thread pool."""
    worker.ensure_started()
    return worker.dispatch(run_ids)


def run_action(run_id: int) -> bool:
    """One run (tasks queued by earlier versions are still in brokers after an upgrade)."""
    return run_actions([run_id]) == 1


def run_rule(rule_id: str) -> None:
    """Run a rule now (`_run_soon`, external reports)."""
    from actions.rule_runner import run_rule as run

    worker.ensure_started()
    run(rule_id)


def run_backfill(backfill_id: str) -> None:
    """Run a scheduled backfill's pending runs (the backfill API)."""
    from actions.backfill import run_backfill as run

    worker.ensure_started()
    run(backfill_id)
