#!/usr/bin/env bash
# The Django app's units with Django's own test runner against PostgreSQL: the venv
# (scripts/django/venv.sh), a private PostgreSQL cluster on a socket under /tmp
# (scripts/postgres.sh), mypy and django-stubs, `manage.py test`, then the cluster is stopped and removed.
# Arguments go to `manage.py test` (e.g. django_site.tests.test_inbox).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
py=$(bash "$root/scripts/django/venv.sh")
# The units' own tools: mypy with Django's types (django_site/tests/test_types.py).
"$py" -m pip install --quiet --disable-pip-version-check mypy "django-stubs>=5.2,<5.3" types-cffi
pg=$(mktemp -d /tmp/usersync-pg.XXXXXX)
trap 'bash "$root/scripts/postgres.sh" stop "$pg"; rm -rf "$pg"' EXIT
bash "$root/scripts/postgres.sh" start "$pg"
cd "$root/python-bindings"
# The app from this checkout (src/ first), the library the wheel bundles.
DJANGO_DB_HOST=$pg PYTHONPATH="$root/python-bindings/src:$root/python-bindings" \
    "$py" django_site/manage.py test --noinput "${@:-django_site.tests}"
