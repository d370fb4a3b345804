#!/usr/bin/env python3
"""The main job: two real WordPress sites on this machine, linked by usersync.

    make demo      (or: python3 tests/e2e/demo.py)

Brings up shop.test and blog.test (Debian's WordPress 6.8 behind nginx + php-fpm, MariaDB, the
usersync plugin with FFI preloaded), links them with a fresh secret, prints their URLs and
admin logins, then signs a user up on the shop and shows the user arriving on the blog. With a
terminal attached it keeps the sites up until you press Enter, so you can log in and try.
"""
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from sites import ROOT, Env  # noqa: E402


def main():
    secret = subprocess.run([os.path.join(ROOT, "target/release/usersync"), "secret"], capture_output=True, text=True,
                            check=True).stdout.strip()
    base = random.randint(20000, 40000)
    shop, blog = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"
    policy = {"actions": ["create", "update", "delete", "password", "meta", "logout"], "roles": ["subscriber", "customer"],
              "meta": ["billing_*"]}
    print("Setting up two WordPress sites (MariaDB, nginx, php-fpm, the usersync plugin)…", flush=True)
    env = Env()
    try:
        env.add_site("shop", base, {"USERSYNC_SITE_ID": "shop.test", "USERSYNC_PEERS": [
            {"id": "blog.test", "url": blog, "secrets": [secret], "send": policy, "accept": policy}]})
        env.add_site("blog", base + 1, {"USERSYNC_SITE_ID": "blog.test", "USERSYNC_PEERS": [
            {"id": "shop.test", "url": shop, "secrets": [secret], "send": policy, "accept": policy,
             "ip_allow": ["127.0.0.1/32"]}]})
        for name in ("shop", "blog"):
            site = env.sites[name]
            password = open(os.path.join(site["path"], ".admin-password")).read()
            print(f"  {name}.test  {site['url']}/wp-admin/   admin / {password}")
        print("  Each site's wp-config-local.php holds its usersync settings; the link secret is never in a database.\n")

        print("A customer signs up on the shop:")
        env.wp("shop", "create_user", login="alice", email="alice@example.com", password="correct horse battery",
               role="subscriber", meta={"billing_city": "Oslo"})
        print("  shop: created alice (alice@example.com, subscriber, billing_city=Oslo)")
        start = time.time()
        while time.time() - start < 10:
            arrived = env.wp("blog", "get_user", login="alice")
            if arrived["exists"]:
                break
            time.sleep(0.1)
        print(f"  blog: alice {'arrived' if arrived['exists'] else 'did NOT arrive'}: {arrived.get('email')}, roles {arrived.get('roles')}, "
              f"billing_city {arrived.get('meta', {}).get('billing_city')}, same password hash: "
              f"{arrived.get('pass_hash') == env.wp('shop', 'get_user', login='alice')['pass_hash']}")
        env.wp("shop", "update_user", login="alice", set={"display_name": "Alice Example"})
        print(f"  shop: renamed her; blog now shows \"{env.wp('blog', 'get_user', login='alice')['display_name']}\"")
        print(f"  alice can log in on either site with the same password: {blog}/wp-login.php\n")
        for row in env.wp("blog", "log")[-3:]:
            print(f"  blog activity: {row['direction']} {row['act']} {row['login']} from {row['peer']}: {row['result']}")
        if sys.stdin.isatty():
            input("\nThe sites are up. Press Enter to stop them. ")
        return 0 if arrived["exists"] else 1
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
