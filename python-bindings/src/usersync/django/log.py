"""The activity log: one line per message in or out (reasons are library codes or plain words,
never a secret). Old lines go after LOG_DAYS (default 30)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from . import conf
from .models import LogEntry


def add(direction: str, peer: str, act: str, login: str, result: str, reason: str = "", eid: str = "") -> None:
    LogEntry.objects.create(direction=direction, peer=peer[:128], act=act[:16], login=login[:150], eid=eid[:22],
                            result=result[:16], reason=reason[:255])
    if random.randint(1, 100) == 1:
        LogEntry.objects.filter(time__lt=timezone.now() - timedelta(days=conf.setting("LOG_DAYS", 30))).delete()
