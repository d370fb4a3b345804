#!/usr/bin/env python3
"""WordPress and Django together: a WordPress site (Debian's WordPress 6.8, nginx + php-fpm,
MariaDB, the plugin) and a Django 5.2 site (gunicorn behind nginx, SQLite, the usersync app)
linked by one fresh secret.

    make demo-django      (or: python3 scripts/django/demo.py)

Prints both URLs and admin logins, signs a member up on WordPress and shows the account arriving
on Django, logs in on Django's own login form with the WordPress password, changes the password
on Django and logs in on WordPress with it. With a terminal attached the sites stay up until
you press Enter.
"""
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "tests", "e2e")]
from host import DjangoSite  # noqa: E402
from sites import Env  # noqa: E402
from test_django import django_login, wait_for, wp_login  # noqa: E402

ACTIONS = ["create", "update", "delete", "password"]


def main():
    secret = subprocess.run([os.path.join(ROOT, "target/release/usersync"), "secret"], capture_output=True, text=True,
                            check=True).stdout.strip()
    base = random.randint(20000, 40000)
    wp_url, dj_url = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"
    policy = {"actions": ACTIONS, "roles": ["subscriber"]}
    print("Setting up WordPress (MariaDB, nginx, php-fpm) and Django (gunicorn, nginx, SQLite)…", flush=True)
    env = Env()
    django = None
    try:
        env.add_site("blog", base, {"USERSYNC_SITE_ID": "blog.test", "USERSYNC_PEERS": [
            {"id": "members.test", "url": dj_url, "inbox": "/usersync/inbox", "secrets": [secret], "send": policy,
             "accept": policy}]})
        django = DjangoSite(env.work, "members", base + 1, {"SITE_ID": "members.test", "URL": dj_url, "TRUSTED_PROXIES": ["127.0.0.1/32"],
            "PEERS": [{"id": "blog.test", "url": wp_url, "send": policy, "accept": policy, "ip_allow": ["127.0.0.1/32"],
                       "groups": {"subscriber": "Members"}}]}, {"blog.test": secret}, postgres=False)
        admin_pw = os.urandom(9).hex()
        django.do("create_user", usersync=False, login="admin", email="admin@members.test", password=admin_pw, superuser=True)
        django.start()
        wp_pw = open(os.path.join(env.sites["blog"]["path"], ".admin-password")).read()
        print(f"  WordPress blog.test     {wp_url}/wp-admin/   admin / {wp_pw}")
        print(f"  Django    members.test  {dj_url}/admin/      admin / {admin_pw}  (its own superuser: no peer can touch it)")
        print("  The link secret lives in wp-config-local.php and in Django's environment, never in a database.\n")

        env.wp("blog", "create_user", login="alice", email="alice@example.com", password="correct horse battery", role="subscriber")
        print("  WordPress: alice signs up (subscriber)")
        arrived = wait_for(lambda: django.do("get_user", login="alice")["exists"], 10)
        alice = django.do("get_user", login="alice")
        print(f"  Django:    alice {'arrived' if arrived else 'did NOT arrive'}, uid {alice.get('uid')}, groups {alice.get('groups')}")
        ok = django_login(django, "alice", "correct horse battery") is not None
        print(f"  Django:    alice logs in on the login form with her WordPress password: {ok}; "
              f"stored now as {django.do('get_user', login='alice').get('password', '')[:14]}…")
        django.do("set_password", login="alice", password="a new password")
        django.do("deliver")
        print(f"  Django:    alice changes her password; WordPress login with it: {wp_login(env, 'blog', 'alice', 'a new password')}")
        print(f"\n  Try it: {dj_url}/accounts/login/ and {wp_url}/wp-login.php (alice / a new password)")
        if sys.stdin.isatty():
            input("\nThe sites are up. Press Enter to stop them. ")
        return 0 if arrived and ok else 1
    finally:
        if django:
            django.close()
        env.close()


if __name__ == "__main__":
    sys.exit(main())
