"""Django settings: wiring only. Every value comes from the environment (see README), the `.env` file
beside manage.py (the environment wins over it), or the `kibana.yml`-style settings file named by
CONNECTORS_CONFIG."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from connectors.settings_file import load_config_file
from connectors_project import keyfiles
from connectors_project.env import (
    env_bool,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_url,
    load_env_file,
    refuse_misspelt_variables,
    refuse_placeholder,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# `.env` beside manage.py, as `.env.example` says; CONNECTORS_ENV_FILE names another (empty: none).
ENV_FILE = load_env_file(os.environ.get("CONNECTORS_ENV_FILE", str(BASE_DIR / ".env")))
refuse_misspelt_variables(os.environ)
VAR_DIR = Path(env_str("CONNECTORS_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY")
refuse_placeholder("SECRET_KEY", SECRET_KEY)
if not SECRET_KEY:
    SECRET_KEY = keyfiles.generated_secret_key(VAR_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# ---- behind a TLS-terminating reverse proxy (docs/deploy.md): cookies only over HTTPS, HSTS, and
# the proxy's X-Forwarded-Proto tells Django the request was HTTPS. Off by default: `make run`
# serves plain HTTP on loopback, where secure cookies would make the admin login impossible.
BEHIND_TLS_PROXY = env_bool("CONNECTORS_BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000  # one year; not includeSubDomains: other hosts may lack HTTPS

HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
# gunicorn web processes `serve` (make run) starts; gunicorn itself reads the same variable.
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 2, minimum=1, maximum=1024)

# ---- the kibana.yml-style settings file: parsed once, fails loudly on unknown keys --------------
CONNECTORS_CONFIG = env_str("CONNECTORS_CONFIG")
KIBANA_CONFIG = load_config_file(CONNECTORS_CONFIG)

# ---- secrets encryption: first key encrypts, every key decrypts ---------------------------------
# CONNECTORS_ENCRYPTION_KEYS_FILE (a Docker secret, a systemd credential) is read like the variable.
_encryption_keys = [
    k.strip() for k in (env_secret("CONNECTORS_ENCRYPTION_KEYS") or "").split(",") if k.strip()
]
for _key in _encryption_keys:
    refuse_placeholder("CONNECTORS_ENCRYPTION_KEYS", _key)
if not _encryption_keys:
    _encryption_keys = [keyfiles.generated_encryption_key(VAR_DIR)]
FIELD_ENCRYPTION_KEY = keyfiles.normalise_fernet_keys(_encryption_keys, "CONNECTORS_ENCRYPTION_KEYS")
# `serve` sets it in its children's environment: they do not repeat the start-up warnings.
STARTUP_REPORTED_VARIABLE = keyfiles.STARTUP_REPORTED_VARIABLE

INSTALLED_APPS = [
    "connectors.apps.ConnectorsAdminConfig",  # django.contrib.admin with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "django_q",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "connectors",
    "actions",
    "eventlog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # outside everything that may answer by itself (X-Frame-Options, the admin's CSP)
    "connectors.security_headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "connectors.api.middleware.KibanaApiMiddleware",
    "connectors.admin.middleware.OversizedAdminFormMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "connectors_project.urls"
WSGI_APPLICATION = "connectors_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ---- database: SQLite file under var/ by default, anything dj-database-url reads otherwise -------
DATABASE_URL = env_url(
    "DATABASE_URL", f"sqlite:///{VAR_DIR / 'connectors.sqlite3'}", ("sqlite", "postgres", "postgresql")
)
# Persistent connections (reused for 60 s) are checked before reuse, so a PostgreSQL restart or a
# connection dropped by a proxy costs a reconnect instead of a failed request or task.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when the server is unreachable instead of hanging a web thread or a worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and workers write concurrently: WAL lets readers run beside the writer, IMMEDIATE
    # transactions take the write lock up front (no deadlock-prone lock upgrades), and the busy
    # timeout makes a writer wait instead of failing with "database is locked".
    # Connections persist: django-q2's ORM broker calls close_old_connections() on every enqueue
    # and dequeue, and closing a WAL database's connection costs a checkpoint each time.
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"),
    }
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Tests run a real worker cluster in a subprocess: it must see the test database, so the test
    # database is a file (beside the real one), never SQLite's private in-memory database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_{Path(DATABASES['default']['NAME']).name}")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---- background work: django-q2, ORM broker by default, Redis when REDIS_URL is set -------------
REDIS_URL = env_url("REDIS_URL", None, ("redis", "rediss", "unix"))
Q_WORKERS = env_int("CONNECTORS_WORKERS", 2, minimum=1, maximum=64)
# Every cluster of one deployment shares this name (it names the Redis list / ORM queue); give
# deployments that share one Redis different names.
Q_CLUSTER_NAME = env_str("CONNECTORS_CLUSTER_NAME", "connectors")
if not all(ch.isascii() and (ch.isalnum() or ch in "_-.") for ch in Q_CLUSTER_NAME):
    raise ImproperlyConfigured(
        f"CONNECTORS_CLUSTER_NAME may hold only letters, digits, '_', '-' and '.', got {Q_CLUSTER_NAME!r}"
    )
Q_CLUSTER = {
    "name": Q_CLUSTER_NAME,
    "workers": Q_WORKERS,
    # A task may run for at most `timeout` seconds (above the 60 s HTTP timeout and Kibana's 5 min
    # action timeout); a broker re-delivers a task not acknowledged after `retry` seconds.
    "timeout": 330,
    "retry": 360,
    # Our own ActionRun rows carry retries; django-q2 must never re-run a task on its own forever.
    "max_attempts": 1,
    # save_limit=-1: successful task results are not stored at all (execution rows and the event
    # log are the record), so results are never trimmed inside a write transaction (the cause of
    # "database is locked" on SQLite) and workers never wait on the monitor: with every result
    # stored (0), each worker recycled after 500 tasks blocked until the monitor had written its
    # backlog, stalling 8 workers for 23 s after 4,000 tasks (docs/benchmarks.md). Failures are kept.
    "save_limit": -1,
    # A worker process runs actions on its own thread pool (actions.worker); recycling it rarely keeps
    # in-flight runs undisturbed (they finish before the process exits anyway).
    "recycle": 10000,
    "ack_failures": True,
    "catch_up": False,
    "label": "Background tasks",
    "poll": 0.2,
    # Dequeue several tasks per broker round trip; our tasks only hand a row id to a thread pool.
    "bulk": 10,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
Q_CLUSTER["sync"] = env_bool("CONNECTORS_TASKS_SYNC", False)

# ---- cache: login failure counters (connectors/login_limits.py). Shared through Redis when there
# is one; otherwise per process (each web process then counts its own failures).
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "connectors"}
    }

# Database sessions (Django's), read through SQL built once per thread: see connectors/api/sessions.py.
SESSION_ENGINE = "connectors.api.sessions"

# ---- REST framework ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "connectors.api.openapi.KibanaAutoSchema",
    "EXCEPTION_HANDLER": "connectors.api.errors.kibana_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "connectors.api.authentication.BasicAuthentication",
        "connectors.api.authentication.ApiKeyAuthentication",
        "connectors.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["connectors.api.parsers.JSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Connectors API",
    "DESCRIPTION": "Kibana-compatible connectors API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TAGS": [
        {"name": "connectors", "description": "Create, update, run and list connectors and their types."},
        {"name": "rules", "description": "Alerting rules, their actions, and maintenance windows."},
        {"name": "spaces", "description": "Spaces: each connector and rule lives in one."},
        {"name": "saved objects", "description": "Kibana NDJSON export and import, copy to space."},
        {"name": "event log", "description": "Runs of connectors: execution log, KPIs and events."},
        {"name": "health", "description": "Status, statistics and the task manager's health."},
    ],
}

# ---- connector types: one explicit list, loaded at start-up --------------------------------------
CONNECTOR_TYPES = [
    "connectors.types.server_log.ServerLogConnector",
    "connectors.types.index.IndexConnector",
    "connectors.types.webhook.WebhookConnector",
    "connectors.types.email.EmailConnector",
    "connectors.types.slack.SlackConnector",
    "connectors.types.slack_api.SlackApiConnector",
    "connectors.types.teams.TeamsConnector",
    "connectors.types.pagerduty.PagerDutyConnector",
    "connectors.types.opsgenie.OpsgenieConnector",
    "connectors.types.xmatters.XMattersConnector",
    "connectors.types.tines.TinesConnector",
    "connectors.types.torq.TorqConnector",
    "connectors.types.d3security.D3SecurityConnector",
    "connectors.types.jira.JiraConnector",
    "connectors.types.servicenow.itsm.ServiceNowITSMConnector",
    "connectors.types.servicenow.sir.ServiceNowSecOpsConnector",
    "connectors.types.servicenow.itom.ServiceNowITOMConnector",
    "connectors.types.cases_webhook.CasesWebhookConnector",
    "connectors.types.gen_ai.OpenAIConnector",
    "connectors.types.bedrock.BedrockConnector",
    "connectors.types.gemini.GeminiConnector",
    "connectors.types.swimlane.SwimlaneConnector",
    "connectors.types.resilient.ResilientConnector",
    "connectors.types.thehive.TheHiveConnector",
]

# ---- rule types: one explicit list, like connector types ------------------------------------------
RULE_TYPES = [
    "actions.rule_types.index_threshold.IndexThresholdRuleType",
    "actions.rule_types.connector_failures.ConnectorFailuresRuleType",
    "actions.rule_types.external.ExternalRuleType",
]

# Django's ModelBackend with the session's user row read through prepared SQL (connectors/auth_backends.py).
# Sessions remember the backend that logged them in: ones made before this setting log in once more.
AUTHENTICATION_BACKENDS = ["connectors.auth_backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "admin:index"  # after a login whose `next` was refused (another site); Django's is a 404

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {LOG_LEVEL!r}"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "connectors": {"level": LOG_LEVEL},
        "actions": {"level": LOG_LEVEL},
        "eventlog": {"level": LOG_LEVEL},
        # `.server-log` connectors write here; `make run` shows these lines on its console.
        "connectors.server_log": {"level": "DEBUG"},
    },
}
