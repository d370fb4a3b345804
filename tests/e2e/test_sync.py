#!/usr/bin/env python3
"""End-to-end: three real WordPress sites A, B and C keep their users in sync through the
usersync plugin (Debian's WordPress 6.8, MariaDB, nginx + php-fpm with FFI preloaded).

    python3 tests/e2e/test_sync.py [--measure]   (KEEP=1 keeps the sites' folder for inspection)

With --measure (make bench-sync) it also times the request overhead and the time to sync; the
figures are printed for the benchmark doc, never asserted.

Links A–B and A–C, each with its own secret. A sends B everything but privileged roles, with
billing_* meta and password hashes, and B accepts that from A's address only; A sends C only
create/update/delete with the subscriber role, no meta and no passwords. Checks every change
reaches each peer with exactly what its policy allows, that nothing is lost while B is down,
and that bad messages are refused with the site's data untouched; measures request overhead
and time to sync.
"""
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, failed, secret, summary  # noqa: E402
import delivery  # noqa: E402
import health  # noqa: E402
import identity  # noqa: E402
import initial_sync  # noqa: E402
import sync_attacks  # noqa: E402
from sites import ROOT, Env  # noqa: E402





ALL = ["create", "update", "delete", "password", "meta", "logout"]


def wait_for(predicate, timeout=20.0, every=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


def main():
    base = random.randint(20000, 40000)
    ports = {"a": base, "b": base + 1, "c": base + 2}
    url = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
    ab, ac = secret(), secret()
    to_b = {"actions": ALL, "roles": ["subscriber", "editor"], "meta": ["billing_*"]}
    to_c = {"actions": ["create", "update", "delete"], "roles": ["subscriber"], "meta": []}
    env = Env()
    try:
        common = {"USERSYNC_RETRY_BASE": 1, "USERSYNC_HTTP_TIMEOUT": 6}
        env.add_site("a", ports["a"], dict(common, USERSYNC_SITE_ID="a.test", USERSYNC_PEERS=[
            {"id": "b.test", "url": url["b"], "secrets": [ab], "send": to_b, "accept": {"actions": ["create", "update"], "roles": ["subscriber"]}},
            {"id": "c.test", "url": url["c"], "secrets": [ac], "send": to_c},
        ]))
        env.add_site("b", ports["b"], dict(common, USERSYNC_SITE_ID="b.test", USERSYNC_PEERS=[
            {"id": "a.test", "url": url["a"], "secrets": [ab], "send": {"actions": ["create", "update"], "roles": ["subscriber"]},
             "accept": to_b, "ip_allow": ["127.0.0.1/32"]},
        ]))
        env.add_site("c", ports["c"], dict(common, USERSYNC_SITE_ID="c.test", USERSYNC_PEERS=[
            {"id": "a.test", "url": url["a"], "secrets": [ac], "accept": to_c},
        ]))
        sync_changes(env)
        identity.run(env, ab)
        outage(env)
        delivery.run(env)
        refusals(env, ab)
        administration(env, ab)
        health.run(env, ab)
        sync_attacks.run(env, ab)
        initial_sync.run(env, base + 3)  # three more sites on this MariaDB and php-fpm
        if "--measure" in sys.argv:
            measure(env, url)
        uninstall(env, "c")
    finally:
        if failed():
            print(f"sites kept in {env.work}" if os.environ.get("KEEP") else "", flush=True)
        env.close()
    return summary("end-to-end sync")


def user(env, site, login):
    return env.wp(site, "get_user", login=login)


def sync_changes(env):
    env.wp("a", "create_user", login="alice", email="alice@a.test", password="first password", role="subscriber",
           meta={"billing_city": "Oslo", "secret_note": "stays on A"})
    a, b, c = (user(env, s, "alice") for s in "abc")
    check(b["exists"] and b["email"] == "alice@a.test" and b["roles"] == ["subscriber"], "create reaches B")
    check(b["meta"].get("billing_city") == ["Oslo"] and "secret_note" not in b["meta"], "B gets billing_* meta only")
    check(b["pass_hash"] == a["pass_hash"] and a["pass_hash"].startswith("$wp$2y$"), "B gets the password hash")
    check(c["exists"] and c["roles"] == ["subscriber"], "create reaches C")
    check("billing_city" not in c["meta"] and c["pass_hash"] != a["pass_hash"], "C gets no meta and no password hash")
    check(c["pass_hash"] == "*" and not env.wp("c", "check_password", login="alice", password="*" * 4097)["ok"]
          and not env.wp("c", "check_password", login="alice", password="")["ok"],
          "C's account has no password anyone can use until one is set there (WordPress's '*')")
    check(not any(identity.password_login(env, "c", "alice", pw) for pw in ("*", "", "*" * 4097, "first password")),
          "an anonymous visitor at C's wp-login.php cannot sign in as alice with '*', nothing, the placeholder or A's password")

    env.wp("a", "update_user", login="alice", set={"user_email": "alice@new.test", "display_name": "Alice A."})
    check(all(user(env, s, "alice")["email"] == "alice@new.test" for s in "bc"), "an email change reaches B and C")
    check(user(env, "b", "alice")["display_name"] == "Alice A.", "a profile field reaches B")

    env.wp("a", "set_role", login="alice", role="editor")
    check(user(env, "b", "alice")["roles"] == ["editor"], "a role change reaches B")
    check(user(env, "c", "alice")["roles"] == ["subscriber"], "C is never sent the editor role")
    env.wp("a", "set_role", login="alice", role="administrator")
    check(user(env, "b", "alice")["roles"] == ["editor"], "administrator never leaves A (not in B's send policy)")

    env.wp("a", "update_meta", login="alice", key="billing_city", value="Bergen")
    env.wp("a", "update_meta", login="alice", key="favourite_colour", value="green")
    bm = user(env, "b", "alice")["meta"]
    check(bm.get("billing_city") == ["Bergen"] and "favourite_colour" not in bm, "allowed meta reaches B, other meta does not")

    env.wp("a", "set_password", login="alice", password="second password")
    a, b, c = (user(env, s, "alice") for s in "abc")
    check(b["pass_hash"] == a["pass_hash"], "a password change reaches B as the hash")
    check(c["pass_hash"] != a["pass_hash"], "C is not sent passwords")
    check(login(env, "b", "alice", "second password"), "alice logs in on B with the new password (wp-login.php)")
    check(not login(env, "b", "alice", "first password"), "the old password no longer works on B")

    env.wp("a", "create_user", login="dora", email="dora@a.test", password="pw", role="subscriber")
    env.wp("a", "delete_user", login="dora")
    check(not user(env, "b", "dora")["exists"] and not user(env, "c", "dora")["exists"], "a deletion reaches B and C")
    for s in "abc":
        log = env.wp(s, "log")
        check(not [r for r in log if r["result"] not in ("delivered", "applied", "duplicate")], f"{s}: no failures in the activity log")
        text = json.dumps(log)
        check("$wp$" not in text and "usk1_" not in text, f"{s}: no hashes or secrets in the activity log")


def login(env, site, name, password):
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-D", "-", "-b", "wordpress_test_cookie=WP%20Cookie%20check",
         "--data-urlencode", f"log={name}", "--data-urlencode", f"pwd={password}", "-d", "wp-submit=Log+In", "-d", "testcookie=1",
         env.sites[site]["url"] + "/wp-login.php"], capture_output=True, text=True, check=True).stdout
    return " 302" in out.splitlines()[0] and "wordpress_logged_in_" in out


def outage(env):
    env.stop("b")
    env.wp("a", "create_user", login="bob", email="bob@a.test", password="bob pw", role="subscriber")
    env.wp("a", "update_user", login="bob", set={"display_name": "Bob One"})
    env.wp("a", "set_role", login="bob", role="editor")
    env.wp("a", "update_meta", login="bob", key="billing_zip", value="0150")
    env.wp("a", "update_user", login="bob", set={"display_name": "Bob Final"})
    waiting = [r for r in env.wp("a", "outbox") if r["peer"] == "b.test"]
    check(len(waiting) == 5 and int(waiting[0]["attempts"]) >= 1, "while B is down its 5 events wait in A's outbox, in order")
    check(user(env, "c", "bob")["exists"], "C is not held up by B's outage")
    env.start("b")
    # Any request to A delivers what is due; the first retry is due a second after the failure.
    delivered = wait_for(lambda: (subprocess.run(["curl", "-s", "-o", "/dev/null", env.sites["a"]["url"] + "/"], check=False)
                                  and not env.wp("a", "outbox")), timeout=30, every=0.5)
    check(delivered, "after B returns, A's outbox drains")
    b = user(env, "b", "bob")
    check(b["exists"] and b["display_name"] == "Bob Final" and b["roles"] == ["editor"] and b["meta"].get("billing_zip") == ["0150"],
          "every change made during the outage arrived")
    applied = [r["act"] for r in env.wp("b", "log") if r["login"] == "bob" and r["result"] == "applied"]
    check(applied == ["create", "update", "update", "meta", "update"], f"in order: {applied}")


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(act, data, iss="a.test", aud="b.test"):
    now = int(time.time())
    return {"v": 1, "typ": "action", "iss": iss, "aud": aud, "iat": now, "exp": now + 60, "jti": b64u(os.urandom(16)), "act": act, "data": data}


def refusals(env, ab):
    inbox = "/?rest_route=/usersync/v1/inbox"
    uid = env.wp("a", "uid", login="alice")
    event = {"act": "update", "data": {"uid": uid, "login": "alice", "email": "alice@new.test", "fields": {"display_name": "Replayed"}}}
    msg = env.wp("a", "build", event=event, peer="b.test")[0]["message"]
    status, body = env.post("b", inbox, msg)
    check(status == 200 and body.get("result") == "applied", "a fresh message is applied")
    before = env.wp("b", "state")
    status, body = env.post("b", inbox, msg)
    check(status == 200 and body.get("result") == "duplicate" and env.wp("b", "state") == before, "a replay is answered duplicate, nothing changes")

    refused_before = len([r for r in env.wp("b", "log") if r["result"] == "refused"])
    aad = "usersync/v1|action|a.test|b.test"
    cases = [
        ("tampered", lambda: msg[:40] + ("A" if msg[40] != "A" else "B") + msg[41:], "127.0.0.1", 403, "authentication_failed"),
        ("from an unknown peer", lambda: env.wp("a", "seal", secrets=[secret()], aad="usersync/v1|action|x.test|b.test",
                                               claims=claims("update", {"uid": uid, "login": "alice", "email": "evil@x.test"}, iss="x.test")),
         "127.0.0.1", 403, "authentication_failed"),
        ("from an IP outside ip_allow", lambda: env.wp("a", "build", event=event, peer="b.test")[0]["message"], "127.0.0.2", 403, "ip_not_allowed"),
        ("administrator from a peer without permission", lambda: env.wp("a", "seal", secrets=[ab], aad=aad, claims=claims(
            "update", {"uid": uid, "login": "alice", "email": "alice@new.test", "roles": ["administrator"]})), "127.0.0.1", 400, "privileged_role"),
        ("wp_capabilities meta", lambda: env.wp("a", "seal", secrets=[ab], aad=aad, claims=claims(
            "meta", {"uid": uid, "login": "alice", "set": {"wp_capabilities": ['a:1:{s:13:"administrator";b:1;}']}})), "127.0.0.1", 400, "protected_meta"),
        ("a plaintext password in pass_hash", lambda: env.wp("a", "seal", secrets=[ab], aad=aad, claims=claims(
            "password", {"uid": uid, "login": "alice", "pass_hash": "hunter2hunter2"})), "127.0.0.1", 400, "pass_hash_format"),
    ]
    for what, make, source, want_status, want_reason in cases:
        message = make()
        before = env.wp("b", "state")
        status, body = env.post("b", inbox, message, source=source)
        check(status == want_status and isinstance(body, dict) and body.get("reason") == want_reason,
              f"{what}: refused {want_status} {want_reason} (got {status} {body})")
        check(env.wp("b", "state") == before, f"{what}: B's users and meta unchanged")
    refused = [r for r in env.wp("b", "log") if r["result"] == "refused"][refused_before:]
    check(len(refused) == len(cases), "each refusal is in B's activity log with its reason")


def curl(*args):
    return subprocess.run(["curl", "-s", *args], capture_output=True, text=True, check=True).stdout


def admin_session(env, site, jar, name="admin", password=None):
    password = password or open(os.path.join(env.sites[site]["path"], ".admin-password")).read()
    curl("-c", jar, "-b", "wordpress_test_cookie=WP%20Cookie%20check", "--data-urlencode", f"log={name}",
         "--data-urlencode", f"pwd={password}", "-d", "testcookie=1", env.sites[site]["url"] + "/wp-login.php")


def administration(env, ab):
    import re
    jar = os.path.join(env.work, "admin-cookies.txt")
    admin_session(env, "b", jar)
    page = curl("-b", jar, env.sites["b"]["url"] + "/wp-admin/options-general.php?page=usersync")
    check("a.test" in page and "127.0.0.1/32" in page and "(hidden" in page, "the settings page lists the peer, its policy and its allow-list")
    check(ab not in page and "usk1_" not in page, "the settings page never shows a secret")
    check("refused" in page and "privileged_role" in page, "the settings page shows the activity log with reasons")
    code = curl("-o", "/dev/null", "-w", "%{http_code}", "-b", jar, "-d", "action=usersync_clear_log", env.sites["b"]["url"] + "/wp-admin/admin-post.php")
    check(code == "403" and env.wp("b", "log"), "clearing the log without a nonce is refused")
    nonce = re.search(r'name="action" value="usersync_clear_log">\s*<input type="hidden" id="_wpnonce" name="_wpnonce" value="([0-9a-f]+)"', page)
    code = curl("-o", "/dev/null", "-w", "%{http_code}", "-b", jar, "-d", "action=usersync_clear_log", "-d", f"_wpnonce={nonce.group(1) if nonce else ''}",
                "-e", env.sites["b"]["url"] + "/wp-admin/options-general.php?page=usersync", env.sites["b"]["url"] + "/wp-admin/admin-post.php")
    check(code == "302" and env.wp("b", "log") == [], "with the page's nonce the log is cleared")
    sub = os.path.join(env.work, "subscriber-cookies.txt")
    env.wp("b", "create_user", login="sam", email="sam@b.test", password="sam password", role="subscriber")
    admin_session(env, "b", sub, "sam", "sam password")
    code = curl("-o", "/dev/null", "-w", "%{http_code}", "-b", sub, env.sites["b"]["url"] + "/wp-admin/options-general.php?page=usersync")
    check(code == "403", "a subscriber cannot open the settings page")

    # A broken configuration is explained to administrators, not hidden.
    local = os.path.join(env.sites["c"]["path"], "wp-config-local.php")
    original = open(local).read()
    try:
        with open(local, "w") as f:
            f.write(original.replace("usk1_", "usk1_broken"))
        time.sleep(1.1)
        cjar = os.path.join(env.work, "c-cookies.txt")
        admin_session(env, "c", cjar)
        dash = curl("-b", cjar, env.sites["c"]["url"] + "/wp-admin/")
        check("usersync is not syncing users:" in dash and "peers[0].secrets[0]" in dash and "usk1_broken" not in dash,
              "a bad secret shows an admin notice naming the field, not the value")
    finally:
        with open(local, "w") as f:
            f.write(original)
        time.sleep(1.1)


def uninstall(env, site):
    env.php(site, "-r", f"$_SERVER['HTTP_HOST']='127.0.0.1'; define('WP_USE_THEMES', false); require '{env.sites[site]['path']}/wp-load.php';"
            "require_once ABSPATH . 'wp-admin/includes/plugin.php'; deactivate_plugins('usersync/usersync.php'); uninstall_plugin('usersync/usersync.php');")
    tables = env.sql(f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='usersync_{site}' AND table_name LIKE 'wp\\_usersync\\_%'")
    options = env.sql(f"SELECT COUNT(*) FROM usersync_{site}.wp_options WHERE option_name LIKE 'usersync\\_%'")
    check(tables == "0" and options == "0", f"uninstall on {site} drops the plugin's tables and options ({tables} tables, {options} options left)")


def measure(env, url):
    """Request time on A with 0/1/5/20 peers (a sink answers for them), and time to sync."""
    endpoint = os.path.join(env.sites["a"]["path"], "wp-content", "mu-plugins", "usersync-e2e-endpoint.php")
    with open(endpoint, "w") as f:
        f.write("""<?php
// Test-only: changes a user inside a real web request, as a profile save would.
add_action('init', function () {
    if (!isset($_GET['usersync_e2e'])) { return; }
    $login = sanitize_user(wp_unslash($_GET['login']));
    if ('create' === $_GET['usersync_e2e']) {
        wp_insert_user(['user_login' => $login, 'user_email' => "$login@a.test", 'user_pass' => 'pw', 'role' => 'subscriber']);
    } else {
        $u = get_user_by('login', $login);
        $name = isset($_GET['name']) ? sanitize_text_field(wp_unslash($_GET['name'])) : 'n' . wp_rand();
        wp_update_user(['ID' => $u->ID, 'display_name' => $name]);
    }
    echo 'ok';
    exit;
});
""")
    # Time to sync: a sign-up on A until it exists on B and C.
    times = []
    for i in range(5):
        start = time.time()
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"{url['a']}/?usersync_e2e=create&login=timing{i}"], check=True)
        ok = wait_for(lambda: env.sql(f"SELECT (SELECT COUNT(*) FROM usersync_b.wp_users WHERE user_login='timing{i}')"
                                      f" + (SELECT COUNT(*) FROM usersync_c.wp_users WHERE user_login='timing{i}')") == "2", every=0.002)
        times.append(time.time() - start)
        check(ok, f"timing{i} reached B and C")
    print(f"time from a sign-up request on A until the user exists on B and C: median {statistics.median(times) * 1000:.1f} ms "
          f"(over 5 sign-ups; polled in MariaDB every 2 ms; B and C store no password hash on create)", flush=True)
    # Time to sync a profile change: the common case.
    times = []
    for i in range(10):
        name = f"Name {i} {random.randint(0, 10**6)}"
        start = time.time()
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"{url['a']}/?usersync_e2e=rename&login=timing0&name={name.replace(' ', '+')}"], check=True)
        ok = wait_for(lambda: env.sql(f"SELECT (SELECT COUNT(*) FROM usersync_b.wp_users WHERE display_name='{name}')"
                                      f" + (SELECT COUNT(*) FROM usersync_c.wp_users WHERE display_name='{name}')") == "2", every=0.002)
        times.append(time.time() - start)
        check(ok, f"rename {i} reached B and C")
    print(f"time from a profile update request on A until it is applied on B and C: median {statistics.median(times) * 1000:.1f} ms "
          f"(over 10 updates)", flush=True)

    sink_port = env.sites["c"]["port"] + 10
    sink_conf = os.path.join(env.work, "nginx-sink.conf")
    with open(sink_conf, "w") as f:
        f.write(f"""daemon on; pid {env.work}/nginx-sink.pid; error_log {env.work}/nginx-sink.log;
events {{ worker_connections 256; }}
http {{ access_log off; server {{ listen 127.0.0.1:{sink_port};
    location / {{ default_type application/json; return 200 '{{"result":"applied"}}'; }} }} }}
""")
    subprocess.run(["nginx", "-c", sink_conf, "-p", env.work], check=True)
    local = os.path.join(env.sites["a"]["path"], "wp-config-local.php")
    original = open(local).read()
    results = {}
    try:
        for n in (0, 1, 5, 20):
            peers = [{"id": f"p{i}.test", "url": f"http://127.0.0.1:{sink_port}/p{i}", "secrets": [secret()],
                      "send": {"actions": ALL, "roles": ["subscriber"], "meta": ["billing_*"]}} for i in range(n)]
            with open(local, "w") as f:
                f.write("<?php\n")
                f.write(f"define('USERSYNC_SITE_ID', 'a.test');\ndefine('USERSYNC_PEERS', json_decode({json.dumps(json.dumps(peers))}, true));\n")
            time.sleep(1.1)  # a new mtime for opcache (revalidate_freq=0 checks it on every request)
            samples = []
            for _ in range(40):
                out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", f"{url['a']}/?usersync_e2e=update&login=alice"],
                                     capture_output=True, text=True, check=True).stdout
                samples.append(float(out) * 1000)
            results[n] = statistics.median(samples[5:])
    finally:
        with open(local, "w") as f:
            f.write(original)
        subprocess.run(["nginx", "-c", sink_conf, "-p", env.work, "-s", "stop"], check=False)
    for n in (1, 5, 20):
        added = results[n] - results[0]
        print(f"profile update on A with {n:>2} peers: {results[n]:.2f} ms per request, {added:+.2f} ms over no peers", flush=True)


if __name__ == "__main__":
    sys.exit(main())
