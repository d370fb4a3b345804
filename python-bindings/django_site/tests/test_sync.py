"""manage.py usersync_sync PEER [--dry-run] against a scripted peer inbox on loopback whose
answers a second library context (a.test) makes with the protocol's rule (§18): the report
changes nothing; the run creates there and links here by the same uid, once; privileged
accounts are not sent; a second run finds everything linked."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any, Dict

from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import TestCase, override_settings

from usersync.django.models import Link, SyncPending

from .helpers import A, d_settings
from .test_outbox import Peer


class InitialSync(TestCase):
    def setUp(self) -> None:
        with override_settings(USERSYNC={}):  # accounts from before the link: not linked
            User.objects.create_superuser("root", "root@d.test", "pw")
            User.objects.create_user("bob", "bob@d.test", "bob pw")
            User.objects.create_user("carol", "carol@d.test", "carol pw", is_staff=True)
        self.assertEqual(Link.objects.count(), 0)
        self.there: Dict[str, Dict[str, Any]] = {}  # login -> {"uid"}: the peer's accounts
        self.batches = 0
        peer = Peer([])
        self.addCleanup(peer.close)
        handler = peer.server.RequestHandlerClass
        original = handler.do_POST
        test = self

        def answer(h: Any) -> None:
            opened = A.open_action(h.rfile.read(int(h.headers["Content-Length"])).decode(), "127.0.0.1")
            data = opened["data"]
            asked = data["accounts"] if opened["act"] == "probe" else data.get("create", []) + data.get("link", [])
            facts = []
            for acc in asked:
                mine = test.there.get(acc["login"])
                fact = {"id": 1, "uid": mine["uid"], "roles": []} if mine else None
                facts.append({"linked": fact if mine and mine["uid"] == acc.get("uid") else None, "by_login": fact, "by_email": fact})
            out = A.sync_answer(opened, {"accounts": facts})
            if opened["act"] == "sync":
                test.batches += 1
                for acc, result in zip(asked, out["results"]):
                    if result["do"] == "create":
                        test.there[acc["login"]] = {"uid": result["uid"], "pass_hash": acc.get("pass_hash")}
            raw = json.dumps({"result": "answered", "answer": out["message"]}).encode()
            h.send_response(200)
            h.send_header("Content-Length", str(len(raw)))
            h.end_headers()
            h.wfile.write(raw)

        handler.do_POST = answer
        self.addCleanup(setattr, handler, "do_POST", original)
        self.settings_ = d_settings(url=peer.url, inbox="/inbox")

    def sync(self, *args: str) -> str:
        out = StringIO()
        with self.settings(USERSYNC=self.settings_):
            call_command("usersync_sync", "a.test", *args, stdout=out)
        return out.getvalue()

    def test_the_dry_run_reports_and_changes_nothing(self) -> None:
        out = self.sync("--dry-run")
        self.assertIn("bob: would be created there", out)
        self.assertIn("root: not sent: privileged_not_sent", out)
        self.assertIn("carol: not sent: privileged_not_sent", out)
        self.assertEqual((Link.objects.count(), SyncPending.objects.count(), self.there, self.batches), (0, 0, {}, 0))

    def test_the_run_creates_there_links_here_once_and_keeps_privileged_accounts_home(self) -> None:
        out = self.sync()
        self.assertIn("bob: were created there", out)
        bob = User.objects.get(username="bob")
        self.assertEqual(bob.usersync_link.uid, self.there["bob"]["uid"], "linked here by the uid the peer got")
        self.assertEqual(self.there["bob"]["pass_hash"], bob.password, "the hash as it is stored (pbkdf2_sha256$)")
        self.assertEqual(set(self.there), {"bob"})
        self.assertFalse(Link.objects.filter(user__username__in=["root", "carol"]).exists())
        self.assertEqual(SyncPending.objects.count(), 0)
        again = self.sync()
        self.assertIn("bob: linked already", again)
        self.assertEqual(self.batches, 1, "nothing left to send")
