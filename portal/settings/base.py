"""Settings shared by every environment. Every value comes from the environment (12-factor)."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "auditlog",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",
    "governance",
    "decisions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "decisions.api.middleware.APIBodyFramingMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "governance.identity.middleware.SessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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

# Unset DATABASE_URL: an SQLite file under var/, so `make run` needs no server.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'countersign.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process, the worker and beat share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # Django's ModelBackend, plus the rate limits and the login methods allauth adds.
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous users hold nothing.
GUARDIAN_MONKEY_PATCH_USER = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# The admin shows times in the analyst pages' zone and format (portal/formats).
FORMAT_MODULE_PATH = ["portal.formats"]

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "decisions:queue"
LOGOUT_REDIRECT_URL = "account_login"

# Sign-in (django-allauth, governance.identity): local accounts for the demo and a break-glass
# operator; SSO through the organisation's IdP (OIDC, SAML) with IdP groups mapped to portal groups
# in the admin. See README, "Sign-in: SSO, MFA, step-up".
ACCOUNT_ADAPTER = "governance.identity.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "governance.identity.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGOUT_ON_GET = False
# A password change ends every other session (their session hash no longer matches); this one is kept.
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_AUTHENTICATED_LOGIN_REDIRECTS = False  # a signed-in user sent to the login page may switch user
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = env.int("REAUTHENTICATION_TIMEOUT_SECONDS", default=300)
# Throttling: LOGIN_FAILED_LIMIT wrong passwords for one username within the window and the next
# attempt is refused, even with the right password, until the window has passed.
LOGIN_FAILED_LIMIT = env.int("LOGIN_FAILED_LIMIT", default=20)
LOGIN_FAILED_WINDOW_SECONDS = env.int("LOGIN_FAILED_WINDOW_SECONDS", default=900)
ACCOUNT_RATE_LIMITS = {
    "login_failed": f"{env.int('LOGIN_FAILED_PER_IP_PER_MINUTE', default=60)}/m/ip,"
    f"{LOGIN_FAILED_LIMIT}/{LOGIN_FAILED_WINDOW_SECONDS}s/key",
    "login": env.str("LOGIN_RATE_LIMIT", default="60/m/ip"),
}
# Behind N reverse proxies the client address is the Nth from the right in X-Forwarded-For: the
# per-address limits then count clients, not the proxy.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Local passwords off: only the break-glass operators (usernames) may sign in with a password.
LOCAL_PASSWORD_LOGIN = env.bool("LOCAL_PASSWORD_LOGIN", default=True)
BREAK_GLASS_USERNAMES = env.list("BREAK_GLASS_USERNAMES", default=[])
SOCIALACCOUNT_AUTO_SIGNUP = True  # just-in-time users, with the groups their IdP claims map to
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # an IdP never takes over a local account by its email
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
# The claim (OIDC) or attribute (SAML) carrying the user's IdP groups; a provider's own
# "groups_claim" setting wins.
SSO_GROUPS_CLAIM = env.str("SSO_GROUPS_CLAIM", default="groups")


def _oidc_apps() -> list[dict]:
    """The OIDC IdP from the environment (one per organisation; PKCE always on)."""
    server_url = env.str("OIDC_SERVER_URL", default="")
    if not server_url:
        return []
    return [
        {
            "provider_id": env.str("OIDC_PROVIDER_ID", default="idp"),
            "name": env.str("OIDC_PROVIDER_NAME", default="your organisation's sign-in"),
            "client_id": env.str("OIDC_CLIENT_ID"),
            "secret": env.str("OIDC_CLIENT_SECRET", default=""),
            "settings": {
                "server_url": server_url,
                "oauth_pkce_enabled": True,
                "token_auth_method": env.str("OIDC_TOKEN_AUTH_METHOD", default="client_secret_basic"),
                "scope": env.list("OIDC_SCOPES", default=["openid", "profile", "email"]),
                "groups_claim": env.str("OIDC_GROUPS_CLAIM", default=SSO_GROUPS_CLAIM),
                # Asked for on an MFA step-up (e.g. your IdP's MFA ACR); empty: none asked.
                "step_up_acr_values": env.str("OIDC_STEP_UP_ACR_VALUES", default=""),
            },
        }
    ]


def _saml_apps() -> list[dict]:
    """The SAML IdP from the environment: its metadata URL, or its entity id, SSO URL and signing
    certificate. Assertions must be signed; IdP-initiated logins are refused."""
    entity_id = env.str("SAML_IDP_ENTITY_ID", default="")
    if not entity_id:
        return []
    idp = {"entity_id": entity_id}
    if env.str("SAML_IDP_METADATA_URL", default=""):
        idp["metadata_url"] = env.str("SAML_IDP_METADATA_URL")
    else:
        idp.update(sso_url=env.str("SAML_IDP_SSO_URL"), x509cert=env.str("SAML_IDP_X509CERT"))
    return [
        {
            "provider_id": env.str("SAML_PROVIDER_ID", default="saml-idp"),
            "name": env.str("SAML_PROVIDER_NAME", default="your organisation's SAML sign-in"),
            "client_id": env.str("SAML_ORGANIZATION_SLUG", default="org"),
            "settings": {
                "idp": idp,
                "attribute_mapping": env.json(
                    "SAML_ATTRIBUTE_MAPPING",
                    default={
                        "uid": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
                        "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                        "username": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                        "first_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                        "last_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                    },
                ),
                "groups_claim": env.str(
                    "SAML_GROUPS_ATTRIBUTE", default="http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
                ),
                "advanced": SAML_ADVANCED,
            },
        }
    ]


# What every SAML app (the environment's, a test's) insists on: a signed assertion, strict checks
# (destination, audience, times), no login the IdP started on its own.
SAML_ADVANCED = {
    "want_assertion_signed": True,
    "strict": True,
    "reject_idp_initiated_sso": True,
    "allow_repeat_attribute_name": True,
}
SOCIALACCOUNT_PROVIDERS: dict = {
    "openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": _oidc_apps()},
    "saml": {"APPS": _saml_apps()},
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Countersign")
MFA_TOTP_TOLERANCE = 1  # one 30-second step either side: phone clocks drift (a used code is still refused)
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", default=False)
# Session hygiene: an idle session ends after SESSION_IDLE_SECONDS without a request, any session
# after SESSION_ABSOLUTE_SECONDS from its sign-in (governance.identity.middleware).
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=12 * 3600)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "decisions.api.authentication.IntegrationKeyAuthentication",
        "decisions.api.authentication.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["decisions.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["decisions.api.throttling.PerKeyRateThrottle"],
    "EXCEPTION_HANDLER": "decisions.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Countersign API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": ["low", "medium", "high", "critical"],
        "ReasonCodeEnum": "decisions.models.ReasonCode",
        "GapKindEnum": "governance.gaps.GapKind.LABELS",
        "StatusEnum": "decisions.models.DecisionStatus",
        "DraftStatusEnum": "decisions.models.DraftStatus",
    },
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "decisions.api.schema.describe_the_server",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "DESCRIPTION": (
        "Integrations submit AI-recommended SOC actions and learn the verdict; named, on-call, certified "
        "people sign them. Authenticate with `Authorization: Api-Key <key>` (integrations) or "
        "`Authorization: Bearer <token>` (people)."
    ),
}

# Celery: unset CELERY_BROKER_URL means kombu's SQLAlchemy transport on an SQLite file under var/,
# no server needed. (The filesystem transport it replaced let a worker read a message file before
# it was fully written and die on the JSONDecodeError; SQLite commits a message whole or not at all.)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith(("sqla+", "sqlalchemy+"))
if EMBEDDED_BROKER:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The transport passes its options to create_engine(). The web process, the worker's threads
    # and beat share the file: wait for its write lock rather than fail at once.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"connect_args": {"timeout": 20}, "pool_pre_ping": True}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Escalation: the sweep is the safety net for every deadline; tasks are the fast path.
ESCALATION_SWEEP_SECONDS = env.float("ESCALATION_SWEEP_SECONDS", default=5.0)
ESCALATION_MAX_COUNTDOWN_SECONDS = env.int("ESCALATION_MAX_COUNTDOWN_SECONDS", default=300)
# Off: no per-deadline tasks, the sweep alone escalates (fewer messages, lateness up to one period).
ESCALATION_DEADLINE_TASKS = env.bool("ESCALATION_DEADLINE_TASKS", default=True)
if not EMBEDDED_BROKER:  # create_engine() would refuse the option
    CELERY_BROKER_TRANSPORT_OPTIONS.setdefault("visibility_timeout", 3600)
# Publishing fails fast when the broker is down, so the request that changed a decision answers
# at once and the sweep catches up. Otherwise kombu keeps reconnecting for the connection timeout
# plus back-off, some 6 s per task even with apply_async(retry=False). The worker's and beat's own
# connections keep Celery's patient retry policy (CELERY_BROKER_CONNECTION_*).
CELERY_BROKER_TRANSPORT_OPTIONS.update(max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.5)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A broker host that drops packets must not hold a request for the kernel's TCP timeout.
    CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = 2
# The outbox (decisions.outbox): side effects are rows written with the change, published after
# the commit: a background thread of each process hands them to a worker in one message
# ("worker"), or publishes each itself ("thread"), or the request does ("inline"); beat's relay
# publishes what was not, and delivers again what a killed worker left undone.
OUTBOX_DISPATCH = env.str("OUTBOX_DISPATCH", default="worker")
if OUTBOX_DISPATCH not in {"worker", "thread", "inline"}:
    raise ImproperlyConfigured(f"OUTBOX_DISPATCH must be worker, thread or inline, not {OUTBOX_DISPATCH!r}.")
# How long the dispatcher gathers what other commits hand it before it publishes (one hand-off
# message for several transactions under load; a notification waits at most this long more).
OUTBOX_DISPATCH_GATHER_SECONDS = env.float("OUTBOX_DISPATCH_GATHER_SECONDS", default=0.05)
OUTBOX_RELAY_SECONDS = env.float("OUTBOX_RELAY_SECONDS", default=5.0)
OUTBOX_RELAY_AFTER_SECONDS = env.float("OUTBOX_RELAY_AFTER_SECONDS", default=10.0)
OUTBOX_REDELIVER_SECONDS = env.float("OUTBOX_REDELIVER_SECONDS", default=900.0)
OUTBOX_MAX_PUBLICATIONS = env.int("OUTBOX_MAX_PUBLICATIONS", default=5)
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)
# Break-glass: how often beat escalates the reviews that are overdue (the deadlines are in hours).
BREAK_GLASS_SWEEP_SECONDS = env.float("BREAK_GLASS_SWEEP_SECONDS", default=60.0)
# The periodic review: how often beat looks at the review schedules (set in the admin) and
# freezes every period that has ended. The cadence itself is the schedule's, not this setting's.
REVIEW_FREEZE_CHECK_SECONDS = env.float("REVIEW_FREEZE_CHECK_SECONDS", default=900.0)
# The sweep has a queue of its own, so a flood of deadline tasks never delays the safety net.
CELERY_TASK_QUEUES = (Queue("celery"), Queue("sweep"))
CELERY_TASK_ROUTES = {
    "decisions.tasks.sweep_overdue_decisions": {"queue": "sweep"},
    "decisions.tasks.sweep_break_glass_reviews": {"queue": "sweep"},
    "decisions.tasks.relay_outbox": {"queue": "sweep"},
    # Handed-off outbox rows (OUTBOX_DISPATCH=worker) are published ahead of a deadline flood.
    "decisions.tasks.publish_outbox": {"queue": "sweep"},
}
CELERY_BEAT_SCHEDULE: dict = {
    "sweep-overdue-decisions": {
        "task": "decisions.tasks.sweep_overdue_decisions",
        "schedule": ESCALATION_SWEEP_SECONDS,
        "options": {"expires": ESCALATION_SWEEP_SECONDS * 2},
    },
    "relay-outbox": {
        "task": "decisions.tasks.relay_outbox",
        "schedule": OUTBOX_RELAY_SECONDS,
        "options": {"expires": OUTBOX_RELAY_SECONDS * 2},
    },
    "sweep-break-glass-reviews": {
        "task": "decisions.tasks.sweep_break_glass_reviews",
        "schedule": BREAK_GLASS_SWEEP_SECONDS,
        "options": {"expires": BREAK_GLASS_SWEEP_SECONDS},
    },
    "prune-outbox": {
        "task": "decisions.tasks.prune_outbox",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    "freeze-due-reviews": {
        "task": "decisions.tasks.freeze_due_reviews",
        "schedule": REVIEW_FREEZE_CHECK_SECONDS,
        "options": {"expires": REVIEW_FREEZE_CHECK_SECONDS},
    },
}

# The record (decisions.ledger): one Merkle log over every decision event, signed checkpoints.
# The signing key and the witness are outside the database (see README, "The record").
LEDGER_ORIGIN = env.str("LEDGER_ORIGIN", default="countersign/decision-log")
LEDGER_SIGNING_KEY = env.str("LEDGER_SIGNING_KEY", default="")
LEDGER_SIGNING_KEY_FILE = env.str("LEDGER_SIGNING_KEY_FILE", default=str(VAR_DIR / "ledger-signing-key"))
LEDGER_TRUSTED_KEYS = env.list("LEDGER_TRUSTED_KEYS", default=[])
LEDGER_WITNESS_FILE = env.str("LEDGER_WITNESS_FILE", default=str(VAR_DIR / "witness" / "checkpoints.jsonl"))
LEDGER_WITNESS_EMAILS = env.list("LEDGER_WITNESS_EMAILS", default=[])
LEDGER_WITNESS_URL = env.str("LEDGER_WITNESS_URL", default="")
LEDGER_WITNESS_SECRET = env.str("LEDGER_WITNESS_SECRET", default="")
LEDGER_SEQUENCE_SECONDS = env.float("LEDGER_SEQUENCE_SECONDS", default=5.0)
LEDGER_CHECKPOINT_SECONDS = env.float("LEDGER_CHECKPOINT_SECONDS", default=60.0)
LEDGER_FULL_VERIFY_SECONDS = env.float("LEDGER_FULL_VERIFY_SECONDS", default=86400.0)
# A verification pass that finds problems is repeated after this pause; only what both find is reported.
LEDGER_VERIFY_RECHECK_SECONDS = env.float("LEDGER_VERIFY_RECHECK_SECONDS", default=1.0)
# Where retention runs write the archive of what they remove (keep it on separate storage).
RETENTION_ARCHIVE_DIR = env.str("RETENTION_ARCHIVE_DIR", default=str(VAR_DIR / "archive"))
CELERY_BEAT_SCHEDULE.update(
    {
        "sequence-ledger": {
            "task": "decisions.tasks.sequence_ledger",
            "schedule": LEDGER_SEQUENCE_SECONDS,
            "options": {"expires": LEDGER_SEQUENCE_SECONDS * 2},
        },
        "checkpoint-ledger": {
            "task": "decisions.tasks.checkpoint_ledger",
            "schedule": LEDGER_CHECKPOINT_SECONDS,
            "options": {"expires": LEDGER_CHECKPOINT_SECONDS},
        },
        "verify-ledger-full": {
            "task": "decisions.tasks.verify_ledger",
            "schedule": LEDGER_FULL_VERIFY_SECONDS,
            "args": [True],
            "options": {"expires": LEDGER_FULL_VERIFY_SECONDS},
        },
    }
)

# Outbound requests (verdict webhooks, chat): production refuses loopback, link-local, private and
# reserved addresses unless OUTBOUND_ALLOWED_HOSTS names the host or a network (CIDR) holding them.
OUTBOUND_ALLOW_PRIVATE = env.bool("OUTBOUND_ALLOW_PRIVATE", default=False)
OUTBOUND_ALLOWED_HOSTS = env.list("OUTBOUND_ALLOWED_HOSTS", default=[])

# Secrets stored encrypted (webhook signing secrets): comma-separated Fernet keys, the first
# encrypts, all decrypt. Unset outside production: a key derived from SECRET_KEY.
SECRET_ENCRYPTION_KEYS = env.list("SECRET_ENCRYPTION_KEYS", default=[])

if EMBEDDED_BROKER:
    # The SQLAlchemy transport never deletes a delivered message: beat prunes them.
    CELERY_BEAT_SCHEDULE["prune-embedded-broker"] = {
        "task": "decisions.tasks.prune_embedded_broker",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    }

# The horizon over which roster coverage gaps are looked for (admin warnings, gap reports).
COVERAGE_HORIZON_DAYS = env.int("COVERAGE_HORIZON_DAYS", default=14)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Decisions.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Countersign <countersign@localhost>")
DEFAULT_TIME_TO_ACT_SECONDS = env.int("DEFAULT_TIME_TO_ACT_SECONDS", default=900)
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=256 * 1024)
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
PERSONAL_TOKEN_MAX_DAYS = env.int("PERSONAL_TOKEN_MAX_DAYS", default=90)
# Long-poll (GET /api/v1/decisions/{id}/?wait=N): the waits one web process holds at once. Keep
# it below the process's threads (gunicorn --threads): the others serve intake and sign-offs.
LONGPOLL_MAX_WAITERS = env.int("LONGPOLL_MAX_WAITERS", default=56)

# /metrics (Prometheus): let in by a bearer token or by client address; with neither, nobody.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])

# A cache every process shares (rate limits): the database by default, Redis when CACHE_URL says so.
CACHES = {
    "default": env.cache_url("CACHE_URL", default="dbcache://countersign_cache"),
}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # A cache host that drops packets costs a request one second, not the kernel's TCP timeout
    # (rate limits then count per process for a while: decisions.api.throttling).
    CACHES["default"].setdefault("OPTIONS", {}).update({"socket_connect_timeout": 1, "socket_timeout": 1})
