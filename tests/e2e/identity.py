"""End-to-end: identity and protected accounts on real sites (docs/protocol.md §9, §15).

Called by test_sync.py's main() right after sync_changes(), on its three sites: A links to B and
C; B accepts everything from A for subscribers and editors (billing_* meta, passwords); C accepts
create/update/delete for subscribers. For the run only, and restored afterwards: A also sends
`login` to B and B accepts it (single sign-on), A sends C administrators and C accepts them with
allow_privileged, and B has an audit-plugin stand-in (a mu-plugin on core's wp_login and
set_auth_cookie).

Shows, with each target account's database rows (its wp_users row, every wp_usermeta row, its
wp_usersync_links row) read from MariaDB before and after:
 1. a public sign-up on A with B's administrator's login, or with the email of an account that
    exists only on B, reaches B as an identity_conflict and changes nothing there — nor do the
    sign-up's later changes;
 2. a peer holding only its link secret (messages built with A's library, sealed directly, login
    tickets) cannot touch B's administrator, a B-only editor, an unlinked subscriber or a linked
    account B made an administrator: each message is refused (or, for delete and logout of an
    account not linked here, answered "skipped") with the reason in the HTTP answer and in B's
    activity log, and nothing changes;
    Besides, a peer's create without roles never gets B's default role for new users when the
    peer may not grant it (B's default role set to administrator for that check);
 3. the good paths still work: create (linked, same uid on both sites), update, password, single
    sign-on and delete reach B; an administrator syncs to C under allow_privileged;
 4. every single sign-on B accepts reaches core's wp_login and set_auth_cookie (what security and
    audit plugins watch), and refused tickets do not.
"""
import base64
import hashlib
import json
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from checks import _counts, check
from sites import php_literal


def password_login(env, site, login, password):
    """wp-login.php as a browser would; True when WordPress signs the user in (a session starts)."""
    head = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-D", "-", "-b", "wordpress_test_cookie=WP%20Cookie%20check",
         "--data-urlencode", f"log={login}", "--data-urlencode", f"pwd={password}", "-d", "testcookie=1",
         env.sites[site]["url"] + "/wp-login.php"], capture_output=True, text=True, check=True).stdout
    return " 302" in head.splitlines()[0] and "wordpress_logged_in_" in head


INBOX = "/?rest_route=/usersync/v1/inbox"
AUDIT_OPTION = "e2e_audit"

# Test-only: B's object cache as WordPress's own, but each flush (a persistent cache's would
# empty what every request uses) is written to a file.
FLUSHES_PLUGIN = """<?php
final class E2E_Counted_Cache extends WP_Object_Cache {
    public function flush() { file_put_contents(%(log)s, ($_GET['rest_route'] ?? '') . "\\n", FILE_APPEND); return parent::flush(); }
}
$GLOBALS['wp_object_cache'] = new E2E_Counted_Cache();
"""
AUDIT_PLUGIN = """<?php
// Test-only (tests/e2e/identity.py): a security/audit plugin stand-in. It records every login core
// reports (wp_login) and every auth cookie core makes (set_auth_cookie), and whether the request
// was a single sign-on from a peer, in the option e2e_audit (JSON).
function e2e_audit_add(array $entry): void {
    $log   = json_decode((string) get_option('e2e_audit', '[]'), true) ?: array();
    $log[] = $entry + array('sso' => isset($_GET['usersync_sso_accept']));
    update_option('e2e_audit', wp_json_encode($log), false);
}
add_action('wp_login', function ($login, $user) {
    e2e_audit_add(array('hook' => 'wp_login', 'login' => (string) $login, 'user_id' => (int) $user->ID));
}, 10, 2);
add_action('set_auth_cookie', function ($cookie, $expire, $expiration, $user_id, $scheme) {
    $user = get_userdata((int) $user_id);
    e2e_audit_add(array('hook' => 'set_auth_cookie', 'login' => $user ? $user->user_login : '', 'user_id' => (int) $user_id,
                        'scheme' => (string) $scheme));
}, 10, 5);
"""

GATE_PLUGIN = """<?php
// Test-only (tests/e2e/identity.py): a login-gating plugin stand-in (as plugins that suspend or
// hold accounts for approval do it): core's wp_authenticate_user filter refuses the account lena.
add_filter('wp_authenticate_user', function ($user) {
    return $user instanceof WP_User && 'lena' === $user->user_login ? new WP_Error('e2e_suspended', 'This account is suspended.') : $user;
});
"""


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_uid():
    return b64u(os.urandom(16))


def bnd_of(binding):
    return b64u(hashlib.sha256(binding.encode()).digest())


def quote(value):
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class Identity:
    def __init__(self, env, ab):
        self.env, self.ab = env, ab
        self.restore_steps = []          # configuration and the audit plugin, undone last
        self.signups = []                # accounts made on A by the sign-up cases, deleted at the end
        self.renamed_admin = False
        self.tickets = {"accepted": [], "refused": 0}

    def wp(self, site, command, **args):
        """env.wp(), with PHP's opcode cache in a file cache of the run's own (a new folder each
        run): forging a message loads WordPress, and there are many. Same wp.php, same result."""
        cache = os.path.join(self.env.work, "identity-opcache")
        os.makedirs(cache, exist_ok=True)
        out = subprocess.run(["php", "-d", "opcache.enable_cli=1", "-d", f"opcache.file_cache={cache}", "-d", "opcache.file_cache_only=1",
                              "-d", "opcache.revalidate_freq=0", os.path.join(os.path.dirname(__file__), "wp.php"),
                              self.env.sites[site]["path"], command, json.dumps(args)],
                             env=dict(os.environ, SITE_URL=self.env.sites[site]["url"]), capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    # ---- reading the sites' databases ---------------------------------------------------------

    def sql(self, query):
        return self.env.sql_rows(query)

    def snapshot(self, site, logins, since=None):
        """In one query: every database row of the accounts with these logins on `site` (matched
        as WordPress does, case-insensitively) — wp_users, all wp_usermeta, wp_usersync_links —
        and checksums of those three whole tables; besides, the activity log's last id, its lines
        after `since`, and (B) the audit plugin's record."""
        db = f"usersync_{site}"
        names = ", ".join(quote(x) for x in logins)
        users = f"SELECT ID FROM {db}.wp_users WHERE user_login IN ({names})"
        log = f"JSON_OBJECT('direction', direction, 'peer', peer, 'act', act, 'login', login, 'result', result, 'reason', reason)"
        rows = {"users": {}, "meta": {}, "links": {}, "tables": {}}
        extra = {"log": [], "audit": []}
        for line in self.sql(f"""
            SELECT 'users', ID, JSON_OBJECT('ID', ID, 'user_login', user_login, 'user_pass', user_pass, 'user_nicename', user_nicename,
                'user_email', user_email, 'user_url', user_url, 'user_registered', user_registered,
                'user_activation_key', user_activation_key, 'user_status', user_status, 'display_name', display_name)
              FROM {db}.wp_users WHERE ID IN ({users})
            UNION ALL SELECT 'meta', umeta_id, JSON_OBJECT('umeta_id', umeta_id, 'user_id', user_id, 'meta_key', meta_key, 'meta_value', meta_value)
              FROM {db}.wp_usermeta WHERE user_id IN ({users})
            UNION ALL SELECT 'links', user_id, JSON_OBJECT('uid', uid, 'user_id', user_id, 'linked_at', linked_at)
              FROM {db}.wp_usersync_links WHERE user_id IN ({users})
            UNION ALL SELECT 'mark', COALESCE(MAX(id), 0), 'null' FROM {db}.wp_usersync_log
            UNION ALL SELECT 'log', id, {log} FROM {db}.wp_usersync_log WHERE id > {since if since is not None else 'id'}
            UNION ALL SELECT 'audit', 0, option_value FROM {db}.wp_options WHERE option_name = '{AUDIT_OPTION}';
            CHECKSUM TABLE {db}.wp_users, {db}.wp_usermeta, {db}.wp_usersync_links EXTENDED"""):
            if len(line) == 2:
                rows["tables"][line[0].split(".")[-1]] = line[1]
                continue
            kind, key, value = line
            if kind == "mark":
                extra["mark"] = int(key)
            elif kind == "log":
                extra["log"].append((int(key), json.loads(value)))
            elif kind == "audit":
                extra["audit"] = json.loads(value)
            else:
                rows[kind][int(key)] = json.loads(value)
        extra["log"] = [entry for _, entry in sorted(extra["log"], key=lambda x: x[0])]
        return rows, extra

    def rows(self, site, logins):
        return self.snapshot(site, logins)[0]

    def user(self, site, login):
        """One account's rows: {'user', 'meta' (key → [values]), 'link', 'roles'}; None when absent."""
        r = self.rows(site, [login])
        if not r["users"]:
            return None
        (uid_row,) = list(r["links"].values()) or [None]
        meta = {}
        for m in sorted(r["meta"].values(), key=lambda m: m["umeta_id"]):
            meta.setdefault(m["meta_key"], []).append(m["meta_value"])
        caps = meta.get("wp_capabilities", [""])[0]
        return {"user": next(iter(r["users"].values())), "meta": meta, "link": uid_row,
                "roles": re.findall(r's:\d+:"([^"]+)";b:1;', caps), "count": len(r["users"])}

    def uid(self, site, login):
        u = self.user(site, login)
        return u["link"]["uid"] if u and u["link"] else None

    def linked(self, site, uid):
        return self.sql(f"SELECT COUNT(*) FROM usersync_{site}.wp_usersync_links WHERE uid = {quote(uid)}")[0][0] != "0"

    def log_mark(self, site):
        return int(self.sql(f"SELECT COALESCE(MAX(id), 0) FROM usersync_{site}.wp_usersync_log")[0][0])

    def log_since(self, site, mark, direction=None):
        where = f" AND direction = {quote(direction)}" if direction else ""
        rows = self.sql(f"SELECT direction, peer, act, login, result, reason FROM usersync_{site}.wp_usersync_log "
                        f"WHERE id > {mark}{where} ORDER BY id")
        return [dict(zip(("direction", "peer", "act", "login", "result", "reason"), r + [""] * (6 - len(r)))) for r in rows]

    def audit(self):
        rows = self.sql(f"SELECT option_value FROM usersync_b.wp_options WHERE option_name = '{AUDIT_OPTION}'")
        return json.loads(rows[0][0]) if rows else []

    def outbox(self, site):
        return int(self.sql(f"SELECT COUNT(*) FROM usersync_{site}.wp_usersync_outbox")[0][0])

    # ---- browsers ------------------------------------------------------------------------------

    def password_login(self, site, login, password):
        return password_login(self.env, site, login, password)

    def bind(self, site, peer="a.test"):
        """The first step of single sign-on on `site`, as the plugin's chain does it: B sets its
        binding cookie and hands back the hash. Returns (cookie value, bnd in the redirect)."""
        head = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-",
                               self.env.sites[site]["url"] + f"/?usersync_sso_bind=1&from={peer}&mode=chain"],
                              capture_output=True, text=True, check=True).stdout
        cookie = re.search(r"(?im)^set-cookie: usersync_bind=([A-Za-z0-9_-]+);", head)
        bnd = re.search(r"(?im)^location: .*[?&]bnd=([A-Za-z0-9_-]{43})", head)
        return (cookie.group(1) if cookie else None), (bnd.group(1) if bnd else None)

    def accept(self, site, ticket, binding, jar=None):
        """POSTs a ticket to the accept endpoint as a browser holding the binding cookie would:
        (status, whether a wordpress_logged_in cookie was set)."""
        cmd = ["curl", "-s", "-o", "/dev/null", "-D", "-", "--data-urlencode", f"ticket={ticket}", "-d", "mode=chain"]
        if binding is not None:
            cmd += ["-b", f"usersync_bind={binding}"]
        if jar:
            cmd += ["-c", jar]
        head = subprocess.run(cmd + [self.env.sites[site]["url"] + "/?usersync_sso_accept=1"], capture_output=True, text=True,
                              check=True).stdout
        return int(head.split()[1]), "wordpress_logged_in_" in head

    # ---- configuration for the run -------------------------------------------------------------

    def constants(self, site):
        path = os.path.join(self.env.sites[site]["path"], "wp-config-local.php")
        out = self.env.php(site, "-r", f"$before = get_defined_constants(true)['user'] ?? []; require {quote(path)};"
                                       "echo json_encode(array_diff_key(get_defined_constants(true)['user'], $before));")
        return path, json.loads(out)

    def configure(self):
        """A sends login to B and administrators to C; B accepts login; C accepts administrators
        with allow_privileged. Restored at the end."""
        changes = {
            "a": lambda peers: [dict(p, send=dict(p["send"], actions=p["send"]["actions"] + ["login"])) if p["id"] == "b.test" else
                                dict(p, send=dict(p["send"], roles=p["send"]["roles"] + ["administrator"])) for p in peers],
            "b": lambda peers: [dict(p, accept=dict(p["accept"], actions=p["accept"]["actions"] + ["login"])) for p in peers],
            "c": lambda peers: [dict(p, accept=dict(p["accept"], roles=p["accept"]["roles"] + ["administrator"], allow_privileged=True))
                                for p in peers],
        }
        for site, change in changes.items():
            path, consts = self.constants(site)
            original = open(path).read()
            self.restore_steps.append(lambda path=path, original=original: open(path, "w").write(original))
            consts["USERSYNC_PEERS"] = change(consts["USERSYNC_PEERS"])
            with open(path, "w") as f:
                f.write("<?php\n// Rewritten for the run of tests/e2e/identity.py, restored after it.\n")
                for key, value in consts.items():
                    f.write(f"define({json.dumps(key)}, {php_literal(value)});\n")
        # The audit, login-gate and cache-flush stand-ins on B.
        self.flushes = os.path.join(self.env.work, "b-cache-flushes.log")
        open(self.flushes, "w").close()
        os.chmod(self.flushes, 0o666)
        flushes = FLUSHES_PLUGIN % {"log": json.dumps(self.flushes)}
        for name, text in (("e2e-audit.php", AUDIT_PLUGIN), ("e2e-gate.php", GATE_PLUGIN), ("e2e-cache-flushes.php", flushes)):
            plugin = os.path.join(self.env.sites["b"]["path"], "wp-content", "mu-plugins", name)
            with open(plugin, "w") as f:
                f.write(text)
            self.restore_steps.append(lambda plugin=plugin: os.remove(plugin))
        self.restore_steps.append(lambda: self.sql(f"DELETE FROM usersync_b.wp_options WHERE option_name = '{AUDIT_OPTION}'"))
        time.sleep(1.1)  # a new mtime for opcache (revalidate_freq=0 checks it on every request)

    def restore(self, b_log):
        """Puts everything back: the sign-ups on A go (their deletes reach B and C), A's admin
        gets its login back, the configuration and B's mu-plugins are the originals again, and
        B's activity log loses this run's lines (test_sync's refusals() counts B's refusals)."""
        steps = [lambda login=login: self.env.wp("a", "delete_user", login=login) for login in self.signups]
        if self.renamed_admin:
            steps.append(lambda: self.env.sql("UPDATE usersync_a.wp_users SET user_login = 'admin' WHERE ID = 1"))
        steps += self.restore_steps
        steps.append(lambda: self.sql(f"DELETE FROM usersync_b.wp_usersync_log WHERE id > {b_log}"))
        for step in steps:
            try:
                step()
            except Exception as e:  # noqa: BLE001 - restore all we can, then report
                check(False, f"restoring after the identity tests: {e!r}")
        time.sleep(1.1)  # the restored configuration's new mtime for opcache

    # ---- 1. the public sign-up collision -------------------------------------------------------

    def signup_collisions(self):
        env = self.env
        watch = ["admin", "bea"]
        # Every test site's administrator is "admin": A's is renamed for the sign-up (as on a
        # network whose sites' administrators have different logins), and renamed back at the end.
        env.sql("UPDATE usersync_a.wp_users SET user_login = 'a-site-admin' WHERE ID = 1 AND user_login = 'admin'")
        self.renamed_admin = True
        admin_password = open(os.path.join(env.sites["b"]["path"], ".admin-password")).read()
        cases = [
            ("a sign-up on A with B's administrator's login", "admin", "signup-admin@a.test"),
            ("a sign-up on A with the email of an account only B has", "mallory", "bea@b.test"),
            ("a sign-up on A with that email in other letter case", "mallory2", "BEA@B.Test"),
        ]
        for what, login, email in cases:
            before = {s: self.rows(s, watch + [login]) for s in "bc"}
            marks = {s: self.log_mark(s) for s in "abc"}
            env.wp("a", "create_user", login=login, email=email, password="signup password 1", role="subscriber")
            self.signups.append(login)
            uid = self.uid("a", login)
            check(uid is not None, f"{what}: A links its new account (uid minted)")
            got = self.log_since("b", marks["b"], "in")
            check(got == [{"direction": "in", "peer": "a.test", "act": "create", "login": login, "result": "refused",
                           "reason": "identity_conflict"}], f"{what}: B's log says create {login} refused identity_conflict (got {got})")
            sent = self.log_since("a", marks["a"], "out")
            check({"direction": "out", "peer": "b.test", "act": "create", "login": login, "result": "refused",
                   "reason": "identity_conflict"} in sent, f"{what}: A's log has B's refusal (got {sent})")
            after = self.rows("b", watch + [login])
            check(after == before["b"], f"{what}: B's admin and bea rows (users, meta, links; whole tables) unchanged "
                                        f"{diff(before['b'], after)}")
            check(self.user("b", login) is None if login != "admin" else self.user("b", "admin")["count"] == 1,
                  f"{what}: no second account with login {login} on B")
            check(not self.linked("b", uid), f"{what}: the sign-up's uid is linked to nothing on B")
            if login == "admin":
                # C has an "admin" too: refused there the same way.
                got = self.log_since("c", marks["c"], "in")
                check(got and got[-1]["result"] == "refused" and got[-1]["reason"] == "identity_conflict" and got[-1]["login"] == "admin",
                      f"{what}: C refuses it too (got {got})")
                after = self.rows("c", watch + [login])
                check(after == before["c"] and self.user("c", "admin")["count"] == 1, f"{what}: C's admin unchanged {diff(before['c'], after)}")
            else:
                env.wp("a", "delete_user", login=login)  # its email is needed again for the next case
                self.signups.remove(login)
        check(int(self.sql("SELECT COUNT(*) FROM usersync_b.wp_users WHERE user_email = 'bea@b.test'")[0][0]) == 1,
              "B still has one account with bea@b.test")

        # The sign-up's later changes on A never reach B's administrator either.
        before = self.rows("b", ["admin"])
        mark = self.log_mark("b")
        env.wp("a", "set_password", login="admin", password="signup password 2")
        env.wp("a", "update_user", login="admin", set={"user_email": "signup-admin-2@a.test", "display_name": "Not the admin"})
        got = [(r["act"], r["login"], r["result"], r["reason"]) for r in self.log_since("b", mark, "in")]
        check(got == [("password", "admin", "refused", "unknown_account"), ("update", "admin", "refused", "unknown_account")],
              f"the sign-up's password and profile changes reach B as unknown_account (got {got})")
        check(self.rows("b", ["admin"]) == before, "B's admin rows unchanged by the sign-up's later changes")
        check(not self.password_login("b", "admin", "signup password 2"), "the sign-up's password does not log in as B's admin")
        check(self.password_login("b", "admin", admin_password), "B's admin still logs in with its own password")
        mark = self.log_mark("b")
        env.wp("a", "delete_user", login="admin")
        self.signups.remove("admin")
        got = [(r["act"], r["login"], r["result"]) for r in self.log_since("b", mark, "in")]
        check(got == [("delete", "admin", "skipped")], f"deleting the sign-up on A is skipped on B: not linked there (got {got})")
        check(self.user("b", "admin") is not None and self.rows("b", ["admin"])["users"] == before["users"], "B's admin survives it")

    # ---- 2. a peer holding only its link secret -------------------------------------------------

    def forged(self, kind, act, data):
        """A message from "A" for B: built by A's library exactly as A's plugin would, sealed
        directly with the link secret, or a ticket minted by A's library / sealed directly."""
        env = self.env
        now = int(time.time())
        if kind == "build":
            built = self.wp("a", "build", event={"act": act, "data": data}, peer="b.test")
            assert len(built) == 1, f"A's library builds {act} for B: {built}"
            return built[0]["message"]
        if kind == "mint":
            return self.wp("a", "mint", request=dict(data, peer="b.test"))["message"]
        typ = "ticket" if kind == "seal-ticket" else "action"
        claims = {"v": 1, "typ": typ, "iss": "a.test", "aud": "b.test", "iat": now, "exp": now + 60, "jti": new_uid(), "act": act,
                  "data": data}
        return self.wp("a", "seal", secrets=[self.ab], aad=f"usersync/v1|{typ}|a.test|b.test", claims=claims)

    def battery(self, label, login, uid, protected, email, password=None, watch=()):
        """Every action and a login ticket from A naming account `login` with `uid`; each must be
        refused (or skipped: a delete or logout of an account not linked here) and change nothing."""
        env = self.env
        watch = sorted({login, *watch, "admin", "bea", "sue", "pat"})
        if password:
            check(self.password_login("b", login, password), f"{label}: {login} has a real session on B (logged in with curl)")
        target = self.user("b", login)
        sessions = re.findall(r's:64:"([0-9a-f]{64})";a:', (target["meta"].get("session_tokens") or [""])[0])
        if password:
            check(bool(sessions), f"{label}: B stores that session in {login}'s session_tokens")
        sid = sessions[0] if sessions else "no-session"
        binding = b64u(os.urandom(32))
        forged_password, pass_hash = self.forged_password
        who = {"uid": uid, "login": login}
        if protected:
            refuse = (403, "refused", "protected_account")
            skip = refuse
        else:
            refuse = (404, "refused", "unknown_account")
            skip = (200, "skipped", "")
        messages = [
            ("create with its login", "build", "create", dict(who, email=f"new-{os.urandom(3).hex()}@evil.test"),
             refuse if protected else (409, "refused", "identity_conflict")),
            ("password", "build", "password", dict(who, pass_hash=pass_hash), refuse),
            ("email change", "build", "update", dict(who, email=f"evil-{os.urandom(3).hex()}@evil.test"), refuse),
            ("role change", "build", "update", dict(who, email=email, roles=["subscriber"], fields={"display_name": "demoted"}), refuse),
            ("meta", "build", "meta", dict(who, set={"billing_city": ["Pwned"]}, delete=["billing_zip"]), refuse),
            ("meta outside A's send policy (sealed)", "seal", "meta", dict(who, set={"first_name": ["Pwned"], "billing_city": ["Pwned"]}),
             refuse),
            ("delete", "build", "delete", dict(who), skip),
            ("logout (all sessions)", "build", "logout", dict(who), skip),
            ("logout (sid of its session on B)", "build", "logout", dict(who, sid=sid), skip),
            ("login ticket minted by A", "mint", "login", dict(who, remember=False, bnd=bnd_of(binding)), refuse),
            ("login ticket (sealed; remember, sid)", "seal-ticket", "login", dict(who, remember=True, bnd=bnd_of(binding), sid="peer-session"),
             refuse),
        ]
        # Built in parallel (each is a PHP process loading WordPress), posted one by one.
        with ThreadPoolExecutor(4) as pool:
            sealed = list(pool.map(lambda m: self.forged(m[1], m[2], m[3]), messages))
        for (what, kind, act, data, (want_status, want_result, want_reason)), message in zip(messages, sealed):
            what = f"{label}: {what}"
            before, seen = self.snapshot("b", watch)
            if act == "login":
                status, cookie = self.accept("b", message, binding)
                self.tickets["refused"] += 1
                check(status == 303 and not cookie, f"{what}: no session cookie (got {status}, cookie {cookie})")
            else:
                status, body = env.post("b", INBOX, message)
                said = (body.get("result"), body.get("reason", "")) if isinstance(body, dict) else (body, "")
                check((status, *said) == (want_status, want_result, want_reason),
                      f"{what}: answered {want_status} {want_result} {want_reason} (got {status} {body})")
            after, now = self.snapshot("b", watch, since=seen["mark"])
            got = now["log"]
            want = {"direction": "in", "peer": "a.test", "act": act, "login": login, "result": want_result,
                    "reason": want_reason if want_result == "refused" else got[0]["reason"] if got else ""}
            check(got == [want], f"{what}: B's activity log says {act} {login} {want_result} {want_reason} (got {got})")
            check(after == before, f"{what}: the accounts' rows and the users, usermeta and links tables unchanged {diff(before, after)}")
            if act == "login":
                check(now["audit"] == seen["audit"], f"{what}: neither wp_login nor set_auth_cookie fired (audit plugin)")
        if not protected:
            check(not self.linked("b", uid), f"{label}: the uid the messages named is linked to nothing on B")
        after = self.user("b", login)
        if sessions:
            check(sid in (after["meta"].get("session_tokens") or [""])[0], f"{label}: {login}'s session on B survives both logouts")
        check(not self.password_login("b", login, forged_password), f"{label}: the forged password does not log in as {login} on B")
        return after

    def make_targets(self):
        env = self.env
        admin_password = open(os.path.join(env.sites["b"]["path"], ".admin-password")).read()
        # B's own accounts, never linked: an editor and a subscriber made while usersync was not
        # involved (every usersync hook detached, as for accounts from before the link).
        env.wp("b", "create_local_user", login="bea", email="bea@b.test", password="bea password 1", role="editor")
        env.wp("b", "create_local_user", login="sue", email="sue@b.test", password="sue password 1", role="subscriber")
        for login, role in (("bea", "editor"), ("sue", "subscriber")):
            u = self.user("b", login)
            check(u and u["roles"] == [role] and u["link"] is None, f"{login}: a {role} on B with no links row")
            check(self.user("a", login) is None, f"{login}: never reached A")
        # A linked account that B has since made an editor and administrator locally.
        env.wp("a", "create_user", login="pat", email="pat@a.test", password="pat password 1", role="subscriber")
        env.wp("b", "set_role", login="pat", role="editor")
        env.wp("b", "add_role", login="pat", role="administrator")
        pat = self.user("b", "pat")
        pat_uid = self.uid("a", "pat")
        check(pat and pat["roles"] == ["editor", "administrator"] and pat["link"] and pat["link"]["uid"] == pat_uid,
              f"pat: linked on B with A's uid, and an editor+administrator there ({pat and pat['roles']})")
        return admin_password, pat_uid

    def peer_batteries(self):
        admin_password, pat_uid = self.setup_targets
        self.forged_password = ("a forged password", self.wp("a", "hash_password", password="a forged password"))
        admin = self.user("b", "admin")
        check(admin and admin["link"] is None and admin["roles"] == ["administrator"], "B's admin is an administrator with no links row")
        self.battery("B's admin, a random uid", "admin", new_uid(), False, admin["user"]["user_email"], password=admin_password)
        self.battery("B's admin named with the uid of a linked (protected) account", "admin", pat_uid, True, admin["user"]["user_email"])
        self.battery("bea, an editor only B has", "bea", new_uid(), False, "bea@b.test", password="bea password 1")
        self.battery("sue, an unlinked subscriber on B", "sue", new_uid(), False, "sue@b.test", password="sue password 1")
        after = self.battery("pat, linked but an administrator on B now", "pat", pat_uid, True, "pat@a.test", password="pat password 1")
        check(after["roles"] == ["editor", "administrator"] and after["link"]["uid"] == pat_uid, "pat keeps its roles and its link")

        # The login in a message never picks the account: the uid does. A message naming "admin"
        # with a linked subscriber's uid changes that subscriber, never B's admin.
        self.env.wp("a", "create_user", login="lena", email="lena@a.test", password="lena password 1", role="subscriber")
        lena_uid = self.uid("a", "lena")
        before = self.rows("b", ["admin"])
        message = self.forged("build", "update", {"uid": lena_uid, "login": "admin", "email": "lena@a.test",
                                                  "fields": {"display_name": "Lena, named admin"}})
        status, body = self.env.post("b", INBOX, message)
        check(status == 200 and body.get("result") == "applied", f"an update naming login admin with lena's uid is applied ({status} {body})")
        after = self.rows("b", ["admin"])
        check(account_rows(after) == account_rows(before), f"… and B's admin rows are unchanged {diff(before, after)}")
        lena = self.user("b", "lena")
        check(lena["user"]["display_name"] == "Lena, named admin" and lena["link"]["uid"] == lena_uid, "… it changed lena, the uid's account")

        # A ticket for B's admin posted by another browser, or with no binding cookie.
        for what, cookie in (("another browser's binding", b64u(os.urandom(32))), ("no binding cookie", None)):
            ticket = self.forged("mint", "login", {"uid": new_uid(), "login": "admin", "remember": False, "bnd": bnd_of(b64u(os.urandom(32)))})
            mark, audit = self.log_mark("b"), len(self.audit())
            status, logged_in = self.accept("b", ticket, cookie)
            self.tickets["refused"] += 1
            got = self.log_since("b", mark)
            check(status == 303 and not logged_in and len(self.audit()) == audit and
                  got == [{"direction": "in", "peer": "a.test", "act": "login", "login": "admin", "result": "refused", "reason": "wrong_browser"}],
                  f"a ticket for admin with {what}: refused wrong_browser, no session, no wp_login (got {status} {got})")

    def default_role(self):
        """A peer's create without roles (or whose roles B's policy dropped) never gets a role the
        peer may not grant, even when B's default role for new users is one (here: administrator)."""
        env = self.env
        original = self.sql("SELECT option_value FROM usersync_b.wp_options WHERE option_name = 'default_role'")[0][0]
        self.sql("UPDATE usersync_b.wp_options SET option_value = 'administrator' WHERE option_name = 'default_role'")
        try:
            for login, roles in (("nora", None), ("nils", ["author"])):
                data = {"uid": new_uid(), "login": login, "email": f"{login}@a.test"}
                if roles:
                    data["roles"] = roles
                status, body = env.post("b", INBOX, self.forged("build", "create", data))
                u = self.user("b", login)
                check(status == 200 and u and u["link"] and u["link"]["uid"] == data["uid"],
                      f"a create of {login} with {'roles ' + str(roles) if roles else 'no roles'} is applied on B ({status} {body})")
                check(u and not set(u["roles"]) - {"subscriber", "editor"},
                      f"{login} gets no role B's policy for A does not grant, though B's default role is administrator (got {u and u['roles']})")
                status, body = env.post("b", INBOX, self.forged("build", "delete", {"uid": data["uid"], "login": login}))
                check(status == 200 and body.get("result") == "applied" and self.user("b", login) is None,
                      f"A can delete {login} again ({status} {body})")
        finally:
            self.sql(f"UPDATE usersync_b.wp_options SET option_value = {quote(original)} WHERE option_name = 'default_role'")

    def own_rows(self):
        """A peer's create is written with WordPress's own meta rows in one INSERT (the rows it writes
        itself wait for it): a link secret's holder naming those keys in its meta (or asking for
        administrator) gets no role B's policy does not grant and no second row of any of them;
        an anonymous visitor posting the same create in the clear makes no account."""
        env = self.env
        admin_caps = 'a:1:{s:13:"administrator";b:1;}'
        protected = {"wp_capabilities": [admin_caps], "wp_user_level": ["10"], "session_tokens": ["x"]}
        wordpress_own = {"nickname": ["boss"], "rich_editing": ["false"], "locale": ["de_DE"], "billing_city": ["Oslo"]}
        for login, meta in (("olga", protected), ("otto", wordpress_own)):
            roles = ["administrator", "subscriber"] if login == "olga" else ["subscriber"]  # administrator: refused whole
            data = {"uid": new_uid(), "login": login, "email": f"{login}@a.test", "roles": roles, "meta": meta}
            status, body = env.post("b", INBOX, json.dumps({"act": "create", "data": data}))
            check(status == 400 and self.user("b", login) is None,
                  f"an anonymous create of {login} posted in the clear to B's inbox makes no account ({status} {body})")
            status, body = env.post("b", INBOX, self.forged("seal", "create", data))  # sealed with the secret: no sender policy
            u = self.user("b", login)
            if login == "olga":
                check(u is None or ("administrator" not in u["roles"] and u["meta"].get("wp_user_level") == ["0"]
                                    and len(u["meta"].get("wp_capabilities", [])) == 1),
                      f"a create asking for administrator and naming wp_capabilities, wp_user_level, session_tokens: no administrator, no second row ({status} {body})")
            else:
                counts = {key: len(values) for key, values in (u["meta"] if u else {}).items()}
                check(status == 200 and u and u["roles"] == ["subscriber"] and u["meta"].get("wp_user_level") == ["0"],
                      f"a create naming WordPress's own meta keys is applied: subscriber and level 0 on B ({status} {body}; {u and u['roles']})")
                check(u and all(n == 1 for n in counts.values()) and u["meta"].get("nickname") == [login]
                      and u["meta"].get("rich_editing") == ["true"] and u["meta"].get("billing_city") == ["Oslo"],
                      f"… one row per key, WordPress's own values for its keys, the billing meta B accepts (got {counts})")
            if u:
                status, body = env.post("b", INBOX, self.forged("build", "delete", {"uid": data["uid"], "login": login}))
                check(status == 200 and self.user("b", login) is None, f"A can delete {login} again ({status} {body})")

    def column_values(self):
        """A peer's create and update write the account's row with wpdb's kept answers about the
        users table (no SHOW FULL COLUMNS per delivery) when every value fits, else with wpdb's
        own checks: a link secret's holder sealing names that fit exactly, fit in characters but
        not in bytes, or carry four-byte characters gets them stored as sent; one a character too
        long changes nothing."""
        env = self.env
        names = {"ulla": "x" * 250, "uwe": "\u00e9" * 200, "ute": "Zo\u00eb \U0001F680 \u00f8"}
        for login, name in names.items():
            data = {"uid": new_uid(), "login": login, "email": f"{login}@a.test", "roles": ["subscriber"], "fields": {"display_name": name}}
            status, body = env.post("b", INBOX, self.forged("seal", "create", data))
            u = self.user("b", login)
            check(status == 200 and u and u["user"]["display_name"] == name,
                  f"a create with a display name of {len(name)} characters ({len(name.encode())} bytes) is stored as sent ({status} {body})")
            if not u:
                continue
            update = {"uid": data["uid"], "login": login, "email": data["email"], "fields": {"display_name": name[::-1]}}
            status, body = env.post("b", INBOX, self.forged("seal", "update", update))
            check(status == 200 and self.user("b", login)["user"]["display_name"] == name[::-1], f"… and an update of it ({status} {body})")
            if login == "ulla":
                before = self.rows("b", [login])
                clear = dict(update, fields={"display_name": "posted in the clear"})
                status, body = env.post("b", INBOX, json.dumps({"act": "update", "data": clear}))
                check(status == 400 and self.rows("b", [login]) == before,
                      f"an anonymous visitor's update posted in the clear to B's inbox changes nothing ({status} {body})")
                update["fields"]["display_name"] = "y" * 251
                status, body = env.post("b", INBOX, self.forged("seal", "update", update))
                check(status >= 400 and self.rows("b", [login]) == before,
                      f"an update one character too long for the column is refused, the row unchanged ({status} {body})")
            status, body = env.post("b", INBOX, self.forged("build", "delete", {"uid": data["uid"], "login": login}))
            check(status == 200 and self.user("b", login) is None, f"A can delete {login} again ({status} {body})")
        # A message WordPress refuses before anything is written (a login of characters WordPress
        # strips from logins, nothing left): refused, and B's object cache is not emptied for it —
        # a link secret's holder cannot flush a persistent cache at the rate it sends.
        before = open(self.flushes).read()
        login = "%%"
        data = {"uid": new_uid(), "login": login, "email": "stripped@a.test", "roles": ["subscriber"]}
        for _ in range(3):
            status, body = env.post("b", INBOX, self.forged("seal", "create", dict(data, uid=new_uid())))
        check(status == 422 and "empty_user_login" in body.get("reason", "") and self.user("b", login) is None,
              f"a create WordPress refuses before writing is refused ({status} {body})")
        check(open(self.flushes).read() == before, "… and empties no object cache (three times)")
        self.wp("b", "cache_flush")
        check(open(self.flushes).read() != before, "(the count of B's cache flushes counts: a flush on B is written down)")

    # ---- 3. good paths --------------------------------------------------------------------------

    def good_paths(self):
        env = self.env
        env.wp("a", "create_user", login="gina", email="gina@a.test", password="gina password 1", role="subscriber",
               meta={"billing_city": "Tromsø"})
        a_uid, b = self.uid("a", "gina"), self.user("b", "gina")
        check(a_uid and b and b["link"] and b["link"]["uid"] == a_uid, f"a create on A reaches B linked with the same uid ({a_uid}, {b and b['link']})")
        check(b and b["roles"] == ["subscriber"] and b["meta"].get("billing_city") == ["Tromsø"], "… with its role and billing meta")
        env.wp("a", "update_user", login="gina", set={"display_name": "Gina G.", "user_email": "gina@new.test"})
        b = self.user("b", "gina")
        check(b["user"]["display_name"] == "Gina G." and b["user"]["user_email"] == "gina@new.test", "a later update on A reaches B")
        env.wp("a", "set_password", login="gina", password="gina password 2")
        check(self.password_login("b", "gina", "gina password 2") and not self.password_login("b", "gina", "gina password 1"),
              "a password change on A: gina logs in on B with the new password, not the old one")

        # Single sign-on as the plugin's chain does it: B's binding first, then A's ticket.
        for login in ("gina", "alice"):
            binding, bnd = self.bind("b")
            check(binding and bnd == bnd_of(binding), f"{login}: B's bind step sets a binding cookie and hands back its hash")
            uid = self.uid("a", login)
            ticket = env.wp("a", "mint", request={"peer": "b.test", "uid": uid, "login": login, "remember": False, "bnd": bnd or ""})["message"]
            mark, audit = self.log_mark("b"), len(self.audit())
            jar = os.path.join(env.work, f"identity-{login}-cookies.txt")
            status, logged_in = self.accept("b", ticket, binding, jar=jar)
            got = self.log_since("b", mark)
            check(status == 303 and logged_in and [(r["act"], r["login"], r["result"]) for r in got] == [("login", login, "applied")],
                  f"{login}: a ticket minted on A is accepted on B, logged-in cookie set (got {status} {logged_in} {got})")
            self.tickets["accepted"].append(login)
            profile = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-b", jar,
                                      env.sites["b"]["url"] + "/wp-admin/profile.php"], capture_output=True, text=True).stdout
            check(profile == "200", f"{login}: the session works on B (profile.php answers {profile})")
            new = self.audit()[audit:]
            check([e["hook"] for e in new] == ["set_auth_cookie", "wp_login"] and all(e["login"] == login and e["sso"] for e in new),
                  f"{login}: the audit plugin on B saw set_auth_cookie and wp_login for {login} (got {new})")
        # A plugin on B that refuses an account at login (wp_authenticate_user) refuses it for
        # single sign-on too.
        check(not self.password_login("b", "lena", "lena password 1"), "B's login gate refuses lena at wp-login.php")
        binding, bnd = self.bind("b")
        ticket = env.wp("a", "mint", request={"peer": "b.test", "uid": self.uid("a", "lena"), "login": "lena", "remember": False,
                                              "bnd": bnd or ""})["message"]
        mark, audit = self.log_mark("b"), len(self.audit())
        status, logged_in = self.accept("b", ticket, binding)
        self.tickets["refused"] += 1
        got = [(r["act"], r["login"], r["result"], r["reason"]) for r in self.log_since("b", mark)]
        check(status == 303 and not logged_in and len(self.audit()) == audit and
              got == [("login", "lena", "refused", "login_refused: e2e_suspended")],
              f"… and refuses lena's single sign-on: no session, no wp_login (got {status} {logged_in} {got})")

        mark = self.log_mark("b")
        env.wp("a", "delete_user", login="gina")
        check(self.user("b", "gina") is None and not self.linked("b", a_uid), "a delete on A removes gina and her link on B")
        got = [(r["act"], r["login"], r["result"]) for r in self.log_since("b", mark, "in")]
        check(got == [("delete", "gina", "applied")], f"B's log: delete gina applied (got {got})")

        # An administrator under a policy with allow_privileged (A → C for this run).
        env.wp("a", "create_user", login="ada", email="ada@a.test", password="ada password 1", role="administrator")
        a_uid, c = self.uid("a", "ada"), self.user("c", "ada")
        check(c and c["roles"] == ["administrator"] and c["link"] and c["link"]["uid"] == a_uid,
              f"an administrator created on A reaches C (allow_privileged) as an administrator, linked ({c and c['roles']})")
        b = self.user("b", "ada")
        check(b is None or "administrator" not in b["roles"], f"… and never becomes an administrator on B ({b and b['roles']})")
        env.wp("a", "update_user", login="ada", set={"display_name": "Ada Admin"})
        check(self.user("c", "ada")["user"]["display_name"] == "Ada Admin", "an update of that administrator applies on C")
        env.wp("a", "delete_user", login="ada")
        check(self.user("c", "ada") is None, "… and so does its deletion")

    # ---- 4. the audit plugin --------------------------------------------------------------------

    def audit_summary(self, start):
        accepted = [r["login"] for r in self.log_since("b", start, "in") if r["act"] == "login" and r["result"] == "applied"]
        refused = [r for r in self.log_since("b", start, "in") if r["act"] == "login" and r["result"] == "refused"]
        seen = [e["login"] for e in self.audit() if e["hook"] == "wp_login" and e["sso"]]
        check(accepted == self.tickets["accepted"] and seen == accepted,
              f"every single sign-on B accepted ({accepted}) is in the audit plugin's wp_login record ({seen})")
        check(len(refused) == self.tickets["refused"] and refused,
              f"all {self.tickets['refused']} refused tickets are in B's log ({len(refused)}), none in the audit record (above)")
        local = [e["login"] for e in self.audit() if e["hook"] == "wp_login" and not e["sso"]]
        check("admin" in local and "pat" in local, f"the audit plugin also saw the wp-login.php logins ({sorted(set(local))})")


def account_rows(rows):
    """rows() without the whole-table checksums: only the accounts' own rows."""
    return {k: v for k, v in rows.items() if k != "tables"}


def diff(before, after):
    """What changed between two rows() results, briefly."""
    if before == after:
        return ""
    out = []
    for kind in ("users", "meta", "links", "tables"):
        b, a = before[kind], after[kind]
        for key in sorted(set(b) | set(a), key=str):
            if b.get(key) != a.get(key):
                out.append(f"{kind}[{key}]: {json.dumps(b.get(key))[:120]} -> {json.dumps(a.get(key))[:120]}")
    return "(" + "; ".join(out[:6]) + ")"


def run(env, ab_secret):
    """The identity checks on test_sync's sites; leaves them as it found them (configuration,
    plugins, A's admin, B's activity log — test_sync's later checks count its refusals)."""
    start = _counts["passed"] + _counts["failed"]
    failed = _counts["failed"]
    began = time.time()
    t = Identity(env, ab_secret)
    b_log = t.log_mark("b")
    try:
        t.configure()
        t.setup_targets = t.make_targets()
        t.signup_collisions()
        t.peer_batteries()
        t.default_role()
        t.own_rows()
        t.column_values()
        t.good_paths()
        t.audit_summary(b_log)
    finally:
        t.restore(b_log)
    check(t.outbox("a") == 0 and t.outbox("b") == 0, "A's and B's outboxes are empty after the identity tests")
    print(f"identity: {_counts['passed'] + _counts['failed'] - start} checks, {_counts['failed'] - failed} failed, "
          f"{time.time() - began:.1f} s", flush=True)
