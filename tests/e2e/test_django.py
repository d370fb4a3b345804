#!/usr/bin/env python3
"""End-to-end: a WordPress site A (Debian's WordPress 6.8, nginx + php-fpm, MariaDB, the plugin)
and a Django 5.2 site D (gunicorn behind nginx, PostgreSQL, the usersync app from the wheel)
linked by one secret keep their users in sync both ways, with one password on both.

    python3 tests/e2e/test_django.py [--measure]   (KEEP=1 keeps the sites' folder)

With --measure (make bench-django) it also times a change on A until it is applied on D; the
figures are printed for docs/benchmarks.md, never asserted.

Checks: the link check both ways (each host's ping through the other's inbox); a sign-up on A reaches D linked by the same uid and logs in through D's real login form
with the password chosen on A (D then stores a Django hash of its own and sends nothing); a
password changed in D's password form logs in on A (A then stores a WordPress hash); email,
names, group/role and delete both ways; and A's link secret alone, forging any message, cannot
touch D's superuser or staff, linked or not, nor D's unlinked accounts, nor grant privileges
(D's rows compared before and after); single sign-on and logout everywhere both ways in
Debian's Chromium (django_sso.py: both sites over HTTPS with a test CA); and D's initial sync of
its accounts from before the link (`manage.py usersync_sync a.test [--dry-run]`).
"""
import base64
import http.cookiejar
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "django"))
from checks import check, failed, secret, summary  # noqa: E402
from sites import Env  # noqa: E402
from host import DjangoSite  # noqa: E402  (scripts/django/host.py)
import django_sso  # noqa: E402

ACTIONS = ["create", "update", "delete", "password"]
SSO = ["login", "logout"]  # single sign-on and logout everywhere, both ways (django_sso.py)
ROLES = ["subscriber", "editor"]


def wait_for(predicate, timeout=20.0, every=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


class Browser:
    """A browser enough for Django's forms: cookies, CSRF tokens, redirects not followed."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, url, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=data), timeout=30) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def form(self, url, fields):
        _, _, page = self.request(url)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        return self.request(url, dict(fields, csrfmiddlewaretoken=token))

    def whoami(self, base):
        return json.loads(self.request(base + "/whoami")[2])["user"]


def django_login(d, login, password):
    """Logs in through D's real login form; returns the browser when it worked."""
    b = Browser()
    status, headers, _ = b.form(d.url + "/accounts/login/", {"username": login, "password": password, "next": "/whoami"})
    return b if status == 302 and headers.get("Location") == "/whoami" and b.whoami(d.url) == login else None


def wp_login(env, site, name, password):
    s = env.sites[site]
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-D", "-", "--cacert", env.ca, "--resolve", f"{s['host']}:{s['port']}:127.0.0.1",
         "-b", "wordpress_test_cookie=WP%20Cookie%20check",
         "--data-urlencode", f"log={name}", "--data-urlencode", f"pwd={password}", "-d", "wp-submit=Log+In", "-d", "testcookie=1",
         env.sites[site]["url"] + "/wp-login.php"], capture_output=True, text=True, check=True).stdout
    return " 302" in out.splitlines()[0] and "wordpress_logged_in_" in out


def main():
    base = random.randint(20000, 40000)
    pa, pd = base, base + 1
    link = secret()
    env = Env()
    d = None
    try:
        # Over HTTPS with a test CA, as single sign-on needs (its cookies are SameSite=None; Secure):
        # browsers reach https://a.test and https://d.test; the sites post to each other, and the
        # tests to them, on their plain loopback ports.
        env.tls(["a.test", "d.test"])
        d_url, d_internal = f"https://d.test:{pd}", f"http://127.0.0.1:{pd + 2000}"
        env.add_site("a", pa, {"USERSYNC_RETRY_BASE": 1, "USERSYNC_HTTP_TIMEOUT": 6, "USERSYNC_SITE_ID": "a.test",
                               "WP_ACCESSIBLE_HOSTS": "127.0.0.1",
                               "USERSYNC_PEERS": [{"id": "d.test", "url": d_url, "deliver_to": d_internal, "inbox": "/usersync/inbox",
                                                   "secrets": [link],
                                                   "send": {"actions": ACTIONS + SSO, "roles": ROLES},
                                                   "accept": {"actions": ACTIONS + SSO, "roles": ROLES}}]}, host="a.test")
        d = DjangoSite(env.work, "d", pd, {
            "SITE_ID": "d.test", "URL": d_url, "TRUSTED_PROXIES": ["127.0.0.1/32"], "RETRY_BASE": 1, "HTTP_TIMEOUT": 6,
            "PEERS": [{"id": "a.test", "url": env.sites["a"]["url"], "deliver_to": env.sites["a"]["internal"],
                       "ip_allow": ["127.0.0.1/32"],
                       "send": {"actions": ACTIONS + SSO, "roles": ROLES}, "accept": {"actions": ACTIONS + SSO, "roles": ROLES},
                       "groups": {"subscriber": "Members", "editor": "Editors"}}],
        }, {"a.test": link}, tls=("d.test", env.cert, env.key))
        # D's own accounts from before the link: its superuser and a staff member, and a member.
        d.do("create_user", usersync=False, login="root", email="root@d.test", password="root pw", superuser=True)
        d.do("create_user", usersync=False, login="staffer", email="staffer@d.test", password="staff pw", staff=True)
        d.do("create_user", usersync=False, login="dave", email="dave@d.test", password="dave pw", groups=["Members"])
        d.start()
        health(env, d)
        passwords(env, d)
        both_ways(env, d)
        attacks(env, d, link)
        if "--measure" not in sys.argv:
            django_sso.run(env, d, link)
            initial_sync(env, d)
        else:
            measure(env, d)
    finally:
        if failed():
            print(f"sites kept in {env.work}" if os.environ.get("KEEP") else "", flush=True)
        if d:
            d.close()
        env.close()
    return summary("end-to-end WordPress <-> Django")


def health(env, d):
    """The link check both ways through the real inboxes: each host's ping, the other's pong."""
    out = d.manage("usersync_test", "a.test")
    check("a.test: the link works both ways" in out and "one-way" not in out, f"D's usersync_test against A: {out!r}")
    result = env.wp("a", "health_test", peer="d.test")
    check(result["ok"] and result["version"], f"A's link check (Test link) against D: {result.get('code')} {result.get('message')}")


def d_user(d, login):
    return d.do("get_user", login=login)


def a_user(env, login):
    return env.wp("a", "get_user", login=login)


def passwords(env, d):
    env.wp("a", "create_user", login="alice", email="alice@a.test", password="alice's password on A", role="subscriber")
    check(wait_for(lambda: d_user(d, "alice")["exists"], 10), "a sign-up on A reaches D")
    alice = d_user(d, "alice")
    check(alice["uid"] is not None and alice["uid"] == env.wp("a", "uid", login="alice"), "D links it by A's uid")
    check(alice["groups"] == ["Members"] and not alice["is_staff"] and not alice["is_superuser"],
          "A's subscriber role is D's Members group, nothing more")
    a_hash = a_user(env, "alice")["pass_hash"]
    check(alice["password"] == "usersync_wp$" + a_hash and a_hash.startswith("$wp$2y$"), "D stores A's hash as it came")

    check(django_login(d, "alice", "alice's password on A!") is None, "a wrong password does not log in on D")
    browser = django_login(d, "alice", "alice's password on A")
    check(browser is not None, "alice logs in through D's login form with the password chosen on A")
    after = d_user(d, "alice")["password"]
    check(after.startswith("pbkdf2_sha256$"), "D re-hashed it with its own hasher at that login")
    check(d.do("outbox") == [] and a_user(env, "alice")["pass_hash"] == a_hash,
          "the re-hash stays on D (nothing sent; A keeps its hash)")

    status, headers, _ = browser.form(d.url + "/accounts/password_change/", {
        "old_password": "alice's password on A", "new_password1": "changed on D, 2nd", "new_password2": "changed on D, 2nd"})
    check(status == 302, "alice changes her password in D's password form")
    d_hash = d_user(d, "alice")["password"]
    # Delivered after D's response (no cron here).
    check(wait_for(lambda: a_user(env, "alice")["pass_hash"] == d_hash, 10), "D's new Django hash reaches A, after the response")
    check(wp_login(env, "a", "alice", "changed on D, 2nd"), "alice logs in on A with the password set on D")
    check(not wp_login(env, "a", "alice", "alice's password on A"), "the old password no longer works on A")
    now = a_user(env, "alice")["pass_hash"]
    check(now.startswith("$wp$2y$"), "A re-hashed it natively at that login")
    time.sleep(0.5)
    check(d_user(d, "alice")["password"] == d_hash and not env.wp("a", "outbox"),
          "the re-hash stays on A (nothing sent; D keeps its hash)")
    check(wp_login(env, "a", "alice", "changed on D, 2nd"), "and the WordPress hash logs in on A")


def both_ways(env, d):
    env.wp("a", "update_user", login="alice", set={"user_email": "alice@new.test", "first_name": "Alice", "last_name": "Liddell"})
    check(wait_for(lambda: (lambda u: (u["email"], u["first_name"], u["last_name"]))(d_user(d, "alice"))
                   == ("alice@new.test", "Alice", "Liddell"), 10), "email and names from A reach D")
    env.wp("a", "set_role", login="alice", role="editor")
    check(wait_for(lambda: d_user(d, "alice")["groups"] == ["Editors"], 10), "a role change on A is D's group change")
    env.wp("a", "set_role", login="alice", role="administrator")
    time.sleep(1)
    u = d_user(d, "alice")
    check(u["groups"] == ["Editors"] and not u["is_superuser"] and not u["is_staff"], "A's administrator never reaches D")
    env.wp("a", "set_role", login="alice", role="editor")

    d.do("update_user", login="alice", set={"email": "alice@d.test", "last_name": "L."})
    d.do("deliver")
    a = a_user(env, "alice")
    check(a["email"] == "alice@d.test" and a["meta"].get("last_name") == ["L."], "email and name from D reach A (usersync_deliver)")
    d.do("set_groups", login="alice", groups=["Members"])
    d.do("deliver")
    check(a_user(env, "alice")["roles"] == ["subscriber"], "a group change on D is A's role change")

    erin = d.do("create_user", login="erin", email="erin@d.test", password="erin pw", groups=["Members"])
    d.do("deliver")
    a = a_user(env, "erin")
    check(a["exists"] and a["roles"] == ["subscriber"] and env.wp("a", "uid", login="erin") == erin["uid"],
          "a sign-up on D reaches A linked by D's uid, Members as subscriber")
    check(wp_login(env, "a", "erin", "erin pw"), "erin logs in on A with the password chosen on D")
    env.wp("a", "delete_user", login="erin")
    check(wait_for(lambda: not d_user(d, "erin")["exists"], 10), "a delete on A reaches D")

    env.wp("a", "create_user", login="frank", email="frank@a.test", password="frank pw", role="subscriber")
    check(wait_for(lambda: d_user(d, "frank")["exists"], 10), "frank reaches D")
    d.do("delete_user", login="frank")
    d.do("deliver")
    check(not a_user(env, "frank")["exists"], "a delete on D reaches A")
    check(d.do("outbox") == [] and env.wp("a", "outbox") == [], "both outboxes are empty")


def fresh():
    """A new uid or jti: 16 random bytes in canonical base64url."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def rows(d):
    """Everything D keeps about accounts, to compare before and after the attacks."""
    return d.sql("SELECT 'u', id, username, email, password, first_name, last_name, is_staff, is_superuser, is_active FROM auth_user "
                 "UNION ALL SELECT 'l', user_id, uid, '', '', '', '', false, false, false FROM usersync_link "
                 "UNION ALL SELECT 'g', user_id, group_id::text, '', '', '', '', false, false, false FROM auth_user_groups "
                 "ORDER BY 1, 2, 3")


def attacks(env, d, link):
    # Linked accounts D made privileged: gina staff, hank superuser (their own admin's doing).
    for login, flags in (("gina", {"is_staff": True}), ("hank", {"is_superuser": True, "is_staff": True})):
        env.wp("a", "create_user", login=login, email=f"{login}@a.test", password=f"{login} pw", role="subscriber")
        wait_for(lambda: d_user(d, login)["exists"], 10)
        d.do("update_user", login=login, set=flags)
        d.do("deliver")
    uid = {u: d_user(d, u)["uid"] for u in ("gina", "hank", "alice")}
    check(all(uid.values()), "gina, hank and alice are linked on D")
    before = rows(d)
    hash_ = env.wp("a", "hash_password", password="attacker's")

    def forge(act, data):
        now = int(time.time())
        claims = {"v": 1, "typ": "action", "iss": "a.test", "aud": "d.test", "iat": now, "exp": now + 60,
                  "jti": fresh(),
                  "act": act, "data": data}
        message = env.wp("a", "seal", secrets=[link], aad="usersync/v1|action|a.test|d.test", claims=claims)
        out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-H", "Content-Type: text/plain", "--data-binary", "@-",
                              d.url + "/usersync/inbox"], input=message, text=True, capture_output=True, check=True).stdout
        body, _, code = out.rpartition("\n")
        return int(code), json.loads(body).get("reason")

    for login in ("gina", "hank"):
        for act, data in (("update", {"email": f"{login}@evil.test", "roles": ["subscriber"]}),
                          ("password", {"pass_hash": hash_}), ("delete", {})):
            got = forge(act, {"uid": uid[login], "login": login, **data})
            check(got == (403, "protected_account"), f"A's secret cannot {act} D's {'staff' if login == 'gina' else 'superuser'} {login}: {got}")
    for login, email in (("root", "x@evil.test"), ("staffer", "y@evil.test"), ("dave", "z@evil.test"), ("new1", "root@d.test"),
                         ("new2", "dave@d.test")):
        got = forge("create", {"uid": fresh(), "login": login, "email": email})
        check(got == (409, "identity_conflict"), f"a create naming D's unlinked {login}/{email} never merges: {got}")
    for login in ("root", "staffer", "dave"):
        got = forge("password", {"uid": fresh(), "login": login, "pass_hash": hash_})
        check(got == (404, "unknown_account"), f"a password for D's unlinked {login} reaches nothing: {got}")
    for role in ("administrator", "staff"):
        got = forge("create", {"uid": fresh(), "login": "mallory", "email": "m@evil.test", "roles": [role]})
        check(got == (400, "privileged_role"), f"A's secret cannot create a D account with {role}: {got}")
        got = forge("update", {"uid": uid["alice"], "login": "alice", "email": "alice@d.test", "roles": [role]})
        check(got == (400, "privileged_role"), f"A's secret cannot make alice {role} on D: {got}")
    check(rows(d) == before, "D's accounts, links and groups are exactly as before the attacks")
    log = d.do("log")
    check(sum(1 for e in log if e["direction"] == "in" and e["result"] == "refused") >= 17, "D's activity log shows every refusal")


def initial_sync(env, d):
    """manage.py usersync_sync a.test: D's accounts from before the link — dave (a member), root
    (superuser) and staffer (staff) — reconciled with A by the protocol's initial sync (§18)."""
    before = a_user(env, "dave")
    report = d.manage("usersync_sync", "a.test", "--dry-run")
    check("dave: would be created there" in report and "root: not sent: privileged_not_sent" in report
          and "staffer: not sent: privileged_not_sent" in report and "alice: linked already" in report,
          f"D's dry run reports dave to create, root and staffer kept home, alice linked: {report!r}")
    check(not before["exists"] and not a_user(env, "dave")["exists"] and d_user(d, "dave")["uid"] is None,
          "the dry run changes nothing on A or D")
    out = d.manage("usersync_sync", "a.test")
    dave = d_user(d, "dave")
    check("dave: were created there" in out and dave["uid"] is not None and env.wp("a", "uid", login="dave") == dave["uid"],
          f"the run creates dave on A and links him on D by the same uid: {out!r}")
    check(a_user(env, "dave")["roles"] == ["subscriber"] and wp_login(env, "a", "dave", "dave pw"),
          "dave is A's subscriber (Members) and logs in on A with his Django password")
    check(not a_user(env, "root")["exists"] and not a_user(env, "staffer")["exists"] and d_user(d, "root")["uid"] is None,
          "D's superuser and staff stay on D, unlinked")
    again = d.manage("usersync_sync", "a.test")
    check("dave: linked already" in again and "were created" not in again, f"a second run has nothing to do: {again!r}")


def measure(env, d):
    """A profile change made in a web request on A (a test-only endpoint, as a profile save
    would) until D has applied it (polled in D's PostgreSQL every 2 ms); then D's inbox alone."""
    endpoint = os.path.join(env.sites["a"]["path"], "wp-content", "mu-plugins", "usersync-e2e-endpoint.php")
    os.makedirs(os.path.dirname(endpoint), exist_ok=True)
    with open(endpoint, "w") as f:
        f.write("""<?php
// Test-only: changes a user inside a real web request, as a profile save would.
add_action('init', function () {
    if (!isset($_GET['usersync_e2e'])) { return; }
    $u = get_user_by('login', sanitize_user(wp_unslash($_GET['login'])));
    wp_update_user(['ID' => $u->ID, 'first_name' => sanitize_text_field(wp_unslash($_GET['name']))]);
    echo 'ok';
    exit;
});
""")
    times, requests = [], []
    for i in range(20):
        name = f"Alice{i}x{random.randint(0, 10**6)}"
        t0 = time.perf_counter()
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"{env.sites['a']['internal']}/?usersync_e2e=1&login=alice&name={name}"],
                       check=True)
        requests.append(time.perf_counter() - t0)
        ok = wait_for(lambda: d.sql(f"SELECT 1 FROM auth_user WHERE username = 'alice' AND first_name = '{name}'") != [],
                      every=0.002)
        times.append(time.perf_counter() - t0)
        check(ok, f"change {i} reached D")
    # The receiving half alone: D's inbox (nginx, gunicorn, Django: open, replay record, target
    # check, apply, commit) answering a message A's plugin sealed, timed around the HTTP call.
    uid = env.wp("a", "uid", login="alice")
    messages = [env.wp("a", "build", peer="d.test", event={"act": "update", "data": {
        "uid": uid, "login": "alice", "email": f"alice-in{i}@bench.test", "roles": ["subscriber"]}})[0]["message"]
        for i in range(20)]
    inbox = []
    for message in messages:
        t0 = time.perf_counter()
        out = subprocess.run(["curl", "-s", "-H", "Content-Type: text/plain", "--data-binary", "@-", d.url + "/usersync/inbox"],
                             input=message, text=True, capture_output=True, check=True).stdout
        inbox.append(time.perf_counter() - t0)
        assert json.loads(out)["result"] == "applied", out
    q = lambda xs: f"median {statistics.median(xs) * 1000:.0f} ms, p90 {sorted(xs)[int(len(xs) * 0.9) - 1] * 1000:.0f} ms"
    print(f"A→D: a profile update request on A until applied on D: {q(times)} (n={len(times)})")
    print(f"     that request on A, answered (delivery follows the response): {q(requests)}")
    print(f"     D's inbox alone, one sealed update from A over HTTP (curl): {q(inbox)}")


if __name__ == "__main__":
    sys.exit(main())
