from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "actions"
    verbose_name = "Rules and actions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django_q.signals import post_spawn

        from actions import rule_types, worker
        from actions.health import action_run_workload, journal_health
        from actions.saved_objects import register_rule_handler
        from eventlog.health import register_workload_provider

        rule_types.load_from_settings()
        register_workload_provider(action_run_workload)
        register_workload_provider(journal_health)  # a stuck journal shows in _health
        register_rule_handler()  # saved-object type `alert` (NDJSON export/import)
        # Every django-q2 worker process starts its action thread pool and poller when it spawns.
        post_spawn.connect(worker.on_worker_spawn, dispatch_uid="actions-worker-spawn")
