"""End-to-end: the initial sync and the link health check attacked, on test_sync.py's real sites
(A linked to B and C; B accepts everything from A for subscribers and editors, from 127.0.0.1).

Two attackers, as the project guide asks:
 1. someone holding A's wp-config.php, so the A–B link secret: they seal, with the PHP binding
    A's own plugin uses, hand-made `sync` batches, `probe`s, `answer`s, `pong`s and `ping`s for
    B's inbox — a batch that would link or create an account for B's administrator or for an
    account with a role A may not grant there, or for an account with the same login but
    another email (or the other way round, in any letter case), a record whose uid is already
    linked to another account there, a privileged role, protected meta keys, a replayed batch,
    a batch for another peer id, an expired one, one over the size or account limit, a
    tampered one, a sealed answer or pong pushed into the inbox, a replayed ping, a ping for
    another site. Each is refused — by its HTTP answer's reason code, or, for a batch B opens,
    by the collision / not_sent reason in B's sealed answer (opened here with the secret) —
    with the reason in B's activity log, and B's rows are unchanged: every wp_users and
    wp_usermeta row (sessions are the session_tokens meta) and every wp_usersync_links row.
 2. an anonymous visitor and a logged-in subscriber of A (and an administrator whose request
    lacks the right nonce: none, a wrong one, or a valid nonce of another action), calling the
    initial sync's step (admin-ajax), the dry run and the link check (admin-post) on A: each
    refused, nothing sent to B (its log and rows unchanged), A's report and check results
    unchanged. The same requests with the page's nonce do reach B: the watch would see them.
"""
import base64
import json
import os
import re
import subprocess
import time
import urllib.parse

from checks import _counts, check

INBOX = "/?rest_route=/usersync/v1/inbox"
AAD_AB = "usersync/v1|action|a.test|b.test"
AAD_BA = "usersync/v1|action|b.test|a.test"
BCRYPT = "$2y$10$abcdefghijklmnopqrstuu5Y0ZkYhq1GmW7xv8aJ0Yk2b1mJQ9vW2"

# The attacker's tool: PHP on A's host with A's plugin loaded (so its Usersync\ binding), run
# over a list of operations in one process: seal and open with a keyring, and make a WordPress
# nonce for a logged-in user's session (the cookie taken from that user's browser).
TOOL = r"""<?php
[$_, $site, $ops] = $argv;
$_SERVER['HTTP_HOST'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
define('WP_USE_THEMES', false);
require $site . '/wp-load.php';
$out = [];
foreach (json_decode(file_get_contents($ops), true) as $op) {
    try {
        switch ($op['op']) {
            case 'seal':
                $out[] = (new Usersync\Keyring($op['secrets'], $op['max'] ?? 0))->seal($op['aad'], $op['plaintext']);
                break;
            case 'open':
                $out[] = json_decode((new Usersync\Keyring($op['secrets']))->open($op['aad'], $op['text']), true);
                break;
            case 'nonce':
                $_COOKIE[LOGGED_IN_COOKIE] = $op['cookie'];
                wp_set_current_user(get_user_by('login', $op['login'])->ID);
                $out[] = wp_create_nonce($op['action']);
                break;
        }
    } catch (Throwable $e) {
        $out[] = ['error' => $e instanceof Usersync\Exception ? $e->reason : get_class($e)];
    }
}
echo json_encode($out);
"""


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_uid():
    return b64u(os.urandom(16))


def claims(act, data, iss="a.test", aud="b.test", iat=None, life=60, eid=True):
    now = int(time.time()) if iat is None else iat
    c = {"v": 1, "typ": "action", "iss": iss, "aud": aud, "iat": now, "exp": now + life, "jti": new_uid(), "act": act, "data": data}
    if eid:
        c["eid"] = new_uid()
    return c


def quote(value):
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class Attacks:
    def __init__(self, env, ab):
        self.env, self.ab = env, ab
        self.tool = os.path.join(env.work, "sync-attacker.php")
        with open(self.tool, "w") as f:
            f.write(TOOL)

    # ---- the attacker's tool and the sites' rows --------------------------------------------

    def run_tool(self, ops):
        path = os.path.join(self.env.work, "sync-attacker-ops.json")
        with open(path, "w") as f:
            json.dump(ops, f)
        out = subprocess.run(["php", self.tool, self.env.sites["a"]["path"], path], capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    def seal_all(self, claim_list, aad=AAD_AB, secrets=None):
        # The claims as JSON from here: PHP would write an empty object ("data": {}) as [].
        ops = [{"op": "seal", "secrets": secrets or [self.ab], "aad": c.pop("_aad", aad), "plaintext": json.dumps(c)} for c in claim_list]
        return self.run_tool(ops)

    def open_answer(self, text):
        return self.run_tool([{"op": "open", "secrets": [self.ab], "aad": AAD_BA, "text": text}])[0]

    def sql(self, query):
        return self.env.sql_rows(query)

    def rows(self, site):
        """Every row of the site's accounts, in one query each: wp_users, wp_usermeta (sessions
        included: the session_tokens meta) and wp_usersync_links."""
        db = f"usersync_{site}"
        return tuple(map(tuple, self.sql(f"SELECT * FROM {db}.wp_users ORDER BY ID; SELECT * FROM {db}.wp_usermeta ORDER BY umeta_id; "
                                         f"SELECT * FROM {db}.wp_usersync_links ORDER BY uid")))

    def log_mark(self, site):
        return int(self.sql(f"SELECT COALESCE(MAX(id), 0) FROM usersync_{site}.wp_usersync_log")[0][0])

    def log_since(self, site, mark):
        rows = self.sql(f"SELECT direction, peer, act, result, reason FROM usersync_{site}.wp_usersync_log WHERE id > {mark} ORDER BY id")
        return [dict(zip(("direction", "peer", "act", "result", "reason"), r + [""] * (5 - len(r)))) for r in rows]

    def post(self, site, message):
        return self.env.post(site, INBOX, message)

    # ---- 1. the holder of A's link secret ---------------------------------------------------

    def targets(self):
        """B's accounts the attacks aim at: its administrator, an unlinked subscriber, an unlinked
        author (a role A may not grant there), and alice (linked to A's uid)."""
        env = self.env
        env.wp("b", "create_local_user", login="sa_vic", email="sa_vic@b.test", password="vic password", role="subscriber")
        env.wp("b", "create_local_user", login="sa_auth", email="sa_auth@b.test", password="auth password", role="author")
        admin_email = self.sql("SELECT user_email FROM usersync_b.wp_users WHERE user_login = 'admin'")[0][0]
        alice_uid = env.wp("b", "uid", login="alice")
        alice_email = self.sql("SELECT user_email FROM usersync_b.wp_users WHERE user_login = 'alice'")[0][0]
        check(bool(alice_uid) and admin_email, "B has its administrator and alice linked to A's uid")
        return admin_email, alice_uid, alice_email

    def batches_answered(self, admin_email, alice_uid, alice_email):
        """Batches B opens and answers: every account refused in the sealed answer, nothing
        applied. Each is one message, sent on its own."""
        def user(login, email, uid=None, **more):
            return dict({"uid": uid or new_uid(), "login": login, "email": email, "roles": ["subscriber"], "pass_hash": BCRYPT}, **more)

        def link(login, email, uid=None):
            return {"uid": uid or new_uid(), "login": login, "email": email}

        cases = [
            ("link B's administrator (login and email match)", {"link": [link("admin", admin_email)]}, "collision", "protected_account"),
            ("link B's administrator, login in another case", {"link": [link("ADMIN", admin_email.upper())]}, "collision", "protected_account"),
            ("create B's administrator (login and email match)", {"create": [user("admin", admin_email)]}, "collision", "protected_account"),
            ("create B's administrator's login with another email", {"create": [user("Admin", "evil@x.test")]}, "collision", "login_taken"),
            ("create an account with B's administrator's email", {"create": [user("sa_evil", admin_email)]}, "collision", "email_taken"),
            ("link an unlinked account by its login, another email", {"link": [link("sa_vic", "evil@x.test")]}, "collision", "login_taken"),
            ("link an unlinked account by its email, another login", {"link": [link("sa_evil", "sa_vic@b.test")]}, "collision", "email_taken"),
            ("link login of one account, email of another", {"link": [link("sa_vic", admin_email)]}, "collision", "login_taken"),
            ("link an account with a role A may not grant on B", {"link": [link("sa_auth", "sa_auth@b.test")]}, "collision", "protected_account"),
            ("create with a uid linked to another account there", {"create": [user("sa_new1", "sa_new1@x.test", alice_uid)]}, "collision", "identity_conflict"),
            ("link an unlinked account to a uid linked to another", {"link": [link("sa_vic", "sa_vic@b.test", alice_uid)]}, "collision", "identity_conflict"),
            ("link a linked account to a new uid", {"link": [link("alice", alice_email)]}, "collision", "linked_elsewhere"),
            ("create with the administrator role", {"create": [user("sa_boss", "sa_boss@x.test", roles=["administrator"])]}, "not_sent", "privileged_role"),
            ("create with wp_capabilities meta", {"create": [user("sa_caps", "sa_caps@x.test", meta={"wp_capabilities": ['a:1:{s:13:"administrator";b:1;}']})]},
             "not_sent", "protected_meta"),
            ("create with wp_user_level meta", {"create": [user("sa_lvl", "sa_lvl@x.test", meta={"wp_user_level": ["10"]})]}, "not_sent", "protected_meta"),
            ("create with session_tokens meta", {"create": [user("sa_ses", "sa_ses@x.test", meta={"session_tokens": ["a:0:{}"]})]}, "not_sent", "protected_meta"),
            ("create with usersync's own meta", {"create": [user("sa_own", "sa_own@x.test", meta={"usersync_uid": [alice_uid]})]}, "not_sent", "protected_meta"),
            # Logins and emails WordPress would clean or refuse (the bulk create skips wp_insert_user()).
            ("create a login that is markup", {"create": [user("<img/src=x/onerror=alert(1)>", "sa_xss@x.test")]}, "collision", "invalid_account"),
            ("create a Cyrillic look-alike of admin", {"create": [user("\u0430dmin", "sa_cyr@x.test")]}, "collision", "invalid_account"),
            ("create admin with a zero-width space", {"create": [user("admin\u200b", "sa_zw@x.test")]}, "collision", "invalid_account"),
            ("create an email with markup", {"create": [user("sa_mail", "e0<x>@x.test")]}, "collision", "invalid_account"),
            ("create a login with characters WordPress strips", {"create": [user("sa_bang!", "sa_bang@x.test")]}, "collision", "invalid_account"),
        ]
        messages = self.seal_all([claims("sync", data) for _, data, _, _ in cases])
        for (what, _, want_do, want_reason), message in zip(cases, messages):
            before, mark = self.rows("b"), self.log_mark("b")
            status, body = self.post("b", message)
            results = []
            if status == 200 and isinstance(body, dict) and body.get("result") == "answered":
                opened = self.open_answer(body["answer"])
                results = [(r.get("do"), r.get("reason")) for r in opened.get("data", {}).get("results", [])]
            check(results == [(want_do, want_reason)], f"{what}: B answers {want_do} {want_reason} (got {status} {results or body})")
            check(self.rows("b") == before, f"{what}: B's users, meta, sessions and links unchanged")
            log = self.log_since("b", mark)
            check([(r["act"], r["result"], r["reason"]) for r in log] == [("sync", "applied", f"{want_do} 1")],
                  f"{what}: B's activity log has the batch with its outcome ({log})")

    def batches_refused(self):
        """Batches B refuses to open or apply: the HTTP answer's reason, the same reason in B's
        activity log, nothing changed."""
        def batch(**kw):
            return claims("sync", {"create": [{"uid": new_uid(), "login": "sa_x", "email": "sa_x@x.test", "roles": ["subscriber"]}]}, **kw)

        now = int(time.time())
        many = {"link": [{"uid": new_uid(), "login": f"sa_many{i}", "email": f"sa_many{i}@x.test"} for i in range(1001)]}
        dup = new_uid()
        huge = {"create": [{"uid": new_uid(), "login": f"sa_big{i}", "email": f"sa_big{i}@x.test", "fields": {"description": "x" * 60000}}
                           for i in range(20)]}
        cases = [
            ("sealed for another site (aad for c.test)", dict(batch(aud="c.test"), _aad="usersync/v1|action|a.test|c.test"), 403, "authentication_failed"),
            ("naming another site as its audience", batch(aud="c.test"), 400, "wrong_site"),
            ("naming another peer as its sender", batch(iss="c.test"), 400, "wrong_site"),
            ("expired", batch(iat=now - 400), 400, "expired"),
            ("living longer than a receiver allows", batch(life=3600), 400, "lifetime_too_long"),
            ("without an event id", batch(eid=False), 400, "claims_invalid"),
            ("over the account limit (1001)", claims("sync", many), 400, "data_invalid"),
            ("naming one uid twice", claims("sync", {"link": [{"uid": dup, "login": "sa_d1", "email": "sa_d1@x.test"},
                                                             {"uid": dup, "login": "sa_d2", "email": "sa_d2@x.test"}]}), 400, "data_invalid"),
            ("with nothing in it", claims("sync", {}), 400, "data_invalid"),
            ("with a field no record has (user_pass)", claims("sync", {"create": [{"uid": new_uid(), "login": "sa_p", "email": "sa_p@x.test",
                                                                               "user_pass": "plain"}]}), 400, "unknown_field"),
            ("with a plaintext password as its hash", claims("sync", {"create": [{"uid": new_uid(), "login": "sa_h", "email": "sa_h@x.test",
                                                                              "pass_hash": "hunter2hunter2"}]}), 400, "pass_hash_format"),
        ]
        messages = self.seal_all([c for _, c, _, _ in cases])
        # Over the message limit (1 MiB): sealed by a keyring that allows more, as an attacker can.
        big = self.run_tool([{"op": "seal", "secrets": [self.ab], "aad": AAD_AB, "plaintext": json.dumps(claims("sync", huge)), "max": 4 << 20}])[0]
        messages.append(big)
        cases.append((f"over the message limit ({len(big)} characters)", None, 400, "too_large"))
        good = self.seal_all([batch()])[0]
        messages.append(good[:60] + ("A" if good[60] != "A" else "B") + good[61:])
        cases.append(("tampered (one character changed)", None, 403, "authentication_failed"))
        for (what, _, want_status, want_reason), message in zip(cases, messages):
            before, mark = self.rows("b"), self.log_mark("b")
            status, body = self.post("b", message)
            check(status == want_status and isinstance(body, dict) and body.get("reason") == want_reason,
                  f"a batch {what}: refused {want_status} {want_reason} (got {status} {str(body)[:160]})")
            check(self.rows("b") == before, f"a batch {what}: B's rows unchanged")
            log = self.log_since("b", mark)
            check([r["result"] for r in log] == ["refused"] and log[0]["reason"].startswith(want_reason),
                  f"a batch {what}: B's activity log has the refusal and its reason ({log})")

    def replayed_batch(self):
        """A batch B applied, sent again after B's administrator deleted the account it made: the
        copy is refused as a replay and the account does not come back."""
        env = self.env
        message = self.seal_all([claims("sync", {"create": [{"uid": new_uid(), "login": "sa_zed", "email": "sa_zed@x.test",
                                                               "roles": ["subscriber"], "pass_hash": BCRYPT}]})])[0]
        status, body = self.post("b", message)
        results = self.open_answer(body["answer"])["data"]["results"] if status == 200 and isinstance(body, dict) and "answer" in body else body
        check(isinstance(results, list) and [r["do"] for r in results] == ["create"] and env.wp("b", "get_user", login="sa_zed")["exists"],
              f"a fresh batch from the secret's holder creates its account on B, as the policy allows ({status} {results})")
        env.wp("b", "delete_user", login="sa_zed")
        before, mark = self.rows("b"), self.log_mark("b")
        status, body = self.post("b", message)
        check(status == 409 and isinstance(body, dict) and body.get("result") == "refused" and str(body.get("reason", "")).startswith("duplicate"),
              f"the same batch again is refused as a replay (got {status} {body})")
        check(self.rows("b") == before and not env.wp("b", "get_user", login="sa_zed")["exists"],
              "… and the account B's administrator deleted does not come back; B's rows unchanged")
        log = self.log_since("b", mark)
        check([(r["act"], r["result"]) for r in log] == [("sync", "duplicate")], f"… and B's activity log has the replay ({log})")

    def probes(self, admin_email):
        """A probe says what a sync would do and changes nothing; a replayed probe is refused."""
        message = self.seal_all([claims("probe", {"accounts": [
            {"login": "admin", "email": admin_email}, {"login": "sa_boss", "email": "sa_boss@x.test", "roles": ["administrator"]}]})])[0]
        before, mark = self.rows("b"), self.log_mark("b")
        status, body = self.post("b", message)
        got = []
        if status == 200 and isinstance(body, dict) and "answer" in body:
            got = [(r.get("do"), r.get("reason")) for r in self.open_answer(body["answer"])["data"]["results"]]
        check(got == [("collision", "protected_account"), ("not_sent", "privileged_role")],
              f"a probe for B's administrator and a new administrator: protected_account, privileged_role ({status} {got or body})")
        status, body = self.post("b", message)
        check(status == 409 and isinstance(body, dict) and str(body.get("reason", "")).startswith("duplicate") and "answer" not in body,
              f"the same probe again is refused as a replay, unanswered (got {status} {str(body)[:120]})")
        check(self.rows("b") == before, "probes change nothing on B")
        log = self.log_since("b", mark)
        check([(r["act"], r["result"]) for r in log] == [("probe", "answered"), ("probe", "duplicate")], f"B's log has both probes ({log})")

    def link_messages(self):
        """The link's own messages pushed into B's inbox — an answer to no question, a pong to no
        ping — are refused and change nothing."""
        forged = self.seal_all([
            claims("answer", {"to": new_uid(), "results": [{"do": "create", "uid": new_uid()}]}),
            claims("pong", {"ping": new_uid(), "time": int(time.time()), "accepts": ["create"], "sends": ["create"], "version": "0"}),
        ])
        for what, message in zip(("a sealed answer", "a sealed pong"), forged):
            before, mark = self.rows("b"), self.log_mark("b")
            status, body = self.post("b", message)
            reason = body.get("reason") if isinstance(body, dict) else None
            check(400 <= status < 500 and isinstance(body, dict) and body.get("result") == "refused" and reason,
                  f"{what} posted to B's inbox is refused (got {status} {body})")
            check(self.rows("b") == before, f"{what}: B's rows unchanged")
            log = self.log_since("b", mark)
            check([(r["result"], r["reason"]) for r in log] == [("refused", reason)], f"{what}: B's log has the refusal ({log})")

    def pings(self):
        """A replayed ping is answered once; a ping for another site, or replayed to one, opens nowhere."""
        ping, other_aad, other_aud = self.seal_all([
            claims("ping", {}), dict(claims("ping", {}, aud="c.test"), _aad="usersync/v1|action|a.test|c.test"), claims("ping", {}, aud="c.test")])
        mark = self.log_mark("b")
        status, body = self.post("b", ping)
        check(status == 200 and isinstance(body, dict) and body.get("result") == "pong" and body.get("message"), f"a ping is answered with a pong ({status})")
        status, body = self.post("b", ping)
        check(status == 200 and isinstance(body, dict) and body.get("result") == "duplicate" and "message" not in body,
              f"the same ping again is a replay: no pong (got {status} {body})")
        check([(r["act"], r["result"]) for r in self.log_since("b", mark)] == [("ping", "answered"), ("ping", "duplicate")],
              "B's log has the ping and its replay")
        for what, message, want_status, want_reason in (("sealed for another site", other_aad, 403, "authentication_failed"),
                                                         ("naming another site", other_aud, 400, "wrong_site")):
            mark = self.log_mark("b")
            status, body = self.post("b", message)
            check(status == want_status and isinstance(body, dict) and body.get("reason") == want_reason and "message" not in body,
                  f"a ping {what}: refused {want_status} {want_reason}, no pong (got {status} {body})")
            log = self.log_since("b", mark)
            check([r["result"] for r in log] == ["refused"] and log[0]["reason"].startswith(want_reason), f"a ping {what}: in B's log ({log})")
        mark = self.log_mark("c")
        status, body = self.post("c", ping)
        check(status == 403 and isinstance(body, dict) and body.get("reason") == "authentication_failed" and "message" not in body,
              f"B's ping replayed to C is refused there (got {status} {body})")
        log = self.log_since("c", mark)
        check([r["result"] for r in log] == ["refused"] and log[0]["reason"].startswith("authentication_failed"), f"… and in C's log ({log})")

    # ---- 2. visitors and subscribers of A ---------------------------------------------------

    def login(self, site, name, password, jar):
        subprocess.run(["curl", "-s", "-o", "/dev/null", "-c", jar, "-b", "wordpress_test_cookie=WP%20Cookie%20check",
                        "--data-urlencode", f"log={name}", "--data-urlencode", f"pwd={password}", "-d", "testcookie=1",
                        self.env.sites[site]["url"] + "/wp-login.php"], check=True)
        with open(jar) as f:
            cookie = next((line.split("\t")[-1].strip() for line in f if "\twordpress_logged_in_" in line), None)
        check(cookie is not None, f"{name} is logged in on {site}")
        return urllib.parse.unquote(cookie or "")

    def request(self, jar, script, fields):
        args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}"]
        if jar:
            args += ["-b", jar]
        for k, v in fields.items():
            args += ["--data-urlencode", f"{k}={v}"]
        out = subprocess.run(args + [self.env.sites["a"]["url"] + f"/wp-admin/{script}"], capture_output=True, text=True, check=True).stdout
        text, _, code = out.rpartition("\n")
        return int(code), text

    def a_state(self):
        """What A's actions would change: its sync report for B and its link check results."""
        return self.sql("SELECT * FROM usersync_a.wp_usersync_sync ORDER BY peer, user_id; "
                        "SELECT option_value FROM usersync_a.wp_options WHERE option_name = 'usersync_health'")

    def admin_actions(self):
        env = self.env
        # A report to carry out: an account on A that B does not have.
        env.wp("a", "create_local_user", login="sa_pre", email="sa_pre@a.test", password="pre password", role="subscriber")
        env.wp("a", "sync_report", peer="b.test")
        check(any(r["login"] == "sa_pre" and r["verdict"] == "create" for r in env.wp("a", "sync_rows", peer="b.test")),
              "A's report for B has an account to create there")
        admin_jar, sub_jar = os.path.join(env.work, "sa-admin.txt"), os.path.join(env.work, "sa-sub.txt")
        env.wp("a", "create_local_user", login="sa_sub", email="sa_sub@a.test", password="sub password", role="subscriber")
        admin_pw = open(os.path.join(env.sites["a"]["path"], ".admin-password")).read()
        self.login("a", "admin", admin_pw, admin_jar)
        sub_cookie = self.login("a", "sa_sub", "sub password", sub_jar)
        page = self.request(admin_jar, "options-general.php?page=usersync-sync&peer=b.test", {})[1]
        step_nonce = re.search(r'usersyncSync = \{[^}]*"nonce":"([0-9a-f]+)"', page)
        report_nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', page)
        settings = self.request(admin_jar, "options-general.php?page=usersync", {})[1]
        test_nonce = re.search(r'value="usersync_test_link">\s*<input type="hidden" name="peer" value="b.test">\s*'
                               r'<input type="hidden" id="_wpnonce" name="_wpnonce" value="([0-9a-f]+)"', settings)
        check(step_nonce and report_nonce and test_nonce, "the administrator's pages carry the step, report and link check nonces")
        if not (step_nonce and report_nonce and test_nonce):
            return
        nonces = {"usersync_sync_step": step_nonce.group(1), "usersync_sync_report": report_nonce.group(1), "usersync_test_link": test_nonce.group(1)}
        sub_nonces = dict(zip(nonces, self.run_tool([{"op": "nonce", "cookie": sub_cookie, "login": "sa_sub", "action": a} for a in nonces])))
        actions = [("the sync step", "admin-ajax.php", "usersync_sync_step", {"peer": "b.test"}, "_ajax_nonce"),
                   ("the dry run", "admin-post.php", "usersync_sync_report", {"peer": "b.test"}, "_wpnonce"),
                   ("the link check", "admin-post.php", "usersync_test_link", {"peer": "b.test"}, "_wpnonce")]
        for what, script, action, fields, nonce_field in actions:
            other = next(n for a, n in nonces.items() if a != action)
            callers = [("an anonymous visitor", None, None), ("an anonymous visitor with the administrator's nonce", None, nonces[action]),
                       ("a subscriber", sub_jar, None), ("a subscriber with its own nonce for the action", sub_jar, sub_nonces[action]),
                       ("an administrator without a nonce", admin_jar, None), ("an administrator with a wrong nonce", admin_jar, "0123456789"),
                       ("an administrator with the nonce of another action", admin_jar, other)]
            for who, jar, nonce in callers:
                before, mark, a_before = self.rows("b"), self.log_mark("b"), self.a_state()
                sent = dict(fields, action=action, **({nonce_field: nonce} if nonce else {}))
                status, text = self.request(jar, script, sent)
                check(status in (400, 403) and '"success":true' not in text, f"{what} by {who}: refused (got {status} {text[:80]!r})")
                check(self.log_since("b", mark) == [] and self.rows("b") == before, f"{what} by {who}: nothing reached B")
                check(self.a_state() == a_before, f"{what} by {who}: A's report and link check unchanged")
            # The same request with the administrator's own nonce does reach B (the watch works).
            mark, a_before = self.log_mark("b"), self.a_state()
            status, text = self.request(admin_jar, script, dict(fields, action=action, **{nonce_field: nonces[action]}))
            reached = {r["act"] for r in self.log_since("b", mark)}
            check(status in (200, 302) and reached and self.a_state() != a_before,
                  f"{what} by the administrator with the page's nonce reaches B ({status}, B logged {sorted(reached)})")


def run(env, ab_secret):
    start = _counts["passed"] + _counts["failed"]
    failed = _counts["failed"]
    began = time.time()
    t = Attacks(env, ab_secret)
    admin_email, alice_uid, alice_email = t.targets()
    t.batches_answered(admin_email, alice_uid, alice_email)
    t.batches_refused()
    t.replayed_batch()
    t.probes(admin_email)
    t.link_messages()
    t.pings()
    t.admin_actions()
    print(f"sync attacks: {_counts['passed'] + _counts['failed'] - start} checks, {_counts['failed'] - failed} failed, "
          f"{time.time() - began:.1f} s", flush=True)
