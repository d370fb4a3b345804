#!/usr/bin/env python3
"""Single sign-on and logout everywhere on real WordPress sites in a real browser.

    python3 tests/e2e/test_sso.py [--measure]

Sites a.test, b.test, c.test (and d–f.test with --measure) are Debian's WordPress 6.8 over HTTPS
with a test CA generated here, on loopback ports; Debian's Chromium, driven by playwright-core,
maps *.test to 127.0.0.1 and trusts only that CA. A sends login tickets and logout to its peers.
"""
import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, secret, summary  # noqa: E402
from sites import ROOT, Env  # noqa: E402

BROWSER = os.path.join(ROOT, "tests", "browser")




def browser(env, a, peers, **options):
    cfg = dict(a=a, peers=peers, user="alice", password="alice password 7", ca=env.ca, **options)
    out = subprocess.run(["node", os.path.join(BROWSER, "sso.mjs"), json.dumps(cfg)], capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        print(out.stderr[-2000:], flush=True)
        return {}
    return json.loads(out.stdout.strip().splitlines()[-1])


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
            env.add_site(n, self.port[n], {"USERSYNC_SITE_ID": f"{n}.test", "USERSYNC_PEERS": [
                {"id": "a.test", "url": self.url["a"], "deliver_to": f"http://127.0.0.1:{self.port['a'] + 1000}",
                 "secrets": [self.secret[n]], "accept": policy_out, "send": policy_in}]}, host=f"{n}.test")
        self.policy_out, self.policy_in = policy_out, policy_in
        env.add_site("a", self.port["a"], self.constants(self.names[1:], "auto"), host="a.test")

    def constants(self, peers, mode):
        return {"USERSYNC_SITE_ID": "a.test", "USERSYNC_SSO_MODE": mode, "USERSYNC_PEERS": [
            {"id": f"{n}.test", "url": self.url[n], "deliver_to": f"http://127.0.0.1:{self.port[n] + 1000}",
             "secrets": [self.secret[n]], "send": self.policy_out, "accept": self.policy_in} for n in peers]}

    def configure_a(self, peers, mode):
        local = os.path.join(self.env.sites["a"]["path"], "wp-config-local.php")
        with open(local, "w") as f:
            f.write("<?php\n")
            for key, value in self.constants(peers, mode).items():
                f.write(f"define({json.dumps(key)}, json_decode({json.dumps(json.dumps(value))}, true));\n")
        time.sleep(1.1)  # a new mtime for opcache


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


def scenario(env, s, label, peers, mode, block3p, logout=True, everywhere=False, expect_peers=True):
    s.configure_a([p[0] for p in peers], mode)
    r = browser(env, s.url["a"], [s.url[p[0]] for p in peers], block3p=block3p, logout=logout, everywhere=everywhere)
    check(bool(r), f"{label}: the browser run completed")
    if not r:
        return None
    check(r.get("landedOn") == s.url["a"] + "/wp-admin/profile.php?from=login", f"{label}: the user lands on the page asked for")
    if expect_peers:
        check(all(r["peersLoggedIn"].values()), f"{label}: logged in on every peer {r['peersLoggedIn']}")
    else:
        check(not any(r["peersLoggedIn"].values()), f"{label}: no peer could set its cookie {r['peersLoggedIn']}")
    check(not r["urlsWithTickets"], f"{label}: no ticket in any URL {r['urlsWithTickets'][:1]}")
    if logout:
        check(r.get("aLoggedOut") and all(r["peersLoggedOut"].values()), f"{label}: logged out on A and every peer {r.get('peersLoggedOut')}")
        check(not r.get("authCookiesLeft"), f"{label}: the peers cleared their auth cookies on the next visit {r.get('authCookiesLeft')}")
    return r


def main():
    measure = "--measure" in sys.argv
    count = 6 if measure else 3
    env = Env()
    env.tls([f"{n}.test" for n in "abcdef"[:count]])
    try:
        s = Sites(env, count)
        env.wp("a", "create_user", login="alice", email="alice@a.test", password="alice password 7", role="subscriber")
        for n in s.names[1:]:
            check(env.wp(n, "get_user", login="alice")["exists"], f"alice exists on {n}.test before single sign-on")
        two = ["b", "c"]
        timings = {}
        r = scenario(env, s, "parallel frames", two, "parallel", False)
        timings[("parallel", 2)] = r and r["loginMs"]
        # Forced frames cannot work without third-party cookies: this shows the blocking is real.
        scenario(env, s, "third-party cookies blocked, forced parallel", two, "parallel", True, logout=False, expect_peers=False)
        r = scenario(env, s, "third-party cookies blocked, auto mode falls back to the redirect chain", two, "auto", True)
        timings[("auto, blocked", 2)] = r and r["loginMs"]
        r = scenario(env, s, "redirect chain", two, "redirect", False, everywhere=True)
        timings[("redirect", 2)] = r and r["loginMs"]
        refusals(env, s)
        if measure:
            s.configure_a([], "auto")
            base = sorted(r["loginMs"] for r in (browser(env, s.url["a"], [], block3p=False, logout=False) for _ in range(3)) if r)
            print(f"login on A without peers (baseline): median {base[len(base) // 2]} ms of {base}", flush=True)
            five = list("bcdef")
            for mode, block in (("parallel", False), ("redirect", False)):
                for peers in (two, five):
                    runs = [scenario(env, s, f"{mode} x{len(peers)}", peers, mode, block, logout=True) for _ in range(3)]
                    ms = sorted(r["loginMs"] for r in runs if r)
                    if ms:
                        print(f"login on A until logged in on all {len(peers)} peers, {mode}: median {ms[len(ms) // 2]} ms of {ms}", flush=True)
        for (mode, n), ms in timings.items():
            print(f"login to all {n} peers ({mode}): {ms} ms", flush=True)
    finally:
        env.close()
    return summary("single sign-on")


if __name__ == "__main__":
    sys.exit(main())
