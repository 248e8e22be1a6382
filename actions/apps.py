from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "actions"
    verbose_name = "Rules and actions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django_q.signals import post_spawn

        from actions import references, rule_types, services, worker
        from actions.health import action_run_workload, journal_health, worker_heartbeats
        from actions.saved_objects import register_rule_handler
        from connectors import extensions
        from eventlog.health import register_heartbeat_source, register_workload_provider

        rule_types.load_from_settings()
        register_workload_provider(action_run_workload)
        register_heartbeat_source(worker_heartbeats)
        # What the connectors app shows or does through us (connectors never imports actions).
        extensions.register(
            run_connector=services.run_for_connectors_app,
            rule_reference_counts=references.referenced_by_counts,
            rules_referencing=references.rules_referencing,
        )
        register_workload_provider(journal_health)  # a stuck journal shows in _health
        register_rule_handler()  # saved-object type `alert` (NDJSON export/import)
        # Every django-q2 worker process starts its action thread pool and poller when it spawns.
        post_spawn.connect(worker.on_worker_spawn, dispatch_uid="actions-worker-spawn")
