"""The inbox against messages a peer sealed: every verdict of the target check applied, refusals
that change nothing (rows compared before and after), exactly-once events, the health check."""

from typing import Any, List

from django.contrib.auth.models import Group, User
from django.test import TestCase

import usersync
from usersync.django.hashers import PREFIX
from usersync.django.models import Link, LogEntry, OutboxMessage, Seen

from .helpers import A, SECRET, as_d, from_a

WP_HASH = "$wp$2y$10$plZnk4eL6/Wg3kx6QViw6ucpGMb3Azfez0/WWEeRCDNbtDh0IcTq2"  # WordPress 6.8 made it (vectors)


def rows() -> List[Any]:
    """Everything the app and auth keep about users, to compare before and after a refusal."""
    return [list(User.objects.order_by("pk").values()), list(Link.objects.order_by("uid").values()),
            sorted(User.groups.through.objects.values_list("user_id", "group_id"))]


@as_d()
class Inbox(TestCase):
    def post(self, message: str) -> Any:
        return self.client.post("/usersync/inbox", data=message, content_type="text/plain")

    def create(self, login: str = "alice", roles: Any = ("subscriber",), **extra: Any) -> str:
        uid = usersync.secret.uid()
        data = {"uid": uid, "login": login, "email": f"{login}@a.test", "roles": list(roles), **extra}
        r = self.post(from_a("create", data))
        self.assertEqual((r.status_code, r.json()), (200, {"result": "applied"}))
        return uid

    def test_create_makes_a_linked_account_with_mapped_groups_and_the_peer_hash(self) -> None:
        uid = self.create(roles=["subscriber", "author"], pass_hash=WP_HASH, fields={"first_name": "Alice", "display_name": "A"})
        alice = User.objects.get(username="alice")
        self.assertEqual(alice.usersync_link.uid, uid)
        self.assertEqual(list(alice.groups.values_list("name", flat=True)), ["Members"])
        self.assertEqual(alice.password, PREFIX + WP_HASH)
        self.assertEqual(alice.first_name, "Alice")
        self.assertFalse(alice.is_staff or alice.is_superuser)
        self.assertEqual(OutboxMessage.objects.count(), 0, "applying a peer's action is not an event")
        self.assertTrue(LogEntry.objects.filter(result="applied", act="create", login="alice").exists())

    def test_the_same_event_twice_applies_once(self) -> None:
        uid = usersync.secret.uid()
        eid = usersync.secret.uid()
        data = {"uid": uid, "login": "bob", "email": "bob@a.test"}
        self.assertEqual(self.post(from_a("create", data, eid)).json(), {"result": "applied"})
        User.objects.filter(username="bob").update(email="changed@d.test")
        # A retry re-seals the event (a new jti) with its eid: answered duplicate, not applied.
        r = self.post(from_a("create", data, eid))
        self.assertEqual((r.status_code, r.json()), (200, {"result": "duplicate"}))
        self.assertEqual(User.objects.get(username="bob").email, "changed@d.test")
        self.assertEqual(Seen.objects.filter(iss="a.test", msg_id=eid).count(), 1)

    def test_update_password_and_delete(self) -> None:
        uid = self.create(roles=["subscriber"])
        r = self.post(from_a("update", {"uid": uid, "login": "alice", "email": "new@a.test", "roles": ["editor"],
                                        "fields": {"last_name": "Liddell"}}))
        self.assertEqual(r.json(), {"result": "applied"})
        alice = User.objects.get(username="alice")
        self.assertEqual((alice.email, alice.last_name), ("new@a.test", "Liddell"))
        self.assertEqual(list(alice.groups.values_list("name", flat=True)), ["Editors"])
        django_hash = "pbkdf2_sha256$20000$fR5eWGhKiRbh5q7xNGU1f8$p2rMmGJTbegdbSDgvKDBRVHRTRej33UcvSgT0eeZEB8="
        self.assertEqual(self.post(from_a("password", {"uid": uid, "login": "alice", "pass_hash": django_hash})).json(),
                         {"result": "applied"})
        alice.refresh_from_db()
        self.assertEqual(alice.password, django_hash, "a Django hash is stored natively")
        self.assertTrue(alice.check_password("correct horse battery staple"))
        self.assertEqual(self.post(from_a("delete", {"uid": uid, "login": "alice"})).json(), {"result": "applied"})
        self.assertFalse(User.objects.filter(username="alice").exists())
        self.assertFalse(Link.objects.filter(uid=uid).exists())
        # Deleting again: nothing to do here, answered as done so the sender stops.
        self.assertEqual(self.post(from_a("delete", {"uid": uid, "login": "alice"})).json(), {"result": "skipped"})

    def test_groups_the_peer_has_no_mapping_for_are_left_alone(self) -> None:
        uid = self.create(roles=["subscriber"])
        alice = User.objects.get(username="alice")
        moderators = Group.objects.create(name="Moderators")
        alice.groups.add(moderators)
        # The account now holds a group this peer cannot grant: it is protected from the peer.
        before = rows()
        r = self.post(from_a("update", {"uid": uid, "login": "alice", "email": "x@a.test", "roles": []}))
        self.assertEqual((r.status_code, r.json()["reason"]), (403, "protected_account"))
        self.assertEqual(rows(), before)

    def test_superuser_and_staff_are_protected_from_a_peer_secret(self) -> None:
        for flag in ("is_superuser", "is_staff"):
            uid = self.create(login=f"boss_{flag}")
            User.objects.filter(username=f"boss_{flag}").update(**{flag: True})
            before = rows()
            for act, data in [
                ("update", {"email": "evil@a.test", "roles": ["subscriber"]}),
                ("password", {"pass_hash": WP_HASH}),
                ("delete", {}),
            ]:
                payload = {"uid": uid, "login": f"boss_{flag}", **data}
                if act == "update":
                    payload.setdefault("email", "evil@a.test")
                r = self.post(from_a(act, payload))
                self.assertEqual((r.status_code, r.json().get("reason")), (403, "protected_account"), (flag, act))
            self.assertEqual(rows(), before)

    def test_a_peer_cannot_grant_privileges_it_was_not_allowed(self) -> None:
        before = rows()
        r = self.post(from_a("create", {"uid": usersync.secret.uid(), "login": "mallory", "email": "m@a.test",
                                         "roles": ["administrator"]}))
        self.assertEqual((r.status_code, r.json()["reason"]), (400, "privileged_role"))
        r = self.post(from_a("create", {"uid": usersync.secret.uid(), "login": "mallory", "email": "m@a.test",
                                         "roles": ["staff"]}))
        self.assertEqual((r.status_code, r.json()["reason"]), (400, "privileged_role"))
        self.assertEqual(rows(), before)

    def test_unlinked_accounts_are_untouchable(self) -> None:
        User.objects.create_user("carol", "carol@d.test", "carol's password")
        before = rows()
        # A create naming an existing login or email never merges into it.
        for login, email in (("carol", "other@a.test"), ("other", "carol@d.test")):
            r = self.post(from_a("create", {"uid": usersync.secret.uid(), "login": login, "email": email}))
            self.assertEqual((r.status_code, r.json()["reason"]), (409, "identity_conflict"))
        # An update or password for a uid that names no account here changes nothing.
        r = self.post(from_a("password", {"uid": usersync.secret.uid(), "login": "carol", "pass_hash": WP_HASH}))
        self.assertEqual((r.status_code, r.json()["reason"]), (404, "unknown_account"))
        self.assertEqual(rows(), before)

    def test_bad_messages_are_refused_with_their_reason(self) -> None:
        before = rows()
        good = from_a("create", {"uid": usersync.secret.uid(), "login": "x", "email": "x@a.test"})
        tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BA")
        self.assertEqual(self.post(tampered).json(), {"result": "refused", "reason": "authentication_failed"})
        self.assertEqual(self.post("not a message").status_code, 400)
        r = self.post(from_a("meta", {"uid": usersync.secret.uid(), "login": "x", "set": {"k": ["v"]}}))
        self.assertEqual(r.json()["reason"], "action_not_accepted")
        self.assertEqual(self.client.get("/usersync/inbox").status_code, 405)
        self.assertEqual(rows(), before)

    def test_ip_allow_uses_the_connection_address(self) -> None:
        with as_d(ip_allow=["192.0.2.0/24"]):
            r = self.post(from_a("create", {"uid": usersync.secret.uid(), "login": "x", "email": "x@a.test"}))
        self.assertEqual((r.status_code, r.json()["reason"]), (403, "ip_not_allowed"))

    def test_ping_is_answered_with_a_pong_the_peer_opens(self) -> None:
        ping = A.ping("d.test")
        r = self.post(ping["message"])
        self.assertEqual(r.json()["result"], "pong")
        pong = A.open_action(r.json()["message"], "127.0.0.1")
        self.assertEqual(pong["act"], "pong")
        self.assertIn("create", pong["data"]["accepts"])

    def test_unconfigured_site_answers_unavailable(self) -> None:
        with self.settings(USERSYNC={}):
            r = self.post("x")
        self.assertEqual(r.status_code, 503)




@as_d()
class Sessions(TestCase):
    def test_a_peer_logout_ends_the_sessions_of_its_linked_account_only(self) -> None:
        from django.contrib.sessions.models import Session

        from usersync.django.models import UserSession

        uid = usersync.secret.uid()
        r = self.client.post("/usersync/inbox", data=from_a("create", {"uid": uid, "login": "alice", "email": "alice@a.test",
                                                                        "roles": ["subscriber"]}), content_type="text/plain")
        self.assertEqual(r.json(), {"result": "applied"})
        alice = User.objects.get(username="alice")
        alice.set_password("pw")
        alice.save()
        other = User.objects.create_user("bob", "bob@d.test", "pw")
        browsers = [self.client_class(), self.client_class(), self.client_class()]
        for browser, login in zip(browsers, ("alice", "alice", "bob")):
            self.assertTrue(browser.login(username=login, password="pw"))
        self.assertEqual(UserSession.objects.filter(user=alice).count(), 2)
        r = self.client.post("/usersync/inbox", data=from_a("logout", {"uid": uid, "login": "alice"}), content_type="text/plain")
        self.assertEqual(r.json(), {"result": "applied"})
        self.assertFalse(UserSession.objects.filter(user=alice).exists())
        self.assertEqual([s.get_decoded().get("_auth_user_id") for s in Session.objects.all()], [str(other.pk)])
        self.assertEqual(browsers[2].get("/whoami").json(), {"user": "bob"})
        self.assertEqual(browsers[0].get("/whoami").json(), {"user": None})
