"""The password hasher for WordPress formats, through Django's own check_password(): every case of
the vectors real WordPress 6.8 and 6.1 made, the native re-hash at the first login, and that the
re-hash is not sent to peers (the same password; they keep the hash they can read)."""

import json
from pathlib import Path

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import check_password, identify_hasher
from django.contrib.auth.models import User
from django.test import TestCase

from usersync.django import hashers
from usersync.django.models import OutboxMessage

from .helpers import as_d

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors"


def cases(name: str) -> list:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))["cases"]


class Hasher(TestCase):
    def test_every_wordpress_vector_through_djangos_check_password(self) -> None:
        n = 0
        for name in ("passwords-wordpress-6.8.json", "passwords-wordpress-6.1.json"):
            for case in cases(name):
                stored = hashers.stored_form(case["hash"])
                self.assertIsInstance(identify_hasher(stored), hashers.WordPressPasswordHasher)
                self.assertIs(check_password(case["password"], stored), case["matches"], (name, case["hash"]))
                n += 1
        self.assertGreaterEqual(n, 40)

    def test_django_hashes_stay_native_and_travel_as_they_are(self) -> None:
        for case in cases("passwords-django.json"):
            self.assertEqual(hashers.stored_form(case["hash"]), case["hash"])
            self.assertEqual(hashers.wire_form(case["hash"]), case["hash"])
            self.assertIs(check_password(case["password"], case["hash"]), case["matches"])
        self.assertIsNone(hashers.wire_form("!unusable"))
        self.assertIsNone(hashers.wire_form("argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA"))

    @as_d()
    def test_first_login_rehashes_natively_and_sends_nothing(self) -> None:
        case = cases("passwords-wordpress-6.8.json")[0]
        alice = User.objects.create_user("alice", "alice@a.test")
        OutboxMessage.objects.all().delete()
        User.objects.filter(pk=alice.pk).update(password=hashers.stored_form(case["hash"]))
        self.assertIsNone(authenticate(username="alice", password=case["password"] + "!"))
        self.assertEqual(User.objects.get(pk=alice.pk).password, hashers.stored_form(case["hash"]))
        self.assertIsNotNone(authenticate(username="alice", password=case["password"]))
        now = User.objects.get(pk=alice.pk).password
        self.assertTrue(now.startswith("pbkdf2_sha256$"), now)
        self.assertTrue(check_password(case["password"], now))
        self.assertEqual(OutboxMessage.objects.filter(act__in=["password", "update"]).count(), 0)
        # A password the user changes here is sent (the library recognises Django's hash).
        alice = User.objects.get(pk=alice.pk)
        alice.set_password("a new one")
        alice.save()
        self.assertEqual(list(OutboxMessage.objects.values_list("act", flat=True)), ["password"])
        self.assertEqual(OutboxMessage.objects.get().event["data"]["pass_hash"], alice.password)
