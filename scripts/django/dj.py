"""Acts on a Django site from the command line the way its own code would (models and signals
as in a request; what it queues is delivered by `usersync_deliver`, as cron would):
    python dj.py COMMAND 'JSON arguments'   → JSON result on stdout
Run with the site's environment (scripts/django/host.py sets it)."""

import json
import sys

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from usersync.django.models import Link, LogEntry, OutboxMessage  # noqa: E402


def user_json(u):
    link = Link.objects.filter(user=u).first()
    return {"exists": True, "id": u.pk, "login": u.username, "email": u.email, "first_name": u.first_name,
            "last_name": u.last_name, "groups": sorted(u.groups.values_list("name", flat=True)),
            "is_staff": u.is_staff, "is_superuser": u.is_superuser, "password": u.password,
            "uid": link.uid if link else None}


command, args = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
out = None
with transaction.atomic():  # as ATOMIC_REQUESTS runs a view: the change and its events together
    if command == "create_user":
        maker = User.objects.create_superuser if args.get("superuser") else User.objects.create_user
        u = maker(args["login"], args["email"], args.get("password"), is_staff=args.get("staff", False) or args.get("superuser", False))
        for name in args.get("groups", []):
            u.groups.add(Group.objects.get_or_create(name=name)[0])
        out = user_json(u)
    elif command == "get_user":
        u = User.objects.filter(username=args["login"]).first()
        out = user_json(u) if u else {"exists": False}
    elif command == "update_user":
        u = User.objects.get(username=args["login"])
        for k, v in args["set"].items():
            setattr(u, k, v)
        u.save()
    elif command == "set_groups":
        u = User.objects.get(username=args["login"])
        u.groups.set([Group.objects.get_or_create(name=n)[0] for n in args["groups"]])
    elif command == "set_password":
        u = User.objects.get(username=args["login"])
        u.set_password(args["password"])
        u.save()
    elif command == "delete_user":
        User.objects.get(username=args["login"]).delete()
    elif command == "outbox":
        out = list(OutboxMessage.objects.order_by("id").values("peer", "act", "login", "attempts", "last_error"))
    elif command == "log":
        out = [dict(e, time=e["time"].timestamp()) for e in LogEntry.objects.order_by("id").values()]
if command == "deliver":
    call_command("usersync_deliver", verbosity=0)
print(json.dumps(out))
