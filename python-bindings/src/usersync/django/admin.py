"""Admin pages: the peers with their link health and a "Test link" action (health.py), the
linked identities, the outbox (what waits for which peer, and why) and the activity log — all
read-only. Secrets are configuration and appear nowhere here."""

from __future__ import annotations

from typing import Any, Dict, Optional

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from . import conf, health
from .models import Link, LogEntry, OutboxMessage, PeerCheck


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _policy(peer_id: str) -> Dict[str, Any]:
    p = conf.peer(peer_id) or {}
    return {"url": p.get("url", ""), "send": ", ".join(p.get("send", {}).get("actions", [])) or "nothing",
            "accept": ", ".join(p.get("accept", {}).get("actions", [])) or "nothing"}


@admin.register(PeerCheck)
class PeerAdmin(ReadOnly):
    """One row per configured peer: its URL and policies (from settings), its last link check."""

    list_display = ("peer", "url", "sends", "accepts", "link", "checked_at", "last_ok_at")
    readonly_fields = ("peer", "url", "sends", "accepts", "link", "report", "checked_at", "last_ok_at")
    fields = readonly_fields
    actions = ["test_link"]

    def get_queryset(self, request: HttpRequest) -> "QuerySet[PeerCheck]":
        return super().get_queryset(request).filter(peer__in=[str(p["id"]) for p in conf.peers()])

    def changelist_view(self, request: HttpRequest, extra_context: Optional[Dict[str, Any]] = None) -> HttpResponse:
        # The peers are configuration: each configured one has a row to act on.
        for p in conf.peers():
            PeerCheck.objects.get_or_create(peer=str(p["id"])[:128])
        return super().changelist_view(request, extra_context)

    @admin.display(description="URL")
    def url(self, obj: PeerCheck) -> str:
        return str(_policy(obj.peer)["url"])

    @admin.display(description="sends")
    def sends(self, obj: PeerCheck) -> str:
        return str(_policy(obj.peer)["send"])

    @admin.display(description="accepts")
    def accepts(self, obj: PeerCheck) -> str:
        return str(_policy(obj.peer)["accept"])

    @admin.display(description="link")
    def link(self, obj: PeerCheck) -> str:
        if obj.checked_at is None:
            return "not tested yet"
        return "works" if obj.ok else obj.report.splitlines()[0] if obj.report else "failed"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a configured peer is removed in settings

    def has_test_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff
                    and request.user.has_perm("usersync.view_peercheck"))

    @admin.action(description="Test link (a ping through the peer's inbox)", permissions=["test"])
    def test_link(self, request: HttpRequest, queryset: "QuerySet[PeerCheck]") -> None:
        for row in queryset:
            result = health.check_and_keep(row.peer)
            self.message_user(request, result.text(), messages.SUCCESS if result.ok else messages.ERROR)


@admin.register(Link)
class LinkAdmin(ReadOnly):
    list_display = ("user", "uid", "linked_at")
    search_fields = ("user__username", "user__email", "uid")


@admin.register(OutboxMessage)
class OutboxAdmin(ReadOnly):
    list_display = ("id", "peer", "act", "login", "attempts", "next_attempt", "last_error")
    list_filter = ("peer", "act")
    exclude = ("event",)  # it may hold a password hash


@admin.register(LogEntry)
class LogAdmin(ReadOnly):
    list_display = ("time", "direction", "peer", "act", "login", "result", "reason")
    list_filter = ("direction", "peer", "result")
    search_fields = ("login", "eid")
