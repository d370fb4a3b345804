"""Delivery a shop can rely on, on the real sites of test_sync.py (A sends to B and C; B and C
on one MariaDB server with A, as on most hosts):

- a hung peer (B's nginx frozen: connections accepted, never answered) delays no one: C gets
  each change in about the time it takes when B is healthy, and the error says what happened;
- with no request to A at all, waiting changes reach B after it returns, within the retry time
  plus one tick of the system-cron entry point;
- with FFI off on A, a sign-up and a meta change are queued anyway and reach B once FFI is back;
- a delivery that times out after B applied it is retried and answered "duplicate": applied once;
- delivery keeps WordPress's HTTP API conventions (http_api_conventions): a `pre_http_request`
  answer or error is taken instead of sending, `http_request_args` sets headers, user agent and
  timeout, `http_api_debug` sees every delivery but never the sealed message,
  WP_HTTP_BLOCK_EXTERNAL blocks a host missing from WP_ACCESSIBLE_HOSTS, the WP_PROXY_*
  constants send it through an authenticating proxy, and TLS trusts WordPress's CA bundle
  (`sslcertificates`), not more.

A runs with USERSYNC_HTTP_TIMEOUT=6 and USERSYNC_RETRY_BASE=1 (see test_sync.py): a delivery
that waited for the frozen peer would take 6 s or more.
"""
import base64
import http.client
import http.server
import json
import os
import subprocess
import threading
import time
from contextlib import contextmanager

from checks import check


def wait_for(predicate, timeout=20.0, every=0.02):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


def exists(env, site, login):
    return env.sql(f"SELECT COUNT(*) FROM usersync_{site}.wp_users WHERE user_login='{login}'") == "1"


def display_name(env, site, login):
    return env.sql(f"SELECT display_name FROM usersync_{site}.wp_users WHERE user_login='{login}'")


def outbox(env, peer=None):
    """A's outbox, read in its database: reading it through WordPress would be a request to A,
    which delivers what is due at its end."""
    out = env.sql("SELECT id, peer, act, login, attempts, last_error FROM usersync_a.wp_usersync_outbox ORDER BY id")
    rows = [dict(zip(("id", "peer", "act", "login", "attempts", "last_error"), line.split("\t")))
            for line in out.splitlines() if line]
    return [r for r in rows if peer is None or r["peer"] == peer]


def drain(env, timeout=30):
    """Delivers what waits on A (the system-cron entry point, once a second) until its outbox is empty."""
    cron = env.cron("a", watch=timeout)
    try:
        return wait_for(lambda: not outbox(env), timeout=timeout, every=0.5)
    finally:
        cron.kill()
        cron.wait()


def hung_peer_delays_no_one(env):
    env.wp("a", "create_user", login="hank", email="hank@a.test", password="hank pw", role="subscriber")
    check(exists(env, "b", "hank") and exists(env, "c", "hank"), "hank reaches B and C while both are healthy")
    healthy = []
    for i in range(3):
        start = time.time()
        env.wp("a", "update_user", login="hank", set={"display_name": f"Hank healthy {i}"})
        wait_for(lambda: display_name(env, "c", "hank") == f"Hank healthy {i}")
        healthy.append(time.time() - start)
    env.freeze("b")
    try:
        procs = []
        for i in range(3):
            # The change is made in a process of its own, whose delivery run then hangs on B for
            # the timeout; C must not wait for it (nor for the run still hanging from before).
            start = time.time()
            procs.append(env.wp_async("a", "update_user", login="hank", set={"display_name": f"Hank frozen {i}"}))
            arrived = wait_for(lambda: display_name(env, "c", "hank") == f"Hank frozen {i}", timeout=10)
            took = time.time() - start
            # A run that waited for B would deliver to C after the 6 s timeout: the healthy
            # time plus 6 s. The bound is halfway, so a loaded machine's slow runs do not
            # blur the two.
            bound = max(healthy) + 3.0
            check(arrived and took < bound,
                  f"with B frozen, change {i} reaches C in {took:.2f} s (healthy: {max(healthy):.2f} s, bound {bound:.1f} s)")
        for proc in procs:
            proc.wait(timeout=20)
        waiting = outbox(env, "b.test")
        check(len(waiting) == 3 and "timed out after 6 s" in waiting[0]["last_error"],
              f"B's changes wait in order, the error in plain words: {waiting[0]['last_error'] if waiting else None!r}")
    finally:
        env.thaw("b")
    check(drain(env) and display_name(env, "b", "hank") == "Hank frozen 2", "after B thaws, its changes arrive")


def delivery_without_traffic(env):
    env.stop("b")
    for i in range(3):
        env.wp("a", "update_user", login="hank", set={"display_name": f"Hank quiet {i}"})
    waiting = outbox(env, "b.test")
    check(len(waiting) == 3 and waiting[0]["last_error"].startswith("connection refused"),
          f"B down: 3 changes wait, error in plain words: {waiting[0]['last_error'] if waiting else None!r}")
    env.start("b")
    due = max(int(env.sql(f"SELECT next_attempt FROM usersync_a.wp_usersync_outbox WHERE id={waiting[0]['id']}")), int(time.time()))
    # From here on nothing but the system-cron entry point runs on A: no page view, no request.
    cron = env.cron("a", watch=40)
    try:
        arrived = wait_for(lambda: display_name(env, "b", "hank") == "Hank quiet 2", timeout=40, every=0.1)
        late = time.time() - due
    finally:
        cron.kill()
        cron.wait()
    # One watch tick (1 s) plus the run itself (a delivery of three changes: under 1 s when
    # quiet, up to 3 s on this 2-CPU machine while other suites run).
    check(arrived and late < 4, f"with no request to A, B gets the waiting changes {late:.1f} s after the retry time")
    applied = [r["act"] for r in env.wp("b", "log") if r["login"] == "hank" and r["result"] == "applied"]
    check(applied[-3:] == ["update"] * 3 and display_name(env, "b", "hank") == "Hank quiet 2", "in order, each once")


def queued_while_library_missing(env):
    no_ffi = ("-d", "ffi.enable=0")
    env.wp("a", "create_user", php_args=no_ffi, login="fiona", email="fiona@a.test", password="fiona pw", role="subscriber")
    env.wp("a", "update_meta", php_args=no_ffi, login="fiona", key="billing_city", value="Tromsø")
    # A profile field a plugin writes as meta (WooCommerce's first_name). Without the library
    # no meta key can be sorted yet: each change is queued as an update, rebuilt when routed.
    env.wp("a", "update_meta", php_args=no_ffi, login="fiona", key="first_name", value="Fiona")
    check(not exists(env, "b", "fiona"), "B has nothing yet")
    rows = outbox(env)
    check([r["act"] for r in rows if r["login"] == "fiona" and r["peer"] == ""] == ["create", "update", "update"],
          "with FFI off on A, the sign-up and the meta changes are queued (not yet routed)")
    check(drain(env), "once A's PHP has FFI again, the queue drains")
    b = env.wp("b", "get_user", login="fiona")
    check(b["exists"] and b["meta"].get("billing_city") == ["Tromsø"], "the sign-up and the meta change reached B")
    check(b["meta"].get("first_name") == ["Fiona"], "the first name written as meta reached B as a profile field")
    sent = [r["act"] for r in env.wp("a", "log") if r["login"] == "fiona" and r["direction"] == "out" and r["peer"] == "b.test"]
    check(sent == ["create", "update", "update"], f"sent to B as a create and two updates: {sent}")
    check(env.wp("a", "uid", login="fiona") == env.wp("b", "uid", login="fiona") is not None, "linked by one uid on A and B")


SLOW_INBOX = """<?php
// Test-only: while the option usersync_test_slow is set, B answers the inbox only after the
// change is committed and logged and 8 s have passed - longer than A waits (a lost answer).
// status_header() is where the answer starts, on the early path and the REST one alike.
add_filter('status_header', function ($header) {
    if (($_GET['rest_route'] ?? '') === '/usersync/v1/inbox' && get_option('usersync_test_slow')) {
        sleep(8);
    }
    return $header;
});
"""


def timeout_after_apply_applies_once(env):
    path = os.path.join(env.sites["b"]["path"], "wp-content", "mu-plugins", "usersync-test-slow.php")
    with open(path, "w") as f:
        f.write(SLOW_INBOX)
    env.sql("INSERT INTO usersync_b.wp_options (option_name, option_value, autoload) VALUES ('usersync_test_slow', '1', 'no')")
    try:
        env.wp("a", "create_user", login="tim", email="tim@a.test", password="tim pw", role="subscriber")
        check(exists(env, "b", "tim"), "B applied tim's sign-up")
        waiting = outbox(env, "b.test")
        check(len(waiting) == 1 and "timed out" in waiting[0]["last_error"], "A timed out waiting for B's answer and will retry")
    finally:
        env.sql("DELETE FROM usersync_b.wp_options WHERE option_name='usersync_test_slow'")
        os.remove(path)
    check(drain(env), "A retries")
    results = [r["result"] for r in env.wp("b", "log") if r["login"] == "tim" and r["act"] == "create"]
    check(results == ["applied", "duplicate"], f"B applied the sign-up once and answered the retry as a duplicate: {results}")
    count = env.sql("SELECT COUNT(*) FROM usersync_b.wp_users WHERE user_login='tim'")
    check(count == "1", f"one account with that login on B ({count})")
    sent = [r["result"] for r in env.wp("a", "log") if r["login"] == "tim" and r["peer"] == "b.test"]
    check(sent == ["retry", "duplicate"], f"A's log: {sent}")


FAILING_WRITE = """<?php
// Test-only: while the flag file exists, the first write of a users row fails as a deadlock
// would (the query errors); the flag is then removed, so the retry goes through.
add_filter('query', function ($query) {
    global $wpdb;
    $flag = WP_CONTENT_DIR . '/usersync-test-fail-write';
    if (str_starts_with($query, "UPDATE `$wpdb->users`") && file_exists($flag)) {
        unlink($flag);
        return 'SELECT no_such_column FROM usersync_test_failing_write';
    }
    return $query;
});
"""


def failed_write_is_not_half_applied(env):
    """A query that fails mid-apply (a deadlock between concurrent inbox requests) rolls the
    whole change back and the sender retries: never half a change answered "applied"."""
    content = os.path.join(env.sites["b"]["path"], "wp-content")
    plugin, flag = os.path.join(content, "mu-plugins", "usersync-test-fail-write.php"), os.path.join(content, "usersync-test-fail-write")
    with open(plugin, "w") as f:
        f.write(FAILING_WRITE)
    try:
        with open(flag, "w"):
            pass
        os.chmod(flag, 0o666)
        os.chmod(content, 0o777)
        before = env.wp("b", "state")
        env.wp("a", "update_user", login="hank", set={"display_name": "Hank after a failed write"})
        check(not os.path.exists(flag), "the write on B failed once")
        check(env.wp("b", "state") == before, "B kept nothing of the change whose write failed (rows compared)")
        busy = [r for r in env.wp("b", "log") if r["login"] == "hank" and r["result"] == "busy"]
        check(busy and busy[-1]["reason"].startswith("database:"), f"B logged why: {busy[-1]['reason'] if busy else None!r}")
        check(drain(env) and display_name(env, "b", "hank") == "Hank after a failed write", "the retry applies it")
        b = env.wp("b", "get_user", login="hank")
        check(b["roles"] == env.wp("a", "get_user", login="hank")["roles"], f"with its roles: {b['roles']}")
    finally:
        os.chmod(content, 0o755)
        if os.path.exists(flag):
            os.remove(flag)
        os.remove(plugin)


HOOKS = """<?php
// Test-only: records usersync's hooks in a log file and uses two of them as a plugin would.
function usersync_test_hook_log(...$entry) {
    file_put_contents(WP_CONTENT_DIR . '/usersync-test-hooks.log', wp_json_encode($entry) . "\\n", FILE_APPEND);
}
add_filter('usersync_event', function ($event, $user_id) {
    return str_starts_with($event['data']['login'] ?? '', 'hushed') ? false : $event;
}, 10, 2);
add_action('usersync_delivery_result', function ($result, $peer, $act, $login, $reason, $eid) {
    usersync_test_hook_log('delivery', $result, $peer, $act, $login, $eid);
}, 10, 6);
add_action('usersync_before_apply', function ($opened, $verdict, $user) {
    usersync_test_hook_log('before', $opened['act'], $opened['data']['login'], $opened['eid'], $verdict['do']);
    if (str_starts_with($opened['data']['login'], 'vetoed')) {
        throw new Usersync_Apply_Failed('vetoed by a test plugin');
    }
}, 10, 3);
add_action('usersync_after_apply', function ($opened, $verdict) {
    usersync_test_hook_log('after', $opened['act'], $opened['data']['login'], $opened['eid']);
}, 10, 2);
"""


def hooks_fire(env):
    """The documented actions and filters fire where other plugins need them."""
    logs, plugins = {}, []
    for site in ("a", "b"):
        content = os.path.join(env.sites[site]["path"], "wp-content")
        plugins.append(os.path.join(content, "mu-plugins", "usersync-test-hooks.php"))
        with open(plugins[-1], "w") as f:
            f.write(HOOKS)
        logs[site] = os.path.join(content, "usersync-test-hooks.log")
        with open(logs[site], "w"):
            pass
        os.chmod(logs[site], 0o666)

    def entries(site, login):
        with open(logs[site]) as f:
            return [e for e in map(json.loads, f) if login in e]
    try:
        env.wp("a", "create_user", login="hushed1", email="hushed1@a.test", password="pw", role="subscriber")
        env.wp("a", "create_user", login="hooked1", email="hooked1@a.test", password="pw", role="subscriber")
        env.wp("a", "create_user", login="vetoed1", email="vetoed1@a.test", password="pw", role="subscriber")
        drain(env)
        check(not exists(env, "b", "hushed1") and not entries("a", "hushed1"),
              "an event a usersync_event filter drops is sent nowhere")
        on_a, on_b = entries("a", "hooked1"), entries("b", "hooked1")
        to_b = [e for e in on_a if e[2] == "b.test"]
        check(exists(env, "b", "hooked1") and [e[:2] for e in to_b] == [["delivery", "delivered"]],
              f"usersync_delivery_result tells A's plugins B got it: {on_a}")
        check([e[0] for e in on_b] == ["before", "after"] and on_b[0][3] == on_b[1][3] == to_b[0][5] and on_b[0][4] == "create",
              f"B fires usersync_before_apply then usersync_after_apply, with the event id A's hook saw: {on_b}")
        vetoed = entries("b", "vetoed1")
        check(not exists(env, "b", "vetoed1") and [e[0] for e in vetoed] == ["before"],
              f"a plugin on B refuses a change from usersync_before_apply: nothing kept, no after_apply: {vetoed}")
        check(["delivery", "refused", "b.test"] in [e[:3] for e in entries("a", "vetoed1")], "and A is told it was refused")
    finally:
        for path in plugins + list(logs.values()):
            os.remove(path)


def mu_plugin(env, site, name, code):
    path = os.path.join(env.sites[site]["path"], "wp-content", "mu-plugins", f"usersync-test-{name}.php")
    with open(path, "w") as f:
        f.write(code)
    return path


@contextmanager
def a_config(env, defines=(), b_deliver_to=None):
    """A's wp-config-local.php with extra constants and B delivered at another address; changes
    are made with the command line (no opcache), so they apply at once."""
    local = os.path.join(env.sites["a"]["path"], "wp-config-local.php")
    original = open(local).read()
    text = original
    if b_deliver_to:
        b = env.sites["b"]["url"]
        text = text.replace(f'"url": "{b}"', f'"url": "{b}", "deliver_to": "{b_deliver_to}"')
        assert text != original, "B's URL not found in A's configuration"
    for key, value in defines:
        text += f"define({json.dumps(key)}, {json.dumps(value)});\n"
    with open(local, "w") as f:
        f.write(text)
    try:
        yield
    finally:
        with open(local, "w") as f:
            f.write(original)


class Proxy(http.server.ThreadingHTTPServer):
    """An HTTP proxy on loopback that wants Basic credentials and forwards to B."""

    def __init__(self, b_url, credentials):
        self.b_url, self.auth, self.seen = b_url, "Basic " + base64.b64encode(credentials.encode()).decode(), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = self.headers.get("Proxy-Authorization") == outer.auth
                outer.seen.append((self.path, ok))
                if not ok:
                    self.send_response(407)
                    self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                host, port = outer.b_url.rsplit("/", 1)[-1].split(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=20)
                conn.request("POST", "/" + self.path.split("/", 3)[3], body=body, headers={"Content-Type": "text/plain"})
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def tls_front(env, port):
    """nginx with a certificate from a CA of its own (IP 127.0.0.1) on `port`, in front of B;
    returns (the CA's file, a stop function)."""
    d = os.path.join(env.work, "tls-front")
    os.makedirs(d, exist_ok=True)
    ca_key, ca, key, csr, cert, ext = (os.path.join(d, f) for f in ("ca.key", "ca.pem", "b.key", "b.csr", "b.pem", "ext.cnf"))
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=usersync delivery test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=b")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    run("chmod", "-R", "a+rX", d)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon on; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{ access_log off; server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {cert}; ssl_certificate_key {key};
    location / {{ proxy_pass {env.sites['b']['url']}; }} }} }}
""")
    run("nginx", "-c", conf, "-p", d)
    return ca, lambda: subprocess.run(["nginx", "-c", conf, "-p", d, "-s", "stop"], check=False)


def http_api_conventions(env):
    name = iter(range(1000))

    def change():
        value = f"Hank http {next(name)}"
        env.wp("a", "update_user", login="hank", set={"display_name": value})
        return value

    # http_api_debug: every delivery is visible, the sealed message never is. B keeps the bodies
    # it received, to look for them in what A's debugging saw.
    debug_log, bodies = os.path.join(env.work, "http-api-debug.jsonl"), os.path.join(env.work, "b-bodies.txt")
    for path in (debug_log, bodies):
        open(path, "w").close()
        os.chmod(path, 0o666)
    debug = mu_plugin(env, "a", "debug", f"""<?php
add_action('http_api_debug', function ($response, $context, $class, $args, $url) {{
    file_put_contents({json.dumps(debug_log)}, json_encode(['class' => $class, 'url' => $url, 'body' => $args['body'],
        'code' => is_wp_error($response) ? $response->get_error_code() : $response['response']['code'],
        'answer' => is_wp_error($response) ? $response->get_error_message() : $response['body']]) . "\\n", FILE_APPEND);
}}, 10, 5);
""")
    keep = mu_plugin(env, "b", "bodies", f"""<?php
if (($_GET['rest_route'] ?? '') === '/usersync/v1/inbox') {{
    file_put_contents({json.dumps(bodies)}, file_get_contents('php://input') . "\\n", FILE_APPEND);
    foreach (['HTTP_USER_AGENT', 'HTTP_X_USERSYNC_TEST'] as $h) {{
        file_put_contents({json.dumps(bodies)}, $h . '=' . ($_SERVER[$h] ?? '') . "\\n", FILE_APPEND);
    }}
}}
""")
    try:
        value = change()
        check(display_name(env, "b", "hank") == value and display_name(env, "c", "hank") == value, "a change reaches B and C")
        seen = [json.loads(line) for line in open(debug_log)]
        urls = {e["url"] for e in seen if e["class"] == "Usersync_Outbox"}
        check(any(env.sites["b"]["url"] in u for u in urls) and any(env.sites["c"]["url"] in u for u in urls),
              f"http_api_debug sees the delivery to B and to C ({sorted(urls)})")
        check(all(e["code"] == 200 and e["body"].startswith("(sealed usersync message, ") for e in seen),
              "http_api_debug gets the answer and the message's size, not the message")
        received = [line for line in open(bodies).read().splitlines() if len(line) > 100]
        text = open(debug_log).read()
        check(received and not any(m in text for m in received), "no sealed message B received is in what http_api_debug saw")

        # http_request_args: headers, user agent and timeout come from WordPress's filter.
        args = mu_plugin(env, "a", "args", """<?php
add_filter('http_request_args', function ($args, $url) {
    $args['headers']['X-Usersync-Test'] = 'from http_request_args';
    $args['user-agent'] = 'usersync-test-agent/1';
    $args['timeout'] = 1;
    return $args;
}, 10, 2);
""")
        try:
            open(bodies, "w").close()
            value = change()
            seen_b = open(bodies).read()
            check(display_name(env, "b", "hank") == value and "HTTP_X_USERSYNC_TEST=from http_request_args" in seen_b
                  and "HTTP_USER_AGENT=usersync-test-agent/1" in seen_b, "http_request_args: B gets the filter's header and user agent")
            env.freeze("b")
            try:
                start = time.time()
                change()
                took = time.time() - start
            finally:
                env.thaw("b")
            waiting = outbox(env, "b.test")
            check(waiting and "timed out after 1 s" in waiting[0]["last_error"] and took < 4,
                  f"http_request_args: its 1 s timeout is the one used ({took:.1f} s; {waiting[0]['last_error'] if waiting else None!r})")
        finally:
            os.remove(args)
        check(drain(env), "after B thaws, the change arrives")

        # pre_http_request: an answer or an error given by a filter is taken instead of sending.
        pre = mu_plugin(env, "a", "pre", f"""<?php
add_filter('pre_http_request', function ($pre, $args, $url) {{
    if (!str_contains($url, ':{env.sites['b']['port']}/')) {{ return $pre; }}
    return get_option('usersync_test_pre_error')
        ? new WP_Error('test', 'stopped by a test filter')
        : ['headers' => [], 'body' => '{{"result":"applied"}}', 'response' => ['code' => 200, 'message' => 'OK'], 'cookies' => []];
}}, 10, 3);
""")
        try:
            before = display_name(env, "b", "hank")
            value = change()
            sent = [r["result"] for r in env.wp("a", "log") if r["peer"] == "b.test"][-1:]
            check(display_name(env, "b", "hank") == before and display_name(env, "c", "hank") == value and sent == ["delivered"]
                  and not outbox(env, "b.test"), "pre_http_request: its answer is taken, nothing reaches B, C is delivered")
            env.sql("INSERT INTO usersync_a.wp_options (option_name, option_value, autoload) VALUES ('usersync_test_pre_error', '1', 'no')")
            change()
            waiting = outbox(env, "b.test")
            check(waiting and waiting[0]["last_error"] == "not sent: stopped by a test filter",
                  f"pre_http_request: its error is the reason the change waits ({waiting[0]['last_error'] if waiting else None!r})")
        finally:
            env.sql("DELETE FROM usersync_a.wp_options WHERE option_name='usersync_test_pre_error'")
            os.remove(pre)
        check(drain(env), "without the filter, the waiting change is delivered")

        # WP_HTTP_BLOCK_EXTERNAL (on in these sites): B at a host that is neither A's nor
        # localhost ([::1]) is blocked until it is in WP_ACCESSIBLE_HOSTS; then WordPress's proxy
        # constants send it through a proxy that wants credentials.
        proxy = Proxy(env.sites["b"]["url"], "usersync:proxy pw")
        try:
            ipv6 = "http://[::1]:9"  # nothing listens there: only the proxy can deliver it
            with a_config(env, b_deliver_to=ipv6):
                value = change()
                waiting = outbox(env, "b.test")
                check(waiting and waiting[0]["last_error"] == "blocked by WP_HTTP_BLOCK_EXTERNAL: add [::1] to WP_ACCESSIBLE_HOSTS in wp-config.php"
                      and display_name(env, "c", "hank") == value and not proxy.seen,
                      f"WP_HTTP_BLOCK_EXTERNAL blocks B's host, in plain words ({waiting[0]['last_error'] if waiting else None!r})")
            proxied = (("WP_ACCESSIBLE_HOSTS", "[::1]"), ("WP_PROXY_HOST", "127.0.0.1"), ("WP_PROXY_PORT", str(proxy.server_address[1])),
                       ("WP_PROXY_USERNAME", "usersync"), ("WP_PROXY_PASSWORD", "proxy pw"))
            with a_config(env, proxied, b_deliver_to=ipv6):
                check(drain(env) and display_name(env, "b", "hank") == value,
                      "with B's host in WP_ACCESSIBLE_HOSTS the waiting change is delivered, through WordPress's proxy")
                # curl asks first without credentials (CURLAUTH_ANY, as WordPress's Requests does).
                check(any(ok for _, ok in proxy.seen) and all(p.startswith("http://[::1]:9/") for p, _ in proxy.seen),
                      f"the proxy got the delivery for B's address, with the credentials ({proxy.seen[-1:]})")
                check(not [p for p, _ in proxy.seen if env.sites["c"]["url"] in p], "C (A's own host) bypasses the proxy, as WordPress does")
        finally:
            proxy.shutdown()

        # TLS: WordPress's CA bundle decides (sslcertificates); a certificate from another CA
        # fails in plain words until a filter adds that CA.
        port = env.sites["c"]["port"] + 20
        ca, stop = tls_front(env, port)
        try:
            with a_config(env, b_deliver_to=f"https://127.0.0.1:{port}"):
                value = change()
                waiting = outbox(env, "b.test")
                check(waiting and waiting[0]["last_error"].startswith("TLS error:"),
                      f"a peer certificate WordPress's CA bundle does not trust is refused ({waiting[0]['last_error'] if waiting else None!r})")
                trust = mu_plugin(env, "a", "ca", f"""<?php
add_filter('http_request_args', function ($args) {{ $args['sslcertificates'] = {json.dumps(ca)}; return $args; }});
""")
                try:
                    check(drain(env) and display_name(env, "b", "hank") == value, "with the CA in sslcertificates it is delivered over HTTPS")
                finally:
                    os.remove(trust)
        finally:
            stop()
    finally:
        os.remove(debug)
        os.remove(keep)


def run(env):
    hung_peer_delays_no_one(env)
    delivery_without_traffic(env)
    queued_while_library_missing(env)
    timeout_after_apply_applies_once(env)
    failed_write_is_not_half_applied(env)
    hooks_fire(env)
    http_api_conventions(env)
