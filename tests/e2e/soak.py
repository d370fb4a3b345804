#!/usr/bin/env python3
"""Soak test of delivery: three real WordPress sites A, B and C (nginx + one php-fpm, one shared
MariaDB server, as on most hosts: named locks must not collide), each linked to both others (a
full mesh, a secret per link), take ≥ 10,000 user changes from concurrent client processes while
a chaos loop stops and freezes peers at random. Then, with everything drained, it reads the
three databases directly and checks:

- nothing lost: every routed event (one outbox row per peer, seen by a trigger) was answered
  delivered/duplicate to its sender exactly once and has exactly one 'applied' (or 'skipped')
  line on its receiver for its eid; every outbox empty; nothing refused, expired or failed;
- nothing applied twice: no eid applied twice on a receiver, no login on two accounts anywhere;
- every user identical on every site: email, display name, nicename, URL, first/last name,
  nickname, description, locale, roles, billing_* meta and the password hash; deleted users gone
  everywhere; the same uid linked for a login on every site; unsynced meta stays home.

    python3 tests/e2e/soak.py            (make soak: 10,000 changes; about an hour on 2 busy CPUs)
    python3 tests/e2e/soak.py --smoke    (make soak-smoke, part of make test: 200 changes)
    options: --changes N --clients N --users N (per client) --seed N --no-chaos --no-cron
             --fidelity (also markup in profile fields a plugin wrote raw, which receivers filter: see docs/benchmarks.md)
    KEEP=1 keeps the sites' folder for inspection.

Changes are made the way users make them: real web requests through nginx and php-fpm to a
test-only mu-plugin endpoint (like a profile save, a checkout or a bulk action: WordPress's own
functions, slashed input as wp-admin passes it), one to four users per request. Every user has a
home site and is changed only there (so the final state is well defined); homes are spread
over the three sites and every client process talks to all three. Delivery is the plugin's own:
after each response, plus the system-cron entry point on every site, started like a crontab
line every 10 s with --watch=10 (runs overlap at the edges), and now and then killed mid-run.

Three phases: (1) full speed with healthy peers until 15 % of the changes (most sign-ups), then
a wait until every outbox is empty — throughput with healthy peers; (2) a light load until 25 %
— the latency of a change when nothing queues; (3) full speed with the chaos loop. At full speed
the clients also wait while the outboxes hold more than a few hundred rows, so the offered load
follows what delivery manages and the backlog (and the drain at the end) stays bounded.

Timing comes from MariaDB itself (test-only triggers on the plugin's outbox and log tables copy
each row's time with microseconds into soak_* tables): when a change was queued (the end of its
request), routed, and applied on each peer. The time added to the user's request is measured at
the end, on A: the same profile update with the plugin active and, in the same moments,
filtered out of active_plugins for that request.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, failed, secret, summary  # noqa: E402
from sites import Env  # noqa: E402

NAMES = ["a", "b", "c"]
ACTIONS = ["create", "update", "delete", "password", "meta"]
POLICY = {"actions": ACTIONS, "roles": ["subscriber", "customer"], "meta": ["billing_*"]}
FIELDS = ["first_name", "last_name", "nickname", "description", "locale"]  # synced fields kept in usermeta
BILLING = ["billing_city", "billing_phone", "billing_postcode", "billing_country", "billing_tags"]

ENDPOINT = r"""<?php
// Test-only, written by tests/e2e/soak.py: changes users inside a real web request, as a profile
// save, a checkout or an administrator's bulk action would (WordPress's own functions, with input
// slashed as wp-admin and WooCommerce pass it). POST /?usersync_soak=1 with a JSON list of
// changes; answers one result per change: ok | exists | missing | error:<code>.
// With &usersync_off=1 the request runs as if usersync were deactivated (the overhead figure).
if (isset($_GET['usersync_off'])) {
    add_filter('option_active_plugins', function ($plugins) {
        return array_values(array_diff((array) $plugins, ['usersync/usersync.php']));
    });
}
add_action('init', function () {
    if (!isset($_GET['usersync_soak'])) {
        return;
    }
    require_once ABSPATH . 'wp-admin/includes/user.php';
    $changes = json_decode((string) file_get_contents('php://input'), true) ?: [];
    $results = [];
    foreach ($changes as $change) {
        $results[] = usersync_soak_change($change);
    }
    header('Content-Type: application/json');
    echo wp_json_encode(['results' => $results]);
    exit; // WordPress's shutdown runs as in any request: the outbox is written, then delivered
});

function usersync_soak_change(array $c): string {
    $user = get_user_by('login', $c['login']);
    if ('create' === $c['op']) {
        if ($user) {
            return 'exists';
        }
        $id = wp_insert_user(wp_slash($c['user'] + ['user_login' => $c['login']]));
        if (is_wp_error($id)) {
            return 'error:' . $id->get_error_code();
        }
        usersync_soak_meta($id, $c['meta'] ?? [], []);
        return 'ok';
    }
    if (!$user) {
        return 'missing';
    }
    switch ($c['op']) {
        case 'update':
            $r = wp_update_user(wp_slash(['ID' => $user->ID] + $c['user']));
            return is_wp_error($r) ? 'error:' . $r->get_error_code() : 'ok';
        case 'role':
            if (isset($c['set'])) {
                $user->set_role($c['set']);
            }
            if (isset($c['add'])) {
                $user->add_role($c['add']);
            }
            if (isset($c['remove'])) {
                $user->remove_role($c['remove']);
            }
            return 'ok';
        case 'password':
            wp_set_password($c['password'], $user->ID);
            return 'ok';
        case 'meta':
            usersync_soak_meta($user->ID, $c['set'] ?? [], $c['delete'] ?? []);
            return 'ok';
        case 'delete':
            return wp_delete_user($user->ID) ? 'ok' : 'error:delete';
    }
    return 'error:op';
}

/** Meta as a plugin writes it (WooCommerce sets first_name and billing_* with update_user_meta). */
function usersync_soak_meta(int $id, array $set, array $delete): void {
    foreach ($set as $key => $value) {
        if (is_array($value)) { // several values under one key, in order
            delete_user_meta($id, $key);
            foreach ($value as $one) {
                add_user_meta($id, $key, wp_slash($one));
            }
        } else {
            update_user_meta($id, $key, wp_slash($value));
        }
    }
    foreach ($delete as $key) {
        delete_user_meta($id, $key);
    }
}
"""

# Test-only instrumentation in each site's database: the time (µs, MariaDB's clock = this
# machine's) each change was queued, routed (with its eid) and logged on either side.
TRIGGERS = """
CREATE TABLE soak_q (src_id BIGINT UNSIGNED PRIMARY KEY, user_id BIGINT, login VARCHAR(60), act VARCHAR(16), t DOUBLE) ENGINE=InnoDB;
CREATE TABLE soak_route (src_id BIGINT UNSIGNED PRIMARY KEY, eid CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NULL, t DOUBLE) ENGINE=InnoDB;
CREATE TABLE soak_routed (id BIGINT UNSIGNED PRIMARY KEY, eid CHAR(22) CHARACTER SET ascii COLLATE ascii_bin, peer VARCHAR(128),
    act VARCHAR(16), login VARCHAR(60), t DOUBLE) ENGINE=InnoDB;
CREATE TABLE soak_log (id BIGINT UNSIGNED PRIMARY KEY, direction VARCHAR(3), peer VARCHAR(128),
    eid CHAR(22) CHARACTER SET ascii COLLATE ascii_bin, result VARCHAR(16), t DOUBLE) ENGINE=InnoDB;
DELIMITER //
CREATE TRIGGER soak_outbox_ins AFTER INSERT ON wp_usersync_outbox FOR EACH ROW BEGIN
    IF NEW.peer = '' THEN
        INSERT INTO soak_q VALUES (NEW.id, NEW.user_id, NEW.login, NEW.act, UNIX_TIMESTAMP(SYSDATE(6)));
    ELSE
        SET @soak_eid = NEW.eid;
        INSERT INTO soak_routed VALUES (NEW.id, NEW.eid, NEW.peer, NEW.act, NEW.login, UNIX_TIMESTAMP(SYSDATE(6)));
    END IF;
END//
CREATE TRIGGER soak_outbox_del AFTER DELETE ON wp_usersync_outbox FOR EACH ROW BEGIN
    IF OLD.peer = '' THEN
        INSERT INTO soak_route VALUES (OLD.id, @soak_eid, UNIX_TIMESTAMP(SYSDATE(6)));
        SET @soak_eid = NULL;
    END IF;
END//
CREATE TRIGGER soak_log_ins AFTER INSERT ON wp_usersync_log FOR EACH ROW
    INSERT INTO soak_log VALUES (NEW.id, NEW.direction, NEW.peer, NEW.eid, NEW.result, UNIX_TIMESTAMP(SYSDATE(6)))//
DELIMITER ;
"""


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def ms(x):
    return f"{x * 1000:.0f} ms"


class DB:
    """Reads the sites' databases directly (root over MariaDB's socket), one JSON object a row."""

    def __init__(self, env):
        self.sock = os.path.join(env.db, "mysqld.sock")

    def script(self, text, database=None):
        cmd = ["mariadb", f"--socket={self.sock}", "-u", "root"] + ([database] if database else [])
        subprocess.run(cmd, input=text, text=True, check=True, capture_output=True)

    def rows(self, query):
        out = subprocess.run(["mariadb", f"--socket={self.sock}", "-u", "root", "-N", "-B", "--raw", "-e", query],
                             text=True, check=True, capture_output=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def value(self, query):
        out = subprocess.run(["mariadb", f"--socket={self.sock}", "-u", "root", "-N", "-B", "-e", query],
                             text=True, check=True, capture_output=True).stdout
        return out.strip()


# ---------------------------------------------------------------------------------------------
# Clients: separate processes, each owning users homed on all three sites.


class Slot:
    """One user a client owns; a deleted user's slot takes a fresh login."""

    def __init__(self, client, k, home):
        self.client, self.k, self.home, self.gen = client, k, home, 0
        self.exists = False  # True, False, or None (unknown after a lost answer)
        self.roles = []
        self.billing = set()
        self.seq = 0

    @property
    def login(self):
        return f"c{self.client}u{self.k}g{self.gen}"


SAFE = ["O'Brien", 'say "hi"', "Ærøskøbing", "Łódź", "émoji 🎉", "100% sure"]
FILTERED = ["Tom & Jerry", "<b>bold</b>", "a < b", "  spaced  "]  # WordPress's input filters change these
BACKSLASHES = ["back\\slash", "C:\\temp\\new", "trailing\\"]


def value(rng, what, login, seq, fidelity, raw=False):
    """A value: mostly plain, sometimes with quotes, non-ASCII, emoji, or characters WordPress's
    input filters encode (not in a profile field written raw, unless fidelity), or backslashes —
    whatever the home site stores must arrive unchanged."""
    base = f"{what} {login} {seq}"
    if rng.random() < 0.25:
        extras = SAFE + BACKSLASHES + ([] if raw and not fidelity else FILTERED)
        base += " " + rng.choice(extras)
    return base


class Client:
    def __init__(self, idx, ports, n_users, budget, seed, fidelity, out, control):
        self.idx, self.ports, self.budget, self.out, self.fidelity = idx, ports, budget, out, fidelity
        self.progress, self.pause, self.think = control  # shared with the parent: see main()
        self.follow = []  # the next request's plan, when one is due (a sign-up deleted at once)
        self.rng = random.Random(seed * 1000 + idx)
        self.slots = [Slot(idx, k, NAMES[(idx + k) % 3]) for k in range(n_users)]
        self.records = []
        self.done = 0
        self.stats = {"refused_connection": 0, "ambiguous": 0, "errors": 0}

    # The changes a request makes for one user --------------------------------------------------

    def create(self, s):
        s.seq += 1
        roles = self.rng.choice([["subscriber"], ["customer"]])
        user = {"user_email": f"{s.login}@soak.test", "user_pass": f"pw {s.login} {s.seq}", "role": roles[0],
                "display_name": value(self.rng, "Name", s.login, s.seq, self.fidelity),
                "first_name": value(self.rng, "First", s.login, s.seq, self.fidelity),
                "last_name": value(self.rng, "Last", s.login, s.seq, self.fidelity),
                "description": value(self.rng, "About", s.login, s.seq, self.fidelity),
                "user_url": f"https://{s.login}.example/"}
        meta = {"billing_city": value(self.rng, "City", s.login, s.seq, self.fidelity), "billing_phone": f"+47 {s.seq:08d}",
                "soak_private": f"stays home {s.seq}"}
        if self.rng.random() < 0.5:  # a checkout: WooCommerce sets the names as meta after creating the customer
            meta["first_name"] = value(self.rng, "Checkout", s.login, s.seq, self.fidelity, raw=True)
        if self.rng.random() < 0.3:
            meta["billing_tags"] = [f"tag{i} {s.seq}" for i in range(self.rng.randint(1, 3))]
        return {"op": "create", "login": s.login, "user": user, "meta": meta}, \
            lambda: (setattr(s, "roles", roles), setattr(s, "billing", {k for k in meta if k.startswith("billing_")}))

    def update(self, s):
        s.seq += 1
        user = {}
        for key in self.rng.sample(["display_name", "first_name", "last_name", "nickname", "description"], self.rng.randint(1, 3)):
            user[key] = value(self.rng, key, s.login, s.seq, self.fidelity)
        if self.rng.random() < 0.3:
            user["user_email"] = f"{s.login}.{s.seq}@soak.test"
        if self.rng.random() < 0.2:
            user["user_url"] = f"https://{s.login}.example/{s.seq}"
        if self.rng.random() < 0.05:
            user["locale"] = self.rng.choice(["de_DE", "nb_NO", ""])
        return {"op": "update", "login": s.login, "user": user}, None

    def meta(self, s, delete=0.25):
        s.seq += 1
        change = {"op": "meta", "login": s.login, "set": {}}
        for key in self.rng.sample(BILLING, self.rng.randint(1, 2)):
            if key == "billing_tags":
                change["set"][key] = [f"tag{i} {s.seq}" for i in range(self.rng.randint(1, 3))]
            else:
                change["set"][key] = value(self.rng, key, s.login, s.seq, self.fidelity)
        r = self.rng.random()
        if r < 0.15:  # WooCommerce's customer save writes the names with update_user_meta
            change["set"]["first_name"] = value(self.rng, "Woo first", s.login, s.seq, self.fidelity, raw=True)
            change["set"]["last_name"] = value(self.rng, "Woo last", s.login, s.seq, self.fidelity, raw=True)
        elif r < 0.25:
            change["set"]["soak_private"] = f"stays home {s.seq}"
        gone = sorted(s.billing - set(change["set"]))
        if gone and self.rng.random() < delete:
            change["delete"] = [self.rng.choice(gone)]

        def after():
            s.billing |= {k for k in change["set"] if k.startswith("billing_")}
            s.billing -= set(change.get("delete", []))
        return change, after

    def role(self, s):
        if s.roles == ["subscriber", "customer"] or s.roles == ["customer", "subscriber"]:
            drop = self.rng.choice(s.roles)
            return {"op": "role", "login": s.login, "remove": drop}, lambda: setattr(s, "roles", [r for r in s.roles if r != drop])
        if self.rng.random() < 0.4:
            add = "customer" if "customer" not in s.roles else "subscriber"
            return {"op": "role", "login": s.login, "add": add}, lambda: setattr(s, "roles", s.roles + [add])
        new = "customer" if s.roles == ["subscriber"] else "subscriber"
        return {"op": "role", "login": s.login, "set": new}, lambda: setattr(s, "roles", [new])

    def password(self, s):
        s.seq += 1
        return {"op": "password", "login": s.login, "password": f"new pw {s.login} {s.seq} {self.rng.random()}"}, None

    def delete(self, s):
        return {"op": "delete", "login": s.login}, None

    def single(self, s, allow_delete=True):
        """One change for a user, as its state allows."""
        if s.exists is False:
            return [self.create(s)]
        if s.exists is None:
            return [self.update(s)]  # answers 'missing' if the user is gone
        r = self.rng.random()
        if r < 0.34:
            return [self.update(s)]
        if r < 0.58:
            return [self.meta(s)]
        if r < 0.70:
            return [self.password(s)]
        if r < 0.82:
            return [self.role(s)]
        if r < 0.86 and allow_delete:
            return [self.delete(s)]
        # several changes to one user in one request (coalesced by the plugin)
        combos = [lambda: [self.update(s), self.meta(s, delete=0.7)], lambda: [self.password(s), self.meta(s)],
                  lambda: [self.meta(s), self.role(s)], lambda: [self.update(s), self.role(s), self.password(s)]]
        if allow_delete and self.rng.random() < 0.15:
            combos.append(lambda: [self.update(s), self.delete(s)])
        return self.rng.choice(combos)()

    # One request ---------------------------------------------------------------------------------

    def post(self, home, body):
        """(status, results) | ('refused', None) when nothing listens | ('lost', None) when the
        request may or may not have been made (connection dropped or timed out mid-way)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[home], timeout=40)
        try:
            conn.connect()
        except ConnectionRefusedError:
            return "refused", None
        except OSError:
            return "refused", None  # nothing was sent
        try:
            conn.request("POST", "/?usersync_soak=1", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                return resp.status, data.decode(errors="replace")[:300]
            return 200, json.loads(data)["results"]
        except (OSError, http.client.HTTPException, ValueError):
            return "lost", None
        finally:
            conn.close()

    def run(self):
        while self.done < self.budget:
            while self.pause.value:
                time.sleep(0.05)
            s = self.rng.choice(self.slots)
            if self.follow:
                plan, self.follow = self.follow, []
                s = plan[0][0]
            elif s.exists and self.rng.random() < 0.15:
                # a bulk action: several users of the same home site in one request
                group = [x for x in self.slots if x.home == s.home and x is not s]
                users = [s] + self.rng.sample(group, min(len(group), self.rng.randint(1, 3)))
                plan = [(u, c) for u in users for c in self.single(u, allow_delete=False)[:1]]
            else:
                plan = [(s, c) for c in self.single(s)]
            body = json.dumps([c for _, (c, _) in plan])
            start = time.time()
            status, results = self.post(s.home, body)
            end = time.time()
            if status == "refused":
                # The site is down, nothing was done: this user comes back later, another goes on.
                self.stats["refused_connection"] += 1
                time.sleep(0.05)
                continue
            rec = {"t0": start, "t1": end, "home": s.home, "logins": sorted({u.login for u, _ in plan}),
                   "ops": [c["op"] for _, (c, _) in plan], "status": status if isinstance(status, int) else str(status)}
            if status == 200:
                rec["results"] = results
                for (u, (c, after)), result in zip(plan, results):
                    if result == "ok":
                        self.done += 1
                        with self.progress.get_lock():
                            self.progress.value += 1
                        u.exists = True
                        if after:
                            after()
                        if c["op"] == "delete":
                            u.gen, u.exists, u.roles, u.billing = u.gen + 1, False, [], set()
                        elif c["op"] == "create" and len(plan) == 1 and self.rng.random() < 0.12:
                            # a sign-up removed at once (spam, a moderation plugin): its delete
                            # races the delivery run that routes the sign-up
                            self.follow = [(u, self.delete(u))]
                    elif result == "missing":
                        if c["op"] == "delete" or u.exists is None:
                            u.gen, u.exists, u.roles, u.billing = u.gen + 1, False, [], set()
                        else:
                            self.stats["errors"] += 1
                    elif result == "exists":
                        u.exists = None
                    else:
                        self.stats["errors"] += 1
                        rec.setdefault("errors", []).append(result)
            elif status == "lost":
                self.stats["ambiguous"] += 1
                for u, _ in plan:
                    u.exists, u.roles = None, []  # made or not: the next change finds out
            else:
                self.stats["errors"] += 1
                rec["errors"] = [f"HTTP {status}: {results}"]
                for u, _ in plan:
                    u.exists = None
            self.records.append(rec)
            if self.think.value:
                time.sleep(self.rng.uniform(0, 2 * self.think.value))
        homes = {}
        for s in self.slots:
            for g in range(s.gen + 1):
                homes[f"c{s.client}u{s.k}g{g}"] = s.home
        with open(self.out, "w") as f:
            json.dump({"records": self.records, "stats": self.stats, "done": self.done, "homes": homes}, f)


def client_main(idx, ports, n_users, budget, seed, fidelity, out, control):
    Client(idx, ports, n_users, budget, seed, fidelity, out, control).run()


# ---------------------------------------------------------------------------------------------
# Chaos and the system cron


class Chaos:
    """Stops (nginx down: connection refused) or freezes (SIGSTOP: accepted, never answered) a
    site for 1–4 s at a time, 2–7 s apart, from two loops, so at most two of the three sites are
    out at once; now and then it kills a running cron run instead."""

    def __init__(self, env, rng, crontab, smoke):
        self.env, self.rng, self.crontab = env, rng, crontab
        self.down = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.events = []
        self.longest = 3.0 if smoke else 4.0
        self.threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(2)]

    def start(self):
        for t in self.threads:
            t.start()

    def loop(self):
        while not self.stop.wait(self.rng.uniform(2.0, 7.0)):
            if self.rng.random() < 0.1:
                self.crontab.kill_one(self.rng)
                self.events.append(("cron-kill", "", time.time(), 0))
                continue
            with self.lock:
                free = [n for n in NAMES if n not in self.down]
                if len(self.down) >= 2 or not free:
                    continue
                name = self.rng.choice(free)
                self.down.add(name)
            mode = self.rng.choice(["stop", "freeze"])
            length = self.rng.uniform(1.0, self.longest)
            began = time.time()
            try:
                if mode == "stop":
                    self.env.stop(name)
                    self.stop.wait(length)
                    self.env.start(name)
                else:
                    self.env.freeze(name)
                    self.stop.wait(length)
                    self.env.thaw(name)
            finally:
                with self.lock:
                    self.down.discard(name)
            self.events.append((mode, name, began, time.time() - began))

    def end(self):
        self.stop.set()
        for t in self.threads:
            if t.ident is not None:
                t.join()


class Crontab:
    """`*/10 s php usersync-deliver.php --watch=10` on every site (a run ends after its last
    delivery, so runs overlap), like a system crontab line; kill_one() kills a run mid-way."""

    def __init__(self, env, period=10):
        self.env, self.period = env, period
        self.procs = {n: [] for n in NAMES}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.problems = []
        self.killed = 0
        self.runs = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def start(self):
        self.thread.start()

    def loop(self):
        while True:
            with self.lock:
                for name in NAMES:
                    self.reap(name)
                    self.procs[name].append(self.env.cron(name, watch=self.period))
                    self.runs += 1
            if self.stop.wait(self.period):
                return

    def reap(self, name):
        alive = []
        for p in self.procs[name]:
            if p.poll() is None:
                alive.append(p)
            elif p.returncode not in (0, -9):
                self.problems.append(f"{name}: exit {p.returncode}: {p.stderr.read().strip()[:300]}")
        self.procs[name] = alive

    def kill_one(self, rng):
        with self.lock:
            alive = [p for ps in self.procs.values() for p in ps if p.poll() is None]
            if alive:
                rng.choice(alive).kill()
                self.killed += 1

    def end(self):
        self.stop.set()
        if self.thread.ident is not None:
            self.thread.join()
        with self.lock:
            for name in NAMES:
                for p in self.procs[name]:
                    try:
                        p.wait(timeout=self.period + 15)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
                self.reap(name)


# ---------------------------------------------------------------------------------------------


def setup(env, db, ports):
    url = {n: f"http://127.0.0.1:{ports[n]}" for n in NAMES}
    secrets = {frozenset(pair): secret() for pair in (("a", "b"), ("a", "c"), ("b", "c"))}
    common = {"USERSYNC_RETRY_BASE": 1, "USERSYNC_HTTP_TIMEOUT": 3}
    errors = []

    def add(name):
        try:
            peers = [{"id": f"{o}.test", "url": url[o], "secrets": [secrets[frozenset((name, o))]], "send": POLICY, "accept": POLICY}
                     for o in NAMES if o != name]
            env.add_site(name, ports[name], dict(common, USERSYNC_SITE_ID=f"{name}.test", USERSYNC_PEERS=peers))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"{name}: {e}")

    threads = [threading.Thread(target=add, args=(n,)) for n in NAMES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    for name in NAMES:
        path = env.sites[name]["path"]
        with open(os.path.join(path, "wp-content", "mu-plugins", "usersync-soak.php"), "w") as f:
            f.write(ENDPOINT)
        env.php(name, "-r", f"$_SERVER['HTTP_HOST']='127.0.0.1'; define('WP_USE_THEMES', false); require '{path}/wp-load.php';"
                "add_role('customer', 'Customer', ['read' => true]);")
        db.script(TRIGGERS, f"usersync_{name}")


def outbox_total(db):
    return int(db.value("SELECT " + " + ".join(f"(SELECT COUNT(*) FROM usersync_{n}.wp_usersync_outbox)" for n in NAMES)))


def outbox_rows(db, limit=3):
    return [dict(r, site=n) for n in NAMES for r in db.rows(
        f"SELECT JSON_OBJECT('peer', peer, 'act', act, 'login', login, 'attempts', attempts, 'next', next_attempt - UNIX_TIMESTAMP(), "
        f"'error', last_error) FROM usersync_{n}.wp_usersync_outbox ORDER BY id LIMIT {limit}")]


def read_site(db, name):
    d = f"usersync_{name}"
    users = {u["login"]: u for u in db.rows(
        f"SELECT JSON_OBJECT('id', ID, 'login', user_login, 'email', user_email, 'display_name', display_name, "
        f"'nicename', user_nicename, 'url', user_url, 'pass', user_pass) FROM {d}.wp_users")}
    by_id = {u["id"]: u for u in users.values()}
    logins = db.rows(f"SELECT JSON_OBJECT('login', user_login, 'n', COUNT(*)) FROM {d}.wp_users GROUP BY user_login HAVING COUNT(*) > 1")
    for u in users.values():
        u.update({"meta": {}, "roles": None, "uid": None, "private": None})
    for m in db.rows(f"SELECT JSON_OBJECT('user_id', user_id, 'key', meta_key, 'value', meta_value) FROM {d}.wp_usermeta "
                     f"WHERE meta_key IN ('first_name', 'last_name', 'nickname', 'description', 'locale', 'wp_capabilities', 'soak_private') "
                     f"OR meta_key LIKE 'billing\\\\_%' ORDER BY umeta_id"):
        u = by_id.get(m["user_id"])
        if u is None:
            continue
        if m["key"] == "wp_capabilities":
            u["roles"] = sorted(re.findall(r's:\d+:"([^"]+)";b:1;', m["value"]))
        elif m["key"] == "soak_private":
            u["private"] = m["value"]
        else:
            u["meta"].setdefault(m["key"], []).append(m["value"])
    orphans = []
    for link in db.rows(f"SELECT JSON_OBJECT('uid', uid, 'user_id', user_id) FROM {d}.wp_usersync_links"):
        u = by_id.get(link["user_id"])
        if u is None:
            orphans.append(link)
        else:
            u["uid"] = link["uid"]
    return {"users": users, "dupe_logins": logins, "orphans": orphans}


def compare(sites, homes):
    """Every user as on its home site, on every site; returns the differences found."""
    diffs = []
    synced = ["email", "display_name", "nicename", "url", "pass", "roles", "uid"]
    for login, home in sorted(homes.items()):
        h = sites[home]["users"].get(login)
        for name in NAMES:
            if name == home:
                continue
            u = sites[name]["users"].get(login)
            if h is None:
                if u is not None:
                    diffs.append(f"{login}: deleted on {home} (its home) but still on {name}")
                continue
            if u is None:
                diffs.append(f"{login}: on {home} (its home) but missing on {name}")
                continue
            for key in synced:
                if h[key] != u[key]:
                    diffs.append(f"{login}: {key} {h[key]!r} on {home}, {u[key]!r} on {name}")
            for key in FIELDS:
                if h["meta"].get(key, [""]) != u["meta"].get(key, [""]):
                    diffs.append(f"{login}: {key} {h['meta'].get(key)!r} on {home}, {u['meta'].get(key)!r} on {name}")
            hb = {k: v for k, v in h["meta"].items() if k.startswith("billing_")}
            ub = {k: v for k, v in u["meta"].items() if k.startswith("billing_")}
            if hb != ub:
                diffs.append(f"{login}: billing meta {hb!r} on {home}, {ub!r} on {name}")
            if u["private"] is not None:
                diffs.append(f"{login}: unsynced meta soak_private reached {name}")
        if h is not None and h["uid"] is None:
            diffs.append(f"{login}: not linked on its home {home}")
    return diffs


def accounting(db, peers_of):
    """Every routed (eid, peer): answered once to its sender, applied once on its receiver."""
    routed, out_final, applied, bad, dup_in, busy, retries = {}, {}, {}, [], 0, 0, {}
    for s in NAMES:
        d = f"usersync_{s}"
        for r in db.rows(f"SELECT JSON_OBJECT('eid', eid, 'peer', peer, 'login', login, 'act', act) FROM {d}.soak_routed"):
            routed[(s, r["peer"], r["eid"])] = r
        for r in db.rows(f"SELECT JSON_OBJECT('direction', direction, 'peer', peer, 'eid', eid, 'result', result, 'reason', reason, "
                         f"'act', act, 'login', login) FROM {d}.wp_usersync_log"):
            if r["result"] in ("refused", "expired", "error"):
                bad.append(f"{s}: {r['direction']} {r['act']} {r['login']} {r['peer']}: {r['result']} {r['reason']}")
            if r["direction"] == "out" and r["result"] in ("delivered", "duplicate"):
                out_final.setdefault((s, r["peer"], r["eid"]), []).append(r["result"])
            elif r["direction"] == "out" and r["result"] == "retry":
                reason = re.sub(r"\d+", "N", r["reason"])[:70]
                retries[reason] = retries.get(reason, 0) + 1
            elif r["direction"] == "in" and r["result"] in ("applied", "skipped"):
                applied.setdefault((peers_of[r["peer"]], f"{s}.test", r["eid"]), []).append(r["result"])
            elif r["direction"] == "in" and r["result"] == "duplicate":
                dup_in += 1
            elif r["direction"] == "in" and r["result"] == "busy":
                busy += 1
    lost = [k for k in routed if len(applied.get(k, [])) == 0]
    twice = [k for k, v in applied.items() if v.count("applied") > 1 or len(v) > 1]
    unanswered = [k for k in routed if len(out_final.get(k, [])) != 1]
    phantom = [k for k in applied if k not in routed]
    skipped = sum(v.count("skipped") for v in applied.values())
    return {"routed": routed, "lost": lost, "twice": twice, "unanswered": unanswered, "phantom": phantom, "bad": bad,
            "duplicates_answered": dup_in, "busy": busy, "skipped": skipped, "retries": retries,
            "sender_duplicate": sum(v.count("duplicate") for v in out_final.values())}


def latencies(db, records):
    """From MariaDB's own times: each change's event from queued (end of its request) and from
    the request's start (client clock, same machine) until applied on both peers."""
    applied_at = {}  # (sender site, eid) -> [t on each receiver]
    for r in NAMES:
        for row in db.rows(f"SELECT JSON_OBJECT('peer', peer, 'eid', eid, 't', t) FROM usersync_{r}.soak_log "
                           f"WHERE direction = 'in' AND result IN ('applied', 'skipped')"):
            applied_at.setdefault((row["peer"].split(".")[0], row["eid"]), []).append(row["t"])
    from_queue, queued_by_login, routed, unrouted, last_applied = [], {}, 0, 0, None
    for s in NAMES:
        d = f"usersync_{s}"
        route = {r["src_id"]: r["eid"] for r in db.rows(f"SELECT JSON_OBJECT('src_id', src_id, 'eid', eid) FROM {d}.soak_route")}
        for q in db.rows(f"SELECT JSON_OBJECT('src_id', src_id, 'login', login, 't', t) FROM {d}.soak_q"):
            eid = route.get(q["src_id"])
            done = applied_at.get((s, eid), []) if eid else []
            if not eid:
                unrouted += 1
                continue
            routed += 1
            if len(done) == 2:
                from_queue.append((q["t"], max(done) - q["t"]))
                last_applied = max(done) if last_applied is None else max(last_applied, max(done))
                queued_by_login.setdefault(q["login"], []).append((q["t"], max(done)))
    from_request = []
    for rec in records:
        if rec["status"] != 200:
            continue
        ends = [done for login in rec["logins"] for (tq, done) in queued_by_login.get(login, [])
                if rec["t0"] - 0.05 <= tq <= rec["t1"] + 0.05]
        if ends:
            from_request.append((rec["t0"], max(ends) - rec["t0"]))
    return {"from_queue": from_queue, "from_request": from_request, "routed": routed, "unrouted": unrouted,
            "last_applied": last_applied}


def request_overhead(port, pairs):
    """Request time on A for a profile update with the plugin active and, in the same moments,
    deactivated (&usersync_off=1 filters it out of active_plugins for that one request): pairs
    in random order, a pause after each for the delivery that follows an active request."""

    def post(body, off=False):
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/?usersync_soak=1" + ("&usersync_off=1" if off else ""), body=json.dumps(body))
        ok = json.loads(conn.getresponse().read())["results"] == ["ok"]
        took = time.perf_counter() - start
        conn.close()
        time.sleep(0.25)
        return took if ok else None

    post([{"op": "create", "login": "bench", "user": {"user_email": "bench@soak.test", "user_pass": "bench pw", "role": "subscriber"}}])
    times = {True: [], False: []}
    diffs = []
    for i in range(pairs + 3):
        order = [True, False]
        random.shuffle(order)
        took = {}
        for active in order:
            took[active] = post([{"op": "update", "login": "bench", "user": {"display_name": f"Bench {i} {active} {random.random()}"}}],
                                off=not active)
        if i >= 3 and None not in took.values():  # the first three warm up
            times[True].append(took[True])
            times[False].append(took[False])
            diffs.append(took[True] - took[False])
    return times, diffs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--changes", type=int)
    ap.add_argument("--clients", type=int)
    ap.add_argument("--users", type=int, help="users per client")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--no-chaos", action="store_true")
    ap.add_argument("--no-cron", action="store_true",
                    help="no system cron: only the delivery after each response (the drain then loads each site's "
                         "home page every 0.5 s, as visitors would)")
    ap.add_argument("--fidelity", action="store_true",
                    help="also filter-sensitive characters in profile fields a plugin writes raw with "
                         "update_user_meta (receivers run their input filters on them: see docs/benchmarks.md)")
    args = ap.parse_args()
    changes = args.changes or (200 if args.smoke else 10000)
    clients = args.clients or (3 if args.smoke else 6)
    n_users = args.users or (6 if args.smoke else 50)
    drain_limit = 90 if args.smoke else 300
    rng = random.Random(args.seed)
    began = time.time()
    print(f"soak: {changes} changes from {clients} clients ({n_users} users each), seed {args.seed}, "
          f"{os.cpu_count()} CPUs, chaos {'off' if args.no_chaos else 'on'}, system cron {'off' if args.no_cron else 'on'}",
          flush=True)

    base = random.randint(20000, 40000)
    ports = {n: base + i for i, n in enumerate(NAMES)}
    env = Env()
    db = DB(env)
    crontab = chaos = None
    procs = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (finally) on kill too
    try:
        setup(env, db, ports)
        print(f"three sites up in {time.time() - began:.0f} s", flush=True)
        crontab = Crontab(env)
        chaos = Chaos(env, rng, crontab, args.smoke)
        ctx = multiprocessing.get_context("spawn")
        outs = [os.path.join(env.work, f"client-{i}.json") for i in range(clients)]
        budget = -(-changes // clients)
        progress, pause, think = ctx.Value("i", 0), ctx.Value("b", 0), ctx.Value("d", 0.0)
        procs = [ctx.Process(target=client_main, args=(i, ports, n_users, budget, args.seed, args.fidelity, outs[i],
                                                       (progress, pause, think)), daemon=True)
                 for i in range(clients)]
        # Three phases. 1: full speed, healthy peers, until 15 % of the changes (most sign-ups),
        # then the clients wait for every outbox to empty: throughput with healthy peers. 2: a
        # light load (about 1.7 requests a second in all) until 25 %: the latency of a change
        # when nothing queues. 3: full speed with chaos. At full speed the clients also wait
        # while the outboxes hold more than `high` rows, so the offered load follows what
        # delivery manages and the backlog (and the drain at the end) stays bounded.
        high = 120 if args.smoke else 400
        marks = {"start": time.time()}
        if not args.no_cron:
            crontab.start()
        for p in procs:
            p.start()
        phase, backlog_max, paused_for, next_note, made1, made3_from = 1, 0, 0.0, time.time() + 60, 0, 0
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            backlog = outbox_total(db)
            backlog_max = max(backlog_max, backlog)
            if phase != 2:
                if not pause.value and backlog > high:
                    pause.value, since = 1, time.time()
                elif pause.value and backlog < high // 2:
                    pause.value = 0
                    paused_for += time.time() - since
            if phase == 1 and progress.value >= changes * 15 // 100:
                pause.value, marks["phase1_end"] = 1, time.time()
                limit = time.time() + drain_limit
                while outbox_total(db) and time.time() < limit:
                    time.sleep(0.2)
                marks["phase1_drained"], made1 = time.time(), progress.value
                think.value, pause.value, phase, marks["phase2"] = clients * 0.6, 0, 2, time.time()
            elif phase == 2 and progress.value >= changes // 4:
                think.value, phase, marks["phase3"], made3_from = 0.0, 3, time.time(), progress.value
                if not args.no_chaos:
                    chaos.start()
            if time.time() >= next_note and not args.smoke:
                next_note += 60
                print(f"  {time.time() - marks['start']:.0f} s: phase {phase}, {progress.value} changes, {backlog} outbox rows",
                      flush=True)
        pause.value = 0
        for p in procs:
            p.join()
        t_start, t_clients = marks["start"], time.time()
        chaos.end()
        check(all(p.exitcode == 0 for p in procs), f"every client process finished ({[p.exitcode for p in procs]})")
        results = [json.load(open(o)) for o in outs if os.path.exists(o)]
        records = [r for res in results for r in res["records"]]
        homes = {k: v for res in results for k, v in res["homes"].items()}
        done = sum(res["done"] for res in results)
        stats = {k: sum(res["stats"][k] for res in results) for k in ("refused_connection", "ambiguous", "errors")}
        req_times = [r["t1"] - r["t0"] for r in records if r["status"] == 200]
        print(f"clients: {done} changes in {len(records)} requests in {t_clients - t_start:.1f} s; "
              f"{stats['refused_connection']} requests refused (site down, nothing done), {stats['ambiguous']} answers lost, "
              f"{stats['errors']} errors", flush=True)
        print(f"outbox rows at most {backlog_max}; clients held back {paused_for:.0f} s in all by the backlog limit "
              f"({high} rows)", flush=True)
        t_chaos = marks.get("phase3") if not args.no_chaos else None
        outages = [e for e in chaos.events if e[0] in ("stop", "freeze")]
        if t_chaos:
            print(f"chaos from {t_chaos - t_start:.0f} s on: {sum(e[0] == 'stop' for e in outages)} stops, "
                  f"{sum(e[0] == 'freeze' for e in outages)} freezes ({sum(e[3] for e in outages):.0f} s of outage in all, "
                  f"over {t_clients - t_chaos:.0f} s), {crontab.killed} cron runs killed", flush=True)
        check(done >= changes, f"at least {changes} user changes were made ({done})")
        check(stats["errors"] == 0, f"no change failed on its home site ({[r.get('errors') for r in records if r.get('errors')][:5]})")

        # Drain: every site up, no traffic but the cron's; a bounded wait for every outbox to empty.
        t_drain = time.time()
        while outbox_total(db) and time.time() - t_drain < drain_limit:
            if args.no_cron:
                for n in NAMES:
                    subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{ports[n]}/"], check=False)
            time.sleep(0.5)
        waiting = outbox_total(db)
        t_drained = time.time()
        if not args.no_cron:
            crontab.end()
        print(f"drained in {t_drained - t_drain:.1f} s after the clients stopped ({waiting} rows left); "
              f"{crontab.runs} cron runs", flush=True)
        check(waiting == 0, f"every outbox empty within {drain_limit} s ({waiting} rows left: {outbox_rows(db) if waiting else ''})")
        check(not crontab.problems, f"the cron entry point never failed ({crontab.problems[:3]})")
        check(outbox_total(db) == 0, "the outboxes stay empty")

        # Nothing lost, nothing twice.
        acc = accounting(db, {f"{n}.test": n for n in NAMES})
        print(f"events: {len(acc['routed'])} routed (event, peer) pairs; receivers answered {acc['duplicates_answered']} "
              f"retries 'duplicate' ({acc['sender_duplicate']} seen by the sender), {acc['skipped']} skipped, "
              f"{acc['busy']} answered 'busy' (a create lock not free in 10 s, or a database write refused: retried); "
              f"sender retries by reason: {json.dumps(acc['retries'], ensure_ascii=False)}", flush=True)
        check(len(acc["routed"]) > 0, "events were routed")
        check(not acc["lost"], f"0 lost: every routed event applied on its receiver ({len(acc['lost'])} not: {acc['lost'][:5]})")
        check(not acc["twice"], f"0 applied twice ({len(acc['twice'])}: {acc['twice'][:5]})")
        check(not acc["unanswered"], f"every routed event answered delivered/duplicate exactly once to its sender "
              f"({len(acc['unanswered'])}: {acc['unanswered'][:5]})")
        check(not acc["phantom"], f"no applied event that was never routed ({acc['phantom'][:5]})")
        check(not acc["bad"], f"nothing refused, expired or failed in any log ({len(acc['bad'])}: {acc['bad'][:5]})")

        # Every user identical everywhere.
        sites = {n: read_site(db, n) for n in NAMES}
        for n in NAMES:
            check(not sites[n]["dupe_logins"], f"{n}: no login on two accounts ({sites[n]['dupe_logins'][:5]})")
            check(not sites[n]["orphans"], f"{n}: no link to a missing account ({sites[n]['orphans'][:5]})")
            soak_users = [u for u in sites[n]["users"] if re.fullmatch(r"c\d+u\d+g\d+", u)]
            check(all(sites[n]["users"][u]["uid"] for u in soak_users), f"{n}: every synced account is linked")
            stray = [u for u in soak_users if u not in homes]
            check(not stray, f"{n}: no account the clients never made ({stray[:5]})")
        diffs = compare(sites, homes)
        alive = sum(1 for login, home in homes.items() if login in sites[home]["users"])
        print(f"users: {len(homes)} logins made, {alive} alive at the end, {len(homes) - alive} deleted", flush=True)
        check(not diffs, f"every user identical on every site ({len(diffs)} differences: {diffs[:8]})")

        # Numbers.
        lat = latencies(db, records)
        span = (lat["last_applied"] or t_drained) - t_start
        print(f"throughput: {done} changes applied on both peers in {span:.1f} s from the first request to the last "
              f"apply = {done / span:.1f} changes/s end to end ({2 * lat['routed'] / span:.1f} applies/s over the "
              f"{lat['routed']} events; {lat['unrouted']} events never routed: their user was deleted first)", flush=True)
        check(len(lat["from_queue"]) == lat["routed"],
              f"every routed event has its applied time on both peers ({len(lat['from_queue'])} of {lat['routed']})")
        if "phase1_drained" in marks:
            took = marks["phase1_drained"] - t_start
            print(f"phase 1 (healthy peers, full speed): {made1} changes applied on both peers in {took:.1f} s = "
                  f"{made1 / took:.1f} changes/s end to end", flush=True)
        if "phase3" in marks and lat["last_applied"]:
            took = lat["last_applied"] - marks["phase3"]
            print(f"phase 3 ({'with chaos' if t_chaos else 'healthy peers'}, full speed): {done - made3_from} changes applied "
                  f"on both peers in {took:.1f} s = {(done - made3_from) / took:.1f} changes/s end to end", flush=True)
        phases = [("phase 1, full speed", t_start, marks.get("phase1_end")),
                  ("phase 2, light load", marks.get("phase2"), marks.get("phase3")),
                  ("phase 3, full speed" + (" with chaos" if t_chaos else ""), marks.get("phase3"), None)]
        for label, lo, hi in phases:
            if lo is None:
                continue

            def within(xs, lo=lo, hi=hi):
                return [d for t, d in xs if t >= lo and (hi is None or t < hi)]
            fq, fr = within(lat["from_queue"]), within(lat["from_request"])
            rq = within([(r["t0"], r["t1"] - r["t0"]) for r in records if r["status"] == 200])
            if not fq:
                continue
            print(f"latency ({label}), change queued (end of its request) → applied on both peers: p50 {ms(pct(fq, 0.5))}, "
                  f"p90 {ms(pct(fq, 0.9))}, p99 {ms(pct(fq, 0.99))}, max {ms(max(fq))} over {len(fq)} events; "
                  f"request sent → applied on both: p50 {ms(pct(fr, 0.5))}, p99 {ms(pct(fr, 0.99))} over {len(fr)} requests; "
                  f"request time p50 {ms(pct(rq, 0.5))}, p99 {ms(pct(rq, 0.99))}", flush=True)

        times, diffs = request_overhead(ports["a"], 8 if args.smoke else 60)
        on, off = statistics.median(times[True]), statistics.median(times[False])
        print(f"request time on A, a profile update ({len(diffs)} pairs, quiet, in random order): plugin active "
              f"{on * 1000:.2f} ms, deactivated {off * 1000:.2f} ms (p90 {pct(times[True], 0.9) * 1000:.2f} vs "
              f"{pct(times[False], 0.9) * 1000:.2f} ms); added: median of the pairs' differences "
              f"{statistics.median(diffs) * 1000:+.2f} ms", flush=True)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on this machine skews every time above)", flush=True)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
        if chaos and not chaos.stop.is_set():
            chaos.end()
        if crontab and crontab.thread.is_alive():
            crontab.end()
        if failed():
            print(f"sites kept in {env.work}" if os.environ.get("KEEP") else "", flush=True)
        env.close()
    print(f"soak run time: {time.time() - began:.0f} s", flush=True)
    return summary("soak" + (" (smoke)" if args.smoke else ""))


if __name__ == "__main__":
    sys.exit(main())
