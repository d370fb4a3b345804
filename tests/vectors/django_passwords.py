"""Writes tests/vectors/passwords-django.json: hashes made by Django's own PBKDF2PasswordHasher,
the answers the library's password check must give (run in a venv with Django installed:
`python tests/vectors/django_passwords.py tests/vectors/passwords-django.json`)."""

import json
import sys

import django
from django.conf import settings

settings.configure()
from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password  # noqa: E402

PASSWORDS = ["correct horse battery staple", "pässwörd – ünïcode ✓", "long password " * 8, 'it\'s "quoted" \\ slashed', "x"]
hasher = PBKDF2PasswordHasher()
cases = []
for i, password in enumerate(PASSWORDS):
    # Fewer rounds than Django's default (1,000,000) keep the tests under valgrind fast; the
    # algorithm is the same whatever the count.
    rounds = 20000 + i
    encoded = hasher.encode(password, hasher.salt(), iterations=rounds)
    for tried in (password, password + "!"):
        cases.append({"made_by": f"Django {django.get_version()} PBKDF2PasswordHasher",
                      "password": tried, "hash": encoded, "matches": check_password(tried, encoded)})
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"generated_by": "tests/vectors/django_passwords.py (Django made and checked every hash)",
               "cases": cases}, out, indent=2, ensure_ascii=False)
    out.write("\n")
