"""A Django 5.2 site with usersync, as a Django developer would set it up: the project the app's
unit tests run in (``scripts/django/run-units.sh``) and the Django site D of the end-to-end
tests (gunicorn behind nginx, PostgreSQL). Everything site-specific comes from the environment:

- ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS``; ``DJANGO_SECURE``: ``proxy``
  (behind nginx, which says in X-Forwarded-Proto whether the request came over HTTPS) or ``1``
  (that, and cookies for HTTPS only)
- ``DJANGO_DB_HOST`` (a PostgreSQL socket folder), ``DJANGO_DB_NAME``, ``DJANGO_DB_USER``;
  without them SQLite in ``DJANGO_SQLITE`` (for the demo)
- ``USERSYNC_SETTINGS``: a JSON file with the USERSYNC setting (usersync.django.conf), without
  secrets; each peer's secrets come from ``USERSYNC_SECRETS_<PEER>`` (never a file in the site,
  the database or the admin)
"""

import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "usersync-tests-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "usersync.django",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "usersync.django.middleware.SingleSignOnMiddleware",  # single sign-on with the peers (after auth)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "django_site.urls"
WSGI_APPLICATION = "django_site.wsgi.application"

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

if os.environ.get("DJANGO_DB_HOST"):
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ["DJANGO_DB_HOST"],
        "NAME": os.environ.get("DJANGO_DB_NAME", "usersync"),
        "USER": os.environ.get("DJANGO_DB_USER", "postgres"),
        "ATOMIC_REQUESTS": True,  # a change and its outbox events commit together
    }}
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_SQLITE", str(BASE_DIR / "db.sqlite3")),
        "ATOMIC_REQUESTS": True,
    }}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "usersync.django.hashers.WordPressPasswordHasher",
]

LOGIN_REDIRECT_URL = "/profile"
LOGOUT_REDIRECT_URL = "/profile"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"

if os.environ.get("DJANGO_SECURE") in ("1", "proxy"):  # behind nginx, which sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if os.environ.get("DJANGO_SECURE") == "1":  # HTTPS only
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

USERSYNC = {}
if os.environ.get("USERSYNC_SETTINGS"):
    with open(os.environ["USERSYNC_SETTINGS"], encoding="utf-8") as f:
        USERSYNC = json.load(f)
