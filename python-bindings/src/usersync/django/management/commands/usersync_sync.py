"""manage.py usersync_sync PEER [--dry-run] [--batch N]: the initial sync with one peer
(docs/protocol.md §18; initial_sync.py) — the accounts this site had before the link created or
linked there, each by a uid both sites then share. --dry-run only reports what would happen
(create, link, linked, collision, not sent) and changes nothing anywhere."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import initial_sync


class Command(BaseCommand):
    help = "The initial sync of this site's existing accounts with a peer (--dry-run: the report only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("peer")
        parser.add_argument("--dry-run", action="store_true", help="report what would happen; change nothing")
        parser.add_argument("--batch", type=int, default=initial_sync.BATCH, help="accounts per message (1-1000)")

    def handle(self, *args: Any, **options: Any) -> None:
        peer = options["peer"]
        try:
            if options["dry_run"]:
                result, _ = initial_sync.report(peer, options["batch"])
            else:
                result = initial_sync.run(peer, options["batch"])
        except initial_sync.SyncFailed as e:
            raise CommandError(str(e))
        verb = "would be" if options["dry_run"] else "were"
        counts = result.counts()
        self.stdout.write(f"{peer}: {len(result.accounts)} account(s) here; "
                          + ", ".join(f"{n} {do}" for do, n in sorted(counts.items())) + f" ({'dry run' if options['dry_run'] else 'done'})")
        words = {"create": f"{verb} created there", "link": f"{verb} linked to the account with its login and email there",
                 "linked": "linked already", "collision": "left alone (collision)", "not_sent": "not sent"}
        for a in result.accounts:
            self.stdout.write(f"  {a.login}: {words.get(a.do, a.do)}{': ' + a.reason if a.reason else ''}")
