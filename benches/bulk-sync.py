#!/usr/bin/env python3
"""The initial sync in bulk (make bench-bulk): N existing users (default 100,000) on site A synced
to site B — two real WordPress 6.8 sites on one MariaDB and one php-fpm pool (10 workers), on
this machine's 2 CPUs.

    python3 benches/bulk-sync.py [--users N] [--batch N]

A's users are written straight into its database (as an import or years of sign-ups leave them:
WordPress's 14 meta rows each, one real $wp$2y$ hash), with usersync off. Then, timed:
 1. the dry-run report, run by the functions behind `wp usersync sync B --dry-run` (PHP CLI);
    B answers each probe in php-fpm;
 2. the run, driven as the settings page's progress bar drives it: one admin-ajax request per
    batch on A (php-fpm), each a sealed batch that B applies in bulk (php-fpm), with as many
    requests going at once as the page keeps going (Usersync_Sync::IN_FLIGHT: A reads and seals
    the next batch while B applies the last).
Reported: the time of each phase in all and per 1,000 users, the peak RSS of the report's PHP
process and of every php-fpm worker (VmHWM: each worker's high-water mark over the run; the pool
serves both sites), and checks that every user arrived once, linked on both sides, and that one of
them logs in on B with the old password.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from checks import check, secret, summary  # noqa: E402
from sites import ROOT, Env  # noqa: E402

META = [("nickname", "u.user_login"), ("first_name", "'First'"), ("last_name", "CONCAT('Last ', u.ID)"),
        ("description", "''"), ("rich_editing", "'true'"), ("syntax_highlighting", "'true'"),
        ("comment_shortcuts", "'false'"), ("admin_color", "'fresh'"), ("use_ssl", "'0'"),
        ("show_admin_bar_front", "'true'"), ("locale", "''"),
        ("wp_capabilities", "'a:1:{s:10:\"subscriber\";b:1;}'"), ("wp_user_level", "'0'"),
        ("dismissed_wp_pointers", "''")]


def fpm_workers(env):
    with open(os.path.join(env.work, "fpm.pid")) as f:
        master = f.read().strip()
    return [int(p) for p in subprocess.run(["pgrep", "-P", master], capture_output=True, text=True).stdout.split()]


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    return 0


def cpu_s(pid):
    """CPU time (user + system) a process has used, in seconds (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def busy(env):
    """CPU seconds used so far by the php-fpm workers and by MariaDB: where a phase's time went
    whatever else the machine runs."""
    with open(os.path.join(env.db, "mysqld.pid")) as f:
        mysqld = int(f.read().strip())
    return sum(cpu_s(p) for p in fpm_workers(env)), cpu_s(mysqld)


def curl(*args):
    return subprocess.run(["curl", "-s", *args], capture_output=True, text=True, check=True).stdout


def sql(env, query):
    """One statement on the sites' MariaDB; its error, if any, in the exception."""
    out = subprocess.run(["mariadb", f"--socket={env.db}/mysqld.sock", "-u", "root", "-N", "-B", "-e", query],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"MariaDB: {out.stderr.strip()} in {query[:200]}")
    return out.stdout.strip()


def populate(env, n, pass_hash):
    """n users as WordPress leaves them, 10,000 per statement (each a small transaction)."""
    db = "usersync_a"
    digit = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 " \
            "UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
    keys = " UNION ALL ".join(f"SELECT '{k}' AS k, {i} AS o" for i, (k, _) in enumerate(META))
    cases = " ".join(f"WHEN '{k}' THEN {v}" for k, v in META)
    for lo in range(1, n + 1, 10_000):
        hi = min(n, lo + 9_999)
        seq = f"(SELECT {lo} + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS seq FROM {digit} a, {digit} b, {digit} c, {digit} e) s"
        sql(env, f"INSERT INTO {db}.wp_users (user_login, user_pass, user_nicename, user_email, user_url, user_registered, display_name) "
                 f"SELECT CONCAT('user', seq), '{pass_hash}', CONCAT('user', seq), CONCAT('user', seq, '@a.test'), '', NOW(), "
                 f"CONCAT('User ', seq) FROM {seq} WHERE seq <= {hi}")
    first, last = (int(x) for x in sql(env, f"SELECT MIN(ID), MAX(ID) FROM {db}.wp_users WHERE user_login LIKE 'user%'").split())
    for lo in range(first, last + 1, 10_000):
        sql(env, f"INSERT INTO {db}.wp_usermeta (user_id, meta_key, meta_value) SELECT u.ID, m.k, CASE m.k {cases} END "
                 f"FROM {db}.wp_users u JOIN ({keys}) m WHERE u.ID BETWEEN {lo} AND {min(last, lo + 9_999)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    opts = ap.parse_args()
    n = opts.users
    base = random.randint(20000, 40000)
    url = {"a": f"http://127.0.0.1:{base}", "b": f"http://127.0.0.1:{base + 1}"}
    ab = secret()
    policy = {"actions": ["create", "update", "password"], "roles": ["subscriber"], "meta": []}
    env = Env()
    try:
        env.add_site("a", base, {"USERSYNC_SITE_ID": "a.test", "USERSYNC_PEERS": [
            {"id": "b.test", "url": url["b"], "secrets": [ab], "send": policy}]})
        env.add_site("b", base + 1, {"USERSYNC_SITE_ID": "b.test", "USERSYNC_PEERS": [
            {"id": "a.test", "url": url["a"], "secrets": [ab], "accept": policy, "ip_allow": ["127.0.0.1/32"]}]})
        # The harness's MariaDB is sized for small test sites (64 MiB buffer pool, 16 MiB redo
        # log); 100,000 accounts with their meta on two sites want what a small real server has.
        pass_hash = env.wp("a", "hash_password", password="bulk password")
        start = time.time()
        populate(env, n, pass_hash)
        print(f"set-up: {n} users with 14 meta rows each written into A's database in {time.time() - start:.1f} s", flush=True)
        sql(env, "SET GLOBAL innodb_buffer_pool_size = 536870912")
        sql(env, "SET GLOBAL innodb_log_file_size = 268435456")
        for _ in range(100):  # the buffer pool grows online; wait until it has
            if sql(env, "SELECT @@innodb_buffer_pool_size") == "536870912":
                break
            time.sleep(0.2)
        # The import's pages written out before the clock starts (at most 2 minutes): flushing
        # them is the set-up's cost, not the sync's.
        sql(env, "SET GLOBAL innodb_max_dirty_pages_pct = 0")
        for _ in range(600):
            if int(sql(env, "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'").split()[1]) < 100:
                break
            time.sleep(0.2)
        sql(env, "SET GLOBAL innodb_max_dirty_pages_pct = DEFAULT")

        jar = os.path.join(env.work, "admin.txt")
        password = open(os.path.join(env.sites["a"]["path"], ".admin-password")).read()
        curl("-c", jar, "-b", "wordpress_test_cookie=WP%20Cookie%20check", "--data-urlencode", "log=admin",
             "--data-urlencode", f"pwd={password}", "-d", "testcookie=1", url["a"] + "/wp-login.php")
        for _ in range(20):  # every worker warm (opcache, preload) before the high-water marks are read
            curl("-o", "/dev/null", "-b", jar, url["a"] + "/wp-admin/")
        base_rss = {pid: vm(pid, "VmHWM") for pid in fpm_workers(env)}

        # 1. The dry run, in the CLI, with its own peak RSS.
        cpu0 = busy(env)
        start = time.time()
        proc = subprocess.Popen(["php", os.path.join(ROOT, "tests/e2e/wp.php"), env.sites["a"]["path"], "sync_report",
                                 json.dumps({"peer": "b.test", "batch": opts.batch})],
                                env=dict(os.environ, SITE_URL=url["a"]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        report_s = time.time() - start
        cpu1 = busy(env)
        cli_cpu = usage.ru_utime + usage.ru_stime
        report = json.loads(out)
        check(status == 0 and report["counts"]["create"] == n, f"the report: {n} accounts to create ({report.get('counts')})")

        # 2. The run, one admin-ajax step per batch, as the settings page's progress bar does it:
        #    IN_FLIGHT lanes of requests at once, each going on while its steps change something.
        page = curl("-b", jar, url["a"] + "/wp-admin/options-general.php?page=usersync-sync&peer=b.test")
        cfg = json.loads(re.search(r"var usersyncSync = (\{.*?\});", page).group(1))
        answers = []

        def lane():
            before = None
            while True:
                answer = json.loads(curl("-b", jar, "-d", "action=usersync_sync_step", "-d", "peer=b.test",
                                         "-d", f"_ajax_nonce={cfg['nonce']}", url["a"] + "/wp-admin/admin-ajax.php"))
                answers.append(answer)
                if not answer.get("success"):
                    print("step failed:", answer, flush=True)
                    return
                remaining = answer["data"]["remaining"]
                if remaining == 0 or (before is not None and remaining >= before):
                    return
                before = remaining

        start = time.time()
        lanes = [threading.Thread(target=lane) for _ in range(int(cfg.get("inFlight", 1)))]
        for t in lanes:
            t.start()
        for t in lanes:
            t.join()
        steps = len(answers)
        answer = min((a for a in answers if a.get("success")), key=lambda a: a["data"]["remaining"])
        remaining = answer["data"]["remaining"]
        run_s = time.time() - start
        cpu2 = busy(env)
        rss = {pid: vm(pid, "VmHWM") for pid in fpm_workers(env)}

        check(remaining == 0 and answer["data"]["done"] == n, f"every account done in {steps} steps")
        on_b = env.sql("SELECT COUNT(*) FROM usersync_b.wp_users WHERE user_login LIKE 'user%'")
        dupes = env.sql("SELECT COUNT(*) FROM (SELECT user_login FROM usersync_b.wp_users GROUP BY user_login HAVING COUNT(*) > 1) d")
        check(on_b == str(n) and dupes == "0", f"B has each of the {n} users once ({on_b}, {dupes} twice)")
        same = env.sql("SELECT COUNT(*) FROM usersync_a.wp_usersync_links la JOIN usersync_a.wp_users ua ON ua.ID = la.user_id "
                       "JOIN usersync_b.wp_users ub ON ub.user_login = ua.user_login JOIN usersync_b.wp_usersync_links lb "
                       "ON lb.user_id = ub.ID AND lb.uid = la.uid WHERE ub.user_pass = ua.user_pass")
        check(same == str(n), f"every user linked by one uid on both sites, with its hash ({same})")
        sample = random.randint(1, n)
        login = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "-b", "wordpress_test_cookie=WP%20Cookie%20check",
                                "--data-urlencode", f"log=user{sample}", "--data-urlencode", "pwd=bulk password", "-d", "testcookie=1",
                                url["b"] + "/wp-login.php"], capture_output=True, text=True).stdout
        check("wordpress_logged_in_" in login, f"user{sample} logs in on B with the old password")

        per = lambda s: s / n * 1000  # noqa: E731
        print(f"dry-run report: {report_s:.1f} s ({per(report_s) * 1000:.0f} ms per 1,000 users), "
              f"its PHP CLI process peaked at {usage.ru_maxrss / 1024:.0f} MiB RSS", flush=True)
        print(f"run: {run_s:.1f} s ({per(run_s) * 1000:.0f} ms per 1,000 users) in {steps} admin-ajax steps of {opts.batch}, "
              f"{cfg.get('inFlight', 1)} at once", flush=True)
        print(f"report + run: {report_s + run_s:.1f} s for {n} users", flush=True)
        print(f"CPU per 1,000 users: report {per(cli_cpu) * 1000:.0f} ms in A's PHP CLI, {per(cpu1[0] - cpu0[0]) * 1000:.0f} ms "
              f"in php-fpm (B), {per(cpu1[1] - cpu0[1]) * 1000:.0f} ms in MariaDB; run {per(cpu2[0] - cpu1[0]) * 1000:.0f} ms "
              f"in php-fpm (A and B), {per(cpu2[1] - cpu1[1]) * 1000:.0f} ms in MariaDB", flush=True)
        print(f"php-fpm workers' peak RSS (VmHWM): {max(rss.values()) / 1024:.0f} MiB at most over the run "
              f"(warm, before it: {max(base_rss.values()) / 1024:.0f} MiB); all: "
              + ", ".join(f"{v / 1024:.0f}" for v in sorted(rss.values())), flush=True)
        print(f"target: 100,000 users in 60 s or less; this run: {n} users in {report_s + run_s:.1f} s "
              f"(load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: other jobs share them)", flush=True)
    finally:
        env.close()
    return summary("bench-bulk")


if __name__ == "__main__":
    sys.exit(main())
