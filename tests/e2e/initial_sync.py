#!/usr/bin/env python3
"""End-to-end: the initial sync of accounts that existed before a link (docs/protocol.md §18),
on real sites (Debian's WordPress 6.8, MariaDB, nginx + php-fpm with FFI preloaded).

    python3 tests/e2e/initial_sync.py        (alone, on its own sites; KEEP=1 keeps them)

test_sync.py calls run(env, port) on its own environment: three fresh sites on its MariaDB and
php-fpm, D linked to E and to F (an initial sync needs sites whose accounts predate the link).

D and E each get accounts made while usersync was off (no uid, nothing sent): new ones, pairs
with the same login and email, collisions of every kind (a login or an email taken by another
account, a match that is an administrator or holds a role D may not grant there), D's own
administrator, and one account linked the ordinary way. Shown:
 1. the dry-run report (the functions behind `wp usersync sync E --dry-run`) is exactly right
    and changes nothing on either site;
 2. the run (batches of 2, killed right after E applied its second batch; a new report; then
    resumed) creates and links exactly what the report said, each account once, with the same
    uid on both sites; every collision's rows on E, and E's own accounts, are byte for byte as
    before;
 3. password hashes travel as they are: the created users log in on E through wp-login.php with
    their old passwords;
 4. the settings page in Chromium: the report made and read there, then carried out with the
    progress bar, for D and F; a screenshot goes to build/initial-sync.png (UPDATE_SCREENSHOT=1:
    to docs/initial-sync.png, the one readme.txt shows).
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, secret, summary  # noqa: E402
from sites import ROOT, Env  # noqa: E402

SEND = {"actions": ["create", "update", "password", "meta"], "roles": ["subscriber", "editor"], "meta": ["billing_*"]}
ACCEPT = {"actions": ["create", "update", "password", "meta"], "roles": ["subscriber", "editor"], "meta": ["billing_*"]}

WATCHER = """<?php
// Test-only (tests/e2e/initial_sync.py): another plugin watching the initial sync's bulk creates
// through usersync_sync_applied, recording the ids it is given in the option e2e_sync_applied.
add_action('usersync_sync_applied', function ($peer, $created, $linked) {
    $seen = json_decode((string) get_option('e2e_sync_applied', '[]'), true) ?: array();
    $seen[] = array('peer' => $peer, 'created' => $created, 'linked' => $linked);
    update_option('e2e_sync_applied', wp_json_encode($seen), false);
}, 10, 3);
"""

KILLER = """<?php
// Test-only (tests/e2e/initial_sync.py): ends this PHP process with SIGKILL when the peer has
// applied batch number E2E_KILL_AT of an initial sync run, before the answer is recorded here.
add_action('usersync_sync_batch_answered', function () {
    static $n = 0;
    if (getenv('E2E_KILL_AT') && ++$n === (int) getenv('E2E_KILL_AT')) {
        posix_kill(getmypid(), SIGKILL);
    }
});
"""


def local(env, site, login, email, password, role):
    env.wp(site, "create_local_user", login=login, email=email, password=password, role=role)


def rows_of(env, site, logins):
    """Every database row of these accounts on a site: wp_users, wp_usermeta, wp_usersync_links."""
    db = f"usersync_{site}"
    names = ",".join(f"'{n}'" for n in logins)
    ids = f"SELECT ID FROM {db}.wp_users WHERE user_login IN ({names})"
    return (env.sql(f"SELECT * FROM {db}.wp_users WHERE user_login IN ({names}) ORDER BY ID"),
            env.sql(f"SELECT * FROM {db}.wp_usermeta WHERE user_id IN ({ids}) ORDER BY umeta_id"),
            env.sql(f"SELECT * FROM {db}.wp_usersync_links WHERE user_id IN ({ids}) ORDER BY uid"))


def login_works(env, site, name, password):
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-D", "-", "-b", "wordpress_test_cookie=WP%20Cookie%20check",
         "--data-urlencode", f"log={name}", "--data-urlencode", f"pwd={password}", "-d", "wp-submit=Log+In", "-d", "testcookie=1",
         env.sites[site]["url"] + "/wp-login.php"], capture_output=True, text=True, check=True).stdout
    return " 302" in out.splitlines()[0] and "wordpress_logged_in_" in out


def setup(env, base):
    url = {k: f"http://127.0.0.1:{base + i}" for i, k in enumerate("def")}
    de, df = secret(), secret()
    common = {"USERSYNC_RETRY_BASE": 1, "USERSYNC_HTTP_TIMEOUT": 6}
    env.add_site("d", base, dict(common, USERSYNC_SITE_ID="d.test", USERSYNC_PEERS=[
        {"id": "e.test", "url": url["e"], "secrets": [de], "send": SEND, "accept": ACCEPT},
        {"id": "f.test", "url": url["f"], "secrets": [df], "send": SEND},
    ]))
    env.add_site("e", base + 1, dict(common, USERSYNC_SITE_ID="e.test", USERSYNC_PEERS=[
        {"id": "d.test", "url": url["d"], "secrets": [de], "send": SEND, "accept": ACCEPT, "ip_allow": ["127.0.0.1/32"]},
    ]))
    env.add_site("f", base + 2, dict(common, USERSYNC_SITE_ID="f.test", USERSYNC_PEERS=[
        {"id": "d.test", "url": url["d"], "secrets": [df], "accept": ACCEPT},
    ]))
    mu = os.path.join(env.sites["d"]["path"], "wp-content", "mu-plugins", "e2e-kill.php")
    with open(mu, "w") as f:
        f.write(KILLER)
    with open(os.path.join(env.sites["e"]["path"], "wp-content", "mu-plugins", "e2e-watch.php"), "w") as f:
        f.write(WATCHER)


# login: (email on D, role on D, what E has with that login or email, role there, report row)
ACCOUNTS = {
    "new1": ("new1@d.test", "subscriber", None, None, ("create", "")),
    "new2": ("new2@d.test", "editor", None, None, ("create", "")),
    "new3": ("new3@d.test", "subscriber", None, None, ("create", "")),
    "new4": ("new4@d.test", "subscriber", None, None, ("create", "")),
    "new5": ("new5@d.test", "subscriber", None, None, ("create", "")),
    "twin1": ("twin1@x.test", "subscriber", ("twin1", "twin1@x.test"), "subscriber", ("link", "")),
    "twin2": ("Twin2@X.test", "editor", ("twin2", "twin2@x.test"), "subscriber", ("link", "")),
    "clash": ("clash@d.test", "subscriber", ("clash", "clash@e.test"), "subscriber", ("collision", "login_taken")),
    "mailer": ("shared@x.test", "subscriber", ("mailer-e", "shared@x.test"), "subscriber", ("collision", "email_taken")),
    "boss": ("boss@x.test", "subscriber", ("boss", "boss@x.test"), "administrator", ("collision", "protected_account")),
    "writer": ("writer@x.test", "subscriber", ("writer", "writer@x.test"), "author", ("collision", "protected_account")),
}
COLLISIONS_ON_E = ["clash", "mailer-e", "boss", "writer", "eonly", "admin"]


def make_accounts(env):
    for login, (email, role, there, role_there, _) in ACCOUNTS.items():
        local(env, "d", login, email, f"{login} old password", role)
        if there:
            local(env, "e", there[0], there[1], f"{there[0]} password on e", role_there)
    local(env, "e", "eonly", "eonly@e.test", "eonly password", "subscriber")
    # One account linked the ordinary way: made on D while linked, so it reached E with its uid.
    env.wp("d", "create_user", login="synced", email="synced@d.test", password="synced pw", role="subscriber")


def expected_report():
    want = {login: v[4] for login, v in ACCOUNTS.items()}
    want["admin"] = ("not_sent", "privileged_not_sent")
    want["synced"] = ("linked", "")
    return want


def report_and_run(env):
    make_accounts(env)
    check(env.wp("e", "get_user", login="synced")["exists"], "the ordinarily synced account reached E")
    e_before = env.wp("e", "state")
    d_before = env.wp("d", "state")
    summary_ = env.wp("d", "sync_report", peer="e.test", batch=3)
    rows = {r["login"]: (r["verdict"], r["reason"]) for r in env.wp("d", "sync_rows", peer="e.test")}
    want = expected_report()
    check(rows == want, f"the dry-run report is exactly right: {sorted(set(rows.items()) ^ set(want.items()))}")
    check(summary_["counts"] == {"create": 5, "link": 2, "linked": 1, "collision": 4, "not_sent": 1} and summary_["total"] == 7,
          f"the report's counts: {summary_['counts']}")
    check(env.wp("e", "state") == e_before, "the dry run changed nothing on E")
    check(env.wp("d", "state") == d_before, "the dry run changed no account on D")
    e_log = [r for r in env.wp("e", "log") if r["act"] == "probe"]
    check(len(e_log) == 5 and all(r["result"] == "answered" for r in e_log), "E answered one probe per batch of 3 (13 accounts: 5 probes)")

    untouched = rows_of(env, "e", COLLISIONS_ON_E)
    hashes = {login: env.wp("d", "get_user", login=login)["pass_hash"] for login in ACCOUNTS}
    # The run in batches of 2, killed right after E applied the second batch: E has applied it,
    # D has not recorded it.
    proc = subprocess.Popen(["php", os.path.join(ROOT, "tests/e2e/wp.php"), env.sites["d"]["path"], "sync_run",
                             json.dumps({"peer": "e.test", "batch": 2})],
                            env=dict(os.environ, SITE_URL=env.sites["d"]["url"], E2E_KILL_AT="2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    check(proc.returncode == -signal.SIGKILL, f"the run was killed mid-way ({proc.returncode}: {err[-300:]})")
    pending = [r for r in env.wp("d", "sync_rows", peer="e.test") if r["verdict"] in ("create", "link") and r["state"] == ""]
    check(len(pending) == 5, f"after the kill, 5 of the 7 accounts wait on D (the killed batch among them): {len(pending)}")
    applied_on_e = sum(1 for n in ("new1", "new2", "new3", "new4") if env.wp("e", "get_user", login=n)["exists"])
    check(applied_on_e >= 3, f"E applied the batch D did not record ({applied_on_e} of the first accounts exist there)")
    # A new report after the interruption: what the first batch did is linked now; what E applied
    # from the killed batch is still to be linked here, with the uids the killed run sent.
    env.wp("d", "sync_report", peer="e.test", batch=5)
    rows = {r["login"]: (r["verdict"], r["reason"]) for r in env.wp("d", "sync_rows", peer="e.test")}
    want = dict(expected_report(), new1=("linked", ""), new2=("linked", ""), new3=("link", ""), new4=("link", ""))
    check(rows == want, f"a report made after the interruption: {sorted(set(rows.items()) ^ set(want.items()))}")
    result = env.wp("d", "sync_run", peer="e.test", batch=2)
    check(result["remaining"] == 0 and result["done"] == 5 and result["refused"] == 0, f"the resumed run finished: {result}")
    rows = env.wp("d", "sync_rows", peer="e.test")
    outcomes = {r["login"]: r["result"] for r in rows if r["state"] == "done"}
    check(outcomes == {"new3": "linked", "new4": "linked", "new5": "create", "twin1": "link", "twin2": "link"},
          f"the rest was done, and what E applied before the kill was answered 'linked': nothing twice ({outcomes})")

    d_links = {r["login"]: r["uid"] for r in env.wp("d", "links")}
    e_links = {r["login"]: r["uid"] for r in env.wp("e", "links")}
    for login in ["new1", "new2", "new3", "new4", "new5", "twin1", "twin2", "synced"]:
        check(d_links.get(login) and d_links.get(login) == e_links.get(login), f"{login}: linked with one uid on D and E")
    for login in ["clash", "mailer", "boss", "writer", "admin"]:
        check(login not in d_links, f"{login}: not linked on D")
    count = env.sql("SELECT user_login, COUNT(*) FROM usersync_e.wp_users GROUP BY user_login HAVING COUNT(*) > 1")
    check(count == "", f"no account exists twice on E ({count!r})")
    check(env.sql("SELECT COUNT(*) FROM usersync_e.wp_users") == str(2 + 1 + 6 + 5), "E holds its own accounts plus exactly the 5 created")
    check(rows_of(env, "e", COLLISIONS_ON_E) == untouched, "every collision's rows and E's own accounts are unchanged on E")
    for login in ["new1", "new2", "new5"]:
        e = env.wp("e", "get_user", login=login)
        check(e["pass_hash"] == hashes[login] and e["pass_hash"].startswith("$wp$2y$"), f"{login}: the hash reached E as it was")
        check(login_works(env, "e", login, f"{login} old password"), f"{login} logs in on E with the old password (wp-login.php)")
    new2 = env.wp("e", "get_user", login="new2")
    check(new2["roles"] == ["editor"] and new2["email"] == "new2@d.test", "a created account has its role and email")
    twin2 = env.wp("e", "get_user", login="twin2")
    check(twin2["roles"] == ["subscriber"] and twin2["email"] == "twin2@x.test", "a linked account keeps what it had on E")
    seen = json.loads(env.sql("SELECT option_value FROM usersync_e.wp_options WHERE option_name = 'e2e_sync_applied'") or "[]")
    ids = lambda names: sorted(int(env.sql(f"SELECT ID FROM usersync_e.wp_users WHERE user_login = '{n}'")) for n in names)  # noqa: E731
    created = sorted(i for s_ in seen for i in s_["created"])
    linked = sorted(i for s_ in seen for i in s_["linked"])
    check(created == ids(["new1", "new2", "new3", "new4", "new5"]) and linked == ids(["twin1", "twin2"])
          and all(s_["peer"] == "d.test" for s_ in seen), f"usersync_sync_applied told another plugin of each created and linked account once: {seen}")
    # Linked now: a change on D reaches E the ordinary way.
    env.wp("d", "update_user", login="twin1", set={"display_name": "Twin One"})
    check(env.wp("e", "get_user", login="twin1")["display_name"] == "Twin One", "after the link, a change on D reaches the linked account on E")
    # A second run does nothing.
    again = env.wp("d", "sync_run", peer="e.test", batch=2)
    check(again["remaining"] == 0 and again["done"] == 5, "running a finished report again sends nothing")


def browser_run(env):
    """The settings page in Chromium, for D and F: report, progress bar, outcome; a screenshot."""
    for i in range(1, 5):
        local(env, "f", f"f{i}", f"f{i}@f.test", "pw", "subscriber")
    local(env, "f", "new1", "new1@d.test", "pw", "subscriber")  # a match: to link
    local(env, "f", "new2", "other@f.test", "pw", "subscriber")  # a collision
    f_before = rows_of(env, "f", ["new2", "f1"])
    # The screenshot in the docs is refreshed on request; a plain run writes it under build/.
    shot = os.path.join(ROOT, "docs" if os.environ.get("UPDATE_SCREENSHOT") else "build", "initial-sync.png")
    os.makedirs(os.path.dirname(shot), exist_ok=True)
    cfg = {"url": env.sites["d"]["url"], "user": "admin", "password": open(os.path.join(env.sites["d"]["path"], ".admin-password")).read(),
           "peer": "f.test", "screenshot": shot}
    out = subprocess.run(["node", os.path.join(ROOT, "tests/browser/initial-sync.mjs"), json.dumps(cfg)], capture_output=True,
                         text=True, timeout=240)
    try:
        result = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        result = {}
        print(out.stdout[-2000:], out.stderr[-3000:], flush=True)
    counts = result.get("counts", {})
    # D's 13 accounts on F: new1 matches (link), new2 collides, admin is not sent, synced reached F
    # when it was made (linked), the other 9 are new there.
    check(counts == {"create": "9", "link": "1", "linked": "1", "collision": "1", "not_sent": "1"}, f"the page shows the report: {counts}")
    check(result.get("progress") == ["0", "10"], f"before the run the bar is empty: {result.get('progress')}")
    check(result.get("state") == "finished" and result.get("after") == ["10", "10"], f"the progress bar ran to the end: {result}")
    check(result.get("steps", 0) >= 1 and result.get("nonceless") == 403, f"each step is an admin-ajax call with a nonce; one without is refused ({result.get('nonceless')})")
    check(os.path.exists(shot) and os.path.getsize(shot) > 10000, f"a screenshot of the page was taken ({shot})")
    f_links = {r["login"] for r in env.wp("f", "links")}
    check({"new1", "new3", "twin1", "synced", "clash"} <= f_links and "new2" not in f_links, "F has the created and linked accounts, not the collision")
    check(rows_of(env, "f", ["new2", "f1"]) == f_before, "the collision's and F's own rows are unchanged on F")
    check(login_works(env, "f", "new4", "new4 old password"), "an account created on F through the page logs in with its old password")


def run(env, base):
    setup(env, base)
    report_and_run(env)
    browser_run(env)


def main():
    env = Env()
    try:
        run(env, random.randint(20000, 40000))
    finally:
        env.close()
    return summary("initial sync")


if __name__ == "__main__":
    sys.exit(main())
