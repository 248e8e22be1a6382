"""django-q2 tasks: thin functions that take ids. The row holds everything else."""

from actions import worker


def run_action(run_id: int) -> bool:
    """Claim the queued run and start it on this worker process's thread pool."""
    worker.ensure_started()
    return worker.dispatch(run_id)


def run_rule(rule_id: str) -> None:
    """Run a rule now (`_run_soon`, external reports)."""
    from actions.rule_runner import run_rule as run

    worker.ensure_started()
    run(rule_id)
