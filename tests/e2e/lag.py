#!/usr/bin/env python3
"""Delivery lag on real WordPress sites (make bench-lag): how long after the end of the user's
request a change is applied on every peer, against the floor — one no-op POST to a peer's inbox
— measured in the same run, rounds interleaved so the machine's noise hits every side alike.

    python3 tests/e2e/lag.py [--rounds=N] [--peers=20] [--quick]

Sites (Debian's WordPress 6.8, nginx each, one php-fpm, one MariaDB, the plugin from the release
zip): a0 (usersync configured, no peers), a1 → b, a2 → b and c, and for the many-peers figure
a20 → b, c, p3 … p20 (all real sites). Every sender runs a test-only endpoint that changes a user
inside an ordinary web request (wp_insert_user, wp_update_user, wp_set_password).

How it is measured:
- end of the user's request: the client's clock when the response has been read (the plugin
  calls fastcgi_finish_request() before it delivers);
- applied on a peer: the peer's usersync_after_apply (fired right after the apply's transaction,
  which holds the "applied" log row, has committed) stamps the time into the trace; a trigger
  copies each "applied" log row into lagbench.applied, where it is visible once committed, to know
  when every peer has it;
- the floor: an empty POST to b's inbox URL (refused as malformed, one log row), from sending
  until the answer is read, on a fresh connection as a delivery makes one;
- for two peers, a reference: empty POSTs to b's and c's inboxes at once, right after a change
  on a0 (which has no peers: the change's own work, e.g. a password's bcrypt hash, ran before,
  and its delivery run, finding no peer, runs beside them), until both answers are read — what
  two peers' WordPress take when routing and the apply take no time at all;
- the breakdown: test-only mu-plugins stamp when the sender's shutdown answered the browser, when
  its request left (http_api_debug: the end minus curl's total time), when the peer's PHP started
  (REQUEST_TIME_FLOAT) and when its WordPress had loaded (wp_loaded).
Figures are printed for docs/benchmarks.md, never asserted.
"""
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from checks import secret  # noqa: E402
from sites import Env  # noqa: E402

POLICY = {"actions": ["create", "update", "delete", "password", "meta"], "roles": ["subscriber"], "meta": ["billing_*"]}
ACTS = ("create", "update", "password")

ENDPOINT = """<?php
// Test-only: changes a user inside an ordinary web request, as a profile save does.
add_action('init', function () {
    if (!isset($_GET['usersync_e2e'])) { return; }
    $login = sanitize_user(wp_unslash($_GET['login']));
    $user  = get_user_by('login', $login);
    switch ($_GET['usersync_e2e']) {
        case 'create':
            wp_insert_user(['user_login' => $login, 'user_email' => "$login@example.test", 'user_pass' => 'pw', 'role' => 'subscriber']);
            break;
        case 'update':
            wp_update_user(['ID' => $user->ID, 'display_name' => 'n' . wp_rand()]);
            break;
        case 'password':
            wp_set_password('pw' . wp_rand(), $user->ID);
            break;
    }
    echo 'ok';
    exit;
});
"""

# Test-only stamps for the breakdown, appended to TRACE (one JSON line per event).
TRACE_PLUGIN = """<?php
$usersync_trace = %(trace)s;
if (isset($_GET['usersync_e2e'])) {
    // Sender: the browser's answer goes out at shutdown priority 1 (before usersync delivers).
    add_action('shutdown', function () use ($usersync_trace) {
        file_put_contents($usersync_trace, json_encode(['k' => 'answered', 'login' => $_GET['login'], 'act' => $_GET['usersync_e2e'], 'at' => microtime(true)]) . "\\n", FILE_APPEND);
    }, 1);
    add_action('http_api_debug', function ($response, $context, $class, $args, $url) use ($usersync_trace) {
        if ('Usersync_Outbox' !== $class || !is_array($response)) { return; }
        $now = microtime(true);
        file_put_contents($usersync_trace, json_encode(['k' => 'sent', 'site' => DB_NAME, 'login' => $_GET['login'], 'act' => $_GET['usersync_e2e'], 'url' => $url, 'at' => $now - $response['usersync']['total'],
            'connect' => $response['usersync']['connect'], 'new' => $response['usersync']['new_connections'], 'answer' => $now]) . "\\n", FILE_APPEND);
    }, 10, 5);
} elseif (($_GET['rest_route'] ?? '') === '/usersync/v1/inbox') {
    add_action('wp_loaded', function () use ($usersync_trace) {
        file_put_contents($usersync_trace, json_encode(['k' => 'received', 'site' => DB_NAME, 'start' => $_SERVER['REQUEST_TIME_FLOAT'], 'loaded' => microtime(true)]) . "\\n", FILE_APPEND);
    }, 0);
    // Applied: the apply's transaction has committed (the change is in the peer's database).
    add_action('usersync_after_apply', function ($opened) use ($usersync_trace) {
        file_put_contents($usersync_trace, json_encode(['k' => 'applied', 'site' => DB_NAME, 'login' => $opened['data']['login'] ?? '', 'act' => $opened['act'], 'at' => microtime(true)]) . "\\n", FILE_APPEND);
    }, PHP_INT_MIN);
}
"""


def arg(name, default, cast=int):
    for a in sys.argv[1:]:
        if a.startswith(f"--{name}="):
            return cast(a.split("=", 1)[1])
    return default


def get(port, path):
    """A fresh connection, as a browser's first request; returns (start, end) on the client's clock."""
    start = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    conn.getresponse().read()
    end = time.time()
    conn.close()
    return start, end


def post_empty(url):
    host, port = url.rsplit("/", 1)[-1].split(":")
    start = time.time()
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/?rest_route=/usersync/v1/inbox", body=b"", headers={"Content-Type": "text/plain"})
    status = conn.getresponse()
    status.read()
    end = time.time()
    conn.close()
    assert status.status == 400, status.status
    return end - start


def post_empty_both(urls):
    """Empty POSTs to several inboxes at once (fresh connections): seconds until every answer is read."""
    start = time.time()
    socks = []
    for url in urls:
        host, port = url.rsplit("/", 1)[-1].split(":")
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock.sendall(f"POST /?rest_route=/usersync/v1/inbox HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        socks.append(sock)
    answers = []
    for sock in socks:
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        sock.close()
        answers.append(b"".join(chunks))
    end = time.time()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 400"), answer[:40]
    return end - start


def median(xs):
    return statistics.median(xs) if xs else float("nan")


class Bench:
    def __init__(self, npeers):
        base = random.randint(20000, 38000)
        self.env = Env(opcache_mb=2048)
        try:
            self._sites(base, npeers)
        except BaseException:
            self.env.close()
            raise

    def _sites(self, base, npeers):
        self.trace = os.path.join(self.env.work, "trace.jsonl")
        self.trace_read, self.applied_at = 0, {}
        open(self.trace, "w").close()
        os.chmod(self.trace, 0o666)
        receivers = ["b", "c"] + [f"p{i}" for i in range(3, npeers + 1)]
        senders = {"a0": [], "a1": ["b"], "a2": ["b", "c"]}
        if npeers > 2:
            senders[f"a{npeers}"] = receivers
        names = list(senders) + receivers
        self.port = {n: base + i for i, n in enumerate(names)}
        self.url = {n: f"http://127.0.0.1:{p}" for n, p in self.port.items()}
        self.senders = senders
        self.links = {(s, r): secret() for s, rs in senders.items() for r in rs}
        common = {"USERSYNC_RETRY_BASE": 1, "USERSYNC_HTTP_TIMEOUT": 30}
        print(f"setting up {len(names)} WordPress sites…", flush=True)
        for n in names:
            peers = [{"id": f"{r}.test", "url": self.url[r], "secrets": [self.links[(n, r)]], "send": POLICY}
                     for r in senders.get(n, [])]
            peers += [{"id": f"{s}.test", "url": self.url[s], "secrets": [self.links[(s, n)]], "accept": POLICY}
                      for s, rs in senders.items() if n in rs]
            self.env.add_site(n, self.port[n], dict(common, USERSYNC_SITE_ID=f"{n}.test", USERSYNC_PEERS=peers))
            mu = os.path.join(self.env.sites[n]["path"], "wp-content", "mu-plugins")
            with open(os.path.join(mu, "usersync-lag-trace.php"), "w") as f:
                f.write(TRACE_PLUGIN % {"trace": json.dumps(self.trace)})
            if n in senders:
                with open(os.path.join(mu, "usersync-e2e-endpoint.php"), "w") as f:
                    f.write(ENDPOINT)
        self.env.sql("CREATE DATABASE lagbench; CREATE TABLE lagbench.applied (site VARCHAR(64), peer VARCHAR(128), "
                     "act VARCHAR(16), login VARCHAR(60), at DOUBLE, KEY (login))")
        for r in receivers:
            self.env.sql(f"CREATE TRIGGER usersync_{r}.lag AFTER INSERT ON usersync_{r}.wp_usersync_log FOR EACH ROW "
                         f"INSERT INTO lagbench.applied SELECT '{r}', NEW.peer, NEW.act, NEW.login, UNIX_TIMESTAMP(NOW(6)) "
                         f"FROM DUAL WHERE NEW.result = 'applied'")

    def applied_stamps(self):
        """(login, act, peer) -> when the peer's apply had committed (its usersync_after_apply), from the trace."""
        with open(self.trace, "rb") as f:
            f.seek(self.trace_read)
            lines = f.readlines()
        if lines and not lines[-1].endswith(b"\n"):
            lines.pop()  # being written
        for line in lines:
            self.trace_read += len(line)
            e = json.loads(line)
            if e["k"] == "applied":
                self.applied_at[(e["login"], e["act"], e["site"].split("_", 1)[1])] = e["at"]
        return self.applied_at

    def change(self, sender, act, login):
        """One user change on `sender`; returns (request start, request end, last apply on its peers)."""
        start, end = get(self.port[sender], f"/?usersync_e2e={act}&login={login}")
        peers = self.senders[sender]
        if not peers:
            return start, end, None
        time.sleep(0.15 if act != "create" else 0.25)  # no polling while the peers work: it would cost CPU
        deadline = time.time() + 20
        while True:
            # the log's "applied" row (a trigger copies it) is visible once the apply has committed
            count = int(self.env.sql(f"SELECT COUNT(*) FROM lagbench.applied WHERE login='{login}' AND act='{act}'"))
            if count >= len(peers) or time.time() > deadline:
                break
            time.sleep(0.1)
        if count < len(peers):
            raise RuntimeError(f"{sender} {act} {login}: {count} of {len(peers)} peers applied it")
        while True:
            stamps = [self.applied_stamps().get((login, act, p)) for p in peers]
            if None not in stamps or time.time() > deadline:
                break
            time.sleep(0.02)
        if None in stamps:
            raise RuntimeError(f"{sender} {act} {login}: no usersync_after_apply stamp from every peer")
        return start, end, max(stamps)

    def run(self, rounds, tag="lag"):
        lag = {(s, a): [] for s in ("a1", "a2") for a in ACTS}
        request = {s: [] for s in self.senders}
        floor, many_lag, login_of = [], [], {}
        both = {a: [] for a in ACTS}  # two peers' no-op POSTs at once, right after a0's change
        for s in self.senders:  # warm every site and php-fpm worker first
            for _ in range(3):
                get(self.port[s], "/")
        for _ in range(10):
            post_empty(self.url["b"])
        for r in range(rounds):
            order = list(self.senders)
            random.shuffle(order)
            for act in ACTS:
                for s in order:
                    start, end, applied = self.change(s, act, f"{tag}{r}{s}")
                    if act == "update":
                        request[s].append((end - start) * 1000)
                    if s in ("a1", "a2"):
                        lag[(s, act)].append((applied - end) * 1000)
                    elif s != "a0":
                        many_lag.append((act, (applied - end) * 1000))
                    if s != "a0":
                        floor.append(post_empty(self.url["b"]) * 1000)
                    else:
                        both[act].append(post_empty_both([self.url["b"], self.url["c"]]) * 1000)
                    time.sleep(0.05)
        return lag, request, floor, many_lag, both

    PARTS = ("sender after the answer", "to the peer's PHP", "peer's WordPress loads", "peer: open, check, apply, commit")

    def breakdown(self):
        """Median split of the lag per change: the sender after answering the browser (route, seal,
        start the request), the connection until the peer's PHP runs, the peer's WordPress loading
        (plugins, theme, init), and open, check, apply and commit; plus new connections per delivery."""
        events = [json.loads(line) for line in open(self.trace)]
        answered = {(e["login"], e["act"]): e["at"] for e in events if e["k"] == "answered"}
        sent = [e for e in events if e["k"] == "sent" and (e["login"], e["act"]) in answered]
        received = sorted((e for e in events if e["k"] == "received"), key=lambda e: e["start"])
        applied_at = self.applied_stamps()
        by_port = {str(p): n for n, p in self.port.items()}
        parts = {}
        connections = []
        for e in sent:
            group = f"{e['act']}, {len(self.senders[e['site'].split('_', 1)[1]])} peers"
            peer = by_port.get(e["url"].split(":")[2].split("/")[0])
            # the peer's request for this delivery: the first that started after it was sent
            rec = next((x for x in received if x["site"] == f"usersync_{peer}" and x["start"] >= e["at"] - 0.001), None)
            done = applied_at.get((e["login"], e["act"], peer))
            if rec is None or done is None or done < rec["loaded"]:
                continue
            times = (e["at"] - answered[(e["login"], e["act"])], rec["start"] - e["at"], rec["loaded"] - rec["start"], done - rec["loaded"])
            for i, t in enumerate(times):
                parts.setdefault(group, [[] for _ in self.PARTS])[i].append(t * 1000)
            connections.append(e["new"])
        return {g: [median(xs) for xs in p] for g, p in sorted(parts.items())}, connections

    def close(self):
        self.env.close()


def report(bench, rounds, npeers, measured, load, load_end):
    lag, request, floor, many_lag, both = measured
    f = median(floor)
    print(f"\n{os.cpu_count()} CPUs; load average {load[0]:.2f} at the start, {load_end[0]:.2f} at the end; "
          f"{rounds} interleaved rounds", flush=True)
    print(f"floor: one no-op POST to a peer's inbox (fresh connection): median {f:.1f} ms over {len(floor)}")
    print(f"{'change':<10} {'peers':>5} {'lag p50 (ms)':>13} {'p90':>8} {'/ floor':>8}")
    for (s, act), xs in sorted(lag.items(), key=lambda kv: (ACTS.index(kv[0][1]), kv[0][0])):
        xs = sorted(xs)
        p90 = xs[int(0.9 * (len(xs) - 1))]
        print(f"{act:<10} {s[1:]:>5} {median(xs):>13.1f} {p90:>8.1f} {median(xs) / f:>7.2f}x")
    print("for 2 peers, their no-op POSTs at once right after a change on a site without peers: "
          + ", ".join(f"after a {act} {median(xs):.1f} ms ({median(xs) / f:.2f}x)" for act, xs in both.items()))
    base = median(request["a0"])
    print(f"\nthe user's request (a profile update, median): no peers {base:.1f} ms")
    for s in sorted(request, key=lambda s: int(s[1:])):
        if s != "a0":
            print(f"  {s[1:]:>2} peers: {median(request[s]):.1f} ms ({median(request[s]) - base:+.1f} ms)")
    if many_lag:
        for act in ACTS:
            xs = [x for a, x in many_lag if a == act]
            if xs:
                print(f"{npeers} peers, {act}: all {npeers} have it {median(xs):.1f} ms after the request (median of {len(xs)})")
    parts, connections = bench.breakdown()
    print(f"\nwhere the lag goes, per delivery (medians over {len(connections)} deliveries of all senders; ms):")
    print("  " + f"{'change, sender':<20}" + "".join(f"{p:>34}" for p in Bench.PARTS))
    for group, values in parts.items():
        print("  " + f"{group:<20}" + "".join(f"{v:>34.1f}" for v in values))
    print(f"  new connections per delivery: median {median(connections)} (0 = a kept-alive connection reused)", flush=True)


def main():
    quick = "--quick" in sys.argv
    rounds = arg("rounds", 3 if quick else 12)
    npeers = arg("peers", 4 if quick else 20)
    bench = Bench(npeers)
    try:
        load = os.getloadavg()
        measured = bench.run(rounds)
        report(bench, rounds, npeers, measured, load, os.getloadavg())
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
