"""The app's tables: linked identities (the uid of each linked account), the outbox (one row
per event and peer), the replay record (each applied event by (iss, eid), each used ticket by
(iss, jti)), the activity log, and the sessions single sign-on and logout need to know."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Link(models.Model):
    """A local account's network-wide uid (docs/protocol.md §15). Both unique: no uid names two
    accounts, no account has two. Accounts without one are not synced and untouchable by peers."""

    # base64url: compared byte for byte (PostgreSQL compares text with = exactly).
    uid = models.CharField(max_length=22, primary_key=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usersync_link")
    linked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} = {self.uid}"


class OutboxMessage(models.Model):
    """One event for one peer, waiting to be delivered; sealed afresh at every attempt, with the
    event's own eid (so the peer applies it once)."""

    peer = models.CharField(max_length=128)
    eid = models.CharField(max_length=22)
    user_id = models.BigIntegerField(null=True)
    act = models.CharField(max_length=16)
    login = models.CharField(max_length=150)
    event = models.JSONField()
    created_at = models.DateTimeField()
    attempts = models.IntegerField(default=0)
    next_attempt = models.DateTimeField()
    last_error = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["peer", "id"])]

    def __str__(self) -> str:
        return f"{self.act} {self.login} → {self.peer}"


class Seen(models.Model):
    """Replay record: an applied event (iss, eid) or a used ticket (iss, jti), until exp."""

    iss = models.CharField(max_length=128)
    msg_id = models.CharField(max_length=22)
    exp = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["iss", "msg_id"], name="usersync_seen_once")]


class LogEntry(models.Model):
    """What came in and went out, with the reason for every refusal (never a secret)."""

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    direction = models.CharField(max_length=3)  # "in" | "out"
    peer = models.CharField(max_length=128, blank=True, default="")
    act = models.CharField(max_length=16, blank=True, default="")
    login = models.CharField(max_length=150, blank=True, default="")
    eid = models.CharField(max_length=22, blank=True, default="")
    result = models.CharField(max_length=16)
    reason = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name_plural = "log entries"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.direction} {self.act} {self.login} {self.result}"


class UserSession(models.Model):
    """A Django session of a user, as the target check describes sessions (docs/protocol.md
    §15): for one started by single sign-on the peer (iss) and peer session (sid) it came from;
    for a local one the peers it sent tickets to."""

    session_key = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usersync_sessions")
    iss = models.CharField(max_length=128, blank=True, default="")
    sid = models.CharField(max_length=128, blank=True, default="")
    peers = models.JSONField(default=list)


class PeerCheck(models.Model):
    """The last link health check of one peer (health.py): when, whether it worked, what it said
    in plain words, and the last time it worked. The peers themselves are configuration."""

    peer = models.CharField(max_length=128, primary_key=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    report = models.TextField(blank=True, default="")
    last_ok_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "peer"

    def __str__(self) -> str:
        return self.peer


class SyncPending(models.Model):
    """A uid the initial sync minted for a local account and sent to a peer, kept until the peer
    has answered for it: a run sent again after an interruption sends the same uid, so nothing
    is created twice (docs/protocol.md §18)."""

    peer = models.CharField(max_length=128)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    uid = models.CharField(max_length=22)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["peer", "user"], name="usersync_sync_pending_once")]
