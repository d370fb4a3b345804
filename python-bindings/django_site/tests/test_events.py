"""User changes become outbox events in the transaction of the change: one row per peer routed by
the library, the uid minted at sign-up, roles per peer mapping (deny by default)."""

from typing import Any, List

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.test import TestCase

from usersync.django import state
from usersync.django.models import Link, OutboxMessage

from .helpers import as_d


def events() -> List[Any]:
    return [(m.peer, m.act, m.event["data"]) for m in OutboxMessage.objects.order_by("id")]


@as_d()
class Events(TestCase):
    def test_a_signup_is_linked_and_queued_for_each_peer(self) -> None:
        alice = User.objects.create_user("alice", "alice@d.test", "alice's password", first_name="Alice")
        uid = Link.objects.get(user=alice).uid
        [(peer, act, data)] = events()
        self.assertEqual((peer, act), ("a.test", "create"))
        self.assertEqual(data["uid"], uid)
        self.assertEqual(data["fields"], {"first_name": "Alice", "last_name": ""})
        self.assertEqual(data["roles"], [])
        self.assertTrue(data["pass_hash"].startswith("pbkdf2_sha256$"))
        row = OutboxMessage.objects.get()
        self.assertEqual(row.event["eid"], row.eid)

    def test_a_change_rolled_back_takes_its_events_with_it(self) -> None:
        try:
            with transaction.atomic():
                User.objects.create_user("bob", "bob@d.test")
                raise RuntimeError("the view failed")
        except RuntimeError:
            pass
        self.assertEqual(events(), [])
        self.assertFalse(Link.objects.exists())

    def test_updates_groups_password_and_delete(self) -> None:
        alice = User.objects.create_user("alice", "alice@d.test", "pw")
        uid = alice.usersync_link.uid
        OutboxMessage.objects.all().delete()
        alice.email = "new@d.test"
        alice.save()
        alice.groups.add(Group.objects.create(name="Editors"), Group.objects.create(name="Moderators"))
        alice.set_password("other")
        alice.save()
        alice.save(update_fields=["last_login"])  # a login: not an event
        alice.save()  # nothing changed: not an event
        got = events()
        self.assertEqual([a for _, a, _ in got], ["update", "update", "password"])
        self.assertEqual(got[0][2]["email"], "new@d.test")
        self.assertEqual(got[1][2]["roles"], ["editor"], "only mapped groups travel; Moderators stays here")
        self.assertEqual(set(got[2][2]), {"uid", "login", "pass_hash"})
        OutboxMessage.objects.all().delete()
        alice.delete()
        self.assertEqual(events(), [("a.test", "delete", {"uid": uid, "login": "alice"})])

    def test_privilege_flags_travel_as_roles_for_the_send_policy_to_filter(self) -> None:
        User.objects.create_superuser("root", "root@d.test", "pw")
        [(_, _, data)] = events()
        self.assertEqual(data["roles"], ["administrator", "staff"])  # the library's send policy drops them
        row = OutboxMessage.objects.get()
        from usersync.django import conf
        [built] = conf.context().build(row.event, "a.test")
        self.assertTrue(built["message"])

    def test_accounts_that_are_not_linked_are_not_synced(self) -> None:
        with self.settings(USERSYNC={}):
            old = User.objects.create_user("old", "old@d.test")
        old.email = "changed@d.test"
        old.save()
        old.delete()
        self.assertEqual(events(), [])

    def test_changes_made_applying_a_peer_action_are_not_events(self) -> None:
        with state.applying_peer_action():
            User.objects.create_user("echo", "echo@d.test")
        self.assertEqual(events(), [])

    def test_an_account_without_email_cannot_travel_and_says_so(self) -> None:
        User.objects.create_user("noemail")
        self.assertEqual(events(), [])
        from usersync.django.models import LogEntry
        self.assertTrue(LogEntry.objects.filter(login="noemail", result="refused", reason="data_invalid").exists())
