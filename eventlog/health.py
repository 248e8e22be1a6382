"""`GET /api/task_manager/_health` in Kibana's shape (spec §12), computed at request time from
django-q2 (broker queue, schedules, task results) and the event log.

Deliberate deviation from Kibana (spec §12): a connector run that fails counts as a failure.
`result_frequency_percent_as_number["actions:<type>"]` splits each type's recent `execute` events
into Success, RetryScheduled (failed, not the final attempt) and Failed (failed, final), and a type's
status is `warn` when the failed share (RetryScheduled + Failed) is above 80 % and `error` above
90 % (Kibana's default `monitored_task_execution_thresholds`).

Other areas can add queued work they own (e.g. the rules helper's ActionRun rows) with
`register_workload_provider()`; without one the workload comes from the django-q2 broker only.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings

from eventlog.models import Event
from eventlog.services import iso, server_uuid

logger = logging.getLogger("eventlog")

OK, WARN, ERROR = "OK", "warn", "error"
_RANK = {OK: 0, WARN: 1, ERROR: 2}
WARN_THRESHOLD = 80
ERROR_THRESHOLD = 90
RUNNING_AVERAGE_WINDOW = 50  # samples per task type, Kibana's monitored_stats_running_average_window
RUNTIME_LOOKBACK = timedelta(hours=24)
RUNTIME_MAX_EVENTS = 5000
LOAD_MINUTES = 10

_workload_providers: list[Callable[[datetime], dict]] = []
_heartbeat_sources: list[Callable[[], list]] = []


def register_workload_provider(provider: Callable[[datetime], dict]) -> None:
    """`provider(now)` returns `{"task_types": {"actions:.email": {"count": n, "status": {"idle": i,
    "running": r, "failed": f}}}, "overdue": n, "non_recurring": n}` (any key may be missing). Its
    counts are added to the workload. It may also return `"status"` (OK/warn/error: the workload's
    status is the worst of all) and `"value"` (keys added to the workload's value, e.g. the state of
    a background writer). A provider that raises is logged and skipped."""
    if provider not in _workload_providers:
        _workload_providers.append(provider)


def register_heartbeat_source(source: Callable[[], list]) -> None:
    """`source()` returns the worker pollers' heartbeats: objects with `last_poll_at`,
    `last_successful_poll_at` and `stats` (the actions app's WorkerHeartbeat rows)."""
    if source not in _heartbeat_sources:
        _heartbeat_sources.append(source)


def worst(*statuses: str) -> str:
    return max(statuses, key=lambda s: _RANK.get(s, 0)) if statuses else OK


def percentiles(values: list[float]) -> dict:
    """Kibana's `{p50, p90, p95, p99}` (nearest rank); `{}` when there are no samples."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(p):
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {f"p{p}": round(rank(p), 3) for p in (50, 90, 95, 99)}


def status_for_failures(failed_percent: float) -> str:
    if failed_percent > ERROR_THRESHOLD:
        return ERROR
    if failed_percent > WARN_THRESHOLD:
        return WARN
    return OK


# ---- configuration --------------------------------------------------------------------------------


def _configuration() -> dict:
    q = settings.Q_CLUSTER
    workers = int(q.get("workers") or 1)
    from connectors.conf import get_config

    concurrency = int(get_config().get("connectors.worker.concurrency"))
    return {
        "request_capacity": 1000,
        "max_poll_inactivity_cycles": 10,
        "monitored_aggregated_stats_refresh_rate": 60000,
        "monitored_stats_running_average_window": RUNNING_AVERAGE_WINDOW,
        "monitored_task_execution_thresholds": {
            "default": {"error_threshold": ERROR_THRESHOLD, "warn_threshold": WARN_THRESHOLD},
            "custom": {},
        },
        "poll_interval": int(float(q.get("poll", 0.2)) * 1000),
        "max_workers": workers,
        "capacity": {"config": workers, "as_workers": workers, "as_cost": workers * 2},
        "claim_strategy": "django-q2",
        "worker_concurrency": concurrency,
    }


# ---- workload -------------------------------------------------------------------------------------


def _broker():
    from django_q.brokers import get_broker

    return get_broker()


def queue_depth() -> tuple[int, int]:
    """(ready tasks waiting in the django-q2 queue, tasks claimed by a worker)."""
    broker = _broker()
    ready = int(broker.queue_size() or 0)
    try:
        claimed = int(broker.lock_size() or 0)
    except (AttributeError, NotImplementedError, TypeError):
        claimed = 0
    return ready, claimed


def _queued_task_types(limit: int = 1000) -> Counter:
    """Queued tasks by function (ORM broker only: its payloads are rows we can read)."""
    if "orm" not in settings.Q_CLUSTER:
        return Counter()
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    kinds: Counter = Counter()
    for payload in OrmQ.objects.values_list("payload", flat=True)[:limit]:
        try:
            task = SignedPackage.loads(payload)
            func = task.get("func")
            kinds[func if isinstance(func, str) else getattr(func, "__name__", "task")] += 1
        except Exception:  # an unreadable payload (bad signature, unknown pickle) is still a queued task
            kinds["unknown"] += 1
    return kinds


def _workload(now: datetime) -> dict:
    from django_q.models import Schedule

    from connectors.conf import get_config

    ready, claimed = queue_depth()
    task_types: dict[str, dict] = {}
    for func, count in _queued_task_types().items():
        task_types[func] = {"count": count, "status": {"idle": count}}
    schedules = list(Schedule.objects.values("func", "next_run", "minutes", "schedule_type", "repeats"))
    intervals: Counter = Counter()
    overdue = ready
    for schedule in schedules:
        if schedule["repeats"] == 0:
            continue
        entry = task_types.setdefault(schedule["func"], {"count": 0, "status": {}})
        entry["count"] += 1
        entry["status"]["idle"] = entry["status"].get("idle", 0) + 1
        intervals[_interval(schedule)] += 1
        if schedule["next_run"] and schedule["next_run"] < now - timedelta(minutes=1):
            overdue += 1
    non_recurring = ready + claimed
    provided_status, provided_values = OK, {}
    for provider in list(_workload_providers):
        try:
            extra = provider(now) or {}
        except Exception:
            logger.exception("workload provider %r failed", provider)
            continue
        for name, info in (extra.get("task_types") or {}).items():
            entry = task_types.setdefault(name, {"count": 0, "status": {}})
            entry["count"] += int(info.get("count", 0))
            for state, n in (info.get("status") or {}).items():
                entry["status"][state] = entry["status"].get(state, 0) + int(n)
        overdue += int(extra.get("overdue", 0))
        non_recurring += int(extra.get("non_recurring", 0))
        provided_status = worst(provided_status, extra.get("status") or OK)
        provided_values.update(extra.get("value") or {})
    queued_max = int(get_config().get("xpack.actions.queued.max"))
    status = OK
    if ready >= queued_max:
        status = ERROR
    elif ready >= queued_max * 0.8:
        status = WARN
    status = worst(status, provided_status)
    per_minute = sum(count * 60 / seconds for seconds, count in intervals.items() if seconds)
    return {
        "timestamp": iso(now),
        "status": status,
        "value": {
            "count": sum(entry["count"] for entry in task_types.values()) + claimed,
            "task_types": task_types,
            "non_recurring": non_recurring,
            "owner_ids": _observed_instances(),
            "schedule": [[f"{int(seconds)}s", count] for seconds, count in sorted(intervals.items())],
            "overdue": overdue,
            "overdue_non_recurring": ready,
            "estimated_schedule_density": [],
            "capacity_requirements": {
                "per_minute": round(per_minute),
                "per_hour": round(per_minute * 60),
                "per_day": round(per_minute * 1440),
            },
            "queue": {"ready": ready, "claimed": claimed},
            **provided_values,
        },
    }


def _interval(schedule: dict) -> float:
    kind = schedule["schedule_type"]
    return {
        "I": (schedule["minutes"] or 1) * 60,
        "H": 3600,
        "D": 86400,
        "W": 7 * 86400,
        "M": 30 * 86400,
        "Q": 91 * 86400,
        "Y": 365 * 86400,
    }.get(kind, 0)


def worker_heartbeats() -> list:
    """Every worker poller's heartbeat (see register_heartbeat_source)."""
    return [beat for source in _heartbeat_sources for beat in source()]


def _observed_instances() -> int:
    try:
        from django_q.status import Stat

        return max(1, len(Stat.get_all(_broker())))
    except Exception:  # the cluster status lives in a cache a web process may not share
        return 1


# ---- runtime --------------------------------------------------------------------------------------


def _recent_executes(now: datetime) -> list[dict]:
    return list(
        Event.objects.filter(action="execute", provider="actions", timestamp__gte=now - RUNTIME_LOOKBACK)
        .order_by("-timestamp", "-id")
        .values(
            "connector_type_id",
            "outcome",
            "duration_ns",
            "schedule_delay_ns",
            "timestamp",
            "document__kibana__action__execution__final",
        )[:RUNTIME_MAX_EVENTS]
    )


def _is_false(value) -> bool:
    """A JSON `false` (SQLite's JSON_EXTRACT gives 0); a missing flag is not false."""
    return value is not None and not value


def _result_frequency(events: list[dict]) -> dict:
    counts = Counter()
    for event in events:
        if event["outcome"] == "success":
            counts["Success"] += 1
        elif _is_false(event["document__kibana__action__execution__final"]):
            counts["RetryScheduled"] += 1
        else:
            counts["Failed"] += 1
    total = len(events) or 1
    frequency = {key: round(counts[key] * 100 / total) for key in ("Success", "RetryScheduled", "Failed")}
    failed_percent = (counts["RetryScheduled"] + counts["Failed"]) * 100 / total
    frequency["status"] = status_for_failures(failed_percent) if events else OK
    return frequency


def _django_q_results(now: datetime) -> dict[str, list[bool]]:
    from django_q.models import Task

    results: dict[str, list[bool]] = defaultdict(list)
    rows = (
        Task.objects.filter(stopped__gte=now - RUNTIME_LOOKBACK)
        .order_by("-stopped")
        .values_list("func", "success", "started", "stopped")[:RUNTIME_MAX_EVENTS]
    )
    for func, success, _started, _stopped in rows:
        if len(results[func]) < RUNNING_AVERAGE_WINDOW:
            results[func].append(bool(success))
    return results


POLL_RESULTS = (
    "Failed",
    "NoAvailableWorkers",
    "NoTasksClaimed",
    "RanOutOfCapacity",
    "RunningAtCapacity",
    "PoolFilled",
)


def _polling(now: datetime, config: dict, last_run) -> tuple[dict, str]:
    """Kibana's `runtime.value.polling` from the heartbeats of live worker processes (each poller
    writes its recent polls every few seconds, actions.worker.PollStats). A deployment whose workers
    all stopped polling is a warning; one that never had any (a web-only test setup) is not."""
    from connectors.conf import get_config

    stale_after = timedelta(seconds=max(60.0, 10 * get_config()["connectors.actions.pollInterval"]))
    beats = worker_heartbeats()
    live = [beat for beat in beats if beat.last_poll_at >= now - stale_after]
    durations = [d for beat in live for d in beat.stats.get("durations_ms", [])]
    results = [r for beat in live for r in beat.stats.get("results", [])]
    conflicts = [c for beat in live for c in beat.stats.get("conflicts", [])]
    successful = [beat.last_successful_poll_at for beat in live if beat.last_successful_poll_at]
    freshest = max(live, key=lambda beat: beat.last_poll_at, default=None)
    polling = {
        "last_successful_poll": iso(max(successful)) if successful else (iso(last_run) if last_run else None),
        "last_polling_delay": freshest.stats.get("last_polling_delay_ms") if freshest else None,
        "duration": percentiles(durations),
        "claim_conflicts": percentiles(conflicts),
        # Claims name their rows by id and read back exactly those: they cannot mismatch.
        "claim_mismatches": percentiles([0] * len(conflicts)),
        "result_frequency_percent_as_number": {
            name: round(results.count(name) * 100 / len(results)) if results else 0 for name in POLL_RESULTS
        },
    }
    return polling, (WARN if beats and not live else OK)


def _runtime(now: datetime, config: dict) -> dict:
    by_type: dict[str, list[dict]] = defaultdict(list)
    recent = _recent_executes(now)
    for event in recent:
        samples = by_type[f"actions:{event['connector_type_id']}"]
        if len(samples) < RUNNING_AVERAGE_WINDOW:
            samples.append(event)
    duration, frequency, drift_by_type = {}, {}, {}
    drift_all: list[float] = []
    for task_type, events in sorted(by_type.items()):
        duration[task_type] = percentiles([(e["duration_ns"] or 0) / 1e6 for e in events])
        frequency[task_type] = _result_frequency(events)
        delays = [e["schedule_delay_ns"] / 1e6 for e in events if e["schedule_delay_ns"] is not None]
        drift_by_type[task_type] = percentiles(delays)
        drift_all.extend(delays)
    for func, outcomes in sorted(_django_q_results(now).items()):
        failed = outcomes.count(False)
        frequency[func] = {
            "Success": round((len(outcomes) - failed) * 100 / len(outcomes)),
            "RetryScheduled": 0,
            "Failed": round(failed * 100 / len(outcomes)),
            "status": status_for_failures(failed * 100 / len(outcomes)),
        }
    capacity_ms = max(1, config["max_workers"]) * config["worker_concurrency"] * 60_000
    load_samples = []
    for minute in range(LOAD_MINUTES):
        end = now - timedelta(minutes=minute)
        busy = sum(
            (e["duration_ns"] or 0) / 1e6
            for e in recent
            if end - timedelta(minutes=1) < e["timestamp"] <= end
        )
        load_samples.append(min(100.0, busy * 100 / capacity_ms))
    last_run = recent[0]["timestamp"] if recent else None
    polling, polling_status = _polling(now, config, last_run)
    status = worst(polling_status, *(entry["status"] for entry in frequency.values()))
    return {
        "timestamp": iso(now),
        "status": status,
        "value": {
            "polling": polling,
            "drift": percentiles(drift_all),
            "drift_by_type": drift_by_type,
            "load": percentiles(load_samples),
            "execution": {
                "duration": duration,
                "duration_by_persistence": {
                    "non_recurring": percentiles(
                        [(e["duration_ns"] or 0) / 1e6 for events in by_type.values() for e in events]
                    )
                },
                "persistence": {"recurring": 0, "non_recurring": 100 if by_type else 0},
                "result_frequency_percent_as_number": frequency,
            },
        },
    }


# ---- capacity estimation (experimental in Kibana too) ----------------------------------------------


def _capacity_estimation(now: datetime, config: dict, workload: dict, runtime: dict) -> dict:
    instances = workload["value"]["owner_ids"]
    durations = [p.get("p50", 0) for p in runtime["value"]["execution"]["duration"].values() if p]
    typical_ms = max(sum(durations) / len(durations) if durations else 0, config["poll_interval"], 1)
    per_instance = config["max_workers"] * config["worker_concurrency"] * 60_000 / typical_ms
    last_hour = Event.objects.filter(
        action="execute", provider="actions", timestamp__gte=now - timedelta(hours=1)
    ).count()
    required = last_hour / 60
    recurring = workload["value"]["capacity_requirements"]["per_minute"]
    total_required = required + recurring
    min_required = max(1, math.ceil(total_required / per_instance)) if per_instance else 1
    max_throughput = per_instance * instances
    overdue = workload["value"]["overdue"]
    status = (
        OK
        if total_required <= max_throughput * 0.8
        else (WARN if total_required <= max_throughput else ERROR)
    )
    return {
        "timestamp": iso(now),
        "status": status,
        "value": {
            "observed": {
                "observed_kibana_instances": instances,
                "max_throughput_per_minute": round(max_throughput),
                "max_throughput_per_minute_per_kibana": round(per_instance),
                "minutes_to_drain_overdue": math.ceil(overdue / max_throughput) if max_throughput else 0,
                "avg_recurring_required_throughput_per_minute": recurring,
                "avg_recurring_required_throughput_per_minute_per_kibana": round(recurring / instances),
                "avg_required_throughput_per_minute": round(total_required),
                "avg_required_throughput_per_minute_per_kibana": round(total_required / instances),
            },
            "proposed": {
                "provisioned_kibana": instances,
                "min_required_kibana": min_required,
                "avg_recurring_required_throughput_per_minute_per_kibana": round(recurring / min_required),
                "avg_required_throughput_per_minute_per_kibana": round(total_required / min_required),
            },
        },
    }


def task_manager_health(now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    config = _configuration()
    workload = _workload(now)
    runtime = _runtime(now, config)
    capacity = _capacity_estimation(now, config, workload, runtime)
    secrets = _connector_secrets(now)
    return {
        "id": server_uuid(),
        "timestamp": iso(now),
        # capacity_estimation is experimental (as in Kibana) and does not set the overall status
        "status": worst(workload["status"], runtime["status"], secrets["status"]),
        "last_update": iso(now),
        "stats": {
            "configuration": {"timestamp": iso(now), "status": OK, "value": config},
            "workload": workload,
            "runtime": runtime,
            "capacity_estimation": capacity,
            "connector_secrets": secrets,  # our extension: a wrong CONNECTORS_ENCRYPTION_KEYS is an error
        },
    }


def _connector_secrets(now: datetime) -> dict:
    from connectors.secrets_check import check_stored_secrets

    try:
        check = check_stored_secrets()
    except Exception as exc:  # report the kind only: driver messages may carry a DSN
        logger.warning("health: could not check the stored secrets: %s", type(exc).__name__)
        return {
            "timestamp": iso(now),
            "status": WARN,
            "value": {"message": f"not checked ({type(exc).__name__})"},
        }
    return {
        "timestamp": iso(now),
        "status": OK if check.ok else ERROR,
        "value": {"sampled": check.sampled, "unreadable": check.unreadable, "message": check.message},
    }
