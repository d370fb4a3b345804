#!/usr/bin/env python3
"""Single sign-on and logout everywhere on real WordPress sites in a real browser.

    python3 tests/e2e/test_sso.py [--measure] [--only=flows,hostile,missing,csrf,refusals]

Sites a.test, b.test, c.test (and d–f.test with --measure) are Debian's WordPress 6.8 over HTTPS
with a test CA generated here, on loopback ports; Debian's Chromium, driven by playwright-core,
maps *.test to 127.0.0.1 (and nothing else anywhere) and trusts only that CA. A sends login
tickets and logout to its peers; its single sign-on mode (USERSYNC_SSO_MODE) is rewritten
between scenarios, and each browser's profile allows or blocks third-party cookies.

Every mode (parallel, redirect, auto; with third-party cookies blocked where it matters):
  flows     login, every peer signed in, logout everywhere; each peer's database holds exactly
            one new session per browser signed in there (none from frames whose cookies were
            dropped, none from a slow peer's frame), and the audit stand-in (a wp_login
            mu-plugin on each peer) saw each login once
  hostile   hostile redirect_to values on wp-login.php end on A's dashboard or profile, never
            stuck, with no dialog and no request anywhere but the three sites
  missing   a user B does not have lands where asked, signed in on C; B logs unknown_account
  csrf      login CSRF: the attacker's unused ticket (taken from his own browser's flow) posted
            by his page in the victim's browser logs nobody in; the victim stays herself on B
            (tests/browser/csrf.mjs, with the attacker's page served on http://attacker.test)
  refusals  tickets posted with curl: replay, another browser, expired, wrong site, bad returns
--measure times click "Log In" → the asked page per mode for 2 and 5 peers, next to a plain
login (printed for docs/benchmarks.md, not asserted; --rounds=N, --modes=parallel,redirect,auto,blocked to
measure fewer). --only runs some parts (for development).
"""
import base64
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, secret, summary  # noqa: E402
from sites import ROOT, Env  # noqa: E402

BROWSER = os.path.join(ROOT, "tests", "browser")


def node(script, cfg, on_pause=None, timeout=240):
    """Runs one of the browser scripts; answers its pauses with on_pause(message) (whose return
    value, if any, goes back as JSON) and returns its result line ({} if it failed)."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(["node", os.path.join(BROWSER, script), json.dumps(cfg)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err, text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        result = {}
        try:
            for line in proc.stdout:
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    err.write(line)
                    continue
                if isinstance(message, dict) and "pause" in message:
                    reply = on_pause(message) if on_pause else None
                    proc.stdin.write((json.dumps(reply) if reply is not None else "") + "\n")
                    proc.stdin.flush()
                else:
                    result = message
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.wait()
            timer.cancel()
        if proc.returncode != 0 or not result:
            err.seek(0)
            print(f"{script} failed ({proc.returncode}):\n" + err.read()[-3000:], flush=True)
            return {}
        return result


def browser(env, a, peers, user="alice", password="alice password 7", on_pause=None, **options):
    cfg = dict(a=a, peers=peers, user=user, password=password, ca=env.ca, **options)
    if on_pause:
        cfg["pauses"] = ["loggedIn"]
    return node("sso.mjs", cfg, on_pause)


def origin(url):
    p = urllib.parse.urlsplit(url[len("blob:"):] if url.startswith("blob:") else url)
    return f"{p.scheme}://{p.hostname}" + (f":{p.port}" if p.port else "")


def foreign(requests, allowed):
    """Requests a browser made anywhere but the allowed origins (and every one to an evil host)."""
    return [u for u in requests if u != "about:blank" and (origin(u) not in allowed or "evil" in origin(u))]


def sessions(env, site, login):
    """The user's live sessions in a site's database (WordPress's session_tokens user meta)."""
    value = env.sql(f"SELECT m.meta_value FROM usersync_{site}.wp_usermeta m JOIN usersync_{site}.wp_users u "
                    f"ON u.ID = m.user_id WHERE u.user_login = '{login}' AND m.meta_key = 'session_tokens'")
    now = time.time()
    return sum(1 for e in re.findall(r'"expiration";i:(\d+);', value) if int(e) > now)


def log_rows(env, site, after=0):
    """A site's activity log after entry id `after`, oldest first: (id, direction, peer, act, login, result, reason)."""
    out = env.sql(f"SELECT id, direction, peer, act, login, result, reason FROM usersync_{site}.wp_usersync_log "
                  f"WHERE id > {int(after)} ORDER BY id")
    return [tuple(line.split("\t")) for line in out.splitlines() if line]


def wait_for(predicate, timeout=10.0):
    end = time.time() + timeout
    while not predicate() and time.time() < end:
        time.sleep(0.1)
    return predicate()


AUDIT = r"""<?php
// Test stand-in for a security or audit plugin: records every login WordPress announces (wp_login).
add_action('wp_login', function ($login, $user) {
    $line = json_encode(['login' => $login, 'user_id' => $user->ID, 'uri' => $_SERVER['REQUEST_URI'] ?? '', 'time' => time()]);
    file_put_contents(%s, $line . "\n", FILE_APPEND | LOCK_EX);
}, 10, 2);
"""


SLOW = r"""<?php
// Test only: while the flag file exists, this site answers a frame's ticket after 6 s (a slow
// peer: the frames page's 5-second timeout passes while the peer is deciding).
if (isset($_GET['usersync_sso_accept']) && 'frame' === ($_POST['mode'] ?? '') && file_exists(%s)) {
    sleep(6);
}
"""


def slow_peer(env, s):
    """B slow to answer its frame: the frames page waits for the answer instead of trying B
    again by the chain (which left a second session, a second wp_login, on B), and in forced
    parallel the browser still ends up signed in on B."""
    flag = os.path.join(env.work, "slow-b")
    with open(os.path.join(env.sites["b"]["path"], "wp-content", "mu-plugins", "test-slow.php"), "w") as f:
        f.write(SLOW % json.dumps(flag))
    open(flag, "w").close()
    try:
        for label, mode in (("auto mode", "auto"), ("parallel frames", "parallel")):
            r = scenario(env, s, f"{label}, B answers its frame after 6 s", ["b", "c"], mode, False, logout=False)
            if r:
                print(f"{label}, B answers its frame after 6 s: landed in {r['loginMs']} ms", flush=True)
    finally:
        os.unlink(flag)


class Audit:
    """The audit stand-in on every peer: one JSON line per wp_login, in a file per site."""

    def __init__(self, env, names):
        self.file = {}
        for n in names:
            self.file[n] = os.path.join(env.work, f"audit-{n}.log")
            open(self.file[n], "w").close()
            os.chmod(self.file[n], 0o666)
            with open(os.path.join(env.sites[n]["path"], "wp-content", "mu-plugins", "test-audit.php"), "w") as f:
                f.write(AUDIT % json.dumps(self.file[n]))

    def lines(self, n):
        with open(self.file[n]) as f:
            return [json.loads(line) for line in f if line.strip()]


class Watch:
    """What one browser run changes on the peers: their activity log, the audit stand-in's
    records and the user's sessions, read before the run and at each pause."""

    def __init__(self, env, s, peers, logins):
        self.env, self.s, self.peers, self.logins = env, s, peers, logins
        self.mark()
        self.start = dict(self.count)

    def mark(self):
        self.log = {p: max([int(e[0]) for e in log_rows(self.env, p)] or [0]) for p in self.peers}
        self.audit = {p: len(self.s.audit.lines(p)) for p in self.peers}
        self.count = {(p, u): sessions(self.env, p, u) for p in self.peers for u in self.logins}

    def new_log(self, p):
        return [e[1:] for e in log_rows(self.env, p, self.log[p])]

    def new_audit(self, p):
        return [line["login"] for line in self.s.audit.lines(p)[self.audit[p]:]]

    def sessions(self, p, u):
        return sessions(self.env, p, u)


class Sites:
    """A plus its peers, A's SSO mode and peer list rewritable between scenarios."""

    def __init__(self, env, count):
        self.env = env
        base = random.randint(20000, 30000)
        self.names = "abcdef"[:count]
        self.port = {n: base + i for i, n in enumerate(self.names)}
        self.url = {n: f"https://{n}.test:{self.port[n]}" for n in self.names}
        self.secret = {n: secret() for n in self.names[1:]}
        policy_out = {"actions": ["create", "update", "login", "logout"], "roles": ["subscriber"]}
        policy_in = {"actions": ["logout"]}
        for n in self.names[1:]:
            # WP_HTTP_BLOCK_EXTERNAL is on (scripts/wp/new-site.sh) and delivery goes to 127.0.0.1,
            # which is not the site's own host: WordPress's HTTP API lets it through only when listed.
            env.add_site(n, self.port[n], {"WP_ACCESSIBLE_HOSTS": "127.0.0.1", "USERSYNC_SITE_ID": f"{n}.test", "USERSYNC_PEERS": [
                {"id": "a.test", "url": self.url["a"], "deliver_to": f"http://127.0.0.1:{self.port['a'] + 1000}",
                 "secrets": [self.secret[n]], "accept": policy_out, "send": policy_in}]}, host=f"{n}.test")
        self.policy_out, self.policy_in = policy_out, policy_in
        env.add_site("a", self.port["a"], self.constants(self.names[1:], "auto"), host="a.test")

    def constants(self, peers, mode):
        return {"WP_ACCESSIBLE_HOSTS": "127.0.0.1", "USERSYNC_SITE_ID": "a.test", "USERSYNC_SSO_MODE": mode, "USERSYNC_PEERS": [
            {"id": f"{n}.test", "url": self.url[n], "deliver_to": f"http://127.0.0.1:{self.port[n] + 1000}",
             "secrets": [self.secret[n]], "send": self.policy_out, "accept": self.policy_in} for n in peers]}

    def configure_a(self, peers, mode):
        if getattr(self, "configured", None) == (list(peers), mode):
            return
        self.configured = (list(peers), mode)
        local = os.path.join(self.env.sites["a"]["path"], "wp-config-local.php")
        with open(local, "w") as f:
            f.write("<?php\n")
            for key, value in self.constants(peers, mode).items():
                f.write(f"define({json.dumps(key)}, json_decode({json.dumps(json.dumps(value))}, true));\n")
        # A new mtime for opcache (which compares it for inequality), in the past so that
        # opcache.file_update_protection does not hold the new file back.
        self.stamp = getattr(self, "stamp", 1_500_000_000) + 1
        os.utime(local, (self.stamp, self.stamp))



def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bnd_of(binding):
    return b64u(hashlib.sha256(binding.encode()).digest())


def accept(env, site, ticket, mode="chain", binding=None):
    """POSTs a ticket to a peer's accept endpoint as a browser holding `binding` in the peer's
    binding cookie would; returns (status, Location, whether auth cookies were set)."""
    cmd = ["curl", "-s", "-k", "-o", "/dev/null", "-D", "-", "--resolve", f"{site}.test:{env.sites[site]['port']}:127.0.0.1",
           "--data-urlencode", f"ticket={ticket}", "-d", f"mode={mode}", env.sites[site]["url"] + "/?usersync_sso_accept=1"]
    if binding is not None:
        cmd[2:2] = ["-b", f"usersync_bind={binding}"]
    head = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    code = int(head.split()[1])
    location = next((line.split(":", 1)[1].strip() for line in head.splitlines() if line.lower().startswith("location:")), "")
    return code, location, "wordpress_logged_in_" in head


def last_log(env, site):
    return env.wp(site, "log")[-1]


def fetch_mode(env, s):
    """The answers a peer gives a page's own requests (mode=fetch) go to one configured origin:
    never the Origin a request claims, never to an unknown `from`; an anonymous visitor's junk
    and a secret holder's page on C learn nothing meant for A, and change nothing on B."""
    binding = "the-page-binding-cookie-0123456789abcdef012"
    uid = env.wp("a", "uid", login="alice")

    def ask(path, origin, data=None, cookie=None):
        cmd = ["curl", "-s", "-k", "-D", "-", "--resolve", f"b.test:{env.sites['b']['port']}:127.0.0.1", "-H", f"Origin: {origin}"]
        if cookie:
            cmd += ["-b", cookie]
        for k, v in (data or {}).items():
            cmd += ["--data-urlencode", f"{k}={v}"]
        out = subprocess.run(cmd + [env.sites["b"]["url"] + path], capture_output=True, text=True, check=True).stdout
        head, _, body = out.partition("\n\n")  # text mode has turned CRLF into LF
        headers = {}
        for line in head.splitlines()[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        return int(head.split()[1]), headers, body

    def acao(h):
        return (h.get("access-control-allow-origin") or [None])[0]

    bind = "/?usersync_sso_bind=1&mode=fetch&from="
    code, h, body = ask(bind + "a.test", "https://evil.test")
    cookie = next((c for c in h.get("set-cookie", []) if c.startswith("usersync_bind=")), "")
    check(code == 200 and acao(h) == s.url["a"] and json.loads(body).get("usersync") == "bind" and "SameSite=None" in cookie,
          f"B's binding step answers A's page, readable by A's origin only, whatever Origin is claimed ({code}, {acao(h)})")
    code, h, body = ask(bind + "evil.test", "https://evil.test")
    check(code == 400 and acao(h) is None and not any(c.startswith("usersync_bind=") for c in h.get("set-cookie", [])),
          f"an unknown `from`: 400, no CORS answer, no binding cookie ({code}, {acao(h)})")
    code, h, _ = ask(bind + "a.test", s.url["c"])
    check(acao(h) == s.url["a"], f"a page on C (its secret's holder) cannot read B's answers for A ({acao(h)})")
    before, signed_in = max([int(r[0]) for r in log_rows(env, "b")] or [0]), sessions(env, "b", "alice")
    for origin, form in [("https://evil.test", {"ticket": "junk", "mode": "fetch", "from": "evil.test"}),
                         ("https://evil.test", {"ticket": "x" * 5000, "mode": "fetch"})]:
        code, h, _ = ask("/?usersync_sso_accept=1", origin, form)
        check(code == 400 and acao(h) is None and not any("wordpress_" in c for c in h.get("set-cookie", [])),
              f"junk posted with mode=fetch from {form.get('from', '(none)')}: 400, no CORS answer, no session ({code}, {acao(h)})")
    code, h, body = ask("/?usersync_sso_accept=1", s.url["c"], {"ticket": "junk", "mode": "fetch", "from": "a.test"})
    check(code == 200 and acao(h) == s.url["a"] and json.loads(body) == {"usersync": "sso", "ok": False, "retry": False},
          f"junk naming A: refused, the answer for A's origin alone ({code}, {acao(h)}, {body})")
    check([r[5] for r in log_rows(env, "b", before)] == ["refused"] * 3 and sessions(env, "b", "alice") == signed_in,
          "B logged the three refusals and gave alice no new session")
    ticket = env.wp("a", "mint", request=dict(peer="b.test", uid=uid, login="alice", remember=False, bnd=bnd_of(binding)))["message"]
    code, h, body = ask("/?usersync_sso_accept=1", "https://evil.test", {"ticket": ticket, "mode": "fetch", "from": "a.test"},
                        cookie=f"usersync_bind={binding}")
    auth = [c for c in h.get("set-cookie", []) if c.startswith("wordpress_logged_in_")]
    check(sessions(env, "b", "alice") == signed_in + 1, "control: B holds one more session of alice")
    check(code == 200 and acao(h) == s.url["a"] and json.loads(body)["ok"] is True and auth and all("SameSite=None" in c for c in auth),
          f"control: A's ticket with the browser's binding cookie signs in, cookies SameSite=None, the answer for A only ({acao(h)})")
    env.wp("b", "update_meta", login="alice", key="session_tokens", value=[])  # later parts start signed out


def refusals(env, s):
    now = int(time.time())
    uid = env.wp("a", "uid", login="alice")
    binding = "the-browser-binding-cookie-0123456789abcdef"

    def mint(peer, **extra):
        request = dict(peer=peer, uid=uid, login="alice", remember=False, bnd=bnd_of(binding), **extra)
        return env.wp("a", "mint", request=request)["message"]

    def forge(claims, aud="b.test"):
        return env.wp("a", "seal", secrets=[s.secret[aud[0]]], aad=f"usersync/v1|ticket|a.test|{aud}", claims=claims)

    def claims(**over):
        c = {"v": 1, "typ": "ticket", "iss": "a.test", "aud": "b.test", "iat": now, "exp": now + 60, "jti": b64u(os.urandom(16)),
             "act": "login", "data": {"uid": uid, "login": "alice", "remember": False, "bnd": bnd_of(binding)}}
        c.update(over)
        return c

    def refused(what, outcome, reason):
        code, _, cookies = outcome
        log = last_log(env, "b")
        check(code == 303 and not cookies and log["result"] == "refused" and log["reason"] == reason,
              f"{what}: refused ({reason}), no session cookie (got {code}, log {log['login']} {log['reason']})")

    ticket = mint("b.test", **{"return": s.url["a"] + "/wp-admin/"})
    code, location, cookies = accept(env, "b", ticket, binding=binding)
    check(code == 303 and location == s.url["a"] + "/wp-admin/" and cookies, f"a ticket is accepted and returns to A ({code} {location})")
    refused("a replayed ticket", accept(env, "b", ticket, binding=binding), "ticket already used")
    check(last_log(env, "b")["login"] == "alice", "a refused ticket is logged with its login")
    refused("a ticket from another browser (login CSRF)", accept(env, "b", mint("b.test"), binding="another-browser-cookie-0123456789abcdef"),
            "wrong_browser")
    refused("a ticket posted without the browser's binding cookie", accept(env, "b", mint("b.test")), "wrong_browser")
    refused("an expired ticket", accept(env, "b", forge(claims(iat=now - 400, exp=now - 300)), binding=binding), "expired")
    refused("a ticket for another site", accept(env, "b", mint("c.test"), binding=binding), "authentication_failed")
    for bad in ["//evil.test", "https://a.test.evil.test/", "javascript:alert(1)", s.url["a"].replace("https:", "http:") + "/"]:
        try:
            mint("b.test", **{"return": bad})
            minted = True
        except subprocess.CalledProcessError:
            minted = False
        check(not minted, f"A will not mint a ticket returning to {bad}")
        data = dict(claims()["data"], **{"return": bad})
        refused(f"B refuses a ticket returning to {bad}", accept(env, "b", forge(claims(data=data)), binding=binding), "return_url_refused")
    nobody = dict(claims()["data"], uid=b64u(os.urandom(16)), login="nobody")
    refused("a ticket for an account not linked here (single sign-on never creates users)",
            accept(env, "b", forge(claims(data=nobody)), binding=binding), "unknown_account")


def browser_clean(label, r, allowed):
    """What every browser run must show: its recorders worked, no script opened a dialog, no
    request went anywhere but the sites, no ticket appeared in a URL."""
    check(r.get("recordersWork") is True, f"{label}: the request and dialog recorders work")
    check(not r.get("dialogs"), f"{label}: no script ran (no dialog) {r.get('dialogs', [])[:2]}")
    check(not foreign(r.get("requests", []), allowed), f"{label}: every request went to the sites {foreign(r.get('requests', []), allowed)[:3]}")
    check(not r.get("urlsWithTickets"), f"{label}: no ticket in any URL {r.get('urlsWithTickets', [])[:1]}")


def hops(label, s, r, peers, mode, block3p):
    """What the login made the browser ask the peers for: with frames, only each peer's ticket
    (the login form bound the browser on every peer while the user typed; nothing from A's
    ticket request); on the chain (redirect mode, or auto with third-party cookies blocked,
    which the login form's frames reported) one binding step and one ticket per peer, and no
    frame tried first."""
    asked = r.get("loginRequests", [])
    for p in peers:
        binds = sum(1 for u in asked if u.startswith(s.url[p] + "/?usersync_sso_bind=1"))
        accepts = sum(1 for u in asked if u.startswith(s.url[p] + "/?usersync_sso_accept=1"))
        want = (0, 1) if mode != "redirect" and not block3p else (1, 1)
        check((binds, accepts) == want, f"{label}: after the click the browser visits {p}.test's binding step "
                                        f"{want[0]}×, its ticket endpoint {want[1]}× (got {binds}, {accepts})")
    issued = [u for u in asked if "usersync_sso=1&issue=1" in u]
    check(not issued, f"{label}: no ticket was asked for after the login (got {len(issued)})")


def scenario(env, s, label, peers, mode, block3p, logout=True, everywhere=False, expect=None, user="alice",
             password="alice password 7", fresh=False):
    """One login on A in one browser, then (optionally) logout. expect: peer → whether the browser
    ends up signed in there (default: every peer). Checks the landing page, the peers, the
    sessions each peer's database holds (as many as browsers signed in there: no orphans from
    frames whose cookies were dropped), the audit stand-in (every single sign-on is a wp_login),
    and with logout, that every session the run made is gone again."""
    expect = {p: True for p in peers} if expect is None else expect
    s.configure_a(peers, mode)
    watch = Watch(env, s, peers, [user])
    at = {}

    def logged_in(_):
        at.update({p: watch.sessions(p, user) for p in peers})
        at["audit"] = {p: watch.new_audit(p) for p in peers}

    r = browser(env, s.url["a"], [s.url[p] for p in peers], user=user, password=password, on_pause=logged_in,
                block3p=block3p, logout=logout, everywhere=everywhere)
    check(bool(r), f"{label}: the browser run completed")
    if not r:
        return None
    check(r.get("landedOn") == s.url["a"] + "/wp-admin/profile.php?from=login", f"{label}: the user lands on the page asked for")
    for p in peers:
        got = r["peersLogin"][s.url[p]]
        check(got == (user if expect[p] else None), f"{label}: {p}.test has {user} {'signed in' if expect[p] else 'not signed in'} (got {got})")
        made, browsers = at.get(p, -1) - watch.start[(p, user)], 1 if got == user else 0
        if fresh:
            check(watch.start[(p, user)] == 0, f"{label}: {user} starts with no session on {p}.test")
        check(made == browsers, f"{label}: {p}.test holds as many new sessions as browsers signed in there ({made}, {browsers} browser)")
        check(at.get("audit", {}).get(p) == ([user] if expect[p] else []),
              f"{label}: the audit plugin on {p}.test saw {'the' if expect[p] else 'no'} login ({at.get('audit', {}).get(p)})")
    browser_clean(label, r, {s.url[n] for n in ["a"] + peers})
    if not (mode == "parallel" and block3p):
        hops(label, s, r, peers, mode, block3p)
    if logout:
        check(r.get("aLoggedOut") and all(r["peersLoggedOut"].values()), f"{label}: logged out on A and every peer {r.get('peersLoggedOut')}")
        check(not r.get("authCookiesLeft"), f"{label}: the peers cleared their auth cookies on the next visit {r.get('authCookiesLeft')}")
        for p in peers:
            left = watch.sessions(p, user)
            want = 0 if everywhere else watch.start[(p, user)]
            check(left == want, f"{label}: after logout {p}.test holds {want} sessions of {user} (got {left})")
    r["log"] = {p: watch.new_log(p) for p in peers}
    return r


MODES = [("parallel", "parallel", False), ("redirect", "redirect", False), ("auto", "auto", False),
         ("auto, third-party cookies blocked", "auto", True)]


def hostile(env, s):
    """Hostile redirect_to values on wp-login.php end on A (its dashboard or profile) with the
    peers signed in, never anywhere else, never stuck, and no script of theirs runs."""
    port = s.port["a"]
    cases = [("a peer (control: redirect_to is followed)", s.url["b"] + "/wp-admin/profile.php?from=control"),
             ("//evil.test", "//evil.test"),
             ("look-alike https://a.test.evil.test/", "https://a.test.evil.test/"),
             ("foreign origin https://evil.test/", "https://evil.test/"),
             ("javascript:alert(document.domain)", "javascript:alert(document.domain)"),
             (f"port-like label https://a.test:{port}.evil.test/", f"https://a.test:{port}.evil.test/")]
    peers = ["b", "c"]
    allowed = {s.url[n] for n in ["a"] + peers}
    fallback = {s.url["a"] + "/wp-admin/", s.url["a"] + "/wp-admin/profile.php"}
    for label, mode, block3p in MODES:
        s.configure_a(peers, mode)
        t = time.time()
        watch = Watch(env, s, peers, [])
        signed = {}

        def after_case(message):
            # Each login signs the browser in on every peer: core's wp_login ran there (the audit plugin).
            signed[message["name"]] = {p: watch.new_audit(p) for p in peers}
            watch.mark()

        r = node("hostile.mjs", dict(a=s.url["a"], peers=[s.url[p] for p in peers], user="alice", password="alice password 7",
                                     ca=env.ca, block3p=block3p, cases=[{"name": n, "redirect_to": v} for n, v in cases]), after_case)
        check(bool(r) and len(r.get("cases", [])) == len(cases), f"hostile redirect_to, {label}: the browser run completed")
        if not r:
            continue
        check(r.get("recordersWork") is True, f"hostile redirect_to, {label}: the request and dialog recorders work")
        print(f"hostile redirect_to, {label}: {time.time() - t:.1f} s, logins {[c['ms'] for c in r['cases']]} ms", flush=True)
        for (name, _), c in zip(cases, r["cases"]):
            what = f"redirect_to {name}, {label}"
            control = name.startswith("a peer")
            want = {s.url["b"] + "/wp-admin/profile.php?from=control"} if control else fallback
            check(not c["stuck"] and c["title"] != "Signing you in…",
                  f"{what}: not stuck signing in (at {c['endedOn']}, {c['ms']} ms{', ' + c['loginError'] if c.get('loginError') else ''})")
            check(c["endedOn"] in want and c["status"] == 200 and c["loggedInHere"],
                  f"{what}: ends logged in on {'B' if control else 'A'} (at {c['endedOn']}, status {c['status']})")
            check(not c["dialogs"], f"{what}: no script ran (no dialog) {c['dialogs'][:2]}")
            check(not foreign(c["requests"], allowed), f"{what}: no request to any other host {foreign(c['requests'], allowed)[:3]}")
            check(signed.get(name) == {p: ["alice"] for p in peers}, f"{what}: signed in on every peer {signed.get(name)}")
        check(not r["urlsWithTickets"], f"hostile redirect_to, {label}: no ticket in any URL")
        check(r.get("loggedOut") and wait_for(lambda: all(sessions(env, p, "alice") == 0 for p in peers)),
              f"hostile redirect_to, {label}: after logout everywhere no session of alice is left on the peers")


def csrf(env, s):
    """Login CSRF: an attacker's unused ticket, auto-posted to B by the attacker's page in the
    victim's browser, logs nobody in; the victim stays herself on B."""
    peers = ["b", "c"]
    for label, mode, attacker_block3p in MODES:
        label = f"login CSRF, {label}"
        s.configure_a(peers, mode)
        watch = Watch(env, s, ["b"], ["alice", "mallory"])
        seen = {}

        def at(message):
            name = message["pause"]
            if name == "victim":
                check(watch.new_audit("b") == ["alice"], f"{label}: the victim is signed in on B by single sign-on (audit)")
                watch.mark()
                seen.update(watch.count)
                check(seen[("b", "alice")] >= 1, f"{label}: the victim has a session on B")
            elif name == "captured":
                check(watch.sessions("b", "mallory") == seen[("b", "mallory")], f"{label}: the attacker's aborted flow made no session on B")
                watch.mark()  # the attacker's own flow may have left refusals of his (blocked) frames
            elif name == "attack":
                what = f"{label}, {message['path']}"
                log = watch.new_log("b")
                check(log == [("in", "a.test", "login", "mallory", "refused", "wrong_browser")],
                      f"{what}: B refuses mallory's ticket as wrong_browser and logs it {log}")
                check(watch.sessions("b", "mallory") == seen[("b", "mallory")], f"{what}: nobody is signed in on B as mallory (no new session)")
                check(watch.sessions("b", "alice") == seen[("b", "alice")], f"{what}: the victim's sessions on B are unchanged ({seen[('b', 'alice')]})")
                check(watch.new_audit("b") == [], f"{what}: the audit plugin on B saw no login")
                watch.mark()
            elif name == "control":
                log = watch.new_log("b")
                check(log == [("in", "a.test", "login", "mallory", "applied", "chain")],
                      f"{label}, control: the same ticket from the attacker's own browser is accepted {log}")
                check(watch.sessions("b", "mallory") == seen[("b", "mallory")] + 1 and watch.new_audit("b") == ["mallory"],
                      f"{label}, control: mallory has one new session on B, and the audit plugin saw it")
                check(watch.sessions("b", "alice") == seen[("b", "alice")], f"{label}, control: the victim's sessions on B are still unchanged")

        cfg = dict(a=s.url["a"], b=s.url["b"], peers=[s.url[p] for p in peers], ca=env.ca,
                   victim={"user": "alice", "password": "alice password 7"},
                   attacker={"user": "mallory", "password": "mallory password 7", "block3p": attacker_block3p})
        r = node("csrf.mjs", cfg, at)
        check(bool(r), f"{label}: the browser run completed")
        if not r:
            continue
        check(r.get("recordersWork") is True, f"{label}: the request and dialog recorders work")
        check(r["victimOnB"] == "alice", f"{label}: the victim is alice on B before the attack")
        check(r["captured"] is not None and r["captured"]["mode"] == ("chain" if mode == "redirect" or attacker_block3p else "fetch"),
              f"{label}: the attacker took an unused ticket for B out of his own flow {r['captured']} {r['attackerPosts']}")
        for path, a in r["attacks"].items():
            what = f"{label}, {path}"
            check(a["posted"], f"{what}: the attacker's page posted the ticket to B (status {a['status']})")
            check(a["cookiesUnchanged"], f"{what}: the victim's auth cookies for B are unchanged")
            if path.startswith("/bind-then-"):
                check(a["bindCookie"] is True, f"{what}: the victim held a binding cookie of her own for B when the ticket arrived")
        check(set(r["attacks"]) == {"/top", "/frame", "/bind-then-frame", "/fetch", "/bind-then-fetch"}, f"{label}: every attack ran")
        check(r["victimAfterAttacks"] == "alice", f"{label}: after the attacks the victim is still alice on B (got {r['victimAfterAttacks']})")
        check(r["control"]["posted"] and r["control"]["onB"] == "mallory", f"{label}: control: the attacker's own browser is mallory on B")
        check(r["victimStillOnB"] == "alice", f"{label}: after it all the victim is still alice on B")
        check(not r["victimDialogs"] and not r["urlsWithTickets"], f"{label}: no dialog, no ticket in a URL")


def missing_user(env, s):
    """carol exists on A and C but not on B: in every mode she lands where she asked, signed in
    on C, and B logs why it refused (unknown_account, with her login)."""
    env.wp("a", "create_user", login="carol", email="carol@a.test", password="carol password 7", role="subscriber")
    env.wp("b", "delete_user", login="carol")
    check(not env.wp("b", "get_user", login="carol")["exists"] and env.wp("c", "get_user", login="carol")["exists"],
          "carol exists on A and C, not on B")
    for label, mode, block3p in MODES:
        label = f"carol, missing on B, {label}"
        r = scenario(env, s, label, ["b", "c"], mode, block3p, user="carol", password="carol password 7",
                     expect={"b": False, "c": True}, logout=False)
        if not r:
            continue
        log = [e for e in r["log"]["b"] if e[2] == "login"]
        check(bool(log) and log[-1] == ("in", "a.test", "login", "carol", "refused", "unknown_account")
              and all(e[3] == "carol" and e[4] == "refused" for e in log), f"{label}: B logs its refusal, unknown_account for carol {log}")
        print(f"{label}: landed in {r['loginMs']} ms", flush=True)


def audit_complete(env, s, some=True):
    """Every single sign-on a peer applied (its activity log) is a wp_login the audit plugin saw
    (some: and there were some)."""
    for p in s.names[1:]:
        applied = [e["login"] for e in env.wp(p, "log") if e["direction"] == "in" and e["act"] == "login" and e["result"] == "applied"]
        audited = [line["login"] for line in s.audit.lines(p)]
        sso = [line["login"] for line in s.audit.lines(p) if "usersync_sso_accept" in line["uri"]]
        check((applied or not some) and audited == applied and sso == applied,
              f"the audit plugin on {p}.test saw every single sign-on, and nothing else ({len(applied)} applied, {len(audited)} audited)")


def measure(env, s, rounds=5, modes=None):
    """Timings for docs/benchmarks.md (printed, not asserted): click "Log In" until the asked page
    is loaded and every peer's cookie is held, per mode, for 2 and 5 peers, and a plain WordPress
    login (A with no peers) — interleaved round by round in one run, each a fresh browser, and
    each mode's median as a ratio to the plain login's."""
    two, five = ["b", "c"], list("bcdef")
    measured = [m for m in MODES if modes is None or ("blocked" if m[2] else m[1]) in modes]
    configs = [("plain WordPress login", [], "auto", False)] + [
        (label, peers, mode, block) for label, mode, block in measured for peers in (two, five)]
    times = {i: [] for i in range(len(configs))}
    notes = {i: [] for i in range(len(configs))}
    for _ in range(rounds):
        for i, (label, peers, mode, block) in enumerate(configs):
            r = scenario(env, s, f"{label} x{len(peers)}", peers, mode, block) if peers else \
                (s.configure_a([], mode) or browser(env, s.url["a"], [], block3p=False, logout=False))
            if r and r.get("loginMs"):
                times[i].append(r["loginMs"])
                # After the click: binding steps the asked page had to run itself (login sent
                # before the login form's frames answered, or a binding refused), and page load.
                binds = sum("usersync_sso_bind" in u for u in r.get("loginRequests", []))
                notes[i].append(f"{r['loginMs']} (page {r.get('pageMs')}, binds {binds})")
    median = {i: sorted(t)[len(t) // 2] for i, t in times.items() if t}
    plain = median.get(0)
    print(f"{rounds} interleaved rounds; plain WordPress login: median {plain} ms of {sorted(times[0])}", flush=True)
    print("| peers | " + " | ".join(label for label, _, _ in measured) + " |", flush=True)
    print("|---:|" + "---:|" * len(measured), flush=True)
    for n in (2, 5):
        cells = []
        for label, _, _ in measured:
            i = next(i for i, c in enumerate(configs) if c[0] == label and len(c[1]) == n)
            cells.append(f"{median[i]} ms ({median[i] / plain:.2f}×)" if i in median and plain else "—")
        print(f"| {n} | " + " | ".join(cells) + " |", flush=True)
    for i, (label, peers, _, _) in enumerate(configs):
        print(f"  {label}, {len(peers)} peers: {sorted(times[i])}; in order: {', '.join(notes[i])}", flush=True)


def main():
    measure_ = "--measure" in sys.argv
    only = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--only=")), None)

    def part(name):
        if only is None or name in only:
            print(f"[{time.time() - t0:.0f} s] {name}", flush=True)
            return True
        return False

    count = 6 if measure_ else 3
    t0 = time.time()
    env = Env()
    env.tls([f"{n}.test" for n in "abcdef"[:count]])
    try:
        s = Sites(env, count)
        s.audit = Audit(env, s.names[1:])
        for n in s.names:
            # Core's avatars come from gravatar.com: off, so that every request a page makes is to the sites.
            env.sql(f"UPDATE usersync_{n}.wp_options SET option_value = '0' WHERE option_name = 'show_avatars'")
        env.wp("a", "create_user", login="alice", email="alice@a.test", password="alice password 7", role="subscriber")
        env.wp("a", "create_user", login="mallory", email="mallory@a.test", password="mallory password 7", role="subscriber")
        for n in s.names[1:]:
            check(env.wp(n, "get_user", login="alice")["exists"] and env.wp(n, "get_user", login="mallory")["exists"],
                  f"alice and mallory exist on {n}.test before single sign-on")
        two = ["b", "c"]
        timings = {}
        if part("flows"):
            r = scenario(env, s, "parallel frames", two, "parallel", False)
            timings[("parallel", 2)] = r and r["loginMs"]
            # Forced frames cannot work without third-party cookies: this shows the blocking is real,
            # and that the frames' refused tickets leave no session behind.
            scenario(env, s, "third-party cookies blocked, forced parallel", two, "parallel", True, logout=False,
                     expect={p: False for p in two}, fresh=True)
            r = scenario(env, s, "third-party cookies blocked, auto mode falls back to the redirect chain", two, "auto", True, fresh=True)
            timings[("auto, blocked", 2)] = r and r["loginMs"]
            slow_peer(env, s)
            r = scenario(env, s, "redirect chain", two, "redirect", False, everywhere=True)
            timings[("redirect", 2)] = r and r["loginMs"]
        if part("hostile"):
            hostile(env, s)
        if part("missing"):
            missing_user(env, s)
        if part("csrf"):
            csrf(env, s)
        if part("refusals"):
            refusals(env, s)
            fetch_mode(env, s)
        if measure_:
            arg = dict(a.split("=", 1) for a in sys.argv if a.startswith(("--rounds=", "--modes=")))
            measure(env, s, int(arg.get("--rounds", 5)), arg["--modes"].split(",") if "--modes" in arg else None)
        audit_complete(env, s, some=only is None)
        for (mode, n), ms in timings.items():
            print(f"login to all {n} peers ({mode}): {ms} ms", flush=True)
        print(f"browser tests took {time.time() - t0:.0f} s", flush=True)
    finally:
        env.close()
    return summary("single sign-on")


if __name__ == "__main__":
    sys.exit(main())
