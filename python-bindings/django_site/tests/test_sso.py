"""Single sign-on and logout everywhere with a WordPress-like peer a.test (a second library
context seals what the plugin would): the binding step, tickets accepted only for the linked,
unprotected account of this browser, once, with refusals that change nothing (rows compared
before and after); a login here starting single sign-on (frames in the asked page, the chain),
destinations checked against the site and its peers; logout events with the right session."""

from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.models import Session
from django.test import Client, TestCase, override_settings

import usersync
from usersync.django import sso
from usersync.django.links import session_id
from usersync.django.models import Link, LogEntry, OutboxMessage, Seen, UserSession

SECRET = usersync.secret.generate()
D_URL = "https://testserver"
A_URL = "https://a.test"
A = usersync.Context({"site_id": "a.test", "url": A_URL, "peers": [
    {"id": "d.test", "url": D_URL, "secrets": [SECRET],
     "send": {"actions": ["create", "update", "login", "logout"], "roles": ["*"]},
     "accept": {"actions": ["login", "logout"]}}]})


def d_settings(mode: str = "auto") -> Dict[str, Any]:
    policy = {"actions": ["create", "update", "login", "logout"], "roles": ["subscriber"]}
    return {"SITE_ID": "d.test", "URL": D_URL, "SSO_MODE": mode, "DELIVER_AFTER_RESPONSE": False, "PEERS": [
        {"id": "a.test", "url": A_URL, "secrets": [SECRET], "send": policy, "accept": policy, "groups": {"subscriber": "Members"}}]}


def rows() -> List[Any]:
    """Accounts, links, sessions and replay records: what a refused ticket must leave alone."""
    return [list(User.objects.order_by("pk").values()), list(Link.objects.order_by("uid").values()),
            sorted(Session.objects.values_list("session_key", flat=True)),
            list(UserSession.objects.order_by("session_key").values()), list(Seen.objects.order_by("pk").values())]


def query(url: str) -> Dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@override_settings(USERSYNC=d_settings())
class Accepting(TestCase):
    def setUp(self) -> None:
        self.alice = User.objects.create_user("alice", "alice@a.test", "pw")
        self.uid = self.alice.usersync_link.uid  # made while linked: linked at once
        OutboxMessage.objects.all().delete()  # its create event
        self.logins: List[str] = []
        user_logged_in.connect(self._saw, dispatch_uid="test_sso_saw")

    def tearDown(self) -> None:
        user_logged_in.disconnect(dispatch_uid="test_sso_saw")

    def _saw(self, sender: Any, user: Any, **kw: Any) -> None:
        self.logins.append(user.username)

    def bind(self, browser: Client) -> str:
        """The chain's binding step in this browser; returns the hash D handed back."""
        r = browser.get("/?usersync_sso_bind=1&from=a.test&mode=chain", secure=True)
        self.assertEqual(r.status_code, 303)
        back = r["Location"]
        self.assertTrue(back.startswith(A_URL + "/?usersync_sso=1&bound=d.test&bnd="), back)
        cookie = r.cookies[sso.BIND_COOKIE]
        self.assertTrue(cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "None")
        # The hash is the library's binding hash of the cookie's value; the value stays on D.
        self.assertEqual(query(back)["bnd"], usersync.secret.binding_hash(cookie.value))
        self.assertNotIn(cookie.value, back)
        return query(back)["bnd"]

    def ticket(self, bnd: str, uid: Optional[str] = None, login: str = "alice", **extra: Any) -> str:
        request = {"peer": "d.test", "uid": uid or self.uid, "login": login, "remember": False, "bnd": bnd, "sid": "a-session-1"}
        return str(A.mint_ticket(dict(request, **extra))["message"])

    def accept(self, browser: Client, ticket: str, mode: str = "chain", **form: str) -> Any:
        return browser.post("/?usersync_sso_accept=1", {"ticket": ticket, "mode": mode, **form}, secure=True)

    def test_the_frame_binding_page_posts_the_hash_to_the_peer_only(self) -> None:
        r = self.client.get("/?usersync_sso_bind=1&from=a.test&mode=frame", secure=True)
        body = r.content.decode()
        self.assertIn('data-origin="https://a.test"', body)
        self.assertIn(usersync.secret.binding_hash(r.cookies[sso.BIND_COOKIE].value), body)
        self.assertIn("frame-ancestors https://a.test", r["Content-Security-Policy"])
        self.assertNotIn("X-Frame-Options", r)
        self.assertEqual(self.client.get("/?usersync_sso_bind=1&from=evil.test&mode=frame", secure=True).status_code, 400)

    def test_a_bound_ticket_signs_this_browser_in_once_through_django_login(self) -> None:
        ticket = self.ticket(self.bind(self.client), **{"return": A_URL + "/wp-admin/"})
        value = self.client.cookies[sso.BIND_COOKIE].value
        r = self.accept(self.client, ticket)
        self.assertEqual((r.status_code, r["Location"]), (303, A_URL + "/wp-admin/"))
        self.assertEqual(self.client.get("/whoami").json(), {"user": "alice"})
        self.assertEqual(self.logins, ["alice"], "user_logged_in fired once")
        session = UserSession.objects.get(user=self.alice)
        self.assertEqual((session.iss, session.sid), ("a.test", "a-session-1"), "the session names the peer session it came from")
        self.assertEqual(r.cookies[sso.BIND_COOKIE].value, "", "the binding cookie is single use")
        self.assertTrue(LogEntry.objects.filter(act="login", login="alice", result="applied").exists())
        self.assertEqual(OutboxMessage.objects.count(), 0, "a peer's login is no event")
        self.assertNotIn(sso.STATE_KEY, self.client.session, "and starts no single sign-on of its own (it came from there)")
        # The same ticket again, by a browser that kept the binding cookie's value: used.
        replayer = Client()
        replayer.cookies[sso.BIND_COOKIE] = value
        before = rows()
        self.accept(replayer, ticket)
        self.assertEqual(LogEntry.objects.first().reason, "ticket already used")  # type: ignore[union-attr]
        self.assertEqual(replayer.get("/whoami").json(), {"user": None})
        self.assertEqual(self.logins, ["alice"])
        self.assertEqual(rows(), before)

    def test_in_a_frame_the_session_cookie_is_samesite_none_and_the_answer_goes_to_the_peer(self) -> None:
        r = self.client.get("/?usersync_sso_bind=1&from=a.test&mode=frame", secure=True)
        bnd = usersync.secret.binding_hash(r.cookies[sso.BIND_COOKIE].value)
        r = self.accept(self.client, self.ticket(bnd), mode="frame", **{"from": "a.test"})
        self.assertIn('{&quot;usersync&quot;: &quot;sso&quot;, &quot;ok&quot;: true', r.content.decode())
        cookie = r.cookies["sessionid"]
        self.assertEqual((cookie["samesite"], bool(cookie["secure"])), ("None", True))
        self.assertEqual(Client().get("/whoami", HTTP_COOKIE=f"sessionid={cookie.value}").json(), {"user": "alice"})

    def test_asked_from_a_peers_page_the_answers_are_readable_by_that_peer_alone(self) -> None:
        r = self.client.get("/?usersync_sso_bind=1&from=a.test&mode=fetch", secure=True)
        value = r.cookies[sso.BIND_COOKIE].value
        self.assertEqual(r.json(), {"usersync": "bind", "bnd": usersync.secret.binding_hash(value)})
        self.assertEqual((r["Access-Control-Allow-Origin"], r["Access-Control-Allow-Credentials"]), ("https://a.test", "true"))
        self.assertEqual(r.cookies[sso.BIND_COOKIE]["samesite"], "None")
        self.assertEqual(self.client.get("/?usersync_sso_bind=1&from=evil.test&mode=fetch", secure=True).status_code, 400)
        r = self.accept(self.client, self.ticket(usersync.secret.binding_hash(value)), mode="fetch", **{"from": "a.test"})
        self.assertEqual(r.json(), {"usersync": "sso", "ok": True, "retry": False})
        self.assertEqual(r["Access-Control-Allow-Origin"], "https://a.test")
        self.assertIn("no-store", r["Cache-Control"])
        cookie = r.cookies["sessionid"]
        self.assertEqual((cookie["samesite"], bool(cookie["secure"])), ("None", True))
        self.assertEqual(Client().get("/whoami", HTTP_COOKIE=f"sessionid={cookie.value}").json(), {"user": "alice"})
        self.assertEqual(LogEntry.objects.first().reason, "fetch")  # type: ignore[union-attr]
        # Another browser's ticket: refused, and the page is told the chain may work.
        other = self.ticket(self.bind(Client()))
        before = rows()
        r = self.accept(Client(), other, mode="fetch", **{"from": "a.test"})
        self.assertEqual(r.json(), {"usersync": "sso", "ok": False, "retry": True})
        self.assertEqual(rows(), before)

    def test_a_ticket_from_another_browser_is_refused_and_changes_nothing(self) -> None:
        victim, attacker = Client(), Client()
        self.bind(victim)
        ticket = self.ticket(self.bind(attacker))  # the attacker's own, unused ticket
        before = rows()
        for browser in (victim, Client()):  # with the victim's binding cookie, and with none
            r = self.accept(browser, ticket, mode="frame", **{"from": "a.test"})
            self.assertIn("&quot;retry&quot;: true", r.content.decode())
            self.assertEqual(LogEntry.objects.first().reason, "wrong_browser")  # type: ignore[union-attr]
        self.assertEqual(rows(), before)
        self.assertEqual(victim.get("/whoami").json(), {"user": None})
        self.assertEqual(self.logins, [])

    def test_staff_superusers_unlinked_and_inactive_accounts_are_never_signed_in(self) -> None:
        for login, flags in (("gina", {"is_staff": True}), ("hank", {"is_superuser": True}), ("ivy", {"is_active": False})):
            user = User.objects.create_user(login, f"{login}@a.test", "pw", **flags)
            uid = user.usersync_link.uid
            browser = Client()
            ticket = self.ticket(self.bind(browser), uid=uid, login=login)
            before = rows()
            self.accept(browser, ticket)
            reason = LogEntry.objects.first().reason  # type: ignore[union-attr]
            self.assertEqual(reason, "inactive_account" if login == "ivy" else "protected_account", login)
            self.assertEqual(browser.get("/whoami").json(), {"user": None})
            if login != "ivy":
                self.assertEqual(rows(), before, login)  # refused by the target check: not even recorded
        root = User.objects.create_superuser("root", "root@d.test", "pw")
        browser = Client()
        self.accept(browser, self.ticket(self.bind(browser), uid=usersync.secret.uid(), login=root.username))
        self.assertEqual(LogEntry.objects.first().reason, "unknown_account")  # type: ignore[union-attr]
        self.assertEqual(self.logins, [])

    def test_anonymous_posts_to_the_accept_endpoint_and_the_inbox_change_nothing(self) -> None:
        before = rows()
        for form in ({}, {"ticket": "garbage"}, {"ticket": "x" * 5000, "mode": "frame", "from": "a.test"},
                     {"ticket": "", "return": "https://evil.test/"}):
            r = self.client.post("/?usersync_sso_accept=1", form, secure=True)
            self.assertIn(r.status_code, (200, 303))
            if r.status_code == 303:
                self.assertEqual(r["Location"], D_URL + "/")  # a hostile return is never followed
        r = self.client.post("/usersync/inbox", data="garbage", content_type="text/plain")
        self.assertEqual(r.status_code, 400)
        self.assertEqual(rows(), before)
        self.assertEqual(self.logins, [])

    def test_hostile_returns_are_refused_by_the_library(self) -> None:
        for bad in ("//evil.test", "javascript:alert(1)", "https://a.test.evil.test/", "http://a.test/"):
            with self.assertRaises(usersync.MessageRefused):
                A.mint_ticket({"peer": "d.test", "uid": self.uid, "login": "alice", "remember": False,
                               "bnd": "A" * 43, "return": bad})
            self.assertIsNone(sso.checked(bad))

    def test_a_peer_logout_ends_only_the_session_that_came_from_its_session(self) -> None:
        first, second = Client(), Client()
        self.accept(first, self.ticket(self.bind(first)))
        self.accept(second, self.ticket(self.bind(second), sid="a-session-2"))
        message = A.build({"eid": usersync.secret.uid(), "act": "logout", "data": {"uid": self.uid, "login": "alice", "sid": "a-session-1"}})
        r = self.client.post("/usersync/inbox", data=message[0]["message"], content_type="text/plain")
        self.assertEqual(r.json(), {"result": "applied"})
        self.assertEqual(first.get("/whoami").json(), {"user": None})
        self.assertEqual(second.get("/whoami").json(), {"user": "alice"})


@override_settings(USERSYNC=d_settings())
class LoggingInHere(TestCase):
    def setUp(self) -> None:
        self.alice = User.objects.create_user("alice", "alice@d.test", "pw")  # linked: made while linked
        self.assertTrue(Link.objects.filter(user=self.alice).exists())

    def login(self, browser: Client, next_url: str, **extra: Any) -> Any:
        return browser.post("/accounts/login/", {"username": "alice", "password": "pw", "next": next_url}, secure=True, **extra)

    def test_the_asked_page_gets_the_frames_and_a_frame_gets_a_bound_ticket(self) -> None:
        browser = Client(enforce_csrf_checks=True)
        browser.get("/accounts/login/", secure=True)
        token = browser.cookies["csrftoken"].value
        r = browser.post("/accounts/login/", {"username": "alice", "password": "pw", "next": "/profile?x=1",
                                              "csrfmiddlewaretoken": token}, secure=True, HTTP_ORIGIN=D_URL)
        self.assertEqual(r["Location"], "/profile?x=1", "the asked page at once")
        page = browser.get("/profile?x=1", secure=True).content.decode()
        self.assertIn('id="usersync-sso"', page)
        self.assertIn("https://a.test/?usersync_sso_bind=1&amp;from=d.test&amp;mode=frame", page)
        self.assertNotIn("usersync-sso", browser.get("/profile", secure=True).content.decode(), "one page carries the frames")
        # A frame's ticket: CSRF-protected, bound to the hash the frame sent, opened by the peer.
        bnd = usersync.secret.binding_hash("the-browser-binding-value-0123456789abcdef")
        self.assertEqual(browser.post("/?usersync_sso=1&issue=1", {"peer": "a.test", "bnd": bnd}, secure=True).status_code, 403)
        csrf = browser.cookies["csrftoken"].value
        r = browser.post("/?usersync_sso=1&issue=1", {"peer": "a.test", "bnd": bnd, "csrfmiddlewaretoken": csrf}, secure=True,
                         HTTP_ORIGIN=D_URL)
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(r.json()["accept"], A_URL + "/?usersync_sso_accept=1")
        opened = A.open_ticket(r.json()["ticket"])
        self.assertEqual((opened["data"]["login"], opened["data"]["bnd"], opened["data"]["uid"]),
                         ("alice", bnd, self.alice.usersync_link.uid))
        key = browser.cookies["sessionid"].value
        self.assertEqual(opened["data"]["sid"], session_id(key), "the ticket names this session by its hash, never its key")
        self.assertEqual(UserSession.objects.get(session_key=key).peers, ["a.test"])

    def test_the_chain_goes_through_the_peer_and_back_to_the_asked_page(self) -> None:
        browser = Client()
        browser.cookies[sso.CHAIN_COOKIE] = "1"  # this browser blocks third-party cookies
        r = self.login(browser, "/profile")
        self.assertEqual(r["Location"], "/?usersync_sso=1")
        r = browser.get(r["Location"], secure=True)
        self.assertEqual((r.status_code, r["Location"]), (303, A_URL + "/?usersync_sso_bind=1&from=d.test&mode=chain"))
        bnd = usersync.secret.binding_hash("the-browser-binding-value-0123456789abcdef")
        r = browser.get(f"/?usersync_sso=1&bound=a.test&bnd={bnd}", secure=True)
        body = r.content.decode()
        self.assertIn('action="https://a.test/?usersync_sso_accept=1"', body)
        ticket = body.split('name="ticket" value="')[1].split('"')[0]
        self.assertEqual(A.open_ticket(ticket)["data"]["return"], D_URL + "/?usersync_sso=1&continue=a.test")
        self.assertNotIn("ticket", r.get("Location", ""))
        r = browser.get("/?usersync_sso=1&continue=a.test", secure=True)
        self.assertEqual(r["Location"], D_URL + "/profile")

    def test_hostile_destinations_end_on_the_site_and_a_peer_is_allowed(self) -> None:
        for bad in ("//evil.test", "javascript:alert(1)", "https://a.test.evil.test/", "https://evil.test/",
                    "https://testserver.evil.test/", "http://a.test/"):
            r = self.login(Client(), bad)
            self.assertEqual(r["Location"], "/profile", bad)  # LoginView's own fallback, LOGIN_REDIRECT_URL
        browser = Client()
        r = self.login(browser, A_URL + "/wp-admin/profile.php")
        self.assertEqual(r["Location"], "/?usersync_sso=1", "a peer's page: the interstitial signs the peer in first")
        body = browser.get("/?usersync_sso=1", secure=True).content.decode()
        self.assertIn("&quot;done&quot;: &quot;https://a.test/wp-admin/profile.php&quot;", body)
        self.assertEqual(sso.destination("//evil.test"), D_URL + "/profile")

    def test_logout_names_this_session_or_every_session(self) -> None:
        browser = Client()
        self.login(browser, "/profile")
        key = browser.cookies["sessionid"].value
        OutboxMessage.objects.all().delete()
        browser.post("/accounts/logout/", secure=True)
        event = OutboxMessage.objects.get(act="logout").event
        self.assertEqual(event["data"], {"uid": self.alice.usersync_link.uid, "login": "alice", "sid": session_id(key)})
        other = Client()
        self.login(other, "/profile")
        self.login(browser, "/profile")
        OutboxMessage.objects.all().delete()
        browser.post("/accounts/logout/", {"usersync_everywhere": "1"}, secure=True)
        self.assertNotIn("sid", OutboxMessage.objects.get(act="logout").event["data"])
        self.assertEqual(other.get("/whoami").json(), {"user": None}, "every session of the user here ends too")
