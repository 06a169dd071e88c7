"""OneCase settings, read from the environment.

Local defaults (SQLite under ``ONECASE_DATA_DIR``, a fixed development key, DEBUG on
loopback only) are safe for a laptop and nothing else. ``ONECASE_ENV=production``
switches them off and refuses to start without ``SECRET_KEY`` and ``ALLOWED_HOSTS``, or on
SQLite unless ``ONECASE_ALLOW_SQLITE_IN_PRODUCTION=1``.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent  # the onecase package
ENV = os.environ.get("ONECASE_ENV", "local").lower()
PRODUCTION = ENV == "production"

DATA_DIR = Path(os.environ.get("ONECASE_DATA_DIR", "var")).resolve()
UPLOAD_DIR = DATA_DIR / "uploads"


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when ONECASE_ENV=production")
    return value


if PRODUCTION:
    SECRET_KEY = _required("SECRET_KEY")
    ALLOWED_HOSTS = [h.strip() for h in _required("ALLOWED_HOSTS").split(",") if h.strip()]
    DEBUG = False
else:
    SECRET_KEY = os.environ.get("SECRET_KEY", "local-development-only-not-for-any-real-data")  # noqa: S105
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"] + [
        h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()
    ]
    DEBUG = os.environ.get("DEBUG", "1") == "1"

if not os.environ.get("DATABASE_URL"):
    DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'onecase.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if PRODUCTION and SQLITE and os.environ.get("ONECASE_ALLOW_SQLITE_IN_PRODUCTION", "") != "1":
    raise ImproperlyConfigured(
        "ONECASE_ENV=production needs PostgreSQL: set DATABASE_URL. SQLite keeps the audit trail in one file "
        "that anyone who can write it can change; set ONECASE_ALLOW_SQLITE_IN_PRODUCTION=1 to accept that."
    )
if SQLITE:
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_q",
    "crispy_forms",
    "crispy_forms_gds",
    "pgtrigger",
    "pghistory",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "onecase.audit",
    "onecase.accounts",
    "onecase.people",
    "onecase.linkage",
    "onecase.contacts",
    "onecase.costs",
    "onecase.places",
    "onecase.imports",
    "onecase.sharing",
    "onecase.reports",
    "onecase.measures",
    "onecase.cases",
    "onecase.meetings",
    "onecase.demo",
    "onecase.web",
    "onecase.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "onecase.accounts.middleware.NoStoreMiddleware",
    "onecase.audit.middleware.AuditRefusalMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "onecase.accounts.middleware.SessionLifetimeMiddleware",
    "onecase.accounts.middleware.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Tags change-history rows with the signed-in user and URL (history triggers are PostgreSQL's).
    MIDDLEWARE.insert(MIDDLEWARE.index("django_otp.middleware.OTPMiddleware") + 1,
                      "pghistory.middleware.HistoryMiddleware")

ROOT_URLCONF = "onecase.config.urls"
WSGI_APPLICATION = "onecase.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "onecase.accounts.backends.AccountBackend",
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("ONECASE_STATIC_ROOT", DATA_DIR / "static"))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # served from the finders locally
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

CRISPY_ALLOWED_TEMPLATE_PACKS = ["gds"]
CRISPY_TEMPLATE_PACK = "gds"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so a bad token gets 401 with WWW-Authenticate rather than 403.
        "onecase.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "onecase.api.pagination.ForgivingPageNumberPagination",
    "PAGE_SIZE": 50,
}
# API tokens (django-rest-knox): only a digest of each secret is stored; every token expires.
# Clients still send "Authorization: Token <secret>".
KNOX_TOKEN_MODEL = "accounts.ApiToken"  # noqa: S105  # nosec B105 (a model name)
ONECASE_API_TOKEN_DAYS = int(os.environ.get("ONECASE_API_TOKEN_DAYS", "90"))
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=ONECASE_API_TOKEN_DAYS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OneCase API",
    "DESCRIPTION": "Multi-agency case management and demand analysis.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI served from this server (no CDN), its script split out for the CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"CaseSectionEnum": "onecase.cases.models.Section.choices"},
}

# Shared by the web server and the job worker (import progress is written here while the
# import's own transaction is still open), so it must not be per-process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ.get("ONECASE_CACHE_DIR", str(DATA_DIR / "cache")),
    }
}
# With Redis (ONECASE_REDIS_URL, e.g. redis://127.0.0.1:6379/0) the cache and the job queue use it;
# without it, files and the database do, and nothing else needs running.
REDIS_URL = os.environ.get("ONECASE_REDIS_URL", "")
if REDIS_URL:
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}

Q_CLUSTER = {
    "name": "onecase",
    **({"redis": REDIS_URL} if REDIS_URL else {"orm": "default"}),
    "workers": 1,
    "timeout": 3600,
    "retry": 3700,
    "max_attempts": 1,
    "catch_up": False,
    "sync": os.environ.get("ONECASE_JOBS_SYNC", "0") == "1",
}

# Sign-in security: TOTP for every role (onecase.accounts.middleware), lockout after
# repeated failures keyed by username and by username + IP (never by IP alone, which would
# lock out a whole council network), cooling off after 30 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_VERBOSE = False
# Axes records and locks on a keyed hash of the typed username, so a password typed into the
# username box is never kept; successful sign-ins keep the real username.
AXES_USERNAME_CALLABLE = "onecase.accounts.sign_in.axes_username"
OTP_TOTP_ISSUER = "OneCase"

# Sessions end after 30 minutes idle and 10 hours after sign-in; the key rotates at sign-in.
# They are read from the cache and written through to the database only when they change: the
# idle clock is pushed on at most once a minute (onecase.accounts.middleware), not on every request.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_SECONDS = 60
ONECASE_SESSION_ABSOLUTE_SECONDS = 10 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Cases drift when nobody on the team has recorded anything for this many days.
ONECASE_CASE_DRIFT_DAYS = int(os.environ.get("ONECASE_CASE_DRIFT_DAYS", "28"))

# Multi-agency meetings: the thresholds that propose agenda items (onecase.meetings.proposals).
# A MARAC repeat is domestic abuse again within marac_repeat_days of the last MARAC; otherwise
# marac_contacts domestic-abuse contacts in marac_days. ASB case reviews use the demand flags'
# ASB trigger (ONECASE_DEMAND_FLAGS asb_reports in asb_days), met in the last asb_lookback_days.
ONECASE_MEETING_AGENDA = {
    "marac_contacts": 2,
    "marac_days": 365,
    "marac_repeat_days": 365,
    "asb_lookback_days": 90,
}

# Personal data never goes to logs: log records carry ids and counts, not identities.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
