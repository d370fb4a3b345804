"""Delivery a shop can rely on, on the real sites of test_sync.py (A sends to B and C; B and C
on one MariaDB server with A, as on most hosts):

- a hung peer (B's nginx frozen: connections accepted, never answered) delays no one: C gets
  each change in about the time it takes when B is healthy, and the error says what happened;
- with no request to A at all, waiting changes reach B after it returns, within the retry time
  plus one tick of the system-cron entry point;
- with FFI off on A, a sign-up and a meta change are queued anyway and reach B once FFI is back;
- a delivery that times out after B applied it is retried and answered "duplicate": applied once.

A runs with USERSYNC_HTTP_TIMEOUT=6 and USERSYNC_RETRY_BASE=1 (see test_sync.py): a delivery
that waited for the frozen peer would take 6 s or more.
"""
import json
import os
import time

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
            # About the healthy time (2 s, or twice the healthy time on a loaded machine), far
            # under the 6 s a run waiting for B would take.
            bound = min(4.0, max(2.0, 2 * max(healthy)))
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
// change is committed and 8 s have passed - longer than A waits (a lost answer).
add_filter('rest_post_dispatch', function ($response, $server, $request) {
    if ('/usersync/v1/inbox' === $request->get_route() && get_option('usersync_test_slow')) {
        sleep(8);
    }
    return $response;
}, 10, 3);
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
// Test-only: while the flag file exists, the first write of a user's roles fails as a deadlock
// would (the query errors); the flag is then removed, so the retry goes through.
add_filter('query', function ($query) {
    $flag = WP_CONTENT_DIR . '/usersync-test-fail-write';
    if (str_starts_with($query, 'UPDATE') && str_contains($query, '_capabilities') && file_exists($flag)) {
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


def run(env):
    hung_peer_delays_no_one(env)
    delivery_without_traffic(env)
    queued_while_library_missing(env)
    timeout_after_apply_applies_once(env)
    failed_write_is_not_half_applied(env)
    hooks_fire(env)
