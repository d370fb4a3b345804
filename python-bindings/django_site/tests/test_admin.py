"""The admin pages: the peers with their link health and the "Test link" action (a real ping
through a scripted peer inbox on loopback, the answer in plain words), the activity log; only
staff with the permission may run the check, and no secret appears anywhere."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User
from django.test import TestCase

from usersync.django.models import LogEntry, PeerCheck

from .helpers import SECRET, A, d_settings
from .test_outbox import Peer, free_port


class PeerAdmin(TestCase):
    def setUp(self) -> None:
        self.admin = User.objects.create_superuser("root", "root@d.test", "pw")
        self.client.force_login(self.admin)

    def test_the_peers_page_lists_each_configured_peer_without_secrets(self) -> None:
        with self.settings(USERSYNC=d_settings()):
            page = self.client.get("/admin/usersync/peercheck/").content.decode()
        self.assertIn("a.test", page)
        self.assertIn("not tested yet", page)
        self.assertIn("create, update, delete, password", page)
        self.assertNotIn(SECRET, page)
        self.assertNotIn(SECRET[5:20], page)

    def test_test_link_shows_the_result_in_plain_words_and_keeps_it(self) -> None:
        peer = Peer([])
        self.addCleanup(peer.close)
        handler = peer.server.RequestHandlerClass
        original = handler.do_POST

        def pong(h: Any) -> None:
            body = h.rfile.read(int(h.headers["Content-Length"])).decode()
            raw = json.dumps({"result": "pong", "message": A.pong(A.open_action(body, "127.0.0.1"))["message"]}).encode()
            h.send_response(200)
            h.send_header("Content-Length", str(len(raw)))
            h.end_headers()
            h.wfile.write(raw)

        handler.do_POST = pong
        self.addCleanup(setattr, handler, "do_POST", original)
        action = {"action": "test_link", "_selected_action": ["a.test"]}
        with self.settings(USERSYNC=d_settings(url=peer.url, inbox="/inbox")):
            self.client.get("/admin/usersync/peercheck/")
            r = self.client.post("/admin/usersync/peercheck/", action, follow=True)
        self.assertContains(r, ".test: the link works both ways (same secret, ids agree)")  # the admin capitalises it
        row = PeerCheck.objects.get(peer="a.test")
        self.assertTrue(row.ok and row.last_ok_at is not None)
        last_ok = row.last_ok_at
        with self.settings(USERSYNC=d_settings(url=f"http://127.0.0.1:{free_port()}")):
            r = self.client.post("/admin/usersync/peercheck/", action, follow=True)
        self.assertContains(r, ".test is unreachable at")
        row.refresh_from_db()
        self.assertEqual((row.ok, row.last_ok_at), (False, last_ok), "the last success is kept")
        with self.settings(USERSYNC=d_settings()):
            self.assertIn("is unreachable", self.client.get("/admin/usersync/peercheck/").content.decode())

    def test_only_staff_with_the_permission_may_test_a_link(self) -> None:
        clerk = User.objects.create_user("clerk", "clerk@d.test", "pw", is_staff=True)  # no usersync permission
        self.client.force_login(clerk)
        with self.settings(USERSYNC=d_settings(url=f"http://127.0.0.1:{free_port()}")):
            r = self.client.post("/admin/usersync/peercheck/", {"action": "test_link", "_selected_action": ["a.test"]})
        self.assertEqual(r.status_code, 403)
        self.assertFalse(PeerCheck.objects.filter(checked_at__isnull=False).exists())

    def test_the_activity_log_page_shows_reasons(self) -> None:
        LogEntry.objects.create(direction="in", peer="a.test", act="login", login="gina", result="refused", reason="protected_account")
        page = self.client.get("/admin/usersync/logentry/").content.decode()
        self.assertIn("protected_account", page)
        self.assertIn("gina", page)
