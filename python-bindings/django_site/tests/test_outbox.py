"""Delivery to a peer's inbox served by a real HTTP server on loopback: what each answer means,
backoff with the event's eid kept for every retry, redirects never followed, peers independent."""

from __future__ import annotations

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, List, Tuple

from django.contrib.auth.models import User
from django.test import TestCase, TransactionTestCase, override_settings
from django.utils import timezone

from usersync.django import outbox
from usersync.django.models import LogEntry, OutboxMessage

from .helpers import A, d_settings


class Peer:
    """A peer inbox answering from a script of (status, body) and keeping what it received."""

    def __init__(self, answers: List[Tuple[int, Any]]) -> None:
        self.answers = list(answers)
        self.received: List[str] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                peer.received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
                status, body = peer.answers.pop(0) if peer.answers else (200, {"result": "applied"})
                data = json.dumps(body).encode()
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Delivery(TestCase):
    def setUp(self) -> None:
        self.peer = Peer([])
        self.addCleanup(self.peer.close)
        self.settings_ctx = override_settings(USERSYNC=d_settings(url=self.peer.url, inbox="/inbox"))
        self.settings_ctx.enable()
        self.addCleanup(self.settings_ctx.disable)

    def signup(self) -> OutboxMessage:
        User.objects.create_user("alice", "alice@d.test", "pw")
        return OutboxMessage.objects.get()

    def test_a_delivered_event_is_gone_and_the_peer_opens_it(self) -> None:
        row = self.signup()
        self.assertEqual(outbox.deliver(), 1)
        self.assertFalse(OutboxMessage.objects.exists())
        opened = A.open_action(self.peer.received[0], "127.0.0.1")
        self.assertEqual((opened["act"], opened["eid"], opened["data"]["login"]), ("create", row.eid, "alice"))
        self.assertTrue(LogEntry.objects.filter(direction="out", result="delivered", eid=row.eid).exists())

    def test_a_failure_is_retried_with_backoff_and_the_same_eid(self) -> None:
        self.peer.answers = [(500, {}), (200, {"result": "duplicate"})]
        row = self.signup()
        outbox.deliver()
        row.refresh_from_db()
        self.assertEqual((row.attempts, row.last_error), (1, "HTTP 500 from the peer"))
        self.assertGreater(row.next_attempt, timezone.now() + timedelta(seconds=20))
        self.assertEqual(outbox.deliver(), 0, "not due yet")
        OutboxMessage.objects.update(next_attempt=timezone.now())
        outbox.deliver()
        self.assertFalse(OutboxMessage.objects.exists())
        first, second = (A.open_action(m, "127.0.0.1") for m in self.peer.received)
        self.assertEqual(first["eid"], second["eid"])
        self.assertNotEqual(first["jti"], second["jti"])

    def test_a_refusal_is_final_and_a_redirect_is_not_followed(self) -> None:
        self.peer.answers = [(302, {}), (403, {"result": "refused", "reason": "protected_account"})]
        self.signup()
        outbox.deliver()
        self.assertEqual(len(self.peer.received), 1)
        self.assertEqual(OutboxMessage.objects.get().last_error, "HTTP 302 from the peer")
        OutboxMessage.objects.update(next_attempt=timezone.now())
        outbox.deliver()
        self.assertFalse(OutboxMessage.objects.exists())
        self.assertTrue(LogEntry.objects.filter(result="refused", reason="protected_account").exists())

    def test_nothing_listening_is_said_in_plain_words(self) -> None:
        with self.settings(USERSYNC=d_settings(url=f"http://127.0.0.1:{free_port()}")):
            self.signup()
            outbox.deliver()
        self.assertIn("connection refused", OutboxMessage.objects.get().last_error)

    def test_events_past_the_ttl_expire(self) -> None:
        self.signup()
        OutboxMessage.objects.update(created_at=timezone.now() - timedelta(days=4))
        outbox.deliver()
        self.assertFalse(OutboxMessage.objects.exists())
        self.assertEqual(self.peer.received, [])
        self.assertTrue(LogEntry.objects.filter(result="expired").exists())


class IndependentPeers(TransactionTestCase):
    def test_a_dead_peer_does_not_hold_up_another(self) -> None:
        live = Peer([])
        self.addCleanup(live.close)
        other = dict(d_settings()["PEERS"][0], id="b.test", url=live.url, inbox="/inbox",
                     secrets=[__import__("usersync").secret.generate()])
        settings = d_settings(url=f"http://127.0.0.1:{free_port()}")
        settings["PEERS"].append(other)
        with self.settings(USERSYNC=settings):
            User.objects.create_user("alice", "alice@d.test", "pw")
            self.assertEqual(sorted(OutboxMessage.objects.values_list("peer", flat=True)), ["a.test", "b.test"])
            outbox.deliver()
        self.assertEqual(len(live.received), 1)
        self.assertEqual(list(OutboxMessage.objects.values_list("peer", flat=True)), ["a.test"])




class HealthCheck(TestCase):
    def test_usersync_test_pings_through_the_peer_inbox_and_opens_its_pong(self) -> None:
        from io import StringIO

        from django.core.management import CommandError, call_command

        peer = Peer([])
        self.addCleanup(peer.close)

        def answer_pong(body: str) -> Tuple[int, Any]:
            opened = A.open_action(body, "127.0.0.1")
            return 200, {"result": "pong", "message": A.pong(opened)["message"]}

        # The scripted peer answers each ping with a pong the a.test context seals.
        handler = peer.server.RequestHandlerClass
        original = handler.do_POST

        def do_post(h: Any) -> None:
            body = h.rfile.read(int(h.headers["Content-Length"])).decode()
            status, data = answer_pong(body)
            raw = json.dumps(data).encode()
            h.send_response(status)
            h.send_header("Content-Length", str(len(raw)))
            h.end_headers()
            h.wfile.write(raw)

        handler.do_POST = do_post
        self.addCleanup(setattr, handler, "do_POST", original)
        out = StringIO()
        with self.settings(USERSYNC=d_settings(url=peer.url, inbox="/inbox", ip_allow=["127.0.0.1/32"])):
            call_command("usersync_test", "a.test", stdout=out)
        self.assertIn("a.test: the link works both ways", out.getvalue())
        # d.test sends a.test create/update/delete/password (all accepted there); it accepts
        # logout, which a.test's send policy has too: a two-way link with nothing missing.
        self.assertNotIn("one-way", out.getvalue())
        with self.settings(USERSYNC=d_settings(url=peer.url, inbox="/inbox", ip_allow=["192.0.2.0/24"])):
            with self.assertRaisesMessage(CommandError, "refused here: ip_not_allowed"):
                call_command("usersync_test", "a.test", stdout=StringIO())
        dead = f"http://127.0.0.1:{free_port()}"
        with self.settings(USERSYNC=d_settings(url=dead)):
            with self.assertRaisesMessage(CommandError, "unreachable"):
                call_command("usersync_test", "a.test", stdout=StringIO())
