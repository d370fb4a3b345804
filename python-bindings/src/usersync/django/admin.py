"""Read-only admin pages: the linked identities, the outbox (what waits for which peer, and
why) and the activity log. Secrets are configuration and appear nowhere here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Link, LogEntry, OutboxMessage


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
