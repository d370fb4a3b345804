"""Single sign-on and logout everywhere between WordPress A and Django D, run by test_django.py
on its sites (A over HTTPS as a.test, D as d.test behind nginx with TLS) in Debian's Chromium
(tests/browser/django-sso.mjs), and with tickets posted by curl:

- A→D and D→A in the default mode (frames in the asked page) and with third-party cookies
  blocked (the redirect chain), each login seen once by the other site (D's user_logged_in is
  its activity log's "applied" login; A's sessions are counted), then logout on either side
  (and "everywhere") ending the other side's session;
- hostile destinations on either login form (//evil.test, javascript:, look-alike hosts, another
  origin) ending on the site, a peer's page followed, no request anywhere else, no dialog;
- D's staff and superuser never signed in by A's tickets (protected_account, logged with the
  login), and a replayed ticket, one from another browser (login CSRF) or without the binding
  cookie refused; anonymous POSTs to D's inbox and accept endpoints refused with nothing changed.
"""
import base64
import hashlib
import os
import subprocess
import time

from checks import check
from test_sso import foreign, node, sessions

ALICE_PW = "changed on D, 2nd"  # test_django.py's passwords() left alice with it on both sites


def d_rows(d):
    """What a refused request must leave alone on D: accounts, links, sessions, replay records."""
    return d.sql("SELECT 'u', id::text, username, password, is_staff::text, is_superuser::text FROM auth_user "
                 "UNION ALL SELECT 'l', user_id::text, uid, '', '', '' FROM usersync_link "
                 "UNION ALL SELECT 's', session_key, '', '', '', '' FROM django_session "
                 "UNION ALL SELECT 'us', session_key, user_id::text, iss, sid, '' FROM usersync_usersession "
                 "UNION ALL SELECT 'r', iss, msg_id, '', '', '' FROM usersync_seen ORDER BY 1, 2, 3")


def d_sessions(d, login):
    """The user's live Django sessions on D (the sessions table and the app's record of them)."""
    return int(d.sql(f"SELECT count(*) FROM usersync_usersession s JOIN auth_user u ON u.id = s.user_id "
                     f"JOIN django_session ds ON ds.session_key = s.session_key "
                     f"WHERE u.username = '{login}' AND ds.expire_date > now()")[0][0])


def d_log_after(d, mark):
    """D's activity log after entry `mark`, oldest first: (peer, act, login, result, reason)."""
    return [tuple(r) + ("",) * (5 - len(r)) for r in
            d.sql(f"SELECT peer, act, login, result, reason FROM usersync_logentry WHERE id > {int(mark)} ORDER BY id")]


def d_mark(d):
    return int(d.sql("SELECT coalesce(max(id), 0) FROM usersync_logentry")[0][0])


def applied_once(log):
    """One login applied; before it at most the frame's ticket refused for want of its binding
    (third-party cookies blocked), which left nothing behind."""
    return [e[3] for e in log][-1:] == ["applied"] and all(e[3:] == ("refused", "wrong_browser") for e in log[:-1])


def run(env, d, link):
    a = env.sites["a"]["url"]
    dp = d.public
    allowed = {a, dp}
    a_target, d_target = f"{a}/wp-admin/profile.php?from=login", f"{dp}/profile?from=login"
    # Core's avatars come from gravatar.com: off, so that every request a page makes is to the sites.
    env.sql("UPDATE usersync_a.wp_options SET option_value = '0' WHERE option_name = 'show_avatars'")

    def login_from(site, **over):
        r = dict(from_=site, user="alice", password=ALICE_PW, next=a_target if site == "a" else d_target,
                 target=a_target if site == "a" else d_target)
        r.update(over)
        r["from"] = r.pop("from_")
        return r

    runs = [
        dict(login_from("a", logout="a"), name="A→D"),
        dict(login_from("a", logout="d", block3p=True), name="A→D, third-party cookies blocked"),
        dict(login_from("d", logout="d"), name="D→A"),
        dict(login_from("d", logout="a", block3p=True), name="D→A, third-party cookies blocked"),
        dict(login_from("d", logout="d", everywhere=True), name="D→A, log out everywhere on D"),
        dict(login_from("a", logout="a", everywhere=True), name="A→D, log out everywhere on A"),
        dict(login_from("a", user="gina", password="gina pw"), name="D's staff gina logs in on A"),
        dict(login_from("a", user="hank", password="hank pw", block3p=True), name="D's superuser hank logs in on A, chain"),
    ]
    hostile = [("//evil.test", "//evil.test"), ("javascript:", "javascript:alert(document.domain)"),
               ("look-alike", "https://d.test.evil.test/"), ("another origin", "https://evil.test/"),
               ("port-like label", f"https://d.test:{d.port}.evil.test/")]
    for label, value in hostile:
        runs.append(dict(login_from("d", next=value, target=None), name=f"D's login, next={label}", hostile=True))
    runs.append(dict(login_from("d", next=a_target, target=None, block3p=True), name="D's login, next=A's page (control)", control=True))
    look_alike_a = a.replace("a.test", "a.test.evil.test")
    for label, value in (("//evil.test", "//evil.test"), ("look-alike", look_alike_a + "/"), ("javascript:", "javascript:alert(1)")):
        runs.append(dict(login_from("a", next=value, target=None), name=f"A's login, redirect_to={label}", hostile=True))
    runs.append(dict(login_from("a", next=d_target, target=None), name="A's login, redirect_to=D's page (control)", control=True))

    seen = {}
    mark = {"d": d_mark(d)}

    def at(message):
        name, when = message["name"], message["pause"]
        login = spec[name]["user"]
        counts = {"a": sessions(env, "a", login), "d": d_sessions(d, login)}
        if when == "start":
            mark["d"] = d_mark(d)
            seen[name] = {"start": counts, "loggedIn": {"a": -1, "d": -1}, "dlog": []}
        elif when == "loggedIn":
            seen[name].update(dlog=d_log_after(d, mark["d"]), loggedIn=counts)
        else:
            seen[name]["loggedOut"] = counts

    spec = {r["name"]: r for r in runs}
    t = time.time()
    result = node("django-sso.mjs", dict(a=a, d=dp, ca=env.ca, runs=runs), at, timeout=600)
    check(bool(result) and len(result.get("runs", [])) == len(runs), "single sign-on with Django: the browser runs completed")
    if not result:
        return
    print(f"single sign-on with Django: {len(runs)} browser runs in {time.time() - t:.0f} s", flush=True)
    check(result.get("recordersWork") is True, "single sign-on with Django: the request and dialog recorders work")
    for r in result["runs"]:
        name, want = r["name"], spec[r["name"]]
        what = f"single sign-on {name}"
        check(not r.get("error"), f"{what}: ran to the end {r.get('error', '')}")
        check(not r["dialogs"], f"{what}: no script ran (no dialog) {r['dialogs'][:2]}")
        check(not foreign(r["requests"], allowed), f"{what}: every request went to the two sites {foreign(r['requests'], allowed)[:3]}")
        check(not r["urlsWithTickets"], f"{what}: no ticket in any URL {r['urlsWithTickets'][:1]}")
        got = seen.get(name, {})
        dlog = [e for e in got.get("dlog", []) if e[1] == "login"]
        user = want["user"]
        if user in ("gina", "hank"):
            check(r["landedOn"] == want["target"] and r["onA"] == user, f"{what}: lands on the asked page, signed in on A")
            check(r["onD"] is None and got["loggedIn"]["d"] == got["start"]["d"],
                  f"{what}: not signed in on D (got {r['onD']}, sessions {got['start']['d']} → {got['loggedIn']['d']})")
            # (With third-party cookies blocked the frame's ticket is refused first, for want of its binding.)
            check(bool(dlog) and dlog[-1][2:] == (user, "refused", "protected_account")
                  and all(e[2:] == (user, "refused", "wrong_browser") for e in dlog[:-1]),
                  f"{what}: D refuses A's ticket as protected_account and logs it with the login {dlog}")
            continue
        if want.get("hostile") or want.get("control"):
            home = {"d": {f"{dp}/profile"}, "a": {f"{a}/wp-admin/", f"{a}/wp-admin/profile.php"}}[want["from"]]
            other = "a" if want["from"] == "d" else "d"
            ends = {want["next"]} if want.get("control") else home
            check(not r.get("stuck") and r["landedOn"] in ends,
                  f"{what}: ends on {'the peer' if want.get('control') else 'the site'} (at {r['landedOn']}, {r['ms']} ms)")
            check((r["onA"], r["onD"]) == ("alice", "alice"), f"{what}: signed in on both sites ({r['onA']}, {r['onD']})")
            if other == "d":
                check(applied_once(dlog), f"{what}: D signed the browser in once {dlog}")
            continue
        check(r["landedOn"] == want["target"], f"{what}: lands on the page asked for (at {r['landedOn']})")
        check((r["onA"], r["onD"]) == ("alice", "alice"), f"{what}: signed in on both sites ({r['onA']}, {r['onD']})")
        other = "d" if want["from"] == "a" else "a"
        made = got["loggedIn"][other] - got["start"][other]
        check(made == 1, f"{what}: {other.upper()} holds exactly one new session of alice ({made})")
        if other == "d":
            check(applied_once(dlog), f"{what}: D's session came through django.contrib.auth.login, once ({dlog})")
        check(r.get("loggedOutHere") and r.get("loggedOutThere"),
              f"{what}: logged out on {want['logout'].upper()}{' everywhere' if want.get('everywhere') else ''} ends the other site's session too "
              f"({r.get('loggedOutHere')}, {r.get('loggedOutThere')})")
        # Only the sessions this login made end (or, everywhere, every session of alice).
        want_left = {"a": 0, "d": 0} if want.get("everywhere") else got["start"]
        check(got.get("loggedOut") == want_left, f"{what}: afterwards alice holds {want_left} sessions (got {got.get('loggedOut')})")
    refusals(env, d, link)


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def accept(d, form, binding=None):
    """POSTs to D's accept endpoint as a browser holding `binding` in D's binding cookie would;
    returns (status, Location, whether a session cookie was set)."""
    host = d.public.split("//")[1]
    cmd = ["curl", "-s", "-k", "-X", "POST", "-o", "/dev/null", "-D", "-", "--resolve", f"{host}:127.0.0.1"]
    for k, v in form.items():
        cmd += ["--data-urlencode", f"{k}={v}"]
    if binding is not None:
        cmd += ["-b", f"usersync_bind={binding}"]
    head = subprocess.run(cmd + [d.public + "/?usersync_sso_accept=1"], capture_output=True, text=True, check=True).stdout
    code = int(head.split()[1])
    location = next((line.split(":", 1)[1].strip() for line in head.splitlines() if line.lower().startswith("location:")), "")
    return code, location, "sessionid=" in head and "sessionid=;" not in head


def refusals(env, d, link):
    """Tickets posted with curl: accepted once for its own browser; a replay, another browser's,
    none, a hostile return, a protected account refused and logged; anonymous posts change nothing."""
    a = env.sites["a"]["url"]
    uid = {u: env.wp("a", "uid", login=u) for u in ("alice", "gina")}
    binding = "the-browser-binding-cookie-0123456789abcdef"
    bnd = b64u(hashlib.sha256(binding.encode()).digest())

    def mint(login="alice", **extra):
        return env.wp("a", "mint", request=dict(peer="d.test", uid=uid[login], login=login, remember=False, bnd=bnd, **extra))["message"]

    def last():
        e = d.do("log")[-1]
        return e["login"], e["result"], e["reason"]

    def refused(what, outcome, reason, login="alice"):
        code, _, cookie = outcome
        check(code == 303 and not cookie and last() == (login, "refused", reason),
              f"D: {what}: refused ({reason}), no session, logged with the login (got {code}, {last()})")

    ticket = mint(**{"return": a + "/wp-admin/"})
    code, location, cookie = accept(d, {"ticket": ticket, "mode": "chain"}, binding)
    check((code, location, cookie) == (303, a + "/wp-admin/", True), f"D: a ticket is accepted and returns to A ({code} {location} {cookie})")
    before = d_rows(d)
    refused("a replayed ticket", accept(d, {"ticket": ticket, "mode": "chain"}, binding), "ticket already used")
    refused("a ticket from another browser (login CSRF)", accept(d, {"ticket": mint(), "mode": "chain"}, "another-browser-0123456789abcdef"),
            "wrong_browser")
    refused("a ticket without the browser's binding cookie", accept(d, {"ticket": mint(), "mode": "chain"}), "wrong_browser")
    refused("a ticket for D's staff gina", accept(d, {"ticket": mint("gina"), "mode": "chain"}, binding), "protected_account", "gina")
    now = int(time.time())
    for bad in ("//evil.test", "javascript:alert(1)", "https://d.test.evil.test/", a.replace("https:", "http:") + "/"):
        claims = {"v": 1, "typ": "ticket", "iss": "a.test", "aud": "d.test", "iat": now, "exp": now + 60, "jti": b64u(os.urandom(16)),
                  "act": "login", "data": {"uid": uid["alice"], "login": "alice", "remember": False, "bnd": bnd, "return": bad}}
        forged = env.wp("a", "seal", secrets=[link], aad="usersync/v1|ticket|a.test|d.test", claims=claims)
        code, location, cookie = accept(d, {"ticket": forged, "mode": "chain", "return": bad}, binding)
        check(code == 303 and location == d.public + "/" and not cookie and last()[1:] == ("refused", "return_url_refused"),
              f"D: a ticket returning to {bad} is refused and the browser stays on D ({code} {location} {last()})")
    # Anonymous posts, with nothing but what anyone could send.
    for form in ({}, {"ticket": "garbage", "mode": "frame", "from": "a.test"}, {"ticket": "A" * 4000, "return": "https://evil.test/"}):
        code, location, cookie = accept(d, form)
        check(code in (200, 303) and not cookie and location in ("", d.public + "/"),
              f"D: an anonymous POST to the accept endpoint {sorted(form)} signs nobody in and goes nowhere else ({code} {location})")
    for body in ("", "garbage", "usersync" * 100):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", body, "-H", "Content-Type: text/plain",
                              d.url + "/usersync/inbox"], capture_output=True, text=True, check=True).stdout
        check(out.startswith("4"), f"D: an anonymous POST to the inbox is refused (HTTP {out})")
    check(d_rows(d) == before, "D: accounts, links, sessions and replay records are exactly as before the refused posts")
